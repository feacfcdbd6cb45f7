import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("parcours", "0010_default_counting_rules")]
    operations = [
        migrations.AlterField(
            model_name="contractlot",
            name="counting_rules",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lots",
                to="parcours.countingruleset",
                verbose_name="règles de comptage",
            ),
        ),
    ]
