"""operations.repair on the real dev server: a workflow held up by a failing workflow task is reset to that task, and
goes on with every action it had taken, none of them twice.

The fault it is for (an action's acceptance sent twice after a server restart, temporalio/sdk-rust#888) cannot be
caused at will; a task that fails for another cause, lifted before the reset, takes the same way through it."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import WorkflowUpdateStage
from temporalio.worker import Worker

from operations import repair

BROKEN = {"on": False}  # the fault, on and off from the test: a workflow task fails while it is on
UNHANDLED = frozenset({WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE})


@workflow.defn(sandboxed=False)
class Held:
    def __init__(self) -> None:
        self.applied: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.applied) == 3)
        return self.applied

    @workflow.update
    def act(self, action_id: str) -> int:
        if BROKEN["on"]:
            raise RuntimeError("the workflow task fails")  # not an ApplicationError: the task fails, not the update
        self.applied.append(action_id)
        return len(self.applied)


async def test_a_workflow_held_up_by_a_failed_task_is_reset_to_it_and_goes_on(dev_env) -> None:
    client, queue = dev_env.client, f"repair-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[Held]):
        handle = await client.start_workflow(Held.run, id=f"held-{uuid.uuid4().hex[:8]}", task_queue=queue)
        assert await handle.execute_update(Held.act, "first") == 1
        assert await repair.free(client, handle.id, UNHANDLED) is None  # not held up: nothing done

        BROKEN["on"] = True
        try:
            held = asyncio.create_task(handle.execute_update(Held.act, "second"))
            for _ in range(200):
                if await repair.stuck_task(client, handle.id, UNHANDLED) is not None:
                    break
                await asyncio.sleep(0.05)
            assert await repair.stuck_task(client, handle.id, UNHANDLED) is not None
            # Only the fault this module is for is freed by default.
            assert await repair.free(client, handle.id) is None
        finally:
            BROKEN["on"] = False
        old_run = (await handle.describe()).run_id
        new_run = await repair.free(client, handle.id, UNHANDLED)
        assert new_run is not None and new_run != old_run
        held.cancel()

        # The new run has the action taken before, once, and takes the next ones.
        fresh = client.get_workflow_handle(handle.id)
        again = await fresh.start_update(Held.act, "second", wait_for_stage=WorkflowUpdateStage.COMPLETED)
        assert await again.result() == 2
        assert await fresh.execute_update(Held.act, "third") == 3
        assert await fresh.result() == ["first", "second", "third"]
        history = await fresh.fetch_history()
        completed = [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
        ]
        assert len(completed) == 3
