"""What an imported map said of a point (its first report and last activity) is kept apart
from the dates recomputed from its reports and operations (2026-12-05): a report attached to an
imported point used to replace the file's first report, and an operation cancelled on a point
with no report left its date as the last activity.

For the points imported before, the file's dates are known only where nothing has changed them
since: no report ever attached, detached or lent, no merge or split (their history says so),
and, for the activity, no operation."""

from django.db import migrations, models
from django.db.models import Exists, OuterRef

HELD = ("automatic", "confirmed", "merged")
# History entries of changes that recomputed a point's dates from its reports.
REPORTED = ("report_attached", "report_detached", "merged", "unmerged", "split")


def keep_imported_dates(apps, schema_editor):
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    DealPointEvent = apps.get_model("dealpoints", "DealPointEvent")
    ReportLink = apps.get_model("dealpoints", "ReportLink")
    Operation = apps.get_model("dealpoints", "Operation")
    untouched = (
        DealPoint.objects.filter(
            Exists(DealPointEvent.objects.filter(dealpoint=OuterRef("pk"), kind="imported")),
        )
        .exclude(Exists(ReportLink.objects.filter(dealpoint=OuterRef("pk"), decision__in=HELD)))
        .exclude(
            Exists(DealPointEvent.objects.filter(dealpoint=OuterRef("pk"), kind__in=REPORTED))
        )
    )
    untouched.update(imported_first_reported_at=models.F("first_reported_at"))
    untouched.exclude(Exists(Operation.objects.filter(dealpoint=OuterRef("pk")))).update(
        imported_last_activity_at=models.F("last_activity_at")
    )


class Migration(migrations.Migration):

    dependencies = [
        ("dealpoints", "0006_map_grouping_statistics"),
    ]

    operations = [
        migrations.AddField(
            model_name="dealpoint",
            name="imported_first_reported_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="premier signalement selon la carte importée"
            ),
        ),
        migrations.AddField(
            model_name="dealpoint",
            name="imported_last_activity_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="dernière activité selon la carte importée"
            ),
        ),
        migrations.RunPython(keep_imported_dates, migrations.RunPython.noop),
    ]
