"""The messages to UWV and what a case keeps of them: the ziekmelding after 42 weeks and the hersteldmelding.

An employer reports to UWV an employee who is still sick in the 42nd week of illness (the `ziekmelding_uwv` step,
due the first working day after week 42), and reports the recovery of an employee it reported sick before (the
hersteldmelding). UWV identifies the employer by its loonheffingennummer and the employee by the BSN; the rest is
the case's own clock. The fields follow UWV's werkgeversportaal forms "Ziekmelding na 42 weken" and "Hersteldmelding"
(docs/uwv.md lists them); a real channel maps them onto UWV's own message format.

Messages are built from the case (domain.case.uwv) or refused, naming the field that is missing: never half a
message. The case keeps each message's id, kind and status (`UwvMessageRecord`); the message itself, with the BSN, is
kept sealed in the service's outbox (service.uwv_outbox), never in the dossier.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# An employer's loonheffingennummer: its fiscal number (9 digits), "L", and a two-digit subnumber.
LOONHEFFINGENNUMMER_PATTERN = r"^[0-9]{9}L[0-9]{2}$"
Loonheffingennummer = Annotated[str, StringConstraints(pattern=LOONHEFFINGENNUMMER_PATTERN)]
# A message's id: opaque, chosen by the edge (a hash of the case and the request), the name of its file on a file drop.
MESSAGE_ID_PATTERN = r"^UWV-[0-9a-f]{20}$"
MessageId = Annotated[str, StringConstraints(pattern=MESSAGE_ID_PATTERN)]
# What the channel says it did with a message (a file name, a transport's receipt): no personal data.
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,199}$")]
REASON_MAX_CHARS = 2000


def is_loonheffingennummer(value: str) -> bool:
    return re.fullmatch(LOONHEFFINGENNUMMER_PATTERN, value) is not None


class MessageKind(StrEnum):
    ZIEKMELDING = "ziekmelding"  # the ziekmelding after 42 weeks (42e-weekmelding)
    HERSTELDMELDING = "hersteldmelding"


class MessageStatus(StrEnum):
    PREPARED = "prepared"  # built from the case and kept in the outbox, not yet handed to the channel
    SENT = "sent"  # handed to the channel (on a file drop: the file is written)
    ACCEPTED = "accepted"  # UWV answered: accepted
    REJECTED = "rejected"  # UWV answered: rejected, with its reason

    @property
    def open(self) -> bool:
        """Still waiting on us or on UWV: a second message of its kind would cross it."""
        return self in (MessageStatus.PREPARED, MessageStatus.SENT)


class UwvMessageRecord(BaseModel):
    """What the case keeps of one message to UWV: no content, so no BSN, only where it stands."""

    message_id: str
    message: MessageKind
    status: MessageStatus
    prepared_on: date
    sent_on: date | None = None
    reference: str | None = None
    answered_on: date | None = None
    reason: str | None = Field(default=None, description="UWV's reason for a rejection")


class Werkgever(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    loonheffingennummer: Loonheffingennummer
    employer_id: str = Field(description="The employer's id in Spoorwerk, for the answer's way back")


class Werknemer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bsn: str = Field(pattern=r"^[0-9]{9}$")
    achternaam: str
    voornamen: str | None = None
    personeelsnummer: str | None = None


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: MessageId
    case_id: str
    melddatum: date = Field(description="The day the message was made")
    werkgever: Werkgever
    werknemer: Werknemer
    eerste_ziektedag: date = Field(description="The first day of illness (of the first period that counts)")


class Ziekmelding(_Message):
    """The ziekmelding after 42 weeks: the employee is still (partly) sick in week 42."""

    soort: Literal["ziekmelding"] = "ziekmelding"
    uiterste_melddatum: date = Field(
        description="The term of the ziekmelding_uwv step (first working day after week 42)"
    )
    ziekteweek: int = Field(description="The week of illness on the melddatum")
    gedeeltelijk_hersteld: bool = Field(description="The employee works again in part")
    hersteld_percentage: int | None = Field(default=None, description="With a partial recovery: the share worked")
    uren_per_week: float | None = Field(default=None, description="With a partial recovery: the hours worked a week")


class Hersteldmelding(_Message):
    """The recovery of an employee UWV had the ziekmelding of: in full (back at work) or in part."""

    soort: Literal["hersteldmelding"] = "hersteldmelding"
    herstel: Literal["volledig", "gedeeltelijk"]
    hersteldatum: date = Field(description="Full: the first day back at work; partial: the day it began")
    hersteld_percentage: int | None = None
    uren_per_week: float | None = None


UwvMessage = Annotated[Ziekmelding | Hersteldmelding, Field(discriminator="soort")]


class Answer(BaseModel):
    """UWV's answer to one message, as a channel reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: MessageId
    status: Literal[MessageStatus.ACCEPTED, MessageStatus.REJECTED]
    answered_on: date
    reason: str | None = Field(default=None, max_length=REASON_MAX_CHARS)

    @model_validator(mode="after")
    def _rejection_says_why(self) -> Answer:
        if self.status is MessageStatus.REJECTED and not (self.reason and self.reason.strip()):
            raise ValueError("reason: a rejection carries UWV's reason")
        return self
