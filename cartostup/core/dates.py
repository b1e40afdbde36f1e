"""Coarse dates shared by the apps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone


def week_start(moment: datetime | None) -> date | None:
    """The Monday of the week of `moment` (local time): the coarse timing a landlord sees of
    its reports and of the points on its buildings."""
    if moment is None:
        return None
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())
