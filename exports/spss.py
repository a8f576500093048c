"""SPSS .sav: coded variables as numbers with value labels, display formats with the decimals
the values have.

pyreadstat writes a whole DataFrame at once, so the frame is built from compact chunks first;
it is the one format whose memory grows with the row count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from exports.codebook import BOOLEAN, INTEGER, NUMBER, STRING, Variable
from exports.formats import BATCH_ROWS, ExportTable, batches

# Display decimals stop here: a third shows as 0.333333 (the file holds the exact double).
MAX_DECIMALS = 6
# SPSS: a value label holds 120 bytes, a variable label 256, the file label 64.
VALUE_LABEL_BYTES, VARIABLE_LABEL_BYTES, FILE_LABEL_BYTES = 120, 256, 64


def _spss_text(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


def decimals_of(values: np.ndarray) -> int:
    """The fewest decimals (at most MAX_DECIMALS) that show every value exactly: 0 for
    1.0 and 2.0, 1 for 1.5, 2 for 0.25."""
    finite = values[np.isfinite(values)]
    tolerance = 1e-9 * np.maximum(1.0, np.abs(finite))
    for decimals in range(MAX_DECIMALS):
        if np.all(np.abs(np.round(finite, decimals) - finite) <= tolerance):
            return decimals
    return MAX_DECIMALS


def display_format(variable: Variable, values: np.ndarray) -> str:
    """SPSS print format, e.g. F3.0 for an integer, F8.6 for a score of 0.083333."""
    finite = values[np.isfinite(values)]
    largest = float(np.max(np.abs(finite))) if finite.size else 0.0
    digits = len(str(int(largest)))
    sign = 1 if finite.size and float(np.min(finite)) < 0 else 0
    decimals = decimals_of(values) if variable.type == NUMBER else 0
    width = sign + digits + (decimals + 1 if decimals else 0)
    return f"F{max(width, 1)}.{decimals}"


class _Column:
    """One variable's values as SPSS holds them. Coded values get their number; a value the
    codebook does not list (or every value of a variable coded from the data, such as the
    site) gets the next free number, labelled with itself, in sorted order per batch."""

    def __init__(self, variable: Variable) -> None:
        self.variable = variable
        self.codes = variable.sav_codes()
        self.coded = bool(self.codes) or variable.sav_coded
        self.parts: list[Any] = []

    def add(self, values: Sequence[Any]) -> None:
        if self.coded:
            for value in sorted(set(values) - set(self.codes) - {None}, key=str):
                self.codes[value] = max(self.codes.values(), default=0) + 1
            part = np.array([np.nan if v is None else self.codes[v] for v in values], "float64")
        elif self.variable.type == STRING:
            # Compact: a long export repeats few distinct texts (pseudonyms, UIDs).
            part = pd.Categorical(["" if v is None else v for v in values])
        else:
            part = np.array([np.nan if v is None else float(v) for v in values], "float64")
        self.parts.append(part)

    def values(self) -> Any:
        if self.variable.type == STRING and not self.coded:
            return union_categoricals(self.parts) if self.parts else pd.Categorical([])
        return np.concatenate(self.parts) if self.parts else np.array([], dtype="float64")

    def value_labels(self) -> dict[float, str]:
        if self.codes:
            return {
                float(code): _spss_text(self.variable.sav_label(value), VALUE_LABEL_BYTES)
                for value, code in self.codes.items()
            }
        if self.variable.type == BOOLEAN:
            return {1.0: "yes", 0.0: "no"}
        return {}


def write_sav(table: ExportTable, path: str) -> None:
    import pyreadstat

    variables = list(table.variables)
    columns = [_Column(v) for v in variables]
    for batch in batches(table.rows(), BATCH_ROWS):
        for column, values in zip(columns, zip(*batch, strict=True), strict=True):
            column.add(values)
    data = {c.variable.name: c.values() for c in columns}
    frame = pd.DataFrame(data, columns=[v.name for v in variables])
    formats = {
        c.variable.name: display_format(c.variable, data[c.variable.name])
        for c in columns
        if c.coded or c.variable.type in (INTEGER, NUMBER, BOOLEAN)
    }
    pyreadstat.write_sav(
        frame,
        path,
        file_label=_spss_text(f"iim-scoring {table.name} {table.version}", FILE_LABEL_BYTES),
        note=f"iim-scoring export {table.name}, dataset version {table.version}",
        column_labels={v.name: _spss_text(v.meaning, VARIABLE_LABEL_BYTES) for v in variables},
        variable_value_labels={
            c.variable.name: labels for c in columns if (labels := c.value_labels())
        },
        missing_ranges={
            v.name: [float(code) for code in v.spss_missing] for v in variables if v.spss_missing
        },
        variable_measure={v.name: v.measure for v in variables},
        variable_format=formats,
    )
