"""PostgreSQL: the planner's estimate of the map's groups of reports (see
`core.migration_operations.GroupingStatistics`)."""

from django.db import migrations

from cartostup.core.migration_operations import GroupingStatistics


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_report_message_random_key")]

    operations = [
        GroupingStatistics(
            "reports_report",
            "reports_report_map_groups",
            ["h3_r5", "h3_r7", "h3_r9", "departement_id", "commune_id", "status"],
        )
    ]
