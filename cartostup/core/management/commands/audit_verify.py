"""`manage.py audit_verify`: walk the audit chain and report every break (exit code 1); with
`--archive FILE`, verify archives written by `audit_prune` instead."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.core.audit import ChainReport, archive_problems, audit_chain_problems


class Command(BaseCommand):
    help = "Vérifie l'intégrité du journal d'audit (chaîne de hachage)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="Nombre d'événements lus à la fois (5000 par défaut).",
        )
        parser.add_argument(
            "--archive",
            type=Path,
            nargs="+",
            help="Vérifie ces archives écrites par audit_prune, pas le journal.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["archive"]:
            self._archives(options["archive"])
            return
        report = ChainReport()
        problems = 0
        for problem in audit_chain_problems(batch_size=options["batch_size"], report=report):
            problems += 1
            self.stderr.write(f"Événement n° {problem.sequence} : {problem.message}.")
        if problems:
            raise CommandError(
                f"Journal d'audit altéré : {problems} problème(s) sur "
                f"{report.checked} événements lus.",
                returncode=1,
            )
        self.stdout.write(
            self.style.SUCCESS(f"Journal d'audit intègre : {report.checked} événements vérifiés.")
        )
        if options["verbosity"] >= 1 and report.checked:
            # Recording this value elsewhere detects a rewrite of the whole chain.
            self.stdout.write(
                f"Dernier maillon : n° {report.last_sequence}, empreinte {report.last_hash}"
            )

    def _archives(self, paths: list[Path]) -> None:
        failed = 0
        for path in paths:
            report = ChainReport()
            try:
                problems = list(archive_problems(path, report))
            except (OSError, ValueError, KeyError, TypeError) as error:
                failed += 1
                self.stderr.write(f"{path} : archive illisible ({error.__class__.__name__}).")
                continue
            for problem in problems:
                self.stderr.write(f"{path} : événement n° {problem.sequence} : {problem.message}.")
            if problems:
                failed += 1
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"{path} : archive intègre, {report.checked} événements ; dernier maillon "
                    f"n° {report.last_sequence}, empreinte {report.last_hash}"
                )
            )
        if failed:
            raise CommandError(f"{failed} archive(s) altérée(s) ou illisible(s).", returncode=1)
