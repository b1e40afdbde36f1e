"""The map (/carte/) after a new user's audit, in a real browser: a period typed the French
way, French Leaflet controls, plurals and French dates, the per-status breakdown of
hexagons in the text alternative, links in popups, legends that show only what the role
receives, and hotspots that say what they count."""

from __future__ import annotations

import re

import pytest

from tests.browser.pages import map_settled
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]


def _wait_for_count(page, locator, minimum: int, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    for _step in range(int(seconds * 5)):
        if locator.count() >= minimum:
            break
        page.wait_for_timeout(200)
    return locator.count()


def _open_map(page, served_app, address: str):
    """Opens the map at `address` and returns the deal-point layer's first answer."""
    with page.expect_response(
        lambda response: "/api/v1/map/dealpoints/" in response.url, timeout=30_000
    ) as answered:
        page.goto(f"{served_app.url}{address}")
    return answered.value


def _open_filters(page) -> None:
    """The filters fold away (a DSFR accordion) so that the map shows on arrival: opened
    before they are used."""
    toggle = page.locator("#map-filters-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    page.locator("#map-filters button[type=submit]").wait_for(state="visible", timeout=5_000)


def test_a_period_typed_the_french_way_draws_the_map(page, served_app):
    """/carte/?active_from=01/01/2020 passed the page's form but reached the layer as typed:
    the layer refused it (« Utilisez un des formats suivants : YYYY-MM-DD ») and the map
    showed nothing. Now the date input shows the day and the layer gets the ISO date."""
    log_in(page, served_app, "cross13_analyst")
    answered = _open_map(page, served_app, "/carte/?departement=13&active_from=01/01/2020")
    assert answered.status == 200
    assert "active_from=2020-01-01" in answered.url
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


# A lone point in Arles (its hexagon counts one point at the département's zoom), with a raid
# on 13/11/2026, and a report accepted beside it.
ARLES = """
import datetime
from cartostup.access.demo import demo_persona_ensure
from cartostup.dealpoints import services
from cartostup.reports import services as report_services
from cartostup.reports.choices import Channel
analyst = demo_persona_ensure(username="cross13_analyst")
point = services.dealpoint_create(
    actor=analyst,
    data=services.DealPointInput(latitude=43.6768, longitude=4.6303, name="Essai Arles",
                                 products=["cannabis"]),
)
services.operation_record(
    actor=analyst, dealpoint=point,
    data=services.OperationInput(kind="raid", occurred_on=datetime.date(2026, 11, 13)),
)
submitted = report_services.report_submit_public(
    data=report_services.ReportInput(
        latitude=43.6769, longitude=4.6304, precision="building", place_label="Arles",
        activities=["selling"], products=["cannabis"], days=["fri"], times_of_day=["evening"],
        people_count="1-2", description="Vente devant l'immeuble.",
    ),
    channel=Channel.WEB,
)
report = report_services.report_accept(actor=analyst, report=submitted.report)
print("ARLES", point.pk, point.reference, report.pk, report.reference)
"""


@pytest.fixture(scope="module")
def arles(served_app) -> dict[str, str]:
    line = next(
        line
        for line in served_app.manage("shell", "-c", ARLES).splitlines()
        if line.startswith("ARLES ")
    )
    pk, reference, report_pk, report_reference = line.split()[1:]
    return {"pk": pk, "reference": reference, "report_pk": report_pk, "report": report_reference}


ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{4}-W\d{2}\b")


def test_hexagons_say_their_counts_in_french_to_the_mouse_the_keyboard_and_the_table(
    page, served_app, arles
):
    """« 1 éléments » in a hexagon's popup; the per-status breakdown was in the click popup
    only, the table gave the total. Now: French plurals, the breakdown in the table, and the
    hexagon reachable with Tab and opened with Enter."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    rows = page.locator("#map-table tbody tr").filter(has_text="Arles")
    assert _wait_for_count(page, rows, 1) == 1
    cells = rows.first.locator("td")
    assert cells.nth(2).inner_text() == "1 élément"
    assert cells.nth(3).inner_text() == "Signalé : 1"
    # Every hexagon's count says its plural right, and its breakdown.
    for row in page.locator("#map-table tbody tr").filter(has_text="Hexagone").all():
        count = row.locator("td").nth(2).inner_text()
        number = int(count.split()[0])
        assert count == f"{number} {'éléments' if number > 1 else 'élément'}"
        assert " : " in row.locator("td").nth(3).inner_text()
    assert "Détail" in page.locator("#map-table thead").inner_text()
    # Two hexagons of one commune were two rows read alike: they are numbered.
    names = [
        row.locator("td").nth(1).inner_text()
        for row in page.locator("#map-table tbody tr").filter(has_text="Hexagone").all()
    ]
    assert len(names) == len(set(names)), names
    assert any(re.search(r" \(1 sur \d+\)$", name) for name in names), names

    # From the keyboard: the hexagon takes the focus and Enter opens the same popup.
    hexagon = page.locator('#dealpoints-map path[aria-label^="Hexagone – Arles"]')
    assert hexagon.get_attribute("aria-label") == "Hexagone – Arles : 1 élément (Points de deal)"
    hexagon.focus()
    page.keyboard.press("Enter")
    popup = page.locator("#dealpoints-map .leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert "Arles : 1 élément" in popup.inner_text() and "éléments" not in popup.inner_text()
    assert "Signalé : 1" in popup.inner_text()
    # Its close button is named in French (Leaflet said « Close popup »); with no link in the
    # popup, it has the focus; Escape closes the popup and the focus goes back to the hexagon.
    close = page.locator("#dealpoints-map .leaflet-popup").get_by_role(
        "button", name="Fermer la bulle"
    )
    assert close.evaluate("element => element === document.activeElement")
    page.keyboard.press("Escape")
    popup.wait_for(state="detached", timeout=10_000)
    assert hexagon.evaluate("element => element === document.activeElement")
    # Space opens it as well, without scrolling the page, and the button closes it.
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press(" ")
    popup.wait_for(timeout=10_000)
    assert page.evaluate("window.scrollY") == scrolled
    close.click()
    popup.wait_for(state="detached", timeout=10_000)
    # The table is reached past the map.
    assert page.get_by_role("link", name="Aller au tableau des éléments de la carte").count() == 1
    assert page.console_errors == []


def test_operations_and_reports_say_french_dates_and_lead_to_their_pages(page, served_app, arles):
    """Operation and report markers said « 2026-11-13 »; their popups led nowhere."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13&point={arles['pk']}")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    page.keyboard.press("Escape")
    page.get_by_role("checkbox", name="Opérations").check()
    page.get_by_role("checkbox", name="Signalements").check()
    operation = page.locator("#dealpoints-map .dealpoints-marker--operation")
    assert _wait_for_count(page, operation, 1) >= 1
    title = "Opération de harcèlement (« pilonnage ») du 13/11/2026 – " + arles["reference"]
    assert operation.first.get_attribute("title") == title
    # From the keyboard (the operation's marker lies on its point's): Enter opens the popup.
    operation.first.focus()
    page.keyboard.press("Enter")
    popup = page.locator("#dealpoints-map .leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    to_point = popup.get_by_role("link", name=f"Ouvrir la fiche du point {arles['reference']}")
    assert to_point.get_attribute("href") == f"/points-de-deal/{arles['pk']}/"

    report = page.locator(
        f'#dealpoints-map .dealpoints-marker--report[title^="{arles["report"]} "]'
    )
    assert _wait_for_count(page, report, 1) == 1
    assert re.search(r"reçu le \d{2}/\d{2}/\d{4}$", report.get_attribute("title") or "")
    # Space on a report (a button) opened nothing and scrolled the page. It opens the popup,
    # whose link takes the focus (it was reached only past every other marker); Escape
    # closes it, the focus back on the marker.
    page.keyboard.press("Escape")
    page.locator("#dealpoints-map .leaflet-popup").wait_for(state="detached", timeout=10_000)
    report.focus()
    scrolled = page.evaluate("window.scrollY")
    page.keyboard.press(" ")
    popup = page.locator("#dealpoints-map .leaflet-popup-content").filter(has_text=arles["report"])
    popup.wait_for(timeout=10_000)
    assert page.evaluate("window.scrollY") == scrolled
    to_report = popup.get_by_role("link", name=f"Ouvrir le signalement {arles['report']}")
    assert to_report.get_attribute("href") == f"/signalements/{arles['report_pk']}/"
    assert to_report.evaluate("element => element === document.activeElement")
    page.keyboard.press("Escape")
    popup.wait_for(state="detached", timeout=10_000)
    assert report.evaluate("element => element === document.activeElement")
    report.focus()
    page.keyboard.press("Enter")
    popup.wait_for(timeout=10_000)

    table = page.locator("#map-table").inner_text()
    assert "13/11/2026" in table and not ISO_DATE.search(table)
    to_report.click()
    page.wait_for_url(re.compile(rf".*/signalements/{arles['report_pk']}/$"))
    assert page.console_errors == []


def test_the_landlord_reads_the_week_as_the_list_says_it(page, served_app):
    """The map told a landlord « 2026-W47 » where the list says « semaine du 16/11/2026 »."""
    log_in(page, served_app, "landlord_13h")
    page.goto(f"{served_app.url}/carte/")
    markers = page.locator("#dealpoints-map .dealpoints-marker")
    assert _wait_for_count(page, markers, 1) >= 1
    titles = [markers.nth(i).get_attribute("title") or "" for i in range(markers.count())]
    assert any(re.search(r"dernier signalement : semaine du \d{2}/\d{2}/\d{4}$", t) for t in titles)
    table = page.locator("#map-table").inner_text()
    assert "semaine du" in table and not ISO_DATE.search(table + " ".join(titles))
    # Its legend: its points' statuses, no hexagon (it never receives one).
    legend = page.get_by_label("Légende de la carte").inner_text()
    assert "Signalé" in legend and "Hexagone" not in legend
    assert page.console_errors == []


def test_hotspots_read_the_filters_set_on_the_page_and_say_what_they_count(page, served_app):
    """The map asked for hotspots with the département only, whatever the period shown, then
    with the period only: the status, product and channel chosen in the form were ignored.
    Filters set in the form now reach the hotspots' request, as they reach the dealpoints
    layer's, and the sentence under the legend says so."""
    log_in(page, served_app, "cross13_analyst")
    _open_map(page, served_app, "/carte/?departement=13&active_from=01/01/2020")
    scope = page.locator("#map-hotspots-scope")
    assert "actifs le 01/01/2020 ou après" in scope.inner_text()
    assert "Elle suit les filtres « Statut », « Produit »" in scope.inner_text()
    _open_filters(page)
    form = page.locator("#map-filters")
    form.get_by_text("Signalé", exact=True).click()
    form.get_by_text("Confirmé", exact=True).click()
    form.get_by_text("Cannabis (résine, herbe)", exact=True).click()
    with page.expect_response(
        lambda response: "/api/v1/map/dealpoints/" in response.url
        and "product=cannabis" in response.url,
        timeout=30_000,
    ) as layer:
        form.get_by_role("button", name="Appliquer les filtres").click()
    assert layer.value.status == 200
    assert "status=reported" in layer.value.url and "product=cannabis" in layer.value.url
    # The map settled (its first view answers twice) before the layer is switched on.
    map_settled(page)
    text = scope.inner_text()
    assert "Filtres appliqués, comme à la couche « Points de deal » :" in text
    assert "Statut : Signalé, Confirmé ; Produit : Cannabis" in text
    with page.expect_response(
        lambda response: "/api/v1/map/hotspots/" in response.url, timeout=30_000
    ) as answered:
        page.get_by_role("checkbox", name="Points chauds (Gi*)").check()
    assert answered.value.status == 200
    url = answered.value.url
    assert "period_from=2020-01-01" in url and "active_from" not in url
    assert "status=reported" in url and "status=confirmed" in url
    assert "product=cannabis" in url and "departement=13" in url
    assert page.locator("#map-filter-errors").is_hidden()
    assert page.console_errors == []


def test_a_prefecture_sends_the_hotspots_no_period(page, served_app):
    """A period in a prefecture's hand-made link is refused by the counts, not passed on to
    the hotspots (its counts are filtered on status only, one at a time, which reaches
    them)."""
    log_in(page, served_app, "prefecture_13")
    page.goto(f"{served_app.url}/carte/?departement=13&active_from=2020-01-01")
    # The counts' refusal opens the filters above the map: the layers control moves down, and
    # a click during the move fell beside the box (« did not change its state »).
    map_settled(page)
    with page.expect_response(
        lambda response: "/api/v1/map/hotspots/" in response.url, timeout=30_000
    ) as answered:
        page.get_by_role("checkbox", name="Points chauds (Gi*)").check()
    assert answered.value.status == 200
    assert "period" not in answered.value.url
    # The legend explains what is drawn: the hotspots now, the operations once switched on.
    legend = page.get_by_label("Légende de la carte")
    assert "Point chaud" in legend.inner_text()
    assert "Opérations : nombre par hexagone" not in legend.inner_text()
    page.get_by_role("checkbox", name="Opérations").check()
    assert "Opérations : nombre par hexagone" in legend.inner_text()
    assert page.locator(".dealpoints-legend .dealpoints-legend__marker").count() == 0
    # Its one status, chosen in the form, reaches the hotspots.
    page.goto(f"{served_app.url}/carte/?departement=13")
    _open_filters(page)
    form = page.locator("#map-filters")
    form.get_by_label("Statut").select_option("confirmed")
    form.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url(re.compile(r".*status=confirmed.*"))
    map_settled(page)
    assert "Statut : Confirmé" in page.locator("#map-hotspots-scope").inner_text()
    with page.expect_response(
        lambda response: "/api/v1/map/hotspots/" in response.url, timeout=30_000
    ) as filtered:
        page.get_by_role("checkbox", name="Points chauds (Gi*)").check()
    assert filtered.value.status == 200
    assert "status=confirmed" in filtered.value.url and "period" not in filtered.value.url


@pytest.mark.parametrize("value", ["abc", "-1", "1e3"])
def test_a_malformed_point_link_is_said(page, served_app, value):
    """`?point=abc` left the panel hidden with no word, where `?point=999999` says the point
    is not found."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13&point={value}")
    panel = page.locator("#map-panel")
    panel.get_by_text("Lien vers un point invalide").wait_for(timeout=20_000)
    assert f"« {value} » n’est pas un numéro de point de deal" in panel.inner_text()
    # The panel closes like any other.
    page.locator("#map-panel-close").click()
    assert panel.is_hidden()
    assert page.console_errors == []


def test_an_unknown_status_is_said_in_the_same_words_above_and_at_the_field(page, served_app):
    """The error area said the API's « reported (Signalé), confirmed (Confirmé)… », the field
    « Signalé, Confirmé, … »: both say the French labels once the layer has answered."""
    log_in(page, served_app, "cross13_analyst")
    answered = _open_map(page, served_app, "/carte/?departement=13&status=zzz")
    assert answered.status == 400
    map_settled(page)  # the 400 handled by the page
    area = page.locator("#map-filter-errors").inner_text()
    field = page.locator("#id_status-desc-error").inner_text()
    assert "Valeur inconnue (valeurs acceptées : Signalé, Confirmé," in area
    assert "reported" not in area and "confirmed" not in area
    assert "Valeur inconnue (valeurs acceptées : Signalé, Confirmé," in field
    assert page.locator("#dealpoints-map .dealpoints-marker").count() == 0


def test_the_map_filters_are_check_boxes(page, served_app):
    """Statut, Produit and Mode de distribution were multiple selects (Ctrl+click, « Drive
    (vente depuis un véh… » cut off): check boxes, chosen with a click, whose labels show
    whole; the map's layer then receives them."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    _open_filters(page)
    form = page.locator("#map-filters")
    assert form.locator("select").count() == 0
    drive = form.get_by_label("Drive (vente depuis un véhicule)")
    assert drive.get_attribute("type") == "checkbox"
    form.get_by_text("Drive (vente depuis un véhicule)").click()
    form.get_by_text("Confirmé", exact=True).click()
    form.get_by_text("Signalé", exact=True).click()
    # The filtered page's request to the layer (the unfiltered page may still be asking for
    # the département's bounds after the click: CI on PostgreSQL caught one such answer); the
    # wait fails if the filters never reach the layer.
    with page.expect_request(
        lambda request: "/api/v1/map/dealpoints/" in request.url and "channel=" in request.url,
        timeout=30_000,
    ) as sent:
        form.get_by_role("button", name="Appliquer les filtres").click()
    for part in ("status=confirmed", "status=reported", "channel=drive"):
        assert part in sent.value.url
    assert sent.value.response().status == 200
    # The map stays on the Bouches-du-Rhône.
    assert "departement=13" in page.url
    assert form.get_by_label("Drive (vente depuis un véhicule)").is_checked()
    assert page.console_errors == []


def test_a_prefecture_keeps_its_single_status(page, served_app):
    log_in(page, served_app, "prefecture_13")
    page.goto(f"{served_app.url}/carte/?departement=13")
    status = page.locator("#map-filters").get_by_label("Statut")
    assert page.locator("#map-filters select[name=status]").count() == 1
    assert status.get_attribute("multiple") is None
    # « Tous les statuts » was offered twice.
    assert status.locator("option", has_text="Tous les statuts").count() == 1


def _zoom_asked(response) -> str:
    match = re.search(r"[?&]zoom=(\d+)", response.url)
    assert match is not None, response.url
    return match.group(1)


def test_applying_the_filters_keeps_the_zoom_and_the_place(page, served_app):
    """« Appliquer les filtres » reloaded the map on the whole département at zoom 9: a
    prefecture that had zoomed out read other hexagons, other numbers (an audit). The view
    travels in the address's fragment, which the server never receives."""
    log_in(page, served_app, "prefecture_13")
    layer = "/api/v1/map/dealpoints/"
    with page.expect_response(lambda response: layer in response.url, timeout=30_000) as first:
        page.goto(f"{served_app.url}/carte/?departement=13")
    start = int(_zoom_asked(first.value))
    with page.expect_response(lambda response: layer in response.url, timeout=30_000) as out:
        page.locator("#dealpoints-map .leaflet-control-zoom-out").click()
    zoom = _zoom_asked(out.value)
    assert int(zoom) == start - 1
    assert f"#{zoom}/" in page.url
    _open_filters(page)
    form = page.locator("#map-filters")
    form.get_by_label("Statut").select_option("confirmed")
    with page.expect_response(
        lambda response: layer in response.url and "status=confirmed" in response.url,
        timeout=30_000,
    ) as filtered:
        form.get_by_role("button", name="Appliquer les filtres").click()
    assert _zoom_asked(filtered.value) == zoom
    assert "#" not in filtered.value.url
    # « Effacer » keeps it too.
    clear = page.locator("#map-filters-clear")
    for _ in range(50):
        if f"#{zoom}/" in (clear.get_attribute("href") or ""):
            break
        page.wait_for_timeout(100)
    assert f"#{zoom}/" in (clear.get_attribute("href") or "")
    assert page.console_errors == []


def test_applying_the_filters_keeps_the_layers_switched_on(page, served_app):
    """A new user's audit: the reports and the operations switched on, « Appliquer les
    filtres » (or « Effacer ») came back with the deal points alone. The layers shown travel
    in the fragment with the view; a view typed in the address bar of the open page is
    shown too."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    map_settled(page)
    page.get_by_role("checkbox", name="Signalements").check()
    page.get_by_role("checkbox", name="Quartiers prioritaires (QPV)").check()
    page.get_by_role("checkbox", name="Communes et arrondissements").uncheck()
    map_settled(page)
    assert page.url.endswith("/dealpoints,departements,qpv,reports")
    _open_filters(page)
    form = page.locator("#map-filters")
    form.get_by_text("Confirmé", exact=True).click()
    with page.expect_response(
        lambda response: "/api/v1/map/reports/" in response.url, timeout=30_000
    ) as reports:
        form.get_by_role("button", name="Appliquer les filtres").click()
    assert reports.value.status == 200
    assert "status=confirmed" in page.url
    map_settled(page)
    assert page.get_by_role("checkbox", name="Signalements").is_checked()
    assert page.get_by_role("checkbox", name="Quartiers prioritaires (QPV)").is_checked()
    assert not page.get_by_role("checkbox", name="Communes et arrondissements").is_checked()
    assert page.get_by_role("checkbox", name="Points de deal").is_checked()
    clear = page.locator("#map-filters-clear")
    assert (clear.get_attribute("href") or "").endswith("/dealpoints,departements,qpv,reports")
    # Typed in the address bar: the view and the layers follow, without a reload.
    centre = page.url.split("#")[1].split("/")
    page.evaluate(f"window.location.hash = '#15/{centre[1]}/{centre[2]}/dealpoints,operations'")
    page.get_by_role("checkbox", name="Opérations").wait_for(state="attached")
    for _ in range(50):
        if page.get_by_role("checkbox", name="Opérations").is_checked():
            break
        page.wait_for_timeout(100)
    assert page.get_by_role("checkbox", name="Opérations").is_checked()
    assert not page.get_by_role("checkbox", name="Signalements").is_checked()
    map_settled(page)
    assert page.url.split("#")[1].startswith("15/")
    # Opened on a view without the deal points: the answer to their first request (asked as
    # the view was set, before the layers were) is not drawn, nor listed under the map.
    page.goto(f"{served_app.url}/carte/?departement=13#11/43.30000/5.38000/communes,reports")
    map_settled(page)
    assert not page.get_by_role("checkbox", name="Points de deal").is_checked()
    assert page.get_by_role("checkbox", name="Signalements").is_checked()
    table = page.locator("#map-table tbody").inner_text()
    assert "Points de deal" not in table
    assert page.locator("#dealpoints-map .dealpoints-hexagon--dealpoints").count() == 0
    # Switched on, they are drawn and listed there (the view holds some).
    page.get_by_role("checkbox", name="Points de deal").check()
    map_settled(page)
    assert "Points de deal" in page.locator("#map-table tbody").inner_text()
    assert page.console_errors == []


def test_a_misspelt_filter_draws_nothing_and_is_said_once(page, served_app):
    """`/carte/?statut=confirmed` drew every point; then, refused by the layer, the line under
    the map read as a failure (« n'a pas pu être chargée »). The page says the filter above
    the map, and the map draws no point."""
    log_in(page, served_app, "cross13_analyst")
    answered = _open_map(page, served_app, "/carte/?departement=13&statut=confirmed")
    assert answered.status == 400
    assert "statut=confirmed" in answered.url
    map_settled(page)
    assert "Filtre inconnu : « statut »" in page.locator("#map-filter-errors").inner_text()
    assert page.locator("#map-status").inner_text() == ""
    assert page.locator("#dealpoints-map .dealpoints-hexagon--dealpoints").count() == 0
    assert page.locator("#dealpoints-map .dealpoints-marker--dealpoint").count() == 0
    errors = [error for error in page.console_errors if "status of 400" not in error]
    assert errors == []


def test_a_parameter_given_twice_stays_said_as_the_map_draws(page, served_app):
    """The page said « Paramètre répété » of `?departement=13&departement=69`, and the map's
    script cleared it as soon as the points drew (review)."""
    log_in(page, served_app, "cross13_analyst")
    answered = _open_map(page, served_app, "/carte/?departement=13&departement=69")
    assert answered.status == 200
    map_settled(page)
    said = page.locator("#map-filter-errors")
    assert said.is_visible()
    assert "Paramètre répété : une seule valeur est attendue." in said.inner_text()
    # Two starts of the period: both sent, the layer refuses them, nothing is drawn.
    answered = _open_map(page, served_app, "/carte/?active_from=2026-11-01&active_from=2026-12-01")
    assert answered.status == 400
    map_settled(page)
    assert "Paramètre répété" in page.locator("#map-filter-errors").inner_text()
    assert page.locator("#dealpoints-map .dealpoints-marker--dealpoint").count() == 0
    errors = [error for error in page.console_errors if "status of 400" not in error]
    assert errors == []


def test_an_empty_map_says_so_and_what_to_do(page, served_app):
    """Filters that select no point drew an empty map, an empty status line and a table whose
    only cell was « — »: a new user could not tell an empty result from a map still loading
    or broken. Both now say there is nothing in this view, and what to do."""
    log_in(page, served_app, "cross13_analyst")
    answered = _open_map(page, served_app, "/carte/?departement=13&active_to=01/01/2001")
    assert answered.status == 200
    table = page.locator("#map-table tbody")
    empty = "Aucun élément dans cette vue de la carte : déplacez la carte, dézoomez ou modifiez"
    for _step in range(100):
        if empty in table.inner_text():
            break
        page.wait_for_timeout(200)
    assert empty in table.inner_text()
    assert page.locator("#map-status").inner_text() == (
        "Aucun point de deal dans cette vue de la carte : déplacez la carte, dézoomez ou "
        "modifiez les filtres."
    )
    # A map with points in view says nothing of the kind.
    page.goto(f"{served_app.url}/carte/?departement=13")
    rows = page.locator("#map-table tbody tr td:first-child", has_text="Points de deal")
    assert _wait_for_count(page, rows, 1) >= 1
    assert page.locator("#map-status").inner_text() == ""
    assert page.console_errors == []


# A report accepted in Tarascon, far from every point, clustered into a proposal of a new
# point; a point 640 m east of it opens the map at the street.
TARASCON = """
from cartostup.access.demo import demo_persona_ensure
from cartostup.dealpoints import flows, services
from cartostup.reports import services as report_services
from cartostup.reports.choices import Channel
analyst = demo_persona_ensure(username="cross13_analyst")
point = services.dealpoint_create(
    actor=analyst,
    data=services.DealPointInput(latitude=43.8060, longitude=4.6680, name="Essai Tarascon",
                                 products=["cannabis"]),
)
submitted = report_services.report_submit_public(
    data=report_services.ReportInput(
        latitude=43.8060, longitude=4.6600, precision="building", place_label="Tarascon",
        activities=["selling"], products=["crack"], days=["sat"], times_of_day=["night"],
        people_count="1-2", description="Vente au pied de l'immeuble.",
    ),
    channel=Channel.WEB,
)
report_services.report_accept(actor=analyst, report=submitted.report)
[proposal] = [p for p in flows.reports_cluster() if p.reports.filter(pk=submitted.report.pk)]
print("TARASCON", point.pk, proposal.pk, proposal.commune.name)
"""


def test_a_proposal_on_the_map_says_where_it_is_and_leads_to_creating_the_point(page, served_app):
    """A proposal's marker and row said « Proposition de nouveau point 123 », its id, and led
    to the top of the matching queue. They now say where it is and how precisely, and lead to
    the page creating the point from it, and to its item in the queue."""
    line = next(
        line
        for line in served_app.manage("shell", "-c", TARASCON).splitlines()
        if line.startswith("TARASCON ")
    )
    point_pk, proposal_pk, place = line.split(maxsplit=3)[1:]
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13&point={point_pk}")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    page.keyboard.press("Escape")
    page.get_by_role("checkbox", name="Propositions à examiner").check()
    marker = page.locator("#dealpoints-map .dealpoints-marker--proposal")
    assert _wait_for_count(page, marker, 1) == 1
    title = marker.get_attribute("title") or ""
    # "\/": a slash would end the regular expression Playwright passes to its selector.
    described = rf"{re.escape(place)}, Immeuble, créée le \d{{2}}\/\d{{2}}\/\d{{4}}"
    assert re.fullmatch(rf"Proposition de nouveau point – {described}", title), title
    assert proposal_pk not in title
    accept = f"/rapprochements/propositions/{proposal_pk}/creer/"
    row = page.locator("#map-table").get_by_role(
        "link", name=re.compile(rf"^Créer le point proposé \({described}\)$")
    )
    assert row.get_attribute("href") == accept
    # From the keyboard, the marker's popup offers both ways.
    marker.focus()
    page.keyboard.press("Enter")
    popup = page.locator("#dealpoints-map .leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert (
        popup.get_by_role(
            "link", name="Créer le point à partir de cette proposition"
        ).get_attribute("href")
        == accept
    )
    queue = popup.get_by_role("link", name="Voir cette proposition dans la file des rapprochements")
    assert queue.get_attribute("href") == (
        f"/rapprochements/?focus=proposal-{proposal_pk}#proposal-{proposal_pk}"
    )
    row.click()
    page.wait_for_url(re.compile(rf".*{re.escape(accept)}$"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Créer")
    assert page.console_errors == []


def test_the_qpv_layer_says_when_no_neighbourhood_is_loaded(page, served_app):
    """Switched on where no priority neighbourhood is imported (the demo: the official file
    comes from the ANCT, `manage.py import_qpv`), the QPV layer drew nothing and said nothing."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/carte/?departement=13")
    hexagons = page.locator("#dealpoints-map path.dealpoints-hexagon--dealpoints")
    assert _wait_for_count(page, hexagons, 1) >= 1
    status = page.locator("#map-status")
    assert "quartier prioritaire" not in status.inner_text()
    page.get_by_role("checkbox", name="Quartiers prioritaires (QPV)").check()
    page.get_by_text(
        "Aucun quartier prioritaire (QPV) n’est importé sur cette plateforme"
    ).wait_for(timeout=10_000)
    assert page.console_errors == []


# An estate in Villeurbanne (seven adjacent res 9 cells, five points each) amid single points
# scattered over Lyon, for the CROSS of the Rhône (whose map no other test reads): a hotspot
# of seven cells, as the audit met in Aix-en-Provence.
LYON_ESTATE = """
import random
import h3
from cartostup.access.demo import demo_persona_ensure
from cartostup.dealpoints import services
analyst = demo_persona_ensure(username="cross69_analyst")
centre = h3.latlng_to_cell(45.7719, 4.8902, 9)
places = []
for cell in sorted(h3.grid_disk(centre, 1)):
    latitude, longitude = h3.cell_to_latlng(cell)
    places += [(latitude + offset, longitude) for offset in (-0.0004, -0.0002, 0, 0.0002, 0.0004)]
rng = random.Random(3)
singles = set()
while len(singles) < 30:
    cell = h3.latlng_to_cell(45.70 + rng.random() * 0.12, 4.78 + rng.random() * 0.16, 9)
    if h3.grid_distance(cell, centre) > 4 and not any(o in singles for o in h3.grid_disk(cell, 2)):
        singles.add(cell)
places += [h3.cell_to_latlng(cell) for cell in sorted(singles)]
for index, (latitude, longitude) in enumerate(places):
    services.dealpoint_create(
        actor=analyst,
        data=services.DealPointInput(latitude=latitude, longitude=longitude,
                                     name=f"Essai Lyon {index}", products=["cannabis"]),
    )
print("LYON", len(places))
"""

HOTSPOT_DETAIL = re.compile(
    r"^z (?P<z>-?\d+,\d{2}) ; p (?P<p>< 0,001|0,\d+) ; centre \d{1,2},\d{4}° [NS], "
    r"\d{1,3},\d{4}° [EO]$"
)


@pytest.fixture(scope="module")
def lyon_estate(served_app) -> None:
    served_app.manage("shell", "-c", LYON_ESTATE)


def test_hotspot_rows_are_told_apart_and_written_the_french_way(page, served_app, lyon_estate):
    """User audit: seven rows read « Hexagone – Aix-en-Provence | 5 éléments » with nothing to
    tell them apart, a very small p-value read « p 0 » and z an English « 3.64 ». Each row is
    now numbered within its commune, strongest first, and placed by its centre; z and p are
    written with a decimal comma, and a p below 0.001 « p < 0,001 »."""
    log_in(page, served_app, "cross69_analyst")
    page.goto(f"{served_app.url}/carte/?departement=69")
    map_settled(page)
    with page.expect_response(
        lambda response: "/api/v1/map/hotspots/" in response.url, timeout=30_000
    ) as answered:
        page.get_by_role("checkbox", name="Points chauds (Gi*)").check()
    assert answered.value.status == 200
    # The API keeps JSON numbers; only the page writes them the French way.
    sent = [
        feature["properties"]
        for feature in answered.value.json()["features"]
        if feature["properties"]["class"] != "not_significant"
    ]
    assert len(sent) >= 7
    assert all(isinstance(p["z"], float) and isinstance(p["p"], float) for p in sent)
    rows = page.locator("#map-table tbody tr").filter(has_text=re.compile("Point (chaud|froid)"))
    assert _wait_for_count(page, rows, len(sent)) == len(sent)
    cells = [rows.nth(index).locator("td").all_inner_texts() for index in range(rows.count())]
    names = [row[1] for row in cells]
    assert len(set(names)) == len(names), names
    assert any(re.search(r"\(1 sur \d+\)$", name) for name in names), names
    details = [HOTSPOT_DETAIL.match(row[3]) for row in cells]
    assert all(details), [row[3] for row in cells]
    assert any(detail["p"] == "< 0,001" for detail in details if detail)
    # Hot cells first, the strongest first.
    z_values = [float(detail["z"].replace(",", ".")) for detail in details if detail]
    hot = [z for row, z in zip(cells, z_values, strict=True) if row[0] == "Point chaud"]
    assert hot and hot == sorted(hot, reverse=True)
    assert "." not in " ".join(row[3] for row in cells)
    assert page.console_errors == []
