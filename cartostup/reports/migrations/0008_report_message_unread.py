# A reporter's message on a report already triaged was seen only by opening the report: the
# flag says it, until an analyst who may triage it opens it. Reports whose last message is the
# reporter's are flagged, since whether it was read is not known.

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def flag_last_replies(apps, schema_editor):
    Report = apps.get_model("reports", "Report")
    ReportMessage = apps.get_model("reports", "ReportMessage")
    last_author = ReportMessage.objects.filter(report=OuterRef("pk")).order_by("-sequence")
    Report.objects.annotate(last_author=Subquery(last_author.values("author")[:1])).filter(
        last_author="reporter"
    ).update(message_unread=True)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0007_report_placed_by_analyst"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="message_unread",
            field=models.BooleanField(
                db_index=True, default=False, verbose_name="message du signalant non lu"
            ),
        ),
        migrations.RunPython(flag_last_replies, migrations.RunPython.noop),
    ]
