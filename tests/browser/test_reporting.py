"""A resident reports from a phone, in a real browser: finds the commune, taps the map to pin the
place, ticks what was seen, attaches a photo carrying EXIF metadata, lets the page compute the
proof of work, gets a receipt, and follows the report up with it. Every request the page makes
goes to this site, and nothing breaks the Content-Security-Policy. Also: the quick exit, and the
language switch (a form post under the `same-origin` referrer policy, so CSRF holds)."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from PIL import Image

# In the map's group: with test_foundation, the browser tests run against SQLite too (`smoke`),
# one served application for both.
pytestmark = [pytest.mark.browser, pytest.mark.smoke, pytest.mark.xdist_group("browser-map")]

PHONE = {"width": 390, "height": 844}
CANARY = "CANARY-EXIF-7f3a"
PHOTO_CHECK = """
from cartostup.reports.models import Report
report = Report.objects.get(receipt_key="{key}")
data = report.photo.read()
print("PHOTO", len(data), b"{canary}" in data, b"Exif" in data)
print("PLACE", report.latitude, report.longitude, report.precision, report.online_account)
"""


def phone_page(browser, served_app, language: str = "fr"):
    context = browser.new_context(
        locale="fr-FR", viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    if language != "fr":
        context.add_cookies([{"name": "django_language", "value": language, "url": served_app.url}])
    page = context.new_page()
    page.console_errors = []
    page.requests = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("request", lambda request: page.requests.append(request.url))
    return context, page


def photo_with_exif(path) -> str:
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    exif[0x013B] = CANARY  # Artist
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (43.0, 20.0, 42.0), "E", (5.0, 23.0, 41.0)
    Image.new("RGB", (320, 240), (90, 120, 160)).save(path, format="JPEG", exif=exif)
    return str(path)


def only_our_origin(urls: list[str], origin: str) -> list[str]:
    """The requests that went anywhere but the served site (data: and blob: are local)."""
    return [
        url
        for url in urls
        if not url.startswith(origin + "/") and urlsplit(url).scheme not in {"data", "blob"}
    ]


def test_resident_reports_from_a_phone_and_follows_up(browser, served_app, tmp_path):
    context, page = phone_page(browser, served_app)
    page.goto(f"{served_app.url}/signaler/")
    assert page.get_by_role("heading", name="Signaler un point de deal").is_visible()
    assert page.get_by_role("link", name="Quitter ce site").is_visible()

    # Where: the commune by name (offline search on this site), then a tap on the map.
    page.get_by_label("Commune ou code postal").fill("Marseille 14e")
    page.get_by_role("button", name="Rechercher").click()
    page.get_by_text(re.compile("Commune choisie : Marseille 14e Arrondissement")).wait_for()
    outline = page.locator("#report-map .leaflet-overlay-pane path")
    outline.first.wait_for()
    box = page.locator("#report-map").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    page.locator("#report-map").tap(position={"x": box["width"] / 2, "y": box["height"] / 2})
    page.get_by_text("Repère placé.").wait_for()
    assert page.locator("#report-map .leaflet-marker-icon").count() == 1
    latitude = float(page.locator("#id_latitude").input_value())
    longitude = float(page.locator("#id_longitude").input_value())
    assert 43.33 < latitude < 43.37 and 5.37 < longitude < 5.42  # Marseille 14e

    # The DSFR draws check boxes and radios over their labels: click the labels.
    page.locator("label[for=id_precision_0]").click()  # stairwell or entrance
    page.get_by_label("Bâtiment, cage d'escalier ou entrée").fill("Bât. C, cage 2")
    page.locator("label[for=id_activities_0]").click()  # selling
    account = page.get_by_label("Compte ou pseudonyme de vente en ligne")
    assert not account.is_visible()
    page.locator("label[for=id_activities_4]").click()  # online selling reveals the account
    account.fill("@vente13")
    page.locator("label[for=id_products_0]").click()
    page.locator("label[for=id_days_4]").click()
    page.locator("label[for=id_times_of_day_2]").click()
    page.locator("label[for=id_people_count_2]").click()
    page.get_by_label("Description").fill("Deux guetteurs à l'entrée, le soir.")
    page.set_input_files("#id_photo", photo_with_exif(tmp_path / "photo.jpg"))

    # Submit: the page fetches a challenge and its worker computes the proof (8 bits).
    page.get_by_role("button", name="Envoyer le signalement").click()
    heading = page.get_by_role("heading", name="Votre signalement a bien été envoyé")
    heading.wait_for(timeout=60_000)
    receipt = page.locator(".cs-receipt .fr-sr-only").text_content().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){5}", receipt)
    assert page.locator(".cs-receipt__group").count() == 6
    assert receipt not in page.url
    assert any(url.endswith("/api/public/v1/challenge") for url in page.requests)
    assert any(url.endswith("/static/reports/pow_worker.js") for url in page.requests)

    # The stored photo is re-encoded: no EXIF, no canary.
    output = served_app.manage(
        "shell", "-c", PHOTO_CHECK.format(key=receipt.replace("-", "")[:8], canary=CANARY)
    )
    assert "PHOTO" in output and " False False" in output, output
    assert "stairwell @vente13" in output, output

    # Follow-up with the receipt (typed, posted, never in a URL).
    page.get_by_role("link", name="Suivre mon signalement").last.click()
    page.wait_for_url(f"{served_app.url}/suivi/")
    page.get_by_label("Numéro de suivi").fill(receipt.lower().replace("-", " "))
    page.get_by_role("button", name="Voir mon signalement").click()
    assert page.locator("#followup-status").text_content() == "Reçu"
    assert page.get_by_label("Votre réponse").is_visible()
    assert page.get_by_role("button", name="Envoyer la réponse").is_visible()
    assert receipt not in page.url

    assert page.console_errors == []
    assert only_our_origin(page.requests, served_app.url) == []
    context.close()


def test_quick_exit_leaves_for_a_blank_page_without_a_request(browser, served_app):
    context, page = phone_page(browser, served_app)
    page.goto(f"{served_app.url}/signaler/")
    page.get_by_label("Commune ou code postal").fill("Saint-Denis")
    page.locator("body").press("Escape")
    page.locator("body").press("Escape")
    deadline = time.monotonic() + 5
    while page.url != "about:blank" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert page.url == "about:blank"
    # The form's page is no longer in the tab's history entry: "Back" does not return to it.
    page.goto(f"{served_app.url}/prevention/")
    page.get_by_role("link", name="Quitter ce site").click()
    page.wait_for_url("about:blank")
    assert only_our_origin(page.requests, served_app.url) == []
    assert page.console_errors == []
    context.close()


def test_reader_switches_to_arabic_right_to_left(browser, served_app):
    context, page = phone_page(browser, served_app)
    page.goto(f"{served_app.url}/prevention/")
    page.get_by_role("button", name=re.compile("Choisir la langue")).click()
    page.get_by_role("button", name=re.compile(r"^AR – ")).click()
    page.wait_for_url(f"{served_app.url}/prevention/")
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert page.locator("html").get_attribute("lang") == "ar"
    assert page.get_by_role("heading", name="الوقاية والمساعدة", exact=True).is_visible()
    # The page stays within the phone's width in right-to-left layout.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    page.goto(f"{served_app.url}/signaler/")
    assert page.get_by_role("heading", name="الإبلاغ عن نقطة لبيع المخدرات").is_visible()
    assert page.console_errors == []
    assert only_our_origin(page.requests, served_app.url) == []
    context.close()
