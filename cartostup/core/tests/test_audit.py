"""The audit chain: events verify, and every kind of tampering is found where it happened."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cartostup.core.audit import (
    GENESIS_HASH,
    audit_chain_problems,
    audit_record,
    compute_hash,
    json_safe,
)
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db


def _chain(persona, count: int = 5) -> list[AuditEvent]:
    admin = persona("admin")
    return [
        audit_record(
            actor=admin,
            action=AuditAction.VIEW,
            object_type="access.organisation",
            object_id=str(number),
            details={"fields": ["name"], "count": number},
        )
        for number in range(1, count + 1)
    ]


def _sequences(problems) -> list[int]:
    return [problem.sequence for problem in problems]


def test_chain_of_events_verifies(persona):
    events = _chain(persona)
    assert [event.sequence for event in events] == [1, 2, 3, 4, 5]
    assert events[0].previous_hash == GENESIS_HASH
    assert all(b.previous_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert list(audit_chain_problems()) == []
    head = AuditChainHead.objects.get()
    assert (head.last_sequence, head.last_hash) == (5, events[-1].hash)


def test_event_records_actor_organisation_and_reference(persona):
    admin = persona("admin")
    event = audit_record(actor=admin, action=AuditAction.UPDATE, target=admin, details={})
    assert event.actor_id == admin.pk
    assert event.actor_username == "admin"
    assert event.organisation_name == "Administration de Cartostup"
    assert (event.object_type, event.object_id) == ("access.user", str(admin.pk))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor_username", "someone_else"),
        ("action", AuditAction.DELETE),
        ("object_id", "999"),
        ("details", {"fields": ["kind"], "count": 3}),
        ("occurred_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("reason", "forged"),
        ("organisation_id", 12345),
    ],
)
def test_altered_field_detected_at_its_sequence(persona, field, value):
    _chain(persona)
    AuditEvent.objects.filter(sequence=3).update(**{field: value})
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [3]
    assert "modifié" in problems[0].message


def test_altered_hash_breaks_the_next_link(persona):
    _chain(persona)
    event = AuditEvent.objects.get(sequence=2)
    AuditEvent.objects.filter(sequence=2).update(details={"forged": True})
    event.refresh_from_db()
    AuditEvent.objects.filter(sequence=2).update(hash=compute_hash(event))
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [3]
    assert "lien" in problems[0].message


def test_deleted_event_in_the_middle_detected(persona):
    _chain(persona)
    AuditEvent.objects.filter(sequence=3).delete()
    problems = list(audit_chain_problems())
    assert 3 in _sequences(problems)
    assert any("n° 3 manque" in problem.message for problem in problems)


def test_deleted_last_events_detected_by_head(persona):
    _chain(persona)
    AuditEvent.objects.filter(sequence__gte=4).delete()
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [4]
    assert "n° 3" in problems[0].message and "n° 5" in problems[0].message


def test_deleted_head_row_detected(persona):
    _chain(persona)
    AuditChainHead.objects.all().delete()
    assert _sequences(audit_chain_problems()) == [5]


def test_forged_event_appended_detected(persona):
    events = _chain(persona)
    forged = AuditEvent(
        sequence=6,
        occurred_at=datetime.now(tz=UTC),
        actor_username="intruder",
        action=AuditAction.VIEW,
        previous_hash=events[-1].hash,
        details={},
    )
    forged.hash = compute_hash(forged)
    forged.save(force_insert=True)
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [6]
    assert "ajoutés" in problems[0].message


def test_forged_event_inserted_in_a_gap_detected(persona):
    events = _chain(persona)
    AuditEvent.objects.filter(sequence=3).delete()
    forged = AuditEvent(
        sequence=3,
        occurred_at=datetime.now(tz=UTC),
        actor_username="intruder",
        action=AuditAction.VIEW,
        previous_hash=events[1].hash,
        details={},
    )
    forged.hash = compute_hash(forged)
    forged.save(force_insert=True)
    # The forged event is well formed, but the next one does not point to it.
    assert _sequences(audit_chain_problems()) == [4]


def test_hash_stable_across_database_round_trip(persona):
    details = {
        "filters": {"action": "view", "date_after": "2024-01-01"},
        "count": 2**40,
        "ratio": 1e20,
        "nested": [{"b": 1, "a": [True, None]}],
        "texte": "évènement « accentué » \x00",
        3: "numeric key",
    }
    event = audit_record(actor=persona("admin"), action=AuditAction.LIST, details=details)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.occurred_at == event.occurred_at
    assert stored.details == event.details
    assert compute_hash(stored) == event.hash == stored.hash
    values = AuditEvent.objects.values().get(pk=event.pk)
    assert compute_hash(values) == event.hash
    assert list(audit_chain_problems()) == []
    assert connection.vendor in {"sqlite", "postgresql"}


def test_json_safe_canonical_forms():
    assert json_safe({1: 1.5, "d": datetime(2024, 5, 1, 12, tzinfo=UTC), "s": {"b", "a"}}) == {
        "1": "1.5",
        "d": "2024-05-01T12:00:00.000000+00:00",
        "s": ["a", "b"],
    }


def test_verify_command_reports_intact_chain(persona):
    _chain(persona, count=7)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "Journal d'audit intègre : 7 événements vérifiés." in out.getvalue()


def test_verify_command_on_empty_chain():
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "Journal d'audit intègre : 0 événements vérifiés." in out.getvalue()


def test_verify_command_lists_problems_and_fails(persona):
    _chain(persona)
    AuditEvent.objects.filter(sequence=2).update(object_id="forged")
    AuditEvent.objects.filter(sequence=5).delete()
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("audit_verify", stdout=StringIO(), stderr=err, batch_size=2)
    assert raised.value.returncode == 1
    output = err.getvalue()
    assert "Événement n° 2 : le contenu de l'événement a été modifié." in output
    assert "Événement n° 5" in output


def test_verify_command_exit_code(persona):
    """Through the real entry point: exit code 1 and the message on stderr."""
    from django.core.management import execute_from_command_line

    _chain(persona, count=2)
    AuditEvent.objects.filter(sequence=1).update(action=AuditAction.DELETE)
    with pytest.raises(SystemExit) as raised:
        execute_from_command_line(["manage.py", "audit_verify"])
    assert raised.value.code == 1


def test_head_row_locked_while_appending(persona):
    """Concurrent writers queue on the head row (PostgreSQL: SELECT ... FOR UPDATE)."""
    from django.test.utils import CaptureQueriesContext

    admin = persona("admin")
    audit_record(actor=admin, action=AuditAction.VIEW)
    with CaptureQueriesContext(connection) as queries:
        audit_record(actor=admin, action=AuditAction.VIEW)
    head_reads = [q["sql"] for q in queries if "core_auditchainhead" in q["sql"].lower()]
    assert head_reads
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in head_reads[0]
