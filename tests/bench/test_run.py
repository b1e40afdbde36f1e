"""The benchmark harness (`python -m bench.run`): figures read from the result files the
benchmarks wrote (the committed ones in bench/results/), the table, the JSON, failures."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import run

RESULTS = Path(run.__file__).resolve().parent / "results"


def benchmark(name: str) -> run.Benchmark:
    return next(b for b in run.BENCHMARKS if b.name == name)


def load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def test_figures_come_from_the_result_files():
    territories = run.collect(benchmark("territories"), [RESULTS / "territories.json"])
    data = load("territories.json")
    [batch] = [f for f in territories if f.figure.startswith("point → territory, batch")]
    assert batch.value == data["batch"]["lookups_per_second"]
    assert batch.baseline == data["bare_strtree_intersects"]["lookups_per_second"]
    assert batch.ratio == round(
        data["batch"]["lookups_per_second"] / data["bare_strtree_intersects"]["lookups_per_second"],
        3,
    )

    intake_files = sorted(RESULTS.glob("intake-*.json"))
    assert intake_files
    intake = run.collect(benchmark("intake"), intake_files)
    for path in intake_files:
        data = load(path.name)
        [figure] = [f for f in intake if f.figure.startswith(f"{data['database']}: public reports")]
        assert (figure.value, figure.baseline) == (
            data["reports"]["per_second"],
            data["baseline"]["per_second"],
        )

    matching = run.collect(benchmark("matching"), [RESULTS / "matching.json"])
    assert run.Figure("attachment F1", load("matching.json")["attachment"]["f1"]) in matching

    [map_file] = sorted(RESULTS.glob("map-*.json"))[-1:]
    figures = run.collect(benchmark("map"), [map_file])
    data = load(map_file.name)
    layers = sum(len(result["layers"]) for result in data["results"])
    assert len([f for f in figures if "(vs bare SQL)" in f.figure]) == layers
    first = data["results"][0]["layers"][0]
    assert figures[0].value == first["endpoint"]["p50_ms"]
    assert figures[0].ratio is not None


def test_a_benchmark_without_its_result_file_has_no_figures():
    with pytest.raises(FileNotFoundError):
        run.collect(benchmark("territories"), [])


def test_generic_figures_show_the_named_figures_first(tmp_path):
    files = sorted(RESULTS.glob("intake-*.json"))[:1]
    figures = run.generic_figures({path.name: load(path.name) for path in files})
    assert 0 < len(figures) <= 12
    assert all("seed" not in figure.figure for figure in figures)
    assert any(word in figures[0].figure for word in run.PREFERRED)


def test_pytest_summary_counts():
    assert run.pytest_figures("... \n12 passed, 1 skipped in 3.2s\n") == [
        run.Figure("passed", 12),
        run.Figure("skipped", 1),
    ]


def test_a_failing_benchmark_is_shown_failed_and_the_others_still_run(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run, "LOGS", tmp_path / "logs")
    broken = run.Benchmark(
        "broken", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], [], None
    )
    fine = run.Benchmark("fine", [sys.executable, "-c", "print('done')"], [], None)
    missing = run.Benchmark("later", [sys.executable, "-c", "0"], [], None, requires="no/such")
    monkeypatch.setattr(run, "BENCHMARKS", [broken, fine, missing])
    assert run.main([]) == 1
    [written] = (tmp_path / "results").glob("*.json")
    assert written.name == f"{datetime.now(UTC):%Y-%m-%d}.json"
    data = json.loads(written.read_text())
    assert {"cpu", "cores", "python"} <= set(data["machine"])
    statuses = {b["name"]: (b["status"], b["returncode"]) for b in data["benchmarks"]}
    assert statuses == {"broken": ("failed", 3), "fine": ("ok", 0), "later": ("skipped", None)}
    assert (tmp_path / "logs" / "broken.log").read_text() == "boom\n"
    assert run.main(["--only", "fine"]) == 0


def test_the_table_lists_every_figure_and_every_failure():
    territories = run.collect(benchmark("territories"), [RESULTS / "territories.json"])
    outcomes = [
        run.Outcome("territories", "ok", 12.0, 0, territories, ["bench/results/territories.json"]),
        run.Outcome("soak", "failed", 3.0, 1, note="exit code 1"),
    ]
    text = run.table(outcomes)
    lines = text.splitlines()
    assert lines[0].split() == ["benchmark", "figure", "value", "unit", "baseline", "ratio"]
    assert len(lines) == 2 + len(territories) + 1
    assert "soak" in lines[-1] and "FAILED exit code 1" in lines[-1]
    batch = territories[0]
    assert f"{batch.value:,}" in lines[2] and f"{batch.baseline:,}" in lines[2]
    data = run.report(outcomes, quick=False, now=datetime(2026, 11, 27, tzinfo=UTC), machine={})
    assert data["benchmarks"][0]["figures"][0]["value"] == batch.value
    assert json.loads(json.dumps(data)) == data


def test_a_quick_run_puts_the_result_files_back(tmp_path, monkeypatch):
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(run, "RESULTS", results)
    monkeypatch.setattr(run, "LOGS", tmp_path / "logs")
    published = results / "check.json"
    published.write_text('{"passed": true}')
    script = (
        "import pathlib, sys; root = pathlib.Path(sys.argv[1]); "
        "(root / 'check.json').write_text('{\"passed\": false}'); "
        "(root / 'check-extra.json').write_text('{}')"
    )
    check = run.Benchmark("check", [sys.executable, "-c", script, str(results)], [], "check*.json")
    outcome = run.run_one(check, quick=True)
    assert outcome.status == "ok"
    assert run.Figure("check.json: passed", "False") in outcome.figures
    assert published.read_text() == '{"passed": true}'
    assert sorted(path.name for path in results.iterdir()) == ["check.json"]
    monkeypatch.setattr(run, "BENCHMARKS", [check])
    assert run.main(["--quick"]) == 0
    assert (results / f"{datetime.now(UTC):%Y-%m-%d}-quick.json").exists()


def test_soak_figures_come_from_its_result_file():
    [path] = sorted(RESULTS.glob("soak-*.json"))[-1:]
    data = load(path.name)
    figures = run.collect(benchmark("soak"), [path])
    values = {figure.figure: figure.value for figure in figures}
    assert values["all checks passed"] == str(data["passed"])
    assert values["requests"] == data["requests"]
    assert values["answered 2xx but lost"] == data["lost"]
    assert values["faults injected"] == data["faults_injected"]
