"""Soak and fault test: `python -m bench.soak [--duration 120] [--clients 8] [--no-restart]`.

Bounded in time, loopback only. It prepares a PostgreSQL database of its own
(`cartostup_soak` on 127.0.0.1:5432 as user postgres, kept between runs: created when missing,
migrated, the territories of the Bouches-du-Rhône, Seine-Saint-Denis and Rhône loaded, the demo
data seeded with `seed_demo`), starts gunicorn (`config/gunicorn.conf.py`, 3 sync workers,
`config.settings.bench`: rate limits out of the way, proof of work at a low difficulty the
clients really solve) on 127.0.0.1:8610, logs the staff personas in over HTTP (password, then
the current TOTP code of their demo device), and for `--duration` seconds drives a mixed
workload from `--clients` threads over real HTTP: the table `ACTIONS` (name, weight, who runs
it); add a row to extend it. Fixed fines (amendes forfaitaires délictuelles) are not in the
application yet: the workload has none, and says so.

Faults, at set fractions of the duration: one gunicorn worker killed with SIGKILL (the master
respawns it), PostgreSQL restarted once (`pg_ctlcluster <version> main restart`: the machine's
shared server; `--no-restart` skips it), the server connections of the soak database
terminated (`pg_terminate_backend`: no error window, the workers must reconnect), and garbage
uploads (random bytes as a photo, a truncated multipart body, a body that is not JSON, invalid
UTF-8), which must each get a 4xx with a JSON `detail`.

Every record the workload creates carries a token of this run in a free-text field; after the
run it checks that every 2xx that created something was stored exactly once (lost,
duplicated), counts the records stored without a 2xx (requests cut by a fault), checks that
no partial record exists (`partial_records`), runs `manage.py audit_verify`, and that no error
(5xx, connection error) happened outside the fault windows: a few seconds around the
restart, and the requests in flight on the killed worker. Prints the counts, writes
`bench/results/soak-<date>.json`, exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    PG_SERVER,
    ROOT,
    child_pids,
    environment,
    gunicorn_start,
    gunicorn_stop,
    log,
    pg_database_ensure,
)
from bench.intake import report_payload
from bench.territories import machine

RESULTS = ROOT / "bench" / "results"
PG_DATABASE = "cartostup_soak"
DEPARTEMENTS = "13,93,69"
WORKERS = 3
POW_DIFFICULTY = 12
# Fault times, as fractions of the duration.
KILL_AT, GARBAGE_AT, RESTART_AT, TERMINATE_AT = 0.2, 0.35, 0.55, 0.8
# Errors are allowed from this long before the restart command to this long after it returns.
RESTART_BEFORE_S, RESTART_AFTER_S = 1.0, 3.0
TIMEOUT_S = 30.0

# Where each persona works (its CROSS's département), and where the public reports come from.
PLACES = {
    "13": (43.3452, 5.3949),  # Marseille 14e
    "93": (48.936, 2.357),  # Saint-Denis
    "69": (45.697, 4.886),  # Vénissieux
}
STAFF = (
    ("cross13_analyst", "13"),
    ("cross93_analyst", "93"),
    ("cross69_analyst", "69"),
    ("antenna13_analyst", "13"),
    ("ofast_analyst", "93"),
)
FINES_NOTE = (
    "fixed fines (amendes forfaitaires délictuelles) are not in the application yet (a later "
    "issue): the workload has no fine action"
)


# --- verification (Django; also used by tests/soak) ----------------------------------------------

TOKEN = re.compile(r"soak-[0-9a-f]+-\d+")
# What the workload creates, and the free-text field that carries its token.
TOKEN_FIELDS = {
    "report": ("reports.Report", "description", {}),
    "dealpoint": ("dealpoints.DealPoint", "notes", {}),
    "dealpoint_edit": ("dealpoints.DealPointEvent", "note", {"kind": "edited"}),
    "operation": ("dealpoints.Operation", "notes", {}),
}


def token_prefix(run: str) -> str:
    return f"soak-{run}-"


def stored_tokens(run: str) -> dict[str, Counter[str]]:
    """How many rows of each kind carry each token of the run."""
    from django.apps import apps

    found: dict[str, Counter[str]] = {}
    for kind, (label, name, extra) in TOKEN_FIELDS.items():
        model = apps.get_model(label)
        texts = model.objects.filter(
            **extra, **{f"{name}__contains": token_prefix(run)}
        ).values_list(name, flat=True)
        found[kind] = Counter(
            token
            for text in texts
            for token in TOKEN.findall(text)
            if token.startswith(token_prefix(run))
        )
    return found


def stored_once(
    answered: Mapping[str, Collection[str]], run: str, refused: Collection[str] = ()
) -> dict[str, int]:
    """`lost`: tokens a 2xx answered that no row carries; `duplicated`: tokens carried by more
    than one row (answered or not); `refused_stored`: tokens of requests that had to be refused
    (the garbage uploads) found in a row; `stored_unanswered`: other rows whose request got no
    2xx (cut by a fault: not a failure, counted apart)."""
    found = stored_tokens(run)
    lost = duplicated = unanswered = refused_stored = 0
    for kind, counts in found.items():
        expected = set(answered.get(kind, ()))
        lost += sum(1 for token in expected if counts[token] == 0)
        duplicated += sum(1 for count in counts.values() if count > 1)
        refused_stored += sum(1 for token in counts if token in refused)
        unanswered += sum(1 for token in counts if token not in expected and token not in refused)
    return {
        "lost": lost,
        "duplicated": duplicated,
        "refused_stored": refused_stored,
        "stored_unanswered": unanswered,
    }


def _beyond_sequence(references: list[str], last: Mapping[str, int]) -> int:
    """References (`PD-13-0042`, `SIG-13-000042`) numbered past the counter of the département
    they name."""
    beyond = 0
    for reference in references:
        parts = reference.split("-")
        if len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) > last.get(parts[1], 0):
            beyond += 1
    return beyond


def partial_records(run: str = "") -> dict[str, int]:
    """Records that exist without what must come with them (every count must be 0):

    - a deal point without its creation event (created, imported or split), its audit event,
      its H3 cells, or a reference within its département's counter;
    - a report with half a receipt (its key without its hash, or the reverse), a report of
      the run (`run`) without its receipt, a report without its H3 cell, a commune in its
      département, or a reference within its département's counter;
    - an operation without its deal point, its history event or its audit event;
    - a report link without one of its ends."""
    from django.db import connection
    from django.db.models import CharField, Exists, F, OuterRef, Q
    from django.db.models.functions import Cast

    from cartostup.core.choices import AuditAction
    from cartostup.core.models import AuditEvent
    from cartostup.dealpoints.choices import EventKind
    from cartostup.dealpoints.models import DealPoint, DealPointEvent, DealPointSequence, Operation
    from cartostup.reports.models import Report, ReportSequence

    def unaudited(model: Any, label: str) -> int:
        """Rows of `model` without their creation (or import) audit event, counted in SQL."""
        audited = AuditEvent.objects.filter(
            object_type=label,
            action__in=[AuditAction.CREATE, AuditAction.IMPORT],
            object_id=Cast(OuterRef("pk"), CharField()),
        )
        return int(model.objects.filter(~Exists(audited)).count())

    created = DealPointEvent.objects.filter(
        dealpoint=OuterRef("pk"),
        kind__in=[EventKind.CREATED, EventKind.IMPORTED, EventKind.SPLIT],
    )
    point_counters = dict(DealPointSequence.objects.values_list("departement_code", "last_value"))
    report_counters = dict(ReportSequence.objects.values_list("departement__code", "last_value"))
    operation_events = {
        str(details.get("operation"))
        for details in DealPointEvent.objects.filter(kind=EventKind.OPERATION).values_list(
            "details", flat=True
        )
        if isinstance(details, dict)
    }
    operations = list(Operation.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM dealpoints_operation o LEFT JOIN dealpoints_dealpoint d "
            "ON d.id = o.dealpoint_id WHERE d.id IS NULL"
        )
        orphan_operations = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM dealpoints_reportlink l "
            "LEFT JOIN reports_report r ON r.id = l.report_id "
            "LEFT JOIN dealpoints_dealpoint d ON d.id = l.dealpoint_id "
            "WHERE r.id IS NULL OR d.id IS NULL"
        )
        orphan_links = cursor.fetchone()[0]
    return {
        "dealpoint_without_creation_event": DealPoint.objects.filter(~Exists(created)).count(),
        "dealpoint_without_audit_event": unaudited(DealPoint, "dealpoints.dealpoint"),
        "dealpoint_without_cells": DealPoint.objects.filter(
            Q(h3_cell="") | Q(h3_r5="") | Q(h3_r7="") | Q(h3_r9="")
        ).count(),
        "dealpoint_beyond_sequence": _beyond_sequence(
            list(DealPoint.objects.values_list("reference", flat=True)), point_counters
        ),
        # Demo reports may have lost their receipt (both parts empty); half a receipt is partial.
        "report_with_half_a_receipt": Report.objects.filter(
            Q(receipt_key__isnull=True, receipt_hash__gt="")
            | Q(receipt_key__isnull=False, receipt_hash="")
        ).count(),
        "report_of_the_run_without_receipt": Report.objects.filter(
            Q(receipt_key__isnull=True) | Q(receipt_hash=""),
            description__contains=token_prefix(run),
        ).count()
        if run
        else 0,
        "report_without_cells": Report.objects.filter(h3_cell="").count(),
        "report_outside_its_departement": Report.objects.exclude(
            commune__departement_id=F("departement_id")
        ).count(),
        "report_beyond_sequence": _beyond_sequence(
            list(Report.objects.values_list("reference", flat=True)), report_counters
        ),
        "operation_without_dealpoint": orphan_operations,
        "operation_without_event": sum(1 for pk in operations if str(pk) not in operation_events),
        "operation_without_audit_event": unaudited(Operation, "dealpoints.operation"),
        "link_without_both_ends": orphan_links,
    }


def audit_verify() -> tuple[bool, str]:
    """`manage.py audit_verify` on the database: (passed, its last line)."""
    from django.core.management import CommandError, call_command

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", stdout=out, stderr=err)
    except CommandError as error:
        return False, f"{error} {err.getvalue().strip()[-300:]}"
    lines = out.getvalue().strip().splitlines()
    return True, lines[0] if lines else ""


# --- HTTP clients --------------------------------------------------------------------------------


@dataclass
class Outcome:
    action: str
    started: float
    ended: float
    status: int | None  # None: connection error
    expected_4xx: bool = False


@dataclass
class Recorder:
    """Every request's outcome and the tokens of the 2xx answers that created something."""

    origin: float
    outcomes: list[Outcome] = field(default_factory=list)
    answered: dict[str, list[str]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.origin

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    def created(self, kind: str, token: str) -> None:
        with self.lock:
            self.answered.setdefault(kind, []).append(token)


class Session:
    """Cookies of one login (shared by the clients of one persona)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}
        self.lock = threading.Lock()

    def header(self) -> str:
        with self.lock:
            return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def update(self, response: http.client.HTTPResponse) -> None:
        for line in response.headers.get_all("Set-Cookie") or []:
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(line)
            with self.lock:
                for name, morsel in cookie.items():
                    self.cookies[name] = morsel.value


def http_call(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    content_type: str = "application/json",
    session: Session | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    """One request on a new connection (gunicorn's sync workers close it after each answer),
    never retried: a POST sent twice could be stored twice."""
    headers = {"Host": "127.0.0.1"}
    if body is not None:
        headers["Content-Type"] = content_type
    if session is not None:
        headers["Cookie"] = session.header()
        if method not in {"GET", "HEAD"}:
            headers["X-CSRFToken"] = session.cookies.get("csrftoken", "")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if session is not None:
        session.update(response)
    return response.status, data, response


@dataclass
class Persona:
    username: str
    departement: str
    session: Session
    points: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def remember(self, pk: int) -> None:
        with self.lock:
            self.points.append(pk)

    def some_point(self, rng: random.Random) -> int | None:
        with self.lock:
            return rng.choice(self.points) if self.points else None


@dataclass
class Client:
    """One client thread's context: the actions call `request`."""

    port: int
    run: str
    rng: random.Random
    recorder: Recorder
    persona: Persona | None
    receipts: list[str]
    counter: Callable[[], int]
    photo: bytes

    def token(self) -> str:
        return f"{token_prefix(self.run)}{self.counter()}"

    def request(
        self,
        action: str,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        expected_4xx: bool = False,
    ) -> tuple[int | None, Any]:
        if payload is not None:
            body = json.dumps(payload).encode()
        started = self.recorder.now()
        status: int | None
        try:
            status, data, _response = http_call(
                self.port,
                method,
                path,
                body=body,
                content_type=content_type,
                session=self.persona.session if self.persona else None,
            )
        except (OSError, http.client.HTTPException):
            status, data = None, b""
        self.recorder.add(Outcome(action, started, self.recorder.now(), status, expected_4xx))
        try:
            parsed = json.loads(data) if data[:1] in (b"{", b"[") else None
        except ValueError:
            parsed = None
        return status, parsed

    def near(self, departement: str, spread: float = 0.01) -> tuple[float, float]:
        latitude, longitude = PLACES[departement]
        return (
            round(latitude + self.rng.uniform(-spread, spread), 6),
            round(longitude + self.rng.uniform(-spread, spread), 6),
        )


# --- the workload: one function per action, a table of actions with their weights ----------------


def _challenge(client: Client, action: str) -> str | None:
    from cartostup.reports.pow import pow_solve

    status, body = client.request(action, "GET", "/api/public/v1/challenge")
    if status != 200 or not body:
        return None
    return f"{body['challenge']}|{pow_solve(body['challenge'], body['difficulty'])}"


def _report(client: Client, token: str, challenge: str) -> dict[str, Any]:
    value, nonce = challenge.split("|")
    data = report_payload(client.rng, value)
    data["latitude"], data["longitude"] = client.near(client.rng.choice(list(PLACES)))
    data["nonce"] = nonce
    data["description"] = f"Vente au pied de l'immeuble ({token})."
    return data


def _public_submit(client: Client, action: str, *, photo: bool) -> None:
    """A public report (JSON, or multipart with the photo); its token and receipt kept when it
    is stored."""
    challenge = _challenge(client, action)
    if challenge is None:
        return
    token = client.token()
    data = _report(client, token, challenge)
    if photo:
        body, content_type = multipart(_fields(data), client.photo)
        status, answer = client.request(
            action, "POST", "/api/public/v1/reports", body=body, content_type=content_type
        )
    else:
        status, answer = client.request(action, "POST", "/api/public/v1/reports", data)
    if status == 201 and answer:
        client.recorder.created("report", token)
        client.receipts.append(answer["receipt"])


def public_report(client: Client) -> None:
    _public_submit(client, "public_report", photo=False)


def multipart(fields: list[tuple[str, str]], photo: bytes | None) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    chunks = [part.encode() for part in parts]
    if photo is not None:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
            'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + photo
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _fields(data: dict[str, Any]) -> list[tuple[str, str]]:
    fields = []
    for name, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            fields.append((name, str(item)))
    return fields


def public_report_photo(client: Client) -> None:
    _public_submit(client, "public_report_photo", photo=True)


def public_followup(client: Client) -> None:
    if not client.receipts:
        return public_report(client)
    receipt = client.rng.choice(client.receipts)
    client.request("public_followup", "POST", "/api/public/v1/followup", {"receipt": receipt})
    return None


def _bbox(client: Client, zoom: int) -> str:
    assert client.persona is not None
    latitude, longitude = client.near(client.persona.departement, 0.005)
    half = {10: 0.4, 13: 0.05, 16: 0.008}[zoom]
    return f"{longitude - half * 1.4},{latitude - half},{longitude + half * 1.4},{latitude + half}"


def _map_layer(client: Client, layer: str) -> None:
    zoom = client.rng.choice([10, 13, 16])
    query = urlencode({"bbox": _bbox(client, zoom), "zoom": zoom})
    client.request(f"map_{layer}", "GET", f"/api/v1/map/{layer}/?{query}")


def map_dealpoints(client: Client) -> None:
    _map_layer(client, "dealpoints")


def map_reports(client: Client) -> None:
    _map_layer(client, "reports")


def dealpoint_search(client: Client) -> None:
    assert client.persona is not None
    query: dict[str, Any] = client.rng.choice(
        [
            {"q": "soak", "limit": 20},
            {"status": "reported", "limit": 50},
            {"departement": client.persona.departement, "limit": 50},
            {"limit": 100, "offset": 0},
        ]
    )
    status, body = client.request(
        "dealpoint_search", "GET", f"/api/v1/dealpoints/?{urlencode(query)}"
    )
    if status == 200 and body and not client.persona.points:
        for point in body.get("results", [])[:20]:
            client.persona.remember(point["id"])


def report_list(client: Client) -> None:
    query = client.rng.choice([{"status": "new"}, {"status": "accepted"}, {}])
    client.request("report_list", "GET", f"/signalements/tri/?{urlencode(query)}")


def _known_point(client: Client, otherwise: Callable[[Client], None]) -> int | None:
    """A deal point the persona has seen; when it knows none yet, `otherwise` runs instead
    (a search or a creation, which teaches it some) and the answer is None."""
    assert client.persona is not None
    pk = client.persona.some_point(client.rng)
    if pk is None:
        otherwise(client)
    return pk


def dealpoint_read(client: Client) -> None:
    pk = _known_point(client, dealpoint_search)
    if pk is not None:
        client.request("dealpoint_read", "GET", f"/api/v1/dealpoints/{pk}/")


def dealpoint_history(client: Client) -> None:
    pk = _known_point(client, dealpoint_search)
    if pk is not None:
        client.request("dealpoint_history", "GET", f"/api/v1/dealpoints/{pk}/history/?limit=20")


def dealpoint_create(client: Client) -> None:
    assert client.persona is not None
    token = client.token()
    latitude, longitude = client.near(client.persona.departement)
    status, body = client.request(
        "dealpoint_create",
        "POST",
        "/api/v1/dealpoints/",
        {
            "latitude": latitude,
            "longitude": longitude,
            "precision": "building",
            "name": f"Point soak {token[-6:]}",
            "channel": "fixed",
            "products": ["cannabis"],
            "notes": f"Créé par le test d'endurance ({token}).",
        },
    )
    if status == 201 and body:
        client.recorder.created("dealpoint", token)
        client.persona.remember(body["id"])


def dealpoint_patch(client: Client) -> None:
    pk = _known_point(client, dealpoint_create)
    if pk is None:
        return
    token = client.token()
    status, _body = client.request(
        "dealpoint_patch",
        "PATCH",
        f"/api/v1/dealpoints/{pk}/",
        {"address": f"{token.rsplit('-', 1)[1]} rue de l'Endurance", "note": token},
    )
    if status == 200:
        client.recorder.created("dealpoint_edit", token)


def operation_create(client: Client) -> None:
    pk = _known_point(client, dealpoint_create)
    if pk is None:
        return
    token = client.token()
    outcome = client.rng.choice(["none", "disrupted", "seizure"])
    status, _body = client.request(
        "operation_create",
        "POST",
        f"/api/v1/dealpoints/{pk}/operations/",
        {
            "kind": client.rng.choice(["raid", "arrests", "surveillance"]),
            "occurred_on": date.today().isoformat(),
            "outcome": outcome,
            # « Sans résultat » arrests no one (the service refuses the contradiction).
            "arrests": 0 if outcome == "none" else client.rng.randint(0, 3),
            "notes": f"Opération du test d'endurance ({token}).",
        },
    )
    if status == 201:
        client.recorder.created("operation", token)


def operation_list(client: Client) -> None:
    client.request("operation_list", "GET", "/api/v1/operations/?limit=20")


@dataclass(frozen=True)
class Action:
    name: str
    weight: int
    staff: bool  # run by a logged-in persona (else anonymous, the public API)
    run: Callable[[Client], None]


# The workload. To extend it (fixed fines when they exist, ...), add a function and a row.
ACTIONS: tuple[Action, ...] = (
    Action("public_report", 10, False, public_report),
    Action("public_report_photo", 2, False, public_report_photo),
    Action("public_followup", 3, False, public_followup),
    Action("map_dealpoints", 5, True, map_dealpoints),
    Action("map_reports", 4, True, map_reports),
    Action("dealpoint_search", 3, True, dealpoint_search),
    Action("report_list", 2, True, report_list),
    Action("dealpoint_read", 4, True, dealpoint_read),
    Action("dealpoint_history", 1, True, dealpoint_history),
    Action("dealpoint_create", 3, True, dealpoint_create),
    Action("dealpoint_patch", 2, True, dealpoint_patch),
    Action("operation_create", 2, True, operation_create),
    Action("operation_list", 1, True, operation_list),
)


# --- garbage uploads -----------------------------------------------------------------------------


def garbage(client: Client) -> list[dict[str, Any]]:
    """Bad uploads; each must get a 4xx with a JSON `detail`, and store nothing."""
    results = []
    rng = client.rng
    token = client.token()
    client.recorder.refused.append(token)
    challenge = _challenge(client, "garbage_challenge") or "unused|0"
    fields = _fields(_report(client, token, challenge))
    cases: list[tuple[str, bytes, str]] = []
    body, content_type = multipart(fields, rng.randbytes(50_000))
    cases.append(("random bytes as a photo", body, content_type))
    body, content_type = multipart(fields, client.photo)
    cases.append(("truncated multipart", body[: len(body) // 2], content_type))
    cases.append(("body that is not JSON", rng.randbytes(2_000), "application/json"))
    cases.append(("invalid UTF-8 in JSON", b'{"description": "\xff\xfe\xfa"}', "application/json"))
    for name, body, content_type in cases:
        status, answer = client.request(
            "garbage",
            "POST",
            "/api/public/v1/reports",
            body=body,
            content_type=content_type,
            expected_4xx=True,
        )
        results.append(
            {
                "case": name,
                "status": status,
                "clear": bool(
                    status is not None
                    and 400 <= status < 500
                    and isinstance(answer, dict)
                    and answer.get("detail")
                ),
            }
        )
    return results


# --- preparation, login, run ---------------------------------------------------------------------


def prepare(rebuild: bool) -> float:
    """Create (or reuse) the database, migrate, load the territories, seed the demo."""
    from django.core.management import call_command

    from cartostup.territories.models import Commune

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    loaded = set(
        Commune.objects.filter(geometry__isnull=False)
        .values_list("departement__code", flat=True)
        .distinct()
    )
    if rebuild or not set(DEPARTEMENTS.split(",")) <= loaded:
        log(f"loading the territories of {DEPARTEMENTS}")
        call_command("load_territories", departements=DEPARTEMENTS, verbosity=0)
    call_command("seed_demo", verbosity=0)
    return time.perf_counter() - started


def _totp_code(username: str) -> str:
    """The current code of the persona's demo device, waiting for the next step when this one
    was already used (django-otp refuses a replayed code)."""
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cartostup.access.account_services import DEMO_DEVICE_NAME

    device = TOTPDevice.objects.get(user__username=username, name=DEMO_DEVICE_NAME, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if device.last_t >= totp.t():
        time.sleep(device.step - (time.time() - device.t0) % device.step + 0.5)
        totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def login(port: int, username: str) -> Session:
    """Log in over HTTP as a demo persona: password, then second factor."""
    from cartostup.access.account_services import DEMO_PASSWORD

    session = Session()
    http_call(port, "GET", "/comptes/connexion/", session=session)

    def form(path: str, values: dict[str, str]) -> int:
        values = {**values, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
        status, _data, _response = http_call(
            port,
            "POST",
            path,
            body=urlencode(values).encode(),
            content_type="application/x-www-form-urlencoded",
            session=session,
        )
        return status

    if form("/comptes/connexion/", {"username": username, "password": DEMO_PASSWORD}) != 302:
        raise RuntimeError(f"{username}: password refused")
    if form("/comptes/second-facteur/", {"code": _totp_code(username)}) != 302:
        raise RuntimeError(f"{username}: second factor refused")
    status, _data, _response = http_call(
        port, "GET", "/api/v1/operations/?limit=1", session=session
    )
    if status != 200:
        raise RuntimeError(f"{username}: the API answers {status} after login")
    return session


def _photo() -> bytes:
    from PIL import Image

    image = Image.effect_noise((96, 64), 40).convert("RGB")
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=80)
    return output.getvalue()


def postgres_version() -> str:
    """The version of the local PostgreSQL cluster, from /etc/postgresql/<version>/main."""
    versions = sorted(
        (path.parent.name for path in Path("/etc/postgresql").glob("*/main")),
        key=lambda value: [int(part) for part in value.split(".") if part.isdigit()],
    )
    if not versions:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql")
    return versions[-1]


def terminate_connections(database: str) -> int:
    """End every server connection to `database` (`pg_terminate_backend`), as a failover or an
    idle timeout would: the workers' persistent connections break. No error window: the next
    request of each worker must reconnect, not fail."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass
class Fault:
    kind: str
    at_s: float
    until_s: float
    wall: str
    detail: dict[str, Any] = field(default_factory=dict)


def drive(
    *,
    port: int,
    master: int,
    duration: float,
    clients: int,
    restart: bool,
    run: str,
    personas: list[Persona],
    seed: int,
) -> tuple[Recorder, list[Fault]]:
    recorder = Recorder(origin=time.monotonic())
    faults: list[Fault] = []
    receipts: list[str] = []
    lock = threading.Lock()
    sequence = iter(range(1, 10**9))
    photo = _photo()

    def counter() -> int:
        with lock:
            return next(sequence)

    public = [action for action in ACTIONS if not action.staff]
    staff = [action for action in ACTIONS if action.staff]
    public_clients = max(1, clients * 3 // 8)

    def worker(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        persona = None if number < public_clients else personas[number % len(personas)]
        client = Client(port, run, rng, recorder, persona, receipts, counter, photo)
        actions = public if persona is None else staff
        weights = [action.weight for action in actions]
        while recorder.now() < duration:
            rng.choices(actions, weights)[0].run(client)

    def fault(kind: str, started: float, wall: str, **detail: Any) -> None:
        faults.append(Fault(kind, round(started, 2), round(recorder.now(), 2), wall, dict(detail)))

    def injector() -> None:
        schedule = [(KILL_AT, "kill"), (GARBAGE_AT, "garbage"), (TERMINATE_AT, "terminate")]
        if restart:
            schedule.append((RESTART_AT, "restart"))
        schedule.sort()
        for fraction, kind in schedule:
            time.sleep(max(0.0, fraction * duration - recorder.now()))
            started, wall = recorder.now(), _wall()
            if kind == "kill":
                workers = child_pids(master)
                victim = workers[0]
                os.kill(victim, signal.SIGKILL)
                respawned = None
                while recorder.now() < started + 60:
                    current = child_pids(master)
                    if victim not in current and len(current) >= len(workers):
                        respawned = round(recorder.now() - started, 2)
                        break
                    time.sleep(0.05)
                fault("worker SIGKILL", started, wall, pid=victim, respawned_after_s=respawned)
            elif kind == "garbage":
                client = Client(port, run, random.Random(seed), recorder, None, [], counter, photo)
                fault("garbage uploads", started, wall, cases=garbage(client))
            elif kind == "terminate":
                fault(
                    "PostgreSQL connections terminated",
                    started,
                    wall,
                    connections=terminate_connections(PG_DATABASE),
                )
            else:
                command = ["pg_ctlcluster", postgres_version(), "main", "restart"]
                result = subprocess.run(command, capture_output=True, text=True, check=False)
                fault(
                    "PostgreSQL restart",
                    started,
                    wall,
                    command=" ".join(command),
                    returncode=result.returncode,
                    stderr=result.stderr.strip()[-300:],
                )

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    threads.append(threading.Thread(target=injector, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 120)
    return recorder, faults


def _wall() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def classify(outcomes: list[Outcome], faults: list[Fault]) -> dict[str, int]:
    """Errors (5xx, connection errors) and unexpected 4xx inside and outside the fault windows:
    a few seconds around the restart, and the requests in flight when a worker was killed or
    the database connections were terminated (a session saved on a terminated connection is
    Django's 400 "session interrupted")."""
    windows = []
    for fault in faults:
        if fault.kind == "PostgreSQL restart":
            windows.append((fault.at_s - RESTART_BEFORE_S, fault.until_s + RESTART_AFTER_S))
        elif fault.kind in {"worker SIGKILL", "PostgreSQL connections terminated"}:
            windows.append((fault.at_s, fault.until_s))
    counts = Counter[str]()
    for outcome in outcomes:
        if outcome.status is None or outcome.status >= 500:
            family = "errors"
        elif outcome.status >= 400 and not outcome.expected_4xx:
            family = "unexpected_4xx"
        else:
            continue
        inside = any(outcome.started <= end and outcome.ended >= start for start, end in windows)
        counts[f"{family}_{'inside' if inside else 'outside'}_windows"] += 1
    return {
        name: counts[name]
        for name in (
            "errors_inside_windows",
            "errors_outside_windows",
            "unexpected_4xx_inside_windows",
            "unexpected_4xx_outside_windows",
        )
    }


def soak(
    *, duration: float, clients: int, port: int, restart: bool, rebuild: bool, seed: int
) -> dict[str, Any]:
    database_url = pg_database_ensure(PG_DATABASE, drop=rebuild)
    data_dir = ROOT / "var" / "bench-soak"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = environment(
        DJANGO_SETTINGS_MODULE="config.settings.bench",
        DATABASE_URL=database_url,
        CARTOSTUP_DATA_DIR=str(data_dir),
        CARTOSTUP_DEMO="1",
        CARTOSTUP_BENCH_POW_DIFFICULTY=str(POW_DIFFICULTY),
    )
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connections

    log(f"preparing {PG_DATABASE} (départements {DEPARTEMENTS}, seed_demo)")
    prepare_s = prepare(rebuild)
    connections.close_all()
    gunicorn_log = data_dir / "gunicorn.log"
    process = gunicorn_start(env=env, port=port, workers=WORKERS, log=gunicorn_log)
    run = secrets.token_hex(4)
    try:
        personas = []
        for username, departement in STAFF[: max(1, clients - max(1, clients * 3 // 8))]:
            personas.append(Persona(username, departement, login(port, username)))
        connections.close_all()
        log(
            f"gunicorn {WORKERS} workers on 127.0.0.1:{port}; {clients} clients for "
            f"{duration:.0f} s; proof of work {POW_DIFFICULTY} bits; run {run}; "
            f"staff: {', '.join(p.username for p in personas)}"
        )
        log(FINES_NOTE)
        started_wall = datetime.now(UTC)
        recorder, faults = drive(
            port=port,
            master=process.pid,
            duration=duration,
            clients=clients,
            restart=restart,
            run=run,
            personas=personas,
            seed=seed,
        )
        elapsed = recorder.now()
    finally:
        gunicorn_stop(process)
    connections.close_all()
    log("verifying")
    stored = stored_once(recorder.answered, run, recorder.refused)
    partial = partial_records(run)
    audit_ok, audit_line = audit_verify()
    windows = classify(recorder.outcomes, faults)

    per_action: dict[str, dict[str, int]] = {}
    totals = Counter[str]()
    for outcome in recorder.outcomes:
        row = per_action.setdefault(outcome.action, Counter())
        family = "error" if outcome.status is None else f"{outcome.status // 100}xx"
        row[family] += 1
        row["requests"] += 1
        totals[family] += 1
    garbage_cases = [case for fault in faults for case in fault.detail.get("cases", [])]
    garbage_unclear = sum(1 for case in garbage_cases if not case["clear"])
    kill = next((f for f in faults if f.kind == "worker SIGKILL"), None)
    checks = {
        "lost": stored["lost"] == 0,
        "duplicated": stored["duplicated"] == 0,
        "partial_records": not any(partial.values()),
        "audit_verify": audit_ok,
        "errors_outside_windows": windows["errors_outside_windows"] == 0,
        "garbage_refused_clearly": bool(garbage_cases) and garbage_unclear == 0,
        "garbage_not_stored": stored["refused_stored"] == 0,
        "no_unexpected_4xx_outside_windows": windows["unexpected_4xx_outside_windows"] == 0,
        "worker_respawned": kill is not None and kill.detail.get("respawned_after_s") is not None,
        "postgres_restarted": not restart
        or any(f.kind == "PostgreSQL restart" and f.detail["returncode"] == 0 for f in faults),
    }
    info = machine()
    return {
        "benchmark": "soak",
        "date": started_wall.isoformat(timespec="seconds"),
        "machine_cpu": info["cpu"],
        "machine_cores": info["cores"],
        "database": f"PostgreSQL {postgres_version()} ({PG_DATABASE})",
        "gunicorn_workers": WORKERS,
        "clients": clients,
        "pow_difficulty": POW_DIFFICULTY,
        "prepare_s": round(prepare_s, 1),
        "duration_s": round(elapsed, 1),
        "requests": len(recorder.outcomes),
        "requests_per_s": round(len(recorder.outcomes) / elapsed, 1),
        "status_2xx": totals["2xx"],
        "status_3xx": totals["3xx"],
        "status_4xx": totals["4xx"],
        "status_5xx": totals["5xx"],
        "connection_errors": totals["error"],
        "unexpected_4xx": windows["unexpected_4xx_inside_windows"]
        + windows["unexpected_4xx_outside_windows"],
        **windows,
        "created_answered": sum(len(tokens) for tokens in recorder.answered.values()),
        **stored,
        "partial_records": sum(partial.values()),
        "audit_verify": audit_line,
        "garbage_requests": len(garbage_cases),
        "garbage_unclear": garbage_unclear,
        "postgres_restart": restart,
        "faults_injected": len(faults),
        "worker_respawned_after_s": kill.detail.get("respawned_after_s") if kill else None,
        "postgres_restart_s": next(
            (round(f.until_s - f.at_s, 1) for f in faults if f.kind == "PostgreSQL restart"), None
        ),
        "faults": [fault.__dict__ for fault in faults],
        "per_action": per_action,
        "partial_checks": partial,
        "fines": FINES_NOTE,
        "checks": checks,
        "passed": all(checks.values()),
    }


def print_result(result: dict[str, Any]) -> None:
    print()
    print(
        f"soak on {result['database']}, gunicorn {result['gunicorn_workers']} workers, "
        f"{result['clients']} clients, proof of work {result['pow_difficulty']} bits"
    )
    print(
        f"  duration {result['duration_s']} s, requests {result['requests']} "
        f"({result['requests_per_s']}/s): 2xx {result['status_2xx']}, 4xx {result['status_4xx']} "
        f"(unexpected {result['unexpected_4xx']}), 5xx {result['status_5xx']}, connection "
        f"errors {result['connection_errors']}"
    )
    print(f"  {'action':22} {'requests':>8} {'2xx':>6} {'4xx':>5} {'5xx':>5} {'error':>5}")
    for action, row in sorted(result["per_action"].items()):
        print(
            f"  {action:22} {row.get('requests', 0):>8} {row.get('2xx', 0):>6} "
            f"{row.get('4xx', 0):>5} {row.get('5xx', 0):>5} {row.get('error', 0):>5}"
        )
    print(f"  {result['fines']}")
    print("  faults:")
    for fault in result["faults"]:
        detail = {k: v for k, v in fault["detail"].items() if k != "cases"}
        print(
            f"    {fault['wall']} UTC (t={fault['at_s']} s to {fault['until_s']} s) "
            f"{fault['kind']} {detail or ''}"
        )
        for case in fault["detail"].get("cases", []):
            print(f"      {case['case']}: {case['status']} ({'clear' if case['clear'] else 'NOT'})")
    if not result["postgres_restart"]:
        print("    (PostgreSQL restart skipped: --no-restart)")
    print(
        f"  errors (5xx, connection) inside the fault windows: "
        f"{result['errors_inside_windows']}, outside: {result['errors_outside_windows']}; "
        f"unexpected 4xx inside: {result['unexpected_4xx_inside_windows']}, outside: "
        f"{result['unexpected_4xx_outside_windows']}"
    )
    print(
        f"  created and answered 2xx: {result['created_answered']}, lost: {result['lost']}, "
        f"duplicated: {result['duplicated']}, garbage stored: {result['refused_stored']}, "
        f"stored without a 2xx (cut by a fault): {result['stored_unanswered']}"
    )
    partial = ", ".join(f"{k} {v}" for k, v in result["partial_checks"].items() if v) or "none"
    print(f"  partial records: {result['partial_records']} ({partial})")
    print(f"  audit_verify: {result['audit_verify']}")
    failed = [name for name, ok in result["checks"].items() if not ok]
    print(f"  {'PASSED' if result['passed'] else 'FAILED: ' + ', '.join(failed)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of workload")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=8610)
    parser.add_argument(
        "--no-restart", action="store_true", help="do not restart the shared PostgreSQL"
    )
    parser.add_argument("--rebuild", action="store_true", help="drop the soak database first")
    parser.add_argument("--seed", type=int, default=20_261_127)
    args = parser.parse_args(argv)
    result = soak(
        duration=args.duration,
        clients=max(2, args.clients),
        port=args.port,
        restart=not args.no_restart,
        rebuild=args.rebuild,
        seed=args.seed,
    )
    print_result(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"soak-{datetime.now(UTC):%Y-%m-%d}.json"
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"-> {output.relative_to(ROOT)}")
    if not result["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
