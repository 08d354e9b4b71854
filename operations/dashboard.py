"""The operations dashboard: server-rendered pages beside the API, on the same callers and scopes.

Signing in (`/login`, `/logout`, OpenID Connect) is `operations.signin`'s: it ends in a server-side
session whose id the HttpOnly, SameSite=Strict cookie `operations.auth.COOKIE` holds, which the API
accepts as well: the case page records actions by calling the API's own action endpoints from the
browser. `GET /` lists the running cases in the caller's scope with counts per stage and escalation
level; `GET /cases/{case_id}` shows one case with its timeline drawn to scale. Pages read Temporal through the same functions and checks as the API
(`caller_scope`, `readable_case`, `redact_dossier`): an employer never sees another employer's case, and
nobody but the bedrijfsarts sees the bedrijfsarts's notes. Templates autoescape; the CSS and the
small script are package files under /static (no build step, nothing fetched from elsewhere).

Pages are Dutch by default and English on request (service.i18n): every string is an English msgid, labels come
from domain.glossary, dates go through the `day` filter, and the header's NL | EN switch (`POST /language`) keeps
a person's choice in a cookie. The script's own words come with the page, in a JSON block (`_script_strings`).
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the routes.

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError

from documents import timeline
from domain import actions as case_actions
from domain import glossary
from domain import spoor2 as spoor2_actions
from domain.case import COMPLETES, DOES_STEP, WHILE_RECOVERED_KINDS, CaseSummary, DeadlineView, DossierLine
from domain.case.actions.uwv import SENDERS as UWV_SENDERS
from domain.models import DeadlineStatus, Stage
from domain.spoor2 import TrajectoryView
from operations import api, cases, pages, people, worklist
from operations import spoor2 as trajectories
from operations.auth import Caller
from operations.documents import case_documents, document_view, may_read, treating
from operations.signin import add_signin_routes, page_caller
from service import i18n
from service.audit import Channel, What
from service.i18n import _
from service.rulebook import load_rulebook
from workflows.sick_leave_case import SickLeaveCase

log = structlog.get_logger("spoorwerk.dashboard")
HERE = Path(__file__).parent
PAGE_SIZE = 50
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600  # a person's language choice outlives their sessions
OPAQUE_ID, CASE_ID_PREFIX = cases.OPAQUE_ID, cases.CASE_ID_PREFIX
OPEN_STAGES = [s for s in Stage if s is not Stage.CLOSED]


class _Unauthenticated(Exception):
    pass


# --------------------------------------------------------------------------- helpers


async def _page_caller(request: Request) -> Caller:
    """The caller of a page from the dashboard's session cookie (operations.signin); the API's own roles only."""
    found = await page_caller(request)
    if found is None:
        raise _Unauthenticated
    request.state.caller = found
    return found


def _referring_path(request: Request) -> str | None:
    """The path of our own page a form was sent from (the Referer, which Referrer-Policy: same-origin sends only to
    us). The pages do not write their own address into the switch: it would echo whatever a URL asked for."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.headers.get("host", ""):
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


def _weeks_sick(first: date | None, today: date) -> int | None:
    """Illness week counted from the first sick day (interruptions aside): week 1 is days 1-7."""
    if first is None or first > today:
        return None
    return ((today - first).days + 1 + 6) // 7


def _field_spec(
    name: str, prop: dict[str, Any], required: bool, defs: dict[str, Any], kind: str = ""
) -> dict[str, Any]:
    """How the form asks for one field, read from the action's JSON schema: a date picker for a date, a choice for an
    enumeration, yes/no for a flag, a number with its bounds, a line or a text box for text, one line per item for a
    list of texts, a group of these for a structure of named parts; JSON only for any other structure. Label, help and choices are glossary msgids
    (domain.glossary.FIELDS, CHOICES), translated per request by `_translated`."""
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    base = options[0] if len(options) == 1 else prop
    if "$ref" in base:
        base = {**defs[base["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in base.items() if k != "$ref"}}
    label, help_text = glossary.field_label(kind, name)
    spec: dict[str, Any] = {"name": name, "required": required, "label": label, "help": help_text}
    widget = base.get("type")
    if "enum" in base or "const" in base:
        spec |= {"widget": "select", "options": [str(v) for v in base.get("enum", [base.get("const")])]}
    elif widget == "boolean":
        spec |= {"widget": "yesno"}
    elif widget in ("integer", "number"):
        spec |= {
            "widget": "number",
            "step": "1" if widget == "integer" else "any",
            **{k: base[k] for k in ("minimum", "maximum") if k in base},
        }
    elif widget == "string" and base.get("format") == "date":
        spec |= {"widget": "date"}
    elif widget == "string":
        long = base.get("maxLength", 0) > 300
        spec |= {
            "widget": "textarea" if long else "text",
            **({"maxlength": base["maxLength"]} if "maxLength" in base else {}),
        }
    elif widget == "array" and base.get("items", {}).get("type") == "string":
        spec |= {"widget": "lines"}
    elif widget == "object" and base.get("properties"):
        # A structure of named parts (the haalbaarheidstoets's grounds): one input per part, not JSON to type.
        inner = set(base.get("required", []))
        parts = [_field_spec(f"{name}.{part}", p, part in inner, defs, kind) for part, p in base["properties"].items()]
        spec |= {"widget": "group", "fields": parts}
    else:
        spec |= {"widget": "json"}
    return spec


def _translated(spec: dict[str, Any]) -> dict[str, Any]:
    """A field's spec in the request's language: its label, help and each choice as [value, label]."""
    found = {**spec, "label": _(spec["label"]), "help": _(spec["help"]) if spec["help"] else ""}
    if "fields" in spec:
        found["fields"] = [_translated(part) for part in spec["fields"]]
    if "options" in spec:
        found["options"] = [[value, _(glossary.choice_label(value))] for value in spec["options"]]
    return found


def _model_fields(model: type[BaseModel], kind: str = "") -> list[dict[str, Any]]:
    """The fields a person fills in for an action (required ones first, the free-text note last), as form specs."""
    schema = model.model_json_schema()
    defs, wanted = schema.get("$defs", {}), set(schema.get("required", []))
    found = [
        _field_spec(name, prop, name in wanted, defs, kind)
        for name, prop in schema["properties"].items()
        if name not in ("kind", "actor", "action_id", "on", "person_keys")
    ]
    return sorted(found, key=lambda f: (not f["required"], f["name"] == "note"))


def _action_fields() -> dict[tuple[str, str], list[dict[str, Any]]]:
    found = {}
    for on, union in (("case", case_actions.Action), ("spoor2", spoor2_actions.Spoor2Action)):
        for model in case_actions.action_models(union):
            kind = case_actions.action_kind(model)
            found[(on, kind)] = _model_fields(model, kind)
    return found


def _overdue_label(mark: str, deadlines: list[DeadlineView]) -> str:
    """An overdue step ("plan_van_aanpak", "evaluatie#2") by the name the deadlines table gives it, never its key."""
    key, _sep, number = mark.partition("#")
    label = next((d.label for d in deadlines if d.key == key), None) or _(
        glossary.step_short(key) or key.replace("_", " ")
    )
    return f"{label} #{number}" if number else label


# --------------------------------------------------------------------------- the overview


class Filters(BaseModel):
    stage: str = ""
    min_escalation_level: str = ""
    overdue: str = ""
    spoor2_phase: str = ""
    employer_id: str = ""
    coach_id: str = ""
    q: str = ""
    due_before: str = ""
    casemanager: str = ""
    sort: str = ""

    def query(self, **changes: str) -> str:
        values = {k: v for k, v in (self.model_dump() | changes).items() if v}
        return ("?" + urlencode(values)) if values else ""


def _parse_filters(request: Request, caller: Caller) -> tuple[Filters, dict[str, Any], list[str]]:
    """The filters of the overview's form, as `cases_query` arguments, and what was wrong with any."""
    params = request.query_params
    # A scoped caller cannot widen its scope by a filter: its scope's fields are not shown.
    scope = api.caller_scope(caller)
    shown = Filters(**{k: params.get(k, "").strip()[:64] for k in Filters.model_fields if k not in scope})
    errors: list[str] = []
    filters: dict[str, Any] = {}
    if shown.stage:
        if shown.stage in {s.value for s in OPEN_STAGES}:
            filters["stage"] = shown.stage
        else:
            errors.append(_("stage: %(value)s is not a stage", value=repr(shown.stage)))
    for name, low, high in (("min_escalation_level", 0, 3), ("spoor2_phase", 1, 4)):
        raw = getattr(shown, name)
        if raw:
            if raw.isdigit() and low <= int(raw) <= high:
                filters[name] = int(raw)
            else:
                errors.append(
                    _(
                        "%(field)s: %(value)s is not between %(low)s and %(high)s",
                        field=name,
                        value=repr(raw),
                        low=low,
                        high=high,
                    )
                )
    if shown.overdue in ("yes", "no"):
        filters["overdue"] = shown.overdue == "yes"
    elif shown.overdue:
        errors.append(_("overdue: %(value)s is not yes or no", value=repr(shown.overdue)))
    for name in ("employer_id", "coach_id"):
        raw = getattr(shown, name)
        if raw:
            if OPAQUE_ID.match(raw):
                filters[name] = raw
            else:
                errors.append(_("%(field)s: %(value)s is not an opaque id", field=name, value=repr(raw)))
    _parse_worklist_filters(shown, filters, errors)
    filters |= scope
    return shown, filters, errors


def _parse_worklist_filters(shown: Filters, filters: dict[str, Any], errors: list[str]) -> None:
    """The overview's due-before, casemanager and sort fields (issue 20), checked into `filters` and `errors`."""
    if shown.due_before:
        try:
            filters["deadline_before"] = date.fromisoformat(shown.due_before)
        except ValueError:
            errors.append(
                i18n.gettext("due_before: %(value)s is not a date (YYYY-MM-DD)", value=repr(shown.due_before))
            )
    if shown.casemanager:
        if OPAQUE_ID.match(shown.casemanager):
            filters["casemanager_id"] = shown.casemanager
        else:
            errors.append(i18n.gettext("casemanager: %(value)s is not an opaque id", value=repr(shown.casemanager)))
    if shown.sort and shown.sort not in OVERVIEW_SORTS:
        errors.append(i18n.gettext("sort: %(value)s is not an order of the list", value=repr(shown.sort)))


def export_query(shown: Filters, filters: dict[str, Any], scope: dict[str, Any]) -> str:
    """The overview's filters as `GET /api/cases.csv` takes them (the API's names, checked here already): the export
    link lists what the page lists. The caller's scope is left out; the API adds it again."""
    params: dict[str, str] = {}
    for key, value in filters.items():
        if key in scope or value is None:
            continue
        if isinstance(value, bool):
            params[key] = "true" if value else "false"
        elif isinstance(value, date):
            params[key] = value.isoformat()
        else:
            params[key] = str(value)
    if shown.q:
        params["q"] = shown.q
    if shown.sort in OVERVIEW_SORTS:
        params["sort"] = shown.sort
    return "/api/cases.csv" + ("?" + urlencode(params) if params else "")


# How the overview can order a page (sorted here: the dev server's SQLite visibility takes no ORDER BY, so the order
# holds within the page the store returns, most recently opened first).
OVERVIEW_SORTS: dict[str, Any] = {
    "next_deadline": lambda c: (c.next_deadline or date.max, c.case_id),
    "first_sick_day": lambda c: (c.first_sick_day or date.max, c.case_id),
    "stage": lambda c: (next((n for n, s in enumerate(Stage) if s.value == c.stage), len(Stage)), c.case_id),
}


async def _page(
    client: Client, filters: dict[str, Any], prefix: str, page_token: str | None, search_key: bytes | None = None
) -> cases.CasePage:
    """A page of cases; with text typed, those whose id starts with it or whose employee's surname or personnel
    number it is (an exact match of the keyed hash, operations.people)."""
    found_by = cases.search_filters(prefix, search_key) if prefix else {}
    return await cases.page_cases(client, page_size=PAGE_SIZE, page_token=page_token, **filters, **found_by)


def step_label(key: str | None) -> str:
    """A statutory step's name where a list shows it: the glossary's short name, else the rulebook's label."""
    if not key:
        return "–"
    short = glossary.step_short(key)
    if short:
        return i18n.gettext(short)
    found = next((d.label for d in load_rulebook().rulesets[-1].deadlines if d.key == key), None)
    return found or key.replace("_", " ")


async def _counts(counted: cases.CountsCache, scope: dict[str, Any]) -> dict[str, Any]:
    counts = await counted.get(**scope)
    return {
        "running": counts.running,
        "overdue": counts.overdue,
        "by_stage": list(counts.by_stage.items()),
        "by_level": list(counts.by_escalation_level.items()),
    }


# --------------------------------------------------------------------------- the timeline


def _timeline(
    summary: CaseSummary,
    deadlines: list[DeadlineView],
    dossier: list[DossierLine],
    trajectory: TrajectoryView | None,
    today: date,
) -> Markup:
    """The case's timeline: the documents' drawing (documents.timeline) with the page's tooltips and links."""
    interactive = timeline.Interactive(
        entry_text=pages.env.filters["entry_text"],
        expectation_context=pages.expectation_context,
        aria_label=_(
            "Timeline of case %(id)s from the first sick day to the end of the waiting time", id=summary.case_id
        ),
    )
    drawn = timeline.draw(
        summary,
        deadlines,
        dossier,
        trajectory,
        today,
        now_label=_("today %(day)s", day=i18n.format_day(today)),
        now_key=_("today"),
        interactive=interactive,
    )
    return Markup(drawn)  # every text and attribute in it was escaped as it was drawn


# --------------------------------------------------------------------------- routes


def add_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages (/, /cases/{id}, /login, /logout, the language switch) and its static files to the
    API app."""
    fields = _action_fields()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    add_signin_routes(app)  # /login, /logout and /login/oidc (operations.signin)

    @app.post("/language", include_in_schema=False)
    async def choose_language(request: Request) -> Response:
        """The header's language switch: remembers the choice in a cookie (operations.api.Language reads it) and
        returns to the page it was made on. A post from another site changes nothing."""
        form = await pages.read_form(request)
        response = RedirectResponse(
            pages.safe_next(form.get("next") or _referring_path(request)),
            status_code=303,
            headers={"Cache-Control": "no-store"},
        )
        if pages.same_origin(request) and form.get("lang") in i18n.LANGUAGES:
            response.set_cookie(
                i18n.LANGUAGE_COOKIE,
                form["lang"],
                max_age=LANGUAGE_COOKIE_SECONDS,
                path="/",
                httponly=True,
                samesite="lax",
                secure=request.url.scheme == "https",
            )
        return response

    @app.get("/", include_in_schema=False)
    async def overview(request: Request) -> Response:
        try:
            caller = await _page_caller(request)
        except _Unauthenticated:
            return pages.to_login(request)
        client: Client = request.app.state.client
        today = api.today()
        shown, filters, errors = _parse_filters(request, caller)
        page_token = request.query_params.get("page_token") or None
        page, counts = cases.CasePage(cases=[], next_page_token=None), None
        # The tiles count within the caller's scope (and the employer or coach chosen), never beyond it.
        chosen = {k: v for k, v in filters.items() if k in ("employer_id", "coach_id")}
        count_scope = chosen | api.caller_scope(caller)
        if not errors:
            audit = request.app.state.readable_case.audit
            if audit is not None:  # the list shows ids, employers and dates: recorded as a read, like the API's
                await audit.arecord(caller, What.CASES, channel=Channel.DASHBOARD)
            try:
                page, counts = await asyncio.gather(
                    _page(client, filters, shown.q, page_token, api.app_search_key(request.app)),
                    _counts(request.app.state.case_counts, count_scope),
                )
            except ValueError as err:
                errors.append(str(err))
            except RPCError as err:
                log.warning("case list failed", status=str(err.status))
                errors.append(
                    _("page_token: not a token this page handed out")
                    if page_token
                    else _("The case list is not available right now; it is tried again shortly.")
                )
            if shown.q and len(page.cases) == 1 and page.cases[0].case_id == shown.q and not page_token:
                return RedirectResponse(f"/cases/{shown.q}", status_code=303)
        if shown.sort in OVERVIEW_SORTS:
            page.cases.sort(key=OVERVIEW_SORTS[shown.sort])
        # Names only for the cases the caller passes the scope check on, read from each case after the listing.
        names = people.names(await api.case_details(client, caller, [c.case_id for c in page.cases]))
        rows = [
            {
                "case": c,
                "week": _weeks_sick(c.first_sick_day, today),
                "employee": names.get(c.case_id),
                "step": step_label(c.next_step) if c.next_step else None,
                "deadline_past": bool(c.next_deadline and c.next_deadline < today),
            }
            for c in page.cases
        ]
        next_link = shown.query(page_token=page.next_page_token) if page.next_page_token else None
        return pages.render(
            request,
            "overview.html",
            export_link=None if errors else export_query(shown, filters, api.caller_scope(caller)),
            caller=caller,
            today=today,
            shown=shown,
            errors=errors,
            rows=rows,
            counts=counts,
            stages=OPEN_STAGES,
            next_link=next_link,
            first_page=page_token is None,
            count_scope=chosen,
            scoped=api.caller_scope(caller),
            may_open=caller.role in api.OPENERS,
        )

    @app.get("/werk", include_in_schema=False)
    async def work_page(request: Request) -> Response:
        """ "Mijn werk": the signed-in person's steps due in the coming 14 days, overdue steps and escalations."""
        try:
            caller = await _page_caller(request)
        except _Unauthenticated:
            return pages.to_login(request)
        client: Client = request.app.state.client
        today = api.today()
        raw_sort = request.query_params.get("sort", worklist.Sort.DUE.value)
        sort = worklist.Sort(raw_sort) if raw_sort in {s.value for s in worklist.Sort} else worklist.Sort.DUE
        page_token = request.query_params.get("page_token") or None
        errors: list[str] = []
        page = worklist.WorkPage(items=[], until=today, sort=sort, next_page_token=None)
        audit = request.app.state.readable_case.audit
        if audit is not None:  # ids, employers, dates and names: recorded as a read, like the case list
            await audit.arecord(caller, What.CASES, channel=Channel.DASHBOARD)
        try:
            page = await worklist.page_worklist(
                client, today=today, scope=api.caller_scope(caller), sort=sort, page_token=page_token
            )
            page = api.with_details(page, await api.case_details(client, caller, [i.case_id for i in page.items]))
        except ValueError as err:
            errors.append(str(err))
        except RPCError as err:
            log.warning("work list failed", status=str(err.status))
            errors.append(i18n.gettext("The work list is not available right now; it is tried again shortly."))
        rows = [
            {
                "item": i,
                "step": step_label(i.step),
                "overdue_steps": [step_label(m.split("#")[0]) for m in i.overdue_steps],
                "late": bool(i.due and i.due < today),
            }
            for i in page.items
        ]
        sorts = [
            (worklist.Sort.DUE.value, i18n.gettext("Due date")),
            (worklist.Sort.CASE.value, i18n.gettext("Case")),
            (worklist.Sort.STEP.value, i18n.gettext("Step")),
        ]
        next_link = (
            "?" + urlencode({"sort": sort.value, "page_token": page.next_page_token}) if page.next_page_token else None
        )
        return pages.render(
            request,
            "worklist.html",
            caller=caller,
            today=today,
            rows=rows,
            until=page.until,
            sort=sort.value,
            sorts=sorts,
            errors=errors,
            next_link=next_link,
            first_page=page_token is None,
        )

    @app.get("/cases/new", include_in_schema=False)
    async def open_page(request: Request) -> Response:
        """Open a case, or take one over with what was done before: a form that posts to the API's POST /api/cases."""
        try:
            caller = await _page_caller(request)
        except _Unauthenticated:
            return pages.to_login(request)
        if caller.role not in api.OPENERS:
            return pages.render(
                request,
                "error.html",
                403,
                caller=caller,
                title=_("No cases to open"),
                reason=_(
                    "A %(role)s opens no cases (a casemanager, werkgever or operations does).",
                    role=_(glossary.role_label(caller.role.value)),
                ),
            )
        today = api.today()
        ruleset = load_rulebook().for_first_sick_day(today)
        steps = [{"key": d.key, "label": d.label} for d in ruleset.deadlines if d.tracked and d.key != "evaluatie"]
        return pages.render(
            request,
            "open.html",
            caller=caller,
            today=today,
            steps=steps,
            stages=OPEN_STAGES,
            steps_json=json.dumps([s["key"] for s in steps]),
        )

    @app.get("/cases/{case_id}", include_in_schema=False)
    async def case_page(request: Request, case_id: str) -> Response:
        try:
            caller = await _page_caller(request)
        except _Unauthenticated:
            return pages.to_login(request)
        client: Client = request.app.state.client
        today = api.today()
        if not OPAQUE_ID.match(case_id):
            return pages.render(
                request,
                "error.html",
                404,
                caller=caller,
                title=_("No such case"),
                reason=_("case_id: %(value)s is not a case id", value=repr(case_id)),
            )
        try:
            # The case page shows the dossier: recorded as a read of it.
            summary = await request.app.state.readable_case(
                client, case_id, caller, What.DOSSIER, channel=Channel.DASHBOARD
            )
        except api.Problem as err:
            return pages.render(
                request,
                "error.html",
                err.status,
                caller=caller,
                title=_("No such case") if err.status == 404 else _("Not yours to see"),
                reason=err.said(),
            )
        handle = cases.case_handle(client, case_id)

        async def trajectory() -> TrajectoryView | None:
            if not (summary.spoor2_running or summary.spoor2_status or summary.spoor2_result):
                return None
            try:
                return await trajectories.view(client, case_id, today, rpc_timeout=api.QUERY_TIMEOUT)
            except trajectories.NoTrajectory:
                return None

        deadlines, dossier, view, toets, rendered = await asyncio.gather(
            handle.query(SickLeaveCase.deadlines, today, rpc_timeout=api.QUERY_TIMEOUT),
            handle.query(SickLeaveCase.dossier, today, rpc_timeout=api.QUERY_TIMEOUT),
            trajectory(),
            api.poortwachtertoets(client, case_id),
            case_documents(client, case_id),
        )
        # The versions the caller may read, newest first, linked to the API's downloads (the session cookie opens them).
        papers = [document_view(case_id, ref) for ref in reversed(rendered) if may_read(caller, ref, treating(summary))]
        dossier = api.redact_dossier(dossier, caller, summary)
        # The picker lists actions by their glossary name, in the reader's language and alphabetical order; not those
        # the case would refuse whatever is filled in: a step already on record, or, while the employee has recovered,
        # anything but what may be recorded then (a relapse, an assignment, …).
        done = {d.key for d in deadlines if d.status is DeadlineStatus.DONE and d.occurrence is None}
        open_due = {d.key: d.due for d in deadlines if d.status is DeadlineStatus.OPEN and d.occurrence is None}

        def offered(kind: str, on: str) -> bool:
            if on != "case":
                return view is not None
            if summary.recovered_on is not None and kind not in WHILE_RECOVERED_KINDS:
                return False
            return COMPLETES.get(kind) not in done

        kinds: list[dict[str, Any]] = sorted(
            (
                {
                    "kind": kind,
                    "on": on,
                    "path": path.format(kind=kind).replace("{case_id}", case_id),
                    "label": _(glossary.entry_label(kind)),
                    "fields": fields.get((on, kind), []),
                    # The open step it completes, by when: the form asks before recording it far ahead of that day.
                    "due": open_due.get(COMPLETES.get(kind, "")) if on == "case" else None,
                }
                for kind, on, roles, path in api.api_action_kinds()
                if caller.role in roles and offered(kind, on)
            ),
            key=lambda k: k["label"].lower(),
        )
        specs = {k["kind"]: [_translated(f) for f in k["fields"]] for k in kinds}
        # A deviation names one of this case's steps (open, or done late and explained afterwards): chosen from them by
        # name, not typed as a key.
        steps = list({d.key: d.label for d in deadlines}.items())
        for spec in specs.get("deadline_deviation", []):
            if spec["name"] == "deadline":
                spec |= {"widget": "select", "options": [list(step) for step in steps]}
        # The action that completes the step due first (an overdue one before the next) is chosen already, when the
        # caller may record it.
        due = [mark.split("#")[0] for mark in summary.overdue] + (
            [summary.next_deadline.key] if summary.next_deadline else []
        )
        mine = {DOES_STEP[k["kind"]]: k["kind"] for k in kinds if k["on"] == "case" and k["kind"] in DOES_STEP}
        preselect = next((mine[key] for key in due if key in mine), None)
        desk = getattr(request.app.state, "uwv", None)
        # The messages to UWV, read from the outbox under the scope check above; sent by the roles that may.
        uwv_messages = await desk.outbox.afor_case(case_id) if desk is not None else []
        may_send_uwv = desk is not None and caller.role in UWV_SENDERS and summary.closed_on is None
        return pages.render(
            request,
            "case.html",
            caller=caller,
            today=today,
            summary=summary,
            deadlines=deadlines,
            overdue_labels=[_overdue_label(mark, deadlines) for mark in summary.overdue],
            step_names={d.key: d.label for d in deadlines},
            dossier=sorted(dossier, key=lambda e: (e.on, e.seq), reverse=True),
            trajectory=view,
            tl=_timeline(summary, deadlines, dossier, view, today),
            timeline_end=timeline.span(summary, today)[1],
            step_anchor=timeline.step_anchor,
            entry_anchor=timeline.entry_anchor,
            kinds=kinds,
            specs=json.dumps(specs),
            preselect=preselect,
            closed=summary.closed_on is not None,
            toets=toets,
            toets_steps=[(step, _(label)) for step, label in glossary.TOETS_STEPS.items()],
            papers=papers,
            uwv_messages=uwv_messages,
            may_send_uwv=may_send_uwv,
            # Only the messages the case can make today: a ziekmelding from week 42 until its step is done, a
            # hersteldmelding after UWV has the ziekmelding and the employee recovered (domain.case.uwv.preparable).
            uwv_kinds=[(k, _(label)) for k, label in glossary.UWV_MESSAGES.items() if k in summary.uwv_preparable],
        )
