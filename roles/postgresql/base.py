"""Django's PostgreSQL backend, whose commit carries the reads a transaction left for it (roles.commit).

Settings name it (`ENGINE = "roles.postgresql"`) wherever the database URL says PostgreSQL. Everything else is
Django's own backend: operations, introspection, schema editor, vendor "postgresql"."""

from django.db.backends.postgresql import base

from roles import commit


class DatabaseWrapper(base.DatabaseWrapper):
    carries_reads = True

    def _commit(self):
        reads = commit.forget(self)
        if reads and self.connection is not None:
            return commit.commit_with(self, reads)
        return super()._commit()

    def _rollback(self):
        commit.forget(self)
        return super()._rollback()

    def _close(self):
        commit.forget(self)
        return super()._close()
