"""`manage.py audit_prune`: archive, then delete, the audit events older than the retention
period (`CARTOSTUP_AUDIT_RETENTION_DAYS`, 3 years by default; design §4).

Run it daily in production, after `audit_verify`. The archives (one JSON line per event, as
hashed) are written to `CARTOSTUP_DATA_DIR/audit-archives` unless `--archive-dir` says where:
copy them to write-once storage. `audit_verify --archive FILE…` verifies them."""

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date

from cartostup.core.audit import AuditPruneRefused, PruneResult, audit_prune


def _day(text: str) -> datetime:
    try:
        day = parse_date(text.strip())
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"Date --before invalide : « {text} » (attendu : AAAA-MM-JJ).")
    return timezone.make_aware(datetime.combine(day, time.min))


class Command(BaseCommand):
    help = (
        "Archive puis efface du journal d'audit les événements plus anciens que "
        "CARTOSTUP_AUDIT_RETENTION_DAYS jours (à lancer chaque jour, après audit_verify)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--before",
            help="Date AAAA-MM-JJ : les événements antérieurs (par défaut, la durée de "
            "conservation avant maintenant ; jamais plus récente).",
        )
        parser.add_argument(
            "--archive-dir",
            type=Path,
            help="Dossier des archives (par défaut CARTOSTUP_DATA_DIR/audit-archives).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Dit ce qui serait archivé et effacé, sans rien écrire.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["before"]:
            before = _day(options["before"])
        else:
            before = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
        directory = options["archive_dir"] or Path(settings.DATA_DIR) / "audit-archives"
        day = timezone.localtime(before).strftime("%d/%m/%Y")
        results: list[PruneResult] = []
        try:
            while True:
                result = audit_prune(
                    before=before, directory=directory, dry_run=options["dry_run"], now=now
                )
                if result.count:
                    results.append(result)
                if options["dry_run"] or not result.count:
                    break
        except AuditPruneRefused as refused:
            raise CommandError(
                f"Rien de plus n'a été archivé ni effacé : {refused}",
                returncode=1,
            ) from refused
        if options["dry_run"]:
            if results:
                self.stdout.write(
                    f"{results[0].count} événement(s), n° {results[0].first} à "
                    f"{results[0].last}, antérieurs au {day}, seraient archivés puis effacés "
                    "(essai : rien n'a été écrit)."
                )
            else:
                self.stdout.write(f"Aucun événement antérieur au {day} : rien à archiver.")
            return
        for done in results:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{done.count} événement(s), n° {done.first} à {done.last}, antérieurs au "
                    f"{day}, archivés dans {done.archive} puis effacés du journal."
                )
            )
            # Recording it elsewhere proves the archive is the one written.
            self.stdout.write(f"Empreinte SHA-256 de l'archive : {done.digest}")
        if not results:
            self.stdout.write(f"Aucun événement antérieur au {day} : rien à archiver.")
        if result.held:
            self.stdout.write(
                self.style.WARNING(
                    f"{result.held} événement(s) antérieur(s) au {day} attendent derrière "
                    f"l'événement n° {result.held_behind}, plus récent (un acte anonyme chaîné "
                    "après son heure, ou une horloge déréglée) : ils seront archivés quand il "
                    "le sera."
                )
            )
