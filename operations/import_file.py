"""Reading an export (CSV or XLSX) into its header and rows of cells, numbered as the spreadsheet numbers them.

Nothing is interpreted here but the file's form: the header is row 1, the first case row 2, and a cell is text, a
date (an XLSX date cell) or empty. Which column means what is the mapping's job (operations.import_mapping).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import ActionRefused

Cell = str | date | None
# An import is for a switch of system, not a data warehouse: a file beyond these is refused before it is read.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
FORMATS = ("csv", "xlsx")
XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)  # (row number, header -> cell)


def file_format(name: str | None, data: bytes) -> str:
    """csv or xlsx, by the file's name, else by its first bytes (an XLSX file is a zip archive)."""
    suffix = (name or "").rsplit(".", 1)[-1].lower() if name and "." in name else ""
    if suffix in FORMATS:
        return suffix
    return "xlsx" if data.startswith(XLSX_MAGIC) else "csv"


def read_table(data: bytes, fmt: str, *, delimiter: str | None = None, sheet: str | None = None) -> Table:
    """The file's header and rows; ActionRefused (field `file`) when it cannot be read as that format."""
    if len(data) > MAX_FILE_BYTES:
        raise ActionRefused(
            "file: %(size)s bytes; an import takes at most %(limit)s (split the file)",
            size=len(data),
            limit=MAX_FILE_BYTES,
        )
    if fmt == "xlsx":
        try:
            table = _xlsx(data, sheet)
        except ActionRefused:
            raise
        except Exception as err:  # openpyxl fails on a damaged or foreign file in many ways; each means the same here
            raise ActionRefused("file: not readable as XLSX (%(error)s)", error=type(err).__name__) from None
    else:
        table = _csv(data, delimiter)
    if not [h for h in table.headers if h]:
        raise ActionRefused("file: no header row (the first row names the columns)")
    if len(table.rows) > MAX_ROWS:
        raise ActionRefused(
            "file: %(rows)s rows; an import takes at most %(limit)s (split the file)",
            rows=len(table.rows),
            limit=MAX_ROWS,
        )
    return table


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows still writes CSV in its ANSI code page.
        return data.decode("cp1252", errors="replace")


def _csv(data: bytes, delimiter: str | None) -> Table:
    text = _text(data)
    if delimiter is None:
        first = text.split("\n", 1)[0]
        # A Dutch Excel writes ";" (the comma is the decimal sign); pick what the header line uses most.
        delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        lines = list(reader)
    except csv.Error as err:
        raise ActionRefused("file: not readable as CSV (%(error)s)", error=str(err)) from None
    if not lines:
        return Table(headers=[])
    headers = [h.strip() for h in lines[0]]
    table = Table(headers=headers)
    for number, line in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in line):
            continue  # an empty line (a trailing one, or a spacer) is no case
        table.rows.append(
            (number, {h: (line[i].strip() or None) if i < len(line) else None for i, h in enumerate(headers)})
        )
    return table


def _xlsx(data: bytes, sheet: str | None) -> Table:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise ActionRefused(
                "file: no sheet %(sheet)r (the file has %(sheets)s)", sheet=sheet, sheets=book.sheetnames
            )
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        lines = ws.iter_rows(values_only=True)
        header = next(lines, None)
        if header is None:
            return Table(headers=[])
        headers = ["" if h is None else str(h).strip() for h in header]
        table = Table(headers=headers)
        for number, line in enumerate(lines, start=2):
            cells = {h: _xlsx_cell(line[i]) if i < len(line) else None for i, h in enumerate(headers)}
            if any(v is not None for v in cells.values()):
                table.rows.append((number, cells))
            if len(table.rows) > MAX_ROWS:
                break  # refused by read_table: a small zip may unpack to more rows than memory holds
        return table
    finally:
        book.close()


def _xlsx_cell(value: object) -> Cell:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a personnel number typed as a number
    text = str(value).strip()
    return text or None
