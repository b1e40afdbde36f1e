"""`manage.py audit_prune`: archive, then delete, the audit events older than the retention
period (`CARTOSTUP_AUDIT_RETENTION_DAYS`, 3 years by default; design §4).

Run it daily in production, after `audit_verify`. The archives (one JSON line per event, as
hashed) are written to `CARTOSTUP_DATA_DIR/audit-archives` unless `--archive-dir` says where:
copy them to write-once storage. `audit_verify --archive FILE…` verifies them."""

import fcntl
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date

from cartostup.core.audit import AuditPruneRefused, audit_prune


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
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        day = timezone.localtime(before).strftime("%d/%m/%Y")
        # One run at a time (a timer's and a hand's): each would name the other's archives.
        with (directory / ".audit_prune.lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as busy:
                raise CommandError(
                    "Un autre audit_prune est en cours sur ce dossier d'archives.", returncode=1
                ) from busy
            self._prune(before=before, directory=directory, day=day, now=now, options=options)

    def _prune(
        self, *, before: datetime, directory: Path, day: str, now: datetime, options: Any
    ) -> None:
        done = 0
        while True:
            try:
                result = audit_prune(
                    before=before, directory=directory, dry_run=options["dry_run"], now=now
                )
            except AuditPruneRefused as refused:
                raise CommandError(
                    f"Rien de plus n'a été archivé ni effacé : {refused}", returncode=1
                ) from refused
            if options["dry_run"]:
                if result.count:
                    self.stdout.write(
                        f"{result.count} événement(s), n° {result.first} à {result.last}, "
                        f"antérieurs au {day}, seraient archivés puis effacés (essai : rien "
                        "n'a été écrit)."
                    )
                break
            if not result.count:
                break
            done += 1
            # Said as each batch is done: a later one refused leaves these said.
            self.stdout.write(
                self.style.SUCCESS(
                    f"{result.count} événement(s), n° {result.first} à {result.last}, "
                    f"antérieurs au {day}, archivés dans {result.archive} puis effacés du "
                    "journal."
                )
            )
            # Recording it elsewhere proves the archive is the one written.
            self.stdout.write(f"Empreinte SHA-256 de l'archive : {result.digest}")
        if not done and not (options["dry_run"] and result.count):
            self.stdout.write(f"Aucun événement antérieur au {day} : rien à archiver.")
        if not result.held:
            return
        when = result.held_behind_at
        held = (
            f"{result.held} événement(s) antérieur(s) au {day} attendent derrière l'événement "
            f"n° {result.held_behind}"
        )
        if when is not None and when > now:
            # A clock set wrong: nothing behind it would ever be archived.
            raise CommandError(
                f"{held}, daté du {timezone.localtime(when):%d/%m/%Y %H:%M}, dans le futur "
                "(horloge déréglée ?) : rien derrière lui ne s'archivera avant cette date. "
                "Vérifiez l'horloge du serveur ; l'événement, haché, ne se corrige pas.",
                returncode=1,
            )
        self.stdout.write(
            self.style.WARNING(
                f"{held}, plus récent et chaîné avant eux (les événements d'un import ou d'un "
                "acte anonyme sont chaînés après coup) : ils seront archivés avec lui."
            )
        )
