"""Report services: every submission path, triage transitions and their audit events, the
retention purge."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404

from cartostup.access.choices import Distribution, Marking, OrganisationKind
from cartostup.access.models import Organisation
from cartostup.access.services import building_create
from cartostup.core.audit import audit_chain_problems, audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.reports import receipts, services
from cartostup.reports.choices import Channel, MessageAuthor, Status
from cartostup.reports.models import Report, ReportMessage
from cartostup.territories.models import Departement
from conftest import audit_flushed

from .factories import SAINT_DENIS, jpeg_upload, report_input, submit

pytestmark = pytest.mark.django_db


def test_public_submission_owner_reference_and_coarse_time(persona):
    submitted = submit()
    report = submitted.report
    assert report.channel == Channel.WEB
    assert report.owner_organisation.kind == OrganisationKind.CROSS
    assert report.owner_organisation.name == "CROSS des Bouches-du-Rhône"
    assert report.distribution == Distribution.CROSS
    assert report.marking == Marking.AMBER
    assert report.departement.code == "13"
    assert report.commune.code == "13214"  # Marseille 14e arrondissement
    assert report.reference.startswith("SIG-13-")
    assert len(report.reference) == len("SIG-13-000001")
    assert report.received_at.minute == report.received_at.second == 0
    assert report.received_at.microsecond == 0
    assert len(report.h3_cell) == 15
    assert report.status == Status.NEW


def test_references_count_per_departement(persona):
    first = submit().report
    second = submit().report
    other = submit(latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]).report
    number = int(first.reference.rsplit("-", 1)[1])
    assert second.reference == f"SIG-13-{number + 1:06d}"
    assert other.reference.startswith("SIG-93-")
    assert other.owner_organisation.name == "CROSS de la Seine-Saint-Denis"


def test_receipt_is_stored_only_as_key_and_slow_hash(persona):
    submitted = submit()
    report = submitted.report
    parsed = receipts.receipt_parse(submitted.receipt)
    assert report.receipt_key == parsed.key
    assert report.receipt_hash.startswith("$argon2id$")
    assert parsed.secret not in report.receipt_hash
    stored = str(list(Report.objects.filter(pk=report.pk).values()))
    assert submitted.receipt not in stored and parsed.secret not in stored


def test_public_audit_event_has_no_actor_only_the_reference(persona):
    report = submit().report
    audit_flushed()
    event = AuditEvent.objects.get(object_id=str(report.pk), object_type="reports.report")
    assert event.action == AuditAction.CREATE
    assert event.actor_id is None and event.actor_username == ""
    assert event.details == {"reference": report.reference}


def test_invalid_input_stores_nothing_and_explains_in_french(persona):
    before = (Report.objects.count(), AuditEvent.objects.count())
    media = Path(settings.MEDIA_ROOT)
    files_before = set(media.rglob("*"))
    with pytest.raises(ValidationError) as caught:
        submit(
            latitude=40.7,
            longitude=-74.0,  # New York
            activities=["online"],
            online_account="",
            photo=jpeg_upload(),
        )
    errors = caught.value.message_dict
    assert errors["latitude"] == ["Le lieu indiqué doit se trouver en France."]
    assert "online_account" in errors
    assert (Report.objects.count(), AuditEvent.objects.count()) == before
    assert set(media.rglob("*")) == files_before


def test_no_position_and_unknown_choices_are_refused(persona):
    with pytest.raises(ValidationError) as caught:
        submit(latitude=None, longitude=None, activities=[], precision="nowhere", days=["xyz"])
    errors = caught.value.message_dict
    assert set(errors) >= {"latitude", "activities", "precision", "days"}
    assert errors["activities"] == ["Cochez au moins une activité constatée."]


def test_an_address_alone_is_placed_at_its_commune_and_said_so(persona):
    """Without a pin the position is the commune's point, kilometres from the place: the
    report says so (`placed_at_commune`, the coarsest precision), whatever precision the
    reporter gave, and waits for no matching once accepted."""
    report = submit(
        latitude=None,
        longitude=None,
        address="Place de la gare",
        commune_code="93066",  # Saint-Denis
        precision="stairwell",
    ).report
    assert report.commune.code == "93066"
    assert report.precision == "area"
    assert report.placed_at_commune is True
    assert report.address == "Place de la gare"
    accepted = services.report_accept(actor=persona("cross93_analyst"), report=report)
    assert accepted.awaiting_matching is False
    pinned = submit().report
    assert pinned.placed_at_commune is False
    assert services.report_accept(actor=persona("cross13_analyst"), report=pinned).awaiting_matching


def test_address_in_a_city_with_arrondissements(persona):
    report = submit(latitude=None, longitude=None, address="Cours Belsunce", commune_code="13055")
    assert report.report.departement.code == "13"


def test_photo_is_reencoded_and_stored(persona):
    report = submit(photo=jpeg_upload()).report
    assert report.photo.name.startswith("reports/") and report.photo.name.endswith(".jpg")
    assert Path(report.photo.path).exists()
    assert "photo" not in Path(report.photo.name).name


def test_owner_fallback_antenna_then_central(persona):
    departement = Departement.objects.get(code="13")
    cross = Organisation.objects.get(name="CROSS des Bouches-du-Rhône")
    assert services.report_owner_for(departement=departement) == cross
    cross.is_active = False
    cross.save()
    owner = services.report_owner_for(departement=departement)
    assert owner.kind == OrganisationKind.OFAST_ANTENNA
    assert owner.name == "Ofast – antenne de Marseille"
    Organisation.objects.filter(kind=OrganisationKind.OFAST_ANTENNA).update(is_active=False)
    assert services.report_owner_for(departement=departement).kind == (
        OrganisationKind.OFAST_CENTRAL
    )


# --- operator and landlord ---------------------------------------------------------------------


def test_operator_keys_in_a_call_with_a_receipt(persona):
    operator = persona("caller_operator")
    submitted = services.report_submit_by_operator(actor=operator, data=report_input())
    assert submitted.report.channel == Channel.PHONE
    assert receipts.receipt_parse(submitted.receipt).key == submitted.report.receipt_key
    audit_flushed()
    event = AuditEvent.objects.get(object_id=str(submitted.report.pk))
    assert event.actor_id == operator.pk


def test_only_operators_key_in_calls(persona):
    with pytest.raises(Http404):
        services.report_submit_by_operator(actor=persona("cross13_analyst"), data=report_input())
    with pytest.raises(Http404):
        services.report_submit_by_operator(actor=persona("landlord_13h"), data=report_input())


@pytest.fixture
def building_13h(persona):
    return building_create(
        actor=persona("landlord_13h"),
        name="Résidence test – bâtiment A",
        address="12 allée des Amandiers, 13014 Marseille",
        latitude=43.3452,
        longitude=5.3949,
        stairwells="A1, A2",
    )


def test_landlord_reports_on_its_building(persona, building_13h):
    landlord = persona("landlord_13h")
    report = services.report_submit_by_landlord(
        actor=landlord,
        building=building_13h,
        data=report_input(latitude=1.0, longitude=1.0, precision="", place_label="A2"),
    )
    assert report.channel == Channel.LANDLORD
    assert report.building == building_13h
    assert (report.latitude, report.longitude) == (43.3452, 5.3949)
    assert report.address == building_13h.address
    assert report.place_label == "A2"
    assert report.precision == "building"
    assert report.receipt_key is None and report.receipt_hash == ""
    assert report.owner_organisation.kind == OrganisationKind.CROSS


def test_landlord_cannot_report_on_another_landlords_building(persona, building_13h):
    with pytest.raises(Http404):
        services.report_submit_by_landlord(
            actor=persona("landlord_13l"), building=building_13h, data=report_input()
        )
    with pytest.raises(Http404):
        services.report_submit_by_landlord(
            actor=persona("cross13_analyst"), building=building_13h, data=report_input()
        )
    assert not Report.objects.exists()


def test_landlord_sees_only_coarse_fields_of_its_reports(persona, building_13h):
    from cartostup.reports.selectors import landlord_report_list

    landlord = persona("landlord_13h")
    services.report_submit_by_landlord(actor=landlord, building=building_13h, data=report_input())
    submit()  # a resident's report: not the landlord's
    rows = landlord_report_list(actor=landlord)
    assert len(rows) == 1
    assert set(rows[0]) == {
        "id",
        "reference",
        "received_at",
        "building_id",
        "status",
        "public_status",
        "public_status_label",
    }
    assert landlord_report_list(actor=persona("landlord_13l")) == []
    # Audited as a listing of reports, with its count.
    (listing,) = AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="reports.report", actor_id=landlord.pk
    )
    assert listing.details == {"landlord": True, "count": 1}


@pytest.mark.parametrize("username", ["cross13_analyst", "ofast_analyst", "caller_operator"])
def test_the_landlords_list_is_refused_to_those_the_policy_gives_whole_reports(
    persona, building_13h, username
):
    """The list is the landlord's reduced view and nothing else: an actor for whom the policy
    declares no reduced view of reports (`visible_fields` None) is refused (404), never served
    whole fields under the landlord's list, and nothing is audited as read."""
    from cartostup.reports.selectors import landlord_report_list

    services.report_submit_by_landlord(
        actor=persona("landlord_13h"), building=building_13h, data=report_input()
    )
    with pytest.raises(Http404):
        landlord_report_list(actor=persona(username))
    assert not AuditEvent.objects.filter(action=AuditAction.LIST).exists()


# --- follow-up --------------------------------------------------------------------------------


def test_followup_and_reply_with_a_receipt(persona):
    submitted = submit()
    followup = services.report_followup(receipt=submitted.receipt.lower().replace("-", " "))
    assert followup.status == "received"
    assert followup.messages == [] and not followup.question_pending
    message = services.report_reply(receipt=submitted.receipt, text="Encore ce soir.")
    assert message.author == MessageAuthor.REPORTER
    assert message.sent_at.hour == message.sent_at.minute == 0  # kept to the day
    assert services.report_followup(receipt=submitted.receipt).messages[0].text == (
        "Encore ce soir."
    )


def test_a_reply_just_after_midnight_is_of_that_day(persona, monkeypatch):
    """New-user review: a reply is dated to the day (never its time), but the day was UTC's: a
    reply at 00:30 in Paris was dated the day before, before the question it answered."""
    from datetime import UTC, date, datetime

    from django.utils import timezone

    submitted = submit()
    monkeypatch.setattr(services.timezone, "now", lambda: datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    message = services.report_reply(receipt=submitted.receipt, text="Ce soir encore.")
    message.refresh_from_db()
    assert timezone.localdate(message.sent_at) == date(2026, 3, 11)
    assert timezone.localtime(message.sent_at).hour == 0
    (said,) = services.report_followup(receipt=submitted.receipt).messages
    assert said.sent_on == date(2026, 3, 11)


def test_messages_have_random_keys_and_a_rank_in_their_own_thread(persona):
    """Numbers shared by all reports would place a reply (dated to the day) between other
    reports' questions (exact times); a rank within the thread keeps the order written."""
    analyst = persona("cross13_analyst")
    first, second = submit(), submit()
    written = [
        services.report_ask_question(actor=analyst, report=first.report, text="Quel bâtiment ?"),
        services.report_ask_question(actor=analyst, report=second.report, text="Quelle heure ?"),
        services.report_reply(receipt=first.receipt, text="Le bâtiment C."),
        services.report_ask_question(actor=analyst, report=first.report, text="Quelle entrée ?"),
        services.report_reply(receipt=second.receipt, text="Vers 22 h."),
        services.report_reply(receipt=first.receipt, text="La deuxième."),
    ]
    assert all(isinstance(message.pk, uuid.UUID) for message in written)
    one, two = first.report.pk, second.report.pk
    assert [(message.report_id, message.sequence) for message in written] == [
        (one, 1),
        (two, 1),
        (one, 2),
        (one, 3),
        (two, 2),
        (one, 4),
    ]
    # The replies are dated to the day (midnight), before the questions they answer: the
    # thread still reads in the order written.
    thread = services.report_followup(receipt=first.receipt).messages
    assert [message.text for message in thread] == [
        "Quel bâtiment ?",
        "Le bâtiment C.",
        "Quelle entrée ?",
        "La deuxième.",
    ]
    # The audit events name a message by its random key.
    audit_flushed()
    replies = AuditEvent.objects.filter(object_type="reports.reportmessage")
    assert {event.object_id for event in replies} == {
        str(message.pk) for message in written if message.author == MessageAuthor.REPORTER
    }


def test_wrong_receipt_is_refused_in_french(persona):
    submitted = submit()
    wrong = submitted.receipt[:-1] + ("0" if submitted.receipt[-1] != "0" else "1")
    with pytest.raises(services.ReceiptInvalid, match="ne correspond à aucun signalement"):
        services.report_followup(receipt=wrong)
    with pytest.raises(services.ReceiptInvalid, match="24 caractères"):
        services.report_followup(receipt="abc")
    with pytest.raises(services.ReceiptInvalid):
        services.report_reply(receipt=wrong, text="x")
    assert not ReportMessage.objects.exists()


# --- triage ------------------------------------------------------------------------------------


def test_question_answer_accept_with_audit(persona):
    analyst = persona("cross13_analyst")
    submitted = submit()
    report = submitted.report
    question = services.report_ask_question(
        actor=analyst, report=report, text="Quel bâtiment exactement ?"
    )
    assert question.author == MessageAuthor.ANALYST and question.analyst == analyst
    report.refresh_from_db()
    assert report.status == Status.QUESTION
    followup = services.report_followup(receipt=submitted.receipt)
    assert followup.status == "in_progress" and followup.question_pending
    services.report_reply(receipt=submitted.receipt, text="Le B.")
    assert not services.report_followup(receipt=submitted.receipt).question_pending
    services.report_accept(actor=analyst, report=report, note="Confirmé par la BST.")
    report.refresh_from_db()
    assert report.status == Status.ACCEPTED and report.awaiting_matching
    assert report.triaged_by == analyst and report.triage_note == "Confirmé par la BST."
    assert services.report_followup(receipt=submitted.receipt).status == "handled"
    statuses = [
        event.details.get("status")
        for event in AuditEvent.objects.filter(
            actor_id=analyst.pk, object_id=str(report.pk), action=AuditAction.UPDATE
        ).order_by("sequence")
    ]
    assert statuses == ["question", "accepted"]


def test_reject_and_no_second_triage(persona):
    analyst = persona("cross13_analyst")
    report = submit().report
    with pytest.raises(ValidationError):
        services.report_reject(actor=analyst, report=report, status=Status.ACCEPTED)
    services.report_reject(actor=analyst, report=report, status=Status.SPAM)
    report.refresh_from_db()
    assert report.status == Status.SPAM and not report.awaiting_matching
    with pytest.raises(ValidationError):
        services.report_accept(actor=analyst, report=report)


@pytest.mark.parametrize(
    "username",
    ["cross93_analyst", "police13_investigator", "landlord_13h", "caller_operator", "admin"],
)
def test_only_the_cross_and_ofast_of_the_territory_triage(persona, username):
    report = submit().report
    with pytest.raises(Http404):
        services.report_accept(actor=persona(username), report=report)
    report.refresh_from_db()
    assert report.status == Status.NEW


@pytest.mark.parametrize("username", ["antenna13_analyst", "ofast_analyst"])
def test_ofast_of_the_territory_triages_too(persona, username):
    report = submit().report
    services.report_accept(actor=persona(username), report=report)
    report.refresh_from_db()
    assert report.status == Status.ACCEPTED
    assert report.triaged_by == persona(username)


def test_public_submission_leaves_only_the_hour_in_the_audit_trail(persona):
    """Held until its hour is over, then chained with the hour only, shuffled among the other
    anonymous acts of that hour, after the staff events of the hour."""
    first = submit().report
    second = submit().report
    assert not AuditEvent.objects.filter(object_type="reports.report").exists()
    audit_record(actor=persona("cross13_analyst"), action=AuditAction.SEARCH, object_type="x")
    assert not AuditEvent.objects.filter(object_type="reports.report").exists()
    audit_flushed()
    events = AuditEvent.objects.filter(object_type="reports.report").order_by("sequence")
    assert {e.object_id for e in events} == {str(first.pk), str(second.pk)}
    staff = AuditEvent.objects.get(object_type="x")
    for event in events:
        assert event.occurred_at.minute == event.occurred_at.second == 0
        assert event.occurred_at.microsecond == 0
        assert event.sequence > staff.sequence
    assert not list(audit_chain_problems())


def test_landlord_report_cannot_be_asked_a_question(persona, building_13h):
    report = services.report_submit_by_landlord(
        actor=persona("landlord_13h"), building=building_13h, data=report_input()
    )
    with pytest.raises(ValidationError):
        services.report_ask_question(actor=persona("cross13_analyst"), report=report, text="?")


def test_selectors_follow_the_policy_and_audit_views(persona):
    from cartostup.reports.selectors import access_report, report_list

    report = submit().report
    submit(latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1])
    analyst = persona("cross13_analyst")
    assert list(report_list(actor=analyst, filters={})) == [report]
    assert report_list(actor=persona("ofast_analyst"), filters={}).count() == 2
    assert not report_list(actor=persona("prefecture_13"), filters={}).exists()
    assert list(report_list(actor=analyst, filters={"status": ["spam"]})) == []
    assert list(report_list(actor=analyst, filters={"commune": "Marseille"})) == [report]
    assert access_report(actor=analyst, pk=report.pk) == report
    assert AuditEvent.objects.filter(
        actor_id=analyst.pk, action=AuditAction.VIEW, object_id=str(report.pk)
    ).exists()
    with pytest.raises(Http404):
        access_report(actor=persona("cross93_analyst"), pk=report.pk)


# --- placing a report given by its address alone -------------------------------------------------


def _address_only(**changes):
    """A report of the place Cadenat (Marseille 3e) given without a pin."""
    return submit(
        latitude=None, longitude=None, address="place Cadenat", commune_code="13203", **changes
    ).report


def _placings(report: Report) -> list[AuditEvent]:
    return [
        event
        for event in AuditEvent.objects.filter(
            action=AuditAction.UPDATE, object_id=str(report.pk)
        ).order_by("pk")
        if "placed" in (event.details or {})
    ]


def test_an_address_only_report_is_placed_by_the_analyst(persona):
    """The analyst reads the address and places the pin: position, precision, H3 cells,
    commune and QPV are those of the place; the report is no longer marked as standing at
    its commune's point, and the former position is kept in the audit event."""
    analyst = persona("cross13_analyst")
    report = _address_only()
    former = [round(report.latitude, 6), round(report.longitude, 6)]
    # A reporter's pin at the same place: what the locator says of it.
    pinned = submit(latitude=43.34521234, longitude=5.39491234).report

    placed = services.report_place(
        actor=analyst,
        report=report,
        latitude=43.34521234,
        longitude=5.39491234,
        precision="building",
    )

    placed.refresh_from_db()
    assert (placed.latitude, placed.longitude) == (43.345212, 5.394912)
    assert placed.precision == "building"
    assert placed.placed_at_commune is False
    assert placed.commune.code == pinned.commune.code == "13214"  # was the 3e arrondissement
    assert placed.priority_neighbourhood_id == pinned.priority_neighbourhood_id
    assert placed.h3_cell == services.h3_cells(43.345212, 5.394912)["h3_cell"]
    assert placed.h3_r9 == services.h3_cells(43.345212, 5.394912)["h3_r9"]
    assert placed.awaiting_matching is False  # not accepted yet: matched once accepted
    (event,) = _placings(placed)
    assert event.actor_username == "cross13_analyst"
    assert event.details == {
        "reference": placed.reference,
        # Floats are written as text in the audit chain (`core.audit`).
        "placed": {"from": [str(value) for value in former], "to": ["43.345212", "5.394912"]},
        "precision": "building",
    }
    # Once placed, its acceptance waits for the matching like any pinned report.
    assert services.report_accept(actor=analyst, report=placed).awaiting_matching is True


def test_an_accepted_report_placed_waits_for_the_matching(persona):
    analyst = persona("cross13_analyst")
    report = services.report_accept(actor=analyst, report=_address_only())
    assert report.awaiting_matching is False
    placed = services.report_place(
        actor=analyst, report=report, latitude=43.3452, longitude=5.3949, precision="street"
    )
    assert placed.awaiting_matching is True
    assert Report.objects.get(pk=report.pk).awaiting_matching is True


def test_a_reporters_pin_is_never_moved(persona):
    """A report with the reporter's pin is refused: the pin is evidence. Nothing is
    written."""
    analyst = persona("cross13_analyst")
    pinned = submit().report
    with pytest.raises(ValidationError) as refused:
        services.report_place(
            actor=analyst, report=pinned, latitude=43.3460, longitude=5.3960, precision="street"
        )
    assert "il ne se déplace pas" in refused.value.messages[0]
    stored = Report.objects.get(pk=pinned.pk)
    assert (stored.latitude, stored.longitude, stored.precision) == (
        pinned.latitude,
        pinned.longitude,
        pinned.precision,
    )
    assert _placings(pinned) == []
    assert pinned.placed_by_analyst is False


def test_a_report_placed_wrongly_is_placed_again(persona):
    """An analyst's placing is not the reporter's pin: placed at the wrong place, the report
    is placed again, still in its département; each placing is audited with the position it
    replaced, the second marked `again`."""
    analyst = persona("cross13_analyst")
    report = _address_only()
    first = services.report_place(
        actor=analyst, report=report, latitude=43.3452, longitude=5.3949, precision="street"
    )
    assert first.placed_by_analyst is True and first.placed_at_commune is False
    # Still in its département.
    with pytest.raises(ValidationError, match="dans le département 93"):
        services.report_place(
            actor=analyst,
            report=report,
            latitude=SAINT_DENIS[0],
            longitude=SAINT_DENIS[1],
            precision="building",
        )
    again = services.report_place(
        actor=analyst, report=report, latitude=43.3460, longitude=5.3960, precision="building"
    )
    again.refresh_from_db()
    assert (again.latitude, again.longitude, again.precision) == (43.346, 5.396, "building")
    assert again.placed_by_analyst is True
    assert again.h3_cell == services.h3_cells(43.346, 5.396)["h3_cell"]
    placings = [event.details for event in _placings(report)]
    assert len(placings) == 2
    assert "again" not in placings[0]
    assert placings[1]["again"] is True
    assert placings[1]["placed"] == {"from": ["43.3452", "5.3949"], "to": ["43.346", "5.396"]}


@pytest.mark.parametrize(
    ("latitude", "longitude", "precision", "field", "message"),
    [
        # Saint-Denis: in France, but in the 93, which does not triage this report.
        (48.936, 2.357, "building", "latitude", "dans le département 93"),
        (51.5074, -0.1278, "building", "latitude", "doit se trouver en France"),
        (None, None, "building", "latitude", "Cliquez sur la carte"),
        (43.3452, 5.3949, "everywhere", "precision", "Choisissez la précision"),
    ],
)
def test_a_placing_out_of_the_departement_or_invalid_is_refused(
    persona, latitude, longitude, precision, field, message
):
    report = _address_only()
    with pytest.raises(ValidationError) as refused:
        services.report_place(
            actor=persona("cross13_analyst"),
            report=report,
            latitude=latitude,
            longitude=longitude,
            precision=precision,
        )
    assert message in " ".join(refused.value.message_dict[field])
    if message == "dans le département 93":
        # It says why: the département decides who triages the report.
        assert "reste dans le département qui le trie" in refused.value.message_dict[field][0]
        assert "(13)" in refused.value.message_dict[field][0]
    stored = Report.objects.get(pk=report.pk)
    assert stored.placed_at_commune is True
    assert (stored.latitude, stored.longitude) == (report.latitude, report.longitude)
    assert _placings(report) == []


@pytest.mark.parametrize(
    "name", ["cross93_analyst", "cross69_analyst", "police13_investigator", "landlord_13h"]
)
def test_only_who_triages_the_report_places_it(persona, name):
    """Another département's analysts and the roles without triage: 404, nothing written."""
    report = _address_only()
    with pytest.raises(Http404):
        services.report_place(
            actor=persona(name),
            report=report,
            latitude=43.3452,
            longitude=5.3949,
            precision="street",
        )
    assert Report.objects.get(pk=report.pk).placed_at_commune is True


def test_a_rejected_report_is_not_placed(persona):
    analyst = persona("cross13_analyst")
    report = services.report_reject(actor=analyst, report=_address_only(), status=Status.SPAM)
    with pytest.raises(ValidationError, match="rien à placer"):
        services.report_place(
            actor=analyst, report=report, latitude=43.3452, longitude=5.3949, precision="street"
        )
