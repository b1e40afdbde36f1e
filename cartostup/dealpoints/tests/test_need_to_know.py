"""Adversarial checks of need-to-know on the map and the deal-point pages (design §4): what an
aggregate-only role (prefecture, prosecutor's office), a landlord and an analyst of another
département can learn by combining the parameters they are allowed to send."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

import h3
import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from openpyxl import load_workbook

from cartostup.access import policy
from cartostup.access.choices import Distribution, Marking
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.core.personas import PERSONA_NAMES
from cartostup.dealpoints import map_layers, services
from cartostup.dealpoints.choices import DealPointStatus
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.test_map_api import CLUSTER, MARSEILLE_BBOX, build_world
from cartostup.territories.models import Commune

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(persona):
    return build_world(persona)


def _layer(client, name: str = "map-dealpoints", **params: Any) -> dict[str, Any]:
    response = client.get(reverse(name), params)
    assert response.status_code == 200, response.content
    return response.json()


def _counts(collection: dict[str, Any]) -> dict[str, int]:
    return {f["properties"]["cell"]: f["properties"]["count"] for f in collection["features"]}


# --- aggregate-only roles ------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_counts_do_not_follow_the_edges_of_the_viewport(world, client_for, username):
    """Moving one edge of the viewport across a hexagon must not change its count: otherwise
    a count dropping from 5 to 4 as the west edge passes 5.39475 gives a point's longitude
    (and the same with the south edge its latitude), to any precision, by bisection."""
    client = client_for(username)
    cluster_cell = world.points_13[0].h3_r9
    whole = _counts(_layer(client, bbox=MARSEILLE_BBOX, zoom=16))
    assert whole[cluster_cell] == 5
    longitudes = sorted(lng for _lat, lng in CLUSTER)
    latitudes = sorted(lat for lat, _lng in CLUSTER)
    # West edges between the points of the cluster, then south edges.
    for west in [(a + b) / 2 for a, b in pairwise(longitudes)]:
        for zoom in (12, 16):
            cut = _counts(_layer(client, bbox=f"{west},43.28,5.45,43.38", zoom=zoom))
            assert cut.get(cluster_cell) == 5, (west, zoom, cut)
    for south in [(a + b) / 2 for a, b in pairwise(latitudes)]:
        cut = _counts(_layer(client, bbox=f"5.30,{south},5.45,43.38", zoom=16))
        assert cut.get(cluster_cell) == 5, (south, cut)
    # A viewport of a few metres inside the hexagon still shows it whole.
    tiny = _counts(_layer(client, bbox="5.39484,43.34521,5.39486,43.34523", zoom=19))
    assert tiny == {cluster_cell: 5}


def test_a_shown_hexagon_is_always_read_whole():
    """Every position whose hexagon `whole_hexagons` shows lies in the viewport it reads, for
    viewports from a street to a region and every resolution (seeded samples): a shown count
    is the hexagon's whole count."""
    rng = random.Random(7)
    checked = 0
    for _ in range(200):
        resolution = rng.choice([5, 7, 9])
        edge = h3.average_hexagon_edge_length(resolution, "km") / 111.0
        latitude, longitude = rng.uniform(41.0, 51.0), rng.uniform(-5.0, 9.0)
        height = edge * 10 ** rng.uniform(-2, 1.5)
        bbox = map_layers.BBox(
            longitude, latitude, longitude + height * rng.uniform(0.3, 3), latitude + height
        )
        read, keep = map_layers.whole_hexagons(bbox, resolution)
        for _ in range(200):
            lat = rng.uniform(bbox.south - 5 * edge, bbox.north + 5 * edge)
            lng = rng.uniform(bbox.west - 7 * edge, bbox.east + 7 * edge)
            if keep(h3.latlng_to_cell(lat, lng, resolution)):
                assert read.south <= lat <= read.north and read.west <= lng <= read.east
                checked += 1
        # A position inside the viewport always has its hexagon shown.
        inside = (rng.uniform(bbox.south, bbox.north), rng.uniform(bbox.west, bbox.east))
        assert keep(h3.latlng_to_cell(*inside, resolution))
    assert checked > 5000


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_operations_count_points_not_operations(world, client_for, persona, username):
    """Three raids on one isolated point are not three points: a hexagon of the operations
    layer is shown to an aggregate-only role only when its operations concern at least
    `min_count` points, or it would show where one point is (and how often it was raided)."""
    analyst = persona("cross13_analyst")
    isolated = world.points_13[5]  # Marseille 3e: hidden on the deal points layer (2 points)
    for _ in range(3):
        services.operation_record(
            actor=analyst,
            dealpoint=isolated,
            data=services.OperationInput(kind="raid", occurred_on=date.today()),
        )
    client = client_for(username)
    assert isolated.h3_r9 not in _counts(_layer(client, bbox=MARSEILLE_BBOX, zoom=16))
    for zoom in (12, 16):
        operations = _layer(client, "map-operations", bbox=MARSEILLE_BBOX, zoom=zoom)
        assert operations["features"] == [], operations
    # Searches on three points of the cluster, and on the other point of the 3e and the one
    # of the 12e (three points outside the cluster, with the first: the res 5 and 7 counts,
    # differenced with the cluster's, then tell no fewer): the cluster is shown, counted as
    # operations.
    for point in [*world.points_13[2:5], *world.points_13[6:8]]:
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(kind="search", occurred_on=date.today()),
        )
    # Raids on two more points of the cluster: with the world's (points_13[1]), three raided
    # points in the cluster's cell, four in its res 5 hexagon with the isolated one.
    for point in (world.points_13[0], world.points_13[2]):
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(kind="raid", occurred_on=date.today()),
        )
    operations = _layer(client, "map-operations", bbox=MARSEILLE_BBOX, zoom=16)
    [hexagon] = operations["features"]
    assert hexagon["properties"]["cell"] == world.points_13[0].h3_r9
    assert hexagon["properties"]["count"] == 6
    # Neither kind is detailed, though each concerns three points here: less the res 5
    # hexagon's, « 3 raided points » would place the isolated one (4 - 3) and « 3 searched
    # points » two more (5 - 3): an audit differenced the statuses of two zooms so.
    assert hexagon["properties"]["by_status"] == {}
    [wide] = _layer(client, "map-operations", bbox=MARSEILLE_BBOX, zoom=6)["features"]
    assert wide["properties"]["by_status"] == {"raid": 6, "search": 5}
    # An analyst still sees every operation.
    assert (
        len(
            _layer(client_for("cross13_analyst"), "map-operations", bbox=MARSEILLE_BBOX, zoom=16)[
                "features"
            ]
        )
        == 11
    )


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_hotspots_say_nothing_of_hidden_cells(world, client_for, persona, username):
    """The z and p of a shown cell come from its neighbours too: an aggregate-only role gets
    statistics computed only from the cells it may see (small counts suppressed before the
    analysis), so one point added near the cluster changes nothing it receives. (Near it in
    another res 7 hexagon: in the cluster's own, the map's res 7 hexagon would count one more
    than the cluster's cell, which the map and the hotspots then both hide.)"""
    client = client_for(username)

    def hotspots() -> dict[str, Any]:
        response = client.get(reverse("map-hotspots"), {"departement": "13"})
        assert response.status_code == 200, response.content
        body = response.json()
        return {"features": body["features"], "p_threshold": body["meta"]["p_threshold"]}

    before = hotspots()
    assert [f["properties"]["count"] for f in before["features"]] == [5]
    cluster = world.points_13[0].h3_r9
    neighbour = next(
        cell
        for distance in (1, 2, 3)
        for cell in sorted(h3.grid_ring(cluster, distance))
        if h3.cell_to_parent(cell, 7) != h3.cell_to_parent(cluster, 7)
    )
    latitude, longitude = h3.cell_to_latlng(neighbour)
    services.dealpoint_create(
        actor=persona("cross13_analyst"),
        data=services.DealPointInput(latitude=latitude, longitude=longitude),
    )
    assert hotspots() == before
    # The analyst's own statistics do take it into account.
    analyst = client_for("cross13_analyst").get(reverse("map-hotspots"), {"departement": "13"})
    assert any(f["properties"]["cell"] == neighbour for f in analyst.json()["features"])


# --- exports -------------------------------------------------------------------------------------


def test_a_full_export_keeps_each_points_marking(world, client_for):
    """An exported file leaves Cartostup: each row carries its TLP marking, so that whoever
    receives the file knows how far it may be shared."""
    from cartostup.access.choices import Marking

    DealPoint.objects.filter(pk=world.points_13[1].pk).update(marking=Marking.GREEN)
    client = client_for("cross13_analyst")
    collection = json.loads(client.get("/points-de-deal/export.geojson").content)
    markings = {
        f["properties"]["reference"]: f["properties"]["marking"] for f in collection["features"]
    }
    assert markings[world.points_13[1].reference] == "TLP:GREEN"
    assert markings[world.points_13[0].reference] == "TLP:AMBER"
    text = client.get("/points-de-deal/export.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert {row["Référence"]: row["Marquage de diffusion"] for row in rows} == markings
    sheet = load_workbook(io.BytesIO(client.get("/points-de-deal/export.xlsx").content)).active
    header, *values = list(sheet.iter_rows(values_only=True))
    assert "Marquage de diffusion" in header
    # A police investigator, who may export them too, receives the markings as well.
    police = json.loads(
        client_for("police13_investigator").get("/api/v1/dealpoints/export/?format=geojson").content
    )
    assert {f["properties"]["marking"] for f in police["features"]} == {"TLP:AMBER", "TLP:GREEN"}


# --- hidden or absent: the same answer -----------------------------------------------------------

RECORD_URLS = (
    "/api/v1/dealpoints/{pk}/",
    "/api/v1/dealpoints/{pk}/operations/",
    "/api/v1/dealpoints/{pk}/history/",
    "/carte/panneau/{pk}/",
    "/points-de-deal/{pk}/",
    "/points-de-deal/{pk}/modifier/",
)


@pytest.mark.parametrize(
    "username",
    ["landlord_13h", "landlord_13l", "prefecture_13", "prosecutor_13", "cross93_analyst"],
)
def test_a_hidden_point_answers_like_an_absent_one(world, client_for, username):
    """Each record URL answers a point the persona may not see exactly as a point that does
    not exist (404, same body), for reads and for writes."""
    client = client_for(username)
    hidden = world.points_13[3].pk  # on no building, in the 13
    absent = DealPoint.objects.order_by("-pk")[0].pk + 1000
    for template in RECORD_URLS:
        answers = []
        for pk in (hidden, absent):
            response = client.get(template.format(pk=pk))
            body = response.content.decode().replace(str(pk), "{pk}")
            answers.append((response.status_code, body if "api" in template else ""))
        assert answers[0] == answers[1], template
        assert answers[0][0] == 404, template
    for method, template, data in (
        ("patch", "/api/v1/dealpoints/{pk}/", {"name": "x"}),
        ("post", "/api/v1/dealpoints/{pk}/status/", {"status": "confirmed"}),
        (
            "post",
            "/api/v1/dealpoints/{pk}/operations/",
            {"kind": "raid", "occurred_on": "2026-01-05", "outcome": "none"},
        ),
        ("post", "/api/v1/dealpoints/{pk}/merge/", {"target": "PD-13-0001"}),
        ("post", "/api/v1/dealpoints/{pk}/reports/", {"report": "SIG-13-000001"}),
    ):
        answers = []
        for pk in (hidden, absent):
            response = getattr(client, method)(
                template.format(pk=pk), data, content_type="application/json"
            )
            answers.append((response.status_code, response.content))
        assert answers[0] == answers[1], (method, template, answers)
        assert answers[0][0] == 404, (method, template, answers)


# --- audit ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/points-de-deal/{pk}/scinder/", {"latitude": "x"}),
        ("/points-de-deal/{pk}/modifier/", {"latitude": "x", "longitude": "5.39"}),
    ],
)
def test_a_form_shown_again_with_its_errors_is_an_audited_read(world, client_for, path, data):
    """A refused POST shows the point again (its reports, its reference): that read is
    audited like the GET that first showed it."""
    point = world.points_13[2]
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client_for("cross13_analyst").post(path.format(pk=point.pk), data)
    assert response.status_code == 400
    assert point.reference.encode() in response.content
    assert AuditEvent.objects.filter(
        pk__gt=last,
        action=AuditAction.VIEW,
        object_type="dealpoints.dealpoint",
        object_id=str(point.pk),
    ).exists()


# --- landlords -----------------------------------------------------------------------------------


def test_a_landlords_list_is_not_ordered_by_the_exact_time(world, client_for, persona):
    """A landlord is told the week of a point's last activity, not its time, and a random
    partner code, not the reference: two points of the same week are listed by code,
    whatever their exact times and whichever was opened first."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    first, second = world.points_13[2], world.points_13[4]
    assert first.reference < second.reference
    on_building = DealPoint.objects.filter(pk__in=[first.pk, second.pk])
    on_building.update(building=world.building)
    DealPoint.objects.filter(pk=first.pk).update(partner_code="ZZZZZ-ZZZZZ")
    DealPoint.objects.filter(pk=second.pk).update(partner_code="00000-00000")
    # Same week (Tuesday and Thursday): the first opened is the last active.
    DealPoint.objects.filter(pk=first.pk).update(
        last_reported_at=datetime(2026, 11, 19, 9, 0, tzinfo=paris)
    )
    DealPoint.objects.filter(pk=second.pk).update(
        last_reported_at=datetime(2026, 11, 17, 9, 0, tzinfo=paris)
    )
    html = client_for("landlord_13h").get("/points-de-deal/").content.decode()
    assert first.reference not in html and second.reference not in html
    assert html.index("00000-00000") < html.index("ZZZZZ-ZZZZZ")
    # And swapping the times changes nothing.
    DealPoint.objects.filter(pk=first.pk).update(
        last_reported_at=datetime(2026, 11, 17, 8, 0, tzinfo=paris)
    )
    DealPoint.objects.filter(pk=second.pk).update(
        last_reported_at=datetime(2026, 11, 20, 8, 0, tzinfo=paris)
    )
    again = client_for("landlord_13h").get("/points-de-deal/").content.decode()
    assert again.index("00000-00000") < again.index("ZZZZZ-ZZZZZ")
    # The API, the exports and the map list them by code too, never by reference or id.
    client = client_for("landlord_13h")
    codes = {"00000-00000", "ZZZZZ-ZZZZZ"}
    listed = [row["partner_code"] for row in client.get("/api/v1/dealpoints/").json()["results"]]
    exported = client.get("/points-de-deal/export.geojson").json()["features"]
    mapped = _layer(client, bbox="5.30,43.30,5.45,43.40", zoom=16)["features"]
    for order in (
        listed,
        [feature["properties"]["partner_code"] for feature in exported],
        [feature["properties"]["code"] for feature in mapped],
    ):
        assert [code for code in order if code in codes] == ["00000-00000", "ZZZZZ-ZZZZZ"]


@pytest.mark.parametrize(
    ("distribution", "marking", "shown"),
    [
        (Distribution.TERRITORY, Marking.AMBER, True),
        (Distribution.NATIONAL, Marking.GREEN, True),
        (Distribution.CROSS, Marking.AMBER, False),
        (Distribution.ORGANISATION, Marking.CLEAR, False),
        (Distribution.SHARING_GROUP, Marking.AMBER, False),
        (Distribution.TERRITORY, Marking.AMBER_STRICT, False),
        (Distribution.TERRITORY, Marking.RED, False),
    ],
)
def test_a_landlord_sees_only_the_points_the_services_share(
    world, client_for, distribution, marking, shown
):
    """A point on a landlord's building reaches the landlord only when the services share it
    beyond themselves (territory, national) and its marking lets it leave them: a point kept
    within a CROSS or marked AMBER+STRICT or RED is, for the landlord, a point that does not
    exist: on its page, panel, API, list, map and export."""
    point = world.landlord_point
    DealPoint.objects.filter(pk=point.pk).update(distribution=distribution, marking=marking)
    client = client_for("landlord_13h")
    expected = 200 if shown else 404
    for template in (
        "/points-de-deal/code/{code}/",
        "/carte/panneau/code/{code}/",
        "/api/v1/dealpoints/code/{code}/",
    ):
        assert client.get(template.format(code=point.partner_code)).status_code == expected
    listed = client.get("/api/v1/dealpoints/").json()
    assert (point.partner_code in json.dumps(listed)) is shown
    layer = _layer(client, bbox="5.39,43.34,5.40,43.35", zoom=16)
    assert bool(layer["features"]) is shown
    assert (point.partner_code in client.get("/points-de-deal/").content.decode()) is shown
    export = client.get("/points-de-deal/export.geojson")
    assert export.status_code == 200
    assert (point.partner_code in export.content.decode()) is shown
    # Its id, a sequence, answers as an absent point, shared or not.
    for template in ("/points-de-deal/{pk}/", "/carte/panneau/{pk}/", "/api/v1/dealpoints/{pk}/"):
        assert client.get(template.format(pk=point.pk)).status_code == 404, template
    # The services themselves still see it, whatever the landlord is shown.
    assert client_for("cross13_analyst").get(f"/points-de-deal/{point.pk}/").status_code == 200


def test_an_operation_does_not_move_a_landlords_week(world, client_for, persona):
    """A landlord is told the week of the last report, never of an operation: a surveillance
    recorded today moves the services' last activity, not the week the landlord reads on
    its list, page, panel, map, API or export. The weeks are counted in local time
    everywhere (the map's week once differed on Monday's first hours)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    point = world.landlord_point
    # An imported map's report received on Monday 2 November 2026 at 00:30, Paris time
    # (Sunday in UTC).
    reported = datetime(2026, 11, 2, 0, 30, tzinfo=ZoneInfo("Europe/Paris"))
    DealPoint.objects.filter(pk=point.pk).update(
        imported_first_reported_at=reported,
        last_reported_at=reported,
        last_activity_at=reported,
    )
    services.operation_record(
        actor=persona("cross13_analyst"),
        dealpoint=DealPoint.objects.get(pk=point.pk),
        data=services.OperationInput(kind="surveillance", occurred_on=date.today()),
    )
    # The services' last activity moved to the operation (weeks later).
    moved = DealPoint.objects.get(pk=point.pk).last_activity_at
    assert moved is not None and (moved - reported).days >= 7
    client = client_for("landlord_13h")
    code = point.partner_code
    assert client.get(f"/api/v1/dealpoints/code/{code}/").json()["last_activity_week"] == (
        "2026-11-02"
    )
    assert "semaine du 02/11/2026" in client.get(f"/points-de-deal/code/{code}/").content.decode()
    assert "semaine du 02/11/2026" in client.get("/points-de-deal/").content.decode()
    assert "semaine du 02/11/2026" in client.get(f"/carte/panneau/code/{code}/").content.decode()
    (feature,) = _layer(client, bbox="5.39,43.34,5.40,43.35", zoom=16)["features"]
    assert feature["properties"]["last_activity_week"] == "2026-11-02"
    exported = client.get("/points-de-deal/export.geojson").json()["features"]
    assert exported[0]["properties"]["last_activity_week"] == "2026-11-02"


def test_told_values_come_from_the_policy(persona):
    """`policy.told_values` and `policy.stored_values`: only the reduced view is told
    coarser values, and its filters expand them back to the stored ones."""
    landlord, analyst = persona("landlord_13h"), persona("cross13_analyst")
    assert policy.told_values(analyst, DealPoint) == {}
    assert policy.told_values(persona("prefecture_13"), DealPoint) == {}
    assert policy.told_values(landlord, DealPoint) == {
        "status": {DealPointStatus.INVESTIGATION: DealPointStatus.CONFIRMED}
    }
    assert policy.stored_values(landlord, DealPoint, "status", ["confirmed"]) == [
        "confirmed", "investigation"
    ]  # fmt: skip
    assert policy.stored_values(landlord, DealPoint, "status", ["investigation"]) == []
    assert policy.stored_values(analyst, DealPoint, "status", ["investigation"]) == [
        "investigation"
    ]


def test_a_landlord_is_never_told_of_an_investigation(world, client_for):
    """Secrecy of investigations: a point under investigation is, for the landlord of its
    building, "confirmed" on every page, panel, API answer, map and export; filtering on
    "confirmed" finds it, on "under investigation" finds nothing, and no form or legend
    offers that status. The services still read the true status."""
    point = world.landlord_point
    DealPoint.objects.filter(pk=point.pk).update(status=DealPointStatus.INVESTIGATION)
    secret = str(DealPointStatus.INVESTIGATION.label)
    client = client_for("landlord_13h")
    pages = [
        f"/points-de-deal/code/{point.partner_code}/",
        f"/carte/panneau/code/{point.partner_code}/",
        "/points-de-deal/",
        "/carte/",
    ]
    for path in pages:
        html = client.get(path).content.decode()
        assert point.partner_code in html or path == "/carte/", path
        assert escape(secret) not in html and secret not in html, path
        assert "investigation" not in html, path
    panel = client.get(f"/carte/panneau/code/{point.partner_code}/").content.decode()
    assert str(DealPointStatus.CONFIRMED.label) in panel
    by_code = client.get(f"/api/v1/dealpoints/code/{point.partner_code}/").json()
    assert by_code["status"] == "confirmed"
    bbox = "5.39,43.34,5.40,43.35"
    (feature,) = _layer(client, bbox=bbox, zoom=16)["features"]
    assert feature["properties"]["status"] == "confirmed"
    assert feature["properties"]["status_label"] == str(DealPointStatus.CONFIRMED.label)
    export = client.get("/points-de-deal/export.geojson").json()
    assert [f["properties"]["status"] for f in export["features"]] == ["confirmed"]
    csv_text = client.get("/points-de-deal/export.csv").content.decode()
    assert "investigation" not in csv_text and point.partner_code in csv_text
    assert "enquête" not in csv_text and str(DealPointStatus.CONFIRMED.label) in csv_text
    # Filters select by what the landlord is told: "confirmed" finds the point (the status
    # it is never told is refused like an unknown one: see the test below).
    listed = client.get("/api/v1/dealpoints/", {"status": "confirmed"}).json()
    assert point.partner_code in json.dumps(listed)
    assert _layer(client, bbox=bbox, zoom=16, status="confirmed")["features"]
    assert (
        point.partner_code
        in client.get("/points-de-deal/", {"status": "confirmed"}).content.decode()
    )
    # The services read the true status.
    analyst = client_for("cross13_analyst")
    assert analyst.get(f"/api/v1/dealpoints/{point.pk}/").json()["status"] == "investigation"


POINT = "dealpoints.dealpoint"
REPORT = "reports.report"
BUILDING = "access.building"


@pytest.mark.parametrize(
    ("username", "path", "action", "object_type"),
    [
        ("cross13_analyst", "/points-de-deal/{pk}/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/carte/panneau/{pk}/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/{pk}/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/{pk}/history/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/{pk}/operations/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/{pk}/reports/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/points-de-deal/{pk}/modifier/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/points-de-deal/{pk}/scinder/", AuditAction.VIEW, POINT),
        ("police13_investigator", "/points-de-deal/{pk}/", AuditAction.VIEW, POINT),
        ("police13_investigator", "/api/v1/dealpoints/{pk}/reports/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/points-de-deal/code/{code}/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/code/{code}/", AuditAction.VIEW, POINT),
        ("landlord_13h", "/points-de-deal/code/{code}/", AuditAction.VIEW, POINT),
        ("landlord_13h", "/carte/panneau/code/{code}/", AuditAction.VIEW, POINT),
        ("landlord_13h", "/api/v1/dealpoints/code/{code}/", AuditAction.VIEW, POINT),
        ("cross13_analyst", "/points-de-deal/", AuditAction.LIST, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/", AuditAction.LIST, POINT),
        ("cross13_analyst", "/api/v1/operations/", AuditAction.LIST, "dealpoints.operation"),
        ("landlord_13h", "/points-de-deal/", AuditAction.LIST, POINT),
        ("cross13_analyst", "/points-de-deal/export.csv", AuditAction.EXPORT, POINT),
        ("landlord_13h", "/points-de-deal/export.geojson", AuditAction.EXPORT, POINT),
        ("cross13_analyst", "/api/v1/dealpoints/export/?format=xlsx", AuditAction.EXPORT, POINT),
        ("cross13_analyst", "/rapprochements/", AuditAction.LIST, "dealpoints.matching"),
        ("cross13_analyst", "/rapprochements/", AuditAction.LIST, REPORT),
        # The reports a point's record and its API list name.
        ("cross13_analyst", "/points-de-deal/{pk}/", AuditAction.LIST, REPORT),
        ("cross13_analyst", "/api/v1/dealpoints/{pk}/reports/", AuditAction.LIST, REPORT),
        ("cross13_analyst", "/points-de-deal/{pk}/scinder/", AuditAction.LIST, REPORT),
        # The page that creates a point from a proposal: the proposal, its reports, and the
        # buildings its form offers.
        ("cross13_analyst", "/rapprochements/propositions/{proposal}/creer/", AuditAction.VIEW,
         "dealpoints.proposal"),
        ("cross13_analyst", "/rapprochements/propositions/{proposal}/creer/", AuditAction.LIST,
         REPORT),
        ("cross13_analyst", "/rapprochements/propositions/{proposal}/creer/", AuditAction.LIST,
         BUILDING),
        # The other forms that offer the landlords' buildings.
        ("cross13_analyst", "/points-de-deal/nouveau/", AuditAction.LIST, BUILDING),
        ("cross13_analyst", "/points-de-deal/{pk}/modifier/", AuditAction.LIST, BUILDING),
    ],
)  # fmt: skip
def test_every_protected_read_is_audited(
    world, client_for, persona, username, path, action, object_type
):
    """Who read what, when: each read of a point (record, panel, history, operations, the
    forms that show it), each listing (of points, of the reports a page names, of the
    buildings a form offers) and each export writes its audit event, on the kind of record
    read."""
    from cartostup.dealpoints.models import Proposal
    from cartostup.dealpoints.tests.factories import accepted_report

    analyst = persona("cross13_analyst")
    point = world.landlord_point
    services.report_attach(actor=analyst, dealpoint=point, report=accepted_report(analyst=analyst))
    proposal = Proposal.objects.create(
        owner_organisation=point.owner_organisation,
        commune=point.commune,
        departement=point.departement,
        distribution=Distribution.CROSS,
        precision="street",
        **services.cells_for(43.3470, 5.3990),
        latitude=43.3470,
        longitude=5.3990,
    )
    proposal.reports.add(accepted_report(analyst=analyst, latitude=43.3470, longitude=5.3990))
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client_for(username).get(
        path.format(pk=point.pk, code=point.partner_code, proposal=proposal.pk)
    )
    assert response.status_code == 200, response.content[:300]
    events = AuditEvent.objects.filter(
        pk__gt=last, action=action, actor_id=persona(username).pk, object_type=object_type
    )
    if action == AuditAction.VIEW and object_type == POINT:
        events = events.filter(object_id=str(point.pk))
    # The record's history names what it names in a listing of its own (checked with it).
    events = events.exclude(pk__in=[event.pk for event in events if "section" in event.details])
    if object_type == REPORT and "{proposal}" in path:
        assert events.get().details["reports"] == list(
            proposal.reports.values_list("reference", flat=True)
        )
    elif object_type == REPORT and "{pk}" in path:
        assert events.get().details["reports"] == list(
            point.links.values_list("report__reference", flat=True)
        )
    assert events.exists()


def test_a_second_role_that_receives_no_point_does_not_widen_a_landlords_view(
    world, client_for, persona
):
    """A landlord referent who also holds a role that receives no point one by one (prefecture
    staff; an auditor, which `membership_create` now refuses, is forced in here) still
    receives the reduced view of its buildings' points: a role without declared reduced
    fields is not a role that receives whole records."""
    from cartostup.access.models import Membership

    landlord = persona("landlord_13h")
    for other in ("prefecture_13", "auditor"):
        organisation = persona(other).memberships.get().organisation
        Membership.objects.create(
            user=landlord, organisation=organisation, role=persona(other).memberships.get().role
        )
    client = client_for("landlord_13h")
    point = world.landlord_point
    code = point.partner_code
    assert client.get(f"/api/v1/dealpoints/{point.pk}/").status_code == 404
    detail = client.get(f"/api/v1/dealpoints/code/{code}/").json()
    assert set(detail) == {
        "partner_code",
        "status",
        "last_activity_week",
        "building",
        "building_name",
    }
    panel = client.get(f"/carte/panneau/code/{code}/").content.decode()
    assert "Point 0" not in panel and str(point.latitude) not in panel
    page = client.get(f"/points-de-deal/code/{code}/").content.decode()
    assert "Point 0" not in page and "cannabis" not in page.lower()
    assert point.reference not in panel + page
    exported = json.loads(client.get("/points-de-deal/export.geojson").content)
    assert set(exported["features"][0]["properties"]) == {
        "partner_code", "status", "last_activity_week", "building"
    }  # fmt: skip


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_pages_name_no_point(world, client_for, username):
    """The map page (even opened on a point), the list page (with filters) and the record
    URLs never name a point, an address or a position to an aggregate-only role."""
    client = client_for(username)
    point = world.points_13[1]
    pages = [
        f"/carte/?departement=13&point={point.pk}",
        "/points-de-deal/?status=reported&q=PD-13",
        "/rapprochements/",
    ]
    for path in pages:
        response = client.get(path)
        text = response.content.decode()
        assert "PD-13" not in text.replace("q=PD-13", ""), path
        assert "Point 1" not in text and f"{point.latitude:.4f}" not in text, path
    assert client.get("/rapprochements/").status_code == 404


def test_aggregate_filters_never_leave_a_small_hexagon(world, client_for, persona):
    """Whatever the combination of filters an aggregate-only role sends (status, product,
    channel, period, département, QPV, viewport, zoom), each hexagon it receives, and each
    status inside it, counts at least the minimum; a filter it may not use is refused (400),
    never applied nor dropped."""
    analyst = persona("cross13_analyst")
    cluster = world.points_13[:5]
    services.dealpoint_change_status(actor=analyst, dealpoint=cluster[1], status="confirmed")
    DealPoint.objects.filter(pk=cluster[2].pk).update(products=["heroin"], channel="drive")
    client = client_for("prefecture_13")
    combinations: list[dict[str, Any]] = [
        {},
        {"status": "confirmed"},
        {"product": "heroin"},
        {"product": "cannabis", "channel": "fixed"},
        {"channel": "drive", "status": "reported"},
        {"active_from": date.today().isoformat(), "departement": "13"},
        {"active_to": "2000-01-01"},
        {"qpv": "true"},
        {"precision": "building", "commune": "Marseille"},
    ]
    seen = 0
    for filters in combinations:
        for bbox, zoom in (
            (MARSEILLE_BBOX, 6),
            (MARSEILLE_BBOX, 12),
            ("5.3949,43.345,5.395,43.3453", 19),
        ):
            response = client.get(
                reverse("map-dealpoints"), {"bbox": bbox, "zoom": zoom, **filters}
            )
            if set(filters) - {"status", "departement"}:
                assert response.status_code == 400, filters
                assert set(response.json()["errors"]) == set(filters) - {"status", "departement"}
                continue
            assert response.status_code == 200, response.content
            collection = response.json()
            for feature in collection["features"]:
                properties = feature["properties"]
                assert properties["kind"] == "hexagon"
                assert properties["count"] >= 3, (filters, zoom, properties)
                assert all(n >= 3 for n in properties["by_status"].values()), (filters, properties)
                seen += 1
    assert seen > 0
    # Two statuses together are refused (differenced with one, they would name a hidden one).
    both = client.get(
        reverse("map-dealpoints"),
        {"bbox": MARSEILLE_BBOX, "zoom": 12, "status": ["reported", "confirmed"]},
    )
    assert both.status_code == 400


def _cell_properties(collection: dict[str, Any], cell: str) -> dict[str, Any]:
    """The properties of the collection's hexagon `cell`, or an empty count."""
    for feature in collection["features"]:
        if feature["properties"]["cell"] == cell:
            return feature["properties"]
    return {"count": 0, "by_status": {}}


def test_a_border_hexagon_tells_no_departements_share_below_the_minimum(world, client_for, persona):
    """An aggregate-only role covering two départements (a zone prefecture, a JIRS) counts a
    hexagon straddling them per département: each side is counted only if it holds the
    minimum, so the whole count is always the sum of the counts filtered by each département,
    and a difference tells nothing but a shown count; the hexagon is named after its shown
    sides only. Counted whole, five points of which two across the border, the difference
    with `departement=13` used to say "two", one point included."""
    from cartostup.access.policy import forget_actor
    from cartostup.territories.models import Departement

    prefecture = persona("prefecture_13")
    bouches_du_rhone, seine_saint_denis, rhone = (
        Departement.objects.get(code=code) for code in ("13", "93", "69")
    )
    for membership in prefecture.memberships.all():
        membership.organisation.departements.add(seine_saint_denis)
    forget_actor(prefecture)
    analyst = persona("cross13_analyst")
    cluster = world.points_13[:5]
    services.dealpoint_change_status(actor=analyst, dealpoint=cluster[0], status="confirmed")
    client = client_for("prefecture_13")
    cell = cluster[0].h3_r9
    rng = random.Random(13)
    # How many of the five points lie in the 93, and in the 69 (outside the territory).
    splits = [(2, 0), (3, 0), (1, 0), (0, 0), (5, 0), (2, 1), (1, 1), (3, 2)]
    splits += [(n, rng.randint(0, 5 - n)) for n in (rng.randint(0, 5) for _ in range(3))]
    checked = 0
    for across, outside in splits:
        shuffled = rng.sample(cluster, len(cluster))
        for point, departement in zip(
            shuffled,
            [seine_saint_denis] * across + [rhone] * outside + [bouches_du_rhone] * 5,
            strict=False,
        ):
            DealPoint.objects.filter(pk=point.pk).update(departement=departement)
        names: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for zoom in (6, 9, 12):
            for status in (None, "reported"):
                extra = {"status": status} if status else {}
                whole = _layer(client, bbox=MARSEILLE_BBOX, zoom=zoom, **extra)
                sides = [
                    _layer(client, bbox=MARSEILLE_BBOX, zoom=zoom, departement=code, **extra)
                    for code in ("13", "93")
                ]
                cells = {
                    f["properties"]["cell"]
                    for collection in (whole, *sides)
                    for f in collection["features"]
                }
                for hexagon in cells:
                    properties = _cell_properties(whole, hexagon)
                    by_side = [_cell_properties(side, hexagon) for side in sides]
                    context = (across, outside, zoom, status, properties, by_side)
                    assert properties["count"] == sum(p["count"] for p in by_side), context
                    for value in {v for p in (properties, *by_side) for v in p["by_status"]}:
                        assert properties["by_status"].get(value, 0) == sum(
                            p["by_status"].get(value, 0) for p in by_side
                        ), context
                    shown = [p for p in by_side if p["count"]]
                    if status is None:
                        names[(zoom, hexagon)] = [properties, *by_side]
                        if len(shown) == 1:
                            # Named as its one shown side is: nothing of the hidden side.
                            assert properties["place"] == shown[0]["place"], context
                    else:
                        # Named as unfiltered: a status's own leading commune would tell
                        # where its points are, finer than the hexagon (an audit).
                        for counted, unfiltered in zip(
                            [properties, *by_side], names[(zoom, hexagon)], strict=True
                        ):
                            if counted["count"]:
                                assert counted["place"] == unfiltered["place"], context
                    checked += 1
        res9 = _counts(_layer(client, bbox=MARSEILLE_BBOX, zoom=12))
        inside = 5 - across - outside
        expected = sum(n for n in (inside, across) if n >= 3)
        assert res9.get(cell, 0) == expected, (across, outside, res9)
    assert checked > 0


def test_aggregate_operations_count_each_departements_points_apart(world, persona):
    """Operations are held to the minimum of distinct points per département too: three raids
    on one point across the border are one point, hidden; three points raided once each on
    this side are shown."""
    from cartostup.dealpoints.models import Operation
    from cartostup.territories.models import Departement

    analyst = persona("cross13_analyst")
    cluster = world.points_13[:5]
    for point in cluster[:3]:
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(kind="search", occurred_on=date.today()),
        )
    for day in (1, 2, 3):
        services.operation_record(
            actor=analyst,
            dealpoint=cluster[3],
            data=services.OperationInput(
                kind="search", occurred_on=date.today() - timedelta(days=day)
            ),
        )
    DealPoint.objects.filter(pk=cluster[3].pk).update(
        departement=Departement.objects.get(code="93")
    )
    groups = map_layers.hexagon_groups(
        Operation.objects.standing(),
        column="dealpoint__h3_r9",
        category="kind",
        subject="dealpoint",
        part="dealpoint__departement",
        commune="dealpoint__commune",
    )
    cell = cluster[0].h3_r9
    # Three searches on three points here (and the fixture's raid on one of them); three
    # searches on one point across the border.
    assert map_layers.shown_counts(groups, min_count=1)[cell] == (7, {"search": 6, "raid": 1})
    assert map_layers.shown_counts(groups, min_count=3) == {cell: (4, {"search": 3})}


# --- every map layer × every filter × the aggregate-only roles ----------------------------------

AGGREGATE_MESSAGE = "Ce filtre n'est pas ouvert aux comptes agrégés."
REDUCED_MESSAGE = "Ce filtre n'est pas ouvert à votre vue des points de deal."
VIEWPORT = {"bbox": MARSEILLE_BBOX, "zoom": "12"}
# What each layer needs to answer, then every other parameter it reads, as an aggregate-only
# role (a prefecture, a prosecutor's office) may send it: the viewport and the filters its
# counts may use (status and département, one value at a time), or refused with a 400 that
# names the filter; never applied, never dropped (a dropped filter reads as applied).
LAYER_BASES: dict[str, dict[str, str]] = {
    "map-dealpoints": VIEWPORT,
    "map-operations": VIEWPORT,
    "map-hotspots": {"departement": "13"},
    "map-boundaries": {"departement": "13"},
    "map-reports": VIEWPORT,
    "map-proposals": VIEWPORT,
}
AGGREGATE_ALLOWED: dict[str, dict[str, str]] = {
    "map-dealpoints": {"status": "reported", "departement": "13"},
    "map-operations": {},
    # One status at a time, as on the deal-points layer: it tells nothing that layer does
    # not (`test_aggregate_hotspots_by_status_tell_nothing_the_counts_do_not`).
    "map-hotspots": {"counted": "dealpoints", "status": "reported"},
    "map-boundaries": {"kind": "qpv"},
}
AGGREGATE_REFUSED: dict[str, dict[str, str]] = {
    "map-dealpoints": {
        "q": "PD-13",
        "product": "crack",
        "channel": "fixed",
        "precision": "stairwell",
        "commune": "13214",
        "active_from": "2026-11-25",
        "active_to": "2026-12-31",
        "qpv": "true",
    },
    "map-operations": {"period_from": "2026-11-20", "period_to": "2026-12-31"},
    "map-hotspots": {
        "product": "crack",
        "channel": "fixed",
        "period_from": "2026-11-25",
        "period_to": "2026-12-31",
    },
}
# Layers these roles may not open at all, whatever they send (404).
AGGREGATE_CLOSED: dict[str, dict[str, str]] = {
    "map-reports": {"status": "new", "received_from": "2026-11-25", "received_to": "2026-12-31"},
    "map-proposals": {},
}
AGGREGATE_CASES = [
    (name, parameter, value)
    for name, refused in AGGREGATE_REFUSED.items()
    for parameter, value in refused.items()
]


def test_the_matrix_names_every_parameter_of_every_map_layer():
    """A parameter added to a layer must be placed in the matrix (allowed or refused for
    aggregate-only roles), or this fails: none slips through unchecked."""
    from cartostup.dealpoints.api import urls_map

    layers: dict[str, Any] = {
        str(pattern.name): getattr(pattern.callback, "view_class", None)
        for pattern in urls_map.urlpatterns
    }
    assert set(layers) == set(LAYER_BASES)
    for name, view in layers.items():
        parameters = set(view.query_serializer().fields)
        placed = (
            set(LAYER_BASES[name])
            | set(AGGREGATE_ALLOWED.get(name, {}))
            | set(AGGREGATE_REFUSED.get(name, {}))
            | set(AGGREGATE_CLOSED.get(name, {}))
        )
        assert parameters == placed, name


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
@pytest.mark.parametrize(("name", "parameter", "value"), AGGREGATE_CASES)
def test_aggregate_roles_are_refused_every_finer_filter_on_every_layer(
    world, client_for, persona, username, name, parameter, value
):
    """Each layer × each filter finer than status and département × each aggregate-only
    role: 400 naming that filter with the policy's message, and nothing counted (no audit
    event of a read); the same request without the filter answers."""
    client = client_for(username)
    base = LAYER_BASES[name]
    assert client.get(reverse(name), base).status_code == 200
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client.get(reverse(name), {**base, parameter: value})
    assert response.status_code == 400, (name, parameter, response.content)
    assert response.json()["errors"] == {parameter: [AGGREGATE_MESSAGE]}
    assert not AuditEvent.objects.filter(pk__gt=last, actor_id=persona(username).pk).exists()


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_roles_may_use_the_allowed_parameters_and_not_the_closed_layers(
    world, client_for, username
):
    client = client_for(username)
    for name, allowed in AGGREGATE_ALLOWED.items():
        response = client.get(reverse(name), {**LAYER_BASES[name], **allowed})
        assert response.status_code == 200, (name, response.content)
    for name, parameters in AGGREGATE_CLOSED.items():
        assert client.get(reverse(name), LAYER_BASES[name]).status_code == 404, name
        for parameter, value in parameters.items():
            response = client.get(reverse(name), {**LAYER_BASES[name], parameter: value})
            assert response.status_code == 404, (name, parameter)


@pytest.mark.parametrize("parameter", sorted(set(AGGREGATE_REFUSED["map-dealpoints"]) - {"q"}))
def test_a_landlord_is_refused_the_same_way_on_its_layer(world, client_for, parameter):
    """A reduced view (a landlord) filters on status only: the same refusal, its own message;
    the layers of the services' work (operations, hotspots, reports, proposals) are closed
    to it."""
    client = client_for("landlord_13h")
    value = AGGREGATE_REFUSED["map-dealpoints"][parameter]
    response = client.get(reverse("map-dealpoints"), {**VIEWPORT, parameter: value})
    assert response.status_code == 400
    assert response.json()["errors"] == {parameter: [REDUCED_MESSAGE]}
    for name in ("map-operations", "map-hotspots", "map-reports", "map-proposals"):
        assert client.get(reverse(name), LAYER_BASES[name]).status_code == 404, name


def test_a_period_on_the_hotspots_no_longer_dates_one_point(world, client_for, persona):
    """The audit's case: five points in one res 9 cell, one of them last active before the
    period. An aggregate-only role read 5 without the period and 4 with it: that point was
    quiet since then. The period is refused; the services keep it."""
    cluster = world.points_13[:5]
    DealPoint.objects.filter(pk__in=[p.pk for p in cluster]).update(last_activity_at=timezone.now())
    quiet = cluster[4]
    DealPoint.objects.filter(pk=quiet.pk).update(
        last_activity_at=timezone.now() - timedelta(days=30)
    )
    since = (date.today() - timedelta(days=10)).isoformat()
    prefecture = client_for("prefecture_13")
    whole = prefecture.get(reverse("map-hotspots"), {"departement": "13"}).json()
    assert [f["properties"]["count"] for f in whole["features"]] == [5]
    response = prefecture.get(reverse("map-hotspots"), {"departement": "13", "period_from": since})
    assert response.status_code == 400
    assert response.json()["errors"] == {"period_from": [AGGREGATE_MESSAGE]}
    analyst = client_for("cross13_analyst")
    recent = analyst.get(reverse("map-hotspots"), {"departement": "13", "period_from": since})
    assert recent.status_code == 200
    cell = world.points_13[0].h3_r9
    counts = {f["properties"]["cell"]: f["properties"]["count"] for f in recent.json()["features"]}
    assert counts[cell] == 4
    operations = analyst.get(
        reverse("map-operations"), {**VIEWPORT, "zoom": "16", "period_from": since}
    )
    assert operations.status_code == 200 and len(operations.json()["features"]) == 1


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_hotspots_by_status_tell_nothing_the_counts_do_not(
    world, client_for, persona, username
):
    """The hotspots now take the map's status filter. For an aggregate-only role, the cells
    they receive with one status are exactly the res 9 hexagons the deal-points layer gives
    it with that status (counts of at least the minimum, the smaller ones suppressed before
    the analysis), so their z and p are computed from nothing it could not read there: no
    differencing beyond what that layer allows. Two statuses together stay refused (their
    difference with one would name a status a cell hides); product, channel and period are
    refused (the matrix above)."""
    analyst = persona("cross13_analyst")
    cluster = world.points_13[:5]
    for point in cluster[:3]:
        services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    client = client_for(username)
    department_wide = {"bbox": "4.2,43.1,6.0,43.95", "zoom": "13"}
    for status in (None, "confirmed", "reported", "dismantled"):
        filters = {"status": status} if status else {}
        hotspots = client.get(reverse("map-hotspots"), {"departement": "13", **filters})
        assert hotspots.status_code == 200, hotspots.content
        counts = _layer(client, **department_wide, **filters)
        assert _counts(hotspots.json()) == _counts(counts), status
    # The cluster: 5 points, 3 confirmed, 2 reported (under the minimum: not shown, nor the
    # confirmed, which would tell them by difference with the cell's count).
    cell = cluster[0].h3_r9
    for status in ("confirmed", "reported"):
        filtered = client.get(reverse("map-hotspots"), {"departement": "13", "status": status})
        assert filtered.json()["features"] == [], status
    for point in cluster[3:]:
        services.dealpoint_change_status(actor=analyst, dealpoint=point, status="confirmed")
    confirmed = client.get(reverse("map-hotspots"), {"departement": "13", "status": "confirmed"})
    assert _counts(confirmed.json()) == {cell: 5}
    assert _counts(confirmed.json()) == _counts(
        _layer(client, **department_wide, status="confirmed")
    )
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    both = client.get(
        reverse("map-hotspots"), {"departement": "13", "status": ["confirmed", "reported"]}
    )
    assert both.status_code == 400
    assert both.json()["errors"] == {
        "status": ["Les comptes agrégés se filtrent sur un seul statut à la fois."]
    }
    assert not AuditEvent.objects.filter(pk__gt=last, actor_id=persona(username).pk).exists()
    # The audit lists the status applied.
    client.get(reverse("map-hotspots"), {"departement": "13", "status": "confirmed"})
    event = AuditEvent.objects.filter(actor_id=persona(username).pk).latest("pk")
    assert event.details["layer"] == "hotspots"
    assert event.details["filters"]["status"] == "confirmed"


# --- a status a landlord is never told ----------------------------------------------------------

LANDLORD_STATUS_LABELS = "Signalé, Confirmé, Démantelé, Déplacé, Résurgent"
LANDLORD_STATUS_CODES = (
    "reported (Signalé), confirmed (Confirmé), dismantled (Démantelé), moved (Déplacé), "
    "resurgent (Résurgent)"
)


def _page_errors(html: str) -> list[str]:
    """The lines of the filter form's error summary (role="alert")."""
    import re

    box = re.search(r'role="alert"[^>]*>(.*?)</div>', html, re.S)
    assert box, html[:500]
    return [line.strip() for line in re.findall(r"<li>(.*?)</li>", box.group(1), re.S)]


@pytest.mark.parametrize("asked", ["investigation", ["investigation", "reported"]])
def test_a_status_a_landlord_is_never_told_is_refused_like_an_unknown_one(
    world, client_for, persona, asked
):
    """Secrecy of investigations: a landlord's `?status=investigation` answered 200 and an
    empty list in the API and the map, where `?status=bogus` was a 400, and the list page said
    « investigation n'en fait pas partie »: the difference told that the status exists. Now the
    list page, the map page, the API list, the map layer and both exports refuse it exactly
    as an unknown value, listing only the statuses the landlord may use, in French."""
    client = client_for("landlord_13h")
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    api_message = [f"Valeur inconnue (valeurs acceptées : {LANDLORD_STATUS_CODES})."]
    page_line = f"Statut : Valeur inconnue (valeurs acceptées : {LANDLORD_STATUS_LABELS})."
    for status in (asked, "bogus"):
        for url, params in (
            ("/api/v1/dealpoints/", {}),
            (reverse("map-dealpoints"), {"bbox": "5.39,43.34,5.40,43.35", "zoom": 16}),
            ("/api/v1/dealpoints/export/", {"format": "csv"}),
        ):
            response = client.get(url, {**params, "status": status})
            assert response.status_code == 400, (url, status)
            assert response.json()["errors"] == {"status": api_message}, (url, status)
        for path in ("/points-de-deal/", "/carte/"):
            html = client.get(path, {"status": status}).content.decode()
            assert _page_errors(html) == [page_line], (path, status)
            assert "n'en fait pas partie" not in html and "enquête" not in html, path
            assert world.landlord_point.partner_code not in html, path
        export = client.get("/points-de-deal/export.csv", {"status": status})
        assert export.status_code == 400
        assert _page_errors(export.content.decode()) == [page_line]
    # No point was read: no listing, no export in the audit trail (the map page lists the
    # landlord's buildings, audited too).
    assert not AuditEvent.objects.filter(
        pk__gt=last, actor_id=persona("landlord_13h").pk, object_type="dealpoints.dealpoint"
    ).exists()
    # The services still filter on it, and are told all six statuses when they misspell one.
    analyst = client_for("cross13_analyst")
    assert analyst.get("/api/v1/dealpoints/", {"status": "investigation"}).status_code == 200
    refused = analyst.get("/api/v1/dealpoints/", {"status": "bogus"}).json()["errors"]["status"]
    assert "investigation (En cours d'enquête)" in refused[0]


# --- the reports tied to a point -----------------------------------------------------------------

# What each persona receives of the reports tied to a point of the CROSS 13 (distribution
# territory): the analysts who see the reports of the 13 get their references; the
# investigators, who see the point but never a report (reports/rules.py), get none of them; the
# others do not see the point at all (404, as the access matrix says), anonymous visitors are
# refused (API) or sent to the login page.
POINT_REPORTS_SEEN = {
    "ofast_analyst": "all",
    "antenna13_analyst": "all",
    "cross13_analyst": "all",
    "police13_investigator": "none",
    "gendarmerie13_investigator": "none",
    "customs13_investigator": "none",
}


@pytest.fixture
def point_with_reports(persona):
    from cartostup.dealpoints.choices import LinkDecision
    from cartostup.dealpoints.tests.factories import accepted_report, dealpoint

    analyst = persona("cross13_analyst")
    attached = accepted_report(analyst=analyst)
    proposed = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    point = dealpoint(actor=analyst, reports=[attached])
    services.report_attach(
        actor=None, dealpoint=point, report=proposed, decision=LinkDecision.PROPOSED, score=0.5
    )
    return point, [attached.reference, proposed.reference]


@pytest.mark.parametrize("username", ["anonymous", *PERSONA_NAMES])
def test_the_reports_of_a_point_reach_only_those_the_policy_gives_them(
    point_with_reports, client_for, persona, username
):
    """Every persona, on the API list of a point's reports and on the point's page: report
    references, dates, scores and distances go only to those who may see the reports, and
    each reference read is audited as a listing of reports."""
    from django.test import Client

    point, references = point_with_reports
    client = Client() if username == "anonymous" else client_for(username)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    api = client.get(f"/api/v1/dealpoints/{point.pk}/reports/")
    page = client.get(f"/points-de-deal/{point.pk}/")
    seen = POINT_REPORTS_SEEN.get(username)
    if username == "anonymous":
        assert (api.status_code, page.status_code) == (401, 302)
        return
    if seen is None:
        assert (api.status_code, page.status_code) == (404, 404), username
        assert not AuditEvent.objects.filter(pk__gt=last, object_type="reports.report").exists()
        return
    assert (api.status_code, page.status_code) == (200, 200), username
    listed = api.json()["results"]
    text = page.content.decode()
    # The record's sections on reports (attached, proposed), up to its operations.
    html = text[text.index('id="reports-title"') : text.index('id="operations-title"')]
    reports_read = AuditEvent.objects.filter(
        pk__gt=last,
        actor_id=persona(username).pk,
        action=AuditAction.LIST,
        object_type="reports.report",
    )
    if seen == "all":
        assert sorted(row["report"] for row in listed) == sorted(references)
        assert all(reference in html for reference in references)
        assert 'id="hidden-reports"' not in html
        # One listing for the API answer, one for the page, each naming what it showed (the
        # page's history, which names the report the point was created with, has its own).
        sections = [
            event for event in reports_read.order_by("pk") if "section" not in event.details
        ]
        assert [event.details["reports"] for event in sections] == [
            sorted(references),
            sorted(references),
        ]
        assert {event.details["point"] for event in reports_read} == {point.reference}
    else:
        assert listed == [] and api.json()["count"] == 0
        assert not any(reference in html for reference in references), username
        # No empty table above the explanation: the explanation alone.
        assert 'id="attached-reports"' not in html and 'id="proposed-reports"' not in html
        # The number of attached reports is the point's own count, told anyway; no more.
        assert "1 signalement rattaché à ce point ne vous est pas communiqué" in html
        assert not reports_read.exists()
    # The point itself is read (and audited) in both cases.
    assert AuditEvent.objects.filter(
        pk__gt=last,
        actor_id=persona(username).pk,
        action=AuditAction.VIEW,
        object_type="dealpoints.dealpoint",
        object_id=str(point.pk),
    ).exists()


# --- a point's history ------------------------------------------------------------------------


@pytest.fixture
def point_with_history(persona):
    """A point of the CROSS 13 whose history names reports (created with one, another
    attached, the first detached) and a point of the CROSS alone (shared with its own
    organisation) merged into it, with its report."""
    from cartostup.dealpoints.choices import LinkDecision
    from cartostup.dealpoints.tests.factories import accepted_report, dealpoint

    analyst = persona("cross13_analyst")
    first = accepted_report(analyst=analyst)
    second = accepted_report(analyst=analyst, latitude=43.3455, longitude=5.3952)
    third = accepted_report(analyst=analyst, latitude=43.3452, longitude=5.3950)
    point = dealpoint(actor=analyst, reports=[first])
    services.report_attach(
        actor=analyst, dealpoint=point, report=second, decision=LinkDecision.CONFIRMED, score=0.42
    )
    services.report_detach(actor=analyst, dealpoint=point, report=first)
    kept = dealpoint(actor=analyst, reports=[third], name="Doublon du four")
    services.dealpoint_share(
        actor=analyst,
        dealpoint=kept,
        data=services.SharingInput(distribution=Distribution.ORGANISATION),
    )
    services.dealpoint_merge(actor=analyst, source=kept, target=point)
    return point, kept.reference, [first.reference, second.reference, third.reference]


HISTORY_READERS = ["cross13_analyst", "police13_investigator", "customs13_investigator"]


@pytest.mark.parametrize("username", HISTORY_READERS)
def test_a_points_history_names_only_what_its_reader_may_see(
    point_with_history, client_for, persona, username
):
    """The history (record and API) named every report attached, detached or merged, and
    every point merged in, to anyone who sees the point: an investigator is told that a
    report was attached, never which, and never a point it does not see; what is named is
    audited. The history itself is never changed."""
    from cartostup.dealpoints.models import DealPointEvent

    point, hidden_point, references = point_with_history
    stored = list(DealPointEvent.objects.filter(dealpoint=point).values_list("details", flat=True))
    client = client_for(username)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    page = client.get(f"/points-de-deal/{point.pk}/")
    api = client.get(f"/api/v1/dealpoints/{point.pk}/history/")
    assert (page.status_code, api.status_code) == (200, 200)
    text = page.content.decode()
    history = text[text.index('id="history-title"') :]
    events = api.json()["results"]
    answered = json.dumps(events, ensure_ascii=False)
    assert all("replaced" not in event["details"] for event in events)
    named = AuditEvent.objects.filter(
        pk__gt=last, actor_id=persona(username).pk, action=AuditAction.LIST
    )
    if username == "cross13_analyst":
        for reference in [*references, hidden_point]:
            assert reference in history and reference in answered
        assert "non communiqué" not in history and "undisclosed" not in answered
        scored = [event for event in events if event["details"].get("score") is not None]
        assert [event["details"]["score"] for event in scored] == [0.42]
        audited = {
            (event.details["view"], event.object_type): event.details.get("reports")
            or event.details.get("points")
            for event in named
            if "history" in event.details.get("section", "")
        }
        assert audited == {
            ("dealpoint_detail", "reports.report"): sorted(references),
            ("dealpoint_detail", "dealpoints.dealpoint"): [hidden_point],
            ("api_dealpoint_history", "reports.report"): sorted(references),
            ("api_dealpoint_history", "dealpoints.dealpoint"): [hidden_point],
        }
    else:
        for reference in [*references, hidden_point]:
            assert reference not in text and reference not in answered, reference
        assert "Signalement (non communiqué) : rattaché par un analyste" in history
        assert "Signalement (non communiqué) détaché" in history
        assert "(point non communiqué) fusionné dans ce point" in history
        assert "1 signalement non communiqué" in history
        merged = next(event for event in events if event["kind"] == "merged")
        assert merged["details"]["from"] is None
        assert merged["details"]["undisclosed"] == ["from"]
        assert merged["details"]["reports"] == []
        assert merged["details"]["reports_undisclosed"] == {"reports": 1}
        attached = next(
            event
            for event in events
            if event["kind"] == "report_attached" and "score" in event["details"]
        )
        assert attached["details"]["report"] is None
        # Nor its matching score (an API review: the API gave it, the page did not).
        assert attached["details"]["score"] is None
        # In no entry's details (the whole answer holds times whose microseconds may read
        # « .42 »: the check failed once on a clock's digits).
        assert not any("0.42" in json.dumps(event["details"]) for event in events)
        assert not named.filter(object_type="reports.report").exists()
        assert not any(hidden_point in event.details.get("points", []) for event in named)
    # What was written stays as it was.
    assert (
        list(DealPointEvent.objects.filter(dealpoint=point).values_list("details", flat=True))
        == stored
    )


# Keys of history details that hold values of the point or of the event, never a reference
# of another record (`selectors.HISTORY_*_KEYS` name those).
HISTORY_VALUE_KEYS = {
    "kind", "closed", "date", "decision", "ended", "operation", "outcome", "revised",
    "score", "status_kept", "origin_reference", "distribution", "marking", "sharing_group",
    "status_corrected", "cancelled", "operation_cancelled", "reopened", "unmerged", "decided",
    "undone", "report_placed", "move_undone",
}  # fmt: skip
# Details passed by name, not written as a literal where `_event` is called: what they hold.
HISTORY_DETAILS_BY_NAME = {
    "changes": "the point's own fields, old and new (EDITED)",
    "details": "a status change's: successor, previous_successor, operation, correction",
}


def test_every_key_a_history_entry_is_written_with_is_told_per_reader():
    """A new entry naming a report or a point under a new key would reach every reader of the
    point: each key written by the services is declared either as naming a record (told per
    reader by `dealpoint_history`) or as a value."""
    import ast
    from pathlib import Path

    from cartostup.dealpoints import flows, selectors

    naming = {
        *selectors.HISTORY_REPORT_KEYS,
        *selectors.HISTORY_REPORT_LIST_KEYS,
        *selectors.HISTORY_REPORT_MAP_KEYS,
        *selectors.HISTORY_POINT_KEYS,
        *selectors.HISTORY_POINT_LIST_KEYS,
        *selectors.HISTORY_INTERNAL_KEYS,
    }
    written: dict[str, int] = {}
    by_name: set[str] = set()
    for module in (services, flows):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in {"_event", "_alert_status_set"}:
                continue
            for keyword in node.keywords:
                if keyword.arg not in {"details", "event"}:
                    continue
                if isinstance(keyword.value, ast.Name):
                    by_name.add(keyword.value.id)
                for inner in ast.walk(keyword.value):
                    if isinstance(inner, ast.Dict):
                        for key in inner.keys:
                            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                                written[key.value] = node.lineno
    assert written, "no history entry found: the services were renamed?"
    assert by_name <= set(HISTORY_DETAILS_BY_NAME), by_name
    undeclared = set(written) - naming - HISTORY_VALUE_KEYS
    assert not undeclared, {key: written[key] for key in undeclared}
    # The status change's details (passed by name) name the successor points.
    assert {"successor", "previous_successor"} <= set(selectors.HISTORY_POINT_KEYS)


def test_a_merged_point_s_operations_stay_on_the_map_counted_for_one_place(
    world, client_for, persona
):
    """A raid recorded on a duplicate record was a raid there: merging the record keeps it on
    the operations layer (it left it, while the operations API still listed it). An
    aggregate-only role counts it for the point it lives in now: searches on three records of
    two places are not detailed as three points."""
    analyst = persona("cross13_analyst")
    kept, merged, third = world.points_13[2:5]
    # The duplicate record was placed across the street, in the next arrondissement (same
    # hexagon): the place is still one (review: counted once per commune, it read as two).
    other_commune = Commune.objects.exclude(pk=kept.commune_id).filter(
        departement=kept.departement
    )[0]
    DealPoint.objects.filter(pk=merged.pk).update(commune=other_commune)
    merged.refresh_from_db()
    for point in (kept, merged, third):
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(kind="search", occurred_on=date.today()),
        )
    # Raids on three places of the cluster (the world's on points_13[1]).
    for point in (world.points_13[0], third):
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(kind="raid", occurred_on=date.today()),
        )
    services.dealpoint_merge(actor=analyst, source=merged, target=kept)

    listed = _layer(client_for("cross13_analyst"), "map-operations", bbox=MARSEILLE_BBOX, zoom=16)
    references = [feature["properties"]["dealpoint_reference"] for feature in listed["features"]]
    assert references.count(merged.reference) == 1
    assert len(references) == 6  # the three raids, and the three searches
    api = client_for("cross13_analyst").get(
        reverse("dealpoints-api:operation-list"), {"kind": "search"}
    )
    assert api.json()["count"] == 3

    prefecture = client_for("prefecture_13")
    [hexagon] = _layer(prefecture, "map-operations", bbox=MARSEILLE_BBOX, zoom=16)["features"]
    # The hexagon's searches concern two places: they are counted, not detailed; nor are its
    # raids, which would tell the searches by difference (6 - 3).
    assert hexagon["properties"]["count"] == 6
    assert hexagon["properties"]["by_status"] == {}
    services.dealpoint_unmerge(actor=analyst, dealpoint=merged)
    [hexagon] = _layer(prefecture, "map-operations", bbox=MARSEILLE_BBOX, zoom=16)["features"]
    assert hexagon["properties"]["by_status"] == {"raid": 3, "search": 3}


def test_a_merged_point_s_operations_name_their_hexagon_after_where_they_are(
    world, client_for, persona
):
    """A hexagon is named after the commune where its operations are, never after the commune
    of the point a merged record now lives in, elsewhere, which the reader may not see
    (review)."""
    analyst = persona("cross13_analyst")
    kept, merged = world.points_13[2], world.points_13[3]
    other = Commune.objects.exclude(pk=kept.commune_id).filter(departement=kept.departement)[0]
    # The duplicate record was placed elsewhere, in another commune and hexagon (670 m off:
    # a merge joins records less than a kilometre apart).
    latitude, longitude = kept.latitude + 0.006, kept.longitude
    DealPoint.objects.filter(pk=merged.pk).update(
        commune=other,
        latitude=latitude,
        longitude=longitude,
        **services.cells_for(latitude, longitude),
    )
    merged.refresh_from_db()
    assert merged.h3_r9 != kept.h3_r9
    services.operation_record(
        actor=analyst,
        dealpoint=merged,
        data=services.OperationInput(kind="search", occurred_on=date.today()),
    )
    services.dealpoint_merge(actor=analyst, source=merged, target=kept)
    layer = _layer(client_for("cross13_analyst"), "map-operations", bbox=MARSEILLE_BBOX, zoom=13)
    by_cell = {f["properties"]["cell"]: f["properties"] for f in layer["features"]}
    assert by_cell[merged.h3_r9]["place"] == other.name


@pytest.mark.parametrize(
    ("username", "path", "object_type", "action"),
    [
        ("cross69_analyst", "/points-de-deal/{pk}/", POINT, "view"),
        ("cross69_analyst", "/carte/panneau/{pk}/", POINT, "view"),
        ("cross69_analyst", "/api/v1/dealpoints/{pk}/", POINT, "view"),
        ("cross69_analyst", "/api/v1/dealpoints/{pk}/history/", POINT, "view"),
        ("cross69_analyst", "/points-de-deal/{pk}/modifier/", POINT, "change"),
        ("landlord_13l", "/points-de-deal/code/{code}/", POINT, "view"),
        ("landlord_13l", "/api/v1/dealpoints/code/{code}/", POINT, "view"),
        ("cross69_analyst", "/signalements/{report}/", REPORT, "view"),
    ],
)  # fmt: skip
def test_a_refused_record_is_audited_and_answered_as_absent(
    world, client_for, persona, username, path, object_type, action
):
    """An actor trying the address of a record it may not see (another CROSS's point, another
    landlord's code, a report of another département) gets the 404 of an absent record, and
    the audit trail names the record it was refused; an absent record leaves no such event."""
    from cartostup.dealpoints.tests.factories import accepted_report

    analyst = persona("cross13_analyst")
    point = world.landlord_point
    report = accepted_report(analyst=analyst)
    services.report_attach(actor=analyst, dealpoint=point, report=report)
    target = {POINT: point.pk, REPORT: report.pk}[object_type]
    client = client_for(username)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    refused = client.get(path.format(pk=point.pk, code=point.partner_code, report=report.pk))

    assert refused.status_code == 404
    event = AuditEvent.objects.get(pk__gt=last, action=AuditAction.REFUSED)
    assert (event.actor_id, event.object_type, event.object_id) == (
        persona(username).pk,
        object_type,
        str(target),
    )
    assert event.details["action"] == action
    assert not AuditEvent.objects.filter(pk__gt=last, action=AuditAction.VIEW).exists()
    # The same answer as for a record that does not exist, which leaves no refusal.
    last = event.pk
    absent_path = path.format(pk=10**9, code="00000-00000", report=10**9)
    absent = client.get(absent_path)
    assert absent.status_code == 404
    assert _per_request_parts_out(absent, absent_path) == _per_request_parts_out(
        refused, path.format(pk=point.pk, code=point.partner_code, report=report.pk)
    )
    assert not AuditEvent.objects.filter(pk__gt=last, action=AuditAction.REFUSED).exists()


def _per_request_parts_out(response, path: str) -> str:
    """The page without what differs on every request (CSRF token, script nonce) or with the
    address asked (the « Se reconnecter » link)."""
    text = response.content.decode().replace(path, "PATH")
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", text)
    return re.sub(r'nonce="[^"]+"', "NONCE", text)


def test_no_reader_is_told_the_id_of_an_alert_in_a_history(client_for, persona):
    """An alert is an analyst's record: its id in the history's details told an investigator
    that one existed (and how many were made before it). The entry says what it was."""
    from cartostup.dealpoints import flows
    from cartostup.dealpoints.tests.test_flows import dismantled_point, report_near

    analyst = persona("cross13_analyst")
    point = dismantled_point(analyst)
    (alert,) = flows.report_match(report=report_near(analyst, 30)).alerts
    assert point.events.filter(kind="alert").get().details["alert"] == alert.pk
    for username in ("cross13_analyst", "police13_investigator"):
        history = client_for(username).get(f"/api/v1/dealpoints/{point.pk}/history/").json()
        entries = history["results"] if isinstance(history, dict) else history
        told = [entry for entry in entries if entry["kind"] == "alert"]
        assert len(told) == 1, username
        assert "alert" not in told[0]["details"], username
        assert told[0]["details"]["kind"] == alert.kind


def _one_res5_hexagon_of_small_groups(analyst) -> dict[str, int]:
    """In one res 5 hexagon A: res 7 hexagons B (3 + 2 points in two res 9 cells b1, b2), C
    (3, in c1) and D (2, in d1). Returns {res 9 cell: points}."""
    from cartostup.dealpoints.tests.factories import dealpoint

    b1 = h3.latlng_to_cell(43.3452, 5.3949, 9)
    b2 = next(
        cell
        for cell in sorted(h3.grid_disk(b1, 1))
        if cell != b1 and h3.cell_to_parent(cell, 7) == h3.cell_to_parent(b1, 7)
    )
    c1 = h3.latlng_to_cell(43.3300, 5.4200, 9)
    d1 = h3.latlng_to_cell(43.3110, 5.3800, 9)
    cells = {b1: 3, b2: 2, c1: 3, d1: 2}
    assert len({h3.cell_to_parent(cell, 5) for cell in cells}) == 1
    assert len({h3.cell_to_parent(cell, 7) for cell in cells}) == 3
    for cell, number in cells.items():
        latitude, longitude = h3.cell_to_latlng(cell)
        for index in range(number):
            dealpoint(
                actor=analyst,
                latitude=latitude + 0.00002 * index,
                longitude=longitude,
                building_id=None,
            )
    return cells


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_aggregate_zooms_tell_by_difference_no_fewer_than_the_minimum(
    client_for, persona, username
):
    """A hexagon of 38 points at one zoom whose shown hexagons at the next add up to 37 says
    that one point lies alone in the rest of it (found by an audit in the demo). For every
    hexagon an aggregate-only role is shown, at any zoom, its count less those of its nearest
    shown hexagons inside it, at every finer zoom together, is nought or at least the
    minimum; the counts add up along H3's hierarchy. Here, in one res 5 hexagon A: res 7
    hexagons B (3 + 2 points in two res 9 cells), C (3) and D (2). Shown alone, C at res 7 or
    its cell at res 9 would leave D's two points to be read as A - B - C (a review found the
    second: C hidden at res 7, its cell shown at res 9)."""
    cells = _one_res5_hexagon_of_small_groups(persona("cross13_analyst"))
    b1 = next(iter(cells))
    client = client_for(username)
    bbox = "5.25,43.20,5.55,43.45"
    shown = {
        resolution: _counts(_layer(client, bbox=bbox, zoom=zoom))
        for resolution, zoom in ((5, 6), (7, 9), (9, 12))
    }
    minimum = 3
    assert shown[5] == {h3.cell_to_parent(b1, 5): 10}
    assert shown[7] == {h3.cell_to_parent(b1, 7): 5}
    assert shown[9] == {}
    # The rule, over every zoom together: each shown cell less its nearest shown descendants.
    every = [
        (resolution, cell, count)
        for resolution in shown
        for cell, count in shown[resolution].items()
    ]
    for resolution, cell, count in every:
        nearest = 0
        for finer, inner, inner_count in every:
            if finer <= resolution or h3.cell_to_parent(inner, resolution) != cell:
                continue
            between = [
                level
                for level in (7,)
                if resolution < level < finer and h3.cell_to_parent(inner, level) in shown[level]
            ]
            if not between:
                nearest += inner_count
        remainder = count - nearest
        assert remainder == 0 or remainder >= minimum, (resolution, cell, count, remainder)


def _nought_or_at_least(value: int, minimum: int = 3) -> bool:
    return value == 0 or value >= minimum


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_aggregate_statuses_tell_by_difference_no_fewer_than_the_minimum(client_for, persona, seed):
    """An audit read, as a prosecutor, « Confirmé : 8 » in a hexagon and 4 and 3 in the two
    hexagons shown inside it at the next zoom: one confirmed point lay alone in the rest. And
    `status=dismantled` showed four points in a hexagon the unfiltered map hid, named after
    the arrondissement holding most of them. In random worlds of small groups of mixed
    statuses, at every zoom: each status a hexagon shows, less what its nearest shown
    hexagons inside it show of it, is nought or at least the minimum, and a hexagon tells
    every status it holds or none; a status filter shows exactly the unfiltered hexagons' count of
    that status, named as unfiltered; the hotspots of a status count what the finest zoom
    shows of it."""
    from cartostup.dealpoints.tests.factories import scattered_points

    statuses = ["reported", "confirmed", "dismantled"]
    scattered_points(
        actor=persona("cross13_analyst"),
        rng=random.Random(seed),
        groups=25,
        south_west=(43.29, 5.37),
        north_east=(43.37, 5.45),
        spread=0.003,
        per_group=6,
        statuses=statuses,
    )
    client = client_for("prosecutor_13")
    bbox = "5.25,43.20,5.55,43.45"
    zooms = {5: 6, 7: 9, 9: 12}

    def shown(**filters: Any) -> dict[int, dict[str, dict[str, Any]]]:
        return {
            resolution: {
                f["properties"]["cell"]: f["properties"]
                for f in _layer(client, bbox=bbox, zoom=zoom, **filters)["features"]
            }
            for resolution, zoom in zooms.items()
        }

    unfiltered = shown()
    told = sum(len(p["by_status"]) for cells in unfiltered.values() for p in cells.values())
    assert told > 0  # the rule leaves statuses to read
    # The statuses each hexagon holds, along H3's hierarchy from the points' res 9 cells.
    truth: dict[tuple[int, str], set[str]] = {}
    for cell, status in DealPoint.objects.values_list("h3_r9", "status"):
        for resolution in zooms:
            truth.setdefault((resolution, h3.cell_to_parent(cell, resolution)), set()).add(status)
    for resolution, cells in unfiltered.items():
        for cell, properties in cells.items():
            by_status = properties["by_status"]
            # Every status it holds, or none (one or two hidden beside others shown would be
            # told by the count less them, with what the zoom above says).
            if by_status:
                assert set(by_status) == truth[(resolution, cell)], (resolution, cell)
                assert sum(by_status.values()) == properties["count"], (resolution, cell)
            for status, count in by_status.items():
                # Its nearest shown hexagons inside it with that status, at every finer zoom.
                nearest = 0
                for finer in (level for level in zooms if level > resolution):
                    for inner, inner_properties in unfiltered[finer].items():
                        if status not in inner_properties["by_status"]:
                            continue
                        if h3.cell_to_parent(inner, resolution) != cell:
                            continue
                        between = [
                            level
                            for level in zooms
                            if resolution < level < finer
                            and status
                            in unfiltered[level]
                            .get(h3.cell_to_parent(inner, level), {})
                            .get("by_status", {})
                        ]
                        if not between:
                            nearest += inner_properties["by_status"][status]
                assert _nought_or_at_least(count - nearest), (resolution, cell, status)
    for status in statuses:
        filtered = shown(status=status)
        for resolution, cells in filtered.items():
            assert {cell: p["count"] for cell, p in cells.items()} == {
                cell: p["by_status"][status]
                for cell, p in unfiltered[resolution].items()
                if status in p["by_status"]
            }, (status, resolution)
            for cell, properties in cells.items():
                assert properties["by_status"] == {status: properties["count"]}
                assert properties["place"] == unfiltered[resolution][cell]["place"]
        hotspots = _layer(client, "map-hotspots", departement="13", status=status)
        assert {
            f["properties"]["cell"]: f["properties"]["count"]
            for f in hotspots["features"]
            if f["properties"]["count"]
        } == {cell: p["count"] for cell, p in filtered[9].items()}, status


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_the_hotspots_count_the_cells_the_finest_zoom_shows(client_for, persona, username):
    """The hotspots page hid each res 9 cell on its own: it showed b1 and c1 (three points
    each), which the map hides for its zooms to add up, and with the map's res 7 hexagon B
    (five points) told that b1's neighbour b2 held two. The hotspots count the cells the map's
    finest zoom shows, with the same counts: here only E, four points alone in another res 5
    hexagon."""
    from cartostup.dealpoints.tests.factories import dealpoint

    analyst = persona("cross13_analyst")
    cells = _one_res5_hexagon_of_small_groups(analyst)
    for index in range(4):
        dealpoint(
            actor=analyst, latitude=43.2700 + 0.00002 * index, longitude=5.4000, building_id=None
        )
    e1 = h3.latlng_to_cell(43.2700, 5.4000, 9)
    assert h3.cell_to_parent(e1, 5) not in {h3.cell_to_parent(cell, 5) for cell in cells}
    client = client_for(username)
    finest = _counts(_layer(client, bbox="5.25,43.20,5.55,43.45", zoom=12))
    hotspots = _layer(client, "map-hotspots", departement="13")
    counted = {
        feature["properties"]["cell"]: feature["properties"]["count"]
        for feature in hotspots["features"]
        if feature["properties"]["count"]
    }
    assert finest == {e1: 4}
    assert counted == finest
    # What the analysts count is unchanged: every cell, each on its own.
    analysts = _layer(client_for("cross13_analyst"), "map-hotspots", departement="13")
    assert {
        feature["properties"]["cell"]: feature["properties"]["count"]
        for feature in analysts["features"]
        if feature["properties"]["count"]
    } == {**cells, e1: 4}


def test_a_merged_points_code_is_absent_not_refused(world, client_for, persona):
    """A code of a point merged into another finds nothing (codes find points standing on
    their own): a reader who may see both is not recorded as refused (a review found the
    existence checked over every point, merged ones included)."""
    analyst = persona("cross13_analyst")
    merged, kept = world.points_13[4], world.points_13[3]
    services.dealpoint_merge(actor=analyst, source=merged, target=kept)
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client_for("cross13_analyst").get(f"/points-de-deal/code/{merged.partner_code}/")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(pk__gt=last, action=AuditAction.REFUSED).exists()


@pytest.mark.parametrize("username", ["prefecture_13", "prosecutor_13"])
def test_a_place_and_its_merged_duplicate_in_two_cells_count_once(client_for, persona, username):
    """Counted by the finest cells then summed, a place with a duplicate merged into it in
    another cell counted in both: two raided places read as three and passed the minimum (a
    review). Each place counts once, in its own cell."""
    from cartostup.dealpoints.tests.factories import dealpoint

    analyst = persona("cross13_analyst")
    first = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949, building_id=None)
    duplicate = dealpoint(actor=analyst, latitude=43.3500, longitude=5.3949, building_id=None)
    second = dealpoint(actor=analyst, latitude=43.3440, longitude=5.3975, building_id=None)
    assert len({first.h3_r9, duplicate.h3_r9}) == 2
    assert len({h3.cell_to_parent(p.h3_r9, 7) for p in (first, duplicate, second)}) == 1
    for point in (first, duplicate, second):
        services.operation_record(
            actor=analyst,
            dealpoint=point,
            data=services.OperationInput(kind="raid", occurred_on=date.today()),
        )
    services.dealpoint_merge(actor=analyst, source=duplicate, target=first)
    client = client_for(username)
    for zoom in (6, 9, 12):
        layer = _layer(client, "map-operations", bbox=MARSEILLE_BBOX, zoom=zoom)
        assert layer["features"] == [], (zoom, layer["features"])
    # An analyst sees the three raids.
    analyst_layer = _layer(
        client_for("cross13_analyst"), "map-operations", bbox=MARSEILLE_BBOX, zoom=9
    )
    assert sum(f["properties"]["count"] for f in analyst_layer["features"]) == 3
