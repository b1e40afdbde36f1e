"""Offline commune search for the public report form: by name or postcode, from the loaded
`Commune` table, never an outside geocoder (design §5: every request of a public page stays on
this site).

Names and postcodes of every commune are held in memory (a few megabytes for the whole
country), built once per process; each result's outline, bounding box and representative point
are computed from its geometry on first use and cached. Another process's territory load is
noticed through `locator.territories_fingerprint()`, checked at most every
`CARTOSTUP_LOCATE_RECHECK_SECONDS`, as the point locator does.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import shapely
from django.conf import settings

from cartostup.territories import locator
from cartostup.territories.models import Commune

MAX_RESULTS = 10
MAX_QUERY_LENGTH = 100
# Outlines are for orientation only: about 10 m of simplification keeps them small.
OUTLINE_TOLERANCE_DEGREES = 0.0001


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces ("Saint-Étienne" ->
    "saint etienne")."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain.lower()).split())


@dataclass(frozen=True)
class _Entry:
    pk: int
    code: str
    name: str
    words: tuple[str, ...]
    postcodes: tuple[str, ...]
    population: int
    departement: str


@dataclass(frozen=True)
class CommuneResult:
    code: str
    name: str
    postcodes: tuple[str, ...]
    label: str
    centre: tuple[float, float]  # latitude, longitude: a point surely inside the commune
    bbox: tuple[float, float, float, float]  # west, south, east, north
    outline: dict[str, Any]  # GeoJSON geometry

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "postcodes": list(self.postcodes),
            "label": self.label,
            "centre": list(self.centre),
            "bbox": list(self.bbox),
            "outline": self.outline,
        }


class CommuneIndex:
    def __init__(self, entries: list[_Entry], fingerprint: tuple[Any, ...]) -> None:
        self.entries = entries
        self.fingerprint = fingerprint
        self.checked_at = time.monotonic()
        self._shapes: dict[int, tuple[tuple[float, float], tuple[float, ...], dict] | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_database(cls) -> CommuneIndex:
        fingerprint = locator.territories_fingerprint()
        with_geometry = set(
            Commune.objects.filter(geometry__isnull=False).values_list("pk", flat=True)
        )
        parents = set(
            Commune.objects.filter(parent__isnull=False, geometry__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        entries = []
        rows = Commune.objects.order_by("code").values_list(
            "pk", "code", "name", "postcodes", "population", "departement__code"
        )
        for pk, code, name, postcodes, population, departement in rows:
            # Only places a pin can be put in: a commune with a boundary, or a city whose
            # arrondissements have one (Paris, Lyon, Marseille).
            if pk not in with_geometry and pk not in parents:
                continue
            entries.append(
                _Entry(
                    pk=pk,
                    code=code,
                    name=name,
                    words=tuple(normalise(name).split()),
                    postcodes=tuple(re.findall(r"\d{5}", postcodes or "")),
                    population=population or 0,
                    departement=departement,
                )
            )
        return cls(entries, fingerprint)

    # --- search ---------------------------------------------------------------------------

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[CommuneResult]:
        """Communes whose name has every word of the query as the start of one of its words,
        or whose postcode starts with the query's number; best matches first."""
        words = normalise(query[:MAX_QUERY_LENGTH]).split()
        if not words:
            return []
        phrase = " ".join(words)
        scored = []
        for entry in self.entries:
            if not all(self._matches(entry, word) for word in words):
                continue
            name = " ".join(entry.words)
            rank = 0 if name == phrase or phrase in entry.postcodes else 1
            rank += 0 if name.startswith(phrase) else 1
            scored.append((rank, -entry.population, entry.name, entry))
        scored.sort(key=lambda item: item[:3])
        results = []
        for *_rank, entry in scored:
            result = self._result(entry)
            if result is not None:
                results.append(result)
            if len(results) >= limit:
                break
        return results

    @staticmethod
    def _matches(entry: _Entry, word: str) -> bool:
        # Postcodes only: an INSEE code looks like a postcode and means another commune.
        if (
            word.isdigit()
            and len(word) >= 2
            and any(postcode.startswith(word) for postcode in entry.postcodes)
        ):
            return True
        return any(name_word.startswith(word) for name_word in entry.words)

    # --- shapes ---------------------------------------------------------------------------

    def _result(self, entry: _Entry) -> CommuneResult | None:
        shape = self._shape(entry)
        if shape is None:
            return None
        centre, bbox, outline = shape
        label = f"{entry.name} ({entry.postcodes[0] if entry.postcodes else entry.departement})"
        return CommuneResult(
            code=entry.code,
            name=entry.name,
            postcodes=entry.postcodes,
            label=label,
            centre=centre,
            bbox=(bbox[0], bbox[1], bbox[2], bbox[3]),
            outline=outline,
        )

    def _shape(self, entry: _Entry) -> tuple[tuple[float, float], tuple[float, ...], dict] | None:
        with self._lock:
            if entry.pk in self._shapes:
                return self._shapes[entry.pk]
        blobs = list(
            Commune.objects.filter(pk=entry.pk, geometry__isnull=False).values_list(
                "geometry", flat=True
            )
        ) or list(
            Commune.objects.filter(parent_id=entry.pk, geometry__isnull=False).values_list(
                "geometry", flat=True
            )
        )
        shape = None
        if blobs:
            geometry = shapely.union_all(shapely.from_wkb([locator.as_bytes(b) for b in blobs]))
            point = geometry.point_on_surface()
            simplified = geometry.simplify(OUTLINE_TOLERANCE_DEGREES, preserve_topology=True)
            outline = shapely.geometry.mapping(shapely.set_precision(simplified, 1e-5))
            shape = (
                (round(point.y, 6), round(point.x, 6)),
                tuple(round(value, 5) for value in geometry.bounds),
                _as_lists(outline),
            )
        with self._lock:
            self._shapes[entry.pk] = shape
        return shape


def _as_lists(value: Any) -> Any:
    """shapely's `mapping` gives tuples; JSON wants lists (and tests compare lists)."""
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_lists(item) for item in value]
    return value


_index: CommuneIndex | None = None
_index_lock = threading.Lock()


def get_index() -> CommuneIndex:
    """This process's index, rebuilt when the loaded territories changed."""
    global _index
    index = _index
    recheck = float(getattr(settings, "CARTOSTUP_LOCATE_RECHECK_SECONDS", 60))
    if index is not None:
        if recheck <= 0 or time.monotonic() - index.checked_at < recheck:
            return index
        if locator.territories_fingerprint() == index.fingerprint:
            index.checked_at = time.monotonic()
            return index
    with _index_lock:
        if _index is None or _index is index:
            _index = CommuneIndex.from_database()
        return _index


def invalidate() -> None:
    global _index
    with _index_lock:
        _index = None


def commune_search(query: str, limit: int = MAX_RESULTS) -> list[CommuneResult]:
    """Up to `limit` communes or arrondissements matching a name or a postcode."""
    return get_index().search(query, limit)


def commune_resolve(query: str) -> tuple[CommuneResult | None, list[CommuneResult]]:
    """For the form without JavaScript: the one commune a query designates (a single result,
    or an exact name or postcode), else `None` and the candidates."""
    results = commune_search(query)
    phrase = normalise(query)
    exact = [
        result
        for result in results
        if normalise(result.name) == phrase or phrase in result.postcodes
    ]
    if len(results) == 1:
        return results[0], results
    if len(exact) == 1:
        return exact[0], results
    return None, results
