"""Client-side operations on cases: open one, record an action, read it. Used by the CLI and tests."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistoryEventFilterType,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import parse_action
from domain.case import CaseOpening, CaseSummary, open_case as check_opening
from domain.errors import ActionRefused
from domain.models import OPAQUE_ID_PATTERN, Stage
from domain.nl_time import local_date, start_of_day
from domain.rules import Rulebook
from service.rulebook import load_rulebook, load_spoor2_rules, load_stagnation_rules
from workflows import search_attributes as sa
from workflows.ids import case_workflow_id
from workflows.sick_leave_case import ActionResult, CaseInput, CaseResult, SickLeaveCase

WORKFLOW_TYPE = "SickLeaveCase"
OPAQUE_ID = re.compile(OPAQUE_ID_PATTERN)


class CaseAlreadyExists(Exception):
    """A case with this id was started before (running or closed)."""


class ActionRejected(Exception):
    """The case refused an action; the message is the workflow's reason."""


async def open_case(
    client: Client,
    opening: CaseOpening,
    *,
    task_queue: str,
    rulebook: Rulebook | None = None,
    today: date | None = None,
    continue_as_new_after_events: int | None = None,
) -> WorkflowHandle[SickLeaveCase, Any]:
    """Start the workflow of a new case; refuses bad input and a case id used before."""
    rulebook = rulebook or load_rulebook()
    ruleset = rulebook.for_first_sick_day(opening.first_sick_day)
    now = datetime.now(timezone.utc)
    # Check here too, so the caller gets the reason at once instead of a failed workflow.
    check_opening(opening, ruleset, today=today or local_date(now), now=now)
    case_input = CaseInput(opening=opening, ruleset=ruleset, spoor2_rules=load_spoor2_rules(),
                           stagnation_rules=load_stagnation_rules())
    if continue_as_new_after_events is not None:
        case_input.continue_as_new_after_events = continue_as_new_after_events
    try:
        return await client.start_workflow(
            SickLeaveCase.run,
            case_input,
            id=case_workflow_id(opening.case_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CASE_STAGE, (opening.stage or Stage.ZIEKMELDING).value),
                    SearchAttributePair(sa.EMPLOYER_ID, opening.employer_id),
                    SearchAttributePair(sa.FIRST_SICK_DAY, start_of_day(opening.first_sick_day)),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        raise CaseAlreadyExists(f"case_id: a case {opening.case_id!r} already exists") from None


def case_handle(client: Client, case_id: str) -> WorkflowHandle[SickLeaveCase, Any]:
    return client.get_workflow_handle_for(SickLeaveCase.run, case_workflow_id(case_id))  # type: ignore[arg-type]


async def act(client: Client, case_id: str, action: BaseModel | dict[str, Any]) -> ActionResult:
    """Record an action on a case; the action id is the update id, so a retry is applied once."""
    payload, action = parsed(action, parse_action)
    handle = case_handle(client, case_id)

    async def closed_reason() -> str:
        closed = await closed_workflow(client, handle.id, CaseResult, "closed_on")
        if closed is None:
            return f"case_id: no case {case_id!r}"
        return f"{action.kind}: the case is closed ({closed.outcome} on {closed.on}); no action is accepted any more"

    return await execute_action(handle, SickLeaveCase.act, payload, action, ActionResult, closed_reason)


def parsed(action: BaseModel | dict[str, Any], parse: Callable[[Any], Any]) -> tuple[dict[str, Any], Any]:
    """The JSON payload of an action and its validated form; refuses bad input before any call."""
    payload = action.model_dump(mode="json") if isinstance(action, BaseModel) else action
    try:
        return payload, parse(payload)
    except ActionRefused as err:
        raise ActionRejected(str(err)) from None


async def execute_action(handle: WorkflowHandle, update: Any, payload: dict, action: Any, result_type: type, closed_reason) -> Any:
    """Send an action as an update whose id is the action id; refusals become ActionRejected."""
    try:
        result = await handle.execute_update(update, payload, id=action.action_id, result_type=result_type)
    except WorkflowUpdateFailedError as err:
        raise ActionRejected(refusal_reason(err)) from None
    except RPCError as err:
        # A closed workflow has completed, so the server refuses the update itself.
        if err.status is RPCStatusCode.NOT_FOUND:
            raise ActionRejected(await closed_reason()) from None
        raise
    # Within one run the server answers a known update id from its own record, without asking
    # the workflow: an id reused for another action must still be refused.
    if result.entry.kind != action.kind:
        raise ActionRejected(f"action_id: {action.action_id!r} was already used for {result.entry.kind}, not {action.kind}")
    return result


class Closed(BaseModel):
    """How a workflow closed: the outcome in its result ("ended" if it did not complete) and the day."""

    outcome: str
    on: date | None


async def closed_workflow(client: Client, workflow_id: str, result_type: type[BaseModel], date_field: str) -> Closed | None:
    """How a workflow closed; None if it is running or unknown. `date_field` names the result's closing day."""
    # The raw description: we need only the status, not the typed search attributes.
    try:
        raw = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id))
        )
    except RPCError:
        return None
    info = raw.workflow_execution_info
    if info.status == WorkflowExecutionStatus.RUNNING:
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


async def completed_result(client: Client, workflow_id: str, result_type: type[BaseModel], *, wait: bool = False) -> Any | None:
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
    spoor2_phase: int | None


def cases_query(*, min_escalation_level: int | None = None, stage: Stage | None = None, employer_id: str | None = None,
                overdue: bool | None = None, running_only: bool = True) -> str:
    """The visibility query for cases matching every given filter."""
    parts = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    if running_only:
        parts.append("ExecutionStatus = 'Running'")
    if min_escalation_level is not None:
        if not 0 <= min_escalation_level <= 3:
            raise ValueError(f"min_escalation_level: {min_escalation_level} is not a level (0-3)")
        parts.append(f"{sa.ESCALATION_LEVEL.name} >= {int(min_escalation_level)}")
    if stage is not None:
        parts.append(f"{sa.CASE_STAGE.name} = '{Stage(stage).value}'")
    if employer_id is not None:
        if not OPAQUE_ID.match(employer_id):  # also keeps quotes out of the query
            raise ValueError(f"employer_id: {employer_id!r} is not an opaque id")
        parts.append(f"{sa.EMPLOYER_ID.name} = '{employer_id}'")
    if overdue is not None:
        parts.append(f"{sa.OVERDUE.name} = {'true' if overdue else 'false'}")
    return " AND ".join(parts)


async def list_cases(client: Client, *, limit: int | None = None, **filters: Any) -> list[CaseListing]:
    """Cases matching the filters of `cases_query`, most escalated first, then by next deadline."""
    found: list[CaseListing] = []
    async for wf in client.list_workflows(cases_query(**filters), limit=limit):
        attrs = wf.typed_search_attributes
        deadline = attrs.get(sa.NEXT_DEADLINE)
        found.append(CaseListing(
            case_id=wf.id.removeprefix("case-"), running=wf.status == WorkflowExecutionStatus.RUNNING,
            stage=attrs.get(sa.CASE_STAGE), employer_id=attrs.get(sa.EMPLOYER_ID),
            escalation_level=attrs.get(sa.ESCALATION_LEVEL), overdue=attrs.get(sa.OVERDUE),
            next_deadline=local_date(deadline) if deadline else None, spoor2_phase=attrs.get(sa.SPOOR2_PHASE),
        ))
    return sorted(found, key=lambda c: (-(c.escalation_level or 0), c.next_deadline or date.max, c.case_id))


async def summary(client: Client, case_id: str) -> CaseSummary:
    """The case at a glance as of today (Amsterdam)."""
    return await case_handle(client, case_id).query(SickLeaveCase.summary, local_date(datetime.now(timezone.utc)))
