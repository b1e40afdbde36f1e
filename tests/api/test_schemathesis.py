"""Fuzz every operation of the OpenAPI schema with schemathesis, in process, on the real database:
as a verified staff user (no 5xx, responses conform to the schema) and anonymously (staff
operations refused; the public reporting API, under /api/public/, answers without 5xx and
conforms to its schema, with the proof of work off and rate limits relaxed)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, reject, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import login_verified

PUBLIC_PREFIX = "/api/public/"
RELAXED_RATE_LIMITS = {
    "challenge": (10_000, 600),
    "submission": (10_000, 3600),
    "receipt_client": (10_000, 900),
    "receipt_key": (10_000, 900),
}

application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)

# HEAD and OPTIONS come with every view (Django and REST framework add them).
DOCUMENTED_METHODS = {
    path: {method.upper() for method in operations} | {"HEAD", "OPTIONS"}
    for path, operations in schema.raw_schema["paths"].items()
}

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def in_process_wsgi():
    # The WSGI handler closes "obsolete" connections at each request, which would close the
    # test's transaction; Django's own test client disconnects the same handlers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def analyst_cookies(persona, in_process_wsgi, client):
    login_verified(client, persona("cross13_analyst"))
    return {name: morsel.value for name, morsel in client.cookies.items()}


@pytest.fixture
def public_api_settings(settings):
    """The public API fuzzed as is, minus the proof of work and the per-client limits."""
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    settings.CARTOSTUP_RATE_LIMITS = RELAXED_RATE_LIMITS


def _skip_unsendable(case) -> None:
    """Werkzeug's test client can encode a multipart body only from a mapping; schemathesis also
    generates lists and nulls there, which no real client could send as form fields."""
    if (case.media_type or "").startswith("multipart/") and not isinstance(case.body, dict):
        reject()


def _check_public(case, response) -> None:
    assert response.status_code < 500, response.text
    # Valid-looking input may be refused for what it means (an unknown challenge, a point
    # outside France): documented 400s, so "valid data must be accepted" does not apply.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    if response.status_code in (400, 429):
        body = response.json()
        assert body["detail"] and body["code"], "a 4xx must explain what is wrong"


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_api_as_verified_analyst(case, analyst_cookies, public_api_settings):
    _skip_unsendable(case)
    response = case.call(cookies=analyst_cookies)
    assert response.status_code < 500, response.text
    # A well-formed request may still be refused for what it means (a point outside France is a
    # documented 400), so "valid data must be accepted" does not apply; every other check does.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    if response.status_code == 400:
        assert response.json(), "a 400 must explain what is wrong"


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_api_refuses_anonymous(case, in_process_wsgi, public_api_settings):
    _skip_unsendable(case)
    if case.path == f"{PUBLIC_PREFIX}v1/reports" and isinstance(case.body, dict):
        # A fresh challenge lets generated reports reach validation and storage.
        from cartostup.reports.pow import challenge_issue

        case.body["challenge"] = challenge_issue().value
    response = case.call()
    if case.path.startswith(PUBLIC_PREFIX):
        if case.method.upper() in DOCUMENTED_METHODS[case.path]:
            _check_public(case, response)
        else:
            assert response.status_code == 405, response.text
    elif case.method.upper() in DOCUMENTED_METHODS[case.path]:
        assert response.status_code in (401, 403), response.text
    else:
        # Methods the operation does not have answer 405 before any authentication.
        assert response.status_code == 405, response.text
