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

from tests.browser.pages import map_settled
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


# Two points of Salon-de-Provence, far from the demo's, the first with two raids; a second
# point on a building of landlord_13h that already has one (Cité du Vallon – tour 3).
WORLD = """
import datetime
from cartostup.access.demo import demo_persona_ensure
from cartostup.access.models import Building
from cartostup.dealpoints import services
analyst = demo_persona_ensure(username="cross13_analyst")
made = []
for name, lat, lng in [("Salon A", 43.6400, 5.0970), ("Salon B", 43.6410, 5.0990)]:
    made.append(services.dealpoint_create(
        actor=analyst,
        data=services.DealPointInput(latitude=lat, longitude=lng, name=name, products=["cannabis"]),
    ))
for day in (3, 24):
    services.operation_record(
        actor=analyst, dealpoint=made[0],
        data=services.OperationInput(kind="raid", occurred_on=datetime.date(2026, 11, day)),
    )
tower = Building.objects.get(name="Cité du Vallon – tour 3")
second = services.dealpoint_create(
    actor=analyst,
    data=services.DealPointInput(latitude=tower.latitude + 0.0001, longitude=tower.longitude,
                                 name="Vallon bis", products=["cannabis"], building_id=tower.pk),
)
print("SALON", " ".join(f"{p.pk}:{p.reference}" for p in made))
print("TOWER", " ".join(tower.dealpoints.filter(merged_into__isnull=True)
                        .values_list("partner_code", flat=True)))
"""


@pytest.fixture(scope="module")
def world(served_app) -> dict[str, list[str]]:
    output = served_app.manage("shell", "-c", WORLD)
    found = {}
    for line in output.splitlines():
        label, _, rest = line.partition(" ")
        if label in {"SALON", "TOWER"}:
            found[label] = rest.split()
    return found


def _pixel(latitude: float, longitude: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel of a position at a zoom (Leaflet's default projection)."""
    scale = 256 * 2**zoom
    lat = math.radians(latitude)
    return (
        scale * (longitude + 180) / 360,
        scale * (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2,
    )


def _position(x: float, y: float, zoom: int) -> tuple[float, float]:
    """The inverse of `_pixel`."""
    scale = 256 * 2**zoom
    longitude = x / scale * 360 - 180
    latitude = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / scale))))
    return latitude, longitude


def _centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


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
    page.goto(f"{served_app.url}/carte/?departement=13&active_from=2026-12-31&active_to=2026-01-01")
    toggle = page.get_by_role("button", name="Filtrer les couches (2 filtres actifs)")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.get_by_label("Actif jusqu'au").is_visible()
    assert page.locator("#map-filter-errors").is_visible()
    assert page.locator("#map-filters-summary").count() == 0
    # The layer's 400, asked on purpose, is the only console error.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_the_side_panel_narrows_the_map_and_leaflet_knows_it(page, served_app, world):
    """Opening the side panel narrowed the map without telling Leaflet: the point clicked near
    the right edge ended under the panel, the layers were asked for the old width, and
    « Créer un point au centre de la carte » used the old centre, 184 px right of the one
    seen."""
    (_pk, reference), _other = (item.split(":") for item in world["SALON"])
    log_in(page, served_app, "cross13_analyst")
    # Zoom 16, point A 450 px right of the centre: near the right edge of a 1200 px map.
    zoom, latitude, longitude = 16, 43.6400, 5.0970
    x, y = _pixel(latitude, longitude, zoom)
    west = _position(x - 450, y, zoom)
    page.goto(f"{served_app.url}/carte/?departement=13#{zoom}/{west[0]:.5f}/{west[1]:.5f}")
    marker = page.locator(f'#dealpoints-map .dealpoints-marker[title^="{reference} "]')
    marker.wait_for(timeout=20_000)
    create = page.get_by_role("link", name="Créer un point au centre de la carte")
    before = create.get_attribute("href")
    marker.click()
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    for _step in range(50):
        if create.get_attribute("href") != before:
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)
    shown = page.locator("#dealpoints-map").bounding_box()
    panel = page.locator("#map-panel").bounding_box()
    assert shown is not None and panel is not None
    # The map ends where the panel begins; the point clicked is in it, not under the panel.
    assert shown["x"] + shown["width"] <= panel["x"]
    mx, my = _centre(marker.bounding_box())
    assert shown["x"] + 16 <= mx <= shown["x"] + shown["width"] - 16
    # The centre the link uses is the centre of the map as seen, within 3 px.
    cx, cy = _centre(shown)
    expected = _position(x + (cx - mx), y + (cy - my), zoom)
    query = parse_qs(urlparse(create.get_attribute("href") or "").query)
    used = _pixel(float(query["latitude"][0]), float(query["longitude"][0]), zoom)
    wanted = _pixel(*expected, zoom)
    assert abs(used[0] - wanted[0]) <= 3 and abs(used[1] - wanted[1]) <= 3, (used, wanted)
    # The layers were asked for the view as seen: the last request's box ends at the map's
    # right edge, not the panel's.
    with page.expect_request(lambda r: "/api/v1/map/dealpoints/" in r.url) as asked:
        page.locator("#map-panel-close").click()
    east = float(parse_qs(urlparse(asked.value.url).query)["bbox"][0].split(",")[2])
    widened = page.locator("#dealpoints-map").bounding_box()
    assert widened is not None and widened["width"] > shown["width"] + 300
    right = _position(x + (widened["x"] + widened["width"] - mx), y, zoom)[1]
    assert abs(east - right) < 0.0003, (east, right)
    assert page.console_errors == []


def _style(locator, prop: str) -> str:
    return locator.evaluate("(e, p) => getComputedStyle(e).getPropertyValue(p)", prop)


@pytest.mark.parametrize(
    ("path", "map_selector"),
    [
        ("/carte/?departement=13", "#dealpoints-map"),
        ("/points-de-deal/nouveau/", "#dealpoint-picker"),
        ("/territoires/departements/13/", "#territory-map"),
    ],
)
def test_leaflet_controls_are_not_drawn_as_dsfr_links(page, served_app, path, map_selector):
    """The DSFR underlines links with a background image: it struck a line through the zoom
    buttons of every map and drew the layers button's icon 0 px wide (an empty square on a
    phone)."""
    page.set_viewport_size(PHONE)
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}{path}")
    zoom_in = page.locator(f"{map_selector} .leaflet-control-zoom-in")
    zoom_in.wait_for(timeout=20_000)
    assert "gradient" not in _style(zoom_in, "background-image")
    toggle = page.locator(f"{map_selector} .leaflet-control-layers-toggle")
    if toggle.count():
        assert "layers" in _style(toggle, "background-image")
        assert _style(toggle, "background-size") == "26px 26px"
    assert page.console_errors == []


def test_the_skip_link_opens_the_folded_layers_on_a_phone(page, served_app, world):
    """On a phone the layers fold behind a button; « Aller au choix des couches » reached the
    folded box, and the keyboard's Enter on the button left the focus nowhere."""
    page.set_viewport_size(PHONE)
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    layers = page.locator("#map-layers")
    layers.wait_for(timeout=20_000)
    # Its first view drawn: a layer drawn later took the focus from the box Tab had reached
    # (once, on a loaded machine).
    map_settled(page)
    assert "leaflet-control-layers-expanded" not in (layers.get_attribute("class") or "")
    toggle = page.get_by_role("button", name="Couches de la carte")
    assert toggle.is_visible()
    page.get_by_role("link", name="Aller au choix des couches").focus()
    page.keyboard.press("Enter")
    operations = page.get_by_role("checkbox", name="Opérations")
    operations.wait_for(state="visible", timeout=5_000)
    page.keyboard.press("Tab")
    focused = "[document.activeElement.tagName, !!document.activeElement.closest('#map-layers')]"
    assert page.evaluate(focused) == ["INPUT", True]
    # Leaving it folds it again; its button, from the keyboard, opens it on its first box.
    page.get_by_role("link", name="Aller au tableau des éléments de la carte").focus()
    assert "leaflet-control-layers-expanded" not in (layers.get_attribute("class") or "")
    toggle.focus()
    page.keyboard.press("Enter")
    assert page.evaluate(focused) == ["INPUT", True]
    assert page.console_errors == []


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_markers_at_one_place_can_each_be_clicked(page, served_app, world):
    """An operation's marker lay exactly on its point's (a click on the point opened the
    operation), and a landlord's two points of one building lay on each other (one could not
    be clicked). Deal points are drawn above, and markers at one place are spread a few
    pixels apart."""
    (pk, reference), _other = (item.split(":") for item in world["SALON"])
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13#17/43.64000/5.09700")
    point = page.locator(f'#dealpoints-map .dealpoints-marker--dealpoint[title^="{reference} "]')
    point.wait_for(timeout=20_000)
    page.get_by_role("checkbox", name="Opérations").check()
    operations = page.locator(
        f'#dealpoints-map .dealpoints-marker--operation[title$=" – {reference}"]'
    )
    assert _wait_for_count(page, operations, 2) == 2
    page.wait_for_timeout(300)
    boxes = [point.bounding_box()] + [operations.nth(i).bounding_box() for i in range(2)]
    assert all(box is not None for box in boxes)
    assert not any(_overlap(boxes[i], boxes[j]) for i in range(3) for j in range(i + 1, 3)), boxes
    # Drawn where they were on the previous visit: the same order, the same places.
    page.reload()
    point.wait_for(timeout=20_000)
    page.get_by_role("checkbox", name="Opérations").check()
    assert _wait_for_count(page, operations, 2) == 2
    page.wait_for_timeout(300)
    assert [point.bounding_box()] + [operations.nth(i).bounding_box() for i in range(2)] == boxes
    # A click in the middle of the point opens the point; on an operation, the operation.
    page.mouse.click(*_centre(boxes[0]))
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == reference
    assert page.locator("#dealpoints-map .leaflet-popup").count() == 0
    page.keyboard.press("Escape")
    page.wait_for_timeout(300)
    box = operations.first.bounding_box()
    assert box is not None
    page.mouse.click(*_centre(box))
    popup = page.locator("#dealpoints-map .leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert "Opération de harcèlement" in popup.inner_text()
    assert page.console_errors == []

    # A landlord's two points of one building.
    codes = world["TOWER"]
    assert len(codes) == 2
    page.context.clear_cookies()
    log_in(page, served_app, "landlord_13h")
    page.goto(f"{served_app.url}/carte/#17/43.33125/5.41580")
    markers = [
        page.locator(f'#dealpoints-map .dealpoints-marker[title^="{code} "]') for code in codes
    ]
    for item in markers:
        item.wait_for(timeout=20_000)
    page.wait_for_timeout(300)
    first, second = (item.bounding_box() for item in markers)
    assert first is not None and second is not None and not _overlap(first, second)
    shown = page.locator("#map-panel-reference")
    for code, item in zip(codes, markers, strict=True):
        # Measured again: the panel, once open, narrows the map.
        box = item.bounding_box()
        assert box is not None
        page.mouse.click(*_centre(box))
        for _step in range(100):
            if shown.count() and shown.inner_text() == code:
                break
            page.wait_for_timeout(100)
        assert shown.inner_text() == code
    assert page.console_errors == []


def _luminance(rgb: str) -> float:
    """WCAG relative luminance of a computed colour « rgb(r, g, b) »."""
    channels = [int(value) / 255 for value in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_legend_is_read_on_the_maps_background_in_the_dark_theme(page, served_app):
    """An accessibility review: in the dark theme, the legend's symbols were drawn on the
    page's near-black (« Limite de département » 1.0:1, the hexagon 1.03:1, « Signalé »
    1.21:1). Each symbol now stands on the map's own grey, as it does on the map."""
    page.emulate_media(color_scheme="dark")
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    page.locator("#map-legend").wait_for()
    page.wait_for_function("document.documentElement.getAttribute('data-fr-theme') === 'dark'")
    body = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert _luminance(body) < 0.05, body  # the dark theme applies
    ground = page.evaluate(
        "getComputedStyle(document.querySelector('#dealpoints-map')).backgroundColor"
    )
    keys = page.locator("#map-legend li:not([hidden]) .dealpoints-legend__key")
    assert keys.count() >= 4
    for index in range(keys.count()):
        key = keys.nth(index)
        background = key.evaluate("element => getComputedStyle(element).backgroundColor")
        assert background == ground
        assert _contrast(background, body) >= 3
    line = page.locator(".dealpoints-legend__line--departement")
    colour = line.evaluate("element => getComputedStyle(element).borderTopColor")
    assert _contrast(colour, ground) >= 3
    reported = page.locator(".dealpoints-legend__marker--reported")
    colour = reported.evaluate("element => getComputedStyle(element).backgroundColor")
    assert _contrast(colour, ground) >= 3
    assert page.console_errors == []
