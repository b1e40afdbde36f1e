"""Fields a write endpoint does not write are refused, never dropped: a PATCH of a point with
`{"status": "dismantled"}` answered 200 and changed nothing. Every write serializer of the API
derives from `core.api.InputSerializer`, which names each refused field with why (unknown,
read-only, or where it is changed), in French."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework import serializers

from cartostup.dealpoints import services
from cartostup.dealpoints.api.serializers import DealPointInputSerializer
from cartostup.dealpoints.choices import DealPointStatus
from cartostup.dealpoints.models import DealPoint, DealPointEvent
from cartostup.dealpoints.tests.factories import dealpoint
from cartostup.reports.models import Report
from tests.api.test_schemathesis import schema

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture
def analyst(client_for) -> Client:
    return client_for("cross13_analyst")


@pytest.fixture
def point(persona) -> DealPoint:
    return dealpoint(actor=persona("cross13_analyst"), name="Le hall")


def _patch(client: Client, point: DealPoint, body: dict[str, Any]):
    return client.patch(f"/api/v1/dealpoints/{point.pk}/", json.dumps(body), content_type=JSON)


def test_a_status_sent_to_a_points_patch_is_refused_and_points_to_its_endpoint(analyst, point):
    events = DealPointEvent.objects.filter(dealpoint=point).count()
    response = _patch(analyst, point, {"status": "dismantled"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    [message] = body["errors"]["status"]
    assert "« status »" in message and "/api/v1/dealpoints/<id>/status/" in message
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    assert DealPointEvent.objects.filter(dealpoint=point).count() == events


def test_read_only_and_unknown_fields_are_named_and_nothing_is_changed(analyst, point):
    """Nothing of a body with a refused field is applied (not even its valid fields), and
    every refusal comes at once, beside the values' own errors."""
    response = _patch(
        analyst,
        point,
        {"name": "Changé", "building": 1, "marking": "red", "reference": "PD-13-9999", "foo": 1},
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"building", "marking", "reference", "foo"}
    assert "« building_id »" in errors["building"][0]
    # The marking has its own endpoint, which the message names.
    assert errors["marking"] == [
        "Le champ « marking » ne se modifie pas ici : changez la diffusion par "
        "POST /api/v1/dealpoints/<id>/sharing/."
    ]
    assert errors["foo"][0].startswith("Champ « foo » inconnu. Champs acceptés : latitude,")
    point.refresh_from_db()
    assert point.name == "Le hall" and point.reference != "PD-13-9999"
    both = _patch(analyst, point, {"latitude": "nord", "statut": "x"})
    assert set(both.json()["errors"]) == {"latitude", "statut"}
    # The writable fields alone still work.
    assert _patch(analyst, point, {"name": "Changé"}).status_code == 200
    point.refresh_from_db()
    assert point.name == "Changé"


def test_other_write_endpoints_say_where_a_points_fields_change(analyst, point):
    response = analyst.post(
        f"/api/v1/dealpoints/{point.pk}/status/",
        json.dumps({"status": "confirmed", "name": "Autre"}),
        content_type=JSON,
    )
    assert response.status_code == 400
    assert "PATCH /api/v1/dealpoints/<id>/" in response.json()["errors"]["name"][0]
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    operation = analyst.post(
        f"/api/v1/dealpoints/{point.pk}/operations/",
        json.dumps({"kind": "raid", "occurred_on": "2026-12-01", "outcome": "nothing_found",
                    "service": "DTPN 13"}),
        content_type=JSON,
    )  # fmt: skip
    assert operation.status_code == 400
    assert "« service_id »" in operation.json()["errors"]["service"][0]
    assert not point.operations.exists()


def test_a_public_report_with_a_photo_in_json_is_refused_not_stored_without_it(settings):
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    client = Client()
    challenge = client.get("/api/public/v1/challenge").json()["challenge"]
    body = {
        "challenge": challenge,
        "nonce": "",
        "latitude": 43.3452,
        "longitude": 5.3949,
        "precision": "exact",
        "activities": ["selling"],
        "photo": "aGVsbG8=",
    }
    response = client.post("/api/public/v1/reports", json.dumps(body), content_type=JSON)
    assert response.status_code == 400, response.content
    assert "multipart/form-data" in response.json()["errors"]["photo"][0]
    assert not Report.objects.exists()


# The write operations of the schema and a path to each that reaches its body's validation.
def _write_operations() -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, operations in schema.raw_schema["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch") and "requestBody" in operation
    )


def test_every_write_body_of_the_schema_refuses_a_field_it_does_not_write(
    persona, client_for, settings
):
    """Each write operation the schema documents, sent its valid-looking minimum plus a field
    it does not have, answers 400 naming that field; and the schema says so
    (`additionalProperties: false` on every request body)."""
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    recorded = services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(occurred_on=timezone.localdate()),
    )
    operations = _write_operations()
    assert len(operations) >= 10
    components = schema.raw_schema["components"]["schemas"]
    for method, path in operations:
        operation = schema.raw_schema["paths"][path][method.lower()]
        for content in operation["requestBody"]["content"].values():
            name = content["schema"]["$ref"].rsplit("/", 1)[-1]
            assert components[name].get("additionalProperties") is False, (path, name)
        client = Client() if path.startswith("/api/public/") else client_for("cross13_analyst")
        # An operation's id on /operations/{id}/, a point's elsewhere.
        owner = recorded if path.startswith("/api/v1/operations/") else point
        url = path.replace("{id}", str(owner.pk))
        response = client.generic(method, url, json.dumps({"champ_inconnu": 1}), content_type=JSON)
        assert response.status_code == 400, (method, path, response.content)
        errors = response.json()["errors"]
        assert errors["champ_inconnu"][0].startswith("Champ « champ_inconnu » inconnu."), path


def test_a_field_declared_later_is_written_with_no_other_change():
    """Another change may make a point's `marking` writable: declared on the serializer, it
    is accepted, with nothing else to update (what is writable is read from the fields)."""
    assert not DealPointInputSerializer(data={"marking": "amber"}, partial=True).is_valid()

    class WithMarking(DealPointInputSerializer):
        marking = serializers.ChoiceField(choices=["clear", "amber"], required=False)

    later = WithMarking(data={"marking": "amber"}, partial=True)
    assert later.is_valid(), later.errors
    assert later.validated_data == {"marking": "amber"}
