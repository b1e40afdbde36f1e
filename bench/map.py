"""Benchmark of the map layers: `python -m bench.map [--database sqlite|postgres|both]
[--requests 30] [--rebuild]`.

For each database it uses a dedicated bench database, kept between runs (SQLite:
`var/bench-map/map.sqlite3`; PostgreSQL: database `cartostup_bench_map` on 127.0.0.1:5432 as
user postgres), migrated, with the territories of the départements it draws in and the demo
organisations. When the data set is missing (or with `--rebuild`) it builds a synthetic
national one with `bulk_create`, seeded:

- 40,000 deal points, concentrated where the official figures put them: estates of Marseille,
  Seine-Saint-Denis, Lyon, Paris, Lille-Roubaix-Tourcoing, Toulouse, Nice, Montpellier, Nîmes,
  Bordeaux, Grenoble, Strasbourg, Nantes, Rennes and the Paris suburbs (85 %), the rest spread
  over every loaded commune (15 %); each point is drawn around an "estate" (150 m) inside a
  hub commune (the commune it is filed under is the hub, not a point-in-polygon lookup);
- 1,000,000 reports over ten years, 90 % within ~80 m of a deal point, 10 % anywhere a point
  could be, every status.

Then, as the national Ofast analyst (`ofast_analyst`, who sees everything), through the whole
Django stack in process (`django.test.Client`: middleware, second factor, policy, audit event,
JSON rendering; no HTTP socket), it times `--requests` calls (after 3 warm-ups) of
`/api/v1/map/dealpoints/` and `/api/v1/map/reports/` at three views, and of
`/api/v1/map/dealpoints/` as an aggregate-only reader covering every département of the data set
(`prefecture_13`, its prefecture widened to them in the bench database: a zone prefecture, whose
hexagons are whole, counted per département and held to the minimum; res 9 at the street):

- national: metropolitan France, zoom 6 (H3 res 5 hexagons);
- département: the Bouches-du-Rhône, zoom 10 (res 7);
- street: Marseille 14e, zoom 16 (points);

each interleaved with the floor, the bare SQL of the same rows on the same connection
(`SELECT h3_rX, count(*) ... WHERE <bbox> GROUP BY h3_rX`, or the points' columns at the
street), and reports p50/p95 and the ratio of the p50s. Last, the time to find the candidate
points of one new report (`dealpoints.matching.find_candidates`) in Marseille with the 40,000
points, then with 4,000 (nine points in ten deleted inside a transaction rolled back after).

Prints a table and writes `bench/results/map-<date>.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import environment, log, pg_database_ensure
from bench.national import Place, estate_position, hub_places, load_places
from bench.territories import machine

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SQLITE_PATH = ROOT / "var" / "bench-map" / "map.sqlite3"
PG_DATABASE = "cartostup_bench_map"

DEALPOINTS = 40_000
REPORTS = 1_000_000
SEED = 20241126
BATCH = 5_000
DEPARTEMENTS = "13,93,92,94,95,75,69,59,31,06,34,30,33,38,67,44,35"
SPREAD_SHARE = 0.15

VIEWS: dict[str, tuple[tuple[float, float, float, float], int]] = {
    "national": ((-5.2, 41.3, 9.6, 51.1), 6),
    "departement": ((4.2, 43.15, 6.0, 43.95), 10),
    "street": ((5.380, 43.335, 5.410, 43.355), 16),
}
MARSEILLE_14 = (43.3452, 5.3949)


# --- runner (one process per database: Django is set up once per database) ------------------


def _database_url(database: str, rebuild: bool) -> str:
    """The bench database, kept between runs (dropped first with --rebuild)."""
    if database == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{SQLITE_PATH}"
    return pg_database_ensure(PG_DATABASE, drop=rebuild)


def run_database(database: str, requests: int, rebuild: bool) -> dict[str, Any]:
    """Run the measurements of one database in a child process; return its JSON."""
    output = ROOT / "var" / "bench-map" / f"result-{database}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    env = environment(
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        CARTOSTUP_DATA_DIR=str(ROOT / "var" / "bench-map" / database),
        DATABASE_URL=_database_url(database, rebuild),
    )
    command = [sys.executable, "-m", "bench.map", "--child", database, "--requests", str(requests)]
    command += ["--output", str(output)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    result: dict[str, Any] = json.loads(output.read_text())
    return result


# --- child: data set -----------------------------------------------------------------------------


def _places() -> tuple[list[Place], list[float], list[Place]]:
    """(hub communes, their weights, every loaded commune)."""
    places = load_places()
    hubs, weights = hub_places(places)
    return hubs, weights, places


def build_dataset() -> None:
    import numpy as np
    from django.db import connection, transaction
    from django.utils import timezone

    from cartostup.access.choices import Distribution, Marking
    from cartostup.access.models import Organisation
    from cartostup.dealpoints.choices import DealPointStatus
    from cartostup.dealpoints.models import DealPoint
    from cartostup.dealpoints.services import cells_for
    from cartostup.reports.choices import Status as ReportStatus
    from cartostup.reports.models import Report
    from cartostup.reports.services import h3_cells

    rng = np.random.default_rng(SEED)
    owner = Organisation.objects.get(kind="ofast_central")
    hubs, weights, places = _places()
    log(f"{len(places)} communes, {len(hubs)} hub communes")

    # Deal points: estates inside hub communes (85 %), anywhere else (15 %).
    probabilities = np.array(weights) / sum(weights)
    now = timezone.now()
    statuses = [s.value for s in DealPointStatus]
    status_weights = np.array([30, 25, 15, 20, 4, 6], dtype=float)
    status_weights /= status_weights.sum()
    estates: dict[int, list[tuple[float, float]]] = {}
    positions: list[tuple[float, float, Any]] = []
    for _ in range(DEALPOINTS):
        if rng.random() < SPREAD_SHARE:
            place = places[int(rng.integers(len(places)))]
            latitude = place.latitude + rng.normal(0, 0.002)
            longitude = place.longitude + rng.normal(0, 0.003)
        else:
            index = int(rng.choice(len(hubs), p=probabilities))
            place = hubs[index]
            latitude, longitude = estate_position(rng, place, estates.setdefault(index, []))
        positions.append((float(latitude), float(longitude), place.commune))
    started = time.perf_counter()
    counters: dict[str, int] = {}
    batch: list[DealPoint] = []
    for latitude, longitude, commune in positions:
        code = commune.departement.code
        counters[code] = counters.get(code, 0) + 1
        activity = now - timedelta(days=int(rng.integers(0, 730)))
        batch.append(
            DealPoint(
                owner_organisation=owner,
                commune=commune,
                departement=commune.departement,
                distribution=Distribution.TERRITORY,
                marking=Marking.AMBER,
                reference=f"PD-{code}-{counters[code]:05d}",
                status=statuses[int(rng.choice(len(statuses), p=status_weights))],
                precision="building",
                latitude=latitude,
                longitude=longitude,
                **cells_for(latitude, longitude),
                products=["cannabis"],
                first_reported_at=activity - timedelta(days=200),
                last_activity_at=activity,
                status_changed_at=activity,
            )
        )
        if len(batch) >= BATCH:
            DealPoint.objects.bulk_create(batch)
            batch = []
    DealPoint.objects.bulk_create(batch)
    log(f"{DEALPOINTS} deal points in {time.perf_counter() - started:.1f} s")

    # Reports: 90 % near a deal point, 10 % at any point's estate scale.
    started = time.perf_counter()
    report_statuses = [s.value for s in ReportStatus]
    report_weights = np.array([10, 3, 62, 15, 10], dtype=float)
    report_weights /= report_weights.sum()
    ten_years = 10 * 365 * 24
    sequence = 0
    for chunk in range(0, REPORTS, 50_000):
        size = min(50_000, REPORTS - chunk)
        anchors = rng.integers(len(positions), size=size)
        near = rng.random(size) < 0.9
        spread_lat = np.where(near, 0.0007, 0.004)
        lat_offsets = rng.normal(0, 1, size) * spread_lat
        lng_offsets = rng.normal(0, 1, size) * spread_lat * 1.35
        hours = rng.integers(0, ten_years, size)
        picks = rng.choice(len(report_statuses), size=size, p=report_weights)
        rows = []
        for i in range(size):
            anchor_lat, anchor_lng, commune = positions[int(anchors[i])]
            latitude = anchor_lat + float(lat_offsets[i])
            longitude = anchor_lng + float(lng_offsets[i])
            sequence += 1
            rows.append(
                Report(
                    owner_organisation=owner,
                    commune=commune,
                    departement=commune.departement,
                    distribution=Distribution.CROSS,
                    marking=Marking.AMBER,
                    reference=f"SIG-B-{sequence:07d}",
                    channel="web",
                    status=report_statuses[int(picks[i])],
                    received_at=(now - timedelta(hours=int(hours[i]))).replace(
                        minute=0, second=0, microsecond=0
                    ),
                    latitude=latitude,
                    longitude=longitude,
                    precision="building",
                    **h3_cells(latitude, longitude),
                    activities=["selling"],
                )
            )
        with transaction.atomic():
            Report.objects.bulk_create(rows, batch_size=BATCH)
        log(f"  {chunk + size:,} reports ({time.perf_counter() - started:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"{REPORTS:,} reports in {time.perf_counter() - started:.1f} s")


def ensure_dataset() -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from cartostup.access.services import demo_organisations_ensure, demo_persona_ensure
    from cartostup.dealpoints.models import DealPoint
    from cartostup.reports.models import Report
    from cartostup.territories.models import Commune

    timings: dict[str, Any] = {}
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", verbosity=0, interactive=False)
    if pending:
        # A migration may rebuild a table (SQLite's ALTER TABLE), and drop its planner
        # statistics with it: the data set is measured with them, as built (`build_dataset`
        # ends with ANALYZE; PostgreSQL's autovacuum would gather them again in time).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        log(f"{len(pending)} migrations applied, statistics gathered again")
    wanted = DEPARTEMENTS.split(",")
    loaded = set(
        Commune.objects.filter(geometry__isnull=False)
        .values_list("departement__code", flat=True)
        .distinct()
    )
    if not set(wanted) <= loaded:
        started = time.perf_counter()
        call_command("load_territories", departements=DEPARTEMENTS, verbosity=0)
        timings["load_territories_s"] = round(time.perf_counter() - started, 1)
        log(f"territories loaded in {timings['load_territories_s']} s")
    demo_organisations_ensure()
    demo_persona_ensure(username="ofast_analyst")
    points, reports = DealPoint.objects.count(), Report.objects.count()
    if (points, reports) != (DEALPOINTS, REPORTS):
        if points or reports:
            raise SystemExit(
                f"Partial data set ({points} points, {reports} reports): run with --rebuild."
            )
        started = time.perf_counter()
        build_dataset()
        timings["build_dataset_s"] = round(time.perf_counter() - started, 1)
    return timings


# --- child: measurements -------------------------------------------------------------------------


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p95_ms": round(p95 * 1000, 2)}


# Who reads the layers: the national analyst (every point), and a prefecture counting the
# points of every département of the data set (hexagons only, per département, minimum 3).
READERS: dict[str, tuple[str, ...]] = {
    "ofast_analyst": ("dealpoints", "reports"),
    "prefecture_13": ("dealpoints",),
}


def _client(username: str) -> Any:
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cartostup.access.policy import forget_actor
    from cartostup.access.services import demo_persona_ensure
    from cartostup.territories.models import Departement

    user = demo_persona_ensure(username=username)
    if username == "prefecture_13":
        # A zone prefecture: every département of the data set (bench database only).
        for membership in user.memberships.select_related("organisation"):
            membership.organisation.departements.set(
                Departement.objects.filter(code__in=DEPARTEMENTS.split(","))
            )
        forget_actor(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def _floor_sql(
    table: str, view: str, resolution: int | None, indexed: bool
) -> tuple[str, list[Any]]:
    """The bare SQL of the same rows: by the bounds only, or (`indexed`) narrowed first by the
    same covering cells as the endpoint (`map_layers.cover_q`), the best plan for bare SQL."""
    from cartostup.dealpoints.map_layers import BBox, cover_q

    (west, south, east, north), _zoom = VIEWS[view]
    where = "latitude BETWEEN %s AND %s AND longitude BETWEEN %s AND %s"
    params: list[Any] = [south, north, west, east]
    if table == "dealpoints_dealpoint":
        where += " AND merged_into_id IS NULL"
    cover = cover_q(BBox(west, south, east, north)) if indexed else None
    if cover is not None:
        [(lookup, cells)] = cover.children  # type: ignore[misc]
        column = lookup.split("__")[0]
        where = f"{column} IN ({', '.join(['%s'] * len(cells))}) AND " + where
        params = [*cells, *params]
    if resolution is None:
        return (
            f"SELECT id, reference, status, latitude, longitude FROM {table} WHERE {where} "
            "LIMIT 5001",
            params,
        )
    column = f"h3_r{resolution}"
    return f"SELECT {column}, count(*) FROM {table} WHERE {where} GROUP BY {column}", params


def _timed_sql(sql: str, params: list[Any]) -> tuple[float, int]:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = len(cursor.fetchall())
    return time.perf_counter() - started, rows


def measure_layers(requests: int) -> list[dict[str, Any]]:
    from django.urls import reverse

    from cartostup.dealpoints.map_layers import resolution_for_zoom

    results = []
    tables = {"dealpoints": "dealpoints_dealpoint", "reports": "reports_report"}
    cases = [(reader, layer) for reader, layers in READERS.items() for layer in layers]
    for reader, layer in cases:
        client = _client(reader)
        table = tables[layer]
        url = reverse(f"map-{layer}")
        aggregate = reader != "ofast_analyst"
        for view, (bbox, zoom) in VIEWS.items():
            resolution = resolution_for_zoom(zoom, coordinates=not aggregate)
            bounds_sql = _floor_sql(table, view, resolution, indexed=False)
            indexed_sql = _floor_sql(table, view, resolution, indexed=True)
            endpoint: list[float] = []
            floor: list[float] = []
            floor_indexed: list[float] = []
            features = rows = 0
            for attempt in range(requests + 3):
                started = time.perf_counter()
                response = client.get(url, {"bbox": ",".join(map(str, bbox)), "zoom": zoom})
                body = response.json()
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.content[:300]
                features = len(body["features"])
                bounds_elapsed, rows = _timed_sql(*bounds_sql)
                indexed_elapsed, indexed_rows = _timed_sql(*indexed_sql)
                assert indexed_rows == rows, (indexed_rows, rows)
                if attempt >= 3:
                    endpoint.append(elapsed)
                    floor.append(bounds_elapsed)
                    floor_indexed.append(indexed_elapsed)
            result: dict[str, Any] = {
                "reader": reader,
                "layer": layer,
                "view": view,
                "zoom": zoom,
                "resolution": resolution,
                "features": features,
                "floor_rows": rows,
                "endpoint": _percentiles(endpoint),
                "floor": _percentiles(floor),
                "floor_indexed": _percentiles(floor_indexed),
            }
            best_floor = min(result["floor"]["p50_ms"], result["floor_indexed"]["p50_ms"])
            result["ratio_p50"] = round(result["endpoint"]["p50_ms"] / max(best_floor, 0.001), 1)
            results.append(result)
            log(
                f"{reader:14} {layer:10} {view:12} {result['endpoint']['p50_ms']:9.1f} ms "
                f"(floor {result['floor']['p50_ms']:.1f} ms, indexed "
                f"{result['floor_indexed']['p50_ms']:.1f} ms, {features} features)"
            )
    return results


def measure_matching(requests: int) -> list[dict[str, Any]]:
    from django.db import connection, transaction

    from cartostup.dealpoints import matching
    from cartostup.dealpoints.models import DealPoint
    from cartostup.reports.models import Report

    lat, lng = MARSEILLE_14
    reports = list(
        Report.objects.filter(
            latitude__range=(lat - 0.01, lat + 0.01), longitude__range=(lng - 0.01, lng + 0.01)
        ).order_by("pk")[:requests]
    )
    results = []

    def run(points: int) -> dict[str, Any]:
        samples, candidates = [], 0
        for report in reports[:3] + reports:
            started = time.perf_counter()
            found = matching.find_candidates(report=report)
            samples.append(time.perf_counter() - started)
            candidates = max(candidates, len(found))
        timing = _percentiles(samples[3:])
        return {"points": points, "reports": len(reports), "max_candidates": candidates, **timing}

    results.append({"scenario": "all", **run(DealPoint.objects.count())})
    # Nine points in ten removed everywhere: ten times fewer points AND a ten times sparser
    # neighbourhood around the reports.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM dealpoints_dealpoint WHERE id % 10 <> 0")
        results.append({"scenario": "thinned everywhere", **run(DealPoint.objects.count())})
        transaction.set_rollback(True)
    # Nine points in ten removed, except within ~3 km of the reports: ten times fewer points
    # but the same neighbourhood. The time should not move: the lookup reads the H3 cells
    # around the report, whatever the size of the table.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM dealpoints_dealpoint WHERE id %% 10 <> 0 AND NOT "
                "(latitude BETWEEN %s AND %s AND longitude BETWEEN %s AND %s)",
                [lat - 0.03, lat + 0.03, lng - 0.04, lng + 0.04],
            )
        results.append({"scenario": "same neighbourhood", **run(DealPoint.objects.count())})
        transaction.set_rollback(True)
    for result in results:
        log(
            f"matching with {result['points']:,} points ({result['scenario']}): "
            f"p50 {result['p50_ms']} ms, up to {result['max_candidates']} candidates"
        )
    return results


def child(database: str, requests: int, output: Path) -> None:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.db import connection

    started = time.perf_counter()
    timings = ensure_dataset()
    layers = measure_layers(requests)
    matching = measure_matching(requests)
    result = {
        "database": database,
        "vendor": connection.vendor,
        "dealpoints": DEALPOINTS,
        "reports": REPORTS,
        "requests": requests,
        "timings": timings,
        "layers": layers,
        "matching": matching,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    output.write_text(json.dumps(result, indent=2))


# --- main ----------------------------------------------------------------------------------------


def print_table(results: list[dict[str, Any]]) -> None:
    print()
    print(
        f"{'database':9} {'reader':14} {'layer':10} {'view':12} {'zoom':>4} {'res':>4} "
        f"{'features':>8} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'floor p50':>9} {'idx p50':>8} {'idx p95':>8} "
        f"{'ratio':>6}"
    )
    for result in results:
        for row in result["layers"]:
            print(
                f"{result['database']:9} {row['reader']:14} "
                f"{row['layer']:10} {row['view']:12} {row['zoom']:>4} "
                f"{row['resolution'] or '-':>4} {row['features']:>8} "
                f"{row['endpoint']['p50_ms']:>8} {row['endpoint']['p95_ms']:>8} "
                f"{row['floor']['p50_ms']:>9} {row['floor_indexed']['p50_ms']:>8} "
                f"{row['floor_indexed']['p95_ms']:>8} {row['ratio_p50']:>6}"
            )
    print()
    for result in results:
        for row in result["matching"]:
            print(
                f"{result['database']:9} find_candidates with {row['points']:>6} points "
                f"({row.get('scenario', '')}): p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms "
                f"({row['reports']} reports, up to {row['max_candidates']} candidates each)"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set")
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.requests, args.output)
        return
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results = [run_database(database, args.requests, args.rebuild) for database in databases]
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = RESULTS / f"map-{now:%Y-%m-%d}.json"
    path.write_text(
        json.dumps(
            {"date": now.isoformat(timespec="seconds"), "machine": machine(), "results": results},
            indent=2,
        )
    )
    print(f"\n{path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
