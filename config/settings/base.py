"""Settings shared by every environment. Everything that varies comes from the environment."""

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("CARTOSTUP_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "logs").mkdir(exist_ok=True)
(DATA_DIR / "media").mkdir(exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("CARTOSTUP_SECRET_KEY", "")
DEBUG = env_bool("CARTOSTUP_DEBUG", False)
ALLOWED_HOSTS = env_list("CARTOSTUP_ALLOWED_HOSTS", "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CARTOSTUP_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Django's admin, for inspection only: not routed by the site, and writes nothing.
    "cartostup.core.admin_site.InspectionAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "widget_tweaks",
    "dsfr",
    "cartostup.core",
    "cartostup.territories",
    "cartostup.access",
    "cartostup.reports",
    "cartostup.dealpoints",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "cartostup.core.middleware.SecurityHeadersMiddleware",
    "cartostup.core.errors.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A request that waited SQLite's busy timeout, in a view or in the session's save: 503,
    # not 500 (cartostup/core/errors.py).
    "cartostup.core.errors.BusyDatabaseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "cartostup.core.middleware.ReaderLanguageMiddleware",
    "cartostup.core.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cartostup.access.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost: fills Django's empty 405 with a page (cartostup/core/errors.py).
    "cartostup.core.errors.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cartostup" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dsfr.context_processors.site_config",
                "cartostup.access.context_processors.actor",
                "cartostup.access.context_processors.session_timeout",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        # An empty DATABASE_URL means unset (as an empty line in an environment file gives).
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'cartostup.sqlite3'}",
        conn_max_age=int(os.environ.get("CARTOSTUP_DB_CONN_MAX_AGE", "60")),
        # A persistent connection broken by a database restart (or a terminated backend) is
        # replaced at the start of the next request instead of failing it with a 500 (seen by
        # `python -m bench.soak`).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one writer commits; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "access.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Accounts: lockout after repeated failures, sessions that expire.
CARTOSTUP_LOGIN_MAX_FAILURES = int(os.environ.get("CARTOSTUP_LOGIN_MAX_FAILURES", "5"))
CARTOSTUP_LOGIN_LOCKOUT = timedelta(
    minutes=int(os.environ.get("CARTOSTUP_LOGIN_LOCKOUT_MINUTES", "15"))
)
SESSION_COOKIE_AGE = int(os.environ.get("CARTOSTUP_SESSION_SECONDS", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Logged out after this long without a request.
CARTOSTUP_SESSION_IDLE_SECONDS = int(os.environ.get("CARTOSTUP_SESSION_IDLE_SECONDS", "1800"))
# Staff pages warn this long before the idle logout, with a button to extend the session
# (at most half the idle limit).
CARTOSTUP_SESSION_WARNING_SECONDS = int(os.environ.get("CARTOSTUP_SESSION_WARNING_SECONDS", "300"))
# DSFR now marks optional fields, not required ones ("(facultatif)": cartostup/locale/fr).
DSFR_MARK_OPTIONAL_FIELDS = True
# Saved when modified: the idle check marks every staff request, never a reporting page.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# An expired form explained in French, with a link back to it (Django's page is English).
CSRF_FAILURE_VIEW = "cartostup.core.errors.csrf_failure"
# A session cookie: no year-long trace of a visit to the reporting pages on a shared phone.
CSRF_COOKIE_AGE = None
OTP_TOTP_ISSUER = "Cartostup"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English")), ("ar", _("العربية"))]
LOCALE_PATHS = [BASE_DIR / "cartostup" / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

REST_FRAMEWORK = {
    # A personal API token first (`Authorization: Bearer`), else the session. The token's class
    # comes first so that a call without credentials is a 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cartostup.access.api.TokenAuthentication",
        "cartostup.access.api.SessionAuthentication",
    ],
    # JSON only: the browsable API's pages are in English and need a serializer on every view
    # (a browser opening an endpoint receives the JSON; the schema is at /api/schema/).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PERMISSION_CLASSES": ["cartostup.access.api.IsVerifiedMember"],
    "DEFAULT_SCHEMA_CLASS": "cartostup.core.api.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "cartostup.core.api.exception_handler",
    # Bodies refused in French with a 4xx (size, encoding, nesting): see cartostup/core/parsers.py.
    "DEFAULT_PARSER_CLASSES": [
        "cartostup.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "cartostup.core.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "API Cartostup",
    "DESCRIPTION": "API de la plateforme nationale Cartostup.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "LICENSE": {"name": "AGPL-3.0-or-later"},
    # One name per choice set where fields share a name ("status", "kind") across apps.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "cartostup.reports.choices.PublicStatus",
        "DealPointStatusEnum": "cartostup.dealpoints.choices.DealPointStatus",
        "LandlordDealPointStatusEnum": "cartostup.dealpoints.rules.LANDLORD_STATUSES",
        "OperationKindEnum": "cartostup.dealpoints.choices.OperationKind",
        "DealPointEventKindEnum": "cartostup.dealpoints.choices.EventKind",
        "LinkDecisionEnum": "cartostup.dealpoints.choices.LinkDecision",
    },
}

# Leaflet's files come from the django-leaflet package; its Django app is not installed (it needs
# GDAL), only its static folder is served, found without importing the package.
_leaflet_spec = importlib.util.find_spec("leaflet")
STATICFILES_DIRS = (
    [Path(next(iter(_leaflet_spec.submodule_search_locations))) / "static"]
    if _leaflet_spec and _leaflet_spec.submodule_search_locations
    else []
)
# Optional tile server (e.g. an internal one); without it maps draw boundaries only (offline).
CARTOSTUP_TILE_URL = os.environ.get("CARTOSTUP_TILE_URL", "")
CARTOSTUP_TILE_ATTRIBUTION = os.environ.get("CARTOSTUP_TILE_ATTRIBUTION", "")

# Territories: tolerance (metres) to place a point that falls in a sliver between boundaries.
CARTOSTUP_LOCATE_TOLERANCE_M = float(os.environ.get("CARTOSTUP_LOCATE_TOLERANCE_M", "1500"))
# How often (seconds) a process checks whether another one changed the territories it indexed.
CARTOSTUP_LOCATE_RECHECK_SECONDS = float(os.environ.get("CARTOSTUP_LOCATE_RECHECK_SECONDS", "60"))

AUDIT_RETENTION_DAYS = int(os.environ.get("CARTOSTUP_AUDIT_RETENTION_DAYS", str(3 * 365)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "scrub": {"()": "cartostup.core.logging.ScrubIdentifyingDataFilter"},
        # No line about a request to the reporters' pages (errors excepted): see the filter.
        "unlogged_paths": {"()": "cartostup.core.logging.UnloggedPathsFilter"},
    },
    # Log times to the hour only: an exact time of a refused public request could be matched with
    # a report (references are sequential) or with network records.
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%d %H:00",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["unlogged_paths", "scrub"],
        },
        "file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(DATA_DIR / "logs" / "cartostup.log"),
            "formatter": "plain",
            "filters": ["unlogged_paths", "scrub"],
        },
    },
    "root": {"handlers": ["console", "file"], "level": "INFO"},
    "loggers": {
        # Replaces Django's default handlers (an unfiltered console, and e-mails to ADMINS
        # carrying the request's headers): everything goes through the scrub filter.
        "django": {"handlers": ["console", "file"], "level": "INFO", "propagate": False},
        # At DEBUG, Pillow logs short EXIF values (camera, author) of uploaded photos.
        "PIL": {"level": "INFO"},
        # Django's request logger prints the request line; it is scrubbed, never silenced.
        "django.request": {"handlers": ["console", "file"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

# Reports (design §5). Unconfirmed and rejected reports are erased after this many days.
CARTOSTUP_REPORT_RETENTION_DAYS = int(os.environ.get("CARTOSTUP_REPORT_RETENTION_DAYS", "90"))
# Leading zero bits of the public submissions' proof of work (0 disables it).
CARTOSTUP_POW_DIFFICULTY = int(os.environ.get("CARTOSTUP_POW_DIFFICULTY", "18"))
CARTOSTUP_POW_TTL_SECONDS = int(os.environ.get("CARTOSTUP_POW_TTL_SECONDS", "600"))
# Photos: upload limits before re-encoding.
CARTOSTUP_PHOTO_MAX_BYTES = int(os.environ.get("CARTOSTUP_PHOTO_MAX_BYTES", str(10 * 1024 * 1024)))
# Uploads stay in memory: a photo is never written to a temporary file with its metadata before
# it is re-encoded. A larger upload keeps only its size and is refused as too large.
FILE_UPLOAD_HANDLERS = ["cartostup.core.uploads.BoundedMemoryUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = CARTOSTUP_PHOTO_MAX_BYTES + 1024 * 1024
# A request declaring a larger body is refused (413) before it is read: the largest legitimate
# one is a report with its photo (cartostup/core/errors.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default: form fields and JSON bodies
CARTOSTUP_MAX_REQUEST_BYTES = int(
    os.environ.get(
        "CARTOSTUP_MAX_REQUEST_BYTES",
        str(FILE_UPLOAD_MAX_MEMORY_SIZE + DATA_UPLOAD_MAX_MEMORY_SIZE),
    )
)
CARTOSTUP_PHOTO_MAX_PIXELS = int(os.environ.get("CARTOSTUP_PHOTO_MAX_PIXELS", str(40_000_000)))
# Per-client limits, in memory per process: (events, window in seconds).
CARTOSTUP_RATE_LIMITS = {
    "challenge": (int(os.environ.get("CARTOSTUP_RATE_CHALLENGES_PER_10_MIN", "30")), 600),
    "submission": (int(os.environ.get("CARTOSTUP_RATE_SUBMISSIONS_PER_HOUR", "10")), 3600),
    "receipt_client": (int(os.environ.get("CARTOSTUP_RATE_WRONG_RECEIPTS_CLIENT", "10")), 900),
    "receipt_key": (int(os.environ.get("CARTOSTUP_RATE_WRONG_RECEIPTS_KEY", "5")), 900),
    # The public form's commune search (a person types a few queries a minute).
    "commune_search": (int(os.environ.get("CARTOSTUP_RATE_COMMUNE_SEARCHES_PER_MIN", "60")), 60),
}
# Reverse proxies whose X-Forwarded-For is believed (their addresses); empty: REMOTE_ADDR only.
CARTOSTUP_TRUSTED_PROXIES = env_list("CARTOSTUP_TRUSTED_PROXIES")
# Argon2 cost of receipt hashes (OWASP's recommended profile: 19 MiB, 2 passes, 1 lane). A
# receipt's secret part has 80 random bits, so the slow hash guards a leaked database, not a
# weak secret.
CARTOSTUP_RECEIPT_ARGON2 = {
    "time_cost": int(os.environ.get("CARTOSTUP_RECEIPT_ARGON2_TIME_COST", "2")),
    "memory_cost": int(os.environ.get("CARTOSTUP_RECEIPT_ARGON2_MEMORY_KIB", "19456")),
    "parallelism": 1,
}

# --- deal points and the map (issue 4) ---------------------------------------------------------
# Hexagons counting fewer deal points are hidden from roles that see only aggregates.
CARTOSTUP_MIN_AGGREGATE = int(os.environ.get("CARTOSTUP_MIN_AGGREGATE", "3"))
# Matching: a candidate scoring at least AUTO is attached automatically (the analyst may undo),
# at least PROPOSE is proposed to the analyst; below, the report joins new-point clustering.
CARTOSTUP_MATCH_AUTO_SCORE = float(os.environ.get("CARTOSTUP_MATCH_AUTO_SCORE", "0.6"))
CARTOSTUP_MATCH_PROPOSE_SCORE = float(os.environ.get("CARTOSTUP_MATCH_PROPOSE_SCORE", "0.3"))
# A report this close to a point dismantled (or moved) less than this long ago raises a
# resurgence alert; a new point this close is proposed as its successor.
CARTOSTUP_RESURGENCE_RADIUS_M = float(os.environ.get("CARTOSTUP_RESURGENCE_RADIUS_M", "150"))
CARTOSTUP_MOVE_RADIUS_M = float(os.environ.get("CARTOSTUP_MOVE_RADIUS_M", "600"))
CARTOSTUP_RESURGENCE_DAYS = int(os.environ.get("CARTOSTUP_RESURGENCE_DAYS", "365"))

# Personal API tokens: HMAC key of their secrets (empty: derived from SECRET_KEY; changing
# either invalidates every token), default and longest validity in days.
CARTOSTUP_API_TOKEN_KEY = os.environ.get("CARTOSTUP_API_TOKEN_KEY", "")
CARTOSTUP_API_TOKEN_DEFAULT_DAYS = int(os.environ.get("CARTOSTUP_API_TOKEN_DEFAULT_DAYS", "90"))
CARTOSTUP_API_TOKEN_MAX_DAYS = int(os.environ.get("CARTOSTUP_API_TOKEN_MAX_DAYS", "365"))

# Database sessions that ignore a malformed cookie (see cartostup/core/sessions.py).
SESSION_ENGINE = "cartostup.core.sessions"

# Backups (`manage.py backup` / `restore`): folder of pg_dump and pg_restore when those on the
# PATH are not of the server's version (Debian: /usr/lib/postgresql/NN/bin).
CARTOSTUP_PG_BIN_DIR = os.environ.get("CARTOSTUP_PG_BIN_DIR", "")
