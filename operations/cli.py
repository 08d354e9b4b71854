"""`spoorwerk`: the command line for case managers and operations.

It speaks Dutch by default and English with SPOORWERK_LANGUAGE=en (service.i18n; the HTTP API is asked for the
same language). `calendar` works offline. The case commands (`cases`, `case`, `act`, `ack`, `open`) talk to the
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

from documents import dossier_text
from domain import glossary
from domain.clock import PeriodError, build_periods, split_into_cases, statutory_calendar
from domain.models import OPAQUE_ID_PATTERN, Stage
from service import i18n, refusals
from service.i18n import N_, _, ngettext
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
_RESERVED_FIELDS = {"kind": "KIND", "actor": N_("the token's role (or --actor-id with --direct)"), "action_id": "--key"}


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("%(text)s is not a date (use YYYY-MM-DD)", text=repr(text))) from None


def _opaque_id(text: str) -> str:
    if not _OPAQUE.match(text):
        raise argparse.ArgumentTypeError(
            _("%(text)s is not an opaque id (a letter, then 1-63 letters, digits, '_' or '-')", text=repr(text))
        )
    return text


def _key(text: str) -> str:
    if not _ACTION_ID.match(text):
        raise argparse.ArgumentTypeError(
            _(
                "%(text)s is not an idempotency key (1-100 of letters, digits, '.', '_', "
                "':', '-'; first a letter or digit)",
                text=repr(text),
            )
        )
    return text


def _level(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 3:
        raise argparse.ArgumentTypeError(_("%(text)s is not an escalation level (0-3)", text=repr(text)))
    return value


def _bounded(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                _("%(text)s is not %(what)s (%(low)s-%(high)s)", text=repr(text), what=_(what), low=low, high=high)
            )
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spoorwerk",
        description=_("Spoorwerk: sick-leave cases under the Wet verbetering poortwachter"),
        epilog=_(
            "Exit codes: 0 done, 1 refused by the API or the case (or a server error), 2 bad command-line "
            "input, 3 the API or Temporal cannot be reached."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cal = sub.add_parser(
        "calendar",
        help=_("print every statutory step of a case with its due date"),
        description=_(
            "Every statutory step with its due date. Give each recovery (the first day back at "
            "work) and each relapse (the first sick day again) in order: sick periods less than "
            "four weeks apart add up and the gap moves every later deadline."
        ),
    )
    cal.add_argument("--first-sick-day", type=_date, required=True, metavar="YYYY-MM-DD")
    cal.add_argument(
        "--recovered",
        type=_date,
        action="append",
        default=[],
        metavar="YYYY-MM-DD",
        help=_("first day back at work (repeatable, in order)"),
    )
    cal.add_argument(
        "--relapse",
        type=_date,
        action="append",
        default=[],
        metavar="YYYY-MM-DD",
        help=_("first sick day of the next period (repeatable, in order)"),
    )
    cal.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    cal.set_defaults(func=_calendar)

    # How the case commands reach Spoorwerk: the HTTP API, or Temporal directly.
    conn = argparse.ArgumentParser(add_help=False)
    where = conn.add_argument_group(
        _("connection"),
        _(
            "By default the command uses the HTTP API with a bearer token, acting in the token's role. "
            "With --direct it talks to Temporal itself (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and "
            "SPOORWERK_TASK_QUEUE from the environment, as the worker reads them) and acts as the role "
            "operations, with the id --actor-id."
        ),
    )
    where.add_argument(
        "--api",
        metavar="URL",
        default=_default_api_url(),
        help=_(
            "the API's base URL (env SPOORWERK_API_URL; default SPOORWERK_API_HOST and "
            "SPOORWERK_API_PORT as the service reads them, else %(url)s)",
            url=DEFAULT_API_URL,
        ),
    )
    where.add_argument(
        "--token",
        default=None,
        help=_(
            "bearer token (env SPOORWERK_API_TOKEN; default the embedded worker's operations "
            "token in <SPOORWERK_DATA_DIR>/api-token)"
        ),
    )
    where.add_argument(
        "--direct", action="store_true", help=_("talk to Temporal directly instead of the API, as the role operations")
    )
    where.add_argument(
        "--actor-id",
        type=_opaque_id,
        default=DEFAULT_ACTOR_ID,
        help=_("with --direct: the operations id actions are recorded under (default %(id)s)", id=DEFAULT_ACTOR_ID),
    )

    lst = sub.add_parser(
        "cases",
        parents=[conn],
        help=_("list cases, filtered by stage, phase, deadline, escalation, ..."),
        description=_(
            "Running cases (with --closed also closed ones) matching every filter given, most recently "
            "opened first; follows the API's pages up to --limit."
        ),
    )
    lst.add_argument("--stage", choices=[s.value for s in Stage])
    lst.add_argument("--phase", type=_bounded(1, 9, N_("a spoor 2 phase")), metavar="N", help=_("spoor 2 phase"))
    overdue = lst.add_mutually_exclusive_group()
    overdue.add_argument(
        "--overdue",
        dest="overdue",
        action="store_const",
        const=True,
        default=None,
        help=_("only cases with an overdue statutory step"),
    )
    overdue.add_argument(
        "--not-overdue", dest="overdue", action="store_const", const=False, help=_("only cases without an overdue step")
    )
    lst.add_argument("--min-level", type=_level, metavar="N", help=_("escalation level at least N (0-3)"))
    lst.add_argument("--employer", type=_opaque_id, metavar="ID")
    lst.add_argument(
        "--coach", type=_opaque_id, metavar="ID", help=_("the re-integratiecoach of the running trajectory")
    )
    lst.add_argument("--deadline-before", type=_date, metavar="YYYY-MM-DD", help=_("next deadline before this day"))
    lst.add_argument("--casemanager", type=_opaque_id, metavar="ID", help=_("cases this casemanager is assigned to"))
    lst.add_argument(
        "--search",
        metavar="TEXT",
        help=_(
            "as the overview's search box: the start of a case id, or the employee's exact surname or personnel number"
        ),
    )
    lst.add_argument("--closed", action="store_true", help=_("also list closed cases"))
    lst.add_argument(
        "--limit",
        type=_bounded(1, 100_000, N_("a number of cases")),
        default=100,
        metavar="N",
        help=_("at most N cases (default 100)"),
    )
    lst.add_argument(
        "--page-size",
        type=_bounded(1, 500, N_("a page size")),
        default=None,
        metavar="N",
        help=_("cases per request (default: --limit, at most 500)"),
    )
    lst.add_argument("--page-token", default=None, help=_("continue after an earlier --json listing's next_page_token"))
    lst.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    lst.add_argument(
        "--csv",
        action="store_true",
        help=_("every matching case as CSV for a spreadsheet (GET /api/cases.csv; --limit and pages do not apply)"),
    )
    lst.add_argument(
        "--sort",
        choices=["next_deadline", "first_sick_day", "stage"],
        help=_("with --csv: the overview's order (default most recently opened first)"),
    )
    lst.add_argument("--out", metavar=_("FILE"), help=_("with --csv: write it to FILE (default: print it)"))
    lst.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    lst.set_defaults(func=_cases)

    werk = sub.add_parser(
        "werk",
        parents=[conn],
        help=_("Mijn werk: steps due in the coming 14 days, overdue, escalated"),
        description=_(
            "The cases in your scope with a step due in the coming 14 days, an overdue "
            "step or an escalation waiting (the API's GET /api/worklist)."
        ),
    )
    werk.add_argument(
        "--sort",
        choices=["due", "case", "step"],
        default="due",
        help=_("due: overdue and escalated first, then by due day (default); case; step"),
    )
    werk.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    werk.set_defaults(func=_werk)

    one = sub.add_parser(
        "case",
        parents=[conn],
        help=_("one case: summary, deadlines and dossier"),
        description=_("A case at a glance, every statutory step with its status, and its dossier."),
    )
    one.add_argument("case_id", type=_opaque_id, metavar="ID")
    one.add_argument("--json", action="store_true", help=_("print JSON ({summary, deadlines, dossier})"))
    one.set_defaults(func=_case)

    docs = sub.add_parser(
        "documents",
        parents=[conn],
        help=_("the documents of a case that you may read"),
        description=_("The documents made for a case (the versions your role may read), newest first."),
    )
    docs.add_argument("case_id", type=_opaque_id, metavar="ID")
    docs.add_argument("--json", action="store_true", help=_("print JSON"))
    docs.set_defaults(func=_documents)

    doc = sub.add_parser(
        "document",
        parents=[conn],
        help=_("save a document of a case (PDF or HTML)"),
        description=_(
            "Saves a document of a case, as PDF (checked against the hash in the dossier) or with --html as HTML."
        ),
    )
    doc.add_argument("case_id", type=_opaque_id, metavar="ID")
    doc.add_argument("order_id", metavar="DOCUMENT", help=_("the name from `spoorwerk documents ID`"))
    doc.add_argument("--html", action="store_true", help=_("the HTML instead of the PDF"))
    doc.add_argument("--out", metavar=_("FILE"), help=_("where it goes (default <case>-<document>.pdf here)"))
    doc.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    doc.set_defaults(func=_document)

    bun = sub.add_parser(
        "bundle",
        parents=[conn],
        help=_("save the re-integratieverslag's documents as a ZIP for UWV's portal"),
        description=_(
            "Saves every document of a case that you may read as one ZIP: a PDF per document, named by its type "
            "and date, with an index (inhoud.txt) of what is in it and what the re-integratieverslag still lacks."
        ),
    )
    bun.add_argument("case_id", type=_opaque_id, metavar="ID")
    bun.add_argument(
        "--out", metavar=_("FILE"), help=_("where it goes (default re-integratieverslag-<case>-<day>.zip here)")
    )
    bun.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    bun.set_defaults(func=_bundle)

    act = sub.add_parser(
        "act",
        parents=[conn],
        help=_("record an action on a case (or, with --spoor2, on its trajectory)"),
        description=_(
            "Record an action; prints the dossier entry it made. The idempotency key makes a retry "
            "apply once: without --key a fresh one is made and printed, so a retry can reuse it. "
            "Fields: --json-body '{...}' and/or --field name=value (a value is JSON when it parses: "
            "numbers, true/false, lists, objects; else text); --field wins over --json-body."
        ),
    )
    act.add_argument("case_id", type=_opaque_id, metavar="ID")
    act.add_argument(
        "kind", metavar="KIND", help=_("the action, e.g. ziekmelding_arbodienst_sent (see domain/actions.py)")
    )
    act.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help=_("the day it happened (default today, Amsterdam)"))
    act.add_argument("--spoor2", action="store_true", help=_("an action on the case's spoor 2 trajectory"))
    act.add_argument("--key", type=_key, metavar="IDEMPOTENCY_KEY", help=_("reuse to retry (default: a fresh uuid)"))
    act.add_argument(
        "--field", action="append", default=[], metavar="NAME=VALUE", help=_("a field of the action (repeatable)")
    )
    act.add_argument("--json-body", metavar="JSON", help=_("the action's fields as a JSON object"))
    act.add_argument("--json", action="store_true", help=_("print the API's JSON answer"))
    act.set_defaults(func=_act)

    ack = sub.add_parser(
        "ack",
        parents=[conn],
        help=_("acknowledge a case's escalation (escalation_acknowledged)"),
        description=_("Operations saw the escalation: the level stays, the climb stops for a while."),
    )
    ack.add_argument("case_id", type=_opaque_id, metavar="ID")
    ack.add_argument("--reason", required=True, help=_("why (3-2000 characters)"))
    ack.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help=_("default today (Amsterdam)"))
    ack.add_argument("--key", type=_key, metavar="IDEMPOTENCY_KEY", help=_("reuse to retry (default: a fresh uuid)"))
    ack.add_argument("--json", action="store_true", help=_("print the API's JSON answer"))
    ack.set_defaults(func=_ack)

    opn = sub.add_parser(
        "open",
        parents=[conn],
        help=_("open a case"),
        description=_("Open a case; the same --key again answers with the case it opened."),
    )
    opn.add_argument("case_id", type=_opaque_id, metavar="ID")
    opn.add_argument("--employer", type=_opaque_id, required=True, metavar="ID")
    opn.add_argument("--first-sick-day", type=_date, required=True, metavar="YYYY-MM-DD")
    opn.add_argument("--surname", metavar="NAME", help=_("the employee's surname, with any prefix (de Vries)"))
    opn.add_argument("--given-names", metavar="NAME", help=_("the employee's given name or initials"))
    opn.add_argument("--personnel-number", metavar="NUMBER", help=_("the employee's personnel number"))
    opn.add_argument("--bsn", metavar="BSN", help=_("the employee's BSN, for the messages to UWV (kept encrypted)"))
    opn.add_argument("--casemanager", type=_opaque_id, metavar="ID", help=_("the casemanager who takes the case on"))
    opn.add_argument("--key", type=_key, metavar="IDEMPOTENCY_KEY", help=_("reuse to retry (default: a fresh uuid)"))
    opn.add_argument("--json", action="store_true", help=_("print the API's JSON answer"))
    opn.set_defaults(func=_open)
    _add_audit_parser(sub)
    from operations.demo import add_demo_parser

    add_demo_parser(sub, conn)
    from operations.import_cli import add_import_parser

    add_import_parser(sub, conn)
    from operations.figures_cli import add_figures_parser

    add_figures_parser(sub, conn)
    from operations.uwv_cli import add_uwv_parser

    add_uwv_parser(sub, conn)
    from operations.repair_cli import add_repair_parser

    add_repair_parser(sub, _opaque_id, _run, DEFAULT_ACTOR_ID)
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
    print(_("spoorwerk: error: %(problem)s", problem=message), file=sys.stderr)
    return EXIT_BAD_INPUT


def _calendar(args: argparse.Namespace) -> int:
    recovered, relapses = args.recovered, args.relapse
    if len(relapses) > len(recovered):
        return _fail(
            _(
                "--relapse: %(relapses)s relapses but only %(recoveries)s recoveries; a relapse follows a recovery",
                relapses=len(relapses),
                recoveries=len(recovered),
            )
        )
    if len(recovered) > len(relapses) + 1:
        return _fail(_("--recovered: two recoveries need a relapse between them"))
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
            _(
                "a gap of %(days)s days or more before %(day)s starts a new case; showing that case "
                "(first sick day %(day)s)",
                days=ruleset.four_week_rule_days,
                day=current[0].start,
            )
        )
        ruleset = rulebook.for_first_sick_day(current[0].start)
        periods = current
    steps = statutory_calendar(ruleset, periods, working_day_holidays(ruleset, periods[0].start))
    if periods[-1].end is not None:
        notes.append(
            _(
                "recovered on %(day)s: the clock is paused; steps without a date resume on a relapse within four weeks",
                day=periods[-1].end,
            )
        )
    if args.json:
        out = {
            "first_sick_day": periods[0].start.isoformat(),
            "ruleset": ruleset.id,
            "deadlines": [
                {
                    "key": s.key,
                    "due": s.due.isoformat() if s.due else None,
                    "label": s.label,
                    **({"occurrence": s.occurrence} if s.occurrence else {}),
                }
                for s in steps
            ],
            "notes": notes,
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(_("First sick day %(day)s - rule set %(ruleset)s", day=periods[0].start, ruleset=ruleset.id))
    for note in notes:
        print(_("Note: %(note)s", note=note))
    print()
    _table(
        [_("step"), _("due"), _("day"), _("description")],
        [
            [
                f"{s.key} #{s.occurrence}" if s.occurrence else s.key,
                s.due.isoformat() if s.due else _("paused"),
                i18n.format_day(s.due, "EEE") if s.due else "",
                s.label,
            ]
            for s in steps
        ],
    )
    return 0


# --------------------------------------------------------------------------- reaching Spoorwerk
#
# Both backends answer in the API's JSON shapes (dicts), so the commands print the same either way.


class HttpBackend:
    """The HTTP API, as the token's caller."""

    def __init__(self, url: str, token: str | None) -> None:
        import httpx

        self.url = url.rstrip("/")
        # The API answers in the command's language (SPOORWERK_LANGUAGE), as the dashboard in its user's.
        headers = {"Accept-Language": i18n.language(), **({"Authorization": f"Bearer {token}"} if token else {})}
        try:
            self._client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as err:
            raise BadInput(_("--api: %(url)s is not a usable URL (%(error)s)", url=repr(url), error=err)) from None

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, *, key: str | None = None, raw: bool = False, **kwargs: Any) -> Any:
        """The API's JSON answer (with `raw`, its bytes), retried on 503; refusals become `Refused`."""
        import httpx

        headers = {"Idempotency-Key": key} if key else None
        try:
            response = await self._client.request(method, path, headers=headers, **kwargs)
            # A case restarting answers 503 with Retry-After: the same request (same key) again, a few times.
            for _attempt in range(BUSY_RETRIES):
                wait = response.headers.get("Retry-After", "")
                if response.status_code != 503 or not wait.isdigit():
                    break
                await asyncio.sleep(min(int(wait), 30))
                response = await self._client.request(method, path, headers=headers, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as err:
            raise BadInput(_("--api: %(url)s is not a usable URL (%(error)s)", url=repr(self.url), error=err)) from None
        except httpx.TimeoutException:
            raise Unreachable(
                _(
                    "the Spoorwerk API at %(url)s did not answer within %(seconds)s s",
                    url=self.url,
                    seconds=f"{HTTP_TIMEOUT_SECONDS:.0f}",
                )
            ) from None
        except httpx.TransportError as err:
            raise Unreachable(
                _(
                    "cannot reach the Spoorwerk API at %(url)s (%(error)s); is the worker running? "
                    "(--api or SPOORWERK_API_URL)",
                    url=self.url,
                    error=err or type(err).__name__,
                )
            ) from None
        if response.is_success:
            if raw:
                return response.content
            try:
                return response.json()
            except ValueError:
                raise Unreachable(
                    _(
                        "the server at %(url)s does not answer as the Spoorwerk API (no JSON at %(path)s)",
                        url=self.url,
                        path=path,
                    )
                ) from None
        try:
            detail = response.json().get("detail")
            reason = detail if isinstance(detail, str) else _field_errors(detail)
        except (ValueError, AttributeError):
            reason = response.text.strip()[:500] or response.reason_phrase
        if response.status_code in (502, 503, 504):
            raise Unreachable(
                _(
                    "the Spoorwerk API at %(url)s is unavailable (HTTP %(status)s): %(reason)s",
                    url=self.url,
                    status=response.status_code,
                    reason=reason,
                )
            )
        raise Refused(response.status_code, reason)

    async def page(self, filters: dict[str, Any], page_size: int, page_token: str | None) -> dict[str, Any]:
        params = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in filters.items() if v is not None}
        params["page_size"] = str(page_size)
        if page_token:
            params["page_token"] = page_token
        return await self._call("GET", "/api/cases", params=params)

    async def worklist(self, sort: str) -> dict[str, Any]:
        return await self._call("GET", "/api/worklist", params={"sort": sort})

    async def cases_csv(self, filters: dict[str, Any], sort: str | None) -> bytes:
        params = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in filters.items() if v is not None}
        return await self._call("GET", "/api/cases.csv", params=params | ({"sort": sort} if sort else {}), raw=True)

    async def bundle(self, case_id: str) -> bytes:
        return await self._call("GET", f"/api/cases/{quote(case_id, safe='')}/bundle", raw=True)

    async def case(self, case_id: str) -> dict[str, Any]:
        base = f"/api/cases/{quote(case_id, safe='')}"
        return {
            "summary": await self._call("GET", base),
            "deadlines": await self._call("GET", f"{base}/deadlines"),
            "dossier": await self._call("GET", f"{base}/dossier"),
            "poortwachtertoets": await self._call("GET", f"{base}/poortwachtertoets"),
        }

    async def documents(self, case_id: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"/api/cases/{quote(case_id, safe='')}/documents")

    async def download(self, case_id: str, document: dict[str, Any], fmt: str) -> bytes:
        return await self._call("GET", document[fmt], raw=True)

    async def act(self, case_id: str, kind: str, fields: dict[str, Any], key: str, *, spoor2: bool) -> dict[str, Any]:
        where = "spoor2/actions" if spoor2 else "actions"
        return await self._call(
            "POST", f"/api/cases/{quote(case_id, safe='')}/{where}/{quote(kind, safe='')}", key=key, json=fields
        )

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
            raise BadInput(_("configuration: %(problems)s", problems=_settings_problems(err))) from None
        self.actor = {"role": "operations", "id": actor_id}
        self.client: Any = None
        self._audit_store: Any = None

    @property
    def where(self) -> str:
        return _(
            "Temporal at %(host)s (namespace %(namespace)s)",
            host=self.settings.target_host,
            namespace=self.settings.temporal_namespace,
        )

    async def connect(self) -> None:
        from service.codec import EncryptionKeyError
        from service.temporal import connect

        try:
            self.client = await asyncio.wait_for(connect(self.settings), timeout=HTTP_TIMEOUT_SECONDS)
        except EncryptionKeyError as err:
            raise BadInput(_("configuration: %(problems)s", problems=err)) from None
        except (OSError, RuntimeError, asyncio.TimeoutError) as err:
            detail = str(err).splitlines()[0][:300] if str(err) else type(err).__name__
            raise Unreachable(
                _("cannot reach %(where)s: %(detail)s (TEMPORAL_ADDRESS)", where=self.where, detail=detail)
            ) from None

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
            raise Refused(404, err.said(), http=False) from None
        except cases.InvalidInput as err:
            raise Refused(422, err.said(), http=False) from None
        except cases.RoleRefused as err:
            raise Refused(403, err.said(), http=False) from None
        except (cases.ActionRejected, cases.CaseAlreadyExists) as err:
            raise Refused(409, refusals.said(err), http=False) from None
        except cases.CaseBusy as err:
            raise Unreachable(
                _("the case cannot take actions just now; send the same request again: %(error)s", error=err)
            ) from None
        except WorkflowQueryFailedError as err:
            raise Refused(409, str(err), http=False) from None
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND and case_id is not None:
                raise Refused(404, _("case_id: no case %(case)s", case=repr(case_id)), http=False) from None
            if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
                raise Unreachable(
                    _("cannot reach %(where)s: %(detail)s", where=self.where, detail=err.message)
                ) from None
            if err.status is RPCStatusCode.INVALID_ARGUMENT:
                raise Refused(422, err.message, http=False) from None
            raise Refused(
                500,
                _("Temporal answered %(status)s: %(detail)s", status=err.status.name, detail=err.message),
                http=False,
            ) from None
        except ValueError as err:  # a filter or an opening that does not validate
            raise Refused(422, str(err), http=False) from None

    async def page(self, filters: dict[str, Any], page_size: int, page_token: str | None) -> dict[str, Any]:
        from operations import cases

        found = await self._run(
            cases.page_cases(self.client, page_size=page_size, page_token=page_token, **self._filters(filters))
        )
        return found.model_dump(mode="json")

    def _filters(self, filters: dict[str, Any]) -> dict[str, Any]:
        """The command's filters as `operations.cases.cases_query` takes them (the API's listing does the same)."""
        from operations import cases, people

        filters = dict(filters)
        running_only = not filters.pop("closed", False)
        text = filters.pop("q", None)
        found_by = cases.search_filters(text, people.process_key()) if text else {}
        if text and not found_by:
            raise Refused(422, _("q: give the start of a case id, a surname or a personnel number"), http=False)
        return filters | found_by | {"running_only": running_only}

    async def cases_csv(self, filters: dict[str, Any], sort: str | None) -> bytes:
        from domain.models import Role
        from operations import case_export
        from operations.auth import Caller

        operations = Caller(role=Role.OPERATIONS, id=self.actor["id"])
        try:
            rows = await self._run(case_export.export_rows(self.client, operations, self._filters(filters), sort=sort))
        except case_export.TooMany:
            raise Refused(
                422,
                _("filters: more than %(limit)s cases match; narrow the filters", limit=case_export.MAX_ROWS),
                http=False,
            ) from None
        return ("\ufeff" + case_export.cases_csv(rows, _today())).encode("utf-8")

    async def bundle(self, case_id: str) -> bytes:
        from documents.store import DocumentStoreError, store_from_settings
        from domain.models import Role
        from operations import bundle, cases
        from operations.auth import Caller
        from operations.documents import case_documents
        from workflows.sick_leave_case import SickLeaveCase

        operations = Caller(role=Role.OPERATIONS, id=self.actor["id"])
        try:
            refs = await self._run(case_documents(self.client, case_id), case_id)
        except Refused:
            self._audit("documents", case_id, outcome="not_found")
            raise
        self._audit("documents", case_id)
        files = bundle.chosen(operations, refs, [])  # operations never reads the bedrijfsarts's version
        self._audit("poortwachtertoets", case_id)
        handle = cases.case_handle(self.client, case_id)
        toets = await self._run(
            handle.query(SickLeaveCase.poortwachtertoets, args=[_today(), load_dossier_rules().preflight]), case_id
        )
        store = store_from_settings(self.settings)
        for f in files:
            self._audit("document", case_id, object_id=f.ref.order.order_id)
            try:
                f.data = await asyncio.to_thread(store.get, f.ref.pdf)
            except DocumentStoreError as err:
                raise Unreachable(_("the document store: %(error)s", error=err)) from None
        index = bundle.index_text(case_id, files, toets, operations, _today())
        return await asyncio.to_thread(bundle.zipped, files, index)

    async def worklist(self, sort: str) -> dict[str, Any]:
        """Operations' work list: every running case with work waiting (operations' scope is all cases)."""
        from operations import worklist

        found = await self._run(worklist.page_worklist(self.client, today=_today(), scope={}, sort=worklist.Sort(sort)))
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
        toets = await self._run(
            handle.query(SickLeaveCase.poortwachtertoets, args=[_today(), load_dossier_rules().preflight]), case_id
        )
        return {
            "summary": summary.model_dump(mode="json"),
            "deadlines": [d.model_dump(mode="json") for d in deadlines],
            "dossier": [e.model_dump(mode="json") for e in dossier],
            "poortwachtertoets": toets.model_dump(mode="json") if toets else None,
        }

    def _audit(self, what: str, case_id: str, *, object_id: str | None = None, outcome: str = "allowed") -> None:
        """Record a read in the read audit, as the API does for its own (operations, --actor-id, channel cli)."""
        from domain.models import Role
        from operations.auth import Caller
        from service.audit import AuditStore, Channel
        from service.db import open_database

        if self._audit_store is None:  # one engine for the command, opened on its first read
            self._audit_store = AuditStore(open_database(self.settings.database))
        self._audit_store.record(
            Caller(role=Role.OPERATIONS, id=self.actor["id"]),
            what,
            case_id=case_id,
            object_id=object_id,
            outcome=outcome,
            channel=Channel.CLI,
        )

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
        return [document_view(case_id, r).model_dump(mode="json") for r in refs if may_read(operations, r, [])]

    async def download(self, case_id: str, document: dict[str, Any], fmt: str) -> bytes:
        from documents.store import DocumentStoreError, store_from_settings
        from operations.documents import case_documents

        refs = await self._run(case_documents(self.client, case_id), case_id)
        ref = next(r for r in refs if r.order.order_id == document["order_id"])
        self._audit("document", case_id, object_id=ref.order.order_id)
        try:
            return await asyncio.to_thread(
                store_from_settings(self.settings).get, ref.pdf if fmt == "pdf" else ref.html
            )
        except DocumentStoreError as err:
            raise Unreachable(_("the document store: %(error)s", error=err)) from None

    async def act(self, case_id: str, kind: str, fields: dict[str, Any], key: str, *, spoor2: bool) -> dict[str, Any]:
        from domain.models import Actor
        from operations import cases
        from operations import spoor2 as trajectories

        async def record() -> Any:
            # The same one parse as the API's routes (operations.cases.submitted), then straight to the case.
            sent = cases.submitted(kind, fields, action_id=key, actor=Actor.model_validate(self.actor), spoor2=spoor2)
            return await (trajectories.act if spoor2 else cases.act)(self.client, case_id, sent)

        # The bedrijfsarts ids an answer carries are for redaction, not for printing.
        return (await self._run(record(), case_id)).model_dump(mode="json", exclude={"bedrijfsarts_ids"})

    async def open(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        from pydantic import ValidationError

        from domain.actions import validation_refusal
        from domain.case import CaseOpening
        from operations import cases

        try:
            opening = CaseOpening.model_validate({**body, "opened_by": self.actor})
        except ValidationError as err:
            raise Refused(422, refusals.said(validation_refusal(err, ())), http=False) from None
        handle = await self._run(
            cases.open_case(self.client, opening, task_queue=self.settings.task_queue, request_key=key)
        )
        return {"case_id": body["case_id"], "created": handle.first_execution_run_id is not None}


def _field_errors(detail: Any) -> str:
    """The API's 422 list as 'field: reason; …', the form every other refusal has."""
    if not isinstance(detail, list) or not all(isinstance(e, dict) and "msg" in e for e in detail):
        return json.dumps(detail, ensure_ascii=False)
    where = ("body", "query", "path", "header")
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', []) if p not in where) or 'body'}: {e['msg']}" for e in detail
    )


def _settings_problems(err: Any) -> str:
    return "; ".join(
        e["msg"].removeprefix("Value error, ") + (f" ({'.'.join(map(str, e['loc']))})" if e["loc"] else "")
        for e in err.errors(include_url=False)
    )


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
        raise BadInput(_("configuration: %(problems)s", problems=_settings_problems(err))) from None
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
        # A server error is no refusal, but no outage either.
        what = _("failed") if err.status >= 500 else _("refused")
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
        return _("yes") if value else _("no")
    return str(value)


# --------------------------------------------------------------------------- the case commands


def _cases(args: argparse.Namespace) -> int:
    filters = {
        "stage": args.stage,
        "spoor2_phase": args.phase,
        "overdue": args.overdue,
        "min_escalation_level": args.min_level,
        "employer_id": args.employer,
        "coach_id": args.coach,
        "deadline_before": args.deadline_before,  # a date: --direct queries with it, the API gets str()
        "casemanager_id": args.casemanager,
        "q": args.search,
        "closed": True if args.closed else None,
    }
    filters = {k: v for k, v in filters.items() if v is not None}
    page_size = args.page_size or min(args.limit, 500)
    if args.csv:
        return _cases_csv(args, filters)
    for given in ("sort", "out"):
        if getattr(args, given):
            return _fail(_("--%(option)s: only with --csv", option=given))

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
            print(_("no cases match"))
            return 0
        _table(
            [
                _("case"),
                _("employer"),
                _("stage"),
                _("first sick day"),
                _("next deadline"),
                _("phase"),
                _("overdue"),
                _("level"),
            ],
            [
                [
                    c["case_id"],
                    c.get("employer_id"),
                    _stage(c.get("stage")),
                    c.get("first_sick_day"),
                    c.get("next_deadline"),
                    c.get("spoor2_phase"),
                    c.get("overdue"),
                    c.get("escalation_level"),
                ]
                for c in found
            ],
        )
        print(
            "\n"
            + (
                ngettext(
                    "%(num)s case (there may be more: raise --limit)",
                    "%(num)s cases (there may be more: raise --limit)",
                    len(found),
                )
                if token
                else ngettext("%(num)s case", "%(num)s cases", len(found))
            )
        )
        return 0

    return _run(args, command)


def _cases_csv(args: argparse.Namespace, filters: dict[str, Any]) -> int:
    """`cases --csv`: the export of GET /api/cases.csv, to --out as the API sends it (with the byte order mark a
    spreadsheet needs) or printed without it."""
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        return _fail(_("--out: %(file)s already exists; choose another name or give --force", file=out))

    async def command(backend: HttpBackend | DirectBackend) -> int:
        data = await backend.cases_csv(filters, args.sort)
        if out is None:
            sys.stdout.write(data.decode("utf-8-sig"))
            return 0
        await asyncio.to_thread(out.write_bytes, data)
        rows = max(data.decode("utf-8-sig").count("\r\n") - 1, 0)
        print(_("Saved: %(file)s (%(rows)s cases)", file=out, rows=rows))
        return 0

    return _run(args, command)


def _bundle(args: argparse.Namespace) -> int:
    from operations.bundle import bundle_name

    out = Path(args.out or bundle_name(args.case_id, _today()))
    if out.exists() and not args.force:
        return _fail(_("--out: %(file)s already exists; choose another name or give --force", file=out))

    async def command(backend: HttpBackend | DirectBackend) -> int:
        import zipfile
        from io import BytesIO

        data = await backend.bundle(args.case_id)
        try:
            names = zipfile.ZipFile(BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            raise Unreachable(_("the answer is not a ZIP; nothing was saved")) from None
        await asyncio.to_thread(out.write_bytes, data)
        pdfs = [n for n in names if n.endswith(".pdf")]
        print(_("Saved: %(file)s (%(count)s documents and the index inhoud.txt)", file=out, count=len(pdfs)))
        for name in pdfs:
            print(f"  {name}")
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
        _table(
            [_("case"), _("employee"), _("next step"), _("due"), _("overdue"), _("level"), _("employer")],
            [
                [
                    i["case_id"],
                    i.get("employee") or "",
                    i.get("step") or "",
                    i.get("due") or "",
                    ", ".join(i.get("overdue_steps") or []) or (_("yes") if i.get("overdue") else ""),
                    i.get("escalation_level"),
                    i.get("employer_id"),
                ]
                for i in page["items"]
            ],
        )
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
            print(
                _(
                    "Case %(case)s has no documents yet that you may read (ask for one: spoorwerk act ID "
                    "document_requested --field document=...).",
                    case=args.case_id,
                )
            )
            return 0
        _table(
            [_("document"), _("title"), _("version"), _("as of"), _("made (UTC)"), _("size")],
            [
                [
                    d["order_id"],
                    d["title"],
                    _(glossary.label(glossary.AUDIENCES_SHORT, d["audience"])),
                    d["as_of"],
                    d["rendered_at"][:16].replace("T", " "),
                    f"{round(d['pdf_bytes'] / 1024)} kB",
                ]
                for d in reversed(found)
            ],
        )
        print("\n" + _("Save: spoorwerk document %(case)s <document> [--html] [--out FILE]", case=args.case_id))
        return 0

    return _run(args, command)


def _document(args: argparse.Namespace) -> int:
    fmt = "html" if args.html else "pdf"
    out = Path(args.out or f"{args.case_id}-{args.order_id.replace(':', '-')}.{fmt}")
    if out.exists() and not args.force:
        return _fail(_("--out: %(file)s already exists; choose another name or give --force", file=out))

    async def command(backend: HttpBackend | DirectBackend) -> int:
        found = {d["order_id"]: d for d in await backend.documents(args.case_id)}
        document = found.get(args.order_id)
        if document is None:
            raise Refused(
                404,
                _(
                    "order_id: case %(case)s has no document %(document)s that you may read (%(found)s)",
                    case=args.case_id,
                    document=repr(args.order_id),
                    found=", ".join(found) or _("no documents"),
                ),
                http=False,
            )
        data = await backend.download(args.case_id, document, fmt)
        if fmt == "pdf" and hashlib.sha256(data).hexdigest() != document["pdf_sha256"]:
            raise Unreachable(
                _(
                    "the PDF of %(document)s does not match the hash in the dossier; nothing was saved",
                    document=args.order_id,
                )
            )
        await asyncio.to_thread(out.write_bytes, data)
        if fmt == "pdf":
            print(_("Saved: %(file)s (%(size)s bytes, equal to the hash in the dossier)", file=out, size=len(data)))
        else:
            print(_("Saved: %(file)s (%(size)s bytes)", file=out, size=len(data)))
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


def _stage(stage: Any) -> str:
    """A stage's name in the reader's language."""
    return _(glossary.stage_label(stage)) if stage else "-"


def _print_case(s: dict[str, Any], deadlines: list[dict[str, Any]], dossier: list[dict[str, Any]]) -> None:
    print(
        _(
            "Case %(case)s - employer %(employer)s - stage %(stage)s",
            case=s["case_id"],
            employer=s["employer_id"],
            stage=_stage(s["stage"]),
        )
    )
    lines: list[tuple[str, Any]] = [
        (
            _("first sick day"),
            _(
                "%(day)s (week %(week)s, day %(n)s; rule set %(ruleset)s)",
                day=s["first_sick_day"],
                week=s["illness_week"],
                n=s["illness_day"],
                ruleset=s["ruleset"],
            ),
        ),
    ]
    if s.get("closed_on"):
        outcome = _(glossary.label(glossary.OUTCOMES, s["outcome"])) if s.get("outcome") else _("closed")
        lines.append((_("closed"), f"{s['closed_on']} ({outcome})"))
    if s.get("recovered_on"):
        extra = (
            _("; closes on %(day)s without a relapse", day=s["closes_on_without_relapse"])
            if s.get("closes_on_without_relapse")
            else ""
        )
        lines.append((_("recovered on"), f"{s['recovered_on']}{extra}"))
    nxt = s.get("next_deadline")
    lines.append((_("next deadline"), _("%(step)s due %(day)s", step=_step(nxt), day=nxt.get("due")) if nxt else None))
    lines.append((_("overdue"), ", ".join(s.get("overdue") or []) or _("none")))
    lines.append((_("waiting time ends"), s.get("wachttijd_ends")))
    if s.get("spoor2_running") or s.get("spoor2_status") or s.get("spoor2_result"):
        parts = [_("status %(status)s", status=_(glossary.label(glossary.SPOOR2_STATUSES, s.get("spoor2_status"))))]
        if s.get("spoor2_phase"):
            parts.append(_("phase %(phase)s", phase=s["spoor2_phase"]))
        if s.get("spoor2_coach_id"):
            parts.append(_("coach %(coach)s", coach=s["spoor2_coach_id"]))
        if s.get("spoor2_result"):
            parts.append(_("result %(result)s", result=_(glossary.label(glossary.SPOOR2_OUTCOMES, s["spoor2_result"]))))
        lines.append((_("spoor 2"), ", ".join(parts)))
    if s.get("loonsanctie"):
        ls = s["loonsanctie"]
        lines.append(
            (_("loonsanctie"), _("%(weeks)s weeks, imposed %(day)s", weeks=ls.get("weeks"), day=ls.get("imposed_on")))
        )
    if s.get("escalation_level") is not None:
        esc = _("level %(level)s", level=s["escalation_level"])
        if s.get("stalled_since"):
            esc += _(", stalled since %(day)s", day=s["stalled_since"])
        if s.get("escalation_reason"):
            esc += f" ({_(glossary.label(glossary.ESCALATION_REASONS, s['escalation_reason']))})"
        lines.append((_("escalation"), esc))
    if s.get("expected"):
        e = s["expected"]
        lines.append(
            (
                _("expected"),
                _("%(what)s by %(day)s (%(context)s)", what=e.get("what"), day=e.get("by"), context=e.get("context")),
            )
        )
    width = max(len(k) for k, _v in lines)
    for k, v in lines:
        print(f"  {k + ':':<{width + 1}}  {_cell(v)}")
    print("\n" + _("Deadlines"))
    _table(
        [_("step"), _("due"), _("status"), _("done on"), _("note")],
        [[_step(d), d.get("due"), _deadline_status(d), d.get("done_on"), _deadline_note(d)] for d in deadlines],
    )
    print("\n" + _("Dossier"))
    _table(
        ["#", _("date"), _("by"), _("what")],
        [[e.seq, e.on.isoformat(), dossier_text.actor(e.actor), text] for e, text in _dossier_lines(dossier)],
    )


def _dossier_lines(dossier: list[dict[str, Any]]) -> list[tuple[Any, str]]:
    """The dossier newest first (by date, then by entry number), each entry with the sentence the dashboard and the
    documents show for it; an overdue observation says how it stands now."""
    from domain.models import DossierEntry
    from domain.observations import Observation

    entries = [DossierEntry.model_validate(e) for e in dossier]
    seen = {e["seq"]: Observation.model_validate(e["observation"]) for e in dossier if e.get("observation")}
    entries.sort(key=lambda e: (e.on, e.seq), reverse=True)
    return [(e, dossier_text.describe(e, seen=seen)) for e in entries]


def _print_toets(toets: dict[str, Any] | None) -> None:
    """The poortwachtertoets's verdict and its open points, in the assessor's order."""
    if not toets:
        return
    print("\n" + _("Poortwachtertoets (%(day)s): %(verdict)s", day=toets.get("as_of"), verdict=toets.get("verdict")))
    for p in toets.get("points", []):
        if p.get("status") == "open":
            step = _(glossary.label(glossary.TOETS_STEPS, p.get("step")))
            print(f"  ! {step} {p.get('label')}: {p.get('detail')}")


def _step(d: dict[str, Any]) -> str:
    return f"{d['key']} #{d['occurrence']}" if d.get("occurrence") else d["key"]


def _deadline_status(d: dict[str, Any]) -> str:
    status = _(glossary.label(glossary.DEADLINE_STATUSES, d.get("status")))
    return _("%(status)s (late)", status=status) if d.get("late") else status


def _deadline_note(d: dict[str, Any]) -> str | None:
    if d.get("waived_because"):
        return _("waived: %(reason)s", reason=d["waived_because"])
    dev = d.get("deviation")
    if dev:
        if dev.get("new_due"):
            return _("moved to %(day)s: %(reason)s", day=dev.get("new_due"), reason=dev.get("reason"))
        return _("deviated: %(reason)s", reason=dev.get("reason"))
    if not d.get("tracked", True):
        return _("milestone")
    return None


def _parse_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if args.json_body is not None:
        try:
            body = json.loads(args.json_body)
        except ValueError as err:
            raise BadInput(_("--json-body: not JSON (%(error)s)", error=err)) from None
        if not isinstance(body, dict):
            raise BadInput(_("--json-body: must be a JSON object of the action's fields"))
        fields.update(body)
    for item in args.field:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise BadInput(_("--field: %(item)s is not name=value", item=repr(item)))
        try:
            fields[name] = json.loads(text)
        except ValueError:
            fields[name] = text
    for name, given_by in _RESERVED_FIELDS.items():
        if name in fields:
            raise BadInput(
                _("%(name)s: not a field of the body; it is given by %(given_by)s", name=name, given_by=_(given_by))
            )
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
    if kind in other:
        hint = _("it is a case action: leave out --spoor2") if spoor2 else _("it is a spoor 2 action: add --spoor2")
    else:
        hint = _("known: %(kinds)s", kinds=", ".join(sorted(known)))
    if spoor2:
        raise BadInput(_("KIND: %(kind)s is not a spoor 2 trajectory action (%(hint)s)", kind=repr(kind), hint=hint))
    raise BadInput(_("KIND: %(kind)s is not a case action (%(hint)s)", kind=repr(kind), hint=hint))


def _new_key(given: str | None) -> str:
    if given:
        return given
    key = str(uuid.uuid4())
    # Before the request: if the answer is lost, the same key retries it safely.
    print(_("spoorwerk: idempotency key %(key)s (repeat with --key %(key)s to retry safely)", key=key), file=sys.stderr)
    return key


def _record(args: argparse.Namespace, kind: str, fields: dict[str, Any], *, spoor2: bool) -> int:
    async def command(backend: HttpBackend | DirectBackend) -> int:
        key = _new_key(args.key)
        result = await backend.act(args.case_id, kind, fields, key, spoor2=spoor2)
        if args.json:
            _print_json(result)
            return 0
        from domain.models import DossierEntry

        e = result["entry"]
        if spoor2:
            where = _(
                "trajectory status %(status)s", status=_(glossary.label(glossary.SPOOR2_STATUSES, result["status"]))
            )
        else:
            where = _("stage %(stage)s", stage=_stage(result["stage"]))
        if result.get("applied", True):
            print(_("recorded: %(kind)s on case %(case)s (%(where)s)", kind=e["kind"], case=args.case_id, where=where))
        else:
            print(
                _(
                    "already recorded by this key (applied once): %(kind)s on case %(case)s (%(where)s)",
                    kind=e["kind"],
                    case=args.case_id,
                    where=where,
                )
            )
        actor = e.get("actor") or {}
        entry = DossierEntry.model_validate(e)
        print(
            f"  #{e.get('seq')}  {e.get('on')}  {actor.get('role')}{'/' + actor['id'] if actor.get('id') else ''}  "
            f"{dossier_text.describe(entry)}"
        )
        print("  " + _("key: %(key)s", key=result.get("action_id", key)))
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
    body: dict[str, Any] = {
        "case_id": args.case_id,
        "employer_id": args.employer,
        "first_sick_day": args.first_sick_day.isoformat(),
    }
    if args.surname or args.given_names or args.personnel_number or args.bsn:
        if not args.surname:
            raise BadInput(_("--surname: the employee's surname is needed with a given name or personnel number"))
        body["employee"] = {
            "surname": args.surname,
            "given_names": args.given_names,
            "personnel_number": args.personnel_number,
            **({"bsn": args.bsn} if args.bsn else {}),
        }
    if args.casemanager:
        body["assigned"] = {"casemanager": [args.casemanager]}

    async def command(backend: HttpBackend | DirectBackend) -> int:
        key = _new_key(args.key)
        opened = await backend.open(body, key)
        if args.json:
            _print_json(opened)
            return 0
        if opened.get("created", True):
            print(
                _(
                    "opened case %(case)s (employer %(employer)s, first sick day %(day)s)",
                    case=opened["case_id"],
                    employer=args.employer,
                    day=args.first_sick_day,
                )
            )
        else:
            print(_("case %(case)s was opened before by this key", case=opened["case_id"]))
        print("  " + _("key: %(key)s", key=key))
        return 0

    return _run(args, command)


# --------------------------------------------------------------------------- the read audit
#
# `spoorwerk audit` reads the service's own database (Settings().database) directly, not the API: who may
# open that database is operations by definition. Its own read is recorded too (what=audit, channel cli).


def _audit_word(kind: str):
    """Checks --what/--outcome against service.audit's sets, imported only when given (SQLAlchemy is slow to load)."""

    def parse(text: str) -> str:
        from service import audit

        words = [w.value for w in getattr(audit, kind)]
        if text not in words:
            raise argparse.ArgumentTypeError(
                _("%(text)s is unknown (choose from: %(words)s)", text=repr(text), words=", ".join(words))
            )
        return text

    return parse


def _add_audit_parser(sub: Any) -> None:
    from domain.models import Role

    aud = sub.add_parser(
        "audit",
        help=_("who read which case, dossier or document (the read audit)"),
        description=_(
            "Every read of a case, dossier, document or decrypted payload (who, in which role, what, when, "
            "with which outcome), newest first, from the service's own database (SPOORWERK_DATABASE_URL; "
            "default spoorwerk.db in SPOORWERK_DATA_DIR). This read is recorded too."
        ),
    )
    aud.add_argument("--case", dest="case_id", type=_opaque_id, metavar="ID", help=_("reads of this case"))
    aud.add_argument("--reader", dest="reader_id", type=_opaque_id, metavar="ID", help=_("reads by this user"))
    aud.add_argument(
        "--role",
        dest="reader_role",
        choices=[r.value for r in Role],
        metavar=_("ROLE"),
        help=_("reads in this role (operations, casemanager, bedrijfsarts, werkgever, ...)"),
    )
    aud.add_argument(
        "--what",
        type=_audit_word("What"),
        metavar=_("WHAT"),
        help=_("what was read (case, deadlines, dossier, state, document, codec_decode, ...)"),
    )
    aud.add_argument(
        "--outcome", type=_audit_word("Outcome"), metavar=_("OUTCOME"), help=_("allowed, refused or not_found")
    )
    aud.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help=_("from this day (Dutch calendar day)"))
    aud.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help=_("up to and including this day"))
    aud.add_argument(
        "--limit",
        type=_bounded(1, 500, N_("a number of reads")),
        default=100,
        metavar="N",
        help=_("at most N reads (1-500, default 100)"),
    )
    aud.add_argument(
        "--cursor",
        type=_bounded(1, 2**63 - 1, N_("a cursor")),
        metavar="N",
        help=_("continue after an earlier list (the cursor shown below it)"),
    )
    aud.add_argument(
        "--actor-id",
        type=_opaque_id,
        default=DEFAULT_ACTOR_ID,
        metavar="ID",
        help=_("the operations id this read is recorded under (default %(id)s)", id=DEFAULT_ACTOR_ID),
    )
    aud.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
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
        return _fail(_("configuration: %(problems)s", problems=_settings_problems(err)))
    try:
        store = AuditStore(open_database(url))
        page = store.query(
            case_id=args.case_id,
            reader_id=args.reader_id,
            reader_role=args.reader_role,
            what=args.what,
            outcome=args.outcome,
            since=args.since,
            until=args.until,
            limit=args.limit,
            cursor=args.cursor,
        )
        store.record(
            Caller(role=Role.OPERATIONS, id=args.actor_id), What.AUDIT, case_id=args.case_id, channel=Channel.CLI
        )
    except ValueError as err:  # --until before --since
        return _fail(f"--{err}")
    except ArgumentError as err:
        return _fail(_("configuration: SPOORWERK_DATABASE_URL is not a usable database URL (%(error)s)", error=err))
    except SQLAlchemyError as err:
        detail = str(getattr(err, "orig", None) or err).splitlines()[0][:300]
        print(_("spoorwerk: the service's database cannot be reached: %(detail)s", detail=detail), file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        _print_json(page.model_dump(mode="json"))
        return 0
    if not page.records:
        print(_("no reads found"))
        return 0
    _table(
        [_("no."), _("time (NL)"), _("role"), _("reader"), _("read"), _("case"), _("object"), _("outcome"), _("via")],
        [
            [
                r.id,
                (r.at + utc_offset(r.at)).strftime("%Y-%m-%d %H:%M:%S"),
                _(glossary.role_label(r.reader_role)),
                r.reader_id,
                _(glossary.label(glossary.AUDIT_READS, r.what)),
                r.case_id,
                r.object_id,
                _(glossary.label(glossary.AUDIT_OUTCOMES, r.outcome)),
                r.channel.value,
            ]
            for r in page.records
        ],
    )
    n = len(page.records)
    if page.next_cursor:
        print(
            "\n"
            + ngettext(
                "%(num)s read (there are more: --cursor %(cursor)s)",
                "%(num)s reads (there are more: --cursor %(cursor)s)",
                n,
                cursor=page.next_cursor,
            )
        )
    else:
        print("\n" + ngettext("%(num)s read", "%(num)s reads", n))
    return 0


def _configured_language() -> str:
    """SPOORWERK_LANGUAGE through the settings; Dutch when the settings do not load (their error shows later)."""
    from pydantic import ValidationError

    from service.settings import Settings

    try:
        return Settings().language
    except ValidationError:
        return os.environ.get("SPOORWERK_LANGUAGE", i18n.DEFAULT_LANGUAGE)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `spoorwerk` command (called with `argv`, it only returns the exit code)."""
    # What the command says in words is Dutch unless SPOORWERK_LANGUAGE asks for another language (service.i18n).
    i18n.set_language(_configured_language())
    args = _parser().parse_args(argv)
    try:
        code = args.func(args)
    except BadInput as err:  # found before the command runs (e.g. a combination of flags)
        code = _fail(str(err))
    if argv is None and getattr(args, "direct", False):
        # As a program that loaded the Temporal client: skip interpreter teardown, which the bridge's
        # threads can abort with "PyGILState_Release: thread state must be current" (sdk-python#300).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
