"""Freeing a case (or trajectory) that a known SDK fault has stuck after a server restart (docs/durability.md).

Two faults of the SDK's core, both open upstream and both seen in the crash test after the server stopped while a
workflow task was in flight, hold a workflow up: every retry of its workflow task fails the same way, and every query
answers "Workflow Task in failed state".

- **An acceptance sent twice** (temporalio/sdk-rust#888): the worker sends an action's (update's) acceptance once more
  with a later task; the server refuses it (`BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE`, "received *update.Acceptance
  message while in state Completed"). The action is on record; only the stuck task is wrong. A reset to that failed
  task starts a new run from the same history, which the worker replays afresh.
- **A history its own code cannot replay** (`NON_DETERMINISTIC_ERROR`): actions that reached the server while a task
  was waiting for a worker that had lost its connection were handed to the workflow after the wake that task was for,
  and recorded so; a replay from the start hands them over before it, and the workflow's commands come in another
  order than recorded ("Update machine does not handle this event: HistoryEvent(id: 10, TimerStarted)"). A reset to
  the last task before the event the replay disagrees with drops that task's commands; the server takes the actions
  and signals recorded after it again (each action carries its id, so none is applied twice), and the run goes on
  from there. The same reset frees a case that a code change made unreplayable, once the code is right again.

Every action and dossier entry is kept, nothing is applied twice, and the case goes on.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import timedelta

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType, WorkflowTaskFailedCause
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory, WorkflowQueryFailedError

from operations import cases

_RETRYING = frozenset({EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED})
ACCEPTED_TWICE = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE
UNREPLAYABLE = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
SDK_FAULTS = frozenset({ACCEPTED_TWICE, UNREPLAYABLE})
# How the SDK's core names the first recorded event its replay disagrees with.
_DISAGREES_AT = re.compile(r"HistoryEvent\(id: (\d+)")


@dataclasses.dataclass(frozen=True)
class Stuck:
    """A workflow held up by a failing workflow task, and the reset that would free it."""

    failed_event_id: int  # the failed task's event
    cause: int  # WorkflowTaskFailedCause
    message: str  # the failure's first line
    reset_to: int | None  # the workflow task (its completed or failed event) a reset goes back to; None: none can
    reapply: bool  # whether the actions and signals recorded after `reset_to` are taken again
    reason: str  # for the reset's record
    disagrees_at: int | None = None  # the first recorded event a replay disagrees with (a history that does not replay)
    task_failed: bool = True  # False: a query's replay found it before any workflow task failed

    @property
    def known_fault(self) -> bool:
        """Whether `free` resets it by default: one of the two faults above, with a task to go back to."""
        return self.cause in SDK_FAULTS and self.reset_to is not None

    @property
    def cause_name(self) -> str:
        return WorkflowTaskFailedCause.Name(WorkflowTaskFailedCause.ValueType(self.cause)).removeprefix(
            "WORKFLOW_TASK_FAILED_CAUSE_"
        )


async def stuck_task(client: Client, workflow_id: str) -> Stuck | None:
    """How the running workflow is held up, when its last workflow task failed (for any cause); None when not."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    for event in reversed(history.events):
        if event.event_type in _RETRYING:  # the failed task's next attempt, scheduled or running
            continue
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            return None
        failed = event.workflow_task_failed_event_attributes
        message = await _message(client, failed.failure)
        if failed.cause != UNREPLAYABLE:
            reason = (
                "freed: an action's acceptance sent twice after a server restart (temporalio/sdk-rust#888)"
                if failed.cause == ACCEPTED_TWICE
                else f"freed: a workflow task that kept failing (cause {failed.cause})"
            )
            return Stuck(event.event_id, failed.cause, message, reset_to=event.event_id, reapply=False, reason=reason)
        found = _DISAGREES_AT.search(failed.failure.message)
        return _unreplayable(history, event.event_id, message, int(found.group(1)) if found else event.event_id)
    return None


async def unreplayable(client: Client, workflow_id: str, message: str) -> Stuck | None:
    """The reset that frees a running workflow whose history a replay disagreed with, from the nondeterminism error a
    query of it answered (a worker that no longer held it replayed it for the query); None when the message names no
    event. The same fault as a failed task of cause UNREPLAYABLE, seen before any task failed."""
    found = _DISAGREES_AT.search(message)
    if found is None:
        return None
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    stuck = _unreplayable(history, history.events[-1].event_id, message.splitlines()[0], int(found.group(1)))
    return dataclasses.replace(stuck, task_failed=False)


async def replays(client: Client, workflow_id: str, wait_s: float = 10.0) -> Stuck | None:
    """Whether a worker can replay the running workflow, asked by the SDK's own metadata query (no case data in its
    answer): a worker that does not hold the workflow answers by replaying its history. The reset that frees it when
    the replay disagrees; None when it answered. A worker that holds the workflow answers from memory: the fault then
    shows at its next restart or eviction. `RPCError` when no worker answers within `wait_s` seconds."""
    handle = client.get_workflow_handle(workflow_id)
    if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
        return None  # a closed one takes no more actions: nothing to free
    try:
        await handle.query("__temporal_workflow_metadata", rpc_timeout=timedelta(seconds=wait_s))
    except WorkflowQueryFailedError as err:
        if "Nondeterminism" not in str(err):
            return None
        return await unreplayable(client, workflow_id, str(err))
    return None


def _unreplayable(history: WorkflowHistory, failed_event_id: int, message: str, disagrees_at: int) -> Stuck:
    """Reset to the last completed workflow task before the event a replay disagrees with, taking again what came
    after it."""
    before = [
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < disagrees_at
    ]
    return Stuck(
        failed_event_id,
        UNREPLAYABLE,
        message,
        # A first task that does not replay has nothing before it to go back to.
        reset_to=before[-1] if before else None,
        reapply=True,
        reason=f"freed: the history did not replay at event {disagrees_at}; reset to the task before it",
        disagrees_at=disagrees_at,
    )


async def _message(client: Client, failure: Failure) -> str:
    """The failure's first line, decrypted (the worker encrypts its failures' messages: "Encoded failure")."""
    copy = Failure()
    copy.CopyFrom(failure)
    try:
        text = str(await client.data_converter.decode_failure(copy)) or failure.message
    except Exception:  # noqa: BLE001 (a key this client lacks: the message as recorded)
        text = failure.message
    return text.splitlines()[0] if text else ""


CASE_TYPE = cases.WORKFLOW_TYPE
TRAJECTORY_TYPE = "Spoor2Trajectory"  # the name in workflows/spoor2_trajectory.py's @workflow.defn


async def held_up(client: Client) -> list[tuple[str, str]]:
    """(workflow id, workflow type) of each running case and trajectory the server reports held up by failing workflow
    tasks (its `TemporalReportedProblems`, set after two failed tasks in a row when the server is configured to: the
    embedded server and deploy/compose are)."""
    query = (
        "TemporalReportedProblems IS NOT NULL AND ExecutionStatus = 'Running' "
        f"AND WorkflowType IN ('{CASE_TYPE}', '{TRAJECTORY_TYPE}')"
    )
    return sorted({(w.id, w.workflow_type) async for w in client.list_workflows(query)})


async def free(client: Client, workflow_id: str, causes: frozenset[int] = SDK_FAULTS) -> str | None:
    """Reset a workflow held up by a failed task for one of `causes` (by default the two faults above) as `stuck_task`
    says; the new run's id, or None when it was not held up so (then nothing is done)."""
    stuck = await stuck_task(client, workflow_id)
    if stuck is None or stuck.cause not in causes or stuck.reset_to is None:
        return None
    return await reset(client, workflow_id, stuck)


async def reset(client: Client, workflow_id: str, stuck: Stuck) -> str:
    """Reset the workflow as `stuck` (from `stuck_task`) says; the new run's id."""
    if stuck.reset_to is None:
        raise ValueError(f"{workflow_id}: no earlier workflow task to go back to")
    run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            reason=stuck.reason,
            workflow_task_finish_event_id=stuck.reset_to,
            request_id=str(uuid.uuid4()),
            # After a failed task nothing was recorded; after an earlier task, actions and signals may have been.
            reset_reapply_type=(
                ResetReapplyType.RESET_REAPPLY_TYPE_ALL_ELIGIBLE
                if stuck.reapply
                else ResetReapplyType.RESET_REAPPLY_TYPE_NONE
            ),
        )
    )
    return response.run_id
