"""The synthetic national data set (`manage.py generate_national --scale N`), and the geography
it shares with `bench/map.py`.

Scale 1 is the national order of magnitude of design §6 over one year: about 5,000 deal points
of which ~3,750 active (the others dismantled or moved), 10,000 reports, 15,000 raids and 4,000
other operations; scale N multiplies every count by N and spreads the history over N years (one
year at least, ten at most). Every row is seeded: the same seed, scale, départements and day give
the same data.

Where:
- each département gets its share of every count by its share of the national trafficking count
  and of the national fixed-fine count (half each), official SSMSI figures for 2024
  (`bench/data/ssmsi_stupefiants.csv`), apportioned exactly (largest remainders);
- inside a département, the communes weigh their population to the power 1.4 (dense towns first),
  four times more in the hubs (`HUBS`: Marseille's arrondissements, Seine-Saint-Denis, Lyon...);
- inside a commune, points gather around up to twelve "estates" (`estate_position`), each drawn
  around a point inside the commune; the commune a point is filed under is the one it was drawn
  in (no point-in-polygon lookup: an estate near a border may lie just across it).

What: deal points (every status, products, channel, opening hours, owning CROSS as
`report_owner_for` picks it), reports (every status, 90 % within ~80 m of a point), the links the
matching would leave (accepted reports near a point: automatic, confirmed, proposed, rejected),
operations (raids and others, by a police or gendarmerie service of the département when there is
one) and the history events the services write (creation, status, operation, attached report).
Fines and seizures are not modelled yet: their generators go into `GENERATORS`.

Synthetic rows are marked by their references (`SYN-PD-…`, `SYN-SIG-…`); operations, links and
events belong to synthetic points. `--replace` deletes those only. The rows are written with
`bulk_create`, outside the services: no audit event (they are not anyone's act).
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "ssmsi_stupefiants.csv"
TRAFFICKING = "Trafic de stupéfiants"
FINES = "Usage de stupéfiants (AFD)"

DEALPOINT_PREFIX = "SYN-PD-"
REPORT_PREFIX = "SYN-SIG-"

# Counts at scale 1 for the whole country (design §6), one year of history.
PER_SCALE = {"dealpoints": 5_000, "reports": 10_000, "raids": 15_000, "other_operations": 4_000}
BATCH = 2_000
SEED = 20250604  # the default draw (the command's, the benchmark's)

# Hub communes (INSEE code prefixes) and their weight in the national count of deal points
# (`bench/map.py`); the national set multiplies their communes' weight by HUB_FACTOR.
HUBS: tuple[tuple[str, float], ...] = (
    ("132", 14.0),  # Marseille's arrondissements
    ("93", 14.0),  # Seine-Saint-Denis
    ("6938", 6.0),  # Lyon's arrondissements
    ("69259", 2.0),  # Vénissieux
    ("69266", 2.0),  # Villeurbanne
    ("751", 8.0),  # Paris's arrondissements
    ("59350", 3.0),  # Lille
    ("59512", 2.0),  # Roubaix
    ("59599", 1.5),  # Tourcoing
    ("31555", 4.0),  # Toulouse
    ("06088", 3.0),  # Nice
    ("34172", 3.0),  # Montpellier
    ("30189", 3.0),  # Nîmes
    ("33063", 3.0),  # Bordeaux
    ("38185", 3.0),  # Grenoble
    ("67482", 2.5),  # Strasbourg
    ("44109", 2.5),  # Nantes
    ("35238", 2.0),  # Rennes
    ("92", 5.0),  # Hauts-de-Seine
    ("94", 5.0),  # Val-de-Marne
    ("95", 5.0),  # Val-d'Oise
)
HUB_FACTOR = 4.0
DENSITY_POWER = 1.4


class GenerationRefused(Exception):
    """A clear reason (in French) not to generate: missing territories or organisations, an
    existing synthetic set, a bad scale."""


# --- geography (shared with bench/map.py) --------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A loaded commune, a point inside it, and how far its estates spread (degrees)."""

    commune: Any
    latitude: float
    longitude: float
    spread: float


def load_places(departements: Collection[str] | None = None) -> list[Place]:
    """Every loaded commune (with a geometry) of these départements (all when None), sorted by
    code."""
    import shapely

    from cartostup.territories import locator
    from cartostup.territories.models import Commune

    queryset = Commune.objects.filter(geometry__isnull=False)
    if departements is not None:
        queryset = queryset.filter(departement__code__in=list(departements))
    communes = {
        commune.pk: commune for commune in queryset.select_related("departement").defer("geometry")
    }
    places = []
    for pk, wkb in queryset.values_list("pk", "geometry"):
        geometry = shapely.from_wkb(locator.as_bytes(wkb))
        point = shapely.point_on_surface(geometry)
        west, south, east, north = geometry.bounds
        # Estates spread over a quarter of the commune's size, 300 m to 2 km.
        spread = min(max((north - south) / 4, 0.003), 0.02)
        places.append(Place(communes[pk], point.y, point.x, spread))
    places.sort(key=lambda place: place.commune.code)
    return places


def hub_places(places: Sequence[Place]) -> tuple[list[Place], list[float]]:
    """The hub communes among `places` and their weights (a hub's weight shared by its
    communes)."""
    hubs, weights = [], []
    for prefix, weight in HUBS:
        matching = [place for place in places if place.commune.code.startswith(prefix)]
        for place in matching:
            hubs.append(place)
            weights.append(weight / len(matching))
    return hubs, weights


def is_hub(code: str) -> bool:
    return any(code.startswith(prefix) for prefix, _weight in HUBS)


def estate_position(
    rng: np.random.Generator, place: Place, estates: list[tuple[float, float]]
) -> tuple[float, float]:
    """A position around one of the place's estates (a new estate first, or now and then while
    it has fewer than twelve); `estates` is the place's list, grown in place."""
    if not estates or (len(estates) < 12 and rng.random() < 0.15):
        spread = place.spread
        estates.append(
            (
                place.latitude + rng.normal(0, spread),
                place.longitude + rng.normal(0, spread * 1.4),
            )
        )
    estate = estates[int(rng.integers(len(estates)))]
    return float(estate[0] + rng.normal(0, 0.0014)), float(estate[1] + rng.normal(0, 0.0019))


def departement_code(raw: str) -> str:
    """`1` → `01`; `2A`, `13` and `971` unchanged."""
    return raw.zfill(2) if raw.isdigit() else raw


def departement_weights(path: Path = DATA) -> dict[str, float]:
    """Each département's weight: half its share of the national trafficking count, half its
    share of the national fixed-fine count (they sum to 1)."""
    counts: dict[str, dict[str, int]] = {TRAFFICKING: {}, FINES: {}}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            if row["indicateur"] in counts:
                code = departement_code(row["code_departement"])
                counts[row["indicateur"]][code] = int(row["nombre"])
    totals = {name: sum(values.values()) for name, values in counts.items()}
    codes = sorted(set(counts[TRAFFICKING]) | set(counts[FINES]))
    return {
        code: 0.5 * counts[TRAFFICKING].get(code, 0) / totals[TRAFFICKING]
        + 0.5 * counts[FINES].get(code, 0) / totals[FINES]
        for code in codes
    }


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split along `weights` exactly (largest remainders; ties by order)."""
    weight_sum = float(sum(weights))
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    quotas = [total * weight / weight_sum for weight in weights]
    counts = [math.floor(quota) for quota in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


# --- the plan: what every generator draws before anything is written -----------------------------

StageProgress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class Context:
    """What the generators share: the draw, the territory, and the deal points' arrays (index
    i is the i-th point, in creation order)."""

    rng: np.random.Generator
    scale: float
    years: int
    end: datetime  # midnight (UTC) of the day the data set ends
    departements: list[str]
    weights: dict[str, float]
    places: list[Place]
    owners: dict[str, Any]  # département code -> owning organisation
    services: dict[str, Any]  # département code -> operating service
    progress: StageProgress
    counts: dict[str, int] = field(default_factory=dict)
    # Deal points (filled by DealPointGenerator.plan).
    place_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    latitude: np.ndarray = field(default_factory=lambda: np.zeros(0))
    longitude: np.ndarray = field(default_factory=lambda: np.zeros(0))
    status: list[str] = field(default_factory=list)
    # Hours before `end`: start of activity, status change, end of activity (0 while active).
    start_h: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    changed_h: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    end_h: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # First report and last activity, narrowed by reports and operations as they are planned.
    first_h: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last_h: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dealpoint_pks: list[int] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # History events waiting for their point's primary key: (point index, fields).
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def share(self, name: str) -> int:
        """The count of `name` for the chosen départements at this scale."""
        national = PER_SCALE[name] * self.scale
        return round(national * sum(self.weights[code] for code in self.departements))

    def moment(self, hours_before_end: int) -> datetime:
        return self.end - timedelta(hours=int(hours_before_end))


class Generator(Protocol):
    """One kind of rows: `plan` draws everything (in a fixed order, so the draw is the same
    every time), `write` stores it. All plans run before the first write."""

    name: str

    def plan(self, context: Context) -> None: ...

    def write(self, context: Context) -> None: ...


def _choice(
    rng: np.random.Generator, values: Sequence[str], weights: Sequence[float], size: int
) -> np.ndarray:
    probabilities = np.array(weights, dtype=float)
    return rng.choice(len(values), size=size, p=probabilities / probabilities.sum())


def _subset(rng: np.random.Generator, values: Sequence[str], chances: Sequence[float]) -> list[str]:
    picked = [value for value, chance in zip(values, chances, strict=True) if rng.random() < chance]
    return picked or [values[0]]


def _bulk(model: Any, rows: list[Any], context: Context, stage: str, total: int) -> list[Any]:
    """Insert in batches with the progress bar; returns the saved rows (with their keys)."""
    saved = []
    for start in range(0, len(rows), BATCH):
        saved.extend(model.objects.bulk_create(rows[start : start + BATCH]))
        context.progress(stage, min(start + BATCH, len(rows)), total)
    if not rows:
        context.progress(stage, 0, 0)
    return saved


# --- deal points ---------------------------------------------------------------------------------

POINT_STATUSES = ("reported", "confirmed", "investigation", "resurgent", "dismantled", "moved")
# 75 % active (design §6: ~3,750 active at scale 1), a quarter dismantled or moved.
POINT_STATUS_WEIGHTS = (22, 28, 17, 8, 18, 7)
INACTIVE = frozenset({"dismantled", "moved"})
CHANNELS = ("fixed", "delivery", "drive", "flat", "online")
CHANNEL_WEIGHTS = (70, 12, 6, 7, 5)
PRODUCTS = ("cannabis", "cocaine", "crack", "heroin", "synthetic")
PRODUCT_CHANCES = (0.92, 0.45, 0.08, 0.04, 0.03)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES = ("morning", "afternoon", "evening", "night")
TIME_CHANCES = (0.2, 0.8, 0.7, 0.15)
ROLES = ("lookouts", "sellers", "manager", "supplier", "stash_flat")
ROLE_CHANCES = (0.7, 0.8, 0.2, 0.1, 0.1)
CONFIDENCES = ("low", "medium", "high")


class DealPointGenerator:
    name = "dealpoints"

    def plan(self, context: Context) -> None:
        rng = context.rng
        by_departement: dict[str, list[int]] = {}
        for index, place in enumerate(context.places):
            by_departement.setdefault(place.commune.departement.code, []).append(index)
        counts = apportion(
            context.share("dealpoints"), [context.weights[code] for code in context.departements]
        )
        estates: dict[int, list[tuple[float, float]]] = {}
        place_index, latitude, longitude = [], [], []
        for code, count in zip(context.departements, counts, strict=True):
            indexes = by_departement[code]
            weights = np.array(
                [self._weight(context.places[i].commune) for i in indexes], dtype=float
            )
            picks = rng.choice(len(indexes), size=count, p=weights / weights.sum())
            for pick in picks:
                index = indexes[int(pick)]
                position = estate_position(
                    rng, context.places[index], estates.setdefault(index, [])
                )
                place_index.append(index)
                latitude.append(position[0])
                longitude.append(position[1])
        size = len(place_index)
        context.place_index = np.array(place_index, dtype=np.int64)
        context.latitude = np.array(latitude)
        context.longitude = np.array(longitude)
        statuses = _choice(rng, POINT_STATUSES, POINT_STATUS_WEIGHTS, size)
        context.status = [POINT_STATUSES[int(i)] for i in statuses]
        horizon = context.years * 365 * 24
        start = rng.integers(7 * 24, horizon, size=size)
        fraction = rng.uniform(0.1, 0.95, size=size)
        changed = (start * (1 - fraction)).astype(np.int64)
        reported = np.array([status == "reported" for status in context.status])
        inactive = np.array([status in INACTIVE for status in context.status])
        changed = np.where(reported, start, changed)
        context.start_h = start
        context.changed_h = changed
        context.end_h = np.where(inactive, changed, 0)
        # No attached report yet (-1); the reports' plan narrows both.
        context.first_h = np.full(size, -1, dtype=np.int64)
        context.last_h = start.copy()
        # The other attributes, drawn now so that the draw does not depend on the writes.
        self.channels = _choice(rng, CHANNELS, CHANNEL_WEIGHTS, size)
        self.confidences = rng.integers(0, len(CONFIDENCES), size=size)
        self.turnover = rng.integers(5, 300, size=size) * 100
        self.products = [_subset(rng, PRODUCTS, PRODUCT_CHANCES) for _ in range(size)]
        self.roles = [_subset(rng, ROLES, ROLE_CHANCES) for _ in range(size)]
        self.hours = []
        for _ in range(size):
            days = _subset(rng, DAYS, (0.8,) * 7)
            times = _subset(rng, TIMES, TIME_CHANCES)
            self.hours.append([f"{day}:{moment}" for day in days for moment in times])
        # A moved point's successor: another point of the same commune created after it.
        self.successors: dict[int, int] = {}
        by_place: dict[int, list[int]] = {}
        for index, place_number in enumerate(place_index):
            by_place.setdefault(place_number, []).append(index)
        for index, status in enumerate(context.status):
            if status == "moved":
                others = [i for i in by_place[place_index[index]] if i > index]
                if others:
                    self.successors[index] = others[int(rng.integers(len(others)))]

    @staticmethod
    def _weight(commune: Any) -> float:
        weight = float(max(commune.population or 0, 50)) ** DENSITY_POWER
        return weight * HUB_FACTOR if is_hub(commune.code) else weight

    def write(self, context: Context) -> None:
        from cartostup.access.choices import Distribution, Marking
        from cartostup.dealpoints.choices import DealPointStatus, EventKind
        from cartostup.dealpoints.models import DealPoint
        from cartostup.dealpoints.services import cells_for

        size = len(context.status)
        sequence: dict[str, int] = {}
        rows = []
        for i in range(size):
            commune = context.places[int(context.place_index[i])].commune
            code = commune.departement.code
            sequence[code] = sequence.get(code, 0) + 1
            reference = f"{DEALPOINT_PREFIX}{code}-{sequence[code]:05d}"
            latitude, longitude = float(context.latitude[i]), float(context.longitude[i])
            rows.append(
                DealPoint(
                    owner_organisation=context.owners[code],
                    commune=commune,
                    departement=commune.departement,
                    distribution=Distribution.TERRITORY,
                    marking=Marking.AMBER,
                    reference=reference,
                    status=context.status[i],
                    precision="building",
                    latitude=latitude,
                    longitude=longitude,
                    **cells_for(latitude, longitude),
                    channel=CHANNELS[int(self.channels[i])],
                    products=self.products[i],
                    opening_hours=self.hours[i],
                    observed_roles=self.roles[i],
                    estimated_daily_turnover=int(self.turnover[i]),
                    confidence=CONFIDENCES[int(self.confidences[i])],
                    first_reported_at=context.moment(context.first_h[i]),
                    last_activity_at=context.moment(context.last_h[i]),
                    status_changed_at=context.moment(context.changed_h[i]),
                )
            )
            context.references.append(reference)
        saved = _bulk(DealPoint, rows, context, "points de deal", size)
        context.dealpoint_pks = [row.pk for row in saved]
        if self.successors:
            moved = []
            for index, successor in self.successors.items():
                row = saved[index]
                row.successor_id = context.dealpoint_pks[successor]
                moved.append(row)
            DealPoint.objects.bulk_update(moved, ["successor"], batch_size=BATCH)
        context.counts["dealpoints"] = size
        context.counts["dealpoints_active"] = sum(s not in INACTIVE for s in context.status)
        for i, status in enumerate(context.status):
            context.events.append(
                (
                    i,
                    {
                        "kind": EventKind.CREATED,
                        "occurred_at": context.moment(context.start_h[i]),
                        "to_status": DealPointStatus.REPORTED,
                        "details": {"synthetic": True},
                    },
                )
            )
            if status != DealPointStatus.REPORTED:
                previous = (
                    DealPointStatus.DISMANTLED
                    if status == DealPointStatus.RESURGENT
                    else DealPointStatus.REPORTED
                )
                context.events.append(
                    (
                        i,
                        {
                            "kind": EventKind.STATUS,
                            "occurred_at": context.moment(context.changed_h[i]),
                            "from_status": previous,
                            "to_status": status,
                            "details": {},
                        },
                    )
                )


# --- reports and their links to the points -------------------------------------------------------

REPORT_STATUSES = ("new", "question", "accepted", "spam", "unfounded")
REPORT_STATUS_WEIGHTS = (10, 3, 62, 15, 10)
REPORT_CHANNELS = ("web", "mobile", "phone")
REPORT_CHANNEL_WEIGHTS = (60, 25, 15)
PRECISIONS = ("stairwell", "building", "street", "area")
PRECISION_WEIGHTS = (20, 45, 25, 10)
ACTIVITIES = ("selling", "lookouts", "storage", "delivery")
ACTIVITY_CHANCES = (0.9, 0.6, 0.1, 0.1)
PEOPLE = ("unknown", "1-2", "3-5", "6-10", "10+")
LINK_DECISIONS = ("automatic", "confirmed", "proposed", "rejected")
LINK_WEIGHTS = (60, 25, 10, 5)
LINK_SCORES = {
    "automatic": (0.8, 0.99),
    "confirmed": (0.5, 0.9),
    "proposed": (0.3, 0.6),
    "rejected": (0.1, 0.5),
}
ATTACHED = frozenset({"automatic", "confirmed"})
NEAR_SHARE = 0.9


class ReportGenerator:
    name = "reports"

    def plan(self, context: Context) -> None:
        rng = context.rng
        size = context.share("reports")
        points = len(context.status)
        if points == 0:
            size = 0
        self.anchor = rng.integers(max(points, 1), size=size)
        self.near = rng.random(size) < NEAR_SHARE
        spread = np.where(self.near, 0.0007, 0.004)
        self.latitude = context.latitude[self.anchor] + rng.normal(0, 1, size) * spread
        self.longitude = context.longitude[self.anchor] + rng.normal(0, 1, size) * spread * 1.35
        # Near a point: while it was active; elsewhere: any time in the history.
        start = context.start_h[self.anchor] if size else np.zeros(0, dtype=np.int64)
        end = context.end_h[self.anchor] if size else np.zeros(0, dtype=np.int64)
        within = end + (rng.random(size) * (start - end)).astype(np.int64)
        anywhere = rng.integers(0, context.years * 365 * 24, size=size)
        self.hours = np.where(self.near, within, anywhere)
        self.status = _choice(rng, REPORT_STATUSES, REPORT_STATUS_WEIGHTS, size)
        self.channel = _choice(rng, REPORT_CHANNELS, REPORT_CHANNEL_WEIGHTS, size)
        self.precision = _choice(rng, PRECISIONS, PRECISION_WEIGHTS, size)
        self.people = rng.integers(0, len(PEOPLE), size=size)
        self.triage_delay = rng.integers(1, 72, size=size)
        self.activities = [_subset(rng, ACTIVITIES, ACTIVITY_CHANCES) for _ in range(size)]
        self.products = [_subset(rng, PRODUCTS, PRODUCT_CHANCES) for _ in range(size)]
        self.days = [_subset(rng, DAYS, (0.3,) * 7) for _ in range(size)]
        self.times = [_subset(rng, TIMES, TIME_CHANCES) for _ in range(size)]
        # The matching ties accepted reports near a point to it.
        accepted = REPORT_STATUSES.index("accepted")
        self.linked = np.flatnonzero(self.near & (self.status == accepted))
        self.decision = _choice(rng, LINK_DECISIONS, LINK_WEIGHTS, len(self.linked))
        self.score_draw = rng.random(len(self.linked))
        attached = np.array([LINK_DECISIONS[int(d)] in ATTACHED for d in self.decision], dtype=bool)
        rows, anchors = self.linked[attached], self.anchor[self.linked[attached]]
        # Hours before the end: the first report is the largest count, the last the smallest.
        np.maximum.at(context.first_h, anchors, self.hours[rows])
        np.minimum.at(context.last_h, anchors, self.hours[rows])
        context.first_h = np.where(context.first_h < 0, context.start_h, context.first_h)

    def write(self, context: Context) -> None:
        from cartostup.access.choices import Distribution, Marking
        from cartostup.dealpoints.choices import EventKind
        from cartostup.dealpoints.matching import haversine_m
        from cartostup.dealpoints.models import ReportLink
        from cartostup.reports.models import Report
        from cartostup.reports.services import h3_cells

        size = len(self.anchor)
        sequence: dict[str, int] = {}
        rows = []
        for i in range(size):
            anchor = int(self.anchor[i])
            commune = context.places[int(context.place_index[anchor])].commune
            code = commune.departement.code
            sequence[code] = sequence.get(code, 0) + 1
            latitude, longitude = float(self.latitude[i]), float(self.longitude[i])
            received = context.moment(self.hours[i])
            status = REPORT_STATUSES[int(self.status[i])]
            cells = h3_cells(latitude, longitude)
            rows.append(
                Report(
                    owner_organisation=context.owners[code],
                    commune=commune,
                    departement=commune.departement,
                    distribution=Distribution.CROSS,
                    marking=Marking.AMBER,
                    reference=f"{REPORT_PREFIX}{code}-{sequence[code]:07d}",
                    channel=REPORT_CHANNELS[int(self.channel[i])],
                    status=status,
                    received_at=received,
                    latitude=latitude,
                    longitude=longitude,
                    precision=PRECISIONS[int(self.precision[i])],
                    activities=self.activities[i],
                    products=self.products[i],
                    days=self.days[i],
                    times_of_day=self.times[i],
                    people_count=PEOPLE[int(self.people[i])],
                    triaged_at=None
                    if status == "new"
                    else min(received + timedelta(hours=int(self.triage_delay[i])), context.end),
                    **cells,
                )
            )
        saved = _bulk(Report, rows, context, "signalements", size)
        links = []
        for n, i in enumerate(self.linked):
            report, anchor = saved[int(i)], int(self.anchor[i])
            decision = LINK_DECISIONS[int(self.decision[n])]
            low, high = LINK_SCORES[decision]
            distance = haversine_m(
                report.latitude,
                report.longitude,
                float(context.latitude[anchor]),
                float(context.longitude[anchor]),
            )
            decided = min(
                report.received_at + timedelta(hours=int(self.triage_delay[i]) + 1), context.end
            )
            links.append(
                ReportLink(
                    report=report,
                    dealpoint_id=context.dealpoint_pks[anchor],
                    decision=decision,
                    score=round(low + (high - low) * float(self.score_draw[n]), 3),
                    distance_m=round(distance, 1),
                    decided_at=None if decision == "proposed" else decided,
                )
            )
            if decision in ATTACHED:
                context.events.append(
                    (
                        anchor,
                        {
                            "kind": EventKind.REPORT_ATTACHED,
                            "occurred_at": decided,
                            "details": {
                                "report": report.reference,
                                "decision": decision,
                                "score": links[-1].score,
                            },
                        },
                    )
                )
        _bulk(ReportLink, links, context, "rattachements", len(links))
        context.counts["reports"] = size
        context.counts["report_links"] = len(links)


# --- operations ----------------------------------------------------------------------------------

OPERATION_KINDS = ("arrests", "search", "surveillance")
OPERATION_KIND_WEIGHTS = (50, 20, 30)
OUTCOMES = ("none", "disrupted", "arrests", "seizure")
OUTCOME_WEIGHTS = {
    "raid": (45, 40, 10, 5),
    "arrests": (10, 10, 70, 10),
    "search": (30, 0, 20, 50),
    "surveillance": (80, 15, 5, 0),
}
# Which points get raided: where selling goes on, and those that were dismantled.
TARGET_WEIGHTS = {
    "reported": 1,
    "confirmed": 3,
    "investigation": 3,
    "resurgent": 2,
    "dismantled": 2,
    "moved": 1,
}


class OperationGenerator:
    name = "operations"

    def plan(self, context: Context) -> None:
        rng = context.rng
        points = len(context.status)
        raids = context.share("raids") if points else 0
        others = context.share("other_operations") if points else 0
        kinds = ["raid"] * raids + [
            OPERATION_KINDS[int(i)]
            for i in _choice(rng, OPERATION_KINDS, OPERATION_KIND_WEIGHTS, others)
        ]
        weights = np.array([TARGET_WEIGHTS[s] for s in context.status], dtype=float)
        targets = (
            rng.choice(points, size=len(kinds), p=weights / weights.sum())
            if points
            else np.zeros(0, dtype=np.int64)
        )
        start, end = context.start_h[targets], context.end_h[targets]
        hours = end + (rng.random(len(kinds)) * (start - end)).astype(np.int64)
        outcomes = [
            OUTCOMES[int(_choice(rng, OUTCOMES, OUTCOME_WEIGHTS[kind], 1)[0])] for kind in kinds
        ]
        # Each dismantled point: the operation that dismantled it, the day its status changed.
        dismantled = [i for i, s in enumerate(context.status) if s == "dismantled"]
        kinds += ["arrests"] * len(dismantled)
        outcomes += ["dismantled"] * len(dismantled)
        targets = np.concatenate([targets, np.array(dismantled, dtype=np.int64)])
        hours = np.concatenate([hours, context.changed_h[dismantled]])
        self.kinds, self.outcomes, self.targets, self.hours = kinds, outcomes, targets, hours
        self.arrests = [
            int(rng.integers(1, 7)) if outcome in ("arrests", "dismantled") else 0
            for outcome in outcomes
        ]
        # An operation is activity on the day it happened (midnight of its day).
        days = (hours // 24) * 24
        np.minimum.at(context.last_h, targets, days)

    def write(self, context: Context) -> None:
        from cartostup.dealpoints.choices import EventKind
        from cartostup.dealpoints.models import Operation

        rows = []
        for i, kind in enumerate(self.kinds):
            target = int(self.targets[i])
            code = context.places[int(context.place_index[target])].commune.departement.code
            rows.append(
                Operation(
                    dealpoint_id=context.dealpoint_pks[target],
                    kind=kind,
                    occurred_on=context.moment((int(self.hours[i]) // 24) * 24).date(),
                    service=context.services[code],
                    outcome=self.outcomes[i],
                    arrests=self.arrests[i],
                )
            )
        saved = _bulk(Operation, rows, context, "opérations", len(rows))
        for i, operation in enumerate(saved):
            context.events.append(
                (
                    int(self.targets[i]),
                    {
                        "kind": EventKind.OPERATION,
                        "occurred_at": context.moment((int(self.hours[i]) // 24) * 24),
                        "details": {
                            "operation": operation.pk,
                            "kind": operation.kind,
                            "outcome": operation.outcome,
                            "date": operation.occurred_on.isoformat(),
                        },
                    },
                )
            )
        context.counts["operations"] = len(rows)
        context.counts["raids"] = self.kinds.count("raid")


# --- history -------------------------------------------------------------------------------------


class EventGenerator:
    """The history entries the other generators queued (written last: they need every key)."""

    name = "events"

    def plan(self, context: Context) -> None:
        return None

    def write(self, context: Context) -> None:
        from cartostup.dealpoints.models import DealPointEvent

        rows = [
            DealPointEvent(dealpoint_id=context.dealpoint_pks[index], **fields)
            for index, fields in context.events
        ]
        _bulk(DealPointEvent, rows, context, "historique", len(rows))
        context.counts["dealpoint_events"] = len(rows)


# The extension point: fines (sanctions) and seizures (assets) are not modelled yet; their
# generators go here, after the deal points they hang on, before the events.
GENERATORS: list[Callable[[], Generator]] = [
    DealPointGenerator,
    ReportGenerator,
    OperationGenerator,
    EventGenerator,
]


# --- checks, deletion, entry point ---------------------------------------------------------------


def synthetic_counts() -> dict[str, int]:
    from cartostup.dealpoints.models import DealPoint
    from cartostup.reports.models import Report

    return {
        "dealpoints": DealPoint.objects.filter(reference__startswith=DEALPOINT_PREFIX).count(),
        "reports": Report.objects.filter(reference__startswith=REPORT_PREFIX).count(),
    }


def synthetic_delete() -> dict[str, int]:
    """Delete the synthetic rows, and only them (their references say so)."""
    from django.db import transaction

    from cartostup.dealpoints.models import (
        Alert,
        DealPoint,
        DealPointEvent,
        Operation,
        Proposal,
        ReportLink,
    )
    from cartostup.reports.models import Report, ReportMessage

    points = DealPoint.objects.filter(reference__startswith=DEALPOINT_PREFIX)
    reports = Report.objects.filter(reference__startswith=REPORT_PREFIX)
    deleted: dict[str, int] = {}
    with transaction.atomic():
        deleted["alerts"] = (
            Alert.objects.filter(dealpoint__in=points).delete()[0]
            + Alert.objects.filter(candidate__in=points).delete()[0]
            + Alert.objects.filter(report__in=reports).delete()[0]
        )
        Proposal.reports.through.objects.filter(report__in=reports).delete()
        deleted["dealpoint_events"] = DealPointEvent.objects.filter(dealpoint__in=points).delete()[
            0
        ]
        deleted["operations"] = Operation.objects.filter(dealpoint__in=points).delete()[0]
        deleted["report_links"] = (
            ReportLink.objects.filter(dealpoint__in=points).delete()[0]
            + ReportLink.objects.filter(report__in=reports).delete()[0]
        )
        ReportMessage.objects.filter(report__in=reports).delete()
        # What may still refer to the synthetic rows is cleared above or here; then one DELETE
        # each, without loading the rows (a foreign key from elsewhere would fail the
        # transaction, not leave a dangling row).
        DealPoint.objects.filter(successor__in=points).update(successor=None)
        DealPoint.objects.filter(merged_into__in=points).update(merged_into=None)
        DealPoint.objects.filter(merged_root__in=points).update(merged_root=None)
        Proposal.objects.filter(dealpoint__in=points).update(dealpoint=None)
        deleted["dealpoints"] = points._raw_delete(points.db)
        deleted["reports"] = reports._raw_delete(reports.db)
    return deleted


def check_ready(departements: Sequence[str] | None, weights: dict[str, float]) -> list[str]:
    """The départements to generate in; refuses when their communes or the demo organisations
    are missing."""
    from django.utils.translation import gettext as _

    from cartostup.access.models import Organisation
    from cartostup.core.personas import ORGANISATIONS
    from cartostup.territories.models import Commune, Departement

    known = set(Departement.objects.values_list("code", flat=True))
    if departements is None:
        wanted = sorted(code for code in weights if code in known) or sorted(weights)
    else:
        wanted = sorted({code.strip().upper() for code in departements if code.strip()})
        unknown = [code for code in wanted if code not in weights]
        if unknown or not wanted:
            raise GenerationRefused(
                _("Départements inconnus des chiffres du SSMSI : %(codes)s.")
                % {"codes": ", ".join(unknown) or "-"}
            )
    loaded = set(
        Commune.objects.filter(geometry__isnull=False, departement__code__in=wanted)
        .values_list("departement__code", flat=True)
        .distinct()
    )
    missing = [code for code in wanted if code not in loaded]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise GenerationRefused(
            _(
                "Les communes de %(count)d département(s) ne sont pas chargées (%(codes)s) : "
                "lancez d'abord « manage.py load_territories --departements all », ou limitez "
                "le jeu avec --departements."
            )
            % {"count": len(missing), "codes": shown}
        )
    names = [spec.name for spec in ORGANISATIONS]
    present = set(Organisation.objects.filter(name__in=names).values_list("name", flat=True))
    if len(present) < len(names):
        raise GenerationRefused(
            _(
                "Les organisations de démonstration manquent (%(missing)d sur %(total)d) : "
                "lancez d'abord « manage.py seed_demo »."
            )
            % {"missing": len(names) - len(present), "total": len(names)}
        )
    return wanted


def _organisations(departements: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per département: the owner of its records (`report_owner_for`) and the service that
    operates there (its first police or gendarmerie service, else the owner)."""
    from cartostup.access.choices import OrganisationKind
    from cartostup.access.models import Organisation
    from cartostup.reports.services import report_owner_for
    from cartostup.territories.models import Departement

    # Every police or gendarmerie service of the départements in one query, lowest key first.
    coverage = (
        Organisation.departements.through.objects.filter(
            departement__code__in=departements,
            organisation__is_active=True,
            organisation__kind__in=[OrganisationKind.POLICE, OrganisationKind.GENDARMERIE],
        )
        .select_related("organisation", "departement")
        .order_by("organisation_id")
    )
    operating: dict[str, Any] = {}
    for row in coverage:
        operating.setdefault(row.departement.code, row.organisation)
    owners, services = {}, {}
    for departement in Departement.objects.filter(code__in=departements):
        owners[departement.code] = report_owner_for(departement=departement)
        services[departement.code] = operating.get(departement.code, owners[departement.code])
    return owners, services


def generate(
    *,
    scale: float,
    seed: int = SEED,
    departements: Sequence[str] | None = None,
    replace: bool = False,
    end: date | None = None,
    progress: StageProgress = _no_progress,
) -> dict[str, Any]:
    """Build the synthetic national data set (see the module docstring); returns the counts
    written per table and the time taken. Refuses (`GenerationRefused`) when the territories
    or the demo organisations are missing, or when a synthetic set exists and not `replace`."""
    from django.db import transaction
    from django.utils.translation import gettext as _

    if not (isinstance(scale, int | float) and 0 < scale <= 100 and math.isfinite(scale)):
        raise GenerationRefused(
            _("L'échelle doit être un nombre strictement positif, au plus 100 (ex. 0.01, 1, 10).")
        )
    weights = departement_weights()
    wanted = check_ready(departements, weights)
    existing = synthetic_counts()
    if any(existing.values()) and not replace:
        raise GenerationRefused(
            _(
                "Un jeu synthétique existe déjà (%(dealpoints)d points de deal, %(reports)d "
                "signalements) : relancez avec --replace pour le remplacer."
            )
            % existing
        )
    started = time.perf_counter()
    timings: dict[str, float] = {}
    moment = time.perf_counter()
    places = load_places(wanted)
    owners, services = _organisations(wanted)
    timings["places_s"] = round(time.perf_counter() - moment, 2)
    day = end or datetime.now(UTC).date()
    context = Context(
        rng=np.random.default_rng(seed),
        scale=float(scale),
        years=min(max(math.ceil(scale), 1), 10),
        end=datetime(day.year, day.month, day.day, tzinfo=UTC),
        departements=wanted,
        weights=weights,
        places=places,
        owners=owners,
        services=services,
        progress=progress,
    )
    generators = [make() for make in GENERATORS]
    moment = time.perf_counter()
    for generator in generators:
        generator.plan(context)
    timings["plan_s"] = round(time.perf_counter() - moment, 2)
    # One transaction: a failure leaves the previous set (if any) as it was.
    with transaction.atomic():
        if any(existing.values()):
            moment = time.perf_counter()
            synthetic_delete()
            timings["delete_s"] = round(time.perf_counter() - moment, 2)
        moment = time.perf_counter()
        for generator in generators:
            generator.write(context)
        timings["write_s"] = round(time.perf_counter() - moment, 2)
    timings["total_s"] = round(time.perf_counter() - started, 2)
    return {
        "scale": scale,
        "seed": seed,
        "end": day.isoformat(),
        "years": context.years,
        "departements": len(wanted),
        "communes": len(places),
        "counts": context.counts,
        "timings": timings,
    }


# --- the benchmark: `python -m bench.national` ---------------------------------------------------

BENCH_SQLITE = (
    Path(__file__).resolve().parent.parent / "var" / "bench-national" / "national.sqlite3"
)
BENCH_PG_DATABASE = "cartostup_bench_national"


def _bench_child(database: str, scales: list[float], seed: int, output: Path) -> None:
    """In a process set up on the bench database: migrate, load every territory and the demo
    organisations when missing, then build each scale (replacing the previous one)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from cartostup.access.services import demo_organisations_ensure
    from cartostup.dealpoints.models import DealPoint, DealPointEvent, Operation, ReportLink
    from cartostup.reports.models import Report
    from cartostup.territories.management.commands._progress import StageProgress as Bars
    from cartostup.territories.models import Commune

    call_command("migrate", verbosity=0, interactive=False)
    setup: dict[str, float] = {}
    if (
        Commune.objects.filter(geometry__isnull=False).values("departement").distinct().count()
        < 101
    ):
        started = time.perf_counter()
        call_command("load_territories", departements="all", verbosity=0)
        setup["load_territories_s"] = round(time.perf_counter() - started, 1)
    demo_organisations_ensure()
    runs = []
    for scale in scales:
        bars = Bars(enabled=True, stream=sys.stderr)
        try:
            result = generate(scale=scale, seed=seed, replace=True, progress=bars)
        finally:
            bars.close()
        points = DealPoint.objects.filter(reference__startswith=DEALPOINT_PREFIX)
        result["rows"] = {
            "dealpoints_dealpoint": points.count(),
            "reports_report": Report.objects.filter(reference__startswith=REPORT_PREFIX).count(),
            "dealpoints_reportlink": ReportLink.objects.filter(dealpoint__in=points).count(),
            "dealpoints_operation": Operation.objects.filter(dealpoint__in=points).count(),
            "dealpoints_dealpointevent": DealPointEvent.objects.filter(
                dealpoint__in=points
            ).count(),
        }
        print(
            f"{database:8} scale {scale:>5}: {sum(result['rows'].values()):>8,} rows in "
            f"{result['timings']['total_s']:.1f} s ({result['rows']})",
            flush=True,
        )
        runs.append(result)
    output.write_text(
        json.dumps(
            {
                "database": database,
                "vendor": connection.vendor,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "setup": setup,
                "runs": runs,
            },
            indent=2,
        )
    )


def bench_main(argv: list[str] | None = None) -> int:
    import argparse
    import subprocess

    from bench.common import environment, pg_database_ensure
    from bench.territories import machine

    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(
        description="Time `generate_national` at scales 1 and 10 on SQLite and PostgreSQL."
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--scales", default="1,10", help="comma-separated scales (1,10)")
    parser.add_argument("--quick", action="store_true", help="scale 0.1 only")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    scales = [0.1] if args.quick else [float(value) for value in args.scales.split(",")]
    if args.child:
        _bench_child(args.child, scales, args.seed, args.output)
        return 0
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    results = []
    for database in databases:
        if database == "sqlite":
            BENCH_SQLITE.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{BENCH_SQLITE}"
        else:
            url = pg_database_ensure(BENCH_PG_DATABASE)
        output = BENCH_SQLITE.parent / f"result-{database}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        env = environment(
            DJANGO_SETTINGS_MODULE="config.settings.bench",
            CARTOSTUP_DATA_DIR=str(BENCH_SQLITE.parent / database),
            DATABASE_URL=url,
        )
        command = [sys.executable, "-m", "bench.national", "--child", database]
        command += ["--scales", ",".join(map(str, scales)), "--seed", str(args.seed)]
        command += ["--output", str(output)]
        subprocess.run(command, cwd=root, env=env, check=True)
        results.append(json.loads(output.read_text()))
    now = datetime.now(UTC)
    print()
    print(
        f"{'database':9} {'scale':>6} {'points':>8} {'reports':>8} {'links':>7} "
        f"{'operations':>10} {'events':>8} {'build s':>8}"
    )
    for result in results:
        for run in result["runs"]:
            rows = run["rows"]
            print(
                f"{result['database']:9} {run['scale']:>6} {rows['dealpoints_dealpoint']:>8} "
                f"{rows['reports_report']:>8} {rows['dealpoints_reportlink']:>7} "
                f"{rows['dealpoints_operation']:>10} {rows['dealpoints_dealpointevent']:>8} "
                f"{run['timings']['total_s']:>8}"
            )
    results_dir = root / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "national.json"
    if path.exists() and not args.quick:
        # A run on one database keeps the other's last full result (it carries its date).
        previous = json.loads(path.read_text())
        if not previous.get("quick"):
            results += [
                result
                for result in previous.get("results", [])
                if result["database"] not in databases
            ]
    path.write_text(
        json.dumps(
            {
                "benchmark": "national",
                "date": now.isoformat(timespec="seconds"),
                "machine": machine(),
                "quick": args.quick,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\n{path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(bench_main())
