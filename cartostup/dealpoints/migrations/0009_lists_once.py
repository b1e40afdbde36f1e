"""A point's lists (products, opening hours, observed roles) hold each value once (2026-12-05):
a PATCH stored repeated values as sent; the API now stores them once, and the points stored
before are mended here (an edit of another field would otherwise record a change of these
lists, which look the same on both sides)."""

from django.db import migrations

LISTS = ("products", "opening_hours", "observed_roles")


def lists_once(apps, schema_editor):
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    for point in DealPoint.objects.only("pk", *LISTS).iterator(chunk_size=2000):
        changed = {
            name: list(dict.fromkeys(getattr(point, name)))
            for name in LISTS
            if len(set(map(str, getattr(point, name)))) != len(getattr(point, name))
        }
        if changed:
            DealPoint.objects.filter(pk=point.pk).update(**changed)


class Migration(migrations.Migration):
    dependencies = [
        ("dealpoints", "0008_merged_root"),
    ]

    operations = [migrations.RunPython(lists_once, migrations.RunPython.noop)]
