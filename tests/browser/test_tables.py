"""Tables that fit their screen (visual audit): the list of deal points was 1,670 px wide in a
1,200 px page, its sort key (« Dernière activité ») and counts (« Signalements ») off-screen.
Measured on the boxes the browser draws."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _box(locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return box


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
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", first.locator("td").nth(3).inner_text().strip())
    for cell in first.locator("td").all():
        box = _box(cell)
        assert box["x"] + box["width"] <= right
    assert page.evaluate(
        "t => t.closest('.fr-table__container').scrollWidth"
        " <= t.closest('.fr-table__container').clientWidth + 1",
        table.element_handle(),
    )
    assert page.console_errors == []
