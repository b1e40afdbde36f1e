"""Settings for the test suite (SQLite by default, PostgreSQL when DATABASE_URL says so)."""

import os
import tempfile

# Always a throwaway data directory: tests never write into a developer's ./var.
os.environ["CARTOSTUP_DATA_DIR"] = tempfile.mkdtemp(prefix="cartostup-test-")

from .base import *  # noqa: F403

SECRET_KEY = "test-secret-key-not-for-production"
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

(DATA_DIR / "static").mkdir(exist_ok=True)  # noqa: F405
# Receipts are hashed with Argon2 as in production, at its cheapest cost: hundreds of reports are
# submitted in the suite (production's parameters are checked by test_deploy_settings).
CARTOSTUP_RECEIPT_ARGON2 = {"time_cost": 1, "memory_cost": 64, "parallelism": 1}
