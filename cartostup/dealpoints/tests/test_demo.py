"""The demo deal points: built from the demo reports by the matching, across the life cycle."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from cartostup.access import demo as access_demo
from cartostup.dealpoints import demo
from cartostup.dealpoints.choices import AlertKind, AlertStatus, DealPointStatus, EventKind
from cartostup.dealpoints.models import Alert, DealPoint, Operation, Proposal, ReportLink
from cartostup.reports import demo as reports_demo
from cartostup.reports.models import Report


@pytest.mark.django_db
def test_demo_dealpoints_are_built_by_the_matching(client_for):
    access_demo.demo_buildings_ensure()
    reports_demo.demo_reports_ensure(count=150)
    summary = demo.demo_dealpoints_ensure()
    points = DealPoint.objects.filter(merged_into__isnull=True)
    assert summary.dealpoints == points.count() >= 10
    codes = set(points.values_list("departement__code", flat=True))
    assert {"13", "93"} <= codes
    statuses = set(points.values_list("status", flat=True))
    assert {
        DealPointStatus.CONFIRMED,
        DealPointStatus.INVESTIGATION,
        DealPointStatus.DISMANTLED,
        DealPointStatus.RESURGENT,
        DealPointStatus.MOVED,
    } <= statuses
    moved = points.get(status=DealPointStatus.MOVED, successor__isnull=False)
    assert moved.successor is not None
    assert moved.successor.events.filter(kind=EventKind.SUCCESSOR).exists()
    # Made from proposals with their reports, most of them accepted, some left open.
    assert Proposal.objects.filter(status="accepted").count() >= 10
    assert summary.proposals_open >= 1
    assert ReportLink.objects.filter(decision="confirmed").count() >= 20
    assert summary.links_proposed >= 1
    for kind in (AlertKind.RESURGENCE, AlertKind.SUCCESSOR):
        assert Alert.objects.filter(kind=kind, status=AlertStatus.OPEN).exists()
        assert Alert.objects.filter(kind=kind, status=AlertStatus.CONFIRMED).exists()
    assert Operation.objects.filter(kind="raid").exists()
    assert Operation.objects.filter(arrests__gt=0).exists()
    # One raid keyed in twice and cancelled: on its record, struck out, not counted.
    (cancelled,) = Operation.objects.filter(cancelled_at__isnull=False)
    assert cancelled.cancel_reason and cancelled.cancelled_by is not None
    assert cancelled.dealpoint.operations.standing().exists()
    # Each operation in the name of the service that carried it out: in 13 the police records
    # its own; in 93 the CROSS records the police's.
    services = {
        (code, kind, recorder)
        for code, kind, recorder in Operation.objects.values_list(
            "dealpoint__departement__code", "service__kind", "recorded_by__username"
        )
    }
    assert ("13", "police", "police13_investigator") in services
    assert ("93", "police", "cross93_analyst") in services
    assert not {s for s in services if s[1] == "cross"}
    # Some points stand on landlord_13h's buildings.
    assert points.filter(building__owner_organisation__name__startswith="Habitat").exists()
    # Histories dated as they would have happened, not all on the day of seeding: opened the
    # day after the first report, entries in order, each operation after the opening.
    assert points.filter(created_at__date__lt=timezone.localdate()).count() >= points.count() // 2
    received = dict(Report.objects.values_list("reference", "received_at"))
    for point in points:
        # The reports attached after the opening have entries of their own, dated apart.
        events = list(point.events.order_by("pk"))
        dates = [e.occurred_at for e in events if e.kind != EventKind.REPORT_ATTACHED]
        assert dates == sorted(dates), point.reference
        first = point.links.order_by("report__received_at").first()
        if first is not None and point.events.filter(kind=EventKind.CREATED).exists():
            assert dates[0] >= first.report.received_at, point.reference
        # The « Création » entry lists only the reports received by then; each one received
        # later is attached, in an entry dated after it was received (user audit).
        for event in events:
            if event.kind == EventKind.CREATED:
                listed = event.details["reports"]
                assert all(received[r] <= event.occurred_at for r in listed), point.reference
                created = event
            if event.kind == EventKind.REPORT_ATTACHED:
                reference = event.details["report"]
                assert event.occurred_at >= received[reference], point.reference
                assert event.occurred_at >= created.occurred_at, point.reference
        opened = timezone.localdate(point.created_at)
        assert all(o.occurred_on >= opened for o in point.operations.all()), point.reference
        days = dict(point.operations.values_list("pk", "occurred_on"))
        for event in point.events.filter(kind=EventKind.OPERATION):
            day = days[event.details["operation"]]
            if event.details.get("cancelled"):
                # A cancellation is dated when it was made, after the operation.
                assert timezone.localdate(event.occurred_at) >= day, point.reference
            else:
                assert timezone.localdate(event.occurred_at) == day, point.reference
        assert point.status_changed_at >= point.created_at
    # Idempotent.
    again = demo.demo_dealpoints_ensure()
    assert again == summary
    # The queue shows the demo's open work.
    page = client_for("cross13_analyst").get(reverse("dealpoints:matching")).content.decode()
    assert "Confirmer le déplacement" in page and "Confirmer la résurgence" in page
