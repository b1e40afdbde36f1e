"""A point's first report, last report and last activity are recomputed from what they are made
of (its reports, the operations that count, what an imported map said), so that no change leaves
a date behind nor erases one the map gave (defects of 2026-12-05)."""

from __future__ import annotations

import importlib
from datetime import date, datetime, timedelta

from django.apps import apps
from django.utils import timezone

from cartostup.dealpoints import exchange, services
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint

HEADER = "reference;status;name;latitude;longitude;precision;first_reported_at;last_activity_at"


def _imported(analyst, line: str) -> DealPoint:
    data = f"{HEADER}\n{line}\n".encode()
    result = exchange.dealpoints_import(
        actor=analyst, rows=exchange.parse_rows(data, "carte.csv"), source="csv"
    )
    assert result.imported and not result.errors, result.errors
    return DealPoint.objects.get(reference=result.created[0])


def _day(moment: datetime | None) -> str | None:
    return timezone.localdate(moment).isoformat() if moment is not None else None


def _dates(point: DealPoint) -> tuple[str | None, str | None, str | None]:
    point.refresh_from_db()
    return (
        _day(point.first_reported_at),
        _day(point.last_reported_at),
        _day(point.last_activity_at),
    )


def _raid(actor, point, *, days_ago: int = 0):
    return services.operation_record(
        actor=actor,
        dealpoint=point,
        data=services.OperationInput(
            kind="raid", occurred_on=date.today() - timedelta(days=days_ago)
        ),
    )


def test_a_report_adds_to_what_the_imported_map_said_and_its_detachment_gives_it_back(
    analyst,
):
    point = _imported(
        analyst, "OLD-1;confirmed;Le four;43.3452;5.3949;building;2025-01-10;2025-11-01"
    )
    assert _dates(point) == ("2025-01-10", "2025-01-10", "2025-11-01")
    report = accepted_report(analyst=analyst, latitude=43.3453, longitude=5.3950)
    today = _day(report.received_at)

    services.report_attach(actor=analyst, dealpoint=point, report=report, decision="confirmed")
    # The map's first report stays the first; the new report is the last, and the activity.
    assert _dates(point) == ("2025-01-10", today, today)

    services.report_detach(actor=analyst, dealpoint=point, report=report)
    assert _dates(point) == ("2025-01-10", "2025-01-10", "2025-11-01")


def test_a_cancelled_operation_leaves_no_date_behind(analyst):
    dated = _imported(analyst, "OLD-1;confirmed;Le four;43.3452;5.3949;building;;2025-11-01")
    undated = _imported(analyst, "OLD-2;confirmed;Parking;43.3460;5.3960;street;;")
    assert _dates(undated) == (None, None, None)
    for point, before in ((dated, "2025-11-01"), (undated, None)):
        operation = _raid(analyst, point, days_ago=2)
        raided = (date.today() - timedelta(days=2)).isoformat()
        # An operation is activity, never a report (what a landlord is told).
        assert _dates(point) == (None, None, raided)
        services.operation_cancel(actor=analyst, operation=operation, reason="mauvais point")
        assert _dates(point) == (None, None, before)


def test_a_point_whose_only_report_is_detached_has_no_date_left(analyst):
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst, reports=[report])
    today = _day(report.received_at)
    assert _dates(point) == (today, today, today)

    services.report_detach(actor=analyst, dealpoint=point, report=report)
    assert _dates(point) == (None, None, None)


def test_a_merge_brings_the_imported_map_s_dates_and_its_undoing_takes_them_back(analyst):
    old = _imported(
        analyst, "OLD-1;confirmed;Le four;43.3452;5.3949;building;2024-03-01;2025-06-01"
    )
    report = accepted_report(analyst=analyst, latitude=43.3453, longitude=5.3950)
    today = _day(report.received_at)
    new = dealpoint(actor=analyst, reports=[report], latitude=43.3453, longitude=5.3950)
    other = dealpoint(actor=analyst, name="Autre fiche", latitude=43.3454, longitude=5.3951)

    services.dealpoint_merge(actor=analyst, source=old, target=new, note="Doublon")
    assert _dates(new) == ("2024-03-01", today, today)
    # Through a second merge too: the map's point is merged into a point merged into another.
    services.dealpoint_merge(actor=analyst, source=new, target=other, note="Doublon")
    assert _dates(other) == ("2024-03-01", today, today)

    services.dealpoint_unmerge(actor=analyst, dealpoint=new)
    assert _dates(other) == (None, None, None)
    services.dealpoint_unmerge(actor=analyst, dealpoint=old)
    assert _dates(new) == (today, today, today)
    assert _dates(old) == ("2024-03-01", "2024-03-01", "2025-06-01")


def test_the_migration_keeps_the_dates_of_imported_points_nothing_changed_since(analyst):
    """Points imported before the migration had only the recomputed dates: the file's are
    those of a point no report ever reached (and, for the activity, no operation)."""
    migration = importlib.import_module("cartostup.dealpoints.migrations.0007_imported_dates")
    line = "OLD-{n};confirmed;Point {n};43.34{n}2;5.3949;building;2025-01-10;2025-11-01"
    untouched, raided, reported, detached = (
        _imported(analyst, line.format(n=n)) for n in (1, 2, 3, 4)
    )
    _raid(analyst, raided, days_ago=1)
    report = accepted_report(analyst=analyst, latitude=43.3432, longitude=5.3949)
    services.report_attach(actor=analyst, dealpoint=reported, report=report, decision="confirmed")
    # Attached then detached: the old code had kept the report's date (review).
    gone = accepted_report(analyst=analyst, latitude=43.3442, longitude=5.3949)
    services.report_attach(actor=analyst, dealpoint=detached, report=gone, decision="confirmed")
    services.report_detach(actor=analyst, dealpoint=detached, report=gone)
    created = dealpoint(actor=analyst, reports=[accepted_report(analyst=analyst)])
    DealPoint.objects.update(imported_first_reported_at=None, imported_last_activity_at=None)

    migration.keep_imported_dates(apps, None)

    kept = {
        point.reference: (
            _day(point.imported_first_reported_at),
            _day(point.imported_last_activity_at),
        )
        for point in DealPoint.objects.all()
    }
    assert kept == {
        untouched.reference: ("2025-01-10", "2025-11-01"),
        raided.reference: ("2025-01-10", None),
        reported.reference: (None, None),
        detached.reference: (None, None),
        created.reference: (None, None),
    }


def test_a_merged_point_s_operations_are_activity_at_the_place_it_was_merged_into(analyst):
    target = _imported(analyst, "OLD-1;confirmed;Le four;43.3452;5.3949;building;;2025-06-01")
    source = dealpoint(actor=analyst, name="Doublon", latitude=43.3453, longitude=5.3950)
    _raid(analyst, source, days_ago=1)
    raided = (date.today() - timedelta(days=1)).isoformat()

    services.dealpoint_merge(actor=analyst, source=source, target=target, note="Doublon")
    assert _dates(target) == (None, None, raided)
    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    assert _dates(target) == (None, None, "2025-06-01")
    assert _dates(source) == (None, None, raided)
