"""The map's grouping statistics (PostgreSQL only)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no extended statistics"
)
def test_the_map_tables_carry_statistics_on_their_groups():
    """Without them the planner expected a hundred thousand groups of reports where there are
    a few thousand, and sorted a million rows on disk (docs/benchmarks.md)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stxname, stxrelid::regclass::text, stxkind FROM pg_statistic_ext "
            "WHERE stxname LIKE '%%_map_groups' ORDER BY stxname"
        )
        rows = cursor.fetchall()
    assert [(name, table) for name, table, _kinds in rows] == [
        ("dealpoints_dealpoint_map_groups", "dealpoints_dealpoint"),
        ("reports_report_map_groups", "reports_report"),
    ]
    assert all("d" in kinds for _name, _table, kinds in rows)


def _statistics(name: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stxname FROM pg_statistic_ext WHERE stxname = %s", [name])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only: SQLite has no extended statistics"
)
def test_grouping_statistics_are_created_and_dropped_and_shown_by_sqlmigrate():
    """Reversible, and `sqlmigrate` shows the SQL a DBA would run by hand."""
    from io import StringIO

    from django.core.management import call_command

    from cartostup.core.migration_operations import GroupingStatistics

    operation = GroupingStatistics("reports_report", "test_map_groups", ["h3_r5", "status"])
    with connection.schema_editor() as editor:
        operation.database_forwards("reports", editor, None, None)
    assert _statistics("test_map_groups") == ["test_map_groups"]
    with connection.schema_editor() as editor:
        operation.database_backwards("reports", editor, None, None)
    assert _statistics("test_map_groups") == []
    out = StringIO()
    call_command("sqlmigrate", "reports", "0005", stdout=out)
    assert 'CREATE STATISTICS IF NOT EXISTS "reports_report_map_groups" (ndistinct)' in (
        out.getvalue()
    )


def test_grouping_statistics_deconstruct_to_themselves():
    """`squashmigrations` copies the operation from what it deconstructs to. (On SQLite it does
    nothing: every SQLite test database is migrated through it.)"""
    from cartostup.core.migration_operations import GroupingStatistics

    operation = GroupingStatistics("reports_report", "test_map_groups", ["h3_r5", "status"])
    name, args, kwargs = operation.deconstruct()
    assert (name, args) == ("GroupingStatistics", [])
    copy = GroupingStatistics(**kwargs)
    assert (copy.table, copy.name, copy.columns) == (
        "reports_report",
        "test_map_groups",
        ["h3_r5", "status"],
    )
