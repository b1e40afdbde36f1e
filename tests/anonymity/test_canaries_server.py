"""Anonymity, proven against real servers: the browser tests' `served_app` (runserver, as
`make run` serves) and gunicorn with the project's `config/gunicorn.conf.py` (as production
serves, access log on), both on the same database and data directory.

The client connects from a canary loopback address (127.x.y.z: the server really sees it as
REMOTE_ADDR) with canaries in every header and a photo full of metadata, walks every public page
and endpoint (`scenario.run`), then the canaries are searched in every file of the server's data
directory (its SQLite database and WAL when it uses SQLite, media, `logs/`, `server.log`,
`gunicorn.log`), in every row of every table (read by the server's own settings, through
`manage.py shell`) and in `manage.py dumpdata`. Also: no request from /signaler/ or /suivi/
to another origin (Playwright)."""

from __future__ import annotations

import pickle
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import gunicorn_command
from tests.browser.server import free_port, serving

from . import scenario
from .canaries import Canaries, file_blobs, search
from .test_canaries import assert_clean_photos

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]


class Server:
    def __init__(self, name: str, url: str, data_dir: Path, served_app) -> None:
        self.name = name
        self.url = url
        self.data_dir = data_dir
        self.app = served_app


@pytest.fixture(scope="module")
def gunicorn_server(served_app) -> Iterator[Server]:
    """gunicorn with the project's configuration, DEBUG off, on the served app's database."""
    data_dir = Path(served_app.env["CARTOSTUP_DATA_DIR"])
    port = free_port()
    env = {**served_app.env, "CARTOSTUP_DEBUG": "0"}
    # One process: its in-memory rate limits are the ones tested.
    command = gunicorn_command(port=port, workers=1)
    with serving(command, env, port, data_dir / "gunicorn.log"):
        yield Server("gunicorn", f"http://127.0.0.1:{port}", data_dir, served_app)


@pytest.fixture(params=["runserver", "gunicorn"])
def server(request, served_app) -> Server:
    if request.param == "gunicorn":
        return request.getfixturevalue("gunicorn_server")
    data_dir = Path(served_app.env["CARTOSTUP_DATA_DIR"])
    return Server("runserver", served_app.url, data_dir, served_app)


DUMP_TABLES = """
import pickle
from tests.anonymity.canaries import database_blobs
with open({path!r}, "wb") as output:
    pickle.dump(database_blobs(), output)
"""

ASK_QUESTION = """
from cartostup.access.models import User
from cartostup.reports import receipts, services
from cartostup.reports.models import Report
report = Report.objects.get(receipt_key=receipts.receipt_parse({receipt!r}).key)
services.report_ask_question(
    actor=User.objects.get(username="cross13_analyst"),
    report=report,
    text="Quel bâtiment exactement ? Une entrée précise ?",
)
"""


def database_of(server: Server) -> list[tuple[str, bytes]]:
    """Every row of every table and `dumpdata`, read with the server's own settings."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tables.pickle"
        server.app.manage("shell", "-c", DUMP_TABLES.format(path=str(path)))
        blobs = pickle.loads(path.read_bytes())
    blobs.append(("manage.py dumpdata", server.app.manage("dumpdata").encode()))
    return blobs


def corpus_of(server: Server) -> list[tuple[str, bytes]]:
    return file_blobs(server.data_dir) + database_of(server)


def loopback_canaries(corpus: list[tuple[str, bytes]]) -> Canaries:
    for _attempt in range(5):
        address = "127." + ".".join(str(secrets.randbelow(200) + 30) for _ in range(3))
        canaries = Canaries.new(remote_ipv4=address)
        if not search(canaries.needles(), corpus):
            return canaries
    raise AssertionError("could not draw canaries absent from the existing data")


def test_no_canary_on_a_real_server(server: Server):
    canaries = loopback_canaries(corpus_of(server))
    assert canaries.png and canaries.jpeg
    photos_before = set((server.data_dir / "media").rglob("*.jpg"))
    transport = scenario.HttpTransport(server.url, canaries)

    def ask(receipt: str) -> None:
        server.app.manage("shell", "-c", ASK_QUESTION.format(receipt=receipt))

    visit = scenario.run(transport, canaries, ask_question=ask)
    assert {200, 201, 302, 400, 403, 404, 405, 415, 429} <= visit.statuses()
    time.sleep(1)  # let the server flush its logs

    logs = [server.data_dir / "server.log", server.data_dir / "logs" / "cartostup.log"]
    if server.name == "gunicorn":
        logs.append(server.data_dir / "gunicorn.log")
        access = (server.data_dir / "gunicorn.log").read_text()
        # The access log is on (a staff page's line is there) but has no line of the
        # reporters' pages: their order among the staff's lines would date each report.
        assert '"GET /signalements/ HTTP/1.1" 302' in access, access[-3000:]
        assert not re.search(r'"[A-Z]+ /(signaler|suivi|prevention|api/public)/', access), access
    for log in logs:
        if log.exists():
            # Only the hour of any logged line: no minute, second or millisecond.
            for line in log.read_text().splitlines():
                assert not re.match(r"^\d{4}-\d\d-\d\d[ T]\d\d:(?!00 )\d\d", line), line
    for log in logs:
        assert log.exists(), log

    hits = search(canaries.needles(), corpus_of(server))
    assert not hits, f"canaries found ({server.name}):\n" + "\n".join(hits[:60])

    stored = sorted(set((server.data_dir / "media").rglob("*.jpg")) - photos_before)
    assert_clean_photos(visit.uploads, stored)


def test_public_pages_request_nothing_from_another_origin(page, served_app):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/signaler/", "/suivi/", "/prevention/"):
        page.goto(f"{served_app.url}{path}", wait_until="networkidle")
    # The commune search and the proof of work run from the form's scripts.
    page.goto(f"{served_app.url}/signaler/", wait_until="networkidle")
    search_box = page.locator("#commune-query")
    search_box.fill("Marseille")
    page.wait_for_timeout(1500)
    page.wait_for_load_state("networkidle")
    assert any("/static/" in url for url in requests), requests
    foreign = [
        url
        for url in requests
        if not url.startswith(served_app.url + "/") and not url.startswith(("data:", "blob:"))
    ]
    assert not foreign, foreign
    assert not page.console_errors, page.console_errors
