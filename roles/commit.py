"""Reads carried by a transaction's COMMIT (PostgreSQL).

A transition reads, after its writes, who may view what it did: the audience of its notification. Read after the
commit it was a round trip of its own, ~0.25 ms of a 2–3 ms transition. Here a read is left on the connection while
the transaction runs (`carry`) and its commit sends it in front of the COMMIT, in one text, one round trip:
`SAVEPOINT; the reads; RELEASE SAVEPOINT; COMMIT` (roles.postgresql, the PostgreSQL backend with this commit).

The reads see what the transaction wrote (a hire's new grant), as a read after the commit did; under READ COMMITTED
only, where the transaction's last statement sees every commit before it (a grant revoked meanwhile): the
connection's isolation level, or the server's default when Django sets none (READ COMMITTED unless a role or the
database raised it: then set OPTIONS["isolation_level"]). A read that
fails (a statement timeout) never costs the transaction: the text stops at the error, inside the savepoint, which
is rolled back before the COMMIT is sent again. Its `rows` stay None, and so do those of a read whose transaction
(or savepoint) was rolled back or whose connection does not carry: the caller then reads after the commit.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from roles.statements import one_round_trip, prepared

logger = logging.getLogger(__name__)

CARRIED = "_parcours_carried"  # on a connection wrapper: the reads its next COMMIT carries, in order
SAVEPOINT = "parcours_carried"


class Carried:
    """One read carried by the commit: the statement to send, the savepoints open when it was left (rolled back to
    one of them, it is dropped, as Django drops the on-commit callbacks), and its rows once the commit ran it."""

    __slots__ = ("sql", "params", "savepoints", "rows")

    def __init__(self, sql, params, savepoints):
        self.sql, self.params, self.savepoints, self.rows = sql, params, savepoints, None


def can_carry(using=DEFAULT_DB_ALIAS) -> bool:
    """Whether a read left now would be sent by the commit (see `carry`)."""
    connection = connections[using]
    return (
        getattr(connection, "carries_reads", False)
        and connection.in_atomic_block
        and one_round_trip(connection)
        and _read_committed(connection)
    )


def carry(sql, params, arguments, *, using=DEFAULT_DB_ALIAS) -> Carried | None:
    """Leave a read (no writes) for the commit of the transaction in progress to send; None where it cannot go there:
    outside a transaction, on a backend whose commit does not carry reads, without client-side binding (one
    statement per message), or above READ COMMITTED (the transaction's snapshot would miss a grant revoked since).
    The statement is prepared now, in the transaction, where a refused PREPARE is undone by its own savepoint
    (roles.statements)."""
    if not can_carry(using):
        return None
    connection = connections[using]
    read = Carried(*prepared(sql, params, arguments, using=using), frozenset(connection.savepoint_ids))
    connection.__dict__.setdefault(CARRIED, []).append(read)
    return read


def forget(connection, savepoint=None) -> list:
    """The reads left on `connection`, taken off it: all of them (a commit takes them; a rollback or a close drops
    them), or those left since `savepoint`, rolled back to."""
    if savepoint is None:
        return connection.__dict__.pop(CARRIED, None) or []
    reads = connection.__dict__.get(CARRIED) or []
    connection.__dict__[CARRIED] = [read for read in reads if savepoint not in read.savepoints]
    return [read for read in reads if savepoint in read.savepoints]


def commit_with(connection, reads) -> None:
    """COMMIT the transaction of `connection` (Django's wrapper), the `reads` sent in front of it in one round trip;
    each read's rows set. Through the wrapper's cursor: logged and counted as any statement. The COMMIT's own failure
    is raised as a commit's; a read's is logged, and the transaction committed without the reads — one that runs: a
    text PostgreSQL cannot parse runs nothing, the SAVEPOINT neither, and the transaction is lost, loudly (the
    reads are the ORM's compiled statements, never such a text)."""
    statements = [f"SAVEPOINT {SAVEPOINT}", *(read.sql for read in reads), f"RELEASE SAVEPOINT {SAVEPOINT}", "COMMIT"]
    text = "; ".join(statements)
    params = [value for read in reads for value in read.params]
    with connection.cursor() as cursor:
        try:
            cursor.execute(text, params)
        except DatabaseError as error:
            if not failed(connection):
                raise  # the COMMIT failed: the transaction is over, as when the COMMIT is sent alone
            logger.warning("reads carried by a commit failed, committing without them: %r", error)
            cursor.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}; COMMIT")
            return
        # Committed: from here on nothing may fail the commit. Rows not taken are read after it by their callers.
        try:
            cursor.nextset()  # past the SAVEPOINT
            for read in reads:
                read.rows = cursor.fetchall()
                cursor.nextset()
        except Exception:
            logger.exception("reads carried by a commit could not be taken")
            for read in reads:
                read.rows = None


def failed(connection) -> bool:
    """Whether the transaction of `connection` (Django's wrapper, connected) failed: PostgreSQL ignores all but its
    rollback."""
    from psycopg.pq import TransactionStatus  # here: an install for SQLite alone has no psycopg

    return connection.connection.info.transaction_status == TransactionStatus.INERROR


def _read_committed(connection) -> bool:
    from psycopg import IsolationLevel

    driver = connection.connection
    return driver is not None and driver.isolation_level in (None, IsolationLevel.READ_COMMITTED)

