"""Two writes on the same reports or points at the same instant, on PostgreSQL.

Two analysts decide proposed links of one report: `flows.link_confirm` and `flows.link_refuse`
lock the report, the point, then the link, and refuse a decision the analyst's page did not
show (`LinkDecided`): exactly one wins, the other is told what was decided, and the links, the
report, the points' history and the audit trail hold the winner's decision, once.

A write from a point's page (attach a report, merge) against a decision, the matching or
another such write: every one of them locks in the order of `dealpoints.locks` (reports, then
points), so they wait for each other instead of deadlocking, and the database holds both
writes, or the first and a clean refusal of the second.

Each decision runs in its own thread, hence on its own database connection, on data committed
beforehand (`transactional_db`); a barrier releases them together. SQLite takes no row locks
(`select_for_update` does nothing there; a writer locks the whole file), so these tests run on
PostgreSQL only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from cartostup.access.models import User
from cartostup.access.services import demo_persona_ensure
from cartostup.core.audit import audit_chain_problems
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import flows, matching, services
from cartostup.dealpoints.choices import ATTACHED_DECISIONS, EventKind, LinkDecision
from cartostup.dealpoints.models import DealPoint, DealPointEvent, ReportLink
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint
from cartostup.dealpoints.tests.test_matching import offset
from cartostup.reports.models import Report

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=(
            "PostgreSQL only: the concurrent writes meet on row locks (SELECT ... FOR UPDATE), "
            "which SQLite does not take; run with DATABASE_URL=postgres://..."
        ),
    ),
]

# How long the decision that locks first holds its locks before committing: the other one,
# released at the same instant, is then certainly waiting for them (the tests check it).
HOLD_SECONDS = 1.0
DECIDED = {"confirm": LinkDecision.CONFIRMED, "refuse": LinkDecision.REJECTED}
AUDITED = {"confirm": LinkDecision.CONFIRMED, "refuse": "rejected"}


@pytest.fixture(autouse=True)
def _reference_data_back(reference_data_back):
    """Set up before `transactional_db` (autouse fixtures come first), hence torn down after
    its flush, which empties every table: the reference rows come back (`conftest`)."""


@dataclass
class Outcome:
    link: ReportLink
    decision: str
    result: ReportLink | None = None
    error: BaseException | None = None


@dataclass
class Race:
    outcomes: list[Outcome]
    # Backends seen waiting for a lock while the first decision held its locks.
    waiting: int


def proposed_link(analyst: User, north_m: float = 0, east_m: float = 0) -> ReportLink:
    """A new point at that offset from Marseille 14e, and a report 85 m from it that the
    matching proposes for it (too unlike it to be attached)."""
    latitude, longitude = offset(north_m, east_m)
    point = dealpoint(actor=analyst, latitude=latitude, longitude=longitude)
    lat, lon = offset(north_m + 85, east_m)
    report = accepted_report(
        analyst=analyst,
        latitude=lat,
        longitude=lon,
        products=["heroin"],
        days=["mon"],
        place_label="",
    )
    flows.report_match(report=report)
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert link.decision == LinkDecision.PROPOSED
    return link


def _waiting_for_a_lock() -> int:
    """Backends of this test database waiting for a lock (asked on the main connection)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def race(analyst: User, moves: list[tuple[ReportLink, str]]) -> Race:
    """Run the decisions (`link`, "confirm" or "refuse") from threads released together. The
    first to take its locks keeps them `HOLD_SECONDS` before going on, while the main thread
    watches the other one wait."""
    outcomes = [Outcome(link, decision) for link, decision in moves]
    barrier = threading.Barrier(len(moves) + 1)
    locked = threading.Event()
    lock_for_decision = flows._link_for_decision

    def lock_and_hold(**kwargs: Any) -> ReportLink:
        found = lock_for_decision(**kwargs)  # the second one raises LinkDecided here
        locked.set()
        time.sleep(HOLD_SECONDS)
        return found

    def decide(outcome: Outcome) -> None:
        try:
            # Each reads the actor and the link first, as two pages showing the proposal.
            actor = User.objects.get(pk=analyst.pk)
            shown = ReportLink.objects.get(pk=outcome.link.pk)
            barrier.wait(timeout=30)
            if outcome.decision == "confirm":
                outcome.result = flows.link_confirm(actor=actor, link=shown)
            else:
                outcome.result = flows.link_refuse(actor=actor, link=shown)
        except BaseException as error:  # judged by the main thread
            outcome.error = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=decide, args=(outcome,)) for outcome in outcomes]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flows, "_link_for_decision", lock_and_hold)
        for thread in threads:
            thread.start()
        barrier.wait(timeout=30)
        assert locked.wait(timeout=30), "neither decision took the locks"
        waiting = 0
        deadline = time.monotonic() + HOLD_SECONDS / 2
        while not waiting and time.monotonic() < deadline:
            waiting = _waiting_for_a_lock()
            time.sleep(0.02)
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a decision never ended"
    return Race(outcomes=outcomes, waiting=waiting)


def one_winner(result: Race) -> tuple[Outcome, Outcome]:
    """The decision written and the one refused with `LinkDecided` (nothing else raised)."""
    winners = [o for o in result.outcomes if o.error is None]
    losers = [o for o in result.outcomes if isinstance(o.error, flows.LinkDecided)]
    assert len(winners) == 1 and len(losers) == 1, result.outcomes
    # The loser met the winner's locks and waited for them.
    assert result.waiting == 1
    return winners[0], losers[0]


def audit_mark() -> int:
    return AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)[0]


def link_decisions_audited(*, point: DealPoint, after: int) -> list[str]:
    """What the audit trail says was decided on the point's links since `after`."""
    audited = AuditEvent.objects.filter(
        sequence__gt=after,
        action=AuditAction.UPDATE,
        object_type="dealpoints.dealpoint",
        object_id=str(point.pk),
    ).order_by("sequence")
    return [event.details["link"] for event in audited]


def history(point: DealPoint) -> set[int]:
    return set(DealPointEvent.objects.filter(dealpoint=point).values_list("pk", flat=True))


def history_since(point: DealPoint, before: set[int]) -> list[str]:
    written = DealPointEvent.objects.filter(dealpoint=point).exclude(pk__in=before)
    return list(written.order_by("pk").values_list("kind", flat=True))


def assert_one_won(link: ReportLink, analyst: User, decisions: tuple[str, str]) -> str:
    """Race the two decisions on `link`; check that exactly one was written, once, and that
    the other was refused with `LinkDecided`. Returns the winning decision."""
    report, point = link.report, link.dealpoint
    mark, before = audit_mark(), history(point)

    winner, loser = one_winner(race(analyst, [(link, decision) for decision in decisions]))
    assert isinstance(loser.error, flows.LinkDecided)
    assert loser.error.code == "already_decided"
    assert loser.error.current == DECIDED[winner.decision]

    link.refresh_from_db()
    report.refresh_from_db()
    assert link.decision == DECIDED[winner.decision]
    assert link.decided_by_id == analyst.pk
    attached = ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS)
    if winner.decision == "confirm":
        assert list(attached) == [link] and not report.awaiting_matching
    else:
        # No point, no other proposal: the report waits for clustering again.
        assert not attached.exists() and report.awaiting_matching

    # The point's history and the audit trail: the winner's decision, once.
    confirmed = winner.decision == "confirm"
    assert history_since(point, before) == ([EventKind.REPORT_ATTACHED] if confirmed else [])
    assert link_decisions_audited(point=point, after=mark) == [AUDITED[winner.decision]]
    assert list(audit_chain_problems()) == []
    return winner.decision


def test_confirm_and_refuse_at_the_same_instant_one_wins(transactional_db):
    analyst = demo_persona_ensure(username="cross13_analyst")
    # Three links, three races: either may win, whichever locks the point first.
    for north_m, east_m in ((0, 0), (0, 2500), (-2500, 0)):
        link = proposed_link(analyst, north_m, east_m)
        assert_one_won(link, analyst, ("confirm", "refuse"))


@pytest.mark.parametrize("decision", ["confirm", "refuse"])
def test_the_same_decision_twice_at_the_same_instant_is_written_once(transactional_db, decision):
    analyst = demo_persona_ensure(username="cross13_analyst")
    link = proposed_link(analyst)
    assert assert_one_won(link, analyst, (decision, decision)) == decision


def test_the_two_proposals_of_a_report_confirmed_at_the_same_instant(transactional_db):
    """A report proposed for two points, each confirmed by an analyst at the same instant.
    Each confirmation rejects the report's other link: locking the point first, each held its
    own link and waited for the other's, and PostgreSQL broke the deadlock with an error (a
    500 for one analyst). Now the second waits for the report and is told the first's."""
    analyst = demo_persona_ensure(username="cross13_analyst")
    points = [
        dealpoint(actor=analyst, latitude=latitude, longitude=longitude)
        for latitude, longitude in (offset(0, -50), offset(0, 50))
    ]
    # Halfway between two points alike: neither is clearly ahead, both are proposed.
    latitude, longitude = offset(50, 0)
    report = accepted_report(
        analyst=analyst, latitude=latitude, longitude=longitude, place_label=""
    )
    flows.report_match(report=report)
    links = [ReportLink.objects.get(report=report, dealpoint=point) for point in points]
    assert [link.decision for link in links] == [LinkDecision.PROPOSED] * 2
    mark, before = audit_mark(), [history(point) for point in points]

    winner, loser = one_winner(race(analyst, [(link, "confirm") for link in links]))
    # The loser's proposal was withdrawn by the winner's confirmation, and it is told so.
    assert isinstance(loser.error, flows.LinkDecided)
    assert loser.error.current == LinkDecision.WITHDRAWN

    for link in links:
        link.refresh_from_db()
    won, lost = links if winner.link.pk == links[0].pk else links[::-1]
    assert (won.decision, lost.decision) == (LinkDecision.CONFIRMED, LinkDecision.WITHDRAWN)
    assert won.decided_by_id == lost.decided_by_id == analyst.pk
    report.refresh_from_db()
    assert not report.awaiting_matching
    assert list(ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS)) == [won]
    # History and audit: the attachment, once, on the winner's point; nothing on the other (a
    # proposal set aside is no change of its history).
    won_index = points.index(won.dealpoint)
    lost_index = 1 - won_index
    assert history_since(points[won_index], before[won_index]) == [EventKind.REPORT_ATTACHED]
    assert history_since(points[lost_index], before[lost_index]) == []
    assert link_decisions_audited(point=points[won_index], after=mark) == ["confirmed"]
    assert link_decisions_audited(point=points[lost_index], after=mark) == []
    assert list(audit_chain_problems()) == []


# --- a write from a point's page against a decision, the matching or another write ---------------

# Every later lock is kept this long before going on, so that a write waiting for it is seen
# waiting.
PAUSE_SECONDS = 0.2


@dataclass
class Run:
    result: Any = None
    error: BaseException | None = None


@dataclass
class Together:
    runs: dict[str, Run]
    # Most backends seen waiting for a lock at once.
    waiting: int
    errors: dict[str, BaseException] = field(init=False)

    def __post_init__(self) -> None:
        self.errors = {name: run.error for name, run in self.runs.items() if run.error}


def together(**operations: Callable[[], Any]) -> Together:
    """Run the operations from threads released together, as requests arriving at the same
    instant. Each, once it holds its first row lock, waits (at most `HOLD_SECONDS`) until the
    others hold theirs: whatever order they lock in, they are interleaved there, not one after
    the other. Then every lock is kept `PAUSE_SECONDS`, while the main thread watches for
    backends waiting for a lock. A deadlock is PostgreSQL's error in one of the runs."""
    runs = {name: Run() for name in operations}
    holding = {name: threading.Event() for name in operations}
    start = threading.Barrier(len(operations) + 1)

    def run(name: str, operation: Callable[[], Any]) -> None:
        first = True

        def hold_locks(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            nonlocal first
            result = execute(sql, params, many, context)
            if " FOR UPDATE" in sql or " FOR NO KEY UPDATE" in sql:
                if first:
                    first = False
                    holding[name].set()
                    deadline = time.monotonic() + HOLD_SECONDS
                    for event in holding.values():
                        event.wait(timeout=max(0.0, deadline - time.monotonic()))
                else:
                    time.sleep(PAUSE_SECONDS)
            return result

        try:
            start.wait(timeout=30)
            with connection.execute_wrapper(hold_locks):  # this thread's own connection
                runs[name].result = operation()
        except BaseException as error:  # judged by the main thread
            runs[name].error = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(name, operation))
        for name, operation in operations.items()
    ]
    for thread in threads:
        thread.start()
    start.wait(timeout=30)
    waiting, deadline = 0, time.monotonic() + 60
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        waiting = max(waiting, _waiting_for_a_lock())
        time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive(), "a write never ended"
    return Together(runs=runs, waiting=waiting)


def attach_from_page(*, analyst: User, point: DealPoint, report: Report) -> Callable[[], Any]:
    """What the point page's « Rattacher » form does (`views.dealpoint_attach`), on the objects
    read afresh as the request would."""

    def attach() -> ReportLink:
        return services.report_attach(
            actor=User.objects.get(pk=analyst.pk),
            dealpoint=DealPoint.objects.get(pk=point.pk),
            report=Report.objects.get(pk=report.pk),
            decision=LinkDecision.CONFIRMED,
        )

    return attach


def attached_to(report: Report) -> list[DealPoint]:
    links = ReportLink.objects.filter(report=report, decision__in=ATTACHED_DECISIONS)
    return [link.dealpoint for link in links.select_related("dealpoint")]


def events_since(point: DealPoint, before: set[int]) -> list[tuple[str, dict[str, Any]]]:
    written = DealPointEvent.objects.filter(dealpoint=point).exclude(pk__in=before)
    return [(event.kind, event.details) for event in written.order_by("pk")]


def a_waiting_report(analyst: User, north_m: float = 0, east_m: float = 0) -> Report:
    latitude, longitude = offset(north_m, east_m)
    report = accepted_report(
        analyst=analyst, latitude=latitude, longitude=longitude, place_label=""
    )
    assert report.awaiting_matching
    return report


def test_attach_from_the_point_page_while_the_matching_takes_the_report(transactional_db):
    """The matching (`report_match`, as `match_reports` runs it) locks the report, then the
    point it attaches it to; the point page's « Rattacher » locked the point, then wrote the
    report's link (which waits for the report): each waited for the other's, and PostgreSQL
    broke the deadlock with an error. Both now lock the report first: the second waits, and
    the report ends attached by the analyst."""
    analyst = demo_persona_ensure(username="cross13_analyst")
    point = dealpoint(actor=analyst)
    report = a_waiting_report(analyst, north_m=10)
    # The matching takes it for this point (attached, or proposed: either locks the point).
    decision = flows.decide(matching.find_candidates(report=report))
    assert point.pk in {c.dealpoint_id for c in (decision.attach, *decision.propose) if c}
    mark, before = audit_mark(), history(point)

    result = together(
        matching=lambda: flows.report_match(report=Report.objects.get(pk=report.pk)),
        attach=attach_from_page(analyst=analyst, point=point, report=report),
    )

    assert result.errors == {}
    assert result.waiting >= 1  # one waited for the other's locks
    report.refresh_from_db()
    assert attached_to(report) == [point] and not report.awaiting_matching
    link = ReportLink.objects.get(report=report, dealpoint=point)
    assert (link.decision, link.decided_by_id) == (LinkDecision.CONFIRMED, analyst.pk)
    # The analyst's attachment is the last word in the point's history: alone if it came
    # first (the matching then found the report attached), or after the matching's.
    written = events_since(point, before)
    assert {kind for kind, _details in written} == {EventKind.REPORT_ATTACHED}
    attached = [details for _kind, details in written]
    assert attached[-1]["decision"] == LinkDecision.CONFIRMED
    assert [details["decision"] for details in attached[:-1]] in ([], [LinkDecision.AUTOMATIC])
    assert link_decisions_audited(point=point, after=mark)[-1] == LinkDecision.CONFIRMED
    assert list(audit_chain_problems()) == []


@pytest.mark.parametrize("decision", ["confirm", "refuse"])
def test_attach_from_the_point_page_while_a_decision_on_the_report(transactional_db, decision):
    """A report proposed for point A: an analyst decides the proposal (matching queue) while
    another attaches the report to point B from B's page. The decision locked the report, then
    A, then the link to A; the attachment locked B, withdrew the link to A and, inserting its
    link to B, waited for the report, while the decision waited for the link to A: a deadlock.
    Now the attachment locks the report first: B gets the report either way, and a decision
    that comes second is told the link was decided (`LinkDecided`)."""
    analyst = demo_persona_ensure(username="cross13_analyst")
    proposed = proposed_link(analyst)
    report, point_a = proposed.report, proposed.dealpoint
    point_b = dealpoint(actor=analyst, latitude=offset(300)[0], longitude=offset(300)[1])
    before_a, before_b = history(point_a), history(point_b)

    def decide() -> ReportLink:
        actor, shown = User.objects.get(pk=analyst.pk), ReportLink.objects.get(pk=proposed.pk)
        if decision == "confirm":
            return flows.link_confirm(actor=actor, link=shown)
        return flows.link_refuse(actor=actor, link=shown)

    result = together(
        decision=decide, attach=attach_from_page(analyst=analyst, point=point_b, report=report)
    )

    assert result.runs["attach"].error is None, result.errors
    assert result.waiting >= 1
    decided_first = result.runs["decision"].error is None
    if not decided_first:
        # The attachment came first and withdrew the proposal: the decision is told so.
        error = result.runs["decision"].error
        assert isinstance(error, flows.LinkDecided), result.errors
        assert error.current == LinkDecision.WITHDRAWN
    report.refresh_from_db()
    proposed.refresh_from_db()
    assert attached_to(report) == [point_b] and not report.awaiting_matching
    # Refused, or confirmed then left for B; withdrawn when B's attachment came first.
    assert proposed.decision == (LinkDecision.REJECTED if decided_first else LinkDecision.WITHDRAWN)
    moved = decided_first and decision == "confirm"
    # Point A's history: the confirmation, then the report leaving it for B; or nothing.
    history_a = events_since(point_a, before_a)
    assert [kind for kind, _details in history_a] == (
        [EventKind.REPORT_ATTACHED, EventKind.REPORT_DETACHED] if moved else []
    )
    if moved:
        assert history_a[1][1] == {
            "report": report.reference,
            "was": LinkDecision.CONFIRMED,
            "moved_to": point_b.reference,
        }
    assert result.runs["attach"].result.moved_from == ((point_a.reference,) if moved else ())
    assert [kind for kind, _details in events_since(point_b, before_b)] == [
        EventKind.REPORT_ATTACHED
    ]
    assert list(audit_chain_problems()) == []


def test_two_reports_moving_between_two_points_in_opposite_directions(transactional_db):
    """R1 on point 1 is attached to point 2 from 2's page while R2 on point 2 is attached to
    point 1 from 1's page. Each attachment locked its point, then the point its report left:
    each held what the other wanted. Now each locks its report, then both points in pk order:
    the second waits, and both reports move."""
    analyst = demo_persona_ensure(username="cross13_analyst")
    reports = [a_waiting_report(analyst, north_m=north) for north in (0, 2500)]
    points = [
        dealpoint(
            actor=analyst, reports=[report], latitude=report.latitude, longitude=report.longitude
        )
        for report in reports
    ]
    before = [history(point) for point in points]

    result = together(
        one_to_two=attach_from_page(analyst=analyst, point=points[1], report=reports[0]),
        two_to_one=attach_from_page(analyst=analyst, point=points[0], report=reports[1]),
    )

    assert result.errors == {}
    assert result.waiting >= 1
    for name, report, now, was in (
        ("one_to_two", reports[0], points[1], points[0]),
        ("two_to_one", reports[1], points[0], points[1]),
    ):
        assert attached_to(report) == [now]
        assert result.runs[name].result.moved_from == (was.reference,)
    for index, point in enumerate(points):
        left, came = reports[index], reports[1 - index]
        assert sorted(events_since(point, before[index]), key=lambda event: event[0]) == [
            (
                EventKind.REPORT_ATTACHED,
                {
                    "report": came.reference,
                    "decision": "confirmed",
                    "score": None,
                    "moved_from": [points[1 - index].reference],
                },
            ),
            (
                EventKind.REPORT_DETACHED,
                {
                    "report": left.reference,
                    "was": "confirmed",
                    "moved_to": points[1 - index].reference,
                },
            ),
        ]
    assert list(audit_chain_problems()) == []


def test_two_points_merged_into_each_other_at_the_same_instant(transactional_db):
    """Point 1 merged into point 2 from 1's page while 2 is merged into 1 from 2's page. Each
    merge locked its source, then its target: a deadlock. Now both lock the two points in pk
    order: the second finds its target merged and is refused; every report ends on the point
    that stays."""
    analyst = demo_persona_ensure(username="cross13_analyst")
    reports = [a_waiting_report(analyst, north_m=north) for north in (0, 60)]
    points = [
        dealpoint(
            actor=analyst, reports=[report], latitude=report.latitude, longitude=report.longitude
        )
        for report in reports
    ]

    def merge(source: DealPoint, target: DealPoint) -> Callable[[], DealPoint]:
        return lambda: services.dealpoint_merge(
            actor=User.objects.get(pk=analyst.pk),
            source=DealPoint.objects.get(pk=source.pk),
            target=DealPoint.objects.get(pk=target.pk),
        )

    result = together(
        one_into_two=merge(points[0], points[1]), two_into_one=merge(points[1], points[0])
    )

    assert len(result.errors) == 1, result.errors
    (refused,) = result.errors.values()
    assert isinstance(refused, ValidationError), result.errors
    assert "les deux fiches n'en font déjà plus qu'une, rien n'a été fusionné" in str(refused)
    assert result.waiting >= 1
    stays = result.runs["one_into_two"].result or result.runs["two_into_one"].result
    for point in points:
        point.refresh_from_db()
    gone = points[0] if stays.pk == points[1].pk else points[1]
    assert gone.merged_into_id == stays.pk and stays.merged_into_id is None
    for report in reports:
        assert attached_to(report) == [stays]
    assert DealPointEvent.objects.filter(kind=EventKind.MERGED).count() == 2
    assert list(audit_chain_problems()) == []


def test_an_operation_cancelled_twice_at_the_same_instant_is_cancelled_once(transactional_db):
    """Two services cancel the same mistaken raid (which dismantled the point) at once: both
    lock the point first; the second reads the operation again under that lock, finds it
    cancelled and is refused, so the status goes back once and the history has one entry."""
    from datetime import date

    from cartostup.dealpoints.choices import DealPointStatus
    from cartostup.dealpoints.models import Operation

    analyst = demo_persona_ensure(username="cross13_analyst")
    police = demo_persona_ensure(username="police13_investigator")
    point = dealpoint(actor=analyst)
    operation = services.operation_record(
        actor=police,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date.today(), outcome="dismantled"),
    )

    def cancel(actor: User) -> Callable[[], Operation]:
        return lambda: services.operation_cancel(
            actor=User.objects.get(pk=actor.pk),
            operation=Operation.objects.get(pk=operation.pk),
            reason="saisie sur le mauvais point",
        )

    result = together(analyst=cancel(analyst), police=cancel(police))

    assert len(result.errors) == 1, result.errors
    (refused,) = result.errors.values()
    assert isinstance(refused, ValidationError) and "déjà été annulée" in str(refused)
    assert result.waiting >= 1
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    assert point.events.filter(kind=EventKind.OPERATION, details__cancelled=True).count() == 1
    assert point.events.filter(kind=EventKind.STATUS).count() == 2
    assert (
        AuditEvent.objects.filter(
            object_type="dealpoints.operation", details__cancelled=True
        ).count()
        == 1
    )
    assert list(audit_chain_problems()) == []


def test_an_attachment_and_a_resurgence_of_one_proposal_do_not_deadlock(transactional_db):
    """Review of 2026-12-05: an open proposal holds two reports; one is attached to a point
    while the other's resurgence is confirmed. The attachment locked the proposal (to take its
    report out) before the audit head, the confirmation after writing an audit event: each
    waited for what the other held, and PostgreSQL aborted one. The proposals that hold the
    reports are now locked with them, before any audit event (`locks`). The attachment is made
    to hold the proposal until the confirmation would have taken the audit head."""
    from cartostup.dealpoints.choices import ProposalStatus
    from cartostup.dealpoints.models import Alert
    from cartostup.dealpoints.tests.test_flows import dismantled_point, report_near

    analyst = demo_persona_ensure(username="cross13_analyst")
    dismantled_point(analyst, 0)
    lone = report_near(analyst, 40)
    (alert,) = flows.report_match(report=lone).alerts
    mate = report_near(analyst, 48)
    flows.report_match(report=mate)
    (proposal,) = [
        p
        for p in flows.reports_cluster()
        if set(p.reports.values_list("pk", flat=True)) == {lone.pk, mate.pk}
    ]
    elsewhere = dealpoint(actor=analyst, latitude=offset(3000)[0], longitude=offset(3000)[1])
    proposal_held, head_taken = threading.Event(), threading.Event()
    errors: dict[str, BaseException] = {}

    def attaching(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "dealpoints_proposal" in sql and "FOR NO KEY UPDATE" in sql:
            proposal_held.set()
            head_taken.wait(3)
        return result

    def confirming(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "auditchainhead" in sql.lower() and "FOR UPDATE" in sql:
            head_taken.set()
            proposal_held.wait(3)
        return result

    def run(name: str, wrapper: Callable[..., Any], work: Callable[[], Any]) -> None:
        try:
            with connection.execute_wrapper(wrapper):
                work()
        except BaseException as error:  # reported by the test
            errors[name] = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(
            target=run,
            args=(
                "attach",
                attaching,
                lambda: services.report_attach(
                    actor=User.objects.get(pk=analyst.pk),
                    dealpoint=DealPoint.objects.get(pk=elsewhere.pk),
                    report=Report.objects.get(pk=mate.pk),
                ),
            ),
        ),
        threading.Thread(
            target=run,
            args=(
                "confirm",
                confirming,
                lambda: flows.alert_confirm(
                    actor=User.objects.get(pk=analyst.pk), alert=Alert.objects.get(pk=alert.pk)
                ),
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == {}
    proposal.refresh_from_db()
    # Both reports left it: the proposal, emptied, is closed.
    assert proposal.status == ProposalStatus.DISMISSED and not proposal.reports.exists()
    assert ReportLink.objects.get(report=mate, decision=LinkDecision.CONFIRMED).dealpoint_id == (
        elsewhere.pk
    )
    assert list(audit_chain_problems()) == []


def test_a_merge_and_the_unmerge_of_a_point_merged_into_its_source_do_not_deadlock(
    transactional_db,
):
    """X was merged into S. S is merged into T while X's merge is undone, at the same instant.
    The merge writes X's `merged_root` (the point its record lives in): it locked X only when
    it wrote it, after S and T, while the unmerge had locked X, then waited for S (review:
    PostgreSQL's deadlock, one of the two answered 500). Both now lock X with the others, in pk
    order: one waits for the other, and X ends where the one that came last leaves it."""
    analyst = demo_persona_ensure(username="cross13_analyst")
    x, s, t = (
        dealpoint(actor=analyst, latitude=lat, longitude=lon)
        for lat, lon in (offset(0), offset(40), offset(80))
    )
    assert x.pk < s.pk < t.pk
    services.dealpoint_merge(actor=analyst, source=x, target=s)

    def unmerge() -> DealPoint:
        # A moment later: the merge holds S and T first, the unmerge then takes X and waits
        # for S (the order that deadlocked).
        time.sleep(0.3)
        return services.dealpoint_unmerge(
            actor=User.objects.get(pk=analyst.pk), dealpoint=DealPoint.objects.get(pk=x.pk)
        )

    result = together(
        merge=lambda: services.dealpoint_merge(
            actor=User.objects.get(pk=analyst.pk),
            source=DealPoint.objects.get(pk=s.pk),
            target=DealPoint.objects.get(pk=t.pk),
        ),
        unmerge=unmerge,
    )

    assert result.waiting >= 1
    for point in (x, s, t):
        point.refresh_from_db()
    assert s.merged_into_id == t.pk and s.merged_root_id == t.pk
    if result.errors:
        # The merge first: X's merge is now under T, to be undone from S's record first.
        assert set(result.errors) == {"unmerge"}, result.errors
        assert isinstance(result.errors["unmerge"], ValidationError)
        assert (x.merged_into_id, x.merged_root_id) == (s.pk, t.pk)
    else:
        # The unmerge first: X stands on its own, S's merge took nothing of it.
        assert (x.merged_into_id, x.merged_root_id) == (None, None)
    assert list(audit_chain_problems()) == []
