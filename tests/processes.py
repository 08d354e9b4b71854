"""The dev server (data on disk) and `python worker.py` as processes of their own, for tests that
kill and restart them. Each runs in its own process group; `Processes.close` kills every group it
started, so a failing test leaves no server behind."""

from __future__ import annotations

import asyncio
import atexit
import base64
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from temporalio.client import Client

from service.devserver import REPORTED_PROBLEMS_FLAGS, temporal_cli
from service.settings import Settings
from service.temporal import connect
from tests.loopback import free_port
from tests.paths import ROOT
from workflows import search_attributes as sa


def encryption_keys() -> str:
    """A key ring of one fresh key, as SPOORWERK_ENCRYPTION_KEYS takes it."""
    return '{"test-1": "%s"}' % base64.b64encode(os.urandom(32)).decode()


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send `sig` to the process's whole group (it leads its own session), while it runs: a group id
    of a process already reaped may belong to another by now."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


async def wait_exit(proc: subprocess.Popen, seconds: float) -> int | None:
    """The exit code once the process ends within `seconds`; None if it is still running."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return proc.poll()


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a process's log, for a failure's message."""
    return path.read_text("utf-8", errors="replace")[-chars:] if path.exists() else ""


@dataclass
class DevServer:
    """`temporal server start-dev` on a SQLite file, with Spoorwerk's search attributes."""

    db: Path
    log: Path
    port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            temporal_cli(),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--db-filename",
            str(self.db),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "error",
            *REPORTED_PROBLEMS_FLAGS,
            *sa.cli_flags(),
        ]

    def spawn(self) -> subprocess.Popen:
        with self.log.open("a") as out:
            out.write(f"--- start {self.starts + 1}\n")
            out.flush()
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        self.starts += 1
        return self.proc

    async def wait_ready(self, client_settings: Settings, seconds: float = 60) -> Client:
        """A client once the server answers and knows the search attributes."""
        deadline = time.monotonic() + seconds
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"dev server exited with {self.proc.returncode}: {tail(self.log)}")
            try:
                client = await connect(client_settings)
                await client.count_workflows(f"{sa.CASE_STAGE.name} = 'spoor1'")
                return client
            except Exception as err:  # refused while it starts: try again
                last = err
                await asyncio.sleep(0.1)
        raise AssertionError(f"dev server not ready in {seconds} s ({last!r}): {tail(self.log)}")

    async def stop(self, sig: int = signal.SIGTERM, seconds: float = 30) -> int | None:
        """Signal the server and wait until it is gone (SIGKILL if it lingers); its exit code."""
        assert self.proc is not None
        signal_group(self.proc, sig)
        code = await wait_exit(self.proc, seconds)
        if code is None:
            signal_group(self.proc, signal.SIGKILL)
            code = await wait_exit(self.proc, 10)
        return code


@dataclass
class WorkerProcess:
    """`python worker.py` joining a Temporal at `env["TEMPORAL_ADDRESS"]`; output kept in files."""

    env: dict[str, str]
    out: Path
    err: Path
    proc: subprocess.Popen | None = None
    starts: int = 0
    root: Path = ROOT  # the code it runs (tests/workflows/test_upgrade.py: an older release's)

    def spawn(self) -> subprocess.Popen:
        self.starts += 1
        with self.out.open("a") as out, self.err.open("a") as err:
            out.write(f"--- start {self.starts}\n")
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(self.root / "worker.py")],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self.proc

    async def start(self, seconds: float = 60) -> subprocess.Popen:
        """Start it and wait for its banner (it prints it once its worker polls); the process."""
        marker = f"--- start {self.starts + 1}\n"
        proc = self.spawn()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = self.out.read_text("utf-8", errors="replace")
            if "Ctrl-C." in text[text.rfind(marker) :]:  # the banner's last line, in either language
                return proc
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker did not start: {tail(self.out)}\n{tail(self.err)}")

    def records(self) -> list[dict]:
        """The JSON log records it wrote, over all its starts."""
        lines = self.err.read_text("utf-8", errors="replace").splitlines() if self.err.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]

    async def kill(self) -> None:
        assert self.proc is not None
        signal_group(self.proc, signal.SIGKILL)
        await wait_exit(self.proc, 10)

    async def stop(self, seconds: float = 60) -> int | None:
        """SIGTERM, as an orchestrator stops it; its exit code."""
        assert self.proc is not None
        signal_group(self.proc, signal.SIGTERM)
        code = await wait_exit(self.proc, seconds)
        if code is None:
            signal_group(self.proc, signal.SIGKILL)
            await wait_exit(self.proc, 10)
        return code


class Processes:
    """What a test started; `close` kills every process group left, whatever happened."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[DevServer | WorkerProcess] = []
        atexit.register(self.close)  # also when the test run ends before the fixture's teardown

    def dev_server(self, name: str = "temporal") -> DevServer:
        server = DevServer(db=self.tmp_path / f"{name}.db", log=self.tmp_path / f"{name}.log")
        self.started.append(server)
        return server

    def worker(self, env: dict[str, str], name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(env=env, out=self.tmp_path / f"{name}.out", err=self.tmp_path / f"{name}.err")
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for item in reversed(self.started):
            if item.proc is not None and item.proc.poll() is None:
                signal_group(item.proc, signal.SIGKILL)
                try:
                    item.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass


def worker_env(address: str, data_dir: Path, task_queue: str, keys: str, **extra: str) -> dict[str, str]:
    """The environment of a worker joining `address`: the test's own values, none inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SPOORWERK_"))}
    env.update(
        TEMPORAL_ADDRESS=address,
        SPOORWERK_API_ENABLED="false",
        SPOORWERK_DATA_DIR=str(data_dir),
        SPOORWERK_TASK_QUEUE=task_queue,
        SPOORWERK_LOG_FORMAT="json",
        SPOORWERK_ENCRYPTION_KEYS=keys,
        SPOORWERK_MEDICAL_KEYS=os.environ.get("SPOORWERK_MEDICAL_KEYS", keys),
        SPOORWERK_SEARCH_KEY=os.environ.get("SPOORWERK_SEARCH_KEY", "search-key-of-the-test-cluster-0123456789"),
        # One API process per test: its own SQLite file is the shared database (required against a cluster).
        SPOORWERK_DATABASE_URL=f"sqlite:///{data_dir / 'spoorwerk.db'}",
        **extra,
    )
    return env


def settings_from(env: dict[str, str]) -> Settings:
    """The settings a process with this environment reads: a client that matches the worker."""
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()


async def delete_workflows(client: Any, workflow_ids: list[str]) -> None:
    """Delete workflows (a running one is terminated first), so that no later test of the session meets a case whose
    worker has gone: a query of it would wait for an answer nobody gives."""
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
    from temporalio.service import RPCError, RPCStatusCode

    for workflow_id in workflow_ids:
        request = DeleteWorkflowExecutionRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id)
        )
        # The dev server, busy with the other process's tests, has cancelled a delete ("operation was canceled").
        for attempt in range(5):
            try:
                await client.workflow_service.delete_workflow_execution(request, timeout=timedelta(seconds=10))
                break
            except RPCError as err:
                if err.status is RPCStatusCode.NOT_FOUND:  # the cancelled attempt had deleted it after all
                    break
                if attempt == 4:
                    raise
                await asyncio.sleep(1 + attempt)
