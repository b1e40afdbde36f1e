"""A report is attached to one point at most (defects of merge and undo merge, 2026-12-04).

A merged point used to keep its attached links beside the copies given to the point it was
merged into: they are now lent (decision "merged"). Reports still attached to two points (a
merge undone out of order) keep their most recent attachment; the others become refused, and
the point each report leaves says so in its history. Then the constraint holds."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F
from django.utils import timezone

ATTACHED = ("automatic", "confirmed")


def lend_and_resolve(apps, schema_editor):
    ReportLink = apps.get_model("dealpoints", "ReportLink")
    DealPointEvent = apps.get_model("dealpoints", "DealPointEvent")
    ReportLink.objects.filter(decision__in=ATTACHED, dealpoint__merged_into__isnull=False).update(
        decision="merged"
    )
    twice = (
        ReportLink.objects.filter(decision__in=ATTACHED)
        .values("report")
        .annotate(count=Count("pk"))
        .filter(count__gt=1)
        .values_list("report", flat=True)
    )
    now = timezone.now()
    for report_id in list(twice):
        links = list(
            ReportLink.objects.filter(report_id=report_id, decision__in=ATTACHED)
            .select_related("report", "dealpoint")
            # NULLs last on both databases (PostgreSQL puts them first in a descending order).
            .order_by(F("decided_at").desc(nulls_last=True), "-created_at", "-pk")
        )
        kept = links[0]
        for link in links[1:]:
            was = link.decision
            link.decision = "rejected"
            link.decided_at = now
            link.save(update_fields=["decision", "decided_at"])
            DealPointEvent.objects.create(
                dealpoint=link.dealpoint,
                kind="report_detached",
                occurred_at=now,
                details={
                    "report": link.report.reference,
                    "was": was,
                    "moved_to": kept.dealpoint.reference,
                },
                note="Rattaché à deux points à la fois : reste au plus récent.",
            )


class Migration(migrations.Migration):

    dependencies = [
        ("dealpoints", "0003_dealpoint_last_reported_at"),
        ("reports", "0003_report_h3_parents"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="reportlink",
            name="decision",
            field=models.CharField(
                choices=[
                    ("automatic", "Rattaché automatiquement"),
                    ("proposed", "Proposé à l'analyste"),
                    ("confirmed", "Rattaché par un analyste"),
                    ("rejected", "Écarté par un analyste"),
                    ("merged", "Passé au point de fusion"),
                ],
                max_length=10,
                verbose_name="décision",
            ),
        ),
        migrations.RunPython(lend_and_resolve, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="reportlink",
            constraint=models.UniqueConstraint(
                condition=models.Q(("decision__in", ["automatic", "confirmed"])),
                fields=("report",),
                name="one_attachment_per_report",
            ),
        ),
    ]
