"""Reads of the deal-point pages: what each persona receives, and the audit of lists."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.utils import timezone

from cartostup.access.services import building_create
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import selectors, services
from cartostup.dealpoints.choices import LinkDecision
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint

pytestmark = pytest.mark.django_db

ListMode = selectors.ListMode


@pytest.fixture
def building(persona):
    return building_create(
        actor=persona("landlord_13h"),
        name="Bâtiment A",
        address="3 rue des Tilleuls, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
    )


@pytest.mark.parametrize(
    ("who", "mode"),
    [
        ("cross13_analyst", ListMode.FULL),
        ("ofast_analyst", ListMode.FULL),
        ("police13_investigator", ListMode.FULL),
        ("landlord_13h", ListMode.REDUCED),
        ("prefecture_13", ListMode.AGGREGATE),
        ("prosecutor_13", ListMode.AGGREGATE),
    ],
)
def test_list_mode_follows_the_policy(persona, who, mode):
    assert selectors.dealpoint_list_mode(actor=persona(who)) == mode


def test_landlord_may_filter_on_status_only(persona):
    assert selectors.dealpoint_allowed_filters(actor=persona("landlord_13h")) == ("status",)
    assert "product" in selectors.dealpoint_allowed_filters(actor=persona("cross13_analyst"))


def test_table_counts_attached_reports_orders_by_activity_and_audits(persona):
    analyst = persona("cross13_analyst")
    first = accepted_report(analyst=analyst)
    second = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    busy = dealpoint(actor=analyst, reports=[first, second], name="Occupé")
    quiet = dealpoint(actor=analyst, name="Calme")
    proposed = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3953)
    services.report_attach(
        actor=None, dealpoint=quiet, report=proposed, decision=LinkDecision.PROPOSED
    )
    # Last seen ten days ago; the quiet one, never seen, was created today: active today, as
    # the period filter reads it, so first (it came last, below points seen months ago).
    DealPoint.objects.filter(pk=busy.pk).update(
        last_activity_at=timezone.now() - timedelta(days=10)
    )
    rows = list(selectors.dealpoint_table(actor=analyst, filters={"q": ""}))
    counts = [(row.reference, row.report_count) for row in rows]  # type: ignore[attr-defined]
    assert counts == [
        (quiet.reference, 0),
        (busy.reference, 2),
    ]
    event = AuditEvent.objects.get(action=AuditAction.LIST)
    assert event.details == {"filters": {}, "view": "list"}
    assert event.object_type == "dealpoints.dealpoint"
    DealPoint.objects.filter(pk=quiet.pk).update(created_at=timezone.now() - timedelta(days=30))
    rows = list(selectors.dealpoint_table(actor=analyst, filters={"q": ""}))
    assert [row.reference for row in rows] == [busy.reference, quiet.reference]


def test_table_is_restricted_to_the_territory(persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    assert list(selectors.dealpoint_table(actor=persona("cross93_analyst"))) == []
    assert list(selectors.dealpoint_table(actor=persona("antenna13_analyst"))) == [point]


def test_landlord_listing_refuses_filters_on_hidden_fields(persona, building):
    """Refused, not dropped: the listing would read as filtered on products."""
    point = dealpoint(actor=persona("cross13_analyst"), building_id=building.pk)
    landlord = persona("landlord_13h")
    with pytest.raises(ValidationError) as refused:
        selectors.dealpoint_list(actor=landlord, filters={"product": ["heroin"], "status": []})
    assert refused.value.message_dict == {
        "product": ["Ce filtre n'est pas ouvert à votre vue des points de deal."]
    }
    assert not AuditEvent.objects.filter(action=AuditAction.LIST).exists()
    assert list(selectors.dealpoint_list(actor=landlord, filters={"status": ["moved"]})) == []
    assert list(selectors.dealpoint_list(actor=landlord, filters={"status": ["reported"]})) == [
        point
    ]


@pytest.mark.parametrize(
    ("username", "refused", "message"),
    [
        ("cross13_analyst", set(), ""),
        ("landlord_13h", {"q", "product", "channel", "active_from", "departement"}, "vue"),
        ("prefecture_13", {"q", "product", "channel", "active_from"}, "comptes agrégés"),
    ],
)
def test_refused_filters_follow_the_policy(persona, username, refused, message):
    data = QueryDict(
        "q=x&status=reported&product=crack&channel=drive&active_from=2026-01-01"
        "&departement=13&page=2&limit=5"
    )
    errors = selectors.dealpoint_refused_filters(actor=persona(username), data=data)
    assert set(errors) == refused
    assert all(message in messages[0] for messages in errors.values())


def test_reduced_row_holds_only_the_landlords_fields(persona, building):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst, building_id=building.pk)
    point.last_reported_at = timezone.make_aware(datetime(2026, 3, 12, 15, 0))  # a Thursday
    row = selectors.dealpoint_reduced(actor=persona("landlord_13h"), dealpoint=point)
    assert row == {
        "partner_code": point.partner_code,
        "status": "reported",
        "status_label": "Signalé",
        "last_activity_week": date(2026, 3, 9),
        "building": "Bâtiment A",
    }


@pytest.mark.parametrize(
    ("who", "change", "record"),
    [
        ("cross13_analyst", True, True),
        ("antenna13_analyst", True, True),
        ("ofast_analyst", True, True),
        ("police13_investigator", False, True),
        ("customs13_investigator", False, True),
        ("landlord_13h", False, False),
        ("prefecture_13", False, False),
        ("cross93_analyst", False, False),
    ],
)
def test_permissions_follow_the_policy(persona, who, change, record):
    point = dealpoint(actor=persona("cross13_analyst"))
    permissions = selectors.dealpoint_permissions(actor=persona(who), dealpoint=point)
    assert (permissions.change, permissions.record_operation) == (change, record)


def test_merged_point_takes_no_operation(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    services.dealpoint_merge(actor=analyst, source=point, target=dealpoint(actor=analyst))
    point.refresh_from_db()
    permissions = selectors.dealpoint_permissions(actor=analyst, dealpoint=point)
    assert permissions.change and not permissions.record_operation


def test_detail_sorts_links_and_shows_reports_only_to_those_who_see_them(persona):
    analyst = persona("cross13_analyst")
    attached = accepted_report(analyst=analyst)
    proposed = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    refused = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3953)
    point = dealpoint(actor=analyst, reports=[attached])
    for report in (proposed, refused):
        services.report_attach(
            actor=None, dealpoint=point, report=report, decision=LinkDecision.PROPOSED
        )
    services.report_detach(actor=analyst, dealpoint=point, report=refused)
    services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date.today()),
    )
    detail = selectors.dealpoint_detail(actor=analyst, dealpoint=point)
    assert [link.report for link in detail.attached] == [attached]
    assert [link.report for link in detail.proposed] == [proposed]
    assert detail.visible_report_ids == {attached.pk, proposed.pk}
    assert len(detail.operations) == 1
    assert [event.kind for event in detail.events][-1] == "created"
    # The analyst's read names both reports, as a listing of reports; its history names the
    # report the point was created with, as a listing of its own.
    (listing, history) = AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="reports.report"
    ).order_by("pk")
    assert listing.details["reports"] == sorted([attached.reference, proposed.reference])
    assert history.details["section"] == "history"
    assert history.details["reports"] == [attached.reference]
    # An investigator sees the point, never a report: no link, only the number attached.
    police = selectors.dealpoint_detail(actor=persona("police13_investigator"), dealpoint=point)
    assert police.visible_report_ids == frozenset()
    assert police.attached == [] and police.proposed == []
    assert police.hidden_attached == 1
    assert (
        AuditEvent.objects.filter(action=AuditAction.LIST, object_type="reports.report").count()
        == 2
    )


def test_access_dealpoint_audits_and_hides(persona):
    point = dealpoint(actor=persona("cross13_analyst"))
    with pytest.raises(Http404):
        selectors.access_dealpoint(actor=persona("cross93_analyst"), pk=point.pk)
    assert selectors.access_dealpoint(actor=persona("police13_investigator"), pk=point.pk) == point
    assert AuditEvent.objects.filter(action=AuditAction.VIEW, object_id=str(point.pk)).count() == 1


def test_by_reference_forgives_case_and_respects_the_policy(persona):
    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst)
    found = selectors.dealpoint_by_reference(actor=analyst, reference=f" {point.reference.lower()}")
    assert found == point
    assert (
        selectors.dealpoint_by_reference(
            actor=persona("cross93_analyst"), reference=point.reference
        )
        is None
    )
    police = persona("police13_investigator")
    assert selectors.dealpoint_by_reference(actor=police, reference=point.reference) == point
    assert (
        selectors.dealpoint_by_reference(
            actor=police, reference=point.reference, action=selectors.policy.Action.CHANGE
        )
        is None
    )
    report = accepted_report(analyst=analyst)
    assert selectors.report_by_reference(actor=analyst, reference=report.reference) == report
    assert selectors.report_by_reference(actor=police, reference=report.reference) is None


def test_choices_for_the_forms(persona, building):
    analyst = persona("cross13_analyst")
    assert list(selectors.dealpoint_building_choices(actor=analyst, view="test")) == [building]
    cross93 = persona("cross93_analyst")
    assert list(selectors.dealpoint_building_choices(actor=cross93, view="test")) == []
    in_13 = selectors.dealpoint_building_choices(
        actor=analyst, view="dealpoint_edit", departement_id=building.departement_id
    )
    assert list(in_13) == [building]
    # Each offer of buildings is a listing of protected records: audited with its filter and
    # count (the form shows each building's name, commune and landlord).
    listings = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="access.building")
    assert [(e.actor_id, e.details) for e in listings.order_by("pk")] == [
        (analyst.pk, {"view": "test", "filters": {"departement": None}, "count": 1}),
        (cross93.pk, {"view": "test", "filters": {"departement": None}, "count": 0}),
        (analyst.pk, {"view": "dealpoint_edit", "filters": {"departement": "13"}, "count": 1}),
    ]
    police = persona("police13_investigator")
    point = dealpoint(actor=analyst)
    assert list(selectors.operation_service_choices(actor=police, dealpoint=point)) == [
        police.memberships.get().organisation
    ]
    landlord = persona("landlord_13h")
    assert list(selectors.operation_service_choices(actor=landlord, dealpoint=point)) == []
    offered = selectors.operation_service_choices(actor=analyst, dealpoint=point)
    assert police.memberships.get().organisation in offered
    assert selectors.picker_departement_codes(actor=analyst) == ["13"]


def test_buildings_are_offered_nearest_first_with_their_distance(persona, building):
    """New-user audit: « Créer le point » offered every building of the département by
    commune, the nearest among them anywhere in the list."""
    from cartostup.access.services import building_create
    from cartostup.dealpoints.forms import BuildingChoiceField
    from cartostup.dealpoints.selectors import dealpoint_building_choices

    far = building_create(
        actor=persona("landlord_13h"),
        name="Bâtiment A",
        address="1 rue du Port, 13002 Marseille",
        latitude=43.3000,
        longitude=5.3700,
    )
    analyst = persona("cross13_analyst")
    # 100 m north of building B.
    near = (building.latitude + 100 / 111_320, building.longitude)
    offered = list(dealpoint_building_choices(actor=analyst, view="test", near=near))
    assert [b.pk for b in offered] == [building.pk, far.pk]
    field = BuildingChoiceField(queryset=offered[0].__class__.objects.none())
    assert field.label_from_instance(offered[0]).endswith(", à 100 m")
    # Kilometres away: said too far before the form refuses it.
    assert field.label_from_instance(offered[1]).endswith(" m : trop loin du point")
    # Without a position: by commune and name, no distance.
    plain = list(dealpoint_building_choices(actor=analyst, view="test"))
    assert not field.label_from_instance(plain[0]).endswith(" m")
    # Said as the refusal measures it (the list said 158 m, the refusal 157: review).
    from cartostup.dealpoints import services

    for metres in (149.6, 157.7, 158.4, 2_500.2):
        there = (building.latitude + metres / 111_200, building.longitude + metres / 81_000)
        (offered_here,) = [
            b
            for b in dealpoint_building_choices(actor=analyst, view="test", near=there)
            if b.pk == building.pk
        ]
        label = field.label_from_instance(offered_here)
        refused = services._building_reach_errors(building, *there).get("building_id", [""])[0]
        said = label.rsplit(", à ", 1)[1].split(" m")[0]
        if refused:
            assert refused.startswith(f"Ce bâtiment est à {said} m "), (label, refused)
            assert label.endswith("trop loin du point")
        else:
            assert not label.endswith("trop loin du point")
