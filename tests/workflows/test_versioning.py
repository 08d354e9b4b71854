"""The versioning discipline at work: an unguarded change breaks running cases, `workflow.patched()` does not.

The change tried here is a realistic one: "send the employer a welcome notice when a case opens",
one activity more at the start of every new case. Three versions of the case workflow carry it:
unguarded, behind `workflow.patched()`, and with the patch retired (`workflow.deprecate_patch()`).
The recorded histories in tests/histories are the running cases they must not break.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from activities.notify import NotificationLog, Notifications
from domain.case import CURRENT_REVISION, CURRENT_VERSION, CaseOpening
from domain.migration import RUN_BOUND_DAYS
from domain.models import Actor, Notification, Role, Stage
from domain.nl_time import local_date
from domain.rules import RulesRef, content_hash
from operations import cases
from service.rulebook import (
    load_dossier_rules,
    load_rulebook,
    load_spoor2_rules,
    load_stagnation_rules,
    working_day_holidays,
)
from service.settings import Settings
from tests.paths import TESTS
from workflows import patches
from workflows.ids import case_workflow_id
from workflows.payloads import CaseInput, CaseResult, TrajectoryInput
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


def _started_by(path: Path) -> int | None:
    """The release of the code that started a recorded run, as its input says (None: older code, before release 7)."""
    started = json.loads(path.read_text("utf-8"))["events"][0]["workflowExecutionStartedEventAttributes"]
    release = json.loads(base64.b64decode(started["input"]["payloads"][0]["data"])).get("release")
    return int(release) if release is not None else None


def _took(path: Path, patch: patches.Patch) -> bool:
    """Whether a recorded run took `patch`: by its marker, or without one, as a run of its release or later does."""
    release = _started_by(path)
    return (release is not None and release >= patch.release) or any(
        patches.known(m) is patch for m, _ in _markers(path)
    )


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
            without = [p for p in KEPT if not _took(p, taken)]
            assert without, f"every kept history took {taken.id}: deprecate {patch.id}"


def test_each_deprecated_patch_is_still_needed_by_a_recorded_run_that_took_it_live():
    """Once no kept history holds a deprecated patch's marker as recorded by `patched()`, its call can go."""
    for patch in patches.ALL:
        if not patch.live:
            assert any((patch.id, False) in _markers(p) for p in KEPT), f"{patch.id}: delete the call"


def test_a_run_records_only_the_markers_of_patches_newer_than_the_release_that_started_it():
    """A run takes the patches of the release that started it, and older, without a marker; a run started by older
    code (no release in its input) records every patch as that code called it."""
    this_release = [p for p in KEPT if _started_by(p) == patches.RELEASE]
    assert this_release, "record this release's histories (docs/versioning.md)"
    for path in KEPT:
        release = _started_by(path)
        if release is None:
            continue
        for marker, _ in _markers(path):
            patch = patches.known(marker)
            assert patch is not None and patch.release > release, (path.name, marker)


def test_every_patch_names_a_release_up_to_this_one():
    # A patch of a later release than the code would be taken without a marker by no run, and by every run of it.
    assert all(1 <= patch.release <= patches.RELEASE for patch in patches.ALL)
    assert all(patch.deprecated_in is None or patch.deprecated_in > patch.release for patch in patches.ALL)


# ------------------------------------------------------------------ a new case's first workflow task

_COMMAND_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_MARKER_RECORDED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    }
)


def _first_task_commands(history: WorkflowHistory) -> list[str]:
    """What the first workflow task of a run issued, one name per command (a marker by its patch id)."""
    events = history.events
    first = next(n for n, e in enumerate(events) if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    found = []
    for event in events[first + 1 :]:
        if event.event_type not in _COMMAND_EVENTS:
            break
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if "patch-data" in marker.details:
                found.append(f"marker {json.loads(marker.details['patch-data'].payloads[0].data)['id']}")
            else:  # a local activity's result
                activity = json.loads(marker.details["data"].payloads[0].data)["activity_type"]
                found.append(f"local activity {activity}")
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            keys = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            found.append("upsert " + ",".join(sorted(keys)))
        else:
            found.append(EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower())
    return found


async def test_a_case_this_release_opens_writes_no_patch_markers_in_its_first_task(driver):
    """The input's release stands in for the markers: 2 commands per patch (marker, TemporalChangeVersion) fewer."""
    today = await driver.today()
    ruleset = load_rulebook().for_first_sick_day(today)

    async def first_task(release: int | None) -> list[str]:
        case_id = f"C{uuid.uuid4().hex[:10]}"
        opening = CaseOpening(
            case_id=case_id, employer_id="E-1", first_sick_day=today, opened_by=Actor(role=Role.CASEMANAGER)
        )
        start = CaseInput(
            opening=opening,
            ruleset=ruleset,
            spoor2_rules=load_spoor2_rules(),
            stagnation_rules=load_stagnation_rules(),
            dossier_rules=load_dossier_rules(),
            holidays=working_day_holidays(ruleset, today),
            release=release,
        )
        handle = await driver.client.start_workflow(
            SickLeaveCase.run, start, id=case_workflow_id(case_id), task_queue=driver.task_queue
        )
        assert (await handle.query(SickLeaveCase.summary)).stage == Stage.ZIEKMELDING
        return _first_task_commands(await handle.fetch_history())

    older = await first_task(None)  # as release 6 started it
    this = await first_task(patches.RELEASE)
    patch_commands = [c for c in older if c.startswith("marker ") or c == "upsert TemporalChangeVersion"]
    assert len(patch_commands) == 2 * len([c for c in older if c.startswith("marker ")]) > 0
    rest = [c for c in older if c not in patch_commands]
    # Two local activities run side by side in the task (the notices, the facts): their markers come as they end.
    assert sorted(this) == sorted(rest)
    assert [c for c in this if not c.startswith("local ")] == [c for c in rest if not c.startswith("local ")]
    assert not any(c.startswith("marker ") or "TemporalChangeVersion" in c for c in this)
    print(f"first task commands: release None {len(older)} ({older}); release {patches.RELEASE} {len(this)} ({this})")


async def test_a_case_starts_with_its_search_attributes_and_upserts_only_what_its_first_wake_changes(driver):
    """Patch `start-attributes`: the listing has a new case's stage, next step and deadline from its start on, and its
    first task upserts none of them; one whose first task runs on a later day than its start upserts just what that
    day changed."""
    today = await driver.today()

    async def opened(first_sick_day, **fields) -> tuple[dict, list[str], dict]:
        await driver.open(first_sick_day, **fields)
        await driver.summary()  # answered once the first task is done
        history = await driver.opened.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes.search_attributes.indexed_fields
        at_start = {name: json.loads(payload.data) for name, payload in started.items()}
        return at_start, _first_task_commands(history), await driver.search_attributes()

    at_start, commands, shown = await opened(today)
    assert not [c for c in commands if c.startswith("upsert")], commands
    assert at_start == shown
    assert (shown["CaseStage"], shown["NextStep"], shown["Overdue"]) == ("ziekmelding", "ziekmelding_arbodienst", False)
    due = (await driver.deadlines())["ziekmelding_arbodienst"].due
    assert shown["NextDeadline"].startswith((due - timedelta(days=1)).isoformat())  # midnight in Amsterdam, in UTC
    assert shown["EmployerId"] == "E-acme" and "casemanager:-" in shown["Assigned"]

    # Opened a second before midnight on the day its ziekmelding fell due, its first task run past midnight: overdue.
    yesterday = today - timedelta(days=1)
    at_start, commands, shown = await opened(yesterday - timedelta(days=6), opened_on=yesterday)
    assert (await driver.deadlines())["ziekmelding_arbodienst"].due == yesterday
    changed = sorted(name for name in shown if at_start.get(name) != shown[name])
    assert [c for c in commands if c.startswith("upsert")] == ["upsert " + ",".join(changed)], (commands, changed)
    assert (at_start["Overdue"], shown["Overdue"]) == (False, True)
    assert "CaseStage" not in changed and "Assigned" not in changed and "FirstSickDay" not in changed


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
    # The next run's input named the shipped rules and holidays; the worker put them back, the same (issue 22).
    carried = await _continued_input(driver, driver.handle.id, first_run)
    assert carried["rules"]["ruleset_id"] == state.ruleset.id
    assert not {"ruleset", "holidays"} & set(carried["state"]) and "rules" not in carried["state"]["escalation"]
    ruleset = load_rulebook().for_first_sick_day(first)
    assert state.ruleset == ruleset and state.holidays == working_day_holidays(ruleset, first)
    assert state.escalation is not None and state.escalation.rules == load_stagnation_rules()
    by_reference, by_value = _sizes(carried, state)
    assert by_reference * 3 < by_value
    print(f"continue-as-new input, spoor 1: {by_reference} bytes by reference, {by_value} by value")
    await driver.save_history("run_bound_first_run", run_id=first_run)
    await driver.save_history("run_bound_next_run")
    # Release 7 on, a run carries its release instead of writing markers (the names above hold release 6's runs).
    await driver.save_history(f"release{patches.RELEASE}_run_bound_first_run", run_id=first_run)
    await driver.save_history(f"release{patches.RELEASE}_run_bound_next_run")


async def test_a_spoor2_trajectory_continues_as_new_at_the_run_bound_and_the_case_keeps_its_record(driver):
    await driver.reach_spoor2(run_bound_days=None)
    assert driver.handle is not None
    case_first_run = (await driver.handle.describe()).run_id
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
    # The case's and the trajectory's inputs named their rules: none of them went by value (issue 22).
    case_carried = await _continued_input(driver, driver.handle.id, case_first_run)
    assert "ruleset" not in case_carried["state"] and "rules" not in case_carried["state"]["spoor2"]
    by_reference, by_value = _sizes(case_carried, await driver.state())
    print(f"continue-as-new input, spoor 2 case: {by_reference} bytes by reference, {by_value} by value")
    first_history = await driver.client.get_workflow_handle(driver.trajectory_id, run_id=first_run).fetch_history()
    started = first_history.events[0].workflow_execution_started_event_attributes
    for what, sent in (("start", await _raw(driver, started.input)), ("continue-as-new", None)):
        sent = sent or await _continued_input(driver, driver.trajectory_id, first_run)
        assert sent["rules_ref"]["spoor2_hash"] and not {"rules", "watch"} & set(sent)
        if sent.get("state"):
            assert not {"rules", "watch"} & set(sent["state"])
        as_sent = TrajectoryInput.model_validate(sent)
        assert as_sent.rules == load_spoor2_rules() and as_sent.watch == load_stagnation_rules().spoor2
        by_value_size = len(as_sent.model_copy(update={"rules_ref": None}).model_dump_json())
        print(
            f"trajectory {what} input: {len(json.dumps(sent, separators=(',', ':')))} bytes by reference, "
            f"{by_value_size} by value"
        )
    assert (await driver.trajectory_state()).rules == load_spoor2_rules()
    await driver.save_workflow_history("run_bound_trajectory_first_run", driver.trajectory_id, run_id=first_run)
    release = f"release{patches.RELEASE}"
    await driver.save_workflow_history(
        f"{release}_run_bound_trajectory_first_run", driver.trajectory_id, run_id=first_run
    )
    await driver.save_workflow_history(f"{release}_run_bound_trajectory_next_run", driver.trajectory_id)
    await driver.save_history(f"{release}_run_bound_spoor2_case_first_run", run_id=case_first_run)
    await driver.save_history(f"{release}_run_bound_spoor2_case_next_run")


async def test_a_case_started_by_a_newer_release_waits_for_a_worker_of_that_release(driver):
    """An older worker in a rolling update would replay the old paths of patches it does not know: it fails the
    task instead, which records nothing, and a worker of the newer release takes the task on its retry."""
    today = await driver.today()
    ruleset = load_rulebook().for_first_sick_day(today)
    case_id = f"C{uuid.uuid4().hex[:10]}"
    opening = CaseOpening(
        case_id=case_id, employer_id="E-1", first_sick_day=today, opened_by=Actor(role=Role.CASEMANAGER)
    )
    start = CaseInput(opening=opening, ruleset=ruleset, release=patches.RELEASE + 1)
    handle = await driver.client.start_workflow(
        SickLeaveCase.run, start, id=case_workflow_id(case_id), task_queue=driver.task_queue
    )
    failed: list = []
    while not failed:
        history = await handle.fetch_history()
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        await asyncio.sleep(0.1)
    error = await driver.client.data_converter.decode_failure(failed[0].workflow_task_failed_event_attributes.failure)
    assert f"started by release {patches.RELEASE + 1}" in str(error)
    assert not any(e.event_type in _COMMAND_EVENTS for e in history.events)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


# ------------------------------------------------------------------ rules by reference


async def _raw(driver, payloads) -> dict:
    """A run's input as JSON, as it was sent: decrypted, not decoded into its model (which resolves references)."""
    codec = driver.client.data_converter.payload_codec
    [payload] = await codec.decode(payloads.payloads)
    return json.loads(payload.data)


async def _continued_input(driver, workflow_id: str, run_id: str) -> dict:
    """What the run `run_id` continued as new with, as JSON."""
    history = await driver.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    ended = history.events[-1]
    assert ended.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    return await _raw(driver, ended.workflow_execution_continued_as_new_event_attributes.input)


def _sizes(carried: dict, state) -> tuple[int, int]:
    """The bytes of a continued case's input as sent, and as the same input would be with its rules by value."""
    by_value = CaseInput.model_validate(carried).model_copy(update={"rules": None})
    return len(json.dumps(carried, separators=(",", ":"))), len(by_value.model_dump_json())


async def test_a_new_case_names_its_rules_and_the_worker_takes_them_from_its_code(driver):
    """The shipped rules go by id and hash, not by value, in a new case's input; the case opens with them."""
    first = await driver.today()
    handle = await driver.open(first, documents=True)
    started = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    [sent] = await driver.client.data_converter.decode(started.input.payloads, [CaseInput])
    assert sent.rules is not None and sent.ruleset is None and sent.spoor2_rules is None
    state = await driver.state()
    ruleset = load_rulebook().for_first_sick_day(first)
    assert (state.ruleset, state.spoor2.rules, state.documents.rules) == (
        ruleset,
        load_spoor2_rules(),
        load_dossier_rules(),
    )
    assert state.escalation is not None and state.escalation.rules == load_stagnation_rules()
    by_value = sent.model_copy(
        update={
            "rules": None,
            "ruleset": ruleset,
            "spoor2_rules": load_spoor2_rules(),
            "stagnation_rules": load_stagnation_rules(),
            "dossier_rules": load_dossier_rules(),
        }
    )
    size, size_by_value = len(sent.model_dump_json()), len(by_value.model_dump_json())
    assert size * 4 < size_by_value
    print(f"start input: {size} bytes by reference, {size_by_value} by value")
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance(days=45)  # past the probleemanalyse: an overdue mark, reminders
    assert "probleemanalyse" in (await driver.summary()).overdue
    await driver.save_history(f"release{patches.RELEASE}_rules_by_reference")


async def test_a_case_whose_rules_were_edited_in_place_fails_its_task_and_records_nothing(driver):
    """The hash proves that the rules the worker has are those the case was opened with: when they are not, the
    workflow task fails (and is retried, after a fix), and the case opens with no rules of the wrong kind."""
    today = await driver.today()
    ruleset = load_rulebook().for_first_sick_day(today)
    edited = ruleset.model_copy(update={"four_week_rule_days": ruleset.four_week_rule_days + 1})
    case_id = f"C{uuid.uuid4().hex[:10]}"
    opening = CaseOpening(
        case_id=case_id, employer_id="E-1", first_sick_day=today, opened_by=Actor(role=Role.CASEMANAGER)
    )
    rules = RulesRef(ruleset_id=ruleset.id, ruleset_hash=content_hash(edited))
    handle = await driver.client.start_workflow(
        SickLeaveCase.run,
        CaseInput(opening=opening, rules=rules, release=patches.RELEASE),
        id=case_workflow_id(case_id),
        task_queue=driver.task_queue,
    )
    failed: list = []
    while not failed:
        history = await handle.fetch_history()
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        await asyncio.sleep(0.1)
    error = await driver.client.data_converter.decode_failure(failed[0].workflow_task_failed_event_attributes.failure)
    assert f"rule set {ruleset.id} of this code" in str(error) and content_hash(edited) in str(error)
    assert not any(e.event_type in _COMMAND_EVENTS for e in history.events)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_a_continued_run_whose_rules_were_edited_in_place_fails_its_task_and_records_nothing(driver):
    """A continued run's rules by reference are checked as a new case's are: when the worker's differ, the run's
    first workflow task fails (retried until the rules are back), and nothing is recorded."""
    await driver.open(await driver.today())
    state = await driver.state()
    edited = state.ruleset.model_copy(update={"four_week_rule_days": state.ruleset.four_week_rule_days + 1})
    case_id = f"C{uuid.uuid4().hex[:10]}"
    carried = CaseInput(
        state=state.model_copy(update={"case_id": case_id}),
        rules=RulesRef(ruleset_id=state.ruleset.id, ruleset_hash=content_hash(edited)),
        release=patches.RELEASE,
    )
    assert "ruleset" not in json.loads(carried.model_dump_json())["state"]
    handle = await driver.client.start_workflow(
        SickLeaveCase.run, carried, id=case_workflow_id(case_id), task_queue=driver.task_queue
    )
    failed: list = []
    while not failed:
        history = await handle.fetch_history()
        failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        await asyncio.sleep(0.1)
    error = await driver.client.data_converter.decode_failure(failed[0].workflow_task_failed_event_attributes.failure)
    said = [str(error)]
    while getattr(error, "cause", None) is not None:
        error = error.cause
        said.append(str(error))
    assert any(f"rule set {state.ruleset.id} of this code" in line for line in said), said
    assert not any(e.event_type in _COMMAND_EVENTS for e in history.events)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
