"""`make run` serves the demo as its users meet it: DEBUG off (the site's French error pages, not
Django's technical ones, which the error-page tests check), demo accounts allowed, static files
served without `collectstatic`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.environment import process_environment

ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
from cartostup.access.account_services import demo_mode_enabled
print("debug", settings.DEBUG)
print("demo", demo_mode_enabled())
client = Client()
print("static", client.get("/static/dsfr/dist/dsfr/dsfr.min.css").status_code)
"""


def _probe(tmp_path: Path, **extra: str) -> dict[str, str]:
    environment = process_environment(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        CARTOSTUP_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in result.stdout.splitlines()}


def test_the_demo_runs_without_debug_and_shows_french_error_pages(tmp_path):
    seen = _probe(tmp_path)
    assert seen == {"debug": "False", "demo": "True", "static": "200"}


def test_debug_is_an_explicit_choice(tmp_path):
    assert _probe(tmp_path, CARTOSTUP_DEBUG="1")["debug"] == "True"
