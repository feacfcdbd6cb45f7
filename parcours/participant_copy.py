"""A referral's and a placement's copy of their pathway's participant (`participant_id`, migration 0037) is their
pathway's: the Mission Locale's scope reads it. PostgreSQL holds it with a foreign key (pathway, participant) to the
pathway's (id, participant); SQLite (the demo) with triggers, set aside while migrations rebuild tables and put back
after (as `parcours.selectors.current_state`'s)."""

from roles import sqlite_triggers

TABLES = ("parcours_referral", "parcours_placement")
# The message of SQLite's refusal (an IntegrityError, as PostgreSQL's key gives).
REFUSED = "participant_id is not the participant of its pathway"


def _triggers(table):
    differs = "NEW.participant_id IS NOT (SELECT p.participant_id FROM parcours_pathway p WHERE p.id = NEW.pathway_id)"
    refuse = f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_participant_insert BEFORE INSERT ON {table} WHEN {differs} {refuse}",
        f"CREATE TRIGGER IF NOT EXISTS {table}_participant_update BEFORE UPDATE OF participant_id, pathway_id "
        f"ON {table} WHEN {differs} {refuse}",
    ]


SQLITE_TRIGGERS = [statement for table in TABLES for statement in _triggers(table)]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {table}_participant_{when}" for table in TABLES for when in ("insert", "update")
]


def drop_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """Before `migrate` (pre_migrate)."""
    sqlite_triggers.drop(using, SQLITE_DROP)


def install_sqlite_triggers(sender=None, using="default", **kwargs) -> None:
    """After `migrate` (post_migrate), once the copies exist."""
    sqlite_triggers.install(using, SQLITE_TRIGGERS, table="parcours_referral", column="participant_id")
