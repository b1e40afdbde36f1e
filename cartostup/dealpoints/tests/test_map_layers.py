"""Pieces of the map layers: zoom → resolution, hexagon outlines, the viewport filter."""

from __future__ import annotations

import random
from typing import Any

import h3
import pytest

from cartostup.dealpoints import map_layers
from cartostup.dealpoints.models import DealPoint
from cartostup.dealpoints.tests.factories import dealpoint


@pytest.mark.parametrize(
    ("zoom", "resolution"),
    [(0, 5), (5, 5), (7, 5), (8, 7), (10, 7), (11, 9), (13, 9), (14, None), (19, None)],
)
def test_resolution_for_zoom(zoom, resolution):
    assert map_layers.resolution_for_zoom(zoom) == resolution
    assert map_layers.resolution_for_zoom(zoom, coordinates=False) == (resolution or 9)


def test_hexagon_polygon_is_a_closed_lng_lat_ring():
    cell = h3.latlng_to_cell(43.3452, 5.3949, 9)
    polygon = map_layers.hexagon_polygon(cell)
    ring = polygon["coordinates"][0]
    assert polygon["type"] == "Polygon"
    assert len(ring) == 7 and ring[0] == ring[-1]
    # Longitude first: Marseille is at ~5.39 E, 43.34 N.
    assert all(5.38 < lng < 5.41 and 43.33 < lat < 43.36 for lng, lat in ring)


@pytest.mark.django_db
def test_bbox_and_hexagon_counts(persona):
    analyst = persona("cross13_analyst")
    inside = dealpoint(actor=analyst, latitude=43.3452, longitude=5.3949)
    dealpoint(actor=analyst, latitude=43.2960, longitude=5.3700)
    bbox = map_layers.BBox(5.39, 43.34, 5.40, 43.35)
    queryset = DealPoint.objects.filter(bbox.q())
    assert list(queryset) == [inside]
    groups = map_layers.hexagon_groups(DealPoint.objects.all(), column="h3_r9", category="status")
    assert map_layers.shown_counts(groups, min_count=1) == {
        inside.h3_r9: (1, {"reported": 1}),
        h3.latlng_to_cell(43.2960, 5.3700, 9): (1, {"reported": 1}),
    }
    # For an aggregate-only role, two hexagons of one point each say nothing.
    assert map_layers.shown_counts(groups, min_count=3) == {}
    assert bbox.rounded() == [5.39, 43.34, 5.4, 43.35]


def test_the_covering_cells_hold_every_position_of_the_viewport():
    """The indexed prefilter never drops a row: any position inside a viewport lies in one of
    the cells `cover_q` names, for viewports from a street to a region (seeded samples)."""
    rng = random.Random(11)
    checked = 0
    for _ in range(300):
        latitude, longitude = rng.uniform(42.0, 50.5), rng.uniform(-4.5, 8.0)
        height = 10 ** rng.uniform(-3.5, 0.3)
        width = height * rng.uniform(0.2, 5)
        bbox = map_layers.BBox(longitude, latitude, longitude + width, latitude + height)
        cover = map_layers.cover_q(bbox)
        if cover is None:
            continue
        children: list[Any] = list(cover.children)
        [(lookup, cells)] = children
        resolution = int(lookup.split("__")[0][-1])
        cells = set(cells)
        for _ in range(30):
            lat = rng.uniform(bbox.south, bbox.north)
            lng = rng.uniform(bbox.west, bbox.east)
            assert h3.latlng_to_cell(lat, lng, resolution) in cells
            checked += 1
        # The corners too (the hardest places).
        for lat, lng in ((bbox.south, bbox.west), (bbox.north, bbox.east)):
            assert h3.latlng_to_cell(lat, lng, resolution) in cells
    assert checked > 3000


def test_wide_viewports_are_not_narrowed():
    assert map_layers.cover_q(map_layers.BBox(-5.2, 41.3, 9.6, 51.1)) is None
    street = map_layers.cover_q(map_layers.BBox(5.38, 43.335, 5.41, 43.355))
    assert street is not None
    children: list[Any] = list(street.children)
    assert children[0][0] == "h3_r7__in"


@pytest.mark.django_db
def test_a_hexagon_is_named_after_its_shown_parts_only(persona):
    """For an aggregate-only role a hidden part (fewer than the minimum in a département)
    never names the hexagon, even where a commune lies in both parts (data out of line):
    named after all its rows, the hexagon below would be called after the commune holding two
    points in each département, which the count filtered by département does not show."""
    from cartostup.territories.models import Departement

    analyst = persona("cross13_analyst")
    here = [
        dealpoint(actor=analyst, latitude=43.34520 + i * 0.00005, longitude=5.39490)
        for i in range(7)
    ]
    elsewhere = dealpoint(actor=analyst, latitude=43.31100, longitude=5.38000)  # Marseille 3e
    assert len({point.h3_r9 for point in here}) == 1
    other_commune = elsewhere.commune
    DealPoint.objects.filter(pk__in=[p.pk for p in here[3:]]).update(commune=other_commune)
    DealPoint.objects.filter(pk__in=[p.pk for p in here[5:]]).update(
        departement=Departement.objects.get(code="93")
    )
    rows = DealPoint.objects.filter(pk__in=[p.pk for p in here])
    [feature] = map_layers._hexagons(
        rows, column="h3_r9", category="status", resolution=9, min_count=3
    )
    # The 13's part: three points of the 14e, two of the 3e; the 93's part (two) hidden.
    assert feature["properties"]["count"] == 5
    assert feature["properties"]["place"] == here[0].commune.name != other_commune.name
    # Those who see the points are told of all seven, named after the 3e (four of them).
    [whole] = map_layers._hexagons(
        rows, column="h3_r9", category="status", resolution=9, min_count=1
    )
    assert (whole["properties"]["count"], whole["properties"]["place"]) == (7, other_commune.name)


def _fine_groups(cells: dict[str, dict[str, int]]) -> map_layers.HexagonGroups:
    """Groups of res 9 cells of one département, {cell: {status: points}}."""
    part = 13
    return map_layers.HexagonGroups(
        {(cell, part): {s: (n, n) for s, n in by.items()} for cell, by in cells.items()},
        {(cell, part): sum(by.values()) for cell, by in cells.items()},
        {(cell, part): {1: sum(by.values())} for cell, by in cells.items()},
    )


def _shown(groups: map_layers.HexagonGroups, resolution: int) -> dict[str, tuple[int, dict]]:
    consistent = map_layers.consistent_groups(groups, resolution=resolution, min_count=3)
    return map_layers.shown_counts(consistent, min_count=3)


def test_a_status_hidden_alone_is_hidden_with_another():
    """In one res 5 hexagon A (6 confirmed, 7 reported, nothing else): res 7 hexagons B (5
    confirmed, 4 reported) and B' (1 confirmed, 3 reported). B's 5 confirmed are hidden, lest
    A's 6 tell B' s one; shown beside its 9 points, B's 4 reported would tell them anyway
    (9 - 4), and then B' s one: B shows no status."""
    b1 = h3.latlng_to_cell(43.3452, 5.3949, 9)
    b2 = next(
        cell
        for distance in range(1, 12)
        for cell in sorted(h3.grid_ring(b1, distance))
        if h3.cell_to_parent(cell, 7) != h3.cell_to_parent(b1, 7)
        and h3.cell_to_parent(cell, 5) == h3.cell_to_parent(b1, 5)
    )
    groups = _fine_groups(
        {b1: {"confirmed": 5, "reported": 4}, b2: {"confirmed": 1, "reported": 3}}
    )
    a, b, b_prime = (h3.cell_to_parent(cell, level) for cell, level in ((b1, 5), (b1, 7), (b2, 7)))
    assert _shown(groups, 5) == {a: (13, {"confirmed": 6, "reported": 7})}
    assert _shown(groups, 7) == {b: (9, {}), b_prime: (4, {})}
    # Without B', B's statuses add up with A's and are shown.
    alone = _fine_groups({b1: {"confirmed": 5, "reported": 4}})
    assert _shown(alone, 7) == {b: (9, {"confirmed": 5, "reported": 4})}


def test_a_cell_tells_all_its_statuses_or_none():
    """A review: res 7 hexagon B of 17 points, 9 confirmed; inside it, res 9 cells Y (5
    confirmed) and X (12 points: 4 confirmed, 6 reported, 2 dismantled). X showing « 6
    reported » beside its 12 points gave 4 confirmed (B's 9 less Y's 5), and so 2 dismantled.
    A cell tells every status it holds, each at least the minimum, or none."""
    x = h3.latlng_to_cell(43.3452, 5.3949, 9)
    y = next(
        cell
        for cell in sorted(h3.grid_ring(x, 1))
        if h3.cell_to_parent(cell, 7) == h3.cell_to_parent(x, 7)
    )
    groups = _fine_groups(
        {x: {"confirmed": 4, "reported": 6, "dismantled": 2}, y: {"confirmed": 5}}
    )
    b = h3.cell_to_parent(x, 7)
    assert _shown(groups, 7) == {b: (17, {})}
    assert _shown(groups, 9) == {x: (12, {}), y: (5, {"confirmed": 5})}
    # Three dismantled in X: every status is told where it adds up.
    groups = _fine_groups(
        {x: {"confirmed": 4, "reported": 6, "dismantled": 3}, y: {"confirmed": 5}}
    )
    assert _shown(groups, 7) == {b: (18, {"confirmed": 9, "reported": 6, "dismantled": 3})}
    assert _shown(groups, 9) == {
        x: (13, {"confirmed": 4, "reported": 6, "dismantled": 3}),
        y: (5, {"confirmed": 5}),
    }


@pytest.mark.parametrize("seed", [4, 5])
def test_the_stored_parents_count_as_the_finest_cells_summed(persona, seed):
    """The hexagons of a role that only counts are grouped in SQL by the stored parents of
    each point's res 9 cell (`hierarchy_column`, 2026-12-06), no longer by the res 9 cells
    summed in Python: the same cells, counts, statuses and communes, filtered or not."""
    from cartostup.dealpoints.tests.factories import scattered_points

    scattered_points(
        actor=persona("cross13_analyst"),
        rng=random.Random(seed),
        groups=20,
        south_west=(43.25, 5.33),
        north_east=(43.40, 5.50),
        spread=0.004,
        per_group=7,
        statuses=["reported", "confirmed", "dismantled"],
    )
    for point in DealPoint.objects.all():
        assert point.h3_p5 == h3.cell_to_parent(point.h3_r9, 5)
        assert point.h3_p7 == h3.cell_to_parent(point.h3_r9, 7)
    told = 0
    for resolution in map_layers.AGGREGATE_LEVELS:
        for only in (None, "confirmed"):
            counted = [
                map_layers.counted_cells(
                    DealPoint.objects.all(),
                    column=column,
                    category="status",
                    resolution=resolution,
                    min_count=3,
                    only=only,
                )
                for column in (map_layers.hierarchy_column(resolution), "h3_r9")
            ]
            assert counted[0] == counted[1], (resolution, only)
            told += len(counted[0][0])
    assert told > 0


def test_the_migration_fills_the_parents_of_the_points_stored_before(persona):
    import importlib

    from django.apps import apps

    from cartostup.dealpoints.models import Proposal

    migration = importlib.import_module("cartostup.dealpoints.migrations.0010_h3_parents")
    point = dealpoint(actor=persona("cross13_analyst"))
    DealPoint.objects.filter(pk=point.pk).update(h3_p5="", h3_p7="")
    migration.parents_filled(apps, None)
    point.refresh_from_db()
    assert (point.h3_p5, point.h3_p7) == (
        h3.cell_to_parent(point.h3_r9, 5),
        h3.cell_to_parent(point.h3_r9, 7),
    )
    assert not Proposal.objects.filter(h3_p5="").exclude(h3_r9="").exists()
