"""The parents of each point's (and proposal's) res 9 cell along H3's hierarchy
(`models.H3Cells.h3_p5`, `h3_p7`), so that the map of a role that only counts groups by them
at the wide zooms (2026-12-06, docs/benchmarks.md); with PostgreSQL statistics on them, as on
the other grouping columns (`0006`)."""

import h3
from django.db import migrations, models

from cartostup.core.migration_operations import GroupingStatistics


def parents_filled(apps, schema_editor):
    for name in ("DealPoint", "Proposal"):
        model = apps.get_model("dealpoints", name)
        # One UPDATE per distinct res 9 cell: a département's points share few thousands.
        cells = model.objects.exclude(h3_r9="").values_list("h3_r9", flat=True).distinct()
        for cell in list(cells.order_by()):
            model.objects.filter(h3_r9=cell).update(
                h3_p5=h3.cell_to_parent(cell, 5), h3_p7=h3.cell_to_parent(cell, 7)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("dealpoints", "0009_lists_once"),
    ]

    operations = [
        migrations.AddField(
            model_name="dealpoint",
            name="h3_p5",
            field=models.CharField(default="", editable=False, max_length=16),
        ),
        migrations.AddField(
            model_name="dealpoint",
            name="h3_p7",
            field=models.CharField(default="", editable=False, max_length=16),
        ),
        migrations.AddField(
            model_name="proposal",
            name="h3_p5",
            field=models.CharField(default="", editable=False, max_length=16),
        ),
        migrations.AddField(
            model_name="proposal",
            name="h3_p7",
            field=models.CharField(default="", editable=False, max_length=16),
        ),
        migrations.RunPython(parents_filled, migrations.RunPython.noop),
        GroupingStatistics(
            "dealpoints_dealpoint",
            "dealpoints_dealpoint_parent_groups",
            ["h3_p5", "h3_p7", "departement_id", "commune_id", "status"],
        ),
    ]
