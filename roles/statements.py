"""Statements compiled once by the ORM, run many times.

Compiling a queryset with EXISTS subqueries and joins costs more Python time than the database takes to answer it
(a policy check: ~1–3 ms of compilation for a 0.1 ms query). The hot paths — the row lock of a transition, the
scope checks, the audience of a notification — keep their ORM definition (one source of truth; the one statement
the ORM cannot express, the work layer's task closing on PostgreSQL, is written in parcours/work/driver.py from the
models' tables and columns) but compile it once per shape, with sentinel values where the real ones go, and
substitute the real values in the parameters afterwards.

`Template` keeps the SQL of a scalar check, run by hand (`policy.allows`). `Compiled` keeps a whole read — its SQL
and the compiler that turns its rows into objects, `select_related` rows and `values_list` tuples — and runs it
through the queryset's own iterable.

On PostgreSQL both run as statements *prepared* once per connection (`prepared`): the database then plans them once
(or a few times) instead of at every call. Planning was most of their cost — the audience of an event took 2.2 ms to
plan for 0.4 ms of execution. The constants (permission ids, roles, states) are literals of the prepared text, so a
generic plan still knows them; only the arguments (ids) are parameters.
"""

import contextlib
import copy
import datetime
import functools
import hashlib
import itertools
import re
import threading
import weakref
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models.sql import UpdateQuery
from django.db.models.sql.constants import MULTI

_SENTINELS = itertools.count(1)


_DATE_SENTINELS = itertools.count(1)


def _date_sentinel() -> datetime.date:
    """A date no real argument takes (in the first centuries AD), distinct per call."""
    return datetime.date.fromordinal(next(_DATE_SENTINELS) % 300_000 + 1)


def _is_date(value) -> bool:
    return isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)


def _kind(value):
    """The kind of a compiled read's argument: an id or a rank (int), a text, or a day."""
    if isinstance(value, str):
        return str
    return datetime.date if _is_date(value) else int


def sentinel() -> int:
    """A value no real parameter takes (ids are positive), distinct per call."""
    return -(10**15) - next(_SENTINELS)


_SENTINEL_OF = {int: sentinel, str: lambda: str(sentinel()), datetime.date: _date_sentinel}


@dataclass(frozen=True)
class Template:
    sql: str
    params: tuple
    slots: dict  # sentinel → name

    @classmethod
    def of(cls, queryset, *, required=("pk",), **sentinels):
        """Compile `queryset`, built with `sentinels` (name → sentinel value) where the real values go. The
        `required` ones must appear among the parameters (others may go unused by this shape)."""
        sql, params = queryset.query.sql_with_params()
        return cls._checked(sql, params, required, sentinels)

    @classmethod
    def of_update(cls, queryset, values, *, required=("pk",), **sentinels):
        """Compile `queryset.update(**values)` the same way (its filters may reach other tables: the compiler turns
        them into `pk IN (subquery)`, without running anything on PostgreSQL and SQLite)."""
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        sql, params = query.get_compiler(queryset.db).as_sql()
        return cls._checked(sql, params, required, sentinels)

    @classmethod
    def _checked(cls, sql, params, required, sentinels):
        slots = {value: name for name, value in sentinels.items()}
        missing = [name for name in required if sentinels[name] not in params]
        if missing:  # the ORM folded a value into the SQL text: substitution would be wrong
            raise ValueError(f"sentinels not found in the parameters: {missing}")
        return cls(sql=sql, params=tuple(params), slots=slots)

    def bind(self, **values) -> list:
        return [values[self.slots[p]] if isinstance(p, int) and p in self.slots else p for p in self.params]

    @property
    def arguments(self) -> list:
        """The positions of the parameters that `bind` replaces (the others are constants)."""
        return [i for i, p in enumerate(self.params) if isinstance(p, int) and p in self.slots]

    def execute(self, *, using=DEFAULT_DB_ALIAS, **values) -> int:
        """Run a statement that returns no rows (an UPDATE) with these values, prepared where `prepared` does; the
        number of rows it changed."""
        sql, params = prepared(self.sql, self.bind(**values), self.arguments, using=using)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount


# --- Prepared statements (PostgreSQL) -----------------------------------------------------------------------------
_PLACEHOLDERS = re.compile(r"%[s%]")


def prepared(sql, params, arguments, *, using=DEFAULT_DB_ALIAS):
    """(sql, params) to run for this statement: `EXECUTE` of the same statement prepared on this connection, with only
    the parameters at positions `arguments`, from its second run in the session on; or (sql, params) unchanged where
    nothing is prepared (its first run, SQLite, or
    `PARCOURS["PREPARED_STATEMENTS"]` off — behind a pooler in transaction mode, where a session's statements are
    not kept). Prepared statements outlive a rollback; a statement PostgreSQL refuses to prepare runs unprepared."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.PARCOURS.get("PREPARED_STATEMENTS"):
        return sql, params
    arguments = tuple(sorted(arguments))
    skip = set(arguments)
    constants = tuple(repr(p) for i, p in enumerate(params) if i not in skip)
    name = _name(sql, arguments, constants)
    if name in _UNPREPARABLE:
        return sql, params
    connection.ensure_connection()
    runs = _prepared_names(connection)
    seen = runs.get(name, 0)
    if seen is not True:
        if seen + 1 < PREPARE_AT_RUN:  # a session that runs it once (a request without kept connections) pays nothing
            runs[name] = seen + 1
            return sql, params
        if not _prepare(connection, name, sql, params, arguments):
            return sql, params
        runs[name] = True
    return _execute_text(name, len(arguments)), [params[i] for i in arguments]


def _name(sql, arguments, constants) -> str:
    """The statement's name: its text and its constants are part of the prepared statement (a permission id
    recreated by a flush makes another statement). Kept per text: hashing a hire's ~20 statements, some of 3 kB,
    cost ~0.2 ms of each."""
    key = (sql, arguments, constants)
    name = _NAMES.get(key)
    if name is None:
        if len(_NAMES) >= MAX_NAMES:  # bounded whatever the constants: forget them all, they are named again
            _NAMES.clear()
        digest = hashlib.blake2b(f"{list(arguments)}:{list(constants)}:{sql}".encode(), digest_size=10).hexdigest()
        name = _NAMES[key] = "parcours_" + digest
    return name


@functools.lru_cache(maxsize=4096)
def _execute_text(name, count) -> str:
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


_NAMES = {}
MAX_NAMES = 4096
_UNPREPARABLE = set()
PREPARE_AT_RUN = 2  # prepared at its second run in a session: once it is seen to repeat


def _prepared_names(connection) -> dict:
    """{statement name: runs so far, or True once prepared} of the connection's current session (a new session starts
    with none)."""
    kept = connection.__dict__.get("_parcours_prepared")
    if kept is None or kept[0] is not connection.connection:
        kept = connection.__dict__["_parcours_prepared"] = (connection.connection, {})
    return kept[1]


def _prepare(connection, name, sql, params, arguments) -> bool:
    numbers = {position: number for number, position in enumerate(arguments, start=1)}
    constants, index = [], itertools.count()

    def substitute(match):
        if match.group() == "%%":
            return "%%"
        position = next(index)
        if position in numbers:
            return f"${numbers[position]}"
        constants.append(params[position])
        return "%s"

    text = _PLACEHOLDERS.sub(substitute, sql)
    text = connection.ops.compose_sql(text, constants)  # the constants as literals, "%%" back to "%"
    # On the driver's own cursor: a one-time set-up per session, outside the statements counted and logged.
    with connection.connection.cursor() as cursor:
        in_transaction = connection.in_atomic_block
        if in_transaction:  # a refused PREPARE must not abort the transaction of the action
            cursor.execute("SAVEPOINT parcours_prepare")
        try:
            cursor.execute(f"PREPARE {name} AS {text}")
        except connection.Database.Error:  # the driver's error: this cursor is not Django's
            if in_transaction:
                cursor.execute("ROLLBACK TO SAVEPOINT parcours_prepare")
            _UNPREPARABLE.add(name)
            return False
        if in_transaction:
            cursor.execute("RELEASE SAVEPOINT parcours_prepare")
    return True


_EVERY_COMPILED = weakref.WeakSet()
_COMPILATIONS = itertools.count()  # a compilation's number: its converters' key on a connection (never reused)


class Compiled:
    """`Compiled(lambda pathway_id: Model.objects.filter(...))(42)`: the rows of the queryset built with 42, as a
    list, compiled once per database alias and kind of arguments (integers: ids, ranks; strings; or dates).

    Only for querysets whose parameters are their arguments and constants: a value computed while building
    (`timezone.now()`, a cached id a test flush may change) would be frozen in the SQL. The queryset is built twice
    with different sentinels: the SQL text must be the same (no argument folded into it) and only the arguments'
    parameters may move. An argument a shape does not use (a role whose scopes need no organisation) goes nowhere."""

    def __init__(self, build, *, arguments=1, prepare=True):
        # prepare=False: the text is sent with its values and planned for them at each run (a read whose best plan
        # depends on them: see `roles.policy.member_rows`); still built and compiled once.
        self.build, self.arguments, self.prepare = build, arguments, prepare
        self._compiled = {}  # (alias, kinds) → (queryset, compiler, sql, params, slots)
        self._lock = threading.Lock()
        _EVERY_COMPILED.add(self)

    @staticmethod
    def forget_all():
        """Compile every read again at its next call: the ids cached in their SQL (a permission's, through the scope
        checks) changed — permissions created again (post_migrate, a test's flush)."""
        for compiled in list(_EVERY_COMPILED):
            compiled._compiled.clear()

    def _sentinels(self, kinds):
        return [_SENTINEL_OF[kind]() for kind in kinds]

    def _compile(self, alias, kinds):
        markers = self._sentinels(kinds)
        queryset = self.build(*markers)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()  # also sets what the iterable reads: select, klass_info, col_count
        # A date may be in the parameters as the driver takes it or as text (SQLite's dates).
        slots = [
            [i for i, value in enumerate(params) if value == marker or _is_date(marker) and value == str(marker)]
            for marker in markers
        ]
        other_sql, other_params = self.build(*self._sentinels(kinds)).query.get_compiler(using=alias).as_sql()
        moved = [i for i, (a, b) in enumerate(zip(params, other_params, strict=True)) if a != b]
        if other_sql != sql or sorted(moved) != sorted(i for found in slots for i in found):
            raise ValueError(f"{self.build!r}: its SQL depends on more than its arguments.")
        return queryset, compiler, sql, list(params), slots, next(_COMPILATIONS)

    def _bound(self, values, using):
        if len(values) != self.arguments:
            raise TypeError(f"expected {self.arguments} argument(s), got {len(values)}")
        kinds = tuple(_kind(value) for value in values)
        compiled = self._compiled.get((using, kinds))
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get((using, kinds)) or self._compiled.setdefault(
                    (using, kinds), self._compile(using, kinds)
                )
        queryset, template, sql, params, slots, compilation = compiled
        params = list(params)
        for value, kind, found in zip(values, kinds, slots, strict=True):
            for i in found:
                if kind is int:
                    params[i] = int(value)
                elif kind is datetime.date and isinstance(params[i], str):
                    params[i] = str(value)  # as the compiled marker: text (SQLite)
                else:
                    params[i] = value
        return compiled, sql, params, [i for found in slots for i in found]

    def statement(self, *values, using=DEFAULT_DB_ALIAS) -> tuple:
        """(sql, params, positions of the arguments among them) of the read with these values, not run: for a
        statement that embeds it (the outbox's INSERT … SELECT, parcours.mail)."""
        _, sql, params, arguments = self._bound(values, using)
        return sql, params, arguments

    def __call__(self, *values, using=DEFAULT_DB_ALIAS, after=None, after_rows=None, also=(), leads=()) -> list:
        """The rows. `after`: another statement (`Compiled.statement()`) to run first — in the same round trip where
        the driver sends a text of several statements as one simple query (PostgreSQL with client-side binding,
        Django's default), else on its own just before. Its rows are appended to the list `after_rows` when one is
        given (the rows a `SKIP LOCKED` lock took), else not read. Each statement of a simple query takes its own
        snapshot (READ COMMITTED): one that waits for a row lock still reads, in the next, what the writer it waited
        for committed — and each sees what the statements before it in the transaction wrote.

        `also`: other statements, as ((sql, params, positions of the arguments among them), list or None) pairs — a
        `Compiled.statement()` or any such statement — to run after `after` and before the read, in the same round
        trip: their rows appended to their lists (a hire's lock and count of its offer, with its pathway's lock).

        `leads`: writes not sent yet (`roles.rows.Lead`: a transition's journal event, with its row's update) to send
        in front of both, in the same round trip where `after` would be; each gets its rows back (`received`). One
        already sent is left out."""
        compiled, sql, params, arguments = self._bound(values, using)
        queryset, template, _, _, _, compilation = compiled
        if self.prepare:
            sql, params = prepared(sql, params, arguments, using=using)
        connection = connections[using]  # this thread's
        compiler = copy.copy(template)
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        leads = [lead for lead in leads if not lead.sent]
        if not one_round_trip(connection) or any(lead.using != using for lead in leads):
            for lead in leads:  # each on its own, just before
                lead.send()
            leads = []
        firsts = [(prepared(*lead.statement(), using=using), lead.received) for lead in leads]
        if after is not None:
            firsts.append((prepared(*after, using=using), None if after_rows is None else after_rows.extend))
        for statement, rows in also:
            firsts.append((prepared(*statement, using=using), None if rows is None else rows.extend))
        if firsts and one_round_trip(connection):
            text = "; ".join([first_sql for (first_sql, _), _ in firsts] + [sql])
            sent = [value for (_, first_params), _ in firsts for value in first_params] + params
            compiler.execute_sql = _after_first(compiler, text, sent, [take for _, take in firsts], writes=bool(leads))
        elif firsts:
            with connection.cursor() as cursor:
                for (first_sql, first_params), take in firsts:
                    cursor.execute(first_sql, first_params)
                    if take is not None:
                        take(cursor.fetchall())
        return _iterate(queryset, compiler, compilation, connection)

    def objects(self, rows, *values, using=DEFAULT_DB_ALIAS) -> list:
        """The rows of `statement(*values)` as the read itself returns them (objects, `values_list` tuples), from the
        raw rows another read's round trip brought back (`also=`): converted by the same compiler, nothing sent."""
        compiled = self._bound(values, using)[0]
        queryset, template, _, _, _, compilation = compiled
        compiler = copy.copy(template)
        compiler.connection = connections[using]
        trimmed = [row[: compiler.col_count] for row in rows] if compiler.has_extra_select else list(rows)

        def execute_sql(result_type=MULTI, chunked_fetch=False, chunk_size=None):
            if result_type != MULTI:
                raise ValueError(result_type)
            return [trimmed]

        compiler.execute_sql = execute_sql
        return _iterate(queryset, compiler, compilation, compiler.connection)


def _iterate(queryset, compiler, compilation, connection) -> list:
    """The rows of `compiler` (whose `execute_sql` is set) through the queryset's own iterable."""
    # The columns' converters (dates, decimals, JSON…) are the same at every run: worked out once per connection
    # and kept on it (they hold its operations), not asked of every column's field at every run (~0.15 ms of a
    # transition's locked read of ~120 columns).
    kept = connection.__dict__.setdefault("_parcours_converters", {})
    converters = kept.get(compilation)
    if converters is None:
        converters = kept[compilation] = compiler.get_converters(
            [column[0] for column in compiler.select[0 : compiler.col_count]]
        )
    compiler.get_converters = lambda expressions: converters
    run = queryset._chain()
    run.query.get_compiler = lambda *args, **kwargs: compiler
    return list(run)


ON_ITS_OWN = "parcours_on_its_own"  # the savepoint of `run_on_its_own` (released at once: one name is enough)


def run_on_its_own(sql, params, *, using=DEFAULT_DB_ALIAS) -> int:
    """Run a write that must not abort the transaction around it when it fails (an e-mail never stops the action it
    tells of): inside a savepoint, rolled back to on error, the error raised for the caller to log. On PostgreSQL with
    client-side binding the SAVEPOINT, the statement and the RELEASE go in one round trip; elsewhere (or outside a
    transaction) through Django's `atomic()`. The number of rows the statement wrote.

    The text is composed before anything is sent (a parameter the driver refuses fails here, the transaction
    untouched). Should the savepoint itself be missing (a text the server could not parse runs nothing of it), the
    transaction is lost: it is marked for rollback, for the caller to let the error through
    (`transaction.get_rollback()`), and never committed as if the action had been written."""
    connection = connections[using]
    if not (connection.in_atomic_block and one_round_trip(connection)):
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    with connection.cursor() as cursor:
        with connection.wrap_database_errors:  # the driver's refusal as Django's error, as from execute()
            text = cursor.cursor.mogrify(f"SAVEPOINT {ON_ITS_OWN}; {sql}; RELEASE SAVEPOINT {ON_ITS_OWN}", params)
        try:
            cursor.execute(text)  # the values are in the text: sent without parameters, no placeholder read again
        except Exception:
            try:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {ON_ITS_OWN}; RELEASE SAVEPOINT {ON_ITS_OWN}")
            except Exception:
                transaction.set_rollback(True, using=using)
            raise
        cursor.nextset()  # the statement's result, after the SAVEPOINT's
        return cursor.rowcount


# psycopg turns a query's placeholders into its client-side template once per text and keeps it (an LRU of 128
# texts), but only for texts of at most 50 parameters (psycopg._queries.MAX_CACHED_STATEMENT_PARAMS). The work
# layer's plan statement and a transition's event with what it carries take 50 to ~200, and are the same text at
# every run (prepared: `EXECUTE name(%s, …)`): each run paid ~85 µs to split it again, three times in a hire. Kept
# up to KEPT_PARAMETERS; a text with more (an ORM bulk insert of many rows) is still converted each time.
KEPT_PARAMETERS = 400


def keep_conversions_of_long_statements() -> bool:
    """Raise psycopg's limit on the parameters of a query whose conversion it keeps (RolesConfig.ready); False where
    this psycopg has no such limit (nothing changed)."""
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - SQLite-only installs
        return False
    limit = getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", None)
    if not isinstance(limit, int):
        return False
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(limit, KEPT_PARAMETERS)
    return True


def one_round_trip(connection) -> bool:
    """Whether `connection` sends several statements with their parameters as one message: psycopg's client-side
    binding cursor (a simple query), not the server-side binding one (one statement per message)."""
    return (
        connection.vendor == "postgresql"
        and connection.settings_dict["OPTIONS"].get("server_side_binding") is not True
    )


def _after_first(compiler, sql, params, takes, *, writes=False):
    """The compiler's `execute_sql` for a text of several statements: the rows of the last, as Django's own returns
    them (all fetched: the reads run this way are one row or a few); those of each statement before it handed to its
    `takes` callable (None: not read). `writes`: the text carries writes, whose failure marks the enclosing atomic
    block for rollback, as when they are sent alone (roles.rows: no commit of a transition without its event)."""

    def execute_sql(result_type=MULTI, chunked_fetch=False, chunk_size=None):
        if result_type != MULTI:
            raise ValueError(result_type)
        alias = compiler.connection.alias
        marking = transaction.mark_for_rollback_on_error(alias) if writes else contextlib.nullcontext()
        with marking, compiler.connection.cursor() as cursor:
            cursor.execute(sql, params)
            for take in takes:
                if take is not None:
                    take(cursor.fetchall())
                if not cursor.nextset():  # pragma: no cover - the driver returned fewer results than statements
                    raise DatabaseError("the read after the first statements returned nothing")
            rows = cursor.fetchall()
        if compiler.has_extra_select:
            rows = [row[: compiler.col_count] for row in rows]
        return [rows]

    return execute_sql
