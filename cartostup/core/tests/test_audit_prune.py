"""Retention of the audit log: the oldest events are archived, then pruned; what stays is
verified from its new anchor, and so are the archives, which link to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cartostup.core.audit import (
    AuditPruneRefused,
    archive_problems,
    audit_chain_problems,
    audit_prune,
    audit_record,
)
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db

CUT = datetime(2026, 6, 1, tzinfo=UTC)


def _events(persona, *, old: int, recent: int) -> int:
    """`old` events before CUT (after those that making the account wrote, dated back too),
    then `recent` after it; returns the number of old events."""
    admin = persona("admin")
    already = AuditEvent.objects.count()
    for number in range(old + recent):
        audit_record(
            actor=admin,
            action=AuditAction.VIEW,
            object_type="access.organisation",
            object_id=str(number),
            details={"count": number},
        )
    old += already
    for event in AuditEvent.objects.order_by("sequence")[:old]:
        # Moved back in time as they would have been written (the hash covers the date).
        AuditEvent.objects.filter(pk=event.pk).update(occurred_at=CUT - timedelta(days=30))
    _rehash()
    return old


def _rehash() -> None:
    """Recompute the chain after dating events back (what time would have written)."""
    from cartostup.core.audit import compute_hash

    previous = "0" * 64
    for event in AuditEvent.objects.order_by("sequence"):
        event.previous_hash = previous
        event.hash = compute_hash(event)
        event.save(update_fields=["previous_hash", "hash"])
        previous = event.hash
    AuditChainHead.objects.filter(singleton=1).update(last_hash=previous)


def test_the_oldest_events_are_archived_then_pruned_and_the_rest_verifies(persona, tmp_path):
    old = _events(persona, old=4, recent=3)
    before = list(AuditEvent.objects.order_by("sequence").values_list("sequence", "hash"))
    result = audit_prune(before=CUT, directory=tmp_path)
    assert (result.first, result.last, result.count) == (1, old, old)
    kept = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    # The three recent ones, and the prune's own event, at the end of the chain.
    assert kept == [old + 1, old + 2, old + 3, old + 4]
    prune = AuditEvent.objects.get(sequence=old + 4)
    assert prune.action == AuditAction.DELETE and prune.object_type == "core.auditevent"
    assert prune.details["pruned_from"] == 1 and prune.details["pruned_to"] == old
    assert prune.details["archive_sha256"] == result.digest
    head = AuditChainHead.objects.get()
    assert (head.first_sequence, head.first_previous_hash) == (old + 1, before[old - 1][1])
    assert head.archive_digest == result.digest
    assert list(audit_chain_problems()) == []
    # The archive: a header, then the four events as they were hashed; it verifies, and its
    # last link is the chain's anchor.
    lines = result.archive.read_text().splitlines()
    assert json.loads(lines[0])["previous_hash"] == "0" * 64
    assert [json.loads(line)["hash"] for line in lines[1:]] == [h for _s, h in before[:old]]
    assert list(archive_problems(result.archive)) == []
    # Nothing older is left: a second prune archives nothing.
    assert audit_prune(before=CUT, directory=tmp_path).count == 0


def test_what_is_kept_is_still_checked_from_its_anchor(persona, tmp_path):
    old = _events(persona, old=3, recent=3)
    audit_prune(before=CUT, directory=tmp_path)
    # The first kept event deleted: said missing, and the next one's link broken.
    AuditEvent.objects.filter(sequence=old + 1).delete()
    assert [p.sequence for p in audit_chain_problems()] == [old + 1, old + 2]
    # Every event kept deleted: the chain stops before the last event recorded.
    AuditEvent.objects.all().delete()
    head = AuditChainHead.objects.get()
    assert [p.sequence for p in audit_chain_problems()] == [head.first_sequence]


def test_an_altered_archive_is_found(persona, tmp_path):
    _events(persona, old=3, recent=1)
    archive = audit_prune(before=CUT, directory=tmp_path).archive
    assert archive is not None
    lines = archive.read_text().splitlines()
    second = json.loads(lines[2])
    second["object_id"] = "999"
    lines[2] = json.dumps(second)
    archive.write_text("\n".join(lines) + "\n")
    assert [p.sequence for p in archive_problems(archive)] == [2]
    with pytest.raises(CommandError):
        call_command(
            "audit_verify", "--archive", str(archive), stdout=StringIO(), stderr=StringIO()
        )


def test_a_broken_chain_is_not_pruned(persona, tmp_path):
    _events(persona, old=3, recent=1)
    AuditEvent.objects.filter(sequence=2).update(object_id="forged")
    count = AuditEvent.objects.count()
    with pytest.raises(AuditPruneRefused):
        audit_prune(before=CUT, directory=tmp_path)
    assert AuditEvent.objects.count() == count
    assert list(tmp_path.iterdir()) == []
    assert AuditChainHead.objects.get().first_sequence == 1


def test_a_run_ends_at_the_first_recent_event(persona, tmp_path):
    """An anonymous act is chained after its hour is over: an event of the run that is more
    recent than the date ends the run, the older ones after it stay (in chain order)."""
    old = _events(persona, old=4, recent=0)
    AuditEvent.objects.filter(sequence=old - 1).update(occurred_at=CUT + timedelta(hours=1))
    _rehash()
    result = audit_prune(before=CUT, directory=tmp_path)
    assert (result.first, result.last) == (1, old - 2)
    assert list(audit_chain_problems()) == []


def test_the_command_prunes_after_the_retention_period_and_says_so(persona, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    old = _events(persona, old=2, recent=1)
    settings.AUDIT_RETENTION_DAYS = (timezone.now() - CUT).days
    out = StringIO()
    call_command("audit_prune", "--dry-run", stdout=out)
    said = out.getvalue()
    assert f"{old} événement(s), n° 1 à {old}" in said and "rien n'a été écrit" in said
    assert AuditEvent.objects.count() == old + 1
    out = StringIO()
    call_command("audit_prune", stdout=out)
    (archive,) = Path(tmp_path, "audit-archives").iterdir()
    assert f"archivés dans {archive} puis effacés du journal" in out.getvalue()
    assert not AuditEvent.objects.filter(sequence__lte=old).exists()
    out = StringIO()
    call_command("audit_verify", "--archive", str(archive), stdout=out)
    assert f"archive intègre, {old} événements" in out.getvalue()
    with pytest.raises(CommandError, match="Date --before invalide"):
        call_command("audit_prune", "--before", "31/12/2025", stdout=StringIO())
