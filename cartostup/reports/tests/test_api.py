"""Public reports API: 201/400/429, French messages, rate limits, OpenAPI documentation."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from cartostup.reports import pow
from cartostup.reports.models import PowChallenge, Report, ReportMessage

from .factories import jpeg_upload, submit
from .test_photos import CANARY, exif_with_canaries

pytestmark = pytest.mark.django_db
BASE = "/api/public/v1/"


def payload(client: Client, **changes):
    challenge = client.get(BASE + "challenge").json()
    data = {
        "challenge": challenge["challenge"],
        "nonce": pow.pow_solve(challenge["challenge"], challenge["difficulty"]),
        "latitude": 43.3452,
        "longitude": 5.3949,
        "precision": "building",
        "activities": ["selling"],
        "products": ["cannabis", "cocaine"],
        "days": ["sat"],
        "times_of_day": ["evening", "night"],
        "people_count": "3-5",
        "description": "Deux guetteurs à l'entrée.",
        "place_label": "Bât. C",
    }
    data.update(changes)
    return data


@pytest.fixture
def api():
    return Client(enforce_csrf_checks=True)


@override_settings(CARTOSTUP_POW_DIFFICULTY=8)
def test_challenge_and_json_submission(api, persona):
    challenge = api.get(BASE + "challenge")
    assert challenge.status_code == 200
    body = challenge.json()
    assert body["difficulty"] == 8 and len(body["challenge"]) == 32
    assert not challenge.cookies
    response = api.post(BASE + "reports", payload(api), content_type="application/json")
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"receipt", "status"}
    assert response.json()["status"] == "received"
    assert not response.cookies
    report = Report.objects.get()
    assert report.channel == "mobile" and report.products == ["cannabis", "cocaine"]


@override_settings(CARTOSTUP_POW_DIFFICULTY=4)
def test_multipart_with_photo_strips_metadata(api, persona):
    data = payload(api)
    data["photo"] = jpeg_upload(exif=exif_with_canaries())
    response = api.post(BASE + "reports", data)
    assert response.status_code == 201, response.content
    report = Report.objects.get()
    with report.photo.open("rb") as handle:
        assert CANARY.encode() not in handle.read()


@override_settings(CARTOSTUP_POW_DIFFICULTY=20)
def test_missing_work_and_reused_challenge(api, persona):
    data = payload(api, nonce="x")  # solving 20 bits in payload() is skipped below
    response = api.post(BASE + "reports", data, content_type="application/json")
    if response.status_code == 201:  # pragma: no cover - 1 chance in a million
        pytest.skip("nonce happened to be valid")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "pow_insufficient"
    assert "preuve de travail" in body["errors"]["nonce"][0]
    again = api.post(BASE + "reports", data, content_type="application/json")
    assert again.json()["code"] == "pow_unknown"
    assert not Report.objects.exists()


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_invalid_input_is_400_in_french_and_stores_nothing(api, persona):
    data = payload(api, latitude=40.7, longitude=-74.0, activities=["online"])
    response = api.post(BASE + "reports", data, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"]["latitude"] == ["Le lieu indiqué doit se trouver en France."]
    assert "online_account" in body["errors"]
    bad = api.post(
        BASE + "reports",
        payload(api, activities=[], precision="far"),
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) >= {"activities", "precision"}
    # A boolean is no coordinate (a review: `true` was read as 1.0, a place in the Gers).
    boolean = api.post(
        BASE + "reports",
        payload(api, latitude=43.3, longitude=True),
        content_type="application/json",
    )
    assert boolean.status_code == 400
    assert boolean.json()["errors"]["longitude"] == ["Un nombre valide est requis."]
    assert not Report.objects.exists()


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_an_unknown_choice_lists_the_values_accepted_in_the_readers_language(api, persona):
    """REST framework's « « far » n'est pas un choix valide. » named no accepted value
    (`core.api.choices_listed`, user audit): the values are listed, with their codes, in the
    language the reader chose on the public pages."""
    bad = api.post(BASE + "reports", payload(api, precision="far"), content_type="application/json")
    (said,) = bad.json()["errors"]["precision"]
    assert said.startswith("Valeur inconnue (valeurs acceptées : ")
    assert "building (" in said and "far" not in said
    api.cookies["django_language"] = "en"
    english = api.post(
        BASE + "reports", payload(api, precision="far"), content_type="application/json"
    )
    (said,) = english.json()["errors"]["precision"]
    assert said.startswith("Unknown value (accepted values: ") and "building (" in said
    assert not Report.objects.exists()


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_address_instead_of_pin(api, persona):
    data = payload(api, address="Place du Caquet", commune_code="93066")
    del data["latitude"], data["longitude"]
    response = api.post(BASE + "reports", data, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Report.objects.get().commune.code == "93066"


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_a_pin_and_a_commune_are_refused_together(api, persona):
    """The commune sent beside a pin was dropped, unsaid (API review): refused, nothing kept,
    the challenge not spent."""
    data = payload(api, address="1 rue", commune_code="13202")
    refused = api.post(BASE + "reports", data, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["commune_code"][0].startswith(
        "Un repère (latitude, longitude) ou une commune, pas les deux"
    )
    assert not Report.objects.exists()
    data["commune_code"] = ""
    assert api.post(BASE + "reports", data, content_type="application/json").status_code == 201


@override_settings(CARTOSTUP_POW_DIFFICULTY=0)
def test_followup_and_messages(api, persona):
    from cartostup.reports import services

    receipt = api.post(BASE + "reports", payload(api), content_type="application/json").json()[
        "receipt"
    ]
    services.report_ask_question(
        actor=persona("cross13_analyst"), report=Report.objects.get(), text="Quelle entrée ?"
    )
    followup = api.post(BASE + "followup", {"receipt": receipt}, content_type="application/json")
    assert followup.status_code == 200
    body = followup.json()
    assert body["status"] == "in_progress" and body["question_pending"]
    assert body["messages"][0]["text"] == "Quelle entrée ?"
    assert "analyst" not in str(body["messages"][0].get("analyst", ""))
    reply = api.post(
        BASE + "followup/messages",
        {"receipt": receipt.lower(), "text": "Celle du parking."},
        content_type="application/json",
    )
    assert reply.status_code == 201
    assert reply.json()["author"] == "reporter"
    assert ReportMessage.objects.filter(author="reporter").count() == 1
    empty = api.post(
        BASE + "followup/messages",
        {"receipt": receipt, "text": ""},
        content_type="application/json",
    )
    assert empty.status_code == 400 and "text" in empty.json()["errors"]


@override_settings(
    CARTOSTUP_RATE_LIMITS={
        "challenge": (100, 600),
        "submission": (100, 3600),
        "receipt_client": (4, 900),
        "receipt_key": (3, 900),
    }
)
def test_wrong_receipts_are_rate_limited_per_client(api, persona):
    for attempt in range(4):
        response = api.post(
            BASE + "followup",
            {"receipt": f"ABC{attempt}-EFGH-JKMN-PQRS-TVWX-YZ00"},
            content_type="application/json",
        )
        assert response.status_code == 400
        assert "ne correspond à aucun signalement" in response.json()["detail"]
    blocked = api.post(
        BASE + "followup",
        {"receipt": "ABC9-EFGH-JKMN-PQRS-TVWX-YZ09"},
        content_type="application/json",
    )
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "Trop de tentatives" in blocked.json()["detail"]
    assert blocked.json()["code"] == "rate_limited"
    # Another client is not blocked.
    other = Client(REMOTE_ADDR="192.0.2.44")
    assert (
        other.post(
            BASE + "followup",
            {"receipt": "ABCD-EFGH-JKMN-PQRS-TVWX-YZ09"},
            content_type="application/json",
        ).status_code
        == 400
    )


@override_settings(
    CARTOSTUP_RATE_LIMITS={
        "challenge": (100, 600),
        "submission": (100, 3600),
        "receipt_client": (100, 900),
        "receipt_key": (3, 900),
    }
)
def test_distributed_brute_force_on_one_receipt_key_is_stopped(persona):
    submitted = submit()
    key = submitted.receipt[:9]  # "XXXX-XXXX"
    for number in range(3):
        client = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        response = client.post(
            BASE + "followup",
            {"receipt": key + "-0000-0000-0000-000" + str(number)},
            content_type="application/json",
        )
        assert response.status_code == 400
    # Even the right receipt, from a new address, now waits: the key is under attack.
    fresh = Client(REMOTE_ADDR="203.0.113.9")
    response = fresh.post(
        BASE + "followup", {"receipt": submitted.receipt}, content_type="application/json"
    )
    assert response.status_code == 429


@override_settings(
    CARTOSTUP_POW_DIFFICULTY=0,
    CARTOSTUP_RATE_LIMITS={
        "challenge": (100, 600),
        "submission": (2, 3600),
        "receipt_client": (10, 900),
        "receipt_key": (5, 900),
    },
)
def test_submissions_are_rate_limited(api, persona):
    for _ in range(2):
        response = api.post(BASE + "reports", payload(api), content_type="application/json")
        assert response.status_code == 201
    response = api.post(BASE + "reports", payload(api), content_type="application/json")
    assert response.status_code == 429
    assert Report.objects.count() == 2


@override_settings(
    CARTOSTUP_POW_DIFFICULTY=0,
    CARTOSTUP_RATE_LIMITS={
        "challenge": (100, 600),
        "submission": (2, 3600),
        "receipt_client": (10, 900),
        "receipt_key": (5, 900),
    },
)
def test_refused_submissions_do_not_count_against_the_limit(api, persona):
    """As on the web form, only a saved report counts: a reporter who corrects a refused
    submission (400) is not locked out."""
    for _ in range(3):
        refused = api.post(
            BASE + "reports", payload(api, latitude=91), content_type="application/json"
        )
        assert refused.status_code == 400
        assert "latitude" in refused.json()["errors"]
    statuses = [
        api.post(BASE + "reports", payload(api), content_type="application/json").status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert Report.objects.count() == 2


def test_wrong_methods_and_schema(api):
    assert api.get(BASE + "reports").status_code == 405
    assert api.get(BASE + "followup").status_code == 405
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/public/v1/challenge", "get"),
        ("/api/public/v1/reports", "post"),
        ("/api/public/v1/followup", "post"),
        ("/api/public/v1/followup/messages", "post"),
    ]:
        operation = paths[path][method]
        assert "429" in operation["responses"]
        if method == "post":
            assert "400" in operation["responses"]
        assert operation.get("security") in (None, [], [{}])
    content = paths["/api/public/v1/reports"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(content)
    # The photo is a file (a client generated from a URI sent a text, refused: review).
    multipart = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    photo = schema["components"]["schemas"][multipart]["properties"]["photo"]
    assert (photo["type"], photo["format"]) == ("string", "binary")


def test_challenges_are_rate_limited(api):
    from django.conf import settings

    limit = settings.CARTOSTUP_RATE_LIMITS["challenge"][0]
    for _ in range(limit):
        assert api.get(BASE + "challenge").status_code == 200
    assert api.get(BASE + "challenge").status_code == 429
    assert PowChallenge.objects.count() == limit
