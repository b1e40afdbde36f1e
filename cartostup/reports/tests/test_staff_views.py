"""Staff pages of the reports: the call platform's intake, the landlords' reports and the triage
by the analysts, seen as the personas who use them (and those who must not)."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from cartostup.access.middleware import LAST_SEEN_KEY
from cartostup.access.models import Building
from cartostup.access.services import building_create
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.core.shown_once import secret_join, secret_split
from cartostup.core.tests.test_forms import repeated_headings
from cartostup.reports import receipts, services, staff_views
from cartostup.reports.choices import Activity, Channel, MessageAuthor, Precision, Status
from cartostup.reports.models import Report
from cartostup.reports.staff_views import receipt_groups

pytestmark = pytest.mark.django_db

# Real places: Marseille 14e (13), Saint-Denis (93).
MARSEILLE = (43.3460, 5.3960)
SAINT_DENIS = (48.9362, 2.3574)

INTAKE = {
    "latitude": "43.3461",
    "longitude": "5.3962",
    "precision": Precision.BUILDING,
    "place_label": "Bâtiment C",
    "activities": [Activity.SELLING, Activity.LOOKOUTS],
    "products": ["cannabis"],
    "days": ["fri", "sat"],
    "times_of_day": ["evening"],
    "people_count": "3-5",
    "description": "Guetteurs à l'entrée du parking, vente le soir.",
}


def _photo() -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(buffer, format="JPEG")
    return SimpleUploadedFile("vue.jpg", buffer.getvalue(), content_type="image/jpeg")


def _public_report(position=MARSEILLE, photo=False, **fields) -> services.SubmittedReport:
    data = services.ReportInput(
        latitude=position[0],
        longitude=position[1],
        precision=Precision.BUILDING,
        activities=[Activity.SELLING],
        photo=_photo() if photo else None,
        **fields,
    )
    return services.report_submit_public(data=data, channel=Channel.WEB)


def _events(report: Report, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_id=str(report.pk), **filters).order_by("pk"))


@pytest.fixture
def building(persona) -> Building:
    return building_create(
        actor=persona("landlord_13h"),
        name="Résidence des Tilleuls – bâtiment A",
        address="3 rue des Tilleuls, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
        stairwells="A1, A2",
    )


# --- call platform -------------------------------------------------------------------------------


def test_receipt_is_read_back_in_its_own_groups():
    assert receipt_groups("7K3Q-M2XD-AB12-CD34-EF56-GH78") == [
        "7K3Q",
        "M2XD",
        "AB12",
        "CD34",
        "EF56",
        "GH78",
    ]
    assert receipt_groups("ABCDEFGH") == ["ABCD", "EFGH"]


def test_operator_keys_in_a_call_and_reads_the_receipt_back(client_for):
    client = client_for("caller_operator")
    response = client.post(reverse("reports:operator_intake"), INTAKE)

    # Post/Redirect/Get: the receipt page is a GET, with nothing of the receipt in its URL.
    assert response.status_code == 302
    assert response["Location"] == reverse("reports:operator_receipt")
    assert "no-store" in response["Cache-Control"]
    report = Report.objects.get()
    assert report.channel == Channel.PHONE
    assert report.departement.code == "13"
    assert report.activities == [Activity.SELLING, Activity.LOOKOUTS]
    assert not report.photo
    response = client.get(response["Location"])
    assert response.status_code == 200
    page = response.content.decode()
    assert "Lisez ce code à l'appelant" in page
    assert "Nouvel appel" in page
    # The receipt, in groups, opens the report's follow-up; it is shown once and never cached.
    groups = re.findall(r'<span class="reports-receipt__group">([0-9A-Z]+)</span>', page)
    assert len(groups) == 6
    followup = services.report_followup(receipt="-".join(groups))
    assert followup.status == "received"
    assert "no-store" in response["Cache-Control"]
    assert client.get(reverse("reports:operator_intake")).content.decode().count(groups[-1]) == 0


def test_the_operators_session_keeps_no_exact_time_of_a_call(client_for):
    """A call is audited to the hour; the operator's session row (its last activity, its
    expiry counted from its last save) keeps times to 5 minutes only, never the second of the
    intake's POST."""
    client = client_for("caller_operator")
    client.get(reverse("reports:operator_intake"))
    response = client.post(reverse("reports:operator_intake"), INTAKE)
    assert response.status_code == 302 and Report.objects.count() == 1
    row = Session.objects.get(session_key=client.session.session_key)
    assert row.get_decoded()[LAST_SEEN_KEY] % 300 == 0
    expiry = row.expire_date
    assert (expiry.minute % 5, expiry.second, expiry.microsecond) == (0, 0, 0), expiry
    # The receipt page saves the session again (the receipt's share is dropped): same rule.
    client.get(response["Location"])
    expiry = Session.objects.get(session_key=client.session.session_key).expire_date
    assert (expiry.minute % 5, expiry.second, expiry.microsecond) == (0, 0, 0), expiry


def test_reloading_the_receipt_page_saves_nothing_and_shows_the_code_once(client_for):
    """F5 on the receipt page used to post the call again (a second report)."""
    client = client_for("caller_operator")
    client.post(reverse("reports:operator_intake"), INTAKE)
    first = client.get(reverse("reports:operator_receipt"))
    groups = re.findall(
        r'<span class="reports-receipt__group">([0-9A-Z]+)</span>', first.content.decode()
    )
    assert len(groups) == 6
    again = client.get(reverse("reports:operator_receipt"), follow=True)
    assert Report.objects.count() == 1
    page = html.unescape(again.content.decode())
    assert again.redirect_chain[-1][0] == reverse("reports:operator_intake")
    assert "Le code de suivi n'est affiché qu'une fois" in page
    assert "-".join(groups) not in page and groups[-1] not in page


def test_the_receipt_is_written_nowhere_on_its_way_to_the_receipt_page(client_for):
    """The session (in the database) and the cookie each hold a share of the receipt, never
    the receipt; once shown, both are forgotten."""
    once = staff_views.RECEIPT_SHOWN_ONCE
    client = client_for("caller_operator")
    response = client.post(reverse("reports:operator_intake"), INTAKE)
    cookie = response.cookies[once.cookie]
    assert cookie["path"] == reverse("reports:operator_receipt")
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    masked = client.session[once.session_key]["share"]
    page = client.get(reverse("reports:operator_receipt")).content.decode()
    groups = re.findall(r'<span class="reports-receipt__group">([0-9A-Z]+)</span>', page)
    receipt = "-".join(groups)
    compact = "".join(groups)
    stored = " ".join(
        f"{session.session_data} {json.dumps(session.get_decoded())}"
        for session in Session.objects.all()
    )
    for secret in (receipt, compact, groups[-1] + groups[-2]):
        assert secret not in stored and secret not in cookie.value and secret not in masked
    assert once.session_key not in client.session
    assert client.cookies[once.cookie].value == ""
    # One share alone gives nothing; a share of another receipt neither.
    assert secret_join(masked, cookie.value, valid=once.valid) == receipt
    assert secret_join(masked, None, valid=once.valid) is None
    _other, other_pad = secret_split(receipts.receipt_generate())
    assert secret_join(masked, other_pad, valid=once.valid) is None


def test_operator_without_the_map_types_the_commune_and_address(client_for):
    data = {key: value for key, value in INTAKE.items() if key not in ("latitude", "longitude")}
    response = client_for("caller_operator").post(
        reverse("reports:operator_intake"),
        {**data, "precision": Precision.STREET, "commune_query": "13014", "address": "Rue X"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Lisez ce code à l'appelant" in response.content.decode()
    report = Report.objects.get()
    assert report.commune.code == "13214"
    assert report.address == "Rue X"


def test_operator_unknown_commune_is_explained(client_for):
    data = {key: value for key, value in INTAKE.items() if key not in ("latitude", "longitude")}
    response = client_for("caller_operator").post(
        reverse("reports:operator_intake"), {**data, "commune_query": "Zzyzx-sur-Mer"}
    )
    assert response.status_code == 200
    assert "Aucune commune ne correspond" in response.content.decode()
    assert not Report.objects.exists()


def test_operator_form_asks_nothing_about_the_caller_and_takes_no_photo(client_for):
    response = client_for("caller_operator").get(reverse("reports:operator_intake"))

    assert response.status_code == 200
    form = response.context["form"]
    assert "photo" not in form.fields
    forbidden = ("caller", "phone", "telephone", "name", "email", "number", "identity")
    assert not [name for name in form.fields if any(word in name for word in forbidden)]
    page = response.content.decode()
    assert 'type="file"' not in page
    assert 'type="tel"' not in page
    assert 'type="email"' not in page


def test_operator_invalid_call_stays_on_the_form(client_for):
    response = client_for("caller_operator").post(
        reverse("reports:operator_intake"), {**INTAKE, "activities": []}
    )
    assert response.status_code == 200
    assert re.search(r"Le formulaire contient (une erreur|\d+ erreurs)", response.content.decode())
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    "name",
    ["triage_list", "triage_geojson", "landlord_report_list"],
)
def test_operator_sees_nothing_but_the_intake(client_for, name):
    assert client_for("caller_operator").get(reverse(f"reports:{name}")).status_code == 404


def test_operator_does_not_see_the_report_it_keyed_in(client_for):
    client = client_for("caller_operator")
    client.post(reverse("reports:operator_intake"), INTAKE)
    report = Report.objects.get()
    assert client.get(reverse("reports:report_detail", args=[report.pk])).status_code == 404


@pytest.mark.parametrize("name", ["cross13_analyst", "landlord_13h", "admin"])
def test_intake_is_only_for_operators(client_for, name):
    assert client_for(name).get(reverse("reports:operator_intake")).status_code == 404


# --- landlords -----------------------------------------------------------------------------------


def test_landlord_reports_on_its_own_building(client_for, building):
    client = client_for("landlord_13h")
    url = reverse("reports:landlord_report_create", args=[building.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert building.address in page.content.decode()
    # Stairwells come from the building.
    assert [value for value, _label in page.context["form"].fields["place_label"].choices] == [
        "",
        "A1",
        "A2",
    ]

    response = client.post(
        url,
        {
            "precision": Precision.STAIRWELL,
            "place_label": "A2",
            "activities": [Activity.STORAGE],
            "people_count": "unknown",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("reports:landlord_report_list")
    report = Report.objects.get()
    assert report.channel == Channel.LANDLORD
    assert report.building == building
    assert report.place_label == "A2"
    assert report.departement.code == "13"


def test_landlord_cannot_choose_a_stairwell_the_building_does_not_have(client_for, building):
    response = client_for("landlord_13h").post(
        reverse("reports:landlord_report_create", args=[building.pk]),
        {
            "precision": Precision.STAIRWELL,
            "place_label": "Z9",
            "activities": [Activity.SELLING],
            "people_count": "unknown",
        },
    )
    assert response.status_code == 200
    assert not Report.objects.exists()


def test_a_stairwell_stored_twice_is_offered_once(client_for, building):
    """A building saved before stairwells were checked (« A1, a1, A2 ») offered « Cage A1 »
    twice in the report form."""
    Building.objects.filter(pk=building.pk).update(stairwells="A1, a1, A2")
    page = client_for("landlord_13h").get(
        reverse("reports:landlord_report_create", args=[building.pk])
    )
    choices = [value for value, _label in page.context["form"].fields["place_label"].choices]
    assert choices == ["", "A1", "A2"]


def test_landlord_cannot_report_on_another_landlords_building(client_for, building):
    client = client_for("landlord_13l")
    url = reverse("reports:landlord_report_create", args=[building.pk])
    assert client.get(url).status_code == 404
    response = client.post(
        url, {"precision": "building", "activities": ["selling"], "people_count": "unknown"}
    )
    assert response.status_code == 404
    assert not Report.objects.exists()


def test_landlord_list_shows_only_the_coarse_status(client_for, persona, building):
    landlord = persona("landlord_13h")
    data = services.ReportInput(
        precision=Precision.BUILDING, activities=[Activity.SELLING], description="TEXTE-BAILLEUR"
    )
    accepted = services.report_submit_by_landlord(actor=landlord, building=building, data=data)
    waiting = services.report_submit_by_landlord(actor=landlord, building=building, data=data)
    questioned = services.report_submit_by_landlord(actor=landlord, building=building, data=data)
    analyst = persona("cross13_analyst")
    services.report_accept(actor=analyst, report=accepted, note="NOTE-INTERNE-SECRETE")
    Report.objects.filter(pk=questioned.pk).update(status=Status.QUESTION)
    # Another landlord's report never shows.
    _public_report()

    response = client_for("landlord_13h").get(reverse("reports:landlord_report_list"))

    assert response.status_code == 200
    page = response.content.decode()
    assert [row["reference"] for row in response.context["rows"]] == [
        questioned.reference,
        waiting.reference,
        accepted.reference,
    ]
    assert [row["status_label"] for row in response.context["rows"]] == [
        "En cours de traitement",
        "Reçu",
        "Traité",
    ]
    assert "semaine du" in page
    for secret in ("NOTE-INTERNE-SECRETE", "TEXTE-BAILLEUR", "Accepté", "À trier", "Camille"):
        assert secret not in page
    # The other landlord sees none of them.
    other = client_for("landlord_13l").get(reverse("reports:landlord_report_list"))
    assert other.context["rows"] == []


def test_building_list_offers_to_report(client_for, building):
    page = client_for("landlord_13h").get(reverse("access:building_list")).content.decode()
    assert reverse("reports:landlord_report_create", args=[building.pk]) in page


@pytest.mark.parametrize("name", ["landlord_13h", "prefecture_13", "police13_investigator"])
def test_triage_is_not_for_landlords_nor_other_services(client_for, name):
    client = client_for(name)
    report = _public_report().report
    assert client.get(reverse("reports:triage_list")).status_code == 404
    assert client.get(reverse("reports:report_detail", args=[report.pk])).status_code == 404


# --- triage --------------------------------------------------------------------------------------


def test_triage_queue_is_scoped_to_the_departement_and_new_first(client_for, persona):
    old = _public_report().report
    accepted = _public_report().report
    services.report_accept(actor=persona("cross13_analyst"), report=accepted)
    recent = _public_report().report
    elsewhere = _public_report(position=SAINT_DENIS).report

    response = client_for("cross13_analyst").get(reverse("reports:triage_list"))

    assert response.status_code == 200
    shown = [report.pk for report in response.context["reports"]]
    # Default queue: what still needs triage, newest first; never another département's.
    assert recent.pk in shown and old.pk in shown
    assert shown.index(recent.pk) < shown.index(old.pk)
    assert accepted.pk not in shown
    assert elsewhere.pk not in shown
    page = response.content.decode()
    assert recent.reference in page and elsewhere.reference not in page

    other = client_for("cross93_analyst").get(reverse("reports:triage_list"))
    assert [report.pk for report in other.context["reports"]] == [elsewhere.pk]


def test_triage_queue_filters(client_for, persona):
    web = _public_report().report
    accepted = _public_report().report
    services.report_accept(actor=persona("cross13_analyst"), report=accepted)
    client = client_for("cross13_analyst")

    response = client.get(reverse("reports:triage_list"), {"status": Status.ACCEPTED})
    assert [report.pk for report in response.context["reports"]] == [accepted.pk]

    response = client.get(reverse("reports:triage_list"), {"channel": Channel.PHONE})
    assert list(response.context["reports"]) == []

    response = client.get(reverse("reports:triage_list"), {"channel": Channel.WEB})
    assert {report.pk for report in response.context["reports"]} == {web.pk, accepted.pk}

    # "Tous les signalements": any filter used, even empty, replaces the default queue.
    response = client.get(reverse("reports:triage_list"), {"channel": ""})
    assert {report.pk for report in response.context["reports"]} == {web.pk, accepted.pk}
    # Pages of the default queue stay in the default queue.
    response = client.get(reverse("reports:triage_list"), {"page": "1"})
    assert [report.pk for report in response.context["reports"]] == [web.pk]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"received_from": "31/02/2026"},
            "received_from",
            "Reçu à partir du : Date invalide : indiquez une date au format JJ/MM/AAAA (ou "
            "AAAA-MM-JJ).",
        ),
        (
            {"status": "zzz"},
            "status",
            "Statut : Valeur inconnue (valeurs acceptées : À trier, Question posée au signalant, "
            "Accepté, Rejeté : indésirable, Rejeté : infondé).",
        ),
        ({"channel": "xyz"}, "channel", "Canal : Valeur inconnue (valeurs acceptées : "),
        (
            {"received_from": "2026-12-01", "received_to": "2026-11-01"},
            "received_to",
            "Reçu jusqu'au : La fin de la période précède son début.",
        ),
        (
            {"awaiting_matching": "zzz"},
            "awaiting_matching",
            "En attente de rapprochement : Valeur inconnue (valeurs acceptées : true (Oui), "
            "false (Non)).",
        ),
    ],
)
def test_triage_queue_invalid_filters_are_said_and_list_nothing(
    client_for, persona, params, field, message
):
    """User audit: the error was shown beside the field, but the queue listed every report,
    rejected ones too (the default « à trier » filter dropped); a reversed period listed none
    with no word."""
    _public_report()
    rejected = _public_report().report
    services.report_reject(actor=persona("cross13_analyst"), report=rejected, status=Status.SPAM)
    client = client_for("cross13_analyst")

    response = client.get(reverse("reports:triage_list"), params)

    assert response.status_code == 200
    page = response.content.decode()
    assert list(response.context["reports"]) == []
    assert rejected.reference not in page
    summary = page.split('id="triage-filter-errors"', 1)[1].split("</div>", 1)[0]
    assert 'role="alert"' in page.split('id="triage-filter-errors"', 1)[0][-200:]
    assert escape(message) in summary
    assert f'id="id_{field}-desc-error"' in page or f'id="{field}-messages"' in page, page
    # The map, too, shows nothing.
    geojson = client.get(reverse("reports:triage_geojson"), params)
    assert geojson.status_code == 400
    assert geojson.json()["features"] == []
    assert field in geojson.json()["errors"]
    assert not AuditEvent.objects.filter(action=AuditAction.LIST).exists()


def test_triage_queue_reads_french_dates(client_for):
    report = _public_report().report
    client = client_for("cross13_analyst")
    today = report.received_at.astimezone().date()
    response = client.get(
        reverse("reports:triage_list"), {"received_from": today.strftime("%d/%m/%Y")}
    )
    assert [item.pk for item in response.context["reports"]] == [report.pk]
    assert 'role="alert"' not in response.content.decode()


def test_triage_queue_lists_are_audited(client_for):
    _public_report()
    client_for("cross13_analyst").get(reverse("reports:triage_list"))
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, actor_username="cross13_analyst"
    ).exists()


def test_triage_map_uses_the_same_filters_and_policy(client_for):
    here = _public_report().report
    _public_report(position=SAINT_DENIS)
    before = AuditEvent.objects.filter(action=AuditAction.LIST).count()

    response = client_for("cross13_analyst").get(reverse("reports:triage_geojson"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    collection = json.loads(response.content)
    assert collection["type"] == "FeatureCollection"
    assert [feature["properties"]["reference"] for feature in collection["features"]] == [
        here.reference
    ]
    feature = collection["features"][0]
    assert feature["geometry"]["coordinates"] == [here.longitude, here.latitude]
    assert feature["properties"]["url"] == reverse("reports:report_detail", args=[here.pk])
    # Nothing but the reference, status, date and link: no free text on the map.
    assert set(feature["properties"]) == {"reference", "status", "status_label", "received", "url"}
    assert AuditEvent.objects.filter(action=AuditAction.LIST).count() == before + 1

    filtered = client_for("cross13_analyst").get(
        reverse("reports:triage_geojson"), {"status": Status.ACCEPTED}
    )
    assert json.loads(filtered.content)["features"] == []


def test_analyst_opens_a_report_of_the_departement(client_for):
    report = _public_report(description="Vente au pied de la tour").report
    response = client_for("cross13_analyst").get(reverse("reports:report_detail", args=[report.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Vente au pied de la tour" in page
    assert "Poser une question au signalant" in page
    assert "no-store" in response["Cache-Control"]
    # Each block is named once: by its heading, not again by its table's caption.
    assert repeated_headings(page) == []
    # The key/value tables are named by a caption that holds their heading.
    for title in ("Lieu signalé", "Faits signalés"):
        assert re.search(rf"<caption><h2[^>]*>{title}</h2></caption>", page), title
    assert _events(report, action=AuditAction.VIEW, actor_username="cross13_analyst")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("cross13_analyst", 200),
        ("antenna13_analyst", 200),
        ("ofast_analyst", 200),
        ("cross93_analyst", 404),
        ("cross69_analyst", 404),
    ],
)
def test_report_detail_follows_the_territory(client_for, name, status):
    report = _public_report().report
    url = reverse("reports:report_detail", args=[report.pk])
    assert client_for(name).get(url).status_code == status


def test_accept_records_and_waits_for_matching(client_for):
    report = _public_report().report
    client = client_for("cross13_analyst")
    before = len(_events(report))

    response = client.post(
        reverse("reports:report_accept", args=[report.pk]), {"note": "Recoupe un point connu"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("reports:report_detail", args=[report.pk])
    report.refresh_from_db()
    assert report.status == Status.ACCEPTED
    assert report.awaiting_matching
    assert report.triage_note == "Recoupe un point connu"
    assert report.triaged_by is not None and report.triaged_by.username == "cross13_analyst"
    changes = [event for event in _events(report)[before:] if event.action != AuditAction.VIEW]
    assert changes and changes[-1].actor_username == "cross13_analyst"
    page = client.get(response["Location"]).content.decode()
    assert "accepté" in page
    assert "En attente du rapprochement avec les points de deal" in page
    # Accepted: no more accept or reject buttons.
    assert "Accepter le signalement" not in page


@pytest.mark.parametrize(
    ("status", "message"),
    [(Status.SPAM, "indésirable"), (Status.UNFOUNDED, "infondé")],
)
def test_reject_as_spam_or_unfounded(client_for, status, message):
    report = _public_report().report
    client = client_for("cross13_analyst")
    before = len(_events(report))

    response = client.post(
        reverse("reports:report_reject", args=[report.pk]), {"status": status, "note": ""}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("reports:triage_list")
    report.refresh_from_db()
    assert report.status == status
    assert not report.awaiting_matching
    changes = [event for event in _events(report)[before:] if event.action != AuditAction.VIEW]
    assert changes
    follow = client.get(response["Location"])
    assert message in follow.content.decode()


def test_reject_needs_a_rejection_status(client_for):
    report = _public_report().report
    response = client_for("cross13_analyst").post(
        reverse("reports:report_reject", args=[report.pk]), {"status": Status.ACCEPTED}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_question_then_the_reporters_answer_shows_in_the_thread(client_for):
    submitted = _public_report()
    report = submitted.report
    client = client_for("cross13_analyst")
    before = len(_events(report))

    response = client.post(
        reverse("reports:report_question", args=[report.pk]),
        {"text": "À quelle heure commence la vente ?"},
    )

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == Status.QUESTION
    assert report.messages.get().author == MessageAuthor.ANALYST
    assert [e for e in _events(report)[before:] if e.action != AuditAction.VIEW]

    services.report_reply(receipt=submitted.receipt, text="Vers 18 heures, tous les soirs.")
    client.post(reverse("reports:report_question", args=[report.pk]), {"text": "Et le dimanche ?"})

    page = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
    assert "À quelle heure commence la vente ?" in page
    assert "Vers 18 heures, tous les soirs." in page
    # In the order written (random keys say nothing of it; the reply is dated to the day).
    assert page.index("À quelle heure") < page.index("Vers 18 heures") < page.index("le dimanche")


def test_empty_question_is_refused(client_for):
    report = _public_report().report
    response = client_for("cross13_analyst").post(
        reverse("reports:report_question", args=[report.pk]), {"text": "   "}
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == Status.NEW
    assert not report.messages.exists()


@pytest.mark.parametrize("action", ["report_accept", "report_reject", "report_question"])
def test_actions_refuse_another_departement_and_get(client_for, action):
    report = _public_report().report
    url = reverse(f"reports:{action}", args=[report.pk])
    data = {"status": Status.SPAM, "text": "Question ?"}
    assert client_for("cross93_analyst").post(url, data).status_code == 404
    assert client_for("cross13_analyst").get(url).status_code == 405
    assert client_for("landlord_13h").post(url, data).status_code == 404
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_photo_is_served_only_through_the_access_checked_view(client_for, settings):
    report = _public_report(photo=True).report
    assert report.photo
    url = reverse("reports:report_photo", args=[report.pk])

    response = client_for("cross13_analyst").get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/")
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:2] in (b"\xff\xd8", b"\x89P", b"RI")
    assert _events(report, action=AuditAction.VIEW, actor_username="cross13_analyst")
    assert client_for("cross93_analyst").get(url).status_code == 404
    assert client_for("landlord_13h").get(url).status_code == 404
    # The media directory is never served as such.
    media_url = f"{settings.MEDIA_URL}{report.photo.name}"
    assert client_for("cross13_analyst").get(media_url).status_code == 404
    detail = client_for("cross13_analyst").get(reverse("reports:report_detail", args=[report.pk]))
    page = detail.content.decode()
    assert url in page
    assert report.photo.name not in page


def test_report_without_photo_has_no_photo_url(client_for):
    report = _public_report().report
    response = client_for("cross13_analyst").get(reverse("reports:report_photo", args=[report.pk]))
    assert response.status_code == 404


def test_navigation_follows_the_capabilities(client_for):
    def nav(name: str) -> str:
        return client_for(name).get(reverse("core:home")).content.decode()

    operator = nav("caller_operator")
    assert reverse("reports:operator_intake") in operator
    assert reverse("reports:triage_list") not in operator
    analyst = nav("cross13_analyst")
    assert reverse("reports:triage_list") in analyst
    assert reverse("reports:operator_intake") not in analyst
    landlord = nav("landlord_13h")
    assert reverse("reports:landlord_report_list") in landlord
    assert reverse("reports:triage_list") not in landlord


def _error_summary(page: str) -> str:
    start = page.index('id="error-summary"')
    return page[start : page.index("</div>", start)]


def test_operator_error_summary_names_the_place_first(client_for):
    """The pin's inputs are hidden: their error ("Placez un repère…") was only under the map,
    missing from the summary. It is there, first like the place in the page, linked to the
    commune search that opens the "where" block."""
    response = client_for("caller_operator").post(
        reverse("reports:operator_intake"),
        {"precision": Precision.BUILDING, "people_count": "unknown"},
    )
    summary = _error_summary(response.content.decode())
    place = (
        '<a href="#commune-query">Lieu : Placez un repère sur la carte, ou indiquez une adresse '
        "et sa commune.</a>"
    )
    assert place in summary
    # The operator keys in what the caller says: the words are the caller's, not « vous ».
    called = html.unescape(summary)
    assert 'href="#id_activities_0">Ce que l\'appelant a constaté : ' in called
    assert called.index(place) < called.index("Ce que l'appelant a constaté")


def test_operator_unknown_commune_is_in_the_place_line(client_for):
    data = {key: value for key, value in INTAKE.items() if key not in ("latitude", "longitude")}
    response = client_for("caller_operator").post(
        reverse("reports:operator_intake"),
        {**data, "address": "Rue X", "commune_query": "Zzyzx-sur-Mer"},
    )
    summary = _error_summary(response.content.decode())
    assert '<a href="#commune-query">Lieu : Aucune commune ne correspond' in summary


# --- placing a report given by its address alone -------------------------------------------------


def _address_only_report() -> Report:
    """A report of the place Cadenat (Marseille 3e) given without a pin."""
    data = services.ReportInput(
        address="place Cadenat",
        commune_code="13203",
        precision=Precision.BUILDING,
        activities=[Activity.SELLING],
    )
    return services.report_submit_public(data=data, channel=Channel.WEB).report


def _place(client, report: Report, **data: str):
    fields = {"place-latitude": "43.3452", "place-longitude": "5.3949", "place-precision": "street"}
    fields.update({f"place-{name}": value for name, value in data.items()})
    return client.post(reverse("reports:report_place", args=[report.pk]), fields)


def test_the_placing_form_is_on_an_address_only_report_only(client_for):
    client = client_for("cross13_analyst")
    address_only = _address_only_report()
    page = client.get(reverse("reports:report_detail", args=[address_only.pk])).content.decode()
    assert "Placer le signalement" in page
    assert 'data-latitude-input="id_place-latitude"' in page
    assert "place Cadenat" in page
    pinned = _public_report().report
    page = client.get(reverse("reports:report_detail", args=[pinned.pk])).content.decode()
    assert "Placer le signalement" not in page
    assert "data-latitude-input" not in page


def test_an_accepted_address_only_report_is_not_said_to_await_grouping(client_for, persona):
    """A new user's review: its « Rapprochement » section said « il attend le regroupement en
    propositions de nouveaux points », which it does not (placed at its commune's point, it
    awaits an analyst), against the page's own note and the acceptance's message."""
    report = services.report_accept(actor=persona("cross13_analyst"), report=_address_only_report())
    client = client_for("cross13_analyst")
    page = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
    section = html.unescape(page.split('id="report-matching"', 1)[1].split("</ul>", 1)[0])
    assert "il attend le regroupement" not in section
    assert "ni rattaché, ni proposé, ni regroupé automatiquement. Placez-le" in section


def test_a_report_in_a_proposal_of_a_new_point_says_so(client_for, persona):
    """New-user review: a report grouped into an open proposal of a new point was said to
    « attend[re] le regroupement en propositions de nouveaux points ». Its page says the
    proposal holds it, with how many reports, and links to it; the read is audited."""
    from cartostup.dealpoints import flows
    from cartostup.dealpoints.tests.factories import accepted_report

    analyst = persona("cross13_analyst")
    reports = [
        accepted_report(analyst=analyst, latitude=43.3452 + n / 20000, longitude=5.3949)
        for n in range(2)
    ]
    for report in reports:
        flows.report_match(report=report)
    (proposal,) = flows.reports_cluster()
    assert set(proposal.reports.all()) == set(reports)
    client = client_for("cross13_analyst")
    page = client.get(reverse("reports:report_detail", args=[reports[0].pk])).content.decode()
    section = html.unescape(page.split('id="report-matching"', 1)[1].split("</ul>", 1)[0])
    assert "il attend le regroupement" not in section
    assert (
        "Il fait partie d'une proposition de nouveau point (2 signalements), à décider dans "
        "les rapprochements." in section
    )
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="dealpoints.proposal", details__proposals=[proposal.pk]
    ).exists()


def test_a_report_placed_before_acceptance_is_matched_once_accepted(client_for):
    report = _address_only_report()
    client = client_for("cross13_analyst")

    response = _place(client, report, precision="building")

    assert response.status_code == 302
    assert response["Location"] == reverse("reports:report_detail", args=[report.pk])
    page = client.get(response["Location"]).content.decode()
    assert (
        escape(
            f"Signalement {report.reference} placé. Il sera rapproché des points de deal une fois "
            "accepté."
        )
        in page
    )
    report.refresh_from_db()
    assert (report.latitude, report.longitude, report.precision) == (43.3452, 5.3949, "building")
    assert not report.placed_at_commune
    # Placed by an analyst, not pinned by its reporter: it may be placed again.
    assert "Placé par un analyste d'après l'adresse indiquée" in page
    assert "Placer de nouveau le signalement" in page
    # Placed, the form is gone and the page says where it is.
    assert "Placer le signalement" not in page
    assert "43.34520, 5.39490" in page


def test_placing_an_accepted_report_says_what_the_matching_did(client_for, persona):
    from cartostup.dealpoints import flows
    from cartostup.dealpoints.tests.factories import dealpoint

    analyst = persona("cross13_analyst")
    point = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949)
    report = flows.report_accept_and_match(actor=analyst, report=_address_only_report())
    client = client_for("cross13_analyst")

    response = _place(client, report, latitude="43.34522", precision="building")

    assert response.status_code == 302
    page = html.unescape(client.get(response["Location"]).content.decode())
    # The same words as after an acceptance (`_matching_message`).
    assert (
        f"Signalement {report.reference} placé et rattaché automatiquement au point "
        f"{point.reference}"
    ) in page
    report.refresh_from_db()
    assert report.dealpoint_links.get().dealpoint_id == point.pk  # type: ignore[attr-defined]
    # Attached by hand before it was placed: said so, never « automatiquement ».
    from cartostup.dealpoints import services as dealpoint_services

    by_hand = flows.report_accept_and_match(actor=analyst, report=_address_only_report())
    dealpoint_services.report_attach(actor=analyst, dealpoint=point, report=by_hand)
    response = _place(client, by_hand, latitude="43.34522", precision="building")
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert (
        f"Signalement {by_hand.reference} placé ; il était déjà rattaché au point "
        f"{point.reference}."
    ) in page


def test_a_refused_placing_is_said_in_french_and_writes_nothing(client_for):
    report = _address_only_report()
    client = client_for("cross13_analyst")
    before = [event.pk for event in _events(report) if event.action != AuditAction.VIEW]

    outside = _place(client, report, latitude=str(SAINT_DENIS[0]), longitude=str(SAINT_DENIS[1]))
    assert outside.status_code == 400
    page = html.unescape(outside.content.decode())
    assert 'id="error-summary"' in page
    assert "Le formulaire contient une erreur" in page
    assert "Ce lieu est dans le département 93" in page
    assert "un signalement reste dans le département qui le trie" in page
    # What was typed is kept.
    assert f'value="{SAINT_DENIS[0]}"' in page

    missing = _place(client, report, latitude="", longitude="", precision="")
    page = html.unescape(missing.content.decode())
    assert missing.status_code == 400
    assert "Le formulaire contient 3 erreurs" in page
    assert "Choisissez la précision du lieu placé." in page
    assert "Cliquez sur la carte à l'adresse indiquée" in page

    report.refresh_from_db()
    assert report.placed_at_commune
    assert [e.pk for e in _events(report) if e.action != AuditAction.VIEW] == before


def test_a_reporters_pin_is_not_moved_from_the_page(client_for):
    report = _public_report().report
    response = _place(client_for("cross13_analyst"), report)
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Seul un signalement donné par son adresse seulement se place" in page
    assert "il ne se déplace pas" in page
    stored = Report.objects.get(pk=report.pk)
    assert (stored.latitude, stored.longitude) == (report.latitude, report.longitude)


@pytest.mark.parametrize(
    "name", ["cross93_analyst", "cross69_analyst", "police13_investigator", "landlord_13h"]
)
def test_placing_is_404_without_triage_or_out_of_view(client_for, name):
    report = _address_only_report()
    assert _place(client_for(name), report).status_code == 404
    assert (
        client_for("cross13_analyst")
        .get(reverse("reports:report_place", args=[report.pk]))
        .status_code
        == 405
    )
    assert Report.objects.get(pk=report.pk).placed_at_commune


def test_a_report_placed_wrongly_is_placed_again_from_its_page_once_detached(client_for, persona):
    """Placed at the wrong place and attached automatically to the point there: the page
    says to detach it first and offers no form, and a placing sent anyway is refused in
    French; detached, it is placed again and matched from the new place."""
    from cartostup.dealpoints import flows
    from cartostup.dealpoints.choices import LinkDecision
    from cartostup.dealpoints.models import ReportLink
    from cartostup.dealpoints.tests.factories import dealpoint

    analyst = persona("cross13_analyst")
    wrong = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949)
    report = flows.report_accept_and_match(actor=analyst, report=_address_only_report())
    client = client_for("cross13_analyst")
    assert _place(client, report, latitude="43.34522", precision="building").status_code == 302
    link = ReportLink.objects.get(report=report, dealpoint=wrong)
    assert link.decision == LinkDecision.AUTOMATIC

    page = html.unescape(
        client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
    )
    assert "Placer de nouveau le signalement" in page
    assert (
        f"il est rattaché au point {wrong.reference} : pour le placer de nouveau, détachez-le"
        in (page)
    )
    assert 'id="place-form"' not in page
    refused = _place(client, report, latitude="43.3470", longitude="5.3990", precision="street")
    assert refused.status_code == 400
    assert "Détachez-le d'abord depuis la fiche du point" in html.unescape(refused.content.decode())
    report.refresh_from_db()
    assert (report.latitude, report.longitude) == (43.34522, 5.3949)

    flows.link_refuse(actor=analyst, link=link, from_decision=LinkDecision.AUTOMATIC)
    page = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
    assert 'id="place-form"' in page and "Placer de nouveau" in page
    response = _place(client, report, latitude="43.3470", longitude="5.3990", precision="street")
    assert response.status_code == 302
    page = html.unescape(client.get(response["Location"]).content.decode())
    assert f"Signalement {report.reference} placé. Il n'est rattaché à aucun point" in page
    report.refresh_from_db()
    assert (report.latitude, report.longitude, report.precision) == (43.347, 5.399, "street")
    assert report.awaiting_matching is True


def test_a_report_attached_to_a_point_the_analyst_cannot_see_is_not_offered_placing(
    client_for, persona
):
    """Review of 2026-12-06: the page decided from the attachment the analyst could see and
    the flow from every attachment, so a report attached to a point the analyst may not read
    was offered the form, then refused with « un autre point ». Both now read one check: the
    page offers no form and says why without naming the point, and a placing sent anyway is
    refused in the same words; nothing moves."""
    from cartostup.access.choices import Distribution
    from cartostup.access.services import sharing_group_create
    from cartostup.dealpoints import flows
    from cartostup.dealpoints import services as dealpoint_services
    from cartostup.dealpoints.models import DealPoint
    from cartostup.dealpoints.tests.factories import dealpoint_input

    analyst = persona("cross13_analyst")
    report = flows.report_accept_and_match(actor=analyst, report=_address_only_report())
    assert _place(client_for("cross13_analyst"), report, latitude="43.34522").status_code == 302
    # A point the CROSS keeps to a group of its own: the Ofast antenna, which triages and
    # places the département's reports too, is not a member of it.
    group = sharing_group_create(
        actor=persona("admin"),
        name="Groupe du CROSS",
        owner_organisation=analyst.memberships.get().organisation,
    )
    hidden = dealpoint_services.dealpoint_create(
        actor=analyst,
        data=dealpoint_input(latitude=43.3452, longitude=5.3949),
        reports=[report],
        sharing=dealpoint_services.SharingInput(
            distribution=Distribution.SHARING_GROUP, sharing_group_id=group.pk
        ),
    )
    antenna = persona("antenna13_analyst")
    assert not _policy_sees(antenna, hidden)
    client = client_for("antenna13_analyst")

    page = html.unescape(
        client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
    )
    assert 'id="place-form"' not in page
    assert "il est rattaché à un point que votre profil ne voit pas" in page
    # Its matching says so too, not « attached to no point » (new-user audit).
    assert "Rattaché à un point que votre profil ne voit pas." in page
    assert "Rattaché à aucun point" not in page
    assert hidden.reference not in page
    refused = _place(client, report, latitude="43.3470", longitude="5.3990", precision="street")
    assert refused.status_code == 400
    refusal = html.unescape(refused.content.decode())
    assert "rattaché à un point que votre profil ne voit pas" in refusal
    assert hidden.reference not in refusal
    report.refresh_from_db()
    assert (report.latitude, report.longitude) == (43.34522, 5.3949)
    assert DealPoint.objects.get(pk=hidden.pk).links.filter(report=report).exists()

    # Nor is it taken from that point by an attachment to one the antenna reads (new-user
    # audit: it was, and the message named the hidden point), by the page or the API.
    from cartostup.dealpoints.models import DealPointEvent
    from cartostup.dealpoints.tests.factories import dealpoint

    seen = dealpoint(actor=analyst, latitude=43.3460, longitude=5.3960)
    history = DealPointEvent.objects.filter(dealpoint=hidden).count()
    attached = client.post(
        reverse("dealpoints:attach", args=[seen.pk]), {"attach-report": report.reference}
    )
    text = html.unescape(client.get(reverse("dealpoints:detail", args=[seen.pk])).content.decode())
    assert attached.status_code in {302, 400}
    assert "rattaché à un point que votre profil ne voit pas" in text + html.unescape(
        attached.content.decode()
    )
    api = client.post(
        f"/api/v1/dealpoints/{seen.pk}/reports/",
        {"report": report.reference},
        content_type="application/json",
    )
    assert api.status_code == 400
    assert "rattaché à un point que votre profil ne voit pas" in str(api.json())
    assert hidden.reference not in str(api.json()) + text
    link = DealPoint.objects.get(pk=hidden.pk).links.get(report=report)
    assert link.decision == "confirmed"
    assert not seen.links.filter(report=report).exists()
    assert DealPointEvent.objects.filter(dealpoint=hidden).count() == history


def _policy_sees(user, point) -> bool:
    from cartostup.access import policy
    from cartostup.dealpoints.models import DealPoint

    return policy.restrict(DealPoint.objects.all(), actor=user).filter(pk=point.pk).exists()


def test_the_triage_list_says_a_report_given_by_its_address_alone(client_for):
    """New-user audit (2026-12-06): the list showed « Quartier », the stand-in's precision,
    for a report whose reporter chose « Immeuble » and gave no pin."""
    report = _address_only_report()
    page = client_for("cross13_analyst").get(reverse("reports:triage_list")).content.decode()
    row = page[page.index(report.reference) :]
    row = row[: row.index("</tr>")]
    assert "Adresse seule" in row and "Quartier" not in row


def test_a_reporter_s_message_on_a_triaged_report_is_shown_until_read(client_for, persona):
    """New-user review: what residents wrote on /suivi/ about reports already accepted or
    rejected was stored, and seen only by opening each report (the queue shows new reports
    and pending questions). The triage page says how many reports hold a message the team has
    not read, filters them, and badges their rows; opening the report as an analyst who may
    triage it reads them (audited)."""
    analyst = persona("cross13_analyst")
    submitted = _public_report()
    report = services.report_accept(actor=analyst, report=submitted.report)
    services.report_reply(receipt=submitted.receipt, text="Ils sont revenus ce soir.")
    report.refresh_from_db()
    assert report.message_unread
    client = client_for("cross13_analyst")
    queue = html.unescape(client.get(reverse("reports:triage_list")).content.decode())
    assert "1 signalement a un message du signalant qu'aucun analyste n'a encore lu." in queue
    listed = client.get(reverse("reports:triage_list"), {"message_unread": "true"})
    assert [row.pk for row in listed.context["reports"]] == [report.pk]
    assert "Message non lu" in listed.content.decode()
    page = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
    assert "Ils sont revenus ce soir." in page
    report.refresh_from_db()
    assert not report.message_unread
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(report.pk), details__messages_read=True
    ).exists()
    queue = html.unescape(client.get(reverse("reports:triage_list")).content.decode())
    assert "qu'aucun analyste n'a encore lu" not in queue
