"""Messages to UWV at the edge: prepare one from the case, send it through the channel, record UWV's answers.

Each step is kept twice, in step: in the outbox (service.uwv_outbox: the sealed message, its status history, the
channel's reference) and on the case as an action (domain.case.actions.uwv: the dossier, the deadlines and the
poortwachtertoets see it). The case decides first, so the outbox never holds a message the case refused; every step
is idempotent, so a request retried after a failure between the two finishes what the first began:

- prepare: the message's id is a hash of the case, the caller and the Idempotency-Key; the case records it, then
  the outbox keeps it sealed;
- send: checked against the case first (nothing is dropped that the case would refuse), then dropped (the same file
  again is no second file), then recorded in the outbox and on the case;
- answers: each answer the channel found is recorded on the case in UWV's name and in the outbox, then settled.

Routes: `GET/POST /api/cases/{case_id}/uwv`, `POST /api/cases/{case_id}/uwv/{message_id}/send` (every read passes
`readable_case`, with the read audit) and `POST /api/uwv/answers` (operations).
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client

from domain.actions import parse_action
from domain.case import CaseState, check
from domain.case.actions.uwv import SENDERS
from domain.case.uwv import build
from domain.errors import ActionRefused, joined
from domain.models import ActionId, Actor, Role
from domain.nl_time import local_date
from domain.uwv import (
    MESSAGE_ID_PATTERN,
    Hersteldmelding,
    MessageKind,
    MessageStatus,
    Ziekmelding,
)
from operations import cases
from operations.auth import Caller
from service.audit import What
from service.sealed import seal, unseal
from service.uwv_channel import ChannelError, Received, UwvChannel
from service.uwv_outbox import Outbox, OutboxError, OutboxRecord
from workflows.payloads import CallerScope
from workflows.sick_leave_case import SickLeaveCase

log = structlog.get_logger("spoorwerk.uwv")

QUERY_TIMEOUT = timedelta(seconds=10)
UWV_ACTOR = Actor(role=Role.UWV, id="uwv")
MessageIdPath = Annotated[str, Path(pattern=MESSAGE_ID_PATTERN, description="The message's id (UWV-…)")]


@dataclass(frozen=True)
class UwvDesk:
    """What the edge sends to UWV with: the outbox, the channel, and the employers' loonheffingennummers."""

    outbox: Outbox
    channel: UwvChannel
    loonheffingennummers: Mapping[str, str]


def desk_from_settings(settings: Any, database: Any) -> UwvDesk:
    """The desk of a service: the outbox in its database, the configured channel and loonheffingennummers."""
    from service.uwv_channel import channel_from_settings

    return UwvDesk(
        outbox=Outbox(database),
        channel=channel_from_settings(settings),
        loonheffingennummers=dict(settings.uwv_loonheffingennummers),
    )


class Prepare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: MessageKind = Field(description="ziekmelding (after 42 weeks) or hersteldmelding")


class AnswerOutcome(BaseModel):
    """What became of one answer the channel found."""

    handle: str = Field(description="Where it was found (the file's name)")
    message_id: str | None = None
    case_id: str | None = None
    status: MessageStatus | None = None
    recorded: bool = Field(description="Recorded on the case and in the outbox")
    problem: str | None = Field(default=None, description="Why it was not (an unreadable answer, an unknown message)")


def today() -> date:
    return local_date(datetime.now(timezone.utc))


def message_id_for(case_id: str, caller: Caller, key: str) -> str:
    """The same id for a retried request (same case, caller and Idempotency-Key), and none to be guessed."""
    digest = hashlib.sha256(f"uwv\0{case_id}\0{caller.role.value}\0{caller.id}\0{key}".encode()).hexdigest()
    return f"UWV-{digest[:20]}"


def _kind_of(message: MessageKind) -> type[Ziekmelding] | type[Hersteldmelding]:
    return Ziekmelding if message is MessageKind.ZIEKMELDING else Hersteldmelding


async def _state(client: Client, case_id: str) -> CaseState:
    return await cases.case_handle(client, case_id).query(SickLeaveCase.state, rpc_timeout=QUERY_TIMEOUT)


def _scope(caller: Caller) -> CallerScope:
    return CallerScope(employer_id=caller.employer_id, employer_ids=caller.employer_ids)


async def prepare(
    client: Client, desk: UwvDesk, caller: Caller, case_id: str, message: MessageKind, key: str
) -> OutboxRecord:
    """Build the message from the case, record it as prepared, keep it sealed in the outbox. Raises ActionRefused
    (the field that is missing) or the case's refusal."""
    message_id = message_id_for(case_id, caller, key)
    state = await _state(client, case_id)
    kept = await desk.outbox.aget(message_id)
    if kept is not None and kept.case_id == case_id:
        return kept  # a retry of a request that finished
    day = today()
    # A retry after the case recorded it but before the outbox kept it: build it as the first attempt did.
    state.uwv = [m for m in state.uwv if m.message_id != message_id]
    built = build(
        state,
        message,
        message_id=message_id,
        loonheffingennummer=desk.loonheffingennummers.get(state.employer_id),
        today=day,
    )
    await cases.act(
        client,
        case_id,
        {
            "kind": "uwv_message_prepared",
            "action_id": f"{message_id}:prepared",
            "actor": caller.actor.model_dump(mode="json"),
            "on": day.isoformat(),
            "message_id": message_id,
            "message": message.value,
        },
        scope=_scope(caller),
    )
    return await desk.outbox.aadd(
        message_id=message_id,
        case_id=case_id,
        employer_id=state.employer_id,
        message=message,
        body=await seal(client.data_converter, built),
        actor_role=caller.role.value,
        actor_id=caller.id,
    )


async def send(client: Client, desk: UwvDesk, caller: Caller, case_id: str, message_id: str) -> OutboxRecord:
    """Hand a prepared message to the channel and record it sent; an answered one is left as it is."""
    kept = await desk.outbox.aget(message_id)
    if kept is None or kept.case_id != case_id:
        raise LookupError(message_id)
    if kept.status in (MessageStatus.ACCEPTED, MessageStatus.REJECTED):
        return kept
    day = today()
    sealed = await desk.outbox.abody(message_id)
    built = await unseal(client.data_converter, sealed, _kind_of(kept.message))
    content = built.model_dump_json(indent=2).encode("utf-8")
    reference = f"file:{message_id}.json" if kept.reference is None else kept.reference
    action = {
        "kind": "uwv_message_sent",
        "action_id": f"{message_id}:sent",
        "actor": caller.actor.model_dump(mode="json"),
        "on": day.isoformat(),
        "message_id": message_id,
        "reference": reference,
    }
    state = await _state(client, case_id)
    if action["action_id"] not in state.applied_actions:
        check(state, parse_action(action), day)  # what the case would refuse is not dropped
    try:
        dropped = await asyncio.to_thread(desk.channel.send, message_id, content)
    except (ChannelError, OSError) as err:
        raise ActionRefused(
            "message_id: the channel did not take the message (%(problem)s)", problem=str(err)
        ) from None
    action["reference"] = dropped
    await cases.act(client, case_id, action, scope=_scope(caller))
    return await desk.outbox.aset_status(
        message_id, MessageStatus.SENT, actor_role=caller.role.value, actor_id=caller.id, reference=dropped
    )


_ANSWER_KINDS = {
    (MessageStatus.ACCEPTED, MessageKind.ZIEKMELDING): "uwv_ziekmelding_accepted",
    (MessageStatus.ACCEPTED, MessageKind.HERSTELDMELDING): "uwv_hersteldmelding_accepted",
    (MessageStatus.REJECTED, MessageKind.ZIEKMELDING): "uwv_message_rejected",
    (MessageStatus.REJECTED, MessageKind.HERSTELDMELDING): "uwv_message_rejected",
}


async def process_answers(client: Client, desk: UwvDesk) -> list[AnswerOutcome]:
    """Record every answer the channel found, on its case (in UWV's name) and in the outbox, and settle it."""
    outcomes: list[AnswerOutcome] = []
    for received in await asyncio.to_thread(desk.channel.answers):
        outcome = await _one_answer(client, desk, received)
        await asyncio.to_thread(desk.channel.settle, received, recorded=outcome.recorded)
        outcomes.append(outcome)
    return outcomes


async def _one_answer(client: Client, desk: UwvDesk, received: Received) -> AnswerOutcome:
    answer = received.answer
    if answer is None:
        log.warning("uwv answer unreadable", handle=received.handle)
        return AnswerOutcome(handle=received.handle, recorded=False, problem=received.problem)
    kept = await desk.outbox.aget(answer.message_id)
    if kept is None:
        log.warning("uwv answer to an unknown message", handle=received.handle)
        return AnswerOutcome(
            handle=received.handle,
            message_id=answer.message_id,
            recorded=False,
            problem="no such message in the outbox",
        )
    seen = AnswerOutcome(handle=received.handle, message_id=kept.message_id, case_id=kept.case_id, recorded=False)
    fields: dict[str, Any] = {
        "kind": _ANSWER_KINDS[(answer.status, kept.message)],
        "action_id": f"{kept.message_id}:answer",
        "actor": UWV_ACTOR.model_dump(mode="json"),
        # UWV's day, unless its clock runs ahead of ours: the case takes no day in the future.
        "on": min(answer.answered_on, today()).isoformat(),
        "message_id": kept.message_id,
    }
    if answer.status is MessageStatus.REJECTED:
        fields["reason"] = answer.reason
    try:
        await cases.act(client, kept.case_id, fields)
    except cases.ActionRejected as err:
        # UWV answered all the same: the outbox keeps the answer, and the operator hears why the case did not.
        log.warning("uwv answer refused by the case", case_id=kept.case_id, message_id=kept.message_id)
        seen.problem = err.said()
    try:
        await desk.outbox.aset_status(
            kept.message_id, answer.status, actor_role=Role.UWV.value, actor_id=UWV_ACTOR.id, reason=answer.reason
        )
    except OutboxError as err:  # a second, different answer to one message: reported, not recorded
        return seen.model_copy(update={"problem": str(err)})
    return seen.model_copy(update={"status": answer.status, "recorded": seen.problem is None})


# --------------------------------------------------------------------------- routes


def add_uwv_routes(api: APIRouter, client: Client, Authed: Any, readable: Any, Problem: Any, CaseId: Any) -> None:
    """The outbox's routes on the API router; the desk is the app's `state.uwv` (None: 503)."""

    def desk_of(request: Request) -> UwvDesk:
        desk = getattr(request.app.state, "uwv", None)
        if desk is None:
            raise Problem(503, ActionRefused("the outbox to UWV is not configured on this service"))
        return desk

    def may_send(who: Caller) -> None:
        if who.role not in SENDERS:
            raise Problem(
                403,
                ActionRefused(
                    "the role %(role)s may not prepare or send messages to UWV (allowed: %(roles)s)",
                    role=who.role,
                    roles=joined(SENDERS),
                ),
            )

    @api.get("/cases/{case_id}/uwv", response_model=list[OutboxRecord], tags=["uwv"])
    async def case_outbox(case_id: CaseId, who: Authed, request: Request) -> list[OutboxRecord]:
        """The case's messages to UWV, oldest first, each with its status history and UWV's reason for a rejection."""
        desk = desk_of(request)
        await readable(client, case_id, who, What.UWV)
        return await desk.outbox.afor_case(case_id)

    @api.post("/cases/{case_id}/uwv", response_model=OutboxRecord, status_code=201, tags=["uwv"])
    async def prepare_message(
        case_id: CaseId,
        body: Prepare,
        who: Authed,
        request: Request,
        key: Annotated[ActionId, Header(alias="Idempotency-Key", description="The same key again: the same message")],
    ) -> OutboxRecord:
        """Prepare a message to UWV from the case (werkgever, casemanager, operations); refused, naming the field,
        when the case lacks what UWV needs (the BSN, the employer's loonheffingennummer)."""
        desk = desk_of(request)
        await readable(client, case_id, who, What.UWV)
        may_send(who)
        try:
            return await prepare(client, desk, who, case_id, body.message, key)
        except ActionRefused as refusal:
            raise Problem(409, refusal) from None

    @api.post("/cases/{case_id}/uwv/{message_id}/send", response_model=OutboxRecord, tags=["uwv"])
    async def send_message(case_id: CaseId, message_id: MessageIdPath, who: Authed, request: Request) -> OutboxRecord:
        """Send a prepared message through the channel; sending it again drops nothing twice."""
        desk = desk_of(request)
        await readable(client, case_id, who, What.UWV, object_id=message_id)
        may_send(who)
        try:
            return await send(client, desk, who, case_id, message_id)
        except LookupError:
            raise Problem(
                404, ActionRefused("message_id: the case has no message %(value)r to UWV", value=message_id)
            ) from None
        except ActionRefused as refusal:
            raise Problem(409, refusal) from None

    @api.post("/uwv/answers", response_model=list[AnswerOutcome], tags=["uwv"])
    async def answers(who: Authed, request: Request) -> list[AnswerOutcome]:
        """Read UWV's answers from the channel and record each on its case (operations)."""
        if who.role is not Role.OPERATIONS:
            raise Problem(403, ActionRefused("the role %(role)s may not process UWV's answers", role=who.role))
        return await process_answers(client, desk_of(request))
