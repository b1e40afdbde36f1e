"""Create the first administrator of an installation."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.access.services import administrator_bootstrap


class Command(BaseCommand):
    help = (
        "Crée un administrateur (organisation « Administration de Cartostup ») avec un mot de "
        "passe provisoire affiché une seule fois."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="identifiant du compte")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = administrator_bootstrap(username=options["username"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            f"Administrateur « {created.user.username} » créé.\n"
            f"Mot de passe provisoire (affiché une seule fois) : {created.temporary_password}\n"
            "À la première connexion : enrôlement du second facteur, puis choix d'un mot de "
            "passe personnel."
        )
