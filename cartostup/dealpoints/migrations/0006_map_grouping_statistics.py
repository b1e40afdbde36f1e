"""PostgreSQL: the planner's estimate of the map's groups of deal points (see
`core.migration_operations.GroupingStatistics`)."""

from django.db import migrations

from cartostup.core.migration_operations import GroupingStatistics


class Migration(migrations.Migration):
    dependencies = [("dealpoints", "0005_operation_cancelled")]

    operations = [
        GroupingStatistics(
            "dealpoints_dealpoint",
            "dealpoints_dealpoint_map_groups",
            ["h3_r5", "h3_r7", "h3_r9", "departement_id", "commune_id", "status"],
        )
    ]
