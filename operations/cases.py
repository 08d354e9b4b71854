"""Client-side operations on cases: open one, record an action, read it. Used by the CLI and tests."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, NamedTuple, Self

import pydantic_core
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import InitErrorDetails
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import access
from domain.actions import Action, action_kind, action_models, admit, parse_action, validation_refusal
from domain.case import CaseOpening, CaseState, CaseSummary, check_reopen, closed_refusal
from domain.errors import ActionRefused
from domain.models import OPAQUE_ID_PATTERN, Actor, Role, Stage, retry_refusal
from domain.nl_time import local_date, start_of_day
from domain.people import PERSON_KEY_PATTERN
from domain.rules import Rulebook, RuleSet
from domain.spoor2 import Spoor2Action
from service import medical_seal, refusals
from service.rulebook import (
    load_dossier_rules,
    load_rulebook,
    load_spoor2_rules,
    load_stagnation_rules,
    shipped_ref,
    working_day_holidays,
)
from workflows import patches
from workflows import search_attributes as sa
from workflows.common import SCOPE_UNKNOWN, CaseScope, case_scope, opened_state
from workflows.ids import case_workflow_id
from workflows.payloads import ActionResult, CallerScope, CaseInput, CaseResult
from workflows.sick_leave_case import SickLeaveCase

WORKFLOW_TYPE = "SickLeaveCase"
OPAQUE_ID = re.compile(OPAQUE_ID_PATTERN)
EARLIEST_DEADLINE = date(1900, 1, 1)
CASE_ID_PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # no quotes or spaces: it goes into a query
PERSON_KEY = re.compile(PERSON_KEY_PATTERN)


class CaseAlreadyExists(Exception):
    """A case with this id was started before (running or closed)."""


class ActionRejected(Exception):
    """The case refused an action; the message is the workflow's reason in English, `said()` in the reader's language.

    `template` and `params` are the refusal as the domain made it (domain.errors); a reason without them (a worker
    of an older version, a server's message) is said as it is.
    """

    def __init__(self, message: str, /, template: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.template, self.params = template, dict(params or {})

    @classmethod
    def of(cls, refusal: ActionRefused) -> Self:
        """The rejection of a domain refusal, kept structured."""
        return cls(str(refusal), refusal.template, refusal.params)

    def said(self) -> str:
        """The reason in the current language (service.i18n)."""
        return refusals.say(self.template, self.params) if self.template is not None else str(self)


class CaseNotFound(ActionRejected):
    """No case (or no trajectory) with this id."""


class CaseAbsent(CaseNotFound):
    """No case with this id at all (rather than one the caller may not see): the same answer, another audit record."""


class InvalidInput(ActionRejected):
    """The request itself is malformed (a field missing or of the wrong form), before any rule is asked."""


def start_input(opening: CaseOpening, ruleset: RuleSet, *, documents: bool = True) -> CaseInput:
    """A new case's workflow input: the shipped rules by reference (the worker has them too: 1.4 KB of JSON, not
    8.6), any others by value; `documents` False leaves the dossier rules out (no documents, no pre-flight)."""
    spoor2, stagnation = load_spoor2_rules(), load_stagnation_rules()
    dossier = load_dossier_rules() if documents else None
    ref = shipped_ref(ruleset, spoor2=spoor2, stagnation=stagnation, dossier=dossier)
    case_input = CaseInput(opening=opening, holidays=working_day_holidays(ruleset, opening.first_sick_day))
    if ref is not None:
        case_input.rules = ref
    else:
        case_input.ruleset, case_input.spoor2_rules = ruleset, spoor2
        case_input.stagnation_rules, case_input.dossier_rules = stagnation, dossier
    case_input.release = patches.RELEASE
    return case_input


async def open_case(
    client: Client,
    opening: CaseOpening,
    *,
    task_queue: str,
    rulebook: Rulebook | None = None,
    today: date | None = None,
    continue_as_new_after_events: int | None = None,
    request_key: str | None = None,
    documents: bool = True,
    run_bound_days: int | None = None,
) -> WorkflowHandle[SickLeaveCase, Any]:
    """Start the workflow of a new case; refuses bad input and a case id used before.

    `request_key` makes the opening idempotent: the same key again answers with the case it opened.
    `documents` False opens a case that renders no documents and runs no pre-flight (tests of other things).
    """
    rulebook = rulebook or load_rulebook()
    now = datetime.now(timezone.utc)
    if opening.employee is not None and not opening.person_keys:
        # Opened from Python or `--direct` with the employee's details: found by them like an opening of the API.
        from operations.people import person_keys

        opening = opening.model_copy(update={"person_keys": person_keys(opening.employee)})
    for role, addresses in opening.contacts.items():
        if len(addresses) > MAX_CONTACTS_PER_ROLE:
            raise InvalidInput.of(
                ActionRefused(
                    "contacts.%(role_key)s: %(count)s addresses; at most %(limit)s per role",
                    role_key=role.value,
                    count=len(addresses),
                    limit=MAX_CONTACTS_PER_ROLE,
                )
            )
    today = today or local_date(now)
    try:
        ruleset = rulebook.for_first_sick_day(opening.first_sick_day)
        case_input = start_input(opening, ruleset, documents=documents)
        # The case as its workflow will open it: the caller hears a refusal's reason at once instead of a failed
        # workflow, and the workflow starts with the search attributes it would set, so a first wake that changes
        # none of them upserts nothing (patch `start-attributes`).
        opened = opened_state(case_input, today=today, now=now)
    except ActionRefused as err:
        raise ActionRejected.of(err) from None
    except ValueError as err:
        raise ActionRejected(str(err)) from None
    if continue_as_new_after_events is not None:
        case_input.continue_as_new_after_events = continue_as_new_after_events
    case_input.run_bound_days = run_bound_days
    try:
        return await client.start_workflow(
            SickLeaveCase.run,
            case_input,
            id=case_workflow_id(opening.case_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            memo={"request_key": request_key} if request_key else None,
            search_attributes=sa.typed(sa.values(opened, today)),
        )
    except WorkflowAlreadyStartedError:
        handle = case_handle(client, opening.case_id)
        if request_key and (await (await handle.describe()).memo_value("request_key", None)) == request_key:
            return handle  # a retry of the request that opened it
        raise CaseAlreadyExists(
            ActionRefused("case_id: a case %(value)r already exists", value=opening.case_id)
        ) from None


# As many addresses per role as contacts_updated takes (domain.actions.ContactsUpdated).
MAX_CONTACTS_PER_ROLE = 10


def case_handle(client: Client, case_id: str) -> WorkflowHandle[SickLeaveCase, Any]:
    return client.get_workflow_handle_for(SickLeaveCase.run, case_workflow_id(case_id))


async def act(
    client: Client,
    case_id: str,
    action: Submitted | BaseModel | dict[str, Any],
    *,
    scope: CallerScope | None = None,
    today: date | None = None,
) -> ActionResult:
    """Record an action on a case; the action id is the update id, so a retry is applied once.

    `action` as `submitted` made it (the edge parsed it: taken as it is), else a payload parsed here. `scope` is the
    caller's beyond its actor (an edge's caller): the case's validator refuses a caller outside it as if there were
    no such case (CaseNotFound), so no query need ask first. A relapse on a case closed as recovered, inside its
    four-week window, reopens it (`today`: the caller's day for that check, default the clock's).
    """
    sent = action if isinstance(action, Submitted) else parsed(action, parse_action)
    handle = case_handle(client, case_id)

    async def closed_reason() -> ActionRefused:
        closed = await closed_workflow(client, handle.id, CaseResult, "closed_on")
        if closed is None:
            raise CaseAbsent.of(_no_case(case_id, scope))
        if scope is not None and not _admits(await handle.query(SickLeaveCase.state), sent.action, scope):
            raise CaseNotFound.of(_no_case(case_id, scope))  # a closed case out of scope is as absent as any
        return closed_refusal(sent.action.kind, closed.outcome, closed.on)

    async def on_record() -> ActionResult | None:
        state = await handle.query(SickLeaveCase.state)
        entry = next((e for e in state.dossier if e.action_id == sent.action.action_id), None)
        if entry is None:
            return None
        if scope is not None and not _admits(state, sent.action, scope):
            raise CaseNotFound.of(_no_case(case_id, scope))
        assigned = list(state.people.assigned.get(Role.BEDRIJFSARTS, []))
        return ActionResult(
            action_id=sent.action.action_id, applied=True, stage=state.stage, entry=entry, bedrijfsarts_ids=assigned
        )

    def send() -> Awaitable[ActionResult]:
        return execute_action(
            client, handle, SickLeaveCase.act, sent, ActionResult, closed_reason, scope=scope, on_record=on_record
        )

    try:
        return await send()
    except CaseNotFound:
        raise
    except ActionRejected:
        if sent.action.kind != "relapse" or await _status(client, handle.id) != WorkflowExecutionStatus.COMPLETED:
            raise
    day = today or local_date(datetime.now(timezone.utc))
    reopened = await _reopen(client, handle, sent, day, scope)
    result = await send()
    # The new run applied the relapse as it reopened; the update is answered from its dossier.
    return result.model_copy(update={"applied": True}) if reopened else result


def _no_case(case_id: str, scope: CallerScope | None) -> ActionRefused:
    # An edge's caller hears the one answer for absent and out of scope alike (operations.api.not_found).
    if scope is not None:
        return ActionRefused("case_id: no case %(value)r that you may see", value=case_id)
    return ActionRefused("case_id: no case %(value)r", value=case_id)


def _admits(state: CaseState, action: Any, scope: CallerScope) -> bool:
    return case_scope(state).admits(action.actor, scope)


async def judge_scope(client: Client, case_id: str, action: Any, scope: CallerScope) -> list[str]:
    """The caller's scope judged on the case by a summary query, for what cannot judge it itself (a closed trajectory
    or one its case has not told its scope yet): refuses as the case's validator does (CaseNotFound; CaseAbsent for
    no case at all); returns the bedrijfsarts assigned, by which an answer is redacted."""
    try:
        summary = await case_handle(client, case_id).query(
            SickLeaveCase.summary, local_date(datetime.now(timezone.utc))
        )
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise CaseAbsent.of(_no_case(case_id, scope)) from None
        raise
    coach = summary.spoor2_coach_id if summary.spoor2_running else None
    where = CaseScope(case_id, summary.employer_id, summary.assigned, coach, summary.spoor2_running)
    if not where.admits(action.actor, scope):
        raise CaseNotFound.of(_no_case(case_id, scope))
    return list(summary.assigned.get(Role.BEDRIJFSARTS, []))


async def _reopen(
    client: Client, handle: WorkflowHandle, sent: Submitted, today: date, scope: CallerScope | None
) -> bool:
    """A relapse reported after a case closed as recovered, inside its four-week window: the same case goes on
    as a new run of its workflow, from the closed run's state (domain.case.reopen), not as a second case."""
    info = await _describe(client, handle.id)
    assert info is not None  # the closed run was found just before (its status)
    state = await handle.query(SickLeaveCase.state)
    if scope is not None and not _admits(state, sent.action, scope):
        raise CaseNotFound.of(_no_case(state.case_id, scope))
    try:
        check_reopen(state, sent.action, today)
    except ActionRefused as err:
        raise ActionRejected.of(err) from None
    try:
        await client.start_workflow(
            SickLeaveCase.run,
            CaseInput(state=state, reopen_with=sent.payload, release=patches.RELEASE),
            id=handle.id,
            task_queue=info.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return False  # reopened meanwhile (a retry of this request): the update is answered from that run's dossier
    return True


class Submitted(NamedTuple):
    """An action ready to send, parsed once: the JSON payload the workflow receives (a bedrijfsarts's note sealed)
    and its parsed form (what the client checks a retry's answer and a closed case's refusal by)."""

    payload: dict[str, Any]
    action: Any


class InvalidFields(InvalidInput):
    """Fields that do not fit the action: the first as the refusal (CLI, Python), and pydantic's errors for all of
    them (`errors`, `loc` within the action's fields) for the API's 422 list."""

    def __init__(self, err: ValidationError, kinds: tuple[str, ...]) -> None:
        refusal = validation_refusal(err, kinds)
        super().__init__(str(refusal), refusal.template, refusal.params)
        self.errors = err.errors(include_url=False)


# What the edge fills in and a caller never sends: the kind (the route's), the action id (the Idempotency-Key),
# who acts (the caller), and the employee's keyed hashes (operations.people).
EDGE_FIELDS = ("kind", "action_id", "actor", "person_keys")
_MODELS = {
    spoor2: {action_kind(m): m for m in action_models(Spoor2Action if spoor2 else Action)} for spoor2 in (False, True)
}


def submitted(
    kind: str,
    fields: Any,
    *,
    action_id: str,
    actor: Actor,
    spoor2: bool = False,
    search_key: bytes | None = None,
    today: date | None = None,
) -> Submitted:
    """The one way an action enters Spoorwerk from outside (the API's routes, which the dashboard's forms post to,
    and `spoorwerk --direct`): the fields a caller sent, decoded JSON with JSON's own types (`true` is no percentage,
    "4" no number of hours), made into the action's payload and parsed, once. operations.cases.act and
    operations.spoor2.act take what it returns as it is.

    Refuses with InvalidFields (a field missing, of the wrong type, unknown, or one the edge fills in) or
    InvalidInput (too large, too deep, a date years off: domain.actions.admit).
    """
    model = _MODELS[spoor2].get(kind)
    if model is None:
        raise InvalidInput.of(ActionRefused("kind: %(value)s is not a known action", value=kind))
    if isinstance(fields, dict) and (sent := [name for name in EDGE_FIELDS if name in fields]):
        errors = [InitErrorDetails(type="extra_forbidden", loc=(name,), input=fields[name]) for name in sent]
        raise InvalidFields(ValidationError.from_exception_data(model.__name__, errors), ())

    def parse(raw: Any, *, strict: bool = True) -> Any:
        try:
            return model.model_validate_json(pydantic_core.to_json(raw), strict=True)
        except ValidationError as err:
            raise InvalidFields(err, ()) from None

    if not isinstance(fields, dict):
        parse(fields)  # refused as the model refuses what is no object (a list, a string, null)
    payload = {**fields, "kind": kind, "action_id": action_id, "actor": actor.model_dump(mode="json")}
    if kind == "employee_details_corrected":
        from operations.people import correction_with_person_keys

        payload = correction_with_person_keys(payload, search_key)
    return _admitted(payload, parse, today)


def parsed(action: BaseModel | dict[str, Any], parse: Callable[..., Any]) -> Submitted:
    """A whole action payload (Python callers, tests) and its parsed form; refuses bad input before any call."""
    return _admitted(action.model_dump(mode="json") if isinstance(action, BaseModel) else action, parse, None)


def _admitted(payload: Any, parse: Callable[..., Any], today: date | None) -> Submitted:
    """The payload admitted and parsed (domain.actions.admit: the validator's own check, so an oversized request
    never leaves the client), a bedrijfsarts's note then sealed (service.medical_seal) in the payload and the parsed
    action alike: admitted as text first, so a note too long is refused as ever."""
    try:
        admitted = admit(payload, parse, today or local_date(datetime.now(timezone.utc)))
    except ActionRefused as err:
        raise InvalidInput.of(err) from None
    return Submitted(*medical_seal.seal_action(payload, admitted))


async def execute_action(
    client: Client,
    handle: WorkflowHandle,
    update: Any,
    sent: Submitted,
    result_type: type,
    closed_reason: Callable[[], Awaitable[ActionRefused]],
    *,
    scope: CallerScope | None = None,
    on_record: Callable[[], Awaitable[Any | None]] | None = None,
) -> Any:
    """Send an action as an update whose id is the action id, with the caller's scope where an edge gives one;
    refusals become ActionRejected (RoleRefused, CaseNotFound where the case says which).

    `on_record` answers from the workflow's own record (None: not on it). It is asked first when this process sent the
    same action before and never learnt how that ended (`UNSETTLED`), instead of sending it again: the dev server
    (Temporal 1.32) took such a retry across its restart for a new update after it had completed the first, and
    failed every task of the workflow from then on (docs/durability.md)."""
    action = sent.action
    key = (handle.id, action.action_id)
    if on_record is not None and UNSETTLED.settle(key):
        try:
            found = await on_record()
        except BaseException:
            UNSETTLED.add(key)  # still not known: the next retry asks again
            raise
        if found is not None:
            return _checked(found, action)
    try:
        return _checked(await _send(client, handle, update, sent, result_type, closed_reason, scope), action)
    except (ActionRejected, InvalidInput, CaseBusy):
        raise  # the workflow answered, or nothing was recorded: nothing is left unknown
    except BaseException:
        UNSETTLED.add(key)  # a timeout, a restart, a cancelled request: applied or not, this process cannot tell
        raise


def _checked(result: Any, action: Any) -> Any:
    # Within one run the server answers a known update id from its own record, without asking the
    # workflow's validator: the same rule again, so another caller's id answers nothing of its entry.
    refusal = retry_refusal(result.entry, action)
    if refusal is not None:
        raise ActionRejected.of(refusal)
    return result


class Unsettled:
    """The actions (workflow id, action id) this process sent and never learnt the end of, oldest first: a retry of
    one looks at the workflow's record before it is sent again. Bounded, so a flood of failures cannot fill memory;
    an action forgotten is sent again as before."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._keys: dict[tuple[str, str], None] = {}

    def add(self, key: tuple[str, str]) -> None:
        self._keys.pop(key, None)
        self._keys[key] = None
        while len(self._keys) > self._size:
            del self._keys[next(iter(self._keys))]

    def settle(self, key: tuple[str, str]) -> bool:
        """Whether `key` was unsettled (and is no longer)."""
        return self._keys.pop(key, 0) is None


UNSETTLED = Unsettled()


async def _send(
    client: Client,
    handle: WorkflowHandle,
    update: Any,
    sent: Submitted,
    result_type: type,
    closed_reason: Callable[[], Awaitable[ActionRefused]],
    scope: CallerScope | None,
) -> Any:
    action = sent.action
    # Without a scope the update has the one argument every worker takes.
    args = [sent.payload, scope] if scope is not None else [sent.payload]
    attempts = 5
    for attempt in range(1, attempts + 1):
        try:
            result = await handle.execute_update(update, args=args, id=action.action_id, result_type=result_type)
            break
        except WorkflowUpdateFailedError as err:
            reason = refusal_reason(err)
            if not any(sign in reason for sign in _NOT_PROCESSED):
                structured = refusals.from_details(getattr(err.cause, "details", None))
                raise rejection(reason, *structured if structured else ()) from None
            # Not a refusal by the case: the update met a worker or server that was restarting.
            if attempt < attempts:
                await asyncio.sleep(0.2 * attempt)
                continue
            raise CaseBusy(reason) from None
        except RPCError as err:
            if err.status is RPCStatusCode.FAILED_PRECONDITION:
                # "Workflow Task in failed state": after a crash the case takes actions again once the workflow
                # task handed out before has timed out (seconds).
                if attempt < attempts:
                    await asyncio.sleep(0.2 * attempt)
                    continue
                raise CaseBusy(err.message) from None
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            # The update met a run as it continued as new: the new run takes it (it was not
            # accepted, so the same id is safe to send again). A closed workflow refuses it.
            if attempt < attempts and await _status(client, handle.id) == WorkflowExecutionStatus.RUNNING:
                await asyncio.sleep(0.1 * attempt)
                continue
            raise ActionRejected.of(await closed_reason()) from None
    return result


class RoleRefused(ActionRejected):
    """The caller's role may not take the action (the validator's role tables): the API's 403."""


class ScopeUnknown(ActionRejected):
    """The workflow cannot judge the caller's scope (a trajectory its case has not told it yet): the caller judges it
    on the case and sends the action without it (operations.spoor2.act); never a person's answer."""


# The refusals by which the case says more than "no": the caller's role (403), or no case the caller may see (404).
_ROLE_REFUSAL = "actor.role: the role "
_NOT_VISIBLE = "case_id: no case %(value)r that you may see"


def rejection(reason: str, template: str | None = None, params: Mapping[str, Any] | None = None) -> ActionRejected:
    """The rejection of a case's refusal, of the class that says what kind of no it is."""
    kind = (
        RoleRefused
        if template is not None and template.startswith(_ROLE_REFUSAL)
        else CaseNotFound
        if template == _NOT_VISIBLE
        else ScopeUnknown
        if template == SCOPE_UNKNOWN
        else ActionRejected
    )
    return kind(reason, template, params)


# The words of an update rejection that is no refusal by the case but a worker or server restarting.
_NOT_PROCESSED = ("wasn't processed by worker", "Workflow Task in failed state")


class CaseBusy(Exception):
    """The case could not take the action just now (its worker or the server is restarting): nothing was
    recorded, and the same request (same action id) may be sent again in a few seconds."""

    retry_after_seconds = 10


async def _describe(client: Client, workflow_id: str) -> Any | None:
    """The raw execution info of the workflow's latest run (not the typed search attributes, which
    the time-skipping server sends in a form the SDK cannot decode); None if unknown."""
    try:
        raw = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
        )
    except RPCError:
        return None
    return raw.workflow_execution_info


async def _status(client: Client, workflow_id: str) -> int | None:
    info = await _describe(client, workflow_id)
    return info.status if info is not None else None


class Closed(BaseModel):
    """How a workflow closed: the outcome in its result ("ended" if it did not complete) and the day."""

    outcome: str
    on: date | None


async def closed_workflow(
    client: Client, workflow_id: str, result_type: type[BaseModel], date_field: str
) -> Closed | None:
    """How a workflow closed; None if it is running or unknown. `date_field` names the result's closing day."""
    info = await _describe(client, workflow_id)
    if info is None or info.status == WorkflowExecutionStatus.RUNNING:
        return None
    closed = Closed(
        outcome="ended",
        on=local_date(info.close_time.ToDatetime(tzinfo=timezone.utc)) if info.HasField("close_time") else None,
    )
    if info.status == WorkflowExecutionStatus.COMPLETED:
        result = await completed_result(client, workflow_id, result_type)
        if result is not None:
            closed.outcome = result.outcome.value if result.outcome else closed.outcome
            closed.on = getattr(result, date_field) or closed.on
    return closed


async def completed_result(
    client: Client, workflow_id: str, result_type: type[BaseModel], *, wait: bool = False
) -> Any | None:
    """The result of a completed workflow read from its close event; None if it did not complete.

    Unlike `handle.result()` this never follows a continue-as-new chain and, on the time-skipping
    test server, does not unlock time skipping (which leaks there for child workflows).
    """
    handle = client.get_workflow_handle(workflow_id)
    async for event in handle.fetch_history_events(
        wait_new_event=wait, event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
    ):
        if event.HasField("workflow_execution_completed_event_attributes"):
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            return (await client.data_converter.decode(payloads, [result_type]))[0]
        return None
    return None


def refusal_reason(err: WorkflowUpdateFailedError) -> str:
    """The validator's reason from a failed or rejected update."""
    cause = err.cause
    return getattr(cause, "message", None) or str(cause or err)


class CaseListing(BaseModel):
    """A case as the list shows it: its search attributes, nothing personal."""

    case_id: str
    running: bool
    stage: str | None
    employer_id: str | None
    escalation_level: int | None
    overdue: bool | None
    next_deadline: date | None
    next_step: str | None = Field(default=None, description="The key of the step due on next_deadline (revision 3 on)")
    first_sick_day: date | None = None
    spoor2_phase: int | None
    coach_id: str | None = None


def _opaque(field: str, value: str) -> str:
    if not OPAQUE_ID.match(value):  # also keeps quotes out of the query
        raise ActionRefused("%(field)s: %(value)r is not an opaque id", field=field, value=value)
    return value


def search_filters(text: str, key: bytes | None) -> dict[str, Any]:
    """What the overview's search box finds, as `cases_query` filters: a case whose id starts with the text, or whose
    employee's surname or personnel number it is (either matches). Without a key, ids only."""
    from operations.people import search_keys

    found: dict[str, Any] = {}
    if CASE_ID_PREFIX.match(text):
        found["case_id_prefix"] = text
    keys = search_keys(text, key) if key is not None else []
    if keys:
        found["person_keys"] = keys
    return found


def cases_query(
    *,
    min_escalation_level: int | None = None,
    escalation_level: int | None = None,
    stage: Stage | str | None = None,
    employer_id: str | None = None,
    coach_id: str | None = None,
    spoor2_phase: int | None = None,
    overdue: bool | None = None,
    deadline_before: date | None = None,
    case_id_prefix: str | None = None,
    running_only: bool = True,
    assigned_to: tuple[Role, str] | None = None,
    employer_ids: Sequence[str] | None = None,
    person_keys: Sequence[str] | None = None,
    casemanager_id: str | None = None,
    worklist_until: date | None = None,
) -> str:
    """The visibility query for cases matching every given filter; ValueError names a bad one.

    `assigned_to` and `employer_ids` are a caller's scope (domain.access): the cases a person is assigned to or
    whose role's pool sees them, of the employers given. `person_keys` (operations.people) finds a case by its
    employee's keyed surname or personnel number; given with `case_id_prefix`, a case matching either is listed.
    `casemanager_id` lists the cases that casemanager is assigned to. `worklist_until` keeps the cases with work:
    a step due before that day (or overdue), or an escalation waiting.
    """
    parts = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    if assigned_to is not None:
        role, person = assigned_to
        markers = ", ".join(f"'{m}'" for m in access.listing_markers(role, _opaque("assigned_to", person)))
        # A case whose run began before revision 2 has no Assigned attribute yet: its pool rule is the old one.
        before = f"{sa.COACH_ID.name} = '{person}'" if role is Role.REINTEGRATIECOACH else None
        legacy = f"({sa.ASSIGNED.name} IS NULL AND {before})" if before else f"{sa.ASSIGNED.name} IS NULL"
        parts.append(f"({sa.ASSIGNED.name} IN ({markers}) OR {legacy})")
    if employer_ids is not None:
        parts.append(f"{sa.EMPLOYER_ID.name} IN ({', '.join(repr(_opaque('employer_ids', e)) for e in employer_ids)})")
    if running_only:
        parts.append("ExecutionStatus = 'Running'")
    for name, level, op in (
        ("min_escalation_level", min_escalation_level, ">="),
        ("escalation_level", escalation_level, "="),
    ):
        if level is not None:
            if not 0 <= level <= 3:
                raise ActionRefused("%(field)s: %(level)s is not a level (0-3)", field=name, level=level)
            parts.append(f"{sa.ESCALATION_LEVEL.name} {op} {int(level)}")
    if stage is not None:
        try:
            parts.append(f"{sa.CASE_STAGE.name} = '{Stage(stage).value}'")
        except ValueError:
            raise ActionRefused(
                "stage: %(value)r is not a stage (%(known)s)", value=stage, known=[s.value for s in Stage]
            ) from None
    if employer_id is not None:
        parts.append(f"{sa.EMPLOYER_ID.name} = '{_opaque('employer_id', employer_id)}'")
    if coach_id is not None:
        parts.append(f"{sa.COACH_ID.name} = '{_opaque('coach_id', coach_id)}'")
    if spoor2_phase is not None:
        if not 1 <= spoor2_phase <= 9:
            raise ActionRefused("spoor2_phase: %(phase)s is not a phase", phase=spoor2_phase)
        parts.append(f"{sa.SPOOR2_PHASE.name} = {int(spoor2_phase)}")
    if overdue is not None:
        parts.append(f"{sa.OVERDUE.name} = {'true' if overdue else 'false'}")
    found_by: list[str] = []
    if case_id_prefix is not None:
        if not CASE_ID_PREFIX.match(case_id_prefix):
            raise ActionRefused("case_id_prefix: %(value)r is not the start of a case id", value=case_id_prefix)
        found_by.append(f"WorkflowId STARTS_WITH '{case_workflow_id(case_id_prefix)}'")
    if person_keys:
        if not all(PERSON_KEY.match(k) for k in person_keys):
            raise ActionRefused("person_keys: not keys this service made")
        found_by.append(f"{sa.PERSON_KEYS.name} IN ({', '.join(repr(k) for k in person_keys)})")
    if found_by:
        parts.append(found_by[0] if len(found_by) == 1 else f"({' OR '.join(found_by)})")
    if casemanager_id is not None:
        parts.append(f"{sa.ASSIGNED.name} IN ('{Role.CASEMANAGER.value}:{_opaque('casemanager_id', casemanager_id)}')")
    if worklist_until is not None:
        until = start_of_day(worklist_until).isoformat().replace("+00:00", "Z")
        parts.append(
            f"({sa.NEXT_DEADLINE.name} < '{until}' OR {sa.OVERDUE.name} = true OR {sa.ESCALATION_LEVEL.name} >= 1)"
        )
    if deadline_before is not None:
        if deadline_before < EARLIEST_DEADLINE:  # the day before 0001-01-02 overflows as a UTC instant
            raise ActionRefused(
                "deadline_before: %(day)s is before %(earliest)s; no case has a deadline that early",
                day=deadline_before,
                earliest=EARLIEST_DEADLINE,
            )
        parts.append(f"{sa.NEXT_DEADLINE.name} < '{start_of_day(deadline_before).isoformat().replace('+00:00', 'Z')}'")
    return " AND ".join(parts)


def _listing(wf: Any) -> CaseListing:
    attrs = wf.typed_search_attributes
    deadline, first = attrs.get(sa.NEXT_DEADLINE), attrs.get(sa.FIRST_SICK_DAY)
    return CaseListing(
        case_id=wf.id.removeprefix("case-"),
        running=wf.status == WorkflowExecutionStatus.RUNNING,
        stage=attrs.get(sa.CASE_STAGE),
        employer_id=attrs.get(sa.EMPLOYER_ID),
        escalation_level=attrs.get(sa.ESCALATION_LEVEL),
        overdue=attrs.get(sa.OVERDUE),
        next_deadline=local_date(deadline) if deadline else None,
        next_step=attrs.get(sa.NEXT_STEP),
        first_sick_day=local_date(first) if first else None,
        spoor2_phase=attrs.get(sa.SPOOR2_PHASE),
        coach_id=attrs.get(sa.COACH_ID),
    )


async def list_cases(client: Client, *, limit: int | None = None, **filters: Any) -> list[CaseListing]:
    """Cases matching the filters of `cases_query`, most escalated first, then by next deadline."""
    found = [_listing(wf) async for wf in client.list_workflows(cases_query(**filters), limit=limit)]
    return sorted(found, key=lambda c: (-(c.escalation_level or 0), c.next_deadline or date.max, c.case_id))


class CasePage(BaseModel):
    cases: list[CaseListing]
    next_page_token: str | None = Field(description="Pass it back for the next page; none on the last")


async def page_cases(client: Client, *, page_size: int = 50, page_token: str | None = None, **filters: Any) -> CasePage:
    """One page of matching cases in the visibility store's order (most recently started first)."""
    try:
        token = base64.urlsafe_b64decode(page_token.encode()) if page_token else None
        if token is not None:
            json.loads(token)  # the visibility store's tokens are JSON; it answers others with retried errors
    except (ValueError, binascii.Error):
        raise ActionRefused("page_token: not a token this service handed out") from None
    it = client.list_workflows(cases_query(**filters), page_size=page_size, next_page_token=token)
    await it.fetch_next_page()
    following = it.next_page_token
    return CasePage(
        cases=[_listing(wf) for wf in it.current_page or []],
        next_page_token=base64.urlsafe_b64encode(following).decode() if following else None,
    )


async def count_cases(client: Client, **filters: Any) -> int:
    """How many cases match the filters."""
    return (await client.count_workflows(cases_query(**filters))).count


async def running_by_stage(client: Client) -> dict[str, int]:
    """Running cases per stage (the `spoorwerk_cases` gauge), by the same visibility queries as the overview."""
    stages = [s.value for s in Stage]
    found = await asyncio.gather(*(count_cases(client, stage=s) for s in stages))
    return dict(zip(stages, found))


class CaseCounts(BaseModel):
    """Running cases counted for the overview, within a scope."""

    running: int
    overdue: int
    by_stage: dict[str, int]
    by_escalation_level: dict[int, int]


async def case_counts(client: Client, **scope: Any) -> CaseCounts:
    """Running cases in the scope, counted in total, overdue, per open stage and per escalation level."""
    stages = [s for s in Stage if s is not Stage.CLOSED]
    found = await asyncio.gather(
        count_cases(client, **scope),
        count_cases(client, overdue=True, **scope),
        *(count_cases(client, stage=s, **scope) for s in stages),
        *(count_cases(client, escalation_level=n, **scope) for n in range(4)),
    )
    return CaseCounts(
        running=found[0],
        overdue=found[1],
        by_stage={s.value: n for s, n in zip(stages, found[2 : 2 + len(stages)])},
        by_escalation_level=dict(enumerate(found[2 + len(stages) :])),
    )


# How long the overview's counts of one scope are reused. The server's visibility groups only by execution
# status, so the tiles take 11 count queries (about 250 ms at 10,000 open cases); every dashboard load and
# API call within these seconds reads the last answer instead, and a new case shows on the tiles within them.
COUNTS_FRESH_SECONDS = 5.0


class CountsCache:
    """The overview's counts (`case_counts`) per scope, reused for `fresh_seconds`.

    A scope's counts are never shown to a caller of another scope: the key is the whole scope (employer,
    assignment, the employers a professional works for, the employer or coach chosen). Callers that ask for
    a scope while its counts are being fetched wait for that one fetch. A failed fetch is not kept.
    """

    def __init__(self, client: Client, fresh_seconds: float = COUNTS_FRESH_SECONDS, *, max_scopes: int = 2048) -> None:
        self.client = client
        self.fresh_seconds = fresh_seconds
        self.max_scopes = max_scopes
        self._kept: dict[str, tuple[float, CaseCounts]] = {}
        self._fetching: dict[str, asyncio.Task[CaseCounts]] = {}

    @staticmethod
    def key(scope: Mapping[str, Any]) -> str:
        return json.dumps(scope, sort_keys=True, default=str)

    async def get(self, **scope: Any) -> CaseCounts:
        key = self.key(scope)
        loop = asyncio.get_running_loop()
        kept = self._kept.get(key)
        if kept is not None and loop.time() - kept[0] < self.fresh_seconds:
            return kept[1]
        fetching = self._fetching.get(key)
        if fetching is None or fetching.get_loop() is not loop:
            fetching = self._fetching[key] = asyncio.ensure_future(case_counts(self.client, **scope))
            asked = loop.time()  # the counts are as fresh as the moment they were asked for
            fetching.add_done_callback(lambda done: self._fetched(key, asked, done))
        # Shielded: a caller that goes away (a closed page) does not cancel the fetch the others wait for.
        return await asyncio.shield(fetching)

    def _fetched(self, key: str, asked: float, done: asyncio.Task[CaseCounts]) -> None:
        if self._fetching.get(key) is done:
            del self._fetching[key]
        if done.cancelled() or done.exception() is not None:
            return
        if len(self._kept) >= self.max_scopes:
            now = done.get_loop().time()
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.fresh_seconds}
            if len(self._kept) >= self.max_scopes:  # all fresh: many scopes at once; forget the oldest
                del self._kept[min(self._kept, key=lambda k: self._kept[k][0])]
        self._kept[key] = (asked, done.result())


async def summary(client: Client, case_id: str) -> CaseSummary:
    """The case at a glance as of today (Amsterdam)."""
    return await case_handle(client, case_id).query(SickLeaveCase.summary, local_date(datetime.now(timezone.utc)))
