"""The API and dashboard served for tests: the real app on loopback, a worker, the dev server.

Registered as a pytest plugin in conftest. The server runs in the test's own event loop, so tests
talk to it asynchronously (httpx.AsyncClient, Playwright's async API, asyncio subprocesses): a
blocking call would stall the server it waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
import uvicorn
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from documents.store import store_from_settings
from domain.models import Role
from operations.app import create_app
from operations.auth import Caller, TokenAuthenticator
from operations.uwv import desk_from_settings
from service.audit import AuditStore
from service.db import open_database
from service.reporting import open_store
from service.settings import Settings
from tests.loopback import free_port
from worker import ServerWithoutSignals, build_worker

# One caller per role, and a second employer to show that employers only see their own cases.
CALLERS = {
    "operations": Caller(role=Role.OPERATIONS, id="ops-1"),
    "casemanager": Caller(role=Role.CASEMANAGER, id="cm-1"),
    "reintegratiecoach": Caller(role=Role.REINTEGRATIECOACH, id="coach-1"),
    "other_coach": Caller(role=Role.REINTEGRATIECOACH, id="coach-8"),
    "bedrijfsarts": Caller(role=Role.BEDRIJFSARTS, id="arts-1"),
    "arbeidsdeskundige": Caller(role=Role.ARBEIDSDESKUNDIGE, id="ad-1"),
    "werkgever": Caller(role=Role.WERKGEVER, id="hr-1", employer_id="E-api"),
    "other_werkgever": Caller(role=Role.WERKGEVER, id="hr-2", employer_id="E-other"),
    # Professionals of the same roles who are not assigned to a case the ones above hold (domain.access).
    "other_casemanager": Caller(role=Role.CASEMANAGER, id="cm-2"),
    "other_bedrijfsarts": Caller(role=Role.BEDRIJFSARTS, id="arts-2"),
    "other_arbeidsdeskundige": Caller(role=Role.ARBEIDSDESKUNDIGE, id="ad-2"),
    # A casemanager who works for the other employer only: unassigned cases of E-api are not its pool.
    "regional_casemanager": Caller(role=Role.CASEMANAGER, id="cm-3", employer_ids=["E-other"]),
}


# The employers' loonheffingennummers the API's outbox to UWV knows (E-other has none).
UWV_NUMBERS = {"E-api": "123456789L01"}

SESSION_QUEUE = f"tq-api-{uuid.uuid4().hex[:8]}"


async def eventually(fetch, check, seconds: float = 15.0):
    """Visibility is eventually consistent: poll until `check(fetch())` holds."""
    value = None
    for _ in range(int(seconds / 0.2)):
        value = await fetch()
        if check(value):
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"not reached in {seconds} s: {value!r}")


@dataclass
class ApiServer:
    url: str
    tokens: dict[str, str]  # CALLERS key -> bearer token
    env: WorkflowEnvironment
    task_queue: str
    app: Any = None  # the FastAPI app, for its route table
    audit: Any = None  # its read audit (service.audit.AuditStore)
    settings: Any = None  # its settings (the UWV file drop's folders)

    def headers(self, who: str = "operations", key: str | None = None) -> dict[str, str]:
        """Authorization for `who`, with an Idempotency-Key (a fresh one unless given)."""
        return {"Authorization": f"Bearer {self.tokens[who]}", "Idempotency-Key": key or f"k-{uuid.uuid4().hex[:16]}"}


@pytest.fixture(scope="module", autouse=True)
def module_started() -> datetime:
    """When the module's first test began (the dev server's clock is the wall's)."""
    return datetime.now(timezone.utc)


async def _end_orphans(client: Client, queue: str, before: datetime) -> None:
    """Terminate the running workflows of earlier modules in this process (started `before` this one) that opened
    cases on a queue of their own: their workers are gone, so the API rightly answers 503 for them, and a test that
    lists every case (the fuzzing) would meet them there. The session's queue keeps its cases: each module's worker
    serves them; so does a queue of this module's own, whose worker still runs."""
    started = before.isoformat().replace("+00:00", "Z")
    async for wf in client.list_workflows(
        f"ExecutionStatus='Running' AND TaskQueue!='{queue}' AND StartTime<'{started}'"
    ):
        with contextlib.suppress(RPCError):  # ended meanwhile (a trajectory with its case)
            await client.get_workflow_handle(wf.id, run_id=wf.run_id).terminate(reason="test module ended")


# Per module: its worker and server stop with the module, so they do not compete with the
# time-skipping tests that follow for this process's event loop.
@pytest.fixture(scope="module")
async def api_server(
    dev_env: WorkflowEnvironment, tmp_path_factory, module_started: datetime
) -> AsyncIterator[ApiServer]:
    tokens = {who: f"tok-{who}-{uuid.uuid4().hex}" for who in CALLERS}
    queue = SESSION_QUEUE  # every module's worker serves the cases the modules before it opened
    # One document folder for the session, like the queue: a later module's worker renders for earlier cases.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api"), documents_dir=tmp_path_factory.getbasetemp() / "documents"
    )
    database = open_database(settings.database)
    audit = AuditStore(database)
    app = create_app(
        dev_env.client,
        TokenAuthenticator({tokens[w]: c for w, c in CALLERS.items()}),
        task_queue=queue,
        document_store=store_from_settings(settings),
        audit=audit,
        reporting=open_store(settings.reporting_database),
        uwv=desk_from_settings(settings.model_copy(update={"uwv_loonheffingennummers": UWV_NUMBERS}), database),
    )
    port = free_port()
    server = ServerWithoutSignals(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    await _end_orphans(dev_env.client, queue, module_started)
    async with build_worker(dev_env.client, settings, task_queue=queue):
        served = asyncio.create_task(server.serve())
        while not server.started:
            assert not served.done(), "the API server did not start"
            await asyncio.sleep(0.02)
        yield ApiServer(
            url=f"http://127.0.0.1:{port}",
            tokens=tokens,
            env=dev_env,
            task_queue=queue,
            app=app,
            audit=audit,
            settings=settings,
        )
        server.should_exit = True
        await served
