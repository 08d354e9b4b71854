"""Runs Spoorwerk: `python worker.py [all|worker|api]` (or SPOORWERK_ROLE; default all).

`worker` runs the case and spoor 2 trajectory workflows and their activities, `api` the HTTP API,
dashboard and codec endpoint, `all` both. With no TEMPORAL_ADDRESS it first starts the embedded
Temporal dev server (data under the data folder) and prints where its Web UI is; with
TEMPORAL_ADDRESS it joins that cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from datetime import timedelta

import structlog
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.plugin import SimplePlugin
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.documents import DocumentActivities
from activities.held_notices import LogConfirmer
from activities.imports import ImportActivities
from activities.local_work import LocalWorkActivities
from activities.notify import Notifications, describe_channels
from activities.reporting import ReportingActivities
from documents.store import store_from_settings
from operations import cases
from operations.app import create_app
from operations.auth import Authenticator, authenticator_from
from service import i18n, metrics, tracing
from service.codec import EncryptionKeyError
from service.devserver import start_dev_server
from service.health import Health, serving
from service.i18n import N_, _
from service.logging import configure_logging
from service.reporting import open_store
from service.rulebook import preload
from service.settings import Settings, get_settings
from service.temporal import connect, ensure_search_attributes
from workflows.case_import import CaseImport
from workflows.sandbox import WORKFLOW_RUNNER
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory

log = structlog.get_logger("spoorwerk.worker")
# The banner's last line: tests/processes.py waits for it (in either language) before it uses the service.
STOP_LINE = N_("Stop with Ctrl-C.")


def _row(label: str, value: str) -> str:
    """One indented line of the start banner, its values aligned."""
    return f"  {label + ':':<17}{value}\n"


def warm_up(settings: Settings) -> None:
    """Do now what the first case after a start would otherwise wait for: the translations and Babel's calendar data
    read, the rules and holidays loaded (the API's first opening), the reporting store migrated (Alembic's import is
    most of it). On the time-skipping server the first `local_work` of a fresh worker took 185 ms of CPU for these, the
    next ones about 1 ms (docs/performance.md). Best effort: what fails here is done again, and fails, at its first use."""
    started = time.perf_counter()
    store = "migrated"
    for step in (i18n.warm, preload):  # each on its own: one that fails leaves the other done
        try:
            step()
        except Exception as err:  # noqa: BLE001 - the first message or case meets it again, where it is reported
            log.warning("warm-up incomplete", step=step.__name__, error=type(err).__name__)
    try:
        open_store(settings.reporting_database).dispose()
    except Exception as err:  # noqa: BLE001 - a store that is away now is opened at the first write, as before
        store = "not opened"
        # The error's kind only: its text may hold the store's URL, password included.
        log.warning("reporting store not opened at start; the first write tries again", error=type(err).__name__)
    log.info("warmed up", seconds=round(time.perf_counter() - started, 3), reporting_store=store)


def _beside(work: Callable[[], object]) -> asyncio.Future[None]:
    """`work` in a daemon thread, its end as a future: a service that stops (or fails to start) does not wait for it,
    where `asyncio.to_thread` would hold the process until it ended (a store host that does not answer: minutes)."""
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def settle(err: BaseException | None) -> None:
        if ended.done():
            return
        if err is not None:
            ended.set_exception(err)
        else:
            ended.set_result(None)

    def run() -> None:
        err: BaseException | None = None
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
            err = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle, err)

    threading.Thread(target=contextvars.copy_context().run, args=(run,), name="spoorwerk-warm-up", daemon=True).start()
    return ended


def build_worker(client: Client, settings: Settings, *, task_queue: str | None = None) -> Worker:
    """A worker for the case and trajectory workflows and the activities on the configured task queue."""
    notifications = Notifications.from_settings(settings)
    preload()  # a new case's rules by reference are resolved from them in its first workflow task
    store = store_from_settings(settings)
    documents, imports = DocumentActivities(client, store), ImportActivities(client, store)
    # Its engine opened at its first write (the store itself was migrated at start: warm_up).
    reporting = ReportingActivities(settings.reporting_database)
    local_work = LocalWorkActivities(notifications, reporting)
    plugins = []
    if (log := notifications.log) is not None:
        # Beside the worker: writes the log lines `notify_local` held once their workflow task is recorded.
        confirmer = LogConfirmer(log.held, log.write, client)
        plugins.append(SimplePlugin("spoorwerk.notification-log", run_context=confirmer.beside))
    # An unset limit (None) is the SDK's own default.
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[SickLeaveCase, Spoor2Trajectory, CaseImport],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[
            notifications.notify,
            notifications.notify_batch,
            notifications.notify_local,
            documents.render_document,
            imports.import_chunk,
            reporting.write_case_facts,
            local_work.local_work,
        ],
        activity_executor=ThreadPoolExecutor(max_workers=settings.max_concurrent_activities or 16),
        max_cached_workflows=settings.max_cached_workflows,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.sticky_queue_timeout_seconds),
        # Let a notification in flight finish on SIGTERM rather than be cancelled and retried.
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks or None,
        max_concurrent_activities=settings.max_concurrent_activities or None,
        # Enforced by the server for the whole task queue, so it holds with any number of workers.
        max_task_queue_activities_per_second=settings.max_activities_per_second or None,
        max_activities_per_second=settings.max_worker_activities_per_second or None,
        plugins=plugins,
    )


class ServerWithoutSignals(uvicorn.Server):
    """uvicorn without its own signal handling: the worker's handlers stop both (the tests' servers use it too)."""

    def capture_signals(self):
        return contextlib.nullcontext()


def api_server_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """uvicorn for the API and dashboard. X-Forwarded-Proto and -For are believed only from the proxies in
    SPOORWERK_TRUSTED_PROXIES (uvicorn's own default believes any loopback peer): they decide whether the session
    cookie is Secure and which client address login throttling counts."""
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        lifespan="off",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


ROLES = ("all", "worker", "api")
WARM_UP_WAIT = 10.0  # seconds serve() waits for warm_up after Temporal is there


async def serve(settings: Settings, authenticator: Authenticator | None) -> None:
    """Run the worker (roles all, worker) and, given an authenticator, the API and dashboard until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runs_worker = settings.role != "api"
    health = Health()
    # In a thread beside the server's start (the embedded one takes seconds), awaited before anything uses it.
    warming = _beside(functools.partial(warm_up, settings))
    async with AsyncExitStack() as stack:
        if runs_worker and settings.health_bind:  # first: /healthz answers while Temporal is looked for
            await stack.enter_async_context(serving(settings.health_bind, health.readiness))
        if settings.embedded:
            env = await stack.enter_async_context(await start_dev_server(settings))
            client = env.client
            where = (
                _("the embedded Temporal dev server at %(address)s", address=settings.target_host)
                + "\n"
                + _row(_("Temporal Web UI"), f"http://{settings.dev_server_ip}:{settings.dev_server_ui_port}")
                + _row(_("data folder"), str(settings.data_dir)).rstrip("\n")
            )
        else:
            client = await connect(settings)
            where = _(
                "Temporal at %(address)s, namespace %(namespace)s",
                address=settings.target_host,
                namespace=settings.temporal_namespace,
            )
        # Also on the embedded server: a data folder from an older version lacks newer attributes.
        try:
            added = await ensure_search_attributes(client, settings.temporal_namespace)
            if added:
                log.info("search attributes registered", added=added)
        except RPCError as err:  # e.g. Temporal Cloud: register them through its own tooling
            log.warning("could not check search attributes", error=str(err))
        try:  # a store host that does not answer (its connect waits for the network's timeout) delays this much at most
            await asyncio.wait_for(asyncio.shield(warming), WARM_UP_WAIT)
        except TimeoutError:
            log.warning("warm-up still running; the service starts without waiting for it")
        api = ""
        server = None
        api_app: FastAPI | None = None
        if authenticator is not None:
            from operations.signin import SignIn

            # Dashboard sessions in the service's database: they outlive a restart and hold across API replicas.
            from service.audit import AuditStore
            from service.db import open_database

            database = open_database(settings.database)
            signin = SignIn.from_settings(settings, database)
            from operations.people import search_key
            from operations.uwv import desk_from_settings

            api_app = create_app(
                client,
                authenticator,
                task_queue=settings.task_queue,
                codec_origins=settings.codec_origins,
                document_store=store_from_settings(settings),
                signin=signin,
                audit=AuditStore(database),
                search_key=search_key(settings),
                reporting=open_store(settings.reporting_database),  # migrated to the newest revision at start
                uwv=desk_from_settings(settings, database),
            )  # read (or made) at start: a missing key fails now
            server = ServerWithoutSignals(api_server_config(api_app, settings))
            token = (
                "SPOORWERK_API_TOKENS"
                if settings.api_tokens
                else _("operations token in %(file)s", file=settings.api_token_file)
            )
            base = f"http://{settings.api_host}:{settings.api_port}"
            sign_in = (
                _("sign in with an API token or via %(provider)s", provider=signin.oidc.name)
                if signin.oidc
                else _("sign in with an API token")
            )
            api = _row(_("dashboard"), f"{base}/ ({sign_in})") + _row(
                "API", _("%(url)s (OpenAPI document at /openapi.json; %(token)s)", url=f"{base}/api", token=token)
            )
            if settings.embedded and not settings.api_tokens:  # the demo's tokens reach this service only
                api += _row(
                    "demo", _("`make demo` (in another terminal) opens demo cases and makes a sign-in for every role")
                )
        worker = build_worker(client, settings) if runs_worker else None
        async with worker or contextlib.nullcontext():
            health.polling = worker is not None
            runtime = metrics.runtime(settings)
            counting = (
                asyncio.create_task(
                    metrics.refresh_cases_gauge(
                        functools.partial(cases.running_by_stage, client),
                        runtime.metric_meter,
                        settings.metrics_refresh_seconds,
                    )
                )
                if runtime is not None and worker is not None
                else None
            )
            served = asyncio.create_task(server.serve()) if server else None
            while server and served and not server.started and not served.done():  # noqa: ASYNC110 (uvicorn has no "started" event)
                await asyncio.sleep(0.05)
            if served is not None and served.done():
                raise SystemExit(f"spoorwerk: the API could not listen on {settings.api_host}:{settings.api_port}")
            print(
                _("Spoorwerk (%(role)s) is running on %(where)s", role=settings.role, where=where)
                + "\n"
                + _row(_("task queue"), settings.task_queue)
                + _row(_("notifications"), describe_channels(settings))
                + api
                + _(STOP_LINE),
                flush=True,
            )
            log.info(
                "worker started" if worker else "api started",
                role=settings.role,
                task_queue=settings.task_queue,
                temporal=settings.target_host,
                namespace=settings.temporal_namespace,
                embedded=settings.embedded,
            )
            await stop.wait()
            # Not ready from now on; leaving the block lets running activities finish (graceful_shutdown_seconds).
            health.stopping = True
            if api_app is not None:
                api_app.state.stopping = True
            log.info("worker stopping")
            if counting is not None:
                counting.cancel()
            if server is not None and served is not None:
                server.should_exit = True
                await served
    log.info("worker stopped")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["-h"], ["--help"]):
        print(f"usage: spoorwerk-service [{'|'.join(ROLES)}]  (default: SPOORWERK_ROLE, else all)")
        sys.exit(0)
    if len(args) > 1 or (args and args[0] not in ROLES):
        print(
            f"spoorwerk: unknown role {' '.join(args)!r}: use one of {', '.join(ROLES)} (or set SPOORWERK_ROLE)",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        settings = get_settings()
        if args:  # the argument wins over SPOORWERK_ROLE
            settings = settings.model_copy(update={"role": args[0]})
    except ValidationError as err:
        # A configuration mistake is the operator's to fix: say which setting and why, no traceback.
        problems = "; ".join(
            e["msg"].removeprefix("Value error, ") + (f" ({'.'.join(map(str, e['loc']))})" if e["loc"] else "")
            for e in err.errors(include_url=False)
        )
        print(f"spoorwerk: configuration error: {problems}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_format, settings.log_level)
    i18n.set_language(settings.language)  # the start banner and what else a person reads from this process
    # What the service writes (histories, documents, logs, keys, audit) is for its own user: no file it makes,
    # nor one the dev server makes for it, is readable by others on the machine.
    os.umask(0o077)
    authenticator = None
    if settings.role == "api" or (settings.role == "all" and settings.api_enabled):
        try:
            authenticator = authenticator_from(
                settings.api_tokens.get_secret_value() if settings.api_tokens else None,
                settings.api_token_file,
                min_length=settings.min_token_length,
            )
        except ValueError as err:
            print(f"spoorwerk: configuration error: {err}", file=sys.stderr)
            sys.exit(2)
        if not settings.embedded and settings.database_url is None:
            # A SQLite file in one process's data folder would hold the read audit of that process only, lost with
            # its volume, and sessions one replica made would not open on the next.
            print(
                "spoorwerk: configuration error: SPOORWERK_DATABASE_URL is required when the API runs against "
                "TEMPORAL_ADDRESS: the read audit and the dashboard's sessions must outlive the process and be "
                "shared by every API replica",
                file=sys.stderr,
            )
            sys.exit(2)
        if not settings.embedded and settings.search_key is None:
            # A key of its own per replica would find on one replica what another opened on none.
            print(
                "spoorwerk: configuration error: SPOORWERK_SEARCH_KEY is required when the API runs against "
                "TEMPORAL_ADDRESS: the search by surname or personnel number hashes with it, and every API "
                "replica must share it",
                file=sys.stderr,
            )
            sys.exit(2)
    try:
        asyncio.run(serve(settings, authenticator))
    except EncryptionKeyError as err:  # e.g. a damaged key file in the data folder
        print(f"spoorwerk: configuration error: {err}", file=sys.stderr)
        sys.exit(2)
    tracing.flush()
    # Everything is shut down. Skip interpreter teardown: the Temporal bridge's threads can abort
    # it with "PyGILState_Release: thread state must be current" (temporalio/sdk-python#300).
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
