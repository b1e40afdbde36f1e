"""Erase old unconfirmed and rejected reports (design §5 retention).

Run it daily in production, e.g. from cron:

    15 3 * * *  cd /srv/cartostup && .venv/bin/python manage.py purge_reports --verbosity 0

Reports still unconfirmed (to triage, or waiting for an answer) or rejected, received more than
`CARTOSTUP_REPORT_RETENTION_DAYS` days ago (90 by default), are erased with their messages and
photo files; only anonymous counts per département, month, channel and status remain
(`RetainedCount`). Accepted reports follow the deal point's retention."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from cartostup.core.audit import audit_flush_pending
from cartostup.reports.services import reports_purge


class Command(BaseCommand):
    help = (
        "Efface les signalements non confirmés ou rejetés plus anciens que "
        "CARTOSTUP_REPORT_RETENTION_DAYS jours (à lancer chaque jour)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # Chain the audit events of anonymous acts whose hour is over (a quiet night may have
        # left some waiting: any audited staff action does it too).
        audit_flush_pending()
        result = reports_purge()
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"{result.reports} signalement(s), {result.messages} message(s) et "
                f"{result.photos} photo(s) effacés (conservation : "
                f"{settings.CARTOSTUP_REPORT_RETENTION_DAYS} jours)."
            )
