"""The map (/carte/) after a new user's audit, in a real browser: a period typed the French
way, French Leaflet controls, plurals and French dates, the per-status breakdown of
hexagons in the text alternative, links in popups, legends that show only what the role
receives, and hotspots that say what they count."""

from __future__ import annotations

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _wait_for_count(page, locator, minimum: int, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    for _step in range(int(seconds * 5)):
        if locator.count() >= minimum:
            break
        page.wait_for_timeout(200)
    return locator.count()


def test_a_period_typed_the_french_way_draws_the_map(page, served_app):
    """/carte/?active_from=01/01/2020 passed the page's form but reached the layer as typed:
    the layer refused it (« Utilisez un des formats suivants : YYYY-MM-DD ») and the map
    showed nothing. Now the date input shows the day and the layer gets the ISO date."""
    log_in(page, served_app, "cross13_analyst")
    with page.expect_response(
        lambda response: "/api/v1/map/dealpoints/" in response.url, timeout=30_000
    ) as answered:
        page.goto(f"{served_app.url}/carte/?departement=13&active_from=01/01/2020")
    assert answered.value.status == 200
    assert "active_from=2020-01-01" in answered.value.url
    field = page.get_by_label("Actif à partir du")
    assert field.get_attribute("type") == "date"
    assert field.input_value() == "2020-01-01"
    assert page.get_by_label("Actif jusqu'au").get_attribute("type") == "date"
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert _wait_for_count(page, hexagons, 1) >= 1
    assert page.locator("#map-filter-errors").is_hidden()
    assert page.console_errors == []


LEAFLET_ENGLISH = ("Zoom in", "Zoom out", "A JavaScript library for interactive maps")


def _leaflet_labels(page, map_selector: str) -> dict[str, str]:
    zoom_in = page.locator(f"{map_selector} .leaflet-control-zoom-in")
    zoom_in.wait_for(timeout=20_000)
    return {
        "zoom_in": zoom_in.get_attribute("title") or "",
        "zoom_in_name": zoom_in.get_attribute("aria-label") or "",
        "zoom_out": page.locator(f"{map_selector} .leaflet-control-zoom-out").get_attribute("title")
        or "",
        "library": page.locator(
            f"{map_selector} .leaflet-control-attribution a"
        ).first.get_attribute("title")
        or "",
    }


@pytest.mark.parametrize(
    ("path", "map_selector"),
    [
        ("/carte/?departement=13", "#dealpoints-map"),
        ("/points-de-deal/nouveau/", "#dealpoint-picker"),
        ("/signalements/tri/", "#triage-map"),
        ("/territoires/departements/13/", "#territory-map"),
    ],
)
def test_leaflet_controls_speak_french_on_every_map(page, served_app, path, map_selector):
    """Leaflet titled its zoom buttons « Zoom in » / « Zoom out » and its attribution link
    « A JavaScript library for interactive maps », on every map of the site."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}{path}")
    labels = _leaflet_labels(page, map_selector)
    assert labels == {
        "zoom_in": "Zoom avant",
        "zoom_in_name": "Zoom avant",
        "zoom_out": "Zoom arrière",
        "library": "Une bibliothèque JavaScript de cartes interactives",
    }
    assert not any(english in page.content() for english in LEAFLET_ENGLISH)
    assert page.console_errors == []
