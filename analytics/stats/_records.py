"""JSON-safe records of statistics results (NaN, NA and infinities become None)."""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np
import pandas as pd


def json_value(value: Any) -> Any:
    """A value as plain Python that `json.dumps(..., allow_nan=False)` accepts: a result
    dataclass becomes a dict of its fields, a frame its records, NaN, NA and infinities None,
    numpy scalars Python ones."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_value(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, pd.DataFrame):
        return to_records(value)
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(item) for item in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        # JSON has no NaN or infinity; an undefined statistic is stored as null.
        return number if math.isfinite(number) else None
    if isinstance(value, str | np.str_):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as a list of dicts of plain, JSON-serialisable Python values."""
    return [
        {str(column): json_value(cell) for column, cell in row.items()}
        for row in frame.to_dict(orient="records")
    ]
