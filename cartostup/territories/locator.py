"""Point -> territory: commune (or arrondissement), département, Ofast antenna(s), QPV.

The loaded communes' polygons are indexed in memory (shapely 2 `STRtree` over prepared
geometries), built lazily once per process from the database and shared by threads. Loads call
`invalidate()`; other processes notice a change through a cheap fingerprint query made at most
every `CARTOSTUP_LOCATE_RECHECK_SECONDS` (nothing here assumes a single process).

Simplified boundaries leave slivers between communes and along the coast: a point that falls in
no polygon is given the nearest commune within `CARTOSTUP_LOCATE_TOLERANCE_M` metres, measured on
the ground; beyond that it is outside the loaded territory.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.db.models import Count, Max, Sum
from django.db.models.functions import Length
from django.utils.translation import gettext as _

from .models import Antenna, Commune, Departement, PriorityNeighbourhood

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180


class LocateError(ValueError):
    """A point that cannot be placed; `str(error)` is a French message for the user."""

    code = "locate_error"


class InvalidCoordinatesError(LocateError):
    code = "invalid_coordinates"


class OutsideTerritoryError(LocateError):
    code = "outside_territory"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    commune_code: str
    commune_name: str
    commune_kind: str
    departement_code: str
    departement_name: str
    antennas: tuple[str, ...]
    qpv_code: str | None
    qpv_name: str | None
    # 0 inside a commune; otherwise the distance (m) to the commune it was snapped to.
    distance_m: float


def as_bytes(value: Any) -> bytes:
    # PostgreSQL returns memoryview for bytea, SQLite bytes.
    return bytes(value)


def territories_fingerprint() -> tuple[Any, ...]:
    """Changes whenever communes, QPV or antenna coverage change (counts, last ids, QPV sizes)."""
    communes = Commune.objects.filter(geometry__isnull=False).aggregate(n=Count("pk"), m=Max("pk"))
    qpv = PriorityNeighbourhood.objects.aggregate(
        n=Count("pk"), m=Max("pk"), s=Sum(Length("geometry"))
    )
    coverage = Antenna.departements.through.objects.aggregate(n=Count("pk"), m=Max("pk"))
    return (
        communes["n"],
        communes["m"],
        qpv["n"],
        qpv["m"],
        qpv["s"],
        coverage["n"],
        coverage["m"],
    )


class TerritoryIndex:
    """In-memory, read-only index of the loaded communes and QPV. Build with `from_database`."""

    def __init__(
        self,
        *,
        commune_codes: list[str],
        commune_names: list[str],
        commune_kinds: list[str],
        commune_departements: np.ndarray,
        commune_geometries: np.ndarray,
        departement_codes: list[str],
        departement_names: list[str],
        departement_antennas: list[tuple[str, ...]],
        qpv_codes: list[str],
        qpv_names: list[str],
        qpv_geometries: np.ndarray,
        loaded_departements: tuple[str, ...],
        complete: bool,
        fingerprint: tuple[Any, ...] = (),
    ) -> None:
        self.commune_codes = commune_codes
        self.commune_names = commune_names
        self.commune_kinds = commune_kinds
        self.commune_departements = commune_departements
        self.commune_geometries = commune_geometries
        self.departement_codes = departement_codes
        self.departement_names = departement_names
        self.departement_antennas = departement_antennas
        self.qpv_codes = qpv_codes
        self.qpv_names = qpv_names
        self.qpv_geometries = qpv_geometries
        self.loaded_departements = loaded_departements
        self.complete = complete
        self.fingerprint = fingerprint
        self.checked_at = time.monotonic()
        shapely.prepare(commune_geometries)
        shapely.prepare(qpv_geometries)
        self.commune_tree = shapely.STRtree(commune_geometries)
        self.qpv_tree = shapely.STRtree(qpv_geometries)
        self.tolerance_m = float(getattr(settings, "CARTOSTUP_LOCATE_TOLERANCE_M", 1500.0))

    @classmethod
    def from_database(cls) -> TerritoryIndex:
        fingerprint = territories_fingerprint()
        departements = list(Departement.objects.order_by("code").values_list("pk", "code", "name"))
        position = {pk: i for i, (pk, _code, _name) in enumerate(departements)}
        antennas: list[list[str]] = [[] for _ in departements]
        for name, departement_id in Antenna.departements.through.objects.order_by(
            "antenna__name"
        ).values_list("antenna__name", "departement_id"):
            antennas[position[departement_id]].append(name)
        rows = list(
            Commune.objects.filter(geometry__isnull=False)
            .order_by("code")
            .values_list("code", "name", "kind", "departement_id", "geometry")
        )
        qpv_rows = list(
            PriorityNeighbourhood.objects.order_by("code").values_list("code", "name", "geometry")
        )
        loaded = sorted({departements[position[row[3]]][1] for row in rows})
        return cls(
            commune_codes=[row[0] for row in rows],
            commune_names=[row[1] for row in rows],
            commune_kinds=[row[2] for row in rows],
            commune_departements=np.array([position[row[3]] for row in rows], dtype=np.int32),
            commune_geometries=shapely.from_wkb([as_bytes(row[4]) for row in rows])
            if rows
            else np.array([], dtype=object),
            departement_codes=[row[1] for row in departements],
            departement_names=[row[2] for row in departements],
            departement_antennas=[tuple(names) for names in antennas],
            qpv_codes=[row[0] for row in qpv_rows],
            qpv_names=[row[1] for row in qpv_rows],
            qpv_geometries=shapely.from_wkb([as_bytes(row[2]) for row in qpv_rows])
            if qpv_rows
            else np.array([], dtype=object),
            loaded_departements=tuple(loaded),
            complete=bool(departements) and len(loaded) == len(departements),
            fingerprint=fingerprint,
        )

    # --- errors ---------------------------------------------------------------------------

    def outside_error(self, latitude: float, longitude: float) -> OutsideTerritoryError:
        where = f"({latitude:.6g}, {longitude:.6g})"
        if self.complete:
            return OutsideTerritoryError(
                _("Ce point %(where)s est hors du territoire français.") % {"where": where}
            )
        return OutsideTerritoryError(
            _(
                "Ce point %(where)s est hors du territoire français ou dans un département "
                "dont les communes ne sont pas chargées (départements chargés : %(loaded)s)."
            )
            % {"where": where, "loaded": ", ".join(self.loaded_departements) or "aucun"}
        )

    # --- single point ---------------------------------------------------------------------

    def locate(self, latitude: Any, longitude: Any) -> Location:
        """The territory of one point; raises `LocateError` (French message) when impossible."""
        lat, lon = validate_coordinates(latitude, longitude)
        # "intersects" is cheaper than "within" on prepared polygons and, for a point, differs
        # only on a boundary, where the first commune by code wins (as in locate_many).
        hits = self.commune_tree.query(shapely.Point(lon, lat), predicate="intersects")
        distance = 0.0
        if len(hits):
            commune = int(hits.min())
        else:
            nearest = self._nearest_within_tolerance(lat, lon)
            if nearest is None:
                raise self.outside_error(lat, lon)
            commune, distance = nearest
        qpv = self._qpv_at(lat, lon)
        return self._location(lat, lon, commune, qpv, distance)

    def _qpv_at(self, lat: float, lon: float) -> int:
        if not len(self.qpv_codes):
            return -1
        hits = self.qpv_tree.query(shapely.Point(lon, lat), predicate="intersects")
        return int(hits.min()) if len(hits) else -1

    def _location(
        self, lat: float, lon: float, commune: int, qpv: int, distance: float
    ) -> Location:
        departement = int(self.commune_departements[commune])
        return Location(
            latitude=lat,
            longitude=lon,
            commune_code=self.commune_codes[commune],
            commune_name=self.commune_names[commune],
            commune_kind=self.commune_kinds[commune],
            departement_code=self.departement_codes[departement],
            departement_name=self.departement_names[departement],
            antennas=self.departement_antennas[departement],
            qpv_code=self.qpv_codes[qpv] if qpv >= 0 else None,
            qpv_name=self.qpv_names[qpv] if qpv >= 0 else None,
            distance_m=round(distance, 1),
        )

    def _nearest_within_tolerance(self, lat: float, lon: float) -> tuple[int, float] | None:
        commune, distance = self._snap(np.array([lat]), np.array([lon]))
        return (int(commune[0]), float(distance[0])) if commune[0] >= 0 else None

    def _snap(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points in no commune: the nearest commune within the tolerance, in metres.

        The tree works in degrees: ask for every commune within a radius that covers the
        tolerance in every direction (a degree of longitude shrinks with cos(latitude)), then
        measure each candidate on a local equirectangular projection centred on its point
        (accurate to well under a metre at these distances). Returns -1 where none is close.
        """
        commune = np.full(len(lat), -1, dtype=np.int64)
        distance = np.zeros(len(lat), dtype=np.float64)
        tolerance = self.tolerance_m
        if tolerance <= 0 or not len(lat) or not len(self.commune_codes):
            return commune, distance
        cos_lat = np.maximum(np.cos(np.radians(lat)), 0.01)
        radius_degrees = tolerance / (METRES_PER_DEGREE * cos_lat) * 1.01
        points = shapely.points(lon, lat)
        point_index, candidate = self.commune_tree.query(
            points, predicate="dwithin", distance=radius_degrees
        )
        if not len(point_index):
            return commune, distance
        geometries = self.commune_geometries[candidate]
        counts = shapely.get_num_coordinates(geometries)
        origin = np.repeat(np.column_stack([lon, lat])[point_index], counts, axis=0)
        scale = np.repeat(
            np.column_stack([METRES_PER_DEGREE * cos_lat, np.full(len(lat), METRES_PER_DEGREE)])[
                point_index
            ],
            counts,
            axis=0,
        )
        local = shapely.transform(geometries, lambda xy: (xy - origin) * scale)
        metres = shapely.distance(local, shapely.Point(0.0, 0.0))
        # Closest first for each point (ties: lowest commune index); keep those within tolerance.
        order = np.lexsort((candidate, metres, point_index))
        point_index, candidate, metres = point_index[order], candidate[order], metres[order]
        first = np.ones(len(point_index), dtype=bool)
        first[1:] = point_index[1:] != point_index[:-1]
        keep = first & (metres <= tolerance)
        commune[point_index[keep]] = candidate[keep]
        distance[point_index[keep]] = metres[keep]
        return commune, distance

    # --- many points ----------------------------------------------------------------------

    def locate_many(self, latitudes: Any, longitudes: Any) -> BatchLocation:
        """Vectorised lookup of many points (numpy arrays or sequences of numbers).

        Never raises for a bad point: each row gets a commune index or an error code.
        """
        lat = _as_float_array(latitudes)
        lon = _as_float_array(longitudes)
        if lat.shape != lon.shape:
            raise ValueError("latitudes and longitudes must have the same length")
        count = lat.shape[0]
        commune = np.full(count, -1, dtype=np.int64)
        qpv = np.full(count, -1, dtype=np.int64)
        distance = np.zeros(count, dtype=np.float64)
        error = np.zeros(count, dtype=np.int8)
        valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        error[~valid] = BatchLocation.INVALID
        positions = np.flatnonzero(valid)
        if len(positions) and len(self.commune_codes):
            points = shapely.points(lon[positions], lat[positions])
            point_index, tree_index = self.commune_tree.query(points, predicate="intersects")
            # A point on a shared boundary (or an overlap) takes the first commune by code.
            found = _first_hit(len(positions), point_index, tree_index)
            commune[positions] = found
            missing = positions[found < 0]
            commune[missing], distance[missing] = self._snap(lat[missing], lon[missing])
            if len(self.qpv_codes):
                point_index, tree_index = self.qpv_tree.query(points, predicate="intersects")
                qpv[positions] = _first_hit(len(positions), point_index, tree_index)
        error[valid & (commune < 0)] = BatchLocation.OUTSIDE
        return BatchLocation(self, lat, lon, commune, qpv, distance, error)


@dataclass
class BatchLocation:
    """Result of `locate_many`: arrays aligned with the input points."""

    OK = 0
    INVALID = 1
    OUTSIDE = 2

    index: TerritoryIndex
    latitudes: np.ndarray
    longitudes: np.ndarray
    commune: np.ndarray  # index into index.commune_codes, -1 when not placed
    qpv: np.ndarray  # index into index.qpv_codes, -1 when none
    distance_m: np.ndarray
    error: np.ndarray  # OK, INVALID or OUTSIDE

    def __len__(self) -> int:
        return len(self.commune)

    def result(self, row: int) -> Location | LocateError:
        """The `Location` of one row, or the error `locate()` would have raised."""
        lat, lon = float(self.latitudes[row]), float(self.longitudes[row])
        if self.error[row] == self.INVALID:
            return InvalidCoordinatesError(invalid_coordinates_message(lat, lon))
        if self.error[row] == self.OUTSIDE:
            return self.index.outside_error(lat, lon)
        return self.index._location(
            lat, lon, int(self.commune[row]), int(self.qpv[row]), float(self.distance_m[row])
        )


def _first_hit(count: int, point_index: np.ndarray, tree_index: np.ndarray) -> np.ndarray:
    """For each of `count` points, the lowest tree index it hit, or -1."""
    first = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, point_index, tree_index)
    first[first == np.iinfo(np.int64).max] = -1
    return first


def _as_float_array(values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return np.array([_to_float(value) for value in values], dtype=np.float64)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def invalid_coordinates_message(latitude: Any, longitude: Any) -> str:
    return _(
        "Coordonnées invalides (%(latitude)s, %(longitude)s) : la latitude doit être un nombre "
        "entre -90 et 90 et la longitude un nombre entre -180 et 180."
    ) % {"latitude": latitude, "longitude": longitude}


def validate_coordinates(latitude: Any, longitude: Any) -> tuple[float, float]:
    """Both as floats, or `InvalidCoordinatesError` (non-numbers, NaN, infinities, out of range)."""
    lat, lon = _to_float(latitude), _to_float(longitude)
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise InvalidCoordinatesError(invalid_coordinates_message(latitude, longitude))
    return lat, lon


# --- the per-process index ----------------------------------------------------------------

_index: TerritoryIndex | None = None
_lock = threading.Lock()


def get_index() -> TerritoryIndex:
    """The index of this process, built on first use and rebuilt when the data changed."""
    global _index
    index = _index
    recheck = float(getattr(settings, "CARTOSTUP_LOCATE_RECHECK_SECONDS", 60))
    if index is not None:
        if recheck <= 0 or time.monotonic() - index.checked_at < recheck:
            return index
        if territories_fingerprint() == index.fingerprint:
            index.checked_at = time.monotonic()
            return index
    with _lock:
        if _index is None or _index is index:
            _index = TerritoryIndex.from_database()
        return _index


def invalidate() -> None:
    """Forget the index; the next lookup rebuilds it (call after loading territories or QPV)."""
    global _index
    with _lock:
        _index = None


def locate(latitude: Any, longitude: Any) -> Location:
    """The commune (arrondissement in Paris, Lyon, Marseille), département, antennas and QPV of a
    WGS84 point. Raises `InvalidCoordinatesError` or `OutsideTerritoryError`."""
    return get_index().locate(latitude, longitude)


def locate_many(latitudes: Sequence[Any] | np.ndarray, longitudes: Sequence[Any] | np.ndarray):
    """Vectorised `locate` for many points; see `TerritoryIndex.locate_many`."""
    return get_index().locate_many(latitudes, longitudes)
