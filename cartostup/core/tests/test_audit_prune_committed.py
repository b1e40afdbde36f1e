"""Retention of the audit log on committed data: the commands as they run at night, outside
any test transaction (the prune's durable transaction commits, its archive is named after the
commit; audit_verify reads the chain in one snapshot on PostgreSQL)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from cartostup.core.tests.test_audit_prune import _events


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.AUDIT_RETENTION_DAYS = 30


def test_the_commands_commit_name_their_archives_and_verify(
    reference_data_back, transactional_db, persona, tmp_path, settings
):
    """`reference_data_back` first: the territories the next tests expect are put back after
    the flush that empties every table."""
    settings.DATA_DIR = tmp_path
    old = _events(persona, old=3, recent=1)
    out = StringIO()
    call_command("audit_prune", stdout=out)
    (archive,) = (tmp_path / "audit-archives").glob("*.jsonl")
    assert f"n° 1 à {old}" in out.getvalue()
    assert not list((tmp_path / "audit-archives").glob("*.partial"))
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "Journal d'audit intègre" in out.getvalue()
    assert f"Premier maillon gardé : n° {old + 1}" in out.getvalue()
    out = StringIO()
    call_command("audit_verify", "--archive", str(archive), stdout=out)
    assert "archive intègre" in out.getvalue()
