"""`manage.py locate LAT LON` and `manage.py locate --csv IN.csv OUT.csv`."""

from __future__ import annotations

import csv
import sys
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from cartostup.territories import locator

OUTPUT_COLUMNS = [
    "commune_code",
    "commune_name",
    "departement_code",
    "antenna",
    "qpv_code",
    "error",
]
CHUNK_ROWS = 50_000


def parse_number(value: str | None) -> float:
    """A decimal number, with a point or a French decimal comma; NaN when unreadable."""
    if value is None:
        return float("nan")
    text = value.strip().replace("\u00a0", "").replace(" ", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return float("nan")


class Command(BaseCommand):
    help = (
        "Donne la commune (ou l'arrondissement), le département, l'antenne Ofast et le QPV d'un "
        "point WGS84, ou de chaque ligne d'un fichier CSV (colonnes latitude et longitude)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("latitude", nargs="?", help="Latitude (ex. 43.2951)")
        parser.add_argument("longitude", nargs="?", help="Longitude (ex. 5.3740)")
        parser.add_argument(
            "--csv",
            nargs=2,
            metavar=("ENTREE", "SORTIE"),
            help="Fichier CSV à compléter (colonnes latitude, longitude) et fichier produit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["csv"]:
            if options["latitude"] is not None:
                raise CommandError("Donnez soit LAT LON, soit --csv ENTREE SORTIE, pas les deux.")
            self._csv(*options["csv"], verbosity=int(options["verbosity"]))
            return
        if options["latitude"] is None or options["longitude"] is None:
            raise CommandError("Donnez la latitude et la longitude (ou --csv ENTREE SORTIE).")
        try:
            location = locator.locate(
                parse_number(options["latitude"]), parse_number(options["longitude"])
            )
        except locator.InvalidCoordinatesError as error:
            # Name what the user typed, not its NaN.
            raise CommandError(
                locator.invalid_coordinates_message(options["latitude"], options["longitude"])
            ) from error
        except locator.LocateError as error:
            raise CommandError(str(error)) from error
        kind = "Arrondissement" if location.commune_kind == "ARM" else "Commune"
        lines = [
            f"{kind} : {location.commune_code} {location.commune_name}",
            f"Département : {location.departement_code} {location.departement_name}",
            "Antenne Ofast : " + (", ".join(location.antennas) or "aucune"),
            "QPV : "
            + (f"{location.qpv_code} {location.qpv_name}" if location.qpv_code else "aucun"),
        ]
        if location.distance_m:
            lines.append(
                f"(point hors des contours, rattaché à la commune la plus proche, "
                f"à {location.distance_m:.0f} m)"
            )
        self.stdout.write("\n".join(lines))

    def _csv(self, source: str, target: str, *, verbosity: int) -> None:
        try:
            with open(source, encoding="utf-8-sig", newline="") as handle:
                sample = handle.read(64 * 1024)
                handle.seek(0)
                try:
                    dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
                except csv.Error:
                    dialect = csv.excel
                reader = csv.DictReader(handle, dialect=dialect)
                fields = list(reader.fieldnames or [])
                columns = {name.strip().lower(): name for name in fields}
                if "latitude" not in columns or "longitude" not in columns:
                    raise CommandError(
                        f"{source} : colonnes « latitude » et « longitude » attendues "
                        f"(trouvées : {', '.join(fields) or 'aucune'})."
                    )
                total = self._count_rows(source)
                output_fields = fields + [c for c in OUTPUT_COLUMNS if c not in fields]
                with (
                    open(target, "w", encoding="utf-8", newline="") as out,
                    tqdm(
                        total=total,
                        desc="localisation",
                        unit=" lignes",
                        file=sys.stderr,
                        disable=verbosity < 1,
                    ) as bar,
                ):
                    # Extra cells of a ragged row (under the key None) are dropped.
                    writer = csv.DictWriter(
                        out, fieldnames=output_fields, dialect=dialect, extrasaction="ignore"
                    )
                    writer.writeheader()
                    counts = {"placed": 0, "errors": 0}
                    chunk: list[dict[str, Any]] = []
                    for row in reader:
                        chunk.append(row)
                        if len(chunk) >= CHUNK_ROWS:
                            self._write_chunk(chunk, columns, writer, counts)
                            bar.update(len(chunk))
                            chunk = []
                    if chunk:
                        self._write_chunk(chunk, columns, writer, counts)
                        bar.update(len(chunk))
        except OSError as exc:
            raise CommandError(f"Fichier illisible ou impossible à écrire : {exc}") from exc
        if verbosity >= 1:
            self.stdout.write(
                f"{counts['placed']} ligne(s) localisée(s), {counts['errors']} en erreur "
                f"-> {target}"
            )

    @staticmethod
    def _count_rows(path: str) -> int:
        with open(path, "rb") as handle:
            return max(sum(1 for _ in handle) - 1, 0)

    @staticmethod
    def _write_chunk(
        rows: list[dict[str, Any]],
        columns: dict[str, str],
        writer: csv.DictWriter,
        counts: dict[str, int],
    ) -> None:
        raw_lat = [row.get(columns["latitude"]) for row in rows]
        raw_lon = [row.get(columns["longitude"]) for row in rows]
        lat = np.array([parse_number(v) for v in raw_lat], dtype=np.float64)
        lon = np.array([parse_number(v) for v in raw_lon], dtype=np.float64)
        batch = locator.locate_many(lat, lon)
        for i, row in enumerate(rows):
            result = batch.result(i)
            if isinstance(result, locator.LocateError):
                message = (
                    locator.invalid_coordinates_message(raw_lat[i], raw_lon[i])
                    if isinstance(result, locator.InvalidCoordinatesError)
                    else str(result)
                )
                row.update({column: "" for column in OUTPUT_COLUMNS})
                row["error"] = message
                counts["errors"] += 1
            else:
                row.update(
                    {
                        "commune_code": result.commune_code,
                        "commune_name": result.commune_name,
                        "departement_code": result.departement_code,
                        "antenna": ", ".join(result.antennas),
                        "qpv_code": result.qpv_code or "",
                        "error": "",
                    }
                )
                counts["placed"] += 1
            writer.writerow(row)
