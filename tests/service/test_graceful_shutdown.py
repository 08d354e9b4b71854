"""SIGTERM to `python worker.py worker`, as Kubernetes stops a pod: with a notification in flight
the worker stops taking work, says it is not ready, lets the delivery finish, and exits 0; the
notification reaches the webhook once and the case's history records it completed on its first attempt.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain.case import CaseOpening
from domain.models import Actor
from operations import cases
from tests.loopback import free_port
from tests.processes import Processes, signal_group, wait_exit, worker_env
from tests.service.test_observability import eventually, role_process, today

pytestmark = pytest.mark.devserver

GRACE_SECONDS = 30


class SlowWebhook:
    """Answers 200, but holds the first delivery until released: a notification in flight."""

    def __init__(self) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook._lock:
                    hook.requests.append({"key": self.headers["Idempotency-Key"], **body})
                    first = not hook.held.is_set()
                    hook.held.set()
                if first:
                    hook.release.wait(120)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/spoorwerk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


async def test_sigterm_lets_the_notification_in_flight_finish_and_exits_0(dev_env: WorkflowEnvironment, tmp_path):
    processes = Processes(tmp_path)
    hook = SlowWebhook()
    try:
        health = f"http://127.0.0.1:{free_port()}"
        queue = f"tq-term-{uuid.uuid4().hex[:8]}"
        env = worker_env(
            dev_env.client.service_client.config.target_host,
            tmp_path / "data",
            queue,
            os.environ["SPOORWERK_ENCRYPTION_KEYS"],
            SPOORWERK_NOTIFY_CHANNELS="log,webhook",
            SPOORWERK_WEBHOOK_URL=hook.url,
            SPOORWERK_WEBHOOK_SECRET="term-secret",
            SPOORWERK_WEBHOOK_TIMEOUT_SECONDS="120",
            SPOORWERK_HEALTH_ADDRESS=health.removeprefix("http://"),
            SPOORWERK_GRACEFUL_SHUTDOWN_SECONDS=str(GRACE_SECONDS),
        )
        worker = role_process(processes, env, "worker", "worker")
        proc = await worker.start()
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{health}/readyz")).status_code == 200

            # Opened in its first week: the employer is reminded of the ziekmelding at once.
            case_id = f"Cterm{uuid.uuid4().hex[:6]}"
            await cases.open_case(
                dev_env.client,
                CaseOpening(
                    case_id=case_id,
                    employer_id="E-term",
                    opened_by=Actor(role="casemanager"),
                    first_sick_day=today() - timedelta(days=2),
                ),
                task_queue=queue,
                documents=False,
            )
            assert await asyncio.to_thread(hook.held.wait, 60), "no notification reached the webhook"

            signal_group(proc, signal.SIGTERM)

            async def not_ready() -> dict:
                ready = await http.get(f"{health}/readyz")
                assert ready.status_code == 503
                return ready.json()

            # Draining: not ready (no new work), still alive, the delivery still held and the process running.
            assert await eventually(not_ready, seconds=10) == {"status": "not ready", "reason": "stopping"}
            assert (await http.get(f"{health}/healthz")).status_code == 200
            assert proc.poll() is None  # it waits for the held delivery
            hook.release.set()
            assert await wait_exit(proc, GRACE_SECONDS + 15) == 0

        # Delivered once: the webhook got each notification once, the held one included.
        held = hook.requests[0]
        sent = [r["notification_id"] for r in hook.requests]
        assert len(sent) == len(set(sent)) and held["notification_id"] in sent
        assert held["case_id"] == case_id and held["key"] == held["notification_id"]
        # The activity finished on the worker that was stopping, on its first attempt: nothing is left to retry it.
        handle = cases.case_handle(dev_env.client, case_id)
        history = await handle.fetch_history()
        started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        completed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
        given_up = [
            e
            for e in history.events
            if e.event_type
            in (
                EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
                EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
                EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
            )
        ]
        assert started and len(completed) == len(started) and not given_up
        assert all(e.activity_task_started_event_attributes.attempt == 1 for e in started)
        # Retries are not in the history until they end: none is pending either (those left are not begun).
        pending = (await handle.describe()).raw_description.pending_activities
        assert [(p.attempt, p.HasField("last_failure")) for p in pending] == [(1, False)] * len(pending)
        # In the worker's own words: it stopped taking work, then the webhook delivery finished, then it stopped.
        events = [(r["event"], r.get("notification"), r.get("channel"), r.get("outcome")) for r in worker.records()]
        stopping, stopped = (
            events.index(("worker stopping", None, None, None)),
            events.index(("worker stopped", None, None, None)),
        )
        delivered = [
            n for n, e in enumerate(events) if e == ("notification channel", held["kind"], "webhook", "delivered")
        ]
        assert any(stopping < n < stopped for n in delivered), events
    finally:
        processes.close()
        hook.close()
