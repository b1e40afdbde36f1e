"""Print the demo accounts and how to log in with them, or one account's current code.

    manage.py demo_accounts                 # table of personas, password, URL, TOTP secrets
    manage.py demo_accounts --code admin    # the 6-digit code to type now (make code USER=admin)

Only on a development server (DEBUG) or a demo instance (CARTOSTUP_DEMO=1): in production it
prints nothing and fails, so that no secret ever reaches a production log.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartostup.access.account_services import (
    DEMO_DEVICE_NAME,
    DEMO_PASSWORD,
    demo_mode_enabled,
    totp_secret_base32,
)
from cartostup.access.choices import Role
from cartostup.core.personas import ORGANISATIONS, PERSONAS


class Command(BaseCommand):
    help = "Affiche les comptes de démonstration, ou le code du second facteur d'un compte."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--code",
            metavar="IDENTIFIANT",
            help="affiche le code à 6 chiffres actuel de ce compte de démonstration",
        )
        parser.add_argument(
            "--url",
            default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
            help="adresse du serveur à afficher (par défaut http://127.0.0.1:$PORT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_mode_enabled():
            raise CommandError(
                "Les comptes de démonstration ne sont affichés qu'en développement (DEBUG) ou sur "
                "une instance de démonstration (CARTOSTUP_DEMO=1).",
                returncode=1,
            )
        if options["code"]:
            self._print_code(options["code"])
        else:
            self._print_table(options["url"].rstrip("/"))

    def _device(self, username: str) -> TOTPDevice | None:
        return (
            TOTPDevice.objects.filter(
                user__username=username, name=DEMO_DEVICE_NAME, confirmed=True
            )
            .order_by("pk")
            .first()
        )

    def _print_code(self, username: str) -> None:
        if username not in {p.username for p in PERSONAS}:
            raise CommandError(
                f"« {username} » n'est pas un compte de démonstration. "
                f"Comptes : {', '.join(p.username for p in PERSONAS)}.",
                returncode=1,
            )
        device = self._device(username)
        if device is None:
            raise CommandError(
                f"Le compte « {username} » n'a pas encore de second facteur de démonstration : "
                "lancez `make run` (ou `manage.py seed_demo`).",
                returncode=1,
            )
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        now = time.time()
        totp.time = now
        remaining = device.step - int(now - device.t0) % device.step
        code = f"{totp.token():0{device.digits}d}"
        self.stdout.write(code)
        self.stderr.write(
            f"Code du compte {username}, valable encore {remaining} s. Un code déjà utilisé "
            "est refusé : attendez le suivant pour une nouvelle connexion."
        )

    def _print_table(self, url: str) -> None:
        organisation_names = {spec.key: spec.name for spec in ORGANISATIONS}
        rows = []
        for persona in PERSONAS:
            device = self._device(persona.username)
            rows.append(
                (
                    persona.username,
                    organisation_names.get(persona.organisation, persona.organisation),
                    str(Role(persona.role).label),
                    totp_secret_base32(device) if device else "(à créer : make run)",
                )
            )
        headers = ("Identifiant", "Organisation", "Rôle", "Clé TOTP (base32)")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(
                cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
            ).rstrip()

        write = self.stdout.write
        write("Comptes de démonstration de Cartostup")
        write("")
        write(f"  Adresse       : {url}/comptes/connexion/")
        write(f"  Mot de passe  : {DEMO_PASSWORD} (le même pour tous les comptes)")
        write("  Second facteur: ajoutez la clé TOTP du compte dans une application")
        write("                  d'authentification, ou affichez le code du moment avec")
        write("                  make code USER=<identifiant>")
        write("                  (manage.py demo_accounts --code <identifiant>)")
        write("")
        write(line(headers))
        write(line(tuple("-" * width for width in widths)))
        for row in rows:
            write(line(row))
