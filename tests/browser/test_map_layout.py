"""The map (/carte/) as a visual audit saw it, in a real browser: the map shows on arrival (the
filters fold away), Leaflet follows the side panel's width, its controls are drawn whole,
markers at one place can each be clicked, boundaries and hexagons are told apart, the legend
and the status lines speak of the layers shown, and a counts-only role is told why its map is
empty."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _wait_for_count(page, locator, minimum: int, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    for _step in range(int(seconds * 5)):
        if locator.count() >= minimum:
            break
        page.wait_for_timeout(200)
    return locator.count()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_map_shows_on_arrival_and_the_filters_fold_away(page, served_app, viewport):
    """The filters filled the first screen: at 1280 x 800 the map began at y = 897, on a phone
    at 1453. They now fold away (a DSFR accordion) whose title counts the filters applied, and
    open on an error."""
    page.set_viewport_size(viewport)
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert _wait_for_count(page, hexagons, 1) >= 1
    box = page.locator("#dealpoints-map").bounding_box()
    # At least 300 px of the map on the first screen, without scrolling.
    assert box is not None and box["y"] + 300 <= viewport["height"], box
    toggle = page.get_by_role("button", name="Filtrer les couches")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("#map-filters").get_by_text("Confirmé", exact=True).is_hidden()
    toggle.click()
    confirmed = page.locator("#map-filters").get_by_text("Confirmé", exact=True)
    confirmed.wait_for(state="visible", timeout=5_000)
    confirmed.click()
    page.locator("#map-filters").get_by_text("Crack", exact=True).click()
    page.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url(re.compile(r".*status=confirmed.*"))
    # Applied: folded again, the map still in view, the title and a line say what applies.
    toggle = page.get_by_role("button", name="Filtrer les couches (2 filtres actifs)")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.locator("#map-filters-summary").inner_text() == (
        "Filtres appliqués : Statut : Confirmé ; Produit : Crack"
    )
    box = page.locator("#dealpoints-map").bounding_box()
    assert box is not None and box["y"] + 300 <= viewport["height"], box

    # A filter in error opens them, the error beside its field.
    page.goto(
        f"{served_app.url}/carte/?departement=13&active_from=2026-12-31&active_to=2026-01-01"
    )
    toggle = page.get_by_role("button", name="Filtrer les couches (2 filtres actifs)")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.get_by_label("Actif jusqu'au").is_visible()
    assert page.locator("#map-filter-errors").is_visible()
    assert page.locator("#map-filters-summary").count() == 0
    # The layer's 400, asked on purpose, is the only console error.
    assert [e for e in page.console_errors if "status of 400" not in e] == []
