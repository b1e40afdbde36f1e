"""Reads of the map's layers (/carte/, /api/v1/map/): deal points, reports, operations, open
proposals and boundaries, as GeoJSON, always from what the actor may see (`access.policy`).

Wide zooms are counted server side per H3 hexagon with one GROUP BY on a stored, indexed cell
column (res 5 for France, 7 for a département, 9 for a town); street zooms send the points
themselves. What each actor receives is decided by the policy alone:

- `policy.aggregate_scope`: roles that only count (a prefecture, a prosecutor's office) never
  receive a point, a position or a reference, only hexagons (res 9 at the finest) counting at
  least `min_count` rows, per département (`shown_counts`); smaller ones are left out entirely;
- `policy.visible_fields`: a landlord referent receives only the points on its own buildings,
  reduced to `rules.LANDLORD_FIELDS` and placed at its building, never at the point itself.

Each layer request is audited once (LIST, with the layer, zoom, resolution, bbox, filters and the
number of features), never with the data itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

import h3
import shapely
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cartostup.access import policy
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.core.dates import week_start
from cartostup.reports.choices import Status as ReportStatus
from cartostup.reports.models import Report
from cartostup.territories import locator
from cartostup.territories import selectors as territory_selectors

from .choices import DealPointStatus, OperationKind, Precision, ProposalStatus
from .filters import DealPointFilterSet
from .models import H3_DEPARTEMENT, H3_NATIONAL, H3_TOWN, DealPoint, Operation, Proposal
from .selectors import (
    allowed_filter_data,
    dealpoint_allowed_filters,
    dealpoint_queryset,
    dealpoint_refused_filters,
    dealpoint_refused_values,
    refused_filters,
    told_filter,
    told_value,
)

# Zoom (Leaflet, 0–19) → H3 resolution of the hexagons; from POINTS_FROM_ZOOM on, points.
ZOOM_RESOLUTIONS: tuple[tuple[int, int], ...] = (
    (7, H3_NATIONAL),
    (10, H3_DEPARTEMENT),
    (13, H3_TOWN),
)
POINTS_FROM_ZOOM = 14
MIN_ZOOM, MAX_ZOOM = 0, 19
# The finest hexagons an aggregate-only role receives, whatever the zoom.
AGGREGATE_FINEST = H3_TOWN
# A street view never needs more; beyond, the collection says it was truncated.
MAX_POINTS = 5000
BOUNDARY_KINDS = ("communes", "qpv", "departement")


def resolution_for_zoom(zoom: int, *, coordinates: bool = True) -> int | None:
    """The H3 resolution of the hexagons shown at this zoom, or None for points (only for
    actors who may receive positions)."""
    for max_zoom, resolution in ZOOM_RESOLUTIONS:
        if zoom <= max_zoom:
            return resolution
    return None if coordinates else AGGREGATE_FINEST


@dataclass(frozen=True)
class BBox:
    """A WGS84 viewport: west, south, east, north (degrees)."""

    west: float
    south: float
    east: float
    north: float

    def q(self, prefix: str = "") -> Q:
        return Q(
            **{
                f"{prefix}latitude__gte": self.south,
                f"{prefix}latitude__lte": self.north,
                f"{prefix}longitude__gte": self.west,
                f"{prefix}longitude__lte": self.east,
            }
        )

    def rounded(self) -> list[float]:
        # Audit: the viewport to ~100 m is enough to know what was looked at.
        return [round(value, 3) for value in (self.west, self.south, self.east, self.north)]


def widened(bbox: BBox, km: float) -> BBox:
    """The viewport grown by `km` on every side (clamped to the globe)."""
    margin_lat = km / 111.0
    widest = math.radians(min(max(abs(bbox.south), abs(bbox.north)) + margin_lat, 89.0))
    margin_lng = km / (111.0 * max(math.cos(widest), 0.01))
    return BBox(
        max(bbox.west - margin_lng, -180.0),
        max(bbox.south - margin_lat, -90.0),
        min(bbox.east + margin_lng, 180.0),
        min(bbox.north + margin_lat, 90.0),
    )


# The viewport is narrowed first to the stored res 7 (or res 5) cells that may hold its rows,
# an indexed IN instead of a scan of the latitude/longitude columns; at most this many cells.
COVER_MAX_CELLS = 400


def cover_q(bbox: BBox, prefix: str = "") -> Q | None:
    """A condition on a stored cell column that every row inside `bbox` meets (None when the
    viewport is too wide for it to help). Cells are taken whose centre lies in the viewport
    widened by SHOWN_EDGES (1.5) edge lengths: any cell overlapping the viewport has its
    centre within one circumradius (an edge length, H3 distortion aside) of it."""
    middle = math.radians((bbox.south + bbox.north) / 2)
    for resolution in (H3_DEPARTEMENT, H3_NATIONAL):
        near = widened(bbox, SHOWN_EDGES * h3.average_hexagon_edge_length(resolution, "km"))
        south, north = max(near.south, -89.9), min(near.north, 89.9)
        west, east = near.west, near.east
        area_km2 = (north - south) * 111.0 * (east - west) * 111.0 * max(math.cos(middle), 0.01)
        if (
            area_km2 / h3.average_hexagon_area(resolution, "km^2") > COVER_MAX_CELLS
            or east - west >= 180
        ):
            continue
        polygon = h3.LatLngPoly([(south, west), (south, east), (north, east), (north, west)])
        cells = h3.polygon_to_cells(polygon, resolution)
        if cells and len(cells) <= COVER_MAX_CELLS:
            return Q(**{f"{prefix}h3_r{resolution}__in": sorted(cells)})
    return None


def viewport_q(bbox: BBox, prefix: str = "") -> Q:
    """Rows inside the viewport: the exact bounds, narrowed by the covering cells."""
    exact = bbox.q(prefix)
    cover = cover_q(bbox, prefix)
    return exact if cover is None else cover & exact


# Whole hexagons for aggregate-only roles: a hexagon is shown when its centre lies within
# SHOWN_EDGES edge lengths of the viewport (every hexagon overlapping it does), and counted
# from the rows within READ_EDGES of it, which hold every row of such a hexagon (its points lie
# within about one edge length of its centre, H3 distortion included).
SHOWN_EDGES = 1.5
READ_EDGES = 4.0


def whole_hexagons(bbox: BBox, resolution: int) -> tuple[BBox, Callable[[str], bool]]:
    """For an aggregate-only role: the (wider) viewport to read rows from and which hexagons
    to show, both decided by the geometry alone. Counts then never depend on where the edges
    of the viewport cross a hexagon (a count that changes as an edge moves across it would
    give a point's position by bisection)."""
    edge_km = h3.average_hexagon_edge_length(resolution, "km")
    read = widened(bbox, READ_EDGES * edge_km)
    near = widened(bbox, SHOWN_EDGES * edge_km)

    def shown(cell: str) -> bool:
        latitude, longitude = h3.cell_to_latlng(cell)
        return near.south <= latitude <= near.north and near.west <= longitude <= near.east

    return read, shown


@dataclass(frozen=True)
class LayerRequest:
    bbox: BBox
    zoom: int


@dataclass(frozen=True)
class Layer:
    """A GeoJSON FeatureCollection and what describes it (`meta`)."""

    features: list[dict[str, Any]]
    meta: dict[str, Any]

    def as_geojson(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": self.features, "meta": self.meta}


# --- GeoJSON pieces ------------------------------------------------------------------------------


def hexagon_polygon(cell: str) -> dict[str, Any]:
    """The cell's outline as a GeoJSON Polygon (closed ring, longitude first)."""
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _point(latitude: float, longitude: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(longitude, 6), round(latitude, 6)]}


def _hexagon_feature(
    cell: str, count: int, by_category: dict[str, int], resolution: int
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": hexagon_polygon(cell),
        "properties": {
            "kind": "hexagon",
            "cell": cell,
            "resolution": resolution,
            "count": count,
            "by_status": by_category,
        },
    }


@dataclass
class HexagonGroups:
    """What one GROUP BY (cell, département, commune, category) tells of the rows: the rows
    and distinct subjects per (cell, part, category), the distinct subjects per (cell, part),
    and per (cell, part) the subjects of each commune (to name the hexagon after its parts
    shown only). A subject (a deal point) has one département and one commune, so its
    distinct counts add up over them."""

    categories: dict[tuple[str, Any], dict[str, tuple[int, int]]]
    part_subjects: dict[tuple[str, Any], int]
    communes: dict[tuple[str, Any], dict[int, int]]
    # For an aggregate-only role, the categories each (cell, part) may show, decided with the
    # other levels (`consistent_groups`); None: each counted on its own (`shown_counts`).
    shown_categories: dict[tuple[str, Any], set[str]] | None = None


def hexagon_groups(
    queryset: QuerySet[Any],
    *,
    column: str,
    category: str,
    subject: str = "pk",
    part: str = "departement",
    commune: str = "commune",
    named_by: str | None = None,
) -> HexagonGroups:
    """One GROUP BY over the rows (the layer's only scan of them); with a `subject` other than
    the row (the deal points of operations), one more per (cell, part, commune) for the
    distinct subjects across categories (a point may have raids and searches). The distinct
    counts of the communes are added up: each subject must have one commune (`commune`).
    `named_by`: the rows' own commune, when it may differ from their subject's (a merged
    point's operations, counted for the point it lives in): the hexagon is named after where
    its rows are (one more GROUP BY), never after a subject's commune elsewhere, which the
    reader may not see."""
    base = queryset.order_by()
    distinct = subject != "pk"
    categories: dict[tuple[str, Any], dict[str, tuple[int, int]]] = {}
    communes: dict[tuple[str, Any], dict[int, int]] = {}
    part_subjects: dict[tuple[str, Any], int] = {}

    def add_subjects(cell: str, part_value: Any, commune_id: int, number: int) -> None:
        by_commune = communes.setdefault((cell, part_value), {})
        by_commune[commune_id] = by_commune.get(commune_id, 0) + number
        part_subjects[(cell, part_value)] = part_subjects.get((cell, part_value), 0) + number

    rows = base.values_list(column, part, commune, category).annotate(
        n=Count("pk"), d=Count(subject, distinct=distinct)
    )
    for cell, part_value, commune_id, value, number, subjects in rows:
        by_category = categories.setdefault((cell, part_value), {})
        rows_before, subjects_before = by_category.get(value, (0, 0))
        by_category[value] = (rows_before + number, subjects_before + subjects)
        if not distinct:
            add_subjects(cell, part_value, commune_id, number)
    if distinct:
        for cell, part_value, commune_id, number in base.values_list(
            column, part, commune
        ).annotate(d=Count(subject, distinct=True)):
            add_subjects(cell, part_value, commune_id, number)
    if named_by is not None and named_by != commune:
        communes = {}
        for cell, part_value, commune_id, number in base.values_list(
            column, part, named_by
        ).annotate(d=Count(subject, distinct=distinct)):
            by_commune = communes.setdefault((cell, part_value), {})
            by_commune[commune_id] = by_commune.get(commune_id, 0) + number
    return HexagonGroups(categories, part_subjects, communes)


def shown_parts(groups: HexagonGroups, *, min_count: int) -> list[tuple[str, Any]]:
    """The (cell, part) an actor counting with `min_count` may be told of: at least
    `min_count` rows and distinct subjects (every part, for those who see the records)."""
    return [
        key
        for key, by_category in groups.categories.items()
        if sum(number for number, _subjects in by_category.values()) >= min_count
        and groups.part_subjects.get(key, 0) >= min_count
    ]


def shown_counts(groups: HexagonGroups, *, min_count: int) -> dict[str, tuple[int, dict[str, int]]]:
    """{cell: (count, {category: count})} as the actor may be told them.

    With `min_count` 1, the plain counts. With `min_count` above 1 (an aggregate-only role),
    each hexagon is counted per part (its département): a part is counted only if it concerns
    at least `min_count` distinct subjects (deal points: three raids on one point are one
    point), and a category inside it only if it does too; the hexagon shows the sum of the
    parts counted. A hexagon straddling two départements, counted whole then filtered by one
    of them, so tells by difference nothing but whole counts of at least `min_count`
    (docs/decisions.md)."""
    shown: dict[str, tuple[int, dict[str, int]]] = {}
    # A part too small to show to an aggregate-only role is left out entirely.
    for key in shown_parts(groups, min_count=min_count):
        by_category = groups.categories[key]
        total = sum(number for number, _subjects in by_category.values())
        count, categories = shown.get(key[0], (0, {}))
        for value, (number, subjects) in by_category.items():
            if groups.shown_categories is not None:
                if value not in groups.shown_categories.get(key, ()):
                    continue
            elif number < min_count or subjects < min_count:
                continue
            categories[value] = categories.get(value, 0) + number
        shown[key[0]] = (count + total, categories)
    return shown


# The resolutions an aggregate-only role is shown, coarsest first (`resolution_for_zoom`).
AGGREGATE_LEVELS = (H3_NATIONAL, H3_DEPARTEMENT, AGGREGATE_FINEST)


def _parents(cells: Iterable[str], resolution: int) -> dict[str, str]:
    """{cell: its parent at `resolution`} (H3's own hierarchy), once per distinct cell."""
    return {cell: h3.cell_to_parent(cell, resolution) for cell in set(cells) if cell}


def regrouped(
    groups: HexagonGroups, resolution: int, *, kept: set[tuple[str, Any]] | None = None
) -> HexagonGroups:
    """Groups of fine cells summed into their parents at `resolution` (H3's own hierarchy: a
    cell's parent's parent is its parent at that resolution, so every level adds up), only
    the parents in `kept` if given. A subject lies in one fine cell: its distinct counts add
    up over cells."""
    parent_of = _parents((cell for cell, _part in groups.categories), resolution)
    categories: dict[tuple[str, Any], dict[str, tuple[int, int]]] = {}
    part_subjects: dict[tuple[str, Any], int] = {}
    communes: dict[tuple[str, Any], dict[int, int]] = {}
    for (cell, part), by_category in groups.categories.items():
        if not cell:
            continue
        key = (parent_of[cell], part)
        if kept is not None and key not in kept:
            continue
        target = categories.setdefault(key, {})
        for value, (rows, subjects) in by_category.items():
            rows_before, subjects_before = target.get(value, (0, 0))
            target[value] = (rows_before + rows, subjects_before + subjects)
        part_subjects[key] = part_subjects.get(key, 0) + groups.part_subjects.get((cell, part), 0)
        target_communes = communes.setdefault(key, {})
        for commune_id, number in groups.communes.get((cell, part), {}).items():
            target_communes[commune_id] = target_communes.get(commune_id, 0) + number
    return HexagonGroups(categories, part_subjects, communes)


Totals = dict[tuple[str, Any], tuple[int, int]]


def _summed(totals: Totals, resolution: int) -> Totals:
    """(rows, subjects) per (cell, part) summed into the parents at `resolution`."""
    parent_of = _parents((cell for cell, _part in totals), resolution)
    summed: Totals = {}
    for (cell, part), (rows, subjects) in totals.items():
        key = (parent_of[cell], part)
        rows_before, subjects_before = summed.get(key, (0, 0))
        summed[key] = (rows_before + rows, subjects_before + subjects)
    return summed


def _kept_apart(
    levels: list[int], candidates: Mapping[int, Totals], *, min_count: int
) -> dict[int, Totals]:
    """The candidates of each level (each counting at least `min_count` rows and subjects)
    that may be shown together without telling by difference fewer than `min_count`: level
    by level from the coarsest, each candidate is set under its nearest kept ancestor (at any
    coarser level: under a dropped one, the one above it), and wherever an ancestor would
    leave 1 to `min_count - 1` rows or subjects outside its nearest kept descendants, of every
    finer level together, the smallest of those at the level in hand are dropped too until
    the remainder is nought or at least `min_count` (dropping only ever adds to a remainder,
    by at least `min_count`: one pass suffices)."""
    kept_by_level: dict[int, Totals] = {}
    remaining: dict[tuple[int, tuple[str, Any]], tuple[int, int]] = {}
    for position, level in enumerate(levels):
        shown = dict(candidates.get(level, {}))
        coarser = levels[:position]
        parent_of = {
            ancestor: _parents((cell for cell, _part in shown), ancestor) for ancestor in coarser
        }
        under: dict[tuple[int, tuple[str, Any]], list[tuple[str, Any]]] = {}
        for key in shown:
            for ancestor in reversed(coarser):
                nearest = (parent_of[ancestor][key[0]], key[1])
                if nearest in kept_by_level[ancestor]:
                    under.setdefault((ancestor, nearest), []).append(key)
                    break
        for ancestor_id, keys in under.items():
            rows, subjects = remaining[ancestor_id]
            smallest_first = sorted(keys, key=lambda key: (shown[key], key))
            rows -= sum(shown[key][0] for key in smallest_first)
            subjects -= sum(shown[key][1] for key in smallest_first)
            for hidden in smallest_first:
                if not (0 < rows < min_count or 0 < subjects < min_count):
                    break
                rows += shown[hidden][0]
                subjects += shown[hidden][1]
                del shown[hidden]
            remaining[ancestor_id] = (rows, subjects)
        kept_by_level[level] = shown
        remaining.update({(level, key): totals for key, totals in shown.items()})
    return kept_by_level


def consistent_groups(fine: HexagonGroups, *, resolution: int, min_count: int) -> HexagonGroups:
    """For an aggregate-only role: the groups at `resolution` it may be told of, and the
    categories each may show, such that no level it is shown (`AGGREGATE_LEVELS`) tells by
    difference with another, nor a count with its categories, what a hexagon hides.

    Each level alone hides the (cell, part) counting fewer than `min_count` rows or subjects
    (`shown_parts`); but a hexagon of 38 points whose shown children add up to 37 says that one
    point lies alone in the rest of it. So the cells shown are kept apart along H3's hierarchy
    (`_kept_apart`); then, within the cells shown, each category on its own (a hexagon's 8
    confirmed points less its shown children's 4 and 3 would place one confirmed point), among
    the cells that may tell all their categories (each at least `min_count`). A cell tells its
    categories all together or none: one hidden beside others shown is its count less them,
    and two hidden are their sum, less what an ancestor's remainder says of one (a review: 17
    points, 9 confirmed; inside, 5 confirmed and 12 points of which 6 reported: 4 confirmed,
    and so 2 dismantled). A cell none of whose categories may be told adds its remainders to
    its nearest ancestor's, each nought or at least `min_count`: the levels stay apart.

    `fine`: grouped by cells of `resolution` or finer (`AGGREGATE_FINEST`) along H3's
    hierarchy, read over every ancestor whole (`_collect`: by the stored parents of the finest
    cells, `hierarchy_column`). Every coarser level is summed from them along that hierarchy
    (`_summed`, `regrouped`); a level finer than `resolution` is never needed, each level
    being kept apart from the coarser ones only."""
    levels = [level for level in AGGREGATE_LEVELS if level <= resolution]
    finest = next((h3.get_resolution(cell) for cell, _part in fine.categories if cell), resolution)
    totals: Totals = {
        key: (sum(rows for rows, _subjects in by_category.values()), fine.part_subjects[key])
        for key, by_category in fine.categories.items()
        if key[0]
    }
    by_level: dict[int, Totals] = {}
    finer = finest
    for level in reversed(levels):
        if level != finer:
            totals = _summed(totals, level)
            finer = level
        by_level[level] = totals
    shown_by_level = _kept_apart(
        levels,
        {
            level: {
                key: value
                for key, value in by_level[level].items()
                if value[0] >= min_count and value[1] >= min_count
            }
            for level in levels
        },
        min_count=min_count,
    )
    categories_by_level = {
        level: fine.categories if level == finest else regrouped(fine, level).categories
        for level in levels
    }
    # A cell tells its categories all together or not at all: one hidden beside others shown
    # is its count less them, and a part of them is the rest of what its ancestor tells.
    detailable = {
        level: {
            key
            for key in shown_by_level[level]
            if all(min(value) >= min_count for value in categories_by_level[level][key].values())
        }
        for level in levels
    }
    kept_by_value: dict[str, dict[int, Totals]] = {}
    values = sorted({value for by_category in fine.categories.values() for value in by_category})
    for value in values:
        kept_by_value[value] = _kept_apart(
            levels,
            {
                level: {
                    key: categories_by_level[level][key][value]
                    for key in detailable[level]
                    if value in categories_by_level[level][key]
                }
                for level in levels
            },
            min_count=min_count,
        )
    # A cell whose categories are not all kept apart tells none: its remainders then add to
    # its nearest ancestor's, each nought or at least `min_count`, and the levels stay apart.
    shown_categories = {
        level: {
            key: set(categories_by_level[level][key])
            for key in detailable[level]
            if all(key in kept_by_value[value][level] for value in categories_by_level[level][key])
        }
        for level in levels
    }
    kept_keys = set(shown_by_level[resolution]) if levels else set()
    if resolution == finest:
        groups = HexagonGroups(
            {key: value for key, value in fine.categories.items() if key in kept_keys},
            {key: value for key, value in fine.part_subjects.items() if key in kept_keys},
            {key: value for key, value in fine.communes.items() if key in kept_keys},
        )
    else:
        groups = regrouped(fine, resolution, kept=kept_keys)
    groups.shown_categories = {
        key: told for key, told in shown_categories.get(resolution, {}).items() if key in kept_keys
    }
    return groups


def counted_cells(
    queryset: QuerySet[Any],
    *,
    column: str,
    category: str,
    resolution: int,
    min_count: int,
    subject: str = "pk",
    commune: str = "commune",
    part: str = "departement",
    named_by: str | None = None,
    only: str | None = None,
) -> tuple[dict[str, tuple[int, dict[str, int]]], dict[str, dict[int, int]]]:
    """The cells of `resolution` as the actor may be told them, {cell: (count, {category:
    count})} (`shown_counts`), with {cell: {commune id: subjects}} of the parts counted (to
    name them, `hexagon_places`), from one GROUP BY (`hexagon_groups`). For an aggregate-only
    role (`min_count` above 1), `column` holds the cells of `resolution` along H3's hierarchy
    from the finest it is shown (`hierarchy_column`), summed into the coarser levels and kept
    consistent with them (`consistent_groups`): the map's hexagons and the hotspots' cells are
    then the same cells with the same counts.

    `only`: one category, read from the counts of every category (an aggregate-only role's
    status filter): the cells showing it, each counting it alone and named as unfiltered. A
    filter applied to the rows instead would be counted, hidden and named on its own, and
    differenced with the unfiltered counts (a hexagon hidden unfiltered, shown with four
    dismantled points; the hexagon named after where its investigated points are)."""
    groups = hexagon_groups(
        queryset,
        column=column,
        category=category,
        subject=subject,
        part=part,
        commune=commune,
        named_by=named_by,
    )
    if min_count > 1:
        groups = consistent_groups(groups, resolution=resolution, min_count=min_count)
    counts = {
        cell: value for cell, value in shown_counts(groups, min_count=min_count).items() if cell
    }
    if only is not None:
        counts = {
            cell: (by_category[only], {only: by_category[only]})
            for cell, (_total, by_category) in counts.items()
            if only in by_category
        }
    # Named after the parts shown only: a hidden part's communes never name the cell (its
    # name would then differ from the one filtered by its shown département).
    per_cell: dict[str, dict[int, int]] = {}
    for key in shown_parts(groups, min_count=min_count):
        if key[0] in counts:
            by_commune = per_cell.setdefault(key[0], {})
            for commune_id, number in groups.communes.get(key, {}).items():
                by_commune[commune_id] = by_commune.get(commune_id, 0) + number
    return counts, per_cell


def _hexagons(
    queryset: QuerySet[Any],
    *,
    column: str,
    category: str,
    resolution: int,
    min_count: int,
    keep: Callable[[str], bool] | None = None,
    subject: str = "pk",
    commune: str = "commune",
    part: str = "departement",
    named_by: str | None = None,
    only: str | None = None,
) -> list[dict[str, Any]]:
    """Hexagon features of the cells counted (`counted_cells`), each named after where its
    rows are (`hexagon_places`); `keep`: which cells the view shows."""
    counts, per_cell = counted_cells(
        queryset,
        column=column,
        category=category,
        resolution=resolution,
        min_count=min_count,
        subject=subject,
        part=part,
        commune=commune,
        named_by=named_by,
        only=only,
    )
    features = [
        _hexagon_feature(cell, total, by_category, resolution)
        for cell, (total, by_category) in sorted(counts.items())
        if keep is None or keep(cell)
    ]
    if features:
        cells = {feature["properties"]["cell"] for feature in features}
        places = hexagon_places(
            {cell: by_commune for cell, by_commune in per_cell.items() if cell in cells},
            min_count=min_count,
        )
        for feature in features:
            feature["properties"]["place"] = places.get(feature["properties"]["cell"], "")
    return features


def hexagon_places(per_cell: Mapping[str, Mapping[int, int]], *, min_count: int) -> dict[str, str]:
    """{cell: the name the map gives it}, from {cell: {commune id: subjects}}: where most of
    the hexagon's counted rows are, never the place at its centre (a wide hexagon's centre may
    lie in a commune of another département, outside what the reader counts, or in a
    neighbouring arrondissement).

    The commune (or Paris, Lyon, Marseille arrondissement) holding the most of the hexagon's
    subjects (ties: the first name in alphabetical order); for an aggregate-only role
    (`min_count` above 1), only a place holding at least `min_count` of them may name it, as a
    hexagon must count that many to be shown: the name then says no more about one record
    than the count does (see docs/decisions.md). Without such a commune, the arrondissements'
    city, then the département, is tried; without any, no name (""). One read of the names it
    needs: the leading communes' only, unless a cell falls back to its city or département."""
    leading: dict[str, list[int]] = {}
    wanted: set[int] = set()
    for cell, by_commune in per_cell.items():
        most = max(by_commune.values(), default=0)
        if most >= min_count:
            leading[cell] = [pk for pk, number in by_commune.items() if number == most]
            wanted.update(leading[cell])
        else:
            wanted.update(by_commune)
    names = territory_selectors.commune_place_names(commune_ids=wanted)

    def leading_name(cell: str) -> str:
        found = [names[pk][0] for pk in leading.get(cell, ()) if pk in names and names[pk][0]]
        return min(found, default="")

    # Leading communes without a name (none in practice): their cell falls back to its city
    # or département, which needs the names of all its communes (one more read for all).
    unnamed = {pk for cell in leading if not leading_name(cell) for pk in per_cell[cell]}
    names.update(territory_selectors.commune_place_names(commune_ids=unnamed - set(names)))
    places: dict[str, str] = {}
    for cell, by_commune in per_cell.items():
        if name := leading_name(cell):
            places[cell] = name
            continue
        for level in (1, 2):  # the arrondissements' city, then the département
            totals: dict[str, int] = {}
            for commune_id, number in by_commune.items():
                name = names.get(commune_id, ("", "", ""))[level]
                if name:
                    totals[name] = totals.get(name, 0) + number
            if not totals:
                continue
            best = min(totals, key=lambda name: (-totals[name], name))
            if totals[best] >= min_count:
                places[cell] = best
                break
    return places


def _audit(
    *,
    actor: Any,
    model: type[Any],
    layer: str,
    request: LayerRequest | None,
    resolution: int | None,
    filters: Mapping[str, Any],
    count: int,
) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=model._meta.label_lower,
        details={
            "layer": layer,
            "zoom": request.zoom if request else None,
            "resolution": resolution,
            "bbox": request.bbox.rounded() if request else None,
            "filters": {key: str(value) for key, value in filters.items()},
            "count": count,
        },
    )


def hierarchy_column(resolution: int) -> str:
    """The stored cell at `resolution` along H3's hierarchy from the finest an aggregate-only
    role is shown: `h3_r9` itself, or its parent (`models.H3Cells.h3_p5`, `h3_p7`)."""
    return f"h3_r{resolution}" if resolution == AGGREGATE_FINEST else f"h3_p{resolution}"


def _collect(
    queryset: QuerySet[Any],
    *,
    request: LayerRequest,
    scope: policy.AggregateScope,
    position: str,
    category: str,
    point: Callable[[dict[str, Any]], dict[str, Any]],
    columns: Iterable[str],
    subject: str = "pk",
    commune: str | None = None,
    subject_cell: str | None = None,
    only: str | None = None,
) -> tuple[list[dict[str, Any]], int | None, bool]:
    """Features for the request: hexagons at wide zooms (and always for aggregate-only roles),
    points at street zooms (built from `columns` only, never whole records). Returns
    (features, resolution, truncated). `subject`: what an aggregate-only role must see at least
    `min_count` of in each département's part of a hexagon (the deal points of operations), and
    `commune` the column holding its commune (a subject must have one: its distinct counts per
    commune are added up); `subject_cell`: the prefix of the annotations holding each subject's
    own cell at each aggregate level (`place_cell5`…); `only`: a category read from the counts
    of all (`counted_cells`)."""
    resolution = resolution_for_zoom(request.zoom, coordinates=scope.coordinates)
    keep: Callable[[str], bool] | None = None
    bbox = request.bbox
    fine_column = f"{position}h3_r{resolution}"
    if not scope.coordinates and resolution is not None:
        # Whole hexagons only: the viewport chooses hexagons, never rows inside them.
        bbox, keep = whole_hexagons(request.bbox, resolution)
        if scope.min_count > 1:
            # Read over the coarsest level's whole hexagons, by the parents at this zoom's
            # resolution of the finest cells, so that each level adds up with the others
            # along H3's hierarchy (`consistent_groups`).
            bbox, _shown = whole_hexagons(request.bbox, AGGREGATE_LEVELS[0])
            fine_column = f"{position}{hierarchy_column(resolution)}"
            if subject_cell is not None:
                # Summed over cells, a subject must lie in one: its own (`subject_cell`),
                # not each row's (a place and a duplicate merged into it, in two cells,
                # would count twice).
                fine_column = f"{subject_cell}{resolution}"
    rows = queryset.filter(viewport_q(bbox, position))
    if resolution is not None:
        features = _hexagons(
            rows,
            column=fine_column,
            category=category,
            resolution=resolution,
            min_count=scope.min_count,
            keep=keep,
            subject=subject,
            commune=commune or f"{position}commune",
            part=f"{position}departement",
            named_by=f"{position}commune",
            only=only,
        )
        return features, resolution, False
    selected = list(rows.order_by("pk").values(*columns)[: MAX_POINTS + 1])
    truncated = len(selected) > MAX_POINTS
    return [point(row) for row in selected[:MAX_POINTS]], None, truncated


def _meta(layer: str, request: LayerRequest, resolution: int | None, **more: Any) -> dict[str, Any]:
    return {
        "layer": layer,
        "zoom": request.zoom,
        "resolution": resolution,
        "representation": "points" if resolution is None else "hexagons",
        **more,
    }


# --- deal points ---------------------------------------------------------------------------------


def local_day(moment: datetime | None) -> str:
    """The day of a moment in local time (Europe/Paris), ISO: what the list and the point's
    page show (the UTC day is the day before between midnight and 1 or 2 am)."""
    return timezone.localdate(moment).isoformat() if moment is not None else ""


DEALPOINT_COLUMNS = (
    "pk",
    "reference",
    "name",
    "status",
    "last_activity_at",
    "latitude",
    "longitude",
)


def _dealpoint_feature(url: Callable[[int], str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Deal-point features, each naming the point's page (`url`): sent one by one only to
    those who see points whole, who may open them (the table under the map links them)."""

    def feature(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": _point(row["latitude"], row["longitude"]),
            "properties": {
                "kind": "dealpoint",
                "id": row["pk"],
                "reference": row["reference"],
                "name": row["name"],
                "status": row["status"],
                "status_label": str(DealPointStatus(row["status"]).label),
                "last_activity": local_day(row["last_activity_at"]),
                "url": url(row["pk"]),
            },
        }

    return feature


def _landlord_feature(dealpoint: DealPoint, actor: Any) -> dict[str, Any]:
    """`rules.LANDLORD_FIELDS` only, at the building's position (never the point's own), with
    the status the landlord is told."""
    status = told_value(actor=actor, name="status", value=dealpoint.status)
    building = dealpoint.building
    assert building is not None  # the policy scopes landlords by building
    return {
        "type": "Feature",
        "geometry": _point(building.latitude, building.longitude),
        "properties": {
            "kind": "dealpoint",
            "code": dealpoint.partner_code,
            "status": status,
            "status_label": str(DealPointStatus(status).label),
            # The Monday of the week of the last report, in local time: as the list, the
            # record, the exports and the points API tell it (« 2026-11-16 »).
            # null without a report, as the API's list and the exports say it (it was "").
            "last_activity_week": week.isoformat()
            if (week := week_start(dealpoint.last_reported_at)) is not None
            else None,
            "building": building.name,
            # The landlord's page of the point, by its partner code (never its id).
            "url": reverse("dealpoints:by_code", args=[dealpoint.partner_code]),
        },
    }


def dealpoint_filterset(
    data: Mapping[str, Any], queryset: QuerySet[DealPoint]
) -> DealPointFilterSet:
    """The shared filter set bound to the layer's parameters; invalid filters raise a
    ValidationError (the API answers 400 with each field's message)."""
    filterset = DealPointFilterSet(data, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(
            {field: [str(m) for m in messages] for field, messages in filterset.errors.items()}
        )
    return filterset


def dealpoint_filter_data(
    *, actor: Any, scope: policy.AggregateScope, filters: Mapping[str, Any] | None
) -> QueryDict:
    """The deal-points filter set's data (`DealPointFilterSet`) this actor may count with,
    for every map layer that counts deal points (the deal-points layer, the hotspots): a
    filter it may not use, or a status it may not filter on, raises a ValidationError (400)
    before anything is read, never dropped; an aggregate-only role's filters take one value
    each (`scope.one_value_each`)."""
    # A reduced view (a landlord) filters only on what it receives (a filter on products
    # would tell what is sold at its buildings), counts on status and territory only (a
    # search on references, names and addresses singles points out): any other filter is
    # refused, for a dropped one would read as applied.
    refused = {
        **dealpoint_refused_values(actor=actor, data=filters),
        **dealpoint_refused_filters(actor=actor, data=filters),
    }
    if refused:
        raise ValidationError(refused)
    data = allowed_filter_data(filters or {}, dealpoint_allowed_filters(actor=actor))
    if several := several_values_refused(scope=scope, data=data):
        raise ValidationError(several)
    return data


def counted_rows(
    *, scope: policy.AggregateScope, data: Any, filterset: DealPointFilterSet
) -> tuple[QuerySet[DealPoint], str | None]:
    """The deal points a layer counts, and the status it shows alone: for an aggregate-only
    role filtering on a status, the rows of every status (the other filters applied) and that
    status, read from their counts (`counted_cells`); for everyone else the filtered rows."""
    statuses = [value for value in data.getlist("status") if value] if "status" in data else []
    if scope.min_count <= 1 or not statuses:
        return filterset.qs, None
    every_status = data.copy()
    every_status.pop("status")
    return dealpoint_filterset(every_status, scope.queryset).qs, statuses[0]


def several_values_refused(*, scope: policy.AggregateScope, data: Any) -> dict[str, list[str]]:
    """The filters of `data` asked with several values by a role whose filters take one value
    each (`scope.one_value_each`, an aggregate-only role): two statuses asked together,
    differenced with one, would name the status of a point a hexagon hides."""
    if not scope.one_value_each or not data:
        return {}

    def values(name: str) -> list[Any]:
        if hasattr(data, "getlist"):
            return list(data.getlist(name))
        value = data[name]
        return list(value) if isinstance(value, list | tuple) else [value]

    return {
        name: [_("Les comptes agrégés se filtrent sur un seul statut à la fois.")]
        for name in data
        if len(set(map(str, values(name)))) > 1
    }


def dealpoint_layer(
    *, actor: Any, request: LayerRequest, filters: Mapping[str, Any] | None = None
) -> Layer:
    """The deal points the actor may see in the viewport, as hexagons (counts per status) or
    points, reduced and placed at their building for a landlord. Audited once."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    scope = policy.aggregate_scope(dealpoint_queryset(), actor=actor)
    data = dealpoint_filter_data(actor=actor, scope=scope, filters=filters)
    filterset = dealpoint_filterset(data, scope.queryset)
    queryset, only = counted_rows(scope=scope, data=data, filterset=filterset)
    reduced = scope.coordinates and policy.visible_fields(actor, DealPoint) is not None
    if reduced:
        # ...and on the values it is told (a landlord's "confirmed" includes investigations).
        kept, narrowed = told_filter(actor=actor, data=data, queryset=scope.queryset)
        queryset = dealpoint_filterset(kept, narrowed).qs
        # A landlord sees its few points one by one at every zoom, at their buildings (a
        # hexagon of the points' own cells would tell more than the building does).
        # Buildings store no coarse cells: the exact bounds only (a landlord has few points).
        rows = queryset.filter(request.bbox.q("building__")).select_related("building")
        # Ordered by the random partner code: by id, the order would tell which was opened
        # first.
        selected = list(rows.order_by("partner_code")[: MAX_POINTS + 1])
        features = [_landlord_feature(row, actor) for row in selected[:MAX_POINTS]]
        resolution, truncated = None, len(selected) > MAX_POINTS
    else:
        features, resolution, truncated = _collect(
            queryset,
            request=request,
            scope=scope,
            position="",
            category="status",
            point=_dealpoint_feature(_page_url("dealpoints:detail")),
            columns=DEALPOINT_COLUMNS,
            only=only,
        )
    count = _feature_total(features)
    _audit(
        actor=actor,
        model=DealPoint,
        layer="dealpoints",
        request=request,
        resolution=resolution,
        filters=filterset.applied_filters(),
        count=count,
    )
    return Layer(
        features,
        _meta(
            "dealpoints",
            request,
            resolution,
            count=count,
            truncated=truncated,
            min_count=scope.min_count,
            coordinates=scope.coordinates,
        ),
    )


def _feature_total(features: list[dict[str, Any]]) -> int:
    return sum(int(f["properties"].get("count", 1)) for f in features)


# --- reports -------------------------------------------------------------------------------------


def may_see_report_layer(actor: Any) -> bool:
    """The reports layer is for those who triage reports (analysts); `restrict` then gives
    the rows of their territory."""
    return policy.can(actor, policy.Capability.TRIAGE_REPORTS)


REPORT_COLUMNS = ("pk", "reference", "status", "received_at", "latitude", "longitude")


def _page_url(name: str) -> Callable[[int], str]:
    """The page of a record by its id (one `reverse`, not one per feature)."""
    pattern = reverse(name, args=[0])
    return lambda pk: pattern.replace("/0/", f"/{pk}/")


def _report_feature(url: Callable[[int], str] | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Report features; with `url`, each names its page (for those who may open it)."""

    def feature(row: dict[str, Any]) -> dict[str, Any]:
        properties = {
            "kind": "report",
            "id": row["pk"],
            "reference": row["reference"],
            "status": row["status"],
            "status_label": str(ReportStatus(row["status"]).label),
            "received": local_day(row["received_at"]),
        }
        if url is not None:
            properties["url"] = url(row["pk"])
        return {
            "type": "Feature",
            "geometry": _point(row["latitude"], row["longitude"]),
            "properties": properties,
        }

    return feature


# The record fields each filter of the reports layer reads (`selectors.refused_filters`).
REPORT_LAYER_FILTERS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "received_from": ("received_at",),
    "received_to": ("received_at",),
}


def asked_filters(**values: Any) -> dict[str, Any]:
    """The filters given a value (those left out are None, an empty list or text)."""
    return {name: value for name, value in values.items() if value not in (None, "", [], ())}


def refuse_filters(
    *, actor: Any, asked: Mapping[str, Any], reads: Mapping[str, tuple[str, ...]], model: Any
) -> None:
    """A 400 (ValidationError) naming each filter of `asked` the policy does not let this
    actor use on `model`'s records (`selectors.refused_filters`), before anything is read."""
    refused = refused_filters(actor=actor, data=asked, reads=reads, model=model)
    if refused:
        raise ValidationError(refused)


def report_layer(
    *,
    actor: Any,
    request: LayerRequest,
    statuses: Iterable[str] = (),
    received_from: date | None = None,
    received_to: date | None = None,
) -> Layer:
    """The reports the actor may see in the viewport (analysts only; 404 for anyone else),
    hexagons with counts per status or points. Audited once."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if not may_see_report_layer(actor) or policy.visible_fields(actor, Report) is not None:
        raise Http404
    statuses = [value for value in statuses if value]
    refuse_filters(
        actor=actor,
        asked=asked_filters(status=statuses, received_from=received_from, received_to=received_to),
        reads=REPORT_LAYER_FILTERS,
        model=Report,
    )
    scope = policy.aggregate_scope(Report.objects.all(), actor=actor)
    queryset = scope.queryset
    filters: dict[str, Any] = {}
    if statuses:
        queryset = queryset.filter(status__in=statuses)
        filters["status"] = ",".join(statuses)
    if received_from:
        queryset = queryset.filter(received_at__date__gte=received_from)
        filters["received_from"] = received_from.isoformat()
    if received_to:
        queryset = queryset.filter(received_at__date__lte=received_to)
        filters["received_to"] = received_to.isoformat()
    features, resolution, truncated = _collect(
        queryset,
        request=request,
        scope=scope,
        position="",
        category="status",
        # The report's page needs the triage capability and the report in view, as this
        # layer does: every report it sends one by one may be opened.
        point=_report_feature(
            _page_url("reports:report_detail")
            if policy.can(actor, policy.Capability.TRIAGE_REPORTS)
            else None
        ),
        columns=REPORT_COLUMNS,
    )
    count = _feature_total(features)
    _audit(
        actor=actor,
        model=Report,
        layer="reports",
        request=request,
        resolution=resolution,
        filters=filters,
        count=count,
    )
    return Layer(
        features,
        _meta(
            "reports",
            request,
            resolution,
            count=count,
            truncated=truncated,
            min_count=scope.min_count,
            coordinates=scope.coordinates,
        ),
    )


# --- operations ----------------------------------------------------------------------------------


OPERATION_COLUMNS = (
    "pk",
    "kind",
    "occurred_on",
    "dealpoint_id",
    "dealpoint__reference",
    "dealpoint__latitude",
    "dealpoint__longitude",
)


def _operation_feature(
    url: Callable[[int], str],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Operation features, each naming the page of its point (`url`)."""

    def feature(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": _point(row["dealpoint__latitude"], row["dealpoint__longitude"]),
            "properties": {
                "kind": "operation",
                "id": row["pk"],
                "operation_kind": row["kind"],
                "kind_label": str(OperationKind(row["kind"]).label),
                "occurred_on": row["occurred_on"].isoformat(),
                "dealpoint_id": row["dealpoint_id"],
                "dealpoint_reference": row["dealpoint__reference"],
                "dealpoint_url": url(row["dealpoint_id"]),
            },
        }

    return feature


# The fields of the deal points each filter of the operations layer reads: a period, asked by
# an aggregate-only role and differenced with the whole count of a hexagon, would date the
# operations on its points (`selectors.refused_filters`).
OPERATION_LAYER_FILTERS: dict[str, tuple[str, ...]] = {
    "period_from": ("operations__occurred_on",),
    "period_to": ("operations__occurred_on",),
}


def operation_layer(
    *,
    actor: Any,
    request: LayerRequest,
    period_from: date | None = None,
    period_to: date | None = None,
) -> Layer:
    """Operations (not cancelled) on the deal points the actor may see, at their point
    (hexagons per kind at wide zooms and for aggregate-only roles). Not for reduced views
    (landlords: 404)."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if policy.visible_fields(actor, DealPoint) is not None:
        raise Http404
    refuse_filters(
        actor=actor,
        asked=asked_filters(period_from=period_from, period_to=period_to),
        reads=OPERATION_LAYER_FILTERS,
        model=DealPoint,
    )
    # The operations of a merged point too (a raid recorded on the duplicate record was a raid
    # there), at its own position, counted for the point it lives in now (`merged_root`): one
    # place is one point in a hexagon's count. A cancelled operation (recorded by mistake) is
    # not on the map.
    scope = policy.aggregate_scope(DealPoint.objects.all(), actor=actor)
    queryset = (
        Operation.objects.standing()
        .filter(dealpoint__in=scope.queryset.values("pk"))
        .annotate(
            place=Coalesce("dealpoint__merged_root_id", "dealpoint_id"),
            # The place's own commune: a merged point across the street, in the next
            # arrondissement, would otherwise count its place once per commune (the distinct
            # counts per commune are added up), two places read as three.
            place_commune=Coalesce("dealpoint__merged_root__commune_id", "dealpoint__commune_id"),
            # And its own cells along H3's hierarchy, for the counts-only roles (`_collect`).
            **{
                f"place_cell{level}": Coalesce(
                    f"dealpoint__merged_root__{hierarchy_column(level)}",
                    f"dealpoint__{hierarchy_column(level)}",
                )
                for level in AGGREGATE_LEVELS
            },
        )
    )
    filters: dict[str, Any] = {}
    if period_from:
        queryset = queryset.filter(occurred_on__gte=period_from)
        filters["period_from"] = period_from.isoformat()
    if period_to:
        queryset = queryset.filter(occurred_on__lte=period_to)
        filters["period_to"] = period_to.isoformat()
    features, resolution, truncated = _collect(
        queryset,
        request=request,
        scope=scope,
        position="dealpoint__",
        category="kind",
        # Operations are sent one by one only to those who see their points whole (not the
        # counts-only roles, not a landlord): the point's page opens for them.
        point=_operation_feature(_page_url("dealpoints:detail")),
        columns=OPERATION_COLUMNS,
        subject="place",
        commune="place_commune",
        subject_cell="place_cell",
    )
    count = _feature_total(features)
    _audit(
        actor=actor,
        model=Operation,
        layer="operations",
        request=request,
        resolution=resolution,
        filters=filters,
        count=count,
    )
    return Layer(
        features,
        _meta(
            "operations",
            request,
            resolution,
            count=count,
            truncated=truncated,
            min_count=scope.min_count,
            coordinates=scope.coordinates,
        ),
    )


# --- open proposals ------------------------------------------------------------------------------


def may_see_proposal_layer(actor: Any) -> bool:
    return policy.can(actor, policy.Capability.EDIT_DEALPOINTS)


PROPOSAL_COLUMNS = ("pk", "created_at", "latitude", "longitude", "precision", "commune__name")


def _proposal_feature(row: dict[str, Any], *, accept_url: Callable[[int], str]) -> dict[str, Any]:
    """An open proposal where its reports are, named by its commune and precision (its id
    tells an analyst nothing), with the page that creates the point from it and its item in
    the matching queue."""
    return {
        "type": "Feature",
        "geometry": _point(row["latitude"], row["longitude"]),
        "properties": {
            "kind": "proposal",
            "id": row["pk"],
            "created": local_day(row["created_at"]),
            "place": row["commune__name"] or "",
            "precision": row["precision"],
            "precision_label": str(Precision(row["precision"]).label),
            "accept_url": accept_url(row["pk"]),
            "queue_url": f"{reverse('dealpoints:matching')}?focus=proposal-{row['pk']}"
            f"#proposal-{row['pk']}",
        },
    }


def proposal_layer(*, actor: Any, request: LayerRequest) -> Layer:
    """Open proposals of new deal points the actor may decide on (analysts; 404 otherwise)."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if not may_see_proposal_layer(actor):
        raise Http404
    scope = policy.aggregate_scope(Proposal.objects.filter(status=ProposalStatus.OPEN), actor=actor)
    features, resolution, truncated = _collect(
        scope.queryset,
        request=request,
        scope=scope,
        position="",
        category="status",
        point=partial(_proposal_feature, accept_url=_page_url("dealpoints:proposal_accept")),
        columns=PROPOSAL_COLUMNS,
    )
    count = _feature_total(features)
    _audit(
        actor=actor,
        model=Proposal,
        layer="proposals",
        request=request,
        resolution=resolution,
        filters={},
        count=count,
    )
    return Layer(
        features, _meta("proposals", request, resolution, count=count, truncated=truncated)
    )


# --- boundaries ----------------------------------------------------------------------------------


def boundary_layer(*, actor: Any, departement_code: str, kind: str) -> dict[str, Any]:
    """Communes (and arrondissements), QPV or the outline of a département the actor may see
    (404 otherwise), simplified for display. Audited once."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if kind not in BOUNDARY_KINDS:
        raise ValidationError({"kind": [_("Type de limite inconnu.")]})
    departement = territory_selectors.departement_get(actor=actor, code=departement_code)
    features: list[dict[str, Any]]
    if kind == "departement":
        features = []
        if departement.geometry is not None:
            geometry = shapely.from_wkb(locator.as_bytes(departement.geometry))
            geometry = shapely.set_precision(
                shapely.simplify(geometry, 0.001, preserve_topology=True), 0.00001
            )
            features.append(
                {
                    "type": "Feature",
                    "geometry": json.loads(shapely.to_geojson(geometry)),
                    "properties": {
                        "layer": "departement",
                        "code": departement.code,
                        "name": departement.name,
                    },
                }
            )
    else:
        wanted = "commune" if kind == "communes" else "qpv"
        collection = json.loads(
            territory_selectors.departement_geojson(actor=actor, code=departement.code)
        )
        features = [f for f in collection["features"] if f["properties"].get("layer") == wanted]
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type="territories.commune" if kind != "departement" else "territories.departement",
        details={
            "layer": f"boundaries:{kind}",
            "filters": {"departement": departement.code},
            "count": len(features),
        },
    )
    return {"type": "FeatureCollection", "features": features}
