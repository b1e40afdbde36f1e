"""The audit chain: events verify, and every kind of tampering is found where it happened."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cartostup.core.audit import (
    GENESIS_HASH,
    audit_chain_problems,
    audit_record,
    chained_at_the_end,
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
    before = AuditEvent.objects.order_by("sequence").last()
    events = _chain(persona)
    first = events[0].sequence
    assert [event.sequence for event in events] == list(range(first, first + 5))
    assert events[0].previous_hash == (before.hash if before else GENESIS_HASH)
    assert all(b.previous_hash == a.hash for a, b in pairwise(events))
    assert list(audit_chain_problems()) == []
    head = AuditChainHead.objects.get()
    assert (head.last_sequence, head.last_hash) == (events[-1].sequence, events[-1].hash)


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
    third = _chain(persona)[2].sequence
    AuditEvent.objects.filter(sequence=third).update(**{field: value})
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [third]
    assert "modifié" in problems[0].message


def test_altered_hash_breaks_the_next_link(persona):
    events = _chain(persona)
    second = events[1].sequence
    AuditEvent.objects.filter(sequence=second).update(details={"forged": True})
    event = AuditEvent.objects.get(sequence=second)
    AuditEvent.objects.filter(sequence=second).update(hash=compute_hash(event))
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [events[2].sequence]
    assert "lien" in problems[0].message


def test_deleted_event_in_the_middle_detected(persona):
    third = _chain(persona)[2].sequence
    AuditEvent.objects.filter(sequence=third).delete()
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [third, third + 1]
    assert f"n° {third} manque" in problems[0].message
    assert "lien" in problems[1].message


def test_deleted_last_events_detected_by_head(persona):
    events = _chain(persona)
    fourth = events[3].sequence
    AuditEvent.objects.filter(sequence__gte=fourth).delete()
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [fourth]
    assert f"n° {fourth - 1}" in problems[0].message
    assert f"n° {events[-1].sequence}" in problems[0].message


def test_deleted_head_row_detected(persona):
    events = _chain(persona)
    AuditChainHead.objects.all().delete()
    assert _sequences(audit_chain_problems()) == [events[-1].sequence]


def test_forged_event_appended_detected(persona):
    events = _chain(persona)
    forged = AuditEvent(
        sequence=events[-1].sequence + 1,
        occurred_at=datetime.now(tz=UTC),
        actor_username="intruder",
        action=AuditAction.VIEW,
        previous_hash=events[-1].hash,
        details={},
    )
    forged.hash = compute_hash(forged)
    forged.save(force_insert=True)
    problems = list(audit_chain_problems())
    assert _sequences(problems) == [forged.sequence]
    assert "ajoutés" in problems[0].message


def test_forged_event_inserted_in_a_gap_detected(persona):
    events = _chain(persona)
    AuditEvent.objects.filter(sequence=events[2].sequence).delete()
    forged = AuditEvent(
        sequence=events[2].sequence,
        occurred_at=datetime.now(tz=UTC),
        actor_username="intruder",
        action=AuditAction.VIEW,
        previous_hash=events[1].hash,
        details={},
    )
    forged.hash = compute_hash(forged)
    forged.save(force_insert=True)
    # The forged event is well formed, but the next one does not point to it.
    assert _sequences(audit_chain_problems()) == [events[3].sequence]


def test_hash_stable_across_database_round_trip(persona):
    details: dict[Any, Any] = {
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
    events = _chain(persona, count=7)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    total = AuditEvent.objects.count()
    assert total >= 7 and events[-1].sequence == total
    assert f"Journal d'audit intègre : {total} événements vérifiés." in out.getvalue()


def test_verify_command_on_empty_chain():
    AuditEvent.objects.all().delete()
    AuditChainHead.objects.all().delete()
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "Journal d'audit intègre : 0 événements vérifiés." in out.getvalue()


def test_verify_command_lists_problems_and_fails(persona):
    events = _chain(persona)
    AuditEvent.objects.filter(sequence=events[1].sequence).update(object_id="forged")
    AuditEvent.objects.filter(sequence=events[4].sequence).delete()
    err = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("audit_verify", stdout=StringIO(), stderr=err, batch_size=2)
    assert raised.value.returncode == 1
    output = err.getvalue()
    assert f"Événement n° {events[1].sequence} : le contenu de l'événement a été modifié." in output
    assert f"Événement n° {events[4].sequence}" in output


def test_verify_command_exit_code(persona):
    """Through the real entry point: exit code 1 and the message on stderr."""
    from django.core.management import execute_from_command_line

    events = _chain(persona, count=2)
    AuditEvent.objects.filter(sequence=events[0].sequence).update(action=AuditAction.DELETE)
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


def _head_queries(run) -> list[str]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run()
    return [q["sql"] for q in queries if "core_auditchainhead" in q["sql"].lower()]


def test_the_events_of_a_block_are_chained_at_its_end(persona):
    """`chained_at_the_end` (an import of thousands of points): the head is not read, hence
    not locked, while the block writes; its events are chained at the end, in the order
    written, each with its own time, and the chain verifies. A block that raises chains
    nothing; a block inside another drops only what it gathered."""
    admin = persona("admin")
    before = AuditEvent.objects.count()

    def write(number: int) -> None:
        audit_record(actor=admin, action=AuditAction.CREATE, object_id=str(number))

    with chained_at_the_end():

        def first_two() -> None:
            write(1)
            write(2)

        assert _head_queries(first_two) == []
        with pytest.raises(ValueError), chained_at_the_end():
            write(3)
            raise ValueError
        write(4)
        assert AuditEvent.objects.count() == before
    events = list(AuditEvent.objects.order_by("sequence")[before:])
    assert [event.object_id for event in events] == ["1", "2", "4"]
    assert all(a.occurred_at <= b.occurred_at for a, b in pairwise(events))
    assert list(audit_chain_problems()) == []
    with pytest.raises(RuntimeError), chained_at_the_end():
        write(5)
        raise RuntimeError
    assert AuditEvent.objects.count() == before + 3


def test_an_event_s_object_keeps_the_capitals_of_its_name():
    """A new user's review: « Jeton d'accès à l'api », « Antenne ofast » in the audit log
    (the whole label was lower-cased after its first letter)."""
    labels = {
        AuditEvent(object_type=label).object_type_label
        for label in ("access.apitoken", "territories.antenna", "territories.priorityneighbourhood")
    }
    assert {"Jeton d'accès à l'API", "Antenne Ofast"} <= labels
    assert any(label.endswith("(QPV)") for label in labels)
