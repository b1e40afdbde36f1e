"""Matching reports to deal points: how close and how alike a report and a point are, which
points a report may belong to, and the clustering of reports that match no point into
proposed new points (issue 4).

The scoring and the clustering are pure functions (the benchmark `bench/matching.py` runs them
on a labelled synthetic data set); `find_candidates` and `find_dismantled_near` read the
database. No access check here: matching is the platform's own work, and whatever it proposes
is shown to analysts through the policy (`matching_views`).

Score (fit) of a (report, point) pair, in [0, 1] (see docs/decisions.md):

    fit = proximity × Π_attributes (1 − 3 × ATTRIBUTE_WEIGHT × weight × (1 − likeness)) × place
          × recency

- proximity = exp(−½ (d / σ)²), σ the combined position uncertainty of the report's and the
  point's precision (root-sum-square of `POSITION_SIGMA_M`): a "street" report 100 m away is
  as close as a "stairwell" report 10 m away;
- one factor per attribute both sides know (products, opening hours, channel: independent
  evidence, weights `ATTRIBUTE_WEIGHTS`); an attribute one side does not know is left out
  (neutral, never penalising);
- place: 1 when the buildings named (the report's `place_label`, the point's building and
  stairwell labels, or the landlord's building key) agree or one side names none,
  `PLACE_MISMATCH` for another building, halfway for another stairwell;
- recency: 1 for a point active in the last `RECENT_DAYS`, down to `STALE_RECENCY` after a year.

A candidate's `score` is its share: its fit over the fits of every candidate and of the
background ("a point not on the map yet", `background`); the decision thresholds apply to it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3
import numpy as np
from django.conf import settings
from django.utils import timezone

from .choices import (
    ACTIVE_STATUSES,
    DealPointStatus,
    DistributionChannel,
    LinkDecision,
    Precision,
)
from .models import H3_TOWN, DealPoint, ReportLink

EARTH_RADIUS_M = 6_371_008.8

# Typical error of a position given at each precision (metres, root-mean-square distance to
# the true place): a pinned stairwell, a building, a street, a neighbourhood.
POSITION_SIGMA_M: dict[str, float] = {
    Precision.STAIRWELL: 15.0,
    Precision.BUILDING: 40.0,
    Precision.STREET: 150.0,
    Precision.AREA: 500.0,
}
# Candidates are searched this many combined sigmas away (beyond, proximity < 0.05).
RADIUS_FACTOR = 2.5
# How much the attributes can lower a score (distance dominates): a wrong product × 0.4, hours
# that do not fit × 0.55, a channel that does not fit × 0.55.
ATTRIBUTE_WEIGHT = 0.5
ATTRIBUTE_WEIGHTS = {"products": 0.4, "hours": 0.3, "channel": 0.3}
# The place label ("Bât. B, cage 2") both sides name: another building multiplies the score by
# this (reporters sometimes name the wrong building, so it is strong evidence, not a veto);
# another stairwell of the same building by halfway to 1.
PLACE_MISMATCH = 0.25
# Weight of the "unknown point" alternative in `rank` (a fit of 0.12: a candidate 2 σ away),
# growing with the report's position uncertainty to this power (tuned on bench/matching,
# seed 1; reported on other seeds).
BACKGROUND = 0.12
BACKGROUND_EXPONENT = 0.25
RECENT_DAYS = 180
STALE_DAYS = 365
STALE_RECENCY = 0.8
# Automatic attachment also needs the best candidate to be clearly ahead of the second one
# (two points of one estate, 60 m apart): the second's share must be at most this share of
# the best's, otherwise both are proposed to the analyst.
AMBIGUITY_RATIO = 0.5
# Clustering of reports that match no point: reports closer than this (precise ones) belong to
# one proposed point.
CLUSTER_EPS_M = 80.0

# Report activities that say how the drugs are sold, and the point channels they fit.
_STREET_ACTIVITIES = frozenset({"selling", "lookouts"})
_REMOTE_ACTIVITIES = frozenset({"delivery", "online"})
_STREET_CHANNELS = frozenset({DistributionChannel.FIXED, DistributionChannel.FLAT})
_REMOTE_CHANNELS = frozenset(
    {DistributionChannel.DELIVERY, DistributionChannel.ONLINE, DistributionChannel.DRIVE}
)
_PRECISION_ORDER: list[str] = [
    Precision.STAIRWELL,
    Precision.BUILDING,
    Precision.STREET,
    Precision.AREA,
]


# --- features ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFeatures:
    latitude: float
    longitude: float
    precision: str
    products: tuple[str, ...] = ()
    days: tuple[str, ...] = ()
    times_of_day: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    # The reporter's words for the building and stairwell ("Bât. B, cage 2"), and the
    # landlord's building when a landlord reported it (exact).
    place_label: str = ""
    building_id: int | None = None

    @classmethod
    def of(cls, report: Any) -> ReportFeatures:
        return cls(
            latitude=report.latitude,
            longitude=report.longitude,
            precision=report.precision,
            products=tuple(report.products or ()),
            days=tuple(report.days or ()),
            times_of_day=tuple(report.times_of_day or ()),
            activities=tuple(report.activities or ()),
            place_label=getattr(report, "place_label", "") or "",
            building_id=getattr(report, "building_id", None),
        )


@dataclass(frozen=True)
class PointFeatures:
    latitude: float
    longitude: float
    precision: str
    products: tuple[str, ...] = ()
    opening_hours: tuple[str, ...] = ()
    channel: str = ""
    last_activity_at: datetime | None = None
    building_label: str = ""
    stairwell_label: str = ""
    building_id: int | None = None

    @classmethod
    def of(cls, dealpoint: Any) -> PointFeatures:
        return cls(
            latitude=dealpoint.latitude,
            longitude=dealpoint.longitude,
            precision=dealpoint.precision,
            products=tuple(dealpoint.products or ()),
            opening_hours=tuple(dealpoint.opening_hours or ()),
            channel=dealpoint.channel or "",
            last_activity_at=dealpoint.last_activity_at,
            building_label=getattr(dealpoint, "building_label", "") or "",
            stairwell_label=getattr(dealpoint, "stairwell_label", "") or "",
            building_id=getattr(dealpoint, "building_id", None),
        )


@dataclass(frozen=True)
class ScoreBreakdown:
    """A score and what it is made of (shown to the analyst; `None`: not known)."""

    score: float
    distance_m: float
    radius_m: float
    proximity: float
    products: float | None
    hours: float | None
    channel: float | None
    recency: float
    place: float | None = None


# --- geometry ------------------------------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def sigma_m(report_precision: str, point_precision: str) -> float:
    """Combined position uncertainty of a report and a point (root-sum-square)."""
    default = POSITION_SIGMA_M[Precision.STREET]
    report_sigma = POSITION_SIGMA_M.get(report_precision, default)
    point_sigma = POSITION_SIGMA_M.get(point_precision, default)
    return math.hypot(report_sigma, point_sigma)


def radius_m(report_precision: str, point_precision: str) -> float:
    """How far a point may be from a report and still be its point: it grows with both the
    report's and the point's precision (a street-level report of a building-level point is
    searched farther than a stairwell report of a stairwell point)."""
    return RADIUS_FACTOR * sigma_m(report_precision, point_precision)


def best_precision(precisions: Iterable[str]) -> str:
    known = [p for p in precisions if p in _PRECISION_ORDER]
    return min(known, key=_PRECISION_ORDER.index) if known else Precision.STREET


def search_cells(latitude: float, longitude: float, radius: float) -> list[str]:
    """H3 cells (res 9, the `h3_r9` column) that cover a disc of `radius` metres: the grid
    disk whose ring count depends on the radius only, so a search costs the same whatever the
    number of points."""
    edge = h3.average_hexagon_edge_length(H3_TOWN, unit="m")
    # Adjacent res-9 centres are ~1.5 edges apart at least; one ring more for cell distortion.
    rings = math.ceil(radius / (1.5 * edge)) + 1
    return list(h3.grid_disk(h3.latlng_to_cell(latitude, longitude, H3_TOWN), rings))


# --- scoring -------------------------------------------------------------------------------------


def _products_likeness(report: ReportFeatures, point: PointFeatures) -> float | None:
    said = {p for p in report.products if p != "other"}
    sold = {p for p in point.products if p != "other"}
    if not said or not sold:
        return None
    return len(said & sold) / len(said)


def _hours_likeness(report: ReportFeatures, point: PointFeatures) -> float | None:
    if not point.opening_hours or not (report.days or report.times_of_day):
        return None
    opening = {tuple(token.split(":", 1)) for token in point.opening_hours if ":" in token}
    days = set(report.days)
    times = set(report.times_of_day)
    for day, time in opening:
        if (not days or day in days) and (not times or time in times):
            return 1.0
    # Same time of day on another day, or same day at another time: half alike.
    if any((day in days) or (time in times) for day, time in opening):
        return 0.5
    return 0.0


def _channel_likeness(report: ReportFeatures, point: PointFeatures) -> float | None:
    activities = set(report.activities)
    street = bool(activities & _STREET_ACTIVITIES)
    remote = bool(activities & _REMOTE_ACTIVITIES)
    if not (street or remote) or not point.channel:
        return None
    if point.channel in _STREET_CHANNELS:
        return 1.0 if street else 0.3
    if point.channel in _REMOTE_CHANNELS:
        return 1.0 if remote else 0.5
    return None


# --- place labels --------------------------------------------------------------------------------

_BUILDING_WORDS = frozenset(
    {"bat", "batiment", "batiments", "bt", "bloc", "immeuble", "imm", "tour", "residence"}
)
_STAIRWELL_WORDS = frozenset(
    {"cage", "cg", "esc", "escalier", "entree", "ent", "hall", "porte", "montee", "allee"}
)
# "B2", "b12": a building letter and a stairwell number written together.
_COMPACT = re.compile(r"^([a-z])(\d{1,3})$")
_TOKENS = re.compile(r"[A-Za-z]+\d*|\d+")
_GLUED = re.compile(r"^([a-z]{2,})(\d+)$")


def parse_place_label(text: str) -> tuple[str, str]:
    """(building, stairwell) named by a free label, normalised (lower case, no accents, no
    leading zeros): "Bât. B, cage 2", "bat B esc 2", "Bâtiment B", "B2" all give ("b", "2");
    "Tour 3" gives ("3", ""). A bare capital letter or number names the building, a second
    one the stairwell; words after "bâtiment", "tour", "bloc"... name the building, after
    "cage", "escalier", "entrée"... the stairwell. Unknown words are ignored ("" when none)."""
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    building = stairwell = ""
    expect = ""
    tokens: list[str] = []
    for raw in _TOKENS.findall(plain):
        glued = _GLUED.match(raw.lower())
        if glued and glued.group(1) in _BUILDING_WORDS | _STAIRWELL_WORDS:
            tokens += [glued.group(1), glued.group(2)]  # "cage2", "bat12"
        else:
            tokens.append(raw)
    for raw in tokens:
        token = raw.lower()
        if token in _BUILDING_WORDS:
            expect = "building"
            continue
        if token in _STAIRWELL_WORDS:
            expect = "stairwell"
            continue
        compact = _COMPACT.match(token)
        if token.isdigit():
            token = token.lstrip("0") or "0"
        if expect == "building":
            if compact and not stairwell:
                building, stairwell = compact.group(1), compact.group(2).lstrip("0") or "0"
            else:
                building = token
        elif expect == "stairwell":
            stairwell = token
        elif compact:
            building = building or compact.group(1)
            stairwell = stairwell or compact.group(2).lstrip("0") or "0"
        elif token.isdigit() or (len(raw) == 1 and raw.isupper()):
            # A bare id ("B", "12"): the building first, then the stairwell. A lower-case
            # single letter is a word ("à", "l'"), not an id.
            if not building:
                building = token
            elif not stairwell:
                stairwell = token
        expect = ""
    return building, stairwell


def _point_place(point: PointFeatures) -> tuple[str, str]:
    building = parse_place_label(f"bat {point.building_label}")[0] if point.building_label else ""
    stairwell = (
        parse_place_label(f"cage {point.stairwell_label}")[1] if point.stairwell_label else ""
    )
    return building, stairwell


def _place_likeness(report: ReportFeatures, point: PointFeatures) -> float | None:
    """1: same building (and stairwell when both name one); 0.5: same building, another
    stairwell; 0: another building; None: one side names no building. The landlord's
    building, when both sides have one, is exact and decides the building."""
    said_building, said_stairwell = parse_place_label(report.place_label)
    building, stairwell = _point_place(point)
    if report.building_id is not None and point.building_id is not None:
        if report.building_id != point.building_id:
            return 0.0
        if said_stairwell and stairwell and said_stairwell != stairwell:
            return 0.5
        return 1.0
    if not said_building or not building:
        return None
    if said_building != building:
        return 0.0
    if said_stairwell and stairwell and said_stairwell != stairwell:
        return 0.5
    return 1.0


def _recency(point: PointFeatures, now: datetime) -> float:
    if point.last_activity_at is None:
        return 1.0
    days = (now - point.last_activity_at).total_seconds() / 86_400
    if days <= RECENT_DAYS:
        return 1.0
    share = min(1.0, (days - RECENT_DAYS) / (STALE_DAYS - RECENT_DAYS))
    return 1.0 - share * (1.0 - STALE_RECENCY)


def score(
    report: ReportFeatures, point: PointFeatures, *, now: datetime, distance: float | None = None
) -> ScoreBreakdown:
    """How likely the report is about the point (see the module docstring)."""
    if distance is None:
        distance = haversine_m(report.latitude, report.longitude, point.latitude, point.longitude)
    sigma = sigma_m(report.precision, point.precision)
    proximity = math.exp(-0.5 * (distance / sigma) ** 2)
    parts = {
        "products": _products_likeness(report, point),
        "hours": _hours_likeness(report, point),
        "channel": _channel_likeness(report, point),
    }
    attributes = 1.0
    for name, value in parts.items():
        if value is not None:
            attributes *= 1.0 - 3 * ATTRIBUTE_WEIGHT * ATTRIBUTE_WEIGHTS[name] * (1.0 - value)
    place = _place_likeness(report, point)
    place_factor = 1.0 if place is None else PLACE_MISMATCH + (1.0 - PLACE_MISMATCH) * place
    recency = _recency(point, now)
    value = proximity * attributes * place_factor * recency
    return ScoreBreakdown(
        score=round(value, 4),
        distance_m=round(distance, 1),
        radius_m=round(RADIUS_FACTOR * sigma, 1),
        proximity=round(proximity, 4),
        products=parts["products"],
        hours=parts["hours"],
        channel=parts["channel"],
        recency=round(recency, 4),
        place=place,
    )


@dataclass(frozen=True)
class Candidate:
    """A point a report may be about. `score`: the probability that the report is about this
    point rather than another candidate or a point not yet on the map (see `rank`); `fit`:
    the pair's own score (`score()`), whatever the other candidates."""

    dealpoint_id: int
    reference: str
    score: float
    distance_m: float
    fit: float = 0.0


def background(precision: str) -> float:
    """Weight, in the units of a fit, of "a point not on the map yet" (or no point): the chance
    that something unknown lies where the report says, which grows with the area its
    precision covers (`BACKGROUND` for a building-level report)."""
    sigma = POSITION_SIGMA_M.get(precision, POSITION_SIGMA_M[Precision.STREET])
    return BACKGROUND * (sigma / POSITION_SIGMA_M[Precision.BUILDING]) ** BACKGROUND_EXPONENT


def rank(
    report: ReportFeatures,
    points: Iterable[tuple[int, str, PointFeatures]],
    *,
    now: datetime,
    limit: int = 5,
) -> list[Candidate]:
    """Score `(id, reference, features)` points within their radius of the report, best first:
    each candidate's fit divided by the sum of every candidate's fit and of the background
    (`background`): a report close to one point and to nothing else is that point's, even a
    bit far from it; two points alike share it; a point not yet known may be the report's."""
    fits: list[tuple[int, str, float, float]] = []
    for pk, reference, point in points:
        distance = haversine_m(report.latitude, report.longitude, point.latitude, point.longitude)
        if distance > radius_m(report.precision, point.precision):
            continue
        result = score(report, point, now=now, distance=distance)
        fits.append((pk, reference, result.score, result.distance_m))
    total = background(report.precision) + sum(fit for _pk, _ref, fit, _d in fits)
    found = [
        Candidate(pk, reference, round(fit / total, 4), distance, fit)
        for pk, reference, fit, distance in fits
    ]
    found.sort(key=lambda c: (-c.score, c.distance_m, c.dealpoint_id))
    return found[:limit]


@dataclass(frozen=True)
class Decision:
    """What the matching does with a report: attach it to one point, propose some, or
    leave it for clustering."""

    attach: Candidate | None
    propose: tuple[Candidate, ...]


def decide(candidates: Sequence[Candidate], *, auto_score: float, propose_score: float) -> Decision:
    """Attach when the best candidate's share (`rank`) is at least `auto_score` and clearly ahead
    of the second's (`AMBIGUITY_RATIO`); otherwise propose every candidate with a share of at
    least `propose_score`."""
    if not candidates:
        return Decision(None, ())
    best = candidates[0]
    second = candidates[1].score if len(candidates) > 1 else 0.0
    if best.score >= auto_score and second <= AMBIGUITY_RATIO * best.score:
        return Decision(best, ())
    return Decision(None, tuple(c for c in candidates if c.score >= propose_score))


# --- database reads ------------------------------------------------------------------------------

_MAX_RADIUS_PRECISION = Precision.AREA


def _nearby(report: Any, radius: float) -> Any:
    return DealPoint.objects.filter(
        departement_id=report.departement_id,
        merged_into__isnull=True,
        h3_r9__in=search_cells(report.latitude, report.longitude, radius),
    )


def find_candidates(*, report: Any, limit: int = 5, now: datetime | None = None) -> list[Candidate]:
    """Active points of the report's département that it may be about, best first. Pairs an
    analyst refused (REJECTED links) are never candidates again."""
    now = now or timezone.now()
    search = radius_m(report.precision, _MAX_RADIUS_PRECISION)
    refused = ReportLink.objects.filter(report=report, decision=LinkDecision.REJECTED).values(
        "dealpoint_id"
    )
    points = _nearby(report, search).filter(status__in=ACTIVE_STATUSES).exclude(pk__in=refused)
    return rank(
        ReportFeatures.of(report),
        ((p.pk, p.reference, PointFeatures.of(p)) for p in points),
        now=now,
        limit=limit,
    )


def find_dismantled_near(
    *,
    report: Any = None,
    latitude: float | None = None,
    longitude: float | None = None,
    departement_id: int | None = None,
    radius: float | None = None,
    now: datetime | None = None,
    exclude_pk: int | None = None,
) -> list[tuple[DealPoint, float]]:
    """Points dismantled (or moved) less than `CARTOSTUP_RESURGENCE_DAYS` ago within `radius`
    (by default `CARTOSTUP_RESURGENCE_RADIUS_M`) of a report or a position, nearest first."""
    now = now or timezone.now()
    if report is not None:
        latitude, longitude = report.latitude, report.longitude
        departement_id = report.departement_id
    assert latitude is not None and longitude is not None and departement_id is not None
    radius = settings.CARTOSTUP_RESURGENCE_RADIUS_M if radius is None else radius
    since = now - timedelta(days=settings.CARTOSTUP_RESURGENCE_DAYS)
    points = DealPoint.objects.filter(
        departement_id=departement_id,
        merged_into__isnull=True,
        status__in=[DealPointStatus.DISMANTLED, DealPointStatus.MOVED],
        status_changed_at__gte=since,
        h3_r9__in=search_cells(latitude, longitude, radius),
    )
    if exclude_pk is not None:
        points = points.exclude(pk=exclude_pk)
    found = []
    for point in points:
        distance = haversine_m(latitude, longitude, point.latitude, point.longitude)
        if distance <= radius:
            found.append((point, round(distance, 1)))
    found.sort(key=lambda pair: (pair[1], pair[0].pk))
    return found


# --- clustering ----------------------------------------------------------------------------------


def cluster(
    latitudes: Sequence[float] | np.ndarray,
    longitudes: Sequence[float] | np.ndarray,
    *,
    eps_m: float = CLUSTER_EPS_M,
) -> np.ndarray:
    """DBSCAN labels (0, 1, 2...; every report belongs to a cluster, min_samples=1) with the
    exact haversine metric. Call it per département (the ball tree stays small)."""
    from sklearn.cluster import DBSCAN

    count = len(latitudes)
    if count == 0:
        return np.empty(0, dtype=int)
    coordinates = np.radians(np.column_stack([latitudes, longitudes]).astype(float))
    model = DBSCAN(
        eps=eps_m / EARTH_RADIUS_M, min_samples=1, metric="haversine", algorithm="ball_tree"
    )
    labels: np.ndarray = model.fit_predict(coordinates)
    return labels


def medoid(
    latitudes: Sequence[float], longitudes: Sequence[float], weights: Sequence[float]
) -> int:
    """Index of the position whose weighted distance to the others is smallest."""
    best, best_cost = 0, math.inf
    for i in range(len(latitudes)):
        cost = sum(
            w * haversine_m(latitudes[i], longitudes[i], latitudes[j], longitudes[j])
            for j, w in enumerate(weights)
        )
        if cost < best_cost:
            best, best_cost = i, cost
    return best


def precision_weight(precision: str) -> float:
    """Weight of a position in a cluster's centre: inverse variance of its precision."""
    sigma = POSITION_SIGMA_M.get(precision, POSITION_SIGMA_M[Precision.STREET])
    return 1.0 / (sigma * sigma)


_PRECISE = frozenset({Precision.STAIRWELL, Precision.BUILDING})


# Two buildings named in one cluster are two places when the reports naming them lie at least
# this far apart (closer, one name is taken for a reporter's mistake).
SPLIT_DISTANCE_M = 40.0
# An imprecise report joins the precise cluster that takes at least this share of it.
JOIN_SHARE = 0.5
# ... and is left alone when known points take at least this share of it.
SEED_SHARE = 0.5


def split_by_building(
    labels: np.ndarray, latitudes: np.ndarray, longitudes: np.ndarray, buildings: Sequence[str]
) -> np.ndarray:
    """Split each cluster whose reports name several buildings: one cluster per building (the
    mean position of the reports naming it), a building named near a more-named one being
    merged into it; reports naming none join the nearest. Labels stay 0..n-1."""
    out = labels.copy()
    next_label = int(labels.max()) + 1 if len(labels) else 0
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        named: dict[str, list[int]] = defaultdict(list)
        for i in members:
            if buildings[i]:
                named[buildings[i]].append(int(i))
        if len(named) < 2:
            continue
        centres: list[tuple[list[int], float, float]] = []
        for _name, idx in sorted(named.items(), key=lambda item: -len(item[1])):
            lat, lon = float(latitudes[idx].mean()), float(longitudes[idx].mean())
            near = [c for c in centres if haversine_m(lat, lon, c[1], c[2]) < SPLIT_DISTANCE_M]
            if near:
                near[0][0].extend(idx)
            else:
                centres.append((list(idx), lat, lon))
        if len(centres) < 2:
            continue
        ids = [int(label), *range(next_label, next_label + len(centres) - 1)]
        next_label += len(centres) - 1
        assigned = {i: ids[k] for k, (idx, _lat, _lon) in enumerate(centres) for i in idx}
        for i in members:
            if int(i) in assigned:
                out[i] = assigned[int(i)]
            else:
                distances = [
                    haversine_m(float(latitudes[i]), float(longitudes[i]), lat, lon)
                    for _idx, lat, lon in centres
                ]
                out[i] = ids[int(np.argmin(distances))]
    return out


def cluster_reports(
    latitudes: Sequence[float],
    longitudes: Sequence[float],
    precisions: Sequence[str],
    *,
    eps_m: float = CLUSTER_EPS_M,
    place_labels: Sequence[str] | None = None,
    seeds: tuple[Sequence[float], Sequence[float]] | None = None,
) -> np.ndarray:
    """Labels grouping reports that are about one place, by precision: precise reports
    (stairwell, building) are clustered by DBSCAN at `eps_m`, and a cluster whose reports
    name different buildings (`place_labels`) at places apart is split by building
    (`split_by_building`); an imprecise one (street, neighbourhood) joins the precise cluster
    that takes most of it (its fits against the background, as `rank` does), stays alone when
    the known points nearby (`seeds`: latitudes, longitudes) take most of it, else imprecise
    reports are clustered among themselves at a wider radius."""
    count = len(latitudes)
    labels = np.full(count, -1, dtype=int)
    if count == 0:
        return labels
    lat = np.asarray(latitudes, dtype=float)
    lon = np.asarray(longitudes, dtype=float)
    precise = np.array([p in _PRECISE for p in precisions])
    if precise.any():
        labels[precise] = cluster(lat[precise], lon[precise], eps_m=eps_m)
        if place_labels is not None:
            labels[precise] = split_by_building(
                labels[precise],
                lat[precise],
                lon[precise],
                [parse_place_label(place_labels[i])[0] for i in np.flatnonzero(precise)],
            )
    next_label = int(labels.max()) + 1
    imprecise = np.flatnonzero(~precise)
    rest: list[int] = []
    if len(imprecise):
        from sklearn.neighbors import BallTree

        where = np.radians(np.column_stack([lat[imprecise], lon[imprecise]]))
        sigmas = np.array([sigma_m(precisions[i], Precision.BUILDING) for i in imprecise])
        cluster_fits = np.zeros((len(imprecise), 1))
        nearest = np.zeros((len(imprecise), 1), dtype=int)
        if precise.any():
            # Cluster centres (mean positions), then each imprecise report's nearest ones.
            ids = labels[precise]
            sizes = np.bincount(ids)
            centres = (
                np.column_stack(
                    [
                        np.bincount(ids, weights=lat[precise]),
                        np.bincount(ids, weights=lon[precise]),
                    ]
                )
                / sizes[:, None]
            )
            tree = BallTree(np.radians(centres), metric="haversine")
            distances, nearest = tree.query(where, k=min(5, len(centres)))
            cluster_fits = np.exp(-0.5 * (distances * EARTH_RADIUS_M / sigmas[:, None]) ** 2)
        seed_fits = np.zeros((len(imprecise), 1))
        if seeds is not None and len(seeds[0]):
            seed_tree = BallTree(
                np.radians(np.column_stack([seeds[0], seeds[1]]).astype(float)),
                metric="haversine",
            )
            distances, _seed = seed_tree.query(where, k=min(5, len(seeds[0])))
            seed_fits = np.exp(-0.5 * (distances * EARTH_RADIUS_M / sigmas[:, None]) ** 2)
        for row, i in enumerate(imprecise):
            # As `rank` does with points: the nearest clusters' (and known points') fits
            # against the background; joined when one cluster takes most of it, left alone
            # when known points do (a report of a known point that scored too low), else
            # clustered with the other imprecise reports.
            among_clusters = background(precisions[i]) + cluster_fits[row].sum()
            if precise.any() and cluster_fits[row, 0] / among_clusters >= JOIN_SHARE:
                labels[i] = int(nearest[row, 0])  # DBSCAN labels are 0..n-1 (min_samples=1)
            elif seed_fits[row].sum() / (among_clusters + seed_fits[row].sum()) >= SEED_SHARE:
                labels[i] = next_label
                next_label += 1
            else:
                rest.append(int(i))
    if rest:
        wide = cluster(lat[rest], lon[rest], eps_m=POSITION_SIGMA_M[Precision.STREET])
        labels[rest] = wide + next_label
    return labels


def proposal_centre(members: Sequence[ReportFeatures]) -> PointFeatures:
    """A forming new point as a point: the inverse-variance mean position of its reports, their
    best precision, the building most of them name (attributes left unknown)."""
    weights = [precision_weight(m.precision) for m in members]
    total = sum(weights)
    named = [parse_place_label(m.place_label)[0] for m in members]
    counts: dict[str, int] = defaultdict(int)
    for name in named:
        if name:
            counts[name] += 1
    return PointFeatures(
        latitude=sum(w * m.latitude for w, m in zip(weights, members, strict=True)) / total,
        longitude=sum(w * m.longitude for w, m in zip(weights, members, strict=True)) / total,
        precision=best_precision(m.precision for m in members),
        building_label=max(counts, key=lambda name: (counts[name], name)) if counts else "",
    )


def prefers_new_point(
    report: ReportFeatures,
    members: Sequence[ReportFeatures],
    points: Sequence[PointFeatures],
    *,
    now: datetime,
) -> bool:
    """Whether a report only proposed to known `points` fits the new point that the waiting
    reports `members` of its cluster form better than any of those points (the links proposed
    are re-evaluated when a proposal forms)."""
    if not members:
        return False
    centre = proposal_centre(members)
    new = score(report, centre, now=now).score
    return all(new > score(report, point, now=now).score for point in points)
