"""A referral and a placement carry their pathway's participant (`participant_id`), the Mission Locale's scope: a list
of a Mission Locale's referrals no longer goes through the pathways (two index probes per young person, 20 ms for a
Mission Locale of 5,000 young people at 1,000,000 pathways). Copied from the pathways here; on PostgreSQL a foreign key
(pathway, participant) to the pathway's (id, participant) holds each copy to its pathway's, as the hours lines' lot is
held to their placement's (0028). On SQLite (the demo) triggers hold it, installed after `migrate`
(parcours.participant_copy)."""

from django.db import migrations, models

KEYS = {
    "parcours_referral": "referral_participant_of_its_pathway",
    "parcours_placement": "placement_participant_of_its_pathway",
}


COPY = [
    f"UPDATE {table} SET participant_id = "
    f"(SELECT p.participant_id FROM parcours_pathway p WHERE p.id = {table}.pathway_id)"
    for table in KEYS
]


def copy_participants(apps, schema_editor):
    for statement in COPY:
        schema_editor.execute(statement)


def add_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, key in KEYS.items():
        schema_editor.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {key} FOREIGN KEY (pathway_id, participant_id) "
            "REFERENCES parcours_pathway (id, participant_id)"
        )
        schema_editor.execute(f"ANALYZE {table}")


def drop_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, key in KEYS.items():
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {key}")


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0036_grant_groups_counted"),
    ]

    operations = [
        migrations.AddField(
            model_name="referral",
            name="participant_id",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="placement",
            name="participant_id",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(copy_participants, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="referral",
            name="participant_id",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AlterField(
            model_name="placement",
            name="participant_id",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="pathway",
            constraint=models.UniqueConstraint(fields=("id", "participant"), name="pathway_id_participant_key"),
        ),
        migrations.AddIndex(
            model_name="referral",
            index=models.Index(fields=["participant_id", "id"], name="referral_participant_idx"),
        ),
        migrations.AddIndex(
            model_name="placement",
            index=models.Index(fields=["participant_id", "id"], name="placement_participant_idx"),
        ),
        migrations.RunPython(add_keys, drop_keys, elidable=False),
    ]
