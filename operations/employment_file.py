"""An employer's employment data from a file (CSV or XLSX, read as the bulk import reads one: operations.import_file),
checked row by row: each problem is named by its row and its column as the file names it, and nothing is stored
while any row is wrong.

One row per employment at one part-time factor (a change of factor is a new row from its first day):

    personeelsnummer;in_dienst;uit_dienst;deeltijdfactor
    1001;2020-01-01;;1
    1002;2021-03-01;2025-06-30;0,5

The personnel number is kept only as the installation's keyed hash (operations.people), the one a case is found by,
so a case's sick days are weighed with its employee's part-time factor without a number in the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from domain.errors import ActionRefused
from domain.figures import Employment
from domain.people import PERSONNEL_NUMBER
from operations.import_file import Cell, file_format, read_table
from operations.people import person_key
from workflows.import_payloads import RowProblem

# Each column's names, Dutch first (as the file names it; compared without case).
COLUMNS: dict[str, tuple[str, ...]] = {
    "personnel_number": ("personeelsnummer", "personnel_number"),
    "start": ("in_dienst", "start"),
    "end": ("uit_dienst", "end"),
    "part_time_factor": ("deeltijdfactor", "part_time_factor"),
}
REQUIRED = ("personnel_number", "start", "part_time_factor")
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")


@dataclass
class EmploymentCheck:
    rows: list[Employment] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, row: int, column: str, refusal: ActionRefused) -> None:
        self.problems.append(RowProblem(row=row, column=column, template=refusal.template, params=refusal.params))


def check_employment(data: bytes, filename: str | None, employer_id: str, key: bytes) -> EmploymentCheck:
    """The file's employments of `employer_id`, or its problems by row and column (row 1: the header)."""
    found = EmploymentCheck()
    try:
        table = read_table(data, file_format(filename, data))
    except ActionRefused as refusal:
        found.refuse(0, "", refusal)
        return found
    header = {h.strip().lower(): h for h in table.headers if h}
    columns: dict[str, str] = {}
    for name, aliases in COLUMNS.items():
        hit = next((header[a] for a in aliases if a in header), None)
        if hit is not None:
            columns[name] = hit
        elif name in REQUIRED:
            found.refuse(
                1,
                COLUMNS[name][0],
                ActionRefused(
                    "%(column)s: the column is missing (the file has %(columns)s)",
                    column=COLUMNS[name][0],
                    columns=", ".join(h for h in table.headers if h),
                ),
            )
    if found.problems:
        return found
    for number, cells in table.rows:
        row = _row(found, number, cells, columns, employer_id, key)
        if row is not None:
            found.rows.append(row)
    if found.problems:
        found.rows = []
    return found


def _row(
    found: EmploymentCheck, number: int, cells: dict[str, Cell], columns: dict[str, str], employer_id: str, key: bytes
) -> Employment | None:
    before = len(found.problems)
    values: dict[str, object] = {}
    for name, column in columns.items():
        cell = cells.get(column)
        if cell is None:
            if name in REQUIRED:
                found.refuse(number, column, ActionRefused("%(column)s: empty; a value is required", column=column))
            continue
        if name in ("start", "end"):
            day = _day(cell)
            if day is None:
                found.refuse(
                    number,
                    column,
                    ActionRefused(
                        "%(column)s: %(value)s is not a date (YYYY-MM-DD or DD-MM-YYYY)", column=column, value=cell
                    ),
                )
            values[name] = day
        elif name == "part_time_factor":
            factor = _factor(str(cell))
            if factor is None:
                found.refuse(
                    number,
                    column,
                    ActionRefused(
                        "%(column)s: %(value)s is not a part-time factor above 0 and at most 1 (e.g. 0,8)",
                        column=column,
                        value=cell,
                    ),
                )
            values[name] = factor
        else:
            values[name] = str(cell).strip()
    if len(found.problems) > before:
        return None
    start, end = values["start"], values.get("end")
    assert isinstance(start, date)
    if isinstance(end, date) and end < start:
        found.refuse(
            number,
            columns["end"],
            ActionRefused(
                "%(column)s: %(value)s is before the first day of employment %(start)s",
                column=columns["end"],
                value=end,
                start=start,
            ),
        )
        return None
    ptf = values["part_time_factor"]
    assert isinstance(ptf, float)
    return Employment(
        employer_id=employer_id,
        employee_key=person_key(PERSONNEL_NUMBER, str(values["personnel_number"]), key),
        start=start,
        end=end if isinstance(end, date) else None,
        part_time_factor=ptf,
    )


def _day(cell: Cell) -> date | None:
    if isinstance(cell, date):
        return cell
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(str(cell).strip(), fmt).date()
        except ValueError:
            continue
    return None


def _factor(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    percent = text.endswith("%")
    try:
        value = float(text.rstrip("%").strip())
    except ValueError:
        return None
    value = value / 100 if percent else value
    return value if 0 < value <= 1 else None
