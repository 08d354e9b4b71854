"""Client-side operations on cases: open one, record an action, read it. Used by the CLI and tests."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import parse_action
from domain.case import CaseOpening, CaseSummary, open_case as check_opening
from domain.errors import ActionRefused
from domain.models import Stage
from domain.nl_time import local_date, start_of_day
from domain.rules import Rulebook
from service.rulebook import load_rulebook
from workflows import search_attributes as sa
from workflows.sick_leave_case import ActionResult, CaseInput, CaseResult, SickLeaveCase

WORKFLOW_TYPE = "SickLeaveCase"


class CaseAlreadyExists(Exception):
    """A case with this id was started before (running or closed)."""


class ActionRejected(Exception):
    """The case refused an action; the message is the workflow's reason."""


def workflow_id(case_id: str) -> str:
    """The workflow id of a case: derived from the opaque case id only."""
    return f"case-{case_id}"


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
    case_input = CaseInput(opening=opening, ruleset=ruleset)
    if continue_as_new_after_events is not None:
        case_input.continue_as_new_after_events = continue_as_new_after_events
    try:
        return await client.start_workflow(
            SickLeaveCase.run,
            case_input,
            id=workflow_id(opening.case_id),
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
    return client.get_workflow_handle_for(SickLeaveCase.run, workflow_id(case_id))  # type: ignore[arg-type]


async def act(client: Client, case_id: str, action: BaseModel | dict[str, Any]) -> ActionResult:
    """Record an action on a case; the action id is the update id, so a retry is applied once."""
    payload = action.model_dump(mode="json") if isinstance(action, BaseModel) else action
    try:
        action = parse_action(payload)
    except ActionRefused as err:
        raise ActionRejected(str(err)) from None
    handle = case_handle(client, case_id)
    try:
        result = await handle.execute_update(SickLeaveCase.act, payload, id=action.action_id, result_type=ActionResult)
    except WorkflowUpdateFailedError as err:
        raise ActionRejected(refusal_reason(err)) from None
    except RPCError as err:
        # A closed case's workflow has completed, so the server refuses the update itself.
        if err.status is RPCStatusCode.NOT_FOUND:
            closed = await _closed_case(client, handle)
            if closed is not None:
                raise ActionRejected(
                    f"{action.kind}: the case is closed ({closed.outcome.value if closed.outcome else 'ended'} on "  # type: ignore[attr-defined]
                    f"{closed.closed_on}); no action is accepted any more"
                ) from None
            raise ActionRejected(f"case_id: no case {case_id!r}") from None
        raise
    # Within one run the server answers a known update id from its own record, without asking
    # the workflow: an id reused for another action must still be refused.
    if result.entry.kind != action.kind:  # type: ignore[attr-defined]
        raise ActionRejected(f"action_id: {action.action_id!r} was already used for {result.entry.kind}, not {action.kind}")  # type: ignore[attr-defined]
    return result


async def _closed_case(client: Client, handle: WorkflowHandle[SickLeaveCase, Any]) -> CaseResult | None:
    """The result of a case whose workflow has closed; None if it is running or unknown."""
    # The raw description: we need only the status, not the typed search attributes.
    try:
        raw = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id))
        )
    except RPCError:
        return None
    info = raw.workflow_execution_info
    if info.status == WorkflowExecutionStatus.COMPLETED:
        return await handle.result()
    if info.status != WorkflowExecutionStatus.RUNNING:
        closed = info.close_time.ToDatetime().date() if info.HasField("close_time") else None
        return CaseResult(case_id=handle.id, outcome=None, closed_on=closed)
    return None


def refusal_reason(err: WorkflowUpdateFailedError) -> str:
    """The validator's reason from a failed or rejected update."""
    cause = err.cause
    return getattr(cause, "message", None) or str(cause or err)


async def summary(client: Client, case_id: str) -> CaseSummary:
    """The case at a glance as of today (Amsterdam)."""
    return await case_handle(client, case_id).query(SickLeaveCase.summary, local_date(datetime.now(timezone.utc)))
