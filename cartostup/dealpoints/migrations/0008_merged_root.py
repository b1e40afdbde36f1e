"""A merged point names the point standing on its own at the end of its chain of merges
(2026-12-05): the map counts a merged point's operations as those of that one place. Before,
the operations recorded on a point later merged left the map's operations layer."""

import django.db.models.deletion
from django.db import migrations, models


def name_roots(apps, schema_editor):
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    into = dict(
        DealPoint.objects.filter(merged_into__isnull=False).values_list("pk", "merged_into_id")
    )
    roots: dict[int, list[int]] = {}
    for pk in into:
        root, seen = into[pk], {pk}
        while root in into and root not in seen:
            seen.add(root)
            root = into[root]
        roots.setdefault(root, []).append(pk)
    for root, points in roots.items():
        DealPoint.objects.filter(pk__in=points).update(merged_root=root)


class Migration(migrations.Migration):
    dependencies = [
        ("dealpoints", "0007_imported_dates"),
    ]

    operations = [
        migrations.AddField(
            model_name="dealpoint",
            name="merged_root",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="dealpoints.dealpoint",
            ),
        ),
        migrations.RunPython(name_roots, migrations.RunPython.noop),
    ]
