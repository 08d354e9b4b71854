"""The versioning discipline at work: an unguarded change breaks running cases, `workflow.patched()` does not.

The change tried here is a realistic one: "send the employer a welcome notice when a case opens",
one activity more at the start of every new case. Three versions of the case workflow carry it:
unguarded, behind `workflow.patched()`, and with the patch retired (`workflow.deprecate_patch()`).
The recorded histories in tests/histories are the running cases they must not break.
"""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from activities.notify import NotificationLog, Notifications
from domain.case import CURRENT_REVISION, CURRENT_VERSION, CaseOpening
from domain.migration import RUN_BOUND_DAYS
from domain.models import Actor, Notification, Role
from domain.nl_time import local_date
from operations import cases
from service.settings import Settings
from tests.paths import TESTS
from workflows import patches
from workflows.payloads import CaseInput, CaseResult
from workflows.sandbox import WORKFLOW_RUNNER
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory

WELCOME = "welcome-notice"
HISTORIES = TESTS / "histories"


def _welcome(input: CaseInput) -> Notification:
    assert input.opening is not None
    return Notification(
        notification_id=f"{input.opening.case_id}:welcome",
        case_id=input.opening.case_id,
        recipient_role=Role.WERKGEVER,
        kind="welcome",
        subject="Case opened",
        body="Spoorwerk follows this case from today.",
    )


async def _send_welcome(input: CaseInput) -> None:
    await workflow.execute_activity("notify", _welcome(input), start_to_close_timeout=timedelta(minutes=1))


# Not sandboxed: these variants live in a test module; what matters here is the commands they issue.
@workflow.defn(name="SickLeaveCase", sandboxed=False)
class UnguardedWelcome(SickLeaveCase):
    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        if input.state is None:
            await _send_welcome(input)
        return await super().run(input)


@workflow.defn(name="SickLeaveCase", sandboxed=False)
class PatchedWelcome(SickLeaveCase):
    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        if input.state is None and workflow.patched(WELCOME):
            await _send_welcome(input)
        return await super().run(input)


@workflow.defn(name="SickLeaveCase", sandboxed=False)
class RetiredWelcomePatch(SickLeaveCase):
    """Once every case opened before the patch has closed: the old path goes, the marker stays readable."""

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        if input.state is None:
            workflow.deprecate_patch(WELCOME)
            await _send_welcome(input)
        return await super().run(input)


def _recorded_new_cases() -> list[WorkflowHistory]:
    """Every recorded first run of a case (a new case: the change applies to those)."""
    found = []
    for path in sorted(HISTORIES.glob("v*/*.json")):
        events = json.loads(path.read_text("utf-8"))["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        # A run that starts from a state (a case reopened for a relapse, like one continued as new) is no new case.
        arg = json.loads(base64.b64decode(started["input"]["payloads"][0]["data"]))
        if started["workflowType"]["name"] == "SickLeaveCase" and arg.get("state") is None:
            found.append(WorkflowHistory.from_json(f"{path.parent.name}/{path.stem}", path.read_text("utf-8")))
    return found


async def _replay(workflow_class: type, histories: list[WorkflowHistory], converter) -> dict[str, Exception | None]:
    replayer = Replayer(
        workflows=[workflow_class, Spoor2Trajectory], data_converter=converter, workflow_runner=WORKFLOW_RUNNER
    )

    async def each():
        for history in histories:
            yield history

    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    return dict(results.replay_failures)


async def test_an_unguarded_change_breaks_running_cases_and_a_patched_one_does_not(ts_env):
    histories = _recorded_new_cases()
    assert len(histories) >= 20  # every version's recordings, spoor 1, spoor 2, escalations
    # The recordings are written decrypted: read them with the legacy opt-in (tests/workflows/test_replay.py).
    from service.codec import KeyRing
    from service.temporal import data_converter

    converter = data_converter(KeyRing.generate(), accept_unencrypted_legacy=True)

    # (Failures are keyed by run id.)
    broken = await _replay(UnguardedWelcome, histories, converter)
    assert len(broken) == len(histories)
    assert all(isinstance(err, NondeterminismError) for err in broken.values())

    assert await _replay(PatchedWelcome, histories, converter) == {}
    # Retiring the patch while such cases still run would break them: wait until they have closed.
    assert set(await _replay(RetiredWelcomePatch, histories, converter)) == set(broken)


async def test_a_case_opened_with_the_patch_takes_the_new_path_and_replays_after_the_patch_is_retired(ts_env, tmp_path):
    converter = ts_env.client.data_converter
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=tmp_path)
    case_id = f"C{uuid.uuid4().hex[:10]}"
    async with Worker(
        ts_env.client,
        task_queue=queue,
        workflows=[PatchedWelcome, Spoor2Trajectory],
        activities=[Notifications.from_settings(settings).notify],
        workflow_runner=WORKFLOW_RUNNER,
        activity_executor=ThreadPoolExecutor(max_workers=2),
    ):
        today = local_date(await ts_env.get_current_time())
        handle = await cases.open_case(
            ts_env.client,
            CaseOpening(
                case_id=case_id, employer_id="E-1", first_sick_day=today, opened_by=Actor(role=Role.CASEMANAGER)
            ),
            task_queue=queue,
            today=today,
        )
        await cases.act(
            ts_env.client,
            case_id,
            {
                "kind": "ziekmelding_arbodienst_sent",
                "action_id": "zm",
                "on": today.isoformat(),
                "actor": {"role": "werkgever"},
            },
        )
        history = await handle.fetch_history()
    # The new path ran: the employer got the welcome notice.
    sent = NotificationLog(settings.notification_log_path).read()
    assert [n["kind"] for n in sent if n["kind"] == "welcome"] == ["welcome"]

    assert await _replay(PatchedWelcome, [history], converter) == {}
    assert await _replay(RetiredWelcomePatch, [history], converter) == {}
    # And code without the change at all no longer fits a case that took it.
    [broken] = (await _replay(SickLeaveCase, [history], converter)).values()
    assert isinstance(broken, NondeterminismError)


# ------------------------------------------------------------------ retiring patches: the recorded markers


def _markers(path: Path) -> list[tuple[str, bool]]:
    """(patch id, deprecated) of every patch marker a recorded history holds, in order."""
    found = []
    for event in json.loads(path.read_text("utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_patch":
            data = json.loads(base64.b64decode(marker["details"]["patch-data"]["payloads"][0]["data"]))
            found.append((data["id"], bool(data.get("deprecated"))))
    return found


KEPT = sorted(HISTORIES.glob("v*/*.json"))


def test_every_recorded_marker_belongs_to_a_patch_the_code_still_calls():
    """A marker no call matches fails its case's replay: retire a call only once no kept history needs it."""
    unknown = {(path.name, marker) for path in KEPT for marker, _ in _markers(path) if patches.known(marker) is None}
    assert unknown == set()


def test_each_live_patch_still_has_a_recorded_run_that_took_the_old_path():
    """A live patch every kept history took is dead: make it `deprecate_patch` and delete its old path."""
    for patch in patches.ALL:
        if patch.live:
            # The late checks are for runs begun before `run-bound`: needed while a kept history lacks that one.
            taken = patches.RUN_BOUND if patch is patches.LATE_RUN_BOUND else patch
            without = [p for p in KEPT if not any(patches.known(m) is taken for m, _ in _markers(p))]
            assert without, f"every kept history took {taken.id}: deprecate {patch.id}"


def test_each_deprecated_patch_is_still_needed_by_a_recorded_run_that_took_it_live():
    """Once no kept history holds a deprecated patch's marker as recorded by `patched()`, its call can go."""
    for patch in patches.ALL:
        if not patch.live:
            assert any((patch.id, False) in _markers(p) for p in KEPT), f"{patch.id}: delete the call"


def test_a_run_of_this_release_records_the_deprecated_patches_as_deprecated():
    this_release = [p for p in KEPT if p.parent.name == f"v{patches.RELEASE}"]
    assert this_release, "record this release's histories (docs/versioning.md)"
    for path in this_release:
        for marker, deprecated in _markers(path):
            patch = patches.known(marker)
            assert patch is not None and deprecated == (not patch.live), (path.name, marker)


# ------------------------------------------------------------------ bounded runs


async def test_a_quiet_case_continues_as_new_at_the_run_bound_with_its_state_migrated(driver):
    first = await driver.today()
    await driver.open(first, run_bound_days=None)
    first_run = (await driver.handle.describe()).run_id
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever", action_id="zm-1")
    before = [line.model_dump() for line in await driver.dossier()]

    await driver.advance(days=RUN_BOUND_DAYS - 1)
    assert (await driver.handle.describe()).run_id == first_run
    await driver.advance(days=2)
    description = await driver.handle.describe()
    assert description.run_id != first_run

    # The first run ended by continuing as new no later than its first wake past the bound.
    history = await driver.client.get_workflow_handle(driver.handle.id, run_id=first_run).fetch_history()
    started, ended = history.events[0].event_time.ToDatetime(), history.events[-1].event_time.ToDatetime()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert timedelta(days=RUN_BOUND_DAYS) <= ended - started < timedelta(days=RUN_BOUND_DAYS + 1)

    state = await driver.state()
    assert (state.version, state.revision) == (CURRENT_VERSION, CURRENT_REVISION)
    after = [line.model_dump() for line in await driver.dossier()]
    assert after[: len(before)] == before
    # Retried across the runs, the action applies once; the next one applies.
    assert (await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever", action_id="zm-1")).applied is False
    assert (await driver.act("probleemanalyse_recorded")).applied
    await driver.save_history("run_bound_first_run", run_id=first_run)
    await driver.save_history("run_bound_next_run")


async def test_a_spoor2_trajectory_continues_as_new_at_the_run_bound_and_the_case_keeps_its_record(driver):
    await driver.reach_spoor2(run_bound_days=None)
    trajectory = driver.client.get_workflow_handle(driver.trajectory_id)
    first_run = (await trajectory.describe()).run_id
    await driver.documents()
    await driver.case_dossier_has("spoor2:document_received", count=5)

    await driver.advance(days=RUN_BOUND_DAYS + 1)
    assert (await trajectory.describe()).run_id != first_run
    await driver.act2("intake_held", coach_id="coach-1")
    entries = await driver.case_dossier_has("spoor2:intake_held")
    assert len(entries) == 1
    record = await driver.trajectory_record()
    assert [e.seq for e in record] == list(range(1, len(record) + 1))
    await driver.save_workflow_history("run_bound_trajectory_first_run", driver.trajectory_id, run_id=first_run)
