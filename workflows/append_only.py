"""Database triggers that make the journal append-only, on PostgreSQL and on SQLite.

- journal events and checkpoints: UPDATE, DELETE (and TRUNCATE on PostgreSQL) are refused;
- reasons: DELETE is refused, and UPDATE only erases (text emptied, erased_at set), never rewrites.

On PostgreSQL, the table owner can still disable a trigger: production runs the application under a role that does
not own these tables (docs/deploy.md, `manage.py check --deploy`), and `verify_journal` reports a missing or
disabled trigger. The migrations install them; the tests lift them around a flush only.
"""

EVENT_TABLE = "workflows_journalevent"
REASON_TABLE = "workflows_journalreason"
CHECKPOINT_TABLE = "workflows_journalcheckpoint"
SEALED_TABLES = (EVENT_TABLE, CHECKPOINT_TABLE)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION workflows_journal_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION workflows_journal_reason_erase_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.event_id = OLD.event_id AND NEW.text = '' AND NEW.erased_at IS NOT NULL
       AND OLD.erased_at IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% only erases reasons (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def trigger_names(table):
    if table == REASON_TABLE:
        return [f"{table}_erase_only", f"{table}_no_delete", f"{table}_no_truncate"]
    return [f"{table}_no_update", f"{table}_no_delete", f"{table}_no_truncate"]


def _postgresql(table):
    update, delete, truncate = trigger_names(table)
    if table == REASON_TABLE:
        return [
            f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION workflows_journal_reason_erase_only()",
            f"CREATE TRIGGER {delete} BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION workflows_journal_append_only()",
            f"CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION workflows_journal_append_only()",
        ]
    return [
        f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION workflows_journal_append_only()",
        f"CREATE TRIGGER {delete} BEFORE DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION workflows_journal_append_only()",
        f"CREATE TRIGGER {truncate} BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION workflows_journal_append_only()",
    ]


def _sqlite(table):
    update, delete, _ = trigger_names(table)
    if table == REASON_TABLE:
        return [
            f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} "
            "WHEN NOT (NEW.event_id = OLD.event_id AND NEW.text = '' AND NEW.erased_at IS NOT NULL "
            "AND OLD.erased_at IS NULL) "
            f"BEGIN SELECT RAISE(ABORT, '{table} only erases reasons'); END",
            f"CREATE TRIGGER {delete} BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    return [
        f"CREATE TRIGGER {update} BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {delete} BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


TABLES = (EVENT_TABLE, REASON_TABLE, CHECKPOINT_TABLE)


def install(connection):
    """Create the triggers (idempotent: existing ones are replaced)."""
    remove(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in TABLES:
                for statement in _postgresql(table):
                    cursor.execute(statement)
        elif connection.vendor == "sqlite":
            for table in TABLES:
                for statement in _sqlite(table):
                    cursor.execute(statement)


def remove(connection):
    with connection.cursor() as cursor:
        for table in TABLES:
            for name in trigger_names(table):
                if connection.vendor == "postgresql":
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                elif connection.vendor == "sqlite":
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def expected(connection) -> list[tuple[str, str]]:
    """(table, trigger) pairs that must exist on this database."""
    pairs = []
    for table in TABLES:
        names = trigger_names(table)
        if connection.vendor == "sqlite":
            names = names[:2]
        pairs.extend((table, name) for name in names)
    return pairs


def problems(connection) -> list[str]:
    """Missing or disabled triggers, in French (empty when the journal is protected)."""
    found = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relname = ANY(%s)",
                [list(TABLES)],
            )
            found = {(table, name): enabled for table, name, enabled in cursor.fetchall()}
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            found = {(table, name): "O" for table, name in cursor.fetchall()}
        else:  # pragma: no cover - only PostgreSQL and SQLite are supported
            return []
    result = []
    for table, name in expected(connection):
        state = found.get((table, name))
        if state is None:
            result.append(f"déclencheur {name} absent sur {table}")
        elif state not in ("O", "A"):  # D: disabled; R: fires only in replica sessions
            result.append(f"déclencheur {name} désactivé sur {table}")
    return result
