"""Coarse dates shared by the apps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PERIOD_REVERSED = _("La fin de la période précède son début.")
# What a date filter reads (the pages' and the API's): the French way (a hand-made link, a
# date typed where the browser offers no calendar) and the ISO way (what a date input sends).
DATE_INPUT_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
DATE_INVALID = _("Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ).")


def week_start(moment: datetime | None) -> date | None:
    """The Monday of the week of `moment` (local time): the coarse timing a landlord sees of
    its reports and of the points on its buildings."""
    if moment is None:
        return None
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


def period_errors(start: date | None, end: date | None, *, end_name: str) -> dict[str, list[str]]:
    """`{end_name: [message]}` when a period ends before it starts, else `{}`: the one check of
    every period filter (the map layers' and the deal points' filter set), which would
    otherwise select nothing and read as "nothing happened"."""
    if start is not None and end is not None and start > end:
        return {end_name: [str(PERIOD_REVERSED)]}
    return {}
