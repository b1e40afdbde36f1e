# A proposal that falls when its report is attached to another point is withdrawn, no longer
# stored as refused by an analyst: the report back in the matching may be proposed there again.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dealpoints', '0010_h3_parents'),
    ]

    operations = [
        migrations.AlterField(
            model_name='reportlink',
            name='decision',
            field=models.CharField(choices=[('automatic', 'Rattaché automatiquement'), ('proposed', "Proposé à l'analyste"), ('confirmed', 'Rattaché par un analyste'), ('rejected', 'Écarté par un analyste'), ('withdrawn', 'Proposition retirée (rattaché à un autre point)'), ('merged', 'Passé au point de fusion')], max_length=10, verbose_name='décision'),
        ),
    ]
