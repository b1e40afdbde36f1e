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
