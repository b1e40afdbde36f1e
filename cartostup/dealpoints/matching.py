"""Matching reports to deal points: how close and how alike a report and a point are, which
points a report may belong to, and the clustering of reports that match no point into
proposed new points (issue 4).

The scoring and the clustering are pure functions (the benchmark `bench/matching.py` runs them
on a labelled synthetic data set); `find_candidates` and `find_dismantled_near` read the
database. No access check here: matching is the platform's own work, and whatever it proposes
is shown to analysts through the policy (`matching_views`).

Score (fit) of a (report, point) pair: a likelihood ratio, how much more likely what the
report says is if it is about this point than if it is about any point (record linkage in the
manner of Fellegi and Sunter; see docs/decisions.md):

    fit = position_ratio × exp(ATTRIBUTE_TEMPER × Σ log attribute ratios) × place × recency

- position_ratio = exp(−(d / σ)²) × (σ₀ / σ)², the Gaussian density of the distance d when σ,
  the combined root-mean-square distance of the report's and the point's precision
  (root-sum-square of `POSITION_SIGMA_M`), is spread over two axes; σ₀ is two building-level
  positions': a "street" report 100 m away is as close as a "stairwell" report 10 m away, but
  says less (a wide position fits many places);
- one ratio per product, day and time of day the report names and per way of selling
  (street or remote), when the point records that attribute: the share the point gives it
  (its products, its opening days and times), allowing for a reporter's error
  (`REPORT_ERROR`), over its share at any point (`PRODUCT_SHARES`, 1/7 per day, 1/4 per time of
  day, `STREET_CHANNEL_SHARE`); an attribute one side does not know is left out (neutral);
  tempered by `ATTRIBUTE_TEMPER` (the attributes are not independent);
- place: `PLACE_MATCH` when the buildings named (the report's `place_label`, the point's
  building and stairwell labels) agree (`PLACE_KEY_MATCH` for the landlord's building key),
  × `STAIRWELL_MISMATCH` for another stairwell, `PLACE_MISMATCH` for another building, 1 when
  one side names none;
- recency: 1 for a point active in the last `RECENT_DAYS`, down to `STALE_RECENCY` after a year.

A candidate's `score` is its share: its fit over the fits of every candidate and of the
background ("a point not on the map yet", `BACKGROUND`); the decision thresholds apply to it.
The reports of a forming new point are compared with a report the same way (`profile_fit`):
their mean position and the counts of what they say. Precise reports that match no point are
grouped into new points by agglomeration (`agglomerate`, `merge_evidence`): two groups merge
while their positions, the buildings their reporters name and what they say are likelier from
one point than from two neighbours.
"""

from __future__ import annotations

import functools
import heapq
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
from django.utils.translation import gettext_lazy as _

from .choices import (
    ACTIVE_STATUSES,
    DealPointStatus,
    DistributionChannel,
    LinkDecision,
    ObservedRole,
    Precision,
    Product,
    TimeOfDay,
    Weekday,
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
# Evidence of the attributes, as likelihood ratios (what a report says, when it is about the
# point, over what it would say of any point): a reporter's detail is wrong this often (another
# product, another day), ...
REPORT_ERROR = 0.1
# ... the products most points sell (a report of crack at a crack point says more than one of
# cannabis at a cannabis point), ...
PRODUCT_SHARES = {"cannabis": 0.6, "cocaine": 0.2, "crack": 0.1, "heroin": 0.05, "synthetic": 0.05}
# ... and the share of points that sell in the street (fixed point, flat, drive) rather than by
# delivery or online.
STREET_CHANNEL_SHARE = 0.85
# The attributes are not independent (a reporter who saw the point on a Friday evening saw it
# sell what it sells then): their log-evidence is tempered by this.
ATTRIBUTE_TEMPER = 0.7
# The place label ("Bât. B, cage 2"): the same building named multiplies the fit by this, the
# landlord's exact building key by more; another building by `PLACE_MISMATCH` (reporters
# sometimes name the wrong building: strong evidence, not a veto); another stairwell of the
# same building by `STAIRWELL_MISMATCH` more.
PLACE_MATCH = 3.0
PLACE_KEY_MATCH = 6.0
PLACE_MISMATCH = 0.15
STAIRWELL_MISMATCH = 0.5
# Weight, in the units of a fit, of "a point not on the map yet" (or no point) in `rank`: the
# density of unknown points relative to a building-level position's (a fit of 0.02: a
# building-level candidate 2.8 σ away, with nothing said of it).
BACKGROUND = 0.02
# A forming new point's counts (products, days...) are smoothed towards what any point shows as
# if this many reports had said so.
PROFILE_PRIOR = 3.0
# An automatic attachment whose share was below this is revised when a new point forms beside
# it (`flows.reports_cluster`): the report goes to the new point's proposal if it fits it
# better, its link turned back into a proposal.
REVISE_SHARE = 0.95
RECENT_DAYS = 180
STALE_DAYS = 365
STALE_RECENCY = 0.8
# Automatic attachment also needs the best candidate to be clearly ahead of the second one
# (two points of one estate, 60 m apart): the second's share must be at most this share of
# the best's, otherwise both are proposed to the analyst.
AMBIGUITY_RATIO = 0.5
# Two records farther apart than this are not of one place: beyond every precision's
# position noise (400 m for a neighbourhood), and more than a position is corrected by. A
# merge refuses them; an import's line so far from the point its reference became is an error.
SAME_PLACE_MAX_M = 1000.0
# Clustering of reports that match no point: DBSCAN at this radius finds the places whose
# precise reports may be about one point; `agglomerate` then decides which are.
CLUSTER_EPS_M = 200.0

# Report activities that say how the drugs are sold, and the point channels they fit.
_STREET_ACTIVITIES = frozenset({"selling", "lookouts"})
_REMOTE_ACTIVITIES = frozenset({"delivery", "online"})
_STREET_CHANNELS = frozenset(
    {DistributionChannel.FIXED, DistributionChannel.FLAT, DistributionChannel.DRIVE}
)
_REMOTE_CHANNELS = frozenset({DistributionChannel.DELIVERY, DistributionChannel.ONLINE})
# Combined uncertainty of two building-level positions: the unit of `position_ratio`.
_REFERENCE_SIGMA = math.hypot(
    POSITION_SIGMA_M[Precision.BUILDING], POSITION_SIGMA_M[Precision.BUILDING]
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


# The columns of a deal point that `PointFeatures.of` reads (for `QuerySet.only`).
POINT_FIELDS = (
    "latitude",
    "longitude",
    "precision",
    "products",
    "opening_hours",
    "channel",
    "last_activity_at",
    "building_label",
    "stairwell_label",
    "building_id",
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


def _ways(report: ReportFeatures) -> tuple[bool, bool]:
    """Whether the report saw selling in the street (sales, look-outs), and remotely
    (delivery, online)."""
    activities = set(report.activities)
    return bool(activities & _STREET_ACTIVITIES), bool(activities & _REMOTE_ACTIVITIES)


def _channel_likeness(report: ReportFeatures, point: PointFeatures) -> float | None:
    street, remote = _ways(report)
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


@functools.lru_cache(maxsize=4096)
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


def position_ratio(distance: float, sigma: float) -> float:
    """How much more likely a report is `distance` metres from a point whose combined
    uncertainty is `sigma` than anywhere, relative to two building-level positions: the
    Gaussian density exp(−(d/σ)²) / σ² (σ a root-mean-square distance, σ/√2 along each axis),
    scaled so that a building-level pair at distance 0 gives 1. A neighbourhood-level report
    on top of a point is weak evidence (≈ 0.013), a stairwell-level one strong (≈ 7)."""
    return math.exp(-((distance / sigma) ** 2)) * (_REFERENCE_SIGMA / sigma) ** 2


def _ratio(share_if_match: float, share_anywhere: float) -> float:
    """Likelihood ratio of an observation: its probability when the report is about the point
    (the point's own value, or a reporter's error `REPORT_ERROR` spread like anywhere) over
    its probability for any point (`share_anywhere`)."""
    return ((1.0 - REPORT_ERROR) * share_if_match + REPORT_ERROR * share_anywhere) / share_anywhere


def _products_ratio(report: ReportFeatures, point: PointFeatures) -> float | None:
    said = [p for p in report.products if p != "other"]
    sold = {p for p in point.products if p != "other"}
    if not said or not sold:
        return None
    value = 1.0
    for product in said:
        share = PRODUCT_SHARES.get(product, 0.05)
        value *= _ratio((product in sold) / len(sold), share)
    return value


def _opening(point: PointFeatures) -> tuple[set[str], set[str]]:
    days: set[str] = set()
    times: set[str] = set()
    for token in point.opening_hours:
        if ":" in token:
            day, time = token.split(":", 1)
            days.add(day)
            times.add(time)
    return days, times


def _hours_ratio(report: ReportFeatures, point: PointFeatures) -> float | None:
    days, times = _opening(point)
    if not days or not (report.days or report.times_of_day):
        return None
    value = 1.0
    for day in set(report.days):
        value *= _ratio((day in days) / len(days), 1 / 7)
    for time in set(report.times_of_day):
        value *= _ratio((time in times) / len(times), 1 / 4)
    return value


def _channel_ratio(report: ReportFeatures, point: PointFeatures) -> float | None:
    street, remote = _ways(report)
    if street == remote or not point.channel:
        return None  # nothing said of how it sells, or both
    sells_in_street = point.channel in _STREET_CHANNELS
    said_street_share = STREET_CHANNEL_SHARE if street else 1.0 - STREET_CHANNEL_SHARE
    return _ratio(float(sells_in_street == street), said_street_share)


def _place_ratio(place: float | None, report: ReportFeatures, point: PointFeatures) -> float:
    if place is None:
        return 1.0
    keyed = report.building_id is not None and point.building_id is not None
    if place == 0.0:
        return PLACE_MISMATCH
    same = PLACE_KEY_MATCH if keyed else PLACE_MATCH
    return same if place == 1.0 else same * STAIRWELL_MISMATCH


def score(
    report: ReportFeatures, point: PointFeatures, *, now: datetime, distance: float | None = None
) -> ScoreBreakdown:
    """How likely the report is about the point, as a likelihood ratio against "any point"
    (see the module docstring); the breakdown keeps each likeness in [0, 1] for display."""
    if distance is None:
        distance = haversine_m(report.latitude, report.longitude, point.latitude, point.longitude)
    sigma = sigma_m(report.precision, point.precision)
    proximity = math.exp(-0.5 * (distance / sigma) ** 2)
    evidence = 0.0
    for ratio in (
        _products_ratio(report, point),
        _hours_ratio(report, point),
        _channel_ratio(report, point),
    ):
        if ratio is not None:
            evidence += math.log(ratio)
    place = _place_likeness(report, point)
    recency = _recency(point, now)
    value = (
        position_ratio(distance, sigma)
        * math.exp(ATTRIBUTE_TEMPER * evidence)
        * _place_ratio(place, report, point)
        * recency
    )
    return ScoreBreakdown(
        score=round(value, 6),
        distance_m=round(distance, 1),
        radius_m=round(RADIUS_FACTOR * sigma, 1),
        proximity=round(proximity, 4),
        products=_products_likeness(report, point),
        hours=_hours_likeness(report, point),
        channel=_channel_likeness(report, point),
        recency=round(recency, 4),
        place=place,
    )


@dataclass(frozen=True)
class Explanation:
    """Why a report and a point were put together, in words for the analyst: what the report
    says that agrees with the point's record, and what differs (the distance is shown apart)."""

    agreeing: tuple[str, ...]
    differing: tuple[str, ...]


def explain(report: ReportFeatures, point: PointFeatures, *, now: datetime) -> Explanation:
    """The score's evidence (`score`) in words: each attribute both sides know, and the point's
    age when it lowers the score."""
    result = score(report, point, now=now)
    agreeing: list[str] = []
    differing: list[str] = []
    for value, same, partly, other in (
        (result.products, _("même produit"), _("produits en partie"), _("autre produit")),
        (
            result.hours,
            _("jours et moments d'activité"),
            _("horaires en partie"),
            _("autres horaires"),
        ),
        (result.channel, _("même mode de vente"), None, _("autre mode de vente")),
        (result.place, _("même bâtiment"), _("même bâtiment, autre cage"), _("autre bâtiment")),
    ):
        if value is None:
            continue
        if value >= 1.0:
            agreeing.append(str(same))
        elif value > 0.0 and partly is not None:
            agreeing.append(str(partly))
        else:
            differing.append(str(other))
    if result.recency < 1.0:
        differing.append(str(_("point sans activité récente")))
    return Explanation(tuple(agreeing), tuple(differing))


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


def rank(
    report: ReportFeatures,
    points: Iterable[tuple[int, str, PointFeatures]],
    *,
    now: datetime,
    limit: int = 5,
    rivals: Iterable[PointFeatures] = (),
) -> list[Candidate]:
    """Score `(id, reference, features)` points within their radius of the report, best first:
    each candidate's fit divided by the sum of every candidate's fit and of the background
    (`BACKGROUND`): a report close to one point and to nothing else is that point's, even a
    bit far from it; two points alike share it; a point not yet known may be the report's.
    `rivals` are other explanations that are no candidates (a point dismantled nearby, come
    back?): their fits count in the sum, so a report that fits one of them takes a smaller
    share of the candidates."""
    fits: list[tuple[int, str, float, float]] = []
    for pk, reference, point in points:
        distance = haversine_m(report.latitude, report.longitude, point.latitude, point.longitude)
        if distance > radius_m(report.precision, point.precision):
            continue
        result = score(report, point, now=now, distance=distance)
        fits.append((pk, reference, result.score, result.distance_m))
    rival_fit = 0.0
    for point in rivals:
        distance = haversine_m(report.latitude, report.longitude, point.latitude, point.longitude)
        if distance <= radius_m(report.precision, point.precision):
            rival_fit += score(report, point, now=now, distance=distance).score
    total = BACKGROUND + rival_fit + sum(fit for _pk, _ref, fit, _d in fits)
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
    analyst refused (REJECTED links) are never candidates again. The points dismantled or
    moved within `CARTOSTUP_RESURGENCE_DAYS` are rivals (`rank`): a report that fits one
    (the resurgence alert's question) is not given to an active neighbour automatically."""
    now = now or timezone.now()
    search = radius_m(report.precision, _MAX_RADIUS_PRECISION)
    refused = ReportLink.objects.filter(report=report, decision=LinkDecision.REJECTED).values(
        "dealpoint_id"
    )
    points = _nearby(report, search).filter(status__in=ACTIVE_STATUSES).exclude(pk__in=refused)
    rivals = [
        PointFeatures.of(point)
        for point, _distance in find_dismantled_near(report=report, radius=search, now=now)
    ]
    return rank(
        ReportFeatures.of(report),
        ((p.pk, p.reference, PointFeatures.of(p)) for p in points),
        now=now,
        limit=limit,
        rivals=rivals,
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


# An imprecise report joins the cluster that takes at least this share of it (and more than
# the known points nearby).
JOIN_SHARE = 0.2
# ... and is left alone when known points take at least this share of it.
SEED_SHARE = 0.5
# Agglomeration of precise reports (`agglomerate`): how likely another point is at a given
# place near a point (per m²: an estate's neighbours 50–150 m apart, about a third of points
# having one); a second reporter mistaken about the building names the same wrong one this
# often (an estate has three or more buildings); what two groups say is tempered more than in
# `score`, as neighbours of one estate often sell alike at the same hours (one network), which
# the benchmark, drawing them apart, does not show.
NEIGHBOUR_DENSITY = 4e-6
SAME_WRONG_BUILDING = 1 / 3
MERGE_TEMPER = 0.35


@dataclass(frozen=True)
class Profile:
    """What the reports of a forming new point say together: their inverse-variance mean
    position and its uncertainty, the building most of them name, and how often they name each
    product, day, time of day and way of selling (compared with a report as `score` compares
    it with a point, the counts smoothed towards what any point shows)."""

    latitude: float
    longitude: float
    sigma_m: float
    building: str
    products: dict[str, int]
    days: dict[str, int]
    times: dict[str, int]
    street: int
    remote: int


def profile(members: Sequence[ReportFeatures]) -> Profile:
    weights = [precision_weight(m.precision) for m in members]
    total = sum(weights)
    buildings: dict[str, int] = defaultdict(int)
    products: dict[str, int] = defaultdict(int)
    days: dict[str, int] = defaultdict(int)
    times: dict[str, int] = defaultdict(int)
    street = remote = 0
    for member in members:
        name = parse_place_label(member.place_label)[0]
        if name:
            buildings[name] += 1
        for product in set(member.products) - {"other"}:
            products[product] += 1
        for day in set(member.days):
            days[day] += 1
        for time in set(member.times_of_day):
            times[time] += 1
        in_street, remotely = _ways(member)
        street += in_street
        remote += remotely
    return Profile(
        latitude=sum(w * m.latitude for w, m in zip(weights, members, strict=True)) / total,
        longitude=sum(w * m.longitude for w, m in zip(weights, members, strict=True)) / total,
        sigma_m=1.0 / math.sqrt(total),
        building=max(buildings, key=lambda n: (buildings[n], n)) if buildings else "",
        products=dict(products),
        days=dict(days),
        times=dict(times),
        street=street,
        remote=remote,
    )


# The roles a report's activities show at a point (selling and look-outs are seen; storing
# products or money is what a stash flat does). Delivery and online sales say the channel.
ACTIVITY_ROLES = {
    "selling": ObservedRole.SELLERS,
    "lookouts": ObservedRole.LOOKOUTS,
    "storage": ObservedRole.STASH_FLAT,
}


@dataclass(frozen=True)
class Description:
    """What the reports of a proposed new point say of it together, in the terms of a point's
    record: the prefill of « Créer le point », which the analyst corrects."""

    products: list[str]
    channel: str
    opening_hours: list[str]
    observed_roles: list[str]


def describe(members: Sequence[ReportFeatures]) -> Description:
    """Describe a new point from its reports, as `profile` counts them: every product, role
    and opening a report names (a union: a point's reporters each see part of it, and the
    matching allows for a reporter's error rather than outvoting one), and the way of selling
    most of them saw (street unless more saw it remotely: a delivery, or online sales when
    online was said more than delivery). The opening hours are, per report, each day it names
    at each time of day it names; a report that names days but no time (or times but no day)
    takes the times (the days) the other reports name."""
    if not members:
        return Description(
            products=[], channel=DistributionChannel.FIXED, opening_hours=[], observed_roles=[]
        )
    group = profile(members)
    all_days = {day for member in members for day in member.days}
    all_times = {time for member in members for time in member.times_of_day}
    opening: set[str] = set()
    for member in members:
        if not (member.days or member.times_of_day):
            continue
        for day in set(member.days) or all_days:
            for time in set(member.times_of_day) or all_times:
                opening.add(f"{day}:{time}")
    roles = {ACTIVITY_ROLES[a] for m in members for a in m.activities if a in ACTIVITY_ROLES}
    online = sum("online" in member.activities for member in members)
    delivery = sum("delivery" in member.activities for member in members)
    if group.remote > group.street:
        channel = DistributionChannel.ONLINE if online > delivery else DistributionChannel.DELIVERY
    else:
        channel = DistributionChannel.FIXED
    return Description(
        products=[product for product in Product.values if product in group.products],
        channel=channel,
        opening_hours=[
            f"{day}:{time}"
            for day in Weekday.values
            for time in TimeOfDay.values
            if f"{day}:{time}" in opening
        ],
        observed_roles=[role for role in ObservedRole.values if role in roles],
    )


def _smoothed(counts: dict[str, int], value: str, anywhere: float) -> float:
    """Ratio of a value's smoothed share among a profile's counts to its share anywhere."""
    total = sum(counts.values())
    return ((counts.get(value, 0) + PROFILE_PRIOR * anywhere) / (total + PROFILE_PRIOR)) / anywhere


def _profile_evidence(report: ReportFeatures, group: Profile) -> float:
    """Log-evidence of what a report says (products, days, times of day, way of selling) for
    the forming new point whose reports' counts are `group`, untempered."""
    evidence = 0.0
    if group.products:
        for product in set(report.products) - {"other"}:
            evidence += math.log(
                _smoothed(group.products, product, PRODUCT_SHARES.get(product, 0.05))
            )
    if group.days:
        for day in set(report.days):
            evidence += math.log(_smoothed(group.days, day, 1 / 7))
    if group.times:
        for time in set(report.times_of_day):
            evidence += math.log(_smoothed(group.times, time, 1 / 4))
    street, remote = _ways(report)
    if street != remote and group.street + group.remote:
        ways = {"street": group.street, "remote": group.remote}
        said = "street" if street else "remote"
        share = STREET_CHANNEL_SHARE if street else 1.0 - STREET_CHANNEL_SHARE
        evidence += math.log(_smoothed(ways, said, share))
    return evidence


def profile_fit(report: ReportFeatures, group: Profile, *, distance: float | None = None) -> float:
    """A report's fit with a forming new point, in the units of `score`."""
    if distance is None:
        distance = haversine_m(report.latitude, report.longitude, group.latitude, group.longitude)
    report_sigma = POSITION_SIGMA_M.get(report.precision, POSITION_SIGMA_M[Precision.STREET])
    value = position_ratio(distance, math.hypot(report_sigma, group.sigma_m))
    value *= math.exp(ATTRIBUTE_TEMPER * _profile_evidence(report, group))
    named = parse_place_label(report.place_label)[0]
    if named and group.building:
        value *= PLACE_MATCH if named == group.building else PLACE_MISMATCH
    return value


def merge_evidence(
    first: Sequence[ReportFeatures], second: Sequence[ReportFeatures], distance: float
) -> float:
    """Log-likelihood ratio that two groups of precise reports, their inverse-variance mean
    positions `distance` metres apart, are about one point rather than two neighbours: the
    positions' Gaussian density over `NEIGHBOUR_DENSITY`, and what the smaller group's reports
    say (attributes, building named) as the larger group's profile predicts it."""
    small, large = sorted((first, second), key=len)
    variance = sum(
        1.0 / sum(1.0 / _axis_variance(r.precision) for r in group) for group in (small, large)
    )
    return _merge_evidence(small, profile(large), variance, distance)


def _merge_evidence(
    small: Sequence[ReportFeatures], summary: Profile, variance: float, distance: float
) -> float:
    """`merge_evidence` with the larger group's profile and the variance (per axis) of the
    difference of the two mean positions already known."""
    evidence = (
        -(distance**2) / (2 * variance)
        - math.log(2 * math.pi * variance)
        - math.log(NEIGHBOUR_DENSITY)
    )
    others: dict[str, int] = defaultdict(int)
    for report in small:
        evidence += MERGE_TEMPER * _profile_evidence(report, summary)
        named = parse_place_label(report.place_label)[0]
        if named and summary.building:
            if named == summary.building:
                evidence += math.log(PLACE_MATCH)
            else:
                # A second reporter mistaken about the building seldom names the same wrong one.
                evidence += math.log(PLACE_MISMATCH * (SAME_WRONG_BUILDING if others[named] else 1))
                others[named] += 1
    return evidence


def _axis_variance(precision: str) -> float:
    """Variance along one axis (m²) of a position given at `precision`."""
    sigma = POSITION_SIGMA_M.get(precision, POSITION_SIGMA_M[Precision.STREET])
    return sigma * sigma / 2


def agglomerate(reports: Sequence[ReportFeatures], *, eps_m: float = CLUSTER_EPS_M) -> np.ndarray:
    """Labels 0..n-1 grouping precise reports about one place: each report alone at first, the
    two groups within `eps_m` most likely about one point (`merge_evidence`) merged while
    that is likelier than two points. Two reporters naming building B and two naming D
    50 m apart stay apart; one naming D among reporters of B is taken for a mistake."""
    count = len(reports)
    if count == 0:
        return np.empty(0, dtype=int)
    from scipy.spatial import cKDTree

    # Local metres (equirectangular around the mean latitude: exact enough within a city).
    lat0 = math.radians(sum(r.latitude for r in reports) / count)
    xy = np.array(
        [
            (
                EARTH_RADIUS_M * math.radians(r.longitude) * math.cos(lat0),
                EARTH_RADIUS_M * math.radians(r.latitude),
            )
            for r in reports
        ]
    )
    weight = np.array([1.0 / _axis_variance(r.precision) for r in reports])
    members: dict[int, list[int]] = {i: [i] for i in range(count)}
    sums = {i: (weight[i], weight[i] * xy[i]) for i in range(count)}
    neighbours: dict[int, set[int]] = {i: set() for i in range(count)}
    for i, j in cKDTree(xy).query_pairs(eps_m):
        neighbours[i].add(j)
        neighbours[j].add(i)
    version = [0] * count

    profiles: dict[int, Profile] = {}

    def summary(group: int) -> Profile:
        # Recomputed only when the group has changed (merges drop it).
        if group not in profiles:
            profiles[group] = profile([reports[i] for i in members[group]])
        return profiles[group]

    def evidence(a: int, b: int) -> float:
        (wa, sa), (wb, sb) = sums[a], sums[b]
        distance = float(np.hypot(*(sa / wa - sb / wb)))
        small, large = (a, b) if len(members[a]) <= len(members[b]) else (b, a)
        return _merge_evidence(
            [reports[i] for i in members[small]], summary(large), 1 / wa + 1 / wb, distance
        )

    # Candidate merges, most likely first; an entry is stale once either group has changed.
    heap = [(-evidence(a, b), a, b, 0, 0) for a in range(count) for b in neighbours[a] if a < b]
    heapq.heapify(heap)
    while heap:
        negative, a, b, version_a, version_b = heapq.heappop(heap)
        if -negative <= 0.0:
            break  # no merge left that is likelier than two points
        stale = a not in members or b not in members
        if stale or (version[a], version[b]) != (version_a, version_b):
            continue
        members[a].extend(members.pop(b))
        profiles.pop(a, None)
        profiles.pop(b, None)
        (wa, sa), (wb, sb) = sums[a], sums.pop(b)
        sums[a] = (wa + wb, sa + sb)
        version[a] += 1
        neighbours[a] = (neighbours[a] | neighbours.pop(b)) - {a, b}
        for c in neighbours[a]:
            neighbours[c].discard(b)
            neighbours[c].add(a)
            first, second = min(a, c), max(a, c)
            heapq.heappush(
                heap, (-evidence(first, second), first, second, version[first], version[second])
            )
    labels = np.empty(count, dtype=int)
    for label, group in enumerate(members.values()):
        labels[group] = label
    return labels


def cluster_reports(
    reports: Sequence[ReportFeatures],
    *,
    known: Sequence[PointFeatures] = (),
    now: datetime,
    eps_m: float = CLUSTER_EPS_M,
) -> np.ndarray:
    """Labels grouping reports that are about one place, by precision: precise reports
    (stairwell, building) are clustered by DBSCAN at `eps_m` into places, and the reports of
    a place grouped into points by `agglomerate` (positions, buildings named, what they say). An
    imprecise report (street, then neighbourhood) joins the cluster that takes most of it
    (`profile_fit` against the other clusters, the `known` points nearby and the background,
    as `rank` does), stays alone when the known points take most of it, else imprecise reports
    are clustered among themselves at a wider radius."""
    count = len(reports)
    labels = np.full(count, -1, dtype=int)
    if count == 0:
        return labels
    lat = np.array([r.latitude for r in reports], dtype=float)
    lon = np.array([r.longitude for r in reports], dtype=float)
    precise = np.array([r.precision in _PRECISE for r in reports])
    if precise.any():
        # DBSCAN finds the places (reports chained within `eps_m`); in each, the agglomeration
        # tells one point from neighbours.
        where = np.flatnonzero(precise)
        places = cluster(lat[where], lon[where], eps_m=eps_m)
        next_label = 0
        for place in np.unique(places):
            members = where[places == place]
            found = (
                agglomerate([reports[i] for i in members], eps_m=eps_m)
                if len(members) > 1
                else np.zeros(1, dtype=int)
            )
            labels[members] = found + next_label
            next_label += int(found.max()) + 1
    next_label = int(labels.max()) + 1
    rest: list[int] = []
    from sklearn.neighbors import BallTree

    known_tree = (
        BallTree(np.radians([[p.latitude, p.longitude] for p in known]), metric="haversine")
        if known
        else None
    )
    for precision in (Precision.STREET, Precision.AREA):
        waiting = [i for i in range(count) if labels[i] < 0 and reports[i].precision == precision]
        if not waiting:
            continue
        groups: dict[int, list[ReportFeatures]] = defaultdict(list)
        for i in np.flatnonzero(labels >= 0):
            groups[int(labels[i])].append(reports[i])
        ids = sorted(groups)
        profiles = [profile(groups[g]) for g in ids]
        tree = (
            BallTree(np.radians([[p.latitude, p.longitude] for p in profiles]), metric="haversine")
            if profiles
            else None
        )
        search = radius_m(precision, Precision.BUILDING) / EARTH_RADIUS_M
        for i in waiting:
            report = reports[i]
            where = np.radians([[report.latitude, report.longitude]])
            fits: list[tuple[float, int]] = []
            if tree is not None:
                (near,) = tree.query_radius(where, r=search)
                fits = [(profile_fit(report, profiles[k]), ids[k]) for k in near]
            known_fit = 0.0
            if known_tree is not None:
                (near,) = known_tree.query_radius(where, r=search)
                known_fit = sum(score(report, known[k], now=now).score for k in near)
            total = BACKGROUND + known_fit + sum(f for f, _g in fits)
            fits.sort(reverse=True)
            best = fits[0] if fits else (0.0, -1)
            second = fits[1][0] if len(fits) > 1 else 0.0
            if best[0] / total >= JOIN_SHARE and second <= AMBIGUITY_RATIO * best[0]:
                labels[i] = best[1]
            elif known_fit / total >= SEED_SHARE:
                labels[i] = next_label
                next_label += 1
            else:
                rest.append(i)
    if rest:
        wide = cluster(lat[rest], lon[rest], eps_m=POSITION_SIGMA_M[Precision.STREET])
        labels[rest] = wide + next_label
    return labels


def prefers_new_point(
    report: ReportFeatures,
    members: Sequence[ReportFeatures],
    points: Sequence[PointFeatures],
    *,
    now: datetime,
) -> bool:
    """Whether a report only proposed to known `points` fits the new point that the waiting
    reports `members` of its cluster form (`profile_fit`) better than any of those points (the
    links proposed are re-evaluated when a proposal forms)."""
    if not members:
        return False
    new = profile_fit(report, profile(members))
    return all(new > score(report, point, now=now).score for point in points)
