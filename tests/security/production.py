"""The production settings as a real deployment gets them: `config.settings.prod` imported in a
fresh process with an environment like the one docs/deployment.md describes."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.environment import process_environment

ROOT = Path(__file__).resolve().parents[2]
HOST = "cartostup.exemple.gouv.fr"

# What a request, a response or a cookie depends on (the rest of prod.py is base.py's).
SECURITY_SETTINGS = (
    "DEBUG",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "LANGUAGE_COOKIE_SECURE",
    "LANGUAGE_COOKIE_HTTPONLY",
    "LANGUAGE_COOKIE_SAMESITE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "CARTOSTUP_RECEIPT_ARGON2",
    "PASSWORD_HASHERS",
)


def production_environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The process environment of a production server (docs/deployment.md, §3)."""
    return process_environment(
        **{
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "CARTOSTUP_SECRET_KEY": secrets.token_urlsafe(50),
            "CARTOSTUP_ALLOWED_HOSTS": HOST,
            "CARTOSTUP_CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
            "DATABASE_URL": "postgres://cartostup@db.interne:5432/cartostup",
            "CARTOSTUP_DATA_DIR": str(data_dir),
            **overrides,
        }
    )


def run_manage(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def production_settings(data_dir: Path) -> dict[str, Any]:
    """The security settings `config.settings.prod` computes from a production environment."""
    script = (
        "import importlib, json, sys\n"
        "module = importlib.import_module('config.settings.prod')\n"
        f"names = {SECURITY_SETTINGS!r}\n"
        "json.dump({name: getattr(module, name) for name in names}, sys.stdout)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=production_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    values = json.loads(result.stdout)
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values
