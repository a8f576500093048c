"""Parquet: typed columns with the codebook in the field metadata, written one row group per
chunk so memory stays flat. Grades are integers with "not assessable" as null beside a boolean
flag; the subtype is an ordered dictionary in the paper's subtype order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from exports.codebook import BOOLEAN, INTEGER, NUMBER, STRING, Variable
from exports.formats import BATCH_ROWS, ExportTable, batches, json_cell

_ARROW_TYPES = {STRING: pa.string(), INTEGER: pa.int64(), NUMBER: pa.float64(), BOOLEAN: pa.bool_()}
FLAG_SUFFIX = "_not_assessable"


def _field(name: str, type_: pa.DataType, variable: Variable, meaning: str) -> pa.Field:
    metadata = {"meaning": meaning, "unit": variable.unit, "allowed": variable.allowed_values()}
    return pa.field(name, type_, nullable=True, metadata=metadata)


def arrow_fields(variable: Variable) -> list[pa.Field]:
    """The Parquet column(s) of one variable: a graded one has its flag column beside it."""
    if variable.not_assessable:
        flag = (
            f"True where {variable.name} is {variable.not_assessable} (not assessable; "
            f"{variable.name} is null there), false where it is graded."
        )
        return [
            _field(variable.name, pa.int8(), variable, variable.meaning),
            _field(variable.name + FLAG_SUFFIX, pa.bool_(), variable, flag),
        ]
    if variable.ordered and variable.labels:
        ordered = pa.dictionary(pa.int8(), pa.string(), ordered=True)
        return [_field(variable.name, ordered, variable, variable.meaning)]
    return [_field(variable.name, _ARROW_TYPES[variable.type], variable, variable.meaning)]


def arrow_schema(variables: Sequence[Variable]) -> pa.Schema:
    return pa.schema([f for v in variables for f in arrow_fields(v)])


def _ordered(variable: Variable, values: Sequence[Any]) -> pa.DictionaryArray:
    # Values the codebook does not list (none are expected) follow the listed ones.
    dictionary = [*variable.labels, *sorted(set(values) - set(variable.labels) - {None})]
    index = {value: i for i, value in enumerate(dictionary)}
    return pa.DictionaryArray.from_arrays(
        pa.array([None if v is None else index[v] for v in values], type=pa.int8()),
        pa.array(dictionary, type=pa.string()),
        ordered=True,
    )


def arrow_arrays(variable: Variable, values: Sequence[Any]) -> list[pa.Array]:
    if variable.not_assessable:
        na = variable.not_assessable
        grades = [None if v is None or v == na else int(v) for v in values]
        flags = [None if v is None else v == na for v in values]
        return [pa.array(grades, type=pa.int8()), pa.array(flags, type=pa.bool_())]
    if variable.ordered and variable.labels:
        return [_ordered(variable, values)]
    return [pa.array([json_cell(v) for v in values], type=_ARROW_TYPES[variable.type])]


def write_parquet(table: ExportTable, target: IO[bytes]) -> None:
    schema = arrow_schema(table.variables).with_metadata({"dataset_version": table.version})
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        wrote = False
        for batch in batches(table.rows(), BATCH_ROWS):
            arrays = [
                array
                for variable, values in zip(table.variables, zip(*batch, strict=True), strict=True)
                for array in arrow_arrays(variable, values)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            wrote = True
        if not wrote:
            writer.write_table(schema.empty_table())
