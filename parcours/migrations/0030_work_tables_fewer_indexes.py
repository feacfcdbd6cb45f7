"""The work tables keep the indexes something reads: each index is written again at every task row written.

A referral's acceptance inserts four viewflow tasks and their links, closes one task and disarms two timers; each of
these row versions went into the twelve indexes viewflow's migrations give `viewflow_task` (a task's status is
indexed, so no update of a task is HOT). Nothing in Parcours reads tasks by status alone, creation date, external id
or content type: inboxes and queues read `workflows_worktask`'s partial indexes, a process's tasks are read by
`process_id`, and the timer sweep (viewflow.workflow.timers.fire_due_timers: scheduled TIMER tasks due now, oldest
first) gets a partial index of its own. The owner is indexed where there is one (the user foreign key's checks).
The updates stay non-HOT (a partial index's condition names the status): each row version now goes into 2 or 3
indexes instead of 12 (the key and `process_id`, and the owner's or the due timers' when it has one).

A task's close writes its work task's status and owner copies with its other columns (parcours/work/driver.py); the
trigger keeping them in step (parcours/work/projection.py) then leaves the row as it is instead of writing it again.

The new indexes are built first (reads of the tasks go on meanwhile, their writes wait), the old ones dropped last:
their drop locks the tables until the commit, which follows at once. Only indexes are dropped: no foreign key is
dropped and added again, no table is copied. Run it with the writers stopped (docs/deploy.md): the build's lock,
then the drop's, taken by one transaction, could otherwise meet a transaction holding the other.

viewflow's model state still declares the dropped indexes (its models are not ours to change): a future viewflow
migration altering one of these fields would have to be preceded by a migration putting the index back.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# (table, index, column, PostgreSQL only): the indexes viewflow's migrations made, dropped here, put back on reverse.
DROPPED = (
    ("viewflow_task", "viewflow_task_status_ffb4516b", "status", False),
    ("viewflow_task", "viewflow_task_status_ffb4516b_like", "status varchar_pattern_ops", True),
    ("viewflow_task", "viewflow_task_created_7518aa4b", "created", False),
    ("viewflow_task", "viewflow_task_scheduled_bbd49899", "scheduled", False),
    ("viewflow_task", "viewflow_task_external_task_id_2f93bc2f", "external_task_id", False),
    ("viewflow_task", "viewflow_task_external_task_id_2f93bc2f_like", "external_task_id varchar_pattern_ops", True),
    (
        "viewflow_task",
        "viewflow_task_owner_permission_content_type_id_5fc72a99",
        "owner_permission_content_type_id",
        False,
    ),
    ("viewflow_task", "viewflow_task_artifact_content_type_id_50385e8d", "artifact_content_type_id", False),
    ("viewflow_task", "viewflow_task_seed_content_type_id_bed3f17b", "seed_content_type_id", False),
    ("viewflow_task", "viewflow_task_owner_id_01b087bd", "owner_id", False),
    # The unique (from_task_id, to_task_id) index starts with it.
    ("viewflow_task_previous", "viewflow_task_previous_from_task_id_da5536f6", "from_task_id", False),
)
ADDED = (
    "CREATE INDEX viewflow_task_due_timer_idx ON viewflow_task (scheduled) "
    "WHERE flow_task_type = 'TIMER' AND status = 'SCHEDULED'",
    "CREATE INDEX viewflow_task_owned_idx ON viewflow_task (owner_id) WHERE owner_id IS NOT NULL",
)

# The trigger's function (a migration keeps its own copy): before, and as this migration writes it.
COPY = "UPDATE workflows_worktask SET status = NEW.status, owner_id = NEW.owner_id WHERE task_id = NEW.id"
FUNCTION = """
CREATE OR REPLACE FUNCTION parcours_worktask_follows_task() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status OR NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        {copy};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""
IN_STEP = " AND (status IS DISTINCT FROM NEW.status OR owner_id IS DISTINCT FROM NEW.owner_id)"


def _added_name(statement) -> str:
    return statement.split()[2]


def add_indexes(apps, schema_editor):
    for statement in ADDED:
        schema_editor.execute(statement)


def drop_added_indexes(apps, schema_editor):
    for statement in ADDED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_added_name(statement)}")


def _single_column_indexes(connection, table, column) -> list:
    """The plain indexes of `table` on `column` alone, whatever their names (and, on PostgreSQL, operator classes)."""
    kept = {_added_name(statement) for statement in ADDED}
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, c in constraints.items()
        if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column] and name not in kept
    ]


# The work task's foreign keys whose own index goes (the model state says db_index=False): only the index, by the
# name Django gave it (its constraint, checked by PostgreSQL, stays as it is).
WORK_TASK_KEYS = ("done_by_id", "owner_id")


def _foreign_key_index(schema_editor, table, column) -> str:
    return schema_editor._create_index_name(table, [column], suffix="")


def drop_work_task_key_indexes(apps, schema_editor):
    for column in WORK_TASK_KEYS:
        index = _foreign_key_index(schema_editor, "workflows_worktask", column)
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(index)}")


def create_work_task_key_indexes(apps, schema_editor):
    for column in WORK_TASK_KEYS:
        index = _foreign_key_index(schema_editor, "workflows_worktask", column)
        schema_editor.execute(f"CREATE INDEX {schema_editor.quote_name(index)} ON workflows_worktask ({column})")


def forward(apps, schema_editor):
    connection = schema_editor.connection
    for table, column in dict.fromkeys((table, column.split()[0]) for table, _, column, _ in DROPPED):
        for index in _single_column_indexes(connection, table, column):
            schema_editor.execute(f"DROP INDEX {connection.ops.quote_name(index)}")
    if connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION.format(copy=COPY + IN_STEP))


def backward(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(FUNCTION.format(copy=COPY))
    for table, index, column, postgresql_only in DROPPED:
        if postgresql or not postgresql_only:
            schema_editor.execute(f"CREATE INDEX {index} ON {table} ({column})")


class Migration(migrations.Migration):
    dependencies = [
        ("parcours", "0029_current_state_trigger_plans_once"),
        ("viewflow", "0015_task_scheduled"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(add_indexes, drop_added_indexes),
        # The model state only: Django's AlterField would drop and add again the foreign key's constraint (checking
        # every row, the user table locked meanwhile) and, on SQLite, copy the whole table.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="worktask",
                    name="done_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="réalisée par",
                    ),
                ),
                migrations.AlterField(
                    model_name="worktask",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="attribuée à",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_work_task_key_indexes, create_work_task_key_indexes)],
        ),
        migrations.RunPython(forward, backward),
    ]
