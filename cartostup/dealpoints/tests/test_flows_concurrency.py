"""Two analysts decide proposed links of one report at the same instant, on PostgreSQL.
`flows.link_confirm` and `flows.link_refuse` lock the report, the point, then the link, and
refuse a decision the analyst's page did not show (`LinkDecided`): exactly one wins, the other
is told what was decided, and the links, the report, the points' history and the audit trail
hold the winner's decision, once.

Each decision runs in its own thread, hence on its own database connection, on data committed
beforehand (`transactional_db`); a barrier releases them together. SQLite takes no row locks
(`select_for_update` does nothing there; a writer locks the whole file), so these tests run on
PostgreSQL only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, connections

from cartostup.access.models import User
from cartostup.access.services import demo_persona_ensure
from cartostup.core.audit import audit_chain_problems
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import flows
from cartostup.dealpoints.choices import ATTACHED_DECISIONS, EventKind, LinkDecision
from cartostup.dealpoints.models import DealPoint, DealPointEvent, ReportLink
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint
from cartostup.dealpoints.tests.test_matching import offset
from conftest import reference_data_load

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason=(
            "PostgreSQL only: the two decisions meet on row locks (SELECT ... FOR UPDATE), "
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
def _reference_data_back(django_db_blocker):
    """Set up before `transactional_db` (autouse fixtures come first), hence torn down after
    its flush, which empties every table: the territories and organisations that the next
    tests of this process expect are loaded again."""
    yield
    with django_db_blocker.unblock():
        reference_data_load()


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
    # The loser's link was rejected by the winner's confirmation, and it is told so.
    assert isinstance(loser.error, flows.LinkDecided)
    assert loser.error.current == LinkDecision.REJECTED

    for link in links:
        link.refresh_from_db()
    won, lost = links if winner.link.pk == links[0].pk else links[::-1]
    assert (won.decision, lost.decision) == (LinkDecision.CONFIRMED, LinkDecision.REJECTED)
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
