"""Demo deal points, built from the demo reports by the matching itself (issue 4).

The accepted demo reports (Marseille 13e/14e/15e/3e, Saint-Denis, Lyon; `reports.demo`) are
clustered into proposals; the CROSS analysts accept most of them (a few are left open), some
on the landlords' buildings; the points then go through their life cycle with recorded
operations (raids, « pilonnage », arrests): confirmed, under investigation, dismantled, one
back after a confirmed resurgence alert, one moved to its successor after a confirmed move
alert, one open alert of each kind, and one raid keyed in twice and cancelled. A few new
reports accepted near known points leave proposed links in the analysts' queue.

Seeded and idempotent (nothing is done when deal points exist). Everything goes through the
flows and services, as an analyst would do it.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from cartostup.access.models import Building, Organisation, User
from cartostup.access.services import demo_persona_ensure
from cartostup.core.personas import ORGANISATIONS
from cartostup.reports import services as report_services
from cartostup.reports.choices import Activity, Channel, Precision
from cartostup.reports.models import Report

from . import flows, matching, services
from .choices import (
    ACTIVE_STATUSES,
    AlertKind,
    AlertStatus,
    Confidence,
    DealPointStatus,
    EventKind,
    LinkDecision,
    OperationKind,
    OperationOutcome,
    ProposalStatus,
)
from .models import Alert, DealPoint, DealPointEvent, Operation, Proposal, ReportLink

DEMO_SEED = 20241126
ANALYSTS = {"13": "cross13_analyst", "93": "cross93_analyst", "69": "cross69_analyst"}
POLICE = {"13": "police13_investigator"}
# Where no investigator of the demo records its own operations, the CROSS records them in the
# name of the service that carried them out (`policy.operation_services`).
OPERATING_SERVICES = {"93": "police93", "69": "gendarmerie69"}
# Proposals left open per département for the queue.
LEFT_OPEN = 1
NAMES = (
    "le four du bâtiment {letter}",
    "le point du parking {letter}",
    "la cage {letter}",
    "le hall {letter}",
    "le square {letter}",
    "la coursive {letter}",
)
HOURS = ("fri:evening", "sat:evening", "sat:night", "sun:afternoon", "wed:evening")


@dataclass(frozen=True)
class DemoSummary:
    dealpoints: int
    proposals_open: int
    alerts_open: int
    links_proposed: int
    operations: int


def _offset(
    latitude: float, longitude: float, north_m: float, east_m: float
) -> tuple[float, float]:
    return (
        round(latitude + north_m / 111_320, 6),
        round(longitude + east_m / (111_320 * math.cos(math.radians(latitude))), 6),
    )


def _input(
    rng: random.Random,
    proposal: Proposal,
    reports: list[Report],
    index: int,
    building: Building | None,
) -> services.DealPointInput:
    products = sorted({p for r in reports for p in r.products if p != "other"}) or ["cannabis"]
    latitude, longitude = proposal.latitude, proposal.longitude
    if building is not None:
        latitude, longitude = building.latitude, building.longitude
    return services.DealPointInput(
        latitude=latitude,
        longitude=longitude,
        precision=Precision.BUILDING if building is not None else proposal.precision,
        name=rng.choice(NAMES).format(letter="ABCDEFGHJK"[index % 10]),
        address=building.address if building is not None else "",
        building_label=building.name[:60] if building is not None else "",
        building_id=building.pk if building is not None else None,
        channel="fixed",
        products=products,
        opening_hours=sorted(rng.sample(HOURS, rng.randint(1, 3))),
        observed_roles=rng.sample(["lookouts", "sellers", "manager"], rng.randint(1, 2)),
        estimated_daily_turnover=rng.choice([None, 2000, 5000, 8000, 15000]),
        confidence=Confidence.MEDIUM if len(reports) > 2 else Confidence.LOW,
    )


def _operation(
    actor: User,
    point: DealPoint,
    *,
    kind: str,
    days_ago: int,
    outcome: str = OperationOutcome.DISRUPTED,
    arrests: int = 0,
) -> Operation:
    # Never before the point was opened (the day after its first report).
    today = timezone.localdate()
    opened = timezone.localdate(_opened_at(point))
    key = OPERATING_SERVICES.get(point.departement.code)
    names = {spec.key: spec.name for spec in ORGANISATIONS}
    service = Organisation.objects.filter(name=names[key]).first() if key else None
    return services.operation_record(
        actor=actor,
        dealpoint=point,
        data=services.OperationInput(
            kind=kind,
            occurred_on=min(today, max(today - timedelta(days=days_ago), opened)),
            outcome=outcome,
            arrests=arrests,
            service_id=service.pk if service is not None else None,
        ),
    )


def _first_reports(points: list[DealPoint]) -> dict[int, datetime]:
    """The first report linked to each point, in one query."""
    return dict(
        ReportLink.objects.filter(dealpoint__in=points)
        .values("dealpoint")
        .annotate(first=Min("report__received_at"))
        .values_list("dealpoint", "first")
    )


def _opened_at(point: DealPoint, first: datetime | None = None) -> datetime:
    """When an analyst would have opened the point: the day after its first report (`first`,
    read when not given)."""
    if first is None:
        first = _first_reports([point]).get(point.pk)
    now = timezone.now()
    return min(now, first + timedelta(days=1)) if first is not None else now


def _date_history(points: list[DealPoint]) -> None:
    """The demo is seeded in one go, so every entry of a point's history would be dated today:
    date them as they would have happened. Opened the day after the first report; an
    operation, and the status it brought, on the operation's day; another status change
    halfway to the next dated entry; what the seeding itself did last (alerts, proposed
    links) stays today; the reports received after the opening attached later
    (`_attach_later`). Demo data only: the services always date what they record now."""
    now = timezone.now()
    operation_days = dict(Operation.objects.values_list("pk", "occurred_on"))
    firsts = _first_reports(points)
    events_of: dict[int, list[DealPointEvent]] = {}
    for event in DealPointEvent.objects.filter(dealpoint__in=points).order_by("pk"):
        events_of.setdefault(event.dealpoint_id, []).append(event)
    received = dict(
        Report.objects.filter(dealpoint_links__dealpoint__in=points).values_list(
            "reference", "received_at"
        )
    )
    for point in points:
        events = events_of.get(point.pk, [])
        anchors: list[datetime | None] = []
        for event in events:
            operation = event.details.get("operation") if event.details else None
            if event.details and event.details.get("cancelled"):
                # A cancellation happens when it is made (its `cancelled_at`), not on the
                # operation's day.
                operation = None
            if event.kind == EventKind.CREATED:
                anchors.append(_opened_at(point, firsts.get(point.pk)))
            elif operation in operation_days:
                day = operation_days[operation]
                anchors.append(timezone.make_aware(datetime.combine(day, time(18))))
            elif event.kind == EventKind.STATUS:
                anchors.append(None)  # between its neighbours
            else:
                anchors.append(event.occurred_at)
        dated: list[datetime] = []
        for index, anchor in enumerate(anchors):
            previous = dated[-1] if dated else anchors[0] or now
            if anchor is None:
                following = next((a for a in anchors[index + 1 :] if a is not None), now)
                anchor = previous + (max(following, previous) - previous) / 2
            dated.append(min(now, max(anchor, previous)))
        for event, when in zip(events, dated, strict=True):
            if event.occurred_at != when:
                DealPointEvent.objects.filter(pk=event.pk).update(occurred_at=when)
        changes = [when for event, when in zip(events, dated, strict=True) if event.to_status]
        DealPoint.objects.filter(pk=point.pk).update(
            created_at=dated[0] if dated else now,
            status_changed_at=changes[-1] if changes else (dated[0] if dated else now),
        )
        for event, when in zip(events, dated, strict=True):
            if event.kind == EventKind.CREATED:
                _attach_later(point, event, opened=when, received=received, now=now)


def _attach_later(
    point: DealPoint,
    created: DealPointEvent,
    *,
    opened: datetime,
    received: dict[str, datetime],
    now: datetime,
) -> None:
    """A point made from a proposal is created with all the proposal's reports, but dated
    the day after the first one: its « Création » entry would list reports received after
    it. As an analyst would have done, it is created with those received by then, and each
    later one is attached the day after it was received (its own entry, and its link's
    decision date)."""
    references = list((created.details or {}).get("reports") or [])
    later = sorted(
        (reference for reference in references if received.get(reference, opened) > opened),
        key=lambda reference: received[reference],
    )
    if not later:
        return
    DealPointEvent.objects.filter(pk=created.pk).update(
        details={**created.details, "reports": [r for r in references if r not in later]}
    )
    for reference in later:
        when = min(now, received[reference] + timedelta(days=1))
        DealPointEvent.objects.create(
            dealpoint=point,
            kind=EventKind.REPORT_ATTACHED,
            occurred_at=when,
            actor=created.actor,
            details={"report": reference, "decision": LinkDecision.CONFIRMED, "score": None},
        )
        ReportLink.objects.filter(dealpoint=point, report__reference=reference).update(
            decided_at=when
        )


def _new_report(
    latitude: float,
    longitude: float,
    products: list[str] | None = None,
    days: list[str] | None = None,
) -> Report:
    return report_services.report_submit_public(
        data=report_services.ReportInput(
            latitude=latitude,
            longitude=longitude,
            precision=Precision.BUILDING,
            activities=[Activity.SELLING, Activity.LOOKOUTS],
            products=products or ["cannabis"],
            days=days or [],
            times_of_day=["evening"],
        ),
        channel=Channel.WEB,
    ).report


def _accept_proposals(rng: random.Random, analysts: dict[str, User]) -> list[DealPoint]:
    """Accept the proposals (biggest first), leaving `LEFT_OPEN` per département; one proposal
    near each building of landlord_13h becomes a point on that building."""
    landlord = demo_persona_ensure(username="landlord_13h")
    buildings = list(
        Building.objects.filter(owner_organisation__memberships__user=landlord).order_by("pk")
    )
    proposals = sorted(
        Proposal.objects.filter(status=ProposalStatus.OPEN).select_related("departement"),
        key=lambda p: (-p.reports.count(), p.pk),
    )
    on_building: dict[int, Building] = {}
    for building in buildings:
        near = [
            (
                matching.haversine_m(
                    p.latitude, p.longitude, building.latitude, building.longitude
                ),
                p,
            )
            for p in proposals
            if p.departement.code == "13" and p.pk not in on_building
        ]
        near = [pair for pair in near if pair[0] < 1500]
        if near:
            on_building[min(near, key=lambda pair: pair[0])[1].pk] = building
    left: Counter[str] = Counter()
    points: list[DealPoint] = []
    for index, proposal in enumerate(reversed(proposals)):
        code = proposal.departement.code
        analyst = analysts.get(code)
        if analyst is None:
            continue
        if left[code] < LEFT_OPEN and proposal.pk not in on_building:
            left[code] += 1  # the smallest stay open for the queue
            continue
        reports = list(proposal.reports.all())
        data = _input(rng, proposal, reports, index, on_building.get(proposal.pk))
        try:
            points.append(flows.proposal_accept(actor=analyst, proposal=proposal, data=data))
        except ValidationError:
            continue
    return points


def _life_cycle(rng: random.Random, points: list[DealPoint], analysts: dict[str, User]) -> None:
    """Statuses across the life cycle, with the operations that led there."""
    police = demo_persona_ensure(username=POLICE["13"])
    for index, point in enumerate(points):
        analyst = analysts[point.departement.code]
        recorder = police if point.departement.code == "13" else analyst
        step = index % 6
        if step in (0, 1, 2, 3):
            services.dealpoint_change_status(
                actor=analyst, dealpoint=point, status=DealPointStatus.CONFIRMED
            )
        raid_days = rng.randint(5, 40)
        if step in (1, 2):
            _operation(recorder, point, kind=OperationKind.RAID, days_ago=raid_days)
        if step == 1 and index == 1:
            # A raid keyed in twice, then cancelled: it stays on the record, struck out.
            twice = _operation(recorder, point, kind=OperationKind.RAID, days_ago=raid_days)
            services.operation_cancel(
                actor=recorder,
                operation=twice,
                reason="Saisi deux fois : doublon du pilonnage du même jour.",
            )
        if step == 2:
            services.dealpoint_change_status(
                actor=analyst, dealpoint=point, status=DealPointStatus.INVESTIGATION
            )
            _operation(
                recorder,
                point,
                kind=OperationKind.ARRESTS,
                days_ago=rng.randint(1, min(10, raid_days - 1)),  # after the raid
                outcome=OperationOutcome.ARRESTS,
                arrests=rng.randint(1, 4),
            )
        if step == 3:
            _operation(recorder, point, kind=OperationKind.RAID, days_ago=rng.randint(20, 50))
            _operation(
                recorder,
                point,
                kind=OperationKind.RAID,
                days_ago=rng.randint(2, 15),
                outcome=OperationOutcome.DISMANTLED,
                arrests=rng.randint(0, 3),
            )


def _dismantle(analyst: User, recorder: User, point: DealPoint) -> DealPoint:
    if point.status == DealPointStatus.REPORTED:
        services.dealpoint_change_status(
            actor=analyst, dealpoint=point, status=DealPointStatus.CONFIRMED
        )
    _operation(
        recorder, point, kind=OperationKind.RAID, days_ago=3, outcome=OperationOutcome.DISMANTLED
    )
    point.refresh_from_db()
    return point


def _alerts_and_links(points: list[DealPoint], analysts: dict[str, User]) -> None:
    """A confirmed resurgence, a confirmed move, one open alert of each kind, and proposed
    links: by reports accepted and matched, and a new point created, as analysts do."""
    in_13 = [p for p in points if p.departement.code == "13" and p.building_id is None]
    analyst = analysts["13"]
    police = demo_persona_ensure(username=POLICE["13"])
    active = [p for p in in_13 if p.status in {DealPointStatus.CONFIRMED, DealPointStatus.REPORTED}]
    if len(active) < 6:
        return
    # Resurgence: two reports near two dismantled points; one confirmed, one left open.
    for number, point in enumerate(active[:2]):
        point = _dismantle(analyst, police, point)
        latitude, longitude = _offset(point.latitude, point.longitude, 35, 20)
        report = flows.report_accept_and_match(
            actor=analyst, report=_new_report(latitude, longitude), note="Démonstration"
        )
        alert = Alert.objects.filter(
            kind=AlertKind.RESURGENCE, report=report, status=AlertStatus.OPEN
        ).first()
        if alert is not None and number == 0:
            flows.alert_confirm(actor=analyst, alert=alert, note="Le point a repris.")
    # Moves: two dismantled points with a new point 350 m away; one confirmed, one left open.
    for number, point in enumerate(active[2:4]):
        point = _dismantle(analyst, police, point)
        latitude, longitude = _offset(point.latitude, point.longitude, -250, 250)
        try:
            successor = services.dealpoint_create(
                actor=analyst,
                data=services.DealPointInput(
                    latitude=latitude,
                    longitude=longitude,
                    precision=Precision.BUILDING,
                    name="le nouveau point du parking",
                    products=list(point.products),
                ),
            )
        except ValidationError:
            continue
        alerts = flows.dealpoint_successor_check(dealpoint=successor)
        alert = next((a for a in alerts if a.dealpoint_id == point.pk), None)
        if alert is not None and number == 0:
            flows.alert_confirm(actor=analyst, alert=alert, note="Les guetteurs ont suivi.")
    # Proposed links: reports neither sure nor unrelated (a little far from a point, seen
    # selling another product on another day), placed where the matching's own score says so.
    on_map = [
        (p.pk, p.reference, matching.PointFeatures.of(p))
        for p in DealPoint.objects.filter(
            departement__code="13", merged_into__isnull=True, status__in=ACTIVE_STATUSES
        )
    ]
    made = 0
    for point in active[4:]:
        if made == 2:
            break
        product = next(p for p in ("heroin", "crack", "cocaine") if p not in point.products)
        opening = {token.split(":", 1)[0] for token in point.opening_hours or ()}
        day = next((d for d in ("mon", "tue", "wed", "thu") if d not in opening), "mon")
        for distance in (90, 105, 120, 135):
            latitude, longitude = _offset(point.latitude, point.longitude, distance, 0)
            features = matching.ReportFeatures(
                latitude=latitude,
                longitude=longitude,
                precision=Precision.BUILDING,
                products=(product,),
                days=(day,),
                times_of_day=("evening",),
                activities=(Activity.SELLING, Activity.LOOKOUTS),
            )
            decision = flows.decide(matching.rank(features, on_map, now=timezone.now()))
            if decision.attach is None and decision.propose:
                flows.report_accept_and_match(
                    actor=analyst,
                    report=_new_report(latitude, longitude, products=[product], days=[day]),
                    note="Démonstration",
                )
                made += 1
                break


@transaction.atomic
def demo_dealpoints_ensure() -> DemoSummary:
    """Build the demo deal points from the demo reports, once."""
    if not DealPoint.objects.exists():
        rng = random.Random(DEMO_SEED)
        analysts = {code: demo_persona_ensure(username=name) for code, name in ANALYSTS.items()}
        flows.matching_run()
        points = _accept_proposals(rng, analysts)
        _life_cycle(rng, points, analysts)
        for point in points:
            point.refresh_from_db()
        _alerts_and_links(points, analysts)
        _date_history(list(DealPoint.objects.all()))

    return DemoSummary(
        dealpoints=DealPoint.objects.filter(merged_into__isnull=True).count(),
        proposals_open=Proposal.objects.filter(status=ProposalStatus.OPEN).count(),
        alerts_open=Alert.objects.filter(status=AlertStatus.OPEN).count(),
        links_proposed=ReportLink.objects.filter(decision="proposed").count(),
        operations=Operation.objects.count(),
    )
