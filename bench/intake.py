"""Benchmark of anonymous report intake:
`python -m bench.intake [--duration 20] [--clients 50] [--db sqlite|postgres|both]`.

For each database it builds a fresh one (SQLite: a file in a temporary directory; PostgreSQL:
database `cartostup_bench` on 127.0.0.1:5432 as user postgres, dropped and created), migrates,
loads the territories of département 13 and the demo organisations (a CROSS must own the
reports), creates the baseline table with raw SQL, and starts gunicorn (`config.wsgi`, the
project's `config/gunicorn.conf.py`, 2 sync workers, access log on) with
`config.settings.bench` (proof of work off, rate limits out of the way, the baseline route) on a
free loopback port.

Then, for `--duration` seconds each, `--clients` threads (http.client, keep-alive when the
server allows it) drive:

- **reports**: `GET /api/public/v1/challenge`, then `POST /api/public/v1/reports` (JSON, a pin
  in Marseille, every field) — the latency measured is the POST's;
- **baseline**: `POST /api/bench/baseline` (`bench/baseline.py`: one `INSERT` through the same
  stack).

It counts the 201 answers and then the rows of each table: lost = 201s - new rows (must be 0).
Prints sustained rate and p50/p99 latency of each, and the ratio; writes
`bench/results/intake-<db>.json`. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    environment,
    free_port,
    gunicorn_start,
    gunicorn_stop,
    pg_database_drop,
    pg_database_ensure,
)
from bench.territories import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_DATABASE = "cartostup_bench"
WORKERS = 2
REPORTS_TABLE = "reports_report"
BASELINE_TABLE = "bench_baseline"  # bench/baseline.py inserts into it
CREATE_BASELINE_TABLE = {
    "sqlite": (
        f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} "
        "(id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL, created_at TEXT NOT NULL)"
    ),
    "postgres": (
        f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} "
        "(id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)"
    ),
}

ACTIVITIES = ["selling", "lookouts", "storage", "delivery"]
PRODUCTS = ["cannabis", "cocaine", "crack", "heroin", "synthetic"]


def report_payload(rng: random.Random, challenge: str) -> dict[str, Any]:
    # Around Marseille's northern districts (inside département 13).
    return {
        "challenge": challenge,
        "nonce": "0",
        "latitude": round(43.33 + rng.uniform(-0.02, 0.03), 6),
        "longitude": round(5.39 + rng.uniform(-0.03, 0.03), 6),
        "precision": rng.choice(["stairwell", "building", "street"]),
        "place_label": f"Bâtiment {rng.choice('ABCDEFG')}",
        "activities": rng.sample(ACTIVITIES, 2),
        "products": rng.sample(PRODUCTS, 1),
        "days": ["fri", "sat"],
        "times_of_day": ["evening"],
        "people_count": "3-5",
        "description": "Vente au pied de l'immeuble, guetteurs à l'entrée. " * 3,
    }


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 201:
                self.latencies.append(seconds)

    def error(self) -> None:
        with self.lock:
            self.errors += 1


class Client:
    """One keep-alive HTTP/1.1 connection that reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection before this request was
                # read: nothing was processed, retry once on a new connection.
                self.connection.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


def drive(port: int, clients: int, duration: float, kind: str, seed: int) -> dict[str, Any]:
    tally = Tally()
    deadline = time.monotonic() + duration
    start = threading.Barrier(clients + 1)

    def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        client = Client(port)
        start.wait()
        while time.monotonic() < deadline:
            try:
                if kind == "reports":
                    status, body = client.call("GET", "/api/public/v1/challenge")
                    if status != 200:
                        tally.add(status, 0.0)
                        continue
                    payload = json.dumps(
                        report_payload(rng, json.loads(body)["challenge"])
                    ).encode()
                    began = time.perf_counter()
                    status, body = client.call("POST", "/api/public/v1/reports", payload)
                else:
                    payload = json.dumps({"n": number, "r": rng.random()}).encode()
                    began = time.perf_counter()
                    status, body = client.call("POST", "/api/bench/baseline", payload)
                tally.add(status, time.perf_counter() - began)
            except (OSError, http.client.HTTPException):
                tally.error()
                client = Client(port)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(timeout=duration + 180)
    elapsed = time.monotonic() - began
    latencies = sorted(tally.latencies)
    created = tally.statuses.get(201, 0)

    def percentile(q: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    return {
        "created_201": created,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "connection_errors": tally.errors,
        "seconds": round(elapsed, 2),
        "per_second": round(created / elapsed, 1),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }


class Stack:
    """A fresh database and a gunicorn serving it with the bench settings."""

    def __init__(self, db: str, scratch: Path) -> None:
        self.db = db
        self.scratch = scratch
        self.data_dir = scratch / "data"
        self.data_dir.mkdir()
        if db == "sqlite":
            self.sqlite_path = scratch / "bench.sqlite3"
            self.database_url = f"sqlite:///{self.sqlite_path}"
        else:
            self.database_url = pg_database_ensure(PG_DATABASE, drop=True)
        self.env = environment(
            DJANGO_SETTINGS_MODULE="config.settings.bench",
            CARTOSTUP_DATA_DIR=str(self.data_dir),
            DATABASE_URL=self.database_url,
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True)

    def sql(self, statement: str) -> Any:
        if self.db == "sqlite":
            with sqlite3.connect(self.sqlite_path) as connection:
                row = connection.execute(statement).fetchone()
            return row[0] if row else None
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(statement)  # type: ignore[arg-type]
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None

    def prepare(self) -> None:
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage("load_territories", "--departements", "13", "--verbosity", "0")
        self.manage(
            "shell",
            "--verbosity",
            "0",
            "-c",
            "from cartostup.access.services import demo_organisations_ensure; "
            "demo_organisations_ensure()",
        )
        self.sql(CREATE_BASELINE_TABLE[self.db])

    def start(self) -> None:
        self.port = free_port()
        self.process = gunicorn_start(
            env=self.env, port=self.port, workers=WORKERS, log=self.scratch / "gunicorn.log"
        )

    def stop(self) -> None:
        if self.process is not None:
            gunicorn_stop(self.process)
        if self.db == "postgres":
            pg_database_drop(PG_DATABASE)


def run(db: str, duration: float, clients: int, seed: int) -> dict[str, Any]:
    load_before = round(os.getloadavg()[0], 2)
    scratch = Path(tempfile.mkdtemp(prefix=f"cartostup-bench-intake-{db}-"))
    stack = Stack(db, scratch)
    try:
        started = time.perf_counter()
        stack.prepare()
        prepare_seconds = time.perf_counter() - started
        stack.start()
        # Warm-up (not measured): every worker imports, connects and builds its territory index.
        drive(stack.port, WORKERS * 4, 3, "reports", seed)
        drive(stack.port, WORKERS * 4, 1, "baseline", seed)

        before = stack.sql(f"SELECT count(*) FROM {REPORTS_TABLE}")
        reports = drive(stack.port, clients, duration, "reports", seed + 1)
        reports["rows"] = stack.sql(f"SELECT count(*) FROM {REPORTS_TABLE}") - before
        reports["lost"] = reports["created_201"] - reports["rows"]

        before = stack.sql(f"SELECT count(*) FROM {BASELINE_TABLE}")
        baseline = drive(stack.port, clients, duration, "baseline", seed + 2)
        baseline["rows"] = stack.sql(f"SELECT count(*) FROM {BASELINE_TABLE}") - before
        baseline["lost"] = baseline["created_201"] - baseline["rows"]
        server_version = stack.sql(
            "SELECT sqlite_version()" if db == "sqlite" else "SHOW server_version"
        )
    finally:
        stack.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "benchmark": "intake",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_1min_before": load_before,
        "database": db,
        "database_version": server_version,
        "gunicorn_workers": WORKERS,
        "clients": clients,
        "duration_seconds": duration,
        "prepare_seconds": round(prepare_seconds, 1),
        "reports": reports,
        "baseline": baseline,
        "ratio_reports_to_baseline": round(reports["per_second"] / baseline["per_second"], 3)
        if baseline["per_second"]
        else None,
    }


def print_table(result: dict[str, Any]) -> None:
    def line(name: str, part: dict[str, Any]) -> str:
        return (
            f"{part['per_second']:>8.1f}/s  p50 {part['p50_ms']:>7.1f} ms  "
            f"p99 {part['p99_ms']:>7.1f} ms  201: {part['created_201']:>6}  rows: "
            f"{part['rows']:>6}  lost: {part['lost']}  other: "
            f"{ {k: v for k, v in part['statuses'].items() if k != '201'} or '-' }"
            f"  connection errors: {part['connection_errors']}"
        )

    print(
        f"intake on {result['database']} {result['database_version']}, gunicorn "
        f"{result['gunicorn_workers']} workers, {result['clients']} clients, "
        f"{result['duration_seconds']} s each"
    )
    print(f"  reports   {line('reports', result['reports'])}")
    print(f"  baseline  {line('baseline', result['baseline'])}")
    print(f"  ratio reports / baseline: {result['ratio_reports_to_baseline']}")
    print(
        f"  machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, "
        f"load average {result['load_average_1min_before']}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seed", type=int, default=20_261_126)
    args = parser.parse_args(argv)
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    failed = False
    for db in databases:
        result = run(db, args.duration, args.clients, args.seed)
        print_table(result)
        output = RESULTS / f"intake-{db}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"-> {output.relative_to(ROOT)}")
        failed = failed or bool(result["reports"]["lost"] or result["baseline"]["lost"])
    if failed:
        sys.exit("reports lost: 201 answers without a stored row")


if __name__ == "__main__":
    main()
