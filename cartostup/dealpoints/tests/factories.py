"""Test helpers of the deal-points app: points and accepted reports made through the services."""

from __future__ import annotations

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
