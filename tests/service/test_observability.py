"""What an operator sees of a running worker: its Prometheus metrics, its traces, its logs, its
health endpoints; and the API role, which runs no worker.

One `python worker.py worker` process on the dev server runs a handful of cases with a webhook that
refuses every notification, exporting traces to an OTLP receiver on loopback; the tests then read
what it reported and compare it with what the cases themselves recorded.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.notify import NotificationLog
from domain.case import CaseOpening
from domain.models import Actor, Stage
from domain.nl_time import local_date
from operations import cases
from service import tracing
from tests.conftest import DATA_CONVERTER
from tests.loopback import free_port
from tests.processes import (
    ROOT,
    Processes,
    WorkerProcess,
    delete_workflows,
    encryption_keys,
    settings_from,
    worker_env,
)
from workflows.sick_leave_case import SickLeaveCase

pytestmark = pytest.mark.devserver

T = TypeVar("T")
# Personal data a case may carry (contacts, a free-text note): none of it may reach a metric, span or log line.
EMAIL = "j.de.vries@example.nl"
NOTE = "Jan de Vries, hernia L4-L5, BSN 123456782"


def today() -> date:
    return local_date(datetime.now(timezone.utc))


async def eventually(check: Callable[[], Awaitable[T]], seconds: float = 30.0) -> T:
    """The value of `check()` once it stops raising AssertionError (visibility, batches and scrapes lag)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


# ------------------------------------------------------------------ receivers on loopback


class Receiver:
    """An HTTP server on loopback that answers every POST with `status` and keeps the bodies."""

    def __init__(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                with receiver._lock:
                    receiver.bodies.append(data)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self) -> list[bytes]:
        with self._lock:
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Span:
    name: str
    trace_id: bytes
    service: str
    attributes: dict[str, Any]
    text: str  # everything the span carries, to look for personal data in


def spans(receiver: Receiver) -> list[Span]:
    """Every span the OTLP receiver got, decoded from OTLP/protobuf."""
    found = []
    for body in receiver.received():
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
                    found.append(
                        Span(span.name, span.trace_id, resource.get("service.name", ""), attributes, str(span))
                    )
    return found


# ------------------------------------------------------------------ Prometheus text


SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of metric `name` in Prometheus text: (labels, value)."""
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            found.append((dict(LABEL.findall(match["labels"] or "")), float(match["value"])))
    return found


def total(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for l, v in samples(text, name) if all(l.get(k) == want for k, want in labels.items()))


# ------------------------------------------------------------------ a worker process in a role


@dataclass
class RoleProcess(WorkerProcess):
    """`python worker.py <role>`, its output in files (tests/processes.py's WorkerProcess, with the argument)."""

    role: str = "worker"

    def spawn(self) -> subprocess.Popen:
        self.starts += 1
        with self.out.open("a") as out, self.err.open("a") as err:
            out.write(f"--- start {self.starts}\n")
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py"), self.role],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self.proc


def role_process(processes: Processes, env: dict[str, str], role: str, name: str) -> RoleProcess:
    proc = RoleProcess(
        env=env, out=processes.tmp_path / f"{name}.out", err=processes.tmp_path / f"{name}.err", role=role
    )
    processes.started.append(proc)
    return proc


# ------------------------------------------------------------------ the observed worker and its cases


@dataclass
class Observed:
    client: Client  # traced, in this process
    provider: Any  # this process's tracer provider (flushed before reading spans)
    worker: RoleProcess
    env: dict[str, str]
    otlp: Receiver
    webhook: Receiver
    metrics_url: str
    health_url: str
    baseline: dict[str, int]  # running cases per stage before this module's cases
    opened: dict[str, Stage] = field(default_factory=dict)  # case id -> the stage it is in
    run_ids: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return Path(self.env["SPOORWERK_DATA_DIR"])

    async def scrape(self) -> str:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(self.metrics_url)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        return response.text

    async def dossiers(self) -> dict[str, list]:
        return {
            case_id: await cases.case_handle(self.client, case_id).query(SickLeaveCase.dossier)
            for case_id in self.opened
        }


def action(kind: str, role: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "action_id": f"a-{uuid.uuid4().hex[:12]}",
        "actor": {"role": role},
        "on": today().isoformat(),
        **fields,
    }


async def run_cases(observed: Observed, task_queue: str) -> None:
    """Three cases: one overdue since its opening (escalation level 1), one whose employee does not
    cooperate (level 3 at once), one in spoor 1; every notification is refused by the webhook."""
    client, tag = observed.client, uuid.uuid4().hex[:6]
    contacts = {"casemanager": [EMAIL], "werkgever": [EMAIL]}
    plans = {
        f"Obslate{tag}": (60, [], Stage.ZIEKMELDING),
        f"Obsrefusing{tag}": (
            20,
            [action("ziekmelding_arbodienst_sent", "werkgever"), action("non_cooperation_recorded", "werkgever")],
            Stage.SPOOR1,
        ),
        f"Obsspoor{tag}": (
            30,
            [
                action("ziekmelding_arbodienst_sent", "werkgever"),
                action("probleemanalyse_recorded", "bedrijfsarts", note=NOTE),
            ],
            Stage.SPOOR1,
        ),
    }
    for case_id, (days, actions, _) in plans.items():
        # The late case declares its probleemanalyse not done, so it is observed (and escalates) at once rather
        # than after the backfill days a case opened late gets to enter its past.
        declared = [{"key": "probleemanalyse", "done_on": None}] if case_id.startswith("Obslate") else []
        opening = CaseOpening(
            case_id=case_id,
            employer_id="E-obs",
            opened_by=Actor(role="casemanager", id="cm-1"),
            first_sick_day=today() - timedelta(days=days),
            contacts=contacts,
            prior_steps=declared,
        )
        handle = await cases.open_case(client, opening, task_queue=task_queue, documents=False)
        observed.run_ids[case_id] = handle.result_run_id or ""
        for payload in actions:
            await cases.act(client, case_id, payload)
    # A refused action: its reason travels on a span, never the note it carried.
    with pytest.raises(cases.ActionRejected):
        await cases.act(client, next(iter(plans)), action("evaluatie_held", "casemanager", note=NOTE))
    for case_id, (_, _, _) in plans.items():
        summary = await cases.summary(client, case_id)
        observed.opened[case_id] = summary.stage


@pytest.fixture(scope="module")
async def observed(dev_env: WorkflowEnvironment, tmp_path_factory) -> AsyncIterator[Observed]:
    processes = Processes(tmp_path_factory.mktemp("observed"))
    otlp = Receiver(200, b"", "application/x-protobuf")
    webhook = Receiver(400)  # every notification refused for good: a permanent failure per notification
    address = dev_env.client.service_client.config.target_host
    metrics_port, health_port = free_port(), free_port()
    queue = f"tq-obs-{uuid.uuid4().hex[:8]}"
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "spoorwerk-test",
    }
    env = worker_env(
        address,
        processes.tmp_path / "data",
        queue,
        os.environ["SPOORWERK_ENCRYPTION_KEYS"],
        SPOORWERK_NOTIFY_CHANNELS="log,webhook",
        SPOORWERK_WEBHOOK_URL=f"{webhook.url}/hooks",
        SPOORWERK_WEBHOOK_SECRET="obs-secret",
        SPOORWERK_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}",
        SPOORWERK_HEALTH_ADDRESS=f"127.0.0.1:{health_port}",
        SPOORWERK_METRICS_REFRESH_SECONDS="0.5",
        **otel,
    )
    provider = None
    try:
        # This process's client traces too, to the same receiver: the worker's spans join its traces.
        with mock.patch.dict(os.environ, otel):
            provider = tracing.tracer_provider()
        client = await Client.connect(
            address, data_converter=DATA_CONVERTER, interceptors=[tracing.interceptor(provider)]
        )
        baseline = {s.value: await cases.count_cases(client, stage=s) for s in Stage}
        worker = role_process(processes, env, "worker", "worker")
        await worker.start()
        observed = Observed(
            client,
            provider,
            worker,
            env,
            otlp,
            webhook,
            f"http://127.0.0.1:{metrics_port}/metrics",
            f"http://127.0.0.1:{health_port}",
            baseline,
        )
        await run_cases(observed, queue)
        yield observed
        # Its worker goes with the module: the cases it served would stay on the session's dev server with nobody to
        # answer for them, and a later module that lists every case (the operations role) would wait on each.
        await delete_workflows(client, [w.id async for w in client.list_workflows(f"TaskQueue = '{queue}'")])
    finally:
        processes.close()
        if provider is not None:
            provider.shutdown()
        otlp.close()
        webhook.close()


# ------------------------------------------------------------------ metrics


async def test_metrics_endpoint_shows_the_sdk_and_the_service_metrics_after_cases_run(observed: Observed):
    async def escalations_counted() -> tuple[str, Counter]:
        # What the cases recorded is the truth the counters must match: every escalation step once.
        recorded = Counter(
            str(e.details["level"])
            for d in (await observed.dossiers()).values()
            for e in d
            if e.kind == "escalation_raised"
        )
        text = await observed.scrape()
        assert {
            level: int(total(text, "spoorwerk_escalations_raised_total", level=level)) for level in recorded
        } == recorded
        assert total(text, "spoorwerk_escalations_raised_total") == sum(recorded.values())
        return text, recorded

    text, escalations = await eventually(escalations_counted)
    assert escalations["1"] >= 1 and escalations["3"] >= 1, escalations

    async def notifications_counted() -> str:
        failed = [e for d in (await observed.dossiers()).values() for e in d if e.kind == "notification_failed"]
        logged = NotificationLog(observed.data_dir / "notifications.jsonl").read()
        text = await observed.scrape()
        # Every notification went to the log and was refused by the webhook: counted once each, per channel.
        assert failed and len(failed) == len(logged) == len(observed.webhook.received())
        assert total(text, "spoorwerk_notifications_sent_total", channel="log") == len(logged)
        assert total(text, "spoorwerk_notifications_failed_total", channel="webhook", failure="permanent") == len(
            failed
        )
        assert total(text, "spoorwerk_notifications_sent_total", channel="webhook") == 0
        return text

    await eventually(notifications_counted)

    expected = Counter(stage.value for stage in observed.opened.values())

    async def cases_gauge() -> str:
        text = await observed.scrape()
        gauge = {labels["stage"]: value for labels, value in samples(text, "spoorwerk_cases")}
        assert gauge == {s.value: observed.baseline[s.value] + expected[s.value] for s in Stage}
        return text

    text = await eventually(cases_gauge)
    # The SDK runtime's own metrics on the same endpoint: the worker's polls, tasks and activities.
    for name in (
        "temporal_request_total",
        "temporal_workflow_task_execution_latency_count",
        "temporal_activity_execution_latency_count",
    ):
        assert total(text, name) > 0, name
    assert samples(text, "spoorwerk_escalations_raised_total")[0][0]["workflow_type"] == "SickLeaveCase"
    assert EMAIL not in text and "Vries" not in text and not any(case_id in text for case_id in observed.opened)


# ------------------------------------------------------------------ logs


async def test_every_log_line_about_a_case_names_the_case_its_workflow_and_run(observed: Observed):
    async def lines_about_cases() -> list[dict]:
        records = observed.worker.records()
        about = [r for r in records if r.get("case_id") in observed.opened]
        events = {r["event"] for r in about}
        assert {"action applied", "notification channel"} <= events, events
        return records

    records = await eventually(lines_about_cases)
    about = [r for r in records if "temporal_workflow" in r or "temporal_activity" in r or "case_id" in r]
    assert about
    for record in about:
        case_id = record.get("case_id")
        assert case_id and record.get("workflow_id") and record.get("run_id"), record
        assert record["workflow_id"] in (f"case-{case_id}", f"case-{case_id}-spoor2"), record
    for case_id, run_id in observed.run_ids.items():
        mine = [r for r in about if r["case_id"] == case_id]
        # The run that opened the case (none of them continued as new meanwhile).
        assert mine and {r["run_id"] for r in mine} == {run_id}
    # A notification's lines carry the case as fields from the activity, not from the message.
    notified = [r for r in about if r["event"] == "notification channel"]
    assert {r["channel"] for r in notified} == {"log", "webhook"}
    assert {r["outcome"] for r in notified if r["channel"] == "webhook"} == {"failed"}
    text = observed.worker.err.read_text("utf-8")
    assert EMAIL not in text and "Vries" not in text and "123456782" not in text


# ------------------------------------------------------------------ traces


async def test_traces_follow_a_case_from_the_client_through_the_worker_without_personal_data(observed: Observed):
    observed.provider.force_flush(5000)

    async def traced() -> list[Span]:
        found = spans(observed.otlp)
        names = {s.name for s in found}
        assert {
            "StartWorkflow:SickLeaveCase",
            "RunWorkflow:SickLeaveCase",
            "StartWorkflowUpdate:act",
            "ValidateUpdate:act",
            "HandleUpdate:act",
            "StartActivity:notify_batch",
            "RunActivity:notify_batch",
        } <= names, names
        return found

    found = await eventually(traced)
    workflow_ids = {f"case-{case_id}" for case_id in observed.opened}
    # Each case's workflow and update spans on the worker belong to the trace its client call began.
    for case_id in observed.opened:
        started = [
            s
            for s in found
            if s.name == "StartWorkflow:SickLeaveCase" and s.attributes.get("temporalWorkflowID") == f"case-{case_id}"
        ]
        assert len(started) == 1
        ran = [
            s
            for s in found
            if s.name == "RunWorkflow:SickLeaveCase" and s.attributes.get("temporalWorkflowID") == f"case-{case_id}"
        ]
        assert ran and {s.trace_id for s in ran} == {started[0].trace_id}
        assert {s.service for s in ran} == {"spoorwerk-test"}
    # Spans carry Temporal's ids only: no payload, no contact, no note, also not on the refused action's span.
    keys = {key for s in found for key in s.attributes}
    assert keys <= {"temporalWorkflowID", "temporalRunID", "temporalUpdateID", "temporalActivityID"}, keys
    assert {s.attributes["temporalWorkflowID"] for s in found if "temporalWorkflowID" in s.attributes} <= workflow_ids
    for span in found:
        assert EMAIL not in span.text and "Vries" not in span.text and "123456782" not in span.text, span.name


# ------------------------------------------------------------------ health


async def test_the_worker_role_reports_live_and_ready_while_it_polls(observed: Observed):
    async with httpx.AsyncClient(timeout=10) as http:
        live = await http.get(f"{observed.health_url}/healthz")
        ready = await http.get(f"{observed.health_url}/readyz")
        assert (live.status_code, live.json()) == (200, {"status": "ok"})
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        assert (await http.get(f"{observed.health_url}/api/me")).status_code == 404  # no API in the worker role
    # Before it polled, it read its translations and migrated its reporting store (worker.warm_up): the first case's
    # first write does not wait for them.
    events = [r["event"] for r in observed.worker.records()]
    assert events.index("warmed up") < events.index("worker started")
    [warmed] = [r for r in observed.worker.records() if r["event"] == "warmed up"]
    assert warmed["reporting_store"] == "migrated"


async def test_the_api_role_serves_health_without_a_worker_and_is_unready_while_temporal_is_down(tmp_path):
    processes = Processes(tmp_path)
    try:
        server = processes.dev_server()
        queue = f"tq-api-{uuid.uuid4().hex[:8]}"
        api_port = free_port()
        token = f"tok-{uuid.uuid4().hex}"
        env = worker_env(
            server.address,
            tmp_path / "data",
            queue,
            encryption_keys(),
            SPOORWERK_API_PORT=str(api_port),
            SPOORWERK_API_TOKENS=json.dumps({token: {"role": "operations", "id": "ops-1"}}),
        )
        server.spawn()
        client = await server.wait_ready(settings_from(env))
        # The argument wins over SPOORWERK_ROLE.
        api = role_process(processes, {**env, "SPOORWERK_ROLE": "worker"}, "api", "api")
        await api.start()
        url = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{url}/healthz")).status_code == 200
            assert (await http.get(f"{url}/readyz")).json() == {"status": "ready"}
            assert (await http.get(f"{url}/api/me")).status_code == 401  # the API itself still wants a token
            me = await http.get(f"{url}/api/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["role"] == "operations"
            # No worker: nothing polls the task queue, so a case opened there does not start.
            pollers = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace="default",
                    task_queue=TaskQueue(name=queue),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            assert list(pollers.pollers) == []
            started = [r for r in api.records() if r.get("event") in ("worker started", "api started")]
            assert [(r["event"], r["role"]) for r in started] == [("api started", "api")]

            await server.stop(signal.SIGKILL)

            async def unready() -> dict:
                ready = await http.get(f"{url}/readyz")
                assert ready.status_code == 503
                return ready.json()

            body = await eventually(unready)
            assert body["status"] == "not ready" and body["reason"].startswith("Temporal does not answer")
            assert (await http.get(f"{url}/healthz")).status_code == 200  # alive: no reason to restart it
            server.spawn()
            await server.wait_ready(settings_from(env))

            async def ready_again() -> None:
                assert (await http.get(f"{url}/readyz")).status_code == 200

            await eventually(ready_again)
        assert await api.stop() == 0
    finally:
        processes.close()


def test_an_unknown_role_stops_with_the_roles_named(tmp_path):
    env = worker_env("127.0.0.1:1", tmp_path, "tq", encryption_keys())
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "bogus"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "spoorwerk: unknown role 'bogus': use one of all, worker, api (or set SPOORWERK_ROLE)\n"
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=ROOT,
        env={**env, "SPOORWERK_ROLE": "workers"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.startswith(
        "spoorwerk: configuration error: Input should be 'all', 'worker' or 'api' (role)"
    )
