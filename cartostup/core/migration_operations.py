"""Migration operations shared by the apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import migrations


def grouping_statistics(table: str, name: str, columns: Sequence[str]) -> migrations.RunPython:
    """On PostgreSQL, extended statistics (ndistinct) on the columns the map groups a table
    by (H3 cells, département, commune, status). Without them the planner multiplies the
    columns' distinct counts, expects a hundred thousand groups where there are a few
    thousand, and sorts a million reports on disk instead of hashing them: 0.8 s instead of
    0.3 s for the national reports layer (docs/benchmarks.md). SQLite has no such statistics:
    nothing to do there."""
    listed = ", ".join(columns)

    def create(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} (ndistinct) ON {listed} FROM {table}"
        )
        schema_editor.execute(f"ANALYZE {table}")

    def drop(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")

    return migrations.RunPython(create, drop)
