"""Helpers shared by the benchmarks that serve the project or keep a PostgreSQL database of
their own (`bench.intake`, `bench.map`, `bench.soak`). Loopback only."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_database_ensure(name: str, *, drop: bool = False) -> str:
    """Create the PostgreSQL database `name` when missing (dropped first with `drop`); return
    its URL."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        if drop:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def pg_database_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gunicorn_command(*, port: int, workers: int) -> list[str]:
    """The command line serving `config.wsgi` as production does (the project's
    `config/gunicorn.conf.py`) on 127.0.0.1:`port`; run from the project's root."""
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "config.wsgi",
        "-c",
        "config/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]


def gunicorn_start(
    *, env: Mapping[str, str], port: int, workers: int, log: Path, timeout: float = 60
) -> subprocess.Popen[bytes]:
    """gunicorn (`gunicorn_command`), its output in `log`; returns once the port accepts
    connections."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            gunicorn_command(port=port, workers=workers),
            cwd=ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(log.read_text(errors="replace")) from None
            time.sleep(0.2)


def gunicorn_stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers under its master)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces or parentheses: fields start after the last ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return sorted(children)


def log(message: str) -> None:
    """A progress line, stamped with the UTC time."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def environment(**values: str) -> dict[str, str]:
    """The current environment with `values` on top (what a served bench process gets)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **values}
