"""Shared vocabulary of a case: roles, stages, outcomes, statuses and opaque ids."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeGuard, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.errors import ActionRefused
from domain.messages import Text

# Ids that travel into workflow ids, search attributes and logs. The pattern leaves no room for
# names, e-mail addresses or a BSN-like run of 9 digits being mistaken for an id format: callers
# must map people to opaque ids outside Spoorwerk.
OPAQUE_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{1,63}$"
OpaqueId = Annotated[str, StringConstraints(pattern=OPAQUE_ID_PATTERN)]
ActionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")]


class Role(StrEnum):
    """Who acts on a case (DOMAIN.md, 'Who acts')."""

    WERKNEMER = "werknemer"
    WERKGEVER = "werkgever"
    BEDRIJFSARTS = "bedrijfsarts"
    ARBEIDSDESKUNDIGE = "arbeidsdeskundige"
    CASEMANAGER = "casemanager"
    REINTEGRATIECOACH = "reintegratiecoach"
    OPERATIONS = "operations"
    UWV = "uwv"
    # The case workflow itself (timers); never accepted on an action.
    SYSTEEM = "systeem"


class Actor(BaseModel):
    """A role and an opaque id of the person acting (never a name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    id: OpaqueId | None = None


SYSTEM = Actor(role=Role.SYSTEEM)


class Stage(StrEnum):
    """Where a case stands; the value of the `CaseStage` search attribute."""

    ZIEKMELDING = "ziekmelding"
    SPOOR1 = "spoor1"
    AD_ONDERZOEK = "ad_onderzoek"
    SPOOR2 = "spoor2"
    WIA = "wia"
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a case closed."""

    HERSTELD = "hersteld"  # fully recovered and no relapse within the four-week window
    EINDE_WACHTTIJD = "einde_wachttijd"  # waiting time (plus any extension) ended
    INGETROKKEN = "ingetrokken"  # withdrawn, e.g. opened in error
    NIEUW_WERK = "nieuw_werk"  # spoor 2 found a job with a new employer (hersteldmelding)


class DeadlineStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    OVERDUE = "overdue"
    WAIVED = "waived"  # deviated from without a new date (Reg art. 5), or no longer required
    PASSED = "passed"  # an untracked milestone whose date has gone by


class AdConclusion(StrEnum):
    """The AD-onderzoek's answer, in the fixed order of its questions."""

    EIGEN_WERK = "eigen_werk"  # own work, possibly adapted
    ANDER_WERK_INTERN = "ander_werk_intern"  # other work inside the organisation
    SPOOR2 = "spoor2"  # neither: advise spoor 2


class AdParty(StrEnum):
    """Whom the labour expert spoke with in the AD-onderzoek."""

    WERKGEVER = "werkgever"
    WERKNEMER = "werknemer"
    WERKPLEKBEZOEK = "werkplekbezoek"  # optional workplace visit


class DossierEntry(BaseModel):
    """One line of a record (the case's dossier, a trajectory's record): what happened, on which
    date, who did it, when it was recorded."""

    seq: int
    recorded_at: datetime
    on: date
    actor: Actor
    kind: str
    summary: str
    action_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    superseded_by: int | None = Field(
        default=None, description="An observation that a later record showed no longer holds: that record's seq"
    )


def append_entry(
    entries: list[DossierEntry], applied: dict[str, int], *, register: bool = True, **fields: Any
) -> DossierEntry:
    """Append an entry numbered after the last; `register` makes its action id known for idempotency."""
    entry = DossierEntry(seq=len(entries) + 1, **fields)
    entries.append(entry)
    if entry.action_id is not None and register:
        applied[entry.action_id] = entry.seq
    return entry


# Action fields never written into a record: contact addresses are kept for notifying only; the employee's name and
# number are kept in the case (shown to who may see it), not copied into the dossier and the documents made from it.
NOT_RECORDED = frozenset({"addresses", "surname", "given_names", "personnel_number", "bsn", "person_keys"})


def recorded_details(action: BaseModel) -> dict[str, Any]:
    """What a record keeps of an action beyond its kind, id, actor and date."""
    return action.model_dump(
        mode="json", exclude={"kind", "action_id", "actor", "on", *NOT_RECORDED}, exclude_none=True
    )


def retry_refusal(entry: DossierEntry, action: Any) -> ActionRefused | None:
    """Why a request that reuses an applied action id may not be answered with its entry; None for a true retry.

    Action ids show in every dossier, so a stored answer (a bedrijfsarts's note among its details) goes
    only to the caller who made the request, and only for the same request; anyone else learns nothing
    of it, not even its kind.
    """
    if entry.actor != action.actor:
        return ActionRefused(
            "action_id: %(value)r belongs to another caller's request; send a new Idempotency-Key",
            value=action.action_id,
        )
    if entry.kind != action.kind:
        return ActionRefused(
            "action_id: %(value)r was already used for \u201c%(used_kind)s\u201d, not \u201c%(kind)s\u201d",
            value=action.action_id,
            used_kind=entry.kind,
            kind=action.kind,
        )
    if entry.on != action.on or entry.details != recorded_details(action):
        return ActionRefused(
            "action_id: %(value)r was already used for another \u201c%(kind)s\u201d (other date or "
            "fields); send a new Idempotency-Key",
            value=action.action_id,
            kind=action.kind,
        )
    return None


_Entry = TypeVar("_Entry", bound=DossierEntry)


def without_medical_notes(entries: list[_Entry]) -> list[_Entry]:
    """The entries without the bedrijfsarts's free-text notes: those are medical, for the bedrijfsarts only (copies
    keep their class: a DossierLine stays one)."""
    return [
        e.model_copy(update={"details": {k: v for k, v in e.details.items() if k != "note"}})
        if e.actor.role is Role.BEDRIJFSARTS and "note" in e.details
        else e
        for e in entries
    ]


# A bedrijfsarts's note is sealed a second time before it is sent (service.medical_seal), so neither the
# codec endpoint nor a dump of Temporal's database shows it: the record keeps
# "sealed:v1:<key id>:<base64url of nonce and ciphertext>", which only the bedrijfsarts's read path opens.
SEALED_NOTE_PREFIX = "sealed:v1:"
NOTE_MAX_CHARS = 2000
# The longest sealed note: 2,000 characters of up to 4 UTF-8 bytes, the 12-byte nonce and the 16-byte tag in
# base64, after the prefix and a key id of up to 64 characters.
SEALED_NOTE_MAX_CHARS = len(SEALED_NOTE_PREFIX) + 64 + 1 + 4 * -(-(4 * NOTE_MAX_CHARS + 12 + 16) // 3)
_SEALED_NOTE = re.compile(r"sealed:v1:[\x20-\x7e]{1,64}:[A-Za-z0-9_-]+={0,2}")


def is_sealed_note(value: Any) -> TypeGuard[str]:
    """Whether a note is in the sealed form (it may still be malformed: see `sealed_or_plain_note`)."""
    return isinstance(value, str) and value.startswith(SEALED_NOTE_PREFIX)


def unsealed_note_refusal(action: Any) -> ActionRefused | None:
    """Why a validator refuses a bedrijfsarts's note that arrives unsealed (an API or client of an older version, or
    one without the medical keys): it would stay readable in the history for good. Validators only, so histories
    recorded before the seal replay as they were."""
    note = getattr(action, "note", None)
    if note and action.actor.role is Role.BEDRIJFSARTS and not is_sealed_note(note):
        return ActionRefused(
            "note: a bedrijfsarts's note must arrive sealed (service.medical_seal); send it through the API or CLI"
        )
    return None


def sealed_or_plain_note(value: Any, handler: Callable[[Any], Any], actor: Any = None) -> Any:
    """An action's `note`, as a wrap validator: the sealed form kept as it is (well-formed, and a bedrijfsarts's
    only), any other value through the field's own rules (text of at most NOTE_MAX_CHARS characters)."""
    if not is_sealed_note(value):
        return handler(value)
    if len(value) > SEALED_NOTE_MAX_CHARS or not _SEALED_NOTE.fullmatch(value):
        raise ValueError("not a well-formed sealed note (sealed:v1:<key id>:<base64>)")
    if isinstance(actor, Actor) and actor.role is not Role.BEDRIJFSARTS:
        raise ValueError("only a bedrijfsarts's note is sealed (sealed:v1:…); send the note's text")
    return value


class Notification(BaseModel):
    """A message to a role on a case. Never carries personal or medical data."""

    notification_id: str = Field(description="Stable: a retry never sends it twice")
    case_id: str
    recipient_role: Role
    kind: str
    subject: str
    body: str
    deadline_key: str | None = None
    due: date | None = None
    recipients: list[str] = Field(
        default_factory=list, description="E-mail addresses of the role on this case; empty: the configured defaults"
    )
    # What the recipient reads, as msgids to translate when it is sent (activities.notify renders them in
    # the configured language over `subject` and `body`, which keep the English). Optional: a notification
    # recorded before them still decodes, and is sent as it was written.
    subject_text: Text | None = None
    body_text: Text | None = None
