"""Reading a score sheet (CSV or XLSX) into rows of text, numbered as the user sees them.

Row 1 is the header; data rows keep their spreadsheet row number (CSV: line number) so that
every problem can be reported where the user will look for it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

XLSX_MAGIC = b"PK\x03\x04"
# No cell of a score sheet is prose: the longest are lists of agents or antibodies.
CELL_MAX_CHARS = 2000
CELL_TOO_LONG = f"a cell holds more than {CELL_MAX_CHARS:,} characters; nothing was imported"
CSV_MALFORMED = "malformed CSV ({error}): check the quotes of this row"


class SheetUnreadable(ValueError):
    """The file is not a CSV or XLSX table we can read; `row` says where (0: the whole file)."""

    def __init__(self, message: str, row: int = 0) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True)
class SheetRow:
    number: int
    values: dict[str, str]
    sheet: str = ""

    @property
    def where(self) -> str:
        return f"{self.sheet}!{self.number}" if self.sheet else str(self.number)


@dataclass(frozen=True)
class Sheet:
    columns: list[str]
    rows: list[SheetRow]


def _text(value: object) -> str:
    """A cell as text: Excel's 1.0 is "1", booleans are "true"/"false", empty is ""."""
    if value is None or isinstance(value, bool):
        return {None: "", True: "true", False: "false"}[value]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header(values: list[object]) -> list[str]:
    header = [_text(v).lower() for v in values]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise SheetUnreadable("The file has no header row.")
    return header


def _record(header: list[str], values: list[object], number: int) -> dict[str, str] | None:
    texts = [_text(v) for v in values]
    if any(len(text) > CELL_MAX_CHARS for text in texts):
        raise SheetUnreadable(CELL_TOO_LONG, row=number)
    if not any(texts):
        return None  # blank lines are not rows
    texts += [""] * (len(header) - len(texts))
    return dict(zip(header, texts[: len(header)], strict=True))


def read_csv(content: bytes) -> Sheet:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetUnreadable("The CSV file is not UTF-8 text.") from exc
    first_line = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # Strict: an unbalanced quote is an error, not a cell that swallows the following lines
    # ("IIM-0001,F\n" became a pseudonym).
    reader = csv.reader(io.StringIO(text, newline=""), dialect, strict=True)
    rows = []
    header: list[str] | None = None
    start = 1  # the line the record being read starts on
    try:
        for values in reader:
            if header is None:
                header = _header(values)
            else:
                record = _record(header, values, start)
                if record is not None:
                    rows.append(SheetRow(reader.line_num, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        # The module's own field limit (131,072 characters) or a quoting error.
        reason = CELL_TOO_LONG if "field larger" in str(exc) else CSV_MALFORMED.format(error=exc)
        raise SheetUnreadable(reason, row=start) from exc
    if header is None:
        raise SheetUnreadable("The file is empty.")
    return Sheet(header, rows)


def read_xlsx(content: bytes) -> Sheet:
    """The first worksheet, plus its continuation sheets ("grades (2)", ...) if any."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise SheetUnreadable("The XLSX file cannot be opened.") from exc
    try:
        first = workbook.worksheets[0]
        sheets = [first] + [
            ws for ws in workbook.worksheets[1:] if ws.title.startswith(f"{first.title} (")
        ]
        header: list[str] | None = None
        rows = []
        for ws in sheets:
            label = ws.title if len(sheets) > 1 else ""
            values = ws.iter_rows(values_only=True)
            sheet_header = _header(list(next(values, [])))
            if header is None:
                header = sheet_header
            elif sheet_header != header:
                raise SheetUnreadable(f"Sheet {ws.title} has other columns than {first.title}.")
            for number, row in enumerate(values, start=2):
                record = _record(header, list(row), number)
                if record is not None:
                    rows.append(SheetRow(number, record, label))
        return Sheet(header or [], rows)
    finally:
        workbook.close()


def read_sheet(content: bytes, filename: str = "") -> Sheet:
    if content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        return read_xlsx(content)
    return read_csv(content)


@dataclass(frozen=True)
class RowProblem:
    """One reason a row (0: the file as a whole; 1: the header) cannot be imported."""

    row: int
    column: str
    reason: str
    sheet: str = ""

    @property
    def where(self) -> str:
        return f"{self.sheet}!{self.row}" if self.sheet else str(self.row)

    def sort_key(self) -> tuple[str, int, str]:
        return (self.sheet, self.row, self.column)

    def __str__(self) -> str:
        place = f"row {self.where}" if self.row else "file"
        column = f", column {self.column}" if self.column else ""
        return f"{place}{column}: {self.reason}"


class ImportRefused(Exception):  # a refusal, not a crash
    """The sheet has problems; nothing was written."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s); nothing was imported.")
