"""Reads on deal points, always from what the actor may see (`access.policy`). Opening one
point records an audit event; lists record their filters."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction

from .models import DealPoint


def dealpoint_queryset() -> QuerySet[DealPoint]:
    """Deal points that stand on their own (a merged point is shown through the one it was
    merged into)."""
    return DealPoint.objects.filter(merged_into__isnull=True).select_related(
        "commune", "departement", "priority_neighbourhood", "owner_organisation", "building"
    )


def access_dealpoint(
    *, actor: User, pk: Any, action: policy.Action = policy.Action.VIEW, audit: bool = True
) -> DealPoint:
    """One deal point, if the actor may act on it (404 otherwise); the read is audited."""
    dealpoint = policy.access_object(
        DealPoint.objects.select_related(
            "commune", "departement", "priority_neighbourhood", "owner_organisation", "building"
        ),
        actor=actor,
        pk=pk,
        action=action,
    )
    if audit:
        audit_record(
            actor=actor,
            action=AuditAction.VIEW,
            target=dealpoint,
            details={"reference": dealpoint.reference},
        )
    return dealpoint


def dealpoint_list(
    *,
    actor: User,
    filters: dict[str, Any] | Any | None = None,
    view: str = "list",
    action: policy.Action = policy.Action.VIEW,
    audit: bool = True,
) -> QuerySet[DealPoint]:
    """The deal points the actor may see (merged points excluded), filtered by
    `DealPointFilterSet` (given bound or as its raw data); the listing is audited with its
    filters and `view` (list, map, api...). Invalid filters are ignored, as django-filter does:
    bind a `DealPointFilterSet` yourself to show its errors. `action=EXPORT` applies the export
    rules (TLP:RED stays with its owner); the export audits itself (`audit=False`)."""
    from .filters import DealPointFilterSet

    queryset = policy.restrict(dealpoint_queryset(), actor=actor, action=action)
    data = filters.data if isinstance(filters, DealPointFilterSet) else filters
    filterset = DealPointFilterSet(data or None, queryset=queryset)
    applied = filterset.applied_filters() if data and filterset.is_valid() else {}
    if audit:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=DealPoint._meta.label_lower,
            details={"filters": applied, "view": view},
        )
    return filterset.qs if data and filterset.is_valid() else queryset
