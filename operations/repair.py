"""Freeing a case (or trajectory) that a known SDK fault has stuck after a server restart (docs/durability.md).

When the Temporal server stops between recording a workflow task that accepted and completed an action (an update) and
answering the worker, the worker can send that action's acceptance once more with a later task; the server refuses
it (`BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE`, "received *update.Acceptance message while in state Completed") and
every retry of that task the same way (temporalio/sdk-rust#888, open upstream). The action is on record; only the
stuck task is wrong. A reset to that failed task starts a new run from the same history, which the worker replays
afresh: every action and dossier entry is kept, nothing is applied twice, and the case goes on.
"""

from __future__ import annotations

import uuid

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType, WorkflowTaskFailedCause
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client

_RETRYING = frozenset({EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED})
STUCK_CAUSE = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE


async def stuck_task(client: Client, workflow_id: str, causes: frozenset[int] = frozenset({STUCK_CAUSE})) -> int | None:
    """The event id of the failed workflow task that holds the running workflow up, when it failed for one of `causes`
    (by default the fault above); None when the workflow is not stuck so."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    for event in reversed(history.events):
        if event.event_type in _RETRYING:  # the failed task's next attempt, scheduled or running
            continue
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            return event.event_id if event.workflow_task_failed_event_attributes.cause in causes else None
        return None
    return None


async def free(client: Client, workflow_id: str, causes: frozenset[int] = frozenset({STUCK_CAUSE})) -> str | None:
    """Reset a workflow stuck on a failed task (by default: an action's acceptance sent twice) to that task; the new
    run's id, or None when it was not stuck so (then nothing is done)."""
    failed = await stuck_task(client, workflow_id, causes)
    if failed is None:
        return None
    run_id = (await client.get_workflow_handle(workflow_id).describe()).run_id
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            reason="freed: an action's acceptance sent twice after a server restart (temporalio/sdk-rust#888)",
            workflow_task_finish_event_id=failed,
            request_id=str(uuid.uuid4()),
            # Nothing came after the failed task; what the history holds is kept as it is.
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
        )
    )
    return response.run_id
