"""Security headers on real responses of every kind: public pages, staff pages, the staff API,
static files served by WhiteNoise (DSFR and Leaflet from their packages), error pages; then the
same with the production settings over HTTPS (HSTS, redirect, secure cookies).

Every public page and endpoint (GET and POST, refusals included) is checked by
tests/anonymity/test_public_headers.py with its own rules (referrer policy, cookies, no-store);
this file checks the other kinds of response, and all kinds under the production settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.anonymity.test_public_headers import assert_strict_csp

from .production import HOST, production_settings

pytestmark = pytest.mark.django_db

PUBLIC = ("/signaler/", "/suivi/", "/prevention/", "/api/public/v1/challenge")
STAFF = ("/", "/carte/", "/points-de-deal/", "/signalements/tri/")
API = ("/api/v1/dealpoints/", "/api/v1/map/dealpoints/?bbox=5.2,43.2,5.6,43.4&zoom=12")
STATIC = (
    "/static/dsfr/dist/dsfr.min.css",
    "/static/dsfr/dist/dsfr.module.min.js",
    "/static/leaflet/leaflet.js",
    "/static/cartostup/cartostup.css",
)


def assert_security_headers(response, label: str, *, framed_by_header: bool = True) -> None:
    """What every response carries, whoever asks: a strict policy without 'unsafe-inline' (no
    inline script without the request's nonce, no inline style at all), no framing, no MIME
    sniffing, a browsing context of its own, and no access to location, camera or microphone."""
    assert_strict_csp(response, label)
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, label
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["style-src"] == "'self'", label
    assert directives["script-src"].startswith("'self' 'nonce-"), label
    if framed_by_header:
        assert response.headers.get("X-Frame-Options") == "DENY", label
    assert response.headers.get("X-Content-Type-Options") == "nosniff", label
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin", label
    permissions = response.headers.get("Permissions-Policy", "")
    for feature in ("geolocation", "camera", "microphone"):
        assert f"{feature}=()" in permissions, f"{label}: {feature} not denied in {permissions!r}"
    assert response.headers.get("Referrer-Policy") in {"same-origin", "no-referrer"}, label


@pytest.fixture
def static_settings(settings):
    """WhiteNoise serving the packages' static folders directly (as after collectstatic)."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = False
    return settings


def test_staff_pages_and_api(client_for):
    client = client_for("cross13_analyst")
    for path in STAFF + API:
        response = client.get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"
        assert_security_headers(response, f"GET {path} (analyst)")
    response = client_for("admin").get("/audit/")
    assert response.status_code == 200
    assert_security_headers(response, "GET /audit/ (admin)")
    # Refusals and unknown pages carry the same headers.
    response = client_for("landlord_13h").get("/audit/")
    assert response.status_code in {403, 404}
    assert_security_headers(response, "GET /audit/ (landlord)")
    response = client.get("/nulle-part/")
    assert response.status_code == 404
    assert_security_headers(response, "404")


def test_login_page_and_anonymous_api_refusal(client):
    response = client.get("/comptes/connexion/")
    assert response.status_code == 200
    assert_security_headers(response, "login")
    response = client.get("/api/v1/dealpoints/")
    assert response.status_code in {401, 403}
    assert_security_headers(response, "anonymous API")


def test_static_files_through_whitenoise(static_settings):
    client = Client()
    for path in STATIC:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.streaming, f"{path}: not served by WhiteNoise"
        # WhiteNoise answers before Django's clickjacking middleware runs: frame denial comes
        # from the policy's frame-ancestors 'none' (checked by assert_strict_csp).
        assert_security_headers(response, f"GET {path}", framed_by_header=False)


@pytest.fixture
def production(settings, tmp_path):
    """The security settings of config/settings/prod.py (computed in a production process)."""
    for name, value in production_settings(tmp_path).items():
        setattr(settings, name, value)
    settings.ALLOWED_HOSTS = [HOST]
    settings.WHITENOISE_USE_FINDERS = True
    return settings


def test_production_settings_over_https(production, persona):
    from conftest import login_verified

    https: dict[str, Any] = {"HTTP_HOST": HOST, "HTTP_X_FORWARDED_PROTO": "https"}
    anonymous = Client(**https)
    staff = login_verified(Client(**https), persona("cross13_analyst"))
    responses = [(f"GET {path}", anonymous.get(path)) for path in (*PUBLIC, *STATIC[:2])]
    responses += [(f"GET {path} (analyst)", staff.get(path)) for path in STAFF[:2] + API[:1]]
    for label, response in responses:
        assert response.status_code == 200, label
        assert response.headers.get("Strict-Transport-Security") == (
            "max-age=31536000; includeSubDomains; preload"
        ), label
        assert_security_headers(response, label, framed_by_header="/static/" not in label)
    # Cookies only over HTTPS, never readable by scripts where none needs them.
    response = anonymous.get("/signaler/")
    assert response.cookies["csrftoken"]["secure"], "csrftoken without Secure"
    token = response.cookies["csrftoken"].value
    response = anonymous.post(
        "/i18n/setlang/",
        {"language": "en", "next": "/signaler/"},
        HTTP_X_CSRFTOKEN=token,
        HTTP_REFERER=f"https://{HOST}/signaler/",
    )
    language = response.cookies["django_language"]
    assert language["secure"] and language["httponly"] and language["samesite"] == "Lax"


def test_production_redirects_plain_http_to_https(production):
    client = Client(HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="http")
    for path in ("/signaler/", "/comptes/connexion/", "/api/public/v1/challenge"):
        response = client.get(path)
        assert response.status_code == 301, path
        assert response["Location"] == f"https://{HOST}{path}", path
        # HSTS is sent over HTTPS only (a plain-HTTP answer could be forged anyway).
        assert "Strict-Transport-Security" not in response.headers, path
