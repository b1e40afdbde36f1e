"""« Statut depuis le »: when a status began, not when it was typed in. A raid entered late
dismantles the point on its own day; an imported map's status held when its file last saw
the point; a correction gives back the date of the status it restores. The resurgence and
move alerts' window runs from that date (user audit: a point dismantled in 2019, imported
today, raised « déplacement possible » alerts as if dismantled today)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cartostup.dealpoints import flows, matching, services
from cartostup.dealpoints.choices import DealPointStatus, EventKind
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import dealpoint, dealpoint_input

pytestmark = pytest.mark.django_db


def _day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def _raid(actor, point, *, days_ago: int, outcome: str = "dismantled"):
    return services.operation_record(
        actor=actor,
        dealpoint=point,
        data=services.OperationInput(
            kind="raid", occurred_on=date.today() - timedelta(days=days_ago), outcome=outcome
        ),
    )


def _near(point: DealPoint) -> set[str]:
    return {
        found.reference
        for found, _distance in matching.find_dismantled_near(
            latitude=point.latitude + 0.0003,
            longitude=point.longitude,
            departement_id=point.departement_id,
        )
    }


def test_a_raid_entered_late_dismantles_the_point_on_its_own_day(persona, client_for):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    DealPoint.objects.filter(pk=point.pk).update(
        status_changed_at=timezone.now() - timedelta(days=600)
    )
    operation = _raid(analyst, point, days_ago=400)
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert _day(point.status_changed_at) == operation.occurred_on
    # Dismantled 400 days ago: past the alerts' window of a year.
    assert _near(point) == set()
    page = client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[point.pk]))
    assert f"<td>{operation.occurred_on:%d/%m/%Y}</td>" in page.content.decode()


def test_a_raid_older_than_the_status_it_ends_dates_the_dismantling_from_that_status(persona):
    """Confirmed in October, a raid of January entered now: dismantled, but not before it was
    confirmed (the history's order holds)."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    confirmed_at = timezone.now() - timedelta(days=40)
    DealPoint.objects.filter(pk=point.pk).update(status_changed_at=confirmed_at)
    _raid(analyst, point, days_ago=300)
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert point.status_changed_at == confirmed_at
    assert _near(point) == {point.reference}


def test_cancelling_the_raid_gives_back_the_status_and_its_date(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    reported_at = timezone.now() - timedelta(days=40)
    DealPoint.objects.filter(pk=point.pk).update(status_changed_at=reported_at)
    operation = _raid(analyst, point, days_ago=3)
    point.refresh_from_db()
    assert _day(point.status_changed_at) == date.today() - timedelta(days=3)
    services.operation_cancel(actor=analyst, operation=operation, reason="mauvais point")
    point.refresh_from_db()
    assert (point.status, point.status_changed_at) == (DealPointStatus.REPORTED, reported_at)


def test_a_corrected_status_change_gives_back_the_date_of_the_status_it_restores(
    persona, client_for
):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    reported_at = timezone.now() - timedelta(days=40)
    DealPoint.objects.filter(pk=point.pk).update(status_changed_at=reported_at)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    change = point.events.filter(kind=EventKind.STATUS).latest("occurred_at")
    # The date replaced is kept for the correction, and never told in the history.
    assert change.details["since_before"] == reported_at.isoformat()
    told = client_for("cross13_analyst").get(f"/api/v1/dealpoints/{point.pk}/history/")
    assert "since_before" not in told.content.decode()
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="reported", corrects=change.pk, note="erreur"
    )
    point.refresh_from_db()
    assert (point.status, point.status_changed_at) == (DealPointStatus.REPORTED, reported_at)


def test_an_imported_status_held_when_its_file_last_saw_the_point(persona):
    analyst = persona("cross13_analyst")
    old = services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(),
        status=DealPointStatus.DISMANTLED,
        kind=EventKind.IMPORTED,
        origin_reference="OLD-2019",
        imported_first_reported_at=_aware(date(2018, 3, 1)),
        imported_last_activity_at=_aware(date(2019, 6, 15)),
    )
    assert _day(old.status_changed_at) == date(2019, 6, 15)
    assert _near(old) == set()
    # A new point by it is no possible successor of a point dismantled in 2019.
    new = services.dealpoint_create(
        actor=analyst, data=dealpoint_input(latitude=old.latitude + 0.0003)
    )
    assert flows.dealpoint_successor_check(dealpoint=new) == []
    # Without any date in its file, its status holds from the import.
    undated = services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(latitude=43.3470, longitude=5.3970),
        status=DealPointStatus.DISMANTLED,
        kind=EventKind.IMPORTED,
        origin_reference="SANS-DATE",
    )
    assert _day(undated.status_changed_at) == date.today()
