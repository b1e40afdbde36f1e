"""Accessibility (RGAA 4.1, WCAG 2.1 A and AA) checked by axe-core in a real browser, on the pages
a real user reaches: the public report form (empty, returned with errors, its receipt), the
follow-up and prevention pages, the login and its second factor (with their errors), error
pages, and for each kind of user (CROSS analyst, landlord, prefecture, call-platform operator,
auditor, administrator) their home page, the map once its layers are drawn, lists, records,
forms (one of them returned with errors) and the audit trail; the API documentation, and a
few pages in the dark theme.

axe-core comes from the `axe-playwright-python` package (its bundled `axe.min.js`, installed by
`make install-dev`; no CDN). It is given to the page by `page.evaluate`, which the DevTools
protocol runs outside the page's Content-Security-Policy: the site's CSP stays as it is, and no
`bypass_csp` is needed. A page's violations are listed (page, rule, impact, element, help)
and the test fails on any. No rule is turned off and no element left out: the maps' Leaflet
controls, markers and hexagons are judged like the rest (no tile images here: none without
CARTOSTUP_TILE_URL); see docs/decisions.md, « Accessibility checked by axe-core »."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from axe_playwright_python.base import AXE_SCRIPT

from cartostup.access.account_services import DEMO_PASSWORD
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

RECORDS = """
from cartostup.access.models import Building, Organisation, User
from cartostup.core.models import AuditEvent
from cartostup.dealpoints.models import DealPoint, Proposal
from cartostup.reports.models import Report
from cartostup.territories.models import Antenna
point = DealPoint.objects.filter(merged_into__isnull=True, departement__code="13").order_by("pk")
print("POINT", point.first().pk)
print("REPORT", Report.objects.filter(departement__code="13").order_by("pk").first().pk)
proposal = Proposal.objects.filter(status="open", departement__code="93").order_by("pk").first()
print("PROPOSAL", proposal.pk)
landlord = Building.objects.filter(owner_organisation__name__startswith="Habitat Phocéen")
print("BUILDING", landlord.order_by("pk").first().pk)
shared = DealPoint.objects.filter(building__in=landlord, merged_into__isnull=True).order_by("pk")
print("CODE", shared.first().partner_code)
print("ORGANISATION", Organisation.objects.get(name="CROSS des Bouches-du-Rhône").pk)
print("USER", User.objects.get(username="cross13_analyst").pk)
print("ANTENNA", Antenna.objects.order_by("pk").first().pk)
print("EVENT", AuditEvent.objects.order_by("pk").first().pk)
"""


@pytest.fixture(scope="module")
def records(served_app) -> dict[str, str]:
    output = served_app.manage("shell", "-c", RECORDS)
    return dict(line.split(" ", 1) for line in output.splitlines() if re.match(r"[A-Z]+ ", line))


def _violations(page, where: str) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of the page as shown, one readable line each."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    # The whole document: no rule is turned off and no element left out.
    results = page.evaluate(
        "options => axe.run(document, options)",
        {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    lines = []
    for violation in results["violations"]:
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(
                f"{where}: {violation['id']} ({violation['impact']}) {target} – {violation['help']}"
            )
    return lines


def _wait_for_count(locator, minimum: int = 1, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    deadline = time.monotonic() + seconds
    while locator.count() < minimum and time.monotonic() < deadline:
        time.sleep(0.2)
    return locator.count()


class Audit:
    """Visits pages and gathers their violations; `done` fails with all of them at once."""

    def __init__(self, page, served_app) -> None:
        self.page = page
        self.url = served_app.url
        self.found: list[str] = []
        self.checked: list[str] = []

    def check(self, where: str, *, status: int = 200) -> None:
        self.page.wait_for_load_state()
        self.checked.append(where)
        self.found.extend(_violations(self.page, where))
        if status != 200:
            # The browser logs the error status of a page asked for on purpose: not a fault.
            said = f"the server responded with a status of {status} "
            self.page.console_errors[:] = [e for e in self.page.console_errors if said not in e]

    def visit(
        self, path: str, *, status: int = 200, ready: Callable[[object], None] | None = None
    ) -> None:
        response = self.page.goto(self.url + path)
        assert response is not None and response.status == status, (path, response)
        if ready is not None:
            ready(self.page)
        self.check(path, status=status)

    def done(self) -> None:
        assert not self.found, "Violations d'accessibilité (axe-core, WCAG 2.1 AA) :\n" + "\n".join(
            self.found
        )
        assert self.page.console_errors == []


def map_drawn(page) -> None:
    """The map's layers are drawn and listed in the table beside it (« Chargement… » gone)."""
    drawn = "#dealpoints-map .leaflet-overlay-pane path, #dealpoints-map .leaflet-marker-icon"
    assert _wait_for_count(page.locator(drawn)) >= 1
    listed = page.locator("#map-table tbody tr").filter(has_not_text="Chargement")
    assert _wait_for_count(listed) >= 1
    page.wait_for_timeout(300)


def triage_drawn(page) -> None:
    assert _wait_for_count(page.locator("#triage-map[data-markers]")) >= 1
    page.wait_for_timeout(300)


def territory_drawn(page) -> None:
    assert _wait_for_count(page.locator("#territory-map .leaflet-overlay-pane path"), 10) >= 10


def submit(page, name: str) -> None:
    page.get_by_role("button", name=name).first.click()
    page.wait_for_load_state()


def test_public_pages_login_and_errors(page, served_app):
    audit = Audit(page, served_app)
    page.set_viewport_size({"width": 390, "height": 844})
    audit.visit("/signaler/")
    submit(page, "Envoyer le signalement")
    page.locator("#error-summary").wait_for(timeout=30_000)
    audit.check("/signaler/ (erreurs)")
    # The smallest report: a commune, a pin at the map's centre, one activity.
    page.get_by_label("Commune ou code postal").fill("Marseille 14e")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_text(re.compile("Commune choisie")).wait_for()
    page.locator("#pin-centre").click()
    page.locator("label[for=id_activities_0]").click()
    submit(page, "Envoyer le signalement")
    page.get_by_role("heading", name="Votre signalement a bien été envoyé").wait_for(timeout=60_000)
    audit.check("/signaler/ (numéro de suivi)")
    receipt = page.locator(".cs-receipt .fr-sr-only").text_content().strip()
    audit.visit("/suivi/")
    page.get_by_label("Numéro de suivi").fill(receipt)
    submit(page, "Voir mon signalement")
    audit.check("/suivi/ (signalement)")
    audit.visit("/prevention/")
    audit.visit("/signaler/page-inexistante/", status=404)

    page.set_viewport_size({"width": 1280, "height": 900})
    audit.visit("/comptes/connexion/")
    submit(page, "Se connecter")
    audit.check("/comptes/connexion/ (erreurs)")
    page.get_by_label("Identifiant", exact=True).fill("auditor")
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    submit(page, "Se connecter")
    page.wait_for_url(re.compile(r".*/comptes/second-facteur/.*"))
    audit.check("/comptes/second-facteur/")
    page.get_by_label(re.compile("Code")).fill("abc")
    submit(page, "Valider")
    audit.check("/comptes/second-facteur/ (erreurs)")
    page.get_by_label(re.compile("Code")).fill(served_app.totp_code("auditor"))
    submit(page, "Valider")
    page.wait_for_url(f"{served_app.url}/")
    audit.check("/ (auditeur)")
    audit.visit("/audit/")
    audit.visit("/page-inexistante/", status=404)
    audit.done()


def test_cross_analyst_pages(page, served_app, records):
    audit = Audit(page, served_app)
    log_in(page, served_app, "cross13_analyst")
    point, report = records["POINT"], records["REPORT"]
    audit.visit("/")
    audit.visit("/carte/?departement=13", ready=map_drawn)
    audit.visit(f"/carte/?departement=13&point={point}", ready=map_drawn)
    page.locator("#map-panel-reference").wait_for(timeout=20_000)
    audit.check("/carte/ (fiche dans le panneau)")
    audit.visit("/points-de-deal/")
    audit.visit(f"/points-de-deal/{point}/")
    audit.visit(f"/points-de-deal/{point}/modifier/")
    audit.visit(f"/points-de-deal/{point}/scinder/")
    audit.visit("/points-de-deal/nouveau/")
    submit(page, "Créer le point de deal")
    audit.check("/points-de-deal/nouveau/ (erreurs)", status=400)
    audit.visit("/points-de-deal/importer/")
    audit.visit("/signalements/tri/", ready=triage_drawn)
    audit.visit(f"/signalements/{report}/")
    audit.visit("/rapprochements/")
    audit.visit("/territoires/")
    audit.visit("/territoires/departements/13/", ready=territory_drawn)
    audit.visit("/comptes/mot-de-passe/")
    audit.visit("/comptes/jetons/")
    audit.visit(f"/points-de-deal/{point}/statut/", status=405)
    audit.visit("/points-de-deal/999999/", status=404)
    # 320 CSS pixels (a phone, or 1280 at 400 %): wide tables scroll, and must take the focus.
    page.set_viewport_size({"width": 320, "height": 800})
    audit.visit(f"/points-de-deal/{point}/")
    audit.visit("/territoires/departements/13/", ready=territory_drawn)
    audit.visit("/carte/?departement=13", ready=map_drawn)
    # The matching queue's rows stacked, one value under another (test_tables.py).
    audit.visit("/rapprochements/")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.clear_cookies()
    log_in(page, served_app, "cross93_analyst")
    audit.visit(f"/rapprochements/propositions/{records['PROPOSAL']}/creer/")
    audit.done()


def test_landlord_prefecture_and_operator_pages(page, served_app, records):
    audit = Audit(page, served_app)
    # The landlord's referent on a phone: the map's layers are behind a button there.
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, served_app, "landlord_13h")
    audit.visit("/")
    audit.visit("/carte/", ready=map_drawn)
    assert page.get_by_role("button", name="Couches de la carte").is_visible()
    audit.visit(f"/points-de-deal/code/{records['CODE']}/")
    audit.visit("/signalements/bailleur/")
    audit.visit(f"/signalements/bailleur/batiments/{records['BUILDING']}/signaler/")
    submit(page, "Transmettre le signalement")
    audit.check("/signalements/bailleur/… (erreurs)")
    audit.visit("/administration/batiments/")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.clear_cookies()
    log_in(page, served_app, "prefecture_13")
    audit.visit("/")
    audit.visit("/carte/", ready=map_drawn)

    page.context.clear_cookies()
    log_in(page, served_app, "caller_operator")
    audit.visit("/")
    audit.visit("/signalements/appel/")
    submit(page, "Enregistrer et obtenir le code")
    audit.check("/signalements/appel/ (erreurs)")
    audit.done()


def test_administrator_pages(page, served_app, records):
    audit = Audit(page, served_app)
    log_in(page, served_app, "admin")
    audit.visit("/")
    audit.visit("/administration/")
    audit.visit("/administration/organisations/")
    audit.visit(f"/administration/organisations/{records['ORGANISATION']}/")
    audit.visit(f"/administration/organisations/{records['ORGANISATION']}/modifier/")
    audit.visit("/administration/utilisateurs/")
    audit.visit(f"/administration/utilisateurs/{records['USER']}/")
    audit.visit("/administration/utilisateurs/nouveau/")
    submit(page, "Créer le compte")
    audit.check("/administration/utilisateurs/nouveau/ (erreurs)")
    audit.visit("/administration/groupes-de-partage/")
    audit.visit("/administration/groupes-de-partage/nouveau/")
    audit.visit("/administration/antennes/")
    audit.visit(f"/administration/antennes/{records['ANTENNA']}/modifier/")
    audit.visit("/audit/")
    audit.visit(f"/audit/{records['EVENT']}/")
    audit.done()


def api_operation_opened(page) -> None:
    """Swagger UI has drawn the operations; the first one is opened (its examples shown)."""
    page.locator(".opblock-summary-path").first.wait_for(timeout=20_000)
    page.locator(".opblock-summary-control").first.click()
    page.locator(".opblock-body").first.wait_for()
    page.wait_for_timeout(300)


def test_api_documentation_and_the_dark_theme(page, served_app):
    """/api/docs/ (linked from every page's footer) is Swagger UI's markup in our page, restyled
    by core/api_docs.css; with the system's dark theme, the DSFR's dark colours surround it."""
    audit = Audit(page, served_app)
    audit.visit("/api/docs/", ready=api_operation_opened)
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 390, "height": 844})
    audit.visit("/api/docs/", ready=api_operation_opened)
    audit.visit("/signaler/")
    audit.visit("/comptes/connexion/")
    audit.done()
