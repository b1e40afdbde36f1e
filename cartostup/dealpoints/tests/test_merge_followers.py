"""What hangs on a merged point follows it to the point it is merged into, and comes back when
the merge is undone: the reports proposed to it (they stayed unreachable: the queue never shows
a merged point's proposals and they could no longer be confirmed) and its open alerts
(review of 2026-12-05)."""

from __future__ import annotations

import csv
import importlib
import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cartostup.access.choices import Distribution
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import flows, matching_selectors, services
from cartostup.dealpoints.choices import AlertKind, AlertStatus, DealPointStatus, LinkDecision
from cartostup.dealpoints.models import Alert, DealPoint, ReportLink
from cartostup.dealpoints.tests.factories import dealpoint
from cartostup.dealpoints.tests.test_flows import dismantled_point, report_near
from cartostup.dealpoints.tests.test_matching import offset


def _proposed(analyst, point: DealPoint, north_m: float = 85):
    report = report_near(analyst, north_m, products=["heroin"], days=["mon"], place_label="")
    flows.report_match(report=report)
    assert ReportLink.objects.get(report=report, dealpoint=point).decision == "proposed"
    return report


def _decisions(report) -> dict[str, str]:
    return {
        link.dealpoint.reference: link.decision
        for link in ReportLink.objects.filter(report=report).select_related("dealpoint")
    }


def _queued(analyst) -> set[tuple[str, str]]:
    queue = matching_selectors.matching_queue(actor=analyst)
    return {(row.link.report.reference, row.link.dealpoint.reference) for row in queue.link_rows}


def _point_at(analyst, north_m: float, **changes) -> DealPoint:
    lat, lon = offset(north_m)
    return dealpoint(actor=analyst, latitude=lat, longitude=lon, **changes)


def test_a_merged_point_s_proposals_are_proposed_to_the_point_it_is_merged_into(analyst):
    source = _point_at(analyst, 0)
    report = _proposed(analyst, source)
    target = _point_at(analyst, 900, name="Même lieu")

    services.dealpoint_merge(actor=analyst, source=source, target=target)
    assert _decisions(report) == {source.reference: "rejected", target.reference: "proposed"}
    assert _queued(analyst) == {(report.reference, target.reference)}

    # Undone with nothing decided: the proposal is the source's again.
    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    assert _decisions(report) == {source.reference: "proposed"}
    assert _queued(analyst) == {(report.reference, source.reference)}

    # Merged again and confirmed on the target: the unmerge leaves it there.
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    link = ReportLink.objects.get(report=report, dealpoint=target)
    flows.link_confirm(actor=analyst, link=link)
    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    assert _decisions(report) == {source.reference: "rejected", target.reference: "confirmed"}


def test_a_proposal_the_target_had_refused_goes_back_to_matching(analyst, client_for):
    source = _point_at(analyst, 0)
    report = _proposed(analyst, source)
    target = _point_at(analyst, 900)
    # An analyst had refused this report for the target (as `flows.link_refuse` leaves it).
    ReportLink.objects.create(report=report, dealpoint=target, decision=LinkDecision.REJECTED)

    services.dealpoint_merge(actor=analyst, source=source, target=target)
    report.refresh_from_db()
    assert _decisions(report) == {source.reference: "rejected", target.reference: "rejected"}
    assert report.awaiting_matching  # clustered with the others, not stranded
    assert _queued(analyst) == set()

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    report.refresh_from_db()
    assert _decisions(report) == {source.reference: "proposed", target.reference: "rejected"}
    assert not report.awaiting_matching
    # The page of the queue offers it again, and it can be confirmed.
    page = client_for("cross13_analyst").get(reverse("dealpoints:matching"))
    assert report.reference in page.content.decode()
    flows.link_confirm(actor=analyst, link=ReportLink.objects.get(report=report, dealpoint=source))
    assert _decisions(report)[source.reference] == "confirmed"


def test_a_dismantled_point_s_resurgence_alert_is_closed_by_a_merge_into_an_active_point(
    analyst, client_for
):
    source = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    target = _point_at(analyst, 60, name="Le point actif")

    services.dealpoint_merge(actor=analyst, source=source, target=target)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED and alert.dealpoint == source
    assert not matching_selectors.matching_queue(actor=analyst).alerts
    history = client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[source.pk]))
    assert (
        f"Alerte de résurgence close : {source.reference} a été fusionné dans {target.reference}"
        in history.content.decode()
    )

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN and alert.decided_by is None
    # Open again, it can be confirmed as before the merge.
    flows.alert_confirm(actor=analyst, alert=alert)
    source.refresh_from_db()
    assert source.status == DealPointStatus.RESURGENT
    history = client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[source.pk]))
    assert (
        f"Alerte rouverte : la fusion de {source.reference} dans {target.reference} a été annulée"
        in history.content.decode()
    )


def test_a_resurgence_alert_follows_a_merge_into_a_dismantled_point(analyst):
    source = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    target = dismantled_point(analyst, 70)
    # The report is near both: its alert on the target exists already, unless taken apart.
    Alert.objects.filter(dealpoint=target).delete()

    services.dealpoint_merge(actor=analyst, source=source, target=target)
    alert.refresh_from_db()
    assert (alert.status, alert.dealpoint, alert.commune) == (
        AlertStatus.OPEN,
        target,
        target.commune,
    )
    assert [a.pk for a in matching_selectors.matching_queue(actor=analyst).alerts] == [alert.pk]

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    alert.refresh_from_db()
    assert (alert.status, alert.dealpoint) == (AlertStatus.OPEN, source)

    # Merged again, it is confirmed on the target, which comes back with the report.
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    flows.alert_confirm(actor=analyst, alert=Alert.objects.get(pk=alert.pk))
    target.refresh_from_db()
    assert target.status == DealPointStatus.RESURGENT
    assert _decisions(report)[target.reference] == LinkDecision.CONFIRMED


def test_a_twin_alert_on_the_target_closes_the_merged_point_s(analyst):
    source = dismantled_point(analyst)
    target = dismantled_point(analyst, 70)
    report = report_near(analyst, 30)
    alerts = flows.report_match(report=report).alerts
    assert {a.dealpoint_id for a in alerts} == {source.pk, target.pk}

    services.dealpoint_merge(actor=analyst, source=source, target=target)
    statuses = {a.dealpoint_id: a.status for a in Alert.objects.all()}
    assert statuses == {source.pk: AlertStatus.DISMISSED, target.pk: AlertStatus.OPEN}


def test_a_possible_successor_merged_into_another_point_hands_it_the_question(analyst):
    old = dismantled_point(analyst)
    candidate = _point_at(analyst, 100)
    (alert,) = flows.dealpoint_successor_check(dealpoint=candidate)
    assert alert.kind == AlertKind.SUCCESSOR and alert.candidate == candidate
    target = _point_at(analyst, 120, name="La même fiche")
    Alert.objects.exclude(pk=alert.pk).delete()

    services.dealpoint_merge(actor=analyst, source=candidate, target=target)
    alert.refresh_from_db()
    assert (alert.status, alert.dealpoint, alert.candidate) == (AlertStatus.OPEN, old, target)
    flows.alert_confirm(actor=analyst, alert=alert)
    old.refresh_from_db()
    assert (old.status, old.successor) == (DealPointStatus.MOVED, target)


def test_a_move_alert_closed_by_a_merge_reopens_only_while_its_question_stands(analyst):
    old = dismantled_point(analyst)
    candidate = _point_at(analyst, 100)
    (alert,) = flows.dealpoint_successor_check(dealpoint=candidate)
    # The dismantled point merged into the possible successor: the merge answers the question
    # (the other way, an active point into a dismantled one, is refused).
    services.dealpoint_merge(actor=analyst, source=old, target=candidate)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED
    services.dealpoint_unmerge(actor=analyst, dealpoint=old)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN

    services.dealpoint_merge(actor=analyst, source=old, target=candidate)
    # The possible successor is dismantled before the merge is undone: no successor then.
    services.dealpoint_change_status(
        actor=analyst, dealpoint=candidate, status=DealPointStatus.DISMANTLED
    )
    services.dealpoint_unmerge(actor=analyst, dealpoint=old)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED


def test_a_resurgence_alert_closed_by_a_merge_stays_closed_once_its_report_went_elsewhere(
    analyst,
):
    """Review: reopened, it could be confirmed and take the report back from where an analyst
    had attached it meanwhile."""
    source = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    target = _point_at(analyst, 60, name="Le point actif")
    elsewhere = _point_at(analyst, 45, name="Ailleurs")
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    services.report_attach(actor=analyst, dealpoint=elsewhere, report=report)

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    alert.refresh_from_db()
    assert alert.status == AlertStatus.DISMISSED
    assert _decisions(report)[elsewhere.reference] == LinkDecision.CONFIRMED


def test_an_alert_that_follows_a_merge_is_owned_and_marked_like_its_new_point(analyst):
    from cartostup.access.choices import Marking

    source = dismantled_point(analyst)
    report = report_near(analyst, 30)
    (alert,) = flows.report_match(report=report).alerts
    target = dismantled_point(analyst, 70)
    Alert.objects.filter(dealpoint=target).delete()
    services.dealpoint_share(
        actor=analyst,
        dealpoint=target,
        data=services.SharingInput(distribution=target.distribution, marking=Marking.RED),
    )
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    alert.refresh_from_db()
    assert (alert.dealpoint, alert.marking) == (target, Marking.RED)
    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    alert.refresh_from_db()
    assert (alert.dealpoint, alert.marking) == (source, source.marking)


def test_a_merge_that_would_make_a_point_its_own_successor_is_refused(analyst):
    """Review: P moved to S, S later dismantled, S merged into P: P succeeded itself."""
    moved = _point_at(analyst, 0, name="Ancien lieu")
    successor = _point_at(analyst, 100, name="Nouveau lieu")
    services.dealpoint_change_status(actor=analyst, dealpoint=moved, status="confirmed")
    services.dealpoint_change_status(
        actor=analyst, dealpoint=moved, status=DealPointStatus.MOVED, successor=successor
    )
    services.dealpoint_change_status(
        actor=analyst, dealpoint=successor, status=DealPointStatus.DISMANTLED
    )
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=successor, target=moved)
    assert refused.value.message_dict["target"][0].startswith(
        f"{moved.reference} a pour successeur {successor.reference} : fusionner"
    )
    moved.refresh_from_db()
    successor.refresh_from_db()
    assert (moved.successor, successor.merged_into) == (successor, None)


def test_the_points_that_moved_to_a_merged_point_moved_to_its_target(analyst, client_for):
    """New-user audit: a point moved to PD-A kept « Point successeur PD-A » once PD-A was
    merged into PD-B (a record off the map), and PD-B did not name it as its predecessor."""
    old = dismantled_point(analyst)
    source = _point_at(analyst, 100, name="Nouveau lieu")
    services.dealpoint_change_status(
        actor=analyst, dealpoint=old, status=DealPointStatus.MOVED, successor=source
    )
    target = _point_at(analyst, 120, name="La même fiche")

    services.dealpoint_merge(actor=analyst, source=source, target=target)
    old.refresh_from_db()
    assert old.successor == target
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:detail", args=[old.pk])).content.decode()
    assert (
        f"Successeur : {target.reference} ({source.reference}, le successeur, y a été fusionné)"
        in page
    )
    page = client.get(reverse("dealpoints:detail", args=[target.pk])).content.decode()
    assert old.reference in page and "y a été fusionné" in page

    services.dealpoint_unmerge(actor=analyst, dealpoint=source)
    old.refresh_from_db()
    assert old.successor == source
    # The unmerge's audit event says what it gave back, as the merge's said what followed.
    from cartostup.core.choices import AuditAction
    from cartostup.core.models import AuditEvent

    merged, unmerged = (
        AuditEvent.objects.filter(action=AuditAction.UPDATE, details__has_key=key).latest("pk")
        for key in ("merged", "unmerged")
    )
    assert merged.details["succeeded"] == [old.reference]
    assert unmerged.details["succeeded_back"] == [old.reference]

    # Each record the merge and its undoing changed has them in its own audit trail (new-user
    # review: the merged point lacked its merge, the predecessor both successor changes).
    def audited(point: DealPoint) -> list[dict]:
        return [
            {key: event.details[key] for key in sorted(event.details) if key != "reference"}
            for event in AuditEvent.objects.filter(
                action=AuditAction.UPDATE,
                object_type="dealpoints.dealpoint",
                object_id=str(point.pk),
            ).order_by("pk")
        ]

    assert {"merged_into": target.reference, "reports": 0} in audited(source)
    assert audited(old)[-2:] == [
        {"merged": source.reference, "successor": target.reference},
        {"previous_successor": target.reference, "successor": source.reference},
    ]
    assert {"reports": [], "unmerged_from": source.reference} in audited(target)
    page = client.get(reverse("dealpoints:detail", args=[old.pk])).content.decode()
    assert f"Successeur : {source.reference} de nouveau" in page


def test_merging_into_a_merged_point_names_where_it_went(analyst):
    first, second, third = (_point_at(analyst, d, name=f"P{d}") for d in (0, 50, 100))
    services.dealpoint_merge(actor=analyst, source=second, target=third)
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=first, target=second)
    assert refused.value.message_dict["target"] == [
        f"{second.reference} a lui-même été fusionné dans {third.reference} : fusionnez plutôt "
        f"dans {third.reference}."
    ]
    first.refresh_from_db()
    assert first.merged_into is None
    # The other way round, as a second page sent meanwhile would.
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=third, target=second)
    assert refused.value.message_dict["target"] == [
        f"{second.reference} vient d'être fusionné dans {third.reference} : les deux fiches "
        "n'en font déjà plus qu'une, rien n'a été fusionné."
    ]


def _roots() -> dict[str, str | None]:
    return {
        point.reference: point.merged_root.reference if point.merged_root else None
        for point in DealPoint.objects.select_related("merged_root")
    }


def test_a_merged_point_names_the_point_it_lives_in_at_the_end_of_its_merges(analyst):
    """`merged_root`: what the map counts a merged point's operations for (one place)."""
    first, second, third, other = (_point_at(analyst, north) for north in (0, 30, 60, 2000))
    services.dealpoint_merge(actor=analyst, source=first, target=second)
    assert _roots()[first.reference] == second.reference
    # The point that holds a merged one is merged in turn: both live in the third now.
    services.dealpoint_merge(actor=analyst, source=second, target=third)
    roots = _roots()
    assert roots[first.reference] == roots[second.reference] == third.reference
    assert roots[third.reference] is roots[other.reference] is None
    # Undone at the top: the first lives in the second again, the second stands on its own.
    services.dealpoint_unmerge(actor=analyst, dealpoint=second)
    roots = _roots()
    assert (roots[first.reference], roots[second.reference]) == (second.reference, None)
    services.dealpoint_unmerge(actor=analyst, dealpoint=first)
    assert set(_roots().values()) == {None}


def test_a_move_to_itself_or_to_a_merged_point_says_why_it_is_refused(analyst):
    """Both were « Choisissez un autre point. »: it now says why, and which point to name."""
    moving = _point_at(analyst, 0)
    # A step « moved » may take (a reported point is refused the step first).
    services.dealpoint_change_status(
        actor=analyst, dealpoint=moving, status=DealPointStatus.CONFIRMED
    )
    merged, kept = _point_at(analyst, 30), _point_at(analyst, 60)
    services.dealpoint_merge(actor=analyst, source=merged, target=kept)
    for successor, said in (
        (moving, "Un point ne peut pas être son propre successeur"),
        (
            merged,
            f"{merged.reference} a été fusionné dans {kept.reference} : indiquez plutôt "
            f"{kept.reference} comme successeur.",
        ),
    ):
        with pytest.raises(ValidationError) as refused:
            services.dealpoint_change_status(
                actor=analyst,
                dealpoint=moving,
                status=DealPointStatus.MOVED,
                successor=successor,
            )
        assert said in refused.value.message_dict["successor"][0]
    moving.refresh_from_db()
    assert moving.status != DealPointStatus.MOVED and moving.successor is None


def test_the_migrations_name_the_roots_and_store_each_list_value_once(analyst):
    """0008 names the point at the end of each chain of merges (the points merged before it
    had none); 0009 mends the lists a PATCH stored with repeated values."""
    from django.apps import apps

    roots = importlib.import_module("cartostup.dealpoints.migrations.0008_merged_root")
    lists = importlib.import_module("cartostup.dealpoints.migrations.0009_lists_once")
    first, second, third, alone = (_point_at(analyst, north) for north in (0, 30, 60, 2000))
    services.dealpoint_merge(actor=analyst, source=first, target=second)
    services.dealpoint_merge(actor=analyst, source=second, target=third)
    DealPoint.objects.update(merged_root=None)
    DealPoint.objects.filter(pk=alone.pk).update(
        products=["cannabis", "crack", "cannabis"], opening_hours=["fri:evening"]
    )

    roots.name_roots(apps, None)
    lists.lists_once(apps, None)

    assert _roots() == {
        first.reference: third.reference,
        second.reference: third.reference,
        third.reference: None,
        alone.reference: None,
    }
    alone.refresh_from_db()
    assert (alone.products, alone.opening_hours) == (["cannabis", "crack"], ["fri:evening"])


def test_the_record_of_a_place_lists_the_operations_of_its_merged_records(analyst, client_for):
    """The map counted a merged record's raid at its place, the record of that place did not
    list it (only the merged record's own page did). Listed, naming the record it was
    entered on, and audited as a listing; the API's list of the point's operations too."""
    kept, merged = _point_at(analyst, 0), _point_at(analyst, 30)
    raid = services.operation_record(
        actor=analyst,
        dealpoint=merged,
        data=services.OperationInput(kind="raid", occurred_on=date.today()),
    )
    services.dealpoint_share(
        actor=analyst, dealpoint=merged, data=services.SharingInput(distribution=Distribution.CROSS)
    )
    services.dealpoint_merge(actor=analyst, source=merged, target=kept)
    police = client_for("police13_investigator")
    assert police.get(f"/api/v1/dealpoints/{kept.pk}/").status_code == 200
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:detail", args=[kept.pk])).content.decode()
    table = page[
        page.index('id="operations"') : page.index("</table>", page.index('id="operations"'))
    ]
    assert f'Enregistrée sur <a href="/points-de-deal/{merged.pk}/">{merged.reference}</a>' in table
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST,
        object_type="dealpoints.operation",
        details__merged_points=[merged.reference],
    ).exists()
    listed = client.get(f"/api/v1/dealpoints/{kept.pk}/operations/").json()
    assert [(row["id"], row["dealpoint"]) for row in listed["results"]] == [
        (raid.pk, merged.reference)
    ]
    # And counted where it is listed: the point's record in the API, the list and the export
    # said « Opérations 0 » of it, and the merged record is not exported (user audit).
    assert client.get(f"/api/v1/dealpoints/{kept.pk}/").json()["operations_count"] == 1
    rows = client.get("/api/v1/dealpoints/", {"q": kept.reference}).json()["results"]
    assert [row["operations_count"] for row in rows] == [1]
    exported = client.get(reverse("dealpoints:export", args=["csv"]), {"q": kept.reference})
    assert exported.status_code == 200
    (row,) = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert row["Opérations"] == "1"
    panel = client.get(reverse("dealpoints:map_panel", args=[kept.pk])).content.decode()
    assert "<dt>Opérations</dt><dd>1</dd>" in panel
    # A reader who does not see the merged record is not told of its raid, in the count either.
    assert police.get(f"/api/v1/dealpoints/{kept.pk}/").json()["operations_count"] == 0
    # Undone: each record lists its own again.
    services.dealpoint_unmerge(actor=analyst, dealpoint=merged)
    assert client.get(f"/api/v1/dealpoints/{kept.pk}/operations/").json()["count"] == 0
    assert client.get(f"/api/v1/dealpoints/{kept.pk}/").json()["operations_count"] == 0


def test_a_merge_joins_records_of_one_place_only(analyst, building, persona):
    """New-user review: a merge took points 2.6 km apart (a reference mistyped), and a point
    of a landlord's building A into one of its tour 3, which the landlord saw lose its point.
    Two records more than a kilometre apart, or on two buildings, are two places: refused,
    saying how to go on; nothing is merged."""
    from cartostup.access.services import building_create
    from cartostup.dealpoints.tests.factories import MARSEILLE_14

    source = dealpoint(actor=analyst, latitude=MARSEILLE_14[0], longitude=MARSEILLE_14[1])
    far = dealpoint(actor=analyst, latitude=MARSEILLE_14[0] + 0.0234, longitude=MARSEILLE_14[1])
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=source, target=far)
    assert refused.value.message_dict["target"] == [
        f"{source.reference} et {far.reference} sont à 2,7 km l'un de l'autre : une fusion "
        "réunit deux fiches d'un même lieu. Vérifiez la référence saisie ; si la position "
        "d'une des fiches est fausse, corrigez-la d'abord ; si le point s'est déplacé, "
        "indiquez-le par son statut (« Déplacé », avec son successeur)."
    ]
    tower = building_create(
        actor=persona("landlord_13h"),
        name="Tour 3",
        address="14 allée des Amandiers, 13014 Marseille",
        latitude=MARSEILLE_14[0] + 0.0005,
        longitude=MARSEILLE_14[1],
    )
    on_b = dealpoint(
        actor=analyst, latitude=MARSEILLE_14[0], longitude=MARSEILLE_14[1], building_id=building.pk
    )
    on_tower = dealpoint(
        actor=analyst,
        latitude=MARSEILLE_14[0] + 0.0005,
        longitude=MARSEILLE_14[1],
        building_id=tower.pk,
    )
    with pytest.raises(ValidationError) as refused:
        services.dealpoint_merge(actor=analyst, source=on_b, target=on_tower)
    (said,) = refused.value.message_dict["target"]
    assert said.startswith(
        f"{on_b.reference} et {on_tower.reference} sont sur deux bâtiments de bailleur "
        f"différents ({building} ; {tower}) : une fusion réunit deux fiches d'un même lieu."
    )
    assert not DealPoint.objects.filter(merged_into__isnull=False).exists()
    # At one place, one record on a building and the other on none: merged.
    services.dealpoint_merge(actor=analyst, source=on_b, target=source)
    assert DealPoint.objects.get(pk=on_b.pk).merged_into_id == source.pk
