"""Reads of the matching queue, always from what the actor may see (`access.policy`); the
listing is audited with its counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from cartostup.access import policy
from cartostup.access.models import User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.reports.models import Report

from . import matching
from .choices import PROPOSAL_REOPEN_DAYS, AlertStatus, LinkDecision, ProposalStatus
from .models import Alert, DealPoint, Proposal, ReportLink

# Items per section (newest first).
QUEUE_LIMIT = 100


@dataclass(frozen=True)
class LinkRow:
    """A proposed link and why the matching proposed it (`matching.explain`)."""

    link: ReportLink
    why: matching.Explanation


@dataclass(frozen=True)
class ProposalRow:
    """A proposed new point and those of its reports the actor may see."""

    proposal: Proposal
    reports: list[Report]


@dataclass(frozen=True)
class MatchingQueue:
    link_rows: list[LinkRow]
    proposals: list[ProposalRow]
    alerts: list[Alert]
    # The points named in the queue that the actor may open (their references are links).
    visible_dealpoint_ids: frozenset[int] = frozenset()
    # Proposals dismissed lately, as long as an analyst may reopen them (`report_count`).
    dismissed: list[Proposal] = field(default_factory=list)
    # How many wait in each section ("links", "proposals", "alerts") where more wait than it
    # shows (the `limit` newest): the analyst is told that older ones wait.
    totals: dict[str, int] = field(default_factory=dict)


def _reports_audit(*, actor: User, view: str, reports: list[str], **details: object) -> None:
    """Audit the reports a page names (their references) as a listing of reports."""
    named = sorted(set(reports))
    if named:
        audit_record(
            actor=actor,
            action=AuditAction.LIST,
            object_type=Report._meta.label_lower,
            details={"view": view, **details, "reports": named},
        )


def _visible_reports_of(*, actor: User, proposals: list[Proposal]) -> dict[int, list[Report]]:
    """For each proposal, its reports the actor may see (`policy.restrict`), oldest first, in
    one query."""
    visible = policy.restrict(Report.objects.all(), actor=actor)
    through = Proposal.reports.through.objects.filter(
        proposal_id__in=[proposal.pk for proposal in proposals],
        report_id__in=visible.values("pk"),
    ).select_related("report")
    found: dict[int, list[Report]] = {proposal.pk: [] for proposal in proposals}
    for row in through.order_by("report__received_at", "report__pk"):
        found[row.proposal_id].append(row.report)
    return found


def proposal_reports(*, actor: User, proposal: Proposal) -> list[Report]:
    """The reports of a proposed new point that the actor may see, oldest first (what the
    page that creates the point shows and prefills its form from); audited as a listing of
    those reports. Call after the proposal's own audited read."""
    reports = _visible_reports_of(actor=actor, proposals=[proposal])[proposal.pk]
    _reports_audit(
        actor=actor,
        view="proposal_accept",
        proposal=proposal.pk,
        reports=[report.reference for report in reports],
    )
    return reports


def matching_queue(
    *, actor: User, limit: int | None = None, proposal_id: int | None = None
) -> MatchingQueue:
    """Proposed links (between a report and a point the actor both see), open proposals of
    new points and open alerts the actor may see, newest first; audited as a listing. With
    `proposal_id` (the map's link to one proposal), that open proposal too when it is older
    than the `limit` newest, so the link lands on it."""
    limit = QUEUE_LIMIT if limit is None else limit
    visible_points = policy.restrict(DealPoint.objects.all(), actor=actor)
    visible_reports = policy.restrict(Report.objects.all(), actor=actor)
    proposed_links = ReportLink.objects.filter(
        decision=LinkDecision.PROPOSED,
        dealpoint__in=visible_points.values("pk"),
        report__in=visible_reports.values("pk"),
        dealpoint__merged_into__isnull=True,
    )
    links = list(
        proposed_links.select_related("report", "dealpoint", "dealpoint__commune").order_by(
            "-created_at", "-pk"
        )[:limit]
    )
    open_proposals = policy.restrict(
        Proposal.objects.filter(status=ProposalStatus.OPEN), actor=actor
    ).select_related("commune")
    proposals = list(open_proposals.order_by("-created_at", "-pk")[:limit])
    if proposal_id is not None and all(p.pk != proposal_id for p in proposals):
        proposals += list(open_proposals.filter(pk=proposal_id))
    proposal_reports_seen = _visible_reports_of(actor=actor, proposals=proposals)
    # Only about points the actor reads (an alert raised before its point was kept narrower
    # keeps its former diffusion), and naming no candidate it does not read.
    readable = policy.restrict(DealPoint.objects.all(), actor=actor).values("pk")
    open_alerts = policy.restrict(
        Alert.objects.filter(status=AlertStatus.OPEN), actor=actor
    ).filter(Q(candidate__isnull=True) | Q(candidate__in=readable), dealpoint__in=readable)
    alerts = list(
        open_alerts.select_related("dealpoint", "report", "candidate", "commune").order_by(
            "-created_at", "-pk"
        )[:limit]
    )
    # Counted only where the section is full (below the limit, what is shown is all), and
    # kept where more wait than are shown.
    totals: dict[str, int] = {}
    for name, queryset, shown in (
        ("links", proposed_links, links),
        ("proposals", open_proposals, proposals),
        ("alerts", open_alerts, alerts),
    ):
        if len(shown) >= limit and (total := queryset.count()) > len(shown):
            totals[name] = total
    # Their place, their number of reports and who dismissed them: no report is named.
    dismissed: list[Proposal] = list(
        policy.restrict(
            Proposal.objects.filter(
                status=ProposalStatus.DISMISSED,
                decided_at__gte=timezone.now() - timedelta(days=PROPOSAL_REOPEN_DAYS),
            ),
            actor=actor,
        )
        .select_related("commune", "decided_by")
        .annotate(report_count=Count("reports"))
        .order_by("-decided_at", "-pk")[:limit]
    )
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type="dealpoints.matching",
        details={
            "links": len(links),
            "proposals": len(proposals),
            "alerts": len(alerts),
            "dismissed": len(dismissed),
            **({"totals": totals} if totals else {}),
        },
    )
    # The reports the queue names (proposed links, proposals, resurgence alerts).
    _reports_audit(
        actor=actor,
        view="matching_queue",
        reports=[
            *(link.report.reference for link in links),
            *(r.reference for reports in proposal_reports_seen.values() for r in reports),
            *(alert.report.reference for alert in alerts if alert.report is not None),
        ],
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
        link_rows=rows,
        proposals=[ProposalRow(p, proposal_reports_seen[p.pk]) for p in proposals],
        alerts=alerts,
        visible_dealpoint_ids=visible_ids,
        dismissed=dismissed,
        totals=totals,
    )
