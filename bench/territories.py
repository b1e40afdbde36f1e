"""Benchmark of point -> territory lookups: `python -m bench.territories [--points N]`.

Needs every commune of France loaded. By default it uses a throwaway SQLite database under
`var/bench/` (settings `config.settings.dev`, `CARTOSTUP_DATA_DIR=var/bench`) and runs
`load_territories --departements all` there when it is not loaded yet, timing the load. Set
`CARTOSTUP_DATA_DIR` (or `DATABASE_URL`) to use another database that already holds them.

It draws N seeded random points on metropolitan France's land (uniform in the bounding box, kept
when inside the union of the metropolitan départements), then times on the same points and the
same polygons:

- the project's vectorised lookup (`locator.locate_many`: commune, département, antennas, QPV,
  nearest commune within the tolerance for points in slivers);
- a bare shapely 2 `STRtree.query(points, predicate="within")` (point-in-polygon only), and
  the same with "intersects" (the predicate the project uses: cheaper on prepared polygons);
- single-point lookups (`locator.locate`), µs per call, p50/p99.

Prints a table and writes JSON to `bench/results/territories.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Metropolitan France (with Corsica): longitude, latitude.
METRO_BOUNDS = (-5.2, 41.3, 9.6, 51.1)


def setup_django() -> None:
    os.environ.setdefault("CARTOSTUP_DATA_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_loaded(force: bool) -> float | None:
    """Load every commune when missing (or when forced); return the load time, if any."""
    from django.core.management import call_command

    from cartostup.territories.models import Commune

    call_command("migrate", verbosity=0, interactive=False)
    if not force and Commune.objects.filter(geometry__isnull=False).count() > 34_000:
        return None
    started = time.perf_counter()
    call_command("load_territories", departements="all", verbosity=1)
    return time.perf_counter() - started


def metropolitan_land_points(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import shapely

    from cartostup.territories import locator
    from cartostup.territories.models import Departement

    outlines = [
        shapely.from_wkb(locator.as_bytes(wkb))
        for code, wkb in Departement.objects.exclude(geometry=None).values_list("code", "geometry")
        if not code.startswith("97")
    ]
    land = shapely.union_all(outlines)
    shapely.prepare(land)
    rng = np.random.default_rng(seed)
    west, south, east, north = METRO_BOUNDS
    latitudes: list[np.ndarray] = []
    longitudes: list[np.ndarray] = []
    kept = 0
    while kept < count:
        lon = rng.uniform(west, east, count)
        lat = rng.uniform(south, north, count)
        inside = shapely.contains_xy(land, lon, lat)
        latitudes.append(lat[inside])
        longitudes.append(lon[inside])
        kept += int(inside.sum())
    return np.concatenate(latitudes)[:count], np.concatenate(longitudes)[:count]


def machine() -> dict[str, Any]:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
            "",
        )
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }


def run(points: int, seed: int, single_calls: int, force_load: bool, repeat: int) -> dict[str, Any]:
    load_before = round(os.getloadavg()[0], 2)
    setup_django()
    import shapely
    from django.db import connection

    from cartostup.territories import locator

    load_seconds = ensure_loaded(force_load)
    started = time.perf_counter()
    locator.invalidate()
    index = locator.get_index()
    build_seconds = time.perf_counter() - started

    started = time.perf_counter()
    latitudes, longitudes = metropolitan_land_points(points, seed)
    draw_seconds = time.perf_counter() - started

    # Bare shapely on the same polygons (a fresh tree, built before timing) and the same points.
    tree = shapely.STRtree(index.commune_geometries)
    tree.query(shapely.points([2.35], [48.85]))

    def bare(predicate: str) -> np.ndarray:
        point_index, _tree_index = tree.query(
            shapely.points(longitudes, latitudes), predicate=predicate
        )
        return point_index

    # Best of `repeat` runs each, interleaved, so that a busy machine hurts both alike.
    project_seconds = bare_seconds = bare_intersects_seconds = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        batch = index.locate_many(latitudes, longitudes)
        project_seconds = min(project_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        point_index = bare("within")
        bare_seconds = min(bare_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        bare("intersects")
        bare_intersects_seconds = min(bare_intersects_seconds, time.perf_counter() - started)
    placed = int((batch.error == 0).sum())
    snapped = int(((batch.error == 0) & (batch.distance_m > 0)).sum())
    bare_placed = len(np.unique(point_index))

    # Single lookups, one call at a time.
    durations = np.empty(single_calls, dtype=np.float64)
    single_errors = 0
    for i in range(single_calls):
        row = i % points
        lat, lon = float(latitudes[row]), float(longitudes[row])
        call_started = time.perf_counter_ns()
        try:
            locator.locate(lat, lon)
        except locator.LocateError:
            single_errors += 1
        durations[i] = (time.perf_counter_ns() - call_started) / 1000

    project_rate = points / project_seconds
    bare_rate = points / bare_seconds
    return {
        "benchmark": "territories",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "database": connection.vendor,
        "points": points,
        "seed": seed,
        "communes_indexed": len(index.commune_codes),
        "load_all_seconds": round(load_seconds, 2) if load_seconds is not None else None,
        "index_build_seconds": round(build_seconds, 3),
        "draw_points_seconds": round(draw_seconds, 3),
        "batch": {
            "seconds": round(project_seconds, 3),
            "lookups_per_second": round(project_rate),
            "placed": placed,
            "snapped_to_nearest": snapped,
        },
        "bare_strtree": {
            "seconds": round(bare_seconds, 3),
            "lookups_per_second": round(bare_rate),
            "placed": bare_placed,
        },
        "bare_strtree_intersects": {
            "seconds": round(bare_intersects_seconds, 3),
            "lookups_per_second": round(points / bare_intersects_seconds),
        },
        "ratio_project_to_bare": round(project_rate / bare_rate, 3),
        "ratio_project_to_bare_intersects": round(bare_intersects_seconds / project_seconds, 3),
        "repeat": repeat,
        "load_average_1min_before": load_before,
        "single": {
            "calls": single_calls,
            "errors": single_errors,
            "mean_us": round(float(durations.mean()), 1),
            "p50_us": round(float(np.percentile(durations, 50)), 1),
            "p99_us": round(float(np.percentile(durations, 99)), 1),
        },
    }


def print_table(result: dict[str, Any]) -> None:
    rows = [
        ("points (metropolitan land)", f"{result['points']:,}"),
        ("communes indexed", f"{result['communes_indexed']:,}"),
        (
            "load_territories all",
            f"{result['load_all_seconds']} s" if result["load_all_seconds"] else "(already loaded)",
        ),
        ("index build", f"{result['index_build_seconds']} s"),
        (
            "batch locate_many",
            f"{result['batch']['lookups_per_second']:,} lookups/s ({result['batch']['seconds']} s)",
        ),
        (
            "bare STRtree within",
            f"{result['bare_strtree']['lookups_per_second']:,} lookups/s "
            f"({result['bare_strtree']['seconds']} s)",
        ),
        (
            "bare STRtree intersects",
            f"{result['bare_strtree_intersects']['lookups_per_second']:,} lookups/s "
            f"({result['bare_strtree_intersects']['seconds']} s)",
        ),
        ("ratio project / bare within", f"{result['ratio_project_to_bare']}"),
        ("ratio project / bare intersects", f"{result['ratio_project_to_bare_intersects']}"),
        (
            "placed (project / bare)",
            f"{result['batch']['placed']:,} / {result['bare_strtree']['placed']:,} "
            f"({result['batch']['snapped_to_nearest']:,} snapped to the nearest commune)",
        ),
        (
            "single locate",
            f"p50 {result['single']['p50_us']} µs, p99 {result['single']['p99_us']} µs, "
            f"mean {result['single']['mean_us']} µs ({result['single']['calls']:,} calls)",
        ),
        (
            "machine",
            f"{result['machine']['cpu']}, {result['machine']['cores']} cores, "
            f"load average {result['load_average_1min_before']}",
        ),
    ]
    width = max(len(name) for name, _value in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20_240_601)
    parser.add_argument("--single-calls", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; best kept")
    parser.add_argument(
        "--reload", action="store_true", help="run load_territories all even if loaded (timed)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "territories.json")
    args = parser.parse_args(argv)
    result = run(args.points, args.seed, args.single_calls, args.reload, args.repeat)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"-> {shown}")


if __name__ == "__main__":
    main()
