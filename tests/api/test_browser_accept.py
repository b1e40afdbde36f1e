"""An endpoint opened in a browser (Accept: text/html...) answers its JSON, never DRF's English
browsable pages nor a 500 (those need a serializer on every view); a client asking only for
HTML is told in French that only JSON is served."""

from __future__ import annotations

import pytest

from cartostup.dealpoints.tests.factories import dealpoint

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _paths(pk: int) -> list[str]:
    return [
        "/api/v1/dealpoints/",
        "/api/v1/operations/",
        f"/api/v1/dealpoints/{pk}/",
        f"/api/v1/dealpoints/{pk}/history/",
        f"/api/v1/dealpoints/{pk}/operations/",
        f"/api/v1/dealpoints/{pk}/reports/",
        "/api/v1/territories/locate?latitude=43.3&longitude=5.4",
    ]


@pytest.mark.parametrize(
    ("username", "expected"),
    [("cross13_analyst", 200), ("prefecture_13", 404), ("caller_operator", 404)],
)
def test_a_browser_receives_json_from_every_endpoint(client_for, persona, username, expected):
    point = dealpoint(actor=persona("cross13_analyst"))
    client = client_for(username)
    statuses = {}
    for path in _paths(point.pk):
        response = client.get(path, HTTP_ACCEPT=BROWSER_ACCEPT)
        assert response["Content-Type"] == "application/json", (path, response.status_code)
        assert "Django REST framework" not in response.content.decode()
        statuses[path] = response.status_code
    assert statuses[f"/api/v1/dealpoints/{point.pk}/"] == expected
    assert 500 not in statuses.values()


def test_the_public_challenge_in_a_browser_is_json(client):
    response = client.get("/api/public/v1/challenge", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"challenge", "difficulty", "expires_in"}


def test_asking_only_for_html_is_refused_in_french(client_for):
    response = client_for("cross13_analyst").get("/api/v1/dealpoints/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json() == {
        # Django REST framework's French said « satisfaite » of « l'en-tête » (masculine).
        "detail": "L'en-tête « Accept » de la requête n'a pas pu être satisfait : cette API "
        "répond en JSON (Accept: application/json).",
        "code": "not_acceptable",
    }
