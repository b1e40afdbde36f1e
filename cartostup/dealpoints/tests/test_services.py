from dataclasses import replace
from datetime import date
from unittest.mock import ANY

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone

from cartostup.access import policy
from cartostup.access.models import Organisation
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import selectors, services, views
from cartostup.dealpoints.choices import DealPointStatus, EventKind, LinkDecision
from cartostup.dealpoints.models import DealPointEvent, ReportLink
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint, dealpoint_input


def test_point_life_cycle_is_kept_in_history(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst, reports=[report])
    assert point.reference.startswith("PD-13-")
    assert point.departement.code == "13"
    assert point.owner_organisation.kind == "cross"
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date.today(), outcome="dismantled"),
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert point.events.get(kind=EventKind.CREATED).details == {"reports": [report.reference]}
    kinds = list(point.events.order_by("pk").values_list("kind", flat=True))
    assert kinds == [
        EventKind.CREATED,
        EventKind.STATUS,
        EventKind.OPERATION,
        EventKind.STATUS,
    ]


# --- life cycle ----------------------------------------------------------------------------------


def _audits(point, action):
    return AuditEvent.objects.filter(
        action=action, object_type="dealpoints.dealpoint", object_id=str(point.pk)
    )


def test_allowed_transitions_are_dated_attributed_and_audited(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    for status in ("confirmed", "investigation", "dismantled", "resurgent"):
        services.dealpoint_change_status(actor=analyst, dealpoint=point, status=status, note="ok")
    point.refresh_from_db()
    assert point.status == DealPointStatus.RESURGENT
    steps = list(
        point.events.filter(kind=EventKind.STATUS)
        .order_by("pk")
        .values_list("from_status", "to_status", "actor", "note")
    )
    assert steps == [
        ("reported", "confirmed", analyst.pk, "ok"),
        ("confirmed", "investigation", analyst.pk, "ok"),
        ("investigation", "dismantled", analyst.pk, "ok"),
        ("dismantled", "resurgent", analyst.pk, "ok"),
    ]
    audited = [e.details["status"] for e in _audits(point, AuditAction.UPDATE).order_by("pk")]
    assert audited == ["confirmed", "investigation", "dismantled", "resurgent"]


@pytest.mark.parametrize("status", ["moved", "resurgent", "reported", "unknown"])
def test_refused_transitions_change_nothing(persona, status):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_change_status(actor=analyst, dealpoint=point, status=status)
    assert set(refused.value.message_dict) <= {"status", "successor"}
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    assert not point.events.filter(kind=EventKind.STATUS).exists()
    assert not _audits(point, AuditAction.UPDATE).exists()


def _last(point) -> int:
    """The point's last status change, the one a correction names."""
    point.refresh_from_db()
    change = services.status_last_change(point)
    assert change is not None
    return change.pk


def test_a_mistaken_status_change_is_corrected_not_erased(persona):
    """« Démantelé » chosen on the wrong point: the last change is undone, back to the status
    before it (outside the transitions: a dismantled point goes back only to resurgent or
    moved), with a required reason; the history keeps both changes."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status="confirmed", corrects=_last(point)
        )
    assert "Dites pourquoi" in refused.value.message_dict["note"][0]
    # Only back to the status before the last change.
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status="reported", corrects=_last(point), note="erreur"
        )
    assert "« Confirmé » → « Démantelé »" in refused.value.message_dict["status"][0]
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    services.dealpoint_change_status(
        actor=analyst,
        dealpoint=point,
        status="confirmed",
        corrects=_last(point),
        note="saisi sur le mauvais point",
        from_status="dismantled",
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.CONFIRMED
    steps = list(
        point.events.filter(kind=EventKind.STATUS)
        .order_by("pk")
        .values_list("from_status", "to_status", "details", "note")
    )
    # Each keeps the date of the status it replaced, for a correction (test_status_dates).
    since = {"since_before": ANY}
    assert steps == [
        ("reported", "confirmed", since, ""),
        ("confirmed", "dismantled", since, ""),
        ("dismantled", "confirmed", {"correction": True, **since}, "saisi sur le mauvais point"),
    ]
    audited = _audits(point, AuditAction.UPDATE).order_by("-pk").first()
    assert audited is not None
    assert audited.details == {
        "reference": point.reference,
        "status": "confirmed",
        "previous_status": "dismantled",
        "correction": True,
    }
    # The correction is itself the last change: corrected in turn, dismantled again.
    services.dealpoint_change_status(
        actor=analyst,
        dealpoint=point,
        status="dismantled",
        corrects=_last(point),
        note="finalement",
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED


def test_a_corrected_dismantling_closes_the_resurgence_alerts_it_raised(persona):
    """A report near the point while it was (wrongly) dismantled raised a resurgence alert:
    the correction closes it, said in the history, instead of leaving a question that a
    confirmation could no longer answer (« Confirmé » cannot become « Résurgent »)."""
    from cartostup.dealpoints import flows
    from cartostup.dealpoints.choices import AlertKind, AlertStatus
    from cartostup.dealpoints.models import Alert

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    report = accepted_report(analyst=analyst, latitude=point.latitude, longitude=point.longitude)
    flows.report_match(report=report)
    alert = Alert.objects.get(dealpoint=point, kind=AlertKind.RESURGENCE)
    assert alert.status == AlertStatus.OPEN
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="confirmed", corrects=_last(point), note="erreur"
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED and alert.decided_by == analyst
    closed = point.events.filter(kind=EventKind.ALERT).order_by("-pk").first()
    assert closed is not None and closed.details["status_corrected"] is True
    assert AuditEvent.objects.filter(
        object_type="dealpoints.alert",
        object_id=str(alert.pk),
        details__reason="status_corrected",
    ).exists()


def test_a_correction_names_the_change_it_undoes(persona):
    """A correction read before another change (a real dismantling after the corrected one)
    does not undo that other change: refused, nothing changed, the new change named."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    read = _last(point)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="reported", corrects=read, note="erreur"
    )
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    with pytest.raises(services.ChangedMeanwhile) as refused:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status="reported", corrects=read, note="erreur"
        )
    assert "le dernier changement est maintenant « Signalé » → « Démantelé »" in str(
        refused.value.messages[0]
    )
    assert refused.value.current == _last(point)
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED


def test_nothing_to_correct_before_a_first_change_nor_for_an_investigator(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status="reported", corrects=1, note="x"
        )
    assert "n'a pas encore changé de statut" in refused.value.message_dict["status"][0]
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    with pytest.raises(Http404):
        services.dealpoint_change_status(
            actor=persona("police13_investigator"),
            dealpoint=point,
            status="reported",
            corrects=_last(point),
            note="x",
        )
    point.refresh_from_db()
    assert point.status == DealPointStatus.CONFIRMED


def test_a_move_corrected_away_and_back_keeps_its_successor(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    successor = dealpoint(actor=analyst, name="Nouveau four")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=successor
    )
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="confirmed", corrects=_last(point), note="pas bougé"
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.CONFIRMED and point.successor is None
    # Corrected again: moved, to the successor that correction took away.
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", corrects=_last(point), note="si, il a bougé"
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.MOVED and point.successor == successor


def test_a_move_names_its_successor_in_both_histories(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    successor = dealpoint(actor=analyst, name="Nouveau four")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_change_status(actor=analyst, dealpoint=point, status="moved")
    assert "successor" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status="moved", successor=point
        )
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=successor
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.MOVED and point.successor == successor
    assert point.events.get(to_status="moved").details == {
        "successor": successor.reference,
        "since_before": ANY,
    }
    assert successor.events.get(kind=EventKind.SUCCESSOR).details == {
        "predecessor": point.reference
    }


def test_history_is_appended_never_overwritten(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    created = point.events.get()
    snapshot = (created.kind, created.occurred_at, created.details, created.to_status)
    services.dealpoint_update(
        actor=analyst,
        dealpoint=point,
        data=dealpoint_input(name="Four du bât. C", confidence="high"),
        note="Terrain",
    )
    services.dealpoint_update(
        actor=analyst, dealpoint=point, data=dealpoint_input(name="Four du bât. D")
    )
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    created.refresh_from_db()
    assert (created.kind, created.occurred_at, created.details, created.to_status) == snapshot
    edits = list(point.events.filter(kind=EventKind.EDITED).order_by("pk"))
    assert [edit.details["name"] for edit in edits] == [
        ["Four du bâtiment B", "Four du bât. C"],
        ["Four du bât. C", "Four du bât. D"],
    ]
    assert edits[0].details["confidence"] == ["medium", "high"]
    assert edits[0].note == "Terrain"
    assert point.events.count() == 4
    # Nothing changed, nothing written.
    services.dealpoint_update(
        actor=analyst,
        dealpoint=point,
        data=services.input_from_dealpoint(DealPointEvent.objects.get(pk=created.pk).dealpoint),
    )
    assert point.events.count() == 4


# --- operations ----------------------------------------------------------------------------------


def test_operation_with_outcome_dismantled_dismantles_the_point(persona):
    analyst = persona("cross13_analyst")
    police = persona("police13_investigator")
    point = dealpoint(actor=analyst)
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="investigation")
    operation = services.operation_record(
        actor=police,
        dealpoint=point,
        data=services.OperationInput(
            kind="arrests", occurred_on=date.today(), outcome="dismantled", arrests=4
        ),
    )
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert operation.service == police.memberships.get().organisation
    assert timezone.localtime(point.last_activity_at).date() == operation.occurred_on
    dismantled = point.events.get(to_status="dismantled")
    assert dismantled.actor == police
    assert dismantled.details == {"operation": operation.pk, "since_before": ANY}
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE,
        object_type="dealpoints.operation",
        object_id=str(operation.pk),
        details__dealpoint=point.reference,
    ).exists()
    # A second one on a dismantled point is recorded and changes no status.
    services.operation_record(
        actor=police,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date.today(), outcome="dismantled"),
    )
    assert point.operations.count() == 2
    assert point.events.filter(kind=EventKind.STATUS).count() == 2


def test_operation_refuses_a_service_that_is_not_the_actors(persona):
    analyst = persona("cross13_analyst")
    police = persona("police13_investigator")
    point = dealpoint(actor=analyst)
    foreign = analyst.memberships.get().organisation
    with pytest.raises(ValidationError) as refused:
        services.operation_record(
            actor=police,
            dealpoint=point,
            data=services.OperationInput(occurred_on=date.today(), service_id=foreign.pk),
        )
    assert "service_id" in refused.value.message_dict
    assert not point.operations.exists()


def test_a_cross_credits_an_operation_to_the_service_that_carried_it_out(persona):
    """A CROSS consolidates the operations of its département: its analyst names the police,
    gendarmerie or customs service that made the raid; an investigator names only its own;
    no one names a service of another département, a prosecutor or an inactive service."""
    from cartostup.access.services import demo_organisations_ensure

    organisations = demo_organisations_ensure()
    analyst = persona("cross13_analyst")
    police = persona("police13_investigator")
    point = dealpoint(actor=analyst)

    def record(actor, service):
        return services.operation_record(
            actor=actor,
            dealpoint=point,
            data=services.OperationInput(occurred_on=date.today(), service_id=service.pk),
        )

    for key in ("police13", "gendarmerie13", "customs13", "ofast", "ofast_marseille"):
        operation = record(analyst, organisations[key])
        assert operation.service == organisations[key] and operation.recorded_by == analyst
    offered = set(policy.operation_services(analyst, departement_id=point.departement_id))
    assert offered == {
        organisations[key]
        for key in ("cross13", "police13", "gendarmerie13", "customs13", "ofast", "ofast_marseille")
    }
    # Not another département's services, nor those that do not carry out operations.
    for key in ("police93", "gendarmerie69", "cross93", "prosecutor13", "prefecture13"):
        with pytest.raises(ValidationError) as refused:
            record(analyst, organisations[key])
        assert "service_id" in refused.value.message_dict, key
    # An investigator names its own service only.
    for key in ("gendarmerie13", "cross13"):
        with pytest.raises(ValidationError):
            record(police, organisations[key])
    assert record(police, organisations["police13"]).service == organisations["police13"]
    # An inactive service is no longer offered.
    Organisation.objects.filter(pk=organisations["customs13"].pk).update(is_active=False)
    with pytest.raises(ValidationError):
        record(analyst, organisations["customs13"])
    # Without a service named, the actor's own.
    default = services.operation_record(
        actor=analyst, dealpoint=point, data=services.OperationInput(occurred_on=date.today())
    )
    assert default.service == organisations["cross13"]
    assert point.operations.count() == 7


# --- merge, unmerge, split -----------------------------------------------------------------------


def _links(point):
    return sorted(point.links.values_list("report__reference", "decision", "score", "decided_by"))


def test_merge_then_unmerge_restores_the_reports_exactly(persona):
    analyst = persona("cross13_analyst")
    first = accepted_report(analyst=analyst)
    second = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    third = accepted_report(analyst=analyst, latitude=43.3458, longitude=5.3955)
    source = dealpoint(actor=analyst, reports=[first, second])
    target = dealpoint(actor=analyst, reports=[third], name="Le même")
    # The matching had proposed the second report for the target too.
    services.report_attach(
        actor=None, dealpoint=target, report=second, decision=LinkDecision.PROPOSED, score=0.55
    )
    before = (_links(source), _links(target))
    activity = target.last_activity_at

    services.dealpoint_merge(actor=analyst, source=source, target=target, note="Doublon")
    source.refresh_from_db()
    assert source.merged_into == target
    attached = target.links.filter(decision__in=["automatic", "confirmed"])
    assert set(attached.values_list("report", flat=True)) == {first.pk, second.pk, third.pk}
    assert source.events.get(kind=EventKind.MERGED).details["into"] == target.reference
    assert target.events.get(kind=EventKind.MERGED).details["from"] == source.reference
    with pytest.raises(ValidationError):
        services.dealpoint_change_status(actor=analyst, dealpoint=source, status="confirmed")

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.merged_into is None
    assert (_links(source), _links(target)) == before
    assert target.last_activity_at == activity
    assert source.events.filter(kind=EventKind.UNMERGED).exists()
    assert target.events.filter(kind=EventKind.UNMERGED).exists()
    with pytest.raises(ValidationError):
        services.dealpoint_unmerge(actor=analyst, dealpoint=source)


def test_merge_refuses_itself_and_another_departement(persona):
    analyst = persona("ofast_analyst")
    point = dealpoint(actor=analyst)
    elsewhere = dealpoint(actor=analyst, latitude=48.9362, longitude=2.3574)
    with pytest.raises(ValidationError):
        services.dealpoint_merge(actor=analyst, source=point, target=point)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=point, target=elsewhere)
    assert "target" in refused.value.message_dict
    point.refresh_from_db()
    assert point.merged_into is None


def test_a_change_of_a_merged_point_names_the_point_that_replaces_it(persona):
    """« Ce point a été fusionné dans un autre : modifiez le point qui le remplace » named
    none; the analyst whose form was open had to look for it (review). Named, the end of
    the chain of merges."""
    analyst = persona("cross13_analyst")
    first = dealpoint(actor=analyst)
    second = dealpoint(actor=analyst, latitude=43.3455, longitude=5.3952)
    third = dealpoint(actor=analyst, latitude=43.3458, longitude=5.3955)
    services.dealpoint_merge(actor=analyst, source=first, target=second)
    services.dealpoint_merge(actor=analyst, source=second, target=third)
    first.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_update(
            actor=analyst,
            dealpoint=first,
            data=replace(services.input_from_dealpoint(first), name="Autre nom"),
        )
    assert refused.value.messages == [
        f"Ce point a été fusionné dans {third.reference} : modifiez {third.reference}, qui le "
        "remplace."
    ]


@pytest.mark.parametrize("inactive", [DealPointStatus.DISMANTLED, DealPointStatus.MOVED])
def test_an_active_point_is_not_merged_into_an_inactive_one(persona, inactive):
    """User audit: PD-13-0041 (Signalé) was merged into PD-13-0040 (Déplacé): the active
    point left the map and its reports counted for a point said to have moved. The other
    way round (the inactive record into the active one) is the merge to make."""
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    active = dealpoint(actor=analyst, reports=[report])
    old = dealpoint(actor=analyst, name="Ancien four")
    services.dealpoint_change_status(actor=analyst, dealpoint=old, status="confirmed")
    successor = dealpoint(actor=analyst, name="Nouveau four", latitude=43.3470)
    services.dealpoint_change_status(
        actor=analyst,
        dealpoint=old,
        status=inactive,
        successor=successor if inactive == DealPointStatus.MOVED else None,
    )
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=active, target=old)
    message = refused.value.message_dict["target"][0]
    assert message.startswith(f"{old.reference} est « {DealPointStatus(inactive).label} » :")
    assert f"Fusionnez plutôt {old.reference} dans {active.reference}" in message
    assert "passez d'abord" in message and "« Résurgent »" in message
    active.refresh_from_db()
    assert active.merged_into is None
    assert active.links.get(report=report).decision == LinkDecision.CONFIRMED
    assert not old.links.exists()
    # The other way round is allowed: the inactive record joins the active point.
    services.dealpoint_merge(actor=analyst, source=old, target=active)
    old.refresh_from_db()
    assert old.merged_into == active


def test_split_gives_the_chosen_reports_to_a_new_point(persona):
    analyst = persona("cross13_analyst")
    stays = accepted_report(analyst=analyst)
    leaves = accepted_report(analyst=analyst, latitude=43.3470, longitude=5.3990)
    point = dealpoint(actor=analyst, reports=[stays, leaves])
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    new = services.dealpoint_split(
        actor=analyst,
        dealpoint=point,
        reports=[leaves],
        data=dealpoint_input(latitude=43.3470, longitude=5.3990, name="Second four"),
        note="Deux lieux",
    )
    assert new.pk != point.pk and new.status == DealPointStatus.CONFIRMED
    assert list(new.links.values_list("report", "decision")) == [(leaves.pk, "confirmed")]
    assert set(
        point.links.filter(decision__in=["automatic", "confirmed"]).values_list("report", flat=True)
    ) == {stays.pk}
    assert point.events.get(kind=EventKind.SPLIT).details == {
        "new": new.reference,
        "reports": [leaves.reference],
    }
    assert new.events.get(kind=EventKind.SPLIT).details["from"] == point.reference
    assert _audits(point, AuditAction.UPDATE).filter(details__split=new.reference).exists()
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_split(
            actor=analyst, dealpoint=point, reports=[leaves], data=dealpoint_input()
        )
    assert "reports" in refused.value.message_dict


# --- attach and detach ---------------------------------------------------------------------------


def test_detached_report_waits_for_matching_and_is_never_proposed_again(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    report.refresh_from_db()
    assert not report.awaiting_matching
    assert point.events.filter(kind=EventKind.REPORT_ATTACHED).exists()

    services.report_detach(actor=analyst, dealpoint=point, report=report, note="Autre lieu")
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert link.decision == LinkDecision.REJECTED and link.decided_by == analyst
    report.refresh_from_db()
    assert report.awaiting_matching
    assert point.events.get(kind=EventKind.REPORT_DETACHED).note == "Autre lieu"
    for decision in (LinkDecision.PROPOSED, LinkDecision.AUTOMATIC):
        kept = services.report_attach(
            actor=None, dealpoint=point, report=report, decision=decision, score=0.9
        )
        assert kept.decision == LinkDecision.REJECTED
    with pytest.raises(ValidationError):
        services.report_detach(actor=analyst, dealpoint=point, report=report)
    # An analyst may still attach it on purpose.
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    assert ReportLink.objects.get(report=report).decision == LinkDecision.CONFIRMED


def test_refusing_a_proposal_keeps_the_report_waiting(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    point = dealpoint(actor=analyst)
    other = dealpoint(actor=analyst, name="Autre")
    for candidate in (point, other):
        services.report_attach(
            actor=None, dealpoint=candidate, report=report, decision=LinkDecision.PROPOSED
        )
    services.report_detach(actor=analyst, dealpoint=point, report=report)
    report.refresh_from_db()
    # Still proposed for the other point: not back in the matching queue yet.
    assert not report.awaiting_matching
    assert not point.events.filter(kind=EventKind.REPORT_DETACHED).exists()
    services.report_detach(actor=analyst, dealpoint=other, report=report)
    report.refresh_from_db()
    assert report.awaiting_matching


def test_analyst_may_not_propose_nor_attach_an_unaccepted_report(persona):
    from cartostup.reports.tests.factories import submit

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    with pytest.raises(ValidationError):
        services.report_attach(
            actor=analyst,
            dealpoint=point,
            report=accepted_report(analyst=analyst),
            decision=LinkDecision.PROPOSED,
        )
    with pytest.raises(ValidationError) as refused:
        services.report_attach(actor=analyst, dealpoint=point, report=submit().report)
    # Under the name of the one report sent (API `report`, the page's field).
    assert "report" in refused.value.message_dict


# --- access --------------------------------------------------------------------------------------


def test_analyst_of_another_departement_gets_404(persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    other = persona("cross93_analyst")
    with pytest.raises(Http404):
        services.dealpoint_update(actor=other, dealpoint=point, data=dealpoint_input(name="X"))
    with pytest.raises(Http404):
        services.dealpoint_change_status(actor=other, dealpoint=point, status="confirmed")
    with pytest.raises(Http404):
        services.operation_record(
            actor=other,
            dealpoint=point,
            data=services.OperationInput(occurred_on=date.today()),
        )
    with pytest.raises(Http404):
        services.dealpoint_merge(
            actor=other, source=point, target=dealpoint(actor=persona("cross13_analyst"))
        )
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED and point.name == "Four du bâtiment B"


def test_investigator_records_operations_but_does_not_edit(persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    investigator = persona("gendarmerie13_investigator")
    services.operation_record(
        actor=investigator,
        dealpoint=point,
        data=services.OperationInput(kind="surveillance", occurred_on=date.today()),
    )
    assert point.operations.get().recorded_by == investigator
    with pytest.raises(Http404):
        services.dealpoint_update(
            actor=investigator, dealpoint=point, data=dealpoint_input(name="X")
        )
    with pytest.raises(Http404):
        services.dealpoint_change_status(actor=investigator, dealpoint=point, status="confirmed")
    with pytest.raises(Http404):
        services.dealpoint_create(actor=investigator, data=dealpoint_input())


def test_landlord_cannot_edit_nor_record(persona):
    from cartostup.access.services import building_create

    landlord = persona("landlord_13h")
    building = building_create(
        actor=landlord,
        name="Bâtiment A",
        address="3 rue des Tilleuls, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
    )
    point = dealpoint(actor=persona("cross13_analyst"), building_id=building.pk)
    for call in (
        lambda: services.dealpoint_update(
            actor=landlord, dealpoint=point, data=dealpoint_input(name="X")
        ),
        lambda: services.dealpoint_change_status(
            actor=landlord, dealpoint=point, status="confirmed"
        ),
        lambda: services.operation_record(
            actor=landlord,
            dealpoint=point,
            data=services.OperationInput(occurred_on=date.today()),
        ),
        lambda: services.dealpoint_unmerge(actor=landlord, dealpoint=point),
    ):
        with pytest.raises(Http404):
            call()
    assert point.events.count() == 1


def _landlord_building(persona):
    from cartostup.access.services import building_create

    return building_create(
        actor=persona("landlord_13h"),
        name="Bâtiment A",
        address="3 rue des Tilleuls, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
    )


def test_a_point_is_tied_only_to_a_building_where_it_is(persona):
    """The tie to a landlord's building decides what the landlord sees: a point 3 km away
    (the 3e arrondissement) cannot be tied to a building of the 14e, on creation or edit."""
    from cartostup.dealpoints import selectors

    analyst, landlord = persona("cross13_analyst"), persona("landlord_13h")
    building = _landlord_building(persona)
    with pytest.raises(ValidationError) as refused:
        dealpoint(actor=analyst, latitude=43.3086, longitude=5.3722, building_id=building.pk)
    (message,) = refused.value.message_dict["building_id"]
    assert "à moins de 150 m" in message and "Corrigez la position" in message
    near = dealpoint(actor=analyst, latitude=43.3457, longitude=5.3951, building_id=building.pk)
    assert near.building == building
    far = dealpoint(actor=analyst, latitude=43.3086, longitude=5.3722)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_update(
            actor=analyst,
            dealpoint=far,
            data=dealpoint_input(latitude=43.3086, longitude=5.3722, building_id=building.pk),
        )
    assert "building_id" in refused.value.message_dict
    # Moving a tied point away is refused too; nothing is half-written.
    with pytest.raises(ValidationError):
        services.dealpoint_update(
            actor=analyst,
            dealpoint=near,
            data=dealpoint_input(latitude=43.3086, longitude=5.3722, building_id=building.pk),
        )
    near.refresh_from_db()
    assert (near.latitude, near.building_id) == (43.3457, building.pk)
    assert near.events.filter(kind=EventKind.EDITED).count() == 0
    assert list(selectors.dealpoint_list(actor=landlord, audit=False)) == [near]


@pytest.mark.parametrize("status", ["dismantled", "resurgent"])
def test_a_place_split_off_a_dismantled_point_starts_reported(persona, status):
    """New-user review: a point split off a dismantled one was born « Démantelé », with no
    status change to correct and no operation to cancel (cancelling the raid restored the
    first point only). The dismantling was the first place's: the new one starts « Signalé »."""
    analyst = persona("cross13_analyst")
    stays = accepted_report(analyst=analyst)
    leaves = accepted_report(analyst=analyst, latitude=43.3470, longitude=5.3990)
    point = dealpoint(actor=analyst, reports=[stays, leaves])
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    if status == "resurgent":
        services.dealpoint_change_status(actor=analyst, dealpoint=point, status="resurgent")
    new = services.dealpoint_split(
        actor=analyst,
        dealpoint=point,
        reports=[leaves],
        data=dealpoint_input(latitude=43.3470, longitude=5.3990, name="Second four"),
    )
    assert new.status == DealPointStatus.REPORTED
    point.refresh_from_db()
    assert point.status == status


def test_a_point_split_elsewhere_leaves_the_building_behind(persona):
    """A split point placed 1 km away does not take the address, the building nor the
    stairwell of the point it leaves (the landlord of that building would see it); a split
    point in the same building keeps them."""
    analyst = persona("cross13_analyst")
    building = _landlord_building(persona)
    reports = [accepted_report(analyst=analyst) for _ in range(3)]
    point = dealpoint(
        actor=analyst,
        latitude=43.3452,
        longitude=5.3950,
        building_id=building.pk,
        address="3 rue des Tilleuls",
        reports=reports,
    )
    from cartostup.dealpoints.forms import SplitForm

    def split(latitude: float, longitude: float, report):
        links = list(point.links.filter(report=report).select_related("report"))
        form = SplitForm(
            {
                "reports": [str(report.pk)],
                "latitude": str(latitude),
                "longitude": str(longitude),
                "precision": "building",
            },
            links=links,
        )
        assert form.is_valid(), form.errors
        return services.dealpoint_split(
            actor=analyst, dealpoint=point, reports=[report], data=form.to_input(point)
        )

    elsewhere = split(43.3542, 5.3950, reports[0])
    assert (elsewhere.building, elsewhere.address, elsewhere.building_label) == (None, "", "")
    assert elsewhere.stairwell_label == ""
    beside = split(43.3453, 5.3951, reports[1])
    assert (beside.building, beside.address, beside.building_label) == (
        building,
        "3 rue des Tilleuls",
        "B",
    )


# --- one point per report (audit of 2026-12-04) --------------------------------------------------


def _attached_to(report):
    """The points a report is attached to, live or merged."""
    return sorted(
        ReportLink.objects.filter(
            report=report, decision__in=["automatic", "confirmed"]
        ).values_list("dealpoint__reference", flat=True)
    )


def test_undoing_a_merge_whose_point_was_merged_since_is_refused_until_that_one_is_undone(
    persona,
):
    analyst = persona("cross13_analyst")
    reports = [
        accepted_report(analyst=analyst, latitude=43.3452 + i / 10000, longitude=5.3950)
        for i in range(3)
    ]
    first = dealpoint(actor=analyst, reports=[reports[0]])
    second = dealpoint(actor=analyst, reports=[reports[1]])
    third = dealpoint(actor=analyst, reports=[reports[2]])
    services.dealpoint_merge(actor=analyst, source=first, target=second)
    services.dealpoint_merge(actor=analyst, source=second, target=third)
    for report in reports:
        assert _attached_to(report) == [third.reference]

    with pytest.raises(ValidationError) as refused:
        services.dealpoint_unmerge(actor=analyst, dealpoint=first)
    assert refused.value.messages == [
        f"{second.reference} a depuis été fusionné dans {third.reference} : annulez d'abord "
        f"cette fusion-là, depuis la fiche de {second.reference}."
    ]
    first.refresh_from_db()
    assert first.merged_into == second
    assert _attached_to(reports[0]) == [third.reference]

    # Undone in order, each point gets its own reports back.
    services.dealpoint_unmerge(actor=analyst, dealpoint=second)
    services.dealpoint_unmerge(actor=analyst, dealpoint=first)
    assert [_attached_to(report) for report in reports] == [
        [first.reference],
        [second.reference],
        [third.reference],
    ]


def test_unmerge_leaves_a_report_detached_or_moved_since_where_it_is(persona):
    analyst = persona("cross13_analyst")
    kept, detached, moved, again = (
        accepted_report(analyst=analyst, latitude=43.3452 + i / 10000, longitude=5.3950)
        for i in range(4)
    )
    source = dealpoint(actor=analyst, reports=[kept, detached, moved, again])
    target = dealpoint(actor=analyst, name="Le même")
    elsewhere = dealpoint(actor=analyst, name="Ailleurs")
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    services.report_detach(actor=analyst, dealpoint=target, report=detached)
    services.report_attach(actor=analyst, dealpoint=elsewhere, report=moved)
    # Detached, then attached again to the target by an analyst (new-user review: it went
    # back to the source with the unmerge, the later decision lost).
    services.report_detach(actor=analyst, dealpoint=target, report=again)
    services.report_attach(actor=analyst, dealpoint=target, report=again)

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    assert _attached_to(kept) == [source.reference]
    assert _attached_to(detached) == []
    assert _attached_to(moved) == [elsewhere.reference]
    assert _attached_to(again) == [target.reference]
    # Nothing is left lent to a point that is no longer merged.
    assert not ReportLink.objects.filter(decision=LinkDecision.MERGED).exists()
    detached.refresh_from_db()
    assert detached.awaiting_matching
    event = source.events.get(kind=EventKind.UNMERGED)
    assert event.details["reports"] == [kept.reference]
    assert event.details["stayed"] == {
        detached.reference: "",
        moved.reference: elsewhere.reference,
        again.reference: target.reference,
    }
    # The history says so: a detached report is not « at an undisclosed point » (user audit).
    (told,) = selectors.dealpoint_history(
        actor=analyst, dealpoint=source, events=[event], view="test"
    )
    assert "undisclosed" not in told.details
    assert views._event_lines(told)[-3:] == [
        f"{detached.reference} reste détaché, comme décidé depuis la fusion",
        f"{moved.reference} reste à {elsewhere.reference}, où il a été rattaché depuis",
        f"{again.reference} reste à {target.reference}, où il a été rattaché depuis",
    ]


def test_a_merged_point_lends_its_reports_and_gets_their_decisions_back(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    source = dealpoint(actor=analyst)
    target = dealpoint(actor=analyst, name="Le même")
    services.report_attach(
        actor=None, dealpoint=source, report=report, decision=LinkDecision.AUTOMATIC, score=0.9
    )
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    assert _attached_to(report) == [target.reference]
    assert source.links.get(report=report).decision == LinkDecision.MERGED
    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    link = source.links.get(report=report)
    assert (link.decision, link.score, link.decided_by) == (LinkDecision.AUTOMATIC, 0.9, None)


def test_the_database_refuses_a_report_attached_to_two_points(persona):
    from django.db import IntegrityError, transaction

    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    dealpoint(actor=analyst, reports=[report])
    other = dealpoint(actor=analyst, name="Autre")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportLink.objects.create(report=report, dealpoint=other, decision=LinkDecision.AUTOMATIC)
    # Proposed, refused or lent, any number of points may hold it.
    ReportLink.objects.create(report=report, dealpoint=other, decision=LinkDecision.PROPOSED)


def test_moving_a_report_is_recorded_on_the_point_it_leaves(persona):
    analyst = persona("cross13_analyst")
    report = accepted_report(analyst=analyst)
    left = dealpoint(actor=analyst, reports=[report])
    other = dealpoint(actor=analyst, name="Autre")
    link = services.report_attach(actor=analyst, dealpoint=other, report=report)
    assert link.moved_from == (left.reference,)
    assert _attached_to(report) == [other.reference]
    event = left.events.get(kind=EventKind.REPORT_DETACHED)
    assert event.actor == analyst
    assert event.details == {
        "report": report.reference,
        "was": LinkDecision.CONFIRMED,
        "moved_to": other.reference,
    }
    assert other.events.get(kind=EventKind.REPORT_ATTACHED).details["moved_from"] == [
        left.reference
    ]
    assert (
        _audits(left, AuditAction.UPDATE)
        .filter(details__moved_to=other.reference, actor_username="cross13_analyst")
        .exists()
    )
    # A point created with the report (a split, a proposal) is a move too.
    third = dealpoint(actor=analyst, reports=[report], name="Troisième")
    assert other.events.get(kind=EventKind.REPORT_DETACHED).details["moved_to"] == third.reference


def test_an_operation_before_2000_is_refused_as_a_typing_error(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    with pytest.raises(ValidationError) as refused:
        services.operation_record(
            actor=persona("police13_investigator"),
            dealpoint=point,
            data=services.OperationInput(occurred_on=date(1990, 1, 1)),
        )
    assert "antérieure au 01/01/2000" in refused.value.message_dict["occurred_on"][0]
    assert point.operations.count() == 0


def test_a_split_keeps_at_least_one_report_on_the_point(persona):
    analyst = persona("cross13_analyst")
    reports = [accepted_report(analyst=analyst) for _ in range(2)]
    point = dealpoint(actor=analyst, reports=reports)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_split(
            actor=analyst, dealpoint=point, reports=reports, data=dealpoint_input(name="Tout")
        )
    assert "Déplacé" in refused.value.message_dict["reports"][0]
    assert point.links.filter(decision=LinkDecision.CONFIRMED).count() == 2


def test_a_split_near_the_point_but_out_of_the_buildings_reach_drops_the_building(persona):
    """The point 140 m from its building, the split point 140 m further: near the point (the
    address is kept), out of the building's reach (the building is not, and the split is not
    refused for a field the split page does not show)."""
    from cartostup.dealpoints.forms import SplitForm

    analyst = persona("cross13_analyst")
    building = _landlord_building(persona)  # 43.3452, 5.3949
    reports = [accepted_report(analyst=analyst) for _ in range(2)]
    point = dealpoint(
        actor=analyst,
        latitude=43.3452 + 140 / 111_320,
        longitude=5.3949,
        building_id=building.pk,
        address="3 rue des Tilleuls",
        reports=reports,
    )
    links = list(point.links.filter(report=reports[0]).select_related("report"))
    form = SplitForm(
        {
            "reports": [str(reports[0].pk)],
            "latitude": str(43.3452 + 280 / 111_320),
            "longitude": "5.3949",
            "precision": "building",
        },
        links=links,
    )
    assert form.is_valid(), form.errors
    new = services.dealpoint_split(
        actor=analyst, dealpoint=point, reports=[reports[0]], data=form.to_input(point)
    )
    assert new.building is None and new.address == "3 rue des Tilleuls"


def test_a_report_is_tied_only_to_a_point_of_its_departement(persona):
    """As merges: a point's history is read by its département's services, and a report
    moved across would name there a point of another département."""
    from cartostup.reports.tests.factories import SAINT_DENIS

    national = persona("ofast_analyst")
    point = dealpoint(actor=persona("cross13_analyst"))
    report_93 = accepted_report(
        analyst=persona("cross93_analyst"), latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]
    )
    with pytest.raises(ValidationError) as refused:
        services.report_attach(actor=national, dealpoint=point, report=report_93)
    assert "un point de son département" in refused.value.message_dict["report"][0]
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_create(actor=national, data=dealpoint_input(), reports=[report_93])
    assert report_93.reference in refused.value.message_dict["reports"][0]
    assert not ReportLink.objects.filter(report=report_93).exists()


def test_a_split_elsewhere_is_refused_on_the_position_not_on_the_reports(persona):
    """User audit: a 13 point split to a position in another département said « Ces
    signalements ne sont pas du département du point : SIG-13-… », blaming reports of the
    13; the problem is the position."""
    from cartostup.reports.tests.factories import SAINT_DENIS

    national = persona("ofast_analyst")  # its territory holds both départements
    analyst = persona("cross13_analyst")
    stays = accepted_report(analyst=analyst)
    leaves = accepted_report(analyst=analyst, latitude=43.3470, longitude=5.3990)
    point = dealpoint(actor=analyst, reports=[stays, leaves])
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_split(
            actor=national,
            dealpoint=point,
            reports=[leaves],
            data=dealpoint_input(latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]),
        )
    assert refused.value.message_dict == {
        "latitude": [
            f"Cette position est dans le département Seine-Saint-Denis (93), {point.reference} "
            "dans le département Bouches-du-Rhône (13) : un point scindé reste dans le "
            "département du point qu'il quitte, comme ses signalements. Placez le nouveau "
            "point dans le 13."
        ]
    }
    assert point.links.get(report=leaves).decision == LinkDecision.CONFIRMED
    assert not point.events.filter(kind=EventKind.SPLIT).exists()


def test_an_edit_of_ones_own_other_page_is_said_without_doubled_parentheses(persona):
    """« par vous-même (dans une autre page) (le 05/12/2026 …) »: one aside, between commas."""
    from dataclasses import replace

    from cartostup.dealpoints import selectors

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    read = selectors.dealpoint_edit_version(dealpoint=point)
    services.dealpoint_update(
        actor=analyst,
        dealpoint=point,
        data=replace(services.input_from_dealpoint(point), notes="Vu lundi"),
        version=read,
    )
    with pytest.raises(services.ChangedMeanwhile) as refused:
        services.dealpoint_update(
            actor=analyst,
            dealpoint=point,
            data=replace(services.input_from_dealpoint(point), name="Autre nom"),
            version=read,
        )
    message = refused.value.messages[0]
    assert "par vous-même, dans une autre page, le " in message
    assert "(" not in message and ")" not in message
    # The status changed in another page: the same words.
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="confirmed", from_status=point.status
    )
    with pytest.raises(ValidationError) as refused_status:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status="dismantled", from_status="reported"
        )
    assert "par vous-même, dans une autre page, le " in " ".join(refused_status.value.messages)


def test_an_edit_read_before_another_is_refused_but_a_new_report_is_no_edit(persona):
    from dataclasses import replace

    from cartostup.dealpoints import selectors

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    read = selectors.dealpoint_edit_version(dealpoint=point)
    # A report attached meanwhile (by the matching) changes nothing the form shows.
    services.report_attach(
        actor=None,
        dealpoint=point,
        report=accepted_report(analyst=analyst),
        decision=LinkDecision.AUTOMATIC,
        score=0.9,
    )
    first = services.dealpoint_update(
        actor=persona("antenna13_analyst"),
        dealpoint=point,
        data=replace(services.input_from_dealpoint(point), notes="Vu lundi"),
        version=read,
    )
    assert first.notes == "Vu lundi"
    with pytest.raises(services.ChangedMeanwhile) as refused:
        services.dealpoint_update(
            actor=analyst,
            dealpoint=point,
            data=replace(services.input_from_dealpoint(point), name="Autre nom", notes=""),
            version=read,
        )
    edited = point.events.get(kind=EventKind.EDITED)
    assert refused.value.name == "version" and refused.value.current == edited.pk
    assert refused.value.events == [edited]
    message = refused.value.messages[0]
    assert message.startswith(
        f"{point.reference} a été modifié après que vous avez ouvert ce formulaire, par "
        "Julien Roux, le "
    )
    assert message.endswith(
        " : notes de l'analyste. Rien n'a été enregistré, pour ne pas effacer ces changements."
    )
    point.refresh_from_db()
    assert point.notes == "Vu lundi" and point.name == "Four du bâtiment B"
    assert selectors.dealpoint_edit_version(dealpoint=point) == edited.pk


def test_an_automatic_attachment_confirmed_keeps_what_the_matching_measured(persona):
    """« Rattacher » on a report the matching attached wiped its score and distance."""
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    report = accepted_report(analyst=analyst, latitude=point.latitude, longitude=point.longitude)
    services.report_attach(
        actor=None,
        dealpoint=point,
        report=report,
        decision=LinkDecision.AUTOMATIC,
        score=0.83,
        distance_m=12.5,
    )
    link = services.report_attach(actor=analyst, dealpoint=point, report=report)
    link.refresh_from_db()
    assert (link.decision, link.score, link.distance_m) == (LinkDecision.CONFIRMED, 0.83, 12.5)
    assert link.decided_by == analyst


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("cross13_analyst", "Ce lieu est hors de votre territoire."),
        ("ofast_analyst", "Un point ne change pas de département : créez-en un nouveau."),
    ],
)
def test_a_point_moved_to_another_departement_is_refused_in_the_words_that_apply(
    persona, username, message
):
    """A new user's audit: moved out of its territory, a point said « créez-en un nouveau »,
    a creation then refused as out of the territory. The territory is said first; the
    département rule to whoever may create a point there (Ofast, national)."""
    point = dealpoint(actor=persona("cross13_analyst"))
    with pytest.raises(ValidationError) as error:
        services.dealpoint_update(
            actor=persona(username),
            dealpoint=point,
            data=dealpoint_input(latitude=48.936, longitude=2.357),  # Saint-Denis (93)
        )
    assert error.value.message_dict == {"latitude": [message]}
    point.refresh_from_db()
    assert point.departement.code == "13"
    assert not point.events.filter(kind=EventKind.EDITED).exists()
