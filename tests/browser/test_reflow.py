"""Reflow (RGAA 10.11, WCAG 1.4.10): at 320 CSS pixels wide (1280 px at 400 % zoom, or a
phone), the deal-point forms and record never scroll sideways. The opening-hours grid made
the « Activité » fieldset 705 px wide (a fieldset is as wide as its widest content), and text
hidden for screen readers inside DSFR's table container escaped its scrolling and widened
the point's page."""

from __future__ import annotations

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

DEMO_RECORDS = """
from cartostup.dealpoints.models import DealPoint, Proposal
from cartostup.reports.models import Report
point = DealPoint.objects.filter(merged_into__isnull=True, departement__code="13").order_by("pk")
print("POINT", point.first().pk)
print("REPORT", Report.objects.filter(departement__code="13").order_by("pk").first().pk)
proposal = Proposal.objects.filter(status="open", departement__code="93").order_by("pk").first()
print("PROPOSAL", proposal.pk)
"""


@pytest.fixture(scope="module")
def records(served_app) -> dict[str, str]:
    output = served_app.manage("shell", "-c", DEMO_RECORDS)
    found = {}
    for line in output.splitlines():
        label, _, rest = line.partition(" ")
        if label in {"POINT", "REPORT", "PROPOSAL"}:
            found[label] = rest
    return found


def _sideways(page, url: str) -> int:
    """How far the page scrolls sideways (0 when it reflows)."""
    page.goto(url)
    page.locator("h1").first.wait_for()
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    return width - page.evaluate("document.documentElement.clientWidth")


@pytest.mark.parametrize("width", [320, 640])
def test_deal_point_pages_reflow_at_narrow_widths(page, served_app, records, width):
    log_in(page, served_app, "cross13_analyst")
    page.set_viewport_size({"width": width, "height": 800})
    point = records["POINT"]
    for path in (
        "/points-de-deal/nouveau/",
        f"/points-de-deal/{point}/modifier/",
        f"/points-de-deal/{point}/",
        f"/signalements/{records['REPORT']}/",
    ):
        assert _sideways(page, served_app.url + path) == 0, path
    # A key/value table wraps its values rather than hiding them in a sideways scroll.
    page.goto(f"{served_app.url}/points-de-deal/{point}/")
    for table in page.locator("table.cartostup-key-values").all():
        box, frame = table.bounding_box(), table.locator("xpath=..").bounding_box()
        assert box is not None and frame is not None
        assert box["width"] <= frame["width"] + 1
    assert page.locator("table.cartostup-key-values").count() == 3
    assert page.console_errors == []


def test_the_proposal_page_reflows_at_320_px(page, served_app, records):
    log_in(page, served_app, "cross93_analyst")
    page.set_viewport_size({"width": 320, "height": 800})
    url = f"{served_app.url}/rapprochements/propositions/{records['PROPOSAL']}/creer/"
    assert _sideways(page, url) == 0
    heading = page.get_by_role("heading", name="Créer un point de deal depuis une proposition")
    assert heading.is_visible()
    assert page.console_errors == []
