"""Row inserts for the hot paths, without the ORM's query compiler.

A grade save runs after every keypress of every reader. Building an INSERT through
`bulk_create` costs about a millisecond of Python per statement on our machines, more than
Postgres takes to run it; the statement text depends only on the model and the number of rows,
so it is built once here, and the values go through each field's own conversion
(`get_db_prep_save`, `pre_save` for auto_now and the like) exactly as the ORM would do, except
that JSON goes to Postgres encoded by orjson (the same JSON text, an order of magnitude faster
than the json module on the megabytes a cohort's results hold).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import orjson
from django.db import connection, models
from django.db.models.fields import NOT_PROVIDED, AutoFieldMixin

_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _orjson_dumps(value: object) -> bytes:
    return orjson.dumps(value, option=_ORJSON_OPTIONS)


def _db_value(field: models.Field, obj: models.Model) -> object:
    value = field.pre_save(obj, True)
    if value is not None and isinstance(field, models.JSONField) and field.encoder is None:
        from psycopg.types.json import Jsonb

        return Jsonb(value, dumps=_orjson_dumps)
    return field.get_db_prep_save(value, connection)


def written_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT of `model` names, from its `_meta`: not the automatic key, and
    not the columns the database fills itself (`db_default`, generated columns)."""
    return [
        f
        for f in model._meta.concrete_fields
        if not isinstance(f, AutoFieldMixin) and not f.generated and f.db_default is NOT_PROVIDED
    ]


def row_values(obj: models.Model) -> tuple[str, list[object]]:
    """(quoted column list, values) of one unsaved instance, for a hand-written INSERT that
    cannot be `insert_rows`: every column `written_fields` names, so a field added to the
    model later (with its Python default) is written too."""
    fields = written_fields(type(obj))
    quote = connection.ops.quote_name
    return ", ".join(quote(f.column) for f in fields), [_db_value(f, obj) for f in fields]


@cache
def _insert_parts(
    model: type[models.Model], unique_fields: tuple[str, ...], update_fields: tuple[str, ...]
) -> tuple[str, str, str, list[models.Field]]:
    """(head, one row's placeholders, tail, fields) of the INSERT for `model`."""
    quote = connection.ops.quote_name
    meta = model._meta
    fields = written_fields(model)
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    tail = ""
    if unique_fields:
        columns = [meta.get_field(name).column for name in unique_fields]
        updates = [meta.get_field(name).column for name in update_fields]
        tail = f" ON CONFLICT ({', '.join(quote(c) for c in columns)}) DO UPDATE SET " + ", ".join(
            f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updates
        )
    tail += f" RETURNING {quote(meta.pk.column)}"
    return head, row, tail, fields


# Rows per statement: well inside the 65,535 parameters a Postgres statement may carry.
BATCH_ROWS = 1000


def insert_rows(
    objs: Sequence[models.Model],
    *,
    unique_fields: Sequence[str] = (),
    update_fields: Sequence[str] = (),
) -> None:
    """Insert unsaved instances of one model, one statement per BATCH_ROWS, and set their
    primary keys.

    With `unique_fields`, a row that collides with a stored one updates its `update_fields`
    instead (`bulk_create(update_conflicts=True)`'s meaning) and the instance gets that row's
    key. Instances stay otherwise as given: no signals are sent, as with bulk_create.
    """
    if not objs:
        return
    model = type(objs[0])
    head, row, tail, fields = _insert_parts(model, tuple(unique_fields), tuple(update_fields))
    for start in range(0, len(objs), BATCH_ROWS):
        batch = objs[start : start + BATCH_ROWS]
        params = [_db_value(f, obj) for obj in batch for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(f"{head} VALUES {', '.join([row] * len(batch))}{tail}", params)
            keys = cursor.fetchall()
        # Postgres returns the rows of a multi-row VALUES in their order (bulk_create relies
        # on it too).
        for obj, (pk,) in zip(batch, keys, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
