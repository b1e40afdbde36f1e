"""Workflows of the matching (issue 4): a report accepted in triage is matched to the deal
points (attached, proposed to the analyst, or left for clustering); reports that match no
point are clustered into proposed new points; a report or a new point near a recently
dismantled point raises a resurgence or a move alert. Analysts then accept or dismiss
proposals and confirm or dismiss alerts.

Each flow runs in one transaction and writes through the services (`services`,
`reports.services`), which keep the points' history and the audit log; what the flows write
themselves (proposals, alerts) is audited here. `actor=None` is the platform itself. A flow
locks, before its first write, every row it and the services it calls will lock, in the order
of `locks`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import h3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartostup.access import policy
from cartostup.access.choices import Distribution
from cartostup.access.models import User
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.logging import exception_text
from cartostup.reports import services as report_services
from cartostup.reports.choices import Status as ReportStatus
from cartostup.reports.models import Report

from . import locks, matching, selectors, services
from .choices import (
    ACTIVE_STATUSES,
    ATTACHED_DECISIONS,
    PROPOSAL_REOPEN_DAYS,
    AlertKind,
    AlertStatus,
    DealPointStatus,
    EventKind,
    LinkDecision,
    ProposalStatus,
)
from .models import Alert, DealPoint, Proposal, ReportLink

logger = logging.getLogger(__name__)

# --- matching one report -------------------------------------------------------------------------


# Cells per `IN (...)` when reading the reports around new ones (SQLite's variable limit).
_CELLS_PER_QUERY = 2000


def decide(candidates: list[matching.Candidate]) -> matching.Decision:
    """What the matching does with a report's candidates, with the thresholds of the settings
    (`CARTOSTUP_MATCH_AUTO_SCORE`, `CARTOSTUP_MATCH_PROPOSE_SCORE`)."""
    return matching.decide(
        candidates,
        auto_score=settings.CARTOSTUP_MATCH_AUTO_SCORE,
        propose_score=settings.CARTOSTUP_MATCH_PROPOSE_SCORE,
    )


def _around(reports: list[Report]) -> list[str]:
    """The res-7 cells within two rings of the reports' (at least 2 km around each): farther,
    nothing can join them in a proposal (the widest search, a neighbourhood's, is 1.3 km)."""
    return sorted(
        {
            cell
            for report in reports
            for cell in h3.grid_disk(
                report.h3_r7 or h3.latlng_to_cell(report.latitude, report.longitude, 7), 2
            )
        }
    )


def _in_cells(queryset: Any, cells: list[str]) -> list[Any]:
    """The rows of `queryset` (reports or deal points) in these res-7 cells, read in chunks."""
    return [
        row
        for start in range(0, len(cells), _CELLS_PER_QUERY)
        for row in queryset.filter(h3_r7__in=cells[start : start + _CELLS_PER_QUERY])
    ]


@dataclass(frozen=True)
class MatchOutcome:
    """What the matching did with one report."""

    attached: matching.Candidate | None = None
    proposed: tuple[matching.Candidate, ...] = ()
    alerts: tuple[Alert, ...] = ()

    @property
    def awaiting(self) -> bool:
        return self.attached is None and not self.proposed


# The distributions of a point narrower than the CROSS's, which its alerts keep.
ALERT_KEPT_DISTRIBUTIONS = frozenset({Distribution.ORGANISATION, Distribution.SHARING_GROUP})


def _alert_create(
    *,
    kind: str,
    dealpoint: DealPoint,
    distance_m: float,
    report: Report | None = None,
    candidate: DealPoint | None = None,
) -> Alert | None:
    """One alert per (dismantled point, report or candidate), owned like the point: once an
    analyst has confirmed or dismissed it, the same pair raises no new alert."""
    existing = Alert.objects.filter(
        kind=kind, dealpoint=dealpoint, report=report, candidate=candidate
    )
    if existing.exists():
        return None
    alert = Alert(
        kind=kind,
        dealpoint=dealpoint,
        report=report,
        candidate=candidate,
        distance_m=distance_m,
        owner_organisation_id=dealpoint.owner_organisation_id,
        commune_id=dealpoint.commune_id,
        departement_id=dealpoint.departement_id,
        # The CROSS's, unless the point is kept narrower (its owner alone, or a group): the
        # stricter of the record's and its parent's (design §4), so that an alert never
        # names to someone a point they may not read.
        distribution=dealpoint.distribution
        if dealpoint.distribution in ALERT_KEPT_DISTRIBUTIONS
        else Distribution.CROSS,
        sharing_group_id=dealpoint.sharing_group_id
        if dealpoint.distribution == Distribution.SHARING_GROUP
        else None,
        marking=dealpoint.marking,
    )
    alert.full_clean()
    alert.save()
    services._event(
        dealpoint=dealpoint,
        kind=EventKind.ALERT,
        actor=None,
        details={
            "alert": alert.pk,
            "kind": kind,
            "report": report.reference if report else None,
            "candidate": candidate.reference if candidate else None,
        },
    )
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        target=alert,
        details={
            "kind": kind,
            "dealpoint": dealpoint.reference,
            "report": report.reference if report else None,
            "candidate": candidate.reference if candidate else None,
        },
    )
    return alert


@dataclass(frozen=True)
class _MatchPlan:
    """What the matching will do with a report: the dismantled points near it (resurgence
    alerts) and, unless the report is attached already (`decision` None), its decision, with
    the points it attaches or proposes it to (locked)."""

    dismantled: list[tuple[DealPoint, float]]
    decision: matching.Decision | None
    points: dict[int, DealPoint]


def _match_plan(report: Report) -> _MatchPlan:
    """Decide the matching of `report`, which the caller has locked, and lock the points it
    names: after the report, before any write or audit event (`locks`)."""
    if report.placed_at_commune:
        # Its position is its commune's, not the place's: the analyst places it.
        return _MatchPlan(dismantled=[], decision=None, points={})
    dismantled = matching.find_dismantled_near(report=report)
    if ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS).exists():
        return _MatchPlan(dismantled=dismantled, decision=None, points={})
    decision = decide(matching.find_candidates(report=report))
    named = [c.dealpoint_id for c in (decision.attach, *decision.propose) if c]
    points = locks.lock_reports_and_points(points=named).points
    return _MatchPlan(dismantled=dismantled, decision=decision, points=points)


@transaction.atomic
def report_match(*, report: Report, actor: User | None = None) -> MatchOutcome:
    """Match one accepted report: attach it to the best point when it scores at least
    `CARTOSTUP_MATCH_AUTO_SCORE` and clearly ahead of the next (the analyst may undo), else
    propose the points scoring at least `CARTOSTUP_MATCH_PROPOSE_SCORE`, else leave it
    waiting for clustering. A report near a point dismantled less than
    `CARTOSTUP_RESURGENCE_DAYS` ago raises a resurgence alert. `actor` is who asked for the
    matching (recorded in the audit log); the links themselves are the platform's."""
    report = locks.lock_reports_and_points(reports=[report.pk]).reports[report.pk]
    if report.status != ReportStatus.ACCEPTED:
        raise ValidationError({"report": _("Seul un signalement accepté se rapproche.")})
    return _match(report=report, plan=_match_plan(report), actor=actor)


def _match(*, report: Report, plan: _MatchPlan, actor: User | None = None) -> MatchOutcome:
    alerts = tuple(
        alert
        for point, distance in plan.dismantled
        if (
            alert := _alert_create(
                kind=AlertKind.RESURGENCE, dealpoint=point, report=report, distance_m=distance
            )
        )
    )
    decision = plan.decision
    if decision is None:
        # Attached already (by hand, say, before it was placed), or placed at its commune:
        # nothing to wait for.
        if report.awaiting_matching:
            Report.objects.filter(pk=report.pk).update(awaiting_matching=False)
        return MatchOutcome(alerts=alerts)
    points = plan.points
    if decision.attach is not None:
        services.report_attach(
            actor=None,
            dealpoint=points[decision.attach.dealpoint_id],
            report=report,
            decision=LinkDecision.AUTOMATIC,
            score=decision.attach.score,
            distance_m=decision.attach.distance_m,
        )
    for candidate in decision.propose:
        services.report_attach(
            actor=None,
            dealpoint=points[candidate.dealpoint_id],
            report=report,
            decision=LinkDecision.PROPOSED,
            score=candidate.score,
            distance_m=candidate.distance_m,
        )
    awaiting = decision.attach is None and not decision.propose
    if report.awaiting_matching != awaiting:
        Report.objects.filter(pk=report.pk).update(awaiting_matching=awaiting)
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=report,
            details={
                "reference": report.reference,
                "matching": "attached"
                if decision.attach
                else "proposed"
                if decision.propose
                else "awaiting",
            },
        )
    return MatchOutcome(attached=decision.attach, proposed=decision.propose, alerts=alerts)


@transaction.atomic
def report_accept_and_match(*, actor: User, report: Report, note: str = "") -> Report:
    """Accept a report in triage (`reports.services.report_accept`) and match it at once. The
    matching is decided, and its points locked, before the acceptance writes its audit event
    (`locks`)."""
    plan = _match_plan(locks.lock_reports_and_points(reports=[report.pk]).reports[report.pk])
    report = report_services.report_accept(actor=actor, report=report, note=note)
    _match(report=report, plan=plan)
    report.refresh_from_db()
    return report


@transaction.atomic
def report_place_and_match(
    *, actor: User, report: Report, latitude: Any, longitude: Any, precision: str
) -> Report:
    """Place a report given by its address alone (`reports.services.report_place`), or place
    again one an analyst placed wrongly, and, if it is accepted, match it at once from its new
    position. The matching is decided on the position checked (`report_place_check`), and its
    points locked, before the placing writes its audit event (`locks`). A report not yet
    accepted is matched once accepted.

    Placed again, a report attached to a point is refused (its attachment may have been
    decided from the wrong place: the analyst detaches it first); otherwise what the matching
    did from the former place is withdrawn before it runs from the new one: its proposed
    links, its open proposals of new points, and its open resurgence alerts about a
    dismantled point out of reach of the new place (closed as dismissed)."""
    locked = locks.lock_reports_and_points(reports=[report.pk]).reports[report.pk]
    placement = report_services.report_place_check(
        actor=actor, report=locked, latitude=latitude, longitude=longitude, precision=precision
    )
    again = locked.placed_by_analyst
    if again:
        _placed_again_check(actor=actor, report=locked)
    plan = None
    if locked.status == ReportStatus.ACCEPTED:
        # The report as it will stand (not saved): the matching reads its position only.
        for name, value in placement.fields().items():
            setattr(locked, name, value)
        plan = _match_plan(locked)
    stale: list[Alert] = []
    if again and plan is not None:
        # Locked before the placing's audit event (`locks`).
        stale = locks.lock(
            Alert.objects.filter(
                kind=AlertKind.RESURGENCE, report_id=report.pk, status=AlertStatus.OPEN
            )
            .exclude(dealpoint_id__in=[point.pk for point, _distance in plan.dismantled])
            .select_related("dealpoint")
        )
    report = report_services.report_place(
        actor=actor, report=report, latitude=latitude, longitude=longitude, precision=precision
    )
    if again:
        _former_matching_withdrawn(actor=actor, report=report, alerts=stale)
    if plan is not None:
        _match(report=report, plan=plan)
    report.refresh_from_db()
    return report


def _placed_again_check(*, actor: User, report: Report) -> None:
    """Refuse to place again a report attached to a point (the report locked): it is on that
    point by a decision made from the wrong place, or by an analyst's; detached first, it is
    matched from the new place. The report's page reads the same check
    (`selectors.report_attached_elsewhere`) to offer no placing then."""
    attached = selectors.report_attached_elsewhere(actor=actor, report=report)
    if attached is None:
        return
    if attached.dealpoint is None:
        raise ValidationError(
            _(
                "Ce signalement est rattaché à un point que votre profil ne voit pas : il ne "
                "se place pas de nouveau tant qu'il y est rattaché. Demandez à l'équipe qui "
                "suit ce point de l'en détacher ; il sera alors rapproché depuis le nouveau lieu."
            ),
            code="attached",
        )
    raise ValidationError(
        _(
            "Ce signalement est rattaché au point %(point)s : il ne se place pas de nouveau "
            "tant qu'il y est rattaché. Détachez-le d'abord depuis la fiche du point "
            "(« Détacher »), puis placez-le : il sera rapproché depuis le nouveau lieu."
        )
        % {"point": attached.dealpoint.reference},
        code="attached",
    )


def _former_matching_withdrawn(*, actor: User, report: Report, alerts: list[Alert]) -> None:
    """What the matching did from a report's former place, withdrawn once it is placed again
    (the report, its open proposals and `alerts` locked by the caller): the points it was
    only proposed to (links never decided: deleted, their number audited), the open
    proposals of new points that held it (`services._open_proposals_left`), and `alerts`,
    resurgence alerts about dismantled points out of reach of the new place (closed as
    dismissed, said in their point's history)."""
    proposed = ReportLink.objects.filter(report=report, decision=LinkDecision.PROPOSED)
    withdrawn, _by_model = proposed.delete()
    in_proposals = Proposal.reports.through.objects.filter(
        report_id=report.pk, proposal__status=ProposalStatus.OPEN
    ).count()
    services._open_proposals_left(actor=actor, report=report)
    for alert in alerts:
        services._alert_status_set(
            actor=actor,
            alert=alert,
            status=AlertStatus.DISMISSED,
            reason="report_placed",
            event={"report": report.reference, "report_placed": True},
            audit={"report": report.reference},
        )
    if withdrawn or in_proposals or alerts:
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            target=report,
            details={
                "reference": report.reference,
                "placed_again": {
                    "proposed_links": withdrawn,
                    "proposals": in_proposals,
                    "alerts": len(alerts),
                },
            },
        )


class LinkDecided(ValidationError):
    """A decision on a link that another analyst (or another tab) decided meanwhile: nothing is
    written, so that a page read before the decision cannot undo it. `current` is the link's
    decision now."""

    def __init__(self, *, link: ReportLink) -> None:
        self.current = link.decision
        self.current_label = link.get_decision_display().lower()
        super().__init__(
            _(
                "Ce rapprochement a déjà été traité (%(decision)s) : rien n'a été changé. "
                "La page à jour montre la décision prise."
            )
            % {"decision": self.current_label},
            code="already_decided",
        )


def _link_for_decision(*, actor: User, link: ReportLink, from_decision: str) -> ReportLink:
    """Authorise a decision on a link (404 otherwise), lock it until the transaction ends, and
    refuse it unless the link is still as the actor read it (`from_decision`).

    The report is locked first, then the points (the link's, and the one a confirmation
    moves the report from), then the link: the order of `locks`. Two decisions on one report
    therefore wait for each other (on PostgreSQL) and the second finds the first's, whether
    they are on the same link or on two (the report's two proposals confirmed at once: each
    confirmation rejects the other link, and with the point locked first each held its own
    link while waiting for the other's, a deadlock that PostgreSQL broke with an error)."""
    policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
    # Apart from the locks: the policy's restriction may read with DISTINCT, which FOR UPDATE
    # refuses.
    policy.access_object(
        DealPoint.objects.all(), actor=actor, pk=link.dealpoint_id, action=policy.Action.CHANGE
    )
    locks.lock_reports_and_points(reports=[link.report_id], points=[link.dealpoint_id])
    (locked,) = locks.lock(
        ReportLink.objects.filter(pk=link.pk).select_related("report", "dealpoint")
    )
    if locked.decision != from_decision:
        raise LinkDecided(link=locked)
    return locked


@transaction.atomic
def link_confirm(
    *, actor: User, link: ReportLink, from_decision: str = LinkDecision.PROPOSED
) -> ReportLink:
    """The analyst confirms a link the matching proposed: the report is attached to the point
    (leaving any other: `moved_from` names them). Refused (`LinkDecided`) when the link is no
    longer `from_decision`, the decision the analyst's page showed."""
    link = _link_for_decision(actor=actor, link=link, from_decision=from_decision)
    return services.report_attach(
        actor=actor,
        dealpoint=link.dealpoint,
        report=link.report,
        decision=LinkDecision.CONFIRMED,
        score=link.score,
        distance_m=link.distance_m,
    )


@transaction.atomic
def link_refuse(
    *,
    actor: User,
    link: ReportLink,
    note: str = "",
    from_decision: str = LinkDecision.PROPOSED,
) -> ReportLink:
    """The analyst refuses a proposed link (or, with `from_decision`, an automatic one): the
    pair is never proposed again, and a report left with no point and no other proposal waits
    for clustering again. Refused (`LinkDecided`) when the link is no longer `from_decision`,
    the decision the analyst's page showed: a stale "Écarter" never detaches a report an
    analyst attached meanwhile."""
    link = _link_for_decision(actor=actor, link=link, from_decision=from_decision)
    report = link.report
    refused = services.report_detach(
        actor=actor, dealpoint=link.dealpoint, report=report, note=note
    )
    pending = ReportLink.objects.filter(
        report=report, decision__in=[*ATTACHED_DECISIONS, LinkDecision.PROPOSED]
    ).exists()
    Report.objects.filter(pk=report.pk).update(awaiting_matching=not pending)
    return refused


# --- clustering into proposals -------------------------------------------------------------------


def _proposal_audit(proposal: Proposal, *, created: bool, count: int) -> None:
    audit_record(
        actor=None,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        target=proposal,
        details={"proposal": proposal.pk, "reports": count},
    )


@dataclass(frozen=True)
class _Clustered:
    """The reports a clustering works on: those waiting for matching (`new`), those of open
    proposals (`in_proposals`, with their proposal in `proposed_of`) and those only proposed
    to points or attached by the matching without being sure (`doubtful`)."""

    new: list[Report]
    in_proposals: list[Report]
    proposed_of: dict[int, int]
    doubtful: list[Report]

    def report_ids(self) -> set[int]:
        return {report.pk for report in (*self.new, *self.in_proposals, *self.doubtful)}


def _clustered(*, departement: Any, among: set[int] | None = None) -> _Clustered:
    """The reports `reports_cluster` works on, only those of `among` if given."""

    def kept(reports: list[Report]) -> list[Report]:
        return [r for r in reports if among is None or r.pk in among]

    waiting = Report.objects.filter(
        status=ReportStatus.ACCEPTED, awaiting_matching=True, placed_at_commune=False
    )
    open_proposals = Proposal.objects.filter(status=ProposalStatus.OPEN)
    if departement is not None:
        waiting = waiting.filter(departement=departement)
        open_proposals = open_proposals.filter(departement=departement)
    proposed_of: dict[int, int] = {}
    for proposal_id, report_id in Proposal.reports.through.objects.filter(
        proposal__in=open_proposals
    ).values_list("proposal_id", "report_id"):
        if among is None or report_id in among:
            proposed_of[report_id] = proposal_id
    reports = kept(list(waiting.exclude(pk__in=list(proposed_of)).order_by("pk")))
    if not reports:
        return _Clustered(new=[], in_proposals=[], proposed_of={}, doubtful=[])
    in_proposals = list(Report.objects.filter(pk__in=list(proposed_of)).order_by("pk"))
    # Reports only proposed to known points (no attachment yet), and reports the matching
    # attached by itself without being sure (`matching.REVISE_SHARE`), are clustered too:
    # with waiting reports around them they may be a new point's; they join a proposal when
    # they fit it better than their points (an automatic attachment is then turned back into
    # a proposed link), but never make one on their own.
    unsure = Q(
        decision=LinkDecision.AUTOMATIC,
        score__lt=matching.REVISE_SHARE,
        dealpoint__merged_into__isnull=True,
    )
    doubtful_reports = Report.objects.filter(
        status=ReportStatus.ACCEPTED,
        awaiting_matching=False,
        pk__in=ReportLink.objects.filter(Q(decision=LinkDecision.PROPOSED) | unsure).values(
            "report_id"
        ),
    ).exclude(  # attached for sure (by an analyst, or by the matching with a high share)
        pk__in=ReportLink.objects.filter(decision__in=ATTACHED_DECISIONS)
        .exclude(unsure)
        .values("report_id")
    )
    if departement is not None:
        doubtful_reports = doubtful_reports.filter(departement=departement)
    doubtful_reports = doubtful_reports.exclude(pk__in=list(proposed_of)).distinct()
    # Only those around the new reports can join a proposal (it needs one of them).
    doubtful = sorted(_in_cells(doubtful_reports, _around(reports)), key=lambda r: r.pk)
    return _Clustered(
        new=reports, in_proposals=in_proposals, proposed_of=proposed_of, doubtful=kept(doubtful)
    )


@transaction.atomic
def reports_cluster(*, departement: Any = None) -> list[Proposal]:
    """Cluster the accepted reports still waiting for matching, per département, into
    proposed new points (owned by the département's CROSS, distributed to the CROSS). A
    cluster that holds reports of an open proposal adds its new reports to it: running it
    again proposes nothing twice. Returns the proposals created or extended."""
    # Its reports, then the points they are attached to, are locked before it writes
    # (`locks`): read once to know which, then again with the locks held, keeping only those
    # locked (a report that turned up in between waits for the next run).
    first = _clustered(departement=departement)
    if not first.new:
        return []
    locked = locks.lock_reports_and_points(reports=first.report_ids()).reports
    clustered = _clustered(departement=departement, among=set(locked))
    reports, in_proposals, doubtful = clustered.new, clustered.in_proposals, clustered.doubtful
    proposed_of = clustered.proposed_of
    if not reports:
        return []
    doubtful_ids = {report.pk for report in doubtful}
    proposed_points: dict[int, list[matching.PointFeatures]] = defaultdict(list)
    revisable: dict[int, ReportLink] = {}
    for link in ReportLink.objects.filter(
        report__in=doubtful, decision__in=[LinkDecision.PROPOSED, LinkDecision.AUTOMATIC]
    ).select_related("dealpoint"):
        proposed_points[link.report_id].append(matching.PointFeatures.of(link.dealpoint))
        if link.decision == LinkDecision.AUTOMATIC:
            revisable[link.report_id] = link
    now = timezone.now()
    by_departement: dict[int, list[Report]] = defaultdict(list)
    for report in [*reports, *in_proposals, *doubtful]:
        by_departement[report.departement_id].append(report)
    new_ids = {report.pk for report in reports}
    touched: list[Proposal] = []
    for departement_id, members in sorted(by_departement.items()):
        if not any(report.pk in new_ids for report in members):
            continue
        # The points on the map around these reports: an imprecise report they explain is not
        # a new point's.
        mapped = [
            matching.PointFeatures.of(point)
            for point in _in_cells(
                DealPoint.objects.filter(
                    departement_id=departement_id,
                    merged_into__isnull=True,
                    status__in=ACTIVE_STATUSES,
                ).only(*matching.POINT_FIELDS),
                _around(members),
            )
        ]
        labels = matching.cluster_reports(
            [matching.ReportFeatures.of(r) for r in members], known=mapped, now=now
        )
        groups: dict[int, list[Report]] = defaultdict(list)
        for report, label in zip(members, labels, strict=True):
            groups[int(label)].append(report)
        for cluster in groups.values():
            if not any(r.pk in new_ids for r in cluster):
                continue
            # A report only proposed to known points stays in the forming proposal when it
            # fits it better than those points.
            forming = [matching.ReportFeatures.of(r) for r in cluster if r.pk not in doubtful_ids]
            group = [
                r
                for r in cluster
                if r.pk not in doubtful_ids
                or matching.prefers_new_point(
                    matching.ReportFeatures.of(r), forming, proposed_points[r.pk], now=now
                )
            ]
            for report in group:
                if report.pk in revisable:
                    services.report_link_revise(link=revisable[report.pk])
            fresh = [r for r in group if r.pk in new_ids or r.pk in doubtful_ids]
            existing = sorted({proposed_of[r.pk] for r in group if r.pk in proposed_of})
            if existing:
                # Locked after audit events: whoever else locks an open proposal first locks
                # its reports, which this run holds (`locks`).
                (proposal,) = locks.lock(Proposal.objects.filter(pk=existing[0]))
                proposal.reports.add(*fresh)
                everyone = list(proposal.reports.all())
                services.proposal_place_set(proposal, everyone)
                proposal.full_clean()
                proposal.save()
                _proposal_audit(proposal, created=False, count=len(fresh))
            else:
                departement_obj = fresh[0].departement
                proposal = Proposal(
                    owner_organisation=report_services.report_owner_for(
                        departement=departement_obj
                    ),
                    departement_id=departement_id,
                    distribution=Distribution.CROSS,
                    **services.proposal_place(group),
                )
                proposal.full_clean()
                proposal.save()
                proposal.reports.set(group)
                _proposal_audit(proposal, created=True, count=len(group))
            touched.append(proposal)
    return touched


def _may_decide(model: type[Any], *, actor: User, pk: int) -> None:
    """Authorise an analyst's decision on a proposal or an alert (404 otherwise)."""
    policy.require(actor, policy.Capability.EDIT_DEALPOINTS)
    policy.access_object(model.objects.all(), actor=actor, pk=pk, action=policy.Action.CHANGE)


def _proposal_for_decision(*, actor: User, proposal: Proposal) -> Proposal:
    """Authorise a decision on a proposal (404 otherwise) and lock it, after its reports and
    the points they are attached to (`locks`). Refused if it was decided meanwhile, or if the
    clustering added a report to it between the read of its reports and their lock (the
    analyst decided on the reports the page showed)."""
    _may_decide(Proposal, actor=actor, pk=proposal.pk)
    members = Proposal.reports.through.objects.filter(proposal_id=proposal.pk)
    shown = set(members.values_list("report_id", flat=True))
    locks.lock_reports_and_points(reports=shown)
    (proposal,) = locks.lock(Proposal.objects.filter(pk=proposal.pk))
    if proposal.status != ProposalStatus.OPEN:
        raise ValidationError(_("Cette proposition a déjà été traitée."))
    if set(members.values_list("report_id", flat=True)) != shown:
        raise ValidationError(
            _(
                "Les signalements de cette proposition viennent de changer (un ajout du "
                "regroupement, ou un rattachement à un point) : rien n'a été décidé. "
                "Rechargez la page pour la voir."
            )
        )
    return proposal


def _alert_for_decision(*, actor: User, alert: Alert) -> Alert:
    """Authorise a decision on an alert (404 otherwise): the alert, a change of the point it
    is about (a decision writes in its history) and a read of its candidate (an alert raised
    before its point was kept narrower may name one the actor no longer reads); and lock it,
    after its report, its points (the point it is about, its candidate) and the points the
    report is attached to (`locks`). Refused if it was decided meanwhile."""
    _may_decide(Alert, actor=actor, pk=alert.pk)
    read = Alert.objects.get(pk=alert.pk)
    policy.access_object(
        DealPoint.objects.all(), actor=actor, pk=read.dealpoint_id, action=policy.Action.CHANGE
    )
    if read.candidate_id is not None:
        policy.access_object(DealPoint.objects.all(), actor=actor, pk=read.candidate_id)
    locks.lock_reports_and_points(
        reports=[read.report_id], points=[read.dealpoint_id, read.candidate_id]
    )
    (alert,) = locks.lock(Alert.objects.filter(pk=alert.pk))
    if alert.status != AlertStatus.OPEN:
        # Who closed it and when: an analyst's decision, or a change that answered it (a move
        # confirmed, a status corrected, a merge: the history of its point says which).
        raise ValidationError(
            _(
                "Cette alerte a déjà été close (« %(status)s ») le %(when)s par %(who)s : rien "
                "n'a été fait. L'historique de %(point)s dit pourquoi."
            )
            % {
                "status": alert.get_status_display().lower(),
                "when": services._when(alert.decided_at or timezone.now()),
                "who": services._who(actor, alert.decided_by),
                "point": alert.dealpoint.reference,
            }
        )
    if (alert.dealpoint_id, alert.candidate_id, alert.report_id) != (
        read.dealpoint_id,
        read.candidate_id,
        read.report_id,
    ):
        # Moved by a merge (or its undoing) between the read and the lock: the decision
        # would be on a point neither locked nor seen.
        raise ValidationError(
            _(
                "Cette alerte vient de changer de point (une fusion) : rien n'a été fait. "
                "Recommencez."
            )
        )
    return alert


@transaction.atomic
def proposal_accept(
    *,
    actor: User,
    proposal: Proposal,
    data: services.DealPointInput | None = None,
    sharing: services.SharingInput | None = None,
) -> DealPoint:
    """Make a deal point of a proposal (with its reports); the analyst may correct the
    position and describe the point (`data`). A point dismantled nearby not long ago gets a
    move alert."""
    proposal = _proposal_for_decision(actor=actor, proposal=proposal)
    if data is None:
        data = services.DealPointInput(
            latitude=proposal.latitude,
            longitude=proposal.longitude,
            precision=proposal.precision,
        )
    reports = [
        r
        for r in proposal.reports.all()
        if not ReportLink.objects.filter(report=r, decision__in=ATTACHED_DECISIONS).exists()
    ]
    if not reports:
        # Its reports were all attached to points since (a proposal kept from before they
        # left it when attached): the point would have none.
        raise ValidationError(
            _(
                "Les signalements de cette proposition ont tous été rattachés à des points "
                "depuis : il n'y a plus de point à créer. Écartez-la."
            )
        )
    # Accepted first: the attachments below take their reports out of the proposals still
    # open (`services._open_proposals_left`), not out of this one.
    proposal.status = ProposalStatus.ACCEPTED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    dealpoint = services.dealpoint_create(
        actor=actor,
        data=data,
        reports=reports,
        note=_("Créé depuis une proposition"),
        sharing=sharing,
    )
    proposal.dealpoint = dealpoint
    proposal.save(update_fields=["dealpoint"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=proposal,
        details={
            "proposal": proposal.pk,
            "status": proposal.status,
            "dealpoint": dealpoint.reference,
        },
    )
    dealpoint_successor_check(dealpoint=dealpoint)
    return dealpoint


@transaction.atomic
def proposal_dismiss(*, actor: User, proposal: Proposal) -> Proposal:
    """Dismiss a proposal (not a deal point): its reports stop waiting for matching, so the
    clustering does not propose them again (`proposal_reopen` undoes it)."""
    proposal = _proposal_for_decision(actor=actor, proposal=proposal)
    proposal.status = ProposalStatus.DISMISSED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    Report.objects.filter(pk__in=proposal.reports.values("pk")).update(awaiting_matching=False)
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=proposal,
        details={"proposal": proposal.pk, "status": proposal.status},
    )
    return proposal


@transaction.atomic
def proposal_reopen(*, actor: User, proposal: Proposal) -> Proposal:
    """Undo the dismissal of a proposal (an analyst's mistake): it is open again in the queue,
    with those of its reports that are still free (accepted, attached to no point, in no
    other open proposal), which wait for matching again; the others leave it. Refused, with
    nothing changed, when none is free any more or when it is not dismissed."""
    _may_decide(Proposal, actor=actor, pk=proposal.pk)
    members = Proposal.reports.through.objects.filter(proposal_id=proposal.pk)
    ids = set(members.values_list("report_id", flat=True))
    # Its reports, then the points they are attached to, then the proposal (`locks`).
    locked = locks.lock_reports_and_points(reports=ids).reports
    (proposal,) = locks.lock(Proposal.objects.filter(pk=proposal.pk))
    if proposal.status != ProposalStatus.DISMISSED:
        raise ValidationError(_("Cette proposition n'est pas écartée : il n'y a rien à rouvrir."))
    days = PROPOSAL_REOPEN_DAYS
    if proposal.decided_at is None or proposal.decided_at < timezone.now() - timedelta(days=days):
        raise ValidationError(
            ngettext(
                "Une proposition se rouvre pendant %(days)s jour après avoir été écartée : "
                "rattachez ses signalements à la main depuis leur fiche.",
                "Une proposition se rouvre pendant %(days)s jours après avoir été écartée : "
                "rattachez ses signalements à la main depuis leur fiche.",
                days,
            )
            % {"days": days}
        )
    taken = set(
        ReportLink.objects.filter(report_id__in=ids, decision__in=ATTACHED_DECISIONS).values_list(
            "report_id", flat=True
        )
    ) | set(
        Proposal.reports.through.objects.filter(
            report_id__in=ids, proposal__status=ProposalStatus.OPEN
        ).values_list("report_id", flat=True)
    )
    free = sorted(
        (
            report
            for pk, report in locked.items()
            if pk not in taken and report.status == ReportStatus.ACCEPTED
        ),
        key=lambda report: report.pk,
    )
    if not free:
        raise ValidationError(
            _(
                "Aucun de ses signalements n'est encore libre (rattachés à un point, repris "
                "dans une autre proposition ou plus acceptés) : la proposition reste écartée."
            )
        )
    gone = ids - {report.pk for report in free}
    if gone:
        proposal.reports.remove(*gone)
        services.proposal_place_set(proposal, free)
    Report.objects.filter(pk__in=[report.pk for report in free]).update(awaiting_matching=True)
    proposal.status = ProposalStatus.OPEN
    proposal.decided_by = None
    proposal.decided_at = None
    proposal.full_clean()
    proposal.save()
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        target=proposal,
        details={
            "proposal": proposal.pk,
            "status": proposal.status,
            "reopened": True,
            "reports": len(free),
            "left": len(gone),
        },
    )
    return proposal


# --- moves and resurgences -----------------------------------------------------------------------


@transaction.atomic
def dealpoint_successor_check(
    *, dealpoint: DealPoint, split_from: int | None = None
) -> list[Alert]:
    """A new point near a point dismantled less than `CARTOSTUP_RESURGENCE_DAYS` ago (within
    `CARTOSTUP_MOVE_RADIUS_M`) may be where it moved: one alert per dismantled point. A point
    that is not active is no one's successor, and a place split off a dismantled point
    (`split_from`) is not where that point moved: the analyst has just told them apart."""
    if dealpoint.status not in ACTIVE_STATUSES:
        return []
    found = matching.find_dismantled_near(
        latitude=dealpoint.latitude,
        longitude=dealpoint.longitude,
        departement_id=dealpoint.departement_id,
        radius=settings.CARTOSTUP_MOVE_RADIUS_M,
        exclude_pk=dealpoint.pk,
    )
    alerts = []
    for point, distance in found:
        if point.status != DealPointStatus.DISMANTLED or point.pk == split_from:
            continue
        alert = _alert_create(
            kind=AlertKind.SUCCESSOR, dealpoint=point, candidate=dealpoint, distance_m=distance
        )
        if alert is not None:
            alerts.append(alert)
    return alerts


@transaction.atomic
def dealpoint_add(
    *,
    actor: User,
    data: services.DealPointInput,
    sharing: services.SharingInput | None = None,
) -> DealPoint:
    """A point an analyst adds (page or API, `services.dealpoint_create`): like a point made
    from a proposal, it raises a move alert for each point dismantled nearby not long ago."""
    dealpoint = services.dealpoint_create(actor=actor, data=data, sharing=sharing)
    dealpoint_successor_check(dealpoint=dealpoint)
    return dealpoint


@transaction.atomic
def dealpoint_split(
    *,
    actor: User,
    dealpoint: DealPoint,
    reports: list[Report],
    data: services.DealPointInput,
    note: str = "",
) -> DealPoint:
    """Split a point (`services.dealpoint_split`): the new point, a place of its own, raises
    the move alerts of a new point."""
    new = services.dealpoint_split(
        actor=actor, dealpoint=dealpoint, reports=reports, data=data, note=note
    )
    dealpoint_successor_check(dealpoint=new, split_from=dealpoint.pk)
    return new


@transaction.atomic
def alert_confirm(*, actor: User, alert: Alert, note: str = "") -> Alert:
    """Confirm an alert. Resurgence: the dismantled point becomes resurgent and the report is
    attached to it (leaving any point it was attached to: `alert.moved_from` names it). Move:
    the dismantled point becomes "moved", with the new point as its successor."""
    alert = _alert_for_decision(actor=actor, alert=alert)
    point = alert.dealpoint
    if alert.kind == AlertKind.RESURGENCE:
        alert.already_resurgent = point.status == DealPointStatus.RESURGENT
        if not alert.already_resurgent:
            services.dealpoint_change_status(
                actor=actor, dealpoint=point, status=DealPointStatus.RESURGENT, note=note
            )
        already = (
            alert.report is not None
            and ReportLink.objects.filter(
                report=alert.report, dealpoint=point, decision=LinkDecision.CONFIRMED
            ).exists()
        )
        # An analyst may have attached the report to the point by hand meanwhile: nothing to
        # attach again (`report_attach` refuses it), the resurgence is confirmed all the same.
        if alert.report is not None and not already:
            link = services.report_attach(
                actor=actor,
                dealpoint=point,
                report=alert.report,
                decision=LinkDecision.CONFIRMED,
                distance_m=alert.distance_m,
            )
            alert.moved_from = link.moved_from
    else:
        if alert.candidate is None:
            raise ValidationError(_("Cette alerte ne désigne aucun nouveau point."))
        # Decided first: the status change closes the other "moved?" alerts it answers.
        alert = services.alert_decide(actor=actor, alert=alert, status=AlertStatus.CONFIRMED)
        services.dealpoint_change_status(
            actor=actor,
            dealpoint=point,
            status=DealPointStatus.MOVED,
            successor=alert.candidate,
            note=note,
        )
        return alert
    return services.alert_decide(actor=actor, alert=alert, status=AlertStatus.CONFIRMED)


@transaction.atomic
def alert_dismiss(*, actor: User, alert: Alert) -> Alert:
    """Dismiss an alert (not a resurgence, not a move)."""
    alert = _alert_for_decision(actor=actor, alert=alert)
    return services.alert_decide(actor=actor, alert=alert, status=AlertStatus.DISMISSED)


# --- the whole run -------------------------------------------------------------------------------


@dataclass
class RunSummary:
    matched: int = 0
    # Reports whose matching failed (logged by type only): the run went on without them.
    failed: int = 0
    attached: int = 0
    proposed: int = 0
    awaiting: int = 0
    alerts: int = 0
    proposals: list[Proposal] = field(default_factory=list)


def matching_run(*, departement: Any = None) -> RunSummary:
    """Match every report waiting for matching, then cluster those left into proposals
    (`manage.py match_reports`). One transaction per report, so a long run commits as it
    goes and one bad report does not undo the others: its failure is logged (its type only)
    and counted, and the run goes on."""
    summary = RunSummary()
    waiting = Report.objects.filter(
        status=ReportStatus.ACCEPTED, awaiting_matching=True, placed_at_commune=False
    )
    if departement is not None:
        waiting = waiting.filter(departement=departement)
    in_open = Proposal.reports.through.objects.filter(proposal__status=ProposalStatus.OPEN).values(
        "report_id"
    )
    for report in waiting.exclude(pk__in=in_open).order_by("pk").iterator():
        try:
            outcome = report_match(report=report)
        except Exception as error:
            # One report that cannot be matched must not stop the others, nor the clustering,
            # run after run. Its type only: a message may quote what the reporter wrote.
            summary.failed += 1
            logger.error(
                "Rapprochement du signalement %s en échec :\n%s",
                report.pk,
                exception_text((type(error), error, error.__traceback__), type_only=True),
            )
            continue
        summary.matched += 1
        summary.attached += outcome.attached is not None
        summary.proposed += bool(outcome.proposed)
        summary.awaiting += outcome.awaiting
        summary.alerts += len(outcome.alerts)
    summary.proposals = reports_cluster(departement=departement)
    return summary
