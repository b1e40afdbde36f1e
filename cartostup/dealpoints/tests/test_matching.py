"""The matching's scoring, candidate search and clustering on constructed cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cartostup.dealpoints import matching, services
from cartostup.dealpoints.matching import PointFeatures, ReportFeatures
from cartostup.dealpoints.models import ReportLink
from cartostup.dealpoints.tests.factories import MARSEILLE_14, accepted_report, dealpoint

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def offset(north_m: float, east_m: float = 0.0, origin=MARSEILLE_14) -> tuple[float, float]:
    lat, lon = origin
    return (
        lat + north_m / 111_320,
        lon + east_m / (111_320 * math.cos(math.radians(lat))),
    )


def report_at(north_m: float, precision: str = "building", **kw) -> ReportFeatures:
    lat, lon = offset(north_m)
    return ReportFeatures(latitude=lat, longitude=lon, precision=precision, **kw)


POINT = PointFeatures(
    latitude=MARSEILLE_14[0],
    longitude=MARSEILLE_14[1],
    precision="building",
    products=("cannabis",),
    opening_hours=("fri:evening", "sat:evening"),
    channel="fixed",
    last_activity_at=NOW - timedelta(days=10),
)


def test_radius_depends_on_both_precisions():
    assert matching.radius_m("stairwell", "stairwell") < matching.radius_m("building", "stairwell")
    assert matching.radius_m("stairwell", "stairwell") < matching.radius_m("stairwell", "building")
    assert matching.radius_m("street", "building") < matching.radius_m("area", "building")
    assert matching.radius_m("street", "area") > matching.radius_m("street", "building")
    # Symmetric, root-sum-square of the two uncertainties.
    assert matching.radius_m("area", "stairwell") == pytest.approx(
        matching.radius_m("stairwell", "area")
    )


def test_score_falls_with_distance_relative_to_precision():
    near = matching.score(report_at(10), POINT, now=NOW).score
    far = matching.score(report_at(120), POINT, now=NOW).score
    assert far < 0.15 * near
    # The same 120 m is close for a street-level report: its fit hardly falls...
    street = matching.score(report_at(120, precision="street"), POINT, now=NOW).score
    street_on_it = matching.score(report_at(0, precision="street"), POINT, now=NOW).score
    assert street > 0.5 * street_on_it
    # ... but a wide position says less than a precise one, even on top of the point.
    assert street_on_it < 0.2 * near
    area = matching.score(report_at(0, precision="area"), POINT, now=NOW).score
    assert area < 0.1 * street_on_it


def test_position_ratio_is_one_for_two_building_positions_at_the_same_place():
    sigma = matching.sigma_m("building", "building")
    assert matching.position_ratio(0.0, sigma) == pytest.approx(1.0)
    # σ is a root-mean-square *distance* (two axes of σ/√2 each): the density falls as
    # exp(−(d/σ)²), so at one σ it is e⁻¹ of its peak (with σ per axis it would be e^−½).
    assert matching.position_ratio(sigma, sigma) == pytest.approx(math.exp(-1))
    assert matching.position_ratio(2 * sigma, sigma) == pytest.approx(math.exp(-4))


def test_unknown_attributes_are_neutral_and_disagreement_lowers():
    bare = matching.score(report_at(20), POINT, now=NOW)
    agreeing = matching.score(
        report_at(20, products=("cannabis",), days=("fri",), activities=("selling",)),
        POINT,
        now=NOW,
    )
    disagreeing = matching.score(
        report_at(
            20,
            products=("heroin",),
            days=("mon",),
            times_of_day=("morning",),
            activities=("delivery",),
        ),
        POINT,
        now=NOW,
    )
    assert bare.products is None and bare.hours is None and bare.channel is None
    assert agreeing.products == 1.0 and agreeing.hours == 1.0 and agreeing.channel == 1.0
    # What the report says is evidence both ways: agreement raises the fit, disagreement
    # lowers it (a reporter may be wrong: lower, never zero).
    assert agreeing.score > 1.5 * bare.score
    assert 0 < disagreeing.score < 0.1 * bare.score


def test_a_rare_product_says_more_than_a_common_one():
    crack_point = PointFeatures(**{**POINT.__dict__, "products": ("crack",)})
    crack = matching.score(report_at(20, products=("crack",)), crack_point, now=NOW).score
    cannabis = matching.score(report_at(20, products=("cannabis",)), POINT, now=NOW).score
    assert crack > 2 * cannabis


def test_recency_lowers_stale_points():
    stale = PointFeatures(**{**POINT.__dict__, "last_activity_at": NOW - timedelta(days=400)})
    assert (
        matching.score(report_at(10), stale, now=NOW).score
        < matching.score(report_at(10), POINT, now=NOW).score
    )


def test_decide_attaches_proposes_or_leaves():
    one = matching.Candidate(1, "PD-13-0001", 0.9, 10)
    two_close = matching.Candidate(2, "PD-13-0002", 0.8, 30)
    weak = matching.Candidate(3, "PD-13-0003", 0.4, 90)
    assert matching.decide([one], auto_score=0.6, propose_score=0.3).attach == one
    ambiguous = matching.decide([one, two_close], auto_score=0.6, propose_score=0.3)
    assert ambiguous.attach is None and ambiguous.propose == (one, two_close)
    assert matching.decide([weak], auto_score=0.6, propose_score=0.3).propose == (weak,)
    nothing = matching.decide(
        [matching.Candidate(4, "x", 0.2, 200)], auto_score=0.6, propose_score=0.3
    )
    assert nothing.attach is None and nothing.propose == ()


def test_cluster_groups_duplicates_and_separates_points_300_m_apart():
    positions = [offset(0), offset(8), offset(-6, 5), offset(300), offset(305)]
    labels = matching.cluster([p[0] for p in positions], [p[1] for p in positions], eps_m=60)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] != labels[0]


def test_cluster_reports_joins_imprecise_reports_to_the_precise_cluster():
    reports = [
        report_at(0, "stairwell"),
        report_at(10),
        report_at(90, "street"),
        report_at(2000, "street"),
    ]
    labels = matching.cluster_reports(reports, now=NOW)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] != labels[0]


def test_a_neighbourhood_report_joins_the_cluster_whose_reports_say_the_same():
    # Two forming points 400 m apart; a neighbourhood-level report halfway between them
    # joins the one whose reports name its product, day and time, not the other.
    crack_friday: dict[str, Any] = {
        "products": ("crack",),
        "days": ("fri",),
        "times_of_day": ("night",),
    }
    cannabis_monday: dict[str, Any] = {
        "products": ("cannabis",),
        "days": ("mon",),
        "times_of_day": ("morning",),
    }
    reports = [
        report_at(0, **crack_friday),
        report_at(10, **crack_friday),
        report_at(400, **cannabis_monday),
        report_at(410, **cannabis_monday),
        report_at(200, "area", **crack_friday),
    ]
    labels = matching.cluster_reports(reports, now=NOW)
    assert labels[4] == labels[0] == labels[1] != labels[2]
    # Saying nothing, it is no more one's than the other's: left alone.
    bare = matching.cluster_reports([*reports[:4], report_at(200, "area")], now=NOW)
    assert bare[4] not in {bare[0], bare[2]}


def test_search_cells_cover_the_radius():
    lat, lon = MARSEILLE_14
    cells = set(matching.search_cells(lat, lon, 1000))
    import h3

    for bearing in range(0, 360, 15):
        north = 1000 * math.cos(math.radians(bearing))
        east = 1000 * math.sin(math.radians(bearing))
        assert h3.latlng_to_cell(*offset(north, east), 9) in cells


def test_find_candidates_reads_nearby_active_points_best_first(persona):
    analyst = persona("cross13_analyst")
    near = dealpoint(actor=analyst)
    farther = dealpoint(actor=analyst, latitude=offset(70)[0], longitude=offset(70)[1])
    dealpoint(actor=analyst, latitude=offset(3000)[0], longitude=offset(3000)[1])
    dismantled = dealpoint(actor=analyst, latitude=offset(5)[0], longitude=offset(5)[1])
    services.dealpoint_change_status(actor=analyst, dealpoint=dismantled, status="dismantled")
    lat, lon = offset(5)
    report = accepted_report(analyst=analyst, latitude=lat, longitude=lon)
    found = matching.find_candidates(report=report)
    assert [c.dealpoint_id for c in found] == [near.pk, farther.pk]
    assert found[0].score > found[1].score
    # A pair an analyst refused is never a candidate again.
    ReportLink.objects.create(report=report, dealpoint=near, decision="rejected")
    assert [c.dealpoint_id for c in matching.find_candidates(report=report)] == [farther.pk]
    near_dismantled = matching.find_dismantled_near(report=report)
    assert [point.pk for point, _distance in near_dismantled] == [dismantled.pk]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Bât. B, cage 2", ("b", "2")),
        ("bat b esc 2", ("b", "2")),
        ("Bâtiment B", ("b", "")),
        ("B2", ("b", "2")),
        ("bat.B cage2", ("b", "2")),
        ("bloc B entrée 02", ("b", "2")),
        ("en bas du bât. C, à côté", ("c", "")),
        ("Tour 12", ("12", "")),
        ("l'entrée 4 du bloc D", ("d", "4")),
        ("devant la pharmacie", ("", "")),
        ("", ("", "")),
    ],
)
def test_place_labels_are_normalised(label, expected):
    assert matching.parse_place_label(label) == expected


def test_place_label_agreement_and_landlord_building():
    point = PointFeatures(**{**POINT.__dict__, "building_label": "Bât. B", "stairwell_label": "2"})
    assert matching.score(report_at(20, place_label="bat b"), point, now=NOW).place == 1.0
    assert matching.score(report_at(20, place_label="B3"), point, now=NOW).place == 0.5
    other = matching.score(report_at(20, place_label="Bâtiment D"), point, now=NOW)
    same = matching.score(report_at(20, place_label="B2"), point, now=NOW)
    assert other.place == 0.0 and other.score < 0.3 * same.score
    # No building named on one side: neutral.
    bare = matching.score(report_at(20, place_label="devant la pharmacie"), point, now=NOW)
    assert bare.place is None and other.score < bare.score < same.score
    # The landlord's building key is exact, whatever the words.
    keyed = PointFeatures(**{**point.__dict__, "building_id": 7})
    assert matching.score(report_at(20, building_id=7), keyed, now=NOW).place == 1.0
    mislabelled = report_at(20, building_id=8, place_label="B")
    assert matching.score(mislabelled, keyed, now=NOW).place == 0.0


def test_place_label_decides_between_two_points_of_one_estate():
    lat, lon = offset(60)
    b = PointFeatures(**{**POINT.__dict__, "building_label": "B"})
    d = PointFeatures(
        **{**POINT.__dict__, "latitude": lat, "longitude": lon, "building_label": "D"}
    )
    points = [(1, "PD-B", b), (2, "PD-D", d)]

    def decision(label: str) -> matching.Decision:
        candidates = matching.rank(report_at(30, place_label=label), points, now=NOW)
        return matching.decide(candidates, auto_score=0.6, propose_score=0.3)

    # Halfway, nothing said: both are proposed to the analyst.
    unsure = decision("")
    assert unsure.attach is None and {c.dealpoint_id for c in unsure.propose} == {1, 2}
    # "Bâtiment D": the reporter's words settle it.
    said_d, said_b = decision("Bâtiment D").attach, decision("bat b").attach
    assert said_d is not None and said_d.dealpoint_id == 2
    assert said_b is not None and said_b.dealpoint_id == 1


def test_rank_weighs_a_lone_point_against_a_point_not_yet_known():
    near = matching.rank(report_at(40), [(1, "PD-1", POINT)], now=NOW)[0]
    # Farther, and saying what the point does not sell nor when: maybe a point not known yet.
    doubtful = report_at(110, products=("heroin",), days=("mon",))
    far = matching.rank(doubtful, [(1, "PD-1", POINT)], now=NOW)[0]
    assert near.score >= 0.6 > far.score
    assert far.fit < far.score  # the share of the fit, not the fit


def test_cluster_reports_tell_two_buildings_of_one_place_apart():
    # Two points of one estate 60 m apart, reports in between chained by DBSCAN into one
    # place; the agglomeration tells the buildings apart.
    def reports(*labels: str) -> list[ReportFeatures]:
        return [report_at(15 * i, place_label=label) for i, label in enumerate(labels)]

    together = matching.cluster_reports(reports("", "", "", "", ""), now=NOW)
    assert len(set(together)) == 1
    labels = matching.cluster_reports(reports("Bât. B", "B", "", "bat D", "D1"), now=NOW)
    assert labels[0] == labels[1] != labels[3] == labels[4]
    # One reporter naming the wrong building next to the others is not a second place.
    mistaken = matching.cluster_reports(reports("B", "D", "B", "B", ""), now=NOW)
    assert len(set(mistaken)) == 1


def test_merge_evidence_weighs_positions_buildings_and_what_reporters_say():
    same: dict[str, Any] = {
        "products": ("cannabis",),
        "days": ("fri", "sat"),
        "times_of_day": ("evening",),
        "activities": ("selling",),
    }
    b = [report_at(0, place_label="Bât. B", **same), report_at(12, place_label="B", **same)]
    d = [report_at(50, place_label="bat d", **same), report_at(62, place_label="D2", **same)]
    # Two reporters naming B and two naming D 50 m apart are two points, even saying the same.
    assert matching.merge_evidence(b, d, 50) < 0
    # One reporter naming D among reporters of B, at the same place, is a mistake.
    assert matching.merge_evidence(b, d[:1], 10) > 0
    # Unnamed stairwell-level reports: one place 10 m apart, two places 60 m apart.
    near = [report_at(0, "stairwell")], [report_at(10, "stairwell")]
    assert matching.merge_evidence(*near, 10) > 0 > matching.merge_evidence(*near, 60)
    # What they say counts: a crack report on Monday mornings fits a cannabis weekend group
    # less than one saying the same.
    crack = report_at(20, products=("crack",), days=("mon",), times_of_day=("morning",))
    assert matching.merge_evidence(b, [crack], 20) < matching.merge_evidence(
        b, [report_at(20, **same)], 20
    )


def test_agglomerate_groups_each_point_of_an_estate():
    # Three points of an estate 70 m apart (stairwell and building reports, some naming their
    # building, one naming the wrong one), and a lone report 300 m away.
    reports = [
        report_at(0, "stairwell", place_label="A"),
        report_at(6),
        report_at(-5, place_label="bat a"),
        report_at(70, "stairwell"),
        report_at(75, place_label="Bât. A"),  # mistaken: it is C's
        report_at(66, "stairwell", place_label="C1"),
        report_at(140, place_label="Tour D"),
        report_at(146, "stairwell"),
        report_at(440),
    ]
    labels = list(matching.agglomerate(reports))
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] == labels[5]
    assert labels[6] == labels[7]
    assert len({labels[0], labels[3], labels[6], labels[8]}) == 4
    assert sorted(set(labels)) == [0, 1, 2, 3]


def test_an_imprecise_report_explained_by_a_known_point_is_not_clustered():
    # Two street-level reports 100 m apart, a known point between them: they are its
    # reports that scored too low, not a new point.
    reports = [report_at(-50, "street"), report_at(50, "street")]
    assert len(set(matching.cluster_reports(reports, now=NOW))) == 1
    seeded = matching.cluster_reports(reports, known=[POINT], now=NOW)
    assert len(set(seeded)) == 2
    # A known point far away changes nothing.
    far = PointFeatures(**{**POINT.__dict__, "latitude": offset(3000)[0]})
    assert len(set(matching.cluster_reports(reports, known=[far], now=NOW))) == 1


def test_a_proposed_report_prefers_the_new_point_forming_beside_it():
    forming = [report_at(140, place_label="D"), report_at(150)]
    point = PointFeatures(**{**POINT.__dict__, "building_label": "B"})
    assert matching.prefers_new_point(report_at(130), forming, [point], now=NOW)
    assert not matching.prefers_new_point(report_at(20), forming, [point], now=NOW)
    assert not matching.prefers_new_point(report_at(130), [], [point], now=NOW)
    group = matching.profile(forming)
    assert group.building == "d" and abs(group.latitude - offset(145)[0]) < 1e-5


def test_explain_puts_the_evidence_in_words():
    point = PointFeatures(**{**POINT.__dict__, "building_label": "B"})
    said = report_at(
        30, products=("cannabis",), days=("fri",), activities=("delivery",), place_label="bat D"
    )
    why = matching.explain(said, point, now=NOW)
    assert why.agreeing == ("même produit", "jours et moments d'activité")
    assert why.differing == ("autre mode de vente", "autre bâtiment")
    stale = PointFeatures(**{**POINT.__dict__, "last_activity_at": NOW - timedelta(days=400)})
    assert matching.explain(report_at(10), stale, now=NOW) == matching.Explanation(
        (), ("point sans activité récente",)
    )


def test_describe_gathers_what_a_new_point_s_reports_say():
    """The prefill of « Créer le point »: every product, role and opening a report names, the
    way of selling most of them saw; a report naming days without a time takes the others'
    times."""
    here: dict[str, Any] = {"latitude": 43.35, "longitude": 5.39, "precision": "building"}
    first = ReportFeatures(
        **here,
        products=("cannabis", "other"),
        days=("fri", "sat"),
        times_of_day=("evening",),
        activities=("selling", "lookouts"),
    )
    second = ReportFeatures(
        **here, products=("cocaine",), days=("mon",), activities=("lookouts", "storage")
    )
    third = ReportFeatures(**here, activities=("delivery",))
    described = matching.describe([first, second, third])
    assert described.products == ["cannabis", "cocaine"]
    assert described.opening_hours == ["mon:evening", "fri:evening", "sat:evening"]
    assert described.observed_roles == ["lookouts", "sellers", "stash_flat"]
    assert described.channel == "fixed"
    # Seen remotely by most: delivered, or sold online when online was said more.
    assert matching.describe([third, third, first]).channel == "delivery"
    online = ReportFeatures(**here, activities=("online",))
    assert matching.describe([online, online, third]).channel == "online"
    # Nothing said, nothing checked.
    silent = matching.describe([ReportFeatures(**here)])
    assert (silent.products, silent.opening_hours, silent.observed_roles) == ([], [], [])
    assert matching.describe([]).channel == "fixed"
