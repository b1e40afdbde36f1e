"""A real Cartostup server for the browser tests (fixtures imported by tests/conftest.py): its own
database (SQLite file, or a PostgreSQL database when DATABASE_URL points at one), a copy of the
run's template, migrated and loaded with the demo data as `make run` does, served by `manage.py
runserver` in a subprocess, driven by Playwright on Debian's Chromium (one per test process)."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_create(name: str, *, template: str = "") -> str:
    """A new PostgreSQL database beside DATABASE_URL's (a copy of `template`'s if named)."""
    import psycopg

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
    return f"{base}/{name}"


def _browser_database_drop(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _served_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "CARTOSTUP_DATA_DIR": str(data_dir),
        "CARTOSTUP_DEMO": "1",
        # A real but quick proof of work: the public form's browser computes it (8 bits).
        "CARTOSTUP_POW_DIFFICULTY": "8",
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    }


def _run_shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory every process of this run shares: the controller's base temporary
    directory (an xdist worker's is a folder of it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


TEMPLATE = "served-template"
TEMPLATE_DATABASE = "database-url"


@contextmanager
def _template_lock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Held by one process of the run at a time (an exclusive lock on a shared file)."""
    with (_run_shared_dir(tmp_path_factory) / f"{TEMPLATE}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def served_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo installation every served application of this run starts from, as `make run`
    makes it (migrated, three départements, the demo seeded): its data directory and its
    database. Built once, by the first process that asks, while the others wait for it
    (each browser group's server is a copy: seeding took about 25 s a group)."""
    directory = _run_shared_dir(tmp_path_factory) / TEMPLATE
    with _template_lock(tmp_path_factory):
        ready = directory / TEMPLATE_DATABASE
        if not ready.exists():
            directory.mkdir(exist_ok=True)
            url = f"sqlite:///{directory / 'browser.sqlite3'}"
            if os.environ.get("DATABASE_URL", "").startswith("postgres"):
                url = _database_create(f"cartostup_browser_template_{secrets.token_hex(4)}")
            template = ServedApp("", _served_env(directory, url))
            template.manage("migrate", "--noinput")
            template.manage("load_territories", "--departements", "13,93,69", "--verbosity", "0")
            template.manage("seed_demo", "--verbosity", "0")
            ready.write_text(url)
        return directory, ready.read_text()


def served_template_drop(config: pytest.Config) -> None:
    """At the end of the run (the controller's `pytest_sessionfinish`): the template's
    PostgreSQL database, if one was made (its files go with the temporary directory)."""
    factory = config._tmp_path_factory  # type: ignore[attr-defined]
    if os.environ.get("PYTEST_XDIST_WORKER") or factory._basetemp is None:
        return  # a worker, or a run that made no temporary directory (so no template)
    ready = factory.getbasetemp() / TEMPLATE / TEMPLATE_DATABASE
    if ready.exists():
        _browser_database_drop(ready.read_text())


# The demo accounts' confirmed authenticators (`seed_demo` creates them).
DEVICES = """
from django_otp.plugins.otp_totp.models import TOTPDevice
from cartostup.access.account_services import DEMO_DEVICE_NAME
for device in TOTPDevice.objects.filter(name=DEMO_DEVICE_NAME, confirmed=True).order_by("pk"):
    print("DEVICE", device.user.username, device.key, device.step, device.t0, device.digits)
"""


class ServedApp:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url = url
        self.env = env
        # The 30-second TOTP step of each user's last code: django-otp rightly refuses a code
        # used twice, so two logins of one persona within a step must wait for the next.
        self._last_step: dict[str, int] = {}
        # Session cookies of the personas logged in so far (see test_foundation.log_in).
        self.sessions: dict[str, list[Any]] = {}
        self._devices: dict[str, tuple[str, int, int, int]] | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def totp_devices(self) -> dict[str, tuple[str, int, int, int]]:
        """Each demo account's authenticator, read once from the served database: its key
        (hex), step, t0 and digits, what the QR code `make run` prints gives a phone."""
        if self._devices is None:
            output = self.manage("shell", "-v", "0", "-c", DEVICES)
            devices: dict[str, tuple[str, int, int, int]] = {}
            for line in output.splitlines():
                if line.startswith("DEVICE "):
                    username, key, step, t0, digits = line.split()[1:]
                    # The first, as `demo_accounts --code` reads it.
                    devices.setdefault(username, (key, int(step), int(t0), int(digits)))
            self._devices = devices
        return self._devices

    def totp_code(self, username: str) -> str:
        """The user's current code, as their authenticator app computes it (RFC 6238, django-
        otp's own function; the server checks it), never one already given (waits for the
        next step)."""
        from django_otp.oath import TOTP

        key, step, t0, digits = self.totp_devices()[username]
        while int((time.time() - t0) // step) == self._last_step.get(username):
            time.sleep(0.5)
        totp = TOTP(bytes.fromhex(key), step, t0, digits)
        totp.time = time.time()
        self._last_step[username] = totp.t()
        return f"{totp.token():0{digits}d}"


@pytest.fixture(scope="session")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """One served application per test process, a copy of the run's template (its files, its
    database) served by `manage.py runserver`."""
    template_dir, template_url = served_template(tmp_path_factory)
    data_dir = tmp_path_factory.mktemp("served")
    shutil.copytree(
        template_dir,
        data_dir,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(TEMPLATE_DATABASE),
    )
    if template_url.startswith("postgres"):
        name = f"cartostup_browser_{os.getpid()}_{secrets.token_hex(3)}"
        # One copy at a time: PostgreSQL copies a template no other session is using.
        with _template_lock(tmp_path_factory):
            url = _database_create(name, template=template_url.rsplit("/", 1)[1])
    else:
        url = f"sqlite:///{data_dir / 'browser.sqlite3'}"
    env = _served_env(data_dir, url)
    port = free_port()
    app = ServedApp(f"http://127.0.0.1:{port}", env)
    try:
        with runserver(env, port, data_dir / "server.log"):
            yield app
    finally:
        _browser_database_drop(url)


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log_path: Path) -> Iterator[None]:
    """Run `command` (a server listening on 127.0.0.1:`port`) with `env`, its output in
    `log_path`; open once it accepts connections (its log raised if it stops first or is not
    up within a minute), stopped on leaving."""
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(log_path.read_text()) from None
                    time.sleep(0.2)
            yield
        finally:
            server.terminate()
            server.wait(timeout=30)


@contextmanager
def runserver(env: dict[str, str], port: int, log_path: Path) -> Iterator[None]:
    """`manage.py runserver` on 127.0.0.1:`port` (`serving`)."""
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with serving(command, env, port, log_path):
        yield


# One Playwright and one Chromium per test process, opened by the first browser test and kept
# for the next ones (starting both took about 0.8 s a test), closed before a test that is not
# a browser test (`chromium_close`, called by the root conftest's `pytest_runtest_setup`):
# while Playwright's event loop runs, Django refuses database access from this thread
# (SynchronousOnlyOperation), and the database tests of the same process need it. The tests
# of an xdist group run one after the other, so each group opens it about once.
_CHROMIUM: dict[str, Any] = {}


def chromium() -> Any:
    if "browser" in _CHROMIUM and not _CHROMIUM["browser"].is_connected():
        chromium_close()  # crashed in an earlier test: a new one
    if "browser" not in _CHROMIUM:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _CHROMIUM["playwright"] = playwright
        _CHROMIUM["browser"] = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
    return _CHROMIUM["browser"]


def chromium_close() -> None:
    browser = _CHROMIUM.pop("browser", None)
    playwright = _CHROMIUM.pop("playwright", None)
    if browser is not None and browser.is_connected():
        browser.close()
    if playwright is not None:
        playwright.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """The process's Chromium; each test works in its own contexts (cookies, storage, cache),
    and those it leaves open are closed after it."""
    shared = chromium()
    yield shared
    for context in list(shared.contexts):
        context.close()


def collect_console_errors(page) -> list[str]:
    """Console errors of a page (a CSP violation or a script error shows there)."""
    errors: list[str] = []

    def keep(message) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", keep)
    return errors


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = collect_console_errors(page)
    yield page
    context.close()
