"""`python worker.py` — what `make run` starts — on its embedded dev server, data kept on disk; and what it does at start
(`warm_up`) so that its first case does not wait."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from structlog.testing import capture_logs
from temporalio.client import Client

from domain.case import CaseOpening
from domain.models import Actor
from domain.nl_time import local_date
from operations import cases
from service import i18n
from service.codec import KeyRing
from service.reporting import MIGRATIONS
from service.reporting_tables import VERSION_TABLE
from service.settings import Settings
from service.temporal import data_converter
from tests.loopback import free_port, wait_until_free
from tests.paths import ROOT
from worker import _beside, warm_up

pytestmark = pytest.mark.devserver


def start_worker(data_dir: Path, port: int, ui_port: int, **extra_env: str) -> subprocess.Popen:
    # Without SPOORWERK_ENCRYPTION_KEYS unless given: the embedded default makes its own key.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_") and k != "SPOORWERK_ENCRYPTION_KEYS"}
    env.update(
        SPOORWERK_DATA_DIR=str(data_dir),
        SPOORWERK_DEV_SERVER_PORT=str(port),
        SPOORWERK_DEV_SERVER_UI_PORT=str(ui_port),
        SPOORWERK_API_PORT=str(free_port()),
        SPOORWERK_LOG_FORMAT="json",
        **extra_env,
    )
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None  # both piped
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.rstrip().endswith("Ctrl-C."):  # the banner's last line, in either language
            return proc
    proc.kill()
    raise AssertionError("worker did not start: " + "".join(lines) + proc.stderr.read())


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


async def test_worker_runs_embedded_server_and_keeps_cases_across_restarts(tmp_path):
    port, ui_port = free_port(), free_port()
    data = tmp_path
    data.chmod(0o755)  # as an administrator might have made it: the service narrows it
    proc = start_worker(tmp_path, port, ui_port)
    case_id = f"C{uuid.uuid4().hex[:8]}"
    key_file = tmp_path / "encryption-keys.json"
    # The embedded default made its key, readable by its owner only; a client with that key talks to it.
    assert key_file.stat().st_mode & 0o777 == 0o600
    converter = data_converter(KeyRing.from_file(key_file))
    try:
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=converter)
        today = local_date(datetime.now(timezone.utc))
        await cases.open_case(
            client,
            CaseOpening(
                case_id=case_id,
                employer_id="E-1",
                first_sick_day=today - timedelta(days=3),
                opened_by=Actor(role="casemanager"),
            ),
            task_queue="spoorwerk-cases",
        )
        await cases.act(
            client,
            case_id,
            {
                "kind": "ziekmelding_arbodienst_sent",
                "action_id": "zm",
                "on": today.isoformat(),
                "actor": {"role": "werkgever"},
            },
        )
    finally:
        err = stop(proc)
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(r["event"] == "worker started" for r in records)
    applied = [r for r in records if r["event"] == "action applied"]
    # Structured, with the case and workflow ids as fields, not baked into the message.
    assert applied and applied[0]["case_id"] == case_id and applied[0]["action"] == "ziekmelding_arbodienst_sent"
    assert applied[0]["temporal_workflow"]["workflow_id"] == f"case-{case_id}"
    assert (tmp_path / "temporal.db").exists()
    # Histories, notification log, read audit, keys, token: the service's user only (issue 18).
    assert data.stat().st_mode & 0o777 == 0o700
    made = [p for p in data.rglob("*")]
    assert {"temporal.db", "spoorwerk.db", "api-token", "encryption-keys.json"} <= {p.name for p in made}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in made if p.stat().st_mode & 0o077} == {}

    # A new run on the same data folder still has the case and its dossier (and the same key).
    wait_until_free(port, ui_port)
    proc = start_worker(tmp_path, port, ui_port)
    try:
        client = await Client.connect(f"127.0.0.1:{port}", data_converter=converter)
        summary = await cases.summary(client, case_id)
        assert summary.stage.value == "ziekmelding" and "ziekmelding_arbodienst" not in summary.overdue
        dossier = await cases.case_handle(client, case_id).query("dossier")
        kinds = [e["kind"] for e in dossier]
        # Opened in week 1, the employer is reminded of the ziekmelding at once, unless the action
        # arrived with the case's first workflow task, before the first reminder.
        assert kinds[0] == "case_opened" and kinds.count("ziekmelding_arbodienst_sent") == 1
        assert set(kinds) <= {"case_opened", "reminder_sent", "ziekmelding_arbodienst_sent"}
    finally:
        stop(proc)


async def test_worker_joins_an_existing_cluster_given_temporal_address(dev_env, tmp_path):
    address = dev_env.client.service_client.config.target_host
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    proc = start_worker(
        tmp_path,
        free_port(),
        free_port(),
        TEMPORAL_ADDRESS=address,
        SPOORWERK_TASK_QUEUE=queue,
        SPOORWERK_ENCRYPTION_KEYS=os.environ["SPOORWERK_ENCRYPTION_KEYS"],
        SPOORWERK_DATABASE_URL=f"sqlite:///{tmp_path / 'spoorwerk.db'}",
    )
    case_id = f"C{uuid.uuid4().hex[:8]}"
    try:
        client = dev_env.client
        today = local_date(datetime.now(timezone.utc))
        await cases.open_case(
            client,
            CaseOpening(case_id=case_id, employer_id="E-1", first_sick_day=today, opened_by=Actor(role="casemanager")),
            task_queue=queue,
        )
        result = await cases.act(
            client,
            case_id,
            {
                "kind": "ziekmelding_arbodienst_sent",
                "action_id": "zm",
                "on": today.isoformat(),
                "actor": {"role": "werkgever"},
            },
        )
        assert result.applied
    finally:
        err = stop(proc)
    assert not (tmp_path / "temporal.db").exists()  # no embedded server was started
    started = next(json.loads(l) for l in err.splitlines() if '"worker started"' in l)
    assert started["embedded"] is False and started["temporal"] == address


def test_a_channel_without_its_settings_stops_the_worker_with_the_setting_named(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SPOORWERK_"))}
    env.update(
        SPOORWERK_DATA_DIR=str(tmp_path),
        SPOORWERK_NOTIFY_CHANNELS="log,webhook",
        SPOORWERK_WEBHOOK_URL="https://hooks.example.nl/spoorwerk",
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.startswith("spoorwerk: configuration error: SPOORWERK_WEBHOOK_SECRET is required")
    assert "Traceback" not in done.stderr and not (tmp_path / "temporal.db").exists()


def test_a_cluster_without_encryption_keys_stops_the_worker_with_the_setting_named(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SPOORWERK_"))}
    env.update(SPOORWERK_DATA_DIR=str(tmp_path), TEMPORAL_ADDRESS="temporal.example.nl:7233")
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "SPOORWERK_ENCRYPTION_KEYS is required when TEMPORAL_ADDRESS is set" in done.stderr
    assert "SPOORWERK_MEDICAL_KEYS is required when TEMPORAL_ADDRESS is set" in done.stderr
    assert "Traceback" not in done.stderr

    env["SPOORWERK_ENCRYPTION_KEYS"] = '{"2026-11": "c2hvcnQ="}'
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "SPOORWERK_ENCRYPTION_KEYS: key '2026-11': must be 32 bytes (AES-256), got 5" in done.stderr
    # The secret itself is never echoed back.
    assert "c2hvcnQ=" not in done.stderr


async def test_the_activity_caps_reach_the_worker(dev_env, tmp_path, monkeypatch):
    """SPOORWERK_MAX_ACTIVITIES_PER_SECOND caps the task queue (server-side, all workers);
    SPOORWERK_MAX_WORKER_ACTIVITIES_PER_SECOND caps this worker; unset, neither is set."""
    from worker import build_worker

    client = dev_env.client  # built only, never run: nothing is polled
    monkeypatch.setenv("SPOORWERK_MAX_ACTIVITIES_PER_SECOND", "25")
    monkeypatch.setenv("SPOORWERK_MAX_WORKER_ACTIVITIES_PER_SECOND", "7.5")
    config = build_worker(client, Settings(data_dir=tmp_path), task_queue=f"caps-{uuid.uuid4().hex[:8]}").config()
    assert config["max_task_queue_activities_per_second"] == 25.0
    assert config["max_activities_per_second"] == 7.5
    monkeypatch.delenv("SPOORWERK_MAX_ACTIVITIES_PER_SECOND")
    monkeypatch.delenv("SPOORWERK_MAX_WORKER_ACTIVITIES_PER_SECOND")
    config = build_worker(client, Settings(data_dir=tmp_path), task_queue=f"caps-{uuid.uuid4().hex[:8]}").config()
    assert (
        config.get("max_task_queue_activities_per_second") is None and config.get("max_activities_per_second") is None
    )


def test_an_api_against_a_cluster_without_a_database_url_stops_with_the_setting_named(tmp_path):
    """Review of issue 18: without it each API replica kept its own read audit and sessions, lost with its volume."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SPOORWERK_DATABASE"))}
    env.update(
        SPOORWERK_DATA_DIR=str(tmp_path),
        TEMPORAL_ADDRESS="127.0.0.1:1",
        SPOORWERK_API_TOKENS=json.dumps({"t" * 40: {"role": "operations", "id": "ops-1"}}),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "api"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "SPOORWERK_DATABASE_URL is required when the API runs against TEMPORAL_ADDRESS" in done.stderr
    assert "Traceback" not in done.stderr


def test_warm_up_migrates_the_reporting_store_and_reads_every_catalogue(tmp_path):
    i18n.translations.cache_clear()
    with capture_logs() as logs:
        warm_up(Settings(data_dir=tmp_path))
    # The store is at its newest revision before any case wrote to it: the first write only opens it.
    engine = create_engine(f"sqlite:///{tmp_path / 'reporting.db'}")  # read as it is, not migrated
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    engine.dispose()
    assert revision == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert i18n.translations.cache_info().currsize == len(i18n.LANGUAGES)
    [done] = [line for line in logs if line["event"] == "warmed up"]
    assert done["reporting_store"] == "migrated"


def test_a_reporting_store_that_cannot_open_at_start_does_not_stop_the_start(tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    unreachable = f"sqlite:///{tmp_path / 'not-a-folder' / 'reporting.db'}"
    with capture_logs() as logs:
        warm_up(Settings(data_dir=tmp_path, reporting_database_url=unreachable))
    warned = [line for line in logs if line["log_level"] == "warning"]
    assert [w["event"] for w in warned] == ["reporting store not opened at start; the first write tries again"]
    assert "not-a-folder" not in str(warned)  # the error's kind only: a store URL may hold a password
    [done] = [line for line in logs if line["event"] == "warmed up"]
    assert done["reporting_store"] == "not opened"


def test_a_service_that_stops_does_not_wait_for_its_warm_up():
    """A store host that does not answer holds the warm-up for the network's timeout (minutes on Linux): the service's
    stop (or a start that failed) must not wait for it; what the warm-up raises reaches whoever awaits it."""
    release = threading.Event()

    async def start_and_stop() -> None:
        _beside(release.wait)  # hangs until released, like a connect to a host that does not answer
        failing = _beside(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            await failing

    runner = threading.Thread(target=asyncio.run, args=(start_and_stop(),), daemon=True)
    runner.start()
    runner.join(timeout=30)
    try:
        assert not runner.is_alive(), "asyncio.run waited for the warm-up's thread"
        assert any(t.name == "spoorwerk-warm-up" and t.daemon for t in threading.enumerate())
    finally:
        release.set()
