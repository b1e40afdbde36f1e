"""The map page (/carte/) and its side panel: who gets them, what the page offers each role,
what the panel shows (a landlord only its reduced view)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from cartostup.access.choices import Distribution
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import services
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.test_map_api import BUILDING, MapWorld, build_world


@pytest.fixture
def world(persona) -> MapWorld:
    return build_world(persona)


pytestmark = pytest.mark.django_db


def _config(response) -> dict:
    text = response.content.decode()
    start = text.index('data-config="') + len('data-config="')
    return json.loads(html.unescape(text[start : text.index('"', start)]))


def test_analyst_page_offers_every_layer(world: MapWorld, client_for):
    response = client_for("cross13_analyst").get(reverse("dealpoints:map"), {"departement": "13"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Carte des points de deal" in page
    assert "leaflet/leaflet.js" in page and "dealpoints/map.js" in page
    assert "<script>" not in page and " style=" not in page and "onclick" not in page
    config = _config(response)
    assert set(config["api"]) == {
        "dealpoints", "boundaries", "reports", "proposals", "operations", "hotspots"
    }  # fmt: skip
    assert config["focusDepartement"] == "13" and config["boundaryDepartements"] == ["13"]
    assert config["createUrl"] and "proposalsUrl" not in config
    assert config["panelUrl"] == "/carte/panneau/{pk}/"
    assert 'name="product"' in page and 'name="active_from"' in page
    # Text alternative and legend.
    assert 'id="map-table"' in page and "Signalé" in page


def test_the_filters_keep_the_departement_the_map_is_on(world, client_for):
    """« Appliquer les filtres » and « Effacer » kept only the filters: the map of the
    Bouches-du-Rhône went back to the whole of the analyst's territory."""
    page = (
        client_for("cross13_analyst")
        .get(reverse("dealpoints:map"), {"departement": "13", "status": "confirmed"})
        .content.decode()
    )
    start = page.index('id="map-filters"')
    form = page[start : page.index("</form>", start)]
    assert '<input type="hidden" name="departement" value="13">' in form
    assert 'href="/carte/?departement=13">Effacer' in form
    page = client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode()
    start = page.index('id="map-filters"')
    form = page[start : page.index("</form>", start)]
    assert 'name="departement"' not in form and 'href="/carte/">Effacer' in form


def test_creating_a_point_from_the_map_does_not_need_a_mouse(world, client_for):
    """« Créer un point ici » answers a click on the map; a link under it creates a point at
    the map's centre (map.js keeps its position), for those who may create points only."""
    page = client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode()
    assert 'id="map-create-centre" href="/points-de-deal/nouveau/"' in page
    assert "Créer un point au centre de la carte" in page
    for username in ("police13_investigator", "prefecture_13", "landlord_13h"):
        page = client_for(username).get(reverse("dealpoints:map")).content.decode()
        assert "map-create-centre" not in page, username


def test_prefecture_page_offers_aggregates_only(world, client_for):
    response = client_for("prefecture_13").get(reverse("dealpoints:map"))
    assert response.status_code == 200
    config = _config(response)
    assert set(config["api"]) == {"dealpoints", "boundaries", "operations", "hotspots"}
    assert config["createUrl"] == "" and "proposals" not in config["api"]
    assert "jamais les points eux-mêmes" in response.content.decode()
    # Counts are filtered by status only (a finer filter would single a point out).
    page = response.content.decode()
    assert 'name="status"' in page and page.count("Tous les statuts") == 1
    status_select = page[page.index('name="status"') - 200 : page.index('name="status"') + 50]
    assert "multiple" not in status_select
    assert 'name="product"' not in page and 'name="active_from"' not in page


def test_landlord_page(world, client_for):
    config = _config(client_for("landlord_13h").get(reverse("dealpoints:map")))
    assert set(config["api"]) == {"dealpoints", "boundaries"}
    # It opens on the landlord's own buildings (the only places it sees points), not on the
    # whole département; the list of buildings read is audited.
    assert config["startBounds"] == [list(BUILDING), list(BUILDING)]
    event = AuditEvent.objects.filter(object_type="access.building").latest("pk")
    assert event.action == "list" and event.actor_username == "landlord_13h"
    # Its panels and links name points by partner code, never by id.
    assert config["panelUrl"] == "/carte/panneau/code/{pk}/"
    point = world.landlord_point
    typed = point.partner_code.replace("-", "").lower()
    linked = _config(client_for("landlord_13h").get(reverse("dealpoints:map"), {"point": typed}))
    assert linked["point"] == point.partner_code
    by_id = _config(client_for("landlord_13h").get(reverse("dealpoints:map"), {"point": point.pk}))
    assert by_id["point"] == ""
    analyst = _config(client_for("cross13_analyst").get(reverse("dealpoints:map"), {"point": "7"}))
    assert analyst["point"] == "7" and analyst["panelUrl"] == "/carte/panneau/{pk}/"
    # A review: the landlord read « déplacez la carte, dézoomez » where its points show at
    # every zoom; the page now says what it sees, and why a view may be empty.
    page = html.unescape(client_for("landlord_13h").get(reverse("dealpoints:map")).content.decode())
    assert "Vous voyez les points de deal situés sur vos bâtiments, à tous les zooms" in page
    assert "Aucun point de deal de vos bâtiments dans cette vue de la carte" in page
    assert "dézoomez" not in page


def test_a_reversed_period_is_said_next_to_the_fields(world, client_for):
    """The layer answers 400 (map.js writes it in the form's error area); the page says it
    at once, next to the end of the period and in that area (role="alert")."""
    response = client_for("cross13_analyst").get(
        reverse("dealpoints:map"), {"active_from": "2026-12-31", "active_to": "2026-01-01"}
    )
    page = response.content.decode()
    assert 'id="id_active_to-desc-error"' in page
    start = page.index('id="map-filter-errors"')
    area = page[start - 120 : page.index("</ul>", start)]
    assert 'role="alert"' in area and "hidden" not in area
    assert "Actif jusqu&#x27;au : La fin de la période précède son début." in area
    # What map.js needs to name the fields of a layer's 400.
    assert _config(response)["filterLabels"]["active_to"] == "Actif jusqu'au"


def test_the_period_fields_are_date_inputs_and_read_french_dates(world, client_for):
    """Like the list's: calendars. A hand-made link's 01/11/2026 is shown by the date input
    and sent to the layers as the ISO date they read."""
    response = client_for("cross13_analyst").get(
        reverse("dealpoints:map"), {"departement": "13", "active_from": "01/11/2026"}
    )
    page = response.content.decode()
    field = page[page.index('name="active_from"') - 200 : page.index('name="active_from"') + 200]
    assert 'type="date"' in field and 'value="2026-11-01"' in field
    assert (
        'type="date"' in page[page.index('name="active_to"') - 200 : page.index('name="active_to"')]
    )
    assert _config(response)["filters"] == {"active_from": ["2026-11-01"]}
    assert 'id="map-filter-errors"' in page and "Date invalide" not in page
    invalid = client_for("cross13_analyst").get(
        reverse("dealpoints:map"), {"active_from": "32/11/2026"}
    )
    message = "Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ)."
    assert f"Actif à partir du : {message}" in html.unescape(invalid.content.decode())


def test_filter_error_area_is_ready_and_hidden_when_all_is_well(world, client_for):
    page = client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode()
    area = page[page.index('id="map-filter-errors"') - 120 : page.index('id="map-filter-errors"')]
    assert 'role="alert"' in area
    assert page[page.index('id="map-filter-errors"') :].split(">", 1)[0].endswith("hidden")
    assert 'data-not-found-message="Point de deal introuvable' in page


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("prefecture_13", "Ce filtre n&#x27;est pas ouvert aux comptes agrégés."),
        ("landlord_13h", "Ce filtre n&#x27;est pas ouvert à votre vue des points de deal."),
    ],
)
def test_a_refused_filter_in_the_link_is_said(world, client_for, username, message):
    """The form offers only the allowed filters; one in a hand-made link (which map.js would
    send the layer) is said, as the layer's 400 says it."""
    page = (
        client_for(username)
        .get(reverse("dealpoints:map"), {"product": "crack", "departement": "13"})
        .content.decode()
    )
    assert 'name="product"' not in page and 'name="channel"' not in page
    assert f"Produit : {message}" in page
    # The département focuses the map: not a filter map.js sends, never refused here.
    start = page.index('id="map-filter-errors"')
    assert "Département" not in page[start : page.index("</ul>", start)]


@pytest.mark.parametrize("username", ["cross13_analyst", "prefecture_13", "landlord_13h"])
def test_a_misspelt_filter_in_the_link_is_said_and_refused_by_the_layer(
    world, client_for, username
):
    """`/carte/?statut=confirmed` drew every point and said nothing, where the list, the
    export and the layer refuse the parameter. The page says it, and sends it to the
    dealpoints layer (whose 400 leaves the map empty rather than drawn unfiltered)."""
    client = client_for(username)
    response = client.get(
        reverse("dealpoints:map"), {"statut": "confirmed", "departement": "13", "point": "1"}
    )
    page = response.content.decode()
    start = page.index('id="map-filter-errors"')
    said = page[start : page.index("</ul>", start)]
    assert "Filtre inconnu : « statut ». Choisissez les filtres dans le formulaire" in said
    assert "departement" not in said and "« point »" not in said
    config = _config(response)
    assert config["filters"] == {"statut": ["confirmed"]}
    assert config["pageFilterErrors"] is True
    # What map.js then asks, the layer refuses.
    query = {"bbox": "5.2,43.2,5.6,43.4", "zoom": "12", "statut": "confirmed"}
    layer = client.get(reverse("map-dealpoints"), query)
    assert layer.status_code == 400
    assert layer.json()["errors"] == {"statut": ["Paramètre inconnu."]}
    # The same page without it says nothing.
    plain = client.get(reverse("dealpoints:map"), {"departement": "13"}).content.decode()
    assert "Filtre inconnu" not in plain


def test_a_parameter_given_twice_is_said_not_half_read(world, client_for):
    """`?active_from=…&active_from=…` applied the last, `?departement=13&departement=69` said
    69 and dropped 13, and `?status=confirmed&status=confirmed` was summed up « Confirmé,
    Confirmé » (review): a single parameter given twice is said as the API says it, a value
    given twice is one."""
    client = client_for("cross13_analyst")
    url = reverse("dealpoints:map")
    response = client.get(
        f"{url}?active_from=2026-11-01&active_from=2026-12-01&departement=13&departement=69"
    )
    page = response.content.decode()
    start = page.index('id="map-filter-errors"')
    said = page[start : page.index("</ul>", start)]
    assert "Actif à partir du : Paramètre répété : une seule valeur est attendue." in said
    assert "Département (code) : Paramètre répété : une seule valeur est attendue." in said
    assert _config(response)["pageFilterErrors"] is True
    # Both starts go to the layers, which refuse them (the last one was drawn).
    assert _config(response)["filters"]["active_from"] == ["2026-11-01", "2026-12-01"]
    # Opened on neither département (it opened on the last one while saying it was refused).
    assert _config(response)["boundaryDepartements"] != ["69"]
    assert "inconnu ou hors de votre territoire" not in page
    points = client.get(f"{url}?departement=13&point=1&point=2").content.decode()
    assert "Paramètre « point » répété : une seule valeur est attendue." in points
    twice = client.get(f"{url}?status=confirmed&status=confirmed&departement=13")
    assert _config(twice)["filters"] == {"status": ["confirmed"]}
    assert 'id="map-filters-summary">Filtres appliqués : Statut : Confirmé</p>' in (
        twice.content.decode()
    )
    plain = client.get(url, {"departement": "13"}).content.decode()
    assert "Paramètre répété" not in plain


def test_other_roles_open_on_their_territory(world, client_for):
    for username in ("cross13_analyst", "prefecture_13"):
        assert _config(client_for(username).get(reverse("dealpoints:map")))["startBounds"] is None


@pytest.mark.parametrize("username", ["caller_operator", "auditor", "admin"])
def test_map_page_refused_without_the_capability(client_for, username):
    assert client_for(username).get(reverse("dealpoints:map")).status_code == 404


def test_map_page_of_an_unseen_or_unknown_departement_opens_on_the_territory(client_for):
    """A hand-made link answered « Page introuvable » (new-user audit): the map opens on the
    actor's whole territory and says why, alike for a département outside it and for one that
    does not exist (so it tells nothing of either)."""
    client = client_for("prefecture_93")
    for asked in ("13", "zz"):
        response = client.get(reverse("dealpoints:map"), {"departement": asked})
        assert response.status_code == 200
        assert _config(response)["focusDepartement"] == ""
        page = html.unescape(response.content.decode())
        assert (
            f"Département « {asked} » inconnu ou hors de votre territoire : la carte s'ouvre "
            "sur tout votre territoire." in page
        )


def test_panel_for_an_analyst(world, client_for, persona):
    point = world.points_13[1]
    before = AuditEvent.objects.count()
    response = client_for("cross13_analyst").get(reverse("dealpoints:map_panel", args=[point.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert point.reference in page and "Point 1" in page
    assert f"/points-de-deal/{point.pk}/" in page
    assert "Opérations" in page and "Cannabis" in page
    # The hours as the record says them (it wrote « Vendredi, soirée (18 h – 0 h) »).
    assert "Vendredi soirée" in page and "Vendredi, soirée" not in page
    # Its status in the colours of the list and the record (the class the panel used was
    # styled nowhere): defined by a style sheet the map page links.
    badge = f'dealpoint-status dealpoint-status--{point.status}">{point.get_status_display()}<'
    assert badge in page
    map_page = client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode()
    sheets = re.findall(r'<link rel="stylesheet" href="/static/([^"]+)"', map_page)
    found = [finders.find(sheet) for sheet in sheets]
    styles = "".join(Path(path).read_text() for path in found if isinstance(path, str))
    assert f".dealpoint-status--{point.status} {{" in styles
    # Its marking, wherever it is shown (TLP practice).
    assert f'<span class="fr-sr-only">Marquage : </span>{point.get_marking_display()}</p>' in page
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    assert event.action == "view" and event.details["reference"] == point.reference


def test_panel_for_a_landlord_is_reduced(world, client_for):
    point = world.landlord_point
    client = client_for("landlord_13h")
    # Reached by its partner code; its id, a sequence, answers as an absent point.
    assert client.get(reverse("dealpoints:map_panel", args=[point.pk])).status_code == 404
    response = client.get(reverse("dealpoints:map_panel_by_code", args=[point.partner_code]))
    assert response.status_code == 200
    page = response.content.decode()
    assert point.partner_code in page and "Tour 7" in page
    assert point.reference not in page
    # No name, address, products, counts or link to the full record; the building's position.
    assert "Point 0" not in page and "Cannabis" not in page and "Opérations" not in page
    assert "/points-de-deal/" not in page and "Marquage" not in page
    assert f'data-latitude="{BUILDING[0]:f}"' in page
    assert f"{point.latitude:f}" not in page


@pytest.mark.parametrize("username", ["landlord_13l", "prefecture_13", "cross93_analyst"])
def test_panel_of_a_point_not_seen_is_404(world, client_for, username):
    response = client_for(username).get(
        reverse("dealpoints:map_panel", args=[world.points_13[1].pk])
    )
    assert response.status_code == 404


def test_panel_of_a_merged_point_names_the_point_it_went_into(world, client_for, persona):
    """/carte/?point=<a merged point> showed an ordinary record. It says « Fusionné dans
    PD-… » with a link to that point on the map, the point named is audited; one who may
    not see that point reads « Fusionné dans un autre point », never its reference."""
    analyst = persona("cross13_analyst")
    source, target = world.points_13[5], world.points_13[6]
    services.dealpoint_merge(actor=analyst, source=source, target=target)
    response = client_for("cross13_analyst").get(reverse("dealpoints:map_panel", args=[source.pk]))
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert f'Fusionné dans <a href="/carte/?point={target.pk}">{target.reference}</a>' in page
    event = AuditEvent.objects.latest("pk")
    assert event.action == "list" and event.details["points"] == [target.reference]
    assert event.details["point"] == source.reference

    # The target kept within the CROSS: the police still sees the source, not the target.
    DealPoint.objects.filter(pk=source.pk).update(distribution=Distribution.TERRITORY)
    DealPoint.objects.filter(pk=target.pk).update(distribution=Distribution.CROSS)
    police = client_for("police13_investigator")
    assert police.get(reverse("dealpoints:map_panel", args=[target.pk])).status_code == 404
    hidden = police.get(reverse("dealpoints:map_panel", args=[source.pk]))
    assert hidden.status_code == 200
    text = html.unescape(hidden.content.decode())
    assert "Fusionné dans un autre point" in text and target.reference not in text


def test_panel_of_a_point_standing_on_its_own_says_no_merge(world, client_for):
    page = client_for("cross13_analyst").get(
        reverse("dealpoints:map_panel", args=[world.points_13[1].pk])
    )
    assert "Fusionné" not in page.content.decode()


def _legend(page: str) -> str:
    start = page.index('class="dealpoints-legend')
    return page[start : page.index("</ul>", start)]


def test_each_legend_shows_only_what_the_role_receives(world, client_for):
    """The landlord's legend showed « Hexagone » (it receives its points one by one at every
    zoom); the prefecture's and the prosecutor's showed the markers of points and operations
    (they receive hexagon counts only)."""
    analyst = _legend(client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode())
    assert "dealpoints-legend__marker--reported" in analyst and "Hexagone" in analyst
    assert "dealpoints-legend__marker--operation" in analyst
    # Each line names its layer (the script shows only those drawn), boundaries included.
    lines = re.findall(r'<li data-layer="(\w+)"', analyst)
    assert set(lines) == {
        "dealpoints",
        "reports",
        "operations",
        "proposals",
        "hotspots",
        "communes",
        "qpv",
        "departements",
    }, lines
    assert "Limite de commune" in analyst and "dealpoints-legend__line--qpv" in analyst
    landlord = _legend(client_for("landlord_13h").get(reverse("dealpoints:map")).content.decode())
    assert "dealpoints-legend__marker--reported" in landlord
    assert "Hexagone" not in landlord and "hexagon" not in landlord
    assert "operation" not in landlord and "Point chaud" not in landlord
    for username in ("prefecture_13", "prosecutor_13"):
        legend = _legend(client_for(username).get(reverse("dealpoints:map")).content.decode())
        assert "dealpoints-legend__marker" not in legend
        assert "Hexagone : nombre de points" in legend
        assert "dealpoints-legend__hexagon--operation" in legend and "Point chaud" in legend


def test_hotspots_take_the_maps_filters_and_say_what_they_count(world, client_for):
    """The map sent the hotspots the period only (« last activity in the period ») and said
    they ignored the status, product and channel filters. They now take the filters the
    dealpoints layer takes (map.js sends `hotspotFilters`, the period renamed), the period
    meaning active during it, and the page says what they count."""
    response = client_for("cross13_analyst").get(
        reverse("dealpoints:map"),
        {
            "departement": "13",
            "active_from": "01/11/2026",
            "active_to": "30/11/2026",
            "product": ["crack", "heroin"],
            "status": "confirmed",
        },
    )
    config = _config(response)
    every = ["status", "product", "channel", "active_from", "active_to"]
    assert config["hotspotFilters"] == every and config["layerFilters"] == every
    assert config["filters"]["active_from"] == ["2026-11-01"]
    assert config["categoryLabels"]["operations"]["raid"].startswith("Opération de harcèlement")
    page = html.unescape(response.content.decode())
    scope = page[page.index('id="map-hotspots-scope"') :].split("</p>", 1)[0]
    assert "points de deal du département actifs entre le 01/11/2026 et le 30/11/2026." in scope
    assert (
        "Filtres appliqués, comme à la couche « Points de deal » : Statut : Confirmé ; "
        "Produit : Crack, Héroïne." in scope
    )
    assert "ne s'appli" not in scope
    whole = html.unescape(
        client_for("cross13_analyst")
        .get(reverse("dealpoints:map"), {"departement": "13"})
        .content.decode()
    )
    scope = whole[whole.index('id="map-hotspots-scope"') :].split("</p>", 1)[0]
    assert "compte les points de deal du département, quelle que soit leur période" in scope
    assert (
        "Elle suit les filtres « Statut », « Produit » et « Mode de distribution » de la carte"
        in scope
    )
    ended = html.unescape(
        client_for("cross13_analyst")
        .get(reverse("dealpoints:map"), {"departement": "13", "active_to": "2026-11-30"})
        .content.decode()
    )
    assert "déjà signalés le 30/11/2026 ou avant." in ended


def test_counts_only_roles_gain_no_filter_for_the_hotspots(world, client_for):
    """A prefecture filters its counts on status only: a period in a hand-made link is
    refused by the dealpoints layer, and sent neither to the hotspots nor to the operations;
    its one status is."""
    client = client_for("prefecture_13")
    response = client.get(
        reverse("dealpoints:map"),
        {"departement": "13", "active_from": "2026-11-01", "active_to": "2026-11-30"},
    )
    config = _config(response)
    assert config["hotspotFilters"] == [] and config["layerFilters"] == ["status"]
    page = html.unescape(response.content.decode())
    scope = page[page.index('id="map-hotspots-scope"') :].split("</p>", 1)[0]
    assert "compte les points de deal du département, quelle que soit" in scope
    assert "Elle suit le filtre « Statut » de la carte" in scope
    with_status = client.get(
        reverse("dealpoints:map"), {"departement": "13", "status": "confirmed"}
    )
    assert _config(with_status)["hotspotFilters"] == ["status"]
    page = html.unescape(with_status.content.decode())
    scope = page[page.index('id="map-hotspots-scope"') :].split("</p>", 1)[0]
    assert "Filtres appliqués, comme à la couche « Points de deal » : Statut : Confirmé." in scope
    # Two statuses in a hand-made link: refused on the page as the layer refuses them, not
    # said applied (the single-choice form kept the last one).
    both = client.get(
        reverse("dealpoints:map"),
        {"departement": "13", "status": ["confirmed", "reported"]},
    )
    assert _config(both)["hotspotFilters"] == [] and _config(both)["pageFilterErrors"]
    page = html.unescape(both.content.decode())
    assert "Les comptes agrégés se filtrent sur un seul statut à la fois." in page
    scope = page[page.index('id="map-hotspots-scope"') :].split("</p>", 1)[0]
    assert "Filtres appliqués" not in scope


def test_the_panel_never_gives_the_commune_as_an_address(world, client_for):
    """A point without an address showed its commune under « Adresse »."""
    point = world.points_13[1]
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:map_panel", args=[point.pk])).content.decode()
    assert "<dt>Adresse</dt><dd>bât. B, cage 2</dd>" in page
    DealPoint.objects.filter(pk=point.pk).update(building_label="", stairwell_label="")
    page = client.get(reverse("dealpoints:map_panel", args=[point.pk])).content.decode()
    assert "<dt>Adresse</dt><dd>—</dd>" in page
    DealPoint.objects.filter(pk=point.pk).update(address="12 rue des Lilas", building_label="C")
    page = client.get(reverse("dealpoints:map_panel", args=[point.pk])).content.decode()
    assert "<dt>Adresse</dt><dd>12 rue des Lilas – bât. C</dd>" in page


def _panel_area(page: str) -> str:
    start = page.index('<aside id="map-panel"')
    return page[start : page.index("</aside>", start)]


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", " 12a "])
def test_a_malformed_point_link_is_said_in_the_panel(client_for, value):
    """`?point=999999` said « Point de deal introuvable… », `?point=abc` nothing at all (the
    panel stayed hidden): a link that names no point is said in the panel, in French."""
    response = client_for("cross13_analyst").get(reverse("dealpoints:map"), {"point": value})
    assert _config(response)["point"] == ""
    panel = html.unescape(_panel_area(response.content.decode()))
    assert " hidden" not in panel.split(">", 1)[0]
    assert f"Lien vers un point invalide : « {value.strip()} » n’est pas un numéro" in panel


def test_a_well_formed_point_link_leaves_the_panel_to_the_script(client_for):
    response = client_for("cross13_analyst").get(reverse("dealpoints:map"), {"point": "42"})
    assert _config(response)["point"] == "42"
    panel = _panel_area(response.content.decode())
    assert " hidden" in panel.split(">", 1)[0] and "invalide" not in panel
    # Too large to be an id: no point has it (a 500 from the panel's lookup otherwise).
    huge = client_for("cross13_analyst").get(reverse("dealpoints:map"), {"point": "9" * 25})
    assert _config(huge)["point"] == ""
    assert "Point de deal introuvable" in html.unescape(_panel_area(huge.content.decode()))


def test_a_landlords_malformed_code_link_is_said(world, client_for):
    response = client_for("landlord_13h").get(reverse("dealpoints:map"), {"point": "zz"})
    assert _config(response)["point"] == ""
    panel = html.unescape(_panel_area(response.content.decode()))
    assert "« zz » n’est pas un code de point de deal" in panel


def test_an_unknown_status_is_said_once_in_french_labels(world, client_for):
    """The error area said the API's « reported (Signalé), confirmed (Confirmé)… » (map.js
    wrote the layer's 400 over the page's), the field « Signalé, Confirmé, … ». The page's
    lines are kept: map.js is told not to replace them."""
    response = client_for("cross13_analyst").get(reverse("dealpoints:map"), {"status": "zzz"})
    page = html.unescape(response.content.decode())
    message = (
        "Valeur inconnue (valeurs acceptées : Signalé, Confirmé, En cours d'enquête, Démantelé, "
        "Déplacé, Résurgent)."
    )
    start = page.index('id="map-filter-errors"')
    assert f"Statut : {message}" in page[start : page.index("</ul>", start)]
    assert message in page[page.index('id="id_status-desc-error"') :]
    assert "reported (" not in page
    assert _config(response)["pageFilterErrors"] is True
    fine = client_for("cross13_analyst").get(reverse("dealpoints:map"), {"status": "reported"})
    assert _config(fine)["pageFilterErrors"] is False


def test_the_map_filters_are_check_boxes_as_on_the_list(client_for):
    """Statut, Produit and Mode de distribution were multiple selects (Ctrl+click, labels cut
    off): check boxes, as the list page has them."""
    page = client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode()
    assert "<select" not in page[: page.index('id="dealpoints-map"')]
    for name, value in (("status", "reported"), ("product", "crack"), ("channel", "drive")):
        assert f'type="checkbox" name="{name}" value="{value}"' in page, name
    selected = client_for("cross13_analyst").get(
        reverse("dealpoints:map"), {"status": ["reported", "confirmed"], "channel": "drive"}
    )
    assert _config(selected)["filters"] == {
        "status": ["reported", "confirmed"],
        "channel": ["drive"],
    }
    checked = selected.content.decode()
    assert re.search(r'type="checkbox" name="status" value="confirmed"[^>]*checked', checked)


def test_every_counted_layer_has_french_names_for_its_breakdown(world, client_for):
    """The proposals layer's hexagons said « open : 1 » in the table under the map and in
    their popup: the page gave map.js the names of the statuses and kinds of operation the
    other layers count, not those of proposals, and map.js wrote the code."""
    config = _config(
        client_for("cross13_analyst").get(reverse("dealpoints:map"), {"departement": "13"})
    )
    counted = set(config["api"]) - {"boundaries", "hotspots"}
    assert counted == {"dealpoints", "reports", "operations", "proposals"}
    assert set(config["categoryLabels"]) == counted
    assert config["categoryLabels"]["proposals"]["open"] == "À examiner"


def test_a_corsican_departement_typed_in_lower_case_opens_its_map(world, client_for):
    """/carte/?departement=2a answered « Page introuvable » to the national Ofast analyst,
    while the list of points takes « 2a » for Corse-du-Sud (its form puts the code in
    capitals). The map reads the code the same way and opens on 2A."""
    client = client_for("ofast_analyst")
    assert client.get(reverse("dealpoints:list"), {"departement": "2a"}).status_code == 200
    response = client.get(reverse("dealpoints:map"), {"departement": "2a"})
    assert response.status_code == 200
    config = _config(response)
    assert config["focusDepartement"] == "2A" and config["boundaryDepartements"] == ["2A"]
    assert 'name="departement" value="2A"' in response.content.decode()


def test_the_page_tells_the_qpv_layer_whether_any_is_imported(world, client_for):
    """The QPV layer drew nothing and said nothing without imported QPV: the page now tells
    map.js whether any is imported, for it to say « none imported » or « none here »."""
    from django.core.management import call_command

    from cartostup.territories import locator
    from cartostup.territories.tests.conftest import QPV_FIXTURE

    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:map"), {"departement": "13"})
    assert _config(page)["qpvImported"] is False
    assert "Aucun quartier prioritaire (QPV) n’est importé sur cette plateforme" in (
        page.content.decode()
    )
    call_command("import_qpv", str(QPV_FIXTURE), verbosity=0)
    try:
        assert _config(client.get(reverse("dealpoints:map")))["qpvImported"] is True
    finally:
        locator.invalidate()


def test_a_counts_only_role_is_told_why_a_view_may_be_empty(world, client_for, settings):
    """A prefecture moving to a quiet district read « Aucun point de deal dans cette vue » (its
    hexagons under the minimum are hidden: there may be points) and, in a hexagon, « autres :
    non détaillés »; the hint said « trois » whatever the setting. Each now says the minimum
    and what to do; an analyst keeps the plain wording."""
    settings.CARTOSTUP_MIN_AGGREGATE = 5
    page = html.unescape(
        client_for("prefecture_13").get(reverse("dealpoints:map")).content.decode()
    )
    assert "les hexagones de moins de 5 éléments ne sont pas affichés" in page
    assert "ceux de moins de 5 points ne sont pas affichés à votre rôle, ni, avec un filtre" in page
    assert "Essayez un autre zoom" in page
    # A review: « Autres statuts (moins de 5 points chacun) » was said of hexagons whose
    # statuses each counted more, and of hexagons listing no status at all.
    assert "Détail par statut non communiqué à votre rôle (il l'est là où chaque statut" in page
    assert "Autres statuts" not in page
    # The page says why a sector seen at one zoom may not be at another.
    assert "un secteur visible à un zoom peut ne pas l'être à un autre" in page
    analyst = html.unescape(
        client_for("cross13_analyst").get(reverse("dealpoints:map")).content.decode()
    )
    assert "Aucun point de deal dans cette vue de la carte" in analyst
    assert "moins de 5" not in analyst
