"""What the servers' own logs keep of a request to the reporters' pages: nothing (errors
excepted), in gunicorn's access log as configured by `config/gunicorn.conf.py` and in Django's
logs as configured by the settings. A line there, even without address and to the hour, sits in
order among the staff's lines and dates a report to its rank within the hour."""

from __future__ import annotations

import logging
import logging.config
import runpy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import Client

from cartostup.access.middleware import REPORTER_PREFIXES
from cartostup.core.logging import UNLOGGED_PATH_PREFIXES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    logging.config.dictConfig(settings.LOGGING)


def gunicorn_logger():
    """gunicorn's own logger class, set up from the project's `config/gunicorn.conf.py` as
    `gunicorn -c` does (in this process: its handlers write to the captured stdout)."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    config = Config()
    for name, value in runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py")).items():
        if name in config.settings:
            config.set(name, value)
    assert config.accesslog == "-"
    return Logger(config)


def access(logger, method: str, path: str, status: str) -> None:
    response = SimpleNamespace(status=status, response_length=42, sent=42, headers=())
    request = SimpleNamespace(headers=[("USER-AGENT", "canari-agent")])
    environ = {
        "REQUEST_METHOD": method,
        "RAW_URI": f"{path}?q=canari-requete",
        "PATH_INFO": path,
        "QUERY_STRING": "q=canari-requete",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.77",
    }
    logger.access(response, request, environ, timedelta(milliseconds=12))


def test_gunicorn_access_log_skips_the_reporters_pages(capsys, restore_logging):
    logger = gunicorn_logger()
    capsys.readouterr()
    for method, path, status in [
        ("POST", "/signaler/", "200 OK"),
        ("POST", "/suivi/reponse/", "303 See Other"),
        ("GET", "/prevention/", "200 OK"),
        ("POST", "/api/public/v1/reports", "201 Created"),
        ("POST", "/signalements/appel/", "302 Found"),
        ("GET", "/signalements/tri/", "200 OK"),
    ]:
        access(logger, method, path, status)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    (line,) = lines
    assert '"GET /signalements/tri/ HTTP/1.1" 200 42' in line
    assert line[13:17] == ":00 ", line  # "2026-12-05 14:00 ...": the hour only
    for canary in ("203.0.113.77", "canari-agent", "canari-requete"):
        assert canary not in line


def _django_log() -> str:
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.FileHandler)
    ]
    assert handlers, "the settings log to a file"
    handlers[0].flush()
    return Path(handlers[0].baseFilename).read_text()


@pytest.mark.django_db
def test_django_logs_nothing_of_a_refused_request_to_the_reporters_pages(client_for):
    before = len(_django_log())
    assert Client().get("/signaler/inconnu/").status_code == 404
    assert (
        Client().post("/api/public/v1/followup", {}, content_type="application/json").status_code
        == 400
    )
    assert client_for("caller_operator").get("/signalements/appel/inconnu/").status_code == 404
    assert client_for("cross13_analyst").get("/signalements/inconnu/").status_code == 404
    written = _django_log()[before:]
    assert "Not Found: /signalements/inconnu/" in written, written
    assert "/signaler/" not in written and "/api/public/" not in written, written
    assert "/signalements/appel/" not in written, written


def test_the_reporters_pages_are_all_unlogged():
    assert set(REPORTER_PREFIXES) <= set(UNLOGGED_PATH_PREFIXES)


CANARY_IP = "198.51.100.201"
CANARY_MAIL = "canari.signalant@example.org"
CANARY_TEXT = "canari-texte-libre-guetteurs-bat-c"
CANARY_DETAIL = "canari-valeur-de-ligne"


def _raise_with_canaries() -> None:
    try:
        raise KeyError(CANARY_TEXT)
    except KeyError as error:
        raise ValueError(
            f"refus de {CANARY_IP} ({CANARY_MAIL}) : {CANARY_TEXT}\n"
            f"DETAIL:  Key (text)=({CANARY_DETAIL}) already exists."
        ) from error


def _canaries_in(text: str) -> list[str]:
    return [c for c in (CANARY_IP, CANARY_MAIL, CANARY_TEXT, CANARY_DETAIL) if c in text]


def test_a_logged_exception_is_scrubbed_like_a_message():
    """Django logs every 500 with its traceback, and a PostgreSQL error carries the row's
    values in DETAIL: the traceback goes through the same masks as the message."""
    from django.test import RequestFactory

    before = len(_django_log())
    try:
        _raise_with_canaries()
    except ValueError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            "/signalements/1/",
            exc_info=True,
            extra={"request": RequestFactory().get("/signalements/1/"), "status_code": 500},
        )
    written = _django_log()[before:]
    assert "Traceback (most recent call last)" in written and "ValueError" in written, written
    assert "DETAIL:  [masqué]" in written or "DETAIL: [masqué]" in written, written
    # A staff page keeps the messages, masked; the IP, the address and the row's values go.
    assert _canaries_in(written) == [CANARY_TEXT], written


@pytest.mark.django_db
def test_a_500_on_a_reporters_page_logs_the_exception_type_only(monkeypatch):
    """On a reporter's page an exception's message may quote what the reporter wrote, which no
    pattern recognises: only the types and the code's frames are written."""
    from cartostup.reports import services

    def failing(**_kwargs):
        _raise_with_canaries()

    monkeypatch.setattr(services, "report_followup", failing)
    before = len(_django_log())
    client = Client(raise_request_exception=False)
    response = client.post("/suivi/", {"receipt": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ09"})
    assert response.status_code == 500
    written = _django_log()[before:]
    assert "Internal Server Error: /suivi/" in written, written
    assert "builtins.ValueError (message omis)" in written, written
    assert "builtins.KeyError (message omis)" in written, written
    assert "_raise_with_canaries" in written, written  # the frames stay, to fix the bug
    assert _canaries_in(written) == [], written
