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

from . import locator, sources
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


def _communes_named(value: str) -> QuerySet[Commune]:
    """The communes called `value`: by INSEE code (Corsica's read as the pages read them, 2a004
    as 2A004), or by name, whatever its case, with or without its article (`sources`: « Ciotat »
    is La Ciotat), a typographic apostrophe read as the stored one (« L’Isle »)."""
    value = value.strip().replace("\u2019", "'")
    names = Q(name__iexact=value)
    for article in sources.NAME_ARTICLES:
        names |= Q(name__iexact=f"{article}{value}")
    return Commune.objects.filter(Q(code=value.upper()) | names)


def commune_ids_named(value: str) -> set[int]:
    """The communes a commune filter names (the deal points', the reports'): by INSEE code or
    name (`_communes_named`), else by postal code (13780 is Cuges-les-Pins'). An INSEE code
    wins over a postal code: it names one commune, which may have homonyms (13014 is
    Berre-l'Étang, whose code is also Marseille 14e's postal code: `commune_name_note`). A city
    (Marseille) stands for its arrondissements. Empty when none is called so."""
    ids = set(_communes_named(value).values_list("pk", flat=True)) or set(
        _communes_by_postcode(value.strip()).values_list("pk", flat=True)
    )
    return ids | set(Commune.objects.filter(parent__in=ids).values_list("pk", flat=True))


def commune_name_error(value: str) -> str:
    """What is wrong with a commune filter's value: no commune called so (a misspelt
    « Marsielle » would list nothing, as if there were nothing there). Empty otherwise."""
    value = value.strip()
    if not value or commune_ids_named(value):
        return ""
    return _(
        "Aucune commune ne porte ce nom, ce code INSEE ou ce code postal (ex. : Marseille ou "
        "13055 ; Marseille 14e Arrondissement ou 13214 ; La Ciotat ou 13600)."
    )


def commune_name_note(value: str) -> str:
    """What a page says of a commune filter read as an INSEE code that is also another
    commune's postal code: which commune it read, and how to name the other (13014 listed
    Berre-l'Étang's points, unsaid, where Marseille 14e's were meant: review). Empty
    otherwise."""
    value = value.strip()
    if not (len(value) == 5 and value.isdigit()):
        return ""
    read = Commune.objects.filter(code=value).values_list("name", flat=True).first()
    if read is None:
        return ""
    served = _communes_by_postcode(value).exclude(code=value).order_by("name")
    others = list(served.values_list("name", "code")[:4])
    if not others:
        return ""
    named = ", ".join(f"{name} ({code})" for name, code in others[:3])
    return _(
        "« %(value)s » est lu comme le code INSEE de %(commune)s. C'est aussi le code postal "
        "de %(others)s : pour l'une d'elles, écrivez son nom ou son code INSEE."
    ) % {"value": value, "commune": read, "others": named + (", …" if len(others) > 3 else "")}
