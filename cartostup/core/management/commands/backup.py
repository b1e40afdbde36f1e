"""`manage.py backup [--output PATH]`: the database and the uploaded files in one archive."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.core.audit import audit_record
from cartostup.core.backup import BackupError, backup_create
from cartostup.core.choices import AuditAction


class Command(BaseCommand):
    help = (
        "Sauvegarde la base de données et les fichiers téléversés dans une archive avec un "
        "manifeste (empreintes SHA-256, nombre de lignes par table, migrations)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            type=Path,
            help="Fichier d'archive à écrire (par défaut : DATA_DIR/backups/cartostup-<date>.tar).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(output=options["output"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        manifest = result.manifest
        rows = sum(entry["rows"] for entry in manifest["tables"].values())
        files = len(manifest["parts"]) - 1
        audit_record(
            actor=None,
            action=AuditAction.EXPORT,
            object_type="sauvegarde",
            object_id=result.path.name,
            reason="Sauvegarde (manage.py backup)",
            details={
                "sha256": result.sha256,
                "size": result.size,
                "vendor": manifest["database"]["vendor"],
                "tables": len(manifest["tables"]),
                "rows": rows,
                "files": files,
            },
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Sauvegarde écrite : {result.path} ({result.size} octets, "
                f"{len(manifest['tables'])} tables, {rows} lignes, {files} fichiers)."
            )
        )
        self.stdout.write(f"SHA-256 de l'archive : {result.sha256}")
