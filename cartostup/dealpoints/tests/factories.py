"""Test helpers of the deal-points app: points and accepted reports made through the services."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cartostup.dealpoints import services
from cartostup.dealpoints.models import DealPoint
from cartostup.reports import services as report_services
from cartostup.reports.models import Report
from cartostup.reports.tests.factories import MARSEILLE_14, report_input, submit

__all__ = ["MARSEILLE_14", "accepted_report", "dealpoint", "dealpoint_input"]


def dealpoint_input(**changes: Any) -> services.DealPointInput:
    base = services.DealPointInput(
        latitude=MARSEILLE_14[0],
        longitude=MARSEILLE_14[1],
        precision="building",
        name="Four du bâtiment B",
        building_label="B",
        stairwell_label="2",
        channel="fixed",
        products=["cannabis"],
        opening_hours=["fri:evening", "sat:evening"],
        observed_roles=["lookouts", "sellers"],
        estimated_daily_turnover=5000,
        confidence="medium",
    )
    return replace(base, **changes)


def dealpoint(*, actor: Any = None, reports: Any = (), **changes: Any) -> DealPoint:
    """A deal point created through the service (by the platform when `actor` is None)."""
    return services.dealpoint_create(actor=actor, data=dealpoint_input(**changes), reports=reports)


def accepted_report(*, analyst: Any, **changes: Any) -> Report:
    """A public report accepted in triage by `analyst` (it then awaits matching)."""
    report = submit(**changes).report
    return report_services.report_accept(actor=analyst, report=report)


# `report_input` is re-exported for tests that build their own report data.
report_input = report_input


def scattered_points(
    *,
    actor: Any,
    rng: random.Random,
    groups: int,
    south_west: tuple[float, float],
    north_east: tuple[float, float],
    spread: float,
    per_group: int,
    statuses: Sequence[str],
) -> None:
    """A random world: `groups` groups of 1 to `per_group` points, each group around a place
    drawn in the box, each point within `spread` degrees of it, with a status drawn from
    `statuses` (set directly: the life cycle is not what such a world tests)."""
    for _group in range(groups):
        latitude = rng.uniform(south_west[0], north_east[0])
        longitude = rng.uniform(south_west[1], north_east[1])
        for _point in range(rng.randint(1, per_group)):
            point = dealpoint(
                actor=actor,
                latitude=latitude + rng.uniform(-spread, spread),
                longitude=longitude + rng.uniform(-spread, spread),
                building_id=None,
            )
            DealPoint.objects.filter(pk=point.pk).update(status=rng.choice(statuses))
