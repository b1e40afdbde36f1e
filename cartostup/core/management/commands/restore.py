"""`manage.py restore PATH [--yes]`: restore an archive written by `manage.py backup`."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.core.audit import audit_record
from cartostup.core.backup import BackupError, backup_restore
from cartostup.core.choices import AuditAction


class Command(BaseCommand):
    help = (
        "Restaure une sauvegarde (base de données et fichiers téléversés) après avoir vérifié "
        "son manifeste et ses empreintes. Refuse de remplacer une base non vide sans --yes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="Archive écrite par manage.py backup.")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Confirme le remplacement d'une base qui contient déjà des données.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        archive: Path = options["archive"]
        try:
            result = backup_restore(archive_path=archive, replace=options["yes"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        manifest = result.manifest
        # Appended to the restored chain: the trail says the data came back from an archive.
        audit_record(
            actor=None,
            action=AuditAction.IMPORT,
            object_type="sauvegarde",
            object_id=archive.name,
            reason="Restauration (manage.py restore)",
            details={
                "created_at": manifest["created_at"],
                "vendor": manifest["database"]["vendor"],
                "tables": result.tables,
                "rows": result.rows,
                "files": result.files,
            },
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Sauvegarde du {manifest['created_at']} restaurée : {result.tables} tables, "
                f"{result.rows} lignes, {result.files} fichiers (vérifiés)."
            )
        )
        if result.pending_migrations:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(result.pending_migrations)} migration(s) plus récente(s) que la "
                    "sauvegarde : lancer manage.py migrate."
                )
            )
        self.stdout.write("Vérifier ensuite le journal d'audit : manage.py audit_verify.")
