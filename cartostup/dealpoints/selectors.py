"""Reads on deal points, always from what the actor may see (`access.policy`). Opening one
point records an audit event; lists record their filters."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    Model,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.http import Http404, QueryDict
from django.utils.translation import gettext_lazy

from cartostup.access import policy
from cartostup.access.filters import unknown_choice_message
from cartostup.access.models import Building, Organisation, User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.dates import week_start
from cartostup.reports.models import Report
from cartostup.territories.models import Departement

from . import matching
from .choices import (
    ATTACHED_DECISIONS,
    UNTIED_DECISIONS,
    AlertKind,
    AlertStatus,
    DealPointStatus,
    EventKind,
    LinkDecision,
    Precision,
    ProposalStatus,
)
from .filters import DealPointFilterSet
from .models import (
    Alert,
    DealPoint,
    DealPointEvent,
    Operation,
    Proposal,
    ReportLink,
    normalise_partner_code,
    normalise_reference,
)


def dealpoint_queryset() -> QuerySet[DealPoint]:
    """Deal points that stand on their own (a merged point is shown through the one it was
    merged into)."""
    return DealPoint.objects.filter(merged_into__isnull=True).select_related(
        "commune", "departement", "priority_neighbourhood", "owner_organisation", "building"
    )


def access_dealpoint(
    *, actor: User, pk: Any, action: policy.Action = policy.Action.VIEW, audit: bool = True
) -> DealPoint:
    """One deal point, if the actor may act on it (404 otherwise); the read is audited, and so
    is the refusal of a point that exists (`policy.access_object_by`)."""
    dealpoint = policy.access_object(
        DealPoint.objects.select_related(
            "commune", "departement", "priority_neighbourhood", "owner_organisation", "building"
        ),
        actor=actor,
        pk=pk,
        action=action,
        audit_refusal=True,
    )
    if audit:
        dealpoint_audit_view(actor=actor, dealpoint=dealpoint)
    return dealpoint


def access_dealpoint_by_code(*, actor: User, code: str) -> DealPoint:
    """One deal point standing on its own (not merged) by its partner code (what a landlord
    is told of it, and may quote to the services), if the actor may see it (404 otherwise,
    and for a text that cannot be a code); the read is audited. A code is read as a person
    types it (`normalise_partner_code`)."""
    normalised = normalise_partner_code(code)
    if normalised is None:
        raise Http404
    dealpoint = policy.access_object_by(
        dealpoint_queryset(),
        actor=actor,
        field="partner_code",
        value=normalised,
        audit_refusal=True,
    )
    dealpoint_audit_view(actor=actor, dealpoint=dealpoint)
    return dealpoint


def dealpoint_audit_view(*, actor: User, dealpoint: DealPoint) -> None:
    """Audit a read of a point already fetched by `access_dealpoint(audit=False)`, for a page
    that shows it after all (a form shown again with its errors)."""
    audit_record(
        actor=actor,
        action=AuditAction.VIEW,
        target=dealpoint,
        details={"reference": dealpoint.reference},
    )


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
    filters and `view` (list, map, api...). A filter the actor may not use raises a
    ValidationError (`dealpoint_refused_filters`), and so does a status it may not filter on
    (`dealpoint_refused_values`) and any invalid filter (`?qpv=zzz`, a reversed period): never
    ignored, as django-filter would, for the unfiltered points would read as filtered. Bind a
    `DealPointFilterSet` yourself to show its errors beside its fields.
    `action=EXPORT` applies the export rules (TLP:RED stays with its owner); the export audits
    itself (`audit=False`)."""
    queryset = policy.restrict(dealpoint_queryset(), actor=actor, action=action)
    data = filters.data if isinstance(filters, DealPointFilterSet) else filters
    refused = {
        **dealpoint_refused_values(actor=actor, data=data),
        **dealpoint_refused_filters(actor=actor, data=data),
    }
    if refused:
        raise ValidationError(refused)
    applied: dict[str, Any] | None = None
    if data and policy.visible_fields(actor, DealPoint) is not None:
        # A reduced view (a landlord) filters only on the fields it receives, and on the
        # values it is told.
        data = allowed_filter_data(data, dealpoint_allowed_filters(actor=actor))
        asked = DealPointFilterSet(data, queryset=queryset)
        if asked.is_valid():
            applied = asked.applied_filters()  # audited as asked
            data, queryset = told_filter(actor=actor, data=data, queryset=queryset)
    filterset = DealPointFilterSet(data or None, queryset=queryset)
    if data and not filterset.is_valid():
        raise ValidationError(
            {
                name: [str(message) for message in messages]
                for name, messages in filterset.errors.items()
            }
        )
    if applied is None:
        applied = filterset.applied_filters() if data else {}
    if audit:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=DealPoint._meta.label_lower,
            details={"filters": applied, "view": view},
        )
    return filterset.qs if data else queryset


# --- pages: list, detail, permissions (appended for the deal-point pages) -------------------------

# The fields each filter of `DealPointFilterSet` reads: an actor who receives a reduced view
# (a landlord) may filter only on fields it receives, or a filter would reveal the others.
FILTER_FIELDS: dict[str, tuple[str, ...]] = {
    # The reference too that an imported point had in its file, read in its history.
    "q": ("reference", "name", "address", "events"),
    "status": ("status",),
    "product": ("products",),
    "channel": ("channel",),
    "precision": ("precision",),
    "departement": ("departement",),
    "commune": ("commune",),
    "active_from": ("last_activity_at",),
    "active_to": ("last_activity_at",),
    "qpv": ("priority_neighbourhood",),
}


class ListMode(StrEnum):
    """How the list page shows deal points to an actor (decided by the policy)."""

    FULL = "full"
    REDUCED = "reduced"
    AGGREGATE = "aggregate"


def dealpoint_list_mode(*, actor: User) -> ListMode:
    """FULL for those who receive whole records, REDUCED for those the policy gives only some
    fields (`policy.visible_fields`: a landlord), AGGREGATE for those who may only count points
    on the map (`policy.aggregate_scope`: a prefecture, a prosecutor's office)."""
    if not policy.aggregate_scope(DealPoint.objects.all(), actor=actor).coordinates:
        return ListMode.AGGREGATE
    if policy.visible_fields(actor, DealPoint) is not None:
        return ListMode.REDUCED
    return ListMode.FULL


def dealpoint_allowed_filters(*, actor: User) -> tuple[str, ...]:
    """The filters of `DealPointFilterSet` this actor may use: all of them, unless it receives
    a reduced view (a landlord: on what it receives) or counts only (a prefecture, a
    prosecutor's office: on what the policy lets counts be filtered on)."""
    refused = policy.refused_filters(actor, DealPoint, FILTER_FIELDS)
    return tuple(name for name in FILTER_FIELDS if name not in refused)


# What a refused filter is told, by why the policy refuses it (`policy.FilterRefusal`).
_REFUSAL_MESSAGES = {
    policy.FilterRefusal.AGGREGATE: gettext_lazy("Ce filtre n'est pas ouvert aux comptes agrégés."),
    policy.FilterRefusal.REDUCED: gettext_lazy(
        "Ce filtre n'est pas ouvert à votre vue des points de deal."
    ),
}


def refused_filters(
    *,
    actor: User,
    data: Any,
    reads: Mapping[str, tuple[str, ...]],
    model: type[Any] = DealPoint,
) -> dict[str, list[str]]:
    """The filters sent in `data` (by name, whatever their value) that this actor may not use,
    each with why, as the policy decides from the record fields each reads (`reads`: the
    deal points filter set's `FILTER_FIELDS`, a map layer's own): they are refused, never
    dropped, for a dropped filter reads as applied (the whole count of a hexagon read as "24
    crack points"). Every list, layer and export asks this before reading anything."""
    if not data:
        return {}
    asked = {name: fields for name, fields in reads.items() if name in data}
    refused = policy.refused_filters(actor, model, asked)
    return {name: [str(_REFUSAL_MESSAGES[why])] for name, why in refused.items()}


def dealpoint_refused_filters(*, actor: User, data: Any) -> dict[str, list[str]]:
    """The filters of `DealPointFilterSet` in `data` this actor may not use (`refused_filters`)."""
    return refused_filters(actor=actor, data=data, reads=FILTER_FIELDS)


def dealpoint_status_choices(*, actor: User) -> list[tuple[str, str]]:
    """The statuses this actor may filter on and read in forms and legends
    (`policy.told_choices`): a landlord is never told "under investigation"."""
    return policy.told_choices(actor, DealPoint, "status")


def unknown_status_message(*, actor: User, codes: bool = True) -> str:
    """What a status filter this actor may not use is told: the statuses it may use, by their
    French label (and their code, `codes`, for the API, whose clients send codes)."""
    return unknown_choice_message(dealpoint_status_choices(actor=actor), codes=codes)


def dealpoint_refused_values(*, actor: User, data: Any, codes: bool = True) -> dict[str, list[str]]:
    """The status filter of `data` when one of its values is not among those this actor may
    use (`dealpoint_status_choices`), with `unknown_status_message`: an unknown value and a
    value the actor is never told (a landlord's "investigation") are refused alike, for a
    value answered otherwise (an empty list where "bogus" is a 400) would tell that it
    exists."""
    if not data or "status" not in data:
        return {}
    values = data.getlist("status") if hasattr(data, "getlist") else data.get("status")
    if not isinstance(values, list | tuple):
        values = [values]
    allowed = {value for value, _label in dealpoint_status_choices(actor=actor)}
    if all(str(value) in allowed for value in values):
        return {}
    return {"status": [unknown_status_message(actor=actor, codes=codes)]}


# The history entries that change what the edit form shows. A point's *edit version* is the
# id of the latest of them (0 before any): the edit form and the API carry the version they
# read, and `services.dealpoint_update` refuses a change read before a later entry. History
# ids only grow, and a point's edits are written while its row is locked, so they are ordered
# for each point on SQLite and PostgreSQL alike; no column to migrate, and what
# changed meanwhile is those entries. An attached report or an operation is no edit.
EDIT_VERSION_KINDS = (EventKind.EDITED,)


def dealpoint_edit_version(*, dealpoint: DealPoint) -> int:
    """The point's edit version (see `EDIT_VERSION_KINDS`)."""
    version = DealPointEvent.objects.filter(
        dealpoint=dealpoint, kind__in=EDIT_VERSION_KINDS
    ).aggregate(version=Max("pk"))["version"]
    return version or 0


def with_edit_version(queryset: QuerySet[DealPoint]) -> QuerySet[DealPoint]:
    """The points with their edit version (`edit_version`), in the same query."""
    latest = Subquery(
        DealPointEvent.objects.filter(dealpoint=OuterRef("pk"), kind__in=EDIT_VERSION_KINDS)
        .order_by("-pk")
        .values("pk")[:1],
        output_field=IntegerField(),
    )
    return queryset.annotate(edit_version=Coalesce(latest, 0))


def _attached_count() -> Subquery:
    return Subquery(
        ReportLink.objects.filter(dealpoint=OuterRef("pk"), decision__in=ATTACHED_DECISIONS)
        .order_by()
        .values("dealpoint")
        .annotate(count=Count("pk"))
        .values("count"),
        output_field=IntegerField(),
    )


def allowed_filter_data(data: Any, allowed: Iterable[str]) -> QueryDict:
    """The filter parameters of `data` whose names are in `allowed` (see
    `dealpoint_allowed_filters`)."""
    kept = QueryDict(mutable=True)
    if data:
        for name in allowed:
            values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
            if values in (None, "", []):
                continue
            if isinstance(values, list | tuple):
                kept.setlist(name, [str(value) for value in values])
            else:
                kept[name] = str(values)
    return kept


def told_filter(
    *, actor: User, data: QueryDict, queryset: QuerySet[DealPoint]
) -> tuple[QueryDict, QuerySet[DealPoint]]:
    """Filters on the fields whose values this actor is told in place of others
    (`policy.told_values`) select by what it is told: a landlord's "confirmed" also matches
    the points under investigation, and "under investigation", which it is never told,
    matches nothing. Returns the other filters and the queryset so narrowed."""
    told = policy.told_values(actor, DealPoint)
    kept = data.copy()
    for name in told:
        values = kept.getlist(name)
        if name in kept:
            del kept[name]
        if values:
            stored = policy.stored_values(actor, DealPoint, name, values)
            queryset = queryset.filter(**{f"{name}__in": stored})
    return kept, queryset


def told_value(*, actor: User, name: str, value: str) -> str:
    """The value of a point's field this actor is told (`policy.told_values`)."""
    return policy.told_values(actor, DealPoint).get(name, {}).get(value, value)


def dealpoint_name_field(*, actor: User) -> str:
    """The field that names a point for this actor, and orders its lists, exports and
    layers: the reference, or the partner code for a reduced view (a landlord), which is
    random: an order by reference or id would tell which of its points was opened first."""
    visible = policy.visible_fields(actor, DealPoint)
    return "reference" if visible is None or "reference" in visible else "partner_code"


def dealpoint_table(*, actor: User, filters: Any = None) -> QuerySet[DealPoint]:
    """The list page's rows: `dealpoint_list` (audited, view "list"), newest activity first
    (a point without any, from its creation),
    each point with `report_count` (its attached reports). A reduced view (a landlord), told
    only the week of the last report, is ordered by that week, then by partner code
    (random): the order of two points of one week would otherwise tell which was active
    last, or, by reference, which was opened first."""
    queryset = dealpoint_list(actor=actor, filters=filters, view="list").annotate(
        report_count=Coalesce(_attached_count(), 0)
    )
    name = dealpoint_name_field(actor=actor)
    if policy.visible_fields(actor, DealPoint) is not None:
        return queryset.order_by(TruncWeek("last_reported_at").desc(nulls_last=True), name)
    # A point without any dated activity (created by hand, no report yet) is active on the
    # day it was created, as the period filter reads it: it came last, below points last seen
    # months ago, and its author could not find it (review).
    return queryset.order_by(Coalesce("last_activity_at", "created_at").desc(), name)


def dealpoint_export_withheld(*, actor: User, filters: Any = None, listed: int) -> int:
    """How many of the `listed` points (the list's count, with these valid filters) an export
    leaves out (TLP:RED, or AMBER+STRICT, of another organisation: they stay with their
    owner), for the list to say so: a file shorter than the list would read as complete. Not
    audited: the listing is (`dealpoint_table`)."""
    exported = dealpoint_list(
        actor=actor, filters=filters, action=policy.Action.EXPORT, audit=False
    ).count()
    return listed - exported


def dealpoint_reduced(*, actor: User, dealpoint: DealPoint) -> dict[str, Any]:
    """The fields of a point the actor may receive (`policy.visible_fields`), as a dict;
    `last_activity_week` is the Monday of the week of the last report attached (never an
    operation), `building` the name
    of the building, `status_label` the status in words."""
    visible = policy.visible_fields(actor, DealPoint) or ()
    row: dict[str, Any] = {}
    for name in visible:
        if name == "last_activity_week":
            # Reports only: an operation (a surveillance) must not move a landlord's week.
            row[name] = week_start(dealpoint.last_reported_at)
        elif name == "building":
            row[name] = dealpoint.building.name if dealpoint.building else ""
        elif name == "id":
            row[name] = dealpoint.pk
        else:
            row[name] = getattr(dealpoint, name)
    if "status" in row:
        row["status"] = told_value(actor=actor, name="status", value=dealpoint.status)
        row["status_label"] = DealPointStatus(row["status"]).label
    return row


@dataclass(frozen=True)
class DealPointPermissions:
    """What the actor may do on one point (the detail page shows the matching forms)."""

    change: bool
    record_operation: bool


def dealpoint_permissions(*, actor: User, dealpoint: DealPoint) -> DealPointPermissions:
    """Whether the actor may change the point (edit, life cycle, merge, split, reports) and
    record an operation on it; a merged point takes neither (only its merge can be undone,
    which `change` also grants)."""
    change = (
        policy.can(actor, policy.Capability.EDIT_DEALPOINTS)
        and policy.restrict(
            DealPoint.objects.filter(pk=dealpoint.pk), actor=actor, action=policy.Action.CHANGE
        ).exists()
    )
    record_operation = (
        dealpoint.merged_into_id is None
        and policy.can(actor, policy.Capability.RECORD_OPERATIONS)
        and policy.restrict(DealPoint.objects.filter(pk=dealpoint.pk), actor=actor).exists()
    )
    return DealPointPermissions(change=change, record_operation=record_operation)


@dataclass(frozen=True)
class DealPointDetail:
    """Everything the detail page shows beside the point itself, already restricted to what
    the actor may see."""

    # The links to the reports the actor may see (`dealpoint_links`).
    attached: list[ReportLink]
    # How many attached reports the actor is not given (only their number).
    hidden_attached: int
    proposed: list[ReportLink]
    operations: list[Operation]
    events: list[DealPointEvent]
    # Reports (ids) whose own page the actor may open.
    visible_report_ids: frozenset[int]
    merged_into: DealPoint | None
    merged_points: list[DealPoint]
    successor: DealPoint | None
    predecessors: list[DealPoint]


def visible_points(actor: User, ids: Iterable[int | None]) -> list[DealPoint]:
    """The points among `ids` the actor may see (`policy.restrict`), by reference: the
    related points a record or an API answer may name (successor, merged into...)."""
    wanted = {pk for pk in ids if pk is not None}
    if not wanted:
        return []
    return list(
        policy.restrict(DealPoint.objects.filter(pk__in=wanted), actor=actor).order_by("reference")
    )


def _related_point(
    *, actor: User, dealpoint: DealPoint, pk: int | None, view: str
) -> DealPoint | None:
    """The point `dealpoint` names by `pk` (its successor, the point it was merged into), if
    the actor may see it; audited as a listing of that point (`view`), beside the point's own
    read, as the history's names are."""
    found = visible_points(actor, [pk])
    if not found:
        return None
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=DealPoint._meta.label_lower,
        details={"view": view, "point": dealpoint.reference, "points": [found[0].reference]},
    )
    return found[0]


def successor_told(*, actor: User, dealpoint: DealPoint) -> str | None:
    """The reference of a moved point's successor, if the actor may see it (a message names
    it); audited (`_related_point`)."""
    shown = _related_point(
        actor=actor, dealpoint=dealpoint, pk=dealpoint.successor_id, view="successor"
    )
    return shown.reference if shown is not None else None


def move_alerts_raised(*, actor: User, dealpoint: DealPoint) -> list[str]:
    """The references of the dismantled points a new point has just raised a move alert for
    (« déplacement ? », `flows.dealpoint_successor_check`), those the actor may see: what the
    creation's message names. Audited as a listing of points, when any."""
    alerts = Alert.objects.filter(
        candidate=dealpoint, kind=AlertKind.SUCCESSOR, status=AlertStatus.OPEN
    )
    named = [
        point.reference
        for point in visible_points(actor, alerts.values_list("dealpoint_id", flat=True))
    ]
    if named:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=DealPoint._meta.label_lower,
            details={"view": "move_alerts", "point": dealpoint.reference, "points": named},
        )
    return named


# The points said near a new one, at most (the nearest).
NEARBY_SAID = 3


def points_near(
    *,
    actor: User,
    latitude: float | None,
    longitude: float | None,
    precision: str,
    exclude: Collection[str] = (),
) -> list[tuple[float, str]]:
    """The points the actor may see (merged ones aside) whose position may be this one's:
    within one combined position uncertainty of the matching (`matching.sigma_m`: 57 m for two
    building-level positions, 21 m for two stairwells), nearest first, as (metres,
    reference), `NEARBY_SAID` at most. `exclude`: references left out (here, not in the
    query: a NOT IN of every point an import created so far, per line, grew with the file).
    Not audited: the caller says them (an import's warnings, `points_near_created`)."""
    if latitude is None or longitude is None:
        return []
    widest = matching.sigma_m(precision, Precision.AREA)
    candidates = policy.restrict(
        DealPoint.objects.filter(
            merged_into__isnull=True,
            h3_r9__in=matching.search_cells(latitude, longitude, widest),
        ),
        actor=actor,
    )
    found = []
    for reference, other_latitude, other_longitude, other_precision in candidates.values_list(
        "reference", "latitude", "longitude", "precision"
    ):
        if reference in exclude:
            continue
        distance = matching.haversine_m(latitude, longitude, other_latitude, other_longitude)
        if distance <= matching.sigma_m(precision, other_precision):
            found.append((distance, reference))
    return sorted(found)[:NEARBY_SAID]


def points_near_created(*, actor: User, dealpoint: DealPoint) -> list[tuple[float, str]]:
    """The points a point just created by hand may duplicate (`points_near`), those the actor
    may see: what the creation's message names (a point 10 m from another was created without
    a word, review). Audited as a listing of points, when any."""
    found = points_near(
        actor=actor,
        latitude=dealpoint.latitude,
        longitude=dealpoint.longitude,
        precision=dealpoint.precision,
        exclude={dealpoint.reference},
    )
    if found:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=DealPoint._meta.label_lower,
            details={
                "view": "created_nearby",
                "point": dealpoint.reference,
                "points": [reference for _distance, reference in found],
            },
        )
    return found


def dealpoint_links(*, actor: User, dealpoint: DealPoint) -> QuerySet[ReportLink]:
    """The reports tied to a point (attached, lent by a merge, proposed; not the refused
    ones) that the actor may see (`policy.restrict` on the reports: an investigator, who
    sees the point, receives none of them), newest first. Not audited: the caller passes
    what it shows to `dealpoint_links_audit` (an API page is a part of them)."""
    visible = policy.restrict(Report.objects.all(), actor=actor)
    return (
        dealpoint.links.exclude(decision__in=UNTIED_DECISIONS)
        .filter(report__in=visible.values("pk"))
        .select_related("report", "decided_by")
        .order_by("-report__received_at", "-pk")
    )


def dealpoint_links_audit(
    *, actor: User, dealpoint: DealPoint, links: Iterable[ReportLink], view: str
) -> None:
    """Audit the reports named by `links` (from `dealpoint_links`) as a listing of those
    reports, beside the point's own read (`access_dealpoint`); nothing when none is named."""
    named = sorted({link.report.reference for link in links})
    if named:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=Report._meta.label_lower,
            details={"view": view, "point": dealpoint.reference, "reports": named},
        )


def dealpoint_attached_links(*, actor: User, dealpoint: DealPoint, view: str) -> list[ReportLink]:
    """The reports attached to a point (or lent to it by a merge) that the actor may see, for
    the split page (not the record's operations or history); audited as a listing of them."""
    links = [
        link
        for link in dealpoint_links(actor=actor, dealpoint=dealpoint)
        if link.decision in ATTACHED_DECISIONS or link.decision == LinkDecision.MERGED
    ]
    dealpoint_links_audit(actor=actor, dealpoint=dealpoint, links=links, view=view)
    return links


def dealpoint_operations(*, actor: User, dealpoint: DealPoint, view: str) -> QuerySet[Operation]:
    """The point's operations and those of the points merged into it that the actor may see
    (a raid recorded on the duplicate record was a raid at this place; the map counts it here
    too), newest first, each with its own point (`operation.dealpoint`). Those of merged
    points are audited as a listing of them; the point's own come with its read."""
    merged = visible_points(
        actor, DealPoint.objects.filter(merged_root=dealpoint.pk).values_list("pk", flat=True)
    )
    operations = Operation.objects.filter(
        dealpoint_id__in=[dealpoint.pk, *(point.pk for point in merged)]
    ).select_related("dealpoint", "service", "recorded_by", "cancelled_by")
    if merged and operations.exclude(dealpoint=dealpoint).exists():
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=Operation._meta.label_lower,
            details={
                "view": view,
                "point": dealpoint.reference,
                "merged_points": [point.reference for point in merged],
            },
        )
    return operations.order_by("-occurred_on", "-pk")


def dealpoint_detail(
    *, actor: User, dealpoint: DealPoint, view: str = "dealpoint_detail"
) -> DealPointDetail:
    """The reports tied to a point (attached and proposed) that the actor may see, its
    operations, its history (newest first, told to the actor: `dealpoint_history`) and the
    points it is related to (successor, predecessors, merged points: only those the actor may
    see). Call after `access_dealpoint`, which audits the read of the point; the reports
    named are audited here as listings."""
    links = list(dealpoint_links(actor=actor, dealpoint=dealpoint))
    dealpoint_links_audit(actor=actor, dealpoint=dealpoint, links=links, view=view)
    attached = [
        link
        for link in links
        if link.decision in ATTACHED_DECISIONS or link.decision == LinkDecision.MERGED
    ]
    # The attached reports the actor is not given: their number is the point's own count
    # (`reports_count`), which the record tells anyway; their references are not.
    attached_total = dealpoint.links.filter(
        decision__in=[*ATTACHED_DECISIONS, LinkDecision.MERGED]
    ).count()
    visible: frozenset[int] = frozenset()
    if links and policy.can(actor, policy.Capability.TRIAGE_REPORTS):
        visible = frozenset(link.report_id for link in links)
    merged_into = visible_points(actor, [dealpoint.merged_into_id])
    successor = visible_points(actor, [dealpoint.successor_id])
    return DealPointDetail(
        # A merged point shows the reports it lent to the point it was merged into.
        attached=attached,
        hidden_attached=attached_total - len(attached),
        proposed=[link for link in links if link.decision == LinkDecision.PROPOSED],
        operations=list(dealpoint_operations(actor=actor, dealpoint=dealpoint, view=view)),
        events=dealpoint_history(
            actor=actor,
            dealpoint=dealpoint,
            events=dealpoint.events.select_related("actor").order_by("-occurred_at", "-pk"),
            view=view,
        ),
        visible_report_ids=visible,
        merged_into=merged_into[0] if merged_into else None,
        merged_points=visible_points(actor, dealpoint.merged_points.values_list("pk", flat=True)),
        successor=successor[0] if successor else None,
        predecessors=visible_points(actor, dealpoint.predecessors.values_list("pk", flat=True)),
    )


# What a history entry's details name besides the point itself (as `services._event` writes
# them): references of reports and of other points. The writers keep them whole; a reader is
# told those it may see.
HISTORY_REPORT_KEYS = ("report",)
# Values that tell of the report a key names, withheld (None) with its reference: the
# matching's score of an attachment (an investigator is told neither the reports' references,
# dates nor scores; the API gave the score: an API review, 2026-12-06).
HISTORY_REPORT_VALUE_KEYS = {"report": ("score",)}
HISTORY_REPORT_LIST_KEYS = ("reports",)
# Keyed by report reference (`was` only in a merge's entry; a detachment's `was` is a decision).
HISTORY_REPORT_MAP_KEYS = ("was", "stayed")
HISTORY_POINT_KEYS = (
    "into", "from", "other", "new", "moved_to", "successor", "previous_successor",
    "predecessor", "candidate", "status_changed", "attached_to", "merged",
)  # fmt: skip
HISTORY_POINT_LIST_KEYS = ("moved_from",)
# Values that tell of the point a key names, withheld (None) with its reference: the status
# a predecessor the reader does not see ended in (need-to-know audit, 2026-12-06).
HISTORY_POINT_VALUE_KEYS = {"predecessor": ("ended",)}
# Never shown: the unmerge's own record (the target's former links, their authors' ids; the
# proposals and alerts that followed the merge), the one-time token of the operation form that
# recorded an operation (sent twice, once), the fingerprint of an imported line (imported
# again, skipped) and the id of the alert an entry is about (an analyst's record, which an
# investigator reading the point may not see: the entry says what the alert was).
HISTORY_INTERNAL_KEYS = (
    "replaced",
    "followed",
    "submission",
    "origin_fingerprint",
    "alert",
    "since_before",
)
# In a reader's copy of an entry: the keys whose reference it is not told (their value is
# None), and how many reports it is not told per list or map ({"reports": 2, "stayed": 1};
# a merge's `was` names the same reports as its `reports`).
UNDISCLOSED = "undisclosed"
UNDISCLOSED_REPORTS = "reports_undisclosed"


def _history_names(details: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    reports: set[str] = set()
    points: set[str] = set()
    for key in HISTORY_REPORT_KEYS:
        if isinstance(details.get(key), str):
            reports.add(details[key])
    for key in HISTORY_REPORT_LIST_KEYS:
        reports.update(str(value) for value in details.get(key) or [])
    for key in HISTORY_REPORT_MAP_KEYS:
        if isinstance(details.get(key), dict):
            reports.update(details[key])
    for key in HISTORY_POINT_KEYS:
        if isinstance(details.get(key), str):
            points.add(details[key])
    for key in HISTORY_POINT_LIST_KEYS:
        points.update(str(value) for value in details.get(key) or [])
    if isinstance(details.get("stayed"), dict):
        points.update(value for value in details["stayed"].values() if isinstance(value, str))
    return reports, points


def _history_told(
    details: Mapping[str, Any], *, reports: set[str], points: set[str]
) -> dict[str, Any]:
    """A reader's copy of an entry's details: the references of `reports` and `points` it
    may see, None (and the key in `undisclosed`) for another, and the number of reports of
    a list or a map it is not told (per key)."""
    told = {
        key: dict(value) if isinstance(value, dict) else value
        for key, value in details.items()
        if key not in HISTORY_INTERNAL_KEYS
    }
    undisclosed: list[str] = []
    hidden_reports: dict[str, int] = {}
    for key in HISTORY_REPORT_KEYS:
        if isinstance(told.get(key), str) and told[key] not in reports:
            told[key] = None
            undisclosed.append(key)
            for value_key in HISTORY_REPORT_VALUE_KEYS.get(key, ()):
                if value_key in told:
                    told[value_key] = None
    for key in HISTORY_REPORT_LIST_KEYS:
        if told.get(key):
            kept = [value for value in told[key] if value in reports]
            if len(kept) < len(told[key]):
                hidden_reports[key] = len(told[key]) - len(kept)
            told[key] = kept
    for key in HISTORY_REPORT_MAP_KEYS:
        if isinstance(told.get(key), dict):
            kept_map = {ref: value for ref, value in told[key].items() if ref in reports}
            if len(kept_map) < len(told[key]) and key != "was":
                hidden_reports[key] = len(told[key]) - len(kept_map)
            told[key] = kept_map
    if isinstance(told.get("stayed"), dict):
        # A report that stayed at a point the reader does not see: "stayed:<reference>". An
        # empty value is no point: the report stayed detached.
        for ref, value in told["stayed"].items():
            if value and value not in points:
                told["stayed"][ref] = None
                undisclosed.append(f"stayed:{ref}")
    for key in HISTORY_POINT_KEYS:
        if isinstance(told.get(key), str) and told[key] not in points:
            told[key] = None
            undisclosed.append(key)
            for value_key in HISTORY_POINT_VALUE_KEYS.get(key, ()):
                if value_key in told:
                    told[value_key] = None
    for key in HISTORY_POINT_LIST_KEYS:
        if told.get(key):
            values = [value if value in points else None for value in told[key]]
            if None in values:
                undisclosed.append(key)
            told[key] = values
    if undisclosed:
        told[UNDISCLOSED] = undisclosed
    if hidden_reports:
        told[UNDISCLOSED_REPORTS] = hidden_reports
    return told


def _history_buildings(*, actor: User, events: list[DealPointEvent]) -> dict[int, str]:
    """The name of each landlord's building a change of the history names, among those the
    actor may see (audited by `dealpoint_history` as a listing of them). The history said
    « Bâtiment du bailleur modifié », not which (review)."""
    named = {
        pk
        for event in events
        if event.kind == EventKind.EDITED
        and isinstance((change := (event.details or {}).get("building_id")), list)
        for pk in change
        if isinstance(pk, int)
    }
    if not named:
        return {}
    return dict(
        policy.restrict(Building.objects.filter(pk__in=named), actor=actor)
        .order_by("pk")
        .values_list("pk", "name")
    )  # fmt: skip


def dealpoint_history(
    *, actor: User, dealpoint: DealPoint, events: Iterable[DealPointEvent], view: str
) -> list[DealPointEvent]:
    """The entries of a point's history as the actor is told them: the reports and the other
    points their details name only where the actor may see them (`policy.restrict`: an
    investigator, who sees the point, is told that a report was attached, never which), and
    never the unmerge's own record. Unsaved copies: the history itself is never changed.
    Call after the point's own audited read; the reports and points named are audited as
    listings of them, beside it. An entry's free note is shown as written."""
    events = list(events)
    named_reports: set[str] = set()
    named_points: set[str] = set()
    for event in events:
        reports, points = _history_names(event.details or {})
        named_reports |= reports
        named_points |= points
    named_points.discard(dealpoint.reference)
    reports_told: set[str] = set()
    if named_reports:
        reports_told = set(
            policy.restrict(Report.objects.filter(reference__in=named_reports), actor=actor)
            .values_list("reference", flat=True)
        )  # fmt: skip
    points_told: set[str] = {dealpoint.reference}
    if named_points:
        points_told |= set(
            policy.restrict(DealPoint.objects.filter(reference__in=named_points), actor=actor)
            .values_list("reference", flat=True)
        )  # fmt: skip
    buildings_told = _history_buildings(actor=actor, events=events)
    told = []
    for event in events:
        copy = DealPointEvent(
            pk=event.pk,
            dealpoint_id=event.dealpoint_id,
            kind=event.kind,
            occurred_at=event.occurred_at,
            actor=event.actor,
            from_status=event.from_status,
            to_status=event.to_status,
            details=_history_told(event.details or {}, reports=reports_told, points=points_told),
            note=event.note,
        )
        change = copy.details.get("building_id")
        if event.kind == EventKind.EDITED and isinstance(change, list):
            # The buildings' names, where the reader may see them (None: not told).
            copy.details["building"] = [buildings_told.get(pk) if pk else "" for pk in change[:2]]
        told.append(copy)
    named_told: tuple[tuple[type[Model], list[Any], str], ...] = (
        (Report, sorted(reports_told), "reports"),
        (DealPoint, sorted(points_told - {dealpoint.reference}), "points"),
        (Building, sorted(buildings_told), "buildings"),
    )
    for model, names, key in named_told:
        if names:
            audit_record(
                actor=actor,
                action=AuditAction.LIST,
                object_type=model._meta.label_lower,
                details={
                    "view": view,
                    "section": "history",
                    "point": dealpoint.reference,
                    key: names,
                },
            )
    return told


def dealpoint_merged_into(*, actor: User, dealpoint: DealPoint) -> DealPoint | None:
    """The point `dealpoint` was merged into, if the actor may see it (None otherwise, and
    for a point not merged). Call after the point's own audited read; the point named is
    audited as a listing of it, beside that read (`_related_point`)."""
    return _related_point(
        actor=actor, dealpoint=dealpoint, pk=dealpoint.merged_into_id, view="merged_into"
    )


@dataclass(frozen=True)
class ReportMatching:
    """Where the matching put a report, as far as the actor may see: the point it is attached
    to, the points proposed, the open alerts it raised (points dismantled nearby)."""

    attached: ReportLink | None
    proposed: list[ReportLink]
    alerts: list[Alert]
    # The open proposal of a new point that holds it.
    in_proposal: Proposal | None = None


def report_matching(*, actor: User, report: Report) -> ReportMatching:
    """The report's links and open alerts, on the points the actor may see (call after the
    report's own audited read); the points it names are audited as a listing."""
    visible = policy.restrict(DealPoint.objects.all(), actor=actor)
    links = list(
        ReportLink.objects.filter(
            report=report,
            dealpoint__in=visible,
            decision__in=[*ATTACHED_DECISIONS, LinkDecision.PROPOSED],
        )
        .select_related("dealpoint")
        .order_by("-score", "pk")
    )
    alerts = list(
        policy.restrict(Alert.objects.all(), actor=actor)
        .filter(report=report, status=AlertStatus.OPEN, dealpoint__in=visible)
        .select_related("dealpoint")
        .order_by("distance_m", "pk")
    )
    named = sorted(
        {link.dealpoint.reference for link in links} | {a.dealpoint.reference for a in alerts}
    )
    if named:
        # The points named are protected records read on the report's page: audited as a
        # listing of those points, beside the report's own read.
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=DealPoint._meta.label_lower,
            details={"view": "report_matching", "report": report.reference, "points": named},
        )
    attached = next((link for link in links if link.decision in ATTACHED_DECISIONS), None)
    # A report no point holds may be in a proposal of a new point (new-user review: its page
    # said it awaited the grouping it was already in).
    in_proposal = (
        policy.restrict(Proposal.objects.all(), actor=actor)
        .filter(reports=report, status=ProposalStatus.OPEN)
        .order_by("-pk")
        .first()
        if attached is None
        else None
    )
    if in_proposal is not None:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=Proposal._meta.label_lower,
            details={
                "view": "report_matching",
                "report": report.reference,
                "proposals": [in_proposal.pk],
            },
        )
    return ReportMatching(
        attached=attached,
        proposed=[link for link in links if link.decision == LinkDecision.PROPOSED],
        alerts=alerts,
        in_proposal=in_proposal,
    )


@dataclass(frozen=True)
class AttachedElsewhere:
    """Why a report placed by an analyst is not placed again yet: it is attached to a point
    (`dealpoint`, or None when the actor may not see that point: « un autre point »)."""

    dealpoint: DealPoint | None


def report_attached_elsewhere(*, actor: User, report: Report) -> AttachedElsewhere | None:
    """Whether a report is attached to a point, seen or not by the actor: the one check that
    both the report's page (which then offers no placing, and says « attached to a point your
    profile does not see » rather than « to no point ») and `flows.report_place_and_match`
    (which refuses) read, so that the page never offers what the flow refuses. Not audited:
    the point, when the actor may see it, is named on the report's page by `report_matching`,
    which audits it."""
    link = (
        ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS)
        .order_by("pk")
        .first()
    )
    if link is None:
        return None
    seen = policy.restrict(DealPoint.objects.filter(pk=link.dealpoint_id), actor=actor).first()
    return AttachedElsewhere(dealpoint=seen)


def dealpoint_by_reference(
    *, actor: User, reference: str, action: policy.Action = policy.Action.VIEW
) -> DealPoint | None:
    """The point with this reference (`PD-13-0042`, case and spaces forgiven) if the actor may
    act on it, else None. Not audited: the service that uses it records what it does."""
    reference = normalise_reference(reference)
    if not reference:
        return None
    return policy.restrict(
        DealPoint.objects.filter(reference=reference), actor=actor, action=action
    ).first()


def report_by_reference(*, actor: User, reference: str) -> Report | None:
    """The report with this reference (`SIG-13-000042`) if the actor may see it, else None."""
    reference = (reference or "").strip().upper()
    if not reference:
        return None
    return policy.restrict(Report.objects.filter(reference=reference), actor=actor).first()


# What a reference that names nothing the reader may use is told, in the same words on the
# pages and in the API (which said « Point inconnu ou invisible pour vous. »; user audit).
POINT_REFERENCE_UNKNOWN = gettext_lazy("Aucun point de deal visible ne porte cette référence.")
POINT_REFERENCE_UNCHANGEABLE = gettext_lazy(
    "Aucun point de deal que vous pouvez modifier ne porte cette référence."
)
REPORT_REFERENCE_UNKNOWN = gettext_lazy("Aucun signalement visible ne porte cette référence.")
# A reference of the other kind of record, told by its form alone (nothing is looked up):
# « PD-13-0001 » typed where a report is asked was « Aucun signalement… » (review).
POINT_REFERENCE_WHERE_REPORT = gettext_lazy(
    "« %(reference)s » est la référence d'un point de deal : indiquez celle d'un signalement "
    "(ex. SIG-13-000042)."
)
REPORT_REFERENCE_WHERE_POINT = gettext_lazy(
    "« %(reference)s » est la référence d'un signalement : indiquez celle d'un point de deal "
    "(ex. PD-13-0042)."
)


def _other_kind(reference: str, *, prefix: str, message: Any) -> str:
    """`message` naming the reference when it is written as the other kind's (`prefix`)."""
    written = normalise_reference(reference)
    return str(message) % {"reference": written[:30]} if written.startswith(prefix) else ""


def dealpoint_named(
    *, actor: User, reference: str, field: str, action: policy.Action = policy.Action.VIEW
) -> DealPoint:
    """The point a form or a request names by its reference in `field` (a successor, a merge's
    target), if the actor may act on it (`dealpoint_by_reference`); refused on that field
    otherwise, in one wording for the pages and the API. Not audited (the service is)."""
    point = dealpoint_by_reference(actor=actor, reference=reference, action=action)
    if point is None:
        unknown = _other_kind(reference, prefix="SIG-", message=REPORT_REFERENCE_WHERE_POINT) or (
            POINT_REFERENCE_UNKNOWN
            if action == policy.Action.VIEW
            else POINT_REFERENCE_UNCHANGEABLE
        )
        raise ValidationError({field: unknown})
    return point


def report_named(*, actor: User, reference: str, field: str = "report") -> Report:
    """The report a form or a request names by its reference in `field`, if the actor may see
    it; refused on that field otherwise, in one wording for the pages and the API."""
    report = report_by_reference(actor=actor, reference=reference)
    if report is None:
        raise ValidationError(
            {
                field: _other_kind(reference, prefix="PD-", message=POINT_REFERENCE_WHERE_REPORT)
                or REPORT_REFERENCE_UNKNOWN
            }
        )
    return report


def dealpoint_building_choices(
    *,
    actor: User,
    view: str,
    departement_id: int | None = None,
    near: tuple[float, float] | None = None,
) -> QuerySet[Building]:
    """The landlords' buildings the actor may tie a point to (those it may see), optionally
    of one département; nearest first when the point's position is known (`near`: each gets
    `near_m2`, its squared distance in metres, on a plane: a département at most), else by commune
    and name. The form that offers them shows each one (name, commune, landlord): audited as
    a listing of buildings, with its filter and count."""
    queryset = policy.restrict(
        Building.objects.select_related("commune", "owner_organisation"), actor=actor
    )
    departement = None
    if departement_id is not None:
        queryset = queryset.filter(departement_id=departement_id)
        departement = (
            Departement.objects.filter(pk=departement_id).values_list("code", flat=True).first()
        )
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=Building._meta.label_lower,
        details={"view": view, "filters": {"departement": departement}, "count": queryset.count()},
    )
    if near is None:
        return queryset.order_by("commune__name", "name")
    latitude, longitude = near
    # Metres per degree: of latitude, and of longitude at this latitude.
    north, east = 111_320.0, 111_320.0 * math.cos(math.radians(latitude))
    squared = ExpressionWrapper(
        (F("latitude") - latitude) * (F("latitude") - latitude) * north * north
        + (F("longitude") - longitude) * (F("longitude") - longitude) * east * east,
        output_field=FloatField(),
    )
    # The position too, for the form to say each distance as the service measures it.
    return queryset.annotate(
        near_m2=squared,
        near_latitude=Value(latitude, output_field=FloatField()),
        near_longitude=Value(longitude, output_field=FloatField()),
    ).order_by("near_m2", "name")


def operation_service_choices(*, actor: User, dealpoint: DealPoint) -> QuerySet[Organisation]:
    """The services in whose name the actor may record an operation on this point."""
    return policy.operation_services(actor, departement_id=dealpoint.departement_id).order_by(
        "name"
    )


def operation_for_change(*, actor: User, pk: Any) -> Operation:
    """An operation on a point the actor may see (404 otherwise), for a change the service
    checks and audits (`services.operation_cancel`)."""
    points = policy.restrict(DealPoint.objects.all(), actor=actor)
    operation = Operation.objects.filter(pk=pk, dealpoint__in=points.values("pk")).first()
    if operation is None:
        raise Http404
    return operation


def operation_cancel_choices(*, actor: User, dealpoint: DealPoint) -> QuerySet[Operation]:
    """The point's operations (not cancelled) that the actor may cancel as recorded by
    mistake (`policy.cancellable_operations`), newest first."""
    return policy.cancellable_operations(
        actor,
        dealpoint.operations.standing().select_related("service"),
        departement_id=dealpoint.departement_id,
    ).order_by("-occurred_on", "-pk")


def dealpoint_link(
    *, actor: User, dealpoint: DealPoint, report_pk: Any, with_rejected: bool = False
) -> ReportLink:
    """The (not rejected, unless `with_rejected`: a decision on a link read before it was
    refused is told so) tie of a report the actor may see to a point already authorised for
    the change (404 otherwise, as for no tie: the record lists no other)."""
    links = dealpoint.links.filter(report__in=policy.restrict(Report.objects.all(), actor=actor))
    if not with_rejected:
        links = links.exclude(decision__in=UNTIED_DECISIONS)
    link = links.select_related("report").filter(report_id=report_pk).first()
    if link is None:
        raise Http404
    return link


def picker_departement_codes(*, actor: User, limit: int = 3) -> list[str]:
    """Codes of the départements whose communes the position picker draws (offline maps):
    the first ones of the actor's territory."""
    return list(
        policy.restrict(Departement.objects.order_by("code"), actor=actor).values_list(
            "code", flat=True
        )[:limit]
    )


def operation_list(*, actor: User, filters: dict[str, Any] | None = None) -> QuerySet[Operation]:
    """The operations on the points the actor may see (merged points included: their history
    stays), newest first, filtered by `kind`, `outcome`, `service` (id), `date_from`,
    `date_to`, `departement` (code) and `cancelled` (true: only those cancelled; false: only
    those that count), already validated. The listing is audited with its filters."""
    filters = {name: value for name, value in (filters or {}).items() if value not in (None, "")}
    points = policy.restrict(DealPoint.objects.all(), actor=actor)
    queryset = Operation.objects.filter(dealpoint__in=points.values("pk")).select_related(
        "dealpoint", "service"
    )
    if "kind" in filters:
        queryset = queryset.filter(kind=filters["kind"])
    if "outcome" in filters:
        queryset = queryset.filter(outcome=filters["outcome"])
    if "service" in filters:
        queryset = queryset.filter(service_id=filters["service"])
    if "date_from" in filters:
        queryset = queryset.filter(occurred_on__gte=filters["date_from"])
    if "date_to" in filters:
        queryset = queryset.filter(occurred_on__lte=filters["date_to"])
    if "departement" in filters:
        queryset = queryset.filter(dealpoint__departement__code=filters["departement"])
    if "cancelled" in filters:
        queryset = queryset.filter(cancelled_at__isnull=not filters["cancelled"])
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=Operation._meta.label_lower,
        details={"filters": {name: str(value) for name, value in filters.items()}},
    )
    return queryset.order_by("-occurred_on", "-pk")
