"""SQLite's triggers are set aside while `migrate` runs and put back after it (the receivers are connected in
parcours.apps and roles.apps). SQLite rebuilds a table to alter it: a trigger naming that table made the migration
fail, or went away with the old table."""

from django.db import connections


def drop(using, statements) -> None:
    """Before `migrate` (pre_migrate): no trigger names a table a migration may rebuild."""
    db = connections[using]
    if db.vendor == "sqlite":
        with db.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def install(using, statements, *, table, column) -> bool:
    """After `migrate` (post_migrate), once `table` has the `column` the triggers keep (not when migrated back before
    the migration adding it). True when they were installed."""
    db = connections[using]
    if db.vendor != "sqlite":
        return False
    with db.cursor() as cursor:
        if column not in {c.name for c in db.introspection.get_table_description(cursor, table)}:
            return False
        for statement in statements:
            cursor.execute(statement)
    return True
