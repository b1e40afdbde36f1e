"""The access matrix: every URL of the application, visited as every persona (and anonymously),
answers what `access_matrix.csv` declares. A URL missing from the table fails the test, so each
new page must state who may see it.

Placeholders in paths name objects of the demo data: `{organisation:cross13}` (an organisation by
its key in `core/personas.py`), `{user:cross13_analyst}`, `{membership:cross13_analyst}`,
`{building:landlord_13h}` (a building of that landlord), `{antenna:Marseille}`,
`{sharing_group}`, `{audit_event}`, `{report:13}` (a report with a photo in that département,
filed through the public intake service), `{dealpoint:13}` (a deal point of Marseille on a
building of landlord_13h; `{dealpoint_code:13}` its partner code), `{proposal}`, `{alert}`,
`{operation}` (of that point), `{link}` (its report link), `{api_token:cross13_analyst}` (a
personal API token of that user).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from cartostup.access.account_services import api_token_create
from cartostup.access.models import Building, Membership, Organisation, SharingGroup, User
from cartostup.access.services import building_create, demo_organisations_ensure
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.core.personas import ORGANISATIONS, PERSONA_NAMES
from cartostup.reports import services as report_services
from cartostup.reports.choices import Activity, Channel, Precision
from cartostup.territories.models import Antenna
from conftest import login_verified

MATRIX = Path(__file__).with_name("access_matrix.csv")
ANONYMOUS = "anonymous"
# Not application pages: Django's own admin (superusers only, behind the same second factor),
# the language switch (a POST-only redirect), static files.
IGNORED_NAMESPACES = ("admin:",)
IGNORED_NAMES = {"set_language"}


def url_names(patterns=None, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            names |= url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(namespace + pattern.name)
    return {
        name
        for name in names
        if not name.startswith(IGNORED_NAMESPACES) and name not in IGNORED_NAMES
    }


def read_matrix() -> list[dict[str, str]]:
    with MATRIX.open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if not row["name"].startswith("#")]


def test_every_url_is_in_the_matrix():
    declared = {row["name"] for row in read_matrix()}
    missing = url_names() - declared
    assert not missing, f"URL absentes de access_matrix.csv : {sorted(missing)}"
    unknown = declared - url_names()
    assert not unknown, f"URL inconnues dans access_matrix.csv : {sorted(unknown)}"


def test_every_persona_is_a_column():
    with MATRIX.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:2] == ["name", "path"]
    assert set(header[2:]) == {ANONYMOUS, *PERSONA_NAMES}


def _matrix_photo() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile("matrice.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def matrix_objects(persona):
    organisations = demo_organisations_ensure()
    users = {name: persona(name) for name in PERSONA_NAMES}
    building = building_create(
        actor=users["landlord_13h"],
        name="Bâtiment matrice",
        address="12 allée des Amandiers, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
    )
    group = SharingGroup.objects.create(
        name="Groupe matrice", owner_organisation=organisations["police13"]
    )
    group.organisations.set([organisations["police13"], organisations["customs13"]])
    event = audit_record(actor=users["admin"], action=AuditAction.SEARCH, object_type="matrice")
    report_13 = report_services.report_submit_public(
        data=report_services.ReportInput(
            latitude=43.3460,
            longitude=5.3960,
            precision=Precision.BUILDING,
            activities=[Activity.SELLING],
            photo=_matrix_photo(),
        ),
        channel=Channel.WEB,
    ).report
    dealpoint_13 = _matrix_dealpoint(users["cross13_analyst"], building)
    api_token = api_token_create(actor=users["cross13_analyst"], name="matrice", days=1).token
    return {
        "organisations": organisations,
        "users": users,
        "building": building,
        "group": group,
        "event": event,
        "reports": {"13": report_13},
        "dealpoints": {"13": dealpoint_13},
        "api_tokens": {"cross13_analyst": api_token},
    }


def _matrix_dealpoint(analyst, building):
    """A deal point on landlord_13h's building, with an accepted report, a raid, an open
    proposal of a new point and a resurgence alert (all in Marseille)."""
    from datetime import date

    from cartostup.dealpoints import services as dealpoint_services
    from cartostup.dealpoints.choices import AlertKind
    from cartostup.dealpoints.models import Alert, Proposal

    report = report_services.report_submit_public(
        data=report_services.ReportInput(
            latitude=43.3453,
            longitude=5.3950,
            precision=Precision.BUILDING,
            activities=[Activity.SELLING],
        ),
        channel=Channel.WEB,
    ).report
    report = report_services.report_accept(actor=analyst, report=report)
    dealpoint = dealpoint_services.dealpoint_create(
        actor=analyst,
        data=dealpoint_services.DealPointInput(
            latitude=43.3452, longitude=5.3949, building_id=building.pk, products=["cannabis"]
        ),
        reports=[report],
    )
    dealpoint_services.operation_record(
        actor=analyst,
        dealpoint=dealpoint,
        data=dealpoint_services.OperationInput(kind="raid", occurred_on=date.today()),
    )
    shared = {
        "owner_organisation": dealpoint.owner_organisation,
        "commune": dealpoint.commune,
        "departement": dealpoint.departement,
        "distribution": "cross",
    }
    proposal = Proposal.objects.create(
        **shared,
        precision=Precision.STREET,
        **dealpoint_services.cells_for(43.3470, 5.3990),
        latitude=43.3470,
        longitude=5.3990,
    )
    Alert.objects.create(**shared, kind=AlertKind.RESURGENCE, dealpoint=dealpoint, report=report)
    del proposal
    return dealpoint


def resolve_path(template: str, objects) -> str:
    def replace(match: re.Match[str]) -> str:
        kind, _, key = match.group(1).partition(":")
        if kind == "organisation":
            return str(objects["organisations"][key].pk)
        if kind == "user":
            return str(objects["users"][key].pk)
        if kind == "membership":
            return str(Membership.objects.get(user=objects["users"][key]).pk)
        if kind == "building":
            owner = objects["organisations"][key]
            return str(Building.objects.filter(owner_organisation=owner).earliest("pk").pk)
        if kind == "antenna":
            return str(Antenna.objects.get(name=key).pk)
        if kind == "sharing_group":
            return str(objects["group"].pk)
        if kind == "api_token":
            return str(objects["api_tokens"][key].pk)
        if kind == "audit_event":
            return str(objects["event"].pk)
        if kind == "report":
            return str(objects["reports"][key].pk)
        if kind == "dealpoint":
            return str(objects["dealpoints"][key].pk)
        if kind == "dealpoint_code":
            return str(objects["dealpoints"][key].partner_code)
        if kind in {"proposal", "alert", "operation", "link"}:
            from cartostup.dealpoints.models import Alert, Operation, Proposal, ReportLink

            model = {
                "proposal": Proposal,
                "alert": Alert,
                "operation": Operation,
                "link": ReportLink,
            }[kind]
            return str(model._default_manager.earliest("pk").pk)
        raise AssertionError(f"espace réservé inconnu : {match.group(0)}")

    return re.sub(r"\{([^}]+)\}", replace, template)


@pytest.mark.django_db
def test_access_matrix(matrix_objects):
    rows = read_matrix()
    clients = {ANONYMOUS: Client()}
    for name in PERSONA_NAMES:
        clients[name] = login_verified(Client(), matrix_objects["users"][name])
    differences = []
    for row in rows:
        path = resolve_path(row["path"], matrix_objects)
        for who, client in clients.items():
            expected = int(row[who])
            status = client.get(path).status_code
            if status != expected:
                differences.append(
                    f"{row['name']} {path} {who}: attendu {expected}, obtenu {status}"
                )
    assert not differences, "\n".join(differences)
    # The visits left only audit events, no other record.
    assert Organisation.objects.count() == len(ORGANISATIONS)
    assert User.objects.count() == len(PERSONA_NAMES)
    from cartostup.dealpoints.models import DealPoint

    assert DealPoint.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.VIEW).exists()


@pytest.mark.django_db
def test_access_matrix_by_api_token(matrix_objects):
    """A personal API token acts exactly as its user: every API address of the matrix answers
    a persona's token what it answers the persona's session (no new access path). A role that
    may not use tokens (operator, auditor, administrator) gets 401 even from a token written
    straight into the database."""
    from datetime import timedelta

    from django.utils import timezone

    from cartostup.access import policy, tokens
    from cartostup.access.models import ApiToken

    headers = {}
    for name in PERSONA_NAMES:
        user = matrix_objects["users"][name]
        if policy.can(user, policy.Capability.USE_API_TOKENS):
            value = api_token_create(actor=user, name="matrice", days=1).value
        else:
            value, prefix, secret = tokens.token_generate()
            ApiToken.objects.create(
                user=user,
                name="matrice",
                prefix=prefix,
                digest=tokens.token_digest(secret),
                expires_at=timezone.now() + timedelta(days=1),
            )
        headers[name] = {"Authorization": f"Bearer {value}"}
    client = Client()
    differences = []
    for row in read_matrix():
        if not row["path"].startswith("/api/v1/"):
            continue
        path = resolve_path(row["path"], matrix_objects)
        for name in PERSONA_NAMES:
            user = matrix_objects["users"][name]
            may = policy.can(user, policy.Capability.USE_API_TOKENS)
            expected = int(row[name]) if may or int(row[name]) == 405 else 401
            status = client.get(path, headers=headers[name]).status_code
            if status != expected:
                differences.append(
                    f"{row['name']} {path} {name}: attendu {expected}, obtenu {status}"
                )
    assert not differences, "\n".join(differences)
