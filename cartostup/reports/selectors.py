"""Reads on reports, always from what the actor may see (`access.policy`). Opening one report
records an audit event; lists record what was filtered."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction

from .choices import PUBLIC_STATUS, Status
from .filters import ReportFilterSet
from .models import Report


def report_unread_count(*, actor: User) -> int:
    """How many reports the actor may triage (change) hold a reporter's message no analyst
    has read yet (`Report.message_unread`)."""
    return policy.restrict(
        Report.objects.filter(message_unread=True), actor=actor, action=policy.Action.CHANGE
    ).count()


def report_list(
    *,
    actor: User,
    filters: dict[str, Any] | ReportFilterSet | None = None,
    view: str = "list",
) -> QuerySet[Report]:
    """The reports the actor may see (the triage queue), filtered by `ReportFilterSet` (given
    as a bound filter set or its raw data), the listing audited with its filters and `view`
    (table, map). Invalid filters (`?status=zzz`, a reversed period) raise a ValidationError,
    never ignored as django-filter would: the whole queue would read as filtered. Bind a
    `ReportFilterSet` yourself to show its errors beside its fields."""
    queryset = policy.restrict(
        Report.objects.select_related("commune", "departement", "priority_neighbourhood"),
        actor=actor,
    )
    data = filters.data if isinstance(filters, ReportFilterSet) else filters
    filterset = ReportFilterSet(data or None, queryset=queryset)
    if data and not filterset.is_valid():
        raise ValidationError(
            {
                name: [str(message) for message in messages]
                for name, messages in filterset.errors.items()
            }
        )
    applied = filterset.applied_filters() if data else {}
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=Report._meta.label_lower,
        details={"filters": applied, "view": view},
    )
    return filterset.qs if data else queryset


def access_report(*, actor: User, pk: Any, action: policy.Action = policy.Action.VIEW) -> Report:
    """One report, if the actor may see it (404 otherwise); the read is audited, and so is the
    refusal of a report that exists (`policy.access_object_by`)."""
    report = policy.access_object(
        Report.objects.select_related("commune", "departement", "priority_neighbourhood"),
        actor=actor,
        pk=pk,
        action=action,
        audit_refusal=True,
    )
    audit_record(
        actor=actor,
        action=AuditAction.VIEW,
        target=report,
        details={"reference": report.reference},
    )
    return report


def landlord_report_list(*, actor: User) -> list[dict[str, Any]]:
    """The landlord's own reports (filed on its buildings), with only the coarse fields the
    policy lets a landlord referent receive (`policy.visible_fields`): reference, date, building
    and status, plus the coarse public status (`public_status`, `public_status_label`)."""
    # Which reports, and which of their fields, is the policy's alone to say: for a landlord
    # referent, those tied to its buildings (`reports/rules.py`, `scoped_by`), reduced. An
    # actor the policy gives whole records is not a landlord: this page is not for it (404),
    # rather than a page that would list whole reports under the landlord's title.
    fields = policy.visible_fields(actor, Report)
    if fields is None:
        raise Http404
    queryset = policy.restrict(Report.objects.all(), actor=actor)
    names = [name if name != "building" else "building_id" for name in fields]
    rows = list(queryset.order_by("-received_at", "-pk").values(*names))
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=Report._meta.label_lower,
        details={"landlord": True, "count": len(rows)},
    )
    for row in rows:
        if "status" in row:
            public = PUBLIC_STATUS[Status(row["status"])]
            row["public_status"] = public.value
            row["public_status_label"] = str(public.label)
    return rows
