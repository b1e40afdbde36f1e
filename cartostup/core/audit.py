"""Writing and verifying the hash-chained audit trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.utils import timezone

from .choices import AuditAction
from .models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from cartostup.access.models import Organisation, User

GENESIS_HASH = "0" * 64
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


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.UTC).isoformat(timespec="microseconds")
    return value


def compute_hash(event: AuditEvent) -> str:
    """SHA-256 over the event's fields in a canonical JSON form (sorted keys, UTC dates)."""
    payload = {name: _canonical(getattr(event, name)) for name in HASHED_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def object_reference(obj: models.Model) -> tuple[str, str]:
    return obj._meta.label_lower, str(obj.pk)


def audit_record(
    *,
    actor: User | None,
    action: AuditAction | str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    organisation: Organisation | None = None,
    reason: str = "",
    on_behalf_of: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction when there is one.

    `details` holds references and counts only (ids, filters, sizes), never personal data or
    free text from a record.
    """
    if target is not None:
        object_type, object_id = object_reference(target)
    if organisation is None and actor is not None and actor.is_authenticated:
        membership = actor.memberships.select_related("organisation").first()
        organisation = membership.organisation if membership else None
    with transaction.atomic():
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(singleton=1)
        event = AuditEvent(
            sequence=head.last_sequence + 1,
            occurred_at=timezone.now(),
            actor_id=actor.pk if actor is not None and actor.is_authenticated else None,
            actor_username=actor.get_username()
            if actor is not None and actor.is_authenticated
            else "",
            organisation_id=organisation.pk if organisation else None,
            organisation_name=organisation.name if organisation else "",
            action=str(action),
            object_type=object_type,
            object_id=str(object_id)[:100],
            reason=reason[:500],
            on_behalf_of=on_behalf_of[:200],
            details=details or {},
            previous_hash=head.last_hash,
        )
        # Round-trip the details through JSON so the hash covers exactly what the database keeps.
        event.details = json.loads(json.dumps(event.details, default=str))
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        head.last_sequence = event.sequence
        head.last_hash = event.hash
        head.save(update_fields=["last_sequence", "last_hash"])
    return event


@dataclass(frozen=True)
class ChainProblem:
    sequence: int
    message: str


def audit_chain_problems(*, batch_size: int = 5000) -> Iterator[ChainProblem]:
    """Walk the whole chain in order and yield every break: altered, deleted or inserted
    events, and events cut from the end."""
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    events = AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch_size)
    for event in events:
        if event.sequence != expected_sequence:
            yield ChainProblem(
                expected_sequence,
                f"événement(s) n° {expected_sequence} à {event.sequence - 1} manquant(s)",
            )
        if event.previous_hash != previous_hash:
            yield ChainProblem(
                event.sequence, "le lien vers l'événement précédent ne correspond pas"
            )
        if compute_hash(event) != event.hash:
            yield ChainProblem(event.sequence, "le contenu de l'événement a été modifié")
        expected_sequence = event.sequence + 1
        previous_hash = event.hash
    head = AuditChainHead.objects.filter(singleton=1).first()
    last_sequence = expected_sequence - 1
    if head is not None and (head.last_sequence, head.last_hash) != (last_sequence, previous_hash):
        yield ChainProblem(
            last_sequence + 1,
            f"la chaîne s'arrête au n° {last_sequence} alors que le dernier événement "
            f"enregistré est le n° {head.last_sequence}",
        )
