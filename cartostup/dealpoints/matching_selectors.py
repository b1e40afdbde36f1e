"""Reads of the matching queue, always from what the actor may see (`access.policy`); the
listing is audited with its counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils import timezone

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.reports.models import Report

from . import matching
from .choices import AlertStatus, LinkDecision, ProposalStatus
from .models import Alert, DealPoint, Proposal, ReportLink

# Items per section (newest first).
QUEUE_LIMIT = 100


@dataclass(frozen=True)
class LinkRow:
    """A proposed link and why the matching proposed it (`matching.explain`)."""

    link: ReportLink
    why: matching.Explanation


@dataclass(frozen=True)
class MatchingQueue:
    link_rows: list[LinkRow]
    proposals: list[Proposal]
    alerts: list[Alert]
    # The points named in the queue that the actor may open (their references are links).
    visible_dealpoint_ids: frozenset[int] = frozenset()


def matching_queue(*, actor: User, limit: int = QUEUE_LIMIT) -> MatchingQueue:
    """Proposed links (between a report and a point the actor both see), open proposals of
    new points and open alerts the actor may see, newest first; audited as a listing."""
    visible_points = policy.restrict(DealPoint.objects.all(), actor=actor)
    visible_reports = policy.restrict(Report.objects.all(), actor=actor)
    links = list(
        ReportLink.objects.filter(
            decision=LinkDecision.PROPOSED,
            dealpoint__in=visible_points.values("pk"),
            report__in=visible_reports.values("pk"),
            dealpoint__merged_into__isnull=True,
        )
        .select_related("report", "dealpoint", "dealpoint__commune")
        .order_by("-created_at", "-pk")[:limit]
    )
    proposals = list(
        policy.restrict(Proposal.objects.filter(status=ProposalStatus.OPEN), actor=actor)
        .select_related("commune")
        .prefetch_related(Prefetch("reports", queryset=Report.objects.order_by("received_at")))
        .order_by("-created_at", "-pk")[:limit]
    )
    alerts = list(
        policy.restrict(Alert.objects.filter(status=AlertStatus.OPEN), actor=actor)
        .select_related("dealpoint", "report", "candidate", "commune")
        .order_by("-created_at", "-pk")[:limit]
    )
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type="dealpoints.matching",
        details={"links": len(links), "proposals": len(proposals), "alerts": len(alerts)},
    )
    named = {link.dealpoint_id for link in links}
    named |= {alert.dealpoint_id for alert in alerts}
    named |= {alert.candidate_id for alert in alerts if alert.candidate_id is not None}
    visible_ids = frozenset(visible_points.filter(pk__in=named).values_list("pk", flat=True))
    now = timezone.now()
    rows = [
        LinkRow(
            link,
            matching.explain(
                matching.ReportFeatures.of(link.report),
                matching.PointFeatures.of(link.dealpoint),
                now=now,
            ),
        )
        for link in links
    ]
    return MatchingQueue(
        link_rows=rows, proposals=proposals, alerts=alerts, visible_dealpoint_ids=visible_ids
    )
