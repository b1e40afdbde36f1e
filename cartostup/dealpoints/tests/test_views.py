"""Deal-point pages seen as the personas who use them (and those who must not): the list, the
record, the forms and every analyst action."""

from __future__ import annotations

import html
import importlib
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils.html import escape

from cartostup.access.models import Building
from cartostup.access.services import building_create
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.core.tests.test_forms import repeated_headings
from cartostup.dealpoints import flows, services, views
from cartostup.dealpoints.choices import AlertKind, DealPointStatus, EventKind, LinkDecision
from cartostup.dealpoints.models import DealPoint, DealPointEvent, Operation, ReportLink
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint
from cartostup.dealpoints.tests.test_map_views import _config as map_config

pytestmark = pytest.mark.django_db

SAINT_DENIS = (48.9362, 2.3574)


@pytest.fixture
def analyst(persona):
    return persona("cross13_analyst")


@pytest.fixture
def building(persona) -> Building:
    return building_create(
        actor=persona("landlord_13h"),
        name="Résidence des Tilleuls – bâtiment A",
        address="3 rue des Tilleuls, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
    )


@pytest.fixture
def point(analyst, building) -> DealPoint:
    report = accepted_report(analyst=analyst)
    return dealpoint(actor=analyst, reports=[report], building_id=building.pk)


def _page(response) -> str:
    return response.content.decode()


def _post(client, name: str, point: DealPoint, data=None, **kwargs):
    return client.post(reverse(f"dealpoints:{name}", kwargs={"pk": point.pk, **kwargs}), data or {})


# --- list ----------------------------------------------------------------------------------------


def test_analyst_lists_points_with_every_column_and_the_listing_is_audited(client_for, point):
    response = client_for("cross13_analyst").get(
        reverse("dealpoints:list"), {"status": "reported", "product": "cannabis"}
    )
    page = _page(response)
    assert response.status_code == 200
    assert point.reference in page
    assert "Four du bâtiment B" in page
    assert "Cannabis" in page
    assert reverse("dealpoints:detail", args=[point.pk]) in page
    assert "Nouveau point de deal" in page
    listed = AuditEvent.objects.filter(action=AuditAction.LIST, object_type="dealpoints.dealpoint")
    assert listed.count() == 1
    assert listed.get().details["filters"] == {
        "status": "reported",
        "product": "cannabis",
    }


def test_the_point_page_groups_the_turnover_the_french_way(client_for, analyst):
    """« 8000 € » became « 8 000 € »; the reference, the H3 cell and the position, which are
    not quantities, stay ungrouped."""
    point = dealpoint(actor=analyst, estimated_daily_turnover=8000)
    page = _page(client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[point.pk])))
    assert "<td>8\xa0000&nbsp;€</td>" in page and "8000 €" not in page
    assert point.reference in page and point.h3_cell in page
    assert f"{point.latitude:.5f}, {point.longitude:.5f}" in page


def test_list_filters_select_points(client_for, analyst, point):
    other = dealpoint(actor=analyst, name="Drive du parking", channel="drive", products=["cocaine"])
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:list"), {"channel": "drive"}))
    assert other.reference in page
    assert point.reference not in page
    page = _page(client.get(reverse("dealpoints:list"), {"q": "parking"}))
    assert other.reference in page and point.reference not in page


def _map_link(page: str) -> str:
    link = re.search(r'<a [^>]*href="([^"]*)" id="dealpoints-map-link"', page)
    assert link is not None
    return html.unescape(link.group(1))


def test_see_on_the_map_keeps_the_lists_filters(client_for, point):
    """« Voir sur la carte » went to /carte/ whatever the list was filtered on: an analyst
    who had listed the confirmed crack points of the Bouches-du-Rhône saw every point of
    the territory on the map. The link now carries the filters the map applies and the
    département it opens on, never the page number; the others are said beside it."""
    client = client_for("cross13_analyst")
    page = _page(
        client.get(
            reverse("dealpoints:list"),
            {
                "status": ["confirmed", "reported"],
                "product": "crack",
                "active_from": "01/11/2026",
                "departement": "13",
                "page": "2",
            },
        )
    )
    assert _map_link(page) == (
        "/carte/?status=confirmed&status=reported&product=crack&departement=13"
        "&active_from=01%2F11%2F2026"
    )
    assert 'id="dealpoints-map-unapplied"' not in page
    # The map opened by that link applies them (the period read the French way).
    response = client.get(_map_link(page))
    assert response.status_code == 200
    config = map_config(response)
    assert config["focusDepartement"] == "13"
    assert config["filters"] == {
        "status": ["confirmed", "reported"],
        "product": ["crack"],
        "active_from": ["2026-11-01"],
    }
    page = html.unescape(
        _page(client.get(reverse("dealpoints:list"), {"commune": "Marseille", "qpv": "true"}))
    )
    assert _map_link(page) == "/carte/"
    assert (
        "La carte n’applique pas les filtres « Commune (nom, code INSEE ou postal) » et « En "
        "QPV » de la liste : elle peut montrer des points que la liste ne montre pas." in page
    )
    # A département outside the territory is not a place for the map to open on (404).
    page = html.unescape(_page(client.get(reverse("dealpoints:list"), {"departement": "93"})))
    assert _map_link(page) == "/carte/"
    assert "n’applique pas le filtre « Département (code) »" in page
    # Without filters, the plain map.
    assert _map_link(_page(client.get(reverse("dealpoints:list")))) == "/carte/"


def test_a_landlords_link_to_the_map_keeps_its_status_filter(client_for, point):
    page = _page(
        client_for("landlord_13h").get(reverse("dealpoints:list"), {"status": "confirmed"})
    )
    assert _map_link(page) == "/carte/?status=confirmed"


def test_a_reversed_period_is_said_next_to_the_fields(client_for, point):
    response = client_for("cross13_analyst").get(
        reverse("dealpoints:list"), {"active_from": "2026-12-31", "active_to": "2026-01-01"}
    )
    page = _page(response)
    assert response.status_code == 200
    # Next to the end of the period, and in the form's error area read out at once.
    assert 'id="id_active_to-desc-error"' in page
    assert 'role="alert"' in page
    assert "Actif jusqu&#x27;au : La fin de la période précède son début." in page
    assert point.reference not in page


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        # The user audit: « zzz » read as "either" listed every point, with no error.
        (
            {"qpv": "zzz"},
            "qpv",
            "En QPV : Valeur inconnue (valeurs acceptées : true (Oui), false (Non)).",
        ),
        # A département that does not exist listed nothing, as if it had no point.
        (
            {"departement": "99"},
            "departement",
            "Département (code) : Département inconnu (ex. : 13, 2A, 974).",
        ),
        # The words of an unknown status, not Django's « Sélectionnez un choix valide ».
        (
            {"product": "zzz"},
            "product",
            "Produit : Valeur inconnue (valeurs acceptées : Cannabis (résine, herbe), Cocaïne, "
            "Crack, Héroïne, Drogues de synthèse, Autre ou inconnu).",
        ),
        (
            {"channel": "zzz"},
            "channel",
            "Mode de distribution : Valeur inconnue (valeurs acceptées : Point fixe, Livraison, "
            "Drive (vente depuis un véhicule), Appartement, En ligne (réseaux sociaux, "
            "messageries)).",
        ),
        (
            {"active_from": "31/02/2026"},
            "active_from",
            "Actif à partir du : Date invalide : indiquez une date au format JJ/MM/AAAA (ou "
            "AAAA-MM-JJ).",
        ),
    ],
)
def test_an_invalid_filter_is_said_and_lists_nothing(client_for, point, params, field, message):
    response = client_for("cross13_analyst").get(reverse("dealpoints:list"), params)
    page = _page(response)
    assert response.status_code == 200
    assert 'role="alert"' in page
    assert escape(message) in page
    assert f'id="id_{field}-desc-error"' in page or f'id="{field}-messages"' in page, page
    assert "Valeur inconnue" in page or "inconnu" in page or "Date invalide" in page
    assert point.reference not in page
    assert response.context["page_obj"].paginator.count == 0
    # Nothing was read: no listing audited.
    assert not AuditEvent.objects.filter(action=AuditAction.LIST).exists()


@pytest.mark.parametrize(("value", "shown"), [("true", False), ("false", True), ("", True)])
def test_qpv_filter_reads_yes_no_or_either(client_for, point, value, shown):
    """The point is not in a QPV."""
    page = _page(client_for("cross13_analyst").get(reverse("dealpoints:list"), {"qpv": value}))
    assert (point.reference in page) is shown
    assert 'role="alert"' not in page


def test_a_known_departement_lists_its_points(client_for, point):
    page = _page(
        client_for("cross13_analyst").get(reverse("dealpoints:list"), {"departement": "13"})
    )
    assert point.reference in page
    assert 'role="alert"' not in page


def test_merged_points_leave_the_list(client_for, analyst, point):
    other = dealpoint(actor=analyst, name="Doublon")
    services.dealpoint_merge(actor=analyst, source=other, target=point)
    page = _page(client_for("cross13_analyst").get(reverse("dealpoints:list")))
    assert point.reference in page
    assert other.reference not in page


def test_landlord_lists_its_buildings_points_reduced(client_for, analyst, point):
    elsewhere = dealpoint(actor=analyst, name="Ailleurs")
    response = client_for("landlord_13h").get(reverse("dealpoints:list"))
    page = _page(response)
    assert response.status_code == 200
    # Named by its partner code, linked by it: never its reference or id.
    assert point.partner_code in page and point.reference not in page
    assert reverse("dealpoints:by_code", args=[point.partner_code]) in page
    assert reverse("dealpoints:detail", args=[point.pk]) not in page
    assert elsewhere.partner_code not in page
    assert "Résidence des Tilleuls" in page
    assert "semaine du" in page
    # Nothing beyond status, week and building: no name, products, commune or reports count.
    assert "Four du bâtiment B" not in page
    assert "Cannabis" not in page
    assert "Produits" not in page
    assert "Nouveau point de deal" not in page


def test_landlord_cannot_filter_on_fields_it_does_not_receive(client_for, point):
    client = client_for("landlord_13h")
    # The form offers the status only.
    page = _page(client.get(reverse("dealpoints:list")))
    assert 'name="status"' in page
    for name in ("product", "channel", "active_from", "active_to", "q", "departement"):
        assert f'name="{name}"' not in page
    # A product filter (a hand-made link) would tell the landlord what is sold: it is
    # refused, said above the list, which lists nothing (not every point, read as filtered).
    response = client.get(reverse("dealpoints:list"), {"product": "heroin"})
    assert response.status_code == 200
    page = _page(response)
    assert point.partner_code not in page
    assert 'role="alert"' in page
    assert "Produit : Ce filtre n&#x27;est pas ouvert à votre vue des points de deal." in page
    page = _page(client.get(reverse("dealpoints:list"), {"status": "dismantled"}))
    assert point.partner_code not in page


def test_other_landlord_sees_an_empty_list(client_for, point):
    page = _page(client_for("landlord_13l").get(reverse("dealpoints:list")))
    assert point.reference not in page
    assert "Aucun point de deal sur vos bâtiments." in page


@pytest.mark.parametrize("who", ["prefecture_13", "prosecutor_13"])
def test_aggregate_roles_are_pointed_to_the_map(client_for, point, who):
    response = client_for(who).get(reverse("dealpoints:list"))
    page = _page(response)
    assert response.status_code == 200
    assert 'id="dealpoints-aggregate"' in page
    assert point.reference not in page
    assert 'id="dealpoint-table"' not in page


def test_a_misspelt_filter_is_said_and_lists_nothing(client_for, point):
    """`?statut=confirmed` listed every point as if filtered: it is named above the list,
    which then lists nothing; the list's own page is no filter."""
    client = client_for("cross13_analyst")
    response = client.get(reverse("dealpoints:list"), {"statut": "confirmed"})
    assert response.status_code == 200
    page = _page(response)
    assert "Filtre inconnu : « statut ». Choisissez les filtres dans le formulaire" in page
    assert point.reference not in page
    # Nor « 0 point de deal »: a review read it as no point there (a landlord as well).
    assert "0 point de deal" not in page and "ne correspond à ces filtres" not in page
    assert page.count("Aucune liste : corrigez les filtres signalés ci-dessus.") == 2
    landlord = _page(client_for("landlord_13h").get(reverse("dealpoints:list"), {"q": "x"}))
    assert "Aucun point de deal sur vos bâtiments." not in landlord
    assert "Aucune liste : corrigez les filtres signalés ci-dessus." in landlord
    paged = _page(client.get(reverse("dealpoints:list"), {"status": point.status, "page": "1"}))
    assert point.reference in paged and "Filtre inconnu" not in paged
    assert "1 point de deal" in paged


def test_the_lists_filters_are_applied_and_cleared_as_the_maps(client_for, point):
    """User audit: the list had « Filtrer » and, until a filter was applied, no way back; the
    map « Appliquer les filtres » and « Effacer ». A landlord's form (statuses only) had an
    empty row of filters above its buttons."""
    client = client_for("cross13_analyst")
    for query in ({}, {"status": "reported", "q": "four"}):
        page = _page(client.get(reverse("dealpoints:list"), query))
        form = page.split('id="dealpoint-filters"')[1].split("</form>")[0]
        assert ">Appliquer les filtres</button>" in form and ">Filtrer</button>" not in form
        # The reset keeps nothing, not even the département.
        assert (
            f'href="{reverse("dealpoints:list")}" id="dealpoint-filters-clear">Effacer</a>' in form
        )
    landlord = _page(client_for("landlord_13h").get(reverse("dealpoints:list")))
    form = landlord.split('id="dealpoint-filters"')[1].split("</form>")[0]
    assert 'name="status"' in form and "fr-grid-row" not in form


def test_a_commune_code_read_as_insee_says_which_commune_it_read(client_for, point):
    """« 13014 » listed Berre-l'Étang's points (none) where Marseille 14e's were meant, with no
    word (review): the list says which commune it read, and how to name the other."""
    client = client_for("cross13_analyst")
    page = html.unescape(_page(client.get(reverse("dealpoints:list"), {"commune": "13014"})))
    assert "« 13014 » est lu comme le code INSEE de Berre-l'Étang." in page
    assert point.reference not in page
    named = html.unescape(
        _page(client.get(reverse("dealpoints:list"), {"commune": "Marseille 14e Arrondissement"}))
    )
    assert point.reference in named and "est lu comme le code INSEE" not in named


def test_opening_hours_read_in_the_weeks_order(client_for, analyst):
    """As ticked or imported (Saturday, then Wednesday morning) they read out of order: the
    record, the map's panel and the spreadsheet exports say them Monday first, the panel in the
    record's words (it wrote « Mercredi, matin »)."""
    point = dealpoint(actor=analyst, opening_hours=["sat:evening", "wed:night", "wed:morning"])
    # Kept in the week's order now; stored otherwise before (read in order all the same).
    assert point.opening_hours == ["wed:morning", "wed:night", "sat:evening"]
    DealPoint.objects.filter(pk=point.pk).update(
        opening_hours=["sat:evening", "wed:night", "wed:morning"]
    )
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    assert "Mercredi matin, Mercredi nuit, Samedi soirée" in page
    exported = client.get(reverse("dealpoints:export", args=["csv"])).content.decode("utf-8-sig")
    assert "Mercredi : matin, Mercredi : nuit, Samedi : soirée" in exported
    panel = _page(client.get(reverse("dealpoints:map_panel", args=[point.pk])))
    order = [panel.index(hours) for hours in ("Mercredi matin", "Mercredi nuit", "Samedi soirée")]
    assert order == sorted(order)


@pytest.mark.parametrize("who", ["caller_operator", "auditor", "admin"])
def test_roles_without_the_map_get_404(client_for, who):
    assert client_for(who).get(reverse("dealpoints:list")).status_code == 404


# --- detail --------------------------------------------------------------------------------------


def test_analyst_reads_the_whole_record_and_the_read_is_audited(client_for, analyst, point):
    response = client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[point.pk]))
    page = _page(response)
    assert response.status_code == 200
    assert point.reference in page
    assert "Résidence des Tilleuls" in page
    assert "CROSS des Bouches-du-Rhône" in page
    assert "Vendredi soirée, Samedi soirée" in page
    report = point.reports.get()
    assert reverse("reports:report_detail", args=[report.pk]) in page
    assert 'id="status-form"' in page and 'id="operation-form"' in page
    assert 'id="merge-form"' in page and 'id="attach-form"' in page
    assert "Création" in page and "Camille Martin" in page
    # Each block is named once: by its heading, not again by its table's caption.
    assert repeated_headings(page) == []
    # The key/value tables have a caption (RGAA 5.4), which holds the block's heading.
    for title in ("Lieu", "Activité", "Suivi"):
        assert re.search(rf"<caption><h2[^>]*>{title}</h2></caption>", page), title
    viewed = AuditEvent.objects.filter(action=AuditAction.VIEW, object_id=str(point.pk))
    assert viewed.count() == 1
    assert viewed.get().details == {"reference": point.reference}


def test_investigator_reads_and_may_only_record_operations(client_for, point):
    page = _page(
        client_for("police13_investigator").get(reverse("dealpoints:detail", args=[point.pk]))
    )
    assert point.reference in page
    assert 'id="operation-form"' in page
    assert 'id="status-form"' not in page and 'id="merge-form"' not in page
    assert reverse("dealpoints:edit", args=[point.pk]) not in page
    # Neither the report's reference (record or history: reports stay with the CROSS) nor its
    # page (triage) is theirs.
    report = point.reports.get()
    assert report.reference not in page
    assert reverse("reports:report_detail", args=[report.pk]) not in page


def test_landlord_reads_the_reduced_record(client_for, point):
    client = client_for("landlord_13h")
    assert client.get(reverse("dealpoints:detail", args=[point.pk])).status_code == 404
    response = client.get(reverse("dealpoints:by_code", args=[point.partner_code]))
    page = _page(response)
    assert response.status_code == 200
    assert 'id="dealpoint-reduced"' in page
    assert point.partner_code in page and "Signalé" in page and "semaine du" in page
    for hidden in ("Four du bâtiment B", "Cannabis", "CROSS des", "Historique", "43.34"):
        assert hidden not in page
    assert point.reference not in page


@pytest.mark.parametrize(
    "who", ["cross93_analyst", "landlord_13l", "prefecture_13", "prosecutor_13", "auditor"]
)
def test_record_is_404_to_those_who_may_not_see_it(client_for, point, who):
    assert client_for(who).get(reverse("dealpoints:detail", args=[point.pk])).status_code == 404
    by_code = reverse("dealpoints:by_code", args=[point.partner_code])
    assert client_for(who).get(by_code).status_code == 404


@pytest.mark.parametrize("who", ["prefecture_13", "prosecutor_13"])
def test_a_counts_only_role_sent_a_record_is_told_why_whether_it_exists(client_for, point, who):
    """A colleague's link to a record read « Page introuvable », as a wrong address: the page
    now says the role receives counts on the map, not records. The same for a point that
    does not exist (nothing is told of it), and the refusal of an existing one is audited."""
    client = client_for(who)
    reason = "pas les fiches des points : celle-ci ne vous est pas communiquée, qu'elle existe"
    pages = [
        client.get(reverse("dealpoints:detail", args=[point.pk])),
        client.get(reverse("dealpoints:detail", args=[point.pk + 1000])),
        client.get(reverse("dealpoints:by_code", args=[point.partner_code])),
        client.get(reverse("dealpoints:by_code", args=["7K3FQ-9M2XA"])),
    ]
    assert [page.status_code for page in pages] == [404] * 4
    texts = [html.unescape(_page(page)) for page in pages]
    assert all(reason in text for text in texts)
    mains = {text.split("<main", 1)[1].split("</main>", 1)[0] for text in texts}
    assert len(mains) == 1  # alike, found or not
    assert f'href="{reverse("dealpoints:map")}">Ouvrir la carte</a>' in texts[0]
    refused = AuditEvent.objects.filter(action=AuditAction.REFUSED, object_id=str(point.pk))
    assert refused.count() == 2
    # Any other role keeps the plain page.
    other = _page(client_for("cross93_analyst").get(reverse("dealpoints:detail", args=[point.pk])))
    assert reason not in html.unescape(other) and "Page introuvable" in other


def test_the_services_find_the_point_a_landlord_quotes(client_for, point):
    """A landlord quotes a point's partner code: the services open the whole record by it,
    or find it with the list's search."""
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:by_code", args=[point.partner_code.lower()])))
    assert point.reference in page and point.partner_code in page
    listed = _page(client.get(reverse("dealpoints:list"), {"q": point.partner_code}))
    assert point.reference in listed
    # As a person types it: small letters, without the dash.
    typed = point.partner_code.replace("-", "").lower()
    assert point.reference in _page(client.get(reverse("dealpoints:list"), {"q": typed}))


def test_merged_point_shows_its_replacement_and_the_undo_button(client_for, analyst, point):
    other = dealpoint(actor=analyst, name="Doublon")
    services.dealpoint_merge(actor=analyst, source=other, target=point)
    page = _page(client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[other.pk])))
    assert "Fusionné dans" in page and point.reference in page
    assert reverse("dealpoints:unmerge", args=[other.pk]) in page
    assert 'id="status-form"' not in page


# --- create and edit -----------------------------------------------------------------------------


def test_create_form_is_prefilled_from_the_query(client_for):
    response = client_for("cross13_analyst").get(
        reverse("dealpoints:create"),
        {"latitude": "43.3452", "longitude": "5.3949", "precision": "street"},
    )
    page = _page(response)
    assert response.status_code == 200
    assert 'value="43.3452"' in page
    assert response.context["form"]["precision"].value() == "street"
    assert 'name="opening_hours" value="fri:evening"' in page


def test_analyst_creates_a_point(client_for, building):
    response = client_for("cross13_analyst").post(
        reverse("dealpoints:create"),
        {
            "latitude": "43.3452",
            "longitude": "5.3949",
            "precision": "stairwell",
            "name": "Le four",
            "building": str(building.pk),
            "channel": "fixed",
            "products": ["cannabis", "cocaine"],
            "observed_roles": ["lookouts"],
            "opening_hours": ["mon:evening", "sat:night"],
            "estimated_daily_turnover": "8000",
            "confidence": "high",
            "notes": "Guetteurs sur le toit.",
        },
    )
    point = DealPoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dealpoints:detail", args=[point.pk])
    assert point.building == building
    assert point.opening_hours == ["mon:evening", "sat:night"]
    assert point.products == ["cannabis", "cocaine"]
    assert point.estimated_daily_turnover == 8000
    assert point.events.get().kind == EventKind.CREATED
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(point.pk)).exists()


def test_a_point_created_beside_another_says_so(client_for, analyst):
    """A point created 10 m from another was created without a word (review): the message
    names the points within the matching's uncertainty, audited; none far away."""
    near = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949, precision="building")
    dealpoint(actor=analyst, latitude=43.3552, longitude=5.3949, name="Loin")
    client = client_for("cross13_analyst")
    data = {
        "latitude": "43,34529",
        "longitude": "5.3949",
        "precision": "building",
        "channel": "fixed",
        "confidence": "low",
    }
    response = client.post(reverse("dealpoints:create"), data, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said[1] == (
        f"Un point existe déjà tout près : {near.reference} à 10 m. S'il s'agit du même lieu, "
        "fusionnez les deux fiches (« Fusionner », sur la fiche de celui qui disparaît)."
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, details__view="created_nearby", details__points=[near.reference]
    ).exists()
    data["latitude"] = "43.3300"
    response = client.post(reverse("dealpoints:create"), data, follow=True)
    assert len(list(response.context["messages"])) == 1


def test_create_outside_the_territory_shows_the_error_on_the_position(client_for):
    response = client_for("cross13_analyst").post(
        reverse("dealpoints:create"),
        {
            "latitude": str(SAINT_DENIS[0]),
            "longitude": str(SAINT_DENIS[1]),
            "precision": "building",
            "channel": "fixed",
            "confidence": "low",
        },
    )
    assert response.status_code == 400
    assert "Ce lieu est hors de votre territoire." in _page(response)
    assert response.context["form"].errors["latitude"]
    assert not DealPoint.objects.exists()


def test_create_refuses_bad_input_with_field_errors(client_for):
    response = client_for("cross13_analyst").post(
        reverse("dealpoints:create"),
        {"latitude": "abc", "longitude": "5.39", "precision": "x", "opening_hours": ["fri:dawn"]},
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"latitude", "precision", "opening_hours"} <= set(errors)
    assert not DealPoint.objects.exists()
    # The summary's link reaches the grid's first box (it named `id_opening_hours_0`, which
    # no element has), and the grid's message is tied to its boxes.
    page = _page(response)
    assert 'href="#id_opening_hours_mon_morning"' in page
    assert 'id="id_opening_hours_mon_morning"' in page
    assert 'id="id_opening_hours-messages"' in page
    assert 'aria-labelledby="id_opening_hours-legend id_opening_hours-messages"' in page
    assert page.count('aria-describedby="id_opening_hours-messages"') == 28


@pytest.mark.parametrize("who", ["police13_investigator", "landlord_13h", "prefecture_13"])
def test_create_is_404_to_those_who_do_not_edit_points(client_for, who):
    assert client_for(who).get(reverse("dealpoints:create")).status_code == 404


def test_an_edit_sent_without_a_change_says_nothing_changed(client_for, point):
    """The edit form sent as it came said « Point de deal … modifié », with nothing written."""
    client = client_for("cross13_analyst")
    form = client.get(reverse("dealpoints:edit", args=[point.pk])).context["form"]
    data = {key: value for key, value in form.initial.items() if value not in (None, [])}
    response = client.post(reverse("dealpoints:edit", args=[point.pk]), data, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said == [f"Rien n'a changé : {point.reference} est resté tel quel."]
    assert not point.events.filter(kind=EventKind.EDITED).exists()
    data["name"] = "Le four du bât. C"
    response = client.post(reverse("dealpoints:edit", args=[point.pk]), data, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said == [f"Point de deal {point.reference} modifié."]


def test_lists_stored_in_another_order_are_unchanged_by_an_untouched_save(client_for, point):
    """A point whose roles and hours were stored in another order than the form's (an import,
    the API, the demo) got « Rôles observés : Gérant, Vendeurs → Vendeurs, Gérant » in its
    history from a save of the form untouched, and its edit version moved, so another
    analyst's save was refused (review). Kept in the choices' order; the migration puts the
    points stored before in it."""
    from django.apps import apps

    DealPoint.objects.filter(pk=point.pk).update(
        observed_roles=["manager", "sellers"],
        opening_hours=["wed:evening", "mon:morning"],
        products=["crack", "cannabis"],
    )
    client = client_for("cross13_analyst")
    form = client.get(reverse("dealpoints:edit", args=[point.pk])).context["form"]
    data = {key: value for key, value in form.initial.items() if value not in (None, [])}
    # Ticked boxes are sent in the page's order, the choices'.
    data.update(
        observed_roles=["sellers", "manager"],
        opening_hours=["mon:morning", "wed:evening"],
        products=["cannabis", "crack"],
    )
    response = client.post(reverse("dealpoints:edit", args=[point.pk]), data, follow=True)
    said = [str(message) for message in response.context["messages"]]
    assert said == [f"Rien n'a changé : {point.reference} est resté tel quel."]
    assert not point.events.filter(kind=EventKind.EDITED).exists()

    importlib.import_module("cartostup.dealpoints.migrations.0012_lists_in_order").lists_in_order(
        apps, None
    )
    point.refresh_from_db()
    assert point.observed_roles == ["sellers", "manager"]
    assert point.opening_hours == ["mon:morning", "wed:evening"]
    assert point.products == ["cannabis", "crack"]


def test_a_turnover_typed_wrong_is_refused_and_the_value_kept(client_for, point):
    """« 1e » in the turnover, a `type="number"` input, reached the server empty: the value
    kept was erased and the page said « modifié ». « 15.000 » was read as 15 (review)."""
    DealPoint.objects.filter(pk=point.pk).update(estimated_daily_turnover=15000)
    client = client_for("cross13_analyst")
    form = client.get(reverse("dealpoints:edit", args=[point.pk])).context["form"]
    data = {key: value for key, value in form.initial.items() if value not in (None, [])}
    for typed in ("1e", "15.000", "deux mille"):
        response = client.post(
            reverse("dealpoints:edit", args=[point.pk]),
            {**data, "estimated_daily_turnover": typed},
        )
        assert response.status_code == 400
        assert response.context["form"].errors["estimated_daily_turnover"] == [
            "Saisissez un nombre entier, sans virgule ni point (ex. 1500 ou 1 500)."
        ]
        assert f'value="{typed}"' in _page(response)
    point.refresh_from_db()
    assert point.estimated_daily_turnover == 15000
    assert not point.events.filter(kind=EventKind.EDITED).exists()
    response = client.post(
        reverse("dealpoints:edit", args=[point.pk]),
        {**data, "estimated_daily_turnover": "18 000", "latitude": "43,3452"},
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert (point.estimated_daily_turnover, point.latitude) == (18000, 43.3452)


def test_the_history_names_the_buildings_and_says_changes_in_the_forms_order(
    client_for, point, building
):
    """« Bâtiment du bailleur modifié » said nothing of which, and the lines of a change came
    in the order of the fields' English names (Adresse, Bâtiment du bailleur, Bâtiment,
    Position...), the turnover as « 15000 » (review). The buildings are named where the reader
    may see them (audited as a listing), the lines follow the form, the turnover says euros."""
    client = client_for("cross13_analyst")
    form = client.get(reverse("dealpoints:edit", args=[point.pk])).context["form"]
    data = {key: value for key, value in form.initial.items() if value not in (None, [])}
    data.pop("building")
    data.update(address="5 rue des Tilleuls", estimated_daily_turnover="15 000", name="Le four")
    assert client.post(reverse("dealpoints:edit", args=[point.pk]), data).status_code == 302
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    history = page[page.index('id="history"') :]
    history = re.sub(r"\s", " ", history[: history.index("</ul>")])  # spaces of « 15 000 € »
    lines = [
        history.index(line)
        for line in (
            "<li>Nom d&#x27;usage : Four du bâtiment B → Le four</li>",
            "<li>Adresse : — → 5 rue des Tilleuls</li>",
            "<li>Bâtiment du bailleur : Résidence des Tilleuls – bâtiment A → —</li>",
            "<li>Chiffre d&#x27;affaires quotidien estimé (€) : 5 000 € → 15 000 €</li>",
        )
    ]
    assert lines == sorted(lines)
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST,
        object_type="access.building",
        details__section="history",
        details__buildings=[building.pk],
    ).exists()


def test_analyst_edits_a_point_and_the_history_keeps_the_old_value(client_for, point):
    client = client_for("cross13_analyst")
    form = client.get(reverse("dealpoints:edit", args=[point.pk])).context["form"]
    data = {
        key: value
        for key, value in form.initial.items()
        if value is not None and key not in ("products", "opening_hours", "observed_roles")
    }
    data.update(
        {
            "name": "Le four du bât. C",
            "products": ["cannabis"],
            "opening_hours": ["fri:evening"],
            "note": "Renseignement de terrain",
        }
    )
    response = client.post(reverse("dealpoints:edit", args=[point.pk]), data)
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.name == "Le four du bât. C"
    event = point.events.get(kind=EventKind.EDITED)
    assert event.details["name"] == ["Four du bâtiment B", "Le four du bât. C"]
    assert event.note == "Renseignement de terrain"
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    assert "Nom d&#x27;usage : Four du bâtiment B → Le four du bât. C" in page
    assert "Vendredi samedi" not in page


def _edit_data(form) -> dict:
    """What the edit form sends back as it was read (check boxes as lists)."""
    data = {
        key: value
        for key, value in form.initial.items()
        if value is not None and key not in ("products", "opening_hours", "observed_roles")
    }
    for name in ("products", "opening_hours", "observed_roles"):
        data[name] = list(form.initial.get(name) or [])
    return data


def test_an_edit_made_meanwhile_is_never_silently_overwritten(client_for, point):
    """User audit: cross13_analyst opened the edit form, antenna13_analyst then saved a new
    name and notes, cross13_analyst sent the older form: « modifié », and the other's name
    and notes were erased. Now nothing is written, the page says who changed what, and what
    the user typed is kept; sending again is then a deliberate choice."""
    cross = client_for("cross13_analyst")
    url = reverse("dealpoints:edit", args=[point.pk])
    stale = _edit_data(cross.get(url).context["form"])
    antenna = client_for("antenna13_analyst")
    theirs = _edit_data(antenna.get(url).context["form"])
    theirs.update({"name": "Le four du bât. C", "notes": "Guetteurs au parking depuis lundi"})
    assert antenna.post(url, theirs).status_code == 302

    stale.update({"confidence": "high", "address": "12 allée des Amandiers"})
    response = cross.post(url, stale)
    assert response.status_code == 400
    point.refresh_from_db()
    assert point.name == "Le four du bât. C"
    assert point.notes == "Guetteurs au parking depuis lundi"
    assert point.confidence == "medium" and point.address == ""
    assert point.events.filter(kind=EventKind.EDITED).count() == 1
    page = _page(response).replace("&#x27;", "'")
    assert f"{point.reference} a été modifié après que vous avez ouvert ce formulaire" in page
    assert "nom d'usage, notes de l'analyste" in page
    assert "Rien n'a été enregistré" in page
    assert "Modifié entre-temps" in page
    assert "Nom d'usage : Four du bâtiment B → Le four du bât. C" in page
    # What the user typed is still in the form.
    form = response.context["form"]
    assert form["address"].value() == "12 allée des Amandiers"
    assert form["confidence"].value() == "high"
    edited = point.events.get(kind=EventKind.EDITED)
    assert form["version"].value() == str(edited.pk)
    assert f'name="version" value="{edited.pk}"' in page
    # The re-read is audited like any read of the record.
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW,
        object_id=str(point.pk),
        actor_username="cross13_analyst",
    ).exists()

    # Sent again after reading: a deliberate overwrite, recorded as such.
    again = cross.post(url, {**stale, "version": str(edited.pk)})
    assert again.status_code == 302
    point.refresh_from_db()
    assert point.confidence == "high" and point.name == "Four du bâtiment B"


def test_a_status_changed_meanwhile_is_said_not_overwritten(client_for, persona, point):
    cross = client_for("cross13_analyst")
    shown = cross.get(reverse("dealpoints:detail", args=[point.pk])).context["status_form"]
    assert shown["from_status"].value() == "reported"
    services.dealpoint_change_status(
        actor=persona("antenna13_analyst"), dealpoint=point, status="confirmed"
    )
    # « Confirmé » chosen from « Signalé »: no longer a choice of the point, yet the reason
    # given is the status that changed, not an invalid choice.
    response = _post(
        cross, "status", point, {"status-status": "investigation", "status-from_status": "reported"}
    )
    assert response.status_code == 400
    page = _page(response)
    assert (
        f"Le statut de {point.reference} a changé depuis que vous avez ouvert sa fiche : "
        "« Signalé » → « Confirmé »"
    ) in page
    point.refresh_from_db()
    assert point.status == DealPointStatus.CONFIRMED
    assert point.events.filter(kind=EventKind.STATUS).count() == 1
    assert response.context["status_form"]["from_status"].value() == "confirmed"
    response = _post(
        cross, "status", point, {"status-status": "confirmed", "status-from_status": "reported"}
    )
    assert response.status_code == 400
    assert "a changé depuis que vous avez ouvert sa fiche" in _page(response)
    # Chosen again from the status now shown: done.
    response = _post(
        cross,
        "status",
        point,
        {"status-status": "investigation", "status-from_status": "confirmed"},
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.status == DealPointStatus.INVESTIGATION


@pytest.mark.parametrize("who", ["police13_investigator", "landlord_13h", "cross93_analyst"])
def test_edit_is_404_to_those_who_may_not_change_the_point(client_for, point, who):
    client = client_for(who)
    assert client.get(reverse("dealpoints:edit", args=[point.pk])).status_code == 404
    assert client.post(reverse("dealpoints:edit", args=[point.pk]), {}).status_code == 404


# --- life cycle ----------------------------------------------------------------------------------


def test_status_change_redirects_with_a_message(client_for, point):
    client = client_for("cross13_analyst")
    response = _post(client, "status", point, {"status-status": "confirmed", "status-note": "Vu"})
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.status == DealPointStatus.CONFIRMED
    page = _page(client.get(response["Location"]))
    assert f"Statut de {point.reference} : Confirmé." in page
    assert "Signalé → Confirmé" in page


def test_a_mistaken_dismantling_is_corrected_from_the_record(client_for, point):
    """The record offers to undo the last status change (named, dated, attributed), back to
    the status before it, with a required reason; the history then says it was a correction."""
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    assert 'id="correction-form"' not in page  # nothing changed yet
    _post(client, "status", point, {"status-status": "dismantled"})
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    form = page[
        page.index('id="correction-form"') : page.index(
            "</form>", page.index('id="correction-form"')
        )
    ]
    assert "Dernier changement : « Signalé » → « Démantelé »" in form
    assert "Revenir à « Signalé »" in form
    change = point.events.get(kind=EventKind.STATUS)
    url = reverse("dealpoints:status_correct", args=[point.pk])
    # No reason: refused on its field, nothing changed.
    response = client.post(url, {"correction-change_id": change.pk, "correction-note": ""})
    assert response.status_code == 400
    assert "Dites pourquoi le statut est corrigé" in _page(response)
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    # A change that was never one of this point's: said, nothing corrected (a change come
    # since is the API's test: `test_the_last_status_change_is_corrected_through_the_api`).
    response = client.post(url, {"correction-change_id": change.pk + 1000, "correction-note": "x"})
    assert response.status_code == 400
    assert "Ce n&#x27;est pas un changement de statut de ce point" in _page(response)
    # The form names the change that is the last one: sent again, it corrects that one.
    assert f'name="correction-change_id" value="{change.pk}"' in _page(response)
    response = client.post(
        url, {"correction-change_id": change.pk, "correction-note": "Mauvais point"}
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    page = _page(client.get(response["Location"]))
    assert f"Statut de {point.reference} corrigé : de nouveau « Signalé »." in page
    history = page[page.index('id="history-title"') :]
    assert "Démantelé → Signalé" in history
    assert "Correction du changement de statut précédent (erreur)" in history
    assert "Mauvais point" in history
    # A GET changes nothing; an investigator, who reads the point, has no such form.
    assert client.get(url).status_code == 405
    investigator = client_for("police13_investigator")
    assert 'id="correction-form"' not in _page(
        investigator.get(reverse("dealpoints:detail", args=[point.pk]))
    )
    assert investigator.post(url, {"correction-note": "x"}).status_code in (403, 404)


def test_refused_transition_is_shown_on_the_form(client_for, point):
    response = _post(client_for("cross13_analyst"), "status", point, {"status-status": "moved"})
    assert response.status_code == 400
    assert response.context["status_form"].errors["status"]
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED


def test_move_needs_a_visible_successor(client_for, analyst, point):
    successor = dealpoint(actor=analyst, name="Nouveau four")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    client = client_for("cross13_analyst")
    response = _post(client, "status", point, {"status-status": "moved"})
    assert response.status_code == 400
    assert response.context["status_form"].errors["successor"]
    response = _post(
        client, "status", point, {"status-status": "moved", "status-successor": "PD-13-9999"}
    )
    assert response.status_code == 400
    assert "Aucun point de deal visible" in _page(response)
    response = _post(
        client,
        "status",
        point,
        {"status-status": "moved", "status-successor": successor.reference.lower()},
    )
    assert response.status_code == 302
    point.refresh_from_db()
    assert point.status == DealPointStatus.MOVED and point.successor == successor
    page = _page(client.get(reverse("dealpoints:detail", args=[successor.pk])))
    assert f"Désigné comme successeur de {point.reference}" in page


# --- operations ----------------------------------------------------------------------------------


def test_investigator_records_a_raid_that_dismantles_the_point(client_for, persona, point):
    police = persona("police13_investigator")
    client = client_for("police13_investigator")
    service = police.memberships.get().organisation
    response = _post(
        client,
        "operation",
        point,
        {
            "operation-kind": "raid",
            "operation-occurred_on": date.today().isoformat(),
            "operation-outcome": "dismantled",
            "operation-arrests": "3",
            "operation-service": str(service.pk),
            "operation-notes": "Trois interpellations.",
        },
    )
    assert response.status_code == 302
    operation = Operation.objects.get()
    assert operation.service == service and operation.arrests == 3
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    page = _page(client.get(response["Location"]))
    assert "Le point est désormais démantelé." in page
    assert "Trois interpellations." in page


def test_the_same_operation_form_sent_twice_records_one_operation(client_for, analyst, point):
    """A double click on « Enregistrer l'opération », or « Retour » then the button again,
    recorded the raid twice (and counted it twice in the indicators)."""
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    token = re.search(r'name="operation-submission" value="([^"]+)"', page)
    assert token, "the operation form carries its one-time token"
    sent = {
        "operation-kind": "raid",
        "operation-occurred_on": date.today().isoformat(),
        "operation-outcome": "none",
        "operation-arrests": "0",
        "operation-service": str(point.owner_organisation_id),
        "operation-submission": token.group(1),
    }
    first = _post(client, "operation", point, sent)
    second = _post(client, "operation", point, sent)
    assert first.status_code == second.status_code == 302
    assert Operation.objects.count() == 1
    told = _page(client.get(second["Location"]))
    assert "Cette opération était déjà enregistrée (le formulaire a été envoyé deux fois)" in told
    # A new form is a new operation, even identical (two raids the same day).
    again = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    fresh = re.search(r'name="operation-submission" value="([^"]+)"', again)
    assert fresh and fresh.group(1) != token.group(1)
    other = fresh.group(1)
    _post(client, "operation", point, {**sent, "operation-submission": other})
    assert Operation.objects.count() == 2


def _dismantling_raid(client, point, service=None):
    return _post(
        client,
        "operation",
        point,
        {
            "operation-kind": "raid",
            "operation-occurred_on": date.today().isoformat(),
            "operation-outcome": "dismantled",
            "operation-arrests": "0",
            "operation-service": str(service or point.owner_organisation_id),
        },
    )


def test_a_dismantling_outcome_announces_only_a_status_change_that_happened(
    client_for, analyst, point
):
    """User audit: a second « point démantelé » operation said « Le point est désormais
    démantelé. »; the same outcome on a « Déplacé » point said nothing of its status."""
    client = client_for("cross13_analyst")
    first = client.get(_dismantling_raid(client, point)["Location"]).content.decode()
    assert "Le point est désormais démantelé." in first
    second = client.get(_dismantling_raid(client, point)["Location"]).content.decode()
    assert "Le point est désormais démantelé." not in second
    assert "Le point était déjà démantelé : son statut ne change pas." in second
    assert "Statut inchangé : le point était « Démantelé »" in second
    point.refresh_from_db()
    assert point.status == DealPointStatus.DISMANTLED
    assert point.operations.count() == 2
    assert point.events.filter(kind=EventKind.STATUS, to_status="dismantled").count() == 1

    successor = dealpoint(actor=analyst, name="Nouveau four", latitude=43.3600)
    services.dealpoint_change_status(
        actor=analyst, dealpoint=point, status="moved", successor=successor
    )
    moved = client.get(_dismantling_raid(client, point)["Location"]).content.decode()
    assert "Le point est désormais démantelé." not in moved
    assert (
        f"Le point reste « Déplacé » : son activité est passée à {successor.reference}"
        in moved.replace("&#x27;", "'")
    )
    # The successor named is audited, as the history's names are.
    named = AuditEvent.objects.filter(action=AuditAction.LIST, details__view="successor")
    assert [event.details["points"] for event in named] == [[successor.reference]]
    point.refresh_from_db()
    assert point.status == DealPointStatus.MOVED and point.successor == successor
    kept = point.events.filter(kind=EventKind.OPERATION).order_by("pk").last()
    assert kept is not None and kept.details["status_kept"] == "moved"

    # A successor kept to its CROSS is not named to an investigator who records the raid
    # (a new user's review: the message gave the reference the record withholds).
    from cartostup.access.choices import Distribution

    services.dealpoint_share(
        actor=analyst,
        dealpoint=successor,
        data=services.SharingInput(distribution=Distribution.ORGANISATION),
    )
    police = client_for("police13_investigator")
    service = (
        police.get(reverse("dealpoints:detail", args=[point.pk]))
        .context["operation_form"]["service"]
        .value()
    )
    raid = _dismantling_raid(police, point, service)
    told = police.get(raid["Location"]).content.decode().replace("&#x27;", "'")
    assert "son activité est passée à un autre point, qui ne vous est pas communiqué" in told
    assert successor.reference not in told


def test_a_cross_analyst_records_a_raid_in_the_name_of_the_police(client_for, persona, point):
    police = persona("police13_investigator").memberships.get().organisation
    cross = persona("cross13_analyst").memberships.get().organisation
    client = client_for("cross13_analyst")
    page = client.get(reverse("dealpoints:detail", args=[point.pk]))
    form = page.context["operation_form"]
    assert set(form.fields["service"].queryset) >= {police, cross}
    assert form["service"].value() == cross.pk  # its own by default
    assert "Service qui a mené l&#x27;opération" in _page(page)
    response = _post(
        client,
        "operation",
        point,
        {
            "operation-kind": "raid",
            "operation-occurred_on": date.today().isoformat(),
            "operation-outcome": "none",
            "operation-arrests": "0",
            "operation-service": str(police.pk),
        },
    )
    assert response.status_code == 302
    operation = Operation.objects.get()
    assert operation.service == police
    assert operation.recorded_by == persona("cross13_analyst")
    table = _page(client.get(response["Location"])).split('id="operations"')[1].split("</table>")[0]
    assert f"<td>{police.name}</td>" in table and "Saisi par Camille Martin" in table


def test_an_investigators_one_service_is_said_not_offered(client_for, persona, point):
    """Visual audit: an investigator chose « Service qui a mené l'opération » in a list of one,
    under a hint about the CROSS and Ofast. Its service is said as text, with a hint that fits;
    the operation is credited to it whatever is sent."""
    police = persona("police13_investigator").memberships.get().organisation
    cross = persona("cross13_analyst").memberships.get().organisation
    client = client_for("police13_investigator")
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    form = html.unescape(page.split('id="operation-form"')[1].split("</form>")[0])
    assert '<select name="operation-kind"' in form
    assert '<select name="operation-service"' not in form
    assert f"Service qui a mené l'opération : <strong>{police.name}</strong>" in form
    assert "Votre service : les opérations que vous enregistrez lui sont attribuées." in form
    assert "Une CROSS ou l'Ofast" not in form
    response = _post(
        client,
        "operation",
        point,
        {
            "operation-kind": "search",
            "operation-occurred_on": date.today().isoformat(),
            "operation-outcome": "none",
            "operation-arrests": "0",
            "operation-service": str(cross.pk),
        },
    )
    assert response.status_code == 302
    assert Operation.objects.get().service == police
    # A CROSS analyst still chooses among the services of the département.
    analyst_page = _page(
        client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[point.pk]))
    )
    assert '<select name="operation-service"' in analyst_page
    assert 'id="operation-service-fixed"' not in analyst_page


def _operation_form(service, **values: str) -> dict[str, str]:
    """The operation form of a record as sent: a raid today, no result, by `service`."""
    return {
        "operation-kind": "raid",
        "operation-occurred_on": date.today().isoformat(),
        "operation-outcome": "none",
        "operation-arrests": "0",
        "operation-service": str(service.pk),
        **{f"operation-{name}": value for name, value in values.items()},
    }


def test_operation_in_the_future_is_refused_on_its_field(client_for, persona, point):
    service = persona("cross13_analyst").memberships.get().organisation
    response = _post(
        client_for("cross13_analyst"),
        "operation",
        point,
        _operation_form(service, occurred_on=(date.today() + timedelta(days=3)).isoformat()),
    )
    assert response.status_code == 400
    assert response.context["operation_form"].errors["occurred_on"]
    assert not Operation.objects.exists()


@pytest.mark.parametrize(
    ("outcome", "arrests", "message"),
    [
        ("none", "3", "Une opération « Sans résultat » n'a interpellé personne"),
        ("arrests", "0", "Le résultat « Interpellations » demande le nombre de personnes"),
    ],
)
def test_an_outcome_and_arrests_that_contradict_are_refused(
    client_for, persona, point, outcome, arrests, message
):
    """New-user audit: « Sans résultat » with 3 people arrested, and « Interpellations »
    with none, were both recorded, to be counted both ways by the indicators."""
    service = persona("cross13_analyst").memberships.get().organisation
    response = _post(
        client_for("cross13_analyst"),
        "operation",
        point,
        _operation_form(service, outcome=outcome, arrests=arrests),
    )
    assert response.status_code == 400
    (said,) = response.context["operation_form"].errors["arrests"]
    assert said.startswith(message)
    api = client_for("police13_investigator").post(
        f"/api/v1/dealpoints/{point.pk}/operations/",
        {
            "kind": "raid",
            "occurred_on": date.today().isoformat(),
            "outcome": outcome,
            "arrests": int(arrests),
        },
        content_type="application/json",
    )
    assert api.status_code == 400
    assert api.json()["errors"]["arrests"][0].startswith(message)
    assert not Operation.objects.exists()


@pytest.mark.parametrize("who", ["landlord_13h", "prefecture_13", "cross93_analyst"])
def test_operation_is_404_to_those_who_may_not_record_it(client_for, point, who):
    assert _post(client_for(who), "operation", point, {}).status_code == 404


# --- merge, split, reports -----------------------------------------------------------------------


def test_merge_then_unmerge_through_the_pages(client_for, analyst, point):
    other_report = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    other = dealpoint(actor=analyst, reports=[other_report], name="Doublon")
    client = client_for("cross13_analyst")
    response = _post(client, "merge", other, {"merge-target": point.reference})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.merged_into == point
    original = point.reports.order_by("pk").first()
    attached = point.links.filter(decision__in=["automatic", "confirmed"])
    assert set(attached.values_list("report", flat=True)) == {original.pk, other_report.pk}
    response = _post(client, "unmerge", other)
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.merged_into is None
    assert not point.links.filter(report=other_report).exists()
    assert "Fusion annulée" in _page(client.get(response["Location"]))


def test_merge_into_an_unknown_point_is_refused(client_for, point):
    response = _post(client_for("cross13_analyst"), "merge", point, {"merge-target": "PD-99-1"})
    assert response.status_code == 400
    assert response.context["merge_form"].errors["target"]


def test_attach_then_detach_a_report(client_for, analyst, point):
    report = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3950)
    client = client_for("cross13_analyst")
    response = _post(client, "attach", point, {"attach-report": report.reference})
    assert response.status_code == 302
    assert ReportLink.objects.get(report=report).decision == LinkDecision.CONFIRMED
    # Sent again (Back, a second tab): refused, nothing recorded twice.
    events = point.events.count()
    again = _post(client, "attach", point, {"attach-report": report.reference})
    assert again.status_code == 400
    assert again.context["attach_form"].errors["report"] == [
        f"Le signalement {report.reference} est déjà rattaché à {point.reference} : rien "
        "n'a été changé."
    ]
    assert point.events.count() == events
    response = _post(client, "detach", point, report_pk=report.pk)
    assert response.status_code == 302
    assert ReportLink.objects.get(report=report).decision == LinkDecision.REJECTED
    page = _page(client.get(response["Location"]))
    assert f"Signalement {report.reference} détaché" in page


def test_attach_an_unknown_report_is_refused(client_for, point):
    response = _post(client_for("cross13_analyst"), "attach", point, {"attach-report": "SIG-1"})
    assert response.status_code == 400
    assert response.context["attach_form"].errors["report"]
    # Said first, in the error summary the page focuses, with a link down to the field (the
    # form is far below the top of the record).
    page = html.unescape(response.content.decode())
    summary = page[page.index('id="error-summary"') :].split("</div>", 1)[0]
    assert (
        '<a href="#id_attach-report">Signalement à rattacher : Aucun signalement visible ne '
        "porte cette référence.</a>" in summary
    )
    assert page.index('id="error-summary"') < page.index('id="operations-title"')


def test_confirm_and_refuse_proposed_links(client_for, analyst, point):
    first = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3950)
    second = accepted_report(analyst=analyst, latitude=43.3457, longitude=5.3951)
    for report in (first, second):
        services.report_attach(
            actor=None, dealpoint=point, report=report, decision=LinkDecision.PROPOSED, score=0.6
        )
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    assert 'id="proposed-reports"' in page
    assert reverse("dealpoints:confirm_link", args=[point.pk, first.pk]) in page
    assert _post(client, "confirm_link", point, report_pk=first.pk).status_code == 302
    assert _post(client, "detach", point, report_pk=second.pk).status_code == 302
    assert ReportLink.objects.get(report=first).decision == LinkDecision.CONFIRMED
    assert ReportLink.objects.get(report=second).decision == LinkDecision.REJECTED
    # The refused pair is not proposed again by the matching.
    services.report_attach(
        actor=None, dealpoint=point, report=second, decision=LinkDecision.PROPOSED, score=0.6
    )
    assert ReportLink.objects.get(report=second).decision == LinkDecision.REJECTED


def test_stale_record_decisions_on_a_proposed_link_are_refused(client_for, analyst, point):
    """The record's "Rattacher" / "Écarter" send the decision they showed: one taken meanwhile
    (another tab) is not overridden."""
    report = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3950)
    services.report_attach(
        actor=None, dealpoint=point, report=report, decision=LinkDecision.PROPOSED, score=0.6
    )
    client = client_for("cross13_analyst")
    page = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    assert 'name="from_decision" value="proposed"' in page
    assert _post(client, "confirm_link", point, report_pk=report.pk).status_code == 302
    response = _post(client, "detach", point, {"from_decision": "proposed"}, report_pk=report.pk)
    assert response.status_code == 302
    assert ReportLink.objects.get(report=report).decision == LinkDecision.CONFIRMED
    page = html.unescape(_page(client.get(response["Location"])))
    assert "Ce rapprochement a déjà été traité (rattaché par un analyste)" in page
    # The attached report's "Détacher" says what it showed, and detaches.
    assert 'name="from_decision" value="confirmed"' in page
    _post(client, "detach", point, {"from_decision": "confirmed"}, report_pk=report.pk)
    assert ReportLink.objects.get(report=report).decision == LinkDecision.REJECTED
    # A stale "Rattacher" of the refused link is refused, not a 404.
    response = _post(client, "confirm_link", point, report_pk=report.pk)
    assert response.status_code == 302
    assert ReportLink.objects.get(report=report).decision == LinkDecision.REJECTED
    assert "déjà été traité (écarté par un analyste)" in html.unescape(
        _page(client.get(response["Location"]))
    )


def test_a_proposed_link_has_the_same_words_on_the_record_as_in_the_queue(
    client_for, analyst, point
):
    """User audit: the queue's « Rattachements proposés » and « Rattacher » were, for the same
    proposed link, « Rapprochements proposés » and « Confirmer » on the point's record."""
    report = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3950)
    services.report_attach(
        actor=None, dealpoint=point, report=report, decision=LinkDecision.PROPOSED, score=0.6
    )
    client = client_for("cross13_analyst")
    record = _page(client.get(reverse("dealpoints:detail", args=[point.pk])))
    queue = _page(client.get(reverse("dealpoints:matching")))
    for page in (record, queue):
        assert re.search(r"<h2[^>]*>Rattachements proposés</h2>", page)
        assert "Rapprochements proposés" not in page
    proposed = record.split('id="proposed-reports"')[1].split("</table>")[0]
    assert f'Rattacher<span class="fr-sr-only"> {report.reference}</span>' in proposed
    assert ">Rattacher</button>" in queue
    assert "Confirmer" not in proposed
    # Set aside, on either page, it is the same « Rattachement … écarté ».
    done = _post(client, "detach", point, {"from_decision": "proposed"}, report_pk=report.pk)
    told = html.unescape(_page(client.get(done["Location"])))
    assert f"Rattachement de {report.reference} écarté" in told


def test_split_moves_the_chosen_reports_to_a_new_point(client_for, analyst, point):
    extra = accepted_report(analyst=analyst, latitude=43.3470, longitude=5.3990)
    services.report_attach(actor=analyst, dealpoint=point, report=extra)
    client = client_for("cross13_analyst")
    response = client.get(reverse("dealpoints:split", args=[point.pk]))
    assert response.status_code == 200
    assert extra.reference in _page(response)
    response = client.post(
        reverse("dealpoints:split", args=[point.pk]),
        {
            "reports": [str(extra.pk)],
            "latitude": "43.3470",
            "longitude": "5.3990",
            "precision": "street",
            "name": "Second four",
            "note": "Deux lieux distincts",
        },
    )
    assert response.status_code == 302
    new = DealPoint.objects.get(name="Second four")
    assert response["Location"] == reverse("dealpoints:detail", args=[new.pk])
    assert list(new.reports.all()) == [extra]
    assert new.products == point.products
    assert point.events.filter(kind=EventKind.SPLIT, details__new=new.reference).exists()


def test_a_split_in_another_departement_is_said_on_the_position(client_for, analyst, point):
    extra = accepted_report(analyst=analyst, latitude=43.3470, longitude=5.3990)
    services.report_attach(actor=analyst, dealpoint=point, report=extra)
    response = client_for("ofast_analyst").post(
        reverse("dealpoints:split", args=[point.pk]),
        {
            "reports": [str(extra.pk)],
            "latitude": str(SAINT_DENIS[0]),
            "longitude": str(SAINT_DENIS[1]),
            "precision": "street",
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["latitude"]
    assert "Seine-Saint-Denis (93)" in errors["latitude"][0]
    assert "Placez le nouveau point dans le 13." in errors["latitude"][0]
    assert DealPoint.objects.count() == 1


def test_split_without_reports_is_refused(client_for, point):
    response = client_for("cross13_analyst").post(
        reverse("dealpoints:split", args=[point.pk]),
        {"latitude": "43.3470", "longitude": "5.3990", "precision": "street"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["reports"]
    assert DealPoint.objects.count() == 1


# --- POST-only actions ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["status", "merge", "unmerge", "attach"])
def test_actions_are_post_only_and_hidden_from_others(client_for, point, name):
    url = reverse(f"dealpoints:{name}", args=[point.pk])
    assert client_for("cross13_analyst").get(url).status_code == 405
    assert client_for("cross93_analyst").get(url).status_code == 404
    assert client_for("police13_investigator").post(url, {}).status_code == 404
    assert client_for("landlord_13h").post(url, {}).status_code == 404


# --- navigation ----------------------------------------------------------------------------------


def test_navigation_shows_deal_points_to_those_the_policy_lets_see_them(client_for):
    list_link = f'href="{reverse("dealpoints:list")}"'
    analyst = _page(client_for("cross13_analyst").get(reverse("core:home")))
    landlord = _page(client_for("landlord_13h").get(reverse("core:home")))
    operator = _page(client_for("caller_operator").get(reverse("core:home")))
    assert list_link in analyst and list_link in landlord
    assert list_link not in operator
    # Matching is analysts' work (shown once its page exists).
    assert "Rapprochements" not in landlord and "Rapprochements" not in operator


def test_history_reads_in_french(client_for, analyst, point):
    services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date(2026, 1, 15), outcome="none"),
    )
    services.report_detach(actor=analyst, dealpoint=point, report=point.reports.get())
    page = _page(client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[point.pk])))
    assert "Opération de harcèlement (« pilonnage ») du 15/01/2026 : sans résultat" in page
    assert "détaché" in page
    assert "2026-01-15" not in page


def test_attaching_a_report_of_another_point_says_it_left_it(client_for, analyst, point):
    report = accepted_report(analyst=analyst, latitude=43.3456, longitude=5.3950)
    other = dealpoint(actor=analyst, reports=[report], name="Autre")
    client = client_for("cross13_analyst")
    response = _post(client, "attach", point, {"attach-report": report.reference})
    assert response.status_code == 302
    page = _page(client.get(response["Location"]))
    assert f"Il a quitté {other.reference}, dont l&#x27;historique le mentionne." in page
    other_page = _page(client.get(reverse("dealpoints:detail", args=[other.pk])))
    assert (
        f"Signalement {report.reference} rattaché à {point.reference} : il a quitté ce point"
        in other_page
    )


def test_undoing_a_merge_out_of_order_is_refused_with_the_reason(client_for, analyst, point):
    first = dealpoint(actor=analyst, name="Premier")
    second = dealpoint(actor=analyst, name="Second")
    services.dealpoint_merge(actor=analyst, source=first, target=second)
    services.dealpoint_merge(actor=analyst, source=second, target=point)
    client = client_for("cross13_analyst")
    response = _post(client, "unmerge", first)
    assert response.status_code == 302
    assert (
        f"{second.reference} a depuis été fusionné dans {point.reference} : annulez d&#x27;abord"
        in _page(client.get(response["Location"]))
    )
    first.refresh_from_db()
    assert first.merged_into == second


def test_an_alert_in_the_history_reads_as_a_french_sentence(client_for, analyst, point):
    report = accepted_report(analyst=analyst)
    alert = flows._alert_create(
        kind=AlertKind.RESURGENCE, dealpoint=point, distance_m=40.0, report=report
    )
    assert alert is not None
    page = _page(client_for("cross13_analyst").get(reverse("dealpoints:detail", args=[point.pk])))
    assert f"Alerte de résurgence : signalement {report.reference}" in page
    assert f"alert : {alert.pk}" not in page
    assert "candidate :" not in page and "kind :" not in page and "report :" not in page


# What the services (and the demo, the synthetic national data) store for each kind.
_STORED_DETAILS: dict[str, list[dict]] = {
    EventKind.CREATED: [{"reports": ["SIG-13-000001"]}, {"synthetic": True}],
    EventKind.IMPORTED: [{"reports": []}],
    EventKind.EDITED: [
        {"name": ["A", "B"], "products": [["cannabis"], ["cocaine"]]},
        {"building_id": [None, 4], "position": [[43.3, 5.4], [43.31, 5.41]]},
        {"confidence": ["low", "high"], "opening_hours": [[], ["mon:evening"]]},
    ],
    EventKind.STATUS: [
        {},
        {"successor": "PD-13-0002"},
        {"operation": 12},
        {"previous_successor": "PD-13-0002"},
    ],
    EventKind.OPERATION: [
        {"operation": 12, "kind": "raid", "outcome": "none", "date": "2026-01-15"},
        {
            "operation": 12,
            "kind": "raid",
            "outcome": "dismantled",
            "date": "2026-01-15",
            "status_kept": "moved",
        },
    ],
    EventKind.REPORT_ATTACHED: [
        {"report": "SIG-13-000001", "decision": "automatic", "score": 0.93}
    ],
    EventKind.REPORT_DETACHED: [
        {"report": "SIG-13-000001", "was": "confirmed"},
        {"report": "SIG-13-000001", "revised": "proposed"},
    ],
    EventKind.MERGED: [
        {"into": "PD-13-0002", "reports": ["SIG-13-000001"], "replaced": {"1": "2"}},
        {"from": "PD-13-0002", "reports": []},
    ],
    EventKind.UNMERGED: [{"other": "PD-13-0002", "reports": ["SIG-13-000001"]}],
    EventKind.SPLIT: [
        {"new": "PD-13-0002", "reports": ["SIG-13-000001"]},
        {"from": "PD-13-0001", "reports": ["SIG-13-000001"]},
    ],
    EventKind.SUCCESSOR: [
        {"predecessor": "PD-13-0001"},
        {"predecessor": "PD-13-0001", "ended": "resurgent"},
        # As told to a reader who does not see the predecessor (`selectors._history_told`).
        {"predecessor": None, "ended": None, "undisclosed": ["predecessor"]},
    ],
    EventKind.ALERT: [
        {"alert": 7, "kind": "resurgence", "report": "SIG-13-000202", "candidate": None},
        {"alert": 8, "kind": "successor", "report": None, "candidate": "PD-13-0009"},
    ],
}

# The English keys the services store, and the English codes of the choices.
_ENGLISH = re.compile(
    r"\b(alert|candidate|kind|report|reports|decision|score|was|revised|into|from|replaced|"
    r"other|new|predecessor|successor|previous_successor|ended|operation|outcome|date|synthetic|"
    r"status_kept|moved|dismantled|"
    r"building_id|position|raid|none|automatic|confirmed|proposed|resurgence|resurgent|products|"
    r"cannabis|cocaine|low|high|"
    r"mon|evening|opening_hours|confidence|name)\b"
)


def test_every_history_kind_reads_in_french_without_keys_or_ids():
    assert set(_STORED_DETAILS) == set(EventKind.values)
    for kind, samples in _STORED_DETAILS.items():
        for details in samples:
            event = DealPointEvent(
                kind=kind,
                from_status=DealPointStatus.REPORTED,
                to_status=DealPointStatus.CONFIRMED,
                details=details,
            )
            lines = views._event_lines(event)
            assert lines, (kind, details)
            for line in lines:
                # References (SIG-…, PD-…) are the users' own; nothing else is raw.
                text = re.sub(r"\b(SIG|PD)-\d+-\d+\b", "", line)
                assert not _ENGLISH.search(text), (kind, details, line)
                assert " 7" not in text and " 8" not in text and " 12" not in text, line
    alert = DealPointEvent(kind=EventKind.ALERT, details=_STORED_DETAILS[EventKind.ALERT][0])
    assert views._event_lines(alert) == ["Alerte de résurgence : signalement SIG-13-000202"]


def test_a_hidden_predecessors_status_is_not_told_on_its_successor():
    """Need-to-know audit (2026-12-06): the successor's history said which status its
    predecessor ended in (« passé à … ») to a reader who may not see the predecessor."""
    from cartostup.dealpoints import selectors

    stored = {"predecessor": "PD-13-0001", "ended": "resurgent"}
    told = selectors._history_told(stored, reports=set(), points=set())
    assert told["predecessor"] is None and told["ended"] is None
    event = DealPointEvent(kind=EventKind.SUCCESSOR, details=told)
    (line,) = views._event_lines(event)
    assert line.startswith("N'est plus le successeur de") and "passé" not in line
    seen = selectors._history_told(stored, reports=set(), points={"PD-13-0001"})
    assert seen == stored
    event = DealPointEvent(kind=EventKind.SUCCESSOR, details=seen)
    assert views._event_lines(event) == [
        "N'est plus le successeur de PD-13-0001, passé à « Résurgent »"
    ]


def test_the_edit_form_shown_again_measures_the_buildings_from_the_position_sent(
    client_for, point, building
):
    """A point moved 400 m with a building chosen: the refusal said « à 400 m », the list on
    the same page « à 0 m », measured from the position saved (review)."""
    client = client_for("cross13_analyst")
    form = client.get(reverse("dealpoints:edit", args=[point.pk])).context["form"]
    data = {key: value for key, value in form.initial.items() if value not in (None, [])}
    data.update(latitude=f"{building.latitude + 400 / 111_320:.6f}", building=str(building.pk))
    response = client.post(reverse("dealpoints:edit", args=[point.pk]), data)
    assert response.status_code == 400
    page = response.content.decode().replace("&nbsp;", "\xa0")
    (refused,) = response.context["form"].errors["building"]
    said = refused.split("Ce bâtiment est à ")[1].split(" m ")[0]
    assert f", à {said} m : trop loin du point</option>" in page


def test_the_create_page_offers_the_buildings_nearest_its_position_first(client_for, building):
    """From the map (« créer un point ici »), the position is known: the landlords' buildings
    come nearest first, with their distance; an unsound position orders them by commune."""
    client = client_for("cross13_analyst")
    near = client.get(
        reverse("dealpoints:create"),
        {"latitude": f"{building.latitude + 100 / 111_320:.6f}", "longitude": building.longitude},
    ).content.decode()
    assert f"{building.name} – {building.address} (" in near and ", à 100 m</option>" in near
    for latitude in ("nan", "inf", "95"):
        plain = client.get(
            reverse("dealpoints:create"), {"latitude": latitude, "longitude": "5.39"}
        )
        assert plain.status_code == 200
        assert " m</option>" not in plain.content.decode()
    # A building too far from the point is said so before the form refuses it; the form
    # shown again with its errors offers them nearest the position sent.
    far = client.get(
        reverse("dealpoints:create"),
        {"latitude": f"{building.latitude + 2000 / 111_320:.6f}", "longitude": building.longitude},
    ).content.decode()
    # Measured as the refusal measures it (great circle: 1 998 m for 2,000 m on the plane).
    metres = services.building_distance_m(
        building, building.latitude + 2000 / 111_320, building.longitude
    )
    assert f", à {services.metres_said(metres)} m : trop loin du point</option>" in far.replace(
        "&nbsp;", "\xa0"
    )
    sent = client.post(
        reverse("dealpoints:create"),
        {
            "latitude": f"{building.latitude + 100 / 111_320:.6f}".replace(".", ","),
            "longitude": building.longitude,
            "name": "",
        },
    )
    assert sent.status_code in (200, 400)
    assert ", à 100 m</option>" in sent.content.decode()
