"""Hotspots: Getis-Ord Gi* on H3 counts with an FDR correction, on constructed cases, and the
hotspots layer as each persona receives it."""

from __future__ import annotations

import itertools
import math
import random

import h3
import numpy as np
import pytest
from django.urls import reverse
from scipy import stats

from cartostup.core.models import AuditEvent
from cartostup.dealpoints.hotspots import (
    HotspotClass,
    gi_star,
    p_value_rounded,
    study_area,
    sum_distributions,
)
from cartostup.dealpoints.tests.factories import dealpoint

MARSEILLE_14 = (43.3452, 5.3949)


def _constructed_counts() -> tuple[str, dict[str, int]]:
    """A dense estate (its cell and the six around it hold 8 points each) amid points
    scattered one by one over Marseille."""
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    counts = {cell: 8 for cell in h3.grid_disk(centre, 1)}
    rng = random.Random(7)
    for _ in range(60):
        cell = h3.latlng_to_cell(43.20 + rng.random() * 0.3, 5.20 + rng.random() * 0.4, 9)
        if cell not in counts:
            counts[cell] = 1
    return centre, counts


def test_study_area_adds_empty_neighbours():
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    assert study_area({centre: 3}) == sorted(h3.grid_disk(centre, 1))
    assert study_area({}) == []


def test_a_dense_cluster_is_hot_and_the_fdr_cut_off_applies():
    centre, counts = _constructed_counts()
    result = gi_star(counts)
    by_cell = {cell.cell: cell for cell in result.cells}
    assert by_cell[centre].classification == HotspotClass.HOT
    assert by_cell[centre].z > 3
    # Every cell of the estate is hot; no isolated single point is.
    for cell in h3.grid_disk(centre, 1):
        assert by_cell[cell].classification == HotspotClass.HOT
    isolated = [c for c in result.cells if c.count == 1 and c.cell not in h3.grid_disk(centre, 2)]
    assert isolated and all(c.classification != HotspotClass.HOT for c in isolated)
    # FDR: the cut-off is below alpha, and a cell is significant only under the cut-off.
    assert 0 < result.p_threshold < 0.05
    for cell in result.cells:
        significant = cell.classification != HotspotClass.NOT_SIGNIFICANT
        assert significant == (cell.p < result.p_threshold and cell.z != 0)
    # Deterministic: the same answer twice.
    assert gi_star(counts) == result


def test_uniform_counts_have_no_hotspot():
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    counts = {cell: 2 for cell in h3.grid_disk(centre, 3)}
    result = gi_star(counts)
    assert all(c.classification != HotspotClass.HOT for c in result.cells if c.count == 2)


def _scattered(number: int, seed: int) -> dict[str, int]:
    """Single points scattered over Marseille, apart from each other (no disk holds two)."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    while len(counts) < number:
        cell = h3.latlng_to_cell(43.20 + rng.random() * 0.3, 5.20 + rng.random() * 0.4, 9)
        if not any(other in counts for other in h3.grid_disk(cell, 2)):
            counts[cell] = 1
    return counts


def test_scattered_single_points_are_neither_hot_nor_cold():
    """The audit's case: single points among zeros. Each one's disk holds what the average disk
    holds (z about 0); the permutations used to call such cells cold at p = 0.001 (every
    permuted disk tied with the observed one, and ties were folded into the lower tail)."""
    result = gi_star(_scattered(40, seed=3))
    # Nothing passes: esda's cut-off is then Bonferroni's, which nothing passes either.
    assert result.p_threshold == pytest.approx(0.05 / len(result.cells))
    assert all(c.classification == HotspotClass.NOT_SIGNIFICANT for c in result.cells)
    occupied = [c for c in result.cells if c.count]
    assert len(occupied) == 40
    assert all(abs(c.z) < 0.4 and c.p > 0.3 for c in occupied)


def test_a_cluster_among_scattered_points_is_hot_and_no_occupied_cell_is_cold():
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    counts = {
        cell: n for cell, n in _scattered(60, seed=11).items() if h3.grid_distance(cell, centre) > 3
    }
    counts.update({cell: 4 for cell in h3.grid_disk(centre, 1)})
    # The prefecture's case: lone cells of 3 and 4 points among empty neighbours.
    lone = [h3.latlng_to_cell(43.43, 5.25, 9), h3.latlng_to_cell(43.45, 5.30, 9)]
    counts.update({lone[0]: 3, lone[1]: 4})
    result = gi_star(counts)
    by_cell = {c.cell: c for c in result.cells}
    assert by_cell[centre].classification == HotspotClass.HOT
    assert all(by_cell[cell].classification == HotspotClass.NOT_SIGNIFICANT for cell in lone)
    assert all(by_cell[cell].classification == HotspotClass.HOT for cell in h3.grid_disk(centre, 1))
    assert not [c for c in result.cells if c.count and c.classification == HotspotClass.COLD]
    # Every significant cell's class agrees with the sign of its z.
    for c in result.cells:
        if c.classification == HotspotClass.HOT:
            assert c.z > 0
        if c.classification == HotspotClass.COLD:
            assert c.z < 0


@pytest.mark.parametrize("seed", range(5))
def test_a_small_z_is_never_significant(seed):
    """Whatever the counts, p is at least the two-sided normal p of z: |z| < 0.4 gives p > 0.68
    and is never significant, even where a cluster makes the FDR cut-off generous."""
    rng = random.Random(seed)
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    counts = {cell: rng.choice([0, 1, 1, 2, 7]) for cell in h3.grid_disk(centre, 6)}
    counts.update({cell: 9 for cell in h3.grid_disk(centre, 1)})
    result = gi_star(counts)
    assert result.p_threshold > 0
    for c in result.cells:
        assert c.p >= 2 * stats.norm.sf(abs(c.z)) - 1e-12
        if abs(c.z) < 0.4:
            assert c.p > 0.68 and c.classification == HotspotClass.NOT_SIGNIFICANT


def test_z_is_gi_star_standardised_under_randomisation():
    """z (esda's Gi*, binary weights, the cell itself included) is the disk's sum standardised
    with the exact mean and variance of as many cells drawn at random from those studied:
    the same hypothesis as the exact p-values. (With row-standardised weights, as before,
    esda's variance shrank z about 2.5 times.)"""
    centre, counts = _constructed_counts()
    result = gi_star(counts)
    values = np.array([float(c.count) for c in result.cells])
    n, mean, variance = len(values), values.mean(), values.var()
    index = {c.cell: position for position, c in enumerate(result.cells)}
    for c in result.cells:
        disk = [index[o] for o in h3.grid_disk(c.cell, 1) if o in index]
        size = len(disk)
        expected = (values[disk].sum() - size * mean) / math.sqrt(
            variance * size * (n - size) / (n - 1)
        )
        assert c.z == pytest.approx(expected)


def test_sum_distributions_are_exact():
    values = [0, 0, 0, 1, 1, 2, 5]
    distributions = sum_distributions(values, 3)
    for size in range(4):
        sums = [sum(draw) for draw in itertools.combinations(values, size)]
        expected = np.bincount(sums, minlength=len(distributions[size])) / math.comb(7, size)
        assert np.allclose(distributions[size], expected)


@pytest.fixture
def estate(persona):
    """An estate of seven adjacent res 9 cells holding three points each (a hotspot is a
    high count among high counts), and three points scattered over the city."""
    analyst = persona("cross13_analyst")
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    points = []
    for cell in sorted(h3.grid_disk(centre, 1)):
        latitude, longitude = h3.cell_to_latlng(cell)
        for offset in (-0.0002, 0.0, 0.0002):
            points.append(dealpoint(actor=analyst, latitude=latitude + offset, longitude=longitude))
    for latitude, longitude in ((43.2960, 5.3700), (43.3110, 5.3800), (43.2700, 5.4000)):
        points.append(dealpoint(actor=analyst, latitude=latitude, longitude=longitude))
    return points


@pytest.mark.django_db
def test_hotspot_layer_for_an_analyst(estate, client_for):
    response = client_for("cross13_analyst").get(reverse("map-hotspots"), {"departement": "13"})
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["inference"] == "exact_randomisation" and body["meta"]["min_count"] == 1
    hot = [f for f in body["features"] if f["properties"]["class"] == "hot"]
    assert hot and body["meta"]["hot"] == len(hot)
    assert max(f["properties"]["count"] for f in hot) >= 3
    # The three scattered points used to be cold at p = 0.001 (z about -0.4).
    assert body["meta"]["cold"] == 0
    for feature in body["features"]:
        properties = feature["properties"]
        if properties["count"] == 1:
            assert properties["class"] == "not_significant" and properties["p"] > 0.3
    # Zero-count neighbours are studied (and sent to analysts).
    assert any(f["properties"]["count"] == 0 for f in body["features"])
    # Each counted cell is named after its commune, as a hexagon is (the map's table listed
    # raw H3 ids); an empty one has nothing to be named after.
    for feature in body["features"]:
        properties = feature["properties"]
        assert bool(properties["place"]) == (properties["count"] > 0), properties
    assert {f["properties"]["place"] for f in hot} == {"Marseille 14e Arrondissement"}
    event = AuditEvent.objects.latest("pk")
    assert event.details["layer"] == "hotspots"
    assert event.details["filters"]["departement"] == "13"


@pytest.mark.django_db
def test_a_very_small_p_value_is_sent_as_it_is_not_as_zero(estate, client_for):
    """User audit: p was rounded to four decimals, so the estate's centre (p about 1e-7) was
    sent as 0 and the map's table said « p 0 ». It is sent to three significant digits, still
    a JSON number (the page writes it « p < 0,001 »)."""
    response = client_for("cross13_analyst").get(reverse("map-hotspots"), {"departement": "13"})
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    (properties,) = [
        f["properties"] for f in response.json()["features"] if f["properties"]["cell"] == centre
    ]
    assert properties["class"] == "hot"
    assert isinstance(properties["p"], float) and 0 < properties["p"] < 0.001
    counts = {cell: 3 for cell in h3.grid_disk(centre, 1)}
    for latitude, longitude in ((43.2960, 5.3700), (43.3110, 5.3800), (43.2700, 5.4000)):
        counts[h3.latlng_to_cell(latitude, longitude, 9)] = 1
    (exact,) = [cell.p for cell in gi_star(counts).cells if cell.cell == centre]
    assert properties["p"] == pytest.approx(exact, rel=1e-2)


def test_p_values_keep_three_significant_digits():
    assert p_value_rounded(1.072756490713147e-07) == 1.07e-07
    assert p_value_rounded(0.021812357) == 0.0218
    assert p_value_rounded(1.0) == 1.0


@pytest.mark.django_db
def test_hotspot_layer_for_a_prefecture_hides_small_cells(estate, persona, client_for):
    # A third point outside the estate in its res 5 hexagon: with two, the map (and so the
    # hotspots) would hide one of the estate's cells, lest its res 5 hexagon less the
    # estate's cells tell of them (test_need_to_know).
    dealpoint(actor=persona("cross13_analyst"), latitude=43.2962, longitude=5.3700)
    response = client_for("prefecture_13").get(reverse("map-hotspots"), {"departement": "13"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "PD-" not in text and "reference" not in text
    features = response.json()["features"]
    assert features and all(f["properties"]["count"] >= 3 for f in features)
    assert response.json()["meta"]["min_count"] == 3
    # The estate's centre is hot, and nothing is cold.
    assert response.json()["meta"]["cold"] == 0
    assert any(f["properties"]["class"] == "hot" for f in features)
    # Named only by a commune counting at least three of the cell's points (as a hexagon).
    assert {f["properties"]["place"] for f in features} == {"Marseille 14e Arrondissement"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "params", "status"),
    [
        ("prefecture_93", {"departement": "13"}, 404),
        ("cross93_analyst", {"departement": "13"}, 404),
        ("landlord_13h", {"departement": "13"}, 404),
        ("police13_investigator", {"departement": "13", "counted": "reports"}, 404),
        ("cross13_analyst", {"departement": "13", "counted": "reports"}, 200),
        ("cross13_analyst", {"departement": "13", "counted": "calls"}, 400),
        ("cross13_analyst", {}, 400),
        ("cross13_analyst", {"departement": "13", "period_from": "2026-02-01",
                             "period_to": "2026-01-01"}, 400),
    ],
)  # fmt: skip
def test_hotspot_layer_refusals(client_for, username, params, status):
    response = client_for(username).get(reverse("map-hotspots"), params)
    assert response.status_code == status


# --- the filters the deal-points layer honours --------------------------------------------------

# A second estate, in Marseille 13e, far from the first (Marseille 14e).
MARSEILLE_13 = (43.3790, 5.4260)


def _estate_points(analyst, centre_latlng, **changes):
    """Seven adjacent res 9 cells holding three points each; returns (centre cell, points)."""
    centre = h3.latlng_to_cell(*centre_latlng, 9)
    points = []
    for cell in sorted(h3.grid_disk(centre, 1)):
        latitude, longitude = h3.cell_to_latlng(cell)
        for offset in (-0.0002, 0.0, 0.0002):
            points.append(
                dealpoint(actor=analyst, latitude=latitude + offset, longitude=longitude, **changes)
            )
    return centre, points


@pytest.fixture
def two_estates(persona):
    """Estate A (Marseille 14e): its points dismantled, but one of its centre's three still
    reported. Estate B (Marseille 13e): reported, selling crack from a drive. Three points
    scattered over the city, reported."""
    from cartostup.dealpoints.models import DealPoint

    analyst = persona("cross13_analyst")
    centre_a, points_a = _estate_points(analyst, MARSEILLE_14)
    centre_b, points_b = _estate_points(analyst, MARSEILLE_13, products=["crack"], channel="drive")
    for latitude, longitude in ((43.2960, 5.3700), (43.3110, 5.3800), (43.2700, 5.4000)):
        dealpoint(actor=analyst, latitude=latitude, longitude=longitude)
    still_reported = next(p for p in points_a if p.h3_r9 == centre_a)
    DealPoint.objects.filter(pk__in=[p.pk for p in points_a]).exclude(pk=still_reported.pk).update(
        status="dismantled"
    )
    return {"analyst": analyst, "a": centre_a, "b": centre_b, "points_a": points_a}


def _cells(layer):
    return {f["properties"]["cell"]: f["properties"] for f in layer["features"]}


@pytest.mark.django_db
def test_a_status_filter_changes_which_points_the_hotspots_count(two_estates):
    """The hotspots counted every point whatever the map's status filter: estate A, all but
    one of its points dismantled, was as hot as estate B. With the deal-points layer's status
    filter, each estate is hot only among the points of the status asked, and its cells count
    only those."""
    from cartostup.dealpoints.hotspots import hotspot_layer

    analyst, a, b = two_estates["analyst"], two_estates["a"], two_estates["b"]
    whole = _cells(hotspot_layer(actor=analyst, departement_code="13"))
    assert whole[a]["count"] == 3 and whole[a]["class"] == "hot"
    assert whole[b]["count"] == 3 and whole[b]["class"] == "hot"
    reported = _cells(hotspot_layer(actor=analyst, departement_code="13", statuses=["reported"]))
    # Estate A's centre keeps its one reported point, alone: counted 1, no longer hot.
    assert reported[a]["count"] == 1 and reported[a]["class"] == "not_significant"
    assert reported[b]["count"] == 3 and reported[b]["class"] == "hot"
    dismantled = _cells(
        hotspot_layer(actor=analyst, departement_code="13", statuses=["dismantled"])
    )
    assert dismantled[a]["count"] == 2 and dismantled[a]["class"] == "hot"
    assert b not in dismantled  # neither counted nor studied
    # Several statuses, as on the deal-points layer (analysts are not limited to one).
    both = _cells(
        hotspot_layer(actor=analyst, departement_code="13", statuses=["reported", "dismantled"])
    )
    assert both[a]["count"] == 3 and both[b]["count"] == 3
    # The audit lists the filters applied, as the deal-points layer's does.
    event = AuditEvent.objects.latest("pk")
    assert event.details["layer"] == "hotspots"
    assert event.details["filters"] == {
        "departement": "13",
        "source": "dealpoints",
        "status": "reported, dismantled",
    }


@pytest.mark.django_db
def test_product_and_channel_filters_change_which_points_the_hotspots_count(two_estates):
    from cartostup.dealpoints.hotspots import hotspot_layer

    analyst, a, b = two_estates["analyst"], two_estates["a"], two_estates["b"]
    crack = _cells(hotspot_layer(actor=analyst, departement_code="13", products=["crack"]))
    assert crack[b]["class"] == "hot" and a not in crack
    drive = _cells(hotspot_layer(actor=analyst, departement_code="13", channels=["drive"]))
    assert drive == crack
    fixed_cannabis = _cells(
        hotspot_layer(
            actor=analyst, departement_code="13", products=["cannabis"], channels=["fixed"]
        )
    )
    assert fixed_cannabis[a]["count"] == 3 and b not in fixed_cannabis
    event = AuditEvent.objects.latest("pk")
    assert event.details["filters"] == {
        "departement": "13",
        "source": "dealpoints",
        "product": "cannabis",
        "channel": "fixed",
    }


@pytest.mark.django_db
def test_the_hotspots_period_means_active_during_it(two_estates):
    """The hotspots' period meant « last activity in the period », the deal-points layer's
    « active during the period » (seen by its end, active since its start): estate A, seen
    two months ago and active today, was active all through last month but was not counted
    for it. Estate B, first seen last week, was not active then."""
    from datetime import timedelta

    from django.utils import timezone

    from cartostup.dealpoints.hotspots import hotspot_layer
    from cartostup.dealpoints.models import DealPoint

    analyst, a, b = two_estates["analyst"], two_estates["a"], two_estates["b"]
    now = timezone.now()
    DealPoint.objects.update(
        first_reported_at=now - timedelta(days=60), created_at=now - timedelta(days=60)
    )
    DealPoint.objects.filter(h3_r9__in=h3.grid_disk(b, 1)).update(
        first_reported_at=now - timedelta(days=7), created_at=now - timedelta(days=7)
    )
    DealPoint.objects.update(last_activity_at=now)
    start, end = (now - timedelta(days=40)).date(), (now - timedelta(days=20)).date()
    layer = hotspot_layer(actor=analyst, departement_code="13", period_from=start, period_to=end)
    cells = _cells(layer)
    assert cells[a]["count"] == 3 and cells[a]["class"] == "hot"
    assert b not in cells
    # The same points as the deal-points layer's filter set selects for that period.
    from cartostup.dealpoints.filters import DealPointFilterSet

    selected = DealPointFilterSet(
        {"active_from": start.isoformat(), "active_to": end.isoformat()},
        queryset=DealPoint.objects.all(),
    ).qs
    assert sum(f["properties"]["count"] for f in layer["features"]) == selected.count()
    event = AuditEvent.objects.latest("pk")
    assert event.details["filters"]["period_from"] == start.isoformat()
    assert event.details["filters"]["period_to"] == end.isoformat()


NOT_APPLYING = "Ce filtre ne s'applique qu'aux points de deal (counted=dealpoints)."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"status": "reported"}, {"status": [NOT_APPLYING]}),
        ({"product": "crack", "channel": "drive"},
         {"product": [NOT_APPLYING], "channel": [NOT_APPLYING]}),
    ],
)  # fmt: skip
def test_a_deal_point_filter_on_reports_is_refused_in_french(client_for, persona, params, errors):
    """Counting reports reads the period only: a deal points' filter sent with counted=reports
    is a 400 naming it, never ignored (the count would read as filtered); nothing is read."""
    client = client_for("cross13_analyst")
    base = {"departement": "13", "counted": "reports"}
    assert client.get(reverse("map-hotspots"), base).status_code == 200
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client.get(reverse("map-hotspots"), {**base, **params})
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not AuditEvent.objects.filter(pk__gt=last, actor_id=persona("cross13_analyst").pk)
    # The period does apply to reports.
    dated = client.get(reverse("map-hotspots"), {**base, "period_from": "2026-11-01"})
    assert dated.status_code == 200
    event = AuditEvent.objects.latest("pk")
    assert event.details["filters"] == {
        "departement": "13",
        "source": "reports",
        "period_from": "2026-11-01",
    }


@pytest.mark.django_db
def test_the_hotspots_api_takes_the_deal_point_layers_filters(two_estates, client_for):
    client = client_for("cross13_analyst")
    a = two_estates["a"]
    response = client.get(
        reverse("map-hotspots"), {"departement": "13", "status": ["dismantled", "reported"]}
    )
    assert response.status_code == 200
    assert _cells(response.json())[a]["count"] == 3
    only = client.get(reverse("map-hotspots"), {"departement": "13", "status": "dismantled"})
    assert _cells(only.json())[a]["count"] == 2
    # Unknown values: 400 in French, as on the deal-points layer.
    bogus = client.get(reverse("map-hotspots"), {"departement": "13", "status": "bogus"})
    assert bogus.status_code == 400
    assert bogus.json()["errors"]["status"][0].startswith("Valeur inconnue (valeurs acceptées")
    layer = client.get(
        reverse("map-dealpoints"), {"bbox": "5.3,43.2,5.5,43.4", "zoom": 12, "status": "bogus"}
    )
    assert layer.json()["errors"] == bogus.json()["errors"]
    product = client.get(reverse("map-hotspots"), {"departement": "13", "product": "bogus"})
    assert product.status_code == 400 and "product" in product.json()["errors"]


@pytest.mark.django_db
def test_the_schema_documents_the_hotspots_filters(client):
    import json

    schema = json.loads(client.get(reverse("api-schema"), {"format": "json"}).content)
    operation = schema["paths"]["/api/v1/map/hotspots/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert {"status", "product", "channel", "period_from", "period_to"} <= set(parameters)
    dealpoints = {
        p["name"]: p for p in schema["paths"]["/api/v1/map/dealpoints/"]["get"]["parameters"]
    }
    for name in ("status", "product", "channel"):
        assert parameters[name]["schema"] == dealpoints[name]["schema"], name
    assert "counted=reports" in operation["description"]
