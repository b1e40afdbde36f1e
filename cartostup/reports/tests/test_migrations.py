"""Migration 0004 (report messages get a random key and a rank in their thread), and 0008 (a
report whose last message is its reporter's is flagged unread), on a database that already
holds messages, on the engine of this run (SQLite, or PostgreSQL), in a fresh
database migrated by `manage.py` as an installation would be."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings

from cartostup.core.backup import DatabaseTarget
from tests.environment import process_environment

ROOT = Path(settings.BASE_DIR)
BEFORE = "0003_report_h3_parents"

# Three reports from the current code, then, at 0003, messages written in an interleaved order
# (their numbers shared across reports), as an existing installation holds them. The current
# code writes the report columns added after 0003: they are added for it, then removed.
CREATE_REPORTS = """
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from cartostup.access.services import demo_organisations_ensure
from cartostup.reports.models import Report
from cartostup.reports.tests.factories import submit
old = MigrationExecutor(connection).loader.project_state(("reports", {before!r})).apps
known = {{field.column for field in old.get_model("reports", "Report")._meta.concrete_fields}}
later = [field for field in Report._meta.concrete_fields if field.column not in known]
with connection.schema_editor() as editor:
    for field in later:
        editor.add_field(Report, field)
demo_organisations_ensure()
created = [str(submit().report.pk) for _ in range(3)]
with connection.schema_editor() as editor:
    for field in later:
        editor.remove_field(Report, field)
print(",".join(created))
"""
OLD_MESSAGES = """
import datetime, json
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
apps = MigrationExecutor(connection).loader.project_state(("reports", {before!r})).apps
Message = apps.get_model("reports", "ReportMessage")
first, second, third = {reports!r}
day = datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC)
written = [
    (first, "analyst", "Q1 du premier", day.replace(hour=9, minute=12)),
    (second, "analyst", "Q1 du second", day.replace(hour=9, minute=40)),
    (first, "reporter", "R1 du premier", day),
    (first, "analyst", "Q2 du premier", day.replace(hour=11, minute=3)),
    (second, "reporter", "R1 du second", day),
    (first, "reporter", "R2 du premier", day),
]
ids = [
    Message.objects.create(report_id=report, author=author, text=text, sent_at=sent_at).pk
    for report, author, text, sent_at in written
]
print(json.dumps(ids))
"""
# Every app at its latest migration but `reports`, left at 0003 (nothing to undo: the database is
# new).
MIGRATE_BEFORE = """
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
targets = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "reports"]
executor.migrate([*targets, ("reports", {before!r})])
executor.loader.build_graph()
applied = executor.loader.applied_migrations
assert ("reports", {before!r}) in applied
assert not [node for node in applied if node[0] == "reports" and node[1] > {before!r}], applied
"""
READ_MESSAGES = """
import json
from cartostup.reports.models import ReportMessage
print(json.dumps([
    [str(m.id), m.report_id, m.sequence, m.text]
    for m in ReportMessage.objects.order_by("report_id", "sequence")
]))
"""

READ_UNREAD = """
import json
from cartostup.reports.models import Report
print(json.dumps(dict(Report.objects.values_list("pk", "message_unread"))))
"""


@pytest.fixture
def installation(tmp_path) -> Iterator[dict[str, str]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        url, name = f"sqlite:///{data_dir / 'cartostup.sqlite3'}", ""
    else:
        name = f"{settings.DATABASES['default']['NAME']}_mig"
        base = DatabaseTarget.default()
        server = replace(base, name="postgres").connect_postgresql()
        server.autocommit = True
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{name}"')
        credentials = base.user + (f":{base.password}" if base.password else "")
        url = f"postgres://{credentials}@{base.host or '127.0.0.1'}:{base.port or '5432'}/{name}"
    try:
        yield process_environment(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            CARTOSTUP_DATA_DIR=str(data_dir),
            CARTOSTUP_DEMO="1",
            DATABASE_URL=url,
        )
    finally:
        if name:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            server.close()


def manage(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def test_existing_messages_get_random_keys_and_keep_their_order(installation):
    manage(installation, "shell", "-c", MIGRATE_BEFORE.format(before=BEFORE))
    manage(installation, "load_territories", "--departements", "13", "-v0")
    reports = [
        int(pk)
        for pk in manage(installation, "shell", "-c", CREATE_REPORTS.format(before=BEFORE)).split(
            ","
        )
    ]
    script = OLD_MESSAGES.format(before=BEFORE, reports=reports)
    old_ids = json.loads(manage(installation, "shell", "-c", script))
    assert old_ids == sorted(old_ids)  # numbers in insertion order, across reports

    manage(installation, "migrate", "-v0")
    rows = json.loads(manage(installation, "shell", "-c", READ_MESSAGES))
    first, second, _third = reports
    thread = {
        report: [(seq, text) for _key, r, seq, text in rows if r == report] for report in reports
    }
    assert thread[first] == [
        (1, "Q1 du premier"),
        (2, "R1 du premier"),
        (3, "Q2 du premier"),
        (4, "R2 du premier"),
    ]
    assert thread[second] == [(1, "Q1 du second"), (2, "R1 du second")]
    keys = [key for key, *_rest in rows]
    assert len(set(keys)) == 6 and all(len(key) == 36 and key.count("-") == 4 for key in keys)
    assert not {str(old) for old in old_ids} & set(keys)
    # Both threads end with their reporter's message: flagged for the team to read.
    unread = json.loads(manage(installation, "shell", "-c", READ_UNREAD))
    assert unread == {str(first): True, str(second): True, str(_third): False}
