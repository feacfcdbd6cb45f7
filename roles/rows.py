"""Row writes on the hot paths, as the ORM writes them but without its per-call statement building.

`Model.save()` and `bulk_create()` rebuild their UPDATE or INSERT at every call: for a transition's row and its
journal event that is more Python time than the database takes (a referral's save: 0.44 ms, the same statement
prepared: 0.25 ms). `save_row` and `insert_rows` write the same columns with the same values — each field's
`pre_save` (`auto_now`, defaults) and `get_db_prep_save` — through a statement built once per model and shape, and
prepared on PostgreSQL (`roles.statements.prepared`). Where the ORM would do more than that (a model with its own
`save()`, save signals listened to, inherited tables, deferred fields, columns the database fills), they hand the
work to the ORM unchanged.
"""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, DatabaseError, IntegrityError, connections, models, transaction
from django.db.models import signals
from django.db.models.constants import OnConflict

from roles.statements import prepared

_SHAPES = {}  # (kind, model, vendor, rows, ignore_conflicts) → (fields, sql)
_PLAIN = {}  # model → whether its table and fields make its ORM write the statement alone
MAX_ROWS = 8  # more rows in one insert: the ORM's bulk_create (one statement kept per count of rows, and prepared)
_WRITE_STEPS = ("save", "save_base", "_save_table", "_do_update", "_do_insert")


def _plain(model) -> bool:
    """Whether the ORM's statement for `model` is the one built here: one table (no inherited one), one id column, no
    order kept with respect to another row, no field that wraps its value in SQL of its own (Django's
    `Field.get_placeholder`, as geometry fields do), no column filled by the database but the auto id and those with
    a database default."""
    found = _PLAIN.get(model)
    if found is None:
        meta = model._meta
        found = _PLAIN[model] = (
            not meta.parents
            and not meta.is_composite_pk
            and meta.order_with_respect_to is None
            and not any(hasattr(field, "get_placeholder") for field in meta.local_concrete_fields)
            # The columns the ORM reads back: the id, or one with a database default, whose value the row sends
            # unless it is the default expression itself (then `_values` hands the row to the ORM).
            and all(field is meta.pk or field.has_db_default() for field in meta.db_returning_fields)
        )
    return found


def _saved_by_orm(model) -> bool:
    """Whether `save()` does more than the statement: its own steps (an override of `save()` or below), what
    `_plain` says, or save signals someone listens to. (`bulk_create`, which `insert_rows` stands for, runs none of
    those: a model's own `save()` does not matter there — guardian's grant rows check their content type in theirs.)"""
    return (
        _own_write_steps(model, _WRITE_STEPS)
        or not _plain(model)
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
    )


def _own_write_steps(model, steps) -> bool:
    """Whether `model` overrides one of these steps of the ORM's write."""
    return any(getattr(model, step) is not getattr(models.Model, step) for step in steps)


def _values(obj, fields, add, connection):
    """The fields' values as the ORM sends them, or None when one is an expression (the ORM compiles those)."""
    values = []
    for field in fields:
        value = field.pre_save(obj, add)
        if hasattr(value, "resolve_expression"):
            return None
        values.append(field.get_db_prep_save(value, connection))
    return values


def _run(connection, using, sql, params, fetch):
    # As the ORM's writes: an error marks the enclosing atomic block for rollback (no commit of a partial write).
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else cursor.rowcount


def _shape(kind, model, connection, rows=1, ignore_conflicts=False, returning=True):
    key = (kind, model, connection.vendor, rows, ignore_conflicts, returning)
    found = _SHAPES.get(key)
    if found is None:
        build = _update_sql if kind == "update" else _insert_sql
        found = _SHAPES.setdefault(key, build(model, connection, rows, ignore_conflicts, returning))
    return found


def _update_sql(model, connection, rows, ignore_conflicts, returning):
    meta, quote = model._meta, connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if not f.primary_key and not f.generated]
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    return fields, f"UPDATE {table} SET {assignments} WHERE {table}.{quote(meta.pk.column)} = %s"


def _insert_sql(model, connection, rows, ignore_conflicts, returning):
    meta, quote, ops = model._meta, connection.ops.quote_name, connection.ops
    fields = [f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field]
    table = quote(meta.db_table)
    conflict = OnConflict.IGNORE if ignore_conflicts else None
    values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * rows)
    sql = f"{ops.insert_statement(on_conflict=conflict)} {table} ({', '.join(quote(f.column) for f in fields)}) "
    sql += f"VALUES {values}"
    suffix = ops.on_conflict_suffix_sql(fields, conflict, None, None) if conflict else ""
    if suffix:
        sql += f" {suffix}"
    if returning and meta.auto_field is not None:  # with a conflict ignored: the id of a row inserted, none else
        sql += f" RETURNING {table}.{quote(meta.auto_field.column)}"
    return fields, sql


def save_row(obj, *, send_with_next=False):
    """`obj.save()` for a row read from the database: every column written again, `auto_now` fields set.

    `send_with_next=True`: the UPDATE is not sent but returned (`Pending`), for the caller to hand to the insert it
    makes next (`insert_rows(..., along=)`): both then go in one round trip on PostgreSQL. None when the ORM saved the
    row at once (see `_saved_by_orm`)."""
    model = type(obj)
    if obj._state.adding or obj.pk is None or _saved_by_orm(model) or obj.get_deferred_fields():
        obj.save()
        return None
    obj._prepare_related_fields_for_save(operation_name="save")  # an unsaved related row refused, as by save()
    using = obj._state.db or DEFAULT_DB_ALIAS
    connection = connections[using]
    fields, sql = _shape("update", model, connection)
    params = _values(obj, fields, False, connection)
    if params is None:
        obj.save()
        return None
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    pending = Pending(label=f"{model._meta.label} #{obj.pk}", using=using, sql=sql, params=params, expect=1)
    if send_with_next:
        return pending
    pending.run()
    return None


@dataclass(frozen=True)
class Pending:
    """A write built but not sent: a row's UPDATE (`save_row(..., send_with_next=True)`: its one row checked) or new
    rows whose ids nobody reads (`insert_rows(..., send_with_next=True)`). `insert_rows(..., along=)` sends it in front
    of its INSERT, as a data-modifying `WITH` of the same statement on PostgreSQL (one round trip instead of two);
    elsewhere, just before it. The caller must hand it on: nothing sends it otherwise."""

    label: str
    using: str
    sql: str
    params: list
    expect: int | None = None  # the rows it must write (an update: its one row), checked
    # `sql` as named WITH queries (`"x" AS (…), "y" AS (…)`, PostgreSQL), the rows of `counted` checked: a write of
    # several statements (parcours.work.driver's close of a task), carried as they are.
    counted: str | None = None

    def run(self):
        connection = connections[self.using]
        if self.counted is not None:
            sql, params = prepared(self.statement, self.params, range(len(self.params)), using=self.using)
            written = _run(connection, self.using, sql, params, fetch=True)[0][0]
        else:
            sql, params = prepared(self.sql, self.params, range(len(self.params)), using=self.using)
            written = _run(connection, self.using, sql, params, fetch=False)
        with transaction.mark_for_rollback_on_error(self.using):
            self.check(written)

    @property
    def statement(self) -> str:
        """Named WITH queries as a statement of their own, answering the rows counted."""
        return f'WITH {self.sql} SELECT COUNT(*) FROM "{self.counted}"'

    def cte(self, index) -> tuple:
        """(its WITH queries in a statement that carries it as `along_{index}`, the name whose rows are counted)."""
        if self.counted is not None:
            return self.sql, self.counted
        return f'"along_{index}" AS ({self.sql} RETURNING 1)', f"along_{index}"

    def check(self, written):
        if self.expect is not None and written != self.expect:
            raise DatabaseError(f"{self.label}: the row to save is gone.")


class Lead:
    """New rows' INSERT (with the writes it carries) built but not sent (`insert_rows(..., lead=True)`), for the next
    read to send in front of itself, in the same round trip on PostgreSQL (`roles.statements.Compiled`, `leads=`);
    elsewhere just before it. `send()` sends it on its own if nothing did: its holder calls it once it has handed it
    to the reads that could carry it, and never commits before."""

    def __init__(self, *, using, sql, params, finish, before=()):
        self.using, self.sql, self.params, self._finish = using, sql, params, finish
        self._before = list(before)  # the writes it carries, where they go just before it (SQLite)
        self.sent = False
        self.then = []  # called once its rows are written and their ids set (workflows.journal's written listeners)

    def statement(self) -> tuple:
        """(sql, params, positions of its arguments) as `Compiled.statement()` gives them: every value an argument."""
        return self.sql, self.params, range(len(self.params))

    def received(self, rows):
        """Its rows came back (sent by a read's round trip): the ids set, the carried writes' counts checked."""
        self.sent = True
        with transaction.mark_for_rollback_on_error(self.using):
            self._finish(rows)
            for written in self.then:
                written()

    def send(self):
        if self.sent:
            return
        send(self._before)
        self._before = []
        sql, params = prepared(*self.statement(), using=self.using)
        self.received(_run(connections[self.using], self.using, sql, params, fetch=True))


_UNSENT = "_parcours_unsent"  # where a new row keeps the `Lead` that writes it, until sent


def unsent(obj) -> tuple:
    """The write of `obj` not sent yet (`insert_rows(..., lead=True)`), for a read to carry (`Compiled`'s `leads`):
    one `Lead`, or none."""
    waiting = None if obj is None else obj.__dict__.get(_UNSENT)
    return (waiting,) if waiting is not None and not waiting.sent else ()


def send_unsent(obj) -> None:
    """Send the write of `obj` if no read carried it."""
    for waiting in unsent(obj):
        waiting.send()


def send(along) -> None:
    """Send pending writes now (one, None, or a list), each on its own."""
    for pending in _pendings(along):
        pending.run()


def _pendings(along) -> list:
    """The pending writes of `along` (one, None, a list of them and of what `send_with_next` returned), each once."""
    if along is None:
        return []
    if isinstance(along, Pending):
        return [along]
    found = {}
    for item in along:
        for pending in _pendings(item):
            found.setdefault(id(pending), pending)
    return list(found.values())


def insert_rows(objs, *, using=DEFAULT_DB_ALIAS, ignore_conflicts=False, along=None, send_with_next=False, lead=False):
    """`bulk_create(objs)` of new rows of one model in one statement (their ids set, unless conflicts are ignored:
    as `bulk_create`, a row not inserted gets none). No save signals: for `save(force_insert=True)` or
    `objects.create()`, only where `save()` is the statement alone (see `_saved_by_orm`).

    `along`: `Pending` writes (one or a list) sent with it, in the same statement on PostgreSQL, else first.
    `send_with_next=True`: the INSERT is not sent but returned as a `Pending` (with those of `along` it was to carry:
    a tuple) for the next insert to carry, the rows' ids not asked for (none set on the objects); None when it could
    not wait (sent at once: the ORM's insert). It waits on SQLite too, sent just before its carrier's statement.
    `lead=True`: the INSERT, with what it carries, is not sent but returned as a `Lead` for the next read to send in
    front of itself (the rows' ids are set when it comes back); None when it could not wait (sent at once)."""
    objs = list(objs)
    along = _pendings(along)
    connection = connections[using]
    # A write that waits, waits on every database (sent by the statement that carries it, or just before it): the
    # checks between stay ahead of it everywhere.
    carried_here = connection.vendor == "postgresql" or send_with_next or lead
    if not objs or not carried_here or any(p.using != using for p in along):
        for pending in along:
            pending.run()
        along = []
    if not objs:
        return None if send_with_next or lead else objs
    model = type(objs[0])
    meta = model._meta
    returning = meta.auto_field is not None and not ignore_conflicts and not send_with_next
    if (
        len(objs) > MAX_ROWS
        or not _plain(model)
        or any(type(obj) is not model or obj.pk is not None and meta.auto_field is not None for obj in objs)
        or returning
        and not (
            connection.features.can_return_rows_from_bulk_insert
            if len(objs) > 1
            else connection.features.can_return_columns_from_insert
        )
    ):
        return _orm_insert(model, objs, using, ignore_conflicts, along, send_with_next or lead)
    fields, sql = _shape("insert", model, connection, len(objs), ignore_conflicts, returning)
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        values = _values(obj, fields, True, connection)
        if values is None:
            return _orm_insert(model, objs, using, ignore_conflicts, along, send_with_next or lead)
        params.extend(values)
    if send_with_next:  # with those it was to carry: the next statement sends them all (a WITH is not nested)
        pending = Pending(label=meta.label, using=using, sql=sql, params=params)
        return (*along, pending) if along else pending
    before = []  # what it carries, sent just before it where no WITH can carry it (a lead on SQLite)
    if along and connection.vendor != "postgresql":
        before, along = along, []
    checked = [p for p in along if p.expect is not None]
    if checked and not returning:  # their counts come back beside returned ids only
        for pending in checked:
            pending.run()
        along = [p for p in along if p.expect is None]
        checked = []
    if along:
        sql, params = _with(along, sql, params)
        # A checked write's rows counted in each returned row: checked as when it runs alone (an error rolls all back).
        sql += "".join(
            f', (SELECT COUNT(*) FROM "{p.cte(i)[1]}")' for i, p in enumerate(along) if p.expect is not None
        )

    def finish(rows):
        # A failed check after the statement wrote the rest: the transaction is marked for rollback, as on a failed
        # write (no commit of an event without its row, even by a caller that catches the error).
        with transaction.mark_for_rollback_on_error(using):
            for column, pending in enumerate(checked, start=1):
                pending.check(rows[0][column])
        if not ignore_conflicts:  # as bulk_create: a row maybe not inserted keeps its state (and gets no id)
            for index, obj in enumerate(objs):
                obj.__dict__.pop(_UNSENT, None)  # written: nothing waits (and no cycle back to the lead)
                if returning:
                    setattr(obj, meta.auto_field.attname, rows[index][0])
                obj._state.adding = False
                obj._state.db = using

    if lead and returning:
        waiting = Lead(using=using, sql=sql, params=params, finish=finish, before=before)
        for obj in objs:
            obj.__dict__[_UNSENT] = waiting
        return waiting
    send(before)
    sql, params = prepared(sql, params, range(len(params)), using=using)
    finish(_run(connection, using, sql, params, fetch=returning))
    return None if lead else objs


def insert_rows_with_children(objs, children, *, using=DEFAULT_DB_ALIAS, along=None):
    """New rows of one model (`objs`, their ids set as by `insert_rows`) and new rows of other models that point at
    them (`children`: (row, {attname: a row of `objs`, or a row saved before})), in one statement on PostgreSQL: the
    parents' INSERT … RETURNING as a `WITH`, each child model's INSERT as a data-modifying `WITH` whose pointing
    columns read the new ids by position (`COALESCE((SELECT id … WHERE i = %s), %s)`: a parent's position, or an id
    known before). The parents' ids come back in the order of their rows: one statement's sequence values rise row
    by row. The children's pointing attnames are set; their own auto ids are not read (none set). Elsewhere — SQLite,
    or rows `insert_rows` would leave to the ORM — the parents first, then each child model in turn. `along`: pending
    writes (as for `insert_rows`) in front, in the same statement, their counts checked; elsewhere first."""
    objs, connection = list(objs), connections[using]
    along = _pendings(along)
    if any(p.using != using for p in along):
        raise ValueError("insert_rows_with_children carries writes of its own database only")
    groups = {}  # child model → [(row, refs)], in order of first appearance
    for child, refs in children:
        groups.setdefault(type(child), []).append((child, refs))
    written = _with_children(objs, groups, connection, using, along) if connection.vendor == "postgresql" else False
    if not written:
        send(along)
        insert_rows(objs, using=using)
        for child_model, rows in groups.items():
            for child, refs in rows:
                for attname, parent in refs.items():
                    setattr(child, attname, parent.pk)
            if child_model._meta.parents:  # its own table only: the parent row is among `objs`
                for child, _ in rows:
                    child.save_base(raw=True, force_insert=True, using=using)
            else:
                insert_rows([child for child, _ in rows], using=using)
    return objs


def _with_children(objs, groups, connection, using, along) -> bool:
    """`insert_rows_with_children` in one statement; False (nothing sent) where one of the models or values needs
    the ORM."""
    model = type(objs[0]) if objs else None
    if model is None or model._meta.auto_field is None or not _insertable(objs):
        return False
    if not all(_insertable([child for child, _ in rows], child_of=model) for rows in groups.values()):
        return False
    fields, parent_sql = _shape("insert", model, connection, len(objs))
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        values = _values(obj, fields, True, connection)
        if values is None:
            return False
        params.extend(values)
    position = {id(obj): index for index, obj in enumerate(objs, start=1)}
    quote = connection.ops.quote_name
    column = quote(model._meta.auto_field.column)
    ctes = [
        f'"new" AS ({parent_sql})',
        f'"n" AS (SELECT {column}, row_number() OVER (ORDER BY {column}) AS "i" FROM "new")',
    ]
    for number, (child_model, rows) in enumerate(groups.items()):
        pointing = tuple(sorted({attname for _, refs in rows for attname in refs}))
        child_fields, sql = _child_insert(child_model, connection, len(rows), pointing, column)
        for child, refs in rows:
            child._prepare_related_fields_for_save(operation_name="bulk_create")
            values = _values(child, child_fields, True, connection)
            if values is None:
                return False
            for field, value in zip(child_fields, values, strict=True):
                if field.attname in pointing:
                    parent = refs.get(field.attname)
                    new = parent is not None and id(parent) in position
                    known = None if new else (value if parent is None else parent.pk)
                    params += [position[id(parent)] if new else None, known]
                else:
                    params.append(value)
        ctes.append(f'"child_{number}" AS ({sql})')
    # A checked write's rows are counted beside each new id: checked as when it runs alone.
    checked = [(i, p) for i, p in enumerate(along) if p.expect is not None]
    counts = "".join(f', (SELECT COUNT(*) FROM "{p.cte(i)[1]}")' for i, p in checked)
    text = f'WITH {", ".join(ctes)} SELECT {column}{counts} FROM "n" ORDER BY "i"'
    if along:
        text, params = _with(along, text.removeprefix("WITH "), params, joined=True)
    sql, params = prepared(text, params, range(len(params)), using=using)
    rows = _run(connection, using, sql, params, fetch=True)
    with transaction.mark_for_rollback_on_error(using):
        for column_number, (_, pending) in enumerate(checked, start=1):
            pending.check(rows[0][column_number])
    for obj, row in zip(objs, rows, strict=True):
        setattr(obj, model._meta.auto_field.attname, row[0])
        obj._state.adding, obj._state.db = False, using
    for rows in groups.values():
        for child, refs in rows:
            for attname, parent in refs.items():
                setattr(child, attname, parent.pk)
            child._state.adding, child._state.db = False, using
    return True


def _insertable(objs, child_of=None) -> bool:
    """Whether `insert_rows` writes these new rows with its own statement: one plain model, no id given where the
    database gives it, at most `MAX_ROWS`. As children of `child_of` rows, also the own table of a model inherited
    from it (multi-table inheritance: its id is the parent row's, read as the other pointing columns)."""
    if not objs or len(objs) > MAX_ROWS:
        return False
    model = type(objs[0])
    meta = model._meta
    if child_of is not None and list(meta.parents) == [child_of] and not child_of._meta.parents:
        plain = (
            meta.order_with_respect_to is None
            and not any(hasattr(field, "get_placeholder") for field in meta.local_concrete_fields)
            and not _own_write_steps(model, _WRITE_STEPS)
            and not signals.pre_save.has_listeners(model)
            and not signals.post_save.has_listeners(model)
        )
        return plain and all(type(obj) is model and obj.pk is None for obj in objs)
    return _plain(model) and all(type(obj) is model and (obj.pk is None or meta.auto_field is None) for obj in objs)


def _child_insert(model, connection, rows, pointing, column):
    """(fields, INSERT of `rows` rows of `model` without RETURNING, whose `pointing` columns read a new id by
    position or take one given), kept per shape."""
    key = ("child", model, connection.vendor, rows, pointing, column)
    found = _SHAPES.get(key)
    if found is None:
        fields = _shape("insert", model, connection, rows, returning=False)[0]
        quote = connection.ops.quote_name
        slot = f'COALESCE((SELECT {column} FROM "n" WHERE "i" = %s), %s)'
        row = "(" + ", ".join(slot if f.attname in pointing else "%s" for f in fields) + ")"
        columns = ", ".join(quote(f.column) for f in fields)
        sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"
        found = _SHAPES.setdefault(key, (fields, sql))
    return found


def _with(along, sql, params, *, joined=False):
    """`sql` with the pending writes in front, as data-modifying `WITH`s: PostgreSQL runs each once, whether or not
    the statement reads it, all in one snapshot, so none sees the rows of another. Writes whose triggers read each
    other's tables must not go together: AFTER triggers run at the end of the statement and see all of its rows (a
    pathway's state and a participant grant, both counted by the tally's triggers, would be counted twice). What is
    carried today — a row's update with its journal event, with the lots' stale marks (parcours.selectors.lot_hours)
    and the service's own rows (a decided assessment, declared criteria, a planned follow-up completed, a hire's
    planned follow-ups, an exit), grants of a placement, a referral or a participant (never with a pathway's insert
    or state change), a hire's contract step closed with its split's insert, processes finished with the insert of
    their end — touches no such table."""
    ctes = ", ".join(p.cte(i)[0] for i, p in enumerate(along))
    if joined:  # `sql` goes on with WITH queries of its own
        return f"WITH {ctes}, {sql}", [value for p in along for value in p.params] + params
    return f"WITH {ctes} {sql}", [value for p in along for value in p.params] + params


def _orm_insert(model, objs, using, ignore_conflicts, along, send_with_next=False):
    for pending in along:
        pending.run()
    created = model._base_manager.using(using).bulk_create(objs, ignore_conflicts=ignore_conflicts)
    return None if send_with_next else created


def unique_violation(exc) -> bool:
    """Whether an IntegrityError is a unique key's (PostgreSQL's SQLSTATE 23505, SQLite's message), not another
    constraint's: a foreign key or a check broken is a defect, not a race to report as a duplicate."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    return "UNIQUE constraint failed" in str(exc)


def insert_row_unless_duplicate(obj, *, using=DEFAULT_DB_ALIAS, own_save_done=False) -> bool:
    """Insert a new row unless a row with the same unique values exists (a race lost on a unique constraint): True
    once inserted (its id set), False and nothing written otherwise; the transaction goes on either way. On
    PostgreSQL one statement, `INSERT … ON CONFLICT DO NOTHING RETURNING id`, where a savepoint cost two round trips
    more (SAVEPOINT, RELEASE); elsewhere, or where the ORM saves the row (`_saved_by_orm`), inside a savepoint, the
    unique violation caught. Any other constraint broken raises, as from `insert_row`. `own_save_done=True`: the
    caller did what the model's own `save()` adds to the row (a participant's derived columns), the statement is
    then all that is left."""
    model, connection = type(obj), connections[using]
    meta = model._meta
    # A row whose id the caller gave goes the ORM's way (as in `insert_rows`), its id kept.
    fast = connection.vendor == "postgresql" and meta.auto_field is not None and obj.pk is None
    statement_enough = (
        _plain(model)
        and not _own_write_steps(model, _WRITE_STEPS[1:])  # its save() done by the caller, nothing below it
        and not signals.pre_save.has_listeners(model)
        and not signals.post_save.has_listeners(model)
        if own_save_done
        else not _saved_by_orm(model)
    )
    if fast and statement_enough:
        fields, sql = _shape("insert", model, connection, 1, True, True)
        obj._prepare_related_fields_for_save(operation_name="save")
        values = _values(obj, fields, True, connection)
        if values is not None:
            sql, params = prepared(sql, values, range(len(values)), using=using)
            rows = _run(connection, using, sql, params, fetch=True)
            if not rows:
                return False
            setattr(obj, meta.auto_field.attname, rows[0][0])
            obj._state.adding, obj._state.db = False, using
            return True
    try:
        with transaction.atomic(using=using):
            insert_row(obj, using=using)
    except IntegrityError as exc:
        if not unique_violation(exc):
            raise
        return False
    return True


def insert_row(obj, *, using=DEFAULT_DB_ALIAS, along=None, lead=False):
    """`obj.save(force_insert=True)` of a new row: the statement alone where that is all `save()` does. `along` and
    `lead`: as for `insert_rows` (with `lead=True`, a `Lead`, or None when the row was written at once)."""
    if _saved_by_orm(type(obj)):
        for pending in _pendings(along):
            pending.run()
        obj.save(force_insert=True, using=using)
        return None if lead else obj
    written = insert_rows([obj], using=using, along=along, lead=lead)
    return written if lead else written[0]
