"""Fuzz every operation of the OpenAPI schema with schemathesis, in process, on the real database:
the map and territory operations as a verified analyst, the deal-point operations as an
analyst, a landlord and a prefecture beside a deal point (no 5xx, responses conform to the
schema); anonymously, the public reporting API (under /api/public/: no 5xx, conforming, with
the proof of work off and rate limits relaxed) and every staff operation (refused); then each
of the 16 personas over every staff operation, writes included (CSRF token sent), and two of
them by personal API token alone. Every 4xx says what and why ({"detail", "code"}). Short in `make
test` (a few examples per persona), long in `make bench` (`CARTOSTUP_FUZZ_LONG=1`: every phase,
200 examples)."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, reject, settings
from jsonschema import Draft202012Validator
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from cartostup.core.personas import PERSONA_NAMES
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
# Short in `make test`, long in `make bench` (CARTOSTUP_FUZZ_LONG=1): the coverage phase (every
# boundary and every invalid form of every parameter) takes minutes per list endpoint with
# many filters, so the short run keeps the explicit examples and the random fuzzing.
FUZZ_LONG = os.environ.get("CARTOSTUP_FUZZ_LONG") == "1"
if not FUZZ_LONG:
    schema.config.phases.update(phases=["examples", "fuzzing", "stateful"])

# HEAD and OPTIONS come with every view (Django and REST framework add them).
DOCUMENTED_METHODS = {
    path: {method.upper() for method in operations} | {"HEAD", "OPTIONS"}
    for path, operations in schema.raw_schema["paths"].items()
}

FUZZ = settings(
    max_examples=200 if FUZZ_LONG else 40,
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
    # A query parameter generated as null, an object or an array of those is not sent at all:
    # the request that goes out is then not the invalid one the negative case claims to be.
    if _is_negative(case) and any(_unsent(value) for value in (case.query or {}).values()):
        reject()
    # A generated (invalid) session cookie is replaced by the persona's own on the call.
    if "cookies" in _negative_components(case):
        reject()
    # A single-valued parameter generated as a list goes out repeated (`offset=x&offset=0`),
    # which the API refuses (`strict_query`), or once when the list holds one value
    # (`offset=0`), a valid request: the negative case may not be the request judged.
    if _is_negative(case) and any(
        isinstance(value, list) and not _is_array_parameter(case, name)
        for name, value in (case.query or {}).items()
    ):
        reject()
    # A path parameter generated invalid may still go out as a valid one (the string "1" or the
    # list [1] for an integer id both give `/dealpoints/1/`): the request judged is then valid.
    if _negative_components(case) == {"path_parameters"} and _path_sent_valid(case):
        reject()


def _as_session(case) -> None:
    """A call as a persona's session: the schema declares the token scheme, so schemathesis
    generates `Authorization` headers, which would replace the session by a (bad) token; they
    are dropped, and a case invalid only there is not judged (it goes out valid). The anonymous
    test keeps them: a bad token is a 401 there."""
    if "headers" in _negative_components(case):
        reject()
    if case.headers:
        case.headers.pop("Authorization", None)


def _is_array_parameter(case, name: str) -> bool:
    operation = schema.raw_schema["paths"].get(case.path, {}).get(case.method.lower(), {})
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") == name:
            return parameter.get("schema", {}).get("type") == "array"
    return False


def _path_sent_valid(case) -> bool:
    """Whether every path parameter, as it appears in the path that goes out, is valid."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]*)", re.escape(case.path))
    sent = re.fullmatch(pattern, case.formatted_path)
    if sent is None:
        return False
    operation = schema.raw_schema["paths"][case.path][case.method.lower()]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        value: object = unquote(sent.group(parameter["name"]))
        parameter_schema = parameter.get("schema", {})
        if parameter_schema.get("type") == "integer":
            if not re.fullmatch(r"-?[0-9]+", str(value)):
                return False
            value = int(str(value))
        if not Draft202012Validator(parameter_schema).is_valid(value):
            return False
    return True


def _unsent(value) -> bool:
    if value is None or isinstance(value, dict):
        return True
    return isinstance(value, list) and all(_unsent(item) for item in value)


def _negative_components(case) -> set[str]:
    components = getattr(case.meta, "components", None) or {}
    return {
        str(getattr(kind, "value", kind))
        for kind, info in components.items()
        if getattr(info, "mode", None) == GenerationMode.NEGATIVE
    }


def _is_negative(case) -> bool:
    return bool(_negative_components(case))


def _check_public(case, response) -> None:
    assert response.status_code < 500, response.text
    # Valid-looking input may be refused for what it means (an unknown challenge, a point
    # outside France): documented 400s, so "valid data must be accepted" does not apply.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
    if response.status_code in (400, 429):
        body = response.json()
        assert body["detail"] and body["code"], "a 4xx must explain what is wrong"


# The public API authenticates no one: a persona changes nothing there (the anonymous test covers
# it), so each persona is fuzzed over every other operation, writes included.
STAFF_API = schema.include(path_regex=r"^/api/v1/")

# The deal-point operations are fuzzed as the analyst below, beside a deal point and with the
# CSRF token (`test_dealpoints_api_per_persona`), the public ones anonymously: here, the rest.
ANALYST_API = schema.include(path_regex=r"^/api/v1/").exclude(
    path_regex=r"^/api/v1/(dealpoints|operations)/"
)
PUBLIC_API = schema.include(path_regex=r"^/api/public/")
# A staff operation called anonymously is refused before its parameters are read: a few
# examples each (HEAD, OPTIONS and undocumented methods included) say so.
FUZZ_REFUSED = settings(
    max_examples=200 if FUZZ_LONG else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@ANALYST_API.parametrize()
@FUZZ
def test_api_as_verified_analyst(case, analyst_cookies, public_api_settings):
    _skip_unsendable(case)
    _as_session(case)
    response = case.call(cookies=analyst_cookies)
    assert response.status_code < 500, response.text
    # A well-formed request may still be refused for what it means (a point outside France is a
    # documented 400), so "valid data must be accepted" does not apply. Nor does "ignored auth":
    # it replays a success without the cookie and wants a 401 (test_api_refuses_anonymous checks
    # the anonymous refusals: 401 since API tokens exist). Every other check does.
    case.validate_response(response, excluded_checks=[positive_data_acceptance, ignored_auth])
    _check_explained(case, response)


@pytest.mark.django_db
@PUBLIC_API.parametrize()
@FUZZ
def test_public_api_anonymously(case, in_process_wsgi, public_api_settings):
    """The reporters' API, as they call it: no account, no cookie."""
    _skip_unsendable(case)
    if case.path == f"{PUBLIC_PREFIX}v1/reports" and isinstance(case.body, dict):
        # A fresh challenge lets generated reports reach validation and storage.
        from cartostup.reports.pow import challenge_issue

        case.body["challenge"] = challenge_issue().value
    response = case.call()
    if case.method.upper() in DOCUMENTED_METHODS[case.path]:
        _check_public(case, response)
    else:
        assert response.status_code == 405, response.text


@pytest.mark.django_db
@STAFF_API.parametrize()
@FUZZ_REFUSED
def test_api_refuses_anonymous(case, in_process_wsgi, public_api_settings):
    _skip_unsendable(case)
    response = case.call()
    if case.method.upper() in DOCUMENTED_METHODS[case.path]:
        assert response.status_code in (401, 403), response.text
        _check_explained(case, response)
    else:
        # Methods the operation does not have answer 405 before any authentication.
        assert response.status_code == 405, response.text


# --- the deal-points API, as the personas that see it differently --------------------------------

DEALPOINTS_API = schema.include(path_regex=r"^/api/v1/(dealpoints|operations)/")
# A session API checks the CSRF token on writes: a fixed token in the cookie and the header.
CSRF_TOKEN = "cartostupfuzzcsrftoken0123456789"


def _beside_a_dealpoint(persona) -> None:
    """A deal point of Marseille (on the landlord's building) that generated ids may hit."""
    from cartostup.access.services import building_create
    from cartostup.dealpoints.tests.factories import MARSEILLE_14, dealpoint

    building = building_create(
        actor=persona("landlord_13h"),
        name="Bâtiment fuzz",
        address="12 allée des Amandiers, 13014 Marseille",
        latitude=MARSEILLE_14[0],
        longitude=MARSEILLE_14[1],
    )
    dealpoint(actor=persona("cross13_analyst"), building_id=building.pk)


def _logged_in_beside_a_dealpoint(persona, client, name: str) -> dict[str, str]:
    """The cookies of persona `name` logged in, with the CSRF token set, beside a deal point of
    Marseille (on the landlord's building) that generated ids may hit."""
    _beside_a_dealpoint(persona)
    login_verified(client, persona(name))
    cookies = {cookie: morsel.value for cookie, morsel in client.cookies.items()}
    cookies["csrftoken"] = CSRF_TOKEN
    return cookies


@pytest.fixture(params=["cross13_analyst", "landlord_13h", "prefecture_13"])
def dealpoints_persona(request, persona, in_process_wsgi, client):
    """A persona that sees deal points differently, logged in beside a deal point."""
    return request.param, _logged_in_beside_a_dealpoint(persona, client, request.param)


# Three personas: fewer examples each than FUZZ, as many in all.
FUZZ_DEALPOINTS = settings(
    max_examples=200 if FUZZ_LONG else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@DEALPOINTS_API.parametrize()
@FUZZ_DEALPOINTS
def test_dealpoints_api_per_persona(case, dealpoints_persona, public_api_settings):
    """No 5xx and conforming responses, writes included (CSRF token sent), for an analyst, a
    landlord (reduced view) and a prefecture (no points: 404)."""
    _skip_unsendable(case)
    name, cookies = dealpoints_persona
    _as_session(case)
    response = case.call(cookies=cookies, headers={"X-CSRFToken": CSRF_TOKEN})
    assert response.status_code < 500, response.text
    case.validate_response(response, excluded_checks=[positive_data_acceptance, ignored_auth])
    if name == "prefecture_13" and case.method.lower() in schema.raw_schema["paths"][case.path]:
        assert response.status_code in (400, 404), response.text
    _check_explained(case, response)


# --- every persona over every staff operation ----------------------------------------------------

# Few examples per persona and operation in `make test` (16 personas x 21 operations: about
# 50 per operation in all, the module within ~4 minutes on 2 cores), 200 in `make bench`.
FUZZ_PERSONAS = settings(
    max_examples=200 if FUZZ_LONG else 3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Statuses an API may answer a persona with, each explained by {"detail", "code"}.
EXPLAINED_4XX = {400, 401, 403, 404, 405, 406, 409, 413, 415, 429}


# Every persona unless CARTOSTUP_FUZZ_PERSONAS names some (comma-separated): the long run takes
# about 10 minutes of 2 cores per persona.
FUZZED_PERSONAS = [
    name
    for name in (part.strip() for part in os.environ.get("CARTOSTUP_FUZZ_PERSONAS", "").split(","))
    if name in PERSONA_NAMES
] or list(PERSONA_NAMES)


@pytest.fixture(params=FUZZED_PERSONAS)
def any_persona(request, persona, in_process_wsgi, client):
    """Each persona logged in beside a deal point."""
    return request.param, _logged_in_beside_a_dealpoint(persona, client, request.param)


@pytest.mark.django_db
@STAFF_API.parametrize()
@FUZZ_PERSONAS
def test_staff_api_per_persona(case, any_persona, public_api_settings):
    """Every persona, every staff operation (writes with the CSRF token): no 5xx, responses
    conform to the schema, and every refusal says what and why ({"detail", "code"})."""
    _skip_unsendable(case)
    _name, cookies = any_persona
    _as_session(case)
    response = case.call(cookies=cookies, headers={"X-CSRFToken": CSRF_TOKEN})
    assert response.status_code < 500, response.text
    case.validate_response(response, excluded_checks=[positive_data_acceptance, ignored_auth])
    _check_explained(case, response)


# --- personal API tokens ----------------------------------------------------------------------


@pytest.fixture(params=["cross13_analyst", "landlord_13h"])
def token_persona(request, persona, in_process_wsgi):
    """A persona's personal API token (an analyst's whole view, a landlord's reduced one),
    beside a deal point: no session cookie, no CSRF token."""
    from cartostup.access.account_services import api_token_create

    _beside_a_dealpoint(persona)
    return api_token_create(actor=persona(request.param), name="fuzz", days=1).value


@pytest.mark.django_db
@STAFF_API.parametrize()
@FUZZ_PERSONAS
def test_staff_api_by_token(case, token_persona, public_api_settings):
    """Every staff operation called with `Authorization: Bearer <token>` alone, writes included
    (no CSRF token: a token needs none): no 5xx, responses conform to the schema, every refusal
    explained, and a success replayed without the token is a 401. (Schemathesis's own "ignored
    auth" check cannot judge it: the schema offers the token or the session, and its replay
    with a generated session cookie keeps the token header, so the call rightly succeeds.)"""
    _skip_unsendable(case)
    if "headers" in _negative_components(case):
        # A generated (invalid) Authorization header is replaced by the token on the call.
        reject()
    response = case.call(headers={"Authorization": f"Bearer {token_persona}"})
    assert response.status_code < 500, response.text
    assert response.status_code != 401, response.text
    case.validate_response(response, excluded_checks=[positive_data_acceptance, ignored_auth])
    _check_explained(case, response)
    if response.status_code < 300 and case.method.upper() == "GET":
        if case.headers:
            case.headers.pop("Authorization", None)
        without = case.call()
        assert without.status_code == 401, without.text
        headers = {name.lower(): value for name, value in without.headers.items()}
        assert headers["www-authenticate"] == ['Bearer realm="Cartostup"'], headers


def _check_explained(case, response) -> None:
    """Every refusal says what and why: JSON {"detail", "code"} (HEAD has no body)."""
    if 400 <= response.status_code < 500 and case.method.upper() != "HEAD":
        assert response.status_code in EXPLAINED_4XX, response.text
        body = response.json()
        assert body["detail"] and body["code"], "a 4xx must explain what is wrong"
