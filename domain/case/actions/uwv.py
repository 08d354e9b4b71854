"""The messages to UWV as the case records them: prepared, sent, and UWV's answer (domain.uwv).

The edge (operations.uwv) builds a message, keeps it sealed in the outbox and hands it to the channel; each step is
recorded here, so the dossier, the deadlines and the poortwachtertoets see it. UWV's answers are recorded in UWV's
name: no person's role may record them (the API and the dashboard use no UWV role), only the answers the channel
brings in. An accepted ziekmelding completes the `ziekmelding_uwv` step, as of the day it was sent: that is the day
the employer reported, which its term judges.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.access import ADMIN
from domain.case.state import CaseState, DoneStep
from domain.case.uwv import ZIEKMELDING_STEP, find, preparable
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import Role
from domain.uwv import REASON_MAX_CHARS, MessageId, MessageKind, MessageStatus, Reference, UwvMessageRecord

# Recorded by the UWV routes of the edge only, which keep the outbox in step with the case (operations.uwv).
OUTBOX_KINDS = frozenset({"uwv_message_prepared", "uwv_message_sent"})
SENDERS = frozenset({Role.WERKGEVER, *ADMIN})


class UwvMessagePrepared(ActionBase):
    """A message to UWV built from the case and kept in the outbox; through `POST /api/cases/{case_id}/uwv`."""

    kind: Literal["uwv_message_prepared"]
    message_id: MessageId
    message: MessageKind


class UwvMessageSent(ActionBase):
    """A prepared message handed to the channel; through `POST /api/cases/{case_id}/uwv/{message_id}/send`."""

    kind: Literal["uwv_message_sent"]
    message_id: MessageId
    reference: Reference = Field(description="What the channel made of it (a file name), without personal data")


class UwvZiekmeldingAccepted(ActionBase):
    """UWV accepted the ziekmelding: the ziekmelding_uwv step is done, as of the day it was sent."""

    kind: Literal["uwv_ziekmelding_accepted"]
    message_id: MessageId


class UwvHersteldmeldingAccepted(ActionBase):
    """UWV accepted the hersteldmelding."""

    kind: Literal["uwv_hersteldmelding_accepted"]
    message_id: MessageId


class UwvMessageRejected(ActionBase):
    """UWV rejected a message, with its reason: correct what it names and prepare a new one."""

    kind: Literal["uwv_message_rejected"]
    message_id: MessageId
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, description="UWV's reason")


def _record(state: CaseState, message_id: str, status: MessageStatus) -> UwvMessageRecord:
    found = find(state, message_id)
    if found is None:
        raise ActionRefused("message_id: the case has no message %(value)r to UWV", value=message_id)
    if found.status is not status:
        raise ActionRefused(
            "message_id: message %(value)r is %(status)s, not %(expected)s",
            value=message_id,
            status=found.status.value,
            expected=status.value,
        )
    return found


def _check_prepared(state: CaseState, action: UwvMessagePrepared, today: date) -> None:
    if find(state, action.message_id) is not None:
        raise ActionRefused("message_id: %(value)r is already a message of this case", value=action.message_id)
    preparable(state, action.message, action.on)


def _check_sent(state: CaseState, action: UwvMessageSent, today: date) -> None:
    found = _record(state, action.message_id, MessageStatus.PREPARED)
    if action.on < found.prepared_on:
        raise ActionRefused(
            "on: %(on)s is before the message was prepared (%(prepared_on)s)",
            on=action.on,
            prepared_on=found.prepared_on,
        )


def _check_answer(state: CaseState, action: ActionBase, message_id: str, kind: MessageKind | None) -> None:
    found = _record(state, message_id, MessageStatus.SENT)
    if kind is not None and found.message is not kind:
        raise ActionRefused(
            "message_id: message %(value)r is a %(message)s", value=message_id, message=found.message.value
        )
    assert found.sent_on is not None  # sent
    if action.on < found.sent_on:
        raise ActionRefused(
            "on: %(on)s is before the message was sent (%(sent_on)s)", on=action.on, sent_on=found.sent_on
        )


def _check_ziekmelding_accepted(state: CaseState, action: UwvZiekmeldingAccepted, today: date) -> None:
    _check_answer(state, action, action.message_id, MessageKind.ZIEKMELDING)


def _check_hersteldmelding_accepted(state: CaseState, action: UwvHersteldmeldingAccepted, today: date) -> None:
    _check_answer(state, action, action.message_id, MessageKind.HERSTELDMELDING)


def _check_rejected(state: CaseState, action: UwvMessageRejected, today: date) -> None:
    _check_answer(state, action, action.message_id, None)


_NAMES = {MessageKind.ZIEKMELDING: "Ziekmelding", MessageKind.HERSTELDMELDING: "Hersteldmelding"}


def _prepared(state: CaseState, action: UwvMessagePrepared, now: datetime) -> str:
    state.uwv.append(
        UwvMessageRecord(
            message_id=action.message_id, message=action.message, status=MessageStatus.PREPARED, prepared_on=action.on
        )
    )
    return f"{_NAMES[action.message]} for UWV prepared ({action.message_id})"


def _sent(state: CaseState, action: UwvMessageSent, now: datetime) -> str:
    found = _record(state, action.message_id, MessageStatus.PREPARED)
    found.status, found.sent_on, found.reference = MessageStatus.SENT, action.on, action.reference
    return f"{_NAMES[found.message]} sent to UWV ({action.message_id}, {action.reference})"


def _ziekmelding_accepted(state: CaseState, action: UwvZiekmeldingAccepted, now: datetime) -> str:
    found = _record(state, action.message_id, MessageStatus.SENT)
    found.status, found.answered_on = MessageStatus.ACCEPTED, action.on
    assert found.sent_on is not None  # sent
    # The ledger marked the step done on the day of the answer; the employer reported on the day it sent.
    state.done[ZIEKMELDING_STEP] = DoneStep(on=found.sent_on, action_id=action.action_id)
    return f"UWV accepted the ziekmelding sent on {found.sent_on} ({action.message_id})"


def _hersteldmelding_accepted(state: CaseState, action: UwvHersteldmeldingAccepted, now: datetime) -> str:
    found = _record(state, action.message_id, MessageStatus.SENT)
    found.status, found.answered_on = MessageStatus.ACCEPTED, action.on
    return f"UWV accepted the hersteldmelding sent on {found.sent_on} ({action.message_id})"


def _rejected(state: CaseState, action: UwvMessageRejected, now: datetime) -> str:
    found = _record(state, action.message_id, MessageStatus.SENT)
    found.status, found.answered_on, found.reason = MessageStatus.REJECTED, action.on, action.reason
    return f"UWV rejected the {found.message.value} ({action.message_id}): {action.reason}"


# Keeping the messages is not re-integration activity, and goes on after a recovery (the hersteldmelding follows it);
# UWV's acceptance of the ziekmelding is a statutory step done, as `ziekmelding_uwv_sent` is.
DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(UwvMessagePrepared, SENDERS, _check_prepared, _prepared, activity=False, while_halted=True),
    Declared(UwvMessageSent, SENDERS, _check_sent, _sent, activity=False, while_halted=True),
    Declared(
        UwvZiekmeldingAccepted,
        frozenset({Role.UWV}),
        _check_ziekmelding_accepted,
        _ziekmelding_accepted,
        completes=ZIEKMELDING_STEP,
        while_halted=True,
    ),
    Declared(
        UwvHersteldmeldingAccepted,
        frozenset({Role.UWV}),
        _check_hersteldmelding_accepted,
        _hersteldmelding_accepted,
        activity=False,
        while_halted=True,
    ),
    Declared(UwvMessageRejected, frozenset({Role.UWV}), _check_rejected, _rejected, activity=False, while_halted=True),
)
