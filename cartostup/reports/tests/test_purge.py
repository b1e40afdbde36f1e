"""Retention purge: old unconfirmed and rejected reports erased with their messages and
photo files; anonymous counts kept; accepted reports stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from cartostup.access.models import Building
from cartostup.core.choices import AuditAction
from cartostup.core.models import AuditEvent
from cartostup.reports import services
from cartostup.reports.choices import Status
from cartostup.reports.models import Report, ReportMessage, RetainedCount

from .factories import jpeg_upload, submit

pytestmark = pytest.mark.django_db


def _age(report: Report, days: int) -> None:
    Report.objects.filter(pk=report.pk).update(received_at=timezone.now() - timedelta(days=days))


def test_purge_erases_old_unconfirmed_and_rejected_keeping_counts(
    persona, django_capture_on_commit_callbacks
):
    analyst = persona("cross13_analyst")
    old_new = submit(photo=jpeg_upload()).report
    old_question = submit().report
    services.report_ask_question(actor=analyst, report=old_question, text="Précisez ?")
    old_spam = submit().report
    services.report_reject(actor=analyst, report=old_spam, status=Status.SPAM)
    old_accepted = submit().report
    services.report_accept(actor=analyst, report=old_accepted)
    recent = submit().report
    for report in (old_new, old_question, old_spam, old_accepted):
        _age(report, settings.CARTOSTUP_REPORT_RETENTION_DAYS + 1)
    photo_path = Path(old_new.photo.path)
    assert photo_path.exists()

    with django_capture_on_commit_callbacks(execute=True):
        result = services.reports_purge()

    assert (result.reports, result.messages, result.photos) == (3, 1, 1)
    assert set(Report.objects.values_list("pk", flat=True)) == {old_accepted.pk, recent.pk}
    assert not ReportMessage.objects.filter(report_id=old_question.pk).exists()
    assert not photo_path.exists()
    counts = {
        (row.departement_code, row.channel, row.status): row.count
        for row in RetainedCount.objects.all()
    }
    assert counts == {
        ("13", "web", "new"): 1,
        ("13", "web", "question"): 1,
        ("13", "web", "spam"): 1,
    }
    assert AuditEvent.objects.filter(action=AuditAction.DELETE, details__reports=3).exists()
    # A second run finds nothing and leaves the counts alone.
    assert services.reports_purge().reports == 0
    assert sum(row.count for row in RetainedCount.objects.all()) == 3


def test_purge_accumulates_counts(persona):
    for _ in range(2):
        report = submit().report
        _age(report, 200)
        services.reports_purge()
    assert RetainedCount.objects.get().count == 2


def test_purge_command_prints_counts(persona):
    from io import StringIO

    from django.core.management import call_command

    _age(submit().report, 100)
    out = StringIO()
    call_command("purge_reports", stdout=out)
    assert "1 signalement" in out.getvalue()
    assert not Report.objects.exists()
    assert Building.objects.count() == 0
