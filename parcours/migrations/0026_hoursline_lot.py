"""Hours lines carry their placement's lot: a facilitator's lines are then read by lot (HoursLine.SCOPE_PATHS)."""

import django.db.models.deletion
from django.db import migrations, models

# Portable (PostgreSQL, SQLite). At 1,000,000 pathways (3.5 million lines), about a minute on PostgreSQL.
BACKFILL = """
UPDATE parcours_hoursline
SET lot_id = (SELECT p.lot_id FROM parcours_placement p WHERE p.id = parcours_hoursline.placement_id)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0025_participant_current_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="hoursline",
            name="lot",
            field=models.ForeignKey(
                null=True,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="parcours.contractlot",
                db_index=False,
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop, elidable=False),
        migrations.AlterField(
            model_name="hoursline",
            name="lot",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="parcours.contractlot",
                db_index=False,
            ),
        ),
        migrations.AddIndex(
            model_name="hoursline",
            index=models.Index(fields=["lot", "state"], name="hoursline_lot_state_idx"),
        ),
        migrations.AddIndex(
            model_name="hoursline",
            index=models.Index(
                fields=["lot", "-month", "-id"],
                condition=models.Q(("state", "declared")),
                name="hoursline_lot_declared_idx",
            ),
        ),
    ]
