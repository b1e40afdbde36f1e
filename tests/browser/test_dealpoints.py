"""Deal-point pages in a real browser: an analyst of the CROSS places a new point by clicking
the picker map, ticks its opening hours in the grid, records a raid that dismantles it and reads
the history; a landlord sees only its buildings' points, reduced. No console error (CSP
included)."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _wait_for_value(locator, seconds: float = 10) -> str:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    deadline = time.monotonic() + seconds
    while not locator.input_value() and time.monotonic() < deadline:
        time.sleep(0.2)
    return locator.input_value()


def test_analyst_creates_a_point_on_the_map_and_dismantles_it(page, served_app):
    log_in(page, served_app, "cross13_analyst")
    page.get_by_role("link", name="Points de deal", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/points-de-deal/$"))
    page.get_by_role("link", name="Nouveau point de deal").click()
    page.wait_for_url(re.compile(r".*/points-de-deal/nouveau/$"))

    # The picker draws the département's communes; zoom on Marseille 14e and click there.
    picker = page.locator("#dealpoint-picker")
    picker.locator(".leaflet-boundaries-pane path").first.wait_for(timeout=20_000)
    page.goto(f"{served_app.url}/points-de-deal/nouveau/?latitude=43.3452&longitude=5.3949")
    picker.locator(".leaflet-interactive").first.wait_for(timeout=20_000)
    latitude = page.locator("#id_latitude")
    latitude.fill("")
    picker.click(position={"x": 200, "y": 150})
    assert _wait_for_value(latitude).startswith("43.3")
    assert page.locator("#id_longitude").input_value().startswith("5.3")

    page.get_by_label("Nom d'usage").fill("Four des essais")
    page.locator("label[for='id_opening_hours_fri_evening']").click()
    page.locator("label[for='id_products_0']").click()
    page.get_by_role("button", name="Créer le point de deal").click()
    page.wait_for_url(re.compile(r".*/points-de-deal/\d+/$"))
    assert page.get_by_text(re.compile(r"Point de deal PD-13-\d+ créé\.")).is_visible()
    # The message saying what was done takes the focus (new-user audit: it stayed on the
    # page's body, and the first Tab went back to the top).
    assert _focused(page)["id"] == "messages"
    assert page.get_by_text("Vendredi soirée").is_visible()
    page.locator("#dealpoint-map path.leaflet-interactive").first.wait_for(timeout=20_000)
    # The pin, a stop of the keyboard, is named after the point.
    pin = page.locator('#dealpoint-map path[role="img"]')
    assert re.fullmatch(r"PD-13-\d+", pin.get_attribute("aria-label") or "")
    # Its reference is written beside it, always: a text shown on hover only could be
    # neither dismissed with Escape nor hovered (WCAG 1.4.13, an accessibility review).
    tooltip = page.locator("#dealpoint-map .leaflet-tooltip")
    assert tooltip.is_visible() and tooltip.inner_text() == pin.get_attribute("aria-label")

    form = page.locator("#operation-form")
    form.get_by_label("Type d'opération").select_option("raid")
    form.get_by_label("Résultat").select_option("dismantled")
    form.get_by_label("Personnes interpellées").fill("2")
    form.get_by_role("button", name="Enregistrer l'opération").click()
    page.wait_for_url(re.compile(r".*/points-de-deal/\d+/$"))
    assert page.get_by_text("Le point est désormais démantelé.").is_visible()
    history = page.locator("#history")
    assert history.get_by_text("Signalé → Démantelé").is_visible()

    # Keyed on the wrong point: the raid is cancelled, which undoes its dismantling.
    cancel = page.locator("#operation-cancel-form")
    cancel.get_by_label("Opération à annuler").select_option(index=1)
    cancel.get_by_label("Motif de l'annulation").fill("Saisie sur le mauvais point")
    cancel.get_by_role("button", name="Annuler l'opération").click()
    page.wait_for_url(re.compile(r".*/points-de-deal/\d+/$"))
    assert page.get_by_text(re.compile(r"il est de nouveau « Signalé »")).is_visible()
    assert page.locator("#operations").get_by_text("Annulée", exact=True).is_visible()
    assert history.get_by_text("Démantelé → Signalé").is_visible()
    assert page.console_errors == []


def test_landlord_sees_its_buildings_points_reduced(page, served_app):
    served_app.manage(
        "shell",
        "-c",
        "from cartostup.access.demo import demo_persona_ensure\n"
        "from cartostup.access.models import Building\n"
        "from cartostup.dealpoints import services\n"
        "analyst = demo_persona_ensure(username='cross13_analyst')\n"
        "landlord = demo_persona_ensure(username='landlord_13h')\n"
        "building = Building.objects.filter(owner_organisation__memberships__user=landlord)"
        ".order_by('pk').first()\n"
        "import datetime\n"
        "point = services.dealpoint_create(actor=analyst, data=services.DealPointInput("
        "latitude=building.latitude, longitude=building.longitude, name='Four du bailleur',"
        " building_id=building.pk, products=['cannabis']))\n"
        "services.operation_record(actor=analyst, dealpoint=point, data=services.OperationInput("
        "kind='raid', occurred_on=datetime.date.today()))\n",
    )
    log_in(page, served_app, "landlord_13h")
    page.get_by_role("link", name="Points de deal", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/points-de-deal/$"))
    table = page.locator("#dealpoint-table")
    assert table.get_by_text(re.compile(r"semaine du")).first.is_visible()
    assert page.get_by_text("Four du bailleur").count() == 0
    assert page.get_by_role("columnheader", name="Produits").count() == 0
    assert table.get_by_text(re.compile(r"PD-13-")).count() == 0
    table.get_by_role("link", name=re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}$")).first.click()
    page.wait_for_url(re.compile(r".*/points-de-deal/code/[0-9A-Z]{5}-[0-9A-Z]{5}/$"))
    assert page.locator("#dealpoint-reduced").is_visible()
    assert page.get_by_text("Cannabis").count() == 0
    assert page.console_errors == []


def test_analyst_verifies_a_file_then_imports_it_without_choosing_it_again(page, served_app):
    """« Vérifier sans importer », read the report, then import the very file verified: the
    page carries it back (signed), the file field stays empty."""
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/points-de-deal/importer/")
    content = (
        "reference;name;latitude;longitude;status\n"
        "NAVIGATEUR-1;Four du navigateur;43,3452;5,3949;confirmed\n"
        "NAVIGATEUR-2;Ligne fautive;43,3460;abc;fermé\n"
    ).encode()
    page.get_by_label("Fichier à importer").set_input_files(
        {"name": "carte-cross.csv", "mimeType": "text/csv", "buffer": content}
    )
    page.get_by_role("button", name="Vérifier sans importer").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="1 ligne invalide").is_visible()
    assert page.get_by_text("Statut inconnu").first.is_visible()
    assert page.get_by_text("Le fichier « carte-cross.csv » vérifié ci-dessus").is_visible()

    page.get_by_role(
        "button", name="Importer la ligne valide de ce fichier et ignorer les autres"
    ).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="1 point importé").is_visible()
    assert page.get_by_text("1 ligne invalide a été ignorée.").is_visible()
    page.locator("#import-created").get_by_role("link", name=re.compile(r"^PD-13-\d+$")).click()
    page.wait_for_url(re.compile(r".*/points-de-deal/\d+/$"))
    assert page.get_by_role("heading", name=re.compile("Four du navigateur")).count() >= 1
    assert page.console_errors == []


def _focused(page) -> dict:
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    return page.evaluate(
        "() => { const e = document.activeElement; const row = e.closest('tr');"
        " return {id: e.id, tag: e.tagName, label: e.getAttribute('aria-label') || '',"
        " row: row ? row.id : ''}; }"
    )


def test_analyst_decides_the_queue_item_after_item_from_the_keyboard(page, served_app):
    """After a decision the page reloads: the focus was at the top of the page. It is now on
    the message saying what was decided, and Tab goes on to the next item of the section."""
    served_app.manage(
        "shell",
        "-c",
        "from cartostup.access.demo import demo_persona_ensure\n"
        "from cartostup.dealpoints import flows\n"
        "from cartostup.dealpoints.tests.factories import dealpoint\n"
        "from cartostup.dealpoints.tests.test_flows import report_near\n"
        "analyst = demo_persona_ensure(username='cross13_analyst')\n"
        "dealpoint(actor=analyst, name='Four de la file')\n"
        "for north in (80, 85):\n"
        "    flows.report_match(report=report_near(analyst, north, products=['heroin'],"
        " days=['mon'], place_label=''))\n",
    )
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/rapprochements/")
    rows = page.locator("#links-table tbody tr")
    assert rows.count() >= 2
    first, second = rows.nth(0).get_attribute("id"), rows.nth(1).get_attribute("id")

    rows.nth(0).get_by_role("button", name=re.compile("^Écarter")).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/rapprochements/\?focus={second}#messages$"))
    assert _focused(page)["id"] == "messages"
    assert page.locator("#messages").get_by_text("Rattachement écarté").is_visible()
    page.keyboard.press("Tab")
    assert _focused(page)["row"] == second

    # The next one, the same way: Tab to its « Écarter », Enter.
    row = page.locator(f"#{second}")
    after = row.locator("input[name='focus']").first.input_value()
    for _press in range(8):
        if _focused(page)["label"].startswith("Écarter"):
            break
        page.keyboard.press("Tab")
    assert _focused(page)["row"] == second and _focused(page)["label"].startswith("Écarter")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/rapprochements/\?focus={after}#messages$"))
    assert _focused(page)["id"] == "messages"
    page.keyboard.press("Tab")
    landed = _focused(page)
    if after == "links":  # the section is empty: its heading
        assert landed["id"] == "links"
    else:
        assert landed["row"] == after
    assert page.locator(f"#{first}").count() == 0 and page.locator(f"#{second}").count() == 0
    assert page.console_errors == []
