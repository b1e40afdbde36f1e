"""Benchmark of the report ↔ deal-point matching on a labelled synthetic data set:
`python -m bench.matching [--points 2000] [--seed N]`.

No database: it runs the project's own pure matching functions (`dealpoints.matching`:
`rank`/`decide` for attachment, `cluster_reports` and `prefers_new_point` for new-point
proposals) with the thresholds of the settings, exactly as `flows.report_match` and
`flows.reports_cluster` do, on data drawn in memory:

- `--points` true deal points in real places of départements 13 (Marseille), 93
  (Saint-Denis) and 69 (Lyon), grouped in estates of 1 to 4 points 50–150 m apart (the hard
  case), estates at least 300 m apart; each point has a precision (stairwell, building,
  street), products, opening hours, a channel, a last activity;
- 70 % of them are known (already on the map, their stored position off by their own
  precision's error), 30 % not yet: their reports must become proposals;
- 1 to 6 reports per point, position noise drawn per precision (root-mean-square 10 m for a
  stairwell, 30 m for a building, 120 m for a street, 400 m for a neighbourhood), attributes
  taken from their point with noise (unknown products or hours, a wrong product, a random
  activity), and 5 % decoy reports more than 1 km from any point;
- place labels: buildings of an estate named by letters or numbers, the known points' building
  and stairwell labels, the reporters' labels in many spellings (≈ 55 % of reports, 12 % naming
  the wrong building), the landlord's exact building key on landlord estates (see the constants).

The labels are used only to score the outcome, never by the algorithm. Measured:

- (a) automatic attachment: precision = attached to their true point / attached; recall =
  attached to their true point / reports of known points;
- (a') attachment or proposal: the true point is the attached one or among those proposed;
- (b) new-point proposals, pairwise: precision = pairs of reports in one proposal that share
  their true point / pairs in one proposal; recall = such pairs / pairs of reports of unknown
  points sharing their point; plus coverage (unknown points' reports that end in a proposal).

Prints a table and writes `bench/results/matching.json`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

# (département, centre latitude, longitude, radius in km where estates are drawn, share).
CITIES = (
    ("13", 43.33, 5.42, 14.0, 0.5),
    ("93", 48.91, 2.45, 9.0, 0.3),
    ("69", 45.75, 4.85, 10.0, 0.2),
)
# Estates (one or several points) are at least this far apart.
ESTATE_SPACING_M = 300.0
REPORT_NOISE_M = {"stairwell": 10.0, "building": 30.0, "street": 120.0, "area": 400.0}
REPORT_PRECISIONS = (("stairwell", 0.25), ("building", 0.45), ("street", 0.22), ("area", 0.08))
POINT_PRECISIONS = (("stairwell", 0.3), ("building", 0.6), ("street", 0.1))
PRODUCTS = ("cannabis", "cocaine", "crack", "heroin", "synthetic")
PRODUCT_WEIGHTS = (0.55, 0.25, 0.1, 0.05, 0.05)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIMES = ("morning", "afternoon", "evening", "night")
CHANNELS = (("fixed", 0.8), ("flat", 0.05), ("delivery", 0.1), ("drive", 0.05))
# Share of estates with 1, 2, 3, 4 points (default: about a third of the points share their
# estate with another point 50–150 m away; `--dense` gives the harder three quarters).
ESTATE_SIZES = (0.8, 0.14, 0.05, 0.01)
DENSE_ESTATE_SIZES = (0.45, 0.3, 0.15, 0.1)
KNOWN_SHARE = 0.7
DECOY_SHARE = 0.05
# Place labels. Buildings of an estate are named by letters (60 %) or numbers; a point of a
# several-point estate is in another building than its neighbours, except 20 % in the same
# building at another stairwell (a long bar 60 m long). Known points carry the analysts'
# building label (85 %; 50 % for street-level points) and stairwell label (70 % of
# stairwell-level points, 30 % of building-level ones).
SAME_BUILDING_SHARE = 0.2
POINT_BUILDING_LABEL = {"stairwell": 0.85, "building": 0.85, "street": 0.5}
POINT_STAIRWELL_LABEL = {"stairwell": 0.7, "building": 0.3, "street": 0.0}
# Reporters give a place label depending on how precisely they located the point (≈ 55 % of
# reports), sometimes naming no building ("devant la pharmacie", 10 %), the wrong building
# (12 %: a neighbour of the estate or another letter) or the wrong stairwell (15 %), in many
# spellings ("Bât. B, cage 2", "bat b", "Bâtiment B", "B2", "bloc B entrée 2"...).
REPORT_LABEL_SHARE = {"stairwell": 0.8, "building": 0.65, "street": 0.35, "area": 0.15}
LABEL_NO_BUILDING = 0.1
LABEL_WRONG_BUILDING = 0.12
LABEL_WRONG_STAIRWELL = 0.15
# Estates of a social landlord (35 %): their buildings are in the register; the point records
# its building (90 % of known points there) and 6 % of the reports there come from the
# landlord, who names the building exactly (the `building` key) and the stairwell.
LANDLORD_ESTATE_SHARE = 0.35
LANDLORD_POINT_BUILDING = 0.9
LANDLORD_REPORT_SHARE = 0.06
LETTERS = "ABCDEFGHJKLMN"


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


@dataclass
class TruePoint:
    id: int
    departement: str
    latitude: float
    longitude: float
    known: bool
    features: Any  # matching.PointFeatures (stored, noisy position) for known points


@dataclass
class SyntheticReport:
    id: int
    departement: str
    truth: int | None  # the true point, None for a decoy
    features: Any  # matching.ReportFeatures


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        lat + north_m / 111_320,
        lon + east_m / (111_320 * math.cos(math.radians(lat))),
    )


def _noisy(rng: np.random.Generator, lat: float, lon: float, rms_m: float) -> tuple[float, float]:
    # Two independent axes of sigma rms/√2: the distance's root mean square is `rms_m`.
    north, east = rng.normal(0.0, rms_m / math.sqrt(2), 2)
    return _offset(lat, lon, float(north), float(east))


def _label(rng: np.random.Generator, building: str, stairwell: str) -> str:
    """A reporter's spelling of a building and maybe its stairwell."""
    with_stairwell = bool(rng.random() < 0.5)
    letter = building.isalpha()
    forms = [
        f"Bât. {building}, cage {stairwell}" if with_stairwell else f"Bât. {building}",
        f"bat {building.lower()}" + (f" esc {stairwell}" if with_stairwell else ""),
        f"Bâtiment {building}" + (f" escalier {stairwell}" if with_stairwell else ""),
        f"{building}{stairwell}" if letter and with_stairwell else f"Bat.{building}",
        f"bloc {building} entrée {stairwell}" if with_stairwell else f"bloc {building}",
        f"Tour {building}",
        f"en bas du bât. {building}",
        f"immeuble {building}, hall {stairwell}" if with_stairwell else f"imm. {building}",
    ]
    return forms[int(rng.integers(len(forms)))]


def _point_label(rng: np.random.Generator, building: str) -> str:
    """An analyst's building label: "B", "Bât. B", "Bâtiment 12", "Tour 12"."""
    forms = [building, f"Bât. {building}", f"Bâtiment {building}", f"Tour {building}"]
    return forms[int(rng.integers(len(forms)))]


def _other(rng: np.random.Generator, value: str, pool: list[str]) -> str:
    choices = [v for v in pool if v != value]
    return str(rng.choice(choices)) if choices else value


def _pick(rng: np.random.Generator, table: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _share in table]
    shares = np.array([share for _name, share in table])
    return str(rng.choice(names, p=shares / shares.sum()))


def generate(
    points: int,
    seed: int,
    now: datetime,
    estate_sizes: tuple[float, ...] = ESTATE_SIZES,
    record_keep: float = 1.0,
) -> tuple[list[TruePoint], list[SyntheticReport]]:
    from cartostup.dealpoints.matching import PointFeatures, ReportFeatures, haversine_m

    rng = np.random.default_rng(seed)
    # The analysts' records of the known points: complete by default; with `record_keep` < 1
    # each opening slot and each product but one is recorded only with that chance (drawn
    # apart, so the points and reports are the same as the default set's).
    records = np.random.default_rng(seed + 7919)
    truths: list[TruePoint] = []
    estates: dict[str, list[tuple[float, float]]] = defaultdict(list)
    attributes: dict[int, dict[str, Any]] = {}
    while len(truths) < points:
        code, clat, clon, radius_km, _share = CITIES[
            int(rng.choice(len(CITIES), p=[c[4] for c in CITIES]))
        ]
        r = radius_km * 1000 * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        elat, elon = _offset(clat, clon, r * math.cos(angle), r * math.sin(angle))
        if any(haversine_m(elat, elon, a, b) < ESTATE_SPACING_M for a, b in estates[code]):
            continue
        estates[code].append((elat, elon))
        shares = np.array(estate_sizes) / sum(estate_sizes)
        size = int(rng.choice(np.arange(1, len(shares) + 1), p=shares))
        members: list[tuple[float, float]] = [(elat, elon)]
        tries = 0
        while len(members) < size and tries < 50:
            tries += 1
            base = members[int(rng.integers(len(members)))]
            gap = rng.uniform(50, 150)
            angle = rng.uniform(0, 2 * math.pi)
            cand = _offset(base[0], base[1], gap * math.cos(angle), gap * math.sin(angle))
            if all(haversine_m(cand[0], cand[1], a, b) >= 50 for a, b in members):
                members.append(cand)
        lettered = bool(rng.random() < 0.6)
        names = (
            list(LETTERS)
            if lettered
            else [str(n) for n in rng.choice(np.arange(1, 40), size=8, replace=False)]
        )
        landlord = bool(rng.random() < LANDLORD_ESTATE_SHARE)
        places: list[tuple[str, str]] = []
        for index in range(len(members)):
            if index and rng.random() < SAME_BUILDING_SHARE:
                building = places[-1][0]
                stairwell = _other(rng, places[-1][1], [str(n) for n in range(1, 7)])
            else:
                building = names[index]
                stairwell = str(int(rng.integers(1, 7)))
            places.append((building, stairwell))
        for (lat, lon), (building, stairwell) in zip(members, places, strict=True):
            if len(truths) >= points:
                break
            pk = len(truths)
            precision = _pick(rng, POINT_PRECISIONS)
            sold = sorted(
                {
                    str(p)
                    for p in rng.choice(PRODUCTS, size=int(rng.integers(1, 3)), p=PRODUCT_WEIGHTS)
                }
            )
            open_days = [
                str(d) for d in rng.choice(DAYS, size=int(rng.integers(2, 6)), replace=False)
            ]
            open_times = [
                str(t) for t in rng.choice(TIMES, size=int(rng.integers(1, 3)), replace=False)
            ]
            hours = sorted(f"{d}:{t}" for d in open_days for t in open_times)
            channel = _pick(rng, CHANNELS)
            known = bool(rng.random() < KNOWN_SHARE)
            slat, slon = _noisy(rng, lat, lon, REPORT_NOISE_M[precision])
            # The landlord register's key of the building (unique across estates).
            building_key = sum(map(len, estates.values())) * 100 + names.index(building)
            stored = PointFeatures(
                latitude=slat,
                longitude=slon,
                precision=precision,
                products=tuple(
                    p for i, p in enumerate(sold) if i == 0 or records.random() < record_keep
                ),
                opening_hours=tuple(h for h in hours if records.random() < record_keep)
                or tuple(hours[:1]),
                channel=channel,
                last_activity_at=now - timedelta(days=float(rng.uniform(0, 200))),
                building_label=(
                    _point_label(rng, building)
                    if rng.random() < POINT_BUILDING_LABEL[precision]
                    else ""
                ),
                stairwell_label=(
                    stairwell if rng.random() < POINT_STAIRWELL_LABEL[precision] else ""
                ),
                building_id=(
                    building_key if landlord and rng.random() < LANDLORD_POINT_BUILDING else None
                ),
            )
            truths.append(TruePoint(pk, code, lat, lon, known, stored))
            attributes[pk] = {
                "products": sold,
                "days": open_days,
                "times": open_times,
                "ch": channel,
                "building": building,
                "stairwell": stairwell,
                "names": names[: max(len(members), 4)],
                "landlord": building_key if landlord else None,
            }

    reports: list[SyntheticReport] = []
    for truth in truths:
        attrs = attributes[truth.id]
        for _ in range(int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.2, 0.25, 0.2, 0.15, 0.1, 0.1]))):
            precision = _pick(rng, REPORT_PRECISIONS)
            lat, lon = _noisy(rng, truth.latitude, truth.longitude, REPORT_NOISE_M[precision])
            products: list[str] = []
            if rng.random() < 0.6:
                products = [str(rng.choice(attrs["products"]))]
                if rng.random() < 0.1:
                    products = [str(rng.choice(PRODUCTS))]
            days = [str(d) for d in attrs["days"] if rng.random() < 0.5]
            times = [str(t) for t in attrs["times"] if rng.random() < 0.6]
            if rng.random() < 0.15:
                days = [str(rng.choice(DAYS))]
            if attrs["ch"] in {"fixed", "flat"}:
                activities = ["selling", "lookouts"][: int(rng.integers(1, 3))]
            else:
                activities = ["delivery"] if attrs["ch"] != "drive" else ["selling"]
            if rng.random() < 0.1:
                activities = [str(rng.choice(["selling", "lookouts", "delivery", "online"]))]
            place_label, building_id = "", None
            if attrs["landlord"] is not None and rng.random() < LANDLORD_REPORT_SHARE:
                # A landlord's report: its building exactly, the stairwell as "B2".
                precision = "building"
                lat, lon = _noisy(rng, truth.latitude, truth.longitude, REPORT_NOISE_M[precision])
                building_id = attrs["landlord"]
                place_label = f"{attrs['building']}{attrs['stairwell']}"
            elif rng.random() < REPORT_LABEL_SHARE[precision]:
                if rng.random() < LABEL_NO_BUILDING:
                    place_label = str(
                        rng.choice(["devant la pharmacie", "près du parking", "au city stade"])
                    )
                else:
                    building, stairwell = attrs["building"], attrs["stairwell"]
                    if rng.random() < LABEL_WRONG_BUILDING:
                        building = _other(rng, building, attrs["names"])
                    if rng.random() < LABEL_WRONG_STAIRWELL:
                        stairwell = _other(rng, stairwell, [str(n) for n in range(1, 7)])
                    place_label = _label(rng, building, stairwell)
            features = ReportFeatures(
                latitude=lat,
                longitude=lon,
                precision=precision,
                products=tuple(products),
                days=tuple(days),
                times_of_day=tuple(times),
                activities=tuple(activities),
                place_label=place_label,
                building_id=building_id,
            )
            reports.append(SyntheticReport(len(reports), truth.departement, truth.id, features))
    decoys = int(len(reports) * DECOY_SHARE)
    while decoys:
        code, clat, clon, radius_km, _share = CITIES[int(rng.integers(len(CITIES)))]
        r = (radius_km + 2) * 1000 * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        lat, lon = _offset(clat, clon, r * math.cos(angle), r * math.sin(angle))
        if any(
            t.departement == code and haversine_m(lat, lon, t.latitude, t.longitude) < 1000
            for t in truths
        ):
            continue
        precision = _pick(rng, REPORT_PRECISIONS)
        features = ReportFeatures(
            latitude=lat,
            longitude=lon,
            precision=precision,
            products=(str(rng.choice(PRODUCTS)),),
            activities=("selling",),
            place_label=_label(rng, str(rng.choice(list(LETTERS))), "1")
            if rng.random() < 0.4
            else "",
        )
        reports.append(SyntheticReport(len(reports), code, None, features))
        decoys -= 1
    order = rng.permutation(len(reports))
    return truths, [reports[i] for i in order]


def _prf(tp: int, predicted: int, actual: int) -> dict[str, float]:
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_positives": tp,
        "predicted": predicted,
        "actual": actual,
    }


def _pairs(groups: dict[Any, list[int]]) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for members in groups.values():
        members = sorted(members)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                found.add((a, b))
    return found


def _cluster_groups(
    matching: Any, reports: list[SyntheticReport], known: list[TruePoint] | None = None
) -> dict[Any, list[int]]:
    """Per département, as `flows.reports_cluster` does (`known`: the points on the map)."""
    groups: dict[tuple[str, int], list[int]] = {}
    for code, *_rest in CITIES:
        part = [r for r in reports if r.departement == code]
        mapped = [t.features for t in known or () if t.departement == code]
        labels = matching.cluster_reports(
            [r.features for r in part], known=mapped, now=datetime.now(UTC)
        )
        for report, label in zip(part, labels, strict=True):
            groups.setdefault((code, int(label)), []).append(report.id)
    return groups


def run(points: int, seed: int, dense: bool = False, record_keep: float = 1.0) -> dict[str, Any]:
    setup_django()
    from django.conf import settings

    from cartostup.dealpoints import matching

    now = datetime.now(UTC)
    started = time.perf_counter()
    truths, reports = generate(
        points, seed, now, DENSE_ESTATE_SIZES if dense else ESTATE_SIZES, record_keep
    )
    generate_seconds = time.perf_counter() - started

    # The map: known points indexed by their res-9 cell (the `h3_r9` column).
    import h3

    by_cell: dict[tuple[str, str], list[TruePoint]] = defaultdict(list)
    for truth in truths:
        if truth.known:
            cell = h3.latlng_to_cell(truth.features.latitude, truth.features.longitude, 9)
            by_cell[(truth.departement, cell)].append(truth)

    auto, propose = settings.CARTOSTUP_MATCH_AUTO_SCORE, settings.CARTOSTUP_MATCH_PROPOSE_SCORE
    started = time.perf_counter()
    attached: dict[int, int] = {}
    shares: dict[int, float] = {}
    proposed: dict[int, tuple[int, ...]] = {}
    awaiting: list[SyntheticReport] = []
    for report in reports:
        f = report.features
        search = matching.radius_m(f.precision, "area")
        nearby = (
            (t.id, str(t.id), t.features)
            for cell in matching.search_cells(f.latitude, f.longitude, search)
            for t in by_cell.get((report.departement, cell), ())
        )
        decision = matching.decide(
            matching.rank(f, nearby, now=now), auto_score=auto, propose_score=propose
        )
        if decision.attach is not None:
            attached[report.id] = decision.attach.dealpoint_id
            shares[report.id] = decision.attach.score
        elif decision.propose:
            proposed[report.id] = tuple(c.dealpoint_id for c in decision.propose)
        else:
            awaiting.append(report)
    match_seconds = time.perf_counter() - started

    started = time.perf_counter()
    # As `flows.reports_cluster`: reports only proposed to known points, and automatic
    # attachments whose share was below `matching.REVISE_SHARE`, are clustered with those
    # waiting; they stay in a cluster only when they fit the new point its waiting reports
    # form better than their points (an attachment is then undone: the report is proposed);
    # a cluster is a proposal only with a waiting report in it.
    revisable = {
        rid: (pid,) for rid, pid in attached.items() if shares[rid] < matching.REVISE_SHARE
    }
    doubtful = [r for r in reports if r.id in proposed or r.id in revisable]
    candidates_of = {**proposed, **revisable}
    by_id = {r.id: r for r in reports}
    features = {t.id: t.features for t in truths}
    on_map = [t for t in truths if t.known]
    groups = _cluster_groups(matching, awaiting + doubtful, on_map)
    kept: dict[Any, list[int]] = {}
    for key, members in groups.items():
        waiting = [by_id[m].features for m in members if m not in candidates_of]
        if not waiting:
            continue  # a proposal needs a waiting report
        kept[key] = [
            m
            for m in members
            if m not in candidates_of
            or matching.prefers_new_point(
                by_id[m].features, waiting, [features[p] for p in candidates_of[m]], now=now
            )
        ]
    groups = kept
    for members in groups.values():
        for m in members:
            if m in revisable:
                del attached[m]
                proposed[m] = revisable[m]
    cluster_seconds = time.perf_counter() - started

    truth_of = {r.id: r.truth for r in reports}
    known = {t.id for t in truths if t.known}
    of_known = [r for r in reports if r.truth in known]
    correct = sum(1 for rid, pid in attached.items() if truth_of[rid] == pid)
    attach = _prf(correct, len(attached), len(of_known))
    precise = [r for r in of_known if r.features.precision in {"stairwell", "building"}]
    # Every precise report attached, whatever its truth (an unknown point's report attached
    # to a known neighbour is a false positive here too).
    precise_attached = [
        r for r in reports if r.id in attached and r.features.precision in {"stairwell", "building"}
    ]
    attach_precise = _prf(
        sum(1 for r in precise_attached if attached[r.id] == r.truth),
        len(precise_attached),
        len(precise),
    )
    seen = sum(
        1 for r in of_known if attached.get(r.id) == r.truth or r.truth in proposed.get(r.id, ())
    )
    wrong_attach_or_propose = sum(1 for rid, pid in attached.items() if truth_of[rid] != pid) + sum(
        1 for rid, pids in proposed.items() if truth_of[rid] not in pids
    )
    attach_or_propose = _prf(seen, seen + wrong_attach_or_propose, len(of_known))

    predicted_pairs = _pairs(groups)
    good_pairs = {
        (a, b) for a, b in predicted_pairs if truth_of[a] is not None and truth_of[a] == truth_of[b]
    }
    unknown_groups: dict[int, list[int]] = defaultdict(list)
    for r in reports:
        if r.truth is not None and r.truth not in known:
            unknown_groups[r.truth].append(r.id)
    true_pairs = _pairs(unknown_groups)
    proposals = _prf(len(good_pairs & true_pairs), len(predicted_pairs), len(true_pairs))
    proposals["precision_all_pairs"] = round(
        len(good_pairs) / len(predicted_pairs) if predicted_pairs else 1.0, 4
    )
    # The clustering alone, on the reports it should receive (unknown points' and decoys).
    ideal = _cluster_groups(matching, [r for r in reports if r.truth not in known], on_map)
    ideal_pairs = _pairs(ideal)
    ideal_good = {
        (a, b) for a, b in ideal_pairs if truth_of[a] is not None and truth_of[a] == truth_of[b]
    }
    clustering_alone = _prf(len(ideal_good & true_pairs), len(ideal_pairs), len(true_pairs))
    # After the analysts' review of the proposed links (simulated from the labels, as a
    # careful analyst would decide; the algorithm never sees them): a report whose true point
    # was proposed is confirmed, the others are refused and go back to clustering
    # (`flows.link_refuse`).
    refused = [r for r in reports if r.id in proposed and r.truth not in proposed[r.id]]
    reviewed = _cluster_groups(matching, awaiting + refused, on_map)
    reviewed_pairs = _pairs(reviewed)
    reviewed_good = {
        (a, b) for a, b in reviewed_pairs if truth_of[a] is not None and truth_of[a] == truth_of[b]
    }
    after_review = _prf(len(reviewed_good & true_pairs), len(reviewed_pairs), len(true_pairs))
    clustered = {rid for members in groups.values() for rid in members}
    unknown_reports = [rid for members in unknown_groups.values() for rid in members]
    coverage = sum(1 for rid in unknown_reports if rid in clustered) / max(1, len(unknown_reports))
    # How many proposals per unknown point (1.0 = one proposal each).
    proposals_per_unknown = sum(
        1
        for members in groups.values()
        if any(truth_of[m] is not None and truth_of[m] not in known for m in members)
    ) / max(1, len(unknown_groups))

    from bench.territories import machine

    return {
        "benchmark": "matching",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seed": seed,
        "settings": {
            "auto_score": auto,
            "propose_score": propose,
            "ambiguity_ratio": matching.AMBIGUITY_RATIO,
            "cluster_eps_m": matching.CLUSTER_EPS_M,
            "position_sigma_m": dict(matching.POSITION_SIGMA_M),
            "radius_factor": matching.RADIUS_FACTOR,
            "background": matching.BACKGROUND,
            "revise_share": matching.REVISE_SHARE,
            "neighbour_density_per_m2": matching.NEIGHBOUR_DENSITY,
        },
        "data": {
            "true_points": len(truths),
            "known_points": len(known),
            "unknown_points": len(truths) - len(known),
            "reports": len(reports),
            "reports_of_known_points": len(of_known),
            "reports_of_unknown_points": len(unknown_reports),
            "decoys": sum(1 for r in reports if r.truth is None),
        },
        "outcome": {
            "attached": len(attached),
            "proposed": len(proposed),
            "awaiting_clustering": len(awaiting),
            "proposals": len(groups),
        },
        "dense_estates": dense,
        "record_keep": record_keep,
        "attachment": attach,
        "attachment_precise_reports": attach_precise,
        "clustering_alone": clustering_alone,
        "proposals_after_review": after_review,
        "attachment_or_proposal": attach_or_propose,
        "proposals": {
            **proposals,
            "coverage": round(coverage, 4),
            "proposals_per_unknown_point": round(proposals_per_unknown, 3),
        },
        "seconds": {
            "generate": round(generate_seconds, 2),
            "match": round(match_seconds, 2),
            "match_per_report_ms": round(1000 * match_seconds / len(reports), 3),
            "cluster": round(cluster_seconds, 3),
        },
    }


def print_table(result: dict[str, Any]) -> None:
    data = result["data"]
    print(
        f"{data['true_points']} true points ({data['known_points']} known, "
        f"{data['unknown_points']} unknown), {data['reports']} reports "
        f"({data['decoys']} decoys)"
    )
    print("dense estates (3/4 of points share one)" if result["dense_estates"] else "")
    print(f"{'measure':<34}{'precision':>10}{'recall':>10}{'F1':>10}")
    for label, key in (
        ("(a) automatic attachment", "attachment"),
        ("    stairwell/building reports", "attachment_precise_reports"),
        ("(a') attached or proposed", "attachment_or_proposal"),
        ("(b) new-point proposals (pairs)", "proposals"),
        ("    after review of proposed links", "proposals_after_review"),
        ("    clustering alone", "clustering_alone"),
    ):
        row = result[key]
        print(f"{label:<34}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}")
    outcome = result["outcome"]
    print(
        f"outcome: {outcome['attached']} attached, {outcome['proposed']} proposed, "
        f"{outcome['awaiting_clustering']} clustered into {outcome['proposals']} proposals; "
        f"coverage {result['proposals']['coverage']:.3f}, "
        f"{result['proposals']['proposals_per_unknown_point']} proposals per unknown point"
    )
    seconds = result["seconds"]
    print(
        f"time: match {seconds['match']} s ({seconds['match_per_report_ms']} ms/report), "
        f"cluster {seconds['cluster']} s; machine {result['machine']['cpu']}, "
        f"{result['machine']['cores']} cores"
    )


def cluster_stress(
    sizes: tuple[tuple[int, float], ...] = ((1000, 1000.0), (3000, 2000.0), (6000, 3000.0)),
) -> list[dict[str, Any]]:
    """Worst case of the clustering: `n` precise reports waiting in a square of `side` metres
    (1,000 in 1 km²: every report has a hundred others within the agglomeration's reach), with
    a few products, days and building names. Prints and returns the time of
    `matching.cluster_reports` for each size."""
    setup_django()
    import random

    from cartostup.dealpoints import matching

    now = datetime.now(UTC)
    matching.cluster_reports([matching.ReportFeatures(43.3, 5.4, "building")] * 2, now=now)
    rng = random.Random(1)
    rows = []
    for count, side in sizes:
        reports = [
            matching.ReportFeatures(
                latitude=43.3 + rng.random() * side / 111_320,
                longitude=5.4 + rng.random() * side / 81_000,
                precision=rng.choice(["stairwell", "building"]),
                products=(rng.choice(["cannabis", "cocaine"]),),
                days=(rng.choice(["mon", "fri"]),),
                place_label=rng.choice(["", "A", "B", "bat c"]),
            )
            for _ in range(count)
        ]
        started = time.perf_counter()
        labels = matching.cluster_reports(reports, now=now)
        seconds = time.perf_counter() - started
        rows.append(
            {
                "reports": count,
                "side_m": side,
                "groups": len(set(labels)),
                "seconds": round(seconds, 2),
            }
        )
        print(
            f"{count} precise reports in {side / 1000:.0f} km × {side / 1000:.0f} km: "
            f"{len(set(labels))} groups, {seconds:.2f} s"
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20_241_126)
    parser.add_argument(
        "--dense", action="store_true", help="three quarters of the points share an estate"
    )
    parser.add_argument(
        "--record-keep",
        type=float,
        default=1.0,
        help="chance that the analysts recorded each opening slot and extra product of a "
        "known point (1: complete records)",
    )
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--stress",
        action="store_true",
        help="time the clustering of thousands of waiting precise reports in a few km² instead",
    )
    args = parser.parse_args(argv)
    if args.stress:
        cluster_stress()
        return
    if args.output is None:
        args.output = RESULTS / ("matching-dense.json" if args.dense else "matching.json")
    result = run(args.points, args.seed, args.dense, args.record_keep)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"-> {shown}")


if __name__ == "__main__":
    main()
