"""Hotspots: where deal points (or reports) are more concentrated than chance would give, per
H3 cell over one département (Getis-Ord Gi*, PySAL `esda`, with a false discovery rate
correction), design §2.

The counts come from the stored res 9 column (one GROUP BY), counted as the map counts its
finest hexagons (`map_layers.counted_cells`: for a role that only counts, the same cells are
hidden, so that the hotspots and the map's zooms tell by difference no more than either). The
cells studied are the occupied cells and their immediate H3 neighbours (`grid_disk` k=1)
counted as zero, so that Gi* has contrast between dense places and their empty surroundings. A
cell's Gi* is the sum of the counts over its disk (the cell and its neighbours within that set,
binary weights), compared with what the same number of cells drawn at random from the studied
ones would hold (the randomisation hypothesis): z is that sum standardised with the exact mean
and variance of the draw. The p-value is two-sided: twice the exact probability, under the same
draw, of a sum at least as far out on z's side (ties count against significance), computed
rather than sampled because sparse counts are mostly zeros and far from normal; and never less
than the normal p-value of z, so a cell whose z is small is never significant. Then the
Benjamini–Hochberg cut-off over all cells studied (alpha 0.05): a cell is hot if its p is below
that cut-off and z > 0, cold if so and z < 0. esda computes Gi*'s z (`G_Local`, binary weights)
and the cut-off (`fdr`); the exact p-values are this module's. See docs/decisions.md
(hotspots).

Deal points are counted as the deal-points layer counts them: the same filter set
(`DealPointFilterSet`: status, product, channel, and the period meaning active during it),
the same refusals for the same roles (`map_layers.dealpoint_filter_data`). Reports (analysts)
are counted by the day they were received; a deal points' filter is refused for them.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import h3
import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from cartostup.access import policy
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction
from cartostup.reports.models import Report
from cartostup.territories import selectors as territory_selectors

from .map_layers import (
    asked_filters,
    counted_cells,
    counted_rows,
    dealpoint_filter_data,
    dealpoint_filterset,
    hexagon_places,
    hexagon_polygon,
    may_see_report_layer,
    refuse_filters,
)
from .models import H3_TOWN, DealPoint
from .selectors import dealpoint_queryset

ALPHA = 0.05
# How the p-values are obtained (told in the layer's meta).
INFERENCE = "exact_randomisation"
SOURCES = ("dealpoints", "reports")
# Beyond this many cells studied, the analysis would take too long for a request.
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
    # The Benjamini–Hochberg cut-off (esda's `fdr`): significant below it; alpha / n
    # (Bonferroni) when no cell is.
    p_threshold: float


def p_value_rounded(p: float) -> float:
    """A p-value to three significant digits: rounded to four decimals, a cell far from chance
    (p = 1e-7) was sent as 0, and the map's table said « p 0 » (user audit). Still a number:
    the page writes it the French way (« p < 0,001 »)."""
    return float(f"{p:.3g}")


def study_area(counts: Mapping[str, int]) -> list[str]:
    """The occupied cells and their neighbours (k=1), sorted (a stable order)."""
    cells: set[str] = set()
    for cell, count in counts.items():
        if count > 0:
            cells.update(h3.grid_disk(cell, 1))
    return sorted(cells)


def sum_distributions(values: list[int], max_size: int) -> list[np.ndarray]:
    """For each k up to `max_size`, the exact distribution of the sum of k values drawn
    without replacement from `values` (non-negative integers): index s holds P(sum = s)."""
    total = sum(sorted(values, reverse=True)[:max_size])
    # ways[k][s]: how many k-subsets of the values seen so far sum to s.
    ways = np.zeros((max_size + 1, total + 1))
    ways[0, 0] = 1.0
    for value, multiplicity in sorted(Counter(values).items()):
        previous = ways.copy()
        for taken in range(1, min(multiplicity, max_size) + 1):
            shift = taken * value
            if shift > total:
                break
            ways[taken:, shift:] += (
                math.comb(multiplicity, taken) * previous[:-taken, : total + 1 - shift]
            )
    return [ways[k] / math.comb(len(values), k) for k in range(max_size + 1)]


def gi_star(counts: Mapping[str, int], *, alpha: float = ALPHA) -> HotspotResult:
    """Getis-Ord Gi* of the counts per H3 cell (see the module docstring). Pure: no database;
    deterministic."""
    cells = study_area(counts)
    values = [int(counts.get(cell, 0)) for cell in cells]
    if len(cells) < 3 or len(set(values)) < 2:
        return HotspotResult(
            [
                HotspotCell(cell, value, 0.0, 1.0, HotspotClass.NOT_SIGNIFICANT)
                for cell, value in zip(cells, values, strict=True)
            ],
            0.0,
        )
    from esda import G_Local, fdr
    from libpysal.weights import W

    index = {cell: position for position, cell in enumerate(cells)}
    disks = [[index[other] for other in h3.grid_disk(cell, 1) if other in index] for cell in cells]
    with warnings.catch_warnings():
        # libpysal warns about islands and disconnected components: both are expected here
        # (separate estates of a département).
        warnings.simplefilter("ignore")
        weights = W(
            {
                cell: [cells[o] for o in disk if cells[o] != cell]
                for cell, disk in zip(cells, disks, strict=False)
            },
            id_order=cells,
            silence_warnings=True,
        )
        # Binary weights: esda's variance of Gi* is that of binary weights (row-standardised
        # ones shrank z about 2.5 times). z only: the p-values are exact, below.
        statistic = G_Local(
            np.array(values, dtype=float), weights, transform="B", star=True, permutations=0
        )
    z_scores = np.nan_to_num(np.asarray(statistic.Zs, dtype=float))
    n = len(values)
    distributions = sum_distributions(values, max(len(disk) for disk in disks))
    z_values = np.zeros(n)
    p_values = np.ones(n)
    for position, disk in enumerate(disks):
        size = len(disk)
        observed = int(sum(values[other] for other in disk))
        z = float(z_scores[position])
        if z == 0:
            continue
        distribution = distributions[size]
        # The tail on z's side, the observed sum included (ties do not make a cell significant).
        tail = distribution[observed:].sum() if z > 0 else distribution[: observed + 1].sum()
        exact = min(1.0, 2 * float(tail))
        z_values[position] = z
        # The normal's two-sided tail, 2·(1 − Φ(|z|)), is erfc(|z|/√2) (exact, no SciPy to
        # import when the module is: every process that loads the URLs loads it).
        p_values[position] = max(exact, math.erfc(abs(z) / math.sqrt(2)))
    # The Benjamini–Hochberg cut-off (esda: a discovery has p below it).
    threshold = float(fdr(p_values, alpha))
    result = []
    for cell, value, z, p in zip(cells, values, z_values, p_values, strict=True):
        significant = p < threshold
        if significant and z > 0:
            classification = HotspotClass.HOT
        elif significant and z < 0:
            classification = HotspotClass.COLD
        else:
            classification = HotspotClass.NOT_SIGNIFICANT
        result.append(HotspotCell(cell, value, float(z), float(p), classification))
    return HotspotResult(result, threshold)


# The hotspots' parameters the deal-points filter set reads, by its names: status, product and
# channel as the deal-points layer takes them, and the period under this layer's names with
# the deal-points layer's meaning (active during it: its activity overlaps the period,
# `DealPointFilterSet.active_from` and `filter_active_to`).
DEALPOINT_FILTERS: dict[str, str] = {
    "status": "status",
    "product": "product",
    "channel": "channel",
    "period_from": "active_from",
    "period_to": "active_to",
}
# What counting reports reads: the département and the period (the day received); status,
# product and channel are the deal points' own, refused with counted=reports.
REPORT_FILTERS: dict[str, tuple[str, ...]] = {
    "departement": ("departement",),
    "period_from": ("received_at",),
    "period_to": ("received_at",),
}


def _as_asked(error: ValidationError) -> ValidationError:
    """The deal-points filter set's errors under this layer's parameter names (active_from →
    period_from), so that a 400 names what was sent."""
    names = {filterset_name: name for name, filterset_name in DEALPOINT_FILTERS.items()}
    return ValidationError(
        {names.get(field, field): messages for field, messages in error.message_dict.items()}
    )


def _dealpoints_counted(
    *, actor: Any, departement: Any, asked: Mapping[str, Any]
) -> tuple[policy.AggregateScope, QuerySet[Any], dict[str, str], str | None]:
    """The deal points of the département the actor may count, through the filters it may use
    on the deal-points layer (`map_layers.dealpoint_filter_data`: the same refusals, the same
    one-status-at-a-time rule for aggregate-only roles) and the same filter set. Returns the
    scope, the rows, the filters applied (for the audit and the answer) and the status
    counted alone from the counts of all (`map_layers.counted_rows`)."""
    scope = policy.aggregate_scope(dealpoint_queryset(), actor=actor)
    data = {
        DEALPOINT_FILTERS[name]: value.isoformat() if isinstance(value, date) else value
        for name, value in asked.items()
    }
    try:
        checked = dealpoint_filter_data(actor=actor, scope=scope, filters=data)
        filterset = dealpoint_filterset(checked, scope.queryset)
    except ValidationError as error:
        raise _as_asked(error) from None
    names = {filterset_name: name for name, filterset_name in DEALPOINT_FILTERS.items()}
    applied = {names.get(key, key): value for key, value in filterset.applied_filters().items()}
    queryset, only = counted_rows(scope=scope, data=checked, filterset=filterset)
    return scope, queryset.filter(departement=departement), applied, only


def _reports_counted(
    *, actor: Any, departement: Any, asked: Mapping[str, Any]
) -> tuple[policy.AggregateScope, QuerySet[Any], dict[str, str]]:
    """The reports of the département the actor may count (analysts: 404 otherwise),
    received in the period; a deal-point filter is refused (400), never ignored."""
    if not may_see_report_layer(actor) or policy.visible_fields(actor, Report) is not None:
        raise Http404
    not_applying = {
        name: [_("Ce filtre ne s'applique qu'aux points de deal (counted=dealpoints).")]
        for name in asked
        if name not in REPORT_FILTERS
    }
    if not_applying:
        raise ValidationError(not_applying)
    refuse_filters(
        actor=actor,
        asked={"departement": departement.code, **asked},
        reads=REPORT_FILTERS,
        model=Report,
    )
    scope = policy.aggregate_scope(Report.objects.all(), actor=actor)
    # A report given by its address only stands at its commune's point: not where it was seen.
    queryset = scope.queryset.filter(departement=departement, placed_at_commune=False)
    applied: dict[str, str] = {}
    if asked.get("period_from"):
        queryset = queryset.filter(received_at__date__gte=asked["period_from"])
        applied["period_from"] = asked["period_from"].isoformat()
    if asked.get("period_to"):
        queryset = queryset.filter(received_at__date__lte=asked["period_to"])
        applied["period_to"] = asked["period_to"].isoformat()
    return scope, queryset, applied


def hotspot_layer(
    *,
    actor: Any,
    departement_code: str,
    source: str = "dealpoints",
    period_from: date | None = None,
    period_to: date | None = None,
    statuses: Iterable[str] = (),
    products: Iterable[str] = (),
    channels: Iterable[str] = (),
) -> dict[str, Any]:
    """Hot and cold cells of a département the actor may see (404 otherwise), from what the
    actor may count. Deal points are counted through the deal-points layer's filters, with
    its refusals (status, product, channel, and the period meaning active during it); reports
    (analysts) by the day received, the deal points' filters refused. Aggregate-only roles
    receive only cells counting at least their minimum, and statistics computed from those
    cells alone. Audited once, with the filters applied."""
    policy.require(actor, policy.Capability.VIEW_MAP)
    if source not in SOURCES:
        raise ValidationError({"source": [_("Source inconnue : dealpoints ou reports.")]})
    departement = territory_selectors.departement_get(actor=actor, code=departement_code)
    asked = asked_filters(
        status=[value for value in statuses if value],
        product=[value for value in products if value],
        channel=[value for value in channels if value],
        period_from=period_from,
        period_to=period_to,
    )
    model: type[Any]
    only: str | None = None
    if source == "reports":
        model = Report
        scope, queryset, applied = _reports_counted(
            actor=actor, departement=departement, asked=asked
        )
    else:
        if policy.visible_fields(actor, DealPoint) is not None:
            # A reduced view (a landlord) sees its own points, not the département's pattern.
            raise Http404
        model = DealPoint
        # A period, differenced with the whole count of a cell (an aggregate-only role's),
        # would tell that one of its points had no activity since: the policy refuses it to
        # them, with product and channel, as on the deal-points layer (docs/decisions.md).
        scope, queryset, applied, only = _dealpoints_counted(
            actor=actor, departement=departement, asked=asked
        )
    filters: dict[str, str] = {"departement": departement.code, "source": source, **applied}
    # Counted as the map counts its finest hexagons (`map_layers.counted_cells`): for an
    # aggregate-only role, the cells under the minimum are suppressed before the analysis,
    # not only in the answer (a shown cell's z and p depend on its neighbours, and would
    # tell of them), and so are those the map hides for its zooms to add up: a cell shown
    # here and not there would be read by difference with the map's coarser hexagons.
    counted, per_cell = counted_cells(
        queryset,
        column=f"h3_r{H3_TOWN}",
        category="status",
        resolution=H3_TOWN,
        min_count=scope.min_count,
        only=only,
    )
    counts = {cell: total for cell, (total, _by_status) in counted.items()}
    if len(study_area(counts)) > MAX_CELLS:
        raise ValidationError(
            {
                "departement": [
                    _("Trop de cellules à étudier : restreignez la période ou les filtres.")
                ]
            }
        )
    result = gi_star(counts)
    shown = [cell for cell in result.cells if scope.min_count <= 1 or cell.count >= scope.min_count]
    # Each cell named after where its rows are, as the map's hexagons are (`hexagon_places`,
    # with the same rule for those who only count): the map's table listed raw H3 ids.
    places = hexagon_places(per_cell, min_count=scope.min_count)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": hexagon_polygon(cell.cell),
            "properties": {
                "kind": "hotspot",
                "cell": cell.cell,
                "place": places.get(cell.cell, ""),
                "resolution": H3_TOWN,
                "count": cell.count,
                "z": round(cell.z, 3),
                "p": p_value_rounded(cell.p),
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
            "inference": INFERENCE,
            "alpha": ALPHA,
            "p_threshold": result.p_threshold,
            "min_count": scope.min_count,
            "hot": sum(1 for cell in shown if cell.classification == HotspotClass.HOT),
            "cold": sum(1 for cell in shown if cell.classification == HotspotClass.COLD),
        },
    }
