"""`manage.py import_qpv FICHIER.geojson`: the official file of the QPV (quartiers prioritaires)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.territories.services import (
    QpvImportError,
    priority_neighbourhoods_import,
    qpv_collection_load,
)

from ._progress import StageProgress


class Command(BaseCommand):
    help = (
        "Importe les quartiers prioritaires de la politique de la ville depuis le fichier GeoJSON "
        "officiel (propriétés code_qp, lib_qp, insee_com, insee_dep ; WGS84). Tout ou rien ; "
        "une seconde exécution met à jour sans dupliquer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Fichier GeoJSON (FeatureCollection)")

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        progress = StageProgress(enabled=verbosity >= 1, stream=sys.stderr)
        try:
            collection = qpv_collection_load(options["path"])
            report = priority_neighbourhoods_import(
                actor=None,
                collection=collection,
                source=Path(options["path"]).name,
                progress=progress,
            )
        except QpvImportError as exc:
            raise CommandError(f"Import annulé, rien n'a été importé. {exc}") from exc
        finally:
            progress.close()
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(f"{report.created} QPV créé(s), {report.updated} mis à jour.")
            )
            if report.communes_missing:
                self.stdout.write(
                    "Communes citées mais non chargées : "
                    + ", ".join(sorted(report.communes_missing))
                )
