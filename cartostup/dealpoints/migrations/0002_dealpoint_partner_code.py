"""The partner code: what a landlord is told of a point instead of its reference and id.
Existing points each get their own random code before the column becomes unique."""

from django.db import migrations, models

import cartostup.dealpoints.models


def fill_codes(apps, schema_editor):
    DealPoint = apps.get_model("dealpoints", "DealPoint")
    used: set[str] = set()
    for point in DealPoint.objects.only("pk").order_by("pk").iterator():
        code = cartostup.dealpoints.models.new_partner_code()
        while code in used:
            code = cartostup.dealpoints.models.new_partner_code()
        used.add(code)
        DealPoint.objects.filter(pk=point.pk).update(partner_code=code)


class Migration(migrations.Migration):
    dependencies = [("dealpoints", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="dealpoint",
            name="partner_code",
            field=models.CharField(editable=False, max_length=11, null=True),
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="dealpoint",
            name="partner_code",
            field=models.CharField(
                default=cartostup.dealpoints.models.new_partner_code,
                editable=False,
                help_text="Ce que le bailleur connaît du point à la place de sa référence.",
                max_length=11,
                unique=True,
                verbose_name="code partenaire",
            ),
        ),
    ]
