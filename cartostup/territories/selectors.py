"""Reads of the territories app, always from what the actor may see (access.policy)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

import shapely
from django.core.cache import cache
from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

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


# The articles a commune's name may begin with (`sources._with_article`): « Ciotat » finds
# La Ciotat, as a reader who leaves the article out expects.
_NAME_ARTICLES = ("Le ", "La ", "Les ", "L'", "Aux ", "Las ", "Los ")


def _communes_by_postcode(value: str) -> QuerySet[Commune]:
    """The communes a five-digit postal code serves (stored "13080,13090")."""
    if not (len(value) == 5 and value.isdigit()):
        return Commune.objects.none()
    return Commune.objects.filter(
        Q(postcodes=value)
        | Q(postcodes__startswith=f"{value},")
        | Q(postcodes__endswith=f",{value}")
        | Q(postcodes__contains=f",{value},")
    )


def _communes_named(value: str) -> tuple[QuerySet[Commune], QuerySet[Commune]]:
    """The communes called `value` (INSEE code, Corsica's read as the pages read them, or
    name, whatever its case and with or without its article), and those whose postal code
    it is."""
    value = value.strip()
    names = Q(name__iexact=value)
    for article in _NAME_ARTICLES:
        names |= Q(name__iexact=f"{article}{value}")
    named = Commune.objects.filter(Q(code=value.upper()) | names)
    return named, _communes_by_postcode(value)


def commune_ids_named(value: str) -> set[int]:
    """The communes a commune filter names (the deal points', the reports'): by INSEE code, by
    name, or by postal code (13014 is Marseille 14e's; a code that is both an INSEE code and
    another commune's postal code is refused by `commune_name_error`). A city (Marseille)
    stands for its arrondissements. Empty when none is called so."""
    named, served = _communes_named(value)
    ids = set(named.values_list("pk", flat=True)) | set(served.values_list("pk", flat=True))
    return ids | set(Commune.objects.filter(parent__in=ids).values_list("pk", flat=True))


def commune_name_error(value: str) -> str:
    """What is wrong with a commune filter's value: no commune called so, or a five-digit
    code that is a commune's INSEE code and another's postal code (13014: Berre-l'Étang's
    code, Marseille 14e's postal code; it listed Berre-l'Étang, unsaid: review). Empty
    when it names communes without doubt."""
    value = value.strip()
    if not value:
        return ""
    named, served = _communes_named(value)
    by_code = list(named.filter(code=value.upper()).values_list("name", flat=True)[:1])
    by_postcode = sorted(served.exclude(code=value.upper()).values_list("name", "code")[:3])
    if by_code and by_postcode:
        return _(
            "« %(value)s » est le code INSEE de %(commune)s et le code postal de %(others)s : "
            "écrivez le nom de la commune voulue, ou son code INSEE (%(codes)s)."
        ) % {
            "value": value,
            "commune": by_code[0],
            "others": ", ".join(name for name, _code in by_postcode),
            "codes": ", ".join(code for _name, code in by_postcode),
        }
    if not named.exists() and not served.exists():
        return _(
            "Aucune commune ne porte ce nom, ce code INSEE ou ce code postal (ex. : Marseille, "
            "13055 ou 13014 ; Marseille 14e Arrondissement ou 13214)."
        )
    return ""
