# Reports placed by an analyst from their address (`services.report_place`) are told apart
# from reports pinned by their reporter, so that a wrong placing can be corrected.

from django.db import migrations, models


def placed_before(apps, schema_editor):
    """The reports an analyst placed before this column existed: their placing's audit event
    says so (`details.placed`)."""
    AuditEvent = apps.get_model("core", "AuditEvent")
    Report = apps.get_model("reports", "Report")
    ids = {
        int(value)
        for value in AuditEvent.objects.filter(
            object_type="reports.report", details__has_key="placed"
        ).values_list("object_id", flat=True)
        if value.isdigit()
    }
    if ids:
        Report.objects.filter(pk__in=ids, placed_at_commune=False).update(placed_by_analyst=True)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_audit_refused"),
        ("reports", "0006_report_placed_at_commune"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="placed_by_analyst",
            field=models.BooleanField(default=False, verbose_name="placé par un analyste"),
        ),
        migrations.RunPython(placed_before, migrations.RunPython.noop),
    ]
