"""What the benchmark runs on: the embedded dev server, one worker process, load and measurements."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from service.devserver import start_dev_server
from service.settings import Settings
from tests.loopback import free_port  # below the ephemeral range: the dev server's own bind(0) picks cannot take it

ROOT = Path(__file__).resolve().parent.parent
SPOORWERK_QUEUE = "bench-spoorwerk"
BASELINE_QUEUE = "bench-baseline"
FLOOR_QUEUE = "bench-floor"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of a process so far; NaN for none."""
    if pid is None:
        return float("nan")
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


@dataclass
class Load:
    """What a batch of calls measured: wall time, each call's latency, failures."""

    count: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


CALL_TIMEOUT = 120.0  # a call that takes longer is counted as an error, so a stuck worker cannot hang the run


async def run_load(calls: Iterable[Callable[[], Awaitable[Any]]], concurrency: int) -> Load:
    """Run the calls with at most `concurrency` in flight; latency of each, wall time of all."""
    queue = list(calls)
    latencies: list[float] = []
    errors: list[str] = []
    it = iter(queue)

    async def lane() -> None:
        for call in it:
            t = time.perf_counter()
            try:
                await asyncio.wait_for(call(), CALL_TIMEOUT)
            except Exception as err:  # counted and reported, never hidden
                errors.append(f"{type(err).__name__}: {err}"[:300])
                continue
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return Load(count=len(latencies), seconds=time.perf_counter() - start, latencies=latencies, errors=errors)


class WorkerProcess:
    """`python -m benchmarks.worker` against a server: Spoorwerk's and the baseline's worker."""

    def __init__(
        self,
        target: str,
        data_dir: Path,
        *,
        unsandboxed: bool = False,
        env: dict[str, str] | None = None,
        queue: str = SPOORWERK_QUEUE,
        baseline_queue: str = BASELINE_QUEUE,
        floor_queue: str = FLOOR_QUEUE,
    ) -> None:
        self.target = target
        self.queue, self.baseline_queue, self.floor_queue = queue, baseline_queue, floor_queue
        self.data_dir = data_dir
        self.metrics_port = free_port()
        self.unsandboxed = unsandboxed
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / f"worker-{self.metrics_port}.log"

    async def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "SPOORWERK_DATA_DIR": str(self.data_dir),
            "SPOORWERK_LOG_LEVEL": "warning",
            "SPOORWERK_LOG_FORMAT": "json",
            **self.env,
        }
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.worker",
            "--target",
            self.target,
            "--queue",
            self.queue,
            "--baseline-queue",
            self.baseline_queue,
            "--floor-queue",
            self.floor_queue,
            "--metrics-port",
            str(self.metrics_port),
        ]
        if self.unsandboxed:
            cmd.append("--unsandboxed")
        out = self.log.open("w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=out, text=True)
        assert self.proc.stdout is not None  # PIPE
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"the worker did not start: {self.log.read_text()[-2000:]}")
        # Keep reading its stdout (the SDK core writes its warnings there): a full pipe would block
        # the core's thread that writes, and with it the whole worker.
        threading.Thread(target=self._drain, args=(self.proc.stdout, out), daemon=True).start()
        return self

    @staticmethod
    def _drain(stream: Any, out: Any) -> None:
        for line in stream:
            out.write(line)
            out.flush()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    async def metrics(self) -> dict[str, float]:
        """The worker's Prometheus counters, summed per metric name and workflow type."""
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)).text
        sums: dict[str, float] = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)$", line)
            if not m:
                continue
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            wf = re.search(r'workflow_type="([^"]*)"', labels)
            key = f"{name}[{wf.group(1)}]" if wf else name
            sums[key] = sums.get(key, 0.0) + value
            sums[name + "[*]"] = sums.get(name + "[*]", 0.0) + value
        return sums

    async def workflow_tasks(self, workflow_type: str = "*") -> float:
        """Workflow tasks completed so far (of one type, or all)."""
        m = await self.metrics()
        return m.get(f"temporal_workflow_task_execution_latency_count[{workflow_type}]", 0.0)

    async def activities_done(self) -> float:
        m = await self.metrics()
        return m.get("temporal_activity_execution_latency_count[*]", 0.0)

    async def settle(self, *, quiet: float = 1.0, timeout: float = 900, cached: int | None = None) -> float:
        """Wait until no workflow task or activity completes for `quiet` seconds (and, given `cached`,
        until that many workflows sit in the worker's cache: each has had its first task); returns when
        the last one completed (perf_counter), i.e. when the worker had caught up."""
        deadline = time.perf_counter() + timeout
        last_value, last_change = None, time.perf_counter()
        while time.perf_counter() < deadline:
            m = await self.metrics()
            value = (
                m.get("temporal_workflow_task_execution_latency_count[*]", 0.0),
                m.get("temporal_activity_execution_latency_count[*]", 0.0),
            )
            now = time.perf_counter()
            behind = cached is not None and m.get("temporal_sticky_cache_size[*]", 0.0) < cached
            if value != last_value:
                last_value, last_change = value, now
            elif now - last_change >= quiet and not behind:
                return last_change
            await asyncio.sleep(0.05)
        raise TimeoutError("the worker did not settle")

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 30)
        except asyncio.TimeoutError:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


async def start_devserver(data_dir: Path) -> WorkflowEnvironment:
    """The embedded dev server exactly as `make run` starts it (SQLite on disk, WAL pragmas), on free ports."""
    settings = Settings(
        data_dir=data_dir, dev_server_port=free_port(), dev_server_ui_port=free_port(), api_enabled=False
    )
    return await start_dev_server(settings)


def server_pid(name: str) -> int | None:
    """The pid of a server binary this process started (the dev server or the time-skipping server)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name().startswith(name):
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def target_of(client: Client) -> str:
    return client.service_client.config.target_host


class Stack(AsyncExitStack):
    """The dev server and the worker process; closed together."""

    env: WorkflowEnvironment
    worker: WorkerProcess
    server_pid: int | None

    @classmethod
    async def start(cls, data_dir: Path, **worker_options: Any) -> Stack:
        stack = cls()
        await stack.__aenter__()
        try:
            stack.env = await stack.enter_async_context(await start_devserver(data_dir / "server"))
            stack.server_pid = server_pid("temporal")
            stack.worker = await WorkerProcess(
                target_of(stack.env.client), data_dir / "worker", **worker_options
            ).start()
            stack.push_async_callback(stack.worker.stop)
        except BaseException:
            await stack.aclose()
            raise
        return stack

    @property
    def client(self) -> Client:
        return self.env.client
