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

from iim_scoring.db import statements

from .models import AnalysisResult, PatientScoreRow

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
    PatientScoreRow.objects.filter(result_id=result_id).delete()
    statements.patient_rows_copy(
        result_id,
        (
            (scope, position, text.decode())
            for scope, rows in texts.items()
            for position, text in enumerate(rows)
        ),
    )


def patient_rows(result_id: int, scope: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """{scope: [row, ...]} of one stored result (only `scope` when given), rows in order."""
    return {
        row_scope: orjson.loads(text)
        for row_scope, text in statements.patient_rows_text(result_id, scope)
    }


def patient_row_fields(result_id: int, scope: str, fields: tuple[str, ...]) -> list[dict]:
    """The rows of one scope with only `fields`."""
    text = statements.patient_row_fields_text(result_id, scope, fields)
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
