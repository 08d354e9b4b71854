"""operations.repair on the real dev server: a workflow held up by a failing workflow task is reset, and goes on with
every action it had taken, none of them twice.

The first fault it is for (an action's acceptance sent twice after a server restart, temporalio/sdk-rust#888) cannot be
caused at will; a task that fails for another cause, lifted before the reset, takes the same way through it. The second
(a history that no longer replays) is caused by a code change between two workers, which answers an action with another
command than the one recorded."""

from __future__ import annotations

import asyncio
import html
import uuid
from typing import AsyncIterator

import httpx
import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateStage
from temporalio.worker import Worker

from domain.models import Role
from operations import repair
from operations.app import create_app
from operations.auth import Caller, TokenAuthenticator
from tests.operations.test_cli_operations import base_env, run
from tests.processes import delete_workflows
from workflows.ids import case_workflow_id

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
                if await repair.stuck_task(client, handle.id) is not None:
                    break
                await asyncio.sleep(0.05)
            stuck = await repair.stuck_task(client, handle.id)
            assert stuck is not None and stuck.cause_name == "WORKFLOW_WORKER_UNHANDLED_FAILURE"
            assert "the workflow task fails" in stuck.message
            # Only the faults this module is for are freed by default.
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


DRIFT = {"on": False}  # the code change: on, the loop answers an action with another command than it recorded


@workflow.defn(name="SickLeaveCase", sandboxed=False)  # a case's type: `spoorwerk repair` lists it when held up
class Drifting:
    """Answers each action with a command of its loop, in the same workflow task: a timer, or (drifted) a memo."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        self.answered = 0
        while self.answered < 3:
            await workflow.wait_condition(lambda: len(self.applied) > self.answered)
            self.answered = len(self.applied)
            if DRIFT["on"]:
                workflow.upsert_memo({"answered": self.answered})
            else:
                self._timer = asyncio.create_task(workflow.sleep(3600))  # kept: a timer that is never awaited
        return self.applied

    @workflow.query
    def count(self) -> int:
        return len(self.applied)

    @workflow.update
    def act(self, action_id: str) -> int:
        if action_id not in self.applied:  # an action id is applied once (as the cases do)
            self.applied.append(action_id)
        return self.applied.index(action_id) + 1


async def what_a_person_sees_meanwhile(client: Client, case_id: str) -> None:
    """The API and the case's page answer 503 with the remedy, in Dutch, instead of a bare server error."""
    token = f"tok-{uuid.uuid4().hex}"
    app = create_app(client, TokenAuthenticator({token: Caller(role=Role.OPERATIONS, id="ops-1")}), task_queue="unused")
    remedy = f"Een beheerder herstelt haar met `spoorwerk repair {case_id}`"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        api = await http.get(f"/api/cases/{case_id}", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 503 and remedy in api.json()["detail"], api.text
        assert "niet opnieuw afspelen" in api.json()["detail"]
        await http.post("/login", data={"token": token, "next": "/"})
        page = await http.get(f"/cases/{case_id}")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html"), page.text[:300]
        assert "Nu niet beschikbaar" in page.text and html.escape(remedy) in page.text


@pytest.fixture
async def drifting_case(dev_env) -> AsyncIterator[str]:
    """A case id for `Drifting`, deleted afterwards whatever happened: it has a case's type, and no listing of cases in
    a later test may meet it without a worker."""
    case_id = f"Cdrift{uuid.uuid4().hex[:8]}"
    yield case_id
    DRIFT["on"] = False
    await delete_workflows(dev_env.client, [case_workflow_id(case_id)])


async def test_a_workflow_its_history_no_longer_replays_is_reset_before_the_disagreement_and_keeps_its_actions(
    dev_env, drifting_case, tmp_path
) -> None:
    client, queue = dev_env.client, f"repair-{uuid.uuid4().hex[:8]}"
    case_id = drifting_case
    workflow_id = case_workflow_id(case_id)  # as a case's, so `spoorwerk repair CASE` finds it
    env = base_env(tmp_path, TEMPORAL_ADDRESS=client.service_client.config.target_host)
    DRIFT["on"] = False
    async with Worker(client, task_queue=queue, workflows=[Drifting]):
        handle = await client.start_workflow(Drifting.run, id=workflow_id, task_queue=queue)
        assert await handle.execute_update(Drifting.act, "first", id="first") == 1
        assert await handle.execute_update(Drifting.act, "second", id="second") == 2
        recorded = await handle.fetch_history()
    timers = [e.event_id for e in recorded.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert len(timers) == 2
    # No worker polls the queue now: the command says it could not ask one, and changes nothing.
    unasked = await run("repair", case_id, env=env)
    assert unasked.rc == 0, unasked.err
    assert f"zaak {workflow_id}: loopt niet vast; geen worker antwoordde" in unasked.out
    assert (await handle.describe()).run_id == recorded.run_id

    DRIFT["on"] = True
    try:
        # A new worker replays the history from its start to take the next action, and cannot.
        async with Worker(client, task_queue=queue, workflows=[Drifting]):
            # A query replays it first: the same fault, seen before any task failed (a trajectory's view after a
            # worker's restart, tests/workflows/test_crash_recovery.py), and the same reset from its answer.
            with pytest.raises(WorkflowQueryFailedError) as queried:
                await handle.query(Drifting.count)
            by_query = await repair.unreplayable(client, workflow_id, str(queried.value))
            await what_a_person_sees_meanwhile(client, case_id)
            # The operator's command finds it too, before any task failed: it puts the case to the worker.
            early = await run("repair", case_id, "--check", env=env)
            assert early.rc == 0, early.err
            assert (
                f"zaak {workflow_id}: haar geschiedenis speelt niet opnieuw af bij gebeurtenis {timers[0]}" in early.out
            )
            assert "(nog geen taak mislukt)" in early.out and "loopt niet vast" not in early.out
            third = asyncio.create_task(handle.execute_update(Drifting.act, "third", id="third"))
            stuck = None
            for _ in range(200):
                if (stuck := await repair.stuck_task(client, workflow_id)) is not None:
                    break
                await asyncio.sleep(0.05)
            assert stuck is not None and stuck.cause == repair.UNREPLAYABLE
            # Back to the task that recorded the first action, before its timer: the event the replay disagrees with.
            completed = [
                e.event_id
                for e in recorded.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < timers[0]
            ]
            assert (stuck.reset_to, stuck.reapply) == (completed[-1], True)
            assert by_query is not None and (by_query.reset_to, by_query.disagrees_at) == (completed[-1], timers[0])
            assert f"terug naar gebeurtenis {completed[-1]}" in early.out
            assert f"event {timers[0]}" in stuck.reason

            # The server reports it held up after two failed tasks: the command without a case finds it.
            for _ in range(300):
                if (workflow_id, "SickLeaveCase") in await repair.held_up(client):
                    break
                await asyncio.sleep(0.1)
            everything = await run("repair", "--check", env=env)
            assert everything.rc == 0, everything.err
            assert f"zaak {workflow_id}: loopt vast sinds gebeurtenis" in everything.out

            # The operator's command: first only a look, then the reset (in Dutch, the default).
            old_run = (await handle.describe()).run_id
            looked = await run("repair", case_id, "--check", env=env)
            assert looked.rc == 0, looked.err
            assert f"zaak {workflow_id}: loopt vast sinds gebeurtenis {stuck.failed_event_id}" in looked.out
            assert f"speelt niet opnieuw af bij gebeurtenis {timers[0]}" in looked.out
            assert f"terug naar gebeurtenis {stuck.reset_to}" in looked.out
            assert "spoor 2-traject" not in looked.out  # it has none: nothing said of it
            assert (await handle.describe()).run_id == old_run
            freed = await run("repair", case_id, env=env)
            assert freed.rc == 0, freed.err
            new_run = (await client.get_workflow_handle(workflow_id).describe()).run_id
            assert new_run != old_run and f"vrijgemaakt, nieuwe run {new_run}" in freed.out
            third.cancel()
            fresh = client.get_workflow_handle(workflow_id)
            # The actions recorded after the reset point are taken again by the new run, each once; a retry of the
            # action that was waiting gets its answer, and the run ends with the three.
            assert await fresh.execute_update(Drifting.act, "third", id="third") == 3
            assert await fresh.result() == ["first", "second", "third"]
            history = await fresh.fetch_history()
    finally:
        DRIFT["on"] = False
    completed_updates = [
        e.workflow_execution_update_completed_event_attributes.meta.update_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
    ]
    assert sorted(completed_updates) == ["first", "second", "third"]
    again = await run("repair", case_id, env=env)
    assert (again.rc, again.out.strip()) == (0, f"zaak {workflow_id}: loopt niet vast")
    missing = await run("repair", "Cnobody", env=env)
    assert missing.rc == 1 and "geen zaak 'Cnobody'" in missing.err, missing.err
