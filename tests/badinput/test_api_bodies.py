"""Bad bodies, query strings and paths sent to the public and the staff API (Django's test
client): each is refused with a 4xx and a French `{"detail", "code"}`, never a 500, and nothing
is stored."""

from __future__ import annotations

import pytest
from django.test import Client

from cartostup.core.parsers import MAX_JSON_DEPTH
from cartostup.dealpoints.models import DealPoint
from cartostup.reports.models import Report

pytestmark = pytest.mark.django_db

PUBLIC_REPORTS = "/api/public/v1/reports"
STAFF_DEALPOINTS = "/api/v1/dealpoints/"
JSON = "application/json"


@pytest.fixture
def public(settings) -> Client:
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    client = Client(enforce_csrf_checks=True)
    client.raise_request_exception = False
    return client


def _refused(response, status: int, code: str | None = None, words: str = "") -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith(JSON)
    body = response.json()
    assert body["detail"] and body["code"], body
    if code:
        assert body["code"] == code, body
    assert words in body["detail"], body
    return body


def _nothing_stored() -> None:
    assert not Report.objects.exists()
    assert not DealPoint.objects.exists()


def _nested(depth: int, *, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


BAD_JSON = [
    pytest.param(_nested(100_000, kind="list"), "too_deep", "imbriqué", id="lists-100000-deep"),
    pytest.param(_nested(5_000, kind="dict"), "too_deep", "imbriqué", id="objects-5000-deep"),
    pytest.param(
        _nested(MAX_JSON_DEPTH + 1, kind="list"), "too_deep", "imbriqué", id="just-too-deep"
    ),
    pytest.param(b'{"description": "\xff\xfe"}', "invalid_encoding", "UTF-8", id="not-utf8"),
    pytest.param(b'{"latitude": NaN, "longitude": Infinity}', "parse_error", "JSON", id="nan"),
    pytest.param(b'{"latitude": 43.3,', "parse_error", "JSON", id="truncated"),
    pytest.param(b"\x00\x01\x02", "parse_error", "JSON", id="binary"),
]


@pytest.mark.parametrize(("body", "code", "words"), BAD_JSON)
def test_public_api_refuses_bad_json_in_french(public, body, code, words):
    _refused(public.post(PUBLIC_REPORTS, body, content_type=JSON), 400, code, words)
    _nothing_stored()


@pytest.mark.parametrize(("body", "code", "words"), BAD_JSON)
def test_staff_api_refuses_bad_json_in_french(analyst, body, code, words):
    _refused(analyst.post(STAFF_DEALPOINTS, body, content_type=JSON), 400, code, words)
    _nothing_stored()


def test_json_nested_within_the_limit_is_parsed(analyst):
    """The limit refuses only what no input needs: a body nested to it reaches validation."""
    body = b'{"products": ' + _nested(MAX_JSON_DEPTH - 1, kind="list") + b"}"
    body_json = _refused(analyst.post(STAFF_DEALPOINTS, body, content_type=JSON), 400, "invalid")
    assert "latitude" in body_json["errors"]
    _nothing_stored()


@pytest.mark.parametrize("path", [PUBLIC_REPORTS, STAFF_DEALPOINTS])
def test_oversized_json_is_413(public, analyst, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    client = public if path == PUBLIC_REPORTS else analyst
    body = b'{"description": "' + b"x" * (65 * 1024) + b'"}'
    _refused(client.post(path, body, content_type=JSON), 413, "too_large", "64 Ko")
    _nothing_stored()


@pytest.mark.parametrize("path", [PUBLIC_REPORTS, STAFF_DEALPOINTS])
def test_oversized_multipart_field_is_413_json(public, analyst, settings, path):
    """Django refuses the form field itself (RequestDataTooBig): JSON, not its HTML 400 page."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    client = public if path == PUBLIC_REPORTS else analyst
    response = client.post(path, {"description": "x" * (65 * 1024)})
    if path == STAFF_DEALPOINTS:  # the staff API takes JSON only
        _refused(response, 415, "unsupported_media_type")
    else:
        _refused(response, 413, "too_large")
    _nothing_stored()


def test_too_many_multipart_fields_is_400_json(public, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    fields = {f"field{index}": "1" for index in range(60)}
    _refused(public.post(PUBLIC_REPORTS, fields), 400, "too_many_fields", "trop de champs")
    _nothing_stored()


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\xff",
    ],
)
def test_malformed_multipart_is_400_in_french(public, content_type):
    response = public.post(PUBLIC_REPORTS, b"--x\r\nbroken", content_type=content_type)
    assert response.status_code == 400, response.content
    assert response.json()["detail"] and response.json()["code"]
    assert "Multipart form parse error" not in response.json()["detail"]
    _nothing_stored()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        (PUBLIC_REPORTS, "application/xml"),
        (PUBLIC_REPORTS, "text/plain"),
        (PUBLIC_REPORTS, "application/x-www-form-urlencoded"),
        (STAFF_DEALPOINTS, "multipart/form-data; boundary=x"),
        (STAFF_DEALPOINTS, "text/csv"),
        (STAFF_DEALPOINTS, ""),
    ],
)
def test_wrong_content_types_are_415(public, analyst, path, content_type):
    client = public if path == PUBLIC_REPORTS else analyst
    response = client.generic("POST", path, b"latitude=43&longitude=5", content_type=content_type)
    _refused(response, 415, "unsupported_media_type", "non supporté")
    _nothing_stored()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/dealpoints/?status=%ff%fe",
        "/api/v1/dealpoints/?q=%ff&ordering=%c3%28",
        "/api/v1/operations/?departement=%ff",
        "/api/v1/map/dealpoints/?bbox=%ff,1,2,3&zoom=%ff",
        "/api/v1/territories/locate?latitude=%ff&longitude=%c3%28",
        "/api/v1/dealpoints/%ff/",
        "/api/v1/dealpoints/%c3%28/history/",
    ],
)
def test_invalid_utf8_in_staff_query_and_path_is_explained(analyst, url):
    response = analyst.get(url)
    assert 400 <= response.status_code < 500, response.content[:300]
    body = response.json()
    assert body["detail"] and body["code"]
    # Per-field messages are sentences, never the repr of REST framework's error objects.
    for messages in body.get("errors", {}).values():
        assert all("ErrorDetail" not in message for message in messages), messages


@pytest.mark.parametrize(
    "url",
    ["/api/public/v1/challenge?x=%ff%fe", "/api/public/v1/challenge%ff", "/api/public/v1/%c3%28"],
)
def test_invalid_utf8_in_public_query_and_path_is_no_500(public, url):
    response = public.get(url)
    # The challenge reads no query string: an unknown parameter (even undecodable) is a 400.
    assert response.status_code in (400, 404)
    body = response.json()
    assert body["detail"] and body["code"]
    if response.status_code == 400:
        assert body["errors"] and all(m == ["Paramètre inconnu."] for m in body["errors"].values())


@pytest.mark.parametrize(
    "url", ["/api/v1/nothing-here/", "/api/public/v1/%ff", "/api/v1/dealpoints/1/%c3%28/"]
)
def test_unknown_api_addresses_are_a_french_json_404(analyst, url):
    _refused(analyst.get(url), 404, "not_found", "Aucune ressource")


def test_unknown_page_addresses_keep_the_html_404(analyst):
    response = analyst.get("/nulle-part/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", [PUBLIC_REPORTS, STAFF_DEALPOINTS])
def test_declared_body_over_the_request_limit_is_413_json_before_reading(
    public, analyst, settings, path
):
    settings.CARTOSTUP_MAX_REQUEST_BYTES = 50_000
    client = public if path == PUBLIC_REPORTS else analyst
    body = b'{"description": "' + b"x" * 60_000 + b'"}'
    _refused(client.post(path, body, content_type=JSON), 413, "too_large", "taille maximale")
    _nothing_stored()
