"""A point's lists (products, opening hours, observed roles) are kept in their choices' order
(2026-12-07): the form sent the ticked boxes in its own order, and an untouched save wrote
« Gérant, Vendeurs → Vendeurs, Gérant » to the history. The points stored before in another
order are put in order here, as the services now keep them (`choices.list_in_order`)."""

from django.db import migrations

from cartostup.dealpoints.choices import list_in_order

LISTS = ("products", "opening_hours", "observed_roles")


def lists_in_order(apps, schema_editor):
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    for point in DealPoint.objects.only("pk", *LISTS).iterator(chunk_size=2000):
        changed = {
            name: list_in_order(name, getattr(point, name))
            for name in LISTS
            if list_in_order(name, getattr(point, name)) != getattr(point, name)
        }
        if changed:
            DealPoint.objects.filter(pk=point.pk).update(**changed)


class Migration(migrations.Migration):
    dependencies = [
        ("dealpoints", "0011_link_withdrawn"),
    ]

    operations = [migrations.RunPython(lists_in_order, migrations.RunPython.noop)]
