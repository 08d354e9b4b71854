"""Every row of an export checked before anything is opened: a case opening per valid row, and for each other row
its problems by row number and by the column as the file names it.

A row is checked exactly as an opening through the API would be: the cells become a `CaseOpening` (pydantic), then
the domain's own opening check (`domain.case.open_case`) runs on it. Its case id is derived from the other system's
case key and the employer with the installation's keyed hash, so a second run of the same file finds the same cases
and opens none of them again, while the id says nothing of the person.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from hashlib import sha256
from typing import Any

from pydantic import ValidationError

from domain.actions import validation_refusal
from domain.case import CaseOpening
from domain.case import open_case as check_opening
from domain.errors import ActionRefused
from domain.models import Actor, Role
from domain.people import Employee
from domain.rules import Rulebook
from operations.cases import MAX_CONTACTS_PER_ROLE
from operations.import_file import Cell, Table
from operations.import_mapping import Mapping
from operations.people import person_keys
from workflows.import_payloads import ImportedRow, RowProblem

# The prefix of a refusal's message: the field path it is about (domain.errors).
_FIELD = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): ")
# At most this many problems are kept per import; the rest are counted.
MAX_PROBLEMS = 1000


def takeover_case_id(employer_id: str, case_key: str, key: bytes) -> str:
    """The case id of a case taken over: a keyed hash of the employer and the other system's case key (trimmed),
    apart from the person keys by its own prefix in the message. 96 bits: no collision among any number of cases an
    installation will hold."""
    message = f"takeover\0{employer_id.strip()}\0{case_key.strip()}".encode()
    return "T" + hmac.new(key, message, sha256).hexdigest()[:24]


@dataclass
class Checked:
    """What the check found: the rows to open, and the problems of the others (row, column, reason)."""

    rows: int = 0
    valid: list[ImportedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    refused_rows: int = 0

    def refuse(self, row: int, column: str, refusal: ActionRefused) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(RowProblem(row=row, column=column, template=refusal.template, params=refusal.params))


class _RowError(Exception):
    def __init__(self, column: str, refusal: ActionRefused) -> None:
        self.column, self.refusal = column, refusal


class _Row:
    """One row's cells by field, and which column each field came from (to name it in a problem)."""

    def __init__(self, mapping: Mapping, cells: dict[str, Cell], headers: dict[str, str]) -> None:
        self.mapping, self.cells, self.headers = mapping, cells, headers
        self.where: dict[str, str] = {}

    def cell(self, column: str | None, path: str) -> tuple[str, Cell]:
        if column is None:
            return "", None
        header = self.headers.get(column.strip().casefold(), column)
        self.where[path] = header
        return header, self.cells.get(header)

    def text(self, column: str | None, path: str) -> str | None:
        header, value = self.cell(column, path)
        if isinstance(value, date):
            return value.isoformat()
        return value

    def day(self, value: Cell, header: str, path: str) -> date:
        if isinstance(value, date):
            return value
        text = (value or "").strip()
        for fmt in self.mapping.date_formats:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise _RowError(
            header,
            ActionRefused(
                "%(field)s: %(value)r is not a date (written as %(examples)s)",
                field=path,
                value=text,
                # Quoted, so the reader sees the file's own form, not a date the message writes its own way.
                examples=" | ".join(repr(date(2026, 3, 31).strftime(f)) for f in self.mapping.date_formats),
            ),
        )

    def items(self, column: str | None, path: str) -> tuple[str, list[str]]:
        header, value = self.cell(column, path)
        if value is None:
            return header, []
        if isinstance(value, date):
            return header, [value.isoformat()]
        return header, [p.strip() for p in value.split(self.mapping.list_separator) if p.strip()]


def check_rows(
    table: Table,
    mapping: Mapping,
    *,
    key: bytes,
    opened_by: Actor,
    rulebook: Rulebook,
    today: date,
    now: datetime,
    employers: Collection[str] | None = None,
) -> Checked:
    """Every row checked; `employers` (a caller's scope) limits the employers a row may name."""
    checked = Checked(rows=len(table.rows))
    headers = {h.casefold(): h for h in table.headers if h}
    missing = [
        c
        for c in (mapping.columns.case_key, mapping.columns.employer_id, mapping.columns.first_sick_day)
        if c.strip().casefold() not in headers
    ]
    if missing:
        checked.refused_rows = checked.rows
        checked.refuse(
            1,
            ", ".join(missing),
            ActionRefused(
                "file: the column %(columns)s is missing (the mapping %(mapping)s needs it; the file has %(found)s)",
                columns=", ".join(missing),
                mapping=mapping.name,
                found=", ".join(h for h in table.headers if h),
            ),
        )
        return checked
    seen: dict[tuple[str, str], int] = {}
    for number, cells in table.rows:
        row = _Row(mapping, cells, headers)
        try:
            opening = _opening(row, key, opened_by, employers)
            first = seen.setdefault((opening.employer_id, opening.case_id), number)
            if first != number:
                raise _RowError(
                    row.where["case_id"],
                    ActionRefused("case_id: the case is in the file twice (first in row %(row)s)", row=first),
                )
            _check(opening, rulebook, today, now)
        except _RowError as err:
            checked.refused_rows += 1
            checked.refuse(number, err.column, err.refusal)
        except ActionRefused as err:
            checked.refused_rows += 1
            checked.refuse(number, _column_of(str(err), row.where), err)
        else:
            checked.valid.append(ImportedRow(row=number, opening=opening))
    return checked


def _check(opening: CaseOpening, rulebook: Rulebook, today: date, now: datetime) -> None:
    """The checks operations.cases.open_case makes before it starts a case, without starting it."""
    for role, addresses in opening.contacts.items():
        if len(addresses) > MAX_CONTACTS_PER_ROLE:
            raise ActionRefused(
                "contacts.%(role_key)s: %(count)s addresses; at most %(limit)s per role",
                role_key=role.value,
                count=len(addresses),
                limit=MAX_CONTACTS_PER_ROLE,
            )
    ruleset = rulebook.for_first_sick_day(opening.first_sick_day)
    check_opening(opening, ruleset, today=today, now=now)


def _column_of(message: str, where: dict[str, str]) -> str:
    """The file's column a refusal is about, by the longest field path of the row it starts with."""
    found = _FIELD.match(message)
    if found is None:
        return ""
    parts = found.group(1).split(".")
    for end in range(len(parts), 0, -1):
        column = where.get(".".join(parts[:end]))
        if column:
            return column
    return ""


def _opening(row: _Row, key: bytes, opened_by: Actor, employers: Collection[str] | None) -> CaseOpening:
    m, cols = row.mapping, row.mapping.columns
    case_key = row.text(cols.case_key, "case_id")
    if not case_key:
        raise _RowError(row.where["case_id"], ActionRefused("case_key: empty; every case needs its number"))
    employer_text = row.text(cols.employer_id, "employer_id")
    if not employer_text:
        raise _RowError(row.where["employer_id"], ActionRefused("employer_id: empty; every case needs its employer"))
    employer = m.value("employer_id", employer_text)
    if employers is not None and employer not in employers:
        raise _RowError(
            row.where["employer_id"],
            ActionRefused(
                "employer_id: %(value)r is not an employer you work for (%(employers)s)",
                value=employer,
                employers=sorted(employers),
            ),
        )
    header, value = row.cell(cols.first_sick_day, "first_sick_day")
    if value is None:
        raise _RowError(header, ActionRefused("first_sick_day: empty; every case needs its first sick day"))
    fields: dict[str, Any] = {
        "case_id": takeover_case_id(employer, case_key, key),
        "employer_id": employer,
        "first_sick_day": row.day(value, header, "first_sick_day"),
        "opened_by": opened_by,
    }
    stage = row.text(cols.stage, "stage")
    if stage:
        fields["stage"] = m.value("stage", stage)
    prior: list[dict[str, Any]] = []
    for step, column in m.steps.items():
        header, value = row.cell(column, f"prior_steps.{len(prior)}")
        if value is None:
            continue
        not_done = isinstance(value, str) and value.strip().casefold() in {w.casefold() for w in m.not_done}
        done_on = None if not_done else row.day(value, header, f"prior_steps.{len(prior)}.done_on")
        prior.append({"key": step, "done_on": done_on})
    if prior:
        fields["prior_steps"] = prior
    header, held = row.items(cols.evaluations_held, "evaluations_held")
    if held:
        fields["evaluations_held"] = [row.day(v, header, "evaluations_held") for v in held]
    header, pairs = row.items(cols.interruptions, "interruptions")
    interruptions = []
    for pair in pairs:
        recovered, sep, relapsed = pair.partition(m.range_separator)
        if not sep:
            raise _RowError(
                header,
                ActionRefused(
                    "interruptions: %(value)r is not a recovery and a relapse (written as %(example)s)",
                    value=pair,
                    example=f"2026-03-02{m.range_separator}2026-03-16",
                ),
            )
        interruptions.append(
            {
                "recovered_on": row.day(recovered.strip(), header, "interruptions"),
                "relapsed_on": row.day(relapsed.strip(), header, "interruptions"),
            }
        )
    if interruptions:
        fields["interruptions"] = interruptions
    contacts = {role.value: row.items(column, f"contacts.{role.value}")[1] for role, column in m.contacts.items()}
    if any(contacts.values()):
        fields["contacts"] = {r: a for r, a in contacts.items() if a}
    assigned = {role.value: row.items(column, f"assigned.{role.value}")[1] for role, column in m.assigned.items()}
    if opened_by.role is Role.CASEMANAGER and not assigned.get(Role.CASEMANAGER.value):
        # As through the API: whoever opens a case as its casemanager keeps seeing it.
        assigned[Role.CASEMANAGER.value] = [str(opened_by.id)]
    if any(assigned.values()):
        fields["assigned"] = {r: ids for r, ids in assigned.items() if ids}
    employee = {
        "surname": row.text(cols.surname, "employee.surname"),
        "given_names": row.text(cols.given_names, "employee.given_names"),
        "personnel_number": row.text(cols.personnel_number, "employee.personnel_number"),
    }
    row.where["employee"] = row.where.get("employee.surname", "")
    if any(employee.values()):
        if not employee["surname"]:
            raise _RowError(
                row.where.get("employee.surname", ""),
                ActionRefused("employee.surname: empty; the surname is needed with a given name or personnel number"),
            )
        try:
            found = Employee.model_validate(employee)
        except ValidationError as err:
            refusal = validation_refusal(err, ())
            raise _RowError(_column_of(f"employee.{refusal}", row.where), _prefixed(refusal, "employee.")) from None
        fields["employee"] = found
        fields["person_keys"] = person_keys(found, key)
    try:
        return CaseOpening.model_validate(fields)
    except ValidationError as err:
        refusal = validation_refusal(err, ())
        raise _RowError(_column_of(str(refusal), row.where), refusal) from None


def _prefixed(refusal: ActionRefused, prefix: str) -> ActionRefused:
    """A nested model's refusal with the field path it has in the opening."""
    params = dict(refusal.params)
    if "field" in params:
        params["field"] = prefix + params["field"]
    return ActionRefused(refusal.template, **params)
