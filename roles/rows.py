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

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
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
    `Field.get_placeholder`, as geometry fields do), no column filled by the database but the auto id."""
    found = _PLAIN.get(model)
    if found is None:
        meta = model._meta
        found = _PLAIN[model] = (
            not meta.parents
            and not meta.is_composite_pk
            and meta.order_with_respect_to is None
            and not any(hasattr(field, "get_placeholder") for field in meta.local_concrete_fields)
            and list(meta.db_returning_fields) in ([meta.pk], [])
        )
    return found


def _saved_by_orm(model) -> bool:
    """Whether `save()` does more than the statement: its own steps (an override of `save()` or below), what
    `_plain` says, or save signals someone listens to. (`bulk_create`, which `insert_rows` stands for, runs none of
    those: a model's own `save()` does not matter there — guardian's grant rows check their content type in theirs.)"""
    return (
        any(getattr(model, step) is not getattr(models.Model, step) for step in _WRITE_STEPS)
        or not _plain(model)
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
    )


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


def _shape(kind, model, connection, rows=1, ignore_conflicts=False):
    key = (kind, model, connection.vendor, rows, ignore_conflicts)
    found = _SHAPES.get(key)
    if found is None:
        found = _SHAPES.setdefault(
            key, (_update_sql if kind == "update" else _insert_sql)(model, connection, rows, ignore_conflicts)
        )
    return found


def _update_sql(model, connection, rows, ignore_conflicts):
    meta, quote = model._meta, connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if not f.primary_key and not f.generated]
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    return fields, f"UPDATE {table} SET {assignments} WHERE {table}.{quote(meta.pk.column)} = %s"


def _insert_sql(model, connection, rows, ignore_conflicts):
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
    elif meta.auto_field is not None and not ignore_conflicts:
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
    pending = Pending(model=model, pk=obj.pk, using=using, sql=sql, params=params)
    if send_with_next:
        return pending
    pending.run()
    return None


@dataclass(frozen=True)
class Pending:
    """A row's UPDATE built but not sent (`save_row(..., send_with_next=True)`). `insert_rows(..., along=)` sends it
    in front of its INSERT, as a data-modifying `WITH` of the same statement on PostgreSQL (one round trip instead of
    two, the row's update checked all the same); elsewhere, just before it. The caller must hand it on: nothing sends
    it otherwise."""

    model: type
    pk: object
    using: str
    sql: str
    params: list

    def run(self):
        connection = connections[self.using]
        sql, params = prepared(self.sql, self.params, range(len(self.params)), using=self.using)
        self.check(_run(connection, self.using, sql, params, fetch=False))

    def check(self, updated):
        if updated != 1:
            raise DatabaseError(f"{self.model._meta.label} #{self.pk}: the row to save is gone.")


def insert_rows(objs, *, using=DEFAULT_DB_ALIAS, ignore_conflicts=False, along=None) -> list:
    """`bulk_create(objs)` of new rows of one model in one statement (their ids set, unless conflicts are ignored:
    as `bulk_create`, a row not inserted gets none). No save signals: for `save(force_insert=True)` or
    `objects.create()`, only where `save()` is the statement alone (see `_saved_by_orm`). `along`: a `Pending` update
    sent with it (in the same statement where it can, else first)."""
    objs = list(objs)
    if along is not None and not (
        objs and along.using == using and _joins_insert(connections[using], objs, ignore_conflicts)
    ):
        along.run()
        along = None
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[using]
    meta = model._meta
    returning = meta.auto_field is not None and not ignore_conflicts
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
        return _orm_insert(model, objs, using, ignore_conflicts, along)
    fields, sql = _shape("insert", model, connection, len(objs), ignore_conflicts)
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        values = _values(obj, fields, True, connection)
        if values is None:
            return _orm_insert(model, objs, using, ignore_conflicts, along)
        params.extend(values)
    if along is not None:
        # The update's rows counted in each returned row: checked as when it runs alone (an error rolls both back).
        sql = f'WITH "saved" AS ({along.sql} RETURNING 1) {sql}, (SELECT COUNT(*) FROM "saved")'
        params = along.params + params
    sql, params = prepared(sql, params, range(len(params)), using=using)
    rows = _run(connection, using, sql, params, fetch=returning)
    if along is not None:
        along.check(rows[0][1])
    if not ignore_conflicts:  # as bulk_create: a row maybe not inserted keeps its state (and gets no id)
        for index, obj in enumerate(objs):
            if returning:
                setattr(obj, meta.auto_field.attname, rows[index][0])
            obj._state.adding = False
            obj._state.db = using
    return objs


def _joins_insert(connection, objs, ignore_conflicts) -> bool:
    """Whether a pending update can go inside the INSERT of `objs`: PostgreSQL (a data-modifying `WITH`), rows whose
    ids come back (the update's count comes back beside them)."""
    return connection.vendor == "postgresql" and type(objs[0])._meta.auto_field is not None and not ignore_conflicts


def _orm_insert(model, objs, using, ignore_conflicts, along):
    if along is not None:
        along.run()
    return model._base_manager.using(using).bulk_create(objs, ignore_conflicts=ignore_conflicts)


def insert_row(obj, *, using=DEFAULT_DB_ALIAS, along=None):
    """`obj.save(force_insert=True)` of a new row: the statement alone where that is all `save()` does. `along`: as
    for `insert_rows`."""
    if _saved_by_orm(type(obj)):
        if along is not None:
            along.run()
        obj.save(force_insert=True, using=using)
        return obj
    return insert_rows([obj], using=using, along=along)[0]
