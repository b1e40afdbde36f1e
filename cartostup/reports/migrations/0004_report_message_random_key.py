"""Report messages: a random key (UUID) instead of a number shared by all reports, and a rank
within each report's thread (`sequence`) for their order. Existing messages keep their order:
they are ranked by their old number within their report, then the number is dropped. Not
reversible."""

import uuid

from django.db import migrations, models


def rank_messages(apps, schema_editor):
    ReportMessage = apps.get_model("reports", "ReportMessage")
    ranks: dict[int, int] = {}
    for message in ReportMessage.objects.order_by("report_id", "id").only("id", "report_id"):
        ranks[message.report_id] = ranks.get(message.report_id, 0) + 1
        ReportMessage.objects.filter(pk=message.pk).update(
            key=uuid.uuid4(), sequence=ranks[message.report_id]
        )


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_report_h3_parents")]

    operations = [
        migrations.AddField(
            model_name="reportmessage",
            name="key",
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.AddField(
            model_name="reportmessage",
            name="sequence",
            field=models.PositiveIntegerField(null=True, editable=False),
        ),
        # Irreversible: the old numbers are gone, and new ones in a thread's order would again
        # be shared across reports.
        migrations.RunPython(rank_messages),
        migrations.RemoveField(model_name="reportmessage", name="id"),
        migrations.AlterField(
            model_name="reportmessage",
            name="key",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, primary_key=True, serialize=False
            ),
        ),
        migrations.RenameField(model_name="reportmessage", old_name="key", new_name="id"),
        migrations.AlterField(
            model_name="reportmessage",
            name="sequence",
            field=models.PositiveIntegerField(editable=False, verbose_name="rang dans l'échange"),
        ),
        migrations.AlterModelOptions(
            name="reportmessage",
            options={
                "ordering": ["report", "sequence"],
                "verbose_name": "message",
                "verbose_name_plural": "messages",
            },
        ),
        migrations.AddConstraint(
            model_name="reportmessage",
            constraint=models.UniqueConstraint(
                fields=("report", "sequence"), name="report_message_sequence_unique"
            ),
        ),
    ]
