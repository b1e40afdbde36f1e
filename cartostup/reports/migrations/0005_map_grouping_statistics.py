"""PostgreSQL: the planner's estimate of the map's groups of reports (see
`core.migration_operations.grouping_statistics`)."""

from django.db import migrations

from cartostup.core.migration_operations import grouping_statistics


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_report_message_random_key")]

    operations = [
        grouping_statistics(
            "reports_report",
            "reports_report_map_groups",
            ["h3_r5", "h3_r7", "h3_r9", "departement_id", "commune_id", "status"],
        )
    ]
