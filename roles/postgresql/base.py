"""Django's PostgreSQL backend with up to three round trips less per transaction: the statement that opens it carries
the BEGIN, and its COMMIT carries the reads and the writes the transaction left for it (roles.commit: a notification's
audience, an e-mail's outbox rows). Its commit also refuses a transaction in which an error was swallowed, which
PostgreSQL would answer with a silent ROLLBACK.

Settings name it (`ENGINE = "roles.postgresql"`) wherever the database URL says PostgreSQL. Everything else is
Django's own backend: operations, introspection, schema editor, vendor "postgresql"."""

from django.db import DatabaseError
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from roles import commit


class BeginningCursor(base.Cursor):
    """Django's client-side binding cursor, whose statement that opens a transaction carries its BEGIN in the same
    text: psycopg would send the BEGIN on its own first, a round trip of ~0.1 ms for nothing but a reply (a
    transition's are three to six). Only `execute` does; psycopg's other ways in (executemany, COPY, server-side
    cursors) still send their BEGIN first. Its result, the BEGIN's, is stepped over: the caller reads its own."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        connection = self._conn
        opens = (
            not connection._autocommit
            and connection.pgconn.transaction_status == TransactionStatus.IDLE
            and connection._pipeline is None
            and isinstance(query, str)
        )
        if not opens:
            return super().execute(query, params, prepare=prepare, binary=binary)
        begin = connection._get_tx_start_command().decode()
        # psycopg sends its BEGIN where it is not in autocommit and no transaction is open: for this one statement,
        # the text opens it itself. Restored at once, whatever happens: an error while running leaves the transaction
        # open and failed, rolled back as any; one before (a parameter refused, a text PostgreSQL cannot parse) leaves
        # none open, and the rollback has nothing to do. A connection is used by one thread at a time (Django's).
        connection._autocommit = True
        try:
            super().execute(f"{begin}; {query}", params, prepare=prepare, binary=binary)
        finally:
            connection._autocommit = False
        self.nextset()
        return self


class DatabaseWrapper(base.DatabaseWrapper):
    carries_reads = True

    def get_connection_params(self):
        params = super().get_connection_params()
        if params.get("cursor_factory") is base.Cursor:  # client-side binding, Django's default
            params["cursor_factory"] = BeginningCursor
        return params

    def _commit(self):
        reads = commit.forget(self)
        if self.connection is not None and commit.failed(self):
            # An error some caller swallowed: PostgreSQL would answer the COMMIT with a silent ROLLBACK, and the
            # action be reported done. Refused here, the commit fails as one (Atomic rolls back and raises).
            raise DatabaseError("the transaction failed before its commit: it was rolled back")
        if reads and self.connection is not None:
            return commit.commit_with(self, reads)
        return super()._commit()

    def _rollback(self):
        commit.forget(self)
        return super()._rollback()

    def savepoint_rollback(self, sid):
        super().savepoint_rollback(sid)
        commit.forget(self, sid)  # as Django drops the on-commit callbacks left since

    def _close(self):
        commit.forget(self)
        return super()._close()
