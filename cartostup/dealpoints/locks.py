"""The one order in which the deal-point services and flows lock rows.

A transaction that writes on reports' links or on deal points first locks, through
`lock_reports_and_points`:

1. the reports, by ascending pk;
2. the deal points, by ascending pk: those asked for, and those the reports are attached to
   (an attachment moves a report: the point it leaves is written too);
3. the open proposals of new points that hold those reports, by ascending pk (an attachment
   takes its report out of them: `services._open_proposals_left`);

then, if it needs them, the rows that hang on those (`lock`, in pk order): links, proposals,
alerts, a département's reference sequence; last, the audit chain's head, which every audited
write locks until its commit (`core.audit`). Two transactions that lock in this order may wait
for each other, never deadlock: the one waiting holds nothing the other one wants.

What makes the order hold:

- everything is locked before the transaction's first audit event: once it holds the audit
  head, a transaction waiting for a row would deadlock with one that holds that row and waits
  for the head. A service calling another (a flow calling `services.report_attach`...) locks
  beforehand all the callee will lock, so that the callee's own call finds the rows held and
  takes nothing new. Only a proposal or an alert may be locked later, by a transaction that
  holds one of its reports or points: whoever locks it before an audit event (a decision on
  it) first locks all of those, so the two never hold it and wait at once;
- a report's links are written only with the report locked, a point's row only with the
  point locked: with a report locked, the points it is attached to cannot change.

Rows are locked FOR NO KEY UPDATE: it excludes other lockers and writers as FOR UPDATE does, but
a row inserted that refers to a locked one (a history entry, a link, an alert) does not wait for
it, so inserts take no part in the order. SQLite takes no row locks (a writer locks the whole
database): the order matters on PostgreSQL, where `tests/test_flows_concurrency.py` checks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db import models

from cartostup.reports.models import Report

from .choices import ATTACHED_DECISIONS, ProposalStatus
from .models import DealPoint, Proposal, ReportLink

Row = TypeVar("Row", bound=models.Model)


@dataclass(frozen=True)
class Locked:
    """The rows locked, by pk (a row that does not exist is missing)."""

    reports: dict[int, Report]
    points: dict[int, DealPoint]
    proposals: dict[int, Proposal]


def lock(queryset: models.QuerySet[Row]) -> list[Row]:
    """The rows of `queryset` locked, in pk order (links, proposals, alerts, sequences: after
    the reports and the points they hang on)."""
    return list(queryset.select_for_update(no_key=True, of=("self",)).order_by("pk"))


def lock_reports_and_points(
    *, reports: Iterable[int | None] = (), points: Iterable[int | None] = ()
) -> Locked:
    """Lock the reports (`pk`s), then the points given and the points those reports are
    attached to, then the open proposals that hold those reports, each in pk order (see the
    module's docstring)."""
    report_ids = {pk for pk in reports if pk is not None}
    point_ids = {pk for pk in points if pk is not None}
    locked_reports = (
        {report.pk: report for report in lock(Report.objects.filter(pk__in=report_ids))}
        if report_ids
        else {}
    )
    if locked_reports:
        point_ids.update(
            ReportLink.objects.filter(
                report_id__in=list(locked_reports), decision__in=ATTACHED_DECISIONS
            ).values_list("dealpoint_id", flat=True)
        )
    locked_points = (
        {point.pk: point for point in lock(DealPoint.objects.filter(pk__in=point_ids))}
        if point_ids
        else {}
    )
    locked_proposals = (
        {
            proposal.pk: proposal
            for proposal in lock(
                Proposal.objects.filter(
                    status=ProposalStatus.OPEN,
                    pk__in=Proposal.reports.through.objects.filter(
                        report_id__in=list(locked_reports)
                    ).values("proposal_id"),
                )
            )
        }
        if locked_reports
        else {}
    )
    return Locked(reports=locked_reports, points=locked_points, proposals=locked_proposals)
