"""Row writes on the hot paths, as the ORM writes them but without its per-call statement building.

`Model.save()` and `bulk_create()` rebuild their UPDATE or INSERT at every call: for a transition's row and its
journal event that is more Python time than the database takes (a referral's save: 0.44 ms, the same statement
prepared: 0.25 ms). `save_row` and `insert_rows` write the same columns with the same values — each field's
`pre_save` (`auto_now`, defaults) and `get_db_prep_save` — through a statement built once per model and shape, and
prepared on PostgreSQL (`roles.statements.prepared`). Where the ORM would do more than that (a model with its own
`save()`, save signals listened to, inherited tables, deferred fields, columns the database fills), they hand the
work to the ORM unchanged.
"""

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models
from django.db.models import signals
from django.db.models.constants import OnConflict

from roles.statements import prepared

_SHAPES = {}  # (kind, model, vendor, rows, ignore_conflicts) → (fields, sql)


def _plain(model) -> bool:
    """Whether the ORM's write of `model` is only its statement: no inherited table, no field with its own SQL
    placeholder, no column returned by the database but the auto id."""
    meta = model._meta
    return (
        not meta.parents
        and not any(hasattr(field, "get_placeholder") for field in meta.local_concrete_fields)
        and list(meta.db_returning_fields) in ([meta.pk], [])
    )


def _saved_by_orm(model) -> bool:
    """Whether `save()` does more than the statement: the model's own `save()`, or save signals someone listens to."""
    return (
        model.save is not models.Model.save
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or not _plain(model)
    )


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


def save_row(obj) -> None:
    """`obj.save()` for a row read from the database: every column written again, `auto_now` fields set."""
    model = type(obj)
    if obj._state.adding or obj.pk is None or _saved_by_orm(model) or obj.get_deferred_fields():
        obj.save()
        return
    using = obj._state.db or DEFAULT_DB_ALIAS
    connection = connections[using]
    fields, sql = _shape("update", model, connection)
    params = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in fields]
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    sql, params = prepared(sql, params, range(len(params)), using=using)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError(f"{model._meta.label} #{obj.pk}: the row to save is gone.")


def insert_rows(objs, *, using=DEFAULT_DB_ALIAS, ignore_conflicts=False) -> list:
    """`bulk_create(objs)` of new rows of one model in one statement (their ids set, unless conflicts are ignored:
    as `bulk_create`, a row not inserted gets none). No save signals: for `save(force_insert=True)` or
    `objects.create()`, only where `save()` is the statement alone (see `_saved_by_orm`)."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[using]
    meta = model._meta
    returning = meta.auto_field is not None and not ignore_conflicts
    if (
        not _plain(model)
        or any(type(obj) is not model or obj.pk is not None and meta.auto_field is not None for obj in objs)
        or returning
        and not (
            connection.features.can_return_rows_from_bulk_insert
            if len(objs) > 1
            else connection.features.can_return_columns_from_insert
        )
    ):
        return model._base_manager.using(using).bulk_create(objs, ignore_conflicts=ignore_conflicts)
    fields, sql = _shape("insert", model, connection, len(objs), ignore_conflicts)
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        params.extend(field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields)
    sql, params = prepared(sql, params, range(len(params)), using=using)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()] if returning else []
    for index, obj in enumerate(objs):
        if returning:
            setattr(obj, meta.auto_field.attname, ids[index])
        obj._state.adding = False
        obj._state.db = using
    return objs


def insert_row(obj, *, using=DEFAULT_DB_ALIAS):
    """`obj.save(force_insert=True)` of a new row: the statement alone where that is all `save()` does."""
    if _saved_by_orm(type(obj)):
        obj.save(force_insert=True, using=using)
        return obj
    return insert_rows([obj], using=using)[0]
