"""Forms of the deal-point pages: parsing into the services' input, and errors in French on the
right fields."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cartostup.access.models import Building, Organisation
from cartostup.core.dates import DATE_INVALID
from cartostup.dealpoints import services
from cartostup.dealpoints.forms import (
    DealPointForm,
    OperationForm,
    SplitForm,
    StatusForm,
)
from cartostup.dealpoints.models import DealPoint, ReportLink
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint

VALID = {
    "latitude": "43.3452",
    "longitude": "5.3949",
    "precision": "stairwell",
    "name": " Le four ",
    "channel": "fixed",
    "products": ["cannabis", "cocaine"],
    "observed_roles": ["lookouts"],
    "opening_hours": ["fri:evening", "sat:night"],
    "estimated_daily_turnover": "12000",
    "confidence": "high",
    "notes": "Guetteurs",
}


def _form(data) -> DealPointForm:
    return DealPointForm(data, buildings=Building.objects.none())


@pytest.mark.django_db
def test_point_form_gives_the_service_input():
    form = _form(VALID)
    assert form.is_valid(), form.errors
    data = form.to_input()
    assert data == services.DealPointInput(
        latitude=43.3452,
        longitude=5.3949,
        precision="stairwell",
        name="Le four",
        channel="fixed",
        products=["cannabis", "cocaine"],
        observed_roles=["lookouts"],
        opening_hours=["fri:evening", "sat:night"],
        estimated_daily_turnover=12000,
        confidence="high",
        notes="Guetteurs",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"latitude": "nan"}, "latitude"),
        ({"latitude": "91"}, "latitude"),
        ({"longitude": ""}, "longitude"),
        ({"precision": "room"}, "precision"),
        ({"opening_hours": ["fri:dawn"]}, "opening_hours"),
        ({"products": ["tea"]}, "products"),
        ({"estimated_daily_turnover": "-5"}, "estimated_daily_turnover"),
        ({"building": "999999"}, "building"),
    ],
)
def test_point_form_refuses_bad_values_on_their_field(changes, field):
    form = _form({**VALID, **changes})
    assert not form.is_valid()
    assert field in form.errors


@pytest.mark.django_db
def test_opening_hours_grid_has_a_row_a_day_and_keeps_the_choices():
    grid = _form(VALID).opening_hours_grid()
    assert len(grid) == 7 and all(len(row["cells"]) == 4 for row in grid)
    friday = next(row for row in grid if row["label"] == "Vendredi")
    checked = [cell["value"] for cell in friday["cells"] if cell["checked"]]
    assert checked == ["fri:evening"]
    assert friday["cells"][0]["label"].startswith("Vendredi – ")


@pytest.mark.django_db
def test_service_errors_land_on_the_form_fields():
    form = _form(VALID)
    assert form.is_valid()
    form.add_service_error(
        ValidationError({"building_id": ["Bâtiment invisible."], "latitude": ["Hors territoire."]})
    )
    assert form.errors["building"] == ["Bâtiment invisible."]
    assert form.errors["latitude"] == ["Hors territoire."]
    form.add_service_error(ValidationError("Point fusionné."))
    assert form.non_field_errors() == ["Point fusionné."]


@pytest.mark.django_db
def test_initial_values_come_from_the_point(persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    initial = DealPointForm.initial_from(point)
    assert initial["name"] == "Four du bâtiment B"
    assert initial["opening_hours"] == ["fri:evening", "sat:evening"]
    assert initial["building"] is None and "building_id" not in initial


@pytest.mark.django_db
def test_status_form_offers_only_the_allowed_transitions(persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    form = StatusForm(dealpoint=point)
    # Nothing chosen beforehand: the button alone sent the first step offered.
    assert [value for value, _label in form.fields["status"].choices] == [
        "",
        "confirmed",
        "investigation",
        "dismantled",
    ]
    untouched = StatusForm({"status-status": ""}, dealpoint=point)
    assert untouched.errors["status"] == ["Ce champ est obligatoire."]
    refused = StatusForm({"status-status": "moved"}, dealpoint=point)
    assert not refused.is_valid()
    assert refused.errors["status"] == [
        "Ce statut ne fait pas partie des étapes proposées pour ce point : choisissez-en un "
        "dans la liste."
    ]
    point.status = "confirmed"
    moved = StatusForm({"status-status": "moved"}, dealpoint=point)
    assert not moved.is_valid() and "successor" in moved.errors
    # A successor typed, then "dismantled" chosen: asked, not silently dropped.
    dismantled = StatusForm(
        {"status-status": "dismantled", "status-successor": "PD-13-0002"}, dealpoint=point
    )
    assert not dismantled.is_valid()
    assert "ne se désigne que pour « Déplacé »" in dismantled.errors["successor"][0]
    assert StatusForm({"status-status": "dismantled"}, dealpoint=point).is_valid()


@pytest.mark.django_db
def test_operation_form_gives_the_service_input(persona):
    police = persona("police13_investigator")
    service = police.memberships.get().organisation
    form = OperationForm(
        {
            "operation-kind": "search",
            "operation-occurred_on": "2026-01-15",
            "operation-outcome": "seizure",
            "operation-arrests": "2",
            "operation-service": str(service.pk),
            "operation-notes": " Saisie ",
        },
        services_queryset=Organisation.objects.filter(pk=service.pk),
    )
    assert form.is_valid(), form.errors
    assert form.to_input() == services.OperationInput(
        kind="search",
        occurred_on=date(2026, 1, 15),
        outcome="seizure",
        arrests=2,
        notes="Saisie",
        service_id=service.pk,
    )
    other = OperationForm(
        {"operation-service": str(service.pk)}, services_queryset=Organisation.objects.none()
    )
    assert not other.is_valid() and "service" in other.errors
    # Sent untouched (or as the browser's Back shows it again): no « pilonnage, sans
    # résultat » nobody chose.
    blank = OperationForm(
        initial={"occurred_on": date(2026, 1, 15)},
        services_queryset=Organisation.objects.filter(pk=service.pk),
    )
    assert blank["kind"].value() in (None, "") and blank["outcome"].value() in (None, "")
    untouched = OperationForm(
        {
            "operation-kind": "",
            "operation-occurred_on": "2026-01-15",
            "operation-outcome": "",
            "operation-arrests": "0",
            "operation-service": str(service.pk),
        },
        services_queryset=Organisation.objects.filter(pk=service.pk),
    )
    assert set(untouched.errors) == {"kind", "outcome"}


@pytest.mark.django_db
def test_split_form_offers_the_attached_reports_and_copies_the_point(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst, reports=[report])
    links = list(point.links.select_related("report"))
    form = SplitForm(
        {
            "reports": [str(report.pk)],
            "latitude": "43.3470",
            "longitude": "5.3990",
            "precision": "street",
            "name": "Second",
        },
        links=links,
    )
    assert form.is_valid(), form.errors
    assert form.report_ids() == [report.pk]
    # Each report as the record's table shows it: reference and the day it was received,
    # then what tells two places apart: its precision and the place it names.
    day = timezone.localtime(report.received_at).strftime("%d/%m/%Y")
    place = ", ".join(part for part in (report.get_precision_display(), report.place_label) if part)
    assert place
    assert form.fields["reports"].choices == [
        (str(report.pk), f"{report.reference} – reçu le {day} – {place}")
    ]
    ReportLink.objects.filter(report=report).update(distance_m=44.6)
    measured = SplitForm(links=list(point.links.select_related("report")))
    assert measured.fields["reports"].choices[0][1] == (
        f"{report.reference} – reçu le {day}, à 45 m – {place}"
    )
    data = form.to_input(DealPoint.objects.get(pk=point.pk))
    assert (data.latitude, data.precision, data.name) == (43.347, "street", "Second")
    assert data.products == point.products and data.confidence == point.confidence
    bad = SplitForm({"reports": ["0"], **{"latitude": "1", "longitude": "1"}}, links=links)
    assert not bad.is_valid() and "reports" in bad.errors


@pytest.mark.django_db
@pytest.mark.parametrize(("value", "valid"), [("15/01/2026", True), ("31/02/2026", False)])
def test_operation_date_is_read_and_refused_as_every_date_of_the_site(persona, value, valid):
    """User audit: « Saisissez une date valide. » here, « Utilisez un des formats suivants :
    YYYY-MM-DD » in the API, yet another message on the list and the map."""
    service = persona("police13_investigator").memberships.get().organisation
    form = OperationForm(
        {
            "operation-kind": "search",
            "operation-occurred_on": value,
            "operation-outcome": "seizure",
            "operation-arrests": "0",
            "operation-service": str(service.pk),
        },
        services_queryset=Organisation.objects.filter(pk=service.pk),
    )
    assert form.is_valid() is valid, form.errors
    if valid:
        assert form.cleaned_data["occurred_on"] == date(2026, 1, 15)
    else:
        assert form.errors["occurred_on"] == [str(DATE_INVALID)]
