"""Three foreign keys lose their own index: a composite index starting with the same column answers what it did (the
foreign key's checks, the lookups by it), and each index is written at every row version. A pathway's transition
moves its state (its row and, through the current-state trigger, its participant's row: one index less each); each
read of a participant's file writes an access row (one index less).
- participant.youth_agency: participant_agency_name_idx (youth_agency, last_name, first_name, id);
- pathway.participant: pathway_current_idx (participant, started_on DESC, id DESC);
- participantaccess.participant: access_participant_idx (participant, accessed_at DESC).

Only those three indexes are dropped, by the names Django gave them: the model state changes alone (Django's
AlterField would drop and add again each foreign key's constraint, checking every row with the tables locked, and
on PostgreSQL it also dropped the partial unique index `pathway_one_open_per_participant`, on the same column: a
first version of this migration did, migration 0032 makes it again where it is missing).
"""

import django.db.models.deletion
from django.db import migrations, models

KEYS = (
    ("parcours_participant", "youth_agency_id"),
    ("parcours_pathway", "participant_id"),
    ("parcours_participantaccess", "participant_id"),
)


def _name(schema_editor, table, column) -> str:
    return schema_editor.quote_name(schema_editor._create_index_name(table, [column], suffix=""))


def drop_indexes(apps, schema_editor):
    for table, column in KEYS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_name(schema_editor, table, column)}")


def create_indexes(apps, schema_editor):
    for table, column in KEYS:
        schema_editor.execute(f"CREATE INDEX {_name(schema_editor, table, column)} ON {table} ({column})")


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0030_work_tables_fewer_indexes"),
        ("roles", "0003_organisation_statements_and_buyer_kind"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="participant",
                    name="youth_agency",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="participants",
                        to="roles.organisation",
                        verbose_name="Mission Locale",
                    ),
                ),
                migrations.AlterField(
                    model_name="participantaccess",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="accesses",
                        to="parcours.participant",
                        verbose_name="participant·e",
                    ),
                ),
                migrations.AlterField(
                    model_name="pathway",
                    name="participant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pathways",
                        to="parcours.participant",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
