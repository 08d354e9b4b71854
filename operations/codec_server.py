"""The codec endpoint: lets the Temporal Web UI show a case's payloads decrypted, to operations only.

The Web UI (or `temporal workflow show --codec-endpoint`) posts `{"payloads": [...]}` to
`/codec/decode` and shows what comes back. Payloads hold health data, so the caller must be an
operations user (bearer token, or the dashboard's login cookie sent along by a Web UI set to include
cross-origin credentials), and every decode is recorded in the read audit (who, when, outcome) and
logged with how many payloads — never what. The bedrijfsarts's notes stay sealed in what it shows
(service.medical_seal). Browsers may call it from the Web UI origins in `SPOORWERK_CODEC_CORS_ORIGINS`.

There is no `/codec/encode`: with it, whoever may use the Web UI could seal a signal or update of their
own making and send it past the API, under any actor. Spoorwerk takes actions through its API only.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the routes.

from collections.abc import Sequence
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from domain.models import Role
from operations.auth import Caller
from service.audit import AuditStore, Outcome, What
from service.codec import EncryptionCodec

log = structlog.get_logger("spoorwerk.codec")

# Enough for a page of a long history's payloads; far more is no UI request.
MAX_BODY_BYTES = 8 * 1024 * 1024
_ALLOWED_HEADERS = "content-type, x-namespace, authorization"


def _cors_headers(request: Request, origins: frozenset[str]) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or origin.rstrip("/") not in origins:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def codec_cors_headers(request: Request) -> dict[str, str]:
    """The CORS headers of an answer to a codec request from an allowed Web UI origin (also on a refused sign-in)."""
    if not request.url.path.startswith("/codec/"):
        return {}
    return _cors_headers(request, getattr(request.app.state, "codec_origins", frozenset()))


def add_codec_endpoint(
    app: FastAPI, codec: PayloadCodec | None, caller, origins: Sequence[str] = (), audit: AuditStore | None = None
) -> None:
    """Mount POST /codec/decode (and its CORS preflight) on the app; decodes are recorded in `audit`."""
    allowed = app.state.codec_origins = frozenset(o.rstrip("/") for o in origins)
    Authed = Annotated[Caller, Depends(caller)]

    @app.options("/codec/{operation}", include_in_schema=False)
    async def preflight(request: Request, operation: str) -> Response:
        headers = _cors_headers(request, allowed)
        if headers:
            headers.update(
                {
                    "Access-Control-Allow-Methods": "POST, OPTIONS",
                    "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                }
            )
        return Response(status_code=204, headers=headers)

    async def run(request: Request, who: Caller, operation: str) -> JSONResponse:
        cors = _cors_headers(request, allowed)
        if who.role is not Role.OPERATIONS:
            if audit is not None:
                await audit.arecord(who, What.CODEC_DECODE, outcome=Outcome.REFUSED)
            return JSONResponse(
                {"detail": f"a {who.role.value} may not read raw payloads (allowed: operations)"},
                status_code=403,
                headers=cors,
            )
        if codec is None:
            return JSONResponse({"detail": "this service has no payload codec"}, status_code=404, headers=cors)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"detail": f"body: larger than {MAX_BODY_BYTES} bytes"}, status_code=413, headers=cors)
        payloads = Payloads()
        try:
            json_format.Parse(body or b"{}", payloads, ignore_unknown_fields=False)
        except json_format.ParseError as err:
            return JSONResponse(
                {"detail": f"body: not a JSON Payloads object ({str(err)[:200]})"}, status_code=422, headers=cors
            )
        if audit is not None:  # recorded before anything is shown; a decode that cannot be recorded is not served
            await audit.arecord(who, What.CODEC_DECODE)
        try:
            # Shown, not taken: what was never encrypted (Temporal's patch markers, a forged payload) shows as
            # it is, while the worker's converter refuses it (service.codec).
            reader = codec.for_reading() if isinstance(codec, EncryptionCodec) else codec
            result = await reader.decode(payloads.payloads)
        except ValueError as err:  # a payload sealed with a key this service does not have, or altered
            return JSONResponse({"detail": f"payloads: {err}"}, status_code=422, headers=cors)
        log.info(
            "payloads " + operation + "d",
            caller=who.id,
            role=who.role.value,
            count=len(result),
            namespace=request.headers.get("x-namespace"),
        )
        return JSONResponse(json_format.MessageToDict(Payloads(payloads=result)), headers=cors)

    @app.post("/codec/decode", tags=["codec"])
    async def decode(request: Request, who: Authed) -> JSONResponse:
        """Payloads as Temporal stores them, decrypted (the Web UI's remote codec)."""
        return await run(request, who, "decode")
