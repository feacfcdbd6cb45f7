"""An hours line's lot is its placement's, held by PostgreSQL: a foreign key (placement, lot) to the placement's
(id, lot). The line's lot is its scope (HoursLine.SCOPE_PATHS): a wrong one would show the line to another
facilitation organisation. SQLite (the demo) has no such key: the service writing the lines is the only writer."""

from django.db import migrations, models

CONSTRAINT = "hoursline_lot_of_its_placement"


def add_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE parcours_hoursline ADD CONSTRAINT {CONSTRAINT} FOREIGN KEY (placement_id, lot_id) "
            "REFERENCES parcours_placement (id, lot_id)"
        )


def drop_key(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE parcours_hoursline DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0027_pathway_facilitation_wait_idx"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="placement",
            constraint=models.UniqueConstraint(fields=("id", "lot"), name="placement_id_lot_key"),
        ),
        migrations.RunPython(add_key, drop_key, elidable=False),
    ]
