"""Triage in a real browser: an analyst of the CROSS opens the queue and its map, opens a
report, asks the reporter a question; the reporter answers with the receipt on the public
follow-up page; the analyst reads the answer and accepts the report. The call platform's
operator keys in a call and reads the receipt back."""

import re
import time

import pytest

from tests.browser.server import collect_console_errors
from tests.browser.test_foundation import log_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# Marseille 14e, near the demo buildings: a report the analyst of the 13 triages.
NEW_REPORT = """
from cartostup.reports import services
submitted = services.report_submit_public(
    data=services.ReportInput(
        latitude=43.3449, longitude=5.3957, precision="building", place_label="Tour 7",
        activities=["selling", "lookouts"], products=["cannabis"], times_of_day=["evening"],
        description="Vente en soirée au pied de la tour 7 (essai navigateur).",
    ),
    channel="web",
)
print("REPORT", submitted.report.reference, submitted.receipt)
"""


def _wait_for_count(locator, minimum: int, seconds: float = 20) -> int:
    # Polled from Python: the CSP rightly forbids the eval wait_for_function would need.
    deadline = time.monotonic() + seconds
    while locator.count() < minimum and time.monotonic() < deadline:
        time.sleep(0.2)
    return locator.count()


def test_analyst_triages_a_report_with_a_question_answered_by_the_reporter(
    page, browser, served_app
):
    output = served_app.manage("shell", "-c", NEW_REPORT)
    line = next(line for line in output.splitlines() if line.startswith("REPORT "))
    _label, reference, receipt = line.split()
    log_in(page, served_app, "cross13_analyst")

    page.get_by_role("link", name="Signalements", exact=True).first.click()
    page.wait_for_url(re.compile(r".*/signalements/tri/"))
    assert page.get_by_role("heading", name="Signalements à trier").is_visible()
    # The queue's map draws one marker per filtered report, beside the table.
    markers = page.locator("#triage-map .leaflet-overlay-pane path.leaflet-interactive")
    assert _wait_for_count(markers, 1) >= 1
    assert page.locator("#triage-table").get_by_role("link", name=reference).is_visible()

    page.locator("#triage-table").get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(r".*/signalements/\d+/$"))
    assert page.get_by_role("heading", name=f"Signalement {reference}").is_visible()
    assert page.get_by_text("Vente en soirée au pied de la tour 7").is_visible()
    assert _wait_for_count(page.locator("#report-map path.leaflet-interactive"), 1) == 1
    detail_url = page.url

    page.get_by_label("Question au signalant").fill("Combien de guetteurs voyez-vous le soir ?")
    page.get_by_role("button", name="Envoyer la question").click()
    page.wait_for_url(detail_url)
    assert page.get_by_text("Question envoyée.").is_visible()
    assert page.get_by_text("Question posée au signalant").first.is_visible()
    assert page.console_errors == []

    # The reporter, anonymous, in another browser context, answers with the receipt.
    reporter = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    public = reporter.new_page()
    public_errors = collect_console_errors(public)
    response = public.goto(f"{served_app.url}/suivi/")
    if response is not None and response.status == 200:
        public.get_by_label("Numéro de suivi").fill(receipt)
        public.get_by_role("button", name="Voir mon signalement").click()
        assert public.get_by_text("Combien de guetteurs voyez-vous le soir ?").is_visible()
        public.get_by_label("Votre réponse").fill("Deux, à l'entrée du parking.")
        public.get_by_role("button", name="Envoyer la réponse").click()
        assert public.get_by_text("Votre réponse a été envoyée.").is_visible()
        # A GET after a redirect: reloading it sends nothing again (the analyst's page below
        # shows the answer once; two would fail its strict locator).
        public.reload()
        assert public.get_by_text("Votre réponse a été envoyée.").is_visible()
        assert public_errors == []
        answered = True
    else:
        answered = False
    reporter.close()

    page.reload()
    if answered:
        assert page.get_by_text("Deux, à l'entrée du parking.").is_visible()
    page.get_by_label("Note interne (facultative)").first.fill("Recoupe la tour 7.")
    page.get_by_role("button", name="Accepter le signalement").click()
    page.wait_for_url(detail_url)
    # Matched at once against the demo deal points around the tour 7 (attached or proposed to
    # the analysts), no longer left waiting.
    message = page.get_by_text(re.compile(f"Signalement {reference} accepté et (rattaché|proposé)"))
    assert message.is_visible()
    assert page.locator("#awaiting-matching").count() == 0
    # The page says where: the point's reference, linked.
    matching = page.locator("#report-matching")
    assert matching.get_by_role("link", name=re.compile(r"^PD-13-\d{4}$")).count() >= 1
    assert page.get_by_role("button", name="Accepter le signalement").count() == 0
    assert page.console_errors == []


def test_operator_keys_in_a_call_and_reads_the_receipt(page, served_app):
    log_in(page, served_app, "caller_operator")
    page.get_by_role("link", name="Saisir un appel").first.click()
    page.wait_for_url(re.compile(r".*/signalements/appel/"))
    # The public form's commune search and map pin, driven from the keyboard.
    page.get_by_label("Commune ou code postal").fill("13014")
    page.get_by_label("Commune ou code postal").press("Enter")
    page.get_by_text(re.compile("Commune choisie")).wait_for()
    page.get_by_role("button", name="Placer le repère au centre de la carte").click()
    assert page.get_by_text("Repère placé.").is_visible()
    page.locator("label[for=id_activities_0]").click()  # DSFR: the label covers the box
    assert page.get_by_label("Vente", exact=True).is_checked()
    page.get_by_role("button", name="Enregistrer et obtenir le code").click()
    assert page.get_by_role("heading", name="Lisez ce code à l'appelant").is_visible()
    groups = page.locator(".reports-receipt__group")
    assert groups.count() == 6
    assert page.get_by_role("link", name="Nouvel appel").is_visible()
    # The receipt page is a GET after a redirect: reloading it posts nothing (no second
    # report) and does not show the code again.
    assert page.url.endswith("/signalements/appel/code/")
    page.reload()
    page.wait_for_url(re.compile(r".*/signalements/appel/$"))
    assert page.get_by_text(re.compile("Le code de suivi n'est affiché qu'une fois")).is_visible()
    assert page.locator(".reports-receipt__group").count() == 0
    assert page.console_errors == []


# A phone report given by its address alone (Marseille 3e), accepted: it stands at the
# arrondissement's point until an analyst places it.
ADDRESS_ONLY_REPORT = """
from cartostup.access.models import User
from cartostup.dealpoints import flows
from cartostup.reports import services
report = services.report_submit_public(
    data=services.ReportInput(
        address="place Cadenat", commune_code="13203", precision="building",
        activities=["selling"], description="Vente place Cadenat (essai navigateur).",
    ),
    channel="web",
).report
flows.report_accept_and_match(actor=User.objects.get(username="cross13_analyst"), report=report)
print("REPORT", report.pk, report.reference)
"""


def test_analyst_places_a_report_given_by_its_address_alone(page, served_app):
    output = served_app.manage("shell", "-c", ADDRESS_ONLY_REPORT)
    line = next(line for line in output.splitlines() if line.startswith("REPORT "))
    _label, pk, reference = line.split()
    log_in(page, served_app, "cross13_analyst")
    page.goto(f"{served_app.url}/signalements/{pk}/")
    assert page.get_by_text("Adresse seulement : aucun repère placé").is_visible()
    assert page.get_by_role("heading", name="Placer le signalement").is_visible()
    report_map = page.locator("#report-map")
    assert _wait_for_count(report_map.locator("path.leaflet-interactive"), 1) >= 1

    # A click on the map, beside the arrondissement's point, sets the coordinates and pins.
    box = report_map.bounding_box()
    assert box is not None
    report_map.click(position={"x": box["width"] / 2 + 60, "y": box["height"] / 2 - 40})
    latitude = page.get_by_label("Latitude").input_value()
    longitude = page.get_by_label("Longitude").input_value()
    assert re.fullmatch(r"43\.\d{6}", latitude) and re.fullmatch(r"5\.\d{6}", longitude)
    assert report_map.get_attribute("data-placed") == "true"
    page.locator("label[for=id_place-precision_2]").click()  # « Rue » (DSFR: the label covers it)
    assert page.get_by_label("Rue", exact=True).is_checked()
    page.get_by_role("button", name="Placer le signalement").click()

    page.wait_for_url(re.compile(rf".*/signalements/{pk}/$"))
    # Matched at once from there: the message says what the matching did.
    assert page.get_by_text(re.compile(f"^Signalement {reference} placé")).is_visible()
    assert page.get_by_text("Adresse seulement : aucun repère placé").count() == 0
    place = page.locator("table", has=page.get_by_role("heading", name="Lieu signalé"))
    position = f"{float(latitude):.5f}, {float(longitude):.5f}"
    assert place.get_by_role("cell", name=position).is_visible()
    assert place.get_by_role("cell", name="Rue", exact=True).is_visible()
    assert page.get_by_role("heading", name="Placer le signalement").count() == 0
    assert page.console_errors == []
