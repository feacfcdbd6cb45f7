"""Each journal insert maintained two identical indexes on (object_type, object_id, sequence) — the unique constraint
and `journal_object_idx` — and, on PostgreSQL, a LIKE index on the random `hash` that no query uses. One of each
is kept: the unique constraints."""

from django.db import migrations, models


def install_triggers(apps, schema_editor):
    # SQLite rebuilds the table to change a column or a constraint, and the append-only triggers go with the old one.
    from workflows import append_only

    append_only.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_work_layer_moved_to_parcours"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="journalevent",
            name="journal_object_idx",
        ),
        migrations.AlterField(
            model_name="journalevent",
            name="hash",
            field=models.CharField(max_length=64, verbose_name="empreinte"),
        ),
        migrations.AddConstraint(
            model_name="journalevent",
            constraint=models.UniqueConstraint(fields=("hash",), name="journal_unique_hash"),
        ),
        migrations.RunPython(install_triggers, install_triggers),
    ]
