"""The last report attached to each point: the activity a landlord is told (by its week),
never an operation. Existing points take the time of their last attached report."""

from django.db import migrations, models
from django.db.models import Max

ATTACHED = ("automatic", "confirmed")


def fill(apps, schema_editor):
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    ReportLink = apps.get_model("dealpoints", "ReportLink")
    lasts = (
        ReportLink.objects.filter(decision__in=ATTACHED)
        .values("dealpoint")
        .annotate(last=Max("report__received_at"))
    )
    for row in lasts.iterator():
        DealPoint.objects.filter(pk=row["dealpoint"]).update(last_reported_at=row["last"])


class Migration(migrations.Migration):
    dependencies = [("dealpoints", "0002_dealpoint_partner_code")]

    operations = [
        migrations.AddField(
            model_name="dealpoint",
            name="last_reported_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="dernier signalement"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
