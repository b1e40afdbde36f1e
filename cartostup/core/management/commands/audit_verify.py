"""`manage.py audit_verify`: walk the audit chain and report every break (exit code 1); with
`--archive FILE`, verify archives written by `audit_prune` instead."""

import contextlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from cartostup.core.audit import ChainReport, archives_problems, audit_chain_problems
from cartostup.core.models import AuditChainHead


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
        # One snapshot for the head and the rows on PostgreSQL: an event appended, or a prune
        # committed, while the chain is read is not taken for a break. (On SQLite, a
        # transaction would take the write lock, IMMEDIATE, and stop every audited request.)
        snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
        with transaction.atomic() if snapshot else contextlib.nullcontext():
            if snapshot:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for problem in audit_chain_problems(batch_size=options["batch_size"], report=report):
                problems += 1
                self.stderr.write(f"Événement n° {problem.sequence} : {problem.message}.")
            head = AuditChainHead.objects.filter(singleton=1).first()
        if problems:
            raise CommandError(
                f"Journal d'audit altéré : {problems} problème(s) sur "
                f"{report.checked} événements lus.",
                returncode=1,
            )
        self.stdout.write(
            self.style.SUCCESS(f"Journal d'audit intègre : {report.checked} événements vérifiés.")
        )
        if options["verbosity"] >= 1 and head is not None and head.first_sequence > 1:
            # Where the chain starts since its oldest events were archived (audit_prune).
            self.stdout.write(
                f"Premier maillon gardé : n° {head.first_sequence}, relié à "
                f"{head.first_previous_hash} (archive {head.archive_digest})"
            )
        if options["verbosity"] >= 1 and report.checked:
            # Recording this value elsewhere detects a rewrite of the whole chain.
            self.stdout.write(
                f"Dernier maillon : n° {report.last_sequence}, empreinte {report.last_hash}"
            )

    def _archives(self, paths: list[Path]) -> None:
        checks = archives_problems(paths)
        failed = 0
        for check in checks:
            for problem in check.problems:
                self.stderr.write(
                    f"{check.path} : événement n° {problem.sequence} : {problem.message}."
                )
            if check.problems:
                failed += 1
                continue
            self.stdout.write(
                self.style.SUCCESS(
                    f"{check.path} : archive intègre, {check.checked} événements, n° "
                    f"{check.first} à {check.last} ; empreinte du dernier {check.last_hash}"
                )
            )
        if failed:
            raise CommandError(f"{failed} archive(s) altérée(s) ou mal reliée(s).", returncode=1)
