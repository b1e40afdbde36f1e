"""Settings for the test suite (SQLite by default, PostgreSQL when DATABASE_URL says so)."""

import os
import tempfile

os.environ.setdefault("CARTOSTUP_DATA_DIR", tempfile.mkdtemp(prefix="cartostup-test-"))

from .base import *  # noqa: E402,F403

SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
# Fast hashing in tests; Argon2 is still exercised by a dedicated test.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
