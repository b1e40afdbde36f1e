"""The map layers API (/api/v1/map/): what each persona receives, zoom → resolution, counts
against a bare GROUP BY, French 400s, one audit event per layer request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db.models import Count
from django.urls import reverse

from cartostup.access.services import building_create
from cartostup.core.models import AuditEvent
from cartostup.dealpoints import map_layers, services
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import accepted_report, dealpoint

pytestmark = pytest.mark.django_db

# Marseille 14e: five points within ~30 m (one res 9 cell), one of them on landlord_13h's
# building; Marseille 3e: two points (a cell under the minimum aggregate); Marseille 12e: one
# more, alone in its res 7 hexagon (so that the three points outside the cluster, in the res 5
# hexagon of all eight, are at least the minimum: the cluster may then be shown at res 7 and 9
# without telling by difference that fewer lie elsewhere); Saint-Denis: one.
CLUSTER = [(43.34520, 5.39490), (43.34535, 5.39505), (43.34510, 5.39480), (43.34525, 5.39470),
           (43.34540, 5.39495)]  # fmt: skip
SPARSE = [(43.31100, 5.38000), (43.31110, 5.38010)]
LONE = (43.33000, 5.42000)
SAINT_DENIS = (48.93600, 2.35700)
BUILDING = (43.34600, 5.39600)
MARSEILLE_BBOX = "5.30,43.28,5.45,43.38"
FRANCE_BBOX = "-5.5,41.0,10.0,51.5"


@dataclass
class MapWorld:
    points_13: list[DealPoint]
    point_93: DealPoint
    landlord_point: DealPoint
    building: Any


@pytest.fixture
def world(persona) -> MapWorld:
    return build_world(persona)


def build_world(persona) -> MapWorld:
    analyst = persona("cross13_analyst")
    building = building_create(
        actor=persona("landlord_13h"),
        name="Tour 7",
        address="7 allée des Pins, 13014 Marseille",
        latitude=BUILDING[0],
        longitude=BUILDING[1],
    )
    points = []
    for index, (latitude, longitude) in enumerate([*CLUSTER, *SPARSE, LONE]):
        points.append(
            dealpoint(
                actor=analyst,
                latitude=latitude,
                longitude=longitude,
                name=f"Point {index}",
                building_id=building.pk if index == 0 else None,
            )
        )
    point_93 = dealpoint(
        actor=persona("cross93_analyst"), latitude=SAINT_DENIS[0], longitude=SAINT_DENIS[1]
    )
    services.operation_record(
        actor=analyst,
        dealpoint=points[1],
        data=services.OperationInput(kind="raid", occurred_on=date.today()),
    )
    return MapWorld(points, point_93, points[0], building)


def _get(client, name: str, **params: Any):
    return client.get(reverse(name), params)


def _layer(client, name: str = "map-dealpoints", **params: Any) -> dict[str, Any]:
    response = _get(client, name, **params)
    assert response.status_code == 200, response.content
    return response.json()


def _references(collection: dict[str, Any]) -> set[str]:
    return {
        f["properties"]["reference"]
        for f in collection["features"]
        if "reference" in f["properties"]
    }


def _total(collection: dict[str, Any]) -> int:
    return sum(f["properties"].get("count", 1) for f in collection["features"])


def test_zoom_gives_the_resolution():
    assert [map_layers.resolution_for_zoom(z) for z in (0, 6, 7, 8, 10, 11, 13, 14, 19)] == [
        5, 5, 5, 7, 7, 9, 9, None, None
    ]  # fmt: skip
    # An aggregate-only role never gets points: res 9 at every street zoom.
    assert map_layers.resolution_for_zoom(16, coordinates=False) == 9


def test_analyst_counts_equal_a_bare_group_by(world, client_for):
    client = client_for("cross13_analyst")
    for zoom, column in ((6, "h3_r5"), (9, "h3_r7"), (12, "h3_r9")):
        collection = _layer(client, bbox=FRANCE_BBOX, zoom=zoom)
        assert collection["meta"]["resolution"] == int(column[-1])
        assert collection["meta"]["representation"] == "hexagons"
        received = {
            f["properties"]["cell"]: f["properties"]["count"] for f in collection["features"]
        }
        floor = dict(
            DealPoint.objects.filter(departement__code="13")
            .values(column)
            .annotate(n=Count("pk"))
            .values_list(column, "n")
        )
        assert received == floor
        assert all(f["geometry"]["type"] == "Polygon" for f in collection["features"])
    # The analyst of the 13 never counts the point of the 93.
    assert _total(_layer(client, bbox=FRANCE_BBOX, zoom=6)) == 8


def test_hexagons_count_per_status(world, client_for, persona):
    services.dealpoint_change_status(
        actor=persona("cross13_analyst"), dealpoint=world.points_13[2], status="confirmed"
    )
    collection = _layer(client_for("cross13_analyst"), bbox=MARSEILLE_BBOX, zoom=12)
    cluster = next(f for f in collection["features"] if f["properties"]["count"] == 5)
    by_status = cluster["properties"]["by_status"]
    assert sum(by_status.values()) == 5
    assert by_status == {"reported": 4, "confirmed": 1}


def test_analyst_street_zoom_receives_points(world, client_for):
    collection = _layer(client_for("cross13_analyst"), bbox=MARSEILLE_BBOX, zoom=16)
    assert collection["meta"]["representation"] == "points"
    assert _references(collection) == {p.reference for p in world.points_13}
    feature = next(
        f for f in collection["features"] if f["properties"]["id"] == world.points_13[3].pk
    )
    assert feature["geometry"] == {"type": "Point", "coordinates": [5.3947, 43.34525]}


def test_analyst_of_another_departement_sees_only_its_own(world, client_for):
    client = client_for("cross93_analyst")
    assert _references(_layer(client, bbox=FRANCE_BBOX, zoom=16)) == {world.point_93.reference}
    assert _layer(client, bbox=MARSEILLE_BBOX, zoom=12)["features"] == []


def test_investigator_of_the_territory_sees_points(world, client_for):
    collection = _layer(client_for("police13_investigator"), bbox=MARSEILLE_BBOX, zoom=16)
    assert _references(collection) == {p.reference for p in world.points_13}


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_roles_never_receive_a_point(world, client_for, username):
    client = client_for(username)
    for zoom in (6, 12, 16, 19):
        response = _get(client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=zoom)
        assert response.status_code == 200
        text = response.content.decode()
        collection = json.loads(text)
        assert collection["meta"]["coordinates"] is False
        assert collection["meta"]["min_count"] == 3
        # No point, no reference, no name, no position of a point anywhere in the answer.
        assert "PD-" not in text and "reference" not in text and "Point 1" not in text
        assert "5.3949" not in text and "43.3452" not in text
        assert all(f["properties"]["kind"] == "hexagon" for f in collection["features"])
        assert all(f["properties"]["count"] >= 3 for f in collection["features"])
        resolution = collection["meta"]["resolution"]
        assert resolution == (map_layers.resolution_for_zoom(zoom) or 9)
        # Res 5 holds all eight points of Marseille in one hexagon; at res 7 and 9 the cluster
        # (5) is shown, the two points of the 3e and the one of the 12e are hidden (three
        # points outside it: the res 5 count, differenced, tells no fewer).
        assert _total(collection) == (8 if resolution == 5 else 5)


def test_aggregate_roles_may_not_search_references(world, client_for):
    response = _get(
        client_for("prefecture_13"), "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, q="PD-13"
    )
    assert response.status_code == 400
    # Refused like any filter finer than status and département (one message, the policy's).
    assert response.json()["errors"] == {"q": ["Ce filtre n'est pas ouvert aux comptes agrégés."]}
    # Analysts may.
    assert (
        _layer(client_for("cross13_analyst"), bbox=MARSEILLE_BBOX, zoom=16, q="PD-13-0002")[
            "features"
        ][0]["properties"]["reference"]
        == "PD-13-0002"
    )


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_roles_filter_counts_on_status_only(world, client_for, persona, username):
    """A product, channel or period filter, differenced with a hexagon's whole count, would
    tell what one point sells or when it was last active: counts refuse those filters (400,
    never the whole count read as filtered: "24 crack points"); the status filter applies
    (the hexagons show counts per status anyway)."""
    DealPoint.objects.filter(pk=world.points_13[1].pk).update(products=["crack"])
    for point in world.points_13[2:5]:
        services.dealpoint_change_status(
            actor=persona("cross13_analyst"), dealpoint=point, status="confirmed"
        )
    client = client_for(username)
    whole = _layer(client, bbox=MARSEILLE_BBOX, zoom=12)
    assert _total(whole) == 5
    before = AuditEvent.objects.count()
    for finer in (
        {"product": "cannabis"},
        {"product": "crack"},
        {"channel": "delivery"},
        {"active_from": "2000-01-01", "active_to": "2000-01-31"},
        {"active_from": "2000-01-01"},
        {"precision": "stairwell"},
        {"qpv": "true"},
        {"commune": "13214"},
        {"product": "crack", "status": "confirmed"},
    ):
        response = _get(client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, **finer)
        assert response.status_code == 400, finer
        errors = response.json()["errors"]
        refused = set(finer) - {"status"}
        assert set(errors) == refused, finer
        for name in refused:
            assert errors[name] == ["Ce filtre n'est pas ouvert aux comptes agrégés."]
    assert AuditEvent.objects.count() == before  # nothing was counted
    # Three confirmed of five: shown, they would leave two points of other statuses to be
    # read by difference (5 - 3), so the hexagon tells no status, filtered or not.
    assert _layer(client, bbox=MARSEILLE_BBOX, zoom=12, status="confirmed")["features"] == []
    assert [f["properties"]["by_status"] for f in whole["features"]] == [{}]
    for point in world.points_13[:2]:
        services.dealpoint_change_status(
            actor=persona("cross13_analyst"), dealpoint=point, status="confirmed"
        )
    confirmed = _layer(client, bbox=MARSEILLE_BBOX, zoom=12, status="confirmed")
    assert _total(confirmed) == 5
    assert _total(_layer(client, bbox=MARSEILLE_BBOX, zoom=12, departement="13")) == 5
    # One status at a time: two statuses together, differenced with one, would tell the
    # others' status.
    both = _get(
        client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, status=["confirmed", "reported"]
    )
    assert both.status_code == 400
    assert "un seul statut" in both.json()["errors"]["status"][0]
    # An analyst's counts do follow the product filter.
    analyst = client_for("cross13_analyst")
    assert _total(_layer(analyst, bbox=MARSEILLE_BBOX, zoom=12, product="cannabis")) == 7
    assert _total(_layer(analyst, bbox=MARSEILLE_BBOX, zoom=12, product="crack")) == 1


@pytest.mark.parametrize("username", ["prefecture_13", "cross13_analyst", "landlord_13h"])
def test_unknown_parameters_are_refused(world, client_for, username):
    """As every other layer does: an unknown parameter is not silently ignored."""
    response = _get(
        client_for(username), "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, foo="1", sort="x"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "foo": ["Paramètre inconnu."],
        "sort": ["Paramètre inconnu."],
    }
    proposals = _get(
        client_for("cross13_analyst"),
        "map-proposals",
        bbox=MARSEILLE_BBOX,
        zoom=12,
        product="crack",
    )
    assert proposals.status_code == 400
    assert proposals.json()["errors"] == {"product": ["Paramètre inconnu."]}
    # Sent twice, one that takes one value: not the last one silently (two viewports).
    twice = _get(client_for(username), "map-dealpoints", bbox=[MARSEILLE_BBOX, "0,0,1,1"], zoom=12)
    assert twice.status_code == 400
    assert twice.json()["errors"] == {"bbox": ["Paramètre répété : une seule valeur est attendue."]}


def test_a_reversed_period_is_refused_like_the_other_layers(world, client_for):
    """Not an empty map that reads as "no activity": the message the operations and
    hotspots layers give, from the same check."""
    client = client_for("cross13_analyst")
    response = _get(
        client,
        "map-dealpoints",
        bbox=MARSEILLE_BBOX,
        zoom=12,
        active_from="2026-12-31",
        active_to="2026-01-01",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"active_to": ["La fin de la période précède son début."]}
    operations = _get(
        client,
        "map-operations",
        bbox=MARSEILLE_BBOX,
        zoom=12,
        period_from="2026-12-31",
        period_to="2026-01-01",
    )
    assert operations.json()["errors"] == {"period_to": response.json()["errors"]["active_to"]}
    # One day is a period.
    assert (
        _get(
            client,
            "map-dealpoints",
            bbox=MARSEILLE_BBOX,
            zoom=12,
            active_from="2026-01-01",
            active_to="2026-01-01",
        ).status_code
        == 200
    )


def test_a_period_reads_french_dates_and_refuses_others_in_french(world, client_for):
    """The map's hand-made link /carte/?active_from=01/11/2026 reached the layers as written:
    REST framework refused it, naming the format in English (« YYYY-MM-DD »), and the map
    showed nothing. Every layer's period reads JJ/MM/AAAA too, and says so in French."""
    client = client_for("cross13_analyst")
    french = _get(client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, active_from="01/11/2026")
    iso = _get(client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, active_from="2026-11-01")
    assert french.status_code == 200, french.content
    assert french.json()["features"] == iso.json()["features"]
    message = ["Date invalide : indiquez une date au format JJ/MM/AAAA (ou AAAA-MM-JJ)."]
    refused = _get(client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12, active_to="31/02/2026")
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"active_to": message}
    for name, field in (("map-operations", "period_from"), ("map-reports", "received_from")):
        answer = _get(client, name, bbox=MARSEILLE_BBOX, zoom=12, **{field: "01/11/2026"})
        assert answer.status_code == 200, answer.content
        answer = _get(client, name, bbox=MARSEILLE_BBOX, zoom=12, **{field: "2026-13-01"})
        assert answer.json()["errors"] == {field: message}
    hotspots = _get(client, "map-hotspots", departement="13", period_from="1/11/2026x")
    assert hotspots.json()["errors"] == {"period_from": message}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"qpv": "zzz"}, "Valeur inconnue (valeurs acceptées : true (Oui), false (Non))."),
        ({"departement": "99"}, "Département inconnu (ex. : 13, 2A, 974)."),
        ({"product": "zzz"}, "Valeur inconnue (valeurs acceptées : cannabis (Cannabis"),
        ({"channel": "zzz"}, "Valeur inconnue (valeurs acceptées : fixed (Point fixe),"),
    ],
)
def test_an_invalid_filter_is_refused_in_the_words_of_the_list(world, client_for, params, message):
    """The layer shares the list's filter set: `?qpv=zzz` is no "either", `?departement=99`
    no empty map."""
    (name,) = params
    response = _get(
        client_for("cross13_analyst"), "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=16, **params
    )
    assert response.status_code == 400
    (said,) = response.json()["errors"][name]
    assert said.startswith(message), said
    known = _layer(client_for("cross13_analyst"), bbox=MARSEILLE_BBOX, zoom=16, departement="13")
    assert _references(known)


def test_aggregate_roles_count_only_their_territory(world, client_for):
    assert _layer(client_for("prefecture_93"), bbox=MARSEILLE_BBOX, zoom=12)["features"] == []


def test_landlord_receives_only_its_building_reduced_and_at_the_building(world, client_for):
    for zoom in (6, 12, 16):
        collection = _layer(client_for("landlord_13h"), bbox=FRANCE_BBOX, zoom=zoom)
        assert [f["properties"]["code"] for f in collection["features"]] == [
            world.landlord_point.partner_code
        ]
        feature = collection["features"][0]
        assert feature["geometry"]["coordinates"] == [BUILDING[1], BUILDING[0]]
        # Named by its partner code: neither its id nor its reference (sequences).
        assert set(feature["properties"]) == {
            "kind", "code", "status", "status_label", "last_activity_week", "building", "url"
        }  # fmt: skip
        assert feature["properties"]["building"] == "Tour 7"
        # No report yet: null, as the list and the exports say it (it was "", API review).
        assert world.landlord_point.last_reported_at is None
        assert feature["properties"]["last_activity_week"] is None
        # Its page by the partner code, the landlord's own page of the point.
        url = feature["properties"]["url"]
        assert url == f"/points-de-deal/code/{world.landlord_point.partner_code}/"
        assert client_for("landlord_13h").get(url).status_code == 200
    # A street view around the building, and one beside it.
    around = _layer(client_for("landlord_13h"), bbox="5.39,43.34,5.40,43.35", zoom=16)
    assert [f["properties"]["code"] for f in around["features"]] == [
        world.landlord_point.partner_code
    ]
    beside = _layer(client_for("landlord_13h"), bbox="5.37,43.30,5.39,43.32", zoom=16)
    assert beside["features"] == []
    assert _layer(client_for("landlord_13l"), bbox=FRANCE_BBOX, zoom=16)["features"] == []


def test_landlord_filters_only_on_what_it_receives(world, client_for):
    """A filter on products or channel would tell a landlord what is sold at its buildings:
    it is refused for a reduced view, whatever its value (not dropped: the points would read
    as filtered); its status filter applies."""
    client = client_for("landlord_13h")
    before = AuditEvent.objects.count()
    for product in ("cannabis", "cocaine", "heroin"):
        response = _get(
            client, "map-dealpoints", bbox=FRANCE_BBOX, zoom=16, product=product, channel="drive"
        )
        assert response.status_code == 400
        assert response.json()["errors"] == {
            "product": ["Ce filtre n'est pas ouvert à votre vue des points de deal."],
            "channel": ["Ce filtre n'est pas ouvert à votre vue des points de deal."],
        }
    for other in ({"active_from": "2026-01-01"}, {"q": "PD-13"}, {"departement": "13"}):
        response = _get(client, "map-dealpoints", bbox=FRANCE_BBOX, zoom=16, **other)
        assert response.status_code == 400, other
        assert set(response.json()["errors"]) == set(other)
    assert AuditEvent.objects.count() == before
    collection = _layer(client, bbox=FRANCE_BBOX, zoom=16, status="reported")
    assert [f["properties"]["code"] for f in collection["features"]] == [
        world.landlord_point.partner_code
    ]


@pytest.mark.parametrize("username", ["caller_operator", "auditor", "admin"])
def test_roles_without_the_map_get_404(world, client_for, username):
    client = client_for(username)
    for name in ("map-dealpoints", "map-reports", "map-operations", "map-proposals"):
        assert _get(client, name, bbox=MARSEILLE_BBOX, zoom=12).status_code == 404
    assert _get(client, "map-hotspots", departement="13").status_code == 404


def test_anonymous_gets_401(client, world):
    # 401 with the API token's challenge (403 before personal API tokens existed).
    response = _get(client, "map-dealpoints", bbox=MARSEILLE_BBOX, zoom=12)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"bbox": "5.3,43.2", "zoom": 12}, "bbox", "quatre nombres"),
        ({"bbox": "a,b,c,d", "zoom": 12}, "bbox", "quatre nombres"),
        ({"bbox": "5.5,43.2,5.3,43.4", "zoom": 12}, "bbox", "emprise est vide"),
        ({"bbox": "5.3,-95,5.5,43.4", "zoom": 12}, "bbox", "latitudes"),
        ({"bbox": "nan,43.2,5.5,43.4", "zoom": 12}, "bbox", "finis"),
        ({"bbox": MARSEILLE_BBOX, "zoom": 25}, "zoom", "entre 0 et 19"),
        ({"bbox": MARSEILLE_BBOX, "zoom": "loin"}, "zoom", "nombre entier"),
        ({"bbox": MARSEILLE_BBOX}, "zoom", "Indiquez le niveau de zoom"),
        ({"bbox": MARSEILLE_BBOX, "zoom": 12, "status": "bogus"}, "status", "Valeur inconnue"),
        ({"bbox": MARSEILLE_BBOX, "zoom": 12, "active_from": "hier"}, "active_from", ""),
    ],
)
def test_bad_parameters_answer_400_in_french(world, client_for, params, field, message):
    before = AuditEvent.objects.count()
    response = _get(client_for("cross13_analyst"), "map-dealpoints", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Les données envoyées sont invalides."
    assert message in " ".join(body["errors"][field])
    assert AuditEvent.objects.count() == before


def test_each_layer_request_is_audited_once(world, client_for, persona):
    client = client_for("cross13_analyst")
    before = AuditEvent.objects.count()
    _layer(client, bbox=MARSEILLE_BBOX, zoom=12, status="reported")
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("pk")
    assert event.action == "list"
    assert event.object_type == "dealpoints.dealpoint"
    assert event.actor_id == persona("cross13_analyst").pk
    assert event.details["layer"] == "dealpoints"
    assert event.details["zoom"] == 12
    assert event.details["resolution"] == 9
    assert [float(v) for v in event.details["bbox"]] == [5.3, 43.28, 5.45, 43.38]
    assert event.details["filters"] == {"status": "reported"}
    assert event.details["count"] == 8


def test_reports_layer_for_analysts_only(world, client_for, persona):
    analyst = persona("cross13_analyst")
    reports = [
        accepted_report(analyst=analyst, latitude=lat, longitude=lng) for lat, lng in CLUSTER
    ]
    collection = _layer(client_for("cross13_analyst"), "map-reports", bbox=MARSEILLE_BBOX, zoom=16)
    assert _references(collection) == {r.reference for r in reports}
    hexagons = _layer(client_for("cross13_analyst"), "map-reports", bbox=FRANCE_BBOX, zoom=6)
    assert _total(hexagons) == 5
    assert hexagons["features"][0]["properties"]["by_status"] == {"accepted": 5}
    filtered = _layer(
        client_for("cross13_analyst"), "map-reports", bbox=FRANCE_BBOX, zoom=6, status="new"
    )
    assert filtered["features"] == []
    assert (
        _layer(client_for("cross93_analyst"), "map-reports", bbox=FRANCE_BBOX, zoom=16)["features"]
        == []
    )
    for username in ("police13_investigator", "prefecture_13", "landlord_13h"):
        response = _get(client_for(username), "map-reports", bbox=MARSEILLE_BBOX, zoom=16)
        assert response.status_code == 404
    event = AuditEvent.objects.filter(object_type="reports.report").latest("pk")
    assert event.details["layer"] == "reports"


def test_operations_layer(world, client_for, persona):
    collection = _layer(
        client_for("cross13_analyst"), "map-operations", bbox=MARSEILLE_BBOX, zoom=16
    )
    [feature] = collection["features"]
    assert feature["properties"]["dealpoint_reference"] == world.points_13[1].reference
    assert feature["properties"]["operation_kind"] == "raid"
    # One raid: under the minimum aggregate for a prefecture, so nothing at all.
    prefecture = _layer(client_for("prefecture_13"), "map-operations", bbox=MARSEILLE_BBOX, zoom=16)
    assert prefecture["features"] == [] and prefecture["meta"]["coordinates"] is False
    assert (
        _get(client_for("landlord_13h"), "map-operations", bbox=MARSEILLE_BBOX, zoom=16).status_code
        == 404
    )
    # Cancelled (recorded by mistake): no longer on the map, though still on the record.
    services.operation_cancel(
        actor=persona("cross13_analyst"),
        operation=world.points_13[1].operations.get(),
        reason="saisie sur le mauvais point",
    )
    collection = _layer(
        client_for("cross13_analyst"), "map-operations", bbox=MARSEILLE_BBOX, zoom=16
    )
    assert collection["features"] == [] and collection["meta"]["count"] == 0


def test_report_and_operation_points_name_the_pages_their_reader_may_open(
    world, client_for, persona
):
    """A report's popup did not lead to the report, an operation's not to its point: the
    layer now sends the page with each, and only to those who receive them one by one."""
    report = accepted_report(analyst=persona("cross13_analyst"), latitude=CLUSTER[0][0])
    client = client_for("cross13_analyst")
    [sent] = _layer(client, "map-reports", bbox=MARSEILLE_BBOX, zoom=16)["features"]
    assert sent["properties"]["url"] == f"/signalements/{report.pk}/"
    assert client.get(sent["properties"]["url"]).status_code == 200
    # Deal points too: the table under the map links each row to the point's page.
    for username in ("cross13_analyst", "police13_investigator"):
        points = _layer(client_for(username), bbox=MARSEILLE_BBOX, zoom=16)["features"]
        assert len(points) == len(world.points_13)
        for feature in points:
            assert feature["properties"]["url"] == f"/points-de-deal/{feature['properties']['id']}/"
        assert client_for(username).get(points[0]["properties"]["url"]).status_code == 200
    for username in ("cross13_analyst", "police13_investigator"):
        [operation] = _layer(client_for(username), "map-operations", bbox=MARSEILLE_BBOX, zoom=16)[
            "features"
        ]
        url = operation["properties"]["dealpoint_url"]
        assert url == f"/points-de-deal/{world.points_13[1].pk}/"
        assert client_for(username).get(url).status_code == 200
    # Hexagons (wide zooms, the counts-only roles) name no page.
    for username, zoom in (("cross13_analyst", 12), ("prefecture_13", 16)):
        for name in ("map-operations", "map-dealpoints"):
            for feature in _layer(client_for(username), name, bbox=MARSEILLE_BBOX, zoom=zoom)[
                "features"
            ]:
                assert not {"url", "dealpoint_url"} & set(feature["properties"])


def test_dates_are_local_days_not_utc_days(world, client_for, persona):
    """Half past midnight in Paris on 25 November is still the 24th in UTC: the layers sent
    the UTC day, one day before what the list and the point's page show."""
    from cartostup.dealpoints import flows
    from cartostup.dealpoints.models import Proposal
    from cartostup.reports.models import Report

    just_after_midnight = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 00:30 in Paris
    point = world.points_13[0]
    DealPoint.objects.filter(pk=point.pk).update(last_activity_at=just_after_midnight)
    report = accepted_report(analyst=persona("cross13_analyst"), latitude=43.3587, longitude=5.3949)
    (proposal,) = flows.reports_cluster()
    Report.objects.filter(pk=report.pk).update(received_at=just_after_midnight)
    Proposal.objects.filter(pk=proposal.pk).update(created_at=just_after_midnight)
    client = client_for("cross13_analyst")

    def sent(name: str, pk: int, key: str) -> str:
        features = _layer(client, name, bbox=MARSEILLE_BBOX, zoom=16)["features"]
        [feature] = [f for f in features if f["properties"]["id"] == pk]
        return feature["properties"][key]

    assert sent("map-dealpoints", point.pk, "last_activity") == "2026-11-25"
    assert sent("map-reports", report.pk, "received") == "2026-11-25"
    assert sent("map-proposals", proposal.pk, "created") == "2026-11-25"
    # The point's page says the same day.
    page = client.get(reverse("dealpoints:detail", args=[point.pk])).content.decode()
    assert "25/11/2026" in page and "24/11/2026" not in page


def test_proposals_layer_for_analysts(world, client_for, persona):
    """An open proposal is named by its commune and precision (its id tells the analyst
    nothing) and leads to the page that creates the point from it, and to its item in the
    queue."""
    from cartostup.dealpoints import flows

    client = client_for("cross13_analyst")
    assert _layer(client, "map-proposals", bbox=MARSEILLE_BBOX, zoom=16)["features"] == []
    accepted_report(analyst=persona("cross13_analyst"), latitude=43.3587, longitude=5.3949)
    (proposal,) = flows.reports_cluster()
    [feature] = _layer(client, "map-proposals", bbox=MARSEILLE_BBOX, zoom=16)["features"]
    properties = feature["properties"]
    assert properties["id"] == proposal.pk
    assert properties["place"] == proposal.commune.name and "Marseille" in properties["place"]
    assert properties["precision"] == proposal.precision
    assert properties["precision_label"] == proposal.get_precision_display()
    assert properties["accept_url"] == reverse("dealpoints:proposal_accept", args=[proposal.pk])
    assert properties["queue_url"] == (
        f"/rapprochements/?focus=proposal-{proposal.pk}#proposal-{proposal.pk}"
    )
    accept = client.get(properties["accept_url"])
    assert accept.status_code == 200
    assert "<h1>Créer un point de deal depuis une proposition</h1>" in accept.content.decode()
    queue = client.get(properties["queue_url"].split("#")[0]).content.decode()
    assert f'id="proposal-{proposal.pk}"' in queue
    response = _get(
        client_for("police13_investigator"), "map-proposals", bbox=MARSEILLE_BBOX, zoom=16
    )
    assert response.status_code == 404


def test_boundaries(world, client_for):
    client = client_for("cross13_analyst")
    communes = _layer(client, "map-boundaries", departement="13", kind="communes")
    names = {f["properties"]["name"] for f in communes["features"]}
    assert "Marseille 14e Arrondissement" in names or any("14e" in n for n in names)
    assert {f["properties"]["layer"] for f in communes["features"]} == {"commune"}
    outline = _layer(client, "map-boundaries", departement="13", kind="departement")
    assert len(outline["features"]) <= 1
    assert _get(client, "map-boundaries", departement="13", kind="pays").status_code == 400
    assert _get(client_for("prefecture_93"), "map-boundaries", departement="13").status_code == 404


@pytest.mark.parametrize(
    ("name", "option"),
    [
        ("map-reports", "received_from"),
        ("map-operations", "period_to"),
        ("map-dealpoints", "zoom"),
        ("map-proposals", "zoom"),
    ],
)
def test_a_layer_parameter_sent_empty_is_explained(world, client_for, name, option):
    client = client_for("cross13_analyst")
    params = {"bbox": MARSEILLE_BBOX, "zoom": "16", option: ""}
    response = _get(client, name, **params)
    assert response.status_code == 400
    assert response.json()["errors"][option] == ["Indiquez une valeur."]


@pytest.mark.parametrize("name", ["map-boundaries", "map-hotspots"])
def test_a_malformed_departement_is_explained_an_unknown_one_is_not_found(world, client_for, name):
    client = client_for("cross13_analyst")
    malformed = _get(client, name, departement="1;3")
    assert malformed.status_code == 400
    assert "Code de département invalide" in malformed.json()["errors"]["departement"][0]
    assert _get(client, name, departement="98").status_code == 404
    # A parameter sent empty is not taken for an absent one (found by schemathesis).
    option = {"map-boundaries": "kind", "map-hotspots": "counted"}[name]
    blank = _get(client, name, departement="13", **{option: ""})
    assert blank.status_code == 400 and blank.json()["errors"][option] == ["Indiquez une valeur."]
    assert _get(client, name, departement="13", zoom="9").status_code == 400


def test_merged_points_leave_the_map(world, client_for, persona):
    services.dealpoint_merge(
        actor=persona("cross13_analyst"), source=world.points_13[4], target=world.points_13[3]
    )
    collection = _layer(client_for("cross13_analyst"), bbox=MARSEILLE_BBOX, zoom=16)
    assert world.points_13[4].reference not in _references(collection)
    assert len(collection["features"]) == 7


def test_schema_documents_the_map_layers(client):
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    for path in ("dealpoints", "reports", "operations", "proposals", "hotspots", "boundaries"):
        assert f"/api/v1/map/{path}/" in paths


def test_hexagons_say_which_commune_they_cover(world, client_for):
    collection = _layer(client_for("cross13_analyst"), bbox=MARSEILLE_BBOX, zoom=12)
    hexagons = [f for f in collection["features"] if f["properties"]["kind"] == "hexagon"]
    assert hexagons
    assert all(f["properties"]["place"].startswith("Marseille") for f in hexagons)


def _places(collection: dict[str, Any]) -> dict[str, str]:
    return {
        f["properties"]["cell"]: f["properties"]["place"]
        for f in collection["features"]
        if f["properties"]["kind"] == "hexagon"
    }


def test_a_hexagon_is_named_where_its_points_are_not_at_its_centre(world, client_for):
    """The res 5 hexagon of Marseille's north has its centre in the 13e, its points in the
    14e (five) and the 3e (two): it was called « Marseille 13e »."""
    cell = "85396817fffffff"
    for username in ("cross13_analyst", "prefecture_13"):
        places = _places(_layer(client_for(username), bbox=FRANCE_BBOX, zoom=5))
        assert places[cell] == "Marseille 14e Arrondissement", username


def test_a_hexagon_is_named_inside_the_readers_territory(client_for, persona):
    """A prefecture of the 93 saw its only hexagon named after a commune of the Val-d'Oise
    (the hexagon's centre): it is named after the commune of its points."""
    for offset in (0.0, 0.0004, 0.0008):
        dealpoint(
            actor=persona("cross93_analyst"),
            latitude=SAINT_DENIS[0] + offset,
            longitude=SAINT_DENIS[1],
        )
    places = _places(_layer(client_for("prefecture_93"), bbox="-5,41,9,51", zoom=5))
    assert list(places.values()) == ["Saint-Denis"]


def test_an_aggregate_name_never_points_at_fewer_than_the_minimum(client_for, persona):
    """For a counts-only role a name must not tell where one point is: a place names a
    hexagon only if it holds at least the minimum count a hexagon needs to be shown; else the
    city of the arrondissements, else the département. Those who see the points get the
    commune holding the most of them."""
    analyst = persona("cross13_analyst")
    # One res 5 hexagon: two points in Marseille 14e, one in Plan-de-Cuques.
    for latitude, longitude in ((43.34520, 5.39490), (43.34535, 5.39505), (43.3470, 5.4630)):
        dealpoint(actor=analyst, latitude=latitude, longitude=longitude)
    cell = "85396817fffffff"
    counts_only = _places(_layer(client_for("prefecture_13"), bbox=FRANCE_BBOX, zoom=5))
    assert counts_only[cell] == "Bouches-du-Rhône"
    assert _places(_layer(client_for("cross13_analyst"), bbox=FRANCE_BBOX, zoom=5))[cell] == (
        "Marseille 14e Arrondissement"
    )
    # A third arrondissement point: the arrondissements' city now holds three.
    dealpoint(actor=analyst, latitude=43.31100, longitude=5.38000)  # Marseille 3e
    counts_only = _places(_layer(client_for("prefecture_13"), bbox=FRANCE_BBOX, zoom=5))
    assert counts_only[cell] == "Marseille"


def test_the_maps_link_to_an_old_proposal_lands_on_it_in_the_queue(
    client_for, persona, monkeypatch
):
    """The queue shows the newest items of each section only: the map's link to an older
    proposal landed at the top of the page. The proposal it names is shown too."""
    from cartostup.dealpoints import flows, matching_selectors

    analyst = persona("cross13_analyst")
    for latitude in (43.3587, 43.2900):
        accepted_report(analyst=analyst, latitude=latitude, longitude=5.3949)
    proposals = flows.reports_cluster()
    assert len(proposals) == 2
    newest = matching_selectors.matching_queue(actor=analyst, limit=1).proposals
    [shown] = [row.proposal.pk for row in newest]
    [older] = [p.pk for p in proposals if p.pk != shown]
    with_link = matching_selectors.matching_queue(actor=analyst, limit=1, proposal_id=older)
    assert [row.proposal.pk for row in with_link.proposals] == [shown, older]
    # Asked again with the one already shown, nothing is added; another's (or none) neither.
    again = matching_selectors.matching_queue(actor=analyst, limit=1, proposal_id=shown)
    assert [row.proposal.pk for row in again.proposals] == [shown]
    other = matching_selectors.matching_queue(
        actor=persona("cross93_analyst"), limit=1, proposal_id=older
    )
    assert other.proposals == []
    # The page asks for the proposal its address names (the map's link), and no other.
    asked: list[int | None] = []
    original = matching_selectors.matching_queue

    def spy(**kwargs):
        asked.append(kwargs.get("proposal_id"))
        return original(**kwargs)

    monkeypatch.setattr(matching_selectors, "matching_queue", spy)
    client = client_for("cross13_analyst")
    page = client.get(f"/rapprochements/?focus=proposal-{older}")
    client.get("/rapprochements/?focus=alert-12")
    client.get("/rapprochements/?focus=proposal-x")
    assert f'id="proposal-{older}"' in page.content.decode()
    assert asked == [older, None, None]
