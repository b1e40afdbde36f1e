"""A report is attached to one point at most (defects of merge and undo merge, 2026-12-04).

A merged point used to keep its attached links beside the copies given to the point it was
merged into: they are now lent (decision "merged"). Reports still attached to two points (a
merge undone out of order) keep their most recent attachment; the others become refused, and
the point each report leaves says so in its history. Then the constraint holds."""

from datetime import datetime

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, F, Max, Min
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
    left: set[int] = set()
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
            left.add(link.dealpoint_id)
    # The points that lost a report: their first and last report (and activity) again, from
    # the reports still attached (as `services._refresh_activity`; operations count for the
    # activity, never for the last report).
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    Operation = apps.get_model("dealpoints", "Operation")
    for point in DealPoint.objects.filter(pk__in=left):
        dates = ReportLink.objects.filter(dealpoint=point, decision__in=ATTACHED).aggregate(
            first=Min("report__received_at"), last=Max("report__received_at")
        )
        point.first_reported_at = dates["first"] or point.first_reported_at
        point.last_reported_at = dates["last"] or point.last_reported_at
        moments = [dates["last"]] if dates["last"] else []
        operated = Operation.objects.filter(dealpoint=point).aggregate(last=Max("occurred_on"))
        if operated["last"] is not None:
            moments.append(
                timezone.make_aware(datetime.combine(operated["last"], datetime.min.time()))
            )
        point.last_activity_at = max(moments) if moments else point.last_activity_at
        point.save(update_fields=["first_reported_at", "last_reported_at", "last_activity_at"])


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
