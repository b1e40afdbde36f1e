"""Production settings: everything from the environment, secure by default.

`manage.py check --deploy` must report nothing with these settings and a real environment
(tests/security/test_deploy_settings.py runs it); no check is silenced."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env_bool

if not SECRET_KEY:
    raise ImproperlyConfigured("CARTOSTUP_SECRET_KEY doit être défini en production.")
if not os.environ.get("CARTOSTUP_ALLOWED_HOSTS", "").strip():
    # The development default (localhost) would make a public server answer 400 to everyone,
    # or worse, a forgotten wildcard to every Host header.
    raise ImproperlyConfigured(
        "CARTOSTUP_ALLOWED_HOSTS doit être défini en production (noms servis, séparés par des "
        "virgules)."
    )

DEBUG = False
# The reverse proxy terminates TLS and says so (nginx: `proxy_set_header X-Forwarded-Proto`).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("CARTOSTUP_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = int(os.environ.get("CARTOSTUP_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CARTOSTUP_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("CARTOSTUP_HSTS_PRELOAD", True)
