"""Create the demo organisations, personas (with password and second factor) and demo records.

Idempotent: a second run neither fails nor duplicates. Only on a development server or a demo
instance (DEBUG or CARTOSTUP_DEMO=1)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cartostup.access import demo as access_demo
from cartostup.access.account_services import demo_mode_enabled
from cartostup.dealpoints import demo as dealpoints_demo
from cartostup.reports import demo as reports_demo


class Command(BaseCommand):
    help = (
        "Crée les données de démonstration (organisations, comptes, bâtiments des bailleurs, "
        "signalements, points de deal)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not demo_mode_enabled():
            raise CommandError(
                "Les données de démonstration ne se créent qu'avec DEBUG ou CARTOSTUP_DEMO=1."
            )
        users = access_demo.demo_accounts_ensure()
        buildings = access_demo.demo_buildings_ensure()
        reports = reports_demo.demo_reports_ensure()
        # After the reports: the deal points are built from them by the matching.
        points = dealpoints_demo.demo_dealpoints_ensure()
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Démonstration prête : {len(users)} comptes, {buildings} bâtiments de "
                    f"bailleurs, {reports} signalements."
                )
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Points de deal : {points.dealpoints} points, {points.operations} "
                    f"opérations ; à examiner : {points.proposals_open} propositions de "
                    f"nouveaux points, {points.links_proposed} rattachements proposés, "
                    f"{points.alerts_open} alertes."
                )
            )
