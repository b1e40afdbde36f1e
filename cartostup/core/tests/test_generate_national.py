"""The synthetic national data set (`manage.py generate_national`, `bench/national.py`), at tiny
scales over the départements the tests load (13, 69, 75, 93)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from bench import national
from cartostup.access.models import Organisation
from cartostup.core.personas import ORGANISATIONS
from cartostup.dealpoints.choices import OperationOutcome
from cartostup.dealpoints.models import DealPoint, DealPointEvent, Operation, ReportLink
from cartostup.dealpoints.services import OperationInput, cells_for, operation_record
from cartostup.dealpoints.tests.factories import dealpoint
from cartostup.reports.models import Report
from cartostup.reports.services import h3_cells
from cartostup.reports.tests.factories import submit

pytestmark = pytest.mark.django_db

LOADED = ["13", "69", "75", "93"]
END = date(2026, 6, 30)


def build(scale: float = 0.05, seed: int = 7, replace: bool = False) -> dict[str, Any]:
    return national.generate(scale=scale, seed=seed, departements=LOADED, replace=replace, end=END)


def snapshot() -> dict[str, list[Any]]:
    """Everything the set holds, by references (keys differ between two builds)."""
    points = DealPoint.objects.filter(reference__startswith=national.DEALPOINT_PREFIX)
    reports = Report.objects.filter(reference__startswith=national.REPORT_PREFIX)
    return {
        "points": list(
            points.order_by("reference").values_list(
                "reference",
                "commune__code",
                "owner_organisation__name",
                "status",
                "latitude",
                "longitude",
                "h3_cell",
                "products",
                "opening_hours",
                "channel",
                "first_reported_at",
                "last_activity_at",
                "status_changed_at",
                "successor__reference",
            )
        ),
        "reports": list(
            reports.order_by("reference").values_list(
                "reference",
                "commune__code",
                "status",
                "channel",
                "received_at",
                "latitude",
                "longitude",
                "h3_cell",
                "activities",
                "triaged_at",
            )
        ),
        "links": list(
            ReportLink.objects.filter(dealpoint__in=points)
            .order_by("report__reference")
            .values_list("report__reference", "dealpoint__reference", "decision", "score")
        ),
        "operations": sorted(
            Operation.objects.filter(dealpoint__in=points).values_list(
                "dealpoint__reference", "kind", "occurred_on", "outcome", "arrests", "service__name"
            )
        ),
        "events": sorted(
            DealPointEvent.objects.filter(dealpoint__in=points).values_list(
                "dealpoint__reference", "kind", "occurred_at", "from_status", "to_status"
            )
        ),
    }


def test_same_seed_gives_the_same_data_and_another_seed_does_not():
    build()
    first = snapshot()
    build(replace=True)
    assert snapshot() == first
    build(seed=8, replace=True)
    other = snapshot()
    assert other["points"] != first["points"]
    assert len(first["points"]) > 50 and len(first["operations"]) > 200


def test_counts_scale_with_the_scale():
    small = build(scale=0.05)["counts"]
    large = build(scale=0.2, replace=True)["counts"]
    for name in ("dealpoints", "reports", "operations", "raids"):
        assert large[name] == pytest.approx(4 * small[name], rel=0.03), name
    weight = sum(national.departement_weights()[code] for code in LOADED)
    assert large["dealpoints"] == round(0.2 * 5_000 * weight)
    assert large["raids"] == round(0.2 * 15_000 * weight)
    # About three quarters of the points are active, as design §6 expects of a national set.
    assert 0.65 < large["dealpoints_active"] / large["dealpoints"] < 0.85
    assert DealPoint.objects.filter(reference__startswith="SYN-PD-").count() == large["dealpoints"]


def test_the_departements_the_official_figures_rank_highest_get_the_most_points():
    build(scale=0.2)
    weights = national.departement_weights()
    by_figures = sorted(LOADED, key=lambda code: -weights[code])
    counts = {
        code: DealPoint.objects.filter(
            reference__startswith="SYN-PD-", departement__code=code
        ).count()
        for code in LOADED
    }
    by_points = sorted(LOADED, key=lambda code: -counts[code])
    assert by_points == by_figures == ["75", "13", "93", "69"]
    # Inside a département, the hubs and dense communes hold most points: Marseille's
    # arrondissements hold most of the Bouches-du-Rhône's.
    marseille = DealPoint.objects.filter(
        reference__startswith="SYN-PD-13-", commune__code__startswith="132"
    ).count()
    assert marseille > counts["13"] / 2


def test_cells_match_the_coordinates_and_references_are_unique():
    build()
    points = list(DealPoint.objects.filter(reference__startswith="SYN-PD-"))
    reports = list(Report.objects.filter(reference__startswith="SYN-SIG-"))
    assert points and reports
    for point in points:
        cells = cells_for(point.latitude, point.longitude)
        assert {name: getattr(point, name) for name in cells} == cells
    for report in reports:
        cells = h3_cells(report.latitude, report.longitude)
        assert {name: getattr(report, name) for name in cells} == cells
    assert len({row.reference for row in points}) == len(points)
    assert len({row.reference for row in reports}) == len(reports)
    # Each point's département is its commune's, and its owner the CROSS of the département.
    cross13 = Organisation.objects.get(name="CROSS des Bouches-du-Rhône")
    for point in points:
        assert point.departement_id == point.commune.departement_id
        if point.departement.code == "13":
            assert point.owner_organisation == cross13


def test_links_operations_and_events_point_at_synthetic_deal_points():
    result = build()
    synthetic = set(
        DealPoint.objects.filter(reference__startswith="SYN-PD-").values_list("pk", flat=True)
    )
    links = list(ReportLink.objects.select_related("report"))
    assert len(links) == result["counts"]["report_links"] > 0
    for link in links:
        assert link.dealpoint_id in synthetic
        assert link.report.status == "accepted"
        assert link.distance_m is not None and link.distance_m < 500
    assert set(ReportLink.objects.values_list("decision", flat=True)) == {
        "automatic",
        "confirmed",
        "proposed",
        "rejected",
    }
    assert set(Operation.objects.values_list("dealpoint_id", flat=True)) <= synthetic
    assert Operation.objects.count() == result["counts"]["operations"]
    assert set(DealPointEvent.objects.values_list("dealpoint_id", flat=True)) <= synthetic
    assert set(
        Report.objects.filter(reference__startswith="SYN-SIG-").values_list("status", flat=True)
    ) == {"new", "question", "accepted", "spam", "unfounded"}
    assert set(DealPoint.objects.values_list("status", flat=True)) == {
        "reported",
        "confirmed",
        "investigation",
        "resurgent",
        "dismantled",
        "moved",
    }
    # Every dismantled point has the operation that dismantled it.
    for point in DealPoint.objects.filter(status="dismantled"):
        assert point.operations.filter(outcome=OperationOutcome.DISMANTLED).exists()
    assert DealPoint.objects.filter(status="moved", successor__isnull=False).exists()


def test_replace_removes_the_synthetic_rows_only():
    real_report = submit().report
    real_point = dealpoint()
    operation_record(
        actor=None,
        dealpoint=real_point,
        data=OperationInput(kind="raid", occurred_on=date(2026, 1, 5), outcome="none"),
    )
    real_events = real_point.events.count()
    build()
    build(scale=0.02, replace=True)
    assert Report.objects.filter(pk=real_report.pk).exists()
    real_point.refresh_from_db()
    assert real_point.operations.count() == 1
    assert real_point.events.count() == real_events
    assert not real_report.reference.startswith(national.REPORT_PREFIX)
    deleted = national.synthetic_delete()
    assert deleted["dealpoints"] > 0
    assert national.synthetic_counts() == {"dealpoints": 0, "reports": 0}
    assert list(DealPoint.objects.values_list("pk", flat=True)) == [real_point.pk]
    assert list(Report.objects.values_list("pk", flat=True)) == [real_report.pk]


def test_the_command_builds_and_refuses_to_add_to_an_existing_set(capsys):
    call_command("generate_national", scale=0.02, departements="13,93", verbosity=1)
    assert "Jeu synthétique" in capsys.readouterr().out
    with pytest.raises(CommandError, match="Un jeu synthétique existe déjà .* --replace"):
        call_command("generate_national", scale=0.02, departements="13,93", verbosity=0)
    call_command("generate_national", scale=0.02, departements="13,93", replace=True, verbosity=0)
    assert DealPoint.objects.filter(departement__code="13").exists()
    assert not DealPoint.objects.filter(departement__code="69").exists()


def test_the_command_refuses_without_territories_organisations_or_a_scale():
    # The tests load four départements: the whole country is missing most of its communes.
    with pytest.raises(CommandError, match="load_territories --departements all"):
        call_command("generate_national", scale=1, verbosity=0)
    with pytest.raises(CommandError, match="inconnus des chiffres du SSMSI : 99"):
        call_command("generate_national", scale=1, departements="13,99", verbosity=0)
    with pytest.raises(CommandError, match="L'échelle doit être un nombre strictement positif"):
        call_command("generate_national", scale=0, departements="13", verbosity=0)
    Organisation.objects.filter(name=ORGANISATIONS[0].name).update(name="Autre nom")
    with pytest.raises(CommandError, match="organisations de démonstration manquent .* seed_demo"):
        call_command("generate_national", scale=0.01, departements="13", verbosity=0)
    assert not DealPoint.objects.exists()
