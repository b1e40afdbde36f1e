"""A session that expires while a form is open (user audit, item 2): the login sends the agent
back to a page, never to an address that only takes a POST."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartostup.access.middleware import LAST_SEEN_KEY
from cartostup.access.tests.test_accounts import (
    LOGIN_URL,
    PASSWORD,
    SECOND_FACTOR_URL,
    code_for,
    confirmed_device,
    login,
    no_otp_delay,
)
from cartostup.reports.choices import Status
from cartostup.reports.tests.factories import submit

pytestmark = pytest.mark.django_db


def _next_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["next"][0]


@no_otp_delay
@override_settings(CARTOSTUP_SESSION_IDLE_SECONDS=60)
def test_an_action_posted_after_expiry_returns_to_the_record_after_login(client_for, analyst):
    report = submit().report
    client = client_for("cross13_analyst")
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 61
    session.save()
    response = client.post(reverse("reports:report_accept", args=[report.pk]), {"note": ""})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN_URL)
    detail = reverse("reports:report_detail", args=[report.pk])
    assert _next_of(response["Location"]) == detail
    report.refresh_from_db()
    assert report.status == Status.NEW  # nothing was done

    device = TOTPDevice.objects.get(user=analyst, confirmed=True)  # made by client_for
    response = login(client, "cross13_analyst", PASSWORD, next_url=detail)
    assert response["Location"].startswith(SECOND_FACTOR_URL)
    response = client.post(SECOND_FACTOR_URL, {"code": code_for(device), "next": detail})
    assert response.status_code == 302 and response["Location"] == detail
    assert client.get(detail).status_code == 200


def test_a_get_keeps_its_own_address_and_query():
    response = Client().get("/points-de-deal/?statut=active")
    assert _next_of(response["Location"]) == "/points-de-deal/?statut=active"


def test_a_post_to_a_form_on_its_own_page_returns_to_that_page():
    response = Client().post(reverse("reports:operator_intake"), {"description": "x"})
    assert _next_of(response["Location"]) == reverse("reports:operator_intake")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/comptes/deconnexion/", "/"),
        ("/signalements/103/accepter/", "/signalements/103/accepter/"),
        ("/points-de-deal/?statut=active", "/points-de-deal/?statut=active"),
    ],
)
@no_otp_delay
def test_login_never_redirects_to_a_post_only_address(client, analyst, target, expected):
    """`next` typed or kept from elsewhere: an address declared POST-only (the logout) gives
    the home page. An undeclared action keeps its address: its 405 page links to the record."""
    device = confirmed_device(analyst)
    login(client, "cross13_analyst", PASSWORD, next_url=target)
    response = client.post(SECOND_FACTOR_URL, {"code": code_for(device), "next": target})
    assert response.status_code == 302
    assert response["Location"] == expected


# --- the warning before the idle logout (its behaviour: tests/browser/test_session_timeout.py)


KEEPALIVE_URL = "/comptes/session/prolonger/"


@override_settings(CARTOSTUP_SESSION_IDLE_SECONDS=600, CARTOSTUP_SESSION_WARNING_SECONDS=120)
def test_staff_pages_carry_the_warning_and_public_pages_do_not(client_for):
    client = client_for("cross13_analyst")
    body = client.get("/").content.decode()
    assert 'id="session-timeout"' in body
    # The warning comes earlier by the rounding of the last activity (600 // 6).
    assert 'data-idle-seconds="600"' in body and 'data-warning-seconds="220"' in body
    assert f'data-keepalive-url="{KEEPALIVE_URL}"' in body
    assert 'aria-live="assertive"' in body and "Prolonger la session" in body
    assert "/static/cartostup/session_timeout.js" in body
    # Never on a public page, even in a browser where an agent is logged in.
    missing = client.get("/signaler/nulle-part/").content.decode()
    assert 'id="session-timeout"' not in missing and "session_timeout.js" not in missing
    assert 'id="session-timeout"' not in Client().get(LOGIN_URL).content.decode()


@override_settings(CARTOSTUP_SESSION_IDLE_SECONDS=60)
def test_the_keepalive_extends_the_session(client_for):
    client = client_for("cross13_analyst")
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 50
    session.save()
    response = client.post(KEEPALIVE_URL)
    assert response.status_code == 200
    assert response.json() == {"active": True, "idle_seconds": 60}
    assert client.session[LAST_SEEN_KEY] >= int(time.time()) - 10 - 2
    assert client.get(KEEPALIVE_URL).status_code == 405


@override_settings(CARTOSTUP_SESSION_IDLE_SECONDS=60)
def test_the_keepalive_of_an_expired_session_says_so(client_for):
    client = client_for("cross13_analyst")
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 61
    session.save()
    response = client.post(KEEPALIVE_URL)
    assert response.status_code == 401
    assert response.json() == {"active": False}
    assert client.get("/").status_code == 302


def test_the_keepalive_needs_the_csrf_token(persona):
    from conftest import login_verified

    client = login_verified(Client(enforce_csrf_checks=True), persona("cross13_analyst"))
    assert client.post(KEEPALIVE_URL).status_code == 403
