"""Writing an export table as CSV, JSON, XLSX, SPSS .sav or Parquet, with flat memory.

CSV and JSON stream straight from the table's row iterator. XLSX and Parquet are written to an
anonymous temporary file chunk by chunk (openpyxl write-only, one Parquet row group per chunk)
and then streamed. SPSS: pyreadstat writes a whole DataFrame at once, so the frame is built from
compact categorical chunks first; it is the one format whose memory grows with the row count.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any

from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse

from exports.codebook import BOOLEAN, INTEGER, NUMBER, STRING, Variable

FORMATS = ("csv", "json", "xlsx", "sav", "parquet")
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
    "parquet": "application/vnd.apache.parquet",
}
# Text is handed to the server in pieces of about this many characters.
STREAM_CHUNK_CHARS = 256 * 1024
# Rows per Parquet row group / SPSS chunk.
BATCH_ROWS = 50_000
# Excel's limit is 1,048,576 rows a sheet; longer exports continue on "name (2)", ...
XLSX_ROWS_PER_SHEET = 1_048_575
FILE_BLOCK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ExportTable:
    """A tidy table: its columns (from the codebook) and a fresh iterator of rows each call.

    Rows hold plain values (str, int, float, bool, None) in column order. A table may bring
    faster CSV/JSON text generators for very long exports (the grades); they must produce the
    same text the generic writers would.
    """

    name: str
    variables: Sequence[Variable]
    rows: Callable[[], Iterator[Sequence[Any]]]
    csv_text: Callable[[], Iterator[str]] | None = None
    json_text: Callable[[], Iterator[str]] | None = None
    # The dataset version (exports.tables.dataset_version): equal versions, equal files.
    version: str = ""

    @property
    def columns(self) -> list[str]:
        return [v.name for v in self.variables]


# A spreadsheet takes a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    text = str(value)
    # Text (never a number: those are not str here) that a spreadsheet would run is written
    # with a leading apostrophe, so it opens as the text it is.
    return f"'{text}" if isinstance(value, str) and text.startswith(FORMULA_STARTS) else text


def json_cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def csv_line(values: Iterable[str]) -> str:
    """One CSV line (minimal quoting, \\n line ends): also how the fast paths quote a field."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def csv_chunks(table: ExportTable) -> Iterator[str]:
    if table.csv_text is not None:
        yield from table.csv_text()
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows():
        writer.writerow([csv_cell(v) for v in row])
        if buffer.tell() >= STREAM_CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_object(columns: Sequence[str], row: Sequence[Any]) -> str:
    return json.dumps(
        {c: json_cell(v) for c, v in zip(columns, row, strict=True)}, ensure_ascii=False
    )


def json_chunks(table: ExportTable) -> Iterator[str]:
    """A JSON array of objects, one per row, keyed by column name."""
    if table.json_text is not None:
        yield from table.json_text()
        return
    columns = table.columns
    parts: list[str] = ["["]
    size = 1
    separator = "\n"
    for row in table.rows():
        text = separator + json_object(columns, row)
        separator = ",\n"
        parts.append(text)
        size += len(text)
        if size >= STREAM_CHUNK_CHARS:
            yield "".join(parts)
            parts, size = [], 0
    parts.append("\n]\n")
    yield "".join(parts)


def _batches(rows: Iterator[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    while batch := list(islice(rows, size)):
        yield batch


def write_xlsx(table: ExportTable, target: IO[bytes]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

    def cell(value: Any) -> Any:
        value = json_cell(value)
        if not isinstance(value, str):
            return value  # numbers stay numbers
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        if not text.startswith("="):
            return text
        # openpyxl makes any text starting with "=" a formula; this cell is text, always.
        literal = WriteOnlyCell(sheet, value=text)
        literal.data_type = "s"
        return literal

    workbook = Workbook(write_only=True)
    workbook.properties.identifier = table.version or None
    workbook.properties.description = f"iim-scoring {table.name}, dataset version {table.version}"
    sheet, written, number = None, XLSX_ROWS_PER_SHEET, 0
    for row in table.rows():
        if written >= XLSX_ROWS_PER_SHEET:
            number += 1
            title = table.name if number == 1 else f"{table.name} ({number})"
            sheet = workbook.create_sheet(title=title[:31])
            sheet.append(table.columns)
            written = 0
        sheet.append([cell(v) for v in row])
        written += 1
    if sheet is None:  # an empty export still names its columns
        workbook.create_sheet(title=table.name[:31]).append(table.columns)
    codebook = workbook.create_sheet(title="codebook")
    codebook.append(["variable", "type", "unit", "allowed_values", "meaning"])
    for variable in table.variables:
        codebook.append(
            [
                variable.name,
                variable.type,
                variable.unit,
                variable.allowed_values(),
                variable.meaning,
            ]
        )
    workbook.save(target)


_ARROW_TYPES = {STRING: "string", INTEGER: "int64", NUMBER: "float64", BOOLEAN: "bool_"}


def arrow_schema(variables: Sequence[Variable]):  # pyarrow.Schema
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(
                v.name,
                getattr(pa, _ARROW_TYPES[v.type])(),
                nullable=True,
                metadata={"meaning": v.meaning, "unit": v.unit, "allowed": v.allowed_values()},
            )
            for v in variables
        ]
    )


def write_parquet(table: ExportTable, target: IO[bytes]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(table.variables).with_metadata({"dataset_version": table.version})
    with pq.ParquetWriter(target, schema, compression="zstd") as writer:
        wrote = False
        for batch in _batches(table.rows(), BATCH_ROWS):
            columns = list(zip(*batch, strict=True))
            arrays = [
                pa.array([json_cell(v) for v in values], type=field.type)
                for values, field in zip(columns, schema, strict=True)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            wrote = True
        if not wrote:
            writer.write_table(schema.empty_table())


def _spss_text(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


def _spss_column(variable: Variable, values: Sequence[Any]):  # pandas object
    import numpy as np
    import pandas as pd

    if variable.spss_codes:
        codes = variable.spss_codes
        return np.array([codes.get(v, np.nan) for v in values], dtype="float64")
    if variable.type == STRING:
        return pd.Categorical(["" if v is None else v for v in values])
    if variable.type == BOOLEAN:
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    return np.array([np.nan if v is None else v for v in values], dtype="float64")


def write_sav(table: ExportTable, path: str) -> None:
    import numpy as np
    import pandas as pd
    import pyreadstat
    from pandas.api.types import union_categoricals

    variables = list(table.variables)
    chunks: list[list[Any]] = [[] for _ in variables]
    for batch in _batches(table.rows(), BATCH_ROWS):
        for i, values in enumerate(zip(*batch, strict=True)):
            chunks[i].append(_spss_column(variables[i], values))
    data = {}
    for variable, parts in zip(variables, chunks, strict=True):
        if not parts:
            data[variable.name] = pd.Series(
                [], dtype="float64" if variable.type != STRING else "str"
            )
        elif isinstance(parts[0], pd.Categorical):
            data[variable.name] = union_categoricals(parts)
        else:
            data[variable.name] = np.concatenate(parts)
    frame = pd.DataFrame(data, columns=[v.name for v in variables])
    value_labels: dict[str, dict[Any, str]] = {}
    missing: dict[str, list[Any]] = {}
    for v in variables:
        if v.spss_codes:
            value_labels[v.name] = {
                float(code): _spss_text(f"{value} – {v.labels.get(value, value)}", 120)
                for value, code in v.spss_codes.items()
            }
            if v.spss_missing:
                missing[v.name] = [float(code) for code in v.spss_missing]
        elif v.labels and v.type == STRING:
            value_labels[v.name] = {
                value: _spss_text(label, 120) for value, label in v.labels.items()
            }
        elif v.type == BOOLEAN:
            value_labels[v.name] = {1.0: "yes", 0.0: "no"}
    pyreadstat.write_sav(
        frame,
        path,
        file_label=_spss_text(f"iim-scoring {table.name} {table.version}", 64),
        column_labels={v.name: _spss_text(v.meaning, 256) for v in variables},
        variable_value_labels=value_labels,
        missing_ranges=missing,
        variable_measure={v.name: v.measure for v in variables},
    )


def _text_stream(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield chunk.encode()


def _file_response(handle: IO[bytes], fmt: str, filename: str) -> FileResponse:
    handle.seek(0)
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=MEDIA_TYPES[fmt]
    )
    response.block_size = FILE_BLOCK_BYTES
    return response


def export_response(table: ExportTable, *, fmt: str, filename_stem: str) -> HttpResponseBase:
    """The HTTP response for one export in one format (CSV and JSON streamed as generated)."""
    response = _format_response(table, fmt=fmt, filename=f"{filename_stem}.{fmt}")
    if table.version:
        # One version per dataset and format: a script's If-None-Match skips an unchanged file.
        response["ETag"] = f'"{table.version}-{fmt}"'
        response["X-Dataset-Version"] = table.version
    return response


def _format_response(table: ExportTable, *, fmt: str, filename: str) -> HttpResponseBase:
    if fmt in ("csv", "json"):
        chunks = csv_chunks(table) if fmt == "csv" else json_chunks(table)
        response = StreamingHttpResponse(
            _text_stream(chunks), content_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    if fmt == "xlsx":
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
        write_xlsx(table, handle)
        return _file_response(handle, fmt, filename)
    if fmt == "parquet":
        handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
        write_parquet(table, handle)
        return _file_response(handle, fmt, filename)
    if fmt == "sav":
        with tempfile.TemporaryDirectory() as workdir:
            path = os.path.join(workdir, filename)
            write_sav(table, path)
            handle = open(path, "rb")  # noqa: SIM115 - the open file outlives the directory
        return _file_response(handle, fmt, filename)
    raise ValueError(f"Unknown export format {fmt!r}; formats are {', '.join(FORMATS)}.")
