"""The participant's current pathway state (Participant.current_state), kept by database triggers.

The current pathway is the latest started (started_on, then id, as the lists' `_latest_pathway`). A pathway inserted,
deleted, or changing state, start date or participant sets its participant's copy again, in the same statement.
Django never writes the column on update (Participant.save leaves it out; an insert writes "", a participant having
no pathway yet). Data loaded with the triggers off (generate_load's COPY, a restore with session_replication_role =
replica) needs `rebuild`; `differences` lists what disagrees.

PostgreSQL: a function and two triggers, installed by migration 0025 (the function as 0029 rewrote it). SQLite:
three triggers installed after every `migrate` and dropped before it (`install_sqlite_triggers`,
`drop_sqlite_triggers`, connected in parcours.apps): SQLite rebuilds a table to alter it, and a trigger naming the
participant table made any later migration that rebuilds it fail (and one rebuilding the pathway table dropped
them)."""

from django.db import connection, connections, transaction

from roles import sqlite_triggers

# The latest pathway's state, correlated to the participant row being read or updated.
LATEST = """coalesce((
    SELECT w.state FROM parcours_pathway w WHERE w.participant_id = parcours_participant.id
    ORDER BY w.started_on DESC, w.id DESC LIMIT 1
), '')"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS parcours_current_state_insert AFTER INSERT ON parcours_pathway
BEGIN
    UPDATE parcours_participant SET current_state = {LATEST} WHERE id = NEW.participant_id;
END""",
    f"""CREATE TRIGGER IF NOT EXISTS parcours_current_state_update
AFTER UPDATE OF state, started_on, participant_id ON parcours_pathway
BEGIN
    UPDATE parcours_participant SET current_state = {LATEST} WHERE id IN (OLD.participant_id, NEW.participant_id);
END""",
    f"""CREATE TRIGGER IF NOT EXISTS parcours_current_state_delete AFTER DELETE ON parcours_pathway
BEGIN
    UPDATE parcours_participant SET current_state = {LATEST} WHERE id = OLD.participant_id;
END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS parcours_current_state_insert",
    "DROP TRIGGER IF EXISTS parcours_current_state_update",
    "DROP TRIGGER IF EXISTS parcours_current_state_delete",
]

REBUILD = {
    # One pass over the pathways sorted by participant: 1,000,000 pathways in seconds, where the correlated form
    # probes the index once per participant.
    "postgresql": """
UPDATE parcours_participant p SET current_state = c.state
FROM (
    SELECT DISTINCT ON (participant_id) participant_id, state FROM parcours_pathway
    ORDER BY participant_id, started_on DESC, id DESC
) c
WHERE c.participant_id = p.id AND p.current_state IS DISTINCT FROM c.state
""",
    "sqlite": f"UPDATE parcours_participant SET current_state = {LATEST} WHERE current_state IS NOT {LATEST}",
}
RESET_ORPHANS = (
    "UPDATE parcours_participant SET current_state = '' WHERE current_state <> '' "
    "AND NOT EXISTS (SELECT 1 FROM parcours_pathway w WHERE w.participant_id = parcours_participant.id)"
)
DIFFERENCES = f"""
SELECT id, current_state, {LATEST} FROM parcours_participant
WHERE current_state <> {LATEST}
ORDER BY id
"""


def rebuild(using="default") -> None:
    """Set every participant's current state from its pathways."""
    db = connections[using]
    with transaction.atomic(using=using), db.cursor() as cursor:
        cursor.execute(REBUILD.get(db.vendor, REBUILD["sqlite"]))
        cursor.execute(RESET_ORPHANS)


def differences() -> list[tuple]:
    """(participant id, kept, from the pathways) wherever the kept current state is not the latest pathway's."""
    with connection.cursor() as cursor:
        cursor.execute(DIFFERENCES)
        return cursor.fetchall()


def drop_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """Before `migrate` (pre_migrate)."""
    sqlite_triggers.drop(using, SQLITE_DROP)


def install_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """After `migrate` (post_migrate), once the column exists: the triggers, then the states written meanwhile."""
    if sqlite_triggers.install(using, SQLITE_TRIGGERS, table="parcours_participant", column="current_state"):
        rebuild(using)
