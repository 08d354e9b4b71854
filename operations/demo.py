"""`spoorwerk demo` (and `make demo`): a handful of realistic cases and a sign-in for every role, on the running
embedded service, so that a new user can look around as a casemanager, a bedrijfsarts or an employer at once.

The cases are opened or taken over through the same API the dashboard uses (`POST /api/cases` with the takeover
fields), and each step is recorded by the role that records it in practice, with the tokens the demo makes. Those
tokens go to `DEMO_TOKEN_FILE` in the data folder, which the embedded default reads again when it changes
(operations.auth.LocalAuthenticator): no restart. Against a service configured with SPOORWERK_API_TOKENS the demo
says which callers to add there instead.

Idempotent: every request has a fixed Idempotency-Key, and every date is counted from the case's first sick day (on
a later run, the one the case already has), so a second run sends the very same requests and the API answers them
with what the first run made: no case, step or token twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

from domain import glossary
from domain.models import Role
from operations.auth import DEMO_TOKEN_FILE, Caller, tokens_json
from service.i18n import N_, _

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
EMPLOYER = "E-demo"
# One person per role, in the order the table shows them; the werkgever is HR of the demo employer.
PEOPLE: dict[Role, Caller] = {
    Role.CASEMANAGER: Caller(role=Role.CASEMANAGER, id="cm-demo"),
    Role.BEDRIJFSARTS: Caller(role=Role.BEDRIJFSARTS, id="arts-demo"),
    Role.ARBEIDSDESKUNDIGE: Caller(role=Role.ARBEIDSDESKUNDIGE, id="ad-demo"),
    Role.REINTEGRATIECOACH: Caller(role=Role.REINTEGRATIECOACH, id="coach-demo"),
    Role.WERKGEVER: Caller(role=Role.WERKGEVER, id="hr-demo", employer_id=EMPLOYER),
    Role.OPERATIONS: Caller(role=Role.OPERATIONS, id="ops-demo"),
}
_TEAM = {r.value: [PEOPLE[r].id] for r in (Role.CASEMANAGER, Role.BEDRIJFSARTS)}


@dataclass(frozen=True)
class Step:
    """One request of a scenario: an action on the case (or its trajectory), `day` days after the first sick day."""

    kind: str
    day: int
    by: Role = Role.CASEMANAGER
    fields: dict[str, Any] = field(default_factory=dict)
    spoor2: bool = False


@dataclass(frozen=True)
class Scenario:
    """A demo case: how long its employee has been sick (on the first run), how it is opened, what follows."""

    case_id: str
    what: str  # msgid: the situation, for the table
    sick_days: int
    opening: Callable[[date], dict[str, Any]]
    steps: tuple[Step, ...] = ()


def _done(first: date, **days: int | None) -> list[dict[str, Any]]:
    """prior_steps of a takeover: step key -> days after the first sick day it was done (None: not done)."""
    return [
        {"key": k} if d is None else {"key": k, "done_on": (first + timedelta(days=d)).isoformat()}
        for k, d in days.items()
    ]


# The first year of a case taken over late: every statutory step on time (days after the first sick day).
_FIRST_YEAR = {
    "ziekmelding_arbodienst": 1,
    "probleemanalyse": 30,
    "plan_van_aanpak": 40,
    "ziekmelding_uwv": 290,
    "eerstejaarsevaluatie": 360,
}


def _takeover(
    first: date, stage: str, done: Mapping[str, int | None], team: dict[str, list[str]], evaluations_until: int = 0
) -> dict[str, Any]:
    return {
        "first_sick_day": first.isoformat(),
        "stage": stage,
        "prior_steps": _done(first, **done),
        "assigned": team,
        "evaluations_held": [(first + timedelta(days=d)).isoformat() for d in range(82, evaluations_until, 42)],
    }


# Made-up employees (no real person), so the work list and the search box show what they will in practice.
EMPLOYEES: dict[str, dict[str, str]] = {
    "demo-ziekmelding": {"surname": "Jansen", "given_names": "P.", "personnel_number": "1001"},
    "demo-spoor1": {"surname": "de Vries", "given_names": "Anna", "personnel_number": "1002"},
    "demo-te-laat": {"surname": "Bakker", "given_names": "M.", "personnel_number": "1003"},
    "demo-ad": {"surname": "El Amrani", "given_names": "Y.", "personnel_number": "1004"},
    "demo-spoor2": {"surname": "van den Berg", "given_names": "Kees", "personnel_number": "1005"},
    "demo-escalatie": {"surname": "Visser", "given_names": "L.", "personnel_number": "1006"},
}

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "demo-ziekmelding",
        N_("fresh ziekmelding: the report to the arbodienst is due this week"),
        2,
        lambda first: {"first_sick_day": first.isoformat(), "assigned": {"casemanager": ["cm-demo"]}},
    ),
    Scenario(
        "demo-spoor1",
        N_("spoor 1: probleemanalyse and plan van aanpak on record"),
        63,
        lambda first: _takeover(first, "spoor1", {"ziekmelding_arbodienst": 2, "probleemanalyse": 38}, _TEAM),
        (
            Step(
                "plan_van_aanpak_agreed",
                50,
                fields={
                    "casemanager_id": "cm-demo",
                    "employer_view": "Aangepast werk in de eigen functie, eerst drie ochtenden per week",
                    "employee_view": "Eens met de opbouw; wil eerst de ochtenden proberen",
                },
            ),
        ),
    ),
    Scenario(
        "demo-te-laat",
        N_("spoor 1 taken over: the plan van aanpak is overdue"),
        84,
        lambda first: _takeover(
            first, "spoor1", {"ziekmelding_arbodienst": 2, "probleemanalyse": 35, "plan_van_aanpak": None}, _TEAM
        ),
    ),
    Scenario(
        "demo-ad",
        N_("AD-onderzoek under way: the employer has been heard"),
        350,
        lambda first: _takeover(
            first,
            "spoor1",
            {k: d for k, d in _FIRST_YEAR.items() if d < 350},
            {**_TEAM, "arbeidsdeskundige": ["ad-demo"]},
            350,
        ),
        (
            Step("ad_onderzoek_started", 330, Role.ARBEIDSDESKUNDIGE),
            Step("ad_gesprek_held", 340, Role.ARBEIDSDESKUNDIGE, {"party": "werkgever"}),
        ),
    ),
    Scenario(
        "demo-spoor2",
        N_("spoor 2 under way: phase 1 with the re-integratiecoach"),
        490,
        lambda first: _takeover(
            first,
            "spoor1",
            _FIRST_YEAR,
            {**_TEAM, "arbeidsdeskundige": ["ad-demo"], "reintegratiecoach": ["coach-demo"]},
            490,
        ),
        (
            Step("ad_onderzoek_started", 420, Role.ARBEIDSDESKUNDIGE),
            Step("ad_gesprek_held", 420, Role.ARBEIDSDESKUNDIGE, {"party": "werkgever"}),
            Step("ad_gesprek_held", 420, Role.ARBEIDSDESKUNDIGE, {"party": "werknemer"}),
            Step(
                "ad_onderzoek_concluded",
                420,
                Role.ARBEIDSDESKUNDIGE,
                {
                    "own_work_possible": False,
                    "other_work_inside_possible": False,
                    "report_reference": "demo://ad-rapport/1",
                },
            ),
            Step("spoor2_started", 420),
            *(
                Step(
                    "document_received",
                    425,
                    by,
                    {"document": doc, "reference": f"demo://{doc}/1", **extra},
                    spoor2=True,
                )
                for doc, by, extra in (
                    ("toestemmingsformulier", Role.CASEMANAGER, {}),
                    ("opdrachtbevestiging", Role.CASEMANAGER, {}),
                    ("ad_rapport", Role.CASEMANAGER, {}),
                    ("bedrijfsarts_bevindingen", Role.BEDRIJFSARTS, {"belastbaarheid_hours_per_day": 4.0}),
                    ("fml", Role.BEDRIJFSARTS, {}),
                )
            ),
            Step("intake_held", 428, Role.REINTEGRATIECOACH, {"coach_id": "coach-demo"}, spoor2=True),
            Step("proposal_sent", 430, Role.REINTEGRATIECOACH, spoor2=True),
            Step("purchase_approved", 432, Role.WERKGEVER, {"scope": "phase", "phase": 1}, spoor2=True),
            Step(
                "haalbaarheidstoets_decided",
                434,
                Role.REINTEGRATIECOACH,
                {
                    "decision": "go",
                    "zoekprofiel": "Administratief werk, 20 uur per week",
                    "grounds": {
                        "belastbaarheid": "Vier uur per dag belastbaar, volgens de FML",
                        "skills": "Ervaring in de administratie en met klantcontact",
                        "coping": "Gemotiveerd, wil graag weer aan het werk",
                        "circumstances": "Reistijd tot een uur is haalbaar",
                        "labour_market": "Vraag naar administratieve krachten in de regio",
                    },
                },
                spoor2=True,
            ),
            Step("phase_started", 440, Role.REINTEGRATIECOACH, {"phase": 1}, spoor2=True),
            Step("activity_recorded", 488, Role.REINTEGRATIECOACH, {"activity": "conversation"}, spoor2=True),
        ),
    ),
    Scenario(
        "demo-escalatie",
        N_("stagnation reported: escalated to the employer"),
        20,
        lambda first: {"first_sick_day": first.isoformat(), "assigned": _TEAM},
        (Step("ziekmelding_arbodienst_sent", 2, Role.WERKGEVER), Step("stagnation_reported", 20)),
    ),
)


class DemoError(Exception):
    """The demo cannot go on; `code` is the exit code (1 refused, 3 the service cannot be reached)."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


def demo_token_file(data_dir: Path) -> Path:
    """Where the demo keeps its tokens: beside the embedded default's operations token (operations.auth)."""
    return data_dir / DEMO_TOKEN_FILE


def demo_tokens(path: Path) -> dict[str, Caller]:
    """The demo's token per caller: the ones it made before (so a sign-in keeps working), else new ones."""
    known: dict[str, Caller] = {}
    try:
        known = {t: Caller.model_validate(c) for t, c in json.loads(path.read_text("utf-8")).items()}
    except (OSError, ValueError):
        pass
    by_caller = {c: t for t, c in known.items()}
    return {by_caller.get(c) or secrets.token_urlsafe(32): c for c in PEOPLE.values()}


def write_tokens(path: Path, tokens: dict[str, Caller]) -> None:
    """Write the tokens readable by the service's user only, replacing the file whole (the service never reads half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = tokens_json(tokens)
    try:
        if path.read_text("utf-8") == text:
            return
    except OSError:
        pass
    part = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(part, path)


class _Api:
    """The HTTP API as one caller after another (the demo's tokens per role)."""

    def __init__(self, url: str, tokens: dict[Role, str]) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.tokens = tokens
        self.http = httpx.AsyncClient(base_url=self.url, timeout=60.0)

    async def call(self, method: str, path: str, role: Role, *, key: str | None = None, body: Any = None) -> Any:
        import httpx

        headers = {"Authorization": f"Bearer {self.tokens[role]}", **({"Idempotency-Key": key} if key else {})}
        try:
            for _attempt in range(4):  # a case restarting answers 503 with Retry-After: the same request again
                response = await self.http.request(method, path, headers=headers, json=body)
                if response.status_code != 503:
                    break
                await asyncio.sleep(min(int(response.headers.get("Retry-After", "1") or 1), 10))
        except httpx.TransportError as err:
            raise DemoError(
                _(
                    "Cannot reach Spoorwerk at %(url)s (%(error)s): is `make run` running?",
                    url=self.url,
                    error=str(err) or type(err).__name__,
                ),
                EXIT_UNREACHABLE,
            ) from None
        return response

    async def close(self) -> None:
        await self.http.aclose()


def _refused(what: str, response: Any) -> DemoError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:300]
    return DemoError(
        _("%(what)s was refused (HTTP %(status)s): %(detail)s", what=what, status=response.status_code, detail=detail)
    )


async def _accepted(api: _Api, role: Role) -> bool:
    """Whether the service takes the demo's token of `role`. One request: the embedded default reads the token file
    again within it, and each refusal counts against this address's sign-in attempts (login throttling)."""
    response = await api.call("GET", "/api/me", role)
    if response.status_code == 200:
        return response.json().get("role") == role.value
    if response.status_code != 401:
        raise _refused("GET /api/me", response)
    return False


async def _seed(api: _Api, scenario: Scenario, today: date) -> bool:
    """Open (or find) the scenario's case and record its steps; True when this run opened it."""
    found = await api.call("GET", f"/api/cases/{scenario.case_id}", Role.OPERATIONS)
    if found.status_code == 200:  # from an earlier run: count from its own first sick day, so the requests repeat
        first = date.fromisoformat(found.json()["first_sick_day"])
    elif found.status_code == 404:
        first = today - timedelta(days=scenario.sick_days)
    else:
        raise _refused(scenario.case_id, found)
    body = {
        "case_id": scenario.case_id,
        "employer_id": EMPLOYER,
        "employee": EMPLOYEES[scenario.case_id],
        **scenario.opening(first),
    }
    opened = await api.call("POST", "/api/cases", Role.OPERATIONS, key=f"{scenario.case_id}-open", body=body)
    if opened.status_code not in (200, 201):
        raise _refused(scenario.case_id, opened)
    for n, step in enumerate(scenario.steps, 1):
        where = "spoor2/actions" if step.spoor2 else "actions"
        on = min(first + timedelta(days=step.day), today).isoformat()
        done = await api.call(
            "POST",
            f"/api/cases/{scenario.case_id}/{where}/{step.kind}",
            step.by,
            key=f"{scenario.case_id}-{n}",
            body={"on": on, **step.fields},
        )
        if done.status_code != 200:
            raise _refused(f"{scenario.case_id}: {step.kind}", done)
        if step.kind == "spoor2_started":  # the trajectory starts as a child workflow of the case: wait for it
            for _attempt in range(50):
                if (await api.call("GET", f"/api/cases/{scenario.case_id}/spoor2", Role.OPERATIONS)).status_code == 200:
                    break
                await asyncio.sleep(0.2)
    return opened.status_code == 201


def _table(headers: list[str], rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), file=out)


async def run_demo(
    url: str, operations_token: str | None, data_dir: Path, *, today: date, out: TextIO = sys.stdout
) -> int:
    """Seed the demo on the service at `url` (its operations token, its data folder); print what a new user needs."""
    token_file = demo_token_file(data_dir)
    tokens = demo_tokens(token_file)
    by_role = {c.role: t for t, c in tokens.items()}
    api = _Api(url, by_role)
    try:
        if not operations_token:
            raise DemoError(
                _("No operations token: give --token, or run `make run` first (it makes one in %(dir)s).", dir=data_dir)
            )
        api.tokens = {**by_role, Role.OPERATIONS: operations_token}
        me = await api.call("GET", "/api/me", Role.OPERATIONS)
        if me.status_code != 200 or me.json().get("role") != Role.OPERATIONS.value:
            raise _refused(_("Signing in as operations"), me)
        write_tokens(token_file, tokens)
        api.tokens = by_role
        if not await _accepted(api, Role.CASEMANAGER):
            print(
                _(
                    "The running service does not read %(file)s (it has SPOORWERK_API_TOKENS, or another data "
                    "folder). Add these callers to SPOORWERK_API_TOKENS, restart it and run the demo again:",
                    file=token_file,
                ),
                file=out,
            )
            print(tokens_json(tokens), file=out)
            return EXIT_REFUSED
        print(_("Demo cases for employer %(employer)s at %(url)s:", employer=EMPLOYER, url=api.url), file=out)
        rows = []
        for scenario in SCENARIOS:
            new = await _seed(api, scenario, today)
            rows.append([scenario.case_id, _(scenario.what), _("opened now") if new else _("already there")])
        _table([_("Case"), _("Situation"), _("This run")], rows, out)
        print(file=out)
        print(_("Sign in as any of them: open the address, paste the token."), file=out)
        login = f"{api.url}/login"
        _table(
            [_("Sign in as"), _("Person id"), _("Token (paste on the login page)"), _("Login page")],
            [[_(glossary.role_label(c.role.value)), c.id, t, login] for t, c in tokens.items()],
            out,
        )
        print(file=out)
        print(
            _(
                "The tokens are kept in %(file)s (readable by you only); the command line takes one with --token.",
                file=token_file,
            ),
            file=out,
        )
        return 0
    except DemoError as err:
        print(f"spoorwerk demo: {err}", file=sys.stderr)
        return err.code
    finally:
        await api.close()


# --------------------------------------------------------------------------- the command


def add_demo_parser(sub: Any, connection: Any) -> None:
    """Register `spoorwerk demo` (with the case commands' --api and --token)."""
    demo = sub.add_parser(
        "demo",
        parents=[connection],
        help=_("seed demo cases and a sign-in for every role on the running service"),
        description=_(
            "Opens a handful of realistic cases on the running embedded service (make run), at different "
            "points of the process, and makes a token for each role that the service takes at once. "
            "Running it again changes nothing."
        ),
    )
    demo.set_defaults(func=demo_command)


def demo_command(args: Any) -> int:
    """`spoorwerk demo`: the operations token from --token, SPOORWERK_API_TOKEN or the data folder."""
    from datetime import datetime, timezone

    from pydantic import ValidationError

    from domain.nl_time import local_date
    from service.settings import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        print(f"spoorwerk demo: {err.errors(include_url=False)[0]['msg']}", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("SPOORWERK_API_TOKEN")
    if not token:
        try:
            token = settings.api_token_file.read_text("utf-8").strip()
        except OSError:
            token = None
    return asyncio.run(run_demo(args.api, token, settings.data_dir, today=local_date(datetime.now(timezone.utc))))
