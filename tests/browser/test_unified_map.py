"""The analyst's story of issue 4 in a real browser, on the demo data built by the matching:
the analyst of the CROSS opens the map of Marseille, clicks a point and opens its record from
the side panel, records a raid ("pilonnage") and dismantles the point; then turns a proposal
of the matching queue into a new deal point. A landlord opening the same map sees only the
points on its own buildings. No console error anywhere (CSP included)."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-map")]

# A confirmed demo point of Marseille (built by the matching in seed_demo), and the partner
# codes of the points that stand on landlord_13h's buildings (what the landlord sees).
DEMO_POINTS = """
from cartostup.access.models import Organisation
from cartostup.dealpoints.models import DealPoint
points = DealPoint.objects.filter(merged_into__isnull=True, departement__code="13")
confirmed = points.filter(status="confirmed").order_by("reference").first()
landlord = Organisation.objects.get(memberships__user__username="landlord_13h")
own = points.filter(building__owner_organisation=landlord)
own = sorted(own.values_list("partner_code", flat=True))
print("CONFIRMED", confirmed.pk, confirmed.reference)
print("OWN", " ".join(own))
print("ALL", " ".join(sorted(points.values_list("reference", flat=True))))
"""


def _wait_for_count(locator, minimum: int, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    deadline = time.monotonic() + seconds
    while locator.count() < minimum and time.monotonic() < deadline:
        time.sleep(0.2)
    return locator.count()


@pytest.fixture(scope="module")
def demo_points(served_app) -> dict[str, list[str]]:
    output = served_app.manage("shell", "-c", DEMO_POINTS)
    found = {}
    for line in output.splitlines():
        label, _, rest = line.partition(" ")
        if label in {"CONFIRMED", "OWN", "ALL"}:
            found[label] = rest.split()
    return found


def test_analyst_follows_a_point_from_the_map_to_its_dismantling(page, served_app, demo_points):
    pk, reference = demo_points["CONFIRMED"]
    log_in(page, served_app, "cross13_analyst")
    page.get_by_role("link", name="Carte", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/carte/"))

    # Marseille at the street: the demo points drawn one by one; a click opens the panel.
    page.goto(f"{served_app.url}/carte/?departement=13&point={pk}")
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    page.keyboard.press("Escape")
    marker = page.locator(f'#dealpoints-map .dealpoints-marker[title^="{reference} "]')
    marker.wait_for(timeout=20_000)
    marker.click()
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    assert page.locator("#map-panel-reference").inner_text() == reference
    page.locator("#map-panel").get_by_role("link", name="Ouvrir la fiche complète").click()
    page.wait_for_url(re.compile(rf".*/points-de-deal/{pk}/$"))
    assert page.get_by_role("heading", name=re.compile(reference)).first.is_visible()

    # A raid of the police that disrupts the point (the CROSS records it in the police's
    # name), then the analyst dismantles it.
    form = page.locator("#operation-form")
    form.get_by_label("Type d'opération").select_option("raid")
    form.get_by_label("Résultat").select_option("disrupted")
    form.get_by_label("Service qui a mené l'opération").select_option(
        label="Police nationale – DIPN 13"
    )
    form.get_by_role("button", name="Enregistrer l'opération").click()
    page.wait_for_url(re.compile(rf".*/points-de-deal/{pk}/$"))
    assert page.locator("#history").get_by_text(re.compile("pilonnage")).first.is_visible()
    recorded = page.locator("#operations tbody tr").filter(has_text="Police nationale – DIPN 13")
    assert recorded.filter(has_text="Saisi par Camille Martin").count() >= 1

    status = page.locator("#status-form")
    status.get_by_label("Nouveau statut").select_option("dismantled")
    status.get_by_label("Note pour l'historique").fill("Point fermé après trois pilonnages.")
    status.get_by_role("button", name="Changer le statut").click()
    page.wait_for_url(re.compile(rf".*/points-de-deal/{pk}/$"))
    history = page.locator("#history")
    assert history.get_by_text("Confirmé → Démantelé").is_visible()
    assert history.get_by_text("Point fermé après trois pilonnages.").is_visible()

    # The matching queue: a proposed new point becomes a deal point.
    page.get_by_role("link", name="Rapprochements", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/rapprochements/$"))
    page.get_by_role("link", name="Créer le point").first.click()
    # The creation page carries the queue's next item (`?focus=`), to come back to it.
    page.wait_for_url(re.compile(r".*/rapprochements/propositions/\d+/creer/(\?focus=[\w-]+)?$"))
    page.get_by_role("button", name="Créer le point de deal").click()
    page.wait_for_url(re.compile(r".*/rapprochements/\?focus=[\w-]+#messages$"))
    created = page.get_by_text(re.compile(r"Point de deal PD-13-\d+ créé avec \d+ signalement"))
    assert created.is_visible()
    found = re.search(r"PD-13-\d+", created.inner_text())
    assert found is not None and found.group(0) not in demo_points["ALL"]
    assert page.console_errors == []


def test_landlord_sees_only_its_buildings_points_on_the_map(page, served_app, demo_points):
    own = set(demo_points["OWN"])
    assert own, "the demo ties points to landlord_13h's buildings"
    log_in(page, served_app, "landlord_13h")
    page.goto(f"{served_app.url}/carte/")
    markers = page.locator("#dealpoints-map .dealpoints-marker")
    assert _wait_for_count(markers, 1) >= 1
    time.sleep(0.5)
    shown = {
        (markers.nth(i).get_attribute("title") or "").split(" ")[0] for i in range(markers.count())
    }
    assert shown and shown <= own
    assert page.console_errors == []
