"""Hotspots: where deal points (or reports) are more concentrated than chance would give, per
H3 cell over one département (Getis-Ord Gi*, PySAL `esda`, with a false discovery rate
correction), design §2.

The counts come from the stored res 9 column (one GROUP BY). The cells studied are the
occupied cells and their immediate H3 neighbours (`grid_disk` k=1) counted as zero, so that Gi*
has contrast between dense places and their empty surroundings; the weights link each cell to
its neighbours within that set (Gi* adds the cell itself). Significance comes from 999 seeded
conditional permutations, then the FDR cut-off over all cells (alpha 0.05): a cell is hot (or
cold) only if its pseudo p-value is below that cut-off.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import h3
import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404
from django.utils.translation import gettext as _

from cartostup.access import policy
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.reports.models import Report
from cartostup.territories import selectors as territory_selectors

from .map_layers import hexagon_polygon, may_see_report_layer
from .models import H3_TOWN, DealPoint
from .selectors import dealpoint_queryset

PERMUTATIONS = 999
SEED = 20240613
ALPHA = 0.05
SOURCES = ("dealpoints", "reports")
# Beyond this many cells studied, the permutations would take too long for a request.
MAX_CELLS = 20000


class HotspotClass:
    HOT = "hot"
    COLD = "cold"
    NOT_SIGNIFICANT = "not_significant"


@dataclass(frozen=True)
class HotspotCell:
    cell: str
    count: int
    z: float
    p: float
    classification: str


@dataclass(frozen=True)
class HotspotResult:
    cells: list[HotspotCell]
    # The FDR cut-off applied to the pseudo p-values (0 when nothing was studied).
    p_threshold: float


def study_area(counts: Mapping[str, int]) -> list[str]:
    """The occupied cells and their neighbours (k=1), sorted (a stable order for the seed)."""
    cells: set[str] = set()
    for cell, count in counts.items():
        if count > 0:
            cells.update(h3.grid_disk(cell, 1))
    return sorted(cells)


def gi_star(
    counts: Mapping[str, int],
    *,
    permutations: int = PERMUTATIONS,
    seed: int = SEED,
    alpha: float = ALPHA,
) -> HotspotResult:
    """Getis-Ord Gi* of the counts per H3 cell (see the module docstring). Pure: no database."""
    from esda import G_Local, fdr
    from libpysal.weights import W

    cells = study_area(counts)
    if len(cells) < 3 or len({counts.get(cell, 0) for cell in cells}) < 2:
        return HotspotResult(
            [
                HotspotCell(cell, counts.get(cell, 0), 0.0, 1.0, HotspotClass.NOT_SIGNIFICANT)
                for cell in cells
            ],
            0.0,
        )
    index = set(cells)
    neighbours = {
        cell: [other for other in h3.grid_disk(cell, 1) if other != cell and other in index]
        for cell in cells
    }
    y = np.array([float(counts.get(cell, 0)) for cell in cells])
    with warnings.catch_warnings():
        # libpysal warns about islands and disconnected components: both are expected here
        # (separate estates of a département).
        warnings.simplefilter("ignore")
        weights = W(neighbours, id_order=cells, silence_warnings=True)
        statistic = G_Local(
            y, weights, transform="R", permutations=permutations, star=True, seed=seed, n_jobs=1
        )
    z_values = np.nan_to_num(np.asarray(statistic.Zs, dtype=float))
    p_values = np.nan_to_num(np.asarray(statistic.p_sim, dtype=float), nan=1.0)
    threshold = float(fdr(p_values, alpha))
    result = []
    for cell, z, p in zip(cells, z_values, p_values, strict=True):
        if p <= threshold and z > 0:
            classification = HotspotClass.HOT
        elif p <= threshold and z < 0:
            classification = HotspotClass.COLD
        else:
            classification = HotspotClass.NOT_SIGNIFICANT
        result.append(
            HotspotCell(cell, int(counts.get(cell, 0)), float(z), float(p), classification)
        )
    return HotspotResult(result, threshold)


def hotspot_layer(
    *,
    actor: Any,
    departement_code: str,
    source: str = "dealpoints",
    period_from: date | None = None,
    period_to: date | None = None,
) -> dict[str, Any]:
    """Hot and cold cells of a département the actor may see (404 otherwise), from what the
    actor may count. Aggregate-only roles receive only cells counting at least their minimum,
    and statistics computed from those cells alone. Audited once."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if source not in SOURCES:
        raise ValidationError({"source": [_("Source inconnue : dealpoints ou reports.")]})
    departement = territory_selectors.departement_get(actor=actor, code=departement_code)
    if source == "reports":
        if not may_see_report_layer(actor) or policy.visible_fields(actor, Report) is not None:
            raise Http404
        scope = policy.aggregate_scope(Report.objects.all(), actor=actor)
        date_field = "received_at__date"
        model: type[Any] = Report
    else:
        if policy.visible_fields(actor, DealPoint) is not None:
            # A reduced view (a landlord) sees its own points, not the département's pattern.
            raise Http404
        scope = policy.aggregate_scope(dealpoint_queryset(), actor=actor)
        date_field = "last_activity_at__date"
        model = DealPoint
    queryset = scope.queryset.filter(departement=departement)
    filters: dict[str, str] = {"departement": departement.code, "source": source}
    if period_from:
        queryset = queryset.filter(**{f"{date_field}__gte": period_from})
        filters["period_from"] = period_from.isoformat()
    if period_to:
        queryset = queryset.filter(**{f"{date_field}__lte": period_to})
        filters["period_to"] = period_to.isoformat()
    column = f"h3_r{H3_TOWN}"
    counts = dict(
        queryset.order_by().values(column).annotate(n=Count("pk")).values_list(column, "n")
    )
    # Small cells (an aggregate-only role's) are suppressed before the analysis, not only in
    # the answer: a shown cell's z and p depend on its neighbours, and would tell of them.
    counts = {cell: n for cell, n in counts.items() if cell and n >= scope.min_count}
    if len(study_area(counts)) > MAX_CELLS:
        raise ValidationError(
            {"departement": [_("Trop de cellules à étudier : restreignez la période.")]}
        )
    result = gi_star(counts)
    shown = [cell for cell in result.cells if scope.min_count <= 1 or cell.count >= scope.min_count]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": hexagon_polygon(cell.cell),
            "properties": {
                "kind": "hotspot",
                "cell": cell.cell,
                "resolution": H3_TOWN,
                "count": cell.count,
                "z": round(cell.z, 3),
                "p": round(cell.p, 4),
                "class": cell.classification,
            },
        }
        for cell in shown
    ]
    audit_record(
        actor=actor,
        action=AuditAction.LIST,
        object_type=model._meta.label_lower,
        details={
            "layer": "hotspots",
            "zoom": None,
            "resolution": H3_TOWN,
            "bbox": None,
            "filters": filters,
            "count": len(features),
        },
    )
    return {
        "type": "FeatureCollection",
        "features": features,
        "meta": {
            "layer": "hotspots",
            "resolution": H3_TOWN,
            "departement": departement.code,
            "counted": source,
            "permutations": PERMUTATIONS,
            "alpha": ALPHA,
            "p_threshold": result.p_threshold,
            "min_count": scope.min_count,
            "hot": sum(1 for cell in shown if cell.classification == HotspotClass.HOT),
            "cold": sum(1 for cell in shown if cell.classification == HotspotClass.COLD),
        },
    }
