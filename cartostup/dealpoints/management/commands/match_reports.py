"""Match the accepted reports waiting for matching to the deal points, then cluster those left
into proposed new points: `manage.py match_reports [--departement 13]`. Safe to run again (a
task scheduler may run it every few minutes)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cartostup.dealpoints import flows
from cartostup.territories.models import Departement


class Command(BaseCommand):
    help = (
        "Rapproche des points de deal les signalements acceptés en attente, puis regroupe les "
        "autres en propositions de nouveaux points."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--departement", help="code du département (ex. 13) ; tous sinon")

    def handle(self, *args: Any, **options: Any) -> None:
        departement = None
        if options["departement"]:
            departement = Departement.objects.filter(code=options["departement"]).first()
            if departement is None:
                raise CommandError(f"Département inconnu : {options['departement']}")
        summary = flows.matching_run(departement=departement)
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{summary.matched} signalements examinés : {summary.attached} rattachés "
                    f"automatiquement, {summary.proposed} proposés à un analyste, "
                    f"{summary.awaiting} sans point connu ; {len(summary.proposals)} "
                    f"propositions de nouveaux points créées ou complétées ; {summary.alerts} "
                    "alertes de résurgence."
                )
            )
