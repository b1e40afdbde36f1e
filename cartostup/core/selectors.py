"""Reads of the audit trail. Browsing it is itself audited: a list records its filters, an
opened event its reference, an export its filters and size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.http import QueryDict

from cartostup.access import policy

from .audit import audit_record
from .choices import AuditAction
from .filters import AuditEventFilterSet
from .models import AuditEvent


def _audit_filterset(
    *, actor: Any, filters: QueryDict | dict[str, Any] | None
) -> AuditEventFilterSet:
    policy.require(actor, policy.Capability.BROWSE_AUDIT)
    queryset = policy.restrict(AuditEvent.objects.all(), actor=actor).order_by("-sequence")
    return AuditEventFilterSet(filters or None, queryset=queryset)


def audit_event_list(
    *, actor: Any, filters: QueryDict | dict[str, Any] | None, page: int | None = None
) -> AuditEventFilterSet:
    """The events the actor may browse, newest first, filtered; records a LIST event.

    Returns the bound filter set: `.qs` is empty when the filters are invalid (nothing is
    read then, nor recorded), `.form` explains why; django-filter would ignore the invalid
    fields and list the whole trail under an error banner."""
    filterset = _audit_filterset(actor=actor, filters=filters)
    valid = filterset.is_valid()  # False when unbound (no filter): the whole trail
    if filterset.is_bound and not valid:
        filterset.queryset = AuditEvent.objects.none()
        return filterset
    details: dict[str, Any] = {"filters": filterset.applied_filters() if valid else {}}
    if page is not None:
        details["page"] = page
    event = audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=AuditEvent._meta.label_lower,
        details=details,
    )
    # The page shows the trail as it was before this consultation.
    filterset.queryset = filterset.queryset.filter(sequence__lt=event.sequence)
    return filterset


def access_audit_event(*, actor: Any, pk: Any) -> AuditEvent:
    """One event, or 404; opening it is recorded."""
    policy.require(actor, policy.Capability.BROWSE_AUDIT)
    event = policy.access_object(AuditEvent, actor=actor, pk=pk)
    audit_record(actor=actor, action=AuditAction.VIEW, target=event)
    return event


EXPORT_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_username",
    "organisation_name",
    "action",
    "object_type",
    "object_id",
    "reason",
    "on_behalf_of",
    "details",
    "hash",
)


def audit_event_export(
    *, actor: Any, filters: QueryDict | dict[str, Any] | None
) -> tuple[int, Iterator[dict[str, Any]]]:
    """The filtered events for a CSV export, read in chunks; records an EXPORT event with the
    filters and the number of events. Invalid filters raise a ValidationError (each field's
    messages) and export nothing: a file with only its header would read as "no event"."""
    filterset = _audit_filterset(actor=actor, filters=filters)
    valid = filterset.is_valid()  # False when unbound (no filter): the whole trail
    if filterset.is_bound and not valid:
        raise ValidationError(
            {
                name: [str(message) for message in messages]
                for name, messages in filterset.errors.items()
            }
        )
    queryset = filterset.qs
    count = queryset.count()
    event = audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        object_type=AuditEvent._meta.label_lower,
        details={"filters": filterset.applied_filters() if valid else {}, "count": count},
    )
    rows = queryset.filter(sequence__lt=event.sequence).values(*EXPORT_FIELDS)
    return count, rows.iterator(chunk_size=2000)
