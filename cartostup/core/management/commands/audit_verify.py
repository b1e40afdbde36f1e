"""`manage.py audit_verify`: walk the audit chain and report every break (exit code 1)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.core.audit import ChainReport, audit_chain_problems


class Command(BaseCommand):
    help = "Vérifie l'intégrité du journal d'audit (chaîne de hachage)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=5000,
            help="Nombre d'événements lus à la fois (5000 par défaut).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
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
