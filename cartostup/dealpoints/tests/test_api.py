"""The deal-points API, per persona: who sees what, what each action changes, what is
audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import services
from cartostup.dealpoints.choices import DealPointStatus, EventKind, LinkDecision
from cartostup.dealpoints.models import DealPoint, Operation, ReportLink
from cartostup.dealpoints.rules import LANDLORD_FIELDS
from cartostup.dealpoints.tests.factories import (
    MARSEILLE_14,
    accepted_report,
    dealpoint,
    dealpoint_input,
)
from cartostup.reports.tests.factories import submit

LIST = "/api/v1/dealpoints/"
SAINT_DENIS = (48.936, 2.357)


def detail(point: DealPoint, suffix: str = "") -> str:
    return f"{LIST}{point.pk}/{suffix}"


@pytest.fixture
def point(analyst, building):
    return dealpoint(actor=analyst, building_id=building.pk)


def test_analyst_lists_and_opens_a_point_audited(client_for, analyst, point):
    client = client_for("cross13_analyst")
    listing = client.get(LIST, {"status": "reported"})
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == 1
    assert body["results"][0]["reference"] == point.reference
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="dealpoints.dealpoint", actor_id=analyst.pk
    ).exists()
    opened = client.get(detail(point))
    assert opened.status_code == 200
    data = opened.json()
    assert data["latitude"] == pytest.approx(MARSEILLE_14[0])
    assert data["departement"] == "13"
    assert data["products"] == ["cannabis"]
    assert data["reports_count"] == 0
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_id=str(point.pk), actor_id=analyst.pk
    ).exists()


def test_filters_narrow_the_list_and_bad_filters_are_refused(client_for, analyst, point):
    client = client_for("cross13_analyst")
    assert client.get(LIST, {"status": "dismantled"}).json()["count"] == 0
    assert client.get(LIST, {"product": "cannabis"}).json()["count"] == 1
    assert client.get(LIST, {"product": "heroin"}).json()["count"] == 0
    refused = client.get(LIST, {"status": "nonsense"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid"
    assert "status" in refused.json()["errors"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"qpv": "zzz"}, "Valeur inconnue (valeurs acceptées : true (Oui), false (Non))."),
        ({"departement": "99"}, "Département inconnu (ex. : 13, 2A, 974)."),
        (
            {"product": "zzz"},
            "Valeur inconnue (valeurs acceptées : cannabis (Cannabis (résine, herbe)), cocaine "
            "(Cocaïne), crack (Crack), heroin (Héroïne), synthetic (Drogues de synthèse), other "
            "(Autre ou inconnu)).",
        ),
        ({"channel": "zzz"}, "Valeur inconnue (valeurs acceptées : fixed (Point fixe),"),
        (
            {"active_from": "2026-02-31"},
            "Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ).",
        ),
    ],
)
def test_an_invalid_filter_is_a_400_in_the_words_of_the_pages(client_for, point, params, message):
    """User audit: `?qpv=zzz` listed every point, `?departement=99` none with no word, and an
    unknown product or channel was told otherwise than an unknown status."""
    (name,) = params
    response = client_for("cross13_analyst").get(LIST, params)
    assert response.status_code == 400
    (said,) = response.json()["errors"][name]
    assert said.startswith(message), said
    export = client_for("cross13_analyst").get(f"{LIST}export/", {**params, "format": "csv"})
    assert export.status_code == 400
    assert export.json()["errors"][name][0].startswith(message)


def test_a_known_departement_and_qpv_filter_the_list(client_for, point):
    client = client_for("cross13_analyst")
    assert client.get(LIST, {"departement": "13"}).json()["count"] == 1
    assert client.get(LIST, {"departement": "93"}).json()["count"] == 0
    assert client.get(LIST, {"qpv": "false"}).json()["count"] == 1
    assert client.get(LIST, {"qpv": "true"}).json()["count"] == 0


@pytest.mark.parametrize("username", ["cross13_analyst", "landlord_13h"])
def test_filters_are_checked_as_sent_even_those_a_reduced_view_refuses(client_for, username):
    """A value padded with a newline was trimmed to its limit and accepted (schemathesis): it
    is refused as sent, for a landlord too (who may not filter on the département at all)."""
    client = client_for(username)
    for params, field, words in (
        ({"departement": "13\n"}, "departement", "Code de département invalide"),
        ({"departement": "XYZ"}, "departement", "Code de département invalide"),
        ({"commune": "M" * 100 + "\n"}, "commune", "100"),
        ({"q": "P" * 100 + " "}, "q", "100"),
    ):
        refused = client.get(LIST, params)
        assert refused.status_code == 400, params
        assert words in " ".join(refused.json()["errors"][field])
    # Misspelt: an empty list would read as « no point there » (a landlord may not filter on
    # it at all, and is told so).
    refused = client.get(LIST, {"commune": "Marsielle"}).json()["errors"]["commune"]
    assert refused == [
        "Ce filtre n'est pas ouvert à votre vue des points de deal."
        if username == "landlord_13h"
        else "Aucune commune ne porte ce nom, ce code INSEE ou ce code postal (ex. : Marseille ou "
        "13055 ; Marseille 14e Arrondissement ou 13214 ; La Ciotat ou 13600)."
    ]
    answer = client.get(LIST, {"departement": "13"})
    if username == "landlord_13h":
        assert answer.status_code == 400
        assert answer.json()["errors"] == {
            "departement": ["Ce filtre n'est pas ouvert à votre vue des points de deal."]
        }
    else:
        assert answer.status_code == 200


def test_a_landlord_filter_on_what_it_does_not_receive_is_refused(client_for, point):
    """Not dropped: the list would read as filtered (what is sold at its buildings)."""
    client = client_for("landlord_13h")
    before = AuditEvent.objects.count()
    for params in ({"product": "crack"}, {"channel": "drive"}, {"active_from": "2026-01-01"}):
        refused = client.get(LIST, {**params, "status": "reported"})
        assert refused.status_code == 400, params
        assert refused.json()["errors"] == {
            name: ["Ce filtre n'est pas ouvert à votre vue des points de deal."] for name in params
        }
    assert AuditEvent.objects.count() == before
    listed = client.get(LIST, {"status": "reported"}).json()
    assert [row["partner_code"] for row in listed["results"]] == [point.partner_code]


def test_a_reversed_period_is_refused(client_for, point):
    """As the map layers say it, not an empty list that reads as "no activity"."""
    client = client_for("cross13_analyst")
    period = {"active_from": "2026-12-31", "active_to": "2026-01-01"}
    for url in (LIST, "/api/v1/dealpoints/export/"):
        refused = client.get(url, {**period, **({"format": "csv"} if "export" in url else {})})
        assert refused.status_code == 400, url
        assert refused.json()["errors"] == {
            "active_to": ["La fin de la période précède son début."]
        }


def test_a_parameter_an_operation_does_not_take_is_refused(client_for, point):
    """A point's page takes no query parameter: one sent is unknown (400), not ignored
    (schemathesis sent `?limit=0` there and got the point)."""
    client = client_for("cross13_analyst")
    for params in ({"limit": "0"}, {"": "false"}):
        refused = client.get(detail(point), params)
        assert refused.status_code == 400, params
        messages = [m for errors in refused.json()["errors"].values() for m in errors]
        assert "Paramètre inconnu." in messages
    patched = client.patch(
        detail(point) + "?dry=1", {"name": "Nouveau nom"}, content_type="application/json"
    )
    assert patched.status_code == 400
    point.refresh_from_db()
    assert point.name != "Nouveau nom"
    # Operations that read the query still take theirs.
    assert client.get(detail(point)).status_code == 200
    assert client.get(LIST, {"limit": "1"}).status_code == 200


def test_other_territory_and_prefecture_get_404(client_for, point):
    assert client_for("cross93_analyst").get(detail(point)).status_code == 404
    assert client_for("cross93_analyst").get(LIST).json()["count"] == 0
    prefecture = client_for("prefecture_13")
    assert prefecture.get(detail(point)).status_code == 404
    listed = prefecture.get(LIST)
    assert listed.status_code == 404
    # Told why, and where its counts are (« Non trouvé. » told it nothing).
    assert listed.json()["detail"] == (
        "Votre rôle donne accès au nombre de points de deal par zone de votre territoire, pas "
        "aux points eux-mêmes : voir les couches de la carte (/api/v1/map/)."
    )
    assert prefecture.get("/api/v1/operations/").status_code == 404


def test_anonymous_is_refused(point):
    # 401 with the API token's challenge (403 before personal API tokens existed).
    assert Client().get(LIST).status_code == 401
    assert Client().get(detail(point)).status_code == 401
    assert Client().post(LIST, {}, content_type="application/json").status_code == 401


@pytest.mark.parametrize("username", ["landlord_13h", "cross13_analyst"])
def test_what_cannot_be_a_code_answers_404(client_for, point, username):
    """The code routes answer 404 (JSON under /api/) to any text that cannot be a partner
    code, before reading the database (a NUL byte was a 500 on PostgreSQL)."""
    client = client_for(username)
    absent = client.get("/api/v1/dealpoints/code/00000-00000/")
    for text in ("A%00BCDEFGHIJ", "x" * 5000, "%C3%A9" * 10, "-----", "%FF%FE", "ABCDE%20FGHI%00"):
        for prefix in ("/api/v1/dealpoints/code/", "/points-de-deal/code/", "/carte/panneau/code/"):
            response = client.get(f"{prefix}{text}/")
            assert response.status_code == 404, (prefix, text)
        assert client.get(f"/api/v1/dealpoints/code/{text}/").json() == absent.json()


def test_a_merged_point_is_not_found_by_its_code(client_for, analyst, point):
    """A merged point stands no more on its own: its code finds nothing, for the landlord as
    for the services, as it is gone from their lists."""
    other = dealpoint(actor=analyst, name="Doublon")
    code = point.partner_code
    services.dealpoint_merge(actor=analyst, source=point, target=other)
    for username in ("landlord_13h", "cross13_analyst"):
        assert client_for(username).get(f"/api/v1/dealpoints/code/{code}/").status_code == 404
        assert client_for(username).get(f"/points-de-deal/code/{code}/").status_code == 404


def test_landlord_receives_the_reduced_view_only(client_for, point):
    client = client_for("landlord_13h")
    by_code = f"/api/v1/dealpoints/code/{point.partner_code}/"
    data = client.get(by_code).json()
    assert set(data) == {*LANDLORD_FIELDS, "building_name"}
    assert data["building"] == point.building_id
    # Named as the pages, the map and the exports name it (a new user's review).
    assert data["building_name"] == point.building.name
    assert data["partner_code"] == point.partner_code
    # The code as a person types it: small letters, without its dash.
    typed = point.partner_code.replace("-", "").lower()
    assert client.get(f"/api/v1/dealpoints/code/{typed}/").json() == data
    listing = client.get(LIST).json()
    assert [set(row) for row in listing["results"]] == [{*LANDLORD_FIELDS, "building_name"}]
    # Its id (a sequence) answers as an absent point would, on every route.
    assert client.get(detail(point)).json() == client.get("/api/v1/dealpoints/999999/").json()
    for suffix in ("", "history/", "operations/"):
        assert client.get(detail(point, suffix)).status_code == 404
    assert client.get("/api/v1/operations/").status_code == 404
    assert client_for("landlord_13l").get(by_code).status_code == 404
    # The services find the point a landlord quotes, in full.
    full = client_for("cross13_analyst").get(by_code).json()
    assert full["reference"] == point.reference and full["partner_code"] == point.partner_code


def test_investigator_reads_and_records_an_operation_but_does_not_edit(client_for, persona, point):
    client = client_for("police13_investigator")
    assert client.get(detail(point)).json()["reference"] == point.reference
    recorded = client.post(
        detail(point, "operations/"),
        {"kind": "raid", "occurred_on": date.today().isoformat(), "outcome": "disrupted"},
        content_type="application/json",
    )
    assert recorded.status_code == 201, recorded.content
    assert recorded.json()["kind"] == "raid"
    assert Operation.objects.filter(dealpoint=point, recorded_by=persona("police13_investigator"))
    assert client.get(detail(point, "operations/")).json()["count"] == 1
    changed = client.patch(detail(point), {"name": "x"}, content_type="application/json")
    assert changed.status_code == 404
    created = client.post(
        LIST,
        {"latitude": MARSEILLE_14[0], "longitude": MARSEILLE_14[1]},
        content_type="application/json",
    )
    assert created.status_code == 404
    point.refresh_from_db()
    assert point.name == "Four du bâtiment B"
    assert DealPoint.objects.count() == 1


def test_create_then_patch_with_history_and_audit(client_for, analyst):
    client = client_for("cross13_analyst")
    created = client.post(
        LIST,
        {
            "latitude": MARSEILLE_14[0],
            "longitude": MARSEILLE_14[1],
            "precision": "building",
            "products": ["cannabis", "cocaine"],
            "estimated_daily_turnover": 3000,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    point = DealPoint.objects.get(pk=created.json()["id"])
    assert point.events.filter(kind=EventKind.CREATED).exists()
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(point.pk)).exists()
    patched = client.patch(
        detail(point), {"name": "Le four", "note": "vu sur place"}, content_type="application/json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "Le four"
    edit = point.events.get(kind=EventKind.EDITED)
    assert edit.details["name"] == ["", "Le four"]
    assert edit.note == "vu sur place"
    # The rest stayed as it was.
    point.refresh_from_db()
    assert point.products == ["cannabis", "cocaine"]


def test_the_answers_say_what_an_operation_and_a_creation_did_beside_the_record(client_for, point):
    """A client read 201 and had to fetch the point again to learn whether the raid had
    dismantled it, and never learnt that the new point had raised a move alert: the page said
    both. The answers now carry them (`dealpoint_status`, `status_kept`, `move_alerts`)."""
    client = client_for("cross13_analyst")
    raid = {"kind": "raid", "occurred_on": date.today().isoformat(), "outcome": "dismantled"}
    first = client.post(detail(point, "operations/"), raid, content_type="application/json")
    assert first.status_code == 201, first.content
    assert (first.json()["dealpoint_status"], first.json()["status_kept"]) == ("dismantled", "")
    again = client.post(detail(point, "operations/"), raid, content_type="application/json")
    assert again.status_code == 201, again.content
    assert (again.json()["dealpoint_status"], again.json()["status_kept"]) == (
        "dismantled",
        "dismantled",
    )
    # A new point a few metres away: the dismantled one may have moved there.
    created = client.post(
        LIST,
        {"latitude": MARSEILLE_14[0] + 0.0002, "longitude": MARSEILLE_14[1]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["move_alerts"] == [point.reference]
    # Far away: none.
    elsewhere = client.post(
        LIST, {"latitude": 43.2965, "longitude": 5.3698}, content_type="application/json"
    )
    assert elsewhere.status_code == 201, elsewhere.content
    assert elsewhere.json()["move_alerts"] == []


@pytest.mark.parametrize("value", [5, 5.5, True, ["Le four"], {"fr": "Le four"}])
def test_a_text_field_refuses_what_is_not_text(client_for, point, value):
    """`{"name": 5}` was accepted and stored as "5": a client that sent the wrong field or
    type read 200. Every text field of the body now refuses a number, a boolean, a list or
    an object, with the project's 400 shape, and nothing changes."""
    client = client_for("cross13_analyst")
    name = point.name
    response = client.patch(detail(point), {"name": value}, content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and body["detail"] == "Les données envoyées sont invalides."
    assert body["errors"] == {
        "name": ["Valeur invalide : indiquez un texte (entre guillemets en JSON)."]
    }
    point.refresh_from_db()
    assert point.name == name
    # The same on the other bodies: a note, a merge target, an operation's notes.
    for suffix, payload in (
        ("status/", {"status": "confirmed", "note": 7}),
        ("merge/", {"target": 34}),
        ("operations/", {"kind": "raid", "occurred_on": "2026-11-20", "outcome": "none",
                         "notes": 12}),
    ):  # fmt: skip
        refused = client.post(detail(point, suffix), payload, content_type="application/json")
        assert refused.status_code == 400, (suffix, refused.content)
        assert set(refused.json()["errors"]) == set(payload) - {"status", "kind", "occurred_on",
                                                                 "outcome"}  # fmt: skip
    # Text is still text.
    done = client.patch(detail(point), {"name": "5"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["name"] == "5"


def test_a_patch_of_a_version_read_before_another_edit_is_refused(client_for, persona, point):
    client = client_for("cross13_analyst")
    read = client.get(detail(point)).json()
    assert read["version"] == 0
    listed = client.get(LIST).json()["results"][0]
    assert listed["version"] == 0
    services.dealpoint_update(
        actor=persona("antenna13_analyst"),
        dealpoint=point,
        data=replace(services.input_from_dealpoint(point), notes="Vu lundi"),
    )
    stale = client.patch(
        detail(point),
        {"name": "Le four", "version": read["version"]},
        content_type="application/json",
    )
    assert stale.status_code == 409, stale.content
    body = stale.json()
    assert body["code"] == "changed_meanwhile"
    assert "notes de l'analyste" in body["detail"]
    assert "Rien n'a été enregistré" in body["detail"]
    point.refresh_from_db()
    assert point.name == "Four du bâtiment B" and point.notes == "Vu lundi"
    current = client.get(detail(point)).json()["version"]
    assert current == point.events.get(kind=EventKind.EDITED).pk
    done = client.patch(
        detail(point), {"name": "Le four", "version": current}, content_type="application/json"
    )
    assert done.status_code == 200, done.content
    assert done.json()["version"] > current
    # A version the point never had is refused, not taken as recent (an API review: 999, or
    # 2**63 - 1, passed the check, which only looked for later edits).
    for never in (done.json()["version"] + 1000, 2**63 - 1, current - 1):
        refused = client.patch(
            detail(point), {"name": "Autre", "version": never}, content_type="application/json"
        )
        assert refused.status_code == 400, (never, refused.content)
        assert "jamais été celle de ce point" in refused.json()["errors"]["version"][0]
    point.refresh_from_db()
    assert point.name == "Le four"
    # A reason alone changes nothing: said, not dropped (an API review).
    alone = client.patch(detail(point), {"note": "Vu lundi"}, content_type="application/json")
    assert alone.status_code == 400
    assert "Aucun champ du point ne change" in alone.json()["errors"]["note"][0]
    # Without a version, a change applies as it is (documented).
    assert (
        client.patch(detail(point), {"name": "Le four B"}, content_type="application/json")
    ).status_code == 200


def test_a_status_read_before_another_change_is_refused(client_for, persona, point):
    client = client_for("cross13_analyst")
    services.dealpoint_change_status(
        actor=persona("antenna13_analyst"), dealpoint=point, status="confirmed"
    )
    stale = client.post(
        detail(point, "status/"),
        {"status": "dismantled", "from_status": "reported"},
        content_type="application/json",
    )
    assert stale.status_code == 409, stale.content
    assert "« Signalé » → « Confirmé »" in stale.json()["detail"]
    # The code to send back, and what it means (new-user audit: « statut actuel : moved »).
    assert "(statut, actuellement : confirmed (« Confirmé »))" in stale.json()["detail"]
    point.refresh_from_db()
    assert point.status == DealPointStatus.CONFIRMED
    # Read as a status the point never came from: the last change as it was, not « Démantelé
    # → Confirmé », a change that never happened (API review).
    never = client.post(
        detail(point, "status/"),
        {"status": "investigation", "from_status": "dismantled"},
        content_type="application/json",
    )
    assert never.status_code == 409, never.content
    said = never.json()["detail"]
    assert "est « Confirmé », non « Démantelé » : son dernier changement, « Signalé » → " in said
    assert "« Démantelé » →" not in said


def test_invalid_input_is_refused_in_french_and_nothing_is_created(client_for):
    client = client_for("cross13_analyst")
    outside = client.post(
        LIST,
        {"latitude": SAINT_DENIS[0], "longitude": SAINT_DENIS[1]},
        content_type="application/json",
    )
    assert outside.status_code == 400
    body = outside.json()
    assert body["detail"] == "Les données envoyées sont invalides."
    assert body["errors"]["latitude"] == ["Ce lieu est hors de votre territoire."]
    wrong = client.post(
        LIST, {"latitude": "abc", "products": ["sugar"]}, content_type="application/json"
    )
    assert wrong.status_code == 400
    assert set(wrong.json()["errors"]) >= {"latitude", "longitude", "products"}
    # A boolean is no coordinate (an API review: `true` read as 1.0 created a point at
    # longitude 1, in the Gers, for a national analyst).
    for body in ({"latitude": 43.3, "longitude": True}, {"latitude": True, "longitude": 5.4}):
        (name,) = [key for key, value in body.items() if value is True]
        refused = client_for("ofast_analyst").post(LIST, body, content_type="application/json")
        assert refused.status_code == 400
        assert refused.json()["errors"] == {name: ["Un nombre valide est requis."]}
    assert not DealPoint.objects.exists()


def test_the_last_status_change_is_corrected_through_the_api(client_for, point):
    client = client_for("cross13_analyst")
    client.post(detail(point, "status/"), {"status": "dismantled"}, content_type="application/json")
    change = client.get(detail(point, "history/")).json()["results"][0]["id"]
    refused = client.post(
        detail(point, "status/"),
        {"status": "reported", "corrects": change},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert "Dites pourquoi" in refused.json()["errors"]["note"][0]
    corrected = client.post(
        detail(point, "status/"),
        {"status": "reported", "corrects": change, "note": "mauvais point"},
        content_type="application/json",
    )
    assert corrected.status_code == 200
    # The same correction again: the last change is the correction now (409, named).
    again = client.post(
        detail(point, "status/"),
        {"status": "reported", "corrects": change, "note": "mauvais point"},
        content_type="application/json",
    )
    assert again.status_code == 409
    assert "dernier changement de statut, actuellement" in again.json()["detail"]
    assert corrected.json()["status"] == "reported"
    history = client.get(detail(point, "history/")).json()["results"]
    assert history[0]["details"] == {"correction": True}
    # An id that was never a status change of this point is a wrong number (400 on the
    # field), not a change come since (409 sent the client to read it again).
    for never, status in [
        (1, "dismantled"),
        (history[0]["id"] + 1000, "dismantled"),
        (2**63 - 1, "dismantled"),
        (history[0]["id"] + 1000, "moved"),  # said on `corrects`, not on a successor
    ]:
        wrong = client.post(
            detail(point, "status/"),
            {"status": status, "corrects": never, "note": "essai"},
            content_type="application/json",
        )
        assert wrong.status_code == 400, (never, wrong.content)
        assert list(wrong.json()["errors"]) == ["corrects"], wrong.json()
    beyond = client.post(
        detail(point, "status/"),
        {"status": "dismantled", "corrects": 2**70, "note": "essai"},
        content_type="application/json",
    )
    assert beyond.status_code == 400 and "corrects" in beyond.json()["errors"]
    assert (history[0]["from_status"], history[0]["to_status"]) == ("dismantled", "reported")


def test_status_moves_and_names_a_successor(client_for, analyst, point):
    client = client_for("cross13_analyst")
    other = dealpoint(actor=analyst, latitude=43.3460, longitude=5.3960)
    confirmed = client.post(
        detail(point, "status/"), {"status": "confirmed"}, content_type="application/json"
    )
    assert confirmed.status_code == 200
    refused = client.post(
        detail(point, "status/"), {"status": "reported"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "status" in refused.json()["errors"]
    unknown = client.post(
        detail(point, "status/"),
        {"status": "moved", "successor": "PD-99-0001"},
        content_type="application/json",
    )
    assert unknown.status_code == 400
    moved = client.post(
        detail(point, "status/"),
        {"status": "moved", "successor": other.reference, "note": "déplacé"},
        content_type="application/json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["successor"] == other.reference
    history = client.get(detail(point, "history/")).json()["results"]
    assert [event["kind"] for event in history][:2] == ["status", "status"]
    assert history[0]["to_status"] == DealPointStatus.MOVED


def test_a_proposed_link_decided_meanwhile_answers_409(client_for, analyst, point):
    """With `from_decision` (what the client read), a confirm or a refusal of a link decided
    since (another client, another analyst) is refused: 409, code `already_decided`."""
    client = client_for("cross13_analyst")
    report = accepted_report(analyst=analyst)
    services.report_attach(
        actor=None, dealpoint=point, report=report, decision=LinkDecision.PROPOSED, score=0.5
    )
    body = {"report": report.reference, "from_decision": "proposed"}
    confirmed = client.post(detail(point, "reports/"), body, content_type="application/json")
    assert confirmed.status_code == 201, confirmed.content
    assert confirmed.json()["decision"] == "confirmed"
    events = point.events.count()
    refuse = detail(point, f"reports/{report.pk}/") + "?from_decision=proposed"
    stale = client.delete(refuse)
    assert stale.status_code == 409, stale.content
    assert stale.json()["code"] == "already_decided"
    assert "déjà été traité" in stale.json()["detail"]
    assert ReportLink.objects.get(report=report).decision == LinkDecision.CONFIRMED
    assert point.events.count() == events
    # Read as confirmed, it is detached; a stale confirm of the refused pair is then a 409.
    assert client.delete(refuse.replace("proposed", "confirmed")).status_code == 204
    again = client.post(detail(point, "reports/"), body, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "already_decided"
    assert ReportLink.objects.get(report=report).decision == LinkDecision.REJECTED
    bad = client.delete(detail(point, f"reports/{report.pk}/") + "?from_decision=maybe")
    assert bad.status_code == 400


@pytest.mark.parametrize("name", ["police13_investigator", "customs13_investigator"])
def test_a_reader_who_may_not_edit_learns_nothing_of_a_points_reports_by_detaching(
    client_for, analyst, point, name
):
    """Need-to-know audit (2026-12-06): an investigator's DELETE of a tie answered « Non
    trouvé » for a report not tied to the point and « Votre rôle ne donne pas accès… » for
    one tied (attached, proposed, or refused with `from_decision`): the reports of a point,
    which its record withholds from them, could be enumerated, unaudited. They are refused
    before any tie is looked up, in the same words whatever the report, and nothing moves."""
    tied = accepted_report(analyst=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=tied)
    untied = accepted_report(analyst=analyst)
    client = client_for(name)
    answers = set()
    for report in (tied, untied):
        for query in ("", "?from_decision=proposed", "?from_decision=confirmed"):
            response = client.delete(detail(point, f"reports/{report.pk}/") + query)
            answers.add((response.status_code, response.content))
    assert len(answers) == 1
    ((status_code, _body),) = answers
    assert status_code in {403, 404}
    assert ReportLink.objects.get(report=tied).decision == LinkDecision.CONFIRMED


def test_an_attachment_says_the_points_its_report_left(client_for, analyst, point):
    """The page said « Il a quitté PD-13-… », the API nothing (API review)."""
    report = accepted_report(analyst=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    second = dealpoint(actor=analyst, latitude=43.3460, longitude=5.3960)
    client = client_for("cross13_analyst")
    moved = client.post(
        detail(second, "reports/"), {"report": report.reference}, content_type="application/json"
    )
    assert moved.status_code == 201, moved.content
    assert moved.json()["moved_from"] == [point.reference]
    third = dealpoint(actor=analyst, latitude=43.3470, longitude=5.3970)
    fresh = accepted_report(analyst=analyst)
    first_time = client.post(
        detail(third, "reports/"), {"report": fresh.reference}, content_type="application/json"
    )
    assert first_time.json()["moved_from"] == []


def test_attach_detach_merge_unmerge(client_for, analyst, point):
    client = client_for("cross13_analyst")
    report = accepted_report(analyst=analyst)
    attached = client.post(
        detail(point, "reports/"), {"report": report.reference}, content_type="application/json"
    )
    assert attached.status_code == 201, attached.content
    assert client.get(detail(point)).json()["reports_count"] == 1
    # The point's reports, as its record lists them (the read of the point is audited, and
    # the reports it names as a listing of reports).
    before = AuditEvent.objects.count()
    (listed,) = client.get(detail(point, "reports/")).json()["results"]
    assert AuditEvent.objects.count() == before + 2
    assert AuditEvent.objects.order_by("-pk")[0].details["reports"] == [report.reference]
    assert listed["report"] == report.reference and listed["decision"] == "confirmed"
    assert listed["received_on"] == timezone.localdate(report.received_at).isoformat()
    assert client.get(detail(point, "reports/"), {"bogus": 1}).status_code == 400
    assert client_for("landlord_13h").get(detail(point, "reports/")).status_code == 404
    missing = client.post(
        detail(point, "reports/"), {"report": "SIG-00-0"}, content_type="application/json"
    )
    assert missing.status_code == 400
    detached = client.delete(detail(point, f"reports/{report.pk}/"))
    assert detached.status_code == 204
    assert ReportLink.objects.get(report=report).decision == LinkDecision.REJECTED
    # Detached already: said (409), not « Non trouvé. » (user audit, 2026-12-06).
    assert client.delete(detail(point, f"reports/{report.pk}/")).status_code == 409

    other = dealpoint(actor=analyst, latitude=43.3460, longitude=5.3960)
    merged = client.post(
        detail(other, "merge/"), {"target": point.reference}, content_type="application/json"
    )
    assert merged.status_code == 200, merged.content
    assert merged.json()["reference"] == point.reference
    other.refresh_from_db()
    assert other.merged_into_id == point.pk
    # A refusal of the whole request: its reason is `detail`, and under `errors` the key of no
    # field (it was « detail », which a client took for a field: API review).
    again = client.post(
        detail(other, "merge/"), {"target": point.reference}, content_type="application/json"
    )
    assert again.status_code == 400
    assert set(again.json()["errors"]) == {"non_field_errors"}
    assert again.json()["detail"] == again.json()["errors"]["non_field_errors"][0]
    assert [row["reference"] for row in client.get(LIST).json()["results"]] == [point.reference]
    unmerged = client.post(detail(other, "unmerge/"), {}, content_type="application/json")
    assert unmerged.status_code == 200, unmerged.content
    other.refresh_from_db()
    assert other.merged_into_id is None
    # Changes by someone who may not make them are refused and change nothing.
    investigator = client_for("police13_investigator")
    assert (
        investigator.post(
            detail(other, "merge/"), {"target": point.reference}, content_type="application/json"
        ).status_code
        == 404
    )
    other.refresh_from_db()
    assert other.merged_into_id is None


DATE_INVALID_TEXT = "Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ)."


def test_an_operation_date_is_read_and_refused_as_every_date_of_the_site(client_for, point):
    """User audit: « …Utilisez un des formats suivants : YYYY-MM-DD. » (English tokens), where
    the pages say DATE_INVALID."""
    client = client_for("police13_investigator")
    body = {"kind": "raid", "occurred_on": "2026-02-31", "outcome": "disrupted"}
    refused = client.post(detail(point, "operations/"), body, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"occurred_on": [DATE_INVALID_TEXT]}
    french = {**body, "occurred_on": "15/01/2026"}
    recorded = client.post(detail(point, "operations/"), french, content_type="application/json")
    assert recorded.status_code == 201, recorded.content
    assert recorded.json()["occurred_on"] == "2026-01-15"
    listed = client_for("cross13_analyst").get("/api/v1/operations/", {"date_from": "hier"})
    assert listed.json()["errors"] == {"date_from": [DATE_INVALID_TEXT]}


def test_the_arrests_of_an_operation_have_one_limit_everywhere(client_for, analyst, point):
    """New-user audit: the form refused more than 1,000 arrests, the API took 10,000. The
    service says the limit, for both."""
    client = client_for("police13_investigator")
    body = {"kind": "raid", "occurred_on": "2026-12-01", "outcome": "arrests", "arrests": 5000}
    refused = client.post(detail(point, "operations/"), body, content_type="application/json")
    assert refused.status_code == 400
    assert "arrests" in refused.json()["errors"]
    with pytest.raises(ValidationError) as error:
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(occurred_on=date(2026, 12, 1), arrests=1001),
        )
    assert error.value.message_dict["arrests"] == [
        "Indiquez un nombre de personnes interpellées entre 0 et 1000."
    ]
    assert not Operation.objects.exists()
    body["arrests"] = 1000
    recorded = client.post(detail(point, "operations/"), body, content_type="application/json")
    assert recorded.status_code == 201, recorded.content


def test_operations_filter_by_outcome_and_service(client_for, analyst, point, persona):
    """New-user audit: `?outcome=` and `?service=` were « Paramètre inconnu »."""
    police = persona("police13_investigator").memberships.get().organisation
    for outcome, service in (("arrests", police.pk), ("seizure", None), ("arrests", None)):
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(
                occurred_on=date(2026, 12, 1),
                outcome=outcome,
                arrests=2 if outcome == "arrests" else 0,
                service_id=service,
            ),
        )
    client = client_for("cross13_analyst")

    def listed(**query):
        response = client.get("/api/v1/operations/", query)
        assert response.status_code == 200, response.content
        return [(row["outcome"], row["service_id"]) for row in response.json()["results"]]

    assert sorted(listed(outcome="arrests")) == sorted(
        [("arrests", police.pk), ("arrests", analyst.memberships.get().organisation.pk)]
    )
    assert listed(service=police.pk) == [("arrests", police.pk)]
    assert listed(outcome="seizure", service=police.pk) == []
    refused = client.get("/api/v1/operations/", {"outcome": "nothing"})
    assert refused.status_code == 400 and "outcome" in refused.json()["errors"]


def test_operations_list_filters_and_audits(client_for, analyst, point):
    services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date(2026, 3, 1)),
    )
    services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="search", occurred_on=date(2026, 4, 1)),
    )
    client = client_for("cross13_analyst")
    every = client.get("/api/v1/operations/").json()
    assert [row["kind"] for row in every["results"]] == ["search", "raid"]
    raids = client.get("/api/v1/operations/", {"kind": "raid"}).json()
    assert [row["occurred_on"] for row in raids["results"]] == ["2026-03-01"]
    later = client.get("/api/v1/operations/", {"date_from": "2026-03-15"}).json()
    assert later["count"] == 1
    assert client.get("/api/v1/operations/", {"departement": "93"}).json()["count"] == 0
    assert client.get("/api/v1/operations/", {"date_from": "hier"}).status_code == 400
    assert client.get("/api/v1/operations/", {"departement": "13"}).json()["count"] == 2
    # Read as the other lists read them (an empty list would read as « no operation »): a
    # period that ends before it starts, a département that does not exist, an unknown kind.
    for query, field, words in (
        ({"date_from": "2026-12-01", "date_to": "2026-01-01"}, "date_to", "précède son début"),
        ({"departement": "99"}, "departement", "Département inconnu (ex. : 13, 2A, 974)."),
        ({"kind": "zzz"}, "kind", "valeurs acceptées : raid"),
        ({"cancelled": "oui"}, "cancelled", "true (les annulées)"),
    ):
        refused = client.get("/api/v1/operations/", query)
        assert refused.status_code == 400, query
        assert words in " ".join(refused.json()["errors"][field]), refused.json()
    # Corsica written as the pages take it.
    assert client.get("/api/v1/operations/", {"departement": "2a"}).status_code == 200
    assert client_for("cross93_analyst").get("/api/v1/operations/").json()["count"] == 0
    assert AuditEvent.objects.filter(
        action=AuditAction.LIST, object_type="dealpoints.operation", details__filters__kind="raid"
    ).exists()


def test_api_export_is_audited(client_for, analyst, point):
    client = client_for("cross13_analyst")
    response = client.get("/api/v1/dealpoints/export/", {"format": "geojson"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response.json()["features"][0]["properties"]["reference"] == point.reference
    assert client.get("/api/v1/dealpoints/export/", {"format": "pdf"}).status_code == 400
    assert AuditEvent.objects.filter(
        action=AuditAction.EXPORT, details__format="geojson", details__count=1
    ).exists()


def test_schema_documents_the_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    assert paths[LIST]["get"]["operationId"] == "dealpoints_list"
    assert {p["name"] for p in paths[LIST]["get"]["parameters"]} >= {"status", "limit"}
    assert set(paths["/api/v1/dealpoints/{id}/"]) >= {"get", "patch"}
    assert "text/csv" in paths["/api/v1/dealpoints/export/"]["get"]["responses"]["200"]["content"]


def test_query_strings_are_checked_strictly(client_for, point):
    client = client_for("cross13_analyst")
    unknown = client.get(LIST, {"colour": "red"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == {"colour": ["Paramètre inconnu."]}
    assert client.get(LIST, {"offset": ""}).status_code == 400
    assert client.get(LIST, {"qpv": "maybe"}).status_code == 400
    assert client.get(LIST, {"qpv": "false"}).status_code == 200
    assert client.get(f"{LIST}abc/").status_code == 404
    assert client.get(f"{LIST}abc/").json()["code"] == "not_found"
    assert client.get(f"{LIST}99999999999999999999/").status_code == 404


@pytest.mark.parametrize("segment", ["³²", "abc", "99999999999", "-1"])
def test_an_implausible_id_answers_a_json_404(client_for, segment):
    """Found by schemathesis: "³²".isdigit() is true but int() refuses it."""
    client = client_for("cross13_analyst")
    for path in (f"/api/v1/dealpoints/{segment}/", f"/api/v1/dealpoints/1/reports/{segment}/"):
        response = client.delete(path) if "reports" in path else client.get(path)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("code", ["\x0b8ß", "1", "ABC", " 13"])
def test_operations_refuse_a_malformed_departement(client_for, code):
    response = client_for("cross13_analyst").get("/api/v1/operations/", {"departement": code})
    assert response.status_code == 400
    assert "departement" in response.json()["errors"]


def test_an_api_address_without_its_slash_keeps_the_method(client_for, point):
    """POST /api/v1/dealpoints (no slash) answered 301: an HTTP client followed it with a GET
    and read the list, 200, as if the point were created (partner-developer audit). 308 keeps
    the method and the body; the pages keep Django's redirect."""
    client = client_for("cross13_analyst")
    before = DealPoint.objects.count()
    sent = client.post(
        "/api/v1/dealpoints",
        {"latitude": 43.35, "longitude": 5.37},
        content_type="application/json",
    )
    assert sent.status_code == 308 and sent["Location"] == "/api/v1/dealpoints/"
    assert DealPoint.objects.count() == before
    patched = client.patch(
        f"/api/v1/dealpoints/{point.pk}?x=1", {"name": "x"}, content_type="application/json"
    )
    assert patched.status_code == 308
    assert patched["Location"] == f"/api/v1/dealpoints/{point.pk}/?x=1"
    assert client.get("/points-de-deal").status_code == 301


def test_a_patch_stores_each_value_of_a_list_once(client_for, point):
    """["cannabis", "cannabis"] was stored as sent: a change of nothing in the history, and a
    new edit version that refused the other clients (partner-developer audit)."""
    client = client_for("cross13_analyst")
    url = detail(point)
    client.patch(url, {"products": ["cannabis"]}, content_type="application/json")
    version = client.get(url).json()["version"]
    events = point.events.count()
    again = client.patch(
        url, {"products": ["cannabis", "cannabis"]}, content_type="application/json"
    )
    assert again.status_code == 200, again.json()
    assert again.json()["products"] == ["cannabis"]
    assert again.json()["version"] == version and point.events.count() == events


def test_a_creation_refuses_what_only_a_modification_takes(client_for):
    """`note` and `version` were accepted on creation and dropped (the note never reached the
    history), against « refusé, jamais ignoré » (partner-developer audit)."""
    client = client_for("cross13_analyst")
    for extra, words in (({"note": "x"}, "une note se joint"), ({"version": 3}, "elle ne sert")):
        refused = client.post(
            LIST,
            {"latitude": 43.35, "longitude": 5.37, **extra},
            content_type="application/json",
        )
        assert refused.status_code == 400
        (name,) = extra
        assert words in refused.json()["errors"][name][0]
    assert not DealPoint.objects.exists()


def test_a_refusal_of_the_whole_request_says_why_in_its_detail(client_for, persona, point):
    """« Les données envoyées sont invalides. », the reason hidden under `errors.detail`; and
    a JSON body `null` answered REST framework's English « No data provided »
    (partner-developer audit)."""
    client = client_for("cross13_analyst")
    refused = client.post(f"{detail(point)}unmerge/", {}, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Ce point n'est fusionné dans aucun autre."
    empty = client.post(LIST, "null", content_type="application/json")
    assert empty.status_code == 400
    assert empty.json()["detail"] == (
        "Aucune donnée : le corps de la requête doit être un objet JSON, pas null."
    )
    assert empty.json()["errors"] == {
        "non_field_errors": [
            "Aucune donnée : le corps de la requête doit être un objet JSON, pas null."
        ]
    }


def test_a_role_refused_a_function_is_told_so(client_for, point):
    """A police investigator creating a point read « Non trouvé. », as for a wrong address
    (partner-developer audit); a point it may not see still answers a bare 404."""
    police = client_for("police13_investigator")
    refused = police.post(
        LIST, {"latitude": 43.35, "longitude": 5.37}, content_type="application/json"
    )
    assert refused.status_code == 404
    assert refused.json()["detail"] == "Votre rôle ne donne pas accès à cette fonction."
    hidden = client_for("cross93_analyst").get(detail(point))
    assert hidden.status_code == 404 and "rôle" not in hidden.json()["detail"]
    # Attaching a report: the role is refused before the body is read (a new user's review:
    # it was told « Aucun signalement visible ne porte cette référence. »), for a reference
    # that names a report or not.
    for body in ({"report": "SIG-13-000001"}, {"report": ""}):
        attach = police.post(f"{detail(point)}reports/", body, content_type="application/json")
        assert attach.status_code == 404
        assert attach.json()["detail"] == "Votre rôle ne donne pas accès à cette fonction."


# --- the API speaks like the pages (user audit, 2026-12-06) --------------------------------------

POINT_UNKNOWN = "Aucun point de deal visible ne porte cette référence."
POINT_UNCHANGEABLE = "Aucun point de deal que vous pouvez modifier ne porte cette référence."
REPORT_UNKNOWN = "Aucun signalement visible ne porte cette référence."


@pytest.mark.parametrize("path", [LIST, "/api/v1/map/dealpoints/"])
def test_a_wrong_status_is_said_with_the_other_wrong_filters(client_for, path):
    """`?status=x&product=y&departement=zz` named the product and the département; the status
    only once they were mended (API review): every wrong filter in one answer."""
    query = {"status": "x", "product": "y", "departement": "zz"}
    if "map" in path:
        query.update(bbox="5.2,43.2,5.6,43.4", zoom="12")
    refused = client_for("cross13_analyst").get(path, query)
    assert refused.status_code == 400
    assert {"status", "product", "departement"} <= set(refused.json()["errors"])
    # Alone, as before.
    query.update(product="cannabis", departement="13")
    alone = client_for("cross13_analyst").get(path, query)
    assert set(alone.json()["errors"]) == {"status"}


def test_a_reference_naming_nothing_is_told_as_on_the_page(client_for, analyst, point):
    """The API said « Point inconnu ou invisible pour vous. » (and « Signalement inconnu… »)
    where the page says « Aucun point de deal … ne porte cette référence. »: one wording per
    case, from one place (`selectors.dealpoint_named`, `report_named`)."""
    client = client_for("cross13_analyst")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    pages = {
        "successor": client.post(
            f"/points-de-deal/{point.pk}/statut/",
            {"status-status": "moved", "status-successor": "PD-13-9999"},
        ),
        "target": client.post(
            f"/points-de-deal/{point.pk}/fusionner/", {"merge-target": "PD-13-9999"}
        ),
        "report": client.post(
            f"/points-de-deal/{point.pk}/rattacher/", {"attach-report": "SIG-13-999999"}
        ),
    }
    api = {
        "successor": client.post(
            detail(point, "status/"),
            {"status": "moved", "successor": "PD-13-9999"},
            content_type="application/json",
        ),
        "target": client.post(
            detail(point, "merge/"), {"target": "PD-13-9999"}, content_type="application/json"
        ),
        "report": client.post(
            detail(point, "reports/"), {"report": "SIG-13-999999"}, content_type="application/json"
        ),
    }
    expected = {"successor": POINT_UNKNOWN, "target": POINT_UNCHANGEABLE, "report": REPORT_UNKNOWN}
    for field, message in expected.items():
        assert pages[field].status_code == 400, field
        assert message in pages[field].content.decode().replace("&#x27;", "'"), field
        assert api[field].status_code == 400, field
        assert api[field].json()["errors"] == {field: [message]}
    # A reference of the other kind is said so, by its form alone (review: « PD-13-0001 »
    # typed where a report is asked read « Aucun signalement… »).
    crossed = {
        "report": client.post(
            detail(point, "reports/"), {"report": "pd-13-0001"}, content_type="application/json"
        ),
        "target": client.post(
            detail(point, "merge/"), {"target": "SIG-13-000001"}, content_type="application/json"
        ),
    }
    assert crossed["report"].json()["errors"] == {
        "report": [
            "« PD-13-0001 » est la référence d'un point de deal : indiquez celle d'un "
            "signalement (ex. SIG-13-000042)."
        ]
    }
    assert crossed["target"].json()["errors"] == {
        "target": [
            "« SIG-13-000001 » est la référence d'un signalement : indiquez celle d'un point "
            "de deal (ex. PD-13-0042)."
        ]
    }


def test_a_merge_into_a_point_one_may_only_read_is_refused_on_the_target(
    client_for, persona, point
):
    """The API looked the target up among the points the reader sees, and the service then
    refused one it may not change as a missing point (404 « Non trouvé. » for the whole
    request): as on the page, the target is one the reader may change, refused on its field."""
    national = services.dealpoint_create(
        actor=persona("cross93_analyst"),
        data=dealpoint_input(latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]),
        sharing=services.SharingInput(distribution="national"),
    )
    client = client_for("cross13_analyst")
    assert client.get(detail(national)).status_code == 200
    refused = client.post(
        detail(point, "merge/"), {"target": national.reference}, content_type="application/json"
    )
    assert refused.status_code == 400, refused.content
    assert refused.json()["errors"] == {"target": [POINT_UNCHANGEABLE]}
    point.refresh_from_db()
    assert point.merged_into_id is None


CANCEL_REASON = (
    "Dites pourquoi l'opération est annulée (saisie sur le mauvais point, opération qui n'a pas "
    "eu lieu…)."
)


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}])
def test_a_cancellation_without_a_reason_is_told_as_on_the_page(client_for, analyst, point, body):
    """« Ce champ est obligatoire. » or « Ce champ ne peut être vide. » where the page says why
    a reason is needed."""
    operation = services.operation_record(
        actor=analyst,
        dealpoint=point,
        data=services.OperationInput(kind="raid", occurred_on=date(2026, 11, 13)),
    )
    refused = client_for("cross13_analyst").post(
        f"/api/v1/operations/{operation.pk}/cancel/", body, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"reason": [CANCEL_REASON]}
    operation.refresh_from_db()
    assert operation.cancelled_at is None


STATUSES_ACCEPTED = (
    "Valeur inconnue (valeurs acceptées : reported (Signalé), confirmed (Confirmé), "
    "investigation (En cours d'enquête), dismantled (Démantelé), moved (Déplacé), resurgent "
    "(Résurgent))."
)


def test_an_unknown_choice_lists_the_values_accepted(client_for, analyst, point):
    """« « foo » n'est pas un choix valide. » named no accepted value: every choice of a body
    or a query (`core.api.choices_listed`) lists them, with their codes."""
    client = client_for("cross13_analyst")
    status = client.post(
        detail(point, "status/"), {"status": "foo"}, content_type="application/json"
    )
    assert status.status_code == 400
    assert status.json()["errors"] == {"status": [STATUSES_ACCEPTED]}
    operation = client.post(
        detail(point, "operations/"),
        {"kind": "foo", "occurred_on": "2026-11-13", "outcome": "none"},
        content_type="application/json",
    )
    assert operation.status_code == 400
    (said,) = operation.json()["errors"]["kind"]
    assert said.startswith("Valeur inconnue (valeurs acceptées : raid (") and "foo" not in said
    # A list's items, and a value whose code is its label, said once.
    products = client.patch(detail(point), {"products": ["sugar"]}, content_type="application/json")
    assert products.status_code == 400
    assert products.json()["errors"]["products"] == [
        "Valeur inconnue (valeurs acceptées : cannabis (Cannabis (résine, herbe)), cocaine "
        "(Cocaïne), crack (Crack), heroin (Héroïne), synthetic (Drogues de synthèse), other "
        "(Autre ou inconnu))."
    ]
    hours = client.patch(
        detail(point), {"opening_hours": ["sun:dawn"]}, content_type="application/json"
    )
    (said,) = hours.json()["errors"]["opening_hours"]
    assert "fri:evening, " in said and "(fri:evening)" not in said
    # A query's choice too.
    report = accepted_report(analyst=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    query = client.delete(detail(point, f"reports/{report.pk}/") + "?from_decision=maybe")
    assert query.status_code == 400
    assert query.json()["errors"]["from_decision"] == [
        "Valeur inconnue (valeurs acceptées : automatic (Rattaché automatiquement), proposed "
        "(Proposé à l'analyste), confirmed (Rattaché par un analyste), rejected (Écarté par un "
        "analyste), withdrawn (Proposition retirée (rattaché à un autre point)), merged (Passé "
        "au point de fusion))."
    ]


def test_a_report_not_accepted_is_refused_under_the_field_sent(client_for, point):
    """Attaching a report still to triage answered under `errors.reports`, while the client
    sent `report` (and the page showed it above the form, not at its field)."""
    waiting = submit().report
    client = client_for("cross13_analyst")
    refused = client.post(
        detail(point, "reports/"), {"report": waiting.reference}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == {
        "report": [f"Le signalement {waiting.reference} n'a pas été accepté au tri."]
    }
    page = client.post(
        f"/points-de-deal/{point.pk}/rattacher/", {"attach-report": waiting.reference}
    )
    assert page.status_code == 400
    assert page.context["attach_form"].errors["report"] == [
        f"Le signalement {waiting.reference} n'a pas été accepté au tri."
    ]
    assert not ReportLink.objects.filter(report=waiting).exists()


def test_a_link_decided_meanwhile_names_the_decision_in_french(client_for, analyst, point):
    """« (décision actuelle : rejected) »: the code, where the page says the decision."""
    report = accepted_report(analyst=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    client = client_for("cross13_analyst")
    tie = detail(point, f"reports/{report.pk}/")
    assert client.delete(tie + "?from_decision=confirmed").status_code == 204
    stale = client.delete(tie + "?from_decision=confirmed")
    assert stale.status_code == 409
    assert stale.json() == {
        "detail": "Ce rapprochement a déjà été traité : il est maintenant « Écarté par un "
        "analyste ». Rien n'a été enregistré : relisez les signalements du point, puis renvoyez.",
        "code": "already_decided",
    }


def test_moved_on_a_reported_point_is_refused_for_the_step_before_the_successor(
    client_for, analyst, point
):
    """The API asked a reported point's « moved » for a successor, then, given one, refused
    the step itself: the step is checked first, as the page's form does, whatever the
    successor sent."""
    other = dealpoint(actor=analyst, latitude=43.3460, longitude=5.3960)
    client = client_for("cross13_analyst")
    step = ["Un point « Signalé » ne peut pas passer à « Déplacé »."]
    for body in (
        {"status": "moved"},
        {"status": "moved", "successor": "PD-13-9999"},
        {"status": "moved", "successor": other.reference},
        {"status": "moved", "successor": other.reference, "from_status": "reported"},
    ):
        refused = client.post(detail(point, "status/"), body, content_type="application/json")
        assert refused.status_code == 400, body
        assert refused.json()["errors"] == {"status": step}, body
    point.refresh_from_db()
    assert point.status == DealPointStatus.REPORTED
    # A step the point may take from the status read, changed since: said as changed (409).
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    services.dealpoint_change_status(actor=analyst, dealpoint=point, status="dismantled")
    stale = client.post(
        detail(point, "status/"),
        {"status": "moved", "successor": other.reference, "from_status": "confirmed"},
        content_type="application/json",
    )
    assert stale.status_code == 409, stale.content


def test_detaching_a_report_already_detached_says_so_with_or_without_the_decision_read(
    client_for, analyst, point
):
    """Without `from_decision`, a report already detached answered 404 « Non trouvé. »; with
    it, the 409 that says what happened: the 409 in both cases."""
    report = accepted_report(analyst=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    client = client_for("cross13_analyst")
    tie = detail(point, f"reports/{report.pk}/")
    assert client.delete(tie).status_code == 204
    events = point.events.count()
    answers = [client.delete(tie), client.delete(tie + "?from_decision=confirmed")]
    for answer in answers:
        assert answer.status_code == 409, answer.content
        assert answer.json()["code"] == "already_decided"
        assert "« Écarté par un analyste »" in answer.json()["detail"]
    assert point.events.count() == events
    assert ReportLink.objects.get(report=report).decision == LinkDecision.REJECTED


def test_a_hidden_report_still_answers_as_an_absent_one_when_detached(client_for, analyst, point):
    """The explanatory 409 is told only of a report the reader sees: a report kept from it
    (here from the Ofast antenna, which may change the point), attached or already
    detached, answers exactly as a report that does not exist (need-to-know audit)."""
    from cartostup.reports.models import Report

    attached = accepted_report(analyst=analyst)
    detached = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    for report in (attached, detached):
        services.report_attach(actor=analyst, dealpoint=point, report=report)
    services.report_detach(actor=analyst, dealpoint=point, report=detached)
    Report.objects.filter(pk__in=[attached.pk, detached.pk]).update(distribution="organisation")
    antenna = client_for("antenna13_analyst")
    assert antenna.get(detail(point)).status_code == 200
    missing = max(attached.pk, detached.pk) + 1000
    answers = {}
    for report_pk in (attached.pk, detached.pk, missing):
        for query in ("", "?from_decision=confirmed", "?from_decision=rejected"):
            response = antenna.delete(detail(point, f"reports/{report_pk}/") + query)
            answers[(report_pk, query)] = (response.status_code, response.content)
    assert set(answers.values()) == {answers[(missing, "")]}, answers
    assert answers[(missing, "")][0] == 404
    assert ReportLink.objects.get(report=attached).decision == LinkDecision.CONFIRMED
