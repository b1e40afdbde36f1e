"""WSGI entry point (gunicorn config.wsgi; `manage.py runserver` loads it too)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
application = get_wsgi_application()

# PySAL takes 2–5 s to import: the first hotspots layer a process served waited for it (3 s,
# review). Imported as the server starts, not in the first request's path, nor by every
# management command (they serve no map). Whole, before any fork (gunicorn's --preload too).
import esda  # noqa: E402, F401
import libpysal.weights  # noqa: E402, F401
