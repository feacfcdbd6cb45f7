"""Pathways by state read from their tally (parcours.models.PathwayTally), kept by PostgreSQL triggers.

An adviser's, a facilitator's or an auditor's pathways are those whose participant their organisation's group holds
one grant on; counting them by state on each home read every such pathway (a Mission Locale's 15,000 at 1,000,000
pathways: 138 ms, an auditor's: 159 ms). The tally holds, per (group, permission, state), rows of +1/-1 added by the
triggers; a home sums its holder's rows. `fold` (the worker, every few minutes) sums the rows into one per key.
Elsewhere (SQLite: the demo and the quick tests) the pathways are counted."""

from django.db import connection, transaction
from django.db.models import Sum

from parcours.models import PARTICIPANT_GRANTS, Pathway, PathwayTally
from parcours.selectors.core import count_by_state, pathways_for
from roles import policy

FOLD = """
WITH folded AS (DELETE FROM parcours_pathwaytally RETURNING group_id, permission_id, state, n)
INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
SELECT group_id, permission_id, state, sum(n) FROM folded
GROUP BY group_id, permission_id, state HAVING sum(n) <> 0
"""
# As migration 0020's backfill: for a data set written with the triggers off (generate_load's COPY).
REBUILD = """
DELETE FROM parcours_pathwaytally;
INSERT INTO parcours_pathwaytally (group_id, permission_id, state, n)
SELECT g.group_id, g.permission_id, p.state, count(*)
FROM parcours_participantgroupobjectpermission g JOIN parcours_pathway p ON p.participant_id = g.content_object_id
GROUP BY g.group_id, g.permission_id, p.state
"""


def kept() -> bool:
    return connection.vendor == "postgresql"


def pathway_counts_for(actor) -> dict[str, int]:
    """The actor's pathways by state: the same figures as counting `pathways_for(actor)`, from the tally."""
    holder = policy.grant_holder(actor, "participant.view", Pathway)
    if not kept() or holder is None or holder[:2] != (PARTICIPANT_GRANTS, "participant"):
        return count_by_state(pathways_for(actor))
    group_id, permission_id = holder[2:]
    rows = (
        PathwayTally.objects.filter(group_id=group_id, permission_id=permission_id)
        .values_list("state")
        .annotate(total=Sum("n"))
        .order_by()
    )
    return {state: total for state, total in rows if total}


def fold() -> int:
    """Sum the tally's rows into one per (group, permission, state); the rows left. Safe beside transitions (they
    only insert rows, which a fold either sums or leaves for the next) and beside another fold."""
    if not kept():
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FOLD)
        return cursor.rowcount


def rebuild() -> None:
    if kept():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(REBUILD)


DIFFERENCES = """
WITH kept AS (
    SELECT group_id, permission_id, state, sum(n) AS n FROM parcours_pathwaytally
    GROUP BY group_id, permission_id, state HAVING sum(n) <> 0
), counted AS (
    SELECT g.group_id, g.permission_id, p.state, count(*) AS n
    FROM parcours_participantgroupobjectpermission g JOIN parcours_pathway p ON p.participant_id = g.content_object_id
    GROUP BY g.group_id, g.permission_id, p.state
)
SELECT group_id, permission_id, state, coalesce(kept.n, 0), coalesce(counted.n, 0)
FROM kept FULL JOIN counted USING (group_id, permission_id, state)
WHERE kept.n IS DISTINCT FROM counted.n
ORDER BY group_id, permission_id, state
"""


def differences() -> list[tuple]:
    """(group id, permission id, state, kept, counted) wherever the tally and a count of the pathways disagree."""
    if not kept():
        return []
    with connection.cursor() as cursor:
        cursor.execute(DIFFERENCES)  # one statement: both sides from the same snapshot
        return cursor.fetchall()
