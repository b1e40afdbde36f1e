"""How the API says who may call it: CSRF refusals of a session client, anonymous and
half-logged-in calls, each in French with its own code."""

import pytest
from django.test import Client

from conftest import login_verified

pytestmark = pytest.mark.django_db

CSRF = "cartostupcsrftokentest0123456789"
STATUS = "/api/v1/dealpoints/16/status/"


def _session(persona) -> Client:
    return login_verified(Client(enforce_csrf_checks=True), persona("cross13_analyst"))


def _post(client: Client, **headers):
    return client.post(STATUS, {"status": "confirmed"}, content_type="application/json", **headers)


def test_a_session_write_without_the_csrf_header_is_refused_in_french(persona):
    client = _session(persona)
    client.cookies["csrftoken"] = CSRF
    response = _post(client)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "csrf_failed"
    assert body["detail"].startswith("Refus CSRF : l'en-tête X-CSRFToken manque.")
    assert "valeur du cookie « csrftoken »" in body["detail"]
    assert "CSRF Failed" not in body["detail"]


def test_a_session_write_without_the_csrf_cookie_is_refused_in_french(persona):
    body = _post(_session(persona), HTTP_X_CSRFTOKEN=CSRF).json()
    assert body["code"] == "csrf_failed"
    assert body["detail"].startswith("Refus CSRF : le cookie « csrftoken » manque")


def test_a_csrf_header_that_does_not_match_the_cookie_is_refused_in_french(persona):
    client = _session(persona)
    client.cookies["csrftoken"] = CSRF
    body = _post(client, HTTP_X_CSRFTOKEN="autre" + CSRF[5:]).json()
    assert body["code"] == "csrf_failed"
    assert "ne correspond pas au cookie « csrftoken »" in body["detail"]


def test_a_session_write_with_its_csrf_header_passes_the_check(persona):
    client = _session(persona)
    client.cookies["csrftoken"] = CSRF
    response = _post(client, HTTP_X_CSRFTOKEN=CSRF)
    # Past authentication: no deal point 16 for this analyst.
    assert response.status_code == 404, response.content


def test_an_unverified_session_is_told_the_second_factor_is_missing(persona):
    client = Client()
    client.force_login(persona("cross13_analyst"))
    response = client.get("/api/v1/dealpoints/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Authentification à deux facteurs requise.",
        "code": "permission_denied",
    }


def test_the_schema_documents_the_csrf_header_for_sessions(client):
    schemes = client.get("/api/schema/?format=json").json()["components"]["securitySchemes"]
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert "X-CSRFToken" in schemes["cookieAuth"]["description"]


def test_an_anonymous_call_is_told_in_french_with_how_to_authenticate(client):
    # 401 with WWW-Authenticate since personal API tokens exist (403 before: the session
    # authentication has no challenge to offer).
    response = client.get("/api/v1/dealpoints/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Cartostup"'
    assert response.json() == {
        "detail": "Informations d'authentification non fournies.",
        "code": "not_authenticated",
    }
