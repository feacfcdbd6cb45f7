"""The participant's current pathway state (Participant.current_state), kept by database triggers.

The current pathway is the latest started (started_on, then id, as the lists' `_latest_pathway`). A pathway inserted,
deleted, or changing state, start date or participant sets its participant's copy again, in the same statement
(migration 0025 installs the triggers on PostgreSQL and on SQLite). Django never writes the column
(Participant.save leaves it out). Data loaded with the triggers off (generate_load's COPY, a restore with
session_replication_role = replica) needs `rebuild`; `differences` lists what disagrees."""

from django.db import connection, transaction

# The latest pathway's state, correlated to the participant row being read or updated.
LATEST = """coalesce((
    SELECT w.state FROM parcours_pathway w WHERE w.participant_id = parcours_participant.id
    ORDER BY w.started_on DESC, w.id DESC LIMIT 1
), '')"""

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


def rebuild() -> None:
    """Set every participant's current state from its pathways."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(REBUILD.get(connection.vendor, REBUILD["sqlite"]))
        cursor.execute(RESET_ORPHANS)


def differences() -> list[tuple]:
    """(participant id, kept, from the pathways) wherever the kept current state is not the latest pathway's."""
    with connection.cursor() as cursor:
        cursor.execute(DIFFERENCES)
        return cursor.fetchall()
