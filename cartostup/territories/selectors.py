"""Reads of the territories app, always from what the actor may see (access.policy)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import shapely
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet

from cartostup.access import policy
from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction

from . import locator
from .models import Commune, Departement, PriorityNeighbourhood

# Display only: ~10 m simplification and 1 m precision keep a département's GeoJSON small.
DISPLAY_SIMPLIFY_DEGREES = 0.0001
DISPLAY_GRID_DEGREES = 0.00001
GEOJSON_CACHE_SECONDS = 24 * 3600


def departement_list(*, actor: Any) -> QuerySet[Departement]:
    """The départements the actor may see, with their number of loaded communes."""
    policy.require(actor, policy.Capability.VIEW_TERRITORIES)
    return (
        policy.restrict(Departement.objects.all(), actor=actor)
        .select_related("region")
        .annotate(commune_count=Count("communes", filter=Q(communes__kind="COM")))
        .order_by("code")
    )


def departement_get(*, actor: Any, code: str) -> Departement:
    """One département by INSEE code if the actor may see it; 404 otherwise (no audit)."""
    policy.require(actor, policy.Capability.VIEW_TERRITORIES)
    pk = Departement.objects.filter(code=code).values_list("pk", flat=True).first()
    return policy.access_object(Departement.objects.select_related("region"), actor=actor, pk=pk)


def departement_view(*, actor: Any, code: str) -> Departement:
    """`departement_get`, recording the consultation in the audit trail."""
    departement = departement_get(actor=actor, code=code)
    audit_record(actor=actor, action=AuditAction.VIEW, target=departement)
    return departement


def departement_communes(*, actor: Any, departement: Departement) -> QuerySet[Commune]:
    """The département's communes and arrondissements (the cities of Paris, Lyon and Marseille
    followed by their arrondissements), with their QPV."""
    return (
        policy.restrict(Commune.objects.filter(departement=departement), actor=actor)
        .select_related("parent")
        .prefetch_related("priority_neighbourhoods")
        .order_by("code")
    )


def departement_priority_neighbourhoods(
    *, actor: Any, departement: Departement
) -> QuerySet[PriorityNeighbourhood]:
    return policy.restrict(
        PriorityNeighbourhood.objects.filter(departement=departement), actor=actor
    ).order_by("code")


def _feature(geometry: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": json.loads(shapely.to_geojson(geometry)),
        "properties": properties,
    }


def _display(wkbs: list[bytes]) -> Any:
    geometries = shapely.from_wkb(wkbs)
    geometries = shapely.simplify(geometries, DISPLAY_SIMPLIFY_DEGREES, preserve_topology=True)
    return shapely.set_precision(geometries, DISPLAY_GRID_DEGREES)


def departement_geojson(*, actor: Any, code: str) -> str:
    """The département's communes (and QPV) as a GeoJSON FeatureCollection, simplified for
    display. Cached per département and per state of the loaded data (fingerprint)."""
    departement = departement_get(actor=actor, code=code)
    fingerprint = hashlib.sha256(repr(locator.territories_fingerprint()).encode()).hexdigest()[:16]
    key = f"territories:geojson:{departement.code}:{fingerprint}"
    cached = cache.get(key)
    if cached is not None:
        return str(cached)
    communes = list(
        departement_communes(actor=actor, departement=departement)
        .filter(geometry__isnull=False)
        .values_list("code", "name", "kind", "geometry")
    )
    neighbourhoods = list(
        departement_priority_neighbourhoods(actor=actor, departement=departement).values_list(
            "code", "name", "geometry"
        )
    )
    features = []
    if communes:
        geometries = _display([locator.as_bytes(row[3]) for row in communes])
        for (commune_code, name, kind, _wkb), geometry in zip(communes, geometries, strict=True):
            features.append(
                _feature(
                    geometry,
                    {"layer": "commune", "code": commune_code, "name": name, "kind": kind},
                )
            )
    if neighbourhoods:
        geometries = _display([locator.as_bytes(row[2]) for row in neighbourhoods])
        for (qpv_code, name, _wkb), geometry in zip(neighbourhoods, geometries, strict=True):
            features.append(_feature(geometry, {"layer": "qpv", "code": qpv_code, "name": name}))
    payload = json.dumps(
        {"type": "FeatureCollection", "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    cache.set(key, payload, GEOJSON_CACHE_SECONDS)
    return payload


def territory_locate(*, actor: Any, latitude: Any, longitude: Any) -> locator.Location:
    """Locate a point for a user, recording the search in the audit trail.

    The event keeps the commune found as its reference, never the coordinates: a searched
    position may be a deal point or someone's address (design §4: a reference, not the data).
    Territories are public reference data, so any member of the workspace may locate a point.
    """
    policy.require(actor, policy.Capability.USE_WORKSPACE)
    try:
        location = locator.locate(latitude, longitude)
    except locator.OutsideTerritoryError:
        audit_record(
            actor=actor,
            action=AuditAction.SEARCH,
            object_type="territories.commune",
            details={"lookup": "locate", "found": False},
        )
        raise
    commune = Commune.objects.only("pk").get(code=location.commune_code)
    audit_record(
        actor=actor,
        action=AuditAction.SEARCH,
        target=commune,
        details={"lookup": "locate", "found": True, "commune": location.commune_code},
    )
    return location


def commune_place_names(*, commune_ids: Iterable[int]) -> dict[int, tuple[str, str, str]]:
    """{commune id: (its name, its city's name or "", its département's name)} for naming what
    the map counts (an arrondissement's city: Marseille for « Marseille 14e »). Names of
    territories are public reference data: no access decision, nothing audited; the caller
    passes only communes of records the actor may already count."""
    rows = Commune.objects.filter(pk__in=set(commune_ids)).values_list(
        "pk", "name", "parent__name", "departement__name"
    )
    return {pk: (name, city or "", departement) for pk, name, city, departement in rows}


def qpv_imported() -> bool:
    """Whether any priority neighbourhood (QPV) is imported (`manage.py import_qpv`): public
    reference data, so the map can tell "none imported" from "none in this territory"."""
    return PriorityNeighbourhood.objects.exists()


def commune_ids_named(value: str) -> set[int]:
    """The communes a commune filter names (the deal points', the reports'): by INSEE code
    (Corsica's read as the pages read them, 2a004 as 2A004) or by name, whatever its case; a
    city (Marseille) stands for its arrondissements. Empty when none is called so."""
    named = Commune.objects.filter(code=value.strip().upper()) | Commune.objects.filter(
        name__iexact=value.strip()
    )
    return set(named.values_list("pk", flat=True)) | set(
        Commune.objects.filter(parent__in=named).values_list("pk", flat=True)
    )
