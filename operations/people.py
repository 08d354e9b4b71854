"""Finding a case by the employee's surname or personnel number, while Temporal holds neither.

The case keeps the employee's details in its (encrypted) state. What visibility holds is an HMAC-SHA256, keyed with
the installation's secret `SPOORWERK_SEARCH_KEY`, of each normalised value (domain.people): the `PersonKeys` search
attribute. The keys are made here, at the edge, when a case is opened or its details corrected, and again for what
someone types in the search box; the workflow never holds the secret. Without the secret a key cannot be turned
back into a name, nor a guessed name into a key; another installation's keys find nothing here.
"""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache
from hashlib import sha256
from typing import Any

from domain.people import SEARCH_FIELDS, Employee, normalised
from service.files import private_file
from service.settings import Settings, get_settings


class SearchKeyError(Exception):
    """No usable search key (a cluster without SPOORWERK_SEARCH_KEY)."""


def search_key(settings: Settings) -> bytes:
    """The installation's search key: the configured one, or on the embedded default the data folder's (made and kept
    0600 on first use). Against a cluster every API process must share one, so none may make its own."""
    if settings.search_key is not None:
        return settings.search_key.get_secret_value().encode("utf-8")
    if not settings.embedded:
        raise SearchKeyError("SPOORWERK_SEARCH_KEY is required when TEMPORAL_ADDRESS is set")
    path = settings.search_key_file
    private_file(path)
    key = path.read_text("utf-8").strip()
    if not key:
        key = secrets.token_urlsafe(32)
        path.write_text(key + "\n", "utf-8")
    return key.encode("utf-8")


@lru_cache(maxsize=1)
def process_key() -> bytes:
    """The search key of this process's settings (read once)."""
    return search_key(get_settings())


def person_key(field: str, value: str, key: bytes | None = None) -> str:
    """The keyed hash of one normalised value of one field (`domain.people.SEARCH_FIELDS`), as lowercase hex."""
    message = f"{field}\0{normalised(value)}".encode()
    return hmac.new(key if key is not None else process_key(), message, sha256).hexdigest()


def person_keys(employee: Employee | None, key: bytes | None = None) -> list[str]:
    """The keys a case is found by: its employee's surname and personnel number (none without an employee)."""
    if employee is None:
        return []
    return [person_key(field, value, key) for field, value in employee.searchable()]


def search_keys(text: str, key: bytes | None = None) -> list[str]:
    """The keys a search box's text matches: as a surname and as a personnel number (exact, normalised)."""
    if not normalised(text):
        return []
    return [person_key(field, text, key) for field in SEARCH_FIELDS]


def with_person_keys(fields: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """An opening's or a correction's fields with the keys of its employee, made here: a caller never sends its own
    (they would let one case be found under another's name)."""
    employee = fields.get("employee")
    found = person_keys(Employee.model_validate(employee), key) if employee else []
    return {**fields, "person_keys": found}


def correction_with_person_keys(fields: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """A correction's fields (employee_details_corrected) with the keys of the details it gives, made here; details
    that do not validate get none (the case refuses them, naming the field)."""
    try:
        employee = Employee(
            surname=fields.get("surname"),
            given_names=fields.get("given_names"),
            personnel_number=fields.get("personnel_number"),
        )
    except ValueError:
        return {**fields, "person_keys": []}
    return {**fields, "person_keys": person_keys(employee, key)}


def names(details: dict[str, Any]) -> dict[str, str]:
    """The employee's name per case of `operations.api.case_details`, where the case has one."""
    return {case_id: s.employee.display for case_id, s in details.items() if s.employee is not None}
