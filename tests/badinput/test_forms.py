"""Bad input to the main HTML forms (the public report form, the login, the deal-point form)
through Django's test client: oversized bodies and fields, too many fields, invalid UTF-8 and
NUL bytes in fields, query strings and paths. Always a 4xx page in French (the State design
system's) or the form again with its errors; never a 500; nothing stored.

Invalid UTF-8 in a form field is decoded by Django with U+FFFD in place of the bad bytes (no
browser sends it; a person's report is not refused for it): it is then an ordinary character
that each field's own validation judges."""

from __future__ import annotations

import pytest
from django.test import Client

from cartostup.access.models import User
from cartostup.dealpoints.models import DealPoint
from cartostup.reports.models import Report
from cartostup.reports.tests.test_public_views import form_data

pytestmark = pytest.mark.django_db

REPORT_FORM = "/signaler/"
LOGIN = "/comptes/connexion/"
DEALPOINT_FORM = "/points-de-deal/nouveau/"
FORM_URLENCODED = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def _no_proof_of_work(settings):
    settings.CARTOSTUP_POW_DIFFICULTY = 0


@pytest.fixture
def anonymous() -> Client:
    client = Client()
    client.raise_request_exception = False
    return client


def _page(response) -> str:
    return response.content.decode()


def _french_413_page(response) -> None:
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    page = _page(response)
    assert "Envoi trop volumineux" in page and "Rien n'a été enregistré" in page
    assert "fr-btn" in page  # the State design system's page


def _nothing_stored() -> None:
    assert not Report.objects.exists()
    assert not DealPoint.objects.exists()


@pytest.mark.parametrize("url", [REPORT_FORM, LOGIN, DEALPOINT_FORM])
def test_declared_body_over_the_limit_is_413_before_reading(anonymous, analyst, settings, url):
    settings.CARTOSTUP_MAX_REQUEST_BYTES = 50_000
    client = analyst if url == DEALPOINT_FORM else anonymous
    response = client.post(url, {"description": "x" * 60_000, "name": "x"})
    _french_413_page(response)
    _nothing_stored()


@pytest.mark.parametrize("url", [REPORT_FORM, LOGIN, DEALPOINT_FORM])
def test_field_over_the_form_limit_is_413_in_french(anonymous, analyst, settings, url):
    """Django refuses fields above DATA_UPLOAD_MAX_MEMORY_SIZE: the page says why."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20_000
    client = analyst if url == DEALPOINT_FORM else anonymous
    body = "description=" + "x" * 30_000 + "&name=x"
    response = client.post(url, body, content_type=FORM_URLENCODED)
    _french_413_page(response)
    _nothing_stored()


@pytest.mark.parametrize("url", [REPORT_FORM, LOGIN, DEALPOINT_FORM])
def test_too_many_fields_is_400_in_french(anonymous, analyst, settings, url):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    client = analyst if url == DEALPOINT_FORM else anonymous
    body = "&".join(f"field{index}=1" for index in range(60))
    response = client.post(url, body, content_type=FORM_URLENCODED)
    assert response.status_code == 400
    assert "Requête invalide" in _page(response)
    _nothing_stored()


def test_report_form_with_invalid_utf8_and_nul_bytes_is_explained(anonymous):
    data = form_data(place_label="B\x00t B", commune_code="\xff\xfe")
    response = anonymous.post(REPORT_FORM, data)
    assert response.status_code in (200, 400)
    assert "fr-error-text" in _page(response) or "fr-alert--error" in _page(response)
    assert not Report.objects.exists()
    raw = b"latitude=%ff%fe&longitude=\xff&precision=\xc3%28&activities=selling&description=\xff"
    response = anonymous.post(REPORT_FORM, raw, content_type=FORM_URLENCODED)
    assert response.status_code in (200, 400)
    assert "Un nombre est requis" in _page(response) or "fr-error-text" in _page(response)
    assert not Report.objects.exists()


def test_invalid_utf8_in_a_free_text_field_is_kept_as_replacement_characters(anonymous):
    raw = form_data(description=None)
    body = (
        "&".join(
            f"{key}={value}"
            for key, values in raw.items()
            for value in (values if isinstance(values, list) else [values])
        ).encode()
        + b"&description=Vente+%ff%fe+au+pied"
    )  # percent-encoded bytes, not UTF-8
    response = anonymous.post(REPORT_FORM, body, content_type=FORM_URLENCODED)
    assert response.status_code == 200, _page(response)[:500]
    report = Report.objects.get()
    assert report.description == "Vente \ufffd\ufffd au pied"


def test_login_with_invalid_utf8_nul_bytes_or_json_is_the_form_again(anonymous, persona):
    user = persona("cross13_analyst")
    for body, content_type in [
        (b"username=%ff%fe&password=\xff", FORM_URLENCODED),
        (f"username={user.username}%00&password=x%00".encode(), FORM_URLENCODED),
        (b'{"username": "cross13_analyst", "password": "x"}', "application/json"),
        (b"\x00\x01\x02", "application/octet-stream"),
    ]:
        response = anonymous.post(LOGIN, body, content_type=content_type)
        assert response.status_code in (200, 400), body
        assert 'name="password"' in _page(response)
        assert "_auth_user_id" not in anonymous.session
    assert User.objects.filter(username=user.username).count() == 1


def test_dealpoint_form_with_invalid_utf8_nul_bytes_and_huge_numbers(analyst):
    for body in [
        b"latitude=%ff&longitude=\xff&precision=\xc3%28&channel=fixed&confidence=low",
        b"latitude=43.3%00&longitude=5.39&precision=building&channel=fixed&confidence=low",
        b"latitude=1e999&longitude=-1e999&precision=building&channel=fixed&confidence=low",
        b"latitude=nan&longitude=inf&precision=building&channel=fixed&confidence=low",
        b"latitude=43.3&longitude=5.39&precision=building&channel=fixed&confidence=low"
        b"&name=%00&estimated_daily_turnover=99999999999999999999999&building=%ff",
    ]:
        response = analyst.post(DEALPOINT_FORM, body, content_type=FORM_URLENCODED)
        assert response.status_code == 400, body
        assert "fr-error-text" in _page(response) or "fr-alert--error" in _page(response)
        assert not DealPoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/signaler/?latitude=%ff&commune=%c3%28",
        "/signaler/communes?q=%ff%fe",
        "/suivi/?x=%ff",
        "/comptes/connexion/?next=%ff%fe",
        "/signaler%ff/",
        "/%c3%28/",
    ],
)
def test_invalid_utf8_in_public_query_strings_and_paths_is_no_500(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "/points-de-deal/?status=%ff&q=%c3%28",
        "/points-de-deal/nouveau/?latitude=%ff&longitude=%ed%a0%80",
        "/points-de-deal/%ff/",
        "/carte/?bbox=%ff",
    ],
)
def test_invalid_utf8_in_staff_query_strings_and_paths_is_no_500(analyst, url):
    response = analyst.get(url)
    assert response.status_code < 500
