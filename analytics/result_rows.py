"""Per-patient rows of a stored result (`PatientScoreRow`): written, patched and read back.

A stored `patient_scores` result holds {scope: [row, ...]}; its `AnalysisResult.result` keeps
only {"row_counts": {scope: n}} and the rows live one per table row, so that a grade change
rewrites the few rows it changed (Postgres would rewrite and re-compress the whole 20 MB value
of a 10,000-patient cohort to change one element of it). Readers get the same
{scope: [row, ...]} back through `stored_result_value`.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.db import connection

from .models import AnalysisResult

ROW_COUNTS = "row_counts"
# Scope → the JSON text of each row, in order.
RowTexts = dict[str, list[bytes]]


def row_texts(value: Any) -> RowTexts | None:
    """The JSON text of each row of {scope: [row, ...]}, or None for another shape. Equal
    texts: equal values of equal types (1 and 1.0 differ), key order too."""
    if not isinstance(value, dict):
        return None
    texts = {}
    for scope, rows in value.items():
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return None
        texts[scope] = [orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS) for row in rows]
    return texts


def row_index(texts: RowTexts) -> dict[str, Any]:
    """What `AnalysisResult.result` holds for a result stored as rows."""
    return {ROW_COUNTS: {scope: len(rows) for scope, rows in texts.items()}}


def is_row_index(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {ROW_COUNTS}


def patient_rows_replace(result_id: int, texts: RowTexts) -> None:
    """Replace every stored row of the result by `texts` (inside the caller's transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_patientscorerow WHERE result_id = %s", [result_id])
        # COPY: the JSON texts go over the wire as they are, without a statement's quoting.
        with cursor.copy(
            "COPY analytics_patientscorerow (result_id, scope, position, row) FROM STDIN"
        ) as copy:
            for scope, rows in texts.items():
                for position, text in enumerate(rows):
                    copy.write_row((result_id, scope, position, text.decode()))


def patient_rows_patch(result_id: int, changes: list[tuple[str, int, bytes]]) -> None:
    """Set the rows at (scope, position) to new texts (inside the caller's transaction). The
    rows must exist: a patch never changes a scope's length."""
    if not changes:
        return
    values = ", ".join(["(%s, %s::integer, %s::jsonb)"] * len(changes))
    arguments: list[Any] = []
    for scope, position, text in changes:
        arguments += [scope, position, text.decode()]
    with connection.cursor() as cursor:
        cursor.execute(
            # Only placeholders are put into the statement.
            "UPDATE analytics_patientscorerow AS r SET row = v.row"  # noqa: S608
            f" FROM (VALUES {values}) AS v(scope, position, row)"
            " WHERE r.result_id = %s AND r.scope = v.scope AND r.position = v.position",
            [*arguments, result_id],
        )
        if cursor.rowcount != len(changes):
            raise RuntimeError(
                f"patched {cursor.rowcount} of {len(changes)} rows of result {result_id}"
            )


def patient_rows(result_id: int, scope: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """{scope: [row, ...]} of one stored result (only `scope` when given), rows in order."""
    # One JSON array text per scope, parsed once (not 10,000 small parses).
    statement = (
        "SELECT scope, '[' || string_agg(row::text, ',' ORDER BY position) || ']'"
        " FROM analytics_patientscorerow WHERE result_id = %s"
    )
    arguments: list[Any] = [result_id]
    if scope is not None:
        statement += " AND scope = %s"
        arguments.append(scope)
    with connection.cursor() as cursor:
        cursor.execute(statement + " GROUP BY scope", arguments)
        return {row_scope: orjson.loads(text) for row_scope, text in cursor.fetchall()}


def patient_row_fields(result_id: int, scope: str, fields: tuple[str, ...]) -> list[dict]:
    """The rows of one scope with only `fields` (Postgres projects them: a twentieth of the
    JSON to send and parse)."""
    picks = ", ".join(["row -> %s"] * len(fields))  # placeholders only
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT jsonb_agg(jsonb_build_array({picks}) ORDER BY position)::text"  # noqa: S608
            " FROM analytics_patientscorerow WHERE result_id = %s AND scope = %s",
            [*fields, result_id, scope],
        )
        (text,) = cursor.fetchone()
    if text is None:
        return []
    return [dict(zip(fields, values, strict=True)) for values in orjson.loads(text)]


def stored_result_value(stored: AnalysisResult, scope: str | None = None) -> Any:
    """The stored result as computed ({scope: [row, ...]} for one stored as rows); with
    `scope`, only that scope of a result stored as rows (others are returned whole)."""
    value = stored.result
    if not is_row_index(value):
        return value
    rows = patient_rows(stored.pk, scope)
    scopes = value[ROW_COUNTS] if scope is None else [s for s in value[ROW_COUNTS] if s == scope]
    return {s: rows.get(s, []) for s in scopes}
