"""The deal points' filter set: the period of activity is checked as the map layers check
theirs (one check, `core.dates.period_errors`)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from django.utils import timezone

from cartostup.core.dates import PERIOD_REVERSED
from cartostup.dealpoints.filters import (
    DealPointCountFilterSet,
    DealPointFilterSet,
    filter_error_messages,
)
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import dealpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("filterset_class", [DealPointFilterSet, DealPointCountFilterSet])
def test_a_reversed_period_is_an_error_on_its_end(filterset_class):
    filterset = filterset_class(
        {"active_from": "2026-12-31", "active_to": "2026-01-01"},
        queryset=DealPoint.objects.none(),
    )
    assert not filterset.is_valid()
    assert filterset.errors == {"active_to": [str(PERIOD_REVERSED)]}
    assert filter_error_messages(filterset) == [
        "Actif jusqu'au : La fin de la période précède son début."
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"active_from": "2026-01-01", "active_to": "2026-01-01"},
        {"active_from": "2026-12-31"},
        {"active_to": "2026-01-01"},
    ],
)
def test_a_period_in_order_or_open_is_valid(data):
    assert DealPointFilterSet(data, queryset=DealPoint.objects.none()).is_valid()


def test_refused_filters_replace_their_form_errors():
    filterset = DealPointFilterSet({"product": "bogus"}, queryset=DealPoint.objects.none())
    assert filter_error_messages(filterset, {"product": ["Refusé."]}) == ["Produit : Refusé."]


def test_active_during_a_period_means_its_activity_overlaps_it(persona):
    """Reported in September, active until late November: active in October (the user audit
    missed it there, the filter reading only the last activity)."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    quiet = dealpoint(actor=analyst, latitude=43.3470, longitude=5.3970)

    def moment(day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time(12)))

    DealPoint.objects.filter(pk=point.pk).update(
        first_reported_at=moment(date(2026, 9, 19)), last_activity_at=moment(date(2026, 11, 21))
    )
    DealPoint.objects.filter(pk=quiet.pk).update(
        first_reported_at=None,
        created_at=moment(date(2026, 11, 1)),
        last_activity_at=moment(date(2026, 11, 2)),
    )

    def found(**period: str) -> set[str]:
        filterset = DealPointFilterSet(period, queryset=DealPoint.objects.all())
        assert filterset.is_valid(), filterset.errors
        return set(filterset.qs.values_list("reference", flat=True))

    both = {point.reference, quiet.reference}
    assert found(active_from="2026-10-01", active_to="2026-10-31") == {point.reference}
    assert found(active_from="2026-11-01", active_to="2026-11-30") == both
    assert found(active_from="2026-11-03") == {point.reference}
    assert found(active_to="2026-09-18") == set()
    assert found(active_to="2026-09-19") == {point.reference}  # reported that day
    assert found(active_from="2026-11-22") == set()


def test_a_point_without_dated_activity_is_active_when_created_or_last_seen(persona):
    """A point created by hand today (no report yet) was in no period at all, not even
    today's; one imported with a last activity alone was « seen » only on the import's day,
    after its last activity, and so in almost no period either (user audit)."""
    analyst = persona("cross13_analyst")
    fresh = dealpoint(actor=analyst)
    imported = dealpoint(actor=analyst, latitude=43.3470, longitude=5.3970)

    def moment(day: date) -> datetime:
        return timezone.make_aware(datetime.combine(day, time(12)))

    DealPoint.objects.filter(pk=fresh.pk).update(
        first_reported_at=None, last_activity_at=None, created_at=moment(date(2026, 12, 6))
    )
    DealPoint.objects.filter(pk=imported.pk).update(
        first_reported_at=None,
        last_activity_at=moment(date(2026, 12, 1)),
        created_at=moment(date(2026, 12, 6)),
    )

    def found(**period: str) -> set[str]:
        filterset = DealPointFilterSet(period, queryset=DealPoint.objects.all())
        assert filterset.is_valid(), filterset.errors
        return set(filterset.qs.values_list("reference", flat=True))

    assert found(active_from="2026-12-06", active_to="2026-12-06") == {fresh.reference}
    assert found(active_from="2026-12-01", active_to="2026-12-03") == {imported.reference}
    assert found(active_from="2026-12-02") == {fresh.reference}
    assert found(active_to="2026-11-30") == set()
    assert found(active_from="2026-12-07") == set()


@pytest.mark.parametrize("filterset_class", [DealPointFilterSet, DealPointCountFilterSet])
def test_a_period_reads_french_and_iso_dates(filterset_class):
    """A hand-made link writes 01/11/2026; a date input sends 2026-11-01: the same day."""
    for value in ("01/11/2026", "2026-11-01"):
        filterset = filterset_class({"active_from": value}, queryset=DealPoint.objects.none())
        assert filterset.is_valid(), filterset.errors
        assert filterset.form.cleaned_data["active_from"].isoformat() == "2026-11-01"


def test_an_invalid_date_says_the_formats_in_french():
    filterset = DealPointFilterSet(
        {"active_from": "31/02/2026", "active_to": "novembre"}, queryset=DealPoint.objects.none()
    )
    assert not filterset.is_valid()
    message = "Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ)."
    assert filterset.errors == {"active_from": [message], "active_to": [message]}


def test_the_period_fields_are_date_inputs():
    form = DealPointFilterSet(queryset=DealPoint.objects.none()).form
    for name in ("active_from", "active_to"):
        assert 'type="date"' in str(form[name])
