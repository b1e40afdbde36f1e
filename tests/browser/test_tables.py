"""Tables that fit their screen (visual audit): the list of deal points was 1,670 px wide in a
1,200 px page, its sort key (« Dernière activité ») and counts (« Signalements ») off-screen;
on a phone the matching queue's tables were 716 to 1,192 px wide in 358, each row's decision
(« Rattacher », « Créer le point », « Confirmer … ») 600 to 1,000 px to the right. Measured
on the boxes the browser draws."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# One item of each section of the queue, away from the demo's points (Aix-en-Provence): a
# report proposed for a point, a report near a dismantled point, a report alone.
QUEUE_ITEMS = """
from datetime import timedelta
from django.utils import timezone
from cartostup.access.demo import demo_persona_ensure
from cartostup.dealpoints import flows, services
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint
from cartostup.dealpoints.tests.test_matching import offset
AIX = (43.5297, 5.4474)
analyst = demo_persona_ensure(username="cross13_analyst")
def at(north):
    latitude, longitude = offset(north, origin=AIX)
    return {"latitude": latitude, "longitude": longitude}
dealpoint(actor=analyst, name="Four des tableaux", **at(0))
flows.report_match(report=accepted_report(
    analyst=analyst, products=["heroin"], days=["mon"], place_label="", **at(90)))
gone = dealpoint(actor=analyst, name="Four démantelé des tableaux", **at(5000))
services.dealpoint_change_status(actor=analyst, dealpoint=gone, status="dismantled")
DealPoint.objects.filter(pk=gone.pk).update(
    status_changed_at=timezone.now() - timedelta(days=30))
flows.report_match(report=accepted_report(analyst=analyst, **at(5040)))
flows.report_match(report=accepted_report(analyst=analyst, **at(10000)))
flows.reports_cluster()
"""


def _box(locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return box


def _sideways(page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_the_list_of_deal_points_fits_a_desktop_page(page, served_app):
    log_in(page, served_app, "cross13_analyst")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{served_app.url}/points-de-deal/")
    table = page.locator("#dealpoint-table")
    frame = _box(page.locator(".fr-table__container", has=table))
    drawn = _box(table)
    assert drawn["width"] <= frame["width"] + 1, (drawn, frame)
    # The sort key and the counts, and their values in the first row, are on the screen.
    right = min(1280, frame["x"] + frame["width"]) + 1
    for name in ("Dernière activité", "Signalements"):
        header = _box(table.get_by_role("columnheader", name=name, exact=True))
        assert header["x"] >= frame["x"] and header["x"] + header["width"] <= right, name
    first = table.locator("tbody tr").first
    # A date: of its last activity, or of its creation for a point never seen (« créé le »).
    assert re.fullmatch(
        r"(créé le )?\d\d/\d\d/\d{4}", first.locator("td").nth(3).inner_text().strip()
    )
    for cell in first.locator("td").all():
        box = _box(cell)
        assert box["x"] + box["width"] <= right
    assert page.evaluate(
        "t => t.closest('.fr-table__container').scrollWidth"
        " <= t.closest('.fr-table__container').clientWidth + 1",
        table.element_handle(),
    )
    assert page.console_errors == []


def test_the_matching_queue_is_decided_on_a_phone_without_scrolling_sideways(page, served_app):
    served_app.manage("shell", "-c", QUEUE_ITEMS)
    log_in(page, served_app, "cross13_analyst")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{served_app.url}/rapprochements/")
    page.locator("#links-table").wait_for()
    assert _sideways(page) == 0
    for table, role, decision in (
        ("links-table", "button", r"^Rattacher "),
        ("proposals-table", "link", r"^Créer le point proposé"),
        ("alerts-table", "button", r"^Confirmer (la résurgence|le déplacement) de "),
    ):
        rows = page.locator(f"#{table} tbody tr")
        assert rows.count() >= 1, table
        frame = _box(page.locator(f"#{table}"))
        assert frame["width"] <= 390 - 2 * 16 + 1, (table, frame)
        for row in rows.all():
            # Every cell of the row, its decision included, lies within the screen's width.
            for cell in row.locator("td").all():
                box = _box(cell)
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (table, box)
            button = _box(row.get_by_role(role, name=re.compile(decision)))
            assert button["x"] >= 0 and button["x"] + button["width"] <= 390, (table, button)
            dismiss = _box(row.get_by_role("button", name=re.compile(r"^Écarter")))
            assert dismiss["x"] + dismiss["width"] <= 390, table
        # A row reads one value under another, each under its column's name; the table
        # keeps its column headers for screen readers.
        first = rows.first.locator("td").first
        label = page.evaluate(
            "cell => getComputedStyle(cell, '::before').display", first.element_handle()
        )
        assert label == "block"
        assert page.locator(f"#{table}").get_by_role("columnheader").count() >= 4
    # One title per section: the caption is plain text, not a second heading.
    heading = page.get_by_role("heading", name="Rattachements proposés", exact=True)
    caption = page.locator("#links-table caption")
    size = "e => parseFloat(getComputedStyle(e).fontSize)"
    heading_size = page.evaluate(size, heading.element_handle())
    caption_size = page.evaluate(size, caption.element_handle())
    assert caption.is_visible() and caption_size <= 16 < heading_size
    assert page.console_errors == []
