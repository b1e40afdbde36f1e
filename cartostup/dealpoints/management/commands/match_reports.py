"""Match the accepted reports waiting for matching to the deal points, then cluster those left
into proposed new points: `manage.py match_reports [--departement 13] [--every 300]`. Safe to
run again (a task scheduler may run it every few minutes); with `--every`, it runs again and
again itself, for an installation without a scheduler (`make run` starts it that way)."""

import argparse
import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from cartostup.core.logging import exception_text
from cartostup.dealpoints import flows
from cartostup.territories.models import Departement

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Rapproche des points de deal les signalements acceptés en attente, puis regroupe les "
        "autres en propositions de nouveaux points."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--departement", help="code du département (ex. 13) ; tous sinon")
        parser.add_argument(
            "--every",
            type=int,
            metavar="SECONDES",
            help="recommencer toutes les SECONDES secondes, sans s'arrêter (au moins 10)",
        )
        # Tests: stop after this many runs.
        parser.add_argument("--times", type=int, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        departement = None
        if options["departement"]:
            departement = Departement.objects.filter(code=options["departement"]).first()
            if departement is None:
                raise CommandError(f"Département inconnu : {options['departement']}")
        every = options["every"]
        if every is None:
            self._run(departement, options["verbosity"])
            return
        if every < 10:
            raise CommandError("--every : au moins 10 secondes entre deux passages.")
        runs = 0
        while options["times"] is None or runs < options["times"]:
            if runs:
                time.sleep(every)
            runs += 1
            try:
                self._run(departement, options["verbosity"])
            except Exception as error:
                # A run that fails (a database busy too long...) is logged, its type only (a
                # message may quote what a reporter wrote); the next one comes as planned.
                logger.error(
                    "match_reports : passage en échec\n%s",
                    exception_text((type(error), error, error.__traceback__), type_only=True),
                )
            finally:
                close_old_connections()

    def _run(self, departement: Any, verbosity: int) -> None:
        summary = flows.matching_run(departement=departement)
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{summary.matched} signalements examinés : {summary.attached} rattachés "
                    f"automatiquement, {summary.proposed} proposés à un analyste, "
                    f"{summary.awaiting} sans point connu, {summary.failed} en échec ; "
                    f"{len(summary.proposals)} "
                    f"propositions de nouveaux points créées ou complétées ; {summary.alerts} "
                    "alertes de résurgence."
                )
            )
