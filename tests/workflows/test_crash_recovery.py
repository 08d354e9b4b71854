"""Crashes and restarts on the real dev server with its data on disk: the worker SIGKILLed while
actions are in flight, the server stopped (SIGTERM) and killed (SIGKILL), and a notification in
flight when its worker dies.

A client that loses its call sends the action again with the same action id, as the API's callers
do with their Idempotency-Key: every action must then be in its case's dossier (or trajectory's
record) exactly once, none lost, and every case running on at the right stage. The tests share one
server and worker, so the later faults strike the cases of the earlier tests too; each test also
runs on its own. Counts and timings go to tests/artifacts/crash_recovery_*.json.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from activities.notify import NotificationLog
from domain.case import CaseOpening
from domain.models import Actor, Stage
from domain.nl_time import local_date
from operations import cases, repair
from operations import spoor2 as trajectories
from tests.driver import DEFAULT_ROLE, DOCUMENT_ROLES, GROUNDS, ZOEKPROFIEL, save_clear_history
from tests.paths import TESTS
from tests.processes import DevServer, Processes, WorkerProcess, encryption_keys, settings_from, tail, worker_env
from workflows.ids import case_workflow_id, trajectory_workflow_id
from workflows.sick_leave_case import SickLeaveCase

pytestmark = pytest.mark.devserver

ARTIFACTS = TESTS / "artifacts"
# A client's own patience per call: a call stuck behind a dead worker is given up and sent again.
CALL_TIMEOUT = 5.0
# About two minutes of backing off: on two loaded cores a killed server's stale workflow task took longer
# than 30 attempts (about a minute) to time out and be retried once.
MAX_ATTEMPTS = 60


def today() -> date:
    return local_date(datetime.now(timezone.utc))


# ------------------------------------------------------------------ a webhook receiver that holds one delivery


class HoldingWebhook:
    """Answers 200 at once, except the first delivery about `hold_case`: that one it holds unanswered
    until released, so its notification is in flight when the worker dies."""

    def __init__(self) -> None:
        self.hold_case: str | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hold = False
                with hook._lock:
                    hook.requests.append({"key": self.headers["Idempotency-Key"], **body})
                    if body["case_id"] == hook.hold_case and not hook.held.is_set():
                        hook.held.set()
                        hold = True
                if hold:
                    hook.release.wait(300)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the worker that sent it is gone
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/spoorwerk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, notification_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["notification_id"] == notification_id]

    def received_by_case(self, case_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["case_id"] == case_id]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ cases and the client that re-sends


@dataclass
class Sent:
    """One action as a client sends it: to a case or its trajectory, retried with the same id."""

    case_id: str
    payload: dict[str, Any]
    spoor2: bool = False
    attempts: int = 0
    result: Any = None

    @property
    def action_id(self) -> str:
        return self.payload["action_id"]

    @property
    def kind(self) -> str:
        return self.payload["kind"]


@dataclass
class Plan:
    """A case and its batches of actions: the batches one after the other, a batch's actions at once."""

    case_id: str
    stage: Stage
    batches: list[list[Sent]]
    opening: dict[str, Any]
    spoor2: bool = False


def payload(kind: str, *, role: str | None = None, coach: str = "coach-1", **fields: Any) -> dict[str, Any]:
    role = role or DEFAULT_ROLE.get(kind, "casemanager")
    # A coach acts under the id the trajectory names (domain.access): `coach`.
    actor = {"role": role, **({"id": coach} if role == "reintegratiecoach" else {})}
    return {
        "kind": kind,
        "action_id": f"a-{uuid.uuid4().hex[:12]}",
        "actor": actor,
        "on": today().isoformat(),
        **fields,
    }


# The SDK's fault after a restart (docs/durability.md): the commands of a wake and of an action in another order on
# replay than recorded live; the update machine meets the wake's command, or a case's upsert finds no command.
KNOWN_REPLAY_FAULTS = ("Update machine does not handle this event", "No command scheduled for event")

_EVALUATED: Counter[str] = Counter()


def evaluatie(case_id: str) -> dict[str, Any]:
    """An evaluatie of the case's plan van aanpak on a day none of its others was held (a second on one day is
    refused: domain.case.actions.steps.one_evaluatie_a_day): today, then a day earlier each time."""
    back = _EVALUATED[case_id]
    _EVALUATED[case_id] += 1
    return payload("evaluatie_held", on=(today() - timedelta(days=back)).isoformat())


def taken_over(weeks_sick: int, done_days: dict[str, int]) -> dict[str, Any]:
    """Opening fields of a case taken over in spoor 1 at `weeks_sick`, its earlier steps done."""
    first = today() - timedelta(weeks=weeks_sick)
    return {
        "first_sick_day": first,
        "stage": "spoor1",
        "prior_steps": [{"key": k, "done_on": (first + timedelta(days=d)).isoformat()} for k, d in done_days.items()],
        "evaluations_held": [(first + timedelta(days=d)).isoformat() for d in range(82, 7 * weeks_sick - 6, 42)],
    }


SPOOR1_DONE = {"ziekmelding_arbodienst": 1, "probleemanalyse": 30, "plan_van_aanpak": 40}
SPOOR2_DONE = {**SPOOR1_DONE, "ziekmelding_uwv": 290, "eerstejaarsevaluatie": 360}


def spoor1_plan(case_id: str) -> Plan:
    """Evaluations, a partial recovery, more evaluations: stays in spoor 1."""
    c = lambda kind, **f: Sent(case_id, payload(kind, **f))  # noqa: E731
    return Plan(
        case_id,
        Stage.SPOOR1,
        [
            [Sent(case_id, evaluatie(case_id)) for _ in range(3)],
            [c("partial_recovery", hours_per_week=16)],
            [Sent(case_id, evaluatie(case_id)) for _ in range(2)],
        ],
        taken_over(10, SPOOR1_DONE),
    )


def ad_plan(case_id: str) -> Plan:
    """Evaluations, then an AD-onderzoek that advises spoor 2: the case waits in the AD stage."""
    c = lambda kind, **f: Sent(case_id, payload(kind, **f))  # noqa: E731
    return Plan(
        case_id,
        Stage.AD_ONDERZOEK,
        [
            [Sent(case_id, evaluatie(case_id)) for _ in range(2)],
            [c("ad_onderzoek_started", role="arbeidsdeskundige")],
            [c("ad_gesprek_held", party="werkgever"), c("ad_gesprek_held", party="werknemer")],
            [
                c(
                    "ad_onderzoek_concluded",
                    own_work_possible=False,
                    other_work_inside_possible=False,
                    report_reference="dms://ad-rapport/1",
                )
            ],
        ],
        taken_over(30, SPOOR1_DONE),
    )


def spoor2_plan(case_id: str) -> Plan:
    """Taken over after the first year: AD-onderzoek, spoor 2 started, its trajectory to phase 1."""
    c = lambda kind, **f: Sent(case_id, payload(kind, **f))  # noqa: E731
    t = lambda kind, **f: Sent(case_id, payload(kind, **f), spoor2=True)  # noqa: E731
    docs = [
        t(
            "document_received",
            role=role,
            document=key,
            reference=f"dms://{key}/1",
            **({"belastbaarheid_hours_per_day": 4.0} if key == "bedrijfsarts_bevindingen" else {}),
        )
        for key, role in DOCUMENT_ROLES.items()
    ]
    return Plan(
        case_id,
        Stage.SPOOR2,
        [
            [c("ad_onderzoek_started", role="arbeidsdeskundige")],
            [c("ad_gesprek_held", party="werkgever"), c("ad_gesprek_held", party="werknemer")],
            [
                c(
                    "ad_onderzoek_concluded",
                    own_work_possible=False,
                    other_work_inside_possible=False,
                    report_reference="dms://ad-rapport/1",
                )
            ],
            [c("spoor2_started", role="werkgever")],
            docs,
            [t("intake_held", coach_id="coach-1")],
            [t("proposal_sent")],
            [t("purchase_approved", scope="phase", phase=1)],
            [
                t(
                    "haalbaarheidstoets_decided",
                    decision="go",
                    grounds=GROUNDS,
                    zoekprofiel=ZOEKPROFIEL,
                    coach_id="coach-2",
                )
            ],
            [t("phase_started", phase=1, coach="coach-2")],  # the go named coach-2 for the phases
            [
                t("activity_recorded", activity=a, coach="coach-2")
                for a in ("conversation", "application", "conversation", "interview")
            ],
        ],
        taken_over(53, SPOOR2_DONE),
        spoor2=True,
    )


@dataclass
class OnRecord:
    """The answer a retry took from the record: the action was applied (by its first call)."""

    entry: Any
    applied: bool = True


@dataclass
class RetryingClient:
    """What a client of Spoorwerk does: send each action, and on a failed or timed-out call send
    it again with the same action id. Counts what it took."""

    client: Client
    sent: list[Sent] = field(default_factory=list)
    completed: int = 0
    failed_calls: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    # What the processes and workflows looked like, for a failure's message (`Cluster.diagnose`).
    diagnose: Callable[[list[str]], Awaitable[str]] | None = None
    # Across server restarts, look for the action on record before sending it again. The dev server (Temporal
    # 1.32) can take a retried update whose first call it completed just before it stopped for a new one, and
    # then fails every task of that workflow ("invalid state transition ... update.Acceptance state=Completed"):
    # seen on a trajectory in CI, docs/durability.md. A retry that finds its entry takes it as the answer.
    record_first: bool = False
    found_on_record: int = 0
    # Workflows the SDK faults of operations/repair.py held up after a restart, freed as the operator would.
    freed: list[str] = field(default_factory=list)

    async def free_if_stuck(self, case_id: str, err: BaseException) -> None:
        """What an operator does on a case whose answer is "Workflow Task in failed state": `spoorwerk repair CASE`."""
        if "Workflow Task in failed state" not in str(err):
            return
        for workflow_id in (case_workflow_id(case_id), trajectory_workflow_id(case_id)):
            try:
                stuck = await repair.stuck_task(self.client, workflow_id)
                if stuck is None or not stuck.known_fault:
                    continue
                if stuck.cause == repair.UNREPLAYABLE:  # kept for whoever looks into the SDK's fault next
                    await save_clear_history(self.client, workflow_id, ARTIFACTS / f"unreplayable-{workflow_id}.json")
                await repair.reset(self.client, workflow_id, stuck)
                self.freed.append(f"{workflow_id}: {stuck.cause_name}")
            except RPCError:  # no trajectory, or the server still away: the next failure tries again
                continue

    async def free_unreplayable(self, workflow_id: str, message: str) -> None:
        """What an operator does when a view answers that the history does not replay: the same reset. Only the SDK
        fault docs/durability.md names (an action handed over before a wake on replay, after it live); any other
        replay failure, which a regression of Spoorwerk's own would cause, fails the test."""
        if "Nondeterminism" not in message or not any(known in message for known in KNOWN_REPLAY_FAULTS):
            raise AssertionError(f"{workflow_id}: the view failed: {message}")
        try:
            stuck = await repair.unreplayable(self.client, workflow_id, message)
            if stuck is None or stuck.reset_to is None:
                return
            await save_clear_history(self.client, workflow_id, ARTIFACTS / f"unreplayable-{workflow_id}.json")
            await repair.reset(self.client, workflow_id, stuck)
            self.freed.append(f"{workflow_id}: {stuck.cause_name} (seen by a query)")
        except RPCError:  # the server still away: the next failure tries again
            return

    async def answered(self, workflow_id: str, ask: Callable[[], Awaitable[Any]], seconds: float = 120) -> Any:
        """`ask()`'s answer, a query of the workflow; a query a worker answered by replaying into the SDK's fault
        (the history does not replay) frees the workflow as an operator would, and is asked again."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                return await ask()
            except WorkflowQueryFailedError as err:
                if time.monotonic() > deadline:
                    raise
                await self.free_unreplayable(workflow_id, str(err))  # anything but that fault fails the test
                await asyncio.sleep(0.5)

    async def on_record(self, item: Sent) -> Any:
        """The action's entry when its case (or trajectory) has it on record; None when not, or not answered."""
        try:
            if item.spoor2:
                entries: list[Any] = await asyncio.wait_for(
                    trajectories.record(self.client, item.case_id), CALL_TIMEOUT
                )
            else:
                handle = cases.case_handle(self.client, item.case_id)
                entries = await asyncio.wait_for(handle.query(SickLeaveCase.dossier), CALL_TIMEOUT)
        except (asyncio.TimeoutError, RPCError) as err:
            await self.free_if_stuck(item.case_id, err)
            return None
        except WorkflowQueryFailedError as err:
            workflow_id = (trajectory_workflow_id if item.spoor2 else case_workflow_id)(item.case_id)
            await self.free_unreplayable(workflow_id, str(err))
            return None
        return next((e for e in entries if e.action_id == item.action_id), None)

    async def dossier(self, case_id: str, seconds: float = 120) -> list[Any]:
        """The case's dossier, asked again while the server or a worker just back cannot answer yet (a query waits for
        the workflow task in flight, which times out after a kill; a stuck one is freed)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                handle = cases.case_handle(self.client, case_id)
                return await asyncio.wait_for(handle.query(SickLeaveCase.dossier), CALL_TIMEOUT * 2)
            except (asyncio.TimeoutError, RPCError, WorkflowQueryFailedError) as err:
                if time.monotonic() > deadline:
                    raise
                if isinstance(err, WorkflowQueryFailedError):
                    await self.free_unreplayable(case_workflow_id(case_id), str(err))
                else:
                    await self.free_if_stuck(case_id, err)
                await asyncio.sleep(0.5)

    async def send(self, item: Sent) -> Any:
        self.sent.append(item)
        while True:
            item.attempts += 1
            if self.record_first and item.attempts > 1 and (entry := await self.on_record(item)) is not None:
                item.result = OnRecord(entry)
                self.found_on_record += 1
                self.completed += 1
                self.progress.set()
                return item.result
            call = (trajectories.act if item.spoor2 else cases.act)(self.client, item.case_id, item.payload)
            try:
                item.result = await asyncio.wait_for(call, CALL_TIMEOUT)
            except (asyncio.TimeoutError, RPCError, WorkflowUpdateRPCTimeoutOrCancelledError, cases.CaseBusy) as err:
                self.failed_calls += 1
                await self.free_if_stuck(item.case_id, err)
                if item.attempts >= MAX_ATTEMPTS:
                    raise
                # Backing off, as a client should: after the server was killed, the workflow task it
                # had handed out must time out (10 s) before the case takes actions again, and the
                # server refuses them at once meanwhile ("Workflow Task in failed state").
                await asyncio.sleep(min(0.3 * item.attempts, 2.0))
                continue
            self.completed += 1
            self.progress.set()
            return item.result

    async def open(self, plan: Plan, task_queue: str) -> None:
        fields = dict(plan.opening)
        opening = CaseOpening(
            case_id=plan.case_id, employer_id="E-crash", opened_by=Actor(role="casemanager", id="cm-1"), **fields
        )
        await cases.open_case(self.client, opening, task_queue=task_queue, request_key=f"open-{plan.case_id}")

    async def wait_for_trajectory(self, case_id: str, seconds: float = 300) -> None:
        # As patient as `send` (MAX_ATTEMPTS): both faults may strike while it waits, and on two loaded
        # cores each took the server, the worker and a timed-out workflow task well over half a minute.
        deadline = time.monotonic() + seconds
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                await trajectories.view(self.client, case_id, rpc_timeout=timedelta(seconds=CALL_TIMEOUT))
                return
            except WorkflowQueryFailedError as err:
                # The restarted worker replayed the trajectory for the view, and its history did not replay: the
                # fault free_if_stuck frees, seen by a query before any workflow task failed.
                last = err
                await self.free_unreplayable(trajectory_workflow_id(case_id), str(err))
                await asyncio.sleep(0.2)
            except (trajectories.NoTrajectory, RPCError) as err:
                last = err
                await self.free_if_stuck(case_id, err)
                await asyncio.sleep(0.2)
        ids = [case_workflow_id(case_id), trajectory_workflow_id(case_id)]
        seen = await self.diagnose(ids) if self.diagnose else ""
        raise AssertionError(f"case {case_id}: its trajectory did not start (last: {last!r})\n{seen}")

    async def run(self, plan: Plan) -> None:
        for batch in plan.batches:
            if batch[0].spoor2:
                await self.wait_for_trajectory(plan.case_id)
            await asyncio.gather(*(self.send(item) for item in batch))

    async def send_again(self, item: Sent) -> None:
        """Send an answered action again, as a client that lost the answer: the first answer again."""
        item.attempts += 1
        again = await (trajectories.act if item.spoor2 else cases.act)(self.client, item.case_id, item.payload)
        assert again == item.result, item.action_id

    async def until_completed(self, count: int) -> None:
        while self.completed < count:
            self.progress.clear()
            await self.progress.wait()

    @property
    def resent(self) -> int:
        return sum(item.attempts - 1 for item in self.sent)


def actions(plans: list[Plan]) -> int:
    return sum(len(batch) for plan in plans for batch in plan.batches)


async def run_plans(sender: RetryingClient, plans: list[Plan], faults: list[tuple[float, Any]]) -> None:
    """Run every case's plan at once; each fault strikes once that share of the actions is answered."""
    total = actions(plans)

    async def strike() -> None:
        for share, fault in faults:
            await sender.until_completed(int(total * share))
            await fault()

    # A failure cancels the rest, so no fault strikes later, in another test.
    async with asyncio.TaskGroup() as group:
        group.create_task(strike())
        for plan in plans:
            group.create_task(sender.run(plan))


# ------------------------------------------------------------------ checks


async def eventually(check, seconds: float = 30.0, every: float = 0.2):
    """The value of `check()` once it stops raising AssertionError (the case copies trajectory
    entries and upserts search attributes shortly after the action)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(every)


async def check_case(sender: RetryingClient, plan: Plan, sent: list[Sent]) -> dict[str, int]:
    """Each action of the case exactly once where it belongs, no action recorded that was not sent,
    the case running at the stage its actions lead to. Returns counts. A query that meets the SDK's
    fault after a restart frees the workflow first, as an operator would (`RetryingClient.answered`)."""
    client = sender.client
    case_wf, trajectory_wf = case_workflow_id(plan.case_id), trajectory_workflow_id(plan.case_id)
    handle = cases.case_handle(client, plan.case_id)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING, plan.case_id
    mine = [s for s in sent if s.case_id == plan.case_id]
    on_case = {s.action_id: s.kind for s in mine if not s.spoor2}
    on_trajectory = {s.action_id: s.kind for s in mine if s.spoor2}

    async def dossier_complete() -> list:
        dossier = await sender.answered(case_wf, lambda: handle.query(SickLeaveCase.dossier))
        ids = Counter(e.action_id for e in dossier if e.action_id)
        # Every action id once: the case's own actions as themselves, the trajectory's as copies.
        assert {i: n for i, n in ids.items() if n != 1} == {}, f"{plan.case_id}: action ids recorded twice"
        kinds = {e.action_id: e.kind for e in dossier if e.action_id}
        expected = on_case | {i: f"spoor2:{k}" for i, k in on_trajectory.items()}
        assert kinds == expected, f"{plan.case_id}: dossier {kinds} != sent {expected}"
        return dossier

    dossier = await eventually(dossier_complete)
    summary = await sender.answered(case_wf, lambda: cases.summary(client, plan.case_id))
    assert summary.stage is plan.stage, f"{plan.case_id}: {summary.stage} != {plan.stage}"
    if plan.spoor2:
        record = await sender.answered(trajectory_wf, lambda: trajectories.record(client, plan.case_id))
        ids = Counter(e.action_id for e in record if e.action_id)
        assert dict(ids) == dict.fromkeys(on_trajectory, 1), f"{plan.case_id}: trajectory record"
        view = await sender.answered(trajectory_wf, lambda: trajectories.view(client, plan.case_id))
        assert view.current_phase == 1 and view.phases[0].conversations_held == 2
    return {"dossier": len(dossier)}


# ------------------------------------------------------------------ one server and worker for the module


@dataclass
class Cluster:
    """The dev server on disk and a worker process, shared by this module's tests: a test finds
    the cases of the tests before it, so later faults strike them too."""

    processes: Processes
    server: DevServer
    worker: WorkerProcess
    client: Client
    env: dict[str, str]
    webhook: HoldingWebhook
    opened: list[tuple[Plan, list[Sent]]] = field(default_factory=list)  # every case with its actions
    kills: list[float] = field(default_factory=list)  # when the worker was killed (monotonic)

    @property
    def task_queue(self) -> str:
        return self.env["SPOORWERK_TASK_QUEUE"]

    @property
    def data_dir(self) -> Path:
        return Path(self.env["SPOORWERK_DATA_DIR"])

    async def kill_worker(self) -> None:
        self.kills.append(time.monotonic())
        await self.worker.kill()
        await self.worker.start()

    def notification_log(self) -> list[dict]:
        return NotificationLog(self.data_dir / "notifications.jsonl").read()

    async def diagnose(self, workflow_ids: list[str]) -> str:
        """The workflows' status and last events, and whether the processes live, with their logs' tails."""
        alive = {
            name: p.proc is not None and p.proc.poll() is None
            for name, p in (("worker", self.worker), ("server", self.server))
        }
        lines = [f"alive: {alive}"]
        for workflow_id in workflow_ids:
            handle = self.client.get_workflow_handle(workflow_id)
            try:
                described = await handle.describe(rpc_timeout=timedelta(seconds=10))
                events = [e async for e in handle.fetch_history_events(rpc_timeout=timedelta(seconds=10))]
                lines.append(
                    f"{workflow_id}: {described.status}, {len(events)} events, last: "
                    + ", ".join(f"{e.event_id} {e.WhichOneof('attributes')}" for e in events[-8:])
                )
                lines.append(f"  pending: {described.raw_description.pending_workflow_task}".replace("\n", " "))
                failed = [
                    e.workflow_task_failed_event_attributes
                    for e in events
                    if e.HasField("workflow_task_failed_event_attributes")
                ]
                if failed:
                    lines.append(f"  last task failure: {failed[-1].cause}: {failed[-1].failure.message}")
            except Exception as err:  # noqa: BLE001 (a diagnosis reports what it could not read)
                lines.append(f"{workflow_id}: not described ({err!r})")
        lines.append("worker stderr: " + tail(self.worker.err, 2500))
        lines.append("server log: " + tail(self.server.log, 1500))
        return "\n".join(lines)


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory) -> AsyncIterator[Cluster]:
    processes = Processes(tmp_path_factory.mktemp("crash"))
    webhook = HoldingWebhook()
    try:
        server = processes.dev_server()
        env = worker_env(
            server.address,
            processes.tmp_path / "data",
            f"tq-crash-{uuid.uuid4().hex[:8]}",
            encryption_keys(),
            SPOORWERK_NOTIFY_CHANNELS="log,webhook",
            SPOORWERK_WEBHOOK_URL=webhook.url,
            SPOORWERK_WEBHOOK_SECRET="crash-test-secret",
            SPOORWERK_WEBHOOK_TIMEOUT_SECONDS="300",
        )
        server.spawn()
        client = await server.wait_ready(settings_from(env))
        worker = processes.worker(env)
        await worker.start()
        yield Cluster(processes, server, worker, client, env, webhook)
    finally:
        processes.close()
        webhook.close()


@dataclass
class InFlight:
    case_id: str
    notification_id: str
    held_at: float


@pytest.fixture(scope="module")
async def in_flight(cluster: Cluster) -> InFlight:
    """A notification in flight: a case opened in its first week reminds the employer of the
    ziekmelding at once; the log channel writes it, then the webhook holds it unanswered."""
    case_id = f"Cnote{uuid.uuid4().hex[:6]}"
    cluster.webhook.hold_case = case_id
    await cases.open_case(
        cluster.client,
        CaseOpening(
            case_id=case_id,
            employer_id="E-note",
            opened_by=Actor(role="casemanager"),
            first_sick_day=today() - timedelta(days=2),
        ),
        task_queue=cluster.task_queue,
    )
    for _ in range(600):
        if cluster.webhook.held.is_set():
            break
        await asyncio.sleep(0.05)
    assert cluster.webhook.held.is_set(), "the reminder did not reach the webhook"
    notification_id = cluster.webhook.received_by_case(case_id)[0]["notification_id"]

    async def logged_once() -> None:  # the log's line waits until its task's history has been read
        assert [n["notification_id"] for n in cluster.notification_log()].count(notification_id) == 1

    await eventually(logged_once, seconds=10, every=0.05)
    return InFlight(case_id, notification_id, time.monotonic())


def save_measurements(name: str, values: dict[str, Any]) -> None:
    """Keep what was measured beside the tests' other artifacts (and in the output with -s)."""
    print(f"\n{name}: {json.dumps(values)}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(values, indent=2) + "\n", "utf-8")


def mixed_plans(prefix: str, spoor1: int, ad: int, spoor2: int) -> list[Plan]:
    return (
        [spoor1_plan(f"{prefix}one{n:02d}{uuid.uuid4().hex[:4]}") for n in range(spoor1)]
        + [ad_plan(f"{prefix}ad{n:02d}{uuid.uuid4().hex[:4]}") for n in range(ad)]
        + [spoor2_plan(f"{prefix}two{n:02d}{uuid.uuid4().hex[:4]}") for n in range(spoor2)]
    )


# ------------------------------------------------------------------ 1. the worker killed mid-flight


async def test_worker_killed_while_actions_are_in_flight_loses_and_doubles_nothing(cluster, in_flight):
    began = time.monotonic()
    client = cluster.client
    sender = RetryingClient(client, diagnose=cluster.diagnose)
    plans = mixed_plans("K", spoor1=8, ad=6, spoor2=6)
    await asyncio.gather(*(sender.open(plan, cluster.task_queue) for plan in plans))
    accepted_by_first: list[Sent] = []
    kills: list[dict[str, Any]] = []

    async def kill_worker() -> None:
        if not accepted_by_first:
            accepted_by_first.extend(s for s in sender.sent if s.result is not None)
        await cluster.kill_worker()
        # The first action to a case the dead worker held, sent once the new worker runs.
        probe = Sent(plans[0].case_id, evaluatie(plans[0].case_id))
        sent_at = time.monotonic()
        await sender.send(probe)
        kills.append(
            {
                "new_worker_after_s": round(sent_at - cluster.kills[-1], 1),
                "first_update_s": round(time.monotonic() - sent_at, 1),
                "first_update_attempts": probe.attempts,
            }
        )

    await run_plans(sender, plans, [(0.3, kill_worker), (0.65, kill_worker)])
    assert len(kills) == 2

    # Every case goes on: one more action each, answered by the third worker.
    more = [Sent(p.case_id, evaluatie(p.case_id)) for p in plans]
    await asyncio.gather(*(sender.send(item) for item in more))
    assert all(item.result.applied for item in more)
    # Answers the client never saw, sent again after the kills: the first answer again, applied once.
    lost_answers = accepted_by_first[::4]
    await asyncio.gather(*(sender.send_again(item) for item in lost_answers))

    dossier_entries = 0
    for plan in plans:
        dossier_entries += (await check_case(sender, plan, sender.sent))["dossier"]
    assert len({s.action_id for s in sender.sent}) == len(sender.sent) == actions(plans) + 2 + len(plans)
    cluster.opened += [(plan, sender.sent) for plan in plans]

    save_measurements(
        "crash_recovery_worker_kill",
        {
            "cases": len(plans),
            "spoor2_trajectories": sum(p.spoor2 for p in plans),
            "actions": len(sender.sent),
            "worker_kills": len(kills),
            "failed_calls": sender.failed_calls,
            "actions_resent": sender.resent,
            "answers_lost_resent": len(lost_answers),
            "duplicates": 0,
            "lost": 0,
            "dossier_entries": dossier_entries,
            "kills": kills,
            "seconds": round(time.monotonic() - began, 1),
        },
    )


# ------------------------------------------------------------------ 2. the server stopped and killed


async def test_cases_survive_server_stop_and_kill_on_the_same_database(cluster):
    began = time.monotonic()
    client = cluster.client  # one client throughout, as the API keeps one: it must find the server again
    sender = RetryingClient(client, diagnose=cluster.diagnose, record_first=True)
    plans = mixed_plans("S", spoor1=6, ad=4, spoor2=4)
    await asyncio.gather(*(sender.open(plan, cluster.task_queue) for plan in plans))
    earlier = list(cluster.opened)  # the cases of the tests before, with their actions
    stops: list[dict[str, Any]] = []

    async def stop_server(sig: int) -> None:
        accepted = [s for s in sender.sent if s.result is not None]
        stopped_at = time.monotonic()
        if sig == signal.SIGKILL:  # the host went down: the worker with it
            cluster.kills.append(stopped_at)
            await cluster.worker.kill()
        code = await cluster.server.stop(sig)
        # Down longer than a client waits for an answer: calls in flight fail and are sent again.
        await asyncio.sleep(CALL_TIMEOUT + 1)
        cluster.server.spawn()
        await cluster.server.wait_ready(settings_from(cluster.env))
        if sig == signal.SIGKILL:
            await cluster.worker.start()
        else:  # the worker waited for the server and carries on
            assert cluster.worker.proc.poll() is None
        # Everything accepted before the stop is still on record, in the server's new life.
        for plan in plans:
            dossier = await sender.dossier(plan.case_id)
            on_record = {e.action_id for e in dossier if e.action_id}
            assert {s.action_id for s in accepted if s.case_id == plan.case_id and not s.spoor2} <= on_record
        stops.append(
            {
                "signal": signal.Signals(sig).name,
                "exit_code": code,
                "accepted_before": len(accepted),
                "back_after_s": round(time.monotonic() - stopped_at, 1),
            }
        )

    await run_plans(
        sender, plans, [(0.3, lambda: stop_server(signal.SIGTERM)), (0.65, lambda: stop_server(signal.SIGKILL))]
    )
    assert [s["signal"] for s in stops] == ["SIGTERM", "SIGKILL"]

    # Every case is there, this test's and the earlier ones', running: it answers queries, holds
    # every action once, and takes a new one.
    everything = [(plan, sender.sent) for plan in plans] + earlier
    more = [Sent(plan.case_id, evaluatie(plan.case_id)) for plan, _ in everything]
    await asyncio.gather(*(sender.send(item) for item in more))
    assert all(item.result.applied for item in more)
    for plan, sent in everything:
        await check_case(sender, plan, sent + more)
    # The search attributes came through too: listings find every case at its stage.
    expected = Counter(plan.stage.value for plan, _ in everything)

    async def listed() -> None:
        found = await cases.list_cases(client, employer_id="E-crash")
        assert Counter(c.stage for c in found) == expected and all(c.running for c in found)
        assert [c.spoor2_phase for c in found if c.stage == "spoor2"] == [1] * expected["spoor2"]

    await eventually(listed)
    cluster.opened += [(plan, sender.sent) for plan in plans]

    save_measurements(
        "crash_recovery_server_restart",
        {
            "cases": len(everything),
            "cases_of_earlier_tests": len(earlier),
            "spoor2_trajectories": sum(plan.spoor2 for plan, _ in everything),
            "actions": len(sender.sent),
            "server_restarts": len(stops),
            "failed_calls": sender.failed_calls,
            "actions_resent": sender.resent,
            "retries_answered_from_the_record": sender.found_on_record,
            "stuck_and_freed": sender.freed,
            "duplicates": 0,
            "lost": 0,
            "stops": stops,
            "seconds": round(time.monotonic() - began, 1),
        },
    )


# ------------------------------------------------------------------ 3. a notification in flight


async def test_a_notification_in_flight_when_the_worker_dies_is_delivered_once(cluster, in_flight):
    began = time.monotonic()
    if not any(t > in_flight.held_at for t in cluster.kills):  # run on its own: no kill yet
        await cluster.kill_worker()
    # The attempt on the dead worker times out (NOTIFY_TIMEOUT, a minute) and is retried on the
    # running worker, across any server restarts meanwhile.
    for _ in range(1800):
        if len(cluster.webhook.received(in_flight.notification_id)) >= 2:
            break
        await asyncio.sleep(0.1)
    again = cluster.webhook.received(in_flight.notification_id)
    # The webhook gets it again, under the same Idempotency-Key, for the receiver to drop.
    assert len(again) == 2 and {r["key"] for r in again} == {in_flight.notification_id}
    # The log channel had delivered before the kill: it holds the notification once, and every
    # notification of every case only once.
    log = cluster.notification_log()
    assert [n["notification_id"] for n in log].count(in_flight.notification_id) == 1
    assert {k: n for k, n in Counter(n["notification_id"] for n in log).items() if n > 1} == {}

    # The retry skipped the channel that had delivered (the heartbeat kept its progress): an
    # e-mail channel in its place would not send a second e-mail. (The other notification of its
    # batch, not yet begun when the worker died, goes over both channels on the retry.)
    def retried() -> list[tuple[str, str]]:
        return [
            (r["channel"], r["outcome"])
            for r in cluster.worker.records()
            if r.get("event") == "notification channel"
            and r.get("notification_id") == in_flight.notification_id
            and r["attempt"] > 1
        ]

    # The worker logs the delivery once the webhook has answered: a moment after the webhook counted it.
    for _ in range(100):
        if retried():
            break
        await asyncio.sleep(0.1)
    assert retried() == [("webhook", "delivered")]
    dossier = await cases.case_handle(cluster.client, in_flight.case_id).query(SickLeaveCase.dossier)
    assert not [e for e in dossier if e.kind == "notification_failed"]

    save_measurements(
        "crash_recovery_notification",
        {
            "notifications_logged": len(log),
            "webhook_requests": len(cluster.webhook.requests),
            "delivered_again_after_held_s": round(time.monotonic() - in_flight.held_at, 1),
            "duplicates_in_log": 0,
            "worker_kills_in_module": len(cluster.kills),
            "server_starts_in_module": cluster.server.starts,
            "seconds": round(time.monotonic() - began, 1),
        },
    )
