"""`manage.py generate_national --scale N [--seed S] [--replace] [--departements 13,93]`: the
synthetic national data set of the benchmarks (the generator lives in `bench/national.py`)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bench import national
from cartostup.territories.management.commands._progress import StageProgress


class Command(BaseCommand):
    help = (
        "Crée un jeu de données synthétique national, reproductible (graine), pour les mesures : "
        "points de deal, signalements et leurs rattachements, opérations, historique des points. "
        "Échelle 1 = les ordres de grandeur nationaux d'une année (≈ 3 750 points actifs, "
        "10 000 signalements, 15 000 opérations de harcèlement), répartis par département selon "
        "les chiffres officiels du SSMSI (trafic et amendes forfaitaires, 2024) ; échelle 10 = "
        "dix fois plus, sur dix ans. Les amendes forfaitaires et les saisies ne sont pas encore "
        "générées (pas encore modélisées). Les lignes synthétiques portent des références "
        "« SYN-… » ; --replace ne supprime qu'elles. Demande les territoires chargés "
        "(load_territories --departements all) et les organisations de démonstration (seed_demo)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", type=float, required=True, help="Échelle (ex. 0.01, 1, 10).")
        parser.add_argument("--seed", type=int, default=national.SEED, help="Graine du tirage.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Remplace un jeu synthétique existant (ne touche à aucune autre donnée).",
        )
        parser.add_argument(
            "--departements",
            default="all",
            help="Codes séparés par des virgules (13,93,69,75) ou « all » (défaut) : le jeu "
            "national restreint à ces départements.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = int(options.get("verbosity", 1))
        codes = options["departements"].strip()
        departements = None if codes.lower() == "all" else codes.split(",")
        progress = StageProgress(enabled=verbosity >= 1, stream=sys.stderr)
        try:
            result = national.generate(
                scale=options["scale"],
                seed=options["seed"],
                departements=departements,
                replace=options["replace"],
                progress=progress,
            )
        except national.GenerationRefused as refusal:
            raise CommandError(str(refusal)) from refusal
        finally:
            progress.close()
        if verbosity >= 1:
            counts = result["counts"]
            self.stdout.write(
                self.style.SUCCESS(
                    f"Jeu synthétique (échelle {result['scale']}, graine {result['seed']}, "
                    f"{result['departements']} départements, {result['years']} an(s)) créé en "
                    f"{result['timings']['total_s']:.1f} s : {counts['dealpoints']} points de "
                    f"deal (dont {counts['dealpoints_active']} actifs), {counts['reports']} "
                    f"signalements, {counts['report_links']} rattachements, "
                    f"{counts['operations']} opérations (dont {counts['raids']} de harcèlement), "
                    f"{counts['dealpoint_events']} événements d'historique."
                )
            )
