"""PostgreSQL: the planner's estimate of the map's groups of deal points (see
`core.migration_operations.grouping_statistics`)."""

from django.db import migrations

from cartostup.core.migration_operations import grouping_statistics


class Migration(migrations.Migration):
    dependencies = [("dealpoints", "0005_operation_cancelled")]

    operations = [
        grouping_statistics(
            "dealpoints_dealpoint",
            "dealpoints_dealpoint_map_groups",
            ["h3_r5", "h3_r7", "h3_r9", "departement_id", "commune_id", "status"],
        )
    ]
