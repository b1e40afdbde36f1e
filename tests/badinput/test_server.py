"""Bad input that only a real HTTP server shows: gunicorn (the project's `config/gunicorn.conf.py`,
one sync worker) on a loopback port, its own SQLite database, raw sockets as the client.

A body declared larger than the limit is refused before it is sent in full; a Content-Length
that lies (shorter or longer than the body), a chunked body, raw invalid UTF-8 in the request
line: each gets a 4xx (or a closed connection for what HTTP itself forbids), never a 500, the
server keeps answering, and nothing is stored."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.common import free_port, gunicorn_start

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 300_000  # CARTOSTUP_MAX_REQUEST_BYTES of this server
REPORTS = "/api/public/v1/reports"
pytestmark = pytest.mark.xdist_group("badinput_server")


@dataclass
class Server:
    port: int
    database: Path
    log: Path

    def request(self, head: bytes, body: bytes = b"", *, shut: bool = False) -> tuple[int, bytes]:
        """Send raw bytes; the status and body of the answer (0 if the server just closed)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
            try:
                sock.sendall(head + body)
                if shut:
                    sock.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before the whole body was sent
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
        if not answer.startswith(b"HTTP/1."):
            return 0, answer
        status = int(answer.split(b" ", 2)[1])
        headers, _, content = answer.partition(b"\r\n\r\n")
        if b"transfer-encoding: chunked" in headers.lower():
            content = _dechunked(content)
        return status, content

    def post(self, path: str, body: bytes, content_type: str, **headers: str) -> tuple[int, bytes]:
        lines = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            f"Content-Type: {content_type}",
            "Connection: close",
        ]
        if "content_length" not in headers:
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{name.replace('_', '-').title()}: {value}" for name, value in headers.items()]
        return self.request(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body)

    def stored(self, table: str) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def alive(self) -> bool:
        status, body = self.request(
            b"GET /api/public/v1/challenge HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        return status == 200 and b"challenge" in body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    scratch = tmp_path_factory.mktemp("badinput-server")
    database = scratch / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{database}",
        "CARTOSTUP_POW_DIFFICULTY": "0",
        "CARTOSTUP_MAX_REQUEST_BYTES": str(LIMIT),
        "CARTOSTUP_RATE_SUBMISSIONS_PER_HOUR": "100000",
        "CARTOSTUP_RATE_CHALLENGES_PER_10_MIN": "100000",
        "CARTOSTUP_WORKERS": "1",
        "CARTOSTUP_TIMEOUT": "10",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log = scratch / "gunicorn.log"
    port = free_port()
    process = gunicorn_start(env=env, port=port, workers=1, log=log)
    try:
        yield Server(port=port, database=database, log=log)
    finally:
        process.terminate()
        process.wait(timeout=20)
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log and "Internal Server Error" not in server_log, server_log


def _dechunked(content: bytes) -> bytes:
    data = b""
    while content:
        size_line, _, content = content.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        data += content[:size]
        content = content[size + 2 :]
    return data


def _json(body: bytes) -> dict:
    document = json.loads(body)
    assert document["detail"] and document["code"], document
    return document


def test_body_declared_over_the_limit_is_413_before_it_is_sent(server):
    """The server answers after the headers and a first part: the rest is never read."""
    head = (
        f"POST {REPORTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * LIMIT}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.monotonic()
    status, body = server.request(head, b'{"description": "' + b"x" * 65536)
    assert status == 413
    assert _json(body)["code"] == "too_large"
    assert time.monotonic() - started < 10  # not the worker's timeout
    assert server.stored("reports_report") == 0
    assert server.alive()


def test_report_form_over_the_limit_is_the_french_413_page(server):
    boundary = "fuzzboundary"
    photo = os.urandom(LIMIT + 1000)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, page = server.post("/signaler/", body, f"multipart/form-data; boundary={boundary}")
    assert status == 413
    assert b"Envoi trop volumineux" in page and "Rien n'a été enregistré".encode() in page
    assert server.stored("reports_report") == 0
    assert server.alive()


def test_content_length_shorter_than_the_body(server):
    """Only the declared bytes are read: a truncated JSON, refused; the rest never parsed."""
    body = json.dumps({"precision": "building", "activities": ["selling"]}).encode()
    status, answer = server.post(REPORTS, body, "application/json", content_length="20")
    assert status == 400
    assert _json(answer)["code"] == "parse_error"
    assert server.stored("reports_report") == 0
    assert server.alive()


def test_content_length_longer_than_the_body(server):
    """The body ends early (the client closes its side): a 400 or a closed connection, never a
    half-read report stored."""
    head = (
        f"POST {REPORTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: 5000\r\nConnection: close\r\n\r\n"
    ).encode()
    status, answer = server.request(head, b'{"precision": "building"}', shut=True)
    assert status in (0, 400), answer
    if status == 400:
        _json(answer)
    assert server.stored("reports_report") == 0
    assert server.alive()


def test_chunked_body_is_refused_or_read_whole(server):
    chunk = b'{"description": "' + b"x" * 1000 + b'"}'
    head = (
        f"POST {REPORTS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    status, answer = server.request(head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk))
    assert 400 <= status < 500, answer
    _json(answer)
    assert server.stored("reports_report") == 0
    assert server.alive()


@pytest.mark.parametrize(
    "target",
    [
        b"/api/public/v1/challenge?x=\xff\xfe",
        b"/api/v1/dealpoints/\xc3\x28/",
        b"/signaler/?q=\xff",
        b"/\xff\xfe/",
        b"/signaler/%ff%fe",
    ],
)
def test_raw_invalid_utf8_in_the_request_line_is_no_500(server, target):
    status, _body = server.request(
        b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    assert 0 <= status < 500
    assert server.alive()


def test_deeply_nested_json_through_the_server(server):
    status, answer = server.post(REPORTS, b"[" * 200_000 + b"]" * 50_000, "application/json")
    assert status == 400
    assert _json(answer)["code"] == "too_deep"
    assert server.stored("reports_report") == 0
