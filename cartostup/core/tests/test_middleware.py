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


def test_language_chosen_by_the_reader_on_the_public_pages(client):
    client.cookies["django_language"] = "en"
    assert client.get("/signaler/")["Content-Language"] == "en"
    client.cookies["django_language"] = "xx"
    assert client.get("/signaler/")["Content-Language"] == "fr"


@pytest.mark.parametrize("language", ["en", "ar"])
def test_staff_pages_stay_french_whatever_the_public_pages_chose(client, client_for, language):
    """The language buttons of /signaler/ set a cookie for the whole site; the agents' pages
    ignore it (user audit: « Prénom (optional) », « This field is required. », lang="ar")."""
    client.cookies["django_language"] = language
    login = client.get("/comptes/connexion/")
    assert login["Content-Language"] == "fr"
    assert '<html lang="fr" dir="ltr"' in login.content.decode()
    refused = client.post("/comptes/connexion/", {"username": "", "password": ""})
    assert "Ce champ est obligatoire." in refused.content.decode()
    admin = client_for("admin")
    admin.cookies["django_language"] = language
    form = admin.get("/administration/utilisateurs/nouveau/")
    body = form.content.decode()
    assert form.status_code == 200 and '<html lang="fr" dir="ltr"' in body
    assert "(facultatif)" in body and "(optional)" not in body.lower()
    # The public pages keep the reader's choice, right to left in Arabic.
    public = client.get("/prevention/")
    assert public["Content-Language"] == language
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}"' in public.content.decode()


def test_an_error_page_under_the_public_pages_is_right_to_left_in_arabic(client):
    client.cookies["django_language"] = "ar"
    missing = client.get("/signaler/nulle-part/")
    assert missing.status_code == 404
    assert '<html lang="ar" dir="rtl"' in missing.content.decode()
    outside = client.get("/comptes/nulle-part/")
    assert outside.status_code == 404
    assert '<html lang="fr" dir="ltr"' in outside.content.decode()
