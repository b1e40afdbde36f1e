"""Report forms: French errors, position in France, input for the services."""

from __future__ import annotations

import pytest

from cartostup.reports.forms import LandlordReportForm, OperatorReportForm, ReportForm

pytestmark = pytest.mark.django_db

VALID = {
    "latitude": "43.3452",
    "longitude": "5.3949",
    "precision": "building",
    "activities": ["selling"],
    "people_count": "unknown",
}


def test_valid_form_gives_service_input():
    form = ReportForm(data={**VALID, "days": ["mon"], "description": "  Vente  "})
    assert form.is_valid(), form.errors
    data = form.to_input()
    assert (data.latitude, data.longitude) == (43.3452, 5.3949)
    assert data.activities == ["selling"] and data.days == ["mon"]
    assert data.description == "Vente" and data.photo is None


def test_position_outside_france_and_online_account():
    form = ReportForm(
        data={**VALID, "latitude": "51.5", "longitude": "-0.12", "activities": ["online"]}
    )
    assert not form.is_valid()
    assert form.errors["latitude"] == ["Le lieu indiqué doit se trouver en France."]
    assert "online_account" in form.errors


def test_position_or_address_required():
    form = ReportForm(data={**VALID, "latitude": "", "longitude": ""})
    assert not form.is_valid()
    assert "latitude" in form.errors
    form = ReportForm(
        data={**VALID, "latitude": "", "longitude": "", "address": "Rue X", "commune_code": "93066"}
    )
    assert form.is_valid(), form.errors
    assert ReportForm(data={**VALID, "activities": []}).errors["activities"] == [
        "Cochez au moins une activité constatée."
    ]


def test_operator_and_landlord_variants():
    assert "photo" not in OperatorReportForm().fields
    landlord = LandlordReportForm(
        data={"precision": "stairwell", "activities": ["lookouts"], "people_count": "1-2"}
    )
    assert landlord.is_valid(), landlord.errors
    assert "latitude" not in landlord.fields
