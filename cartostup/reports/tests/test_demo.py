"""Demo reports: made through the services, around the demo neighbourhoods, idempotent."""

from __future__ import annotations

import pytest

from cartostup.access import demo as access_demo
from cartostup.reports.demo import demo_reports_ensure
from cartostup.reports.models import Report

pytestmark = pytest.mark.django_db


def test_demo_reports(persona):
    access_demo.demo_buildings_ensure()
    count = demo_reports_ensure(count=40)
    assert 30 <= count <= 40
    assert set(Report.objects.values_list("departement__code", flat=True)) <= {"13", "69", "93"}
    assert Report.objects.exclude(receipt_key=None).exists()
    assert Report.objects.exclude(status="new").exists()
    assert demo_reports_ensure(count=40) == count
