"""Migration operations shared by the apps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.migrations.operations.base import Operation


class GroupingStatistics(Operation):
    """On PostgreSQL, extended statistics (ndistinct) on the columns the map groups a table
    by (H3 cells, département, commune, status). Without them the planner multiplies the
    columns' distinct counts, expects a hundred thousand groups where there are a few
    thousand, and sorts a million reports on disk instead of hashing them: 0.8 s instead of
    0.3 s for the national reports layer (docs/benchmarks.md). SQLite has no such statistics:
    nothing to do there. An operation of its own, not RunPython: `sqlmigrate` shows its SQL
    and `squashmigrations` can copy it. The migration's user must own the table (as in
    docs/deployment.md)."""

    reversible = True

    def __init__(self, table: str, name: str, columns: Sequence[str]) -> None:
        self.table = table
        self.name = name
        self.columns = list(columns)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [],
            {"table": self.table, "name": self.name, "columns": self.columns},
        )

    def state_forwards(self, app_label: str, state: Any) -> None:
        """Statistics are no part of the models' state."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        columns = ", ".join(schema_editor.quote_name(column) for column in self.columns)
        table = schema_editor.quote_name(self.table)
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {schema_editor.quote_name(self.name)} "
            f"(ndistinct) ON {columns} FROM {table}"
        )
        schema_editor.execute(f"ANALYZE {table}")

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"DROP STATISTICS IF EXISTS {schema_editor.quote_name(self.name)}"
            )

    def describe(self) -> str:
        return f"PostgreSQL statistics {self.name} on the map's grouping columns of {self.table}"

    @property
    def migration_name_fragment(self) -> str:
        return self.name
