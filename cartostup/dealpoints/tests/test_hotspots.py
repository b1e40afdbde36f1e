"""Hotspots: Getis-Ord Gi* on H3 counts with an FDR correction, on a constructed case, and the
hotspots layer as each persona receives it."""

from __future__ import annotations

import random

import h3
import pytest
from django.urls import reverse

from cartostup.core.models import AuditEvent
from cartostup.dealpoints.hotspots import HotspotClass, gi_star, study_area
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
        assert significant == (cell.p <= result.p_threshold and cell.z != 0)
    # Seeded: the same answer twice.
    assert gi_star(counts) == result


def test_uniform_counts_have_no_hotspot():
    centre = h3.latlng_to_cell(*MARSEILLE_14, 9)
    counts = {cell: 2 for cell in h3.grid_disk(centre, 3)}
    result = gi_star(counts, permutations=199)
    assert all(c.classification != HotspotClass.HOT for c in result.cells if c.count == 2)


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
    assert body["meta"]["permutations"] == 999 and body["meta"]["min_count"] == 1
    hot = [f for f in body["features"] if f["properties"]["class"] == "hot"]
    assert hot and body["meta"]["hot"] == len(hot)
    assert max(f["properties"]["count"] for f in hot) >= 3
    # Zero-count neighbours are studied (and sent to analysts).
    assert any(f["properties"]["count"] == 0 for f in body["features"])
    event = AuditEvent.objects.latest("pk")
    assert event.details["layer"] == "hotspots"
    assert event.details["filters"]["departement"] == "13"


@pytest.mark.django_db
def test_hotspot_layer_for_a_prefecture_hides_small_cells(estate, client_for):
    response = client_for("prefecture_13").get(reverse("map-hotspots"), {"departement": "13"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "PD-" not in text and "reference" not in text
    features = response.json()["features"]
    assert features and all(f["properties"]["count"] >= 3 for f in features)
    assert response.json()["meta"]["min_count"] == 3


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
