"""The notification log says only what a recorded history says was sent (release 9's defect, docs/durability.md).

`notify_local` runs inside a workflow task before the server has recorded it; when that task is not recorded (a worker
that died, here a task that fails) and runs again making other notices, the first attempt's lines must not reach the
log. The real activity, the real worker plugin and a real server: only the workflow is the test's."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.common import RetryPolicy
from temporalio.plugin import SimplePlugin
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.delivery import LocalWork
from activities.held_notices import STALE, Held, HeldNotices, LogConfirmer, RunRecord, Task, _verdict
from activities.local_work import LocalWorkActivities
from activities.notify import Notifications
from activities.reporting import ReportingActivities
from domain.models import Notification
from tests.activities.test_notify_channels import note
from tests.driver import local_activities
from tests.loopback import settings_for

# What each attempt of the workflow's one task makes, in order: the test's stand-in for the actions that reach a case
# between a task that was not recorded and its retry.
ATTEMPTS: list[str] = []


def notice(workflow_id: str, role: str) -> Notification:
    return note(notification_id=f"{workflow_id}-{role}", recipient_role=role)


# Not sandboxed: it reads ATTEMPTS, as a retried task sees a world that moved on.
@workflow.defn(sandboxed=False)
class TaskRunsTwice:
    @workflow.run
    async def run(self, joint: bool) -> list[str]:
        """`joint`: by the wake's `local_work` (release 11), else by `notify_local`."""
        last = len(ATTEMPTS) == 1  # a replay after the last attempt makes what that attempt made
        role = ATTEMPTS[0] if last else ATTEMPTS.pop(0)
        notices = [notice(workflow.info().workflow_id, role)]
        task = workflow.info().get_current_history_length()
        timeout, once = timedelta(seconds=5), RetryPolicy(maximum_attempts=1)
        if joint:
            done = await workflow.execute_local_activity_method(
                LocalWorkActivities.local_work,
                LocalWork(notices=notices, task=task),
                start_to_close_timeout=timeout,
                retry_policy=once,
            )
            assert done.delivery is not None
            made = done.delivery
        else:
            made = await workflow.execute_local_activity_method(
                Notifications.notify_local, args=[notices, task], start_to_close_timeout=timeout, retry_policy=once
            )
        if not last:
            raise RuntimeError("this workflow task is not recorded")  # fails the task: it runs again
        return [r.notification_id for r in made.reports]


async def test_a_line_held_by_a_task_that_was_not_recorded_never_reaches_the_log(
    dev_env: WorkflowEnvironment, tmp_path
):
    """On the dev server the confirmer reads the history from its end."""
    assert await task_runs_twice(dev_env, tmp_path) is True


async def test_the_same_on_the_time_skipping_server_which_reads_histories_from_the_start(ts_env, tmp_path):
    assert await task_runs_twice(ts_env, tmp_path) is False


async def test_the_same_for_a_wake_that_hands_its_notices_over_with_its_facts(dev_env: WorkflowEnvironment, tmp_path):
    """Release 11: the notices as the part of a `local_work` local activity; its marker confirms them the same way."""
    assert await task_runs_twice(dev_env, tmp_path, joint=True) is True


async def task_runs_twice(ts_env: WorkflowEnvironment, tmp_path, *, joint: bool = False) -> bool:
    """A task that holds a line and fails, run again making another notice; whether the history was read from its
    end."""
    settings = settings_for(tmp_path, ["log"])
    notifications = Notifications.from_settings(settings)
    log = notifications.log
    assert log is not None
    confirmer = LogConfirmer(log.held, log.write, ts_env.client)
    ATTEMPTS[:] = ["werkgever", "bedrijfsarts"]  # the first attempt reminds the employer, its retry the doctor
    queue = f"held-{uuid.uuid4().hex[:8]}"
    async with Worker(
        ts_env.client,
        task_queue=queue,
        workflows=[TaskRunsTwice],
        activities=[
            notifications.notify_local,
            LocalWorkActivities(notifications, ReportingActivities(None)).local_work,
        ],
        activity_executor=ThreadPoolExecutor(2),
        plugins=[SimplePlugin("held", run_context=confirmer.beside)],
    ):
        handle = await ts_env.client.start_workflow(
            TaskRunsTwice.run, joint, id=f"held-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        assert await handle.result() == [f"{handle.id}-bedrijfsarts"]
        history = await handle.fetch_history()
        assert await confirmer.settle() == 0

    # Both attempts held a line; the history records the retry's local activity only, after the failed task.
    assert [e.event_type for e in history.events].count(EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) == 1
    assert len(local_activities(history, "local_work" if joint else "notify_local")) == 1
    assert [(n["notification_id"], n["recipient_role"]) for n in log.read()] == [
        (f"{handle.id}-bedrijfsarts", "bedrijfsarts")
    ]
    assert log.held.read() == []
    return confirmer._reverse


async def test_a_line_waits_while_its_task_is_not_recorded_and_another_worker_writes_it_later(
    ts_env: WorkflowEnvironment, tmp_path
):
    """A worker that held a line and stopped before confirming it (killed, or shut down mid-look) leaves it beside the
    log; a confirmer of the next worker on that data folder writes it once the history shows its task, and keeps it
    while the log cannot be written."""
    settings = settings_for(tmp_path, ["log"])
    notifications = Notifications.from_settings(settings)
    log = notifications.log
    assert log is not None
    ATTEMPTS[:] = ["casemanager"]
    queue = f"held-{uuid.uuid4().hex[:8]}"
    async with Worker(  # no confirmer: as a worker that died right after its task was recorded
        ts_env.client,
        task_queue=queue,
        workflows=[TaskRunsTwice],
        activities=[notifications.notify_local],
        activity_executor=ThreadPoolExecutor(2),
    ):
        handle = await ts_env.client.start_workflow(
            TaskRunsTwice.run, False, id=f"held-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        await handle.result()
    assert log.read() == [] and [h.notification_id for h in log.held.read()] == [f"{handle.id}-casemanager"]

    # A line for a task the run never reached is dropped once the run has ended; the recorded one is written when the
    # log can take it, and once.
    ahead = Task(handle.id, handle.result_run_id or "", 10_000)
    log.held.hold(ahead, notice(handle.id, "werknemer").model_dump(mode="json"))
    later = LogConfirmer(log.held, log.write, ts_env.client)
    log.path.mkdir()  # a log that cannot be written (a full disk): its line stays held
    assert await later.confirm(eager=True) == 1  # the run has ended: what it did not record, it never will
    assert [h.notification_id for h in log.held.read()] == [f"{handle.id}-casemanager"]
    log.path.rmdir()
    assert await later.confirm(eager=True) == 0
    assert [n["recipient_role"] for n in log.read()] == ["casemanager"]
    assert await later.confirm(eager=True) == 0 and len(log.read()) == 1


def test_a_held_line_is_written_dropped_or_kept_by_what_the_history_says():
    now = datetime.now(timezone.utc)
    held = Held(Task("wf", "run", 7), now, {"notification_id": "n1"})
    assert _verdict(held, RunRecord(delivered={"n1"}, completed={7}), now) == "write"
    assert _verdict(held, RunRecord(failed={7}), now) == "drop"  # its task failed or timed out
    assert _verdict(held, RunRecord(completed={3}), now) == "keep"  # its task is still running
    assert _verdict(held, RunRecord(closed=True), now) == "drop"
    # Its task recorded without the marker: the local activity outlived its task; wait for a later one, not forever.
    assert _verdict(held, RunRecord(completed={7}), now) == "keep"
    assert _verdict(held, RunRecord(completed={7}), now + STALE + timedelta(seconds=1)) == "drop"


def test_the_local_activity_holds_the_line_when_told_its_task(tmp_path):
    notifications = Notifications.from_settings(settings_for(tmp_path, ["log"]))
    log = notifications.log
    assert log is not None
    made = ActivityEnvironment().run(notifications.notify_local, [note()], 12)
    assert made.reports[0].delivered == ["log"] and not made.rest
    assert log.read() == [] and [h.task.started for h in log.held.read()] == [12]


def test_taking_entries_out_keeps_the_others_as_they_were_written(tmp_path) -> None:
    """The confirmer takes out what it wrote or dropped; what another thread held meanwhile stays, line for line, and
    another worker on the same folder reads the same (each line is parsed once per process, not at every look)."""
    held = HeldNotices(tmp_path / "n.jsonl")
    for started, nid in ((3, "n-a"), (5, "n-b")):
        held.hold(Task("case-C1", "run-1", started), {"notification_id": nid, "case_id": "C1"})
    with held.path.open("a", encoding="utf-8") as out:
        out.write('{"workflow_id": "case-C1", "run\n')  # a disk that filled up mid-write
    first = held.read()
    assert [h.notification_id for h in first] == ["n-a", "n-b"]
    held.hold(Task("case-C2", "run-9", 7), {"notification_id": "n-c", "case_id": "C2"})  # held meanwhile
    kept = [line for line in held.path.read_text("utf-8").splitlines() if '"n-b"' in line or '"n-c"' in line]

    held.remove({first[0].key()})

    assert held.path.read_text("utf-8").splitlines() == kept
    assert [h.notification_id for h in held.read()] == ["n-b", "n-c"]
    assert [h.notification_id for h in HeldNotices(tmp_path / "n.jsonl").read()] == ["n-b", "n-c"]
