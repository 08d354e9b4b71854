"""Health endpoints for orchestrators: `/healthz` (the process runs) and `/readyz` (it should get work).

The API serves both on its own port; the worker role serves them on SPOORWERK_HEALTH_ADDRESS with
a tiny server of its own. Neither needs a token, and neither says more than ready or not, and why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

# A probe's own timeout is short (Kubernetes: 1 s by default); this stays below a typical setting.
TEMPORAL_CHECK_TIMEOUT = timedelta(seconds=2)

# Returns None when ready, else why not.
Readiness = Callable[[], Awaitable[str | None]]


async def temporal_answers(client: Client) -> str | None:
    """None when Temporal answers a cheap call in time, else why not."""
    try:
        await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=TEMPORAL_CHECK_TIMEOUT)
    except Exception as err:  # unreachable, refused, timed out: all mean "not ready"
        return f"Temporal does not answer ({type(err).__name__})"
    return None


class Health:
    """What the worker role reports: ready once its worker polls, not ready from SIGTERM on."""

    def __init__(self) -> None:
        self.polling = False
        self.stopping = False

    async def readiness(self) -> str | None:
        if self.stopping:
            return "stopping"
        if not self.polling:
            return "the worker does not poll yet"
        return None


def health_routes(readiness: Readiness) -> list[Route]:
    """`/healthz` and `/readyz`, for the API app and the worker's own server alike."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    async def readyz(request: Request) -> JSONResponse:
        reason = await readiness()
        body = {"status": "ready"} if reason is None else {"status": "not ready", "reason": reason}
        return JSONResponse(body, status_code=200 if reason is None else 503, headers={"Cache-Control": "no-store"})

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]


def add_health_routes(app: Starlette, client: Client) -> None:
    """The API's `/healthz` and `/readyz` (no token, not in the OpenAPI document): ready while
    Temporal answers, until `app.state.stopping` is set on SIGTERM."""
    app.state.stopping = False

    async def readiness() -> str | None:
        return "stopping" if app.state.stopping else await temporal_answers(client)

    app.router.routes.extend(health_routes(readiness))


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the worker's handlers decide when it stops."""

    def capture_signals(self):
        return contextlib.nullcontext()


def split_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 hosts in brackets) as a host and a port."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


@contextlib.asynccontextmanager
async def serving(address: str, readiness: Readiness):
    """Serve the health endpoints on `address` while the block runs; SystemExit if it cannot listen."""
    host, port = split_address(address)
    app = Starlette(routes=health_routes(readiness))
    server = _QuietServer(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off"))
    served = asyncio.create_task(server.serve())
    while not server.started and not served.done():  # noqa: ASYNC110 (uvicorn offers no event for "started")
        await asyncio.sleep(0.02)
    if served.done():
        raise SystemExit(f"spoorwerk: the health endpoints could not listen on {address}")
    try:
        yield server
    finally:
        server.should_exit = True
        await served
