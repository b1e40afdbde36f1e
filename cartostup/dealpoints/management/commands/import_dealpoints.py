"""Import an existing CROSS map (CSV, XLSX or GeoJSON) as a given analyst, printing the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from cartostup.access.models import User
from cartostup.dealpoints import exchange


class Command(BaseCommand):
    help = (
        "Importe des points de deal (CSV, XLSX ou GeoJSON, colonnes de l'export) au nom d'un "
        "analyste ; rien n'est importé si une ligne est invalide, sauf avec --partial."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Fichier CSV, XLSX ou GeoJSON.")
        parser.add_argument("--user", required=True, help="Identifiant de l'analyste.")
        parser.add_argument(
            "--partial", action="store_true", help="Importer les lignes valides seulement."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Vérifier le fichier sans rien importer."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"Utilisateur inconnu ou inactif : {options['user']}")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"Fichier introuvable : {path}")
        if path.stat().st_size > exchange.MAX_IMPORT_BYTES:
            raise CommandError(
                f"Le fichier dépasse {exchange.MAX_IMPORT_BYTES // (1024 * 1024)} Mo."
            )
        try:
            result = exchange.import_file(
                actor=user,
                data=path.read_bytes(),
                filename=path.name,
                partial=options["partial"],
                dry_run=options["dry_run"],
            )
        except exchange.ImportFileError as error:
            raise CommandError(error.message) from error
        except Http404 as error:
            raise CommandError("Cet utilisateur ne peut pas créer de points de deal.") from error
        self.stdout.write(f"{result.total} ligne(s) lue(s), {result.valid} valide(s).")
        for row_error in result.errors:
            self.stdout.write(f"ligne {row_error.line} : {' ; '.join(row_error.messages)}")
        for skipped in result.skipped:
            if skipped.differs and skipped.platform:
                self.stdout.write(
                    f"ligne {skipped.line} : déjà présente ({skipped.existing}) ; le fichier "
                    f"diffère : {', '.join(skipped.differs)}. Le point n'est pas modifié."
                )
            elif skipped.differs:
                self.stdout.write(
                    f"ligne {skipped.line} : déjà importée ({skipped.existing}) ; le fichier "
                    f"diffère : {', '.join(skipped.differs)}. Le point n'est pas modifié."
                )
            else:
                self.stdout.write(
                    f"ligne {skipped.line} : déjà présente ({skipped.existing}), ignorée."
                )
        for warning in result.warnings:
            self.stdout.write(f"ligne {warning.line} : {' ; '.join(warning.messages)}")
        if result.imported:
            self.stdout.write(
                self.style.SUCCESS(f"{len(result.created)} point(s) importé(s) : ")
                + ", ".join(result.created)
            )
        elif result.dry_run:
            self.stdout.write("Vérification seulement : rien n'a été importé.")
        else:
            self.stdout.write(self.style.ERROR("Rien n'a été importé."))
