"""Writing and verifying the hash-chained audit trail (design §4).

Each event carries the SHA-256 of its own fields and of the previous event's hash; the single
`AuditChainHead` row records the last link. Altering, deleting or inserting an event, or cutting
events from the end, breaks the chain and `manage.py audit_verify` reports where.

The hash is computed over a canonical form that survives a round trip through SQLite and
PostgreSQL unchanged: dates in UTC with microseconds, JSON details restricted to strings,
integers, booleans, nulls, lists and objects (no floats: PostgreSQL's `jsonb` rewrites `1e+20` as
`100000000000000000000`), keys sorted.

Retention. Events are kept `settings.AUDIT_RETENTION_DAYS` days (3 years, design §4), then
pruned so that what remains stays verifiable (`audit_prune`): the pruned events are first
archived (with their hashes) to a file the operator copies to write-once storage, then deleted,
and the first remaining event's `previous_hash` becomes the anchor the verification starts from
(recorded on the chain's head with the archive's own digest), instead of the genesis hash.
Deleting old rows without re-anchoring makes every later verification report a gap, which is
exactly what it must do for an unrecorded deletion.

Limits. The chain is not keyed: someone able to rewrite the database could recompute every hash
after a forged event and update the head row. Publishing or recording the head hash elsewhere
(`audit_verify` prints it) at regular intervals detects that too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from .choices import AuditAction
from .models import AuditChainHead, AuditEvent, AuditPendingEvent

if TYPE_CHECKING:
    from cartostup.access.models import Organisation, User

GENESIS_HASH = "0" * 64
# The attribute the API's token authentication sets on the user it returns (the token's id):
# every event of such a request says it came by that token (never its secret).
VIA_API_TOKEN = "cartostup_api_token_id"
HASHED_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_username",
    "organisation_id",
    "organisation_name",
    "action",
    "object_type",
    "object_id",
    "reason",
    "on_behalf_of",
    "details",
    "previous_hash",
)


def _canonical_datetime(value: datetime) -> str:
    if timezone.is_naive(value):
        # A naive value can only come from a database without time zone support; Django keeps
        # UTC there when USE_TZ is on.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return _canonical_datetime(value)
    return value


def _clean_text(value: str) -> str:
    # PostgreSQL rejects NUL characters in text and jsonb; SQLite would keep them, so the two
    # databases would disagree. Replace them before anything is stored or hashed.
    return value.replace("\x00", "\ufffd")


def json_safe(value: Any) -> Any:
    """The details in the form both databases give back unchanged: strings, integers, booleans,
    null, lists and objects with string keys. Dates become ISO strings, floats and anything else
    their string form."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, datetime):
        return _canonical_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {_clean_text(str(key)): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, models.Model):
        return str(value.pk)
    return _clean_text(str(value))


def compute_hash(event: AuditEvent | Mapping[str, Any]) -> str:
    """SHA-256 over the event's fields in a canonical JSON form (sorted keys, UTC dates).

    Accepts an event or a mapping of its field values (as `QuerySet.values()` gives)."""
    if isinstance(event, Mapping):
        payload = {name: _canonical(event[name]) for name in HASHED_FIELDS}
    else:
        payload = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def object_reference(obj: models.Model) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def audit_record(
    *,
    actor: User | Any | None,
    action: AuditAction | str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    organisation: Organisation | None = None,
    reason: str = "",
    on_behalf_of: str = "",
    details: dict[str, Any] | None = None,
    coarse_time: bool = False,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction when there is one.

    `coarse_time` is for anonymous acts (a public submission or reply, a phone call keyed in):
    an exact time could be matched against network or telephone logs, and so could the event's
    place in the chain. Such an event is held (`AuditPendingEvent`) until its hour is over, then
    chained with the hour only, shuffled among that hour's other anonymous acts.

    `details` holds references and counts only (ids, filters, sizes), never personal data or
    free text from a record. The head row is locked (`SELECT ... FOR UPDATE` on PostgreSQL;
    SQLite serialises writers) until the caller's transaction ends, so events are numbered and
    linked in commit order; if the caller's transaction rolls back, so does its event.
    """
    if target is not None:
        object_type, object_id = object_reference(target)
    authenticated = actor is not None and actor.is_authenticated
    token_id = getattr(actor, VIA_API_TOKEN, None) if authenticated else None
    if token_id is not None:
        details = {**(details or {}), "api_token": token_id}
    if organisation is None and authenticated:
        membership = (
            actor.memberships.select_related("organisation").order_by("pk").first()  # type: ignore[union-attr]
        )
        organisation = membership.organisation if membership else None
    now = timezone.now()
    fields: dict[str, Any] = {
        "actor_id": actor.pk if authenticated else None,  # type: ignore[union-attr]
        "actor_username": _clean_text(actor.get_username())[:150] if authenticated else "",  # type: ignore[union-attr]
        "organisation_id": organisation.pk if organisation else None,
        "organisation_name": _clean_text(organisation.name)[:200] if organisation else "",
        "action": str(action),
        "object_type": _clean_text(object_type)[:100],
        "object_id": _clean_text(str(object_id))[:100],
        "reason": _clean_text(reason)[:500],
        "on_behalf_of": _clean_text(on_behalf_of)[:200],
        "details": json_safe(details or {}),
    }
    gathered = _gathered.get()
    if gathered is not None and not coarse_time:
        # Chained when the block ends (`chained_at_the_end`); returned unsaved.
        gathered.append((now, fields))
        return AuditEvent(occurred_at=now, **fields)
    with transaction.atomic():
        if coarse_time:
            # Held until the hour is over (see AuditPendingEvent); returned unsaved.
            AuditPendingEvent.objects.create(occurred_at=_hour_of(now), **fields)
            return AuditEvent(occurred_at=_hour_of(now), **fields)
        head = _locked_head()
        _flush_pending(head, before=_hour_of(now))
        return _append(head, occurred_at=now, fields=fields)


# The events of a `chained_at_the_end` block, with their times, in the order written.
_gathered: ContextVar[list[tuple[datetime, dict[str, Any]]] | None] = ContextVar(
    "audit_gathered", default=None
)


@contextmanager
def chained_at_the_end() -> Iterator[None]:
    """Within the block, the events written are gathered, then chained together when it
    ends, still inside the caller's transaction: the chain's head is locked from then until
    the commit, not for the whole block. A long write (an import of thousands of lines, each
    point with its event) would otherwise hold every audited request of the platform waiting
    on the head until it commits. Each event keeps the time it was written. If the block
    raises, its events are dropped with the rest of its work. A block inside another gathers
    for the outer one, and drops what it gathered if it raises: wrap in one each savepoint
    that may be rolled back while the outer block goes on (a line refused by the service that
    writes it), or the event of its undone work would be chained."""
    outer = _gathered.get()
    if outer is not None:
        start = len(outer)
        try:
            yield
        except BaseException:
            del outer[start:]
            raise
        return
    gathered: list[tuple[datetime, dict[str, Any]]] = []
    token = _gathered.set(gathered)
    try:
        yield
    finally:
        _gathered.reset(token)
    if gathered:
        with transaction.atomic():
            head = _locked_head()
            _flush_pending(head, before=_hour_of(timezone.now()))
            for occurred_at, fields in gathered:
                _append(head, occurred_at=occurred_at, fields=fields)


def _hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(singleton=1).first()
    if head is None:
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(singleton=1)
    return head


def _append(head: AuditChainHead, *, occurred_at: datetime, fields: dict[str, Any]) -> AuditEvent:
    event = AuditEvent(
        sequence=head.last_sequence + 1,
        occurred_at=occurred_at,
        previous_hash=head.last_hash,
        **fields,
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    head.last_sequence = event.sequence
    head.last_hash = event.hash
    head.save(update_fields=["last_sequence", "last_hash"])
    return event


_PENDING_FIELDS = (
    "actor_id",
    "actor_username",
    "organisation_id",
    "organisation_name",
    "action",
    "object_type",
    "object_id",
    "reason",
    "on_behalf_of",
    "details",
)


def _flush_pending(head: AuditChainHead, *, before: datetime) -> int:
    """Append the held events of the hours before `before`, in random order, to the chain
    (the caller holds the head lock)."""
    pending = list(AuditPendingEvent.objects.filter(occurred_at__lt=before))
    if not pending:
        return 0
    secrets.SystemRandom().shuffle(pending)
    pending.sort(key=lambda held: held.occurred_at)  # hours in order, shuffled within each
    for held in pending:
        fields = {name: getattr(held, name) for name in _PENDING_FIELDS}
        _append(head, occurred_at=held.occurred_at, fields=fields)
    AuditPendingEvent.objects.filter(pk__in=[held.pk for held in pending]).delete()
    return len(pending)


def audit_flush_pending(*, now: datetime | None = None) -> int:
    """Append the held events of every hour already over (any audited write does it too; the
    daily commands call it so that a quiet night leaves nothing pending). Returns how many."""
    with transaction.atomic():
        return _flush_pending(_locked_head(), before=_hour_of(now or timezone.now()))


@dataclass(frozen=True)
class ChainProblem:
    sequence: int
    message: str


@dataclass
class ChainReport:
    """Filled in while `audit_chain_problems` walks the chain."""

    checked: int = 0
    last_sequence: int = 0
    last_hash: str = GENESIS_HASH


def audit_chain_problems(
    *, batch_size: int = 5000, report: ChainReport | None = None
) -> Iterator[ChainProblem]:
    """Walk the whole chain in order, from its anchor (the genesis, or the first event kept
    after a prune), and yield every break: altered, deleted or inserted events, and events
    cut from or added at the end.

    Reads field values in chunks (no model instances), so memory stays flat on long chains.
    """
    report = report if report is not None else ChainReport()
    head = AuditChainHead.objects.filter(singleton=1).first()
    first_sequence = head.first_sequence if head else 1
    first_previous_hash = head.first_previous_hash if head else GENESIS_HASH
    rows = (
        AuditEvent.objects.order_by("sequence")
        .values(*HASHED_FIELDS, "hash")
        .iterator(chunk_size=batch_size)
    )
    yield from _links_problems(
        rows, first_sequence=first_sequence, previous_hash=first_previous_hash, report=report
    )
    last_sequence = report.last_sequence
    previous_hash = report.last_hash
    if head is None:
        if last_sequence:
            yield ChainProblem(
                last_sequence, "l'en-tête de la chaîne (dernier maillon enregistré) a disparu"
            )
        return
    if head.last_sequence > last_sequence:
        yield ChainProblem(
            last_sequence + 1,
            f"la chaîne s'arrête au n° {last_sequence} alors que le dernier événement "
            f"enregistré est le n° {head.last_sequence} (événements supprimés en fin de chaîne)",
        )
    elif head.last_sequence < last_sequence:
        yield ChainProblem(
            head.last_sequence + 1,
            f"événements n° {head.last_sequence + 1} à {last_sequence} ajoutés après le dernier "
            "événement enregistré",
        )
    elif head.last_hash != previous_hash:
        yield ChainProblem(
            last_sequence, "le dernier événement ne correspond pas au dernier maillon enregistré"
        )
    yield from _anchor_problems(head)


def _links_problems(
    rows: Iterable[Mapping[str, Any]],
    *,
    first_sequence: int,
    previous_hash: str,
    report: ChainReport,
) -> Iterator[ChainProblem]:
    """The breaks of a run of events in sequence order that should start at `first_sequence`
    and link to `previous_hash`: a missing, inserted or altered event, a broken link. The
    report ends with the run's last sequence and hash (the anchor's when it is empty)."""
    expected_sequence = first_sequence
    for row in rows:
        sequence = row["sequence"]
        if sequence > expected_sequence:
            if sequence == expected_sequence + 1:
                message = f"l'événement n° {expected_sequence} manque"
            else:
                message = f"les événements n° {expected_sequence} à {sequence - 1} manquent"
            yield ChainProblem(expected_sequence, message)
        elif sequence < expected_sequence:
            yield ChainProblem(sequence, "numéro d'événement inattendu (événement inséré)")
        if row["previous_hash"] != previous_hash:
            yield ChainProblem(sequence, "le lien vers l'événement précédent ne correspond pas")
        if compute_hash(row) != row["hash"]:
            yield ChainProblem(sequence, "le contenu de l'événement a été modifié")
        report.checked += 1
        expected_sequence = sequence + 1
        previous_hash = row["hash"]
    report.last_sequence = expected_sequence - 1
    report.last_hash = previous_hash


# --- retention: archive, then prune ------------------------------------------------------------

# The first line of an archive names its format; each following line is one event, as hashed.
ARCHIVE_FORMAT = "cartostup-audit-archive/1"
# Events archived and deleted per transaction: the chain's head stays locked meanwhile, and
# every audited request waits on it.
PRUNE_BATCH = 10_000
PRUNE_OBJECT_TYPE = "core.auditevent"
_PARTIAL = ".partial"


class AuditPruneRefused(Exception):
    """Nothing is archived nor deleted: the chain to prune is broken (a prune would hide it),
    or the date asked is within the retention period."""


@dataclass(frozen=True)
class PruneResult:
    """What one `audit_prune` archived and deleted: events n° `first` to `last` (none when
    `count` is 0), the archive written and its SHA-256 (none for a dry run); `held`: events
    older than the date still kept behind event n° `held_behind`, of `held_behind_at`, newer,
    which ends the run (chained before older ones: an import's events, or an anonymous act's,
    are chained after they happened; or a clock set wrong)."""

    first: int
    last: int
    count: int
    archive: Path | None = None
    digest: str = ""
    held: int = 0
    held_behind: int = 0
    held_behind_at: datetime | None = None


def _archive_line(row: Mapping[str, Any]) -> str:
    values = {name: _canonical(row[name]) for name in (*HASHED_FIELDS, "hash")}
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def audit_prune(
    *,
    before: datetime,
    directory: Path,
    dry_run: bool = False,
    now: datetime | None = None,
    batch: int = PRUNE_BATCH,
) -> PruneResult:
    """Archive then delete the oldest events of the chain, at most `batch` of them: the run
    from its first event on whose every event occurred before `before`, no later than the
    retention period allows (`AuditPruneRefused` otherwise). An event newer than the date ends
    the run (an anonymous act is chained after its hour): what lies behind it waits.

    The run is verified first (a broken chain is refused: `AuditPruneRefused`), written to a
    new file of `directory` (read by its owner only; one JSON line per event, as hashed, after
    a header naming the hash it links to), then deleted; the chain's head records the new
    anchor (the first event kept and the hash it links to, which `audit_chain_problems` starts
    from, and checks against this prune's own event) and the archive's digest, and the prune
    is an event of the chain. One transaction. The archive is written as `….partial` and named
    once the transaction has committed; one left by a run that stopped is named, removed or
    set aside by the next (`_resolve_partials`). Called outside any transaction (`durable`),
    one run at a time (the command locks)."""
    now = now or timezone.now()
    if before > now - timedelta(days=settings.AUDIT_RETENTION_DAYS):
        raise AuditPruneRefused(
            f"le journal se conserve {settings.AUDIT_RETENTION_DAYS} jours "
            "(CARTOSTUP_AUDIT_RETENTION_DAYS) : rien de plus récent ne s'efface."
        )
    written: list[Path] = []
    committing = False
    try:
        # Durable: inside a caller's transaction the archive would be named before the commit.
        with transaction.atomic(durable=True):
            result = _prune(
                before=before,
                directory=directory,
                dry_run=dry_run,
                now=now,
                batch=batch,
                written=written,
            )
            committing = True  # what fails from here is the commit: the archive may be due
    except BaseException:
        if not committing:
            for path in written:
                path.unlink(missing_ok=True)
        raise
    if result.archive is None:
        return result
    final = result.archive.with_name(result.archive.name.removesuffix(_PARTIAL))
    try:
        result.archive.rename(final)
    except FileNotFoundError:
        if not final.exists():  # named by another run meanwhile, or lost
            raise
    _fsync_directory(directory)
    return dataclasses.replace(result, archive=final)


def _recorded_digests() -> set[str]:
    """The archives' digests the prunes' events in the chain recorded."""
    return {
        str(details.get("archive_sha256"))
        for details in _prune_events().values_list("details", flat=True)
        if isinstance(details, dict)
    }


def _prune_events() -> models.QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        action=AuditAction.DELETE, object_type=PRUNE_OBJECT_TYPE, actor_id__isnull=True
    )


def _resolve_partials(directory: Path, head: AuditChainHead) -> None:
    """Archives a stopped run left (`….partial`): named if a prune recorded their digest (the
    run committed), removed if their events are still in the chain (to be archived again),
    else set aside as `….orphan` (neither: never taken for an archive, never lost)."""
    if not directory.is_dir():
        return
    partials = list(directory.glob(f"audit-*{_PARTIAL}"))
    if not partials:
        return
    recorded = _recorded_digests() | {head.archive_digest}
    for path in partials:
        parts = path.name.split("-")
        try:
            last = int(parts[2])
        except (IndexError, ValueError):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in recorded:
            path.rename(path.with_name(path.name.removesuffix(_PARTIAL)))
        elif head.first_sequence <= last:
            path.unlink()
        else:
            path.rename(path.with_name(path.name.removesuffix(_PARTIAL) + ".orphan"))
    _fsync_directory(directory)


def _prune(
    *,
    before: datetime,
    directory: Path,
    dry_run: bool,
    now: datetime,
    batch: int,
    written: list[Path],
) -> PruneResult:
    head = _locked_head()
    # A chain whose start nothing explains (rows deleted, the anchor moved by hand) is not
    # pruned: the new prune's event would explain it, and the deletion would verify.
    unexplained = list(_anchor_problems(head))
    if unexplained:
        raise AuditPruneRefused(
            f"journal d'audit altéré, événement n° {unexplained[0].sequence} : "
            f"{unexplained[0].message} (lancez audit_verify)."
        )
    if not dry_run:  # a dry run writes nothing, not even the held anonymous acts
        _flush_pending(head, before=_hour_of(now))
        _resolve_partials(directory, head)
    first = head.first_sequence
    newer = (
        AuditEvent.objects.filter(sequence__gte=first, occurred_at__gte=before)
        .order_by("sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    whole = newer - 1 if newer is not None else head.last_sequence
    if dry_run:
        count = AuditEvent.objects.filter(sequence__gte=first, sequence__lte=whole).count()
        return PruneResult(first=first if count else 0, last=whole if count else 0, count=count)
    last = min(whole, first + batch - 1)
    if last < first:
        held = AuditEvent.objects.filter(sequence__gt=first, occurred_at__lt=before).count()
        return PruneResult(
            first=0,
            last=0,
            count=0,
            held=held,
            held_behind=first if held else 0,
            held_behind_at=(AuditEvent.objects.get(sequence=first).occurred_at if held else None),
        )
    # Read once (a batch at most), verified, then written: what is archived is what was
    # verified, under the head's lock.
    rows = list(
        AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last)
        .order_by("sequence")
        .values(*HASHED_FIELDS, "hash")
    )
    report = ChainReport()
    problems = list(
        _links_problems(
            rows, first_sequence=first, previous_hash=head.first_previous_hash, report=report
        )
    )
    if not problems and report.last_sequence != last:
        problems = [ChainProblem(report.last_sequence + 1, "événement manquant")]
    if problems:
        raise AuditPruneRefused(
            f"journal d'audit altéré, événement n° {problems[0].sequence} : "
            f"{problems[0].message} (lancez audit_verify)."
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"audit-{first:012d}-{last:012d}-{stamp}.jsonl{_PARTIAL}"
    header = json.dumps(
        {
            "format": ARCHIVE_FORMAT,
            "first_sequence": first,
            "last_sequence": last,
            "previous_hash": head.first_previous_hash,
            "before": _canonical_datetime(before),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256()
    # O_EXCL: never over another archive; 0o600: the log names agents and what they read.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written.append(path)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as archive:
        for text in itertools.chain([header], map(_archive_line, rows)):
            line = text + "\n"
            archive.write(line)
            digest.update(line.encode("utf-8"))
        archive.flush()
        os.fsync(archive.fileno())
    _fsync_directory(directory)
    AuditEvent.objects.filter(sequence__gte=first, sequence__lte=last).delete()
    head.first_sequence = last + 1
    head.first_previous_hash = report.last_hash
    head.archive_digest = digest.hexdigest()
    head.save(update_fields=["first_sequence", "first_previous_hash", "archive_digest"])
    final_name = path.name.removesuffix(_PARTIAL)
    audit_record(
        actor=None,
        action=AuditAction.DELETE,
        object_type=PRUNE_OBJECT_TYPE,
        details={
            "pruned_from": first,
            "pruned_to": last,
            "count": len(rows),
            "before": before,
            "archive": final_name,
            "archive_sha256": digest.hexdigest(),
        },
    )
    return PruneResult(
        first=first, last=last, count=len(rows), archive=path, digest=digest.hexdigest()
    )


def _anchor_problems(head: AuditChainHead) -> Iterator[ChainProblem]:
    """A chain that starts after its first event must say why: the last prune's own event,
    in the chain verified, names the run it deleted up to the anchor and the archive's
    digest, and the prunes' events still in the chain follow each other (each run starts
    where the one before ended). Without it, rows deleted and the head's anchor moved by
    hand would verify, and a prune after them would seem to explain them."""
    if head.first_sequence <= 1 and head.first_previous_hash == GENESIS_HASH:
        return
    prunes = [
        (event.sequence, event.details if isinstance(event.details, dict) else {})
        for event in _prune_events().filter(sequence__gte=head.first_sequence).order_by("sequence")
    ]
    message = (
        f"la chaîne commence au n° {head.first_sequence} sans que le dernier archivage "
        "(audit_prune) l'explique : des événements ont été effacés hors de lui"
    )
    if not prunes:
        yield ChainProblem(head.first_sequence, message)
        return
    _sequence, latest = prunes[-1]
    if (
        latest.get("pruned_to") != head.first_sequence - 1
        or latest.get("archive_sha256") != head.archive_digest
    ):
        yield ChainProblem(head.first_sequence, message)
    for (_before, earlier), (sequence, later) in itertools.pairwise(prunes):
        if later.get("pruned_from") != _as_int(earlier.get("pruned_to")) + 1:
            yield ChainProblem(
                sequence,
                f"cet archivage commence au n° {later.get('pruned_from')}, le précédent "
                f"s'arrêtait au n° {earlier.get('pruned_to')} : des événements ont été effacés "
                "entre eux hors de audit_prune",
            )


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -2


def archive_problems(path: Path, report: ChainReport | None = None) -> Iterator[ChainProblem]:
    """The breaks within an archive written by `audit_prune`: its events must follow each
    other from the anchor its header names, each with its own hash, up to the last its header
    names. The report ends with its last event's sequence and hash. How archives follow each
    other and the chain is `archives_problems`'s."""
    report = report if report is not None else ChainReport()
    with path.open(encoding="utf-8") as archive:
        header = _archive_header(archive.readline())
        if header is None:
            yield ChainProblem(0, "ce fichier n'est pas une archive du journal d'audit")
            return
        rows = (json.loads(line) for line in archive if line.strip())
        yield from _links_problems(
            rows,
            first_sequence=int(header["first_sequence"]),
            previous_hash=str(header["previous_hash"]),
            report=report,
        )
    if report.last_sequence != int(header["last_sequence"]):
        yield ChainProblem(
            report.last_sequence + 1,
            f"l'archive s'arrête au n° {report.last_sequence}, son en-tête annonce le n° "
            f"{header['last_sequence']}",
        )


def _archive_header(line: str) -> dict[str, Any] | None:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(header, dict) or header.get("format") != ARCHIVE_FORMAT:
        return None
    return header


@dataclass(frozen=True)
class ArchiveCheck:
    """One archive as `archives_problems` read it."""

    path: Path
    first: int
    last: int
    checked: int
    last_hash: str
    problems: list[ChainProblem]
    # What its header says it links to, and the file's SHA-256.
    previous_hash: str = ""
    digest: str = ""


def archives_problems(paths: Iterable[Path]) -> list[ArchiveCheck]:
    """Archives checked each on its own (`archive_problems`), then together, in sequence
    order, and against the chain: each must start where the one before ended (a gap or an
    overlap is a problem), the first of all at the genesis; the one that ends where the chain
    now starts must link to its anchor and have the digest its head recorded; and each must
    have the digest a prune's event recorded (in the chain, or in an archive given). A file
    cut, its header rewritten, is found so."""
    checks: list[ArchiveCheck] = []
    unreadable: list[ArchiveCheck] = []
    recorded: set[str] = set()
    for path in paths:
        report = ChainReport()
        header: dict[str, Any] = {}
        try:
            problems = list(archive_problems(path, report))
            with path.open(encoding="utf-8") as archive:
                header = _archive_header(archive.readline()) or {}
                for line in archive:
                    row = json.loads(line) if line.strip() else {}
                    details = row.get("details") if isinstance(row, dict) else None
                    if (
                        isinstance(details, dict)
                        and row.get("object_type") == PRUNE_OBJECT_TYPE
                        and row.get("action") == AuditAction.DELETE
                        and row.get("actor_id") is None
                    ):
                        recorded.add(str(details.get("archive_sha256")))
            first = int(header.get("first_sequence", 0))
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            # Said for this file; the others are still checked.
            unreadable.append(
                ArchiveCheck(
                    path=path,
                    first=0,
                    last=0,
                    checked=0,
                    last_hash="",
                    problems=[ChainProblem(0, f"archive illisible ({error.__class__.__name__})")],
                )
            )
            continue
        checks.append(
            ArchiveCheck(
                path=path,
                first=first,
                last=report.last_sequence,
                checked=report.checked,
                last_hash=report.last_hash,
                problems=problems,
                previous_hash=str(header.get("previous_hash", "")),
                digest=digest,
            )
        )
    recorded |= _recorded_digests()
    head = AuditChainHead.objects.filter(singleton=1).first()
    checks.sort(key=lambda check: check.first)
    previous: ArchiveCheck | None = None
    for check in checks:
        if previous is not None and check.first != previous.last + 1:
            check.problems.append(
                ChainProblem(
                    check.first,
                    f"ne suit pas l'archive qui finit au n° {previous.last} ({previous.path.name})",
                )
            )
        elif previous is not None and check.previous_hash != previous.last_hash:
            check.problems.append(
                ChainProblem(check.first, f"ne se relie pas à {previous.path.name}")
            )
        elif previous is None and check.first == 1 and check.previous_hash != GENESIS_HASH:
            check.problems.append(ChainProblem(1, "ne part pas de l'origine de la chaîne"))
        if head is not None and check.last == head.first_sequence - 1:
            if check.last_hash != head.first_previous_hash or check.digest != head.archive_digest:
                check.problems.append(
                    ChainProblem(
                        check.last,
                        "ne se relie pas au premier événement gardé du journal, ou n'a pas "
                        "l'empreinte que le journal a enregistrée",
                    )
                )
        elif check.digest not in recorded:
            check.problems.append(
                ChainProblem(
                    check.first,
                    "son empreinte n'est celle d'aucun archivage enregistré (au journal ou "
                    "dans les archives données)",
                )
            )
        previous = check
    # The whole history: from the genesis to where the chain now starts.
    if checks and checks[0].first != 1:
        checks[0].problems.append(
            ChainProblem(
                checks[0].first,
                f"les archives données commencent au n° {checks[0].first} : celles des n° 1 "
                f"à {checks[0].first - 1} manquent",
            )
        )
    if checks and head is not None and checks[-1].last != head.first_sequence - 1:
        checks[-1].problems.append(
            ChainProblem(
                checks[-1].last + 1,
                f"les archives données s'arrêtent au n° {checks[-1].last}, le journal reprend "
                f"au n° {head.first_sequence} : une archive manque entre eux",
            )
        )
    return unreadable + checks
