"""Settings of `bench/` only (`python -m bench.intake`): never used to serve anything else.

Production-like (DEBUG off, the same middleware, logging and Argon2 receipt hashing), with the
proof of work off (difficulty 0: a challenge is still fetched and redeemed), rate limits out of
the way (one loopback client plays 50), and the baseline endpoint of `bench/baseline.py`
(`/api/bench/baseline`), which exists under these settings only."""

import os

from .base import *  # noqa: F403

SECRET_KEY = os.environ.get("CARTOSTUP_SECRET_KEY") or "bench-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.baseline"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# `python -m bench.soak` raises it (CARTOSTUP_BENCH_POW_DIFFICULTY) so that its clients do the
# work; the intake benchmark measures the server without it.
CARTOSTUP_POW_DIFFICULTY = int(os.environ.get("CARTOSTUP_BENCH_POW_DIFFICULTY", "0"))
CARTOSTUP_RATE_LIMITS = {
    "challenge": (10**9, 600),
    "submission": (10**9, 3600),
    "receipt_client": (10**9, 900),
    "receipt_key": (10**9, 900),
}
