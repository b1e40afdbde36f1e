"""The map (/carte/) in a real browser: an analyst of the CROSS opens the map of the
Bouches-du-Rhône, sees the points counted in hexagons, then the points themselves, clicks one
and reads its record in the side panel; a landlord sees only the point on its building; a
prefecture sees hexagons and never a marker. No console error anywhere (CSP included)."""

from __future__ import annotations

import math
import re
import time

import pytest

from tests.browser.pages import map_settled
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]

# Four points of Marseille 14e (one on a building of landlord_13h) and one in the 3e.
POINTS = """
from cartostup.access.demo import demo_persona_ensure
from cartostup.access.models import Building
from cartostup.dealpoints import services
analyst = demo_persona_ensure(username="cross13_analyst")
building = Building.objects.filter(name="Résidence Les Amandiers – bâtiment A").first()
made = []
for index, (lat, lng) in enumerate([(43.3453, 5.3951), (43.3449, 5.3957), (43.3455, 5.3944),
                                    (43.3451, 5.3960), (43.3110, 5.3800)]):
    point = services.dealpoint_create(
        actor=analyst,
        data=services.DealPointInput(
            latitude=lat, longitude=lng, name=f"Essai carte {index}", products=["cannabis"],
            building_id=building.pk if index == 0 else None,
        ),
    )
    made.append(point)
print("POINTS", " ".join(f"{p.pk}:{p.reference}" for p in made))
print("CODE", made[0].partner_code)
"""


def _wait_for_count(locator, minimum: int, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    deadline = time.monotonic() + seconds
    while locator.count() < minimum and time.monotonic() < deadline:
        time.sleep(0.2)
    return locator.count()


@pytest.fixture(scope="module")
def map_output(served_app) -> str:
    return served_app.manage("shell", "-c", POINTS)


@pytest.fixture(scope="module")
def map_points(map_output) -> list[tuple[int, str]]:
    line = next(line for line in map_output.splitlines() if line.startswith("POINTS "))
    return [(int(pk), reference) for pk, reference in (p.split(":") for p in line.split()[1:])]


@pytest.fixture(scope="module")
def landlord_code(map_output) -> str:
    """The partner code of the point on the landlord's building (what the landlord sees)."""
    return next(line for line in map_output.splitlines() if line.startswith("CODE ")).split()[1]


@pytest.mark.smoke
def test_analyst_opens_the_map_and_a_point(page, served_app, map_points):
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    assert page.get_by_role("heading", name="Carte des points de deal").is_visible()
    # At the département's zoom, the points are counted in hexagons.
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert _wait_for_count(hexagons, 1) >= 1
    assert page.locator("#map-table tbody tr").count() >= 1

    # Opened on one point: the map goes to the street and the panel shows its record.
    pk, reference = map_points[1]
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    panel = page.locator("#map-panel")
    panel.get_by_text(reference).first.wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == reference
    assert panel.get_by_role("link", name="Ouvrir la fiche complète").is_visible()
    markers = page.locator("#dealpoints-map .dealpoints-marker")
    assert _wait_for_count(markers, 4) >= 4
    page.keyboard.press("Escape")
    assert panel.is_hidden()

    # Another point, clicked on the map.
    other_pk, other = map_points[2]
    page.locator(f'#dealpoints-map .dealpoints-marker[title^="{other} "]').click()
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == other
    # The text alternative lists what the map shows.
    assert page.locator("#map-table").get_by_text(other).count() == 1
    assert page.console_errors == []


def test_the_table_under_the_map_links_each_record_and_a_point_is_created_by_keyboard(
    page, served_app, map_points
):
    """A screen-reader user opens a point from the text alternative without going through the
    markers; « Créer un point ici » (a click) has a keyboard way: the link under the map,
    which creates at the map's centre."""
    log_in(page, served_app, "cross13_analyst")
    pk, reference = map_points[1]
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    table = page.locator("#map-table")
    row_link = table.get_by_role("link", name=reference, exact=True)
    row_link.wait_for(timeout=20_000)
    assert row_link.get_attribute("href") == f"/points-de-deal/{pk}/"
    # Every point in the table is a link to its page.
    points = table.locator("tbody tr").filter(has_text=re.compile(r"PD-13-\d+"))
    assert points.count() >= 4
    assert points.count() == table.locator('tbody a[href^="/points-de-deal/"]').count()

    create = page.get_by_role("link", name="Créer un point au centre de la carte")
    href = create.get_attribute("href") or ""
    assert re.search(r"/points-de-deal/nouveau/\?latitude=43\.3\d+&longitude=5\.3\d+$", href)
    create.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/points-de-deal/nouveau/\?latitude=.*"))
    assert page.locator("#id_latitude").input_value().startswith("43.3")
    assert page.locator("#id_longitude").input_value().startswith("5.3")

    # Back on the map, the link in the table opens the point's page.
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    row_link.wait_for(timeout=20_000)
    row_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/points-de-deal/{pk}/$"))
    assert page.console_errors == []


def test_escape_gives_focus_back_to_what_opened_the_panel(page, served_app, map_points):
    """Escape closed the panel and focus fell on <body>: a keyboard user started again from
    the top of the page. It goes back to the marker that opened the panel, or, when the page
    opened on ?point=, to that point's marker."""
    log_in(page, served_app, "cross13_analyst")
    pk, reference = map_points[1]
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    marker = page.locator(f'#dealpoints-map .dealpoints-marker[title^="{reference} "]')
    marker.wait_for(timeout=20_000)
    drawn = marker.element_handle()
    # Closing the panel widens the map: the points are asked again for the wider view and
    # drawn again, the focused marker with them (the focus used to fall on <body> then).
    with page.expect_response(
        lambda response: "/api/v1/map/dealpoints/" in response.url, timeout=30_000
    ):
        page.keyboard.press("Escape")
    assert page.locator("#map-panel").is_hidden()
    drawn.wait_for_element_state("hidden", timeout=20_000)
    focused = "document.activeElement.getAttribute('title') || document.activeElement.id"
    assert page.evaluate(focused).startswith(f"{reference} ")

    # Opened from another marker with the keyboard: Escape comes back to that marker.
    _other_pk, other = map_points[2]
    page.locator(f'#dealpoints-map .dealpoints-marker[title^="{other} "]').focus()
    page.keyboard.press("Enter")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == other
    page.keyboard.press("Escape")
    assert page.locator("#map-panel").is_hidden()
    assert page.evaluate(focused).startswith(f"{other} ")

    # A marker is a button: Space opens it as Enter does, and does not scroll the page.
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press(" ")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == other
    assert page.evaluate("window.scrollY") == scrolled
    assert page.console_errors == []


def test_escape_in_the_filters_leaves_the_panel_and_an_ended_session_is_said(
    page, served_app, map_points
):
    """Escape typed in the filters' date field closed the panel and took the focus to the map;
    a session ended elsewhere (signed out in another tab) showed the login page inside the
    panel, and the layers said only that they could not be loaded (review)."""
    log_in(page, served_app, "cross13_analyst")
    pk, reference = map_points[1]
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    page.locator("#map-filters-toggle").click()
    field = page.get_by_label("Actif à partir du")
    field.wait_for(state="visible")
    field.click()
    page.keyboard.press("Escape")
    assert page.locator("#map-panel").is_visible()
    assert page.evaluate("document.activeElement.id") == field.get_attribute("id")

    # The session ends: this browser holds no session cookie any more.
    page.context.clear_cookies()
    _other_pk, other = map_points[2]
    page.locator(f'#dealpoints-map .dealpoints-marker[title^="{other} "]').click()
    ended = page.locator("#map-session-ended")
    ended.wait_for(state="visible", timeout=20_000)
    assert "Votre session a pris fin" in ended.inner_text()
    link = ended.get_by_role("link", name="Se reconnecter et revenir à cette vue de la carte")
    assert link.get_attribute("href").startswith("/comptes/connexion/?next=%2Fcarte%2F%3F")
    body = page.locator("#map-panel-body").inner_text()
    assert "Votre session a pris fin" in body and "Connexion" not in body
    # Moving the map asks the layers again: their 401 is not said again as a failed layer.
    with page.expect_response(lambda response: "/api/v1/map/dealpoints/" in response.url):
        page.locator("#dealpoints-map").focus()
        page.keyboard.press("-")
    assert "n’a pas pu être chargée" not in page.locator("#map-status").inner_text()
    # The page keeps no error of its own (the browser logs the refused requests themselves).
    assert [error for error in page.console_errors if "401" not in error] == []


def test_a_missing_point_and_a_reversed_period_are_said(page, served_app, map_points):
    """A link to a point that does not exist says so (not "a layer could not be loaded"); a
    period that ends before it starts is said in the form's error area (role="alert"), and
    the map draws no point the filters do not select."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13&point=99999")
    panel = page.locator("#map-panel")
    panel.get_by_text("Point de deal introuvable").wait_for(timeout=20_000)
    assert "couche" not in panel.inner_text()
    assert "couche" not in page.locator("#map-status").inner_text()

    # The period's own request: one of the previous page's may still be answering (CI).
    with page.expect_response(
        lambda response: "/api/v1/map/dealpoints/" in response.url
        and "active_from" in response.url,
        timeout=30_000,
    ) as answered:
        page.goto(
            f"{served_app.url}/carte/?departement=13&active_from=2026-12-31&active_to=2026-01-01"
        )
    assert answered.value.status == 400
    errors = page.get_by_role("alert").filter(has_text="La fin de la période précède son début.")
    errors.first.wait_for(timeout=20_000)
    assert "Actif jusqu'au" in errors.first.inner_text()
    map_settled(page)  # the 400 handled by the page
    assert page.locator("#dealpoints-map .dealpoints-hexagon--dealpoints").count() == 0
    assert page.locator("#dealpoints-map .dealpoints-marker").count() == 0


def test_landlord_sees_only_the_point_on_its_building(page, served_app, map_points, landlord_code):
    log_in(page, served_app, "landlord_13h")
    page.goto(f"{served_app.url}/carte/")
    markers = page.locator("#dealpoints-map .dealpoints-marker")
    assert _wait_for_count(markers, 1) >= 1
    time.sleep(0.5)
    titles = [markers.nth(i).get_attribute("title") or "" for i in range(markers.count())]
    # Named by their partner codes, never by a reference.
    names = {title.split(" ")[0] for title in titles}
    assert landlord_code in names
    assert not any(name.startswith("PD-") for name in names)
    # Opened from the keyboard: a landlord's points are drawn on their building, so the demo
    # point of the same building lies exactly on this one (a pointer clicks the one on top).
    page.locator(f'#dealpoints-map .dealpoints-marker[title^="{landlord_code} "]').focus()
    page.keyboard.press("Enter")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == landlord_code
    panel_text = page.locator("#map-panel").inner_text()
    assert "Résidence Les Amandiers" in panel_text
    assert "Essai carte" not in panel_text and "Cannabis" not in panel_text
    assert map_points[0][1] not in panel_text + page.locator("#map-table").inner_text()
    assert page.console_errors == []


def test_prefecture_sees_hexagons_and_no_marker(page, served_app, map_points):
    log_in(page, served_app, "prefecture_13")
    page.goto(f"{served_app.url}/carte/?departement=13")
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert _wait_for_count(hexagons, 1) >= 1
    assert page.locator("#dealpoints-map .dealpoints-marker").count() == 0
    assert page.get_by_text(re.compile("jamais les points eux-mêmes")).is_visible()
    # Zoomed to the street, still hexagons only.
    page.locator("#dealpoints-map").dblclick()
    page.locator("#dealpoints-map").dblclick()
    time.sleep(1.5)
    assert page.locator("#dealpoints-map .dealpoints-marker").count() == 0
    assert "PD-13" not in page.locator("#map-table").inner_text()
    assert page.console_errors == []


def _pixel(latitude: float, longitude: float, zoom: int) -> tuple[float, float]:
    """Web Mercator pixel of a position at a zoom (Leaflet's default projection)."""
    scale = 256 * 2**zoom
    lat = math.radians(latitude)
    return (
        scale * (longitude + 180) / 360,
        scale * (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2,
    )


def _centre(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_every_status_is_drawn_on_its_point(page, served_app, map_points):
    """The marker of a point under investigation (a diamond) is drawn where the point is, as
    the others are: a rotated marker once rotated Leaflet's positioning and fell ~500 px
    away. Compared with a reported point's marker 30 m away, by their projected positions."""
    investigated_pk, investigated = map_points[3]
    served_app.manage(
        "shell",
        "-c",
        "from cartostup.dealpoints import services; from cartostup.dealpoints.models import"
        " DealPoint; from cartostup.access.demo import demo_persona_ensure;"
        " services.dealpoint_change_status(actor=demo_persona_ensure(username='cross13_analyst'),"
        f" dealpoint=DealPoint.objects.get(pk={investigated_pk}), status='investigation')",
    )
    reported_pk, reported = map_points[1]
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13&point={reported_pk}")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    diamond = page.locator(
        f'#dealpoints-map .dealpoints-marker--investigation[title^="{investigated} "]'
    )
    assert _wait_for_count(diamond, 1) == 1
    circle = page.locator(f'#dealpoints-map .dealpoints-marker--reported[title^="{reported} "]')
    assert circle.count() == 1
    time.sleep(0.5)  # the zoom's animation
    (dx, dy), (cx, cy) = _centre(diamond.bounding_box()), _centre(circle.bounding_box())
    (px, py), (qx, qy) = _pixel(43.3451, 5.3960, 16), _pixel(43.3449, 5.3957, 16)
    assert abs((dx - cx) - (px - qx)) < 3 and abs((dy - cy) - (py - qy)) < 3
    assert page.console_errors == []


def test_the_hotspot_layer_says_what_it_found(page, served_app, map_points):
    """Switched on, the hotspot layer says in words what Gi* found (the demo's concentrations
    are too small to be significant: it says so, rather than drawing nothing silently), its
    significant cells are listed in the table under the map, and the legend has its colours."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    hot = page.locator(".dealpoints-legend__hexagon--hot")
    assert hot.count() == 1 and hot.is_hidden()  # explained once drawn
    # So is what they count (a new user's audit: the sentence stood with the layer off).
    scope = page.locator("#map-hotspots-scope")
    assert scope.count() == 1 and scope.is_hidden()
    page.locator(".leaflet-control-layers").get_by_text("Points chauds (Gi*)").click()
    hot.wait_for(state="visible", timeout=5_000)
    assert scope.is_visible()
    status = page.locator("#map-status")
    deadline = time.monotonic() + 20
    while "Points chauds :" not in status.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    said = status.inner_text()
    assert re.search(
        r"Points chauds : (aucune concentration significative parmi|\d+ cellule)", said
    )
    assert re.search(r"\d+ cellules étudiées|parmi \d+ étudiées", said)
    table = page.locator("#map-table").inner_text()
    found = re.search(r"(\d+) cellule\(s\) chaude\(s\) et (\d+) froide", said)
    listed = table.count("Point chaud") + table.count("Point froid")
    assert listed == (int(found.group(1)) + int(found.group(2)) if found else 0)
    assert page.console_errors == []


def _nested_pair(page) -> tuple[dict[str, float], dict[str, float]]:
    """The boxes of an operations' hexagon and of the deal points' one it lies in, well
    inside the map (a popup opened there does not pan it), as drawn now."""
    map_settled(page)
    view = page.locator("#dealpoints-map").bounding_box()
    assert view
    outers = [
        box
        for box in (
            path.bounding_box()
            for path in page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints").all()
        )
        if box
        and view["x"] + 40 < box["x"]
        and box["x"] + box["width"] < view["x"] + view["width"] - 40
        and view["y"] + 200 < box["y"]  # room for a popup above it
        and box["y"] + box["height"] < view["y"] + view["height"] - 20
    ]
    pairs = [
        (box, outer)
        for box in (
            path.bounding_box()
            for path in page.locator("#dealpoints-map path.dealpoints-hexagon--operations").all()
        )
        if box
        for outer in outers
        if outer["x"] < box["x"]
        and box["x"] + box["width"] < outer["x"] + outer["width"]
        and outer["y"] < box["y"]
        and box["y"] + box["height"] < outer["y"] + outer["height"]
    ]
    assert pairs, "every operation lies on a point: its hexagon is within the point's"
    # The widest ring around its inner hexagon.
    return min(pairs, key=lambda pair: pair[0]["width"] / pair[1]["width"])


def test_a_cells_hexagons_of_two_layers_nest_and_each_opens(page, served_app, map_points):
    """The operations' hexagon of a cell lay on the deal points' one, the same size: the
    latter could be neither seen nor clicked. Each layer's hexagon of a cell is now drawn
    smaller inside the one of the layer before, on top of it whichever answered last: a click
    at the centre opens the operations', a click on the ring around it the deal points'."""
    log_in(page, served_app, "cross13_analyst")
    # Marseille at zoom 10, the département's hexagons at their largest (about 24 px: at
    # zoom 9, 12 px left a ring of 2 px around the operations' hexagon).
    layers = "communes,dealpoints,departements,operations"
    page.goto(f"{served_app.url}/carte/?departement=13#10/43.3000/5.4000/{layers}")
    map_settled(page)
    assert page.get_by_role("checkbox", name="Opérations").is_checked()
    operations = page.locator("#dealpoints-map path.dealpoints-hexagon--operations")
    assert _wait_for_count(operations, 1) >= 1
    popup = page.locator("#dealpoints-map .leaflet-popup-content")

    def opened(x: float, y: float) -> str:
        page.mouse.click(x, y)
        text = popup.inner_text(timeout=10_000)
        page.keyboard.press("Escape")
        popup.wait_for(state="detached", timeout=10_000)
        return text

    inner, _outer = _nested_pair(page)
    assert "(Opérations)" in opened(*_centre(inner))
    inner, outer = _nested_pair(page)
    assert inner["width"] < 0.7 * outer["width"] and outer["width"] > 20
    # On the ring, halfway between the inner hexagon's edge and the outer one's.
    x, y = _centre(outer)
    assert "(Points de deal)" in opened(x + (inner["width"] + outer["width"]) / 4, y)
    # The deal points switched off and on are drawn last: still beneath the operations.
    points = page.get_by_role("checkbox", name="Points de deal")
    points.uncheck()
    with page.expect_response(lambda answer: "/api/v1/map/dealpoints/" in answer.url):
        points.check()
    inner, _outer = _nested_pair(page)
    assert "(Opérations)" in opened(*_centre(inner))
    legend = page.get_by_label("Légende de la carte").inner_text()
    assert "Opérations : nombre par hexagone (plus petit, au centre de celui des points" in legend
    assert page.console_errors == []


def test_the_map_asks_for_a_layer_once_per_view(page, served_app, map_points):
    """Opening the map asks the server for the deal-points layer once (Leaflet ends the first
    view with a "moveend" and an "overlayadd": both asked the same view); switched off and on,
    the layer is asked again."""
    log_in(page, served_app, "cross13_analyst")
    asked: list[str] = []
    page.on(
        "request", lambda r: asked.append(r.url) if "/api/v1/map/dealpoints/" in r.url else None
    )
    page.goto(f"{served_app.url}/carte/?departement=13")
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert _wait_for_count(hexagons, 1) >= 1
    page.wait_for_timeout(1500)  # lets Playwright deliver the requests' events
    assert len(asked) == 1
    layers = page.locator(".leaflet-control-layers")
    layers.get_by_text("Points de deal", exact=True).click()
    page.wait_for_timeout(300)
    layers.get_by_text("Points de deal", exact=True).click()
    page.wait_for_timeout(1500)
    assert len(asked) == 2 and asked[0] == asked[1]
    assert page.console_errors == []


def test_the_map_is_busy_until_its_layer_is_drawn(page, served_app, map_points):
    """The map says `aria-busy="true"` while a layer it asked for has not answered (a screen
    reader may wait for the update to end; the tests wait for it instead of sleeping), and
    `false` once the answer is drawn."""
    log_in(page, served_app, "cross13_analyst")
    held: list = []
    released = False

    def hold(route) -> None:
        if released:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/map/dealpoints/**", hold)
    page.goto(f"{served_app.url}/carte/?departement=13")
    for _step in range(150):
        if held:
            break
        page.wait_for_timeout(200)
    # Asked once the boundaries have answered (they set the first view): only this is out.
    assert held, "the map asked for no deal-point layer"
    container = page.locator("#dealpoints-map")
    assert container.get_attribute("aria-busy") == "true"
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert hexagons.count() == 0
    released = True
    for route in held:
        route.continue_()
    map_settled(page)
    # Not busy any more: what was asked for is drawn, without waiting further.
    assert hexagons.count() >= 1
    assert page.console_errors == []


def test_each_layer_keeps_its_own_line_under_the_map(page, served_app, map_points):
    """The line under the map was one sentence for every layer: the hotspots' summary wrote
    over another layer's error, an error stayed after its layer loaded, a summary stayed with
    its layer switched off. Each layer now says its own sentence, which it alone replaces."""
    log_in(page, served_app, "cross13_analyst")
    failing = True

    def reports(route) -> None:
        if failing:
            route.fulfill(status=500, content_type="application/json", body="{}")
        else:
            route.continue_()

    page.route("**/api/v1/map/reports/**", reports)
    page.goto(f"{served_app.url}/carte/?departement=13")
    map_settled(page)
    status = page.locator("#map-status")
    assert status.inner_text() == ""
    layers = page.locator(".leaflet-control-layers")
    error = "La couche « Signalements » n’a pas pu être chargée."

    layers.get_by_text("Signalements", exact=True).click()
    map_settled(page)
    assert status.inner_text() == error

    layers.get_by_text("Points chauds (Gi*)").click()
    map_settled(page)
    deadline = time.monotonic() + 20
    while "Points chauds :" not in status.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    said = status.inner_text()
    assert said.startswith(error + " Points chauds :"), said

    # The reports answer again: switched off and on, their error is gone, the summary stays.
    failing = False
    layers.get_by_text("Signalements", exact=True).click()
    assert status.inner_text().startswith("Points chauds :")
    layers.get_by_text("Signalements", exact=True).click()
    map_settled(page)
    assert status.inner_text().startswith("Points chauds :")
    # The hotspots switched off take their summary away.
    layers.get_by_text("Points chauds (Gi*)").click()
    assert status.inner_text() == ""
    errors = [e for e in page.console_errors if "500" not in e]
    assert errors == []


def test_the_layers_are_reached_past_the_markers_and_fold_on_a_narrow_screen(
    page, served_app, map_points
):
    """The layer switcher came after every marker in the keyboard's order, reached only by
    tabbing through them all; at 320 px, open, it covered half of the map."""
    log_in(page, served_app, "cross13_analyst")
    pk, _reference = map_points[1]
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    page.locator("#dealpoints-map .dealpoints-marker").first.wait_for(timeout=20_000)
    page.get_by_role("link", name="Aller au choix des couches").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.tagName, !!document.activeElement.closest('#map-layers')]"
    )
    assert focused == ["INPUT", True]
    wide = page.locator("#map-layers").get_attribute("class") or ""
    assert "leaflet-control-layers-expanded" in wide

    page.set_viewport_size({"width": 320, "height": 640})
    page.reload()
    page.locator("#dealpoints-map .dealpoints-marker").first.wait_for(timeout=20_000)
    layers = page.locator("#map-layers")
    assert "leaflet-control-layers-expanded" not in (layers.get_attribute("class") or "")
    assert page.console_errors == []
