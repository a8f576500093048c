"""Every hand-written SQL statement of the project, in one place.

Each is kept only where a bench showed the ORM's form costing more than a user would notice,
says so in its docstring, takes table and column names from the models' `_meta`, and is tested
against the ORM statement it replaces (tests/test_statements.py). Models are looked up when a
statement runs, so this module imports no app at load time.

Row inserts (`insert_rows`): a grade save runs after every keypress of every reader. Building
an INSERT through `bulk_create` costs about a millisecond of Python per statement on our
machines, more than Postgres takes to run it; the statement text depends only on the model and
the number of rows, so it is built once here, and the values go through each field's own
conversion (`get_db_prep_save`, `pre_save` for auto_now and the like) exactly as the ORM would
do, except that JSON goes to Postgres encoded by orjson (the same JSON text, an order of
magnitude faster than the json module on the megabytes a cohort's results hold).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from django.apps import apps
from django.db import DatabaseError, connection, models, transaction
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


def _quoted(model: type[models.Model], *fields: str) -> list[str]:
    """The quoted table name of `model`, then the quoted columns of `fields`."""
    quote = connection.ops.quote_name
    return [quote(model._meta.db_table)] + [
        quote(model._meta.get_field(name).column) for name in fields
    ]


# --- scoring: grades, read as text --------------------------------------------------------


def grade_lines(read_ids: Sequence[int]) -> str:
    """The grades of `read_ids` as tab-separated lines (read id, muscle id, side, sequence,
    value), in no particular order. Postgres builds one line block per read: 240 times fewer
    rows through the driver than the ORM's one per cell, which took seconds for a 10,000-read
    recompute (bench/recompute.py)."""
    grade = apps.get_model("scoring", "Grade")
    table, read, muscle, side, sequence, value = _quoted(
        grade, "read", "muscle", "side", "sequence", "value"
    )
    tab = "E'\\t'"
    line = f" || {tab} || ".join([f"{read}::text", f"{muscle}::text", side, sequence, value])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT string_agg({line}, E'\\n') FROM {table}"  # noqa: S608 - names from _meta
            f" WHERE {read} = ANY(%s) GROUP BY {read}",
            [[int(i) for i in read_ids]],
        )
        return "\n".join(row[0] for row in cursor.fetchall())


# --- analytics: stored read scores --------------------------------------------------------


def read_muscle_scores(read_ids: Sequence[int]) -> list[tuple[int, dict]]:
    """(read id, {scope: {muscle slug: score}}) of the stored scores of `read_ids`: Postgres
    sends only the muscle level of each scope (the other levels are derived from it), as
    text that orjson parses several times faster than the driver's json.loads. Every
    recomputation reads all of a cohort's reads this way: at 10,000 reads it is 1.25 s of
    the 4 s from a grade change to fresh results (bench/recompute.py, target 5 s), and
    the ORM would send and parse all levels (twice the JSON) with the slower parser."""
    scores = apps.get_model("analytics", "ReadScores")
    table, read, payload = _quoted(scores, "read", "scores")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {read}, (SELECT jsonb_object_agg(k, v -> 'muscle')"  # noqa: S608
            f" FROM jsonb_each({payload}) AS e(k, v))::text"
            f" FROM {table} WHERE {read} = ANY(%s)",
            [[int(i) for i in read_ids]],
        )
        return [(r[0], orjson.loads(r[1] or "{}")) for r in cursor.fetchall()]


def read_scores_upsert(
    rows: Iterable[tuple[int, str, float, float, str]], *, computed_at: datetime
) -> list[tuple[int, str, str]]:
    """Store (read id, fingerprint, total, total %, scores JSON text) rows, replacing a read's
    earlier scores (`bulk_create(update_conflicts=True)`'s effect); returns (read id,
    fingerprint, computed_at as text) of each row stored. Through COPY into a temporary table:
    the JSON goes over the wire once, without a statement's quoting (a full recompute stores
    ~60 MB of it). Inside the caller's transaction."""
    scores = apps.get_model("analytics", "ReadScores")
    names = ("read", "fingerprint", "total", "total_pct", "scores", "computed_at")
    table, *columns = _quoted(scores, *names)
    listed = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    types = [scores._meta.get_field(name).db_type(connection) for name in names]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE readscores_in ("
            + ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
            + ") ON COMMIT DROP"
        )
        with cursor.copy(f"COPY readscores_in ({listed}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, computed_at))
        cursor.execute(
            f"INSERT INTO {table} ({listed}) SELECT {listed} FROM readscores_in"  # noqa: S608
            f" ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}"
            f" RETURNING {columns[0]}, {columns[1]}, {columns[5]}::text"
        )
        stored = cursor.fetchall()
        cursor.execute("DROP TABLE readscores_in")
    return stored


_lz4_available: bool | None = None  # a property of the server, probed once per process


def use_lz4_compression() -> None:
    """Compress the values this transaction stores out of line with lz4 (several times faster
    than the default pglz on megabytes of JSON), where the server has it."""
    global _lz4_available
    if _lz4_available is False:
        return
    with connection.cursor() as cursor:
        if _lz4_available:
            cursor.execute("SET LOCAL default_toast_compression = lz4")
            return
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL default_toast_compression = lz4")
            _lz4_available = True
        except DatabaseError:
            _lz4_available = False


# --- analytics: per-patient rows of stored results ----------------------------------------


def patient_rows_copy(result_id: int, rows: Iterable[tuple[str, int, str]]) -> None:
    """Store (scope, position, JSON text) rows of a result through COPY: the texts go over
    the wire as they are (10,000 patients' rows in one statement)."""
    row = apps.get_model("analytics", "PatientScoreRow")
    table, *columns = _quoted(row, "result", "scope", "position", "row")
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for scope, position, text in rows:
            copy.write_row((result_id, scope, position, text))


def patient_rows_text(result_id: int, scope: str | None = None) -> list[tuple[str, str]]:
    """(scope, JSON array text of its rows in order) of one stored result, only `scope` when
    given: one parse per scope instead of 10,000 small ones."""
    row = apps.get_model("analytics", "PatientScoreRow")
    table, result, scope_column, position, value = _quoted(
        row, "result", "scope", "position", "row"
    )
    # Names from _meta, values as parameters.
    statement = (
        f"SELECT {scope_column}, '[' || string_agg({value}::text, ',' ORDER BY {position})"  # noqa: S608
        f" || ']' FROM {table} WHERE {result} = %s"
    )
    arguments: list[Any] = [result_id]
    if scope is not None:
        statement += f" AND {scope_column} = %s"
        arguments.append(scope)
    with connection.cursor() as cursor:
        cursor.execute(statement + f" GROUP BY {scope_column}", arguments)
        return cursor.fetchall()


def patient_row_fields_text(result_id: int, scope: str, fields: Sequence[str]) -> str | None:
    """The rows of one scope as a JSON array of [value of each of `fields`] arrays, in order
    (Postgres projects them: a twentieth of the JSON to send and parse for a dashboard)."""
    row = apps.get_model("analytics", "PatientScoreRow")
    table, result, scope_column, position, value = _quoted(
        row, "result", "scope", "position", "row"
    )
    picks = ", ".join([f"{value} -> %s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT jsonb_agg(jsonb_build_array({picks}) ORDER BY {position})::text"  # noqa: S608
            f" FROM {table} WHERE {result} = %s AND {scope_column} = %s",
            [*fields, result_id, scope],
        )
        return cursor.fetchone()[0]


# --- analytics: recomputation requests ----------------------------------------------------


def analytics_state_request(
    requested: models.Model, *, lost_before: datetime
) -> tuple[datetime | None] | None:
    """Record a recomputation request (`requested`: an unsaved CohortAnalyticsState, stale,
    with its request and queue times) in one statement, as every grade save does: create the
    state row, or mark it stale and claim the queueing, but only while no task is waiting to
    start (none queued, or queued before `lost_before`: lost with its worker's queue). Returns
    (claimed_at,) when the request claimed the queueing, None when a waiting task carries it.
    Every column is written from the instance, so a field added later keeps its default."""
    model = type(requested)
    table, cohort, stale, stale_since, requested_at, queued_at, queue_failed, claimed_at = _quoted(
        model,
        "cohort",
        "stale",
        "stale_since",
        "requested_at",
        "queued_at",
        "queue_failed",
        "claimed_at",
    )
    columns, values = row_values(requested)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns})"  # noqa: S608 - names from _meta
            f" VALUES ({', '.join(['%s'] * len(values))})"
            f" ON CONFLICT ({cohort}) DO UPDATE SET {stale} = EXCLUDED.{stale},"
            f" {stale_since} = COALESCE({table}.{stale_since}, EXCLUDED.{stale_since}),"
            f" {requested_at} = EXCLUDED.{requested_at}, {queued_at} = EXCLUDED.{queued_at},"
            f" {queue_failed} = EXCLUDED.{queue_failed}"
            f" WHERE {table}.{queued_at} IS NULL OR {table}.{queued_at} < %s"
            f" RETURNING {claimed_at}",
            [*values, lost_before],
        )
        return cursor.fetchone()
