"""WSGI entry point (gunicorn config.wsgi; `manage.py runserver` loads it too)."""

import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")
application = get_wsgi_application()


def _warm_hotspots() -> None:
    # PySAL takes 2–5 s to import: the first hotspots layer of a process waited for it
    # (3 s, review). Imported beside the first requests rather than in the first one's path;
    # not at every management command's start (they do not serve the map).
    import esda  # noqa: F401
    import libpysal.weights  # noqa: F401


threading.Thread(target=_warm_hotspots, name="warm-hotspots", daemon=True).start()
