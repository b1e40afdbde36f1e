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
