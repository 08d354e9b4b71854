"""The HTTP API: cases from Temporal's visibility store and queries, and every human action as an update.

Every action kind of the case (`domain.actions`) and of its spoor 2 trajectory (`domain.spoor2`)
is an endpoint of its own, `POST /api/cases/{case_id}/actions/{kind}` and
`POST /api/cases/{case_id}/spoor2/actions/{kind}`, with the action's fields as its body. The caller's
role and id are the actor; the `Idempotency-Key` header is the action id, so a retried request is
applied once. A malformed request is a 422, an action the case refuses a 409 with the workflow's
reason, an action the caller's role may not take a 403.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from http.cookies import SimpleCookie
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from documents.store import DocumentStore
from domain import access
from domain import actions as case_actions
from domain import spoor2 as spoor2_actions
from domain.case import CaseOpening, CaseState, CaseSummary, DeadlineView, DossierEntry, DossierLine
from domain.case.actions.uwv import OUTBOX_KINDS
from domain.dossier_check import Toets
from domain.errors import ActionRefused, joined
from domain.models import OPAQUE_ID_PATTERN, ActionId, Role, Stage, without_medical_notes
from domain.nl_time import local_date
from domain.people import NAME_MAX_CHARS, Employee
from domain.spoor2 import TrajectoryView
from operations import cases, pages, people, worklist
from operations import spoor2 as trajectories
from operations.audit import add_audit_routes
from operations.auth import API_ROLES, COOKIE, Authenticator, Caller
from operations.codec_server import add_codec_endpoint, codec_cors_headers
from operations.documents import add_document_routes
from operations.import_routes import add_import_routes
from operations.signin import client_address, page_caller, session_caller, signin_of
from operations.uwv import add_uwv_routes
from service import i18n, refusals
from service.audit import AuditStore, Channel, Outcome, What
from service.health import add_health_routes
from service.rulebook import load_dossier_rules
from workflows.payloads import ActionResult, CallerScope, TrajectoryActionResult
from workflows.sick_leave_case import SickLeaveCase

log = structlog.get_logger("spoorwerk.api")

_OVERSIGHT = frozenset({Role.OPERATIONS, Role.CASEMANAGER})
OPENERS = frozenset({Role.OPERATIONS, Role.CASEMANAGER, Role.WERKGEVER})
_FULL_STATE = frozenset({Role.OPERATIONS, Role.CASEMANAGER, Role.BEDRIJFSARTS})
_bearer = HTTPBearer(auto_error=False, description="A token from SPOORWERK_API_TOKENS")


class Problem(Exception):
    """An HTTP error with a reason for the caller (and, for 401/403, a log line without personal data).

    The reason is a refusal (domain.errors.ActionRefused: an English msgid and its values), said in the request's
    language; `reason` keeps the English text for the log. Plain text is shown as it is."""

    def __init__(self, status: int, reason: str | ActionRefused) -> None:
        super().__init__(str(reason))
        self.status, self.reason, self.refusal = status, str(reason), reason

    def said(self) -> str:
        """The reason in the current language."""
        return refusals.said(self.refusal)


class ErrorBody(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (401, "Not authenticated"),
        (403, "The caller's role may not do this"),
        (404, "No such case"),
        (409, "Refused by the case, with its reason"),
        (422, "Malformed request"),
        (503, "Not taken just now (a restart); send the same request again after Retry-After seconds"),
    )
}

CaseId = Annotated[str, Path(pattern=OPAQUE_ID_PATTERN, description="The case's opaque id")]

IdempotencyKey = Annotated[
    ActionId,
    Header(
        alias="Idempotency-Key",
        description="Unique per intended action: becomes the action id, so a retry applies once",
    ),
]


def today() -> date:
    return local_date(datetime.now(timezone.utc))


# A query waits for a worker to answer it: give up rather than hang when none does.
QUERY_TIMEOUT = timedelta(seconds=10)

# The largest body the API reads. An action may be 128 KiB of compact JSON (domain.actions.admit);
# this leaves room for a client's \u-escapes. The codec endpoint is not limited: it carries
# whole payloads for the Temporal UI, a continued case's state among them.
MAX_BODY_BYTES = 256 * 1024


def _too_large_reason(limit: int) -> str:
    return refusals.said(ActionRefused("body: larger than the %(limit)s bytes a request may have", limit=limit))


class BodyTooLarge(HTTPException):
    """A chunked request body that grew over the limit: an HTTPException, as FastAPI passes those on."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_reason(limit))


class BodyLimit:
    """Refuses a request body over `limit` bytes with 413, by its Content-Length or while it arrives."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES, exempt: tuple[str, ...] = ("/codec/",)) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            return await JSONResponse({"detail": _too_large_reason(self.limit)}, status_code=413)(scope, receive, send)
        received = 0

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:  # a chunked body that gave no length
                raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)


class NoStore:
    """`Cache-Control: no-store` on every answer (API and dashboard pages) that does not set its own: they hold
    case data, which no browser or proxy cache may keep. The dashboard's static files may be cached."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            return await self.app(scope, receive, send)

        async def with_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_header)


class Language:
    """The language of each request, for everything it answers: the user's choice (the `LANGUAGE_COOKIE` the
    dashboard's language switch sets), else `Accept-Language`, else Dutch (service.i18n.negotiate)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            chosen = SimpleCookie(headers.get("cookie", "")).get(i18n.LANGUAGE_COOKIE)
            i18n.set_language(i18n.negotiate(headers.get("accept-language"), chosen.value if chosen else None))
        await self.app(scope, receive, send)


def _for_a_person(request: Request) -> bool:
    """Whether the request is a page a person opened (the dashboard), not a call of the API or the codec."""
    return request.method == "GET" and not request.url.path.startswith(("/api/", "/codec/"))


def _unavailable(request: Request, reason: ActionRefused) -> Response:
    """503 with the reason: as JSON for the API, as the error page for a dashboard page (a person reads it)."""
    said = refusals.said(reason)
    if _for_a_person(request):
        return pages.render(
            request,
            "error.html",
            503,
            caller=getattr(request.state, "caller", None),
            title=i18n.gettext("Not available right now"),
            reason=said,
        )
    return JSONResponse({"detail": said}, status_code=503)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An address the dashboard does not have: the error page, not the API's JSON; the API keeps its JSON."""
    if exc.status_code == 404 and _for_a_person(request):
        return pages.render(
            request,
            "error.html",
            404,
            caller=getattr(request.state, "caller", None) or await page_caller(request),
            title=i18n.gettext("Page not found"),
            reason=i18n.gettext("There is no page at this address. Check the link, or start again from the overview."),
        )
    return await http_exception_handler(request, exc)


def _validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each field and reason (in the request's language, by the error's type; `loc` and `type` as pydantic
    gives them); never the input itself, which may be megabytes or not even encodable."""
    errors = [
        {
            "type": e["type"],
            "loc": list(e["loc"]),
            "msg": refusals.validation_reason(e["type"], str(e["msg"]), e.get("ctx"))[:300],
        }
        for e in exc.errors()
    ]
    content_type = request.headers.get("content-type", "")
    if (
        any(e["loc"] == ["body"] and e["type"] == "model_attributes_type" for e in errors)
        and "json" not in content_type
    ):
        reason = (
            ActionRefused(
                "body: send a JSON object (Content-Type: application/json), not %(content_type)s",
                content_type=content_type[:100],
            )
            if content_type
            else ActionRefused("body: send a JSON object (Content-Type: application/json), not no Content-Type")
        )
        return JSONResponse({"detail": refusals.said(reason)}, status_code=415)
    return JSONResponse({"detail": errors}, status_code=422)


# --------------------------------------------------------------------------- who calls


def caller_dependency(authenticator: Authenticator):
    """The caller of a request: a bearer token (machines), else the dashboard's session cookie (operations.signin).
    Unknown bearer tokens count as failed sign-ins of the client's address: past the limit, 429 until Retry-After."""

    # Not async: FastAPI runs it in a worker thread, off the event loop, as the session's database read needs.
    def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
        if credentials:
            throttle, address = signin_of(request.app).throttle, client_address(request)
            wait = throttle.retry_after(address)
            if wait is not None:  # before the token is looked at: the answer tells nothing about it
                raise HTTPException(
                    429,
                    refusals.said(
                        ActionRefused("too many failed sign-ins from this address; try again after Retry-After seconds")
                    ),
                    headers={"Retry-After": str(wait)},
                )
            found = authenticator.authenticate(credentials.credentials)
            if found is None:
                throttle.failed(address)
        else:
            found = session_caller(request)
        if found is None:
            raise Problem(
                401,
                ActionRefused("session: ended (expired or logged out); sign in again")
                if not credentials and request.cookies.get(COOKIE)
                else ActionRefused("a valid bearer token is required"),
            )
        if found.role not in API_ROLES:
            raise Problem(403, ActionRefused("the role %(role)s does not use the API", role=found.role))
        request.state.caller = found
        return found

    return caller


def _require(caller: Caller, roles: frozenset[Role], refusal: ActionRefused) -> None:
    """Refuses (403) a caller whose role is not among `roles`, with `refusal` (it names the roles allowed)."""
    if caller.role not in roles:
        raise Problem(403, refusal)


def role_refusal(exc: cases.RoleRefused) -> ActionRefused | str:
    """The case's role refusal, naming among the roles allowed those that use the API (the others act through the
    casemanager): what a caller can do about it."""
    if exc.template is None:
        return str(exc)
    params = dict(exc.params)
    if "%(kind)s" in exc.template and "roles" in params:
        kept = [r for r in params["roles"].split(", ") if r in {a.value for a in API_ROLES}]
        params["roles"] = ", ".join(kept) or params["roles"]
    return ActionRefused(exc.template, **params)


def caller_scope(caller: Caller) -> dict[str, Any]:
    """The listing filters of a caller's scope (domain.access): an employer its own cases, a professional the cases it
    is assigned to or its role's pool sees, of the employers it works for."""
    if caller.role is Role.WERKGEVER:
        return {"employer_id": caller.employer_id}
    if caller.role in access.ASSIGNABLE:
        return {"assigned_to": (caller.role, caller.id)} | (
            {"employer_ids": caller.employer_ids} if caller.employer_ids is not None else {}
        )
    if caller.role is not Role.OPERATIONS:
        raise Problem(403, ActionRefused("the role %(role)s does not use the API", role=caller.role))
    return {}


def may_see(summary: CaseSummary, caller: Caller) -> bool:
    """Whether the caller may see (and so act on) this case: domain.access's rule."""
    # A trajectory's coach counts while it runs, as in the listing and the case's validator.
    coach = summary.spoor2_coach_id if summary.spoor2_running else None
    return access.may_access(
        caller.role,
        caller.id,
        caller_employer_id=caller.employer_id,
        caller_employer_ids=caller.employer_ids,
        case_employer_id=summary.employer_id,
        assigned=summary.assigned,
        trajectory_coach=coach,
        spoor2_running=summary.spoor2_running,
    )


def chosen_case_id(caller: Caller, key: str) -> str:
    """A case id Spoorwerk chooses: the same for a retried request (same caller, same Idempotency-Key), and not to be
    guessed by anyone else, so that probing for ids (an opening answers "already exists") finds nothing."""
    return "C" + hashlib.sha256(f"{caller.role.value}\0{caller.id}\0{key}".encode()).hexdigest()[:24]


def not_found(case_id: str) -> Problem:
    """The one answer for a case that is not there and a case that is not the caller's: ids cannot be probed."""
    return Problem(404, ActionRefused("case_id: no case %(value)r that you may see", value=case_id))


async def readable_case(
    client: Client,
    case_id: str,
    caller: Caller,
    what: str = "case",
    *,
    audit: AuditStore | None = None,
    channel: Channel = Channel.API,
    object_id: str | None = None,
) -> CaseSummary:
    """The case as of today, after checking that the caller may see it: the scope check every read and action of a
    case passes through (API, dashboard, documents). With an audit store, the read is recorded with its outcome
    before anything is answered; a read that cannot be recorded is not served."""
    try:
        summary = await cases.case_handle(client, case_id).query(
            SickLeaveCase.summary, today(), rpc_timeout=QUERY_TIMEOUT
        )
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            if audit is not None:
                await audit.arecord(
                    caller, what, case_id=case_id, object_id=object_id, outcome=Outcome.NOT_FOUND, channel=channel
                )
            raise not_found(case_id) from None
        raise
    allowed = may_see(summary, caller)
    if audit is not None:
        await audit.arecord(
            caller,
            what,
            case_id=case_id,
            object_id=object_id,
            outcome=Outcome.ALLOWED if allowed else Outcome.REFUSED,
            channel=channel,
        )
    if not allowed:
        log.warning("case out of scope", role=caller.role.value, what=what)
        raise not_found(case_id)
    return summary


# How many cases a listing reads at once for their details (one summary query each, after the scope filter).
# How long a listing waits for its cases' details (names, overdue steps) in all; a healthy worker answers in ms. It
# asks all its cases at once (a page is at most 100), so a case whose worker is down holds no place in a queue that
# the answering cases would wait in.
DETAILS_BUDGET = timedelta(seconds=3)


async def case_details(client: Client, caller: Caller, case_ids: list[str]) -> dict[str, CaseSummary]:
    """Each listed case's summary (with the employee's name and the overdue steps), read from the case itself and kept
    only where the caller passes the scope check on that case (`may_see`): a listing's query is the first filter,
    not the last. Cases out of scope or not answering within `DETAILS_BUDGET` are left out: a list shows at once,
    without names where a case's worker is down or busy, rather than waiting on each case in turn."""
    day = today()

    async def one(case_id: str) -> tuple[str, CaseSummary | None]:
        try:
            summary = await cases.case_handle(client, case_id).query(
                SickLeaveCase.summary, day, rpc_timeout=DETAILS_BUDGET
            )
        except (RPCError, WorkflowQueryFailedError):  # gone, no worker, or a case never opened: no details
            return case_id, None
        return case_id, summary if may_see(summary, caller) else None

    asked = [asyncio.create_task(one(c)) for c in dict.fromkeys(case_ids)]
    if not asked:
        return {}
    answered, late = await asyncio.wait(asked, timeout=DETAILS_BUDGET.total_seconds())
    for task in late:
        task.cancel()
    found = [task.result() for task in answered]
    return {case_id: summary for case_id, summary in found if summary is not None}


class CaseAccess:
    """`readable_case` bound to an app's audit store: what the API, dashboard and documents call."""

    def __init__(self, audit: AuditStore | None) -> None:
        self.audit = audit

    async def __call__(
        self,
        client: Client,
        case_id: str,
        caller: Caller,
        what: str = "case",
        *,
        channel: Channel = Channel.API,
        object_id: str | None = None,
    ) -> CaseSummary:
        return await readable_case(
            client, case_id, caller, what, audit=self.audit, channel=channel, object_id=object_id
        )

    async def record(self, caller: Caller, case_id: str, what: str, outcome: Outcome) -> None:
        """A read whose scope the case itself judged (an action's answer), recorded with its outcome."""
        if self.audit is not None:
            await self.audit.arecord(caller, what, case_id=case_id, outcome=outcome, channel=Channel.API)


_Entry = TypeVar("_Entry", bound=DossierEntry)


async def poortwachtertoets(client: Client, case_id: str) -> Toets:
    """The live poortwachtertoets of a case (the shipped pre-flight rules for a case opened without its own)."""
    handle = cases.case_handle(client, case_id)
    found = await handle.query(
        SickLeaveCase.poortwachtertoets, args=[today(), load_dossier_rules().preflight], rpc_timeout=QUERY_TIMEOUT
    )
    assert found is not None  # rules are always given
    return found


def redact_dossier(entries: list[_Entry], caller: Caller, summary: CaseSummary) -> list[_Entry]:
    """The dossier as the caller may see it: the bedrijfsarts's free-text notes are medical, for the bedrijfsarts who
    treats the case only: the one assigned to it, or, while none is, the bedrijfsarts who wrote the note.

    They are recorded sealed (service.medical_seal): opened here for that bedrijfsarts, left out for everyone else.
    """
    return redact_entries(entries, caller, summary.assigned.get(Role.BEDRIJFSARTS, []))


def redact_entries(entries: list[_Entry], caller: Caller, assigned: Sequence[str]) -> list[_Entry]:
    """`redact_dossier` by the bedrijfsarts assigned to the case (`assigned`: their ids), for an action's answer,
    which carries them (workflows.payloads.ActionResult) and so needs no query."""
    from service.medical_seal import opened_notes  # the one reader of the medical keys on the API's side

    stripped = without_medical_notes(entries)
    if not caller.may_see_medical_notes():
        return stripped
    if caller.id in assigned:
        return opened_notes(entries)
    if assigned:  # another bedrijfsarts treats the case
        return stripped
    opened = opened_notes(entries)
    return [mine if entry.actor.id == caller.id else other for entry, mine, other in zip(entries, opened, stripped)]


# --------------------------------------------------------------------------- bodies


# Action fields the edge fills in and a caller never sends: the keyed hashes of the employee (operations.people).
EDGE_FIELDS = ("person_keys",)


def _body_model(model: type[BaseModel], prefix: str) -> type[BaseModel]:
    """The action's own fields, as the request body: kind, actor and action id come from the request."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in model.model_fields.items()
        if name not in ("kind", "actor", "action_id", *EDGE_FIELDS)
    }
    return create_model(
        f"{prefix}{model.__name__}", __config__=ConfigDict(extra="forbid"), __doc__=model.__doc__, **fields
    )


class OpenCase(BaseModel):
    """A new case: CaseOpening without `opened_by` (the caller opens it)."""

    model_config = ConfigDict(extra="forbid")

    case_id: str | None = Field(
        default=None, description="Leave out to have Spoorwerk choose one that cannot be guessed"
    )
    employer_id: str
    first_sick_day: date
    interruptions: list[dict[str, Any]] = Field(default_factory=list)
    stage: Stage | None = None
    prior_steps: list[dict[str, Any]] = Field(default_factory=list)
    evaluations_held: list[date] = Field(default_factory=list)
    contacts: dict[Role, list[str]] = Field(default_factory=dict)
    assigned: dict[Role, list[str]] = Field(
        default_factory=dict,
        description="Who takes the case up per role (domain.access); a casemanager who opens a "
        "case is assigned to it unless another casemanager is named",
    )
    employee: Employee | None = Field(
        default=None,
        description="The employee's surname, given name or initials, "
        "personnel number and BSN (for the messages to UWV): kept encrypted in the case; found by an exact search "
        "on the surname or personnel number, never by the BSN",
    )


class Opened(BaseModel):
    case_id: str
    created: bool = Field(description="False when this request key had opened it before")


class ActionKind(BaseModel):
    kind: str
    on: str = Field(description="'case' or 'spoor2'")
    roles: list[Role]
    path: str


# --------------------------------------------------------------------------- the app


def create_api(
    client: Client,
    authenticator: Authenticator,
    *,
    task_queue: str,
    codec_origins: Sequence[str] = (),
    document_store: DocumentStore | None = None,
    signin: Any = None,
    audit: AuditStore | None = None,
    search_key: bytes | None = None,
    uwv: Any = None,
) -> FastAPI:
    """The API (under /api) for one Temporal client, with the codec endpoint and health; operations.app adds the
    dashboard beside it. `uwv`: the outbox to UWV (operations.uwv.UwvDesk; None: its routes answer 503)."""
    # No /docs or /redoc: their pages load scripts from a CDN, and nothing here may be fetched from
    # the internet at run time. The OpenAPI document itself is at /openapi.json.
    app = DocumentedApp(
        title="Spoorwerk",
        version="1",
        summary="Sick-leave cases under the Wet verbetering poortwachter",
        responses=ERRORS,
        docs_url=None,
        redoc_url=None,
    )
    app.state.client, app.state.authenticator, app.state.task_queue = client, authenticator, task_queue
    app.state.signin = signin  # operations.signin.SignIn (None: sessions of this process only)
    # The installation's key for finding people (operations.people); None: the process settings' key, at first use.
    app.state.search_key = search_key
    app.state.uwv = uwv
    # The overview's counts, per caller's scope, reused for a few seconds (cases.CountsCache): one fetch serves them all.
    app.state.case_counts = cases.CountsCache(client)
    caller = caller_dependency(authenticator)
    # Every read of a case goes through this one check, recorded in the read audit (None: not recorded).
    readable = app.state.readable_case = CaseAccess(audit)
    Authed = Annotated[Caller, Depends(caller)]
    add_codec_endpoint(app, client.data_converter.payload_codec, caller, codec_origins, audit)
    app.add_middleware(BodyLimit, exempt=("/codec/", "/api/imports"))  # an import checks its own, larger limit
    app.add_middleware(NoStore)
    app.add_middleware(Language)
    app.exception_handler(RequestValidationError)(
        _validation_problem
    )  # its typed form: add_exception_handler's is Exception
    app.exception_handler(StarletteHTTPException)(_http_error)
    api = APIRouter(prefix="/api")

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        if exc.status in (401, 403):
            who = getattr(request.state, "caller", None)
            route = request.scope.get("route")
            log.warning(
                "request refused",
                status=exc.status,
                method=request.method,
                route=getattr(route, "path", "?"),
                role=who.role.value if who else None,
                reason=exc.reason,
            )
        # The Web UI reads a refused decode only with the codec's CORS headers; without them it says "cannot connect".
        return JSONResponse({"detail": exc.said()}, status_code=exc.status, headers=codec_cors_headers(request))

    @app.exception_handler(cases.ActionRejected)
    async def _rejected(request: Request, exc: cases.ActionRejected) -> JSONResponse:
        if isinstance(exc, cases.RoleRefused):  # the case's validator: this role may not take the action
            return await _problem(request, Problem(403, role_refusal(exc)))
        status = 404 if isinstance(exc, cases.CaseNotFound) else 422 if isinstance(exc, cases.InvalidInput) else 409
        return JSONResponse({"detail": exc.said()}, status_code=status)

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, exc: RPCError) -> Response:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return JSONResponse({"detail": refusals.said(ActionRefused("case_id: no such case"))}, status_code=404)
        log.warning(
            "temporal call failed", status=exc.status.name, route=getattr(request.scope.get("route"), "path", "?")
        )
        return _unavailable(
            request, ActionRefused("Temporal or the case's worker did not answer (%(status)s)", status=exc.status.name)
        )

    @app.exception_handler(WorkflowQueryFailedError)
    async def _query_failed(request: Request, exc: WorkflowQueryFailedError) -> Response:
        # The worker answered the query with an error. Its message is not shown: a query handler's error may quote
        # the case. The SDK's own nondeterminism error is safe to name, and has a remedy (docs/durability.md).
        replay = "Nondeterminism" in str(exc)
        route = getattr(request.scope.get("route"), "path", "?")
        log.error("case query failed", route=route, unreplayable=replay, error=str(exc)[:200] if replay else None)
        case_id = request.path_params.get("case_id", "CASE")
        return _unavailable(
            request,
            ActionRefused(
                "The worker could not replay this case's history, so it cannot be shown or take actions now; nothing "
                "recorded is lost. An administrator frees it with `spoorwerk repair %(case_id)s` (docs/durability.md).",
                case_id=case_id,
            )
            if replay
            else ActionRefused("The case's worker could not answer this question about the case; nothing was changed."),
        )

    @app.exception_handler(cases.CaseBusy)
    async def _busy(request: Request, exc: cases.CaseBusy) -> JSONResponse:
        log.warning("action not taken, case busy", route=getattr(request.scope.get("route"), "path", "?"))
        return JSONResponse(
            {
                "detail": refusals.said(
                    ActionRefused(
                        "the case cannot take actions just now (a worker or the server is restarting); nothing was recorded: send "
                        "the same request again (%(cause)s)",
                        cause=exc,
                    )
                )
            },
            status_code=503,
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )

    @app.exception_handler(cases.CaseAlreadyExists)
    async def _exists(request: Request, exc: cases.CaseAlreadyExists) -> JSONResponse:
        return JSONResponse({"detail": refusals.said(exc)}, status_code=409)

    @app.exception_handler(ValueError)
    async def _bad_filter(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": refusals.said(exc)}, status_code=422)

    @api.get("/me", response_model=Caller)
    async def me(who: Authed) -> Caller:
        """Who the token belongs to."""
        return who

    @api.get("/overview", response_model=cases.CaseCounts)
    async def overview(who: Authed) -> cases.CaseCounts:
        """Running cases counted, overdue, per stage and per escalation level (within the caller's scope), as of at
        most a few seconds ago."""
        return await app.state.case_counts.get(**caller_scope(who))

    def listing_filters(
        who: Authed,
        stage: Stage | None = None,
        spoor2_phase: Annotated[int | None, Query(ge=1, le=9)] = None,
        overdue: bool | None = None,
        min_escalation_level: Annotated[int | None, Query(ge=0, le=3)] = None,
        employer_id: Annotated[str | None, Query(max_length=64)] = None,
        coach_id: Annotated[str | None, Query(max_length=64)] = None,
        casemanager_id: Annotated[
            str | None, Query(max_length=64, description="Cases this casemanager is assigned to")
        ] = None,
        person: Annotated[
            str | None,
            Query(
                max_length=NAME_MAX_CHARS,
                description="The employee's exact surname or personnel number (found by its keyed hash)",
            ),
        ] = None,
        q: Annotated[
            str | None,
            Query(
                max_length=NAME_MAX_CHARS,
                description="The overview's search box: the start of a case id, or the employee's exact surname or "
                "personnel number",
            ),
        ] = None,
        deadline_before: date | None = None,
        closed: Annotated[bool, Query(description="Also list closed cases")] = False,
    ) -> dict[str, Any]:
        """The case list's filters, as `cases.page_cases` takes them, within the caller's scope: one parse for the
        JSON listing and its CSV export (operations.case_export), so both list the same cases."""
        filters: dict[str, Any] = {
            "stage": stage,
            "spoor2_phase": spoor2_phase,
            "overdue": overdue,
            "min_escalation_level": min_escalation_level,
            "employer_id": employer_id,
            "coach_id": coach_id,
            "deadline_before": deadline_before,
            "casemanager_id": casemanager_id,
            "running_only": not closed,
        }
        if person is not None:
            keys = people.search_keys(person, app_search_key(app))
            if not keys:
                raise Problem(422, "person: give a surname or a personnel number")
            filters["person_keys"] = keys
        if q is not None and q.strip():
            found_by = cases.search_filters(q.strip(), app_search_key(app))
            if not found_by:
                raise Problem(422, ActionRefused("q: give the start of a case id, a surname or a personnel number"))
            if "person_keys" in filters and "person_keys" in found_by:
                raise Problem(422, ActionRefused("q: give either q or person, not both"))
            filters |= found_by
        return filters | caller_scope(who)  # a scoped caller cannot widen its scope by a filter

    ListingFilters = Annotated[dict[str, Any], Depends(listing_filters)]
    app.state.listing_filters = listing_filters  # the CSV export's too (operations.case_export)

    @api.get("/cases", response_model=cases.CasePage)
    async def list_cases(
        who: Authed,
        filters: ListingFilters,
        page_size: Annotated[int, Query(ge=1, le=500)] = 50,
        page_token: Annotated[str | None, Query(max_length=4000)] = None,
    ) -> cases.CasePage:
        """Cases filtered by their search attributes, a page at a time (most recently opened first)."""
        if audit is not None:  # a listing shows ids, employers and dates: recorded as a read too
            await audit.arecord(who, What.CASES)
        try:
            return await cases.page_cases(client, page_size=page_size, page_token=page_token, **filters)
        except RPCError:
            if page_token:  # the store cannot read a token it did not hand out
                raise Problem(422, ActionRefused("page_token: not a token this service handed out")) from None
            raise

    @api.get("/worklist", response_model=worklist.WorkPage)
    async def work_list(
        who: Authed,
        sort: worklist.Sort = worklist.Sort.DUE,
        page_size: Annotated[int, Query(ge=1, le=worklist.PAGE_SIZE)] = worklist.PAGE_SIZE,
        page_token: Annotated[str | None, Query(max_length=4000)] = None,
    ) -> worklist.WorkPage:
        """ "Mijn werk": the caller's cases with a step due in the coming 14 days, an overdue step or an escalation,
        sorted within the page (by due day: overdue and escalated first; by case; by step). Each item names the
        employee and the overdue steps where the caller may see the case."""
        scope = caller_scope(who)
        if audit is not None:  # like the case list: ids, employers, dates and names
            await audit.arecord(who, What.CASES)
        try:
            page = await worklist.page_worklist(
                client, today=today(), scope=scope, sort=sort, page_size=page_size, page_token=page_token
            )
        except RPCError:
            if page_token:
                raise Problem(422, "page_token: not a token this service handed out") from None
            raise
        return with_details(page, await case_details(client, who, [i.case_id for i in page.items]))

    @api.post("/cases", response_model=Opened, status_code=201)
    async def open_case(body: OpenCase, who: Authed, key: IdempotencyKey) -> Opened | JSONResponse:
        """Open a case; the same Idempotency-Key again answers with the case it opened (200)."""
        _require(
            who,
            OPENERS,
            ActionRefused(
                "the role %(role)s may not open a case (allowed: %(roles)s)", role=who.role, roles=joined(OPENERS)
            ),
        )
        if who.role is Role.WERKGEVER and body.employer_id != who.employer_id:
            raise Problem(403, ActionRefused("employer_id: a werkgever may only open cases of its own employer"))
        if who.employer_ids is not None and body.employer_id not in who.employer_ids:
            raise Problem(
                403,
                ActionRefused(
                    "employer_id: the role %(role)s may only open cases of the employers it works for", role=who.role
                ),
            )
        fields = people.with_person_keys(body.model_dump(mode="json"), app_search_key(app))
        if body.case_id is None:
            fields["case_id"] = chosen_case_id(who, key)
        if who.role is Role.CASEMANAGER and not body.assigned.get(Role.CASEMANAGER):
            # Whoever opens a case as its casemanager keeps seeing it once others are assigned.
            fields["assigned"] = {**fields["assigned"], Role.CASEMANAGER.value: [who.id]}
        try:
            opening = CaseOpening.model_validate({**fields, "opened_by": who.actor.model_dump()})
        except ValidationError as err:
            raise cases.InvalidInput.of(case_actions.validation_refusal(err, ())) from None
        handle = await cases.open_case(client, opening, task_queue=task_queue, request_key=key)
        if handle.first_execution_run_id is None:  # started before, by this same request
            return JSONResponse(Opened(case_id=opening.case_id, created=False).model_dump(), status_code=200)
        return Opened(case_id=opening.case_id, created=True)

    @api.get("/cases/{case_id}", response_model=CaseSummary)
    async def case_summary(case_id: CaseId, who: Authed) -> CaseSummary:
        """The case at a glance: stage, weeks sick, next deadline, overdue steps, spoor 2, escalation."""
        return await readable(client, case_id, who)

    @api.get("/cases/{case_id}/deadlines", response_model=list[DeadlineView])
    async def case_deadlines(case_id: CaseId, who: Authed) -> list[DeadlineView]:
        """Every statutory step with its due date and status."""
        await readable(client, case_id, who, "deadlines")
        return await cases.case_handle(client, case_id).query(
            SickLeaveCase.deadlines, today(), rpc_timeout=QUERY_TIMEOUT
        )

    @api.get("/cases/{case_id}/poortwachtertoets", response_model=Toets)
    async def case_toets(case_id: CaseId, who: Authed) -> Toets:
        """The dossier read the way UWV's assessor will (documents, result, effort, reasons, repair), with its open points.
        It says what is on record and when (as the deadlines do), never a note or a finding of the bedrijfsarts."""
        await readable(client, case_id, who, "poortwachtertoets")
        return await poortwachtertoets(client, case_id)

    @api.get("/cases/{case_id}/dossier", response_model=list[DossierLine])
    async def case_dossier(case_id: CaseId, who: Authed) -> list[DossierLine]:
        """Every event of the case in order, overdue observations with how they stand now (open, late, superseded);
        the bedrijfsarts's notes only for the bedrijfsarts."""
        summary = await readable(client, case_id, who, "dossier")
        handle = cases.case_handle(client, case_id)
        return redact_dossier(
            await handle.query(SickLeaveCase.dossier, today(), rpc_timeout=QUERY_TIMEOUT), who, summary
        )

    @api.get("/cases/{case_id}/state", response_model=CaseState)
    async def case_state(case_id: CaseId, who: Authed) -> CaseState:
        """The full case state (operations, case manager, bedrijfsarts)."""
        _require(
            who,
            _FULL_STATE,
            ActionRefused(
                "the role %(role)s may not read a case's full state (allowed: %(roles)s)",
                role=who.role,
                roles=joined(_FULL_STATE),
            ),
        )
        summary = await readable(client, case_id, who, "state")
        state = await cases.case_handle(client, case_id).query(SickLeaveCase.state, rpc_timeout=QUERY_TIMEOUT)
        return state.model_copy(update={"dossier": redact_dossier(state.dossier, who, summary)})

    @api.get("/cases/{case_id}/spoor2", response_model=TrajectoryView)
    async def trajectory_view(case_id: CaseId, who: Authed) -> TrajectoryView:
        """The spoor 2 trajectory: phase, cadence, approvals, documents, outcome."""
        await readable(client, case_id, who, "spoor2")
        try:
            return await trajectories.view(client, case_id, today(), rpc_timeout=QUERY_TIMEOUT)
        except trajectories.NoTrajectory as err:
            raise Problem(
                404, err.args[0] if err.args and isinstance(err.args[0], ActionRefused) else str(err)
            ) from None

    @api.get("/actions", response_model=list[ActionKind])
    async def action_kinds(who: Authed) -> list[ActionKind]:
        """Every action kind, where it is recorded, and the roles that may record it."""
        return [
            ActionKind(kind=k, on=on, roles=sorted(roles), path=path.format(kind=k))
            for k, on, roles, path in api_action_kinds()
        ]

    add_document_routes(api, client, document_store, Authed, readable, Problem, CaseId)
    add_import_routes(api, client, document_store, task_queue, Authed, Problem, lambda: app_search_key(app))
    add_uwv_routes(api, client, Authed, readable, Problem, CaseId)
    if audit is not None:
        add_audit_routes(api, audit, Authed, Problem)
    bodies = [
        _add_action_route(api, client, caller, model, on=on, readable=readable)
        for on, union in (("case", case_actions.Action), ("spoor2", spoor2_actions.Spoor2Action))
        for model in case_actions.action_models(union)
    ]
    app.include_router(api)
    app.action_bodies = bodies
    add_health_routes(app, client)
    return app


def app_search_key(app: FastAPI) -> bytes:
    """The key this app finds people with: its own (tests, a second installation), else the settings' one."""
    return app.state.search_key if app.state.search_key is not None else people.process_key()


def with_details(page: worklist.WorkPage, details: dict[str, CaseSummary]) -> worklist.WorkPage:
    """The work list with what is read from each case in scope: the employee's name and the overdue steps. An item
    whose case did not pass the scope check (or did not answer) keeps only what visibility said."""
    items = [
        i.model_copy(
            update={"employee": _employee_name(details[i.case_id]), "overdue_steps": list(details[i.case_id].overdue)}
        )
        if i.case_id in details
        else i
        for i in page.items
    ]
    return page.model_copy(update={"items": items})


def _employee_name(summary: CaseSummary) -> str | None:
    return summary.employee.display if summary.employee else None


def api_action_kinds() -> list[tuple[str, str, frozenset[Role], str]]:
    """The actions a person records through the action routes (the dashboard's picker, GET /api/actions). The
    outbox's own kinds are recorded by the UWV routes with their message (operations.uwv), so they are not offered."""
    return [
        (k, "case", r & API_ROLES, "/api/cases/{{case_id}}/actions/{kind}")
        for k, r in case_actions.ACTION_ROLES.items()
        if k not in OUTBOX_KINDS
    ] + [
        (k, "spoor2", r & API_ROLES, "/api/cases/{{case_id}}/spoor2/actions/{kind}")
        for k, r in spoor2_actions.SPOOR2_ACTION_ROLES.items()
    ]


def _add_action_route(
    api: APIRouter, client: Client, caller: Any, model: type[BaseModel], *, on: str, readable: CaseAccess
) -> type[BaseModel]:
    """The route of one action kind; returns its body model, which the OpenAPI document shows (DocumentedApp)."""
    kind = case_actions.action_kind(model)
    body_model = _body_model(model, "Case" if on == "case" else "Spoor2")
    roles = case_actions.ACTION_ROLES[kind] if on == "case" else spoor2_actions.SPOOR2_ACTION_ROLES[kind]
    result_model = ActionResult if on == "case" else TrajectoryActionResult
    path = f"/cases/{{case_id}}/actions/{kind}" if on == "case" else f"/cases/{{case_id}}/spoor2/actions/{kind}"
    allowed = ", ".join(sorted(r.value for r in roles & API_ROLES))

    async def record(
        request: Request, case_id: CaseId, who: Annotated[Caller, Depends(caller)], key: IdempotencyKey
    ) -> Any:
        # The body is read here, once, and parsed once (operations.cases.submitted): the workflow's validator
        # decides the caller's role and its scope (a caller outside it hears 404, as for no case); the trajectory's
        # with the scope its case told it (operations.spoor2.act).
        fields = await json_body(request)
        try:
            sent = cases.submitted(
                kind,
                fields,
                action_id=key,
                actor=who.actor,
                spoor2=on == "spoor2",
                search_key=app_search_key(request.app),
            )
        except cases.InvalidFields as err:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in err.errors]) from None
        if kind in OUTBOX_KINDS:
            await outbox_only(client, readable, case_id, who, kind, roles)
        result = await _act_with_scope(client, readable, case_id, who, sent, on=on)
        assigned = result.bedrijfsarts_ids
        if assigned is None:  # a worker from before the answer carried them
            assigned = (await readable(client, case_id, who, What.CASE)).assigned.get(Role.BEDRIJFSARTS, [])
        # The same redaction as the dossier's: an answer never carries more than the caller may read there.
        [entry] = redact_entries([result.entry], who, assigned)
        return result.model_copy(update={"entry": entry})

    record.__name__ = f"{on}_{kind}"
    record.__doc__ = (model.__doc__ or kind.replace("_", " ").capitalize()) + f"\n\nRoles: {allowed}."
    api.post(
        path,
        response_model=result_model,
        # What redaction needs stays on this side (it names who treats the case).
        response_model_exclude={"bedrijfsarts_ids"},
        tags=[f"{on} actions"],
        summary=kind.replace("_", " "),
        openapi_extra={"requestBody": _request_body(body_model)},
    )(record)
    return body_model


async def outbox_only(
    client: Client, readable: CaseAccess, case_id: str, who: Caller, kind: str, roles: frozenset[Role]
) -> None:
    """Refuses a kind the UWV routes record (operations.uwv): by hand the case would show a message the outbox does
    not hold. Scope and role first, as every action route answers them."""
    await readable(client, case_id, who, What.UWV)
    if who.role not in roles:
        raise Problem(
            403,
            ActionRefused(
                "actor.role: the role %(role)s may not record \u201c%(kind)s\u201d (allowed: %(roles)s)",
                role=who.role,
                kind=kind,
                roles=joined(roles & API_ROLES),
            ),
        )
    raise Problem(
        409,
        ActionRefused(
            "%(field)s: a message to UWV is prepared and sent through its outbox (POST /api/cases/%(case_id)s/uwv)",
            field=kind,
            case_id=case_id,
        ),
    )


async def _act_with_scope(
    client: Client, readable: CaseAccess, case_id: str, who: Caller, sent: cases.Submitted, *, on: str
) -> ActionResult | TrajectoryActionResult:
    """The action sent with the caller's scope, for the case's (or its trajectory's) validator to judge; recorded in
    the read audit as a read of the case (its answer shows the entry, a refusal what the case holds), with the
    scope's outcome."""
    scope = CallerScope(employer_id=who.employer_id, employer_ids=who.employer_ids)
    outcome = Outcome.ALLOWED
    try:
        if on == "case":
            return await cases.act(client, case_id, sent, scope=scope)
        return await trajectories.act(client, case_id, sent, scope=scope)
    except cases.CaseNotFound as err:
        outcome = Outcome.NOT_FOUND if isinstance(err, cases.CaseAbsent) else Outcome.REFUSED
        raise
    finally:
        await readable.record(who, case_id, What.CASE, outcome)


async def json_body(request: Request) -> Any:
    """The request's JSON body, read once and decoded with JSON's own types. Refused as FastAPI refuses a body it
    reads itself: no JSON content type 415, none or broken JSON 422, JSON nested past the parser 400."""
    body = await request.body()
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    if "json" not in request.headers.get("content-type", ""):
        raise RequestValidationError(
            [{"type": "model_attributes_type", "loc": ("body",), "msg": "Input should be an object", "input": None}]
        )
    try:
        return json.loads(body)
    except json.JSONDecodeError as err:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", err.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": err.msg},
                }
            ]
        ) from None
    except (RecursionError, UnicodeDecodeError):
        raise HTTPException(400, "There was an error parsing the body") from None


def _request_body(body_model: type[BaseModel]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body_model.__name__}"}}},
    }


class DocumentedApp(FastAPI):
    """FastAPI with the action routes' body models in its OpenAPI document: those routes read their bodies
    themselves, so FastAPI does not know them (a nested model the document has already keeps FastAPI's form)."""

    action_bodies: list[type[BaseModel]] = []

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is not None:
            return self.openapi_schema
        doc = super().openapi()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in self.action_bodies:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, nested in schema.pop("$defs", {}).items():
                schemas.setdefault(name, nested)
            schemas[model.__name__] = schema
        return doc
