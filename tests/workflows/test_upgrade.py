"""Cases opened on release 5 (commit 4eaf628, the support floor) move to this code and keep every dossier entry.

The old release is taken from git (`git archive`) into a folder of its own and runs as its own worker process
(and opens its cases with its own client code), against a Temporal server the test starts; then that worker
stops and this code's worker takes over, as a rolling deploy ends. On the time-skipping server time then passes
the run bound: every case, and the spoor 2 trajectory, must continue as new on this code with its state migrated,
every entry it had unchanged, and still take actions. On the embedded dev server of `make run`, with its data
on disk, the cases opened by the old code must be there after the new code starts on the same data folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from domain.case import CURRENT_REVISION, CURRENT_VERSION
from domain.migration import RUN_BOUND_DAYS
from domain.nl_time import local_date
from operations import cases
from operations import spoor2 as trajectories
from service.codec import KeyRing
from service.temporal import data_converter
from tests.loopback import free_port, wait_until_free
from tests.paths import ROOT
from tests.processes import Processes, WorkerProcess, worker_env
from workflows import patches
from workflows.ids import case_workflow_id, trajectory_workflow_id

# Release 5, revision 3: what every installation ran when this release set its support floor (docs/versioning.md).
RELEASE_5 = "4eaf628"

# Run by the old release's Python (PYTHONPATH its folder): opens three cases in different stages through its own
# client code and prints, as one JSON line, each case's state and the trajectory's record as it answers them.
OPEN_ON_OLD_CODE = r"""
import asyncio, json, os, sys
from datetime import date, timedelta

from domain.case import CaseOpening
from domain.models import Actor
from operations import cases, spoor2
from service.settings import Settings
from service.temporal import connect


async def main(today: date, prefix: str) -> None:
    settings = Settings()
    client = await connect(settings)
    count = iter(range(1000))

    def action(kind, role, **fields):
        actor = {"role": role, **({"id": "coach-1"} if role == "reintegratiecoach" else {})}
        return {"kind": kind, "action_id": f"{prefix}-{next(count)}", "actor": actor, "on": today.isoformat(), **fields}

    async def open_case(case_id, first, **fields):
        opening = CaseOpening(
            case_id=case_id, employer_id="E-upgrade", first_sick_day=first,
            opened_by=Actor(role="casemanager", id="cm-1"), **fields
        )
        await cases.open_case(client, opening, task_queue=settings.task_queue, today=today, documents=False)

    def done(first, steps):
        return [{"key": key, "done_on": (first + timedelta(days=d)).isoformat()} for key, d in steps.items()]

    fresh, spoor1, spoor2_case = f"{prefix}-fresh", f"{prefix}-spoor1", f"{prefix}-spoor2"
    await open_case(fresh, today)
    await cases.act(client, fresh, action("ziekmelding_arbodienst_sent", "werkgever"), today=today)

    first = today - timedelta(weeks=10)
    steps = {"ziekmelding_arbodienst": 1, "probleemanalyse": 30, "plan_van_aanpak": 40}
    await open_case(spoor1, first, stage="spoor1", prior_steps=done(first, steps))
    await cases.act(client, spoor1, action("partial_recovery", "casemanager", hours_per_week=8.0), today=today)

    first = today - timedelta(weeks=53)
    steps.update({"ziekmelding_uwv": 290, "eerstejaarsevaluatie": 360})
    held = [(first + timedelta(days=d)).isoformat() for d in range(82, 7 * 53 - 6, 42)]
    await open_case(spoor2_case, first, stage="spoor1", prior_steps=done(first, steps), evaluations_held=held)
    for kind, fields in [
        ("ad_onderzoek_started", {}),
        ("ad_gesprek_held", {"party": "werkgever"}),
        ("ad_gesprek_held", {"party": "werknemer"}),
        ("ad_onderzoek_concluded", {"report_reference": "dms://ad/1", "own_work_possible": False,
                                    "other_work_inside_possible": False}),
    ]:
        await cases.act(client, spoor2_case, action(kind, "arbeidsdeskundige", **fields), today=today)
    await cases.act(client, spoor2_case, action("spoor2_started", "werkgever"), today=today)
    for _ in range(400):
        try:
            await spoor2.view(client, spoor2_case, today)
            break
        except spoor2.NoTrajectory:
            await asyncio.sleep(0.05)
    roles = {"toestemmingsformulier": "casemanager", "opdrachtbevestiging": "werkgever", "ad_rapport": "arbeidsdeskundige"}
    for document, role in roles.items():
        await spoor2.act(client, spoor2_case, action("document_received", role, document=document, reference="dms://d/1"))

    states = {c: await cases.case_handle(client, c).query("state") for c in (fresh, spoor1, spoor2_case)}
    record = await client.get_workflow_handle(f"case-{spoor2_case}-spoor2").query("record")
    print(json.dumps({"states": states, "record": record}))


asyncio.run(main(date.fromisoformat(sys.argv[1]), sys.argv[2]))
# Its answer is printed: leave without the interpreter's finalization, where the old SDK's native threads now and
# then abort ("PyGILState_Release: thread state must be current"), failing a run that did everything it should.
sys.stdout.flush()
os._exit(0)
"""


@pytest.fixture(scope="module")
def release_5(tmp_path_factory) -> Path:
    """The code of release 5 in a folder of its own; skipped (saying why) in a clone without that commit."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", RELEASE_5], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(
            f"commit {RELEASE_5} (release 5, the support floor) is not in this clone, so its code cannot run: "
            f"{archive.stderr.decode(errors='replace').strip()} (fetch the full history: git fetch --unshallow)"
        )
    folder = tmp_path_factory.mktemp("release5")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def _with_code(env: dict[str, str], root: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": str(root)}


def open_on_old_code(root: Path, env: dict[str, str], today: date, prefix: str) -> dict[str, Any]:
    """Cases opened and acted on by the old release's own client code: what it answered about them."""
    done = subprocess.run(
        [sys.executable, "-c", OPEN_ON_OLD_CODE, today.isoformat(), prefix],
        cwd=root,
        env=_with_code(env, root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def case_ids(prefix: str) -> list[str]:
    return [f"{prefix}-fresh", f"{prefix}-spoor1", f"{prefix}-spoor2"]


def assert_kept(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Every entry `before` holds is in `after` under its number, with the same content."""
    now = {entry["seq"]: entry for entry in after}
    for entry in before:
        assert entry["seq"] in now, f"entry {entry['seq']} ({entry['kind']}) is gone"
        assert {key: now[entry["seq"]].get(key) for key in entry} == entry


async def test_cases_opened_on_release_5_continue_as_new_on_this_code_at_the_run_bound(ts_env, release_5, tmp_path):
    client = ts_env.client
    keys = os.environ["SPOORWERK_ENCRYPTION_KEYS"]  # the test session's, which this client reads with
    env = worker_env(client.service_client.config.target_host, tmp_path / "data", f"tq-up-{uuid.uuid4().hex[:8]}", keys)
    processes = Processes(tmp_path)
    prefix = f"U{uuid.uuid4().hex[:6]}"
    try:
        # Without a workflow cache the old worker leaves no sticky queue behind: the time-skipping server never times
        # one out while its time is locked, and has no ResetStickyTaskQueue (a real server moves on in seconds).
        no_cache = _with_code({**env, "SPOORWERK_MAX_CACHED_WORKFLOWS": "0"}, release_5)
        old = WorkerProcess(no_cache, tmp_path / "old.out", tmp_path / "old.err", root=release_5)
        processes.started.append(old)
        await old.start()
        today = local_date(await ts_env.get_current_time())
        before = open_on_old_code(release_5, env, today, prefix)
        assert {s["version"] for s in before["states"].values()} == {5}
        ids = [case_workflow_id(c) for c in case_ids(prefix)] + [trajectory_workflow_id(f"{prefix}-spoor2")]
        first_runs = {wid: (await client.get_workflow_handle(wid).describe()).run_id for wid in ids}
        assert await old.stop() == 0

        # The deploy: this code's worker takes the task queue over.
        await processes.worker(env, "new").start()
        moved: set[str] = set()
        for _ in range(RUN_BOUND_DAYS // 7 + 4):
            await ts_env.sleep(timedelta(days=7))
            for wid in set(ids) - moved:
                if (await client.get_workflow_handle(wid).describe()).run_id != first_runs[wid]:
                    moved.add(wid)
            if moved == set(ids):
                break
        assert moved == set(ids), f"not continued as new: {set(ids) - moved}"

        for wid in ids:
            first_run = await client.get_workflow_handle(wid, run_id=first_runs[wid]).fetch_history()
            assert first_run.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            started, ended = first_run.events[0].event_time.ToDatetime(), first_run.events[-1].event_time.ToDatetime()
            assert ended - started >= timedelta(days=RUN_BOUND_DAYS)
            # Moved by this code: only it records the bound's check on a run begun on release 5.
            markers = [
                e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
                for e in first_run.events
                if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            ]
            late = [patches.known(json.loads(data)["id"]) for data in markers]
            assert patches.LATE_RUN_BOUND in late, wid

        for case_id in case_ids(prefix):
            state = await cases.case_handle(client, case_id).query("state")
            assert (state["version"], state["revision"]) == (CURRENT_VERSION, CURRENT_REVISION)
            assert state["ruleset"] == before["states"][case_id]["ruleset"]  # the legal rules stay pinned
            assert_kept(before["states"][case_id]["dossier"], state["dossier"])
        record = await client.get_workflow_handle(trajectory_workflow_id(f"{prefix}-spoor2")).query("record")
        assert_kept(before["record"], record)

        # And people go on acting on them.
        today = local_date(await ts_env.get_current_time())

        def action(kind: str, role: str, **fields: Any) -> dict[str, Any]:
            actor = {"role": role, **({"id": "coach-1"} if role == "reintegratiecoach" else {})}
            return {"kind": kind, "action_id": uuid.uuid4().hex, "actor": actor, "on": today.isoformat(), **fields}

        applied = await cases.act(client, f"{prefix}-fresh", action("probleemanalyse_recorded", "bedrijfsarts"))
        assert applied.applied and applied.entry.kind == "probleemanalyse_recorded"
        applied = await cases.act(
            client, f"{prefix}-spoor1", action("partial_recovery", "casemanager", hours_per_week=16.0)
        )
        assert applied.applied
        moved_on = await trajectories.act(
            client, f"{prefix}-spoor2", action("document_received", "bedrijfsarts", document="fml", reference="x")
        )
        assert moved_on.applied
    finally:
        processes.close()


# ------------------------------------------------------------------ the embedded dev server of `make run`


def start_embedded(root: Path, data: Path, port: int, ui_port: int, log: Path) -> subprocess.Popen:
    """`python worker.py` of the code in `root` as `make run` starts it: its own dev server on `data`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_") and k != "SPOORWERK_ENCRYPTION_KEYS"}
    env.update(
        PYTHONPATH=str(root),
        SPOORWERK_DATA_DIR=str(data),
        SPOORWERK_DEV_SERVER_PORT=str(port),
        SPOORWERK_DEV_SERVER_UI_PORT=str(ui_port),
        SPOORWERK_API_ENABLED="false",
        SPOORWERK_LOG_FORMAT="json",
    )
    with log.open("a") as err:
        proc = subprocess.Popen(
            [sys.executable, str(root / "worker.py")],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + 90
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.rstrip().endswith("Ctrl-C."):  # the banner's last line, in either language
            return proc
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("worker did not start: " + "".join(lines) + log.read_text(errors="replace")[-3000:])


def stop_embedded(proc: subprocess.Popen) -> int:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=10)


@pytest.mark.devserver
async def test_make_run_keeps_its_running_cases_across_an_upgrade_of_the_code(release_5, tmp_path):
    data, port, ui_port = tmp_path / "data", free_port(), free_port()
    prefix = f"M{uuid.uuid4().hex[:6]}"
    today = local_date(datetime.now(timezone.utc))
    old = start_embedded(release_5, data, port, ui_port, tmp_path / "old.log")
    try:
        client_env = {
            k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_") and k != "SPOORWERK_ENCRYPTION_KEYS"
        }
        client_env.update(SPOORWERK_DATA_DIR=str(data), SPOORWERK_DEV_SERVER_PORT=str(port))
        before = open_on_old_code(release_5, client_env, today, prefix)
    finally:
        assert stop_embedded(old) == 0
    wait_until_free(port, ui_port)

    new = start_embedded(ROOT, data, port, ui_port, tmp_path / "new.log")
    try:
        converter = data_converter(KeyRing.from_file(data / "encryption-keys.json"))
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=converter)
        for case_id in case_ids(prefix):
            described = await cases.case_handle(client, case_id).describe()
            assert described.status == WorkflowExecutionStatus.RUNNING
            state = await cases.case_handle(client, case_id).query("state")
            assert_kept(before["states"][case_id]["dossier"], state["dossier"])
        record = await client.get_workflow_handle(trajectory_workflow_id(f"{prefix}-spoor2")).query("record")
        assert_kept(before["record"], record)
        action = {
            "kind": "probleemanalyse_recorded",
            "action_id": uuid.uuid4().hex,
            "actor": {"role": "bedrijfsarts"},
            "on": today.isoformat(),
        }
        assert (await cases.act(client, f"{prefix}-fresh", action)).applied
    finally:
        assert stop_embedded(new) == 0
