"""The matching workflows: attach, propose, cluster, alerts, and the analysts' decisions."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.http import Http404
from django.utils import timezone

from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import flows, matching, services
from cartostup.dealpoints.choices import (
    AlertKind,
    AlertStatus,
    DealPointStatus,
    EventKind,
    LinkDecision,
    ProposalStatus,
)
from cartostup.dealpoints.models import Alert, DealPoint, Proposal, ReportLink
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint
from cartostup.dealpoints.tests.test_matching import offset
from cartostup.reports.models import Report
from cartostup.reports.tests.factories import SAINT_DENIS


def report_near(analyst, north_m: float, east_m: float = 0.0, **changes):
    lat, lon = offset(north_m, east_m)
    return accepted_report(analyst=analyst, latitude=lat, longitude=lon, **changes)


def dismantled_point(analyst, north_m: float = 0.0, *, days_ago: int = 30) -> DealPoint:
    lat, lon = offset(north_m)
    point = dealpoint(actor=analyst, latitude=lat, longitude=lon)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    DealPoint.objects.filter(pk=point.pk).update(
        status_changed_at=timezone.now() - timedelta(days=days_ago)
    )
    point.refresh_from_db()
    return point


@pytest.fixture
def analyst(persona):
    return persona("cross13_analyst")


def test_report_close_to_a_point_is_attached_automatically(analyst):
    point = dealpoint(actor=analyst)
    report = report_near(analyst, 5)
    outcome = flows.report_match(report=report)
    assert outcome.attached is not None and outcome.attached.dealpoint_id == point.pk
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert link.decision == LinkDecision.AUTOMATIC
    assert link.score is not None and link.score >= 0.6
    assert link.decided_by is None
    report.refresh_from_db()
    assert not report.awaiting_matching
    event = (
        AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(point.pk))
        .order_by("pk")
        .last()
    )
    assert event is not None and event.details["link"] == LinkDecision.AUTOMATIC
    # The analyst may undo it.
    services.report_detach(actor=analyst, dealpoint=point, report=report)
    assert ReportLink.objects.get(pk=link.pk).decision == LinkDecision.REJECTED


def test_report_between_thresholds_is_proposed(analyst):
    point = dealpoint(actor=analyst)
    # 92 m from a building-level point, nothing else around, seen selling heroin on a
    # Monday where the point sells cannabis at weekends: as likely a point not yet known.
    report = report_near(analyst, 92, products=["heroin"], days=["mon"])
    outcome = flows.report_match(report=report)
    assert outcome.attached is None
    assert [c.dealpoint_id for c in outcome.proposed] == [point.pk]
    link = ReportLink.objects.get(report=report)
    assert link.decision == LinkDecision.PROPOSED
    assert link.score is not None and 0.3 <= link.score < 0.6
    report.refresh_from_db()
    assert not report.awaiting_matching


def test_report_far_from_any_point_waits_for_clustering(analyst):
    dealpoint(actor=analyst)
    report = report_near(analyst, 400)
    outcome = flows.report_match(report=report)
    assert outcome.awaiting and not ReportLink.objects.filter(report=report).exists()
    report.refresh_from_db()
    assert report.awaiting_matching


def test_a_refused_pair_is_never_proposed_again(analyst):
    point = dealpoint(actor=analyst)
    report = report_near(analyst, 60)
    flows.report_match(report=report)
    link = ReportLink.objects.get(report=report)
    assert link.decision == LinkDecision.AUTOMATIC
    flows.link_refuse(actor=analyst, link=link, from_decision=LinkDecision.AUTOMATIC)
    report.refresh_from_db()
    assert report.awaiting_matching  # back to clustering
    outcome = flows.report_match(report=report)
    assert outcome.awaiting
    assert list(ReportLink.objects.filter(report=report).values_list("decision", flat=True)) == [
        LinkDecision.REJECTED
    ]
    assert point.links.filter(decision=LinkDecision.PROPOSED).count() == 0


def _proposed_link(analyst) -> ReportLink:
    point = dealpoint(actor=analyst)
    report = report_near(analyst, 85, products=["heroin"], days=["mon"], place_label="")
    flows.report_match(report=report)
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert link.decision == LinkDecision.PROPOSED
    return link


def test_a_link_decided_meanwhile_is_not_decided_again(analyst):
    """The page that shows a proposed link may be stale: a decision taken since (in another
    tab, by another analyst) is never overridden, in either direction."""
    link = _proposed_link(analyst)
    stale = ReportLink.objects.get(pk=link.pk)  # read before the decision, as a stale tab
    flows.link_confirm(actor=analyst, link=link)
    events = link.dealpoint.events.count()
    with pytest.raises(flows.LinkDecided) as refused:
        flows.link_refuse(actor=analyst, link=stale)
    assert refused.value.code == "already_decided"
    assert refused.value.current == LinkDecision.CONFIRMED
    assert "déjà été traité" in refused.value.messages[0]
    assert ReportLink.objects.get(pk=link.pk).decision == LinkDecision.CONFIRMED
    assert link.dealpoint.events.count() == events


def test_a_refused_link_is_not_confirmed_by_a_stale_page(analyst):
    link = _proposed_link(analyst)
    stale = ReportLink.objects.get(pk=link.pk)
    flows.link_refuse(actor=analyst, link=link)
    with pytest.raises(flows.LinkDecided):
        flows.link_confirm(actor=analyst, link=stale)
    assert ReportLink.objects.get(pk=link.pk).decision == LinkDecision.REJECTED
    assert not ReportLink.objects.filter(
        report=link.report, decision__in=[LinkDecision.CONFIRMED, LinkDecision.AUTOMATIC]
    ).exists()
    # Taken back knowingly (the decision read is "rejected"), the pair is attached.
    flows.link_confirm(actor=analyst, link=stale, from_decision=LinkDecision.REJECTED)
    assert ReportLink.objects.get(pk=link.pk).decision == LinkDecision.CONFIRMED


def test_a_link_decision_is_for_analysts_of_the_point(persona, analyst):
    link = _proposed_link(analyst)
    with pytest.raises(Http404):
        flows.link_confirm(actor=persona("cross93_analyst"), link=link)
    assert ReportLink.objects.get(pk=link.pk).decision == LinkDecision.PROPOSED


def test_two_close_points_are_proposed_not_attached(analyst):
    first = dealpoint(actor=analyst)
    second = dealpoint(actor=analyst, latitude=offset(12)[0], longitude=offset(12)[1])
    outcome = flows.report_match(report=report_near(analyst, 6))
    assert outcome.attached is None
    assert {c.dealpoint_id for c in outcome.proposed} == {first.pk, second.pk}


def test_clustering_groups_per_departement_and_is_idempotent(analyst, persona):
    same = [report_near(analyst, d) for d in (0, 10, -8)]
    apart = [report_near(analyst, 300), report_near(analyst, 306)]
    cross93 = persona("cross93_analyst")
    in_93 = accepted_report(analyst=cross93, latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1])
    proposals = flows.reports_cluster()
    assert len(proposals) == 3
    groups = sorted(sorted(r.pk for r in p.reports.all()) for p in proposals)
    assert groups == sorted([sorted(r.pk for r in same), sorted(r.pk for r in apart), [in_93.pk]])
    proposal = next(p for p in proposals if p.reports.count() == 3)
    assert proposal.owner_organisation.kind == "cross"
    assert proposal.departement.code == "13" and proposal.distribution == "cross"
    assert proposal.precision == "building" and proposal.h3_r9
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(proposal.pk))
    # Again: nothing new.
    assert flows.reports_cluster() == []
    assert Proposal.objects.count() == 3
    # A new report next to an open proposal joins it.
    late = report_near(analyst, 4)
    assert flows.reports_cluster() == [proposal]
    assert late in proposal.reports.all() and Proposal.objects.count() == 3


def test_a_report_only_proposed_to_a_point_joins_a_new_point_forming_beside_it(analyst):
    point = dealpoint(actor=analyst)  # "B": cannabis, weekend evenings
    heroin_monday: dict[str, Any] = {"products": ["heroin"], "days": ["mon"], "place_label": ""}
    doubtful = report_near(analyst, 85, **heroin_monday)
    assert [c.dealpoint_id for c in flows.report_match(report=doubtful).proposed] == [point.pk]
    # Two reports naming another building a little farther, saying the same: not this point's.
    others = [
        report_near(analyst, d, **{**heroin_monday, "place_label": "Bâtiment D"})
        for d in (106, 117)
    ]
    for report in others:
        assert flows.report_match(report=report).awaiting
    (proposal,) = flows.reports_cluster()
    assert {r.pk for r in proposal.reports.all()} == {doubtful.pk, *(r.pk for r in others)}
    # Its proposed link stays for the analyst to decide.
    link = ReportLink.objects.get(report=doubtful)
    assert link.decision == LinkDecision.PROPOSED
    # A report only proposed, alone, makes no proposal.
    lone = report_near(analyst, -85, **heroin_monday)
    assert flows.report_match(report=lone).proposed
    assert flows.reports_cluster() == []


def test_an_unsure_automatic_attachment_is_revised_when_a_new_point_forms_beside_it(analyst):
    point = dealpoint(actor=analyst)
    silent: dict[str, Any] = {"products": [], "days": [], "times_of_day": [], "place_label": ""}
    unsure = report_near(analyst, 92, **silent)
    sure = report_near(analyst, 10, **silent)
    for report in (unsure, sure):
        attached = flows.report_match(report=report).attached
        assert attached is not None and attached.dealpoint_id == point.pk
    unsure_score = ReportLink.objects.get(report=unsure).score
    sure_score = ReportLink.objects.get(report=sure).score
    assert unsure_score is not None and unsure_score < matching.REVISE_SHARE
    assert sure_score is not None and sure_score >= matching.REVISE_SHARE
    # Reports of a new point farther on: the unsure report is nearer to them than to the
    # point; it goes to their proposal and its link is proposed again, for the analyst.
    others = [report_near(analyst, d, place_label="Bâtiment D") for d in (150, 165)]
    for report in others:
        assert flows.report_match(report=report).awaiting
    (proposal,) = flows.reports_cluster()
    assert {r.pk for r in proposal.reports.all()} == {unsure.pk, *(r.pk for r in others)}
    assert ReportLink.objects.get(report=unsure).decision == LinkDecision.PROPOSED
    assert ReportLink.objects.get(report=sure).decision == LinkDecision.AUTOMATIC
    event = point.events.get(kind=EventKind.REPORT_DETACHED)
    assert event.actor is None and event.details["revised"] == "proposed"
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(point.pk), details__link="proposed"
    ).exists()
    # An analyst's attachment is never revised.
    services.report_attach(actor=analyst, dealpoint=point, report=unsure)
    late = report_near(analyst, 158, place_label="Bâtiment D")
    flows.report_match(report=late)
    flows.reports_cluster()
    assert ReportLink.objects.get(report=unsure, dealpoint=point).decision == "confirmed"


def test_proposals_split_by_the_buildings_reporters_name(analyst):
    b = [report_near(analyst, d, place_label="Bât. B") for d in (0, 12)]
    d = [report_near(analyst, n, place_label=label) for n, label in ((50, "bat d"), (62, "D2"))]
    proposals = flows.reports_cluster()
    groups = sorted(sorted(r.pk for r in p.reports.all()) for p in proposals)
    assert groups == sorted([sorted(r.pk for r in b), sorted(r.pk for r in d)])


def test_resurgence_alert_near_a_recently_dismantled_point_only(analyst):
    recent = dismantled_point(analyst, 0, days_ago=30)
    old = dismantled_point(analyst, 2000, days_ago=500)
    report = report_near(analyst, 40)
    outcome = flows.report_match(report=report)
    assert [a.dealpoint_id for a in outcome.alerts] == [recent.pk]
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.RESURGENCE and alert.report == report
    assert alert.owner_organisation == recent.owner_organisation
    assert alert.distribution == "cross" and alert.departement == recent.departement
    # Matching again raises no second alert; none near the old point.
    flows.report_match(report=report)
    assert Alert.objects.count() == 1
    flows.report_match(report=report_near(analyst, 2010))
    assert not Alert.objects.filter(dealpoint=old).exists()
    # Dismissed: the same pair raises no new alert.
    flows.alert_dismiss(actor=analyst, alert=alert)
    flows.report_match(report=report)
    assert Alert.objects.filter(dealpoint=recent).count() == 1


def test_confirming_a_resurgence_makes_the_point_resurgent(analyst, persona):
    point = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    with pytest.raises(Http404):
        flows.alert_confirm(actor=persona("cross93_analyst"), alert=alert)
    flows.alert_confirm(actor=analyst, alert=alert)
    point.refresh_from_db()
    assert point.status == DealPointStatus.RESURGENT
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert link.decision == LinkDecision.CONFIRMED and link.decided_by == analyst
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CONFIRMED and alert.decided_by == analyst
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(alert.pk), actor_username="cross13_analyst"
    ).exists()


def test_a_corrected_resurgence_gives_its_report_back_to_the_matching(analyst, client_for):
    """A resurgence confirmed by mistake, then corrected (« Corriger » the change to
    « Résurgent »): the point is dismantled again, so the report the confirmation attached to
    it leaves it, as a refused link does (`flows.link_refuse`): the pair is refused, the
    report waits for the matching again, and the alert, whose answer is now « no », is closed
    as dismissed, said in the history and the audit log."""
    point = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    flows.alert_confirm(actor=analyst, alert=alert)
    point.refresh_from_db()
    change = services.status_last_change(point)
    assert change is not None and change.to_status == DealPointStatus.RESURGENT

    services.dealpoint_change_status(
        actor=analyst,
        dealpoint=point,
        status="dismantled",
        corrects=change.pk,
        note="résurgence confirmée sur le mauvais point",
    )

    point.refresh_from_db()
    report.refresh_from_db()
    alert.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert link.decision == LinkDecision.REJECTED and link.decided_by == analyst
    assert report.awaiting_matching is True
    assert alert.status == AlertStatus.DISMISSED and alert.decided_by == analyst
    detached = point.events.get(kind=EventKind.REPORT_DETACHED)
    assert detached.details["report"] == report.reference
    assert detached.note == "résurgence confirmée sur le mauvais point"
    assert AuditEvent.objects.filter(
        object_type="dealpoints.alert",
        object_id=str(alert.pk),
        details__reason="resurgence_corrected",
    ).exists()
    page = client_for("cross13_analyst").get(f"/points-de-deal/{point.pk}/").content.decode()
    assert f"Confirmation de la résurgence annulée (signalement {report.reference})" in page
    # The matching takes it again, and neither attaches it back nor raises the alert again.
    flows.matching_run()
    assert Alert.objects.filter(report=report).count() == 1
    assert not ReportLink.objects.filter(
        report=report,
        dealpoint=point,
        decision__in=[LinkDecision.CONFIRMED, LinkDecision.AUTOMATIC],
    ).exists()


def test_a_corrected_resurgence_leaves_a_report_attached_by_hand(analyst):
    """Only what the corrected resurgence attached leaves the point: a report attached to the
    resurgent point by hand (« Rattacher »), not through an alert, stays."""
    point = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    flows.alert_confirm(actor=analyst, alert=alert)
    by_hand = report_near(analyst, 20)
    services.report_attach(actor=analyst, dealpoint=point, report=by_hand)
    point.refresh_from_db()
    change = services.status_last_change(point)
    assert change is not None
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="dismantled", corrects=change.pk, note="erreur"
    )
    decisions = dict(
        ReportLink.objects.filter(dealpoint=point).values_list("report_id", "decision")
    )
    assert decisions == {report.pk: LinkDecision.REJECTED, by_hand.pk: LinkDecision.CONFIRMED}


def test_a_moved_point_that_comes_back_leaves_its_successor(analyst, client_for):
    """User audit: confirming a resurgence of a moved point made it « Résurgent » but kept
    « Point successeur PD-… », and the successor still listed it as a predecessor. Leaving
    "moved" by any path clears the link, kept in the history of both points."""
    point = dismantled_point(analyst)
    successor = dealpoint(actor=analyst, name="Nouveau four", latitude=43.3600)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=successor
    )
    DealPoint.objects.filter(pk=point.pk).update(
        status_changed_at=timezone.now() - timedelta(days=30)
    )
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    flows.alert_confirm(actor=analyst, alert=alert)
    point.refresh_from_db()
    assert point.status == DealPointStatus.RESURGENT
    assert point.successor is None
    assert not successor.predecessors.exists()
    change = point.events.filter(kind=EventKind.STATUS).order_by("pk").last()
    assert change is not None
    assert (change.from_status, change.to_status) == ("moved", "resurgent")
    assert change.details["previous_successor"] == successor.reference
    assert successor.events.filter(
        kind=EventKind.SUCCESSOR, details__ended="resurgent", details__predecessor=point.reference
    ).exists()
    audit = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(point.pk), details__status="resurgent"
    ).get()
    assert audit.details["previous_successor"] == successor.reference
    client = client_for("cross13_analyst")
    page = client.get(f"/points-de-deal/{point.pk}/").content.decode()
    assert '<th scope="row">Point successeur</th>' not in page
    assert f"N&#x27;a plus pour successeur {successor.reference}" in page
    page = client.get(f"/points-de-deal/{successor.pk}/").content.decode()
    assert '<th scope="row">Prédécesseurs (déplacés ici)</th>' not in page
    assert f"N&#x27;est plus le successeur de {point.reference}, passé à « Résurgent »" in page


def test_a_moved_point_set_back_by_hand_leaves_its_successor(analyst):
    point = dealpoint(actor=analyst)
    successor = dealpoint(actor=analyst, name="Nouveau four", latitude=43.3600)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=successor
    )
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="resurgent")
    point.refresh_from_db()
    assert point.successor is None and not successor.predecessors.exists()
    # Moved again later, to another point: the link is the new one.
    other = dealpoint(actor=analyst, name="Troisième four", latitude=43.3650)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=other
    )
    point.refresh_from_db()
    assert point.successor == other


def test_new_point_from_a_proposal_near_a_dismantled_one_raises_a_move_alert(analyst, persona):
    old = dismantled_point(analyst, 0)
    reports = [report_near(analyst, 400 + d) for d in (0, 8)]
    (proposal,) = flows.reports_cluster()
    with pytest.raises(Http404):
        flows.proposal_accept(actor=persona("cross93_analyst"), proposal=proposal)
    with pytest.raises(Http404):
        flows.proposal_accept(actor=persona("police13_investigator"), proposal=proposal)
    new = flows.proposal_accept(actor=analyst, proposal=proposal)
    assert set(new.links.values_list("report_id", flat=True)) == {r.pk for r in reports}
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.dealpoint == new
    alert = Alert.objects.get(kind=AlertKind.SUCCESSOR)
    assert alert.dealpoint == old and alert.candidate == new
    flows.alert_confirm(actor=analyst, alert=alert)
    old.refresh_from_db()
    assert old.status == DealPointStatus.MOVED and old.successor == new


def test_a_resurgence_corrected_gives_back_the_move_alert_its_confirmation_closed(
    analyst, client_for
):
    """Review: a dismantled point with a move alert (a new point 400 m away) and a resurgence
    alert; the resurgence confirmed by mistake closed the move alert, and the correction
    (back to « Démantelé ») left it closed: the lead was lost. It opens again, said."""
    old = dismantled_point(analyst, 0)
    [report_near(analyst, 400 + d) for d in (0, 8)]
    (proposal,) = flows.reports_cluster()
    new = flows.proposal_accept(actor=analyst, proposal=proposal)
    move = Alert.objects.get(kind=AlertKind.SUCCESSOR)
    assert (move.dealpoint, move.candidate, move.status) == (old, new, AlertStatus.OPEN)
    back = report_near(analyst, 20)
    flows.report_match(report=back)
    resurgence = Alert.objects.get(kind=AlertKind.RESURGENCE, report=back)
    flows.alert_confirm(actor=analyst, alert=resurgence)
    old.refresh_from_db()
    move.refresh_from_db()
    assert (old.status, move.status) == (DealPointStatus.RESURGENT, AlertStatus.DISMISSED)
    mistaken = services.status_last_change(old)
    assert mistaken is not None
    services.dealpoint_change_status(
        actor=analyst,
        dealpoint=old,
        status=DealPointStatus.DISMANTLED,
        corrects=mistaken.pk,
        note="pas revenu",
    )
    move.refresh_from_db()
    assert (move.status, move.decided_at) == (AlertStatus.OPEN, None)
    from django.urls import reverse

    page = client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[old.pk]))
    assert (
        f"Alerte de déplacement possible rouverte (nouveau point : {new.reference}) : le "
        f"changement de statut de {old.reference} qui l&#x27;avait close a été corrigé"
    ) in page.content.decode()


def test_a_move_corrected_gives_back_the_alerts_of_the_points_it_was_the_new_one_of(analyst):
    """Code review: a new point near a dismantled one (its move alert open) is itself set
    « Déplacé » by mistake, which dismisses that alert (a moved point is no successor);
    corrected, the alert about the other point stayed dismissed."""
    old = dismantled_point(analyst, 0)
    [report_near(analyst, 400 + d) for d in (0, 8)]
    (proposal,) = flows.reports_cluster()
    new = flows.proposal_accept(actor=analyst, proposal=proposal)
    move = Alert.objects.get(kind=AlertKind.SUCCESSOR)
    assert (move.dealpoint, move.candidate, move.status) == (old, new, AlertStatus.OPEN)
    elsewhere = dealpoint(actor=analyst, latitude=offset(2000)[0], longitude=offset(2000)[1])
    services.dealpoint_change_status(actor=analyst, dealpoint=new, status="confirmed")
    services.dealpoint_change_status(
        actor=analyst, dealpoint=new, status="moved", successor=elsewhere
    )
    move.refresh_from_db()
    assert move.status == AlertStatus.DISMISSED
    new.refresh_from_db()
    mistaken = services.status_last_change(new)
    assert mistaken is not None
    services.dealpoint_change_status(
        actor=analyst, dealpoint=new, status="confirmed", corrects=mistaken.pk, note="erreur"
    )
    move.refresh_from_db()
    assert move.status == AlertStatus.OPEN


def test_a_point_added_by_hand_or_split_off_near_a_dismantled_one_raises_a_move_alert(
    analyst, client_for
):
    """Review of 2026-12-05: only a point made from a proposal raised the move alert; a point
    added on its page, through the API or split off is as new, and its analysts as likely to
    miss the dismantled point 300 m away."""
    from django.urls import reverse

    old = dismantled_point(analyst, 0)
    client = client_for("cross13_analyst")
    lat, lon = offset(300)
    page = client.post(
        reverse("dealpoints:create"),
        {
            "latitude": f"{lat:.6f}",
            "longitude": f"{lon:.6f}",
            "precision": "building",
            "channel": "fixed",
            "confidence": "low",
            "sharing-distribution": "territory",
            "sharing-marking": "amber",
        },
    )
    assert page.status_code == 302, page.content.decode()[-3000:]
    added = DealPoint.objects.latest("pk")
    lat, lon = offset(-300)
    api = client.post(
        "/api/v1/dealpoints/",
        {"latitude": lat, "longitude": lon, "precision": "building"},
        content_type="application/json",
    )
    assert api.status_code == 201, api.content
    # Split off an active point 2 km away, to 350 m from the dismantled one.
    far = dealpoint(actor=analyst, latitude=offset(2000)[0], longitude=offset(2000)[1])
    reports = [report_near(analyst, 2000 + d) for d in (0, 10)]
    for report in reports:
        services.report_attach(actor=analyst, dealpoint=far, report=report)
    lat, lon = offset(0, 350)
    split = client.post(
        reverse("dealpoints:split", args=[far.pk]),
        {
            "reports": [str(reports[1].pk)],
            "latitude": f"{lat:.6f}",
            "longitude": f"{lon:.6f}",
            "precision": "street",
            "name": "Second four",
        },
    )
    assert split.status_code == 302, split.content.decode()[-3000:]
    # Said on the page, as for a point created by hand (user audit: the split said nothing).
    said = client.get(split["Location"]).content.decode()
    assert (
        f"Alerte de déplacement possible : point(s) démantelé(s) à proximité, {old.reference}"
        in said
    )
    alerts = Alert.objects.filter(kind=AlertKind.SUCCESSOR)
    assert {alert.dealpoint_id for alert in alerts} == {old.pk}
    split_off = DealPoint.objects.get(name="Second four")
    assert {alert.candidate_id for alert in alerts} == {added.pk, api.json()["id"], split_off.pk}
    # A place split off a dismantled point starts « Signalé » (the dismantling was the
    # point's), and is not where that point moved: the analyst has just told them apart.
    before = Alert.objects.count()
    gone = dismantled_point(analyst, 4000)
    attached = [report_near(analyst, 4000 + d) for d in (0, 10)]
    for report in attached:
        services.report_attach(actor=analyst, dealpoint=gone, report=report)
    new = flows.dealpoint_split(
        actor=analyst,
        dealpoint=gone,
        reports=attached[1:],
        data=services.DealPointInput(
            latitude=offset(4050)[0], longitude=offset(4050)[1], precision="street"
        ),
    )
    assert new.status == DealPointStatus.REPORTED
    assert Alert.objects.filter(kind=AlertKind.SUCCESSOR).count() == 3
    assert Alert.objects.count() == before


def test_no_move_alert_far_away_or_long_ago(analyst):
    dismantled_point(analyst, 0, days_ago=400)
    dismantled_point(analyst, -3000)
    new = dealpoint(actor=analyst, latitude=offset(300)[0], longitude=offset(300)[1])
    assert flows.dealpoint_successor_check(dealpoint=new) == []


def test_dismissing_a_proposal_stops_proposing_its_reports(analyst):
    report_near(analyst, 0)
    (proposal,) = flows.reports_cluster()
    flows.proposal_dismiss(actor=analyst, proposal=proposal)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DISMISSED
    assert flows.reports_cluster() == []


def test_a_dismissed_proposal_reopens_with_its_free_reports(analyst):
    """A proposal dismissed by mistake is open again with the reports still free: one
    attached by hand meanwhile leaves it, the others wait for matching again, and the
    clustering then proposes nothing twice."""
    first, second, third = (report_near(analyst, north) for north in (0, 8, 16))
    (proposal,) = flows.reports_cluster()
    assert proposal.reports.count() == 3
    flows.proposal_dismiss(actor=analyst, proposal=proposal)
    point = dealpoint(actor=analyst, latitude=offset(300)[0], longitude=offset(300)[1])
    services.report_attach(
        actor=analyst, dealpoint=point, report=third, decision=LinkDecision.CONFIRMED
    )
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    reopened = flows.proposal_reopen(actor=analyst, proposal=proposal)

    assert reopened.status == ProposalStatus.OPEN
    assert reopened.decided_by is None and reopened.decided_at is None
    assert set(reopened.reports.all()) == {first, second}
    for report in (first, second):
        report.refresh_from_db()
        assert report.awaiting_matching
    third.refresh_from_db()
    assert not third.awaiting_matching
    event = AuditEvent.objects.get(pk__gt=last, object_type="dealpoints.proposal")
    assert event.action == AuditAction.UPDATE and event.actor_id == analyst.pk
    assert event.details == {
        "proposal": proposal.pk, "status": "open", "reopened": True, "reports": 2, "left": 1
    }  # fmt: skip
    # Open again, its reports are its own: the next clustering proposes nothing new.
    assert flows.reports_cluster() == []
    assert Proposal.objects.filter(status=ProposalStatus.OPEN).count() == 1
    # Accepting it now makes the point of the two.
    made = flows.proposal_accept(actor=analyst, proposal=reopened)
    assert set(made.reports.all()) == {first, second}


def test_a_proposal_reopens_only_when_dismissed_and_with_a_free_report(analyst):
    report = report_near(analyst, 0)
    (proposal,) = flows.reports_cluster()
    with pytest.raises(ValidationError, match="n'est pas écartée"):
        flows.proposal_reopen(actor=analyst, proposal=proposal)
    flows.proposal_dismiss(actor=analyst, proposal=proposal)
    point = dealpoint(actor=analyst, latitude=offset(300)[0], longitude=offset(300)[1])
    services.report_attach(
        actor=analyst, dealpoint=point, report=report, decision=LinkDecision.CONFIRMED
    )
    with pytest.raises(ValidationError, match="Aucun de ses signalements n'est encore libre"):
        flows.proposal_reopen(actor=analyst, proposal=proposal)
    proposal.refresh_from_db()
    # Nothing changed.
    assert proposal.status == ProposalStatus.DISMISSED
    assert list(proposal.reports.all()) == [report]


def test_a_proposal_dismissed_long_ago_is_not_reopened(analyst):
    """As the queue says: 30 days, then its reports are attached by hand."""
    report_near(analyst, 0)
    (proposal,) = flows.reports_cluster()
    flows.proposal_dismiss(actor=analyst, proposal=proposal)
    Proposal.objects.filter(pk=proposal.pk).update(decided_at=timezone.now() - timedelta(days=31))
    with pytest.raises(ValidationError, match="pendant 30 jours"):
        flows.proposal_reopen(actor=analyst, proposal=proposal)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DISMISSED


def test_only_an_analyst_who_may_change_it_reopens_a_proposal(analyst, persona):
    report_near(analyst, 0)
    (proposal,) = flows.reports_cluster()
    flows.proposal_dismiss(actor=analyst, proposal=proposal)
    for username in ("police13_investigator", "cross93_analyst"):
        with pytest.raises(Http404):
            flows.proposal_reopen(actor=persona(username), proposal=proposal)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DISMISSED


def test_accept_and_match_from_triage(analyst):
    point = dealpoint(actor=analyst)
    from cartostup.reports.tests.factories import submit

    report = submit(latitude=offset(4)[0], longitude=offset(4)[1]).report
    accepted = flows.report_accept_and_match(actor=analyst, report=report, note="ok")
    assert accepted.status == "accepted" and not accepted.awaiting_matching
    assert ReportLink.objects.get(report=report).dealpoint == point


def test_match_reports_command(analyst):
    point = dealpoint(actor=analyst)
    report_near(analyst, 3)
    report_near(analyst, 900)
    report_near(analyst, 905)
    out = StringIO()
    call_command("match_reports", "--departement", "13", stdout=out)
    text = out.getvalue()
    assert "3 signalements examinés : 1 rattachés automatiquement" in text
    assert "1 propositions de nouveaux points" in text
    assert point.links.filter(decision=LinkDecision.AUTOMATIC).count() == 1
    out = StringIO()
    call_command("match_reports", stdout=out)
    assert "0 signalements examinés" in out.getvalue()


def test_match_reports_runs_again_and_again_with_every(analyst, monkeypatch, caplog):
    """`--every` (for an installation without a scheduler, and `make run`): it runs, waits,
    runs again, each run matching what came meanwhile; a failed run is logged and the next
    comes as planned. Under 10 seconds is refused."""
    from django.core.management.base import CommandError

    from cartostup.dealpoints.management.commands import match_reports

    point = dealpoint(actor=analyst)
    report_near(analyst, 3)
    waits: list[float] = []
    runs = {"n": 0}
    real_run = flows.matching_run

    said = "database is locked"

    def run_then_fail_once(**kwargs):
        runs["n"] += 1
        if runs["n"] == 2:
            raise RuntimeError(said)
        return real_run(**kwargs)

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            report_near(analyst, 6)  # a report accepted between two runs

    closed = {"n": 0}

    def close_old_connections() -> None:
        # Counted, not done: the test's transaction holds its data (on PostgreSQL the real
        # one would close the connection it runs in).
        closed["n"] += 1

    monkeypatch.setattr(match_reports.time, "sleep", sleep)
    monkeypatch.setattr(match_reports.flows, "matching_run", run_then_fail_once)
    monkeypatch.setattr(match_reports, "close_old_connections", close_old_connections)
    out = StringIO()
    with caplog.at_level("ERROR", logger="cartostup.dealpoints.management.commands.match_reports"):
        call_command("match_reports", "--every", "60", "--times", "3", stdout=out)
    # The first run attached the first report; the second failed; the third the second.
    assert waits == [60, 60] and closed["n"] == 3
    [failure] = [r for r in caplog.records if "passage en échec" in r.getMessage()]
    # Its type, never its message (which may quote a reporter's words).
    assert "RuntimeError (message omis)" in failure.getMessage()
    assert "database is locked" not in failure.getMessage() and not failure.exc_info
    assert out.getvalue().count("1 signalements examinés : 1 rattachés automatiquement") == 2
    assert point.links.filter(decision=LinkDecision.AUTOMATIC).count() == 2
    with pytest.raises(CommandError, match="au moins 10 secondes"):
        call_command("match_reports", "--every", "5", "--times", "1")


def test_one_report_that_fails_does_not_stop_the_run(analyst, monkeypatch, caplog):
    """A report whose matching raised stopped the whole run, and every later run at the same
    report: no report after it was matched, and no proposal was ever made again. It is now
    logged (its type only) and counted, and the run goes on to the others and the clustering."""
    point = dealpoint(actor=analyst)
    first = report_near(analyst, 3)
    second = report_near(analyst, 900)
    real_match = flows.report_match
    written = "Bât. B, cage 2"  # what a reporter wrote, quoted by an error's message

    def match(*, report, **kwargs):
        if report.pk == first.pk:
            raise ValueError(written)
        return real_match(report=report, **kwargs)

    monkeypatch.setattr(flows, "report_match", match)
    with caplog.at_level("ERROR", logger="cartostup.dealpoints.flows"):
        summary = flows.matching_run()
    assert (summary.failed, summary.matched) == (1, 1)
    # The run went on to the clustering: the report after the failed one is proposed.
    assert any(p.reports.filter(pk=second.pk).exists() for p in summary.proposals)
    [logged] = [r.getMessage() for r in caplog.records]
    assert f"signalement {first.pk}" in logged and "ValueError (message omis)" in logged
    assert "cage 2" not in logged
    assert not point.links.exists()


def test_attaching_a_report_elsewhere_closes_its_open_resurgence_alert(analyst):
    dismantled = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    lat, lon = offset(60)
    active = dealpoint(actor=analyst, latitude=lat, longitude=lon, name="Actif")
    services.report_attach(actor=analyst, dealpoint=active, report=report)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED and alert.decided_by == analyst
    event = dismantled.events.filter(kind=EventKind.ALERT).order_by("pk").last()
    assert event is not None
    assert event.details["closed"] == AlertStatus.DISMISSED
    assert event.details["attached_to"] == active.reference
    assert AuditEvent.objects.filter(
        object_id=str(alert.pk), details__reason="report_attached"
    ).exists()


def test_confirming_a_resurgence_of_an_attached_report_moves_it_with_a_trace(analyst):
    dismantled = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    lat, lon = offset(60)
    active = dealpoint(actor=analyst, latitude=lat, longitude=lon, name="Actif")
    # Attached by the matching (not an analyst): the alert stays open for the analyst.
    ReportLink.objects.filter(report=report).delete()
    services.report_attach(
        actor=None, dealpoint=active, report=report, decision=LinkDecision.AUTOMATIC
    )
    confirmed = flows.alert_confirm(actor=analyst, alert=alert)
    assert confirmed.moved_from == (active.reference,)
    assert list(
        ReportLink.objects.filter(
            report=report, decision__in=[LinkDecision.AUTOMATIC, LinkDecision.CONFIRMED]
        ).values_list("dealpoint", flat=True)
    ) == [dismantled.pk]
    event = active.events.get(kind=EventKind.REPORT_DETACHED)
    assert event.details["moved_to"] == dismantled.reference and event.actor == analyst


def test_a_report_that_fits_a_dismantled_point_is_not_given_to_its_active_neighbour(analyst):
    """The audit's case: a report 8 m from a point dismantled last month (same products,
    same hours) and 57 m from an active one was attached automatically to the active one
    (share 0.99: the dismantled point did not count), while a resurgence alert asked whether
    the dismantled point had come back. The dismantled point is now a rival: the report is
    not attached automatically, the alert asks the question, the analyst answers it."""
    dismantled = dismantled_point(analyst, 0)
    lat, lon = offset(57)
    active = dealpoint(actor=analyst, latitude=lat, longitude=lon)
    report = report_near(analyst, 8, precision="stairwell")
    outcome = flows.report_match(report=report)
    assert outcome.attached is None
    assert [a.dealpoint_id for a in outcome.alerts] == [dismantled.pk]
    assert not ReportLink.objects.filter(
        report=report, dealpoint=active, decision=LinkDecision.AUTOMATIC
    ).exists()
    # Without the dismantled point, the same report is the active point's.
    other = report_near(analyst, 8, precision="stairwell")
    (rival,) = matching.find_dismantled_near(report=other)
    assert matching.find_candidates(report=other)[0].score < 0.6
    DealPoint.objects.filter(pk=dismantled.pk).update(
        status_changed_at=timezone.now() - timedelta(days=500)
    )
    outcome = flows.report_match(report=other)
    assert outcome.attached is not None and outcome.attached.dealpoint_id == active.pk


def test_a_dismantled_point_far_from_the_report_does_not_stop_its_attachment(analyst):
    """A dismantled point 140 m away still raises its alert, but a report 3 m from an active
    point goes to that point."""
    dismantled = dismantled_point(analyst, -140)
    active = dealpoint(actor=analyst)
    outcome = flows.report_match(report=report_near(analyst, 3, precision="stairwell"))
    assert outcome.attached is not None and outcome.attached.dealpoint_id == active.pk
    assert [a.dealpoint_id for a in outcome.alerts] == [dismantled.pk]


def _move_alert(analyst, old, north_m: float) -> Alert:
    lat, lon = offset(north_m)
    new = dealpoint(actor=analyst, latitude=lat, longitude=lon)
    (alert,) = flows.dealpoint_successor_check(dealpoint=new)
    return alert


def test_move_alerts_a_status_change_answered_are_closed(analyst):
    """A "moved?" alert stays open only while its question stands: closed when the dismantled
    point comes back (resurgent), when it is moved to another candidate, and when the
    candidate is dismantled itself; each closing is in the history and the audit log."""
    old = dismantled_point(analyst, 0)
    first = _move_alert(analyst, old, 300)
    second = _move_alert(analyst, old, -300)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=old, status=DealPointStatus.MOVED, successor=second.candidate
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == AlertStatus.DISMISSED and first.decided_by == analyst
    # The chosen successor's alert is answered yes: confirmed, not left open for nothing.
    assert second.status == AlertStatus.CONFIRMED and second.decided_by == analyst
    assert AuditEvent.objects.filter(
        object_id=str(first.pk), details__reason="status_changed"
    ).exists()
    assert old.events.filter(kind=EventKind.ALERT, details__status_changed=old.reference).exists()

    other = dismantled_point(analyst, 2000)
    comes_back = _move_alert(analyst, other, 2300)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=other, status=DealPointStatus.RESURGENT
    )
    comes_back.refresh_from_db()
    assert comes_back.status == AlertStatus.DISMISSED

    third = dismantled_point(analyst, -2000)
    candidate_gone = _move_alert(analyst, third, -2300)
    assert candidate_gone.candidate is not None
    services.dealpoint_change_status(
        actor=analyst, dealpoint=candidate_gone.candidate, status=DealPointStatus.DISMANTLED
    )
    candidate_gone.refresh_from_db()
    assert candidate_gone.status == AlertStatus.DISMISSED
    # An unrelated open alert is left alone.
    fourth = dismantled_point(analyst, 4000)
    untouched = _move_alert(analyst, fourth, 4300)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=dismantled_point(analyst, 6000), status=DealPointStatus.RESURGENT
    )
    untouched.refresh_from_db()
    assert untouched.status == AlertStatus.OPEN


def test_a_successor_is_an_active_point_of_the_same_departement(analyst):
    old = dealpoint(actor=analyst)
    # A step « moved » may take (a reported point is refused the step first).
    services.dealpoint_change_status(actor=analyst, dealpoint=old, status=DealPointStatus.CONFIRMED)
    gone = dismantled_point(analyst, 500)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=old, status=DealPointStatus.MOVED, successor=gone
        )
    assert "doit être un point actif" in refused.value.message_dict["successor"][0]
    old.refresh_from_db()
    assert old.status == DealPointStatus.CONFIRMED and old.successor is None


def test_confirming_a_move_alert_closes_the_other_candidates(analyst):
    """Confirmed from the queue: the point moves to that candidate, the alert is confirmed
    once (one audit event), the alert naming another candidate is dismissed."""
    old = dismantled_point(analyst, 0)
    chosen = _move_alert(analyst, old, 300)
    other = _move_alert(analyst, old, -300)
    flows.alert_confirm(actor=analyst, alert=chosen)
    old.refresh_from_db()
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert old.status == DealPointStatus.MOVED and old.successor == chosen.candidate
    assert chosen.status == AlertStatus.CONFIRMED and other.status == AlertStatus.DISMISSED
    decided = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_type="dealpoints.alert", object_id=str(chosen.pk)
    )
    assert decided.count() == 1


def test_a_move_corrected_undoes_the_alert_that_confirmed_it(analyst, client_for):
    """New-user review: a move confirmed from its alert, then corrected on the point (back to
    « démantelé »), left the alert « confirmée », its history saying « déplacé vers … », and
    the question, asked once per pair of points, never came back. The confirmation is undone:
    the alert is dismissed and the history says why."""
    from django.urls import reverse

    old = dismantled_point(analyst, 0)
    chosen = _move_alert(analyst, old, 300)
    other = _move_alert(analyst, old, -300)
    flows.alert_confirm(actor=analyst, alert=chosen)
    other.refresh_from_db()
    assert other.status == AlertStatus.DISMISSED  # answered by the move
    old.refresh_from_db()
    move = services.status_last_change(old)
    assert move is not None and move.to_status == DealPointStatus.MOVED
    services.dealpoint_change_status(
        actor=analyst,
        dealpoint=old,
        status=DealPointStatus.DISMANTLED,
        corrects=move.pk,
        note="mauvais point",
    )
    chosen.refresh_from_db()
    assert chosen.status == AlertStatus.DISMISSED
    # The other candidate's question, which the move had answered, is asked again (review).
    other.refresh_from_db()
    assert other.status == AlertStatus.OPEN and other.decided_at is None
    assert AuditEvent.objects.filter(
        object_type="dealpoints.alert", object_id=str(chosen.pk), details__reason="move_corrected"
    ).exists()
    assert chosen.candidate is not None
    page = client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[old.pk]))
    assert (
        f"Confirmation du déplacement annulée (vers {chosen.candidate.reference}) : le point "
        "n&#x27;avait pas pris ce relais (son statut a été corrigé)" in page.content.decode()
    )
    assert other.candidate is not None
    assert (
        f"Alerte de déplacement possible rouverte (nouveau point : {other.candidate.reference}) "
        f": le déplacement vers {chosen.candidate.reference} a été corrigé" in page.content.decode()
    )
    # A move confirmed again later, and corrected, undoes that confirmation only: the first,
    # dismissed already, is not answered twice; the history says each once.
    flows.alert_confirm(actor=analyst, alert=other)
    old.refresh_from_db()
    again = services.status_last_change(old)
    assert again is not None
    services.dealpoint_change_status(
        actor=analyst, dealpoint=old, status="dismantled", corrects=again.pk, note="non plus"
    )
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (chosen.status, other.status) == (AlertStatus.DISMISSED, AlertStatus.DISMISSED)
    undone = old.events.filter(kind="alert", details__move_undone=True, details__closed="dismissed")
    assert sorted(undone.values_list("details__alert", flat=True)) == sorted([chosen.pk, other.pk])


def test_a_report_attached_to_a_point_leaves_the_open_proposals_that_held_it(analyst, client_for):
    """New-user audit: a report of an open proposal, attached to a point by a confirmed
    resurgence, stayed in the proposal; « Créer le point » then made a point with no report,
    said « créé avec 1 signalement(s) » and raised move alerts from nowhere."""
    from django.urls import reverse

    old = dismantled_point(analyst, 0)
    lone = report_near(analyst, 40)
    (alert,) = flows.report_match(report=lone).alerts
    pair = [report_near(analyst, 1500 + d) for d in (0, 8)]
    for report in (lone, *pair):
        flows.report_match(report=report)
    proposals = {len(p.reports.all()): p for p in flows.reports_cluster()}
    alone, two = proposals[1], proposals[2]
    assert list(alone.reports.all()) == [lone]

    flows.alert_confirm(actor=analyst, alert=alert)
    alone.refresh_from_db()
    assert alone.status == ProposalStatus.DISMISSED and not alone.reports.exists()
    with pytest.raises(ValidationError):
        flows.proposal_accept(actor=analyst, proposal=alone)
    # Placed on its first report, which an analyst then attaches to a point: the proposal
    # goes on with the other.
    assert (two.latitude, two.longitude) == (pair[0].latitude, pair[0].longitude)
    point = dealpoint(actor=analyst, latitude=offset(1600)[0], longitude=offset(1600)[1])
    services.report_attach(actor=analyst, dealpoint=point, report=pair[0])
    two.refresh_from_db()
    assert two.status == ProposalStatus.OPEN and list(two.reports.all()) == [pair[1]]
    # Placed again on the report left (the one that went may have been its centre).
    assert (two.latitude, two.longitude) == (pair[1].latitude, pair[1].longitude)
    # The emptied proposal is listed as dismissed, without « Rouvrir », which could not work.
    queue = client_for("cross13_analyst").get(reverse("dealpoints:matching")).content.decode()
    assert "Plus aucun signalement : ils ont été rattachés à des points." in queue
    assert "Rouvrir la proposition" not in queue

    response = client_for("cross13_analyst").post(
        reverse("dealpoints:proposal_accept", args=[two.pk]),
        {
            "latitude": f"{pair[1].latitude:.6f}",
            "longitude": f"{pair[1].longitude:.6f}",
            "precision": "building",
            "channel": "fixed",
            "confidence": "low",
            "sharing-distribution": "territory",
            "sharing-marking": "amber",
        },
        follow=True,
    )
    assert "créé avec 1 signalement." in response.content.decode()
    two.refresh_from_db()
    # The accepted proposal keeps the reports it was made of.
    assert two.status == ProposalStatus.ACCEPTED and list(two.reports.all()) == [pair[1]]
    assert two.dealpoint is not None and list(two.dealpoint.reports.all()) == [pair[1]]
    old.refresh_from_db()
    assert old.status == DealPointStatus.RESURGENT


def test_a_decision_on_an_alert_closed_meanwhile_says_who_closed_it_and_how(analyst, persona):
    """New-user audit: « Cette alerte a déjà été traitée. » for an alert nobody had decided
    (closed by the move another alert confirmed)."""
    old = dismantled_point(analyst, 0)
    first, second = (
        dealpoint(actor=analyst, latitude=offset(north)[0], longitude=offset(north)[1])
        for north in (200, 300)
    )
    (one,) = flows.dealpoint_successor_check(dealpoint=first)
    (other,) = flows.dealpoint_successor_check(dealpoint=second)
    flows.alert_confirm(actor=persona("antenna13_analyst"), alert=one)
    with pytest.raises(ValidationError) as refused:
        flows.alert_confirm(actor=analyst, alert=other)
    message = refused.value.messages[0]
    assert message.startswith("Cette alerte a déjà été close (« écartée ») le ")
    assert f"L'historique de {old.reference} dit pourquoi." in message
    assert "vous-même" not in message


def _history_text(client, point: DealPoint) -> str:
    import html

    from django.urls import reverse

    page = client.get(reverse("dealpoints:detail", args=[point.pk])).content.decode()
    return html.unescape(page)


def test_a_decision_on_an_alert_is_in_the_history_of_its_point(analyst, client_for):
    """New-user audit: « Écarter » an alert from the queue left nothing in the point's
    history (who dismissed it, when), and a move confirmed from the queue no « confirmée »
    line, while the same move made on the record wrote one."""
    client = client_for("cross13_analyst")
    point = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    flows.alert_dismiss(actor=analyst, alert=alert)
    assert f"Alerte de résurgence écartée (signalement {report.reference})" in _history_text(
        client, point
    )
    event = point.events.filter(kind="alert").latest("pk")
    assert event.actor == analyst and event.details["closed"] == AlertStatus.DISMISSED

    old = dismantled_point(analyst, 3000)
    chosen = _move_alert(analyst, old, 3300)
    other = _move_alert(analyst, old, 2700)
    assert chosen.candidate is not None and other.candidate is not None
    flows.alert_dismiss(actor=analyst, alert=other)
    flows.alert_confirm(actor=analyst, alert=chosen)
    text = _history_text(client, old)
    assert (
        "Alerte de déplacement possible écartée (nouveau point : "
        f"{other.candidate.reference})" in text
    )
    assert (
        "Alerte de déplacement possible confirmée : déplacé vers "
        f"{chosen.candidate.reference}" in text
    )
    # One line each, whoever closed it.
    assert text.count(f"déplacé vers {chosen.candidate.reference}") == 1


def test_a_resurgence_whose_report_was_attached_by_hand_is_still_confirmed(analyst):
    """The analyst attached the report to the dismantled point from its record, then confirmed
    the alert: the attachment, already made, is not made again (it would now be refused)."""
    point = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    attached = point.events.filter(kind=EventKind.REPORT_ATTACHED).count()
    flows.alert_confirm(actor=analyst, alert=alert)
    point.refresh_from_db()
    alert.refresh_from_db()
    assert point.status == DealPointStatus.RESURGENT
    assert alert.status == AlertStatus.CONFIRMED
    assert point.events.filter(kind=EventKind.REPORT_ATTACHED).count() == attached


def test_a_report_given_by_its_address_alone_is_left_to_the_analyst(analyst, client_for):
    """A report without a pin stands at its commune's point, kilometres from the place: a
    point there (active or just dismantled) is not its point. It is neither attached, nor
    proposed, nor clustered, nor alerted from that position; the analyst is told why."""
    from cartostup.reports.tests.factories import submit

    def address_only() -> Any:
        return submit(
            latitude=None, longitude=None, address="place Cadenat", commune_code="13203"
        ).report

    placed = address_only()
    assert placed.placed_at_commune
    active = dealpoint(actor=analyst, latitude=placed.latitude, longitude=placed.longitude)
    dismantled = dealpoint(
        actor=analyst, latitude=placed.latitude + 0.0002, longitude=placed.longitude
    )
    services.dealpoint_change_status(actor=analyst, dealpoint=dismantled, status="dismantled")
    # A pinned report at the same position is the control: attached, and alerting.
    pinned = accepted_report(analyst=analyst, latitude=placed.latitude, longitude=placed.longitude)
    control = flows.report_match(report=pinned)
    assert control.alerts and ReportLink.objects.filter(report=pinned).exists()

    client = client_for("cross13_analyst")
    response = client.post(f"/signalements/{placed.pk}/accepter/")
    assert response.status_code == 302
    messages = client.get(response["Location"]).content.decode()
    placed.refresh_from_db()
    assert placed.status == "accepted" and not placed.awaiting_matching
    assert "placé au point de sa commune" in messages
    assert "le point de la commune, pas le lieu" in messages
    assert not ReportLink.objects.filter(report=placed).exists()
    assert not Alert.objects.filter(report=placed).exists()
    # Nor by the background run, nor clustered with others given the same way.
    others = [address_only() for _ in range(3)]
    for report in others:
        flows.report_accept_and_match(actor=analyst, report=report)
    assert flows.report_match(report=placed).alerts == ()
    flows.matching_run()
    assert not Proposal.objects.filter(reports__in=[placed, *others]).exists()
    assert not ReportLink.objects.filter(report__in=[placed, *others]).exists()
    # The analyst attaches it by hand, from the point it is about.
    services.report_attach(actor=analyst, dealpoint=active, report=placed)
    assert ReportLink.objects.filter(report=placed, dealpoint=active).exists()


def test_a_report_placed_by_the_analyst_is_matched_from_there(analyst):
    """Placed from its address, an accepted report is matched at once from the new position:
    attached to the point there (left alone at its commune's point before). One not yet
    accepted is matched when accepted."""
    from cartostup.reports.tests.factories import submit

    def address_only() -> Any:
        return submit(
            latitude=None, longitude=None, address="place Cadenat", commune_code="13203"
        ).report

    point = dealpoint(actor=analyst)  # Marseille 14e, far from the 3e's stand-in point
    accepted = flows.report_accept_and_match(actor=analyst, report=address_only())
    assert not ReportLink.objects.filter(report=accepted).exists()
    lat, lon = offset(5)

    placed = flows.report_place_and_match(
        actor=analyst, report=accepted, latitude=lat, longitude=lon, precision="building"
    )

    link = ReportLink.objects.get(report=placed)
    assert (link.dealpoint_id, link.decision) == (point.pk, LinkDecision.AUTOMATIC)
    assert placed.placed_at_commune is False and placed.awaiting_matching is False
    placing = AuditEvent.objects.filter(object_id=str(placed.pk), details__has_key="placed")
    assert placing.count() == 1

    waiting = address_only()
    placed_first = flows.report_place_and_match(
        actor=analyst, report=waiting, latitude=lat, longitude=lon, precision="building"
    )
    assert placed_first.status == "new" and not placed_first.awaiting_matching
    assert not ReportLink.objects.filter(report=waiting).exists()
    flows.report_accept_and_match(actor=analyst, report=placed_first)
    assert ReportLink.objects.filter(report=waiting, dealpoint=point).exists()

    # Attached by hand first, then placed: it waits for nothing, nor is clustered (a review
    # found such reports in a new proposal while attached to their point).
    by_hand = [flows.report_accept_and_match(actor=analyst, report=address_only()) for _ in "abc"]
    for report in by_hand:
        services.report_attach(actor=analyst, dealpoint=point, report=report)
        report = flows.report_place_and_match(
            actor=analyst, report=report, latitude=lat + 0.01, longitude=lon, precision="street"
        )
        assert report.awaiting_matching is False
    flows.matching_run()
    assert not Proposal.objects.filter(reports__in=by_hand).exists()


def _placed_wrongly(analyst) -> Any:
    """An accepted report given by its address alone, placed by the analyst 30 m from a point
    dismantled last month and far from any active point: a resurgence alert, then a proposal
    of a new point of its own."""
    from cartostup.reports.tests.factories import submit

    report = flows.report_accept_and_match(
        actor=analyst,
        report=submit(
            latitude=None, longitude=None, address="place Cadenat", commune_code="13203"
        ).report,
    )
    lat, lon = offset(1530)
    return flows.report_place_and_match(
        actor=analyst, report=report, latitude=lat, longitude=lon, precision="building"
    )


def test_a_report_placed_again_is_matched_from_the_new_place(analyst):
    """Placed at the wrong place, then again at the right one: what the matching did from the
    wrong place is withdrawn (its proposal of a new point, emptied, is closed; the resurgence
    alert about the point dismantled there, now out of reach, is dismissed and said in that
    point's history), and the matching runs from the new place (attached to the point there)."""
    point = dealpoint(actor=analyst)
    dismantled = dismantled_point(analyst, 1500)
    report = _placed_wrongly(analyst)
    (alert,) = Alert.objects.filter(report=report)
    assert alert.dealpoint_id == dismantled.pk and alert.status == AlertStatus.OPEN
    (proposal,) = [p for p in flows.reports_cluster() if p.reports.filter(pk=report.pk)]
    lat, lon = offset(5)

    placed = flows.report_place_and_match(
        actor=analyst, report=report, latitude=lat, longitude=lon, precision="building"
    )

    link = ReportLink.objects.get(report=placed)
    assert (link.dealpoint_id, link.decision) == (point.pk, LinkDecision.AUTOMATIC)
    assert placed.awaiting_matching is False and placed.placed_by_analyst is True
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DISMISSED and not proposal.reports.exists()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED and alert.decided_by == analyst
    closed = dismantled.events.filter(kind=EventKind.ALERT).order_by("pk").last()
    assert closed is not None and closed.details["report_placed"] is True
    assert AuditEvent.objects.filter(
        object_id=str(alert.pk), object_type="dealpoints.alert", details__reason="report_placed"
    ).exists()
    withdrawn = AuditEvent.objects.get(object_id=str(report.pk), details__has_key="placed_again")
    assert withdrawn.details["placed_again"] == {"proposed_links": 0, "proposals": 1, "alerts": 1}
    placings = AuditEvent.objects.filter(object_id=str(report.pk), details__has_key="placed")
    assert [event.details.get("again", False) for event in placings.order_by("pk")] == [
        False,
        True,
    ]


def test_a_report_placed_again_near_the_same_dismantled_point_keeps_its_alert(analyst):
    dismantled = dismantled_point(analyst, 1500)
    report = _placed_wrongly(analyst)
    (alert,) = Alert.objects.filter(report=report)
    lat, lon = offset(1510)
    flows.report_place_and_match(
        actor=analyst, report=report, latitude=lat, longitude=lon, precision="stairwell"
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN and alert.dealpoint_id == dismantled.pk
    assert Alert.objects.filter(report=report).count() == 1


def test_a_report_attached_to_a_point_is_detached_before_it_is_placed_again(analyst):
    """Placed again while attached (automatically, from the wrong place, or by an analyst):
    refused, saying to detach it first; nothing changes. Detached, it is placed again."""
    point = dealpoint(actor=analyst)
    report = _placed_wrongly(analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    lat, lon = offset(5)
    with pytest.raises(ValidationError) as refused:
        flows.report_place_and_match(
            actor=analyst, report=report, latitude=lat, longitude=lon, precision="building"
        )
    assert f"rattaché au point {point.reference}" in refused.value.messages[0]
    assert "Détachez-le d'abord" in refused.value.messages[0]
    stored = Report.objects.get(pk=report.pk)
    assert (stored.latitude, stored.longitude) == (report.latitude, report.longitude)
    link = ReportLink.objects.get(report=report, dealpoint=point)
    flows.link_refuse(actor=analyst, link=link, from_decision=LinkDecision.CONFIRMED)
    placed = flows.report_place_and_match(
        actor=analyst, report=report, latitude=lat, longitude=lon, precision="building"
    )
    assert (placed.latitude, placed.longitude) == (round(lat, 6), round(lon, 6))
    # The pair the analyst refused is not brought back by the matching from the new place.
    assert ReportLink.objects.get(report=report, dealpoint=point).decision == (
        LinkDecision.REJECTED
    )


def test_a_placing_refused_leaves_the_report_and_the_points_as_they_were(analyst):
    from cartostup.reports.tests.factories import submit

    dealpoint(actor=analyst)
    report = flows.report_accept_and_match(
        actor=analyst,
        report=submit(
            latitude=None, longitude=None, address="place Cadenat", commune_code="13203"
        ).report,
    )
    with pytest.raises(ValidationError):
        flows.report_place_and_match(
            actor=analyst, report=report, latitude=48.936, longitude=2.357, precision="building"
        )
    pinned = accepted_report(analyst=analyst)
    with pytest.raises(ValidationError):
        flows.report_place_and_match(
            actor=analyst, report=pinned, latitude=43.3452, longitude=5.3949, precision="street"
        )
    report.refresh_from_db()
    assert report.placed_at_commune and not report.awaiting_matching
    assert not ReportLink.objects.filter(report__in=[report, pinned]).exists()


@pytest.mark.parametrize("restricted_before", [False, True])
@pytest.mark.parametrize("kept_to", ["organisation", "sharing_group"])
def test_an_alert_about_a_point_kept_from_ofast_is_neither_shown_nor_decided_by_ofast(
    analyst, persona, client_for, restricted_before, kept_to
):
    """Review of 2026-12-06: an alert took the CROSS's diffusion whatever its point's, so an
    Ofast antenna was shown, in its queue, an alert naming a point its CROSS kept to itself,
    and could dismiss it (writing in that point's history). An alert raised now keeps its
    point's narrower diffusion; one raised before the point was kept narrower is left out of
    the queue, and a decision on it answers 404."""
    from django.urls import reverse

    from cartostup.access.choices import Distribution
    from cartostup.access.services import sharing_group_create

    point = dismantled_point(analyst)
    group = sharing_group_create(
        actor=persona("admin"),
        name="Groupe du CROSS",
        owner_organisation=analyst.memberships.get().organisation,
    )

    def restrict() -> None:
        services.dealpoint_share(
            actor=analyst,
            dealpoint=point,
            data=services.SharingInput(
                distribution=kept_to,
                sharing_group_id=group.pk if kept_to == "sharing_group" else None,
            ),
        )

    if restricted_before:
        restrict()
    (alert,) = flows.report_match(report=report_near(analyst, 30)).alerts
    if not restricted_before:
        restrict()
    alert.refresh_from_db()
    assert alert.distribution == (kept_to if restricted_before else Distribution.CROSS)
    assert alert.sharing_group_id == (
        group.pk if restricted_before and kept_to == "sharing_group" else None
    )
    ofast = persona("antenna13_analyst")
    client = client_for("antenna13_analyst")
    history = list(point.events.values_list("pk", flat=True))
    queue = client.get(reverse("dealpoints:matching")).content.decode()
    assert point.reference not in queue
    for action in ("alert_confirm", "alert_dismiss"):
        response = client.post(reverse(f"dealpoints:{action}", args=[alert.pk]))
        assert response.status_code == 404, action
    with pytest.raises(Http404):
        flows.alert_dismiss(actor=ofast, alert=alert)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert list(point.events.values_list("pk", flat=True)) == history
    # The CROSS, which owns the point, sees the alert and decides it.
    assert (
        point.reference
        in client_for("cross13_analyst").get(reverse("dealpoints:matching")).content.decode()
    )
    flows.alert_dismiss(actor=analyst, alert=alert)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED


def test_ofast_attaching_a_report_leaves_open_the_alert_about_a_point_kept_from_it(
    analyst, persona
):
    """New-user audit (2026-12-06): an Ofast antenna attaching a report to a point it reads
    closed the report's resurgence alert about a point its CROSS kept to itself, writing in
    that point's history. That alert stays open for the CROSS; one about a point Ofast may
    change is closed as before."""
    from cartostup.access.choices import Distribution

    kept = dismantled_point(analyst)
    services.dealpoint_share(
        actor=analyst,
        dealpoint=kept,
        data=services.SharingInput(distribution=Distribution.ORGANISATION),
    )
    shared = dismantled_point(analyst, 60)
    report = report_near(analyst, 30)
    alerts = {alert.dealpoint_id: alert for alert in flows.report_match(report=report).alerts}
    assert set(alerts) == {kept.pk, shared.pk}
    lat, lon = offset(400)
    target = dealpoint(actor=analyst, latitude=lat, longitude=lon)
    history = list(kept.events.values_list("pk", flat=True))
    services.report_attach(actor=persona("antenna13_analyst"), dealpoint=target, report=report)
    assert Alert.objects.get(pk=alerts[kept.pk].pk).status == AlertStatus.OPEN
    assert Alert.objects.get(pk=alerts[shared.pk].pk).status == AlertStatus.DISMISSED
    assert list(kept.events.values_list("pk", flat=True)) == history


def test_a_proposal_that_fell_is_made_again_once_its_report_is_back(analyst):
    """New-user review: a report proposed to two neighbours, attached to one, had its other
    proposal stored « Écarté par un analyste », which no one decided; detached later (or its
    resurgence corrected), it was never proposed to that neighbour again and became a new
    point beside it. The proposal only falls: the report back in the matching meets the
    neighbour again, and never the point it was detached from."""
    first = dealpoint(actor=analyst, latitude=offset(0)[0], longitude=offset(0)[1])
    second = dealpoint(actor=analyst, latitude=offset(60)[0], longitude=offset(60)[1])
    report = report_near(analyst, 30, place_label="", products=[], days=[], times_of_day=[])
    flows.report_match(report=report)
    links = {link.dealpoint_id: link for link in ReportLink.objects.filter(report=report)}
    assert {link.decision for link in links.values()} == {"proposed"}
    assert set(links) == {first.pk, second.pk}
    flows.link_confirm(actor=analyst, link=links[first.pk])
    assert set(ReportLink.objects.filter(report=report).values_list("dealpoint", "decision")) == {
        (first.pk, "confirmed"),
        (second.pk, "withdrawn"),
    }
    # A page read before says it was decided meanwhile, and how.
    with pytest.raises(flows.LinkDecided) as told:
        flows.link_confirm(actor=analyst, link=links[second.pk])
    assert "proposition retirée (rattaché à un autre point)" in told.value.messages[0]
    services.report_detach(actor=analyst, dealpoint=first, report=report)
    flows.report_match(report=report)
    decided = dict(ReportLink.objects.filter(report=report).values_list("dealpoint", "decision"))
    assert decided[first.pk] == "rejected"
    assert decided[second.pk] in {"proposed", "automatic"}
