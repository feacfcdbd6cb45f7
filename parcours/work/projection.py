"""The work task's copy of viewflow's task status and owner, kept in step by the database.

Viewflow changes a task's status and owner in many places (activations, assignment, cancellation, undo); a trigger
on its table is the one place that sees them all, in the same transaction, whatever code path made the change.
`WorkTask.status` / `owner_id` then let inboxes and queues read open tasks through partial indexes.
"""

TASK_TABLE = "viewflow_task"
WORK_TASK_TABLE = "workflows_worktask"
TRIGGER = "viewflow_task_to_worktask"

_COPY = f"UPDATE {WORK_TASK_TABLE} SET status = NEW.status, owner_id = NEW.owner_id WHERE task_id = NEW.id"
# A statement that wrote the work task's copy itself (a task's close: parcours/work/driver.py) leaves it in step:
# then no second version of the row is written, nor its index entries.
_COPY_UNLESS_IN_STEP = f"{_COPY} AND (status IS DISTINCT FROM NEW.status OR owner_id IS DISTINCT FROM NEW.owner_id)"

_POSTGRESQL = [
    f"""
CREATE OR REPLACE FUNCTION parcours_worktask_follows_task() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status OR NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
        {_COPY_UNLESS_IN_STEP};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
""",
    f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF status, owner_id ON {TASK_TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION parcours_worktask_follows_task()",
]
SQLITE = [
    f"CREATE TRIGGER {TRIGGER} AFTER UPDATE OF status, owner_id ON {TASK_TABLE} FOR EACH ROW "
    f"WHEN NEW.status IS NOT OLD.status OR NEW.owner_id IS NOT OLD.owner_id BEGIN {_COPY}; END",
]
BACKFILL = (
    f"UPDATE {WORK_TASK_TABLE} SET status = (SELECT t.status FROM {TASK_TABLE} t WHERE t.id = task_id), "
    f"owner_id = (SELECT t.owner_id FROM {TASK_TABLE} t WHERE t.id = task_id)"
)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": _POSTGRESQL, "sqlite": SQLITE}.get(vendor, []):
        schema_editor.execute(statement)
    schema_editor.execute(BACKFILL)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TASK_TABLE}")
        schema_editor.execute("DROP FUNCTION IF EXISTS parcours_worktask_follows_task()")
    elif vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
