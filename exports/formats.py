"""Writing an export table as CSV, JSON, XLSX, SPSS .sav or Parquet, with flat memory.

CSV and JSON stream straight from the table's row iterator. XLSX and Parquet
(exports.parquet) are written to an anonymous temporary file chunk by chunk (openpyxl
write-only, one Parquet row group per chunk) and then streamed; SPSS (exports.spss) is written
from one DataFrame, the one format whose memory grows with the row count.
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

from exports.codebook import Variable

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


def batches(rows: Iterator[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    while batch := list(islice(rows, size)):
        yield batch


def _grade_number(value: Any) -> Any:
    """A grade as a number ("NA" stays text: it is no number)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


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

    # Grades are codes in the text formats; a spreadsheet gets 0, 1, 2 as numbers.
    graded = [bool(v.not_assessable) for v in table.variables]
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
        sheet.append([cell(_grade_number(v) if g else v) for v, g in zip(row, graded, strict=True)])
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
        from exports.parquet import write_parquet  # it builds on this module

        handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
        write_parquet(table, handle)
        return _file_response(handle, fmt, filename)
    if fmt == "sav":
        from exports.spss import write_sav  # it builds on this module

        with tempfile.TemporaryDirectory() as workdir:
            path = os.path.join(workdir, filename)
            write_sav(table, path)
            handle = open(path, "rb")  # noqa: SIM115 - the open file outlives the directory
        return _file_response(handle, fmt, filename)
    raise ValueError(f"Unknown export format {fmt!r}; formats are {', '.join(FORMATS)}.")
