"""Reads, and writes that must never fail their transaction, carried by its COMMIT (PostgreSQL).

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

A write whose failure must undo only itself (an e-mail written to the outbox: it never stops the action it tells of)
goes the same way (`carry_write`), in front of the reads: `SAVEPOINT; the writes; the reads; RELEASE SAVEPOINT;
COMMIT`, where it was `SAVEPOINT; the write; RELEASE SAVEPOINT` in a round trip of its own. Only where the block in
progress is the transaction itself (no savepoint open): a block nested in another leaves the commit to its caller,
which may read those rows before it, or never commit (a test's transaction). When the text fails, the writes are
sent again on their own in the savepoint, then the COMMIT; failing again, they are rolled back alone, logged, and
the transaction committed without them.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from roles.statements import one_round_trip, prepared

logger = logging.getLogger(__name__)

CARRIED = "_parcours_carried"  # on a connection wrapper: the reads and writes its next COMMIT carries, in order
SAVEPOINT = "parcours_carried"


class Carried:
    """One read (or write) carried by the commit: the statement to send, the savepoints open when it was left (rolled
    back to one of them, it is dropped, as Django drops the on-commit callbacks), and a read's rows once the commit
    ran it."""

    __slots__ = ("sql", "params", "savepoints", "rows", "write", "label")

    def __init__(self, sql, params, savepoints, *, write=False, label=""):
        self.sql, self.params, self.savepoints, self.rows = sql, params, savepoints, None
        self.write, self.label = write, label


def can_carry(using=DEFAULT_DB_ALIAS) -> bool:
    """Whether a read left now would be sent by the commit (see `carry`)."""
    connection = connections[using]
    return _carries(connection) and _read_committed(connection)


def will_commit(connection) -> bool:
    """Whether the transaction in progress ends in a COMMIT: not a test case's, rolled back at the test's end (Django
    marks its blocks, for its own check of durable blocks)."""
    return not any(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def _carries(connection) -> bool:
    # A connection closed inside the block (`closed_in_transaction`) is never committed: nothing left for it.
    return (
        getattr(connection, "carries_reads", False)
        and connection.in_atomic_block
        and not connection.closed_in_transaction
        and one_round_trip(connection)
    )


def carry_write(sql, params, arguments, *, using=DEFAULT_DB_ALIAS, label="") -> Carried | None:
    """Leave a write whose failure must undo only itself (no rows returned) for the commit of the transaction in
    progress to send, in its own savepoint; None where it cannot go there: outside a transaction, inside a block
    nested in another (a savepoint open: the caller may read the rows before its commit, or never commit), in a test
    case's transaction (never committed), on a backend whose commit does not carry, without client-side binding.
    Prepared now, as `carry`'s reads, and composed now with its values (a parameter the driver refuses is refused
    here, raised to the caller, the transaction untouched: never at the commit, which would then lose the action).
    `label`: what it writes, for the log of a write that failed."""
    connection = connections[using]
    if not _carries(connection) or connection.savepoint_ids or not will_commit(connection):
        return None
    sql, params = prepared(sql, params, arguments, using=using)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        text = cursor.cursor.mogrify(sql, params)
    # Sent in a text with other statements' parameters: its own values' "%" must not read as placeholders.
    write = Carried(text.replace("%", "%%"), [], frozenset(), write=True, label=label)
    connection.__dict__.setdefault(CARRIED, []).append(write)
    return write


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
    """The reads and writes left on `connection`, taken off it: all of them (a commit takes them; a rollback or a
    close drops them), or those left since `savepoint`, rolled back to."""
    if savepoint is None:
        return connection.__dict__.pop(CARRIED, None) or []
    reads = connection.__dict__.get(CARRIED) or []
    connection.__dict__[CARRIED] = [read for read in reads if savepoint not in read.savepoints]
    return [read for read in reads if savepoint in read.savepoints]


def commit_with(connection, carried) -> None:
    """COMMIT the transaction of `connection` (Django's wrapper), what it `carried` sent in front of it in one round
    trip: the writes, then the reads, each read's rows set. Through the wrapper's cursor: logged and counted as any
    statement. The COMMIT's own failure is raised as a commit's; a read's or a write's is logged, the writes sent
    again on their own, and the transaction committed without what failed — one that runs: a text PostgreSQL cannot
    parse runs nothing, the SAVEPOINT neither, and the transaction is lost, loudly (what is carried is the ORM's
    compiled statements, never such a text)."""
    writes = [item for item in carried if item.write]
    reads = [item for item in carried if not item.write]
    with connection.cursor() as cursor:
        try:
            _send_in_savepoint(cursor, writes + reads)
        except DatabaseError as error:
            if not failed(connection):
                raise  # the COMMIT failed: the transaction is over, as when the COMMIT is sent alone
            logger.warning("what a commit carried failed, committing without it (reads after it): %r", error)
            _commit_without(cursor, connection, writes)
            return
        # Committed: from here on nothing may fail the commit. Rows not taken are read after it by their callers.
        try:
            cursor.nextset()  # past the SAVEPOINT
            for _ in writes:  # no rows
                cursor.nextset()
            for read in reads:
                read.rows = cursor.fetchall()
                cursor.nextset()
        except Exception:
            logger.exception("reads carried by a commit could not be taken")
            for read in reads:
                read.rows = None


def _send_in_savepoint(cursor, carried) -> None:
    statements = [
        f"SAVEPOINT {SAVEPOINT}",
        *(item.sql for item in carried),
        f"RELEASE SAVEPOINT {SAVEPOINT}",
        "COMMIT",
    ]
    cursor.execute("; ".join(statements), [value for item in carried for value in item.params])


def _commit_without(cursor, connection, writes) -> None:
    """After a carried text failed inside its savepoint: the writes alone, then the COMMIT; failing again (the write
    was what failed), the COMMIT without them. The reads are read after the commit by their callers."""
    rolled_back = f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
    if not writes:
        cursor.execute(f"{rolled_back}; COMMIT")
        return
    cursor.execute(rolled_back)
    try:
        _send_in_savepoint(cursor, writes)
    except DatabaseError as error:
        if not failed(connection):
            raise
        labels = ", ".join(write.label or "?" for write in writes)
        logger.error("writes carried by a commit failed, committing without them (%s): %r", labels, error)
        cursor.execute(f"{rolled_back}; COMMIT")


def failed(connection) -> bool:
    """Whether the transaction of `connection` (Django's wrapper, connected) failed: PostgreSQL ignores all but its
    rollback."""
    from psycopg.pq import TransactionStatus  # here: an install for SQLite alone has no psycopg

    return connection.connection.info.transaction_status == TransactionStatus.INERROR


def _read_committed(connection) -> bool:
    from psycopg import IsolationLevel

    driver = connection.connection
    return driver is not None and driver.isolation_level in (None, IsolationLevel.READ_COMMITTED)
