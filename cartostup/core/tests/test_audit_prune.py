"""Retention of the audit log: the oldest events are archived, then pruned; what stays is
verified from its new anchor, and so are the archives, which link to it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cartostup.core.audit import (
    AuditPruneRefused,
    archive_problems,
    archives_problems,
    audit_chain_problems,
    audit_prune,
    audit_record,
)
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db

CUT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _retention(settings):
    """Events before CUT are past the retention period (30 days here)."""
    settings.AUDIT_RETENTION_DAYS = 30


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
    archive = result.archive
    assert archive is not None
    lines = archive.read_text().splitlines()
    assert json.loads(lines[0])["previous_hash"] == "0" * 64
    assert [json.loads(line)["hash"] for line in lines[1:]] == [h for _s, h in before[:old]]
    assert list(archive_problems(archive)) == []
    # Nothing older is left: a second prune archives nothing.
    assert audit_prune(before=CUT, directory=tmp_path).count == 0


def test_what_is_kept_is_still_checked_from_its_anchor(persona, tmp_path):
    old = _events(persona, old=3, recent=3)
    audit_prune(before=CUT, directory=tmp_path)
    # The first kept event deleted: said missing, and the next one's link broken.
    AuditEvent.objects.filter(sequence=old + 1).delete()
    assert [p.sequence for p in audit_chain_problems()] == [old + 1, old + 2]
    # Every event kept deleted: the chain stops before the last event recorded, and nothing
    # says why it starts where it does (the prune's own event is gone too).
    AuditEvent.objects.all().delete()
    head = AuditChainHead.objects.get()
    problems = list(audit_chain_problems())
    assert [p.sequence for p in problems] == [head.first_sequence] * 2
    assert "l'explique" in problems[1].message


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
    (archive,) = Path(tmp_path, "audit-archives").glob("*.jsonl")
    assert f"archivés dans {archive} puis effacés du journal" in out.getvalue()
    assert not AuditEvent.objects.filter(sequence__lte=old).exists()
    out = StringIO()
    call_command("audit_verify", "--archive", str(archive), stdout=out)
    assert f"archive intègre, {old} événements" in out.getvalue()
    with pytest.raises(CommandError, match="Date --before invalide"):
        call_command("audit_prune", "--before", "31/12/2025", stdout=StringIO())


def test_events_deleted_and_the_anchor_moved_by_hand_are_found(persona, tmp_path):
    """A code review: with the anchor on the head, deleting the oldest rows and moving the
    anchor past them verified. The last prune's own event must explain where the chain
    starts."""
    old = _events(persona, old=3, recent=4)
    audit_prune(before=CUT, directory=tmp_path)
    assert list(audit_chain_problems()) == []
    start = old + 2
    AuditEvent.objects.filter(sequence__lt=start).delete()
    AuditChainHead.objects.filter(singleton=1).update(
        first_sequence=start,
        first_previous_hash=AuditEvent.objects.get(sequence=start).previous_hash,
    )
    problems = list(audit_chain_problems())
    assert [p.sequence for p in problems] == [start]
    assert "sans que le dernier archivage (audit_prune) l'explique" in problems[0].message
    # Nor does the next prune explain them away (a second review: its own event would).
    with pytest.raises(AuditPruneRefused, match="l'explique"):
        audit_prune(before=CUT, directory=tmp_path)
    assert [p.sequence for p in audit_chain_problems()] == [start]


def test_a_date_within_the_retention_period_is_refused(persona, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    _events(persona, old=2, recent=1)
    with pytest.raises(AuditPruneRefused, match="se conserve 30 jours"):
        audit_prune(before=timezone.now() - timedelta(days=10), directory=tmp_path)
    with pytest.raises(CommandError, match="se conserve 30 jours"):
        call_command("audit_prune", "--before", timezone.now().date().isoformat())
    assert [
        path for path in tmp_path.rglob("*") if path.is_file() and "lock" not in path.name
    ] == []


def test_batches_make_archives_that_follow_each_other_and_the_chain(persona, tmp_path):
    old = _events(persona, old=5, recent=1)
    archives: list[Path] = []
    while (result := audit_prune(before=CUT, directory=tmp_path, batch=2)).count:
        assert result.archive is not None
        archives.append(result.archive)
    assert len(archives) == (old + 1) // 2
    assert all(oct(os.stat(path).st_mode & 0o777) == "0o600" for path in archives)
    assert list(audit_chain_problems()) == []
    checks = archives_problems(archives)
    assert [check.problems for check in checks] == [[]] * len(archives)
    # One left out: a gap; the oldest or the newest left out: the history is not whole.
    checks = archives_problems(archives[:1] + archives[2:])
    assert any("ne suit pas l'archive" in p.message for c in checks for p in c.problems)
    checks = archives_problems(archives[1:])
    assert any("commencent au n°" in p.message for c in checks for p in c.problems)
    checks = archives_problems(archives[:-1])
    assert any("s'arrêtent au n°" in p.message for c in checks for p in c.problems)
    # An unreadable file is said, the others still checked.
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b"\xff\xfe")
    checks = archives_problems([broken, *archives])
    assert [check.problems for check in checks[1:]] == [[]] * len(archives)
    assert "illisible" in checks[0].problems[0].message
    # The first cut short, its header rewritten to match: whole alone, not among the others.
    first = archives[0]
    lines = first.read_text().splitlines()
    assert len(lines) == 3  # its header and two events
    header = json.loads(lines[0])
    header["last_sequence"] -= 1
    first.write_text("\n".join([json.dumps(header), lines[1]]) + "\n")
    assert list(archive_problems(first)) == []
    found = {check.path: check.problems for check in archives_problems(archives)}
    assert any("aucun archivage enregistré" in p.message for p in found[first])
    assert any("ne suit pas l'archive" in p.message for p in found[archives[1]])


def test_a_failure_after_the_archive_is_written_leaves_nothing(persona, tmp_path, monkeypatch):
    from cartostup.core import audit

    _events(persona, old=3, recent=1)
    count = AuditEvent.objects.count()

    def fails(**kwargs):
        raise RuntimeError("panne")

    monkeypatch.setattr(audit, "audit_record", fails)
    with pytest.raises(RuntimeError):
        audit_prune(before=CUT, directory=tmp_path)
    assert AuditEvent.objects.count() == count
    assert list(tmp_path.iterdir()) == []
    assert AuditChainHead.objects.get().first_sequence == 1


def test_an_archive_a_stopped_run_left_is_named_or_removed(persona, tmp_path):
    old = _events(persona, old=3, recent=1)
    # A run stopped before its commit: its events are still in the chain.
    stale = tmp_path / f"audit-{1:012d}-{old:012d}-20260101T000000Z.jsonl.partial"
    stale.write_text("{}\n")
    archive = audit_prune(before=CUT, directory=tmp_path).archive
    assert archive is not None
    assert not stale.exists()
    assert [path.name for path in tmp_path.iterdir()] == [archive.name]
    # A run stopped after its commit: its events are gone, its archive is named.
    done = archive.with_name(archive.name + ".partial")
    archive.rename(done)
    audit_prune(before=CUT, directory=tmp_path)
    assert archive.exists() and not done.exists()
    # Neither (a range pruned, a digest no prune recorded): set aside, never an archive.
    stray = tmp_path / f"audit-{1:012d}-{2:012d}-20260102T000000Z.jsonl.partial"
    stray.write_text("{}\n")
    audit_prune(before=CUT, directory=tmp_path)
    assert not stray.exists()
    assert stray.with_name(stray.name.removesuffix(".partial") + ".orphan").exists()


def test_a_dry_run_writes_nothing_and_held_events_are_said(persona, tmp_path):
    old = _events(persona, old=3, recent=1)
    audit_record(actor=None, action=AuditAction.CREATE, coarse_time=True)
    from cartostup.core.models import AuditPendingEvent

    result = audit_prune(before=CUT, directory=tmp_path, dry_run=True)
    assert (result.count, AuditPendingEvent.objects.count()) == (old, 1)
    assert list(tmp_path.iterdir()) == []
    # The first event newer than the date: the older ones behind it wait, and are counted.
    AuditEvent.objects.filter(sequence=1).update(occurred_at=CUT + timedelta(days=1))
    _rehash()
    result = audit_prune(before=CUT, directory=tmp_path)
    assert (result.count, result.held, result.held_behind) == (0, old - 1, 1)


def test_an_event_dated_in_the_future_blocking_the_retention_fails_the_command(
    persona, tmp_path, settings
):
    settings.DATA_DIR = tmp_path
    _events(persona, old=3, recent=0)
    AuditEvent.objects.filter(sequence=1).update(occurred_at=timezone.now() + timedelta(days=400))
    _rehash()
    with pytest.raises(CommandError, match="dans le futur"):
        call_command("audit_prune", stdout=StringIO())
