"""A lot's placements by id from one index (lot, id); it replaces the lot's own index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0020_pathway_tally"),
    ]

    operations = [
        # The new index first: the lot's lookups always have one.
        migrations.AddIndex(
            model_name="placement",
            index=models.Index(fields=["lot", "id"], name="placement_lot_id_idx"),
        ),
        migrations.AlterField(
            model_name="placement",
            name="lot",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="placements",
                to="parcours.contractlot",
            ),
        ),
    ]
