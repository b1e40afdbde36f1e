"""The public pages: report form, receipt shown once, follow-up, prevention, commune search,
languages (French, English, Arabic right to left) and the headers that keep them private."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from PIL import Image

from cartostup.core.management.commands.compile_translations import (
    catalogues,
    mo_bytes,
    po_parse,
    python_messages,
    template_messages,
)
from cartostup.reports import pow, services
from cartostup.reports.choices import Status
from cartostup.reports.models import PowChallenge, Report, ReportMessage
from cartostup.reports.tests.factories import MARSEILLE_14, jpeg_upload, submit

REPORT_URL = "/signaler/"
FOLLOWUP_URL = "/suivi/"
REPLY_URL = "/suivi/reponse/"
PREVENTION_URL = "/prevention/"
COMMUNES_URL = "/signaler/communes"
PUBLIC_PAGES = [REPORT_URL, FOLLOWUP_URL, PREVENTION_URL]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _easy_proof_of_work(settings):
    settings.CARTOSTUP_POW_DIFFICULTY = 4


def proof() -> dict[str, str]:
    challenge = pow.challenge_issue()
    return {"challenge": challenge.value, "nonce": pow.pow_solve(challenge.value, 4)}


def form_data(**changes) -> dict:
    data = {
        "latitude": str(MARSEILLE_14[0]),
        "longitude": str(MARSEILLE_14[1]),
        "precision": "building",
        "place_label": "Bâtiment B",
        "activities": ["selling", "lookouts"],
        "products": ["cannabis"],
        "days": ["fri"],
        "times_of_day": ["evening"],
        "people_count": "3-5",
        "description": "Vente au pied de l'immeuble.",
        **proof(),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def text(response) -> str:
    return response.content.decode()


def in_language(language: str) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


# --- pages and headers ----------------------------------------------------------------------


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_need_no_account_and_are_never_stored(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"
    assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]
    # No session, no tracker: at most the CSRF cookie (random, never stored server-side).
    assert set(response.cookies) <= {settings.CSRF_COOKIE_NAME}
    body = text(response)
    assert 'id="quick-exit"' in body and 'href="about:blank"' in body
    # Nothing loaded from another site: every script, image and stylesheet is ours; links
    # to official sites are plain links that send no referrer.
    assert not re.search(r'src="(https?:)?//', body)
    assert not re.search(r'<link[^>]+href="(https?:)?//', body)
    for link in re.findall(r'<a [^>]*href="https?://[^>]*>', body):
        assert 'rel="noreferrer noopener"' in link, link
    assert ' style="' not in body


def test_report_form_has_every_field_and_no_geolocation(client):
    body = text(client.get(REPORT_URL))
    for name in (
        "latitude",
        "longitude",
        "address",
        "commune_code",
        "commune_query",
        "precision",
        "place_label",
        "activities",
        "online_account",
        "products",
        "days",
        "times_of_day",
        "people_count",
        "description",
        "photo",
        "challenge",
        "nonce",
    ):
        assert f'name="{name}"' in body, name
    assert 'accept="image/*"' in body
    assert "Ne placez pas le repère sur votre propre domicile" in body
    assert "leaflet/leaflet.js" in body and "reports/report_form.js" in body
    assert "<legend" in body and 'for="id_place_label"' in body
    script = Path(settings.BASE_DIR, "cartostup/reports/static/reports/report_form.js").read_text()
    assert "navigator.geolocation" not in script and "getCurrentPosition" not in script


def test_valid_report_shows_the_receipt_once_without_redirect(client):
    response = client.post(REPORT_URL, form_data())
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = text(response)
    report = Report.objects.get()
    found = re.search(r'<span class="fr-sr-only">([0-9A-Z-]{29})</span>', body)
    assert found is not None
    receipt = found.group(1)
    assert receipt.replace("-", "")[:8] == report.receipt_key
    assert body.count('class="cs-receipt__group"') == 6
    assert "il ne sera plus jamais affiché" in body
    assert 'href="/suivi/"' in body
    # The receipt never reaches a URL and is not stored in plain text.
    assert receipt not in response.get("Location", "")
    assert receipt.replace("-", "")[8:] not in report.receipt_hash
    # A second look at the same page is just an empty form.
    assert receipt not in text(client.get(REPORT_URL))


def test_report_with_photo_strips_metadata(client):
    exif = Image.Exif()
    exif[0x010E] = "CANARY-DESCRIPTION"
    response = client.post(REPORT_URL, {**form_data(), "photo": jpeg_upload(exif=exif)})
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.photo
    assert b"CANARY-DESCRIPTION" not in report.photo.read()


def test_invalid_report_stores_nothing_and_explains_in_french(client):
    response = client.post(
        REPORT_URL, form_data(latitude=None, longitude=None, activities=[], photo=None)
    )
    assert response.status_code == 200
    assert Report.objects.count() == 0
    body = text(response)
    # One summary (two, with the same id, were each announced by a screen reader).
    assert body.count('id="error-summary"') == 1
    assert "Cochez au moins une activité constatée." in body
    assert "Placez un repère sur la carte" in body
    assert 'href="#id_activities_0"' in body and 'href="#commune-query"' in body
    # The summary follows the page: the place (section 1) before what was seen (section 2).
    summary = body[body.index('id="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    assert summary.index("Lieu : Placez un repère") < summary.index("Ce que vous avez constaté")
    # What was typed is kept, except the photo (not kept, said so).
    assert "Vente au pied de l&#x27;immeuble." in body


def test_online_selling_needs_the_account(client):
    response = client.post(REPORT_URL, form_data(activities=["online"]))
    assert Report.objects.count() == 0
    assert "Indiquez le compte ou le pseudonyme de vente en ligne" in text(response)


def test_missing_or_reused_proof_of_work_is_refused(client):
    data = form_data()
    response = client.post(REPORT_URL, {**data, "challenge": "", "nonce": ""})
    assert "ce formulaire a besoin de JavaScript" in text(response)
    assert client.post(REPORT_URL, data).status_code == 200
    assert Report.objects.count() == 1
    again = client.post(REPORT_URL, data)  # the same challenge a second time
    assert "Ce signalement a déjà été envoyé" in text(again)
    assert Report.objects.count() == 1


def test_the_receipt_page_sent_again_says_already_sent_without_a_form(client):
    """A reload of the receipt page makes the browser send the form again: the report was
    saved, and the page says so without a form to send a duplicate (user audit, item 5)."""
    data = form_data(description="Description canari 7Q2X")
    first = client.post(REPORT_URL, data)
    assert "cs-receipt" in text(first)
    challenges_before = PowChallenge.objects.count()
    again = Client().post(REPORT_URL, data)  # another client: nothing but the form is used
    body = text(again)
    assert again.status_code == 409
    assert '<h1 class="fr-alert__title">Ce signalement a déjà été envoyé</h1>' in body
    assert "Ne l’envoyez pas de nouveau" in body
    assert "<form" not in body.split('id="content"')[1].split("</main>")[0]
    assert "canari 7Q2X" not in body and "Envoyez de nouveau" not in body
    assert "no-store" in again["Cache-Control"]
    assert Report.objects.count() == 1
    # Nothing was written to recognise it.
    assert PowChallenge.objects.count() == challenges_before


def test_a_refused_form_sent_again_is_not_taken_for_a_sent_one(client):
    """A form refused for a missing answer did not consume its challenge: sent again as it is,
    it gets the same errors, then goes through once corrected."""
    data = form_data(activities=[])
    refused = client.post(REPORT_URL, data)
    assert "Choisissez au moins une activité" in text(refused) or "au moins" in text(refused)
    again = client.post(REPORT_URL, data)
    assert "déjà été envoyé" not in text(again)
    corrected = client.post(REPORT_URL, {**data, "activities": ["selling"]})
    assert "cs-receipt" in text(corrected)
    assert Report.objects.count() == 1


def test_a_report_whose_save_failed_is_saved_when_sent_again(client, settings, tmp_path):
    """New-user review: the photo could not be written (a full disk, here a file where its
    directory should be), the resident got the error page, sent the form again and was told
    « Ce signalement a déjà été envoyé. Il a bien été enregistré » of a report never saved:
    its challenge had been spent apart from it. It is spent with the report, or not at all."""
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "reports").write_text("pas un dossier")
    data = {**form_data(), "photo": jpeg_upload()}
    with pytest.raises(OSError):
        client.post(REPORT_URL, data)
    assert Report.objects.count() == 0
    assert PowChallenge.objects.filter(value=data["challenge"]).exists()
    (tmp_path / "reports").unlink()
    again = client.post(REPORT_URL, {**data, "photo": jpeg_upload()})
    assert "cs-receipt" in text(again) and "déjà été envoyé" not in text(again)
    assert Report.objects.count() == 1


def test_a_report_refused_by_the_service_gives_back_its_challenge(client, monkeypatch):
    from django.core.exceptions import ValidationError

    def refuse(**kwargs):
        raise ValidationError("Aucune organisation ne couvre ce département.")

    monkeypatch.setattr(services, "report_submit_public", refuse)
    data = form_data()
    client.post(REPORT_URL, data)
    assert PowChallenge.objects.filter(value=data["challenge"]).exists()
    assert "déjà été envoyé" not in text(client.post(REPORT_URL, data))


def test_without_javascript_at_difficulty_zero(client, settings):
    """Difficulty 0: the page carries its own single-use challenge, and a typed commune is
    resolved by the server, so the form works with JavaScript turned off."""
    settings.CARTOSTUP_POW_DIFFICULTY = 0
    body = text(client.get(REPORT_URL))
    challenge = re.search(r'name="challenge" id="pow-challenge" value="([0-9a-f]+)"', body)
    assert challenge and PowChallenge.objects.filter(value=challenge.group(1)).exists()
    response = client.post(
        REPORT_URL,
        form_data(
            latitude=None,
            longitude=None,
            address="Place de la Bricarde",
            commune_query="13014",
            challenge=challenge.group(1),
            nonce="0",
        ),
    )
    assert "cs-receipt" in text(response)
    report = Report.objects.get()
    assert report.address == "Place de la Bricarde"
    # Without a pin: the commune's point, said so (`Report.placed_at_commune`).
    assert (report.precision, report.placed_at_commune) == ("area", True)


def test_ambiguous_typed_commune_lists_candidates(client):
    response = client.post(
        REPORT_URL,
        form_data(latitude=None, longitude=None, address="Rue X", commune_query="Saint"),
    )
    assert Report.objects.count() == 0
    assert "Plusieurs communes correspondent" in text(response)


def test_submissions_are_rate_limited(client, settings):
    settings.CARTOSTUP_RATE_LIMITS = {**settings.CARTOSTUP_RATE_LIMITS, "submission": (2, 3600)}
    assert client.post(REPORT_URL, form_data()).status_code == 200
    assert client.post(REPORT_URL, form_data()).status_code == 200
    response = client.post(REPORT_URL, form_data())
    assert response.status_code == 429
    assert "Trop de tentatives" in text(response)
    assert Report.objects.count() == 2


# --- commune search -------------------------------------------------------------------------


def test_commune_search_by_name_and_postcode(client):
    response = client.get(COMMUNES_URL, {"q": "Marseille 14e"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    results = response.json()["results"]
    assert [result["code"] for result in results] == ["13214"]
    result = results[0]
    assert result["postcodes"] == ["13014"]
    west, south, east, north = result["bbox"]
    latitude, longitude = result["centre"]
    assert south <= latitude <= north and west <= longitude <= east
    assert result["outline"]["type"] in {"Polygon", "MultiPolygon"}
    assert client.get(COMMUNES_URL, {"q": "13014"}).json()["results"][0]["code"] == "13214"
    # Accents and hyphens do not matter; at most ten results.
    assert client.get(COMMUNES_URL, {"q": "saint denis"}).json()["results"]
    assert len(client.get(COMMUNES_URL, {"q": "Marseille"}).json()["results"]) == 10
    assert client.get(COMMUNES_URL, {"q": "x"}).json() == {"results": []}


def test_commune_search_is_rate_limited(client, settings):
    settings.CARTOSTUP_RATE_LIMITS = {
        **settings.CARTOSTUP_RATE_LIMITS,
        "commune_search": (3, 60),
    }
    for _ in range(3):
        assert client.get(COMMUNES_URL, {"q": "Lyon"}).status_code == 200
    response = client.get(COMMUNES_URL, {"q": "Lyon"})
    assert response.status_code == 429
    assert "Trop de tentatives" in response.json()["detail"]


# --- follow-up ------------------------------------------------------------------------------


def test_followup_shows_coarse_status_and_messages(client, persona):
    submitted = submit()
    response = client.post(FOLLOWUP_URL, {"receipt": submitted.receipt.lower()})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = text(response)
    assert 'id="followup-status">Reçu<' in body
    assert "Votre réponse" in body and "Envoyer la réponse" in body
    analyst = persona("cross13_analyst")
    services.report_ask_question(
        actor=analyst, report=submitted.report, text="Quel bâtiment exactement ?"
    )
    body = text(client.post(FOLLOWUP_URL, {"receipt": submitted.receipt}))
    assert "En cours de traitement" in body
    assert "Quel bâtiment exactement ?" in body
    # Never a date of anything.
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2}", body)


def test_reply_is_stored_and_shown(client):
    submitted = submit()
    response = client.post(REPLY_URL, {"receipt": submitted.receipt, "text": "Le bâtiment C."})
    # Post/Redirect/Get: the confirmation is a GET, and nothing of the receipt is in its URL.
    assert response.status_code == 303 and response["Location"] == REPLY_URL
    assert "no-store" in response["Cache-Control"]
    assert ReportMessage.objects.filter(report=submitted.report, author="reporter").count() == 1
    sent = client.get(response["Location"])
    assert sent.status_code == 200 and "no-store" in sent["Cache-Control"]
    assert "Votre réponse a été envoyée." in text(sent)
    assert "saisissez de nouveau votre numéro de suivi" in text(sent)
    # With the receipt again, the conversation shows the reply.
    assert "Le bâtiment C." in text(client.post(FOLLOWUP_URL, {"receipt": submitted.receipt}))
    empty = client.post(REPLY_URL, {"receipt": submitted.receipt, "text": "  "})
    assert "Écrivez votre message." in text(empty)
    assert ReportMessage.objects.filter(report=submitted.report, author="reporter").count() == 1


def test_reloading_after_a_reply_sends_nothing_again(client):
    """F5 on the page shown after a reply used to post the reply a second time."""
    submitted = submit()
    response = client.post(
        REPLY_URL, {"receipt": submitted.receipt, "text": "Le bâtiment C."}, follow=True
    )
    assert response.redirect_chain == [(REPLY_URL, 303)]
    # The browser's reload repeats the last request: the GET.
    for _reload in range(2):
        assert client.get(REPLY_URL).status_code == 200
    assert ReportMessage.objects.filter(report=submitted.report, author="reporter").count() == 1
    # Nothing of the receipt was kept for it: no session, no cookie but the CSRF token's.
    assert set(client.cookies) <= {"csrftoken"}
    receipt = submitted.receipt
    assert receipt not in text(response) and receipt.replace("-", "") not in text(response)


def test_handled_report_says_handled_without_detail(client, persona):
    submitted = submit()
    services.report_accept(actor=persona("cross13_analyst"), report=submitted.report)
    assert Report.objects.get().status == Status.ACCEPTED
    body = text(client.post(FOLLOWUP_URL, {"receipt": submitted.receipt}))
    assert 'id="followup-status">Traité<' in body


def test_wrong_receipts_are_rate_limited(client, settings):
    settings.CARTOSTUP_RATE_LIMITS = {
        **settings.CARTOSTUP_RATE_LIMITS,
        "receipt_client": (3, 900),
    }
    submitted = submit()
    wrong = "0000-0000-0000-0000-0000-0000"
    for _ in range(3):
        response = client.post(FOLLOWUP_URL, {"receipt": wrong})
        assert response.status_code == 200
        assert "ne correspond à aucun signalement" in text(response)
    response = client.post(FOLLOWUP_URL, {"receipt": wrong})
    assert response.status_code == 429
    assert "Trop de tentatives" in text(response)
    # Even the right receipt waits now (the limit is on the client, not on the guess).
    assert client.post(FOLLOWUP_URL, {"receipt": submitted.receipt}).status_code == 429


def test_a_receipt_sent_empty_or_mistyped_is_said_and_kept_in_its_field(client, settings):
    """New-user review: an empty form said « Un numéro de suivi compte 24 caractères » and
    counted as a wrong receipt; a mistyped one emptied the field, to type the 24 characters
    again on a phone. The empty form asks for the number and counts nothing; the mistyped one
    stays in its field, which takes the focus with its error."""
    settings.CARTOSTUP_RATE_LIMITS = {
        **settings.CARTOSTUP_RATE_LIMITS,
        "receipt_client": (1, 900),
    }
    for _ in range(3):
        empty = client.post(FOLLOWUP_URL, {"receipt": "  "})
        assert empty.status_code == 200
        assert "Saisissez le numéro de suivi reçu après votre signalement." in text(empty)
    wrong = "0000-0000-0000-0000-0000-0000"
    response = client.post(FOLLOWUP_URL, {"receipt": wrong})
    assert "ne correspond à aucun signalement" in text(response)
    field = re.search(r'<input[^>]*id="receipt"[^>]*>', text(response))
    assert field is not None
    assert f'value="{wrong}"' in field.group(0) and "autofocus" in field.group(0)
    assert 'aria-invalid="true"' in field.group(0)


def test_receipt_never_in_a_url(client):
    # The follow-up form posts; a receipt in the query string is ignored.
    submitted = submit()
    response = client.get(FOLLOWUP_URL, {"receipt": submitted.receipt})
    assert "followup-status" not in text(response)
    assert 'method="post"' in text(response)


# --- languages ------------------------------------------------------------------------------

HEADINGS = {
    REPORT_URL: {"fr": "Signaler un point de deal", "en": "Report a drug dealing spot"},
    FOLLOWUP_URL: {"fr": "Suivre mon signalement", "en": "Follow up my report"},
    PREVENTION_URL: {"fr": "Prévention et aide", "en": "Prevention and help"},
}
ARABIC_HEADINGS = {
    REPORT_URL: "الإبلاغ عن نقطة لبيع المخدرات",
    FOLLOWUP_URL: "متابعة بلاغي",
    PREVENTION_URL: "الوقاية والمساعدة",
}


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_pages_in_french_english_and_arabic(url):
    french = text(Client().get(url, HTTP_ACCEPT_LANGUAGE="en,ar"))  # never from headers
    assert '<html lang="fr" dir="ltr"' in french
    assert f"<h1>{HEADINGS[url]['fr']}</h1>" in french
    english = text(in_language("en").get(url))
    assert '<html lang="en" dir="ltr"' in english
    assert f"<h1>{HEADINGS[url]['en']}</h1>" in english
    arabic = text(in_language("ar").get(url))
    assert '<html lang="ar" dir="rtl"' in arabic
    assert f"<h1>{ARABIC_HEADINGS[url]}</h1>" in arabic


def test_error_pages_speak_the_reporters_language():
    missing = "/signaler/nulle-part/"
    english = in_language("en").get(missing)
    assert english.status_code == 404 and "Page not found" in text(english)
    arabic = in_language("ar").get(missing)
    assert arabic.status_code == 404 and "الصفحة غير موجودة" in text(arabic)
    assert "Page introuvable" in text(Client().get(missing))


def test_choice_labels_and_errors_are_translated():
    english = text(in_language("en").get(REPORT_URL))
    assert "Online selling" in english and "Exact stairwell or entrance" in english
    arabic_client = in_language("ar")
    response = arabic_client.post(REPORT_URL, form_data(activities=[]))
    assert "اختاروا نشاطًا واحدًا على الأقل مما لاحظتموه." in text(response)
    assert "يحتوي النموذج على خطأ واحد" in text(response)


def test_language_selector_posts_to_set_language(client):
    body = text(client.get(PREVENTION_URL))
    assert f'action="{reverse("set_language")}"' in body
    assert 'class="fr-translate' in body
    for code in ("fr", "en", "ar"):
        assert f'name="language" value="{code}"' in body
    response = client.post(reverse("set_language"), {"language": "ar", "next": PREVENTION_URL})
    assert response.status_code == 302 and response["Location"] == PREVENTION_URL
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ar"


PUBLIC_TEMPLATES = [
    "public_base.html",
    # The error pages a reporter may meet (a stale link, an expired form, too large a photo).
    "base.html",
    "400.html",
    "403.html",
    "403_csrf.html",
    "404.html",
    "405.html",
    "413.html",
    "reports/public/_language.html",
    "reports/public/_error_summary.html",
    "reports/public/report_form.html",
    "reports/public/receipt.html",
    "reports/public/already_sent.html",
    "reports/public/followup.html",
    "reports/public/prevention.html",
]
PUBLIC_PYTHON = ["choices.py", "forms.py", "public_views.py", "pow.py", "receipts.py", "photos.py"]


def test_every_public_string_is_translated():
    messages: set[str] = set()
    for name in PUBLIC_TEMPLATES:
        messages |= template_messages(name)
    reports_dir = Path(settings.BASE_DIR, "cartostup", "reports")
    for name in PUBLIC_PYTHON:
        messages |= python_messages(reports_dir / name)
    assert len(messages) > 150
    for po in catalogues():
        if po.parent.parent.name == settings.LANGUAGE_CODE:
            continue  # French is the source language
        translated = {
            entry.msgid
            for entry in po_parse(po)
            if not entry.fuzzy and entry.msgstr and all(entry.msgstr.values())
        } | {
            entry.msgid_plural
            for entry in po_parse(po)
            if entry.msgid_plural and all(entry.msgstr.values())
        }
        missing = sorted(messages - translated)
        assert not missing, f"{po}: {missing}"


def test_compiled_translations_match_their_sources():
    """The committed .mo files are what `make messages` builds from the .po files."""
    languages = set()
    for po in catalogues():
        languages.add(po.parent.parent.name)
        assert po.with_suffix(".mo").read_bytes() == mo_bytes(po_parse(po)), po
    assert languages >= {"en", "ar"}


def test_the_maps_leaflet_controls_speak_the_reporters_language():
    """Leaflet's zoom buttons and attribution link were titled in English whatever the page's
    language; the template gives them in the reporter's (core/_leaflet_js.html)."""
    french = Client().get(REPORT_URL).content.decode()
    assert 'data-zoom-in="Zoom avant"' in french and 'data-zoom-out="Zoom arrière"' in french
    assert 'data-leaflet-title="Une bibliothèque JavaScript de cartes interactives"' in french
    assert french.index("leaflet/leaflet.js") < french.index("cartostup/leaflet_labels.js")
    english = in_language("en").get(REPORT_URL).content.decode()
    assert 'data-zoom-in="Zoom in"' in english and 'data-zoom-out="Zoom out"' in english
    arabic = in_language("ar").get(REPORT_URL).content.decode()
    assert 'data-zoom-in="تكبير"' in arabic and 'data-zoom-out="تصغير"' in arabic
