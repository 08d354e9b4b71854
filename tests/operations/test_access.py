"""Need-to-know scopes (issue 18): assignments in the case, one scope check for every path, and a matrix of
every role against every route, generated from the app's route table so that a new route without a rule fails."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from starlette.routing import Mount
from temporalio.exceptions import FailureError

from domain import actions as case_actions
from domain import spoor2 as spoor2_actions
from operations import cases
from operations import spoor2 as trajectories
from operations.api import API_ROLES
from service.rulebook import load_spoor2_rules
from tests.apiserver import CALLERS, eventually
from tests.domain.test_properties import CASE_TEMPLATES, TRAJECTORY_TEMPLATES
from tests.operations.test_api import Api, in_phase, new_id, today
from workflows.payloads import CallerScope, CaseResult

pytestmark = pytest.mark.devserver

# Who the matrix case is for (assigned, its employer, its trajectory's coach) and who it is not for.
IN_SCOPE = ("operations", "casemanager", "reintegratiecoach", "bedrijfsarts", "arbeidsdeskundige", "werkgever")
OUT_OF_SCOPE = (
    "other_casemanager",
    "other_coach",
    "other_bedrijfsarts",
    "other_arbeidsdeskundige",
    "other_werkgever",
    "regional_casemanager",
)


@pytest.fixture
async def api(api_server):
    # English, the messages' own language, which these tests read (Dutch is the default).
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30, headers={"Accept-Language": "en"}) as http:
        yield Api(api_server, http)


async def test_assignments_decide_who_reads_lists_and_acts(api):
    """A casemanager who opens a case holds it; another sees it only after a hand-over, which the dossier keeps."""
    held, pooled = new_id(), new_id()
    assert (await api.open(held, who="casemanager")).status_code == 201
    assert (await api.open(pooled, who="operations")).status_code == 201

    assert (await api.get(f"/api/cases/{held}", who="casemanager")).status_code == 200
    assert (await api.get(f"/api/cases/{held}", who="other_casemanager")).status_code == 404
    assert (await api.act(held, "evaluatie_held", who="other_casemanager")).status_code == 404
    # Nobody of its role is assigned to the other case: the casemanagers' pool sees it, but not the one who works
    # for another employer only.
    assert (await api.get(f"/api/cases/{pooled}", who="other_casemanager")).status_code == 200
    assert (await api.get(f"/api/cases/{pooled}", who="regional_casemanager")).status_code == 404
    await eventually(lambda: api.listed("other_casemanager"), lambda found: pooled in found and held not in found)
    await eventually(lambda: api.listed("casemanager"), lambda found: {held, pooled} <= set(found))
    assert not {held, pooled} & set(await api.listed("regional_casemanager"))

    # A hand-over: cm-1 gives the case to cm-2, and from then on only cm-2 (and operations) reads it.
    r = await api.act(held, "person_assigned", who="casemanager", role="casemanager", person_id="cm-2", replaces="cm-1")
    assert r.status_code == 200, r.text
    assert (await api.get(f"/api/cases/{held}", who="other_casemanager")).status_code == 200
    assert (await api.get(f"/api/cases/{held}", who="casemanager")).status_code == 404
    await eventually(lambda: api.listed("casemanager"), lambda found: held not in found)
    dossier = (await api.get(f"/api/cases/{held}/dossier", who="other_casemanager")).json()
    [handover] = [e for e in dossier if e["kind"] == "person_assigned"]
    assert handover["details"] == {"role": "casemanager", "person_id": "cm-2", "replaces": "cm-1"}
    assert handover["actor"] == {"role": "casemanager", "id": "cm-1"}
    # The case page says who holds it.
    async with httpx.AsyncClient(base_url=api.server.url, timeout=30) as page:
        await page.post("/login", data={"token": api.server.tokens["other_casemanager"], "next": "/"})
        shown = await page.get(f"/cases/{held}")
        assert shown.status_code == 200 and "Toegewezen</dt><dd>casemanager cm-2</dd>" in shown.text

    # One bedrijfsarts at a time: a second is a hand-over, which names the first.
    assert (await api.act(pooled, "person_assigned", role="bedrijfsarts", person_id="arts-1")).status_code == 200
    refused = await api.act(pooled, "person_assigned", role="bedrijfsarts", person_id="arts-2")
    assert refused.status_code == 409 and "replaces (arts-1)" in refused.json()["detail"]
    assert (await api.act(pooled, "probleemanalyse_recorded", who="other_bedrijfsarts")).status_code == 404
    assert (await api.act(pooled, "probleemanalyse_recorded", who="bedrijfsarts")).status_code == 200


async def test_the_case_itself_refuses_an_action_of_someone_not_assigned(api):
    """The workflow's validator checks the assignments again: a client that reaches Temporal past the API is
    refused too, and nothing enters the dossier."""
    case_id = new_id()
    assert (await api.open(case_id, assigned={"bedrijfsarts": ["arts-1"]})).status_code == 201
    client = api.server.env.client
    forged = {
        "kind": "probleemanalyse_recorded",
        "action_id": new_id("a"),
        "on": today().isoformat(),
        "actor": {"role": "bedrijfsarts", "id": "arts-2"},
    }
    with pytest.raises(cases.ActionRejected, match="not assigned to the case"):
        await cases.act(client, case_id, forged)
    kinds = [e["kind"] for e in (await api.get(f"/api/cases/{case_id}/dossier")).json()]
    assert "probleemanalyse_recorded" not in kinds
    # Unassigning the only bedrijfsarts opens the case to the pool again.
    assert (await api.act(case_id, "person_unassigned", role="bedrijfsarts", person_id="arts-1")).status_code == 200
    assert (await cases.act(client, case_id, forged)).applied


async def test_an_opening_names_who_is_assigned_and_refuses_what_cannot_be(api):
    refused = await api.open(new_id(), assigned={"werkgever": ["hr-1"]})
    assert refused.status_code == 409 and "assigned.werkgever" in refused.text
    refused = await api.open(new_id(), assigned={"bedrijfsarts": ["arts-1", "arts-2"]})
    assert refused.status_code == 409 and "at most 1 bedrijfsarts" in refused.text
    refused = await api.open(new_id(), who="casemanager", employer_id="E-api")
    assert refused.status_code == 201  # cm-1 works for every employer
    other = await api.http.post(
        "/api/cases",
        headers=api.server.headers("regional_casemanager"),
        json={"case_id": new_id(), "employer_id": "E-api", "first_sick_day": today().isoformat()},
    )
    assert other.status_code == 403 and "employers it works for" in other.text


# --------------------------------------------------------------------------- the matrix

# Every route of the app and what it answers per caller. A route not covered here fails the test: a new
# endpoint gets its access rule before it ships.
CASE_READS = {
    "/api/cases/{case_id}",
    "/api/cases/{case_id}/deadlines",
    "/api/cases/{case_id}/dossier",
    "/api/cases/{case_id}/poortwachtertoets",
    "/api/cases/{case_id}/spoor2",
    "/api/cases/{case_id}/documents",
    "/api/cases/{case_id}/state",
    "/api/cases/{case_id}/documents/{order_id}.{fmt}",
    "/api/cases/{case_id}/bundle",
    "/api/cases/{case_id}/uwv",
    "/cases/{case_id}",
}
FULL_STATE_ROLES = {"operations", "casemanager", "bedrijfsarts"}
NO_CASE_DATA = {
    ("GET", "/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/login/oidc"),
    ("GET", "/login/oidc/callback"),
    ("OPTIONS", "/codec/{operation}"),
    ("GET", "/api/me"),
    ("POST", "/language"),
    ("GET", "/api/actions"),
    ("GET", "/api/overview"),
}
OPERATIONS_ONLY = {("POST", "/codec/decode"), ("GET", "/api/audit"), ("POST", "/api/uwv/answers")}
# Messages to UWV (operations.uwv): prepared and sent by the werkgever and the dossier's keepers, in scope.
UWV_SENDS = {("POST", "/api/cases/{case_id}/uwv"), ("POST", "/api/cases/{case_id}/uwv/{message_id}/send")}
UWV_SENDERS = {"operations", "casemanager", "werkgever"}
# Bulk takeover (operations.import_routes, import_pages): operations and casemanagers only; an empty upload is a 422.
IMPORTS = {
    ("POST", "/api/imports"),
    ("GET", "/api/imports"),
    ("GET", "/api/imports/{import_id}"),
    ("GET", "/imports"),
    ("GET", "/imports/voorbeeld.csv"),
}
OPENERS = {"operations", "casemanager", "werkgever", "other_casemanager", "other_werkgever", "regional_casemanager"}
# Verzuim figures (operations.figures_routes, figures_pages; domain.figures_access): operations, werkgevers and
# casemanagers, each for the employers of its scope; the medical and re-integration roles see none.
FIGURES = {
    ("GET", "/api/figures"),
    ("GET", "/api/figures.csv"),
    ("PUT", "/api/figures/employment/{employer_id}"),
    ("GET", "/cijfers"),
}
FIGURE_READERS = {
    "operations",
    "casemanager",
    "werkgever",
    "other_casemanager",
    "other_werkgever",
    "regional_casemanager",
}


def _routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: the OpenAPI document's and the pages and codec beside it."""
    found = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    for route in app.routes:
        if isinstance(route, Mount) or not getattr(route, "methods", None):
            continue
        found |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return found


def _action_rule(method: str, path: str) -> tuple[str, str] | None:
    for on, prefix in (("spoor2", "/api/cases/{case_id}/spoor2/actions/"), ("case", "/api/cases/{case_id}/actions/")):
        if method == "POST" and path.startswith(prefix):
            return on, path.removeprefix(prefix)
    return None


def _allowed_roles(on: str, kind: str, fields: dict) -> set[str]:
    roles = (case_actions.ACTION_ROLES if on == "case" else spoor2_actions.SPOOR2_ACTION_ROLES)[kind]
    if kind == "document_received":
        rule = load_spoor2_rules().document_rule(fields["document"])
        roles = roles & frozenset(rule.roles) if rule is not None else roles
    return {r.value for r in roles & API_ROLES}


async def test_every_role_against_every_route_in_and_out_of_scope(api, api_server):
    case_id = new_id()
    await in_phase(api, case_id, "E-api", 1)  # employer E-api; its trajectory's coach is coach-1
    for role, person in (("casemanager", "cm-1"), ("bedrijfsarts", "arts-1"), ("arbeidsdeskundige", "ad-1")):
        assert (await api.act(case_id, "person_assigned", role=role, person_id=person)).status_code == 200
    before = len((await api.get(f"/api/cases/{case_id}/dossier")).json())
    await eventually(lambda: api.listed("casemanager"), lambda found: case_id in found)

    pages: dict[str, httpx.AsyncClient] = {}
    for who in CALLERS:  # signed in to the dashboard with their token, as a person would
        pages[who] = httpx.AsyncClient(base_url=api_server.url, timeout=30)
        signed_in = await pages[who].post("/login", data={"token": api_server.tokens[who], "next": "/"})
        assert signed_in.status_code == 303, signed_in.text
    routes = _routes(api_server.app)
    unruled: list[str] = []
    checked = 0
    before_sick = (
        date.fromisoformat((await api.get(f"/api/cases/{case_id}")).json()["first_sick_day"]) - timedelta(days=1)
    ).isoformat()
    try:
        for method, path in sorted(routes):
            for who in CALLERS:
                in_scope = who in IN_SCOPE
                role = CALLERS[who].role.value
                headers = api_server.headers(who)
                concrete = (
                    path.replace("{case_id}", case_id).replace("{order_id}", "no-such-order").replace("{fmt}", "pdf")
                )
                action = _action_rule(method, path)
                if action is not None:
                    on, kind = action
                    templates = CASE_TEMPLATES if on == "case" else TRAJECTORY_TEMPLATES
                    fields = {**templates[kind][1], "on": before_sick}
                    r = await api.http.post(concrete, json=fields, headers=headers)
                    # Scope before role: out of scope, a caller learns nothing, not even what its role may do.
                    if not in_scope:
                        assert r.status_code == 404 and "that you may see" in r.text, (who, path, r.text)
                    elif role not in _allowed_roles(on, kind, fields):
                        assert r.status_code == 403, (who, path, r.text)
                    else:  # taken to the case, which refuses a day before the first sick day
                        assert r.status_code in (409, 422) and "that you may see" not in r.text, (who, path, r.text)
                elif method == "GET" and path in CASE_READS:
                    client = pages[who] if not path.startswith("/api/") else api.http
                    r = await client.get(concrete, headers=headers if path.startswith("/api/") else {})
                    if path == "/api/cases/{case_id}/state" and role not in FULL_STATE_ROLES:
                        assert r.status_code == 403, (who, path, r.text)
                    elif not in_scope:
                        assert r.status_code == 404, (who, path, r.text)
                        # Only the id it was asked, in the API's English or the page's Dutch.
                        echoed = r.text
                        for said in ("no case '%s'", "no case &#39;%s&#39;", "geen zaak &#39;%s&#39;"):
                            echoed = echoed.replace(said % case_id, "")
                        assert case_id not in echoed, (who, path)
                    elif path.endswith("{order_id}.{fmt}"):
                        assert r.status_code == 404 and "has no document" in r.text, (who, path, r.text)
                    else:
                        assert r.status_code == 200, (who, path, r.text)
                elif (method, path) in UWV_SENDS:
                    # The matrix case holds no BSN: a sender in scope is refused by the case (409), or finds no such
                    # message (404, but not the absent case's answer).
                    target = concrete.replace("{message_id}", "UWV-00000000000000000000")
                    r = await api.http.post(target, json={"message": "ziekmelding"}, headers=headers)
                    if not in_scope:
                        assert r.status_code == 404 and "that you may see" in r.text, (who, path, r.text)
                    elif role not in UWV_SENDERS:
                        assert r.status_code == 403, (who, path, r.text)
                    else:
                        assert r.status_code in (404, 409) and "that you may see" not in r.text, (who, path, r.text)
                elif (method, path) == ("GET", "/api/cases"):
                    found = await api.listed(who)
                    assert (case_id in found) == in_scope, (who, found)
                elif (method, path) == ("GET", "/api/cases.csv"):  # the same list as CSV, in the same scope
                    r = await api.http.get(path, headers=headers)
                    assert r.status_code == 200 and (case_id in r.text) == in_scope, (who, r.status_code)
                elif (method, path) in (("GET", "/api/worklist"), ("GET", "/werk")):  # Mijn werk: own scope only
                    client = pages[who] if path == "/werk" else api.http
                    r = await client.get(path, headers=headers if path.startswith("/api/") else {})
                    assert r.status_code == 200, (who, path, r.text)
                    assert in_scope or case_id not in r.text, (who, path)
                elif (method, path) == ("GET", "/cases/new"):  # the dashboard's form to open a case
                    r = await pages[who].get(path)
                    assert r.status_code == (200 if role in ("operations", "casemanager", "werkgever") else 403), who
                    assert case_id not in r.text
                elif (method, path) == ("GET", "/"):  # the dashboard's list of cases
                    r = await pages[who].get("/")
                    assert r.status_code == 200 and (f'href="/cases/{case_id}"' in r.text) == in_scope, who
                elif (method, path) == ("POST", "/api/cases"):
                    body = {
                        "case_id": new_id(),
                        "employer_id": CALLERS[who].employer_id or "E-other",
                        "first_sick_day": (today() + timedelta(days=3)).isoformat(),
                    }
                    r = await api.http.post(path, json=body, headers=headers)
                    assert r.status_code == (409 if who in OPENERS else 403), (who, r.text)  # 409: a future day
                elif (method, path) in IMPORTS:
                    client = api.http if path.startswith("/api/") else pages[who]
                    target = path.replace("{import_id}", "import-0000000000000000")
                    r = await client.request(method, target, headers=headers if path.startswith("/api/") else {})
                    allowed = role in ("operations", "casemanager")
                    assert (r.status_code == 403) != allowed and r.status_code < 500, (who, path, r.status_code)
                elif (method, path) in FIGURES:  # employer E-api's employment data: an empty file is a 422
                    client = pages[who] if path == "/cijfers" else api.http
                    target = path.replace("{employer_id}", "E-api")
                    r = await client.request(method, target, headers=headers if path.startswith("/api/") else {})
                    scoped = who not in ("other_werkgever", "regional_casemanager") or method == "GET"
                    assert (r.status_code == 403) != (who in FIGURE_READERS and scoped), (who, path, r.status_code)
                    assert r.status_code < 500 and case_id not in r.text, (who, path, r.status_code)
                elif (method, path) in OPERATIONS_ONLY:
                    r = await api.http.request(
                        method, path, headers=headers, json={"payloads": []} if method == "POST" else None
                    )
                    assert (r.status_code == 403) == (role != "operations"), (who, path, r.status_code, r.text)
                elif (method, path) in NO_CASE_DATA:
                    # A sign-in with the caller's own token: failed ones would be throttled (test_signin's concern).
                    form = (
                        {"token": api_server.tokens[who], "next": "/"} if (method, path) == ("POST", "/login") else None
                    )
                    r = await pages[who].request(
                        method, path, headers=headers if path.startswith("/api/") else {}, data=form
                    )
                    assert r.status_code < 500 and case_id not in r.text, (who, path, r.status_code)
                else:
                    unruled.append(f"{method} {path}")
                    break
                checked += 1
    finally:
        for client in pages.values():
            await client.aclose()
    assert not unruled, f"routes without an access rule in this test: {sorted(set(unruled))}"
    assert checked >= len(routes) * len(CALLERS) - 1
    # Nothing any of it tried entered the case (the case's own entries, such as a rendered document, may).
    added = (await api.get(f"/api/cases/{case_id}/dossier")).json()[before:]
    assert [e for e in added if e["actor"]["role"] != "systeem"] == []


async def test_who_saw_this_dossier_is_answered_from_the_read_audit(api):
    """Every read of a case passes the one scope check, which records it: allowed, refused (out of scope, answered as
    not there) and not found alike, with ids only."""
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    assert (await api.get(f"/api/cases/{case_id}/dossier", who="werkgever")).status_code == 200
    assert (await api.get(f"/api/cases/{case_id}/dossier", who="other_werkgever")).status_code == 404
    missing = new_id()
    assert (await api.get(f"/api/cases/{missing}", who="casemanager")).status_code == 404
    seen = (await api.get("/api/audit", case_id=case_id, what="dossier")).json()["records"]
    assert [(r["reader_id"], r["outcome"]) for r in seen] == [("hr-2", "refused"), ("hr-1", "allowed")]
    assert (await api.get("/api/audit", case_id=missing)).json()["records"][0]["outcome"] == "not_found"
    assert (await api.get("/api/audit", case_id=case_id, who="casemanager")).status_code == 403
    # Listings are reads too.
    await api.listed("werkgever")
    lists = (await api.get("/api/audit", what="cases", reader_id="hr-1")).json()["records"]
    assert lists and lists[0]["case_id"] is None and lists[0]["outcome"] == "allowed"


async def test_the_trajectory_itself_refuses_a_coach_it_did_not_name(api):
    """Past the API, straight to Temporal: coach-8 cannot take over coach-1's trajectory, nor record in it."""
    case_id = new_id()
    await in_phase(api, case_id, "E-api", 1)
    forged = {
        "kind": "coach_replaced",
        "action_id": new_id("a"),
        "on": today().isoformat(),
        "actor": {"role": "reintegratiecoach", "id": "coach-8"},
        "coach_id": "coach-8",
        "reason": "Mine now",
    }
    with pytest.raises(cases.ActionRejected, match="not assigned to the case"):
        await trajectories.act(api.server.env.client, case_id, forged)
    assert (await api.get(f"/api/cases/{case_id}/spoor2", who="reintegratiecoach")).json()["coach_id"] == "coach-1"


async def test_the_trajectory_itself_refuses_a_caller_out_of_its_cases_scope(api):
    """Past the API, straight to Temporal: the case told its trajectory its scope when it started it, and the
    trajectory's validator refuses a caller outside it with the case's one answer for absent cases."""
    from temporalio.client import WorkflowUpdateFailedError

    case_id = new_id()
    await in_phase(api, case_id, "E-api", 1)
    client = api.server.env.client
    # A day before spoor 2 started: in scope, the trajectory's own rules refuse it, so nothing enters it either way.
    forged = {
        "kind": "purchase_approved",
        "scope": "whole",
        "action_id": new_id("a"),
        "on": (today() - timedelta(days=30)).isoformat(),
        "actor": {"role": "werkgever", "id": "hr-2"},
    }
    handle = trajectories.trajectory_handle(client, case_id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "act", args=[forged, CallerScope(employer_id="E-other")], id=str(forged["action_id"])
        )
    assert isinstance(refused.value.cause, FailureError)
    assert refused.value.cause.message == f"case_id: no case {case_id!r} that you may see"
    with pytest.raises(cases.CaseNotFound, match="that you may see"):
        await trajectories.act(client, case_id, forged, scope=CallerScope(employer_id="E-other"))
    mine = {**forged, "action_id": new_id("a"), "actor": {"role": "werkgever", "id": "hr-1"}}
    with pytest.raises(cases.ActionRejected, match="before spoor 2 started") as theirs:
        await trajectories.act(client, case_id, mine, scope=CallerScope(employer_id="E-api"))
    assert not isinstance(theirs.value, cases.CaseNotFound)


async def test_an_assignment_on_the_case_reaches_its_trajectorys_scope(api):
    """The case tells its running trajectory of every change of who is assigned: a bedrijfsarts of the pool is in
    scope until one is assigned, and the trajectory's answers name the one assigned (for redaction)."""
    case_id = new_id()
    await in_phase(api, case_id, "E-api", 1)
    client = api.server.env.client
    # A kind a bedrijfsarts may not record: in scope the role refusal speaks, out of scope the absent case's answer.
    pooled = {
        "kind": "purchase_approved",
        "scope": "whole",
        "action_id": new_id("a"),
        "on": today().isoformat(),
        "actor": {"role": "bedrijfsarts", "id": "arts-9"},
    }
    scope = CallerScope()
    with pytest.raises(cases.RoleRefused):
        await trajectories.act(client, case_id, pooled, scope=scope)
    assigned = await api.act(case_id, "person_assigned", role="bedrijfsarts", person_id="arts-1")
    assert assigned.status_code == 200, assigned.text

    async def judged() -> type[Exception] | None:
        try:
            await trajectories.act(client, case_id, {**pooled, "action_id": new_id("a")}, scope=scope)
        except cases.ActionRejected as err:
            return type(err)
        return None

    await eventually(judged, lambda kind: kind is cases.CaseNotFound)
    completed = {
        "kind": "phase_completed",
        "phase": 1,
        "action_id": new_id("a"),
        "on": today().isoformat(),
        "actor": {"role": "reintegratiecoach", "id": "coach-1"},
    }
    result = await trajectories.act(client, case_id, completed, scope=scope)
    assert result.applied and result.bedrijfsarts_ids == ["arts-1"]


def queries_asked(monkeypatch) -> list[str]:
    """The names of the queries this process asks from now on, but for those of activities: the worker runs in this
    process too, and a document it renders for an earlier action reads the case whenever its turn comes."""
    from temporalio import activity
    from temporalio.client import WorkflowHandle

    asked: list[str] = []
    original = WorkflowHandle.query

    async def counted(self, query, *args, **kwargs):
        if not activity.in_activity():
            asked.append(getattr(query, "__name__", str(query)))
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(WorkflowHandle, "query", counted)
    return asked


async def test_a_spoor2_action_through_the_api_asks_the_case_no_query(api, monkeypatch):
    """The trajectory judges the caller's scope and names whom to redact by: the route queries nothing first, and
    records the scope's outcome in the read audit as the case's actions do."""
    case_id = new_id()
    await in_phase(api, case_id, "E-api", 1)
    asked = queries_asked(monkeypatch)
    theirs = await api.act(case_id, "phase_completed", who="other_coach", spoor2=True, phase=1)
    assert theirs.status_code == 404 and "that you may see" in theirs.text, theirs.text
    mine = await api.act(case_id, "phase_completed", who="reintegratiecoach", spoor2=True, phase=1)
    assert mine.status_code == 200, mine.text
    assert "bedrijfsarts_ids" not in mine.json()
    assert asked == []
    seen = (await api.get("/api/audit", case_id=case_id, what="case")).json()["records"]
    assert [(r["reader_id"], r["outcome"]) for r in seen][:2] == [("coach-1", "allowed"), ("coach-8", "refused")]


async def test_a_trajectory_not_told_its_scope_has_the_case_judge_it_first(api, monkeypatch):
    """A trajectory started before its case told it its scope (until the case's next run does) cannot judge a caller's:
    it says so, and only then is the scope judged on the case by a query, as before, and the action sent without it."""
    from domain.models import Actor, Role
    from workflows.ids import trajectory_workflow_id
    from workflows.payloads import TrajectoryInput
    from workflows.spoor2_trajectory import Spoor2Trajectory

    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201  # employer E-api
    client = api.server.env.client
    # As an older case started it: no scope in its input. Its reports go nowhere (no such parent), which it logs.
    await client.start_workflow(
        Spoor2Trajectory.run,
        TrajectoryInput(
            case_id=case_id,
            parent_workflow_id=f"no-case-{case_id}",
            started_on=today(),
            started_by=Actor(role=Role.CASEMANAGER, id="cm-1"),
            rules=load_spoor2_rules(),
        ),
        id=trajectory_workflow_id(case_id),
        task_queue=api.server.task_queue,
    )
    asked = queries_asked(monkeypatch)
    theirs = await api.act(case_id, "purchase_approved", who="other_werkgever", spoor2=True, scope="whole")
    assert theirs.status_code == 404 and "that you may see" in theirs.text, theirs.text
    mine = await api.act(case_id, "purchase_approved", who="werkgever", spoor2=True, scope="whole")
    assert mine.status_code == 409 and "that you may see" not in mine.text, mine.text  # the trajectory's own rules
    assert asked == ["summary", "summary"]


async def test_decoded_payloads_are_audited_and_nothing_can_be_sealed_past_the_api(api):
    headers = api.server.headers("operations")
    assert (await api.http.post("/codec/decode", json={"payloads": []}, headers=headers)).status_code == 200
    refused = await api.http.post("/codec/decode", json={"payloads": []}, headers=api.server.headers("werkgever"))
    assert refused.status_code == 403
    decodes = (await api.get("/api/audit", what="codec_decode")).json()["records"]
    assert [(r["reader_id"], r["outcome"]) for r in decodes[:2]] == [("hr-1", "refused"), ("ops-1", "allowed")]
    # No encode: a payload of one's own making cannot be sealed here and sent past the API.
    assert (await api.http.post("/codec/encode", json={"payloads": []}, headers=headers)).status_code in (404, 405)


async def test_an_opening_without_an_id_gets_one_that_cannot_be_guessed_and_a_retry_the_same(api):
    """Opening answers "already exists" for an id in use, so ids must not be guessable: Spoorwerk chooses them."""
    body = {"employer_id": "E-api", "first_sick_day": today().isoformat()}
    headers = api.server.headers("werkgever")
    first = await api.http.post("/api/cases", json=body, headers=headers)
    again = await api.http.post("/api/cases", json=body, headers=headers)
    other = await api.http.post("/api/cases", json=body, headers=api.server.headers("werkgever"))
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    case_id = first.json()["case_id"]
    assert again.json()["case_id"] == case_id != other.json()["case_id"] and len(case_id) == 25
    assert (await api.get(f"/api/cases/{case_id}", who="werkgever")).json()["employer_id"] == "E-api"


async def test_a_bedrijfsarts_of_the_pool_does_not_read_another_bedrijfsartss_notes(api):
    """Review of issue 18: the notes are for the bedrijfsarts who treats the case, not for every bedrijfsarts."""
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    note = "Klachten na een val; fysiotherapie loopt"
    assert (await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=note)).status_code == 200

    async def notes(who: str) -> list:
        dossier = (await api.get(f"/api/cases/{case_id}/dossier", who=who)).json()
        return [e["details"].get("note") for e in dossier if e["kind"] == "probleemanalyse_recorded"]

    assert await notes("bedrijfsarts") == [note]  # nobody assigned: the author reads its own note
    assert await notes("other_bedrijfsarts") == [None]  # the pool sees the case, not the note
    assert (await api.act(case_id, "person_assigned", role="bedrijfsarts", person_id="arts-2")).status_code == 200
    assert await notes("other_bedrijfsarts") == [note]  # assigned: it treats the case now
    assert (await api.get(f"/api/cases/{case_id}/dossier", who="bedrijfsarts")).status_code == 404


async def test_a_bedrijfsartss_note_that_arrives_unsealed_is_refused(api):
    """Review of issue 18: an older API pod (or a client without the medical keys) would have stored it readable."""
    from temporalio.client import WorkflowUpdateFailedError

    from workflows.sick_leave_case import SickLeaveCase

    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    plain: dict[str, Any] = {
        "kind": "probleemanalyse_recorded",
        "action_id": new_id("a"),
        "on": today().isoformat(),
        "actor": {"role": "bedrijfsarts", "id": "arts-1"},
        "note": "Rugklachten, in behandeling",
    }
    handle = cases.case_handle(api.server.env.client, case_id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(SickLeaveCase.act, plain, id=plain["action_id"])
    assert "must arrive sealed" in str(refused.value.cause)
    # Through the one path the API and CLI use, the same note is sealed and taken.
    assert (await cases.act(api.server.env.client, case_id, {**plain, "action_id": new_id("a")})).applied


async def test_the_case_itself_refuses_a_caller_out_of_scope_as_if_there_were_no_case(api):
    """Past the API, straight to Temporal: the update carries the caller's scope, and the case's validator refuses a
    caller outside it with the one answer for absent cases; nothing enters the dossier. The API asks no query first."""
    from temporalio.client import WorkflowUpdateFailedError

    from workflows.sick_leave_case import SickLeaveCase

    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201  # employer E-api
    client = api.server.env.client
    action: dict[str, Any] = {
        "kind": "ziekmelding_arbodienst_sent",
        "action_id": new_id("a"),
        "on": today().isoformat(),
        "actor": {"role": "werkgever", "id": "hr-2"},
    }
    handle = cases.case_handle(client, case_id)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            SickLeaveCase.act, args=[action, CallerScope(employer_id="E-other")], id=action["action_id"]
        )
    cause = refused.value.cause
    assert isinstance(cause, FailureError)
    assert cause.message == f"case_id: no case {case_id!r} that you may see"
    with pytest.raises(cases.CaseNotFound, match="that you may see"):
        await cases.act(client, case_id, action, scope=CallerScope(employer_id="E-other"))
    # A professional working for other employers only is out of scope too, however its role stands.
    pooled = {**action, "action_id": new_id("a"), "actor": {"role": "casemanager", "id": "cm-9"}}
    with pytest.raises(cases.CaseNotFound):
        await cases.act(client, case_id, pooled, scope=CallerScope(employer_ids=["E-other"]))
    kinds = [e["kind"] for e in (await api.get(f"/api/cases/{case_id}/dossier")).json()]
    assert "ziekmelding_arbodienst_sent" not in kinds
    # In scope, the same action is taken; the case judged the role too (a role refusal is its own kind of no).
    assert (await cases.act(client, case_id, action, scope=CallerScope(employer_id="E-api"))).applied
    wrong_role = {**action, "kind": "probleemanalyse_recorded", "action_id": new_id("a")}
    with pytest.raises(cases.RoleRefused, match="may not record"):
        await cases.act(client, case_id, wrong_role, scope=CallerScope(employer_id="E-api"))


async def test_a_closed_case_out_of_scope_answers_as_no_case_not_with_its_closing(api):
    """A closed case takes no update, so no validator judges the caller: the edge asks the closed case itself before
    it says how the case closed."""
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    withdrawn = await api.act(case_id, "case_withdrawn", who="werkgever", reason="Opened by mistake")
    assert withdrawn.status_code == 200, withdrawn.text
    client = api.server.env.client
    await eventually(lambda: cases.closed_workflow(client, f"case-{case_id}", CaseResult, "closed_on"), bool)
    mine = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever")
    assert mine.status_code == 409 and "the case is closed" in mine.json()["detail"]
    theirs = await api.act(case_id, "ziekmelding_arbodienst_sent", who="other_werkgever")
    assert theirs.status_code == 404 and theirs.json()["detail"] == f"case_id: no case {case_id!r} that you may see"
    # Each action's answer is a read of the case in the audit, with the scope's outcome.
    seen = (await api.get("/api/audit", case_id=case_id, what="case")).json()["records"]
    # Newest first: the other employer's 404, the closed case's 409, the withdrawal.
    assert [(r["reader_id"], r["outcome"]) for r in seen][:3] == [
        ("hr-2", "refused"),
        ("hr-1", "allowed"),
        ("hr-1", "allowed"),
    ]
    absent = new_id()
    assert (await api.act(absent, "ziekmelding_arbodienst_sent", who="werkgever")).status_code == 404
    assert (await api.get("/api/audit", case_id=absent)).json()["records"][0]["outcome"] == "not_found"
