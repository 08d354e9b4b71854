"""The employee a case is about: name and personnel number, kept in the case, and the form they are searched in.

The details live in the case's state only, which travels through Temporal encrypted (service.codec); they never go
into an id, a search attribute or a log line. To find a case by surname or personnel number, the operations edge
(operations.people) hashes the normalised value with the installation's secret key and the case keeps the opaque
hex digests (`person_keys`) as its `PersonKeys` search attribute. The domain holds no key: it only says how a value
is normalised, so that the hash of "Jansen", " jansen " and "JANSEN" is the same.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# A keyed hash as the edge sends it: HMAC-SHA256, lowercase hex.
PERSON_KEY_PATTERN = r"^[0-9a-f]{64}$"
PersonKey = Annotated[str, StringConstraints(pattern=PERSON_KEY_PATTERN)]
# One key for the surname, one for the personnel number.
MAX_PERSON_KEYS = 2
PERSONNEL_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$"
NAME_MAX_CHARS = 100
# The fields a search looks in (each hashed apart: domain separation of the keyed hash).
SURNAME, PERSONNEL_NUMBER = "surname", "personnel_number"
SEARCH_FIELDS = (SURNAME, PERSONNEL_NUMBER)
BSN_PATTERN = r"^[0-9]{9}$"


def bsn_refusal(value: str) -> str | None:
    """Why `value` is not a burgerservicenummer (nine digits passing the elfproef), or None. The reason never repeats
    the number: it ends up in a refusal, and a refusal may be logged."""
    if not re.fullmatch(BSN_PATTERN, value):
        return "nine digits"
    weighted = sum(int(d) * w for d, w in zip(value[:8], range(9, 1, -1))) - int(value[8])
    if weighted % 11 != 0 or value == "000000000":
        return "fails the elfproef (a typing error?)"
    return None


def normalised(text: str) -> str:
    """A name or number in the one form it is hashed in: Unicode NFC (so "é" typed either way is one letter, and
    diacritics stay: "Müller" is not "Muller"), spaces trimmed and collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def _plain_text(value: str, field: str) -> str:
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if not value:
        raise ValueError(f"{field} is empty")
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise ValueError(f"{field} holds control characters")
    return value


class Employee(BaseModel):
    """The employee's name and personnel number, as the employer knows them: shown only to who may see the case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    surname: str = Field(
        min_length=1, max_length=NAME_MAX_CHARS, description='Achternaam, with any prefix ("de Vries")'
    )
    given_names: str | None = Field(default=None, max_length=NAME_MAX_CHARS, description="Voornaam or initials")
    personnel_number: str | None = Field(
        default=None,
        pattern=PERSONNEL_NUMBER_PATTERN,
        description="Personeelsnummer at the employer (letters, digits, . _ / -)",
    )
    # Kept for UWV's messages (domain.uwv), which identify the employee by it; like the name, it stays in the
    # encrypted state: never in the dossier, an id, a search attribute, a log line or the case summary.
    bsn: str | None = Field(default=None, description="Burgerservicenummer: nine digits passing the elfproef")

    @field_validator("surname")
    @classmethod
    def _surname(cls, value: str) -> str:
        return _plain_text(value, "surname")

    @field_validator("given_names")
    @classmethod
    def _given(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return _plain_text(value, "given_names")

    @field_validator("bsn")
    @classmethod
    def _bsn(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        reason = bsn_refusal(value)
        if reason is not None:
            raise ValueError(f"not a BSN: {reason}")
        return value

    def without_bsn(self) -> Employee:
        """The details as a summary or list shows them: the BSN is for the messages to UWV only."""
        return self.model_copy(update={"bsn": None}) if self.bsn else self

    @property
    def display(self) -> str:
        """The name as a list shows it: "Jansen, P." (surname first, so lists sort and scan by it)."""
        return f"{self.surname}, {self.given_names}" if self.given_names else self.surname

    def searchable(self) -> list[tuple[str, str]]:
        """What an exact search finds the case by, as (field, normalised value): the surname and the personnel
        number. The field goes into the hash too, so a surname never matches a number written the same."""
        found = [(SURNAME, normalised(self.surname))]
        if self.personnel_number:
            found.append((PERSONNEL_NUMBER, normalised(self.personnel_number)))
        return found
