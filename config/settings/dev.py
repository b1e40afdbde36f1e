"""Settings for `make run`: a local demo on SQLite.

The demo runs as its users will meet it: DEBUG off, so an unknown address or an error shows the
site's French pages, not Django's technical ones; `CARTOSTUP_DEBUG=1 make run` turns DEBUG on for
development. Demo accounts and data are allowed (CARTOSTUP_DEMO), and WhiteNoise serves the
static files straight from the installed packages (no `collectstatic` step)."""

import os

os.environ.setdefault("CARTOSTUP_DEBUG", "0")
os.environ.setdefault("CARTOSTUP_DEMO", "1")

from .base import *  # noqa: F403
from .base import DATA_DIR


def _local_secret() -> str:
    # A per-install secret kept in the data directory, so `make run` needs no manual step.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("CARTOSTUP_SECRET_KEY") or _local_secret()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
