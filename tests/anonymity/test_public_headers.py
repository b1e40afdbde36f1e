"""Headers of every public page and endpoint (design §5): a strict Content-Security-Policy
(no 'unsafe-inline', no 'unsafe-eval', no other origin), the referrer policy decided for public
pages (`same-origin`: see docs/decisions.md and `public_views.public_page`; `no-referrer` would
be accepted too), no cookie but CSRF's and the language choice, and nothing cached where a
receipt or a follow-up is shown."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from . import scenario
from .canaries import Canaries

ALLOWED_SOURCES = re.compile(r"^('self'|'none'|'nonce-[A-Za-z0-9_\-+/=]+'|data:|blob:)$")
ALLOWED_COOKIES = {"csrftoken", "django_language"}
API = "/api/public/v1"


def assert_strict_csp(response, label: str) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    assert policy, f"{label}: no Content-Security-Policy"
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    for name in ("default-src", "script-src", "style-src", "object-src", "frame-ancestors"):
        assert name in directives, f"{label}: {name} missing in {policy}"
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for name, sources in directives.items():
        for source in sources:
            assert ALLOWED_SOURCES.match(source), f"{label}: {name} allows {source}"


def assert_public_headers(response, label: str, *, no_store: bool) -> None:
    assert_strict_csp(response, label)
    assert response.headers.get("Referrer-Policy") in {"same-origin", "no-referrer"}, label
    assert response.headers.get("X-Content-Type-Options") == "nosniff", label
    assert response.headers.get("X-Frame-Options") == "DENY", label
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", label
    permissions = response.headers.get("Permissions-Policy", "")
    for feature in ("geolocation", "camera", "microphone"):
        assert f"{feature}=()" in permissions, f"{label}: {feature} not denied"
    cookies = set(response.cookies)
    assert cookies <= ALLOWED_COOKIES, f"{label}: sets {cookies}"
    if no_store:
        assert "no-store" in response.headers.get("Cache-Control", ""), label


@pytest.fixture
def public_client(settings):
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    return Client(enforce_csrf_checks=True)


def _challenge(client: Client) -> str:
    return client.get(f"{API}/challenge").json()["challenge"]


def _form(client: Client, **extra: str) -> dict:
    page = client.get("/signaler/")
    token = scenario.csrf_token(page.content.decode())
    return {
        "csrfmiddlewaretoken": token,
        "challenge": _challenge(client),
        "nonce": "0",
        "latitude": scenario.PIN[0],
        "longitude": scenario.PIN[1],
        "precision": "building",
        "people_count": "unknown",
        "activities": ["selling"],
        **extra,
    }


@pytest.mark.django_db
def test_every_public_page_has_strict_headers(public_client):
    client = public_client
    for path in ("/signaler/", "/suivi/", "/prevention/", "/signaler/communes?q=Mars"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_public_headers(response, f"GET {path}", no_store=True)
    # The receipt page, shown once.
    response = client.post("/signaler/", _form(client))
    receipt = scenario.receipt_in(response.content.decode())
    assert_public_headers(response, "POST /signaler/ (receipt)", no_store=True)
    # Follow-up pages.
    token = scenario.csrf_token(client.get("/suivi/").content.decode())
    response = client.post("/suivi/", {"csrfmiddlewaretoken": token, "receipt": receipt})
    assert response.status_code == 200 and "Reçu" in response.content.decode()
    assert_public_headers(response, "POST /suivi/", no_store=True)
    response = client.post(
        "/suivi/reponse/",
        {"csrfmiddlewaretoken": token, "receipt": receipt, "text": "Précision."},
    )
    assert response.status_code == 303
    assert_public_headers(response, "POST /suivi/reponse/", no_store=True)
    response = client.get(response["Location"])
    assert response.status_code == 200
    assert_public_headers(response, "GET /suivi/reponse/ (sent)", no_store=True)
    # Refusals keep the same headers.
    response = client.post("/suivi/", {"csrfmiddlewaretoken": token, "receipt": "nope"})
    assert_public_headers(response, "POST /suivi/ wrong receipt", no_store=True)
    response = client.get("/signaler/inconnu/")
    assert response.status_code == 404
    assert_strict_csp(response, "404")


@pytest.mark.django_db
def test_public_api_has_strict_headers_and_never_caches_a_receipt(public_client):
    client = public_client
    response = client.get(f"{API}/challenge")
    assert_public_headers(response, "GET challenge", no_store=True)
    body = {
        "challenge": _challenge(client),
        "nonce": "0",
        "latitude": float(scenario.PIN[0]),
        "longitude": float(scenario.PIN[1]),
        "precision": "street",
        "activities": ["selling"],
    }
    response = client.post(f"{API}/reports", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    assert_public_headers(response, "POST reports", no_store=True)
    receipt = response.json()["receipt"]
    response = client.post(
        f"{API}/followup", json.dumps({"receipt": receipt}), content_type="application/json"
    )
    assert response.status_code == 200
    assert_public_headers(response, "POST followup", no_store=True)
    response = client.post(
        f"{API}/followup/messages",
        json.dumps({"receipt": receipt, "text": "Merci."}),
        content_type="application/json",
    )
    assert response.status_code == 201
    assert_public_headers(response, "POST followup/messages", no_store=True)
    response = client.post(f"{API}/reports", "{}", content_type="application/json")
    assert response.status_code == 400
    assert_public_headers(response, "POST reports invalid", no_store=False)


@pytest.mark.django_db
def test_public_pages_set_no_cookie_but_csrf_and_language(public_client):
    """Even with a stranger's cookies and headers, no session or tracking cookie is set."""
    canaries = Canaries.new()
    client = Client(enforce_csrf_checks=True, **canaries.meta())
    name, value = canaries.cookie()
    client.cookies[name] = value
    seen: set[str] = set()
    for path in ("/signaler/", "/suivi/", "/prevention/", f"{API}/challenge"):
        response = client.get(path)
        seen |= set(response.cookies)
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/i18n/setlang/",
        {"language": "ar", "next": "/signaler/"},
        HTTP_X_CSRFTOKEN=token,
    )
    seen |= set(response.cookies)
    assert seen <= ALLOWED_COOKIES, seen
    assert "sessionid" not in client.cookies
