"""GET /api/v1/territories/locate."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.territories.models import Commune

pytestmark = pytest.mark.django_db
URL = "/api/v1/territories/locate"


def test_url_name():
    assert reverse("territories-api:locate") == URL


def test_locate(client_for):
    response = client_for("cross13_analyst").get(
        URL, {"latitude": "43.2951", "longitude": "5.3740"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "latitude": 43.2951,
        "longitude": 5.374,
        "commune_code": "13201",
        "commune_name": "Marseille 1er Arrondissement",
        "commune_kind": "ARM",
        "departement_code": "13",
        "departement_name": "Bouches-du-Rhône",
        "antennas": ["Marseille"],
        "qpv_code": None,
        "qpv_name": None,
        "distance_m": 0.0,
    }
    event = AuditEvent.objects.get(action=AuditAction.SEARCH, actor_username="cross13_analyst")
    assert (event.object_type, event.object_id) == (
        "territories.commune",
        str(Commune.objects.get(code="13201").pk),
    )
    # A reference, never the searched position.
    assert "43.29" not in str(event.details) and "5.37" not in str(event.details)


def test_locate_with_qpv(client_for, qpv_imported):
    response = client_for("cross93_analyst").get(
        URL, {"latitude": "48.9265", "longitude": "2.3564"}
    )
    assert response.json()["qpv_code"] == "QN09391M"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"latitude": "abc", "longitude": "5.3"}, "latitude"),
        ({"latitude": "43.3"}, "longitude"),
        ({"latitude": "95", "longitude": "5.3"}, "latitude"),
        ({"latitude": "43.3", "longitude": "-200"}, "longitude"),
        ({"latitude": "nan", "longitude": "5.3"}, "latitude"),
    ],
)
def test_invalid_input(client_for, params, field):
    response = client_for("cross13_analyst").get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["detail"]
    message = body["errors"][field][0]
    assert any(word in message for word in ("nombre", "champ", "Assurez-vous")), message
    assert not AuditEvent.objects.filter(action=AuditAction.SEARCH).exists()


def test_outside_france(client_for):
    response = client_for("cross13_analyst").get(
        URL, {"latitude": "40.4168", "longitude": "-3.7038"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "outside_territory"
    assert "hors du territoire français" in response.json()["detail"]
    event = AuditEvent.objects.get(action=AuditAction.SEARCH)
    assert event.details == {"lookup": "locate", "found": False}


def test_requires_a_verified_member(persona):
    anonymous = Client().get(URL, {"latitude": "43.2951", "longitude": "5.374"})
    assert anonymous.status_code in (401, 403)
    unverified = Client()
    unverified.force_login(persona("cross13_analyst"))
    response = unverified.get(URL, {"latitude": "43.2951", "longitude": "5.374"})
    assert response.status_code in (401, 403)


def test_documented_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"][URL]["get"]
    assert operation["operationId"] == "territories_locate"
    assert {p["name"] for p in operation["parameters"]} == {"latitude", "longitude"}
    assert set(operation["responses"]) >= {"200", "400"}


def test_an_unknown_parameter_is_refused(client_for):
    """Every API view refuses what it does not read (`CartostupAPIView.query_methods`), here
    a parameter beside valid coordinates, and on the public API's challenge."""
    response = client_for("cross13_analyst").get(
        URL, {"latitude": "43.2951", "longitude": "5.3740", "rayon": "5"}
    )
    assert response.status_code == 400
    assert response.json()["errors"]["rayon"] == ["Paramètre inconnu."]
    challenge = client_for("cross13_analyst").get("/api/public/v1/challenge", {"t": "1"})
    assert challenge.status_code == 400
    assert challenge.json()["errors"]["t"] == ["Paramètre inconnu."]
