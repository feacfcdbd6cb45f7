"""The audience of the events the journal held before the audience table came (migration 0033), written at the end of
`migrate`.

The fill runs the application's code (parcours.notifications.record_missing_audiences: the policy's paths, the
columns they read), so it needs the database to have every migration of that code. Run inside migration 0034, it read
columns that later migrations add (a referral's copy of its participant, 0037) and stopped every upgrade from before
0034, the database left half migrated. 0034 now leaves a marker table; `post_migrate`, once no migration of the code
is left to apply, fills the audiences and drops the marker. Stopped midway, the next `migrate` goes on: each range of
events is committed as it is done and what an event has is kept."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from parcours import notifications

PENDING_TABLE = "parcours_audience_fill_pending"  # created by migration 0034


def fill_pending(sender, *, using=DEFAULT_DB_ALIAS, verbosity=1, stdout=None, **kwargs):
    """post_migrate: the audiences left to fill by migration 0034, once the database has every migration."""
    connection = connections[using]
    if using != DEFAULT_DB_ALIAS or PENDING_TABLE not in connection.introspection.table_names():
        return
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return  # `migrate` to an earlier migration: the columns the code reads may not be there yet
    written = notifications.record_missing_audiences()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(PENDING_TABLE)}")  # two `migrate` at once
    if verbosity and stdout is not None:
        stdout.write(f"  Destinataires des événements déjà au journal : {written} ligne(s) écrite(s).\n")
