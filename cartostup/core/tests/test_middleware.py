"""Security headers and the interface language."""

import pytest

pytestmark = pytest.mark.django_db


def test_strict_content_security_policy_with_a_fresh_nonce(client):
    first = client.get("/comptes/connexion/")
    second = client.get("/comptes/connexion/")
    policy = first["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert policy != second["Content-Security-Policy"]
    assert first["X-Frame-Options"] == "DENY"
    assert first["Referrer-Policy"] == "same-origin"


def test_french_whatever_the_browser_asks(client):
    response = client.get("/comptes/connexion/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "fr"
    assert 'lang="fr"' in response.content.decode()


def test_language_chosen_by_the_reader(client):
    client.cookies["django_language"] = "en"
    assert client.get("/comptes/connexion/")["Content-Language"] == "en"
    client.cookies["django_language"] = "xx"
    assert client.get("/comptes/connexion/")["Content-Language"] == "fr"
