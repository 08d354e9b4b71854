"""`spoorwerk`: the command line for case managers and operations.

`calendar` works offline. The case commands (`cases`, `case`, `act`, `ack`, `open`) talk to the
HTTP API with a bearer token, or with `--direct` to Temporal itself as the role operations.
Exit codes: 0 done; 1 refused by the API or the case (or a server error); 2 bad command-line
input; 3 the API or Temporal cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from domain.clock import PeriodError, build_periods, split_into_cases, statutory_calendar
from domain.dossier_check import TOETS_LABELS
from domain.models import OPAQUE_ID_PATTERN, Stage
from domain.observations import Observation, standing
from service.rulebook import load_dossier_rules, load_rulebook, working_day_holidays

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_UNREACHABLE = 3

DEFAULT_API_URL = "http://127.0.0.1:8080"


def _default_api_url() -> str:
    """SPOORWERK_API_URL, else where the service listens by the same settings object (SPOORWERK_API_HOST, _PORT)."""
    if os.environ.get("SPOORWERK_API_URL"):
        return os.environ["SPOORWERK_API_URL"]
    from pydantic import ValidationError

    from service.settings import Settings

    try:
        settings = Settings()
    except ValidationError:  # a setting the API address does not depend on; `--direct` reports it if it matters
        return DEFAULT_API_URL
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"
DEFAULT_ACTOR_ID = "cli-operations"
HTTP_TIMEOUT_SECONDS = 60.0
# How often a request the API answers 503 with Retry-After (a case restarting) is sent again.
BUSY_RETRIES = 3
_OPAQUE = re.compile(OPAQUE_ID_PATTERN)
_ACTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
# Given by the command itself, never in an action's body.
_RESERVED_FIELDS = {"kind": "KIND", "actor": "the token's role (or --actor-id with --direct)", "action_id": "--key"}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (use YYYY-MM-DD)") from None


def _opaque_id(text: str) -> str:
    if not _OPAQUE.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an opaque id (a letter, then 1-63 letters, digits, '_' or '-')")
    return text


def _key(text: str) -> str:
    if not _ACTION_ID.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an idempotency key (1-100 of letters, digits, '.', '_', ':', '-'; first a letter or digit)")
    return text


def _level(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not an escalation level (0-3)")
    return value


def _bounded(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} ({low}-{high})")
        return value
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spoorwerk", description="Spoorwerk: sick-leave cases under the Wet verbetering poortwachter",
        epilog="Exit codes: 0 done, 1 refused by the API or the case (or a server error), 2 bad command-line input, "
               "3 the API or Temporal cannot be reached.")
    sub = parser.add_subparsers(dest="command", required=True)
    cal = sub.add_parser(
        "calendar",
        help="print every statutory step of a case with its due date",
        description=(
            "Every statutory step with its due date. Give each recovery (the first day back at "
            "work) and each relapse (the first sick day again) in order: sick periods less than "
            "four weeks apart add up and the gap moves every later deadline."
        ),
    )
    cal.add_argument("--first-sick-day", type=_date, required=True, metavar="YYYY-MM-DD")
    cal.add_argument("--recovered", type=_date, action="append", default=[], metavar="YYYY-MM-DD",
                     help="first day back at work (repeatable, in order)")
    cal.add_argument("--relapse", type=_date, action="append", default=[], metavar="YYYY-MM-DD",
                     help="first sick day of the next period (repeatable, in order)")
    cal.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cal.set_defaults(func=_calendar)

    # How the case commands reach Spoorwerk: the HTTP API, or Temporal directly.
    conn = argparse.ArgumentParser(add_help=False)
    where = conn.add_argument_group(
        "connection",
        "By default the command uses the HTTP API with a bearer token, acting in the token's role. "
        "With --direct it talks to Temporal itself (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and "
        "SPOORWERK_TASK_QUEUE from the environment, as the worker reads them) and acts as the role "
        "operations, with the id --actor-id.")
    where.add_argument("--api", metavar="URL", default=_default_api_url(),
                       help=f"the API's base URL (env SPOORWERK_API_URL; default SPOORWERK_API_HOST and SPOORWERK_API_PORT "
                            f"as the service reads them, else {DEFAULT_API_URL})")
    where.add_argument("--token", default=None,
                       help="bearer token (env SPOORWERK_API_TOKEN; default the embedded worker's operations "
                            "token in <SPOORWERK_DATA_DIR>/api-token)")
    where.add_argument("--direct", action="store_true",
                       help="talk to Temporal directly instead of the API, as the role operations")
    where.add_argument("--actor-id", type=_opaque_id, default=DEFAULT_ACTOR_ID,
                       help=f"with --direct: the operations id actions are recorded under (default {DEFAULT_ACTOR_ID})")

    lst = sub.add_parser(
        "cases", parents=[conn], help="list cases, filtered by stage, phase, deadline, escalation, ...",
        description="Running cases (with --closed also closed ones) matching every filter given, most recently "
                    "opened first; follows the API's pages up to --limit.")
    lst.add_argument("--stage", choices=[s.value for s in Stage])
    lst.add_argument("--phase", type=_bounded(1, 9, "a spoor 2 phase"), metavar="N", help="spoor 2 phase")
    overdue = lst.add_mutually_exclusive_group()
    overdue.add_argument("--overdue", dest="overdue", action="store_const", const=True, default=None,
                         help="only cases with an overdue statutory step")
    overdue.add_argument("--not-overdue", dest="overdue", action="store_const", const=False,
                         help="only cases without an overdue step")
    lst.add_argument("--min-level", type=_level, metavar="N", help="escalation level at least N (0-3)")
    lst.add_argument("--employer", type=_opaque_id, metavar="ID")
    lst.add_argument("--coach", type=_opaque_id, metavar="ID", help="the re-integratiecoach of the running trajectory")
    lst.add_argument("--deadline-before", type=_date, metavar="YYYY-MM-DD", help="next deadline before this day")
    lst.add_argument("--closed", action="store_true", help="also list closed cases")
    lst.add_argument("--limit", type=_bounded(1, 100_000, "a number of cases"), default=100, metavar="N",
                     help="at most N cases (default 100)")
    lst.add_argument("--page-size", type=_bounded(1, 500, "a page size"), default=None, metavar="N",
                     help="cases per request (default: --limit, at most 500)")
    lst.add_argument("--page-token", default=None, help="continue after an earlier --json listing's next_page_token")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(func=_cases)

    werk = sub.add_parser("werk", parents=[conn], help="Mijn werk: steps due in the coming 14 days, overdue, escalated",
                          description="The cases in your scope with a step due in the coming 14 days, an overdue "
                                      "step or an escalation waiting (the API's GET /api/worklist).")
    werk.add_argument("--sort", choices=["due", "case", "step"], default="due",
                      help="due: overdue and escalated first, then by due day (default); case; step")
    werk.add_argument("--json", action="store_true", help="print JSON instead of a table")
    werk.set_defaults(func=_werk)

    one = sub.add_parser("case", parents=[conn], help="one case: summary, deadlines and dossier",
                         description="A case at a glance, every statutory step with its status, and its dossier.")
    one.add_argument("case_id", type=_opaque_id, metavar="ID")
    one.add_argument("--json", action="store_true", help="print JSON ({summary, deadlines, dossier})")
    one.set_defaults(func=_case)

    docs = sub.add_parser("documents", parents=[conn], help="de documenten van een zaak die u mag inzien",
                          description="De gemaakte documenten van een zaak (de versies die uw rol mag inzien), nieuwste eerst.")
    docs.add_argument("case_id", type=_opaque_id, metavar="ID")
    docs.add_argument("--json", action="store_true", help="print JSON")
    docs.set_defaults(func=_documents)

    doc = sub.add_parser("document", parents=[conn], help="een document van een zaak opslaan (PDF of HTML)",
                         description="Slaat een document van een zaak op, als PDF (gecontroleerd op de hash in het dossier) "
                                     "of met --html als HTML.")
    doc.add_argument("case_id", type=_opaque_id, metavar="ID")
    doc.add_argument("order_id", metavar="DOCUMENT", help="de naam uit `spoorwerk documents ID`")
    doc.add_argument("--html", action="store_true", help="de HTML in plaats van de PDF")
    doc.add_argument("--out", metavar="BESTAND", help="waar het heen moet (standaard <zaak>-<document>.pdf hier)")
    doc.add_argument("--force", action="store_true", help="een bestaand bestand overschrijven")
    doc.set_defaults(func=_document)

    act = sub.add_parser(
        "act", parents=[conn], help="record an action on a case (or, with --spoor2, on its trajectory)",
        description="Record an action; prints the dossier entry it made. The idempotency key makes a retry "
                    "apply once: without --key a fresh one is made and printed, so a retry can reuse it. "
                    "Fields: --json-body '{...}' and/or --field name=value (a value is JSON when it parses: "
                    "numbers, true/false, lists, objects; else text); --field wins over --json-body.")
    act.add_argument("case_id", type=_opaque_id, metavar="ID")
    act.add_argument("kind", metavar="KIND", help="the action, e.g. ziekmelding_arbodienst_sent (see domain/actions.py)")
    act.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help="the day it happened (default today, Amsterdam)")
    act.add_argument("--spoor2", action="store_true", help="an action on the case's spoor 2 trajectory")
    act.add_argument("--key", type=_key, metavar="IDEMPOTENCY_KEY", help="reuse to retry (default: a fresh uuid)")
    act.add_argument("--field", action="append", default=[], metavar="NAME=VALUE", help="a field of the action (repeatable)")
    act.add_argument("--json-body", metavar="JSON", help="the action's fields as a JSON object")
    act.add_argument("--json", action="store_true", help="print the API's JSON answer")
    act.set_defaults(func=_act)

    ack = sub.add_parser("ack", parents=[conn], help="acknowledge a case's escalation (escalation_acknowledged)",
                         description="Operations saw the escalation: the level stays, the climb stops for a while.")
    ack.add_argument("case_id", type=_opaque_id, metavar="ID")
    ack.add_argument("--reason", required=True, help="why (3-2000 characters)")
    ack.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help="default today (Amsterdam)")
    ack.add_argument("--key", type=_key, metavar="IDEMPOTENCY_KEY", help="reuse to retry (default: a fresh uuid)")
    ack.add_argument("--json", action="store_true", help="print the API's JSON answer")
    ack.set_defaults(func=_ack)

    opn = sub.add_parser("open", parents=[conn], help="open a case",
                         description="Open a case; the same --key again answers with the case it opened.")
    opn.add_argument("case_id", type=_opaque_id, metavar="ID")
    opn.add_argument("--employer", type=_opaque_id, required=True, metavar="ID")
    opn.add_argument("--first-sick-day", type=_date, required=True, metavar="YYYY-MM-DD")
    opn.add_argument("--key", type=_key, metavar="IDEMPOTENCY_KEY", help="reuse to retry (default: a fresh uuid)")
    opn.add_argument("--json", action="store_true", help="print the API's JSON answer")
    opn.set_defaults(func=_open)
    _add_audit_parser(sub)
    return parser


class BadInput(Exception):
    """The command line is wrong (exit 2)."""


class Refused(Exception):
    """The API or the case refused, or the server failed (exit 1); `status` is the HTTP status (or its
    equivalent with --direct)."""

    def __init__(self, status: int, reason: str, *, http: bool = True) -> None:
        super().__init__(reason)
        self.status, self.reason, self.http = status, reason, http


class Unreachable(Exception):
    """The API or Temporal cannot be reached (exit 3)."""


def _fail(message: str) -> int:
    print(f"spoorwerk: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _calendar(args: argparse.Namespace) -> int:
    recovered, relapses = args.recovered, args.relapse
    if len(relapses) > len(recovered):
        return _fail(f"--relapse: {len(relapses)} relapses but only {len(recovered)} recoveries; a relapse follows a recovery")
    if len(recovered) > len(relapses) + 1:
        return _fail("--recovered: two recoveries need a relapse between them")
    pairs = [(rec, relapses[i] if i < len(relapses) else None) for i, rec in enumerate(recovered)]
    try:
        periods = build_periods(args.first_sick_day, pairs)
    except PeriodError as err:
        return _fail(f"--{err.field}: {err.reason}")
    rulebook = load_rulebook()
    try:
        ruleset = rulebook.for_first_sick_day(periods[0].start)
    except ValueError as err:
        return _fail(f"--{err}".replace("first_sick_day", "first-sick-day"))
    cases = split_into_cases(periods, ruleset.four_week_rule_days)
    notes = []
    if len(cases) > 1:
        current = cases[-1]
        notes.append(
            f"a gap of {ruleset.four_week_rule_days} days or more before {current[0].start} starts a new case; "
            f"showing that case (first sick day {current[0].start})"
        )
        ruleset = rulebook.for_first_sick_day(current[0].start)
        periods = current
    steps = statutory_calendar(ruleset, periods, working_day_holidays(ruleset, periods[0].start))
    if periods[-1].end is not None:
        notes.append(
            f"recovered on {periods[-1].end}: the clock is paused; steps without a date resume on a relapse "
            "within four weeks"
        )
    if args.json:
        out = {
            "first_sick_day": periods[0].start.isoformat(),
            "ruleset": ruleset.id,
            "deadlines": [
                {"key": s.key, "due": s.due.isoformat() if s.due else None, "label": s.label,
                 **({"occurrence": s.occurrence} if s.occurrence else {})}
                for s in steps
            ],
            "notes": notes,
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"First sick day {periods[0].start} - rule set {ruleset.id}")
    for note in notes:
        print(f"Note: {note}")
    print()
    width = max(len(s.key) + (4 if s.occurrence else 0) for s in steps)
    print(f"{'step':<{width}}  {'due':<10}  {'day':<3}  description")
    for s in steps:
        name = f"{s.key} #{s.occurrence}" if s.occurrence else s.key
        due = s.due.isoformat() if s.due else "paused"
        weekday = s.due.strftime("%a") if s.due else ""
        print(f"{name:<{width}}  {due:<10}  {weekday:<3}  {s.label}")
    return 0


# --------------------------------------------------------------------------- reaching Spoorwerk
#
# Both backends answer in the API's JSON shapes (dicts), so the commands print the same either way.


class HttpBackend:
    """The HTTP API, as the token's caller."""

    def __init__(self, url: str, token: str | None) -> None:
        import httpx

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self._client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as err:
            raise BadInput(f"--api: {url!r} is not a usable URL ({err})") from None

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, *, key: str | None = None, raw: bool = False, **kwargs: Any) -> Any:
        """The API's JSON answer (with `raw`, its bytes), retried on 503; refusals become `Refused`."""
        import httpx

        headers = {"Idempotency-Key": key} if key else None
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
            # A case restarting answers 503 with Retry-After: the same request (same key) again, a few times.
            for _ in range(BUSY_RETRIES):
                wait = response.headers.get("Retry-After", "")
                if response.status_code != 503 or not wait.isdigit():
                    break
                await asyncio.sleep(min(int(wait), 30))
                response = await self._client.request(method, path, headers=headers, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
            raise BadInput(f"--api: {self.url!r} is not a usable URL ({err})") from None
        except httpx.TimeoutException:
            raise Unreachable(f"the Spoorwerk API at {self.url} did not answer within {HTTP_TIMEOUT_SECONDS:.0f} s") from None
        except httpx.TransportError as err:
            raise Unreachable(f"cannot reach the Spoorwerk API at {self.url} ({err or type(err).__name__}); "
                              "is the worker running? (--api or SPOORWERK_API_URL)") from None
        if response.is_success:
            if raw:
                return response.content
            try:
                return response.json()
            except ValueError:
                raise Unreachable(f"the server at {self.url} does not answer as the Spoorwerk API (no JSON at {path})") from None
        try:
            detail = response.json().get("detail")
            reason = detail if isinstance(detail, str) else _field_errors(detail)
        except (ValueError, AttributeError):
            reason = response.text.strip()[:500] or response.reason_phrase
        if response.status_code in (502, 503, 504):
            raise Unreachable(f"the Spoorwerk API at {self.url} is unavailable (HTTP {response.status_code}): {reason}")
        raise Refused(response.status_code, reason)

    async def page(self, filters: dict[str, Any], page_size: int, page_token: str | None) -> dict[str, Any]:
        params = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in filters.items() if v is not None}
        params["page_size"] = str(page_size)
        if page_token:
            params["page_token"] = page_token
        return await self._call("GET", "/api/cases", params=params)

    async def worklist(self, sort: str) -> dict[str, Any]:
        return await self._call("GET", "/api/worklist", params={"sort": sort})

    async def case(self, case_id: str) -> dict[str, Any]:
        base = f"/api/cases/{quote(case_id, safe='')}"
        return {"summary": await self._call("GET", base), "deadlines": await self._call("GET", f"{base}/deadlines"),
                "dossier": await self._call("GET", f"{base}/dossier"),
                "poortwachtertoets": await self._call("GET", f"{base}/poortwachtertoets")}

    async def documents(self, case_id: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"/api/cases/{quote(case_id, safe='')}/documents")

    async def download(self, case_id: str, document: dict[str, Any], fmt: str) -> bytes:
        return await self._call("GET", document[fmt], raw=True)

    async def act(self, case_id: str, kind: str, fields: dict[str, Any], key: str, *, spoor2: bool) -> dict[str, Any]:
        where = "spoor2/actions" if spoor2 else "actions"
        return await self._call("POST", f"/api/cases/{quote(case_id, safe='')}/{where}/{quote(kind, safe='')}",
                                key=key, json=fields)

    async def open(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        return await self._call("POST", "/api/cases", key=key, json=body)


class DirectBackend:
    """Temporal itself, with the worker's settings from the environment, as the role operations."""

    def __init__(self, actor_id: str) -> None:
        from pydantic import ValidationError

        from service.settings import Settings

        try:
            self.settings = Settings()
        except ValidationError as err:
            raise BadInput(f"configuration: {_settings_problems(err)}") from None
        self.actor = {"role": "operations", "id": actor_id}
        self.client: Any = None
        self._audit_store: Any = None

    @property
    def where(self) -> str:
        return f"Temporal at {self.settings.target_host} (namespace {self.settings.temporal_namespace})"

    async def connect(self) -> None:
        from service.codec import EncryptionKeyError
        from service.temporal import connect

        try:
            self.client = await asyncio.wait_for(connect(self.settings), timeout=HTTP_TIMEOUT_SECONDS)
        except EncryptionKeyError as err:
            raise BadInput(f"configuration: {err}") from None
        except (OSError, RuntimeError, asyncio.TimeoutError) as err:
            detail = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
            raise Unreachable(f"cannot reach {self.where}: {detail} (TEMPORAL_ADDRESS)") from None

    async def close(self) -> None:
        return None

    async def _run(self, call: Any, case_id: str | None = None) -> Any:
        """Await a call to Temporal, turning its errors into refusals (as the API does) or 'unreachable'."""
        from temporalio.client import WorkflowQueryFailedError
        from temporalio.service import RPCError, RPCStatusCode

        from operations import cases

        try:
            return await call
        except cases.CaseNotFound as err:
            raise Refused(404, str(err), http=False) from None
        except cases.InvalidInput as err:
            raise Refused(422, str(err), http=False) from None
        except (cases.ActionRejected, cases.CaseAlreadyExists) as err:
            raise Refused(409, str(err), http=False) from None
        except cases.CaseBusy as err:
            raise Unreachable(f"the case cannot take actions just now; send the same request again: {err}") from None
        except WorkflowQueryFailedError as err:
            raise Refused(409, str(err), http=False) from None
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND and case_id is not None:
                raise Refused(404, f"case_id: no case {case_id!r}", http=False) from None
            if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                raise Unreachable(f"cannot reach {self.where}: {err.message}") from None
            if err.status is RPCStatusCode.INVALID_ARGUMENT:
                raise Refused(422, err.message, http=False) from None
            raise Refused(500, f"Temporal answered {err.status.name}: {err.message}", http=False) from None
        except ValueError as err:  # a filter or an opening that does not validate
            raise Refused(422, str(err), http=False) from None

    async def page(self, filters: dict[str, Any], page_size: int, page_token: str | None) -> dict[str, Any]:
        from operations import cases

        filters = dict(filters)
        running_only = not filters.pop("closed", False)
        found = await self._run(cases.page_cases(self.client, page_size=page_size, page_token=page_token,
                                                 running_only=running_only, **filters))
        return found.model_dump(mode="json")

    async def worklist(self, sort: str) -> dict[str, Any]:
        """Operations' work list: every running case with work waiting (operations' scope is all cases)."""
        from operations import worklist

        found = await self._run(worklist.page_worklist(self.client, today=_today(), scope={},
                                                       sort=worklist.Sort(sort)))
        return found.model_dump(mode="json")

    async def case(self, case_id: str) -> dict[str, Any]:
        from domain.models import without_medical_notes
        from operations import cases
        from workflows.sick_leave_case import SickLeaveCase

        try:
            summary = await self._run(cases.summary(self.client, case_id), case_id)
        except Refused:
            self._audit("dossier", case_id, outcome="not_found")
            raise
        self._audit("dossier", case_id)
        handle = cases.case_handle(self.client, case_id)
        deadlines = await self._run(handle.query(SickLeaveCase.deadlines, _today()), case_id)
        # Operations reads the dossier without the bedrijfsarts's notes, as through the API.
        dossier = without_medical_notes(await self._run(handle.query(SickLeaveCase.dossier, _today()), case_id))
        toets = await self._run(handle.query(SickLeaveCase.poortwachtertoets, args=[_today(), load_dossier_rules().preflight]),
                                case_id)
        return {"summary": summary.model_dump(mode="json"), "deadlines": [d.model_dump(mode="json") for d in deadlines],
                "dossier": [e.model_dump(mode="json") for e in dossier],
                "poortwachtertoets": toets.model_dump(mode="json") if toets else None}

    def _audit(self, what: str, case_id: str, *, object_id: str | None = None, outcome: str = "allowed") -> None:
        """Record a read in the read audit, as the API does for its own (operations, --actor-id, channel cli)."""
        from domain.models import Role
        from operations.auth import Caller
        from service.audit import AuditStore, Channel
        from service.db import open_database

        if self._audit_store is None:  # one engine for the command, opened on its first read
            self._audit_store = AuditStore(open_database(self.settings.database))
        self._audit_store.record(Caller(role=Role.OPERATIONS, id=self.actor["id"]), what, case_id=case_id,
                                 object_id=object_id, outcome=outcome, channel=Channel.CLI)

    async def documents(self, case_id: str) -> list[dict[str, Any]]:
        from domain.models import Role
        from operations.auth import Caller
        from operations.documents import case_documents, document_view, may_read

        try:
            refs = await self._run(case_documents(self.client, case_id), case_id)
        except Refused:
            self._audit("documents", case_id, outcome="not_found")
            raise
        self._audit("documents", case_id)
        operations = Caller(role=Role.OPERATIONS, id=self.actor["id"])
        return [document_view(case_id, r).model_dump(mode="json") for r in refs if may_read(operations, r.order.audience)]

    async def download(self, case_id: str, document: dict[str, Any], fmt: str) -> bytes:
        from documents.store import DocumentStoreError, store_from_settings
        from operations.documents import case_documents

        refs = await self._run(case_documents(self.client, case_id), case_id)
        ref = next(r for r in refs if r.order.order_id == document["order_id"])
        self._audit("document", case_id, object_id=ref.order.order_id)
        try:
            return await asyncio.to_thread(store_from_settings(self.settings).get, ref.pdf if fmt == "pdf" else ref.html)
        except DocumentStoreError as err:
            raise Unreachable(f"the document store: {err}") from None

    async def act(self, case_id: str, kind: str, fields: dict[str, Any], key: str, *, spoor2: bool) -> dict[str, Any]:
        from operations import cases
        from operations import spoor2 as trajectories

        payload = {**fields, "kind": kind, "action_id": key, "actor": self.actor}
        record = trajectories.act if spoor2 else cases.act
        return (await self._run(record(self.client, case_id, payload), case_id)).model_dump(mode="json")

    async def open(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        from pydantic import ValidationError

        from domain.actions import describe_validation_error
        from domain.case import CaseOpening
        from operations import cases

        try:
            opening = CaseOpening.model_validate({**body, "opened_by": self.actor})
        except ValidationError as err:
            raise Refused(422, describe_validation_error(err, ()), http=False) from None
        handle = await self._run(cases.open_case(self.client, opening, task_queue=self.settings.task_queue,
                                                 request_key=key))
        return {"case_id": body["case_id"], "created": handle.first_execution_run_id is not None}


def _field_errors(detail: Any) -> str:
    """The API's 422 list as 'field: reason; …', the form every other refusal has."""
    if not isinstance(detail, list) or not all(isinstance(e, dict) and "msg" in e for e in detail):
        return json.dumps(detail, ensure_ascii=False)
    where = ("body", "query", "path", "header")
    return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', []) if p not in where) or 'body'}: {e['msg']}" for e in detail)


def _settings_problems(err: Any) -> str:
    return "; ".join(e["msg"].removeprefix("Value error, ") + (f" ({'.'.join(map(str, e['loc']))})" if e["loc"] else "")
                     for e in err.errors(include_url=False))


def _token(args: argparse.Namespace) -> str | None:
    """--token, else SPOORWERK_API_TOKEN, else the embedded worker's operations token file (if there is one)."""
    if args.token:
        return args.token
    if os.environ.get("SPOORWERK_API_TOKEN"):
        return os.environ["SPOORWERK_API_TOKEN"]
    from pydantic import ValidationError

    from service.settings import Settings

    try:
        path: Path = Settings().api_token_file
    except ValidationError as err:
        raise BadInput(f"configuration: {_settings_problems(err)}") from None
    try:
        return path.read_text("utf-8").strip() or None
    except OSError:
        return None


def _today() -> date:
    from domain.nl_time import local_date

    return local_date(datetime.now(timezone.utc))


def _run(args: argparse.Namespace, command: Any) -> int:
    """Run `command(backend)` against the API or Temporal; refusals and outages become exit codes."""
    try:
        return asyncio.run(_with_backend(args, command))
    except BadInput as err:
        return _fail(str(err))
    except Refused as err:
        status = f" (HTTP {err.status})" if err.http else ""
        what = "failed" if err.status >= 500 else "refused"  # a server error is no refusal, but no outage either
        print(f"spoorwerk: {what}{status}: {err.reason}", file=sys.stderr)
        return EXIT_REFUSED
    except Unreachable as err:
        print(f"spoorwerk: {err}", file=sys.stderr)
        return EXIT_UNREACHABLE


async def _with_backend(args: argparse.Namespace, command: Any) -> int:
    backend: HttpBackend | DirectBackend
    if args.direct:
        backend = DirectBackend(args.actor_id)
        await backend.connect()
    else:
        backend = HttpBackend(args.api, _token(args))
    try:
        return await command(backend)
    finally:
        await backend.close()


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# --------------------------------------------------------------------------- the case commands


def _cases(args: argparse.Namespace) -> int:
    filters = {"stage": args.stage, "spoor2_phase": args.phase, "overdue": args.overdue,
               "min_escalation_level": args.min_level, "employer_id": args.employer, "coach_id": args.coach,
               "deadline_before": args.deadline_before,  # a date: --direct queries with it, the API gets str()
               "closed": True if args.closed else None}
    filters = {k: v for k, v in filters.items() if v is not None}
    page_size = args.page_size or min(args.limit, 500)

    async def command(backend: HttpBackend | DirectBackend) -> int:
        found: list[dict[str, Any]] = []
        token = args.page_token
        while len(found) < args.limit:
            # Never more than the limit: the page token then continues exactly after the last case shown.
            page = await backend.page(filters, min(page_size, args.limit - len(found)), token)
            found.extend(page["cases"])
            token = page.get("next_page_token")
            if not token:
                break
        if args.json:
            _print_json({"cases": found, "next_page_token": token})
            return 0
        if not found:
            print("no cases match")
            return 0
        _table(["case", "employer", "stage", "first sick day", "next deadline", "phase", "overdue", "level"],
               [[c["case_id"], c.get("employer_id"), c.get("stage"), c.get("first_sick_day"), c.get("next_deadline"),
                 c.get("spoor2_phase"), c.get("overdue"), c.get("escalation_level")] for c in found])
        print(f"\n{len(found)} case{'s' if len(found) != 1 else ''}" + (" (there may be more: raise --limit)" if token else ""))
        return 0

    return _run(args, command)


def _werk(args: argparse.Namespace) -> int:
    from service.i18n import _

    async def command(backend: HttpBackend | DirectBackend) -> int:
        page = await backend.worklist(args.sort)
        if args.json:
            _print_json(page)
            return 0
        if not page["items"]:
            print(_("Nothing waits on you in the coming 14 days."))
            return 0
        _table([_("case"), _("employee"), _("next step"), _("due"), _("overdue"), _("level"), _("employer")],
               [[i["case_id"], i.get("employee") or "", i.get("step") or "", i.get("due") or "",
                 ", ".join(i.get("overdue_steps") or []) or (_("yes") if i.get("overdue") else ""),
                 i.get("escalation_level"), i.get("employer_id")] for i in page["items"]])
        print("\n" + _("Steps due up to %(day)s, overdue steps and escalations in your cases", day=page["until"]))
        return 0

    return _run(args, command)


def _documents(args: argparse.Namespace) -> int:
    async def command(backend: HttpBackend | DirectBackend) -> int:
        found = await backend.documents(args.case_id)
        if args.json:
            _print_json(found)
            return 0
        if not found:
            print(f"Zaak {args.case_id} heeft nog geen documenten die u mag inzien "
                  "(vraag er een aan: spoorwerk act ID document_requested --field document=...).")
            return 0
        _table(["document", "titel", "versie", "peildatum", "gemaakt (UTC)", "grootte"],
               [[d["order_id"], d["title"], d["audience"], d["as_of"], d["rendered_at"][:16].replace("T", " "),
                 f"{round(d['pdf_bytes'] / 1024)} kB"] for d in reversed(found)])
        print(f"\nOpslaan: spoorwerk document {args.case_id} <document> [--html] [--out BESTAND]")
        return 0

    return _run(args, command)


def _document(args: argparse.Namespace) -> int:
    fmt = "html" if args.html else "pdf"
    out = Path(args.out or f"{args.case_id}-{args.order_id.replace(':', '-')}.{fmt}")
    if out.exists() and not args.force:
        return _fail(f"--out: {out} bestaat al; kies een andere naam of geef --force")

    async def command(backend: HttpBackend | DirectBackend) -> int:
        found = {d["order_id"]: d for d in await backend.documents(args.case_id)}
        document = found.get(args.order_id)
        if document is None:
            raise Refused(404, f"order_id: zaak {args.case_id} heeft geen document {args.order_id!r} dat u mag inzien "
                               f"({', '.join(found) or 'geen documenten'})", http=False)
        data = await backend.download(args.case_id, document, fmt)
        if fmt == "pdf" and hashlib.sha256(data).hexdigest() != document["pdf_sha256"]:
            raise Unreachable(f"the PDF of {args.order_id} does not match the hash in the dossier; nothing was saved")
        await asyncio.to_thread(out.write_bytes, data)
        checked = ", gelijk aan de hash in het dossier" if fmt == "pdf" else ""
        print(f"Opgeslagen: {out} ({len(data)} bytes{checked})")
        return 0

    return _run(args, command)


def _case(args: argparse.Namespace) -> int:
    async def command(backend: HttpBackend | DirectBackend) -> int:
        found = await backend.case(args.case_id)
        if args.json:
            _print_json(found)
            return 0
        _print_case(found["summary"], found["deadlines"], found["dossier"])
        _print_toets(found.get("poortwachtertoets"))
        return 0

    return _run(args, command)


def _print_case(s: dict[str, Any], deadlines: list[dict[str, Any]], dossier: list[dict[str, Any]]) -> None:
    print(f"Case {s['case_id']} - employer {s['employer_id']} - stage {s['stage']}")
    lines: list[tuple[str, Any]] = [
        ("first sick day", f"{s['first_sick_day']} (week {s['illness_week']}, day {s['illness_day']}; "
                           f"rule set {s['ruleset']})"),
    ]
    if s.get("closed_on"):
        lines.append(("closed", f"{s['closed_on']} ({s.get('outcome') or 'closed'})"))
    if s.get("recovered_on"):
        extra = f"; closes on {s['closes_on_without_relapse']} without a relapse" if s.get("closes_on_without_relapse") else ""
        lines.append(("recovered on", f"{s['recovered_on']}{extra}"))
    nxt = s.get("next_deadline")
    lines.append(("next deadline", f"{_step(nxt)} due {nxt.get('due')}" if nxt else None))
    lines.append(("overdue", ", ".join(s.get("overdue") or []) or "none"))
    lines.append(("waiting time ends", s.get("wachttijd_ends")))
    if s.get("spoor2_running") or s.get("spoor2_status") or s.get("spoor2_result"):
        parts = [f"status {s.get('spoor2_status')}"]
        if s.get("spoor2_phase"):
            parts.append(f"phase {s['spoor2_phase']}")
        if s.get("spoor2_coach_id"):
            parts.append(f"coach {s['spoor2_coach_id']}")
        if s.get("spoor2_result"):
            parts.append(f"result {s['spoor2_result']}")
        lines.append(("spoor 2", ", ".join(parts)))
    if s.get("loonsanctie"):
        ls = s["loonsanctie"]
        lines.append(("loonsanctie", f"{ls.get('weeks')} weeks, imposed {ls.get('imposed_on')}"))
    if s.get("escalation_level") is not None:
        esc = f"level {s['escalation_level']}"
        if s.get("stalled_since"):
            esc += f", stalled since {s['stalled_since']}"
        if s.get("escalation_reason"):
            esc += f" ({s['escalation_reason']})"
        lines.append(("escalation", esc))
    if s.get("expected"):
        e = s["expected"]
        lines.append(("expected", f"{e.get('what')} by {e.get('by')} ({e.get('context')})"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"  {k + ':':<{width + 1}}  {_cell(v)}")
    print("\nDeadlines")
    _table(["step", "due", "status", "done on", "note"],
           [[_step(d), d.get("due"), d.get("status") + (" (late)" if d.get("late") else ""), d.get("done_on"),
             _deadline_note(d)] for d in deadlines])
    print("\nDossier")
    _table(["#", "date", "role", "kind", "summary"],
           [[e.get("seq"), e.get("on"), (e.get("actor") or {}).get("role"), e.get("kind"), _entry_text(e)]
            for e in dossier])


def _print_toets(toets: dict[str, Any] | None) -> None:
    """The poortwachtertoets's verdict and its open points, in the assessor's order."""
    if not toets:
        return
    print(f"\nPoortwachtertoets ({toets.get('as_of')}): {toets.get('verdict')}")
    labels = {step.value: label for step, label in TOETS_LABELS.items()}
    for p in toets.get("points", []):
        if p.get("status") == "open":
            print(f"  ! {labels.get(p.get('step'), p.get('step'))} {p.get('label')}: {p.get('detail')}")


def _entry_text(e: dict[str, Any]) -> str:
    """An entry's summary; an overdue observation with how it stands now (the dashboard's and documents' words)."""
    if not e.get("observation"):
        return str(e.get("summary"))
    return f"{e.get('summary')} [{standing(Observation.model_validate(e['observation']))}]"


def _step(d: dict[str, Any]) -> str:
    return f"{d['key']} #{d['occurrence']}" if d.get("occurrence") else d["key"]


def _deadline_note(d: dict[str, Any]) -> str | None:
    if d.get("waived_because"):
        return f"waived: {d['waived_because']}"
    dev = d.get("deviation")
    if dev:
        return f"moved to {dev.get('new_due')}: {dev.get('reason')}" if dev.get("new_due") else f"deviated: {dev.get('reason')}"
    if not d.get("tracked", True):
        return "milestone"
    return None


def _parse_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if args.json_body is not None:
        try:
            body = json.loads(args.json_body)
        except ValueError as err:
            raise BadInput(f"--json-body: not JSON ({err})") from None
        if not isinstance(body, dict):
            raise BadInput("--json-body: must be a JSON object of the action's fields")
        fields.update(body)
    for item in args.field:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BadInput(f"--field: {item!r} is not name=value")
        try:
            fields[name] = json.loads(text)
        except ValueError:
            fields[name] = text
    for name, given_by in _RESERVED_FIELDS.items():
        if name in fields:
            raise BadInput(f"{name}: not a field of the body; it is given by {given_by}")
    if args.on is not None:
        fields["on"] = args.on.isoformat()
    fields.setdefault("on", _today().isoformat())
    return fields


def _check_kind(kind: str, spoor2: bool) -> None:
    from domain.actions import ACTION_ROLES
    from domain.spoor2 import SPOOR2_ACTION_ROLES

    known, other = (SPOOR2_ACTION_ROLES, ACTION_ROLES) if spoor2 else (ACTION_ROLES, SPOOR2_ACTION_ROLES)
    if kind in known:
        return
    what = "spoor 2 trajectory action" if spoor2 else "case action"
    hint = (" (it is a case action: leave out --spoor2)" if spoor2 else " (it is a spoor 2 action: add --spoor2)") \
        if kind in other else f" (known: {', '.join(sorted(known))})"
    raise BadInput(f"KIND: {kind!r} is not a {what}{hint}")


def _new_key(given: str | None) -> str:
    if given:
        return given
    key = str(uuid.uuid4())
    # Before the request: if the answer is lost, the same key retries it safely.
    print(f"spoorwerk: idempotency key {key} (repeat with --key {key} to retry safely)", file=sys.stderr)
    return key


def _record(args: argparse.Namespace, kind: str, fields: dict[str, Any], *, spoor2: bool) -> int:
    async def command(backend: HttpBackend | DirectBackend) -> int:
        key = _new_key(args.key)
        result = await backend.act(args.case_id, kind, fields, key, spoor2=spoor2)
        if args.json:
            _print_json(result)
            return 0
        e = result["entry"]
        where = f"trajectory status {result['status']}" if spoor2 else f"stage {result['stage']}"
        first = "recorded" if result.get("applied", True) else "already recorded by this key (applied once)"
        print(f"{first}: {e['kind']} on case {args.case_id} ({where})")
        actor = e.get("actor") or {}
        print(f"  #{e.get('seq')}  {e.get('on')}  {actor.get('role')}{'/' + actor['id'] if actor.get('id') else ''}  "
              f"{e.get('summary')}")
        print(f"  key: {result.get('action_id', key)}")
        return 0

    return _run(args, command)


def _act(args: argparse.Namespace) -> int:
    try:
        _check_kind(args.kind, args.spoor2)
        fields = _parse_fields(args)
    except BadInput as err:
        return _fail(str(err))
    return _record(args, args.kind, fields, spoor2=args.spoor2)


def _ack(args: argparse.Namespace) -> int:
    on = (args.on or _today()).isoformat()
    return _record(args, "escalation_acknowledged", {"reason": args.reason, "on": on}, spoor2=False)


def _open(args: argparse.Namespace) -> int:
    body = {"case_id": args.case_id, "employer_id": args.employer, "first_sick_day": args.first_sick_day.isoformat()}

    async def command(backend: HttpBackend | DirectBackend) -> int:
        key = _new_key(args.key)
        opened = await backend.open(body, key)
        if args.json:
            _print_json(opened)
            return 0
        if opened.get("created", True):
            print(f"opened case {opened['case_id']} (employer {args.employer}, first sick day {args.first_sick_day})")
        else:
            print(f"case {opened['case_id']} was opened before by this key")
        print(f"  key: {key}")
        return 0

    return _run(args, command)


# --------------------------------------------------------------------------- the read audit
#
# `spoorwerk audit` reads the service's own database (Settings().database) directly, not the API: who may
# open that database is operations by definition. Its own read is recorded too (what=audit, channel cli).

_AUDIT_WHAT_NL = {"case": "zaak", "deadlines": "termijnen", "dossier": "dossier", "state": "toestand",
                  "poortwachtertoets": "poortwachtertoets", "spoor2": "spoor 2", "document": "document",
                  "codec_decode": "ontsleutelde payload", "audit": "audit", "documents": "documentenlijst",
                  "cases": "zakenlijst"}
_AUDIT_OUTCOME_NL = {"allowed": "toegestaan", "refused": "geweigerd", "not_found": "niet gevonden"}


def _audit_word(kind: str):
    """Checks --what/--outcome against service.audit's sets, imported only when given (SQLAlchemy is slow to load)."""
    def parse(text: str) -> str:
        from service import audit

        words = [w.value for w in getattr(audit, kind)]
        if text not in words:
            raise argparse.ArgumentTypeError(f"{text!r} is onbekend (kies uit: {', '.join(words)})")
        return text
    return parse


def _add_audit_parser(sub: Any) -> None:
    from domain.models import Role

    aud = sub.add_parser(
        "audit", help="wie las welke zaak, welk dossier of document (de leesaudit)",
        description="Elke inzage van een zaak, dossier, document of ontsleutelde payload (wie, welke rol, wat, wanneer, "
                    "met welke uitkomst), nieuwste eerst, uit de eigen database van de service (SPOORWERK_DATABASE_URL; "
                    "standaard spoorwerk.db in SPOORWERK_DATA_DIR). Ook deze inzage wordt vastgelegd.")
    aud.add_argument("--case", dest="case_id", type=_opaque_id, metavar="ID", help="inzagen van deze zaak")
    aud.add_argument("--reader", dest="reader_id", type=_opaque_id, metavar="ID", help="inzagen door deze gebruiker")
    aud.add_argument("--role", dest="reader_role", choices=[r.value for r in Role], metavar="ROL",
                     help="inzagen in deze rol (operations, casemanager, bedrijfsarts, werkgever, ...)")
    aud.add_argument("--what", type=_audit_word("What"), metavar="WAT",
                     help="wat er gelezen is (case, deadlines, dossier, state, document, codec_decode, ...)")
    aud.add_argument("--outcome", type=_audit_word("Outcome"), metavar="UITKOMST", help="allowed, refused of not_found")
    aud.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="vanaf deze dag (Nederlandse kalenderdag)")
    aud.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="tot en met deze dag")
    aud.add_argument("--limit", type=_bounded(1, 500, "a number of reads"), default=100, metavar="N",
                     help="hoogstens N inzagen (1-500, standaard 100)")
    aud.add_argument("--cursor", type=_bounded(1, 2**63 - 1, "a cursor"), metavar="N",
                     help="verder na een eerdere lijst (de cursor die daaronder staat)")
    aud.add_argument("--actor-id", type=_opaque_id, default=DEFAULT_ACTOR_ID, metavar="ID",
                     help=f"het operations-id waaronder deze inzage wordt vastgelegd (standaard {DEFAULT_ACTOR_ID})")
    aud.add_argument("--json", action="store_true", help="JSON in plaats van een tabel")
    aud.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from domain.models import Role
    from domain.nl_time import utc_offset
    from operations.auth import Caller
    from service.audit import AuditStore, Channel, What
    from service.db import open_database
    from service.settings import Settings

    try:
        url = Settings().database
    except ValidationError as err:
        return _fail(f"configuration: {_settings_problems(err)}")
    try:
        store = AuditStore(open_database(url))
        page = store.query(case_id=args.case_id, reader_id=args.reader_id, reader_role=args.reader_role, what=args.what,
                           outcome=args.outcome, since=args.since, until=args.until, limit=args.limit, cursor=args.cursor)
        store.record(Caller(role=Role.OPERATIONS, id=args.actor_id), What.AUDIT, case_id=args.case_id,
                     channel=Channel.CLI)
    except ValueError as err:  # --until before --since
        return _fail(f"--{err}")
    except ArgumentError as err:
        return _fail(f"configuration: SPOORWERK_DATABASE_URL is not a usable database URL ({err})")
    except SQLAlchemyError as err:
        detail = str(getattr(err, "orig", None) or err).splitlines()[0][:300]
        print(f"spoorwerk: de database van de service is niet bereikbaar: {detail}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        _print_json(page.model_dump(mode="json"))
        return 0
    if not page.records:
        print("geen inzagen gevonden")
        return 0
    _table(["nr", "tijdstip (NL)", "rol", "lezer", "gelezen", "zaak", "object", "uitkomst", "via"],
           [[r.id, (r.at + utc_offset(r.at)).strftime("%Y-%m-%d %H:%M:%S"), r.reader_role, r.reader_id,
             _AUDIT_WHAT_NL.get(r.what, r.what), r.case_id, r.object_id, _AUDIT_OUTCOME_NL.get(r.outcome, r.outcome),
             r.channel.value] for r in page.records])
    n = len(page.records)
    more = f" (er zijn er meer: --cursor {page.next_cursor})" if page.next_cursor else ""
    print(f"\n{n} {'inzage' if n == 1 else 'inzagen'}{more}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spoorwerk` command (called with `argv`, it only returns the exit code)."""
    args = _parser().parse_args(argv)
    code = args.func(args)
    if argv is None and getattr(args, "direct", False):
        # As a program that loaded the Temporal client: skip interpreter teardown, which the bridge's
        # threads can abort with "PyGILState_Release: thread state must be current" (sdk-python#300).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
