"""Personal API tokens: created on the account page and shown once, stored as a keyed hash,
acting exactly as their user (same policy, same audit, marked as by token), refused with a
French 401 when unknown, expired, revoked or their account can no longer act."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cartostup.access import tokens
from cartostup.access.account_services import api_token_create, api_token_revoke
from cartostup.access.models import ApiToken
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints.tests.factories import dealpoint

pytestmark = pytest.mark.django_db


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def _create_on_the_page(client: Client, name: str = "Logiciel de la CROSS", days: str = "90"):
    response = client.post("/comptes/jetons/", {"name": name, "days": days})
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == "/comptes/jetons/nouveau/"
    return client.get("/comptes/jetons/nouveau/")


def test_a_token_is_created_on_the_account_page_and_shown_once(client_for, persona):
    client = client_for("cross13_analyst")
    page = client.get("/comptes/jetons/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Jetons d&#x27;accès à l&#x27;API" in text
    assert 'value="90"' in text and 'max="365"' in text
    shown = _create_on_the_page(client)
    assert shown.status_code == 200
    assert "no-store" in shown["Cache-Control"]
    token = ApiToken.objects.get(user=persona("cross13_analyst"))
    value = next(
        word
        for word in shown.content.decode().replace("<", " ").replace(">", " ").split()
        if word.startswith(f"cst_{token.prefix}_")
    )
    # Only the keyed hash is stored, nothing of the secret; the session forgot its share.
    parsed = tokens.token_parse(value)
    assert parsed is not None
    assert token.digest == tokens.token_digest(parsed.secret) != parsed.secret
    assert parsed.secret not in json.dumps(list(ApiToken.objects.values()), default=str)
    assert not any(parsed.secret in str(v) for v in client.session.values())
    assert timedelta(days=89) < token.expires_at - timezone.now() <= timedelta(days=90)
    # A reload does not show it again.
    again = client.get("/comptes/jetons/nouveau/")
    assert again.status_code == 302 and again["Location"] == "/comptes/jetons/"
    assert value not in client.get("/comptes/jetons/").content.decode()
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="access.apitoken")
    assert event.object_id == str(token.pk)
    assert event.details["prefix"] == token.prefix
    assert parsed.secret not in json.dumps(event.details)


def test_a_token_lasts_at_most_a_year(client_for):
    client = client_for("cross13_analyst")
    response = client.post("/comptes/jetons/", {"name": "Trop long", "days": "366"})
    assert response.status_code == 200
    assert "inférieure ou égale à 365" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_token_acts_as_its_user_through_the_same_policy_and_audit(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    created = api_token_create(actor=analyst, name="script", days=30)
    client = Client()
    by_token = client.get(f"/api/v1/dealpoints/{point.pk}/", headers=_bearer(created.value))
    assert by_token.status_code == 200, by_token.content
    assert by_token.json()["reference"] == point.reference
    view = AuditEvent.objects.filter(action=AuditAction.VIEW, actor_id=analyst.pk).latest(
        "sequence"
    )
    assert view.object_id == str(point.pk)
    assert view.details["api_token"] == created.token.pk
    parsed = tokens.token_parse(created.value)
    assert parsed is not None and parsed.secret not in json.dumps(view.details)
    created.token.refresh_from_db()
    assert created.token.last_used_at is not None
    # Another analyst's token does not reach a point of the 13.
    other = api_token_create(actor=persona("cross93_analyst"), name="script", days=30)
    assert (
        client.get(f"/api/v1/dealpoints/{point.pk}/", headers=_bearer(other.value)).status_code
        == 404
    )


def test_a_token_write_needs_no_csrf_token(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    created = api_token_create(actor=analyst, name="script", days=30)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"/api/v1/dealpoints/{point.pk}/status/",
        {"status": "confirmed", "reason": "Vu par la patrouille"},
        content_type="application/json",
        headers=_bearer(created.value),
    )
    assert response.status_code != 403, response.content
    assert response.json().get("code") != "csrf_failed"


@pytest.mark.parametrize(
    "header",
    ["Bearer cst_00000000_inconnu", "Bearer nimportequoi", "Bearer", "Bearer a b", "Token x"],
)
def test_an_unknown_or_malformed_token_is_a_french_401(client, header):
    response = client.get("/api/v1/dealpoints/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Cartostup"'
    body = response.json()
    assert body["code"] == "token_invalid"
    assert body["detail"] in (
        "Jeton d'accès inconnu ou invalide.",
        "En-tête Authorization invalide : « Bearer <jeton> » attendu.",
    )


def test_the_token_keyword_is_accepted_too(persona):
    created = api_token_create(actor=persona("cross13_analyst"), name="script", days=30)
    response = Client().get(
        "/api/v1/dealpoints/", headers={"Authorization": f"Token {created.value}"}
    )
    assert response.status_code == 200


def test_an_expired_token_is_refused_with_its_date(persona):
    created = api_token_create(actor=persona("cross13_analyst"), name="script", days=30)
    ApiToken.objects.filter(pk=created.token.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = Client().get("/api/v1/dealpoints/", headers=_bearer(created.value))
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert "a expiré le" in response.json()["detail"]


def test_a_revoked_token_stops_working(client_for, persona):
    analyst = persona("cross13_analyst")
    created = api_token_create(actor=analyst, name="script", days=30)
    client = client_for("cross13_analyst")
    response = client.post(f"/comptes/jetons/{created.token.pk}/revoquer/")
    assert response.status_code == 302
    refused = Client().get("/api/v1/dealpoints/", headers=_bearer(created.value))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Ce jeton d'accès a été révoqué.", "code": "token_invalid"}
    revoke = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="access.apitoken")
    assert revoke.details["revoked"] is True and revoke.actor_id == analyst.pk


def test_nobody_revokes_another_users_token_from_their_page(client_for, persona):
    created = api_token_create(actor=persona("cross13_analyst"), name="script", days=30)
    other = client_for("cross93_analyst")
    assert other.post(f"/comptes/jetons/{created.token.pk}/revoquer/").status_code == 404
    created.token.refresh_from_db()
    assert created.token.revoked_at is None


def test_an_administrator_may_revoke_any_users_token_through_the_policy(persona):
    created = api_token_create(actor=persona("cross13_analyst"), name="script", days=30)
    assert api_token_revoke(actor=persona("admin"), token=created.token)
    created.token.refresh_from_db()
    assert created.token.revoked_by == persona("admin")


def test_a_deactivated_account_or_a_reset_password_stops_its_tokens(persona):
    analyst = persona("cross13_analyst")
    created = api_token_create(actor=analyst, name="script", days=30)
    client = Client()
    analyst.is_active = False
    analyst.save(update_fields=["is_active"])
    response = client.get("/api/v1/dealpoints/", headers=_bearer(created.value))
    assert response.status_code == 401
    assert "ne peut plus utiliser l'API" in response.json()["detail"]
    analyst.is_active = True
    analyst.must_change_password = True
    analyst.save(update_fields=["is_active", "must_change_password"])
    assert client.get("/api/v1/dealpoints/", headers=_bearer(created.value)).status_code == 401
    analyst.must_change_password = False
    analyst.save(update_fields=["must_change_password"])
    assert client.get("/api/v1/dealpoints/", headers=_bearer(created.value)).status_code == 200


def test_roles_without_the_api_get_no_token_page(client_for):
    for name in ("caller_operator", "auditor", "admin"):
        assert client_for(name).get("/comptes/jetons/").status_code == 404, name


def test_the_token_page_needs_the_second_factor(persona):
    client = Client()
    client.force_login(persona("cross13_analyst"))
    response = client.get("/comptes/jetons/")
    assert response.status_code == 302
    assert response["Location"].startswith("/comptes/second-facteur/")


def test_the_public_reporting_api_ignores_a_token(persona):
    created = api_token_create(actor=persona("cross13_analyst"), name="script", days=30)
    anonymous = Client().get("/api/public/v1/challenge")
    with_token = Client().get("/api/public/v1/challenge", headers=_bearer(created.value))
    assert anonymous.status_code == with_token.status_code == 200
    with_bad = Client().get("/api/public/v1/challenge", headers={"Authorization": "Bearer faux"})
    assert with_bad.status_code == 200


def test_the_schema_declares_the_token_scheme(client):
    schema = client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert {"tokenAuth": []} in schema["paths"]["/api/v1/dealpoints/"]["get"]["security"]
