"""Every benchmark in one run (what `make bench` calls):
`python -m bench.run [--only territories,map,...] [--quick] [--list]`.

Each benchmark runs alone in its own process (`python -m bench.<name>`, or pytest for the long
fuzzing run), one after the other, its output shown as it comes and kept in
`var/bench-run/<name>.log`. Then its headline figures are read from the JSON it wrote in
`bench/results/` (each stays runnable alone and keeps writing its own file). A benchmark that
fails is shown as failed and makes the exit code 1, without stopping the others; one whose
module does not exist yet is shown as skipped.

Prints one table (benchmark, figure, value, baseline, ratio where the benchmark measures one)
and writes `bench/results/<YYYY-MM-DD>.json` with the machine (`bench.territories.machine`),
the date, each benchmark's status, duration, source files and figures.

`--quick` runs each with smaller settings (fewer points, shorter phases, scale 0.1, the short
fuzzing): a check that everything runs, not figures to publish. Their figures are read, then the
benchmarks' own result files are put back as they were, and the run is written to
`bench/results/<YYYY-MM-DD>-quick.json`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, environment

RESULTS = ROOT / "bench" / "results"
LOGS = ROOT / "var" / "bench-run"


@dataclass(frozen=True)
class Figure:
    """One headline figure; `baseline` (measured in the same run) and `ratio` when there is
    one."""

    figure: str
    value: float | int | str
    unit: str = ""
    baseline: float | int | None = None
    ratio: float | None = None


@dataclass
class Outcome:
    name: str
    status: str  # "ok", "failed" or "skipped"
    seconds: float = 0.0
    returncode: int | None = None
    figures: list[Figure] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    note: str = ""


Json = dict[str, Any]


def _ratio(value: float | int | None, baseline: float | int | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(float(value) / float(baseline), 3)


def _load(path: Path) -> Json:
    data: Json = json.loads(path.read_text())
    return data


# --- figures of each benchmark, from its result files --------------------------------------------


def territories_figures(results: dict[str, Json]) -> list[Figure]:
    data = results["territories.json"]
    batch = data["batch"]["lookups_per_second"]
    bare = data["bare_strtree_intersects"]["lookups_per_second"]
    return [
        Figure(
            "point → territory, batch (vs bare STRtree)",
            batch,
            "lookups/s",
            bare,
            _ratio(batch, bare),
        ),
        Figure("point → territory, single call p50", data["single"]["p50_us"], "µs"),
        Figure("load every commune of France", data["load_all_seconds"], "s"),
    ]


def intake_figures(results: dict[str, Json]) -> list[Figure]:
    figures = []
    for _name, data in sorted(results.items()):
        database = data["database"]
        reports, baseline = data["reports"]["per_second"], data["baseline"]["per_second"]
        figures += [
            Figure(
                f"{database}: public reports (vs one-INSERT baseline)",
                reports,
                "reports/s",
                baseline,
                _ratio(reports, baseline),
            ),
            Figure(f"{database}: public report p99", data["reports"]["p99_ms"], "ms"),
            Figure(f"{database}: reports lost", data["reports"]["lost"] + data["baseline"]["lost"]),
        ]
    return figures


def matching_figures(results: dict[str, Json]) -> list[Figure]:
    data = results["matching.json"]
    return [
        Figure("attachment F1", data["attachment"]["f1"]),
        Figure("attachment or proposal recall", data["attachment_or_proposal"]["recall"]),
        Figure("new-point proposals F1", data["proposals"]["f1"]),
    ]


def map_figures(results: dict[str, Json]) -> list[Figure]:
    figures = []
    [data] = results.values()
    for result in data["results"]:
        database = result["database"]
        for row in result["layers"]:
            floor = min(row["floor"]["p50_ms"], row["floor_indexed"]["p50_ms"])
            figures.append(
                Figure(
                    f"{database}: {row['layer']} {row['view']} p50 (vs bare SQL)",
                    row["endpoint"]["p50_ms"],
                    "ms",
                    floor,
                    _ratio(row["endpoint"]["p50_ms"], floor),
                )
            )
        for row in result["matching"]:
            figures.append(
                Figure(
                    f"{database}: find_candidates, {row['points']} points ({row['scenario']})",
                    row["p50_ms"],
                    "ms",
                )
            )
    return figures


def national_figures(results: dict[str, Json]) -> list[Figure]:
    figures = []
    for result in results["national.json"]["results"]:
        for run in result["runs"]:
            rows = sum(run["rows"].values())
            figures.append(
                Figure(
                    f"{result['database']}: generate_national --scale {run['scale']:g} "
                    f"({rows:,} rows)",
                    run["timings"]["total_s"],
                    "s",
                )
            )
    return figures


def soak_figures(results: dict[str, Json]) -> list[Figure]:
    [data] = results.values()
    return [
        Figure("all checks passed", str(data["passed"])),
        Figure("workload", data["duration_s"], "s"),
        Figure("requests", data["requests"]),
        Figure("requests per second", data["requests_per_s"], "req/s"),
        Figure("faults injected", data["faults_injected"]),
        Figure("answered 2xx but lost", data["lost"]),
        Figure("stored twice", data["duplicated"]),
        Figure("partial records", data["partial_records"]),
        Figure("errors outside the fault windows", data["errors_outside_windows"]),
    ]


# Figures to show first from a result file the harness does not know in detail.
PREFERRED = ("passed", "duration", "requests", "lost", "errors", "faults")


def generic_figures(results: dict[str, Json]) -> list[Figure]:
    """The top-level numbers and booleans of each file (those named in PREFERRED first), and
    those one level down, at most twelve."""
    figures: list[Figure] = []
    for name, data in sorted(results.items()):
        leaves: list[tuple[str, Any]] = []
        for key, value in data.items():
            if isinstance(value, dict) and key not in ("machine", "settings"):
                leaves += [(f"{key}.{k}", v) for k, v in value.items()]
            else:
                leaves.append((key, value))
        scalars = [
            (key, value)
            for key, value in leaves
            if isinstance(value, bool | int | float) and "seed" not in key and "port" not in key
        ]
        scalars.sort(key=lambda item: not any(word in item[0] for word in PREFERRED))
        prefix = f"{name}: " if len(results) > 1 else ""
        figures += [
            Figure(f"{prefix}{key}", str(value) if isinstance(value, bool) else value)
            for key, value in scalars[:12]
        ]
    return figures


PYTEST_SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def pytest_figures(output: str) -> list[Figure]:
    """The counts of pytest's last summary line."""
    lines = [line for line in output.splitlines() if PYTEST_SUMMARY.search(line)]
    if not lines:
        return []
    return [Figure(word, int(count)) for count, word in PYTEST_SUMMARY.findall(lines[-1])]


# --- the benchmarks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    name: str
    command: list[str]
    quick: list[str]  # arguments added with --quick
    results: str | None  # glob of its result files in bench/results/
    figures: Callable[[dict[str, Json]], list[Figure]] = generic_figures
    env: dict[str, str] = field(default_factory=dict)
    quick_env: dict[str, str] | None = None  # the environment with --quick, when it differs
    requires: str = ""  # a path that must exist (the benchmark is written by another issue)
    newest_only: bool = False  # dated files: only the newest one written by this run


def _module(name: str) -> list[str]:
    return [sys.executable, "-m", f"bench.{name}"]


FUZZ_PERSONAS = (
    "cross13_analyst",
    "police13_investigator",
    "prosecutor_13",
    "prefecture_13",
    "landlord_13h",
    "caller_operator",
    "auditor",
    "admin",
)

BENCHMARKS: list[Benchmark] = [
    Benchmark(
        "territories",
        _module("territories"),
        ["--points", "100000", "--repeat", "1"],
        "territories.json",
        territories_figures,
    ),
    Benchmark(
        "intake",
        _module("intake"),
        ["--duration", "5", "--clients", "10"],
        "intake-*.json",
        intake_figures,
    ),
    Benchmark(
        "matching", _module("matching"), ["--points", "500"], "matching.json", matching_figures
    ),
    Benchmark(
        "map", _module("map"), ["--requests", "5"], "map-*.json", map_figures, newest_only=True
    ),
    Benchmark("national", _module("national"), ["--quick"], "national.json", national_figures),
    Benchmark(
        "soak",
        _module("soak"),
        ["--duration", "30"],
        "soak-*.json",
        soak_figures,
        newest_only=True,
    ),
    Benchmark(
        "fuzz",
        [
            sys.executable,
            *("-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-q"),
            *("tests/api", "tests/badinput", "cartostup/dealpoints/tests/test_exchange.py"),
        ],
        [],
        None,
        # The long per-persona fuzzing costs ~10 min of 2 cores per persona: one per role.
        env={"CARTOSTUP_FUZZ_LONG": "1", "CARTOSTUP_FUZZ_PERSONAS": ",".join(FUZZ_PERSONAS)},
        quick_env={},
        requires="tests/api",
    ),
]


def _result_files(benchmark: Benchmark, since: float) -> list[Path]:
    """The benchmark's result files written since `since` (a time.time())."""
    if benchmark.results is None:
        return []
    files = sorted(
        (path for path in RESULTS.glob(benchmark.results) if path.stat().st_mtime >= since),
        key=lambda path: path.stat().st_mtime,
    )
    return files[-1:] if benchmark.newest_only else files


def collect(benchmark: Benchmark, files: list[Path], output: str = "") -> list[Figure]:
    """The headline figures of a benchmark from its result files (or its output)."""
    if benchmark.results is None:
        return pytest_figures(output)
    results = {path.name: _load(path) for path in files}
    if not results:
        raise FileNotFoundError(f"no {benchmark.results} written in bench/results/")
    return benchmark.figures(results)


def run_one(benchmark: Benchmark, quick: bool) -> Outcome:
    """Run one benchmark in its own process, its output shown and logged; never raises."""
    if benchmark.requires and not (ROOT / benchmark.requires).exists():
        return Outcome(benchmark.name, "skipped", note=f"({benchmark.requires} missing)")
    command = benchmark.command + (benchmark.quick if quick else [])
    env = benchmark.quick_env if quick and benchmark.quick_env is not None else benchmark.env
    kept = _keep(benchmark) if quick else None
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{benchmark.name}.log"
    print(f"\n=== {benchmark.name}: {' '.join(command[1:])}", flush=True)
    started_wall, started = time.time() - 1, time.perf_counter()
    lines = []
    with log.open("w") as handle:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            handle.write(line)
            lines.append(line)
        returncode = process.wait()
    seconds = round(time.perf_counter() - started, 1)
    files = _result_files(benchmark, started_wall)
    outcome = Outcome(
        benchmark.name,
        "ok" if returncode == 0 else "failed",
        seconds,
        returncode,
        sources=[
            str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path) for path in files
        ],
    )
    try:
        outcome.figures = collect(benchmark, files, "".join(lines[-50:]))
    except (OSError, KeyError, ValueError, TypeError) as error:
        outcome.status = "failed"
        outcome.note = f"figures unreadable: {error!r}"
    if returncode != 0:
        outcome.note = (outcome.note + f" exit code {returncode}, see {log}").strip()
    if kept is not None:
        _restore(benchmark, kept)
        outcome.sources = []
    return outcome


def _keep(benchmark: Benchmark) -> dict[Path, bytes]:
    """The benchmark's result files as they are (a quick run puts them back after)."""
    if benchmark.results is None:
        return {}
    return {path: path.read_bytes() for path in RESULTS.glob(benchmark.results)}


def _restore(benchmark: Benchmark, kept: dict[Path, bytes]) -> None:
    if benchmark.results is None:
        return
    for path in RESULTS.glob(benchmark.results):
        if path not in kept:
            path.unlink()
    for path, content in kept.items():
        path.write_bytes(content)


# --- the table and the JSON ----------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(outcomes: list[Outcome]) -> str:
    """One line per figure; a failed or skipped benchmark says so on its own line."""
    rows = [("benchmark", "figure", "value", "unit", "baseline", "ratio")]
    for outcome in outcomes:
        if outcome.status != "ok" or not outcome.figures:
            label = {"ok": "no figure", "failed": "FAILED", "skipped": "skipped"}[outcome.status]
            rows.append((outcome.name, f"{label} {outcome.note}".strip(), "", "", "", ""))
        for figure in outcome.figures:
            rows.append(
                (
                    outcome.name,
                    figure.figure,
                    _show(figure.value),
                    figure.unit,
                    _show(figure.baseline),
                    _show(figure.ratio),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            row[i].ljust(widths[i]) if i in (0, 1, 3) else row[i].rjust(widths[i]) for i in range(6)
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def report(outcomes: list[Outcome], *, quick: bool, now: datetime, machine: Json) -> Json:
    return {
        "date": now.isoformat(timespec="seconds"),
        "machine": machine,
        "quick": quick,
        "benchmarks": [asdict(outcome) for outcome in outcomes],
    }


def main(argv: list[str] | None = None) -> int:
    from bench.territories import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", default="", help="comma-separated names (see --list)")
    parser.add_argument("--quick", action="store_true", help="smaller settings: a check only")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    names = [benchmark.name for benchmark in BENCHMARKS]
    if args.list:
        print("\n".join(names))
        return 0
    wanted = [name.strip() for name in args.only.split(",") if name.strip()] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(names)})")
    outcomes = [
        run_one(benchmark, args.quick) for benchmark in BENCHMARKS if benchmark.name in wanted
    ]
    now = datetime.now(UTC)
    print()
    print(table(outcomes))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{now:%Y-%m-%d}{'-quick' if args.quick else ''}.json"
    data = report(outcomes, quick=args.quick, now=now, machine=machine())
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{path}")
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
