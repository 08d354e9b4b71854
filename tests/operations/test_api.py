"""The HTTP API against the dev server with a running worker: open, act, refuse, list, retry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from domain.actions import ACTION_KINDS
from domain.nl_time import local_date
from domain.spoor2 import SPOOR2_ACTION_KINDS
from operations.auth import COOKIE
from tests.apiserver import eventually
from tests.driver import DOCUMENT_ROLES, GROUNDS, ZOEKPROFIEL

pytestmark = pytest.mark.devserver


def today() -> date:
    return local_date(datetime.now(timezone.utc))


class Api:
    """A thin async client: every call as a given role."""

    def __init__(self, server, http: httpx.AsyncClient) -> None:
        self.server, self.http = server, http

    async def open(
        self, case_id: str, employer_id: str = "E-api", *, who: str = "operations", key: str | None = None, **fields
    ) -> httpx.Response:
        body = {
            "case_id": case_id,
            "employer_id": employer_id,
            "first_sick_day": fields.pop("first_sick_day", today().isoformat()),
            **fields,
        }
        return await self.http.post("/api/cases", json=body, headers=self.server.headers(who, key))

    async def act(
        self,
        case_id: str,
        kind: str,
        *,
        who: str = "operations",
        key: str | None = None,
        spoor2: bool = False,
        **fields,
    ) -> httpx.Response:
        fields.setdefault("on", today().isoformat())
        path = f"/api/cases/{case_id}/{'spoor2/' if spoor2 else ''}actions/{kind}"
        return await self.http.post(path, json=fields, headers=self.server.headers(who, key))

    async def get(self, path: str, *, who: str = "operations", **params) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.server.headers(who))

    async def listed(self, who: str = "operations", **params) -> list[str]:
        r = await self.get("/api/cases", who=who, **params)
        assert r.status_code == 200, r.text
        return sorted(c["case_id"] for c in r.json()["cases"])


@pytest.fixture
async def api(api_server):
    # English, the messages' own language: these tests read them (tests/operations/test_refusals_i18n.py reads the Dutch).
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30, headers={"Accept-Language": "en"}) as http:
        yield Api(api_server, http)


def new_id(prefix: str = "C") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def test_open_act_and_read_a_case(api):
    case_id = new_id()
    opened = await api.open(case_id)
    assert opened.status_code == 201 and opened.json() == {"case_id": case_id, "created": True}
    recorded = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever")
    assert recorded.status_code == 200, recorded.text
    entry = recorded.json()["entry"]
    assert entry["kind"] == "ziekmelding_arbodienst_sent" and entry["actor"] == {"role": "werkgever", "id": "hr-1"}

    summary = (await api.get(f"/api/cases/{case_id}")).json()
    assert summary["stage"] == "ziekmelding" and summary["illness_week"] == 1 and summary["escalation_level"] == 0
    deadlines = {d["key"]: d for d in (await api.get(f"/api/cases/{case_id}/deadlines")).json()}
    assert deadlines["ziekmelding_arbodienst"]["status"] == "done"
    assert deadlines["probleemanalyse"]["due"] == (today() + timedelta(days=41)).isoformat()
    kinds = [e["kind"] for e in (await api.get(f"/api/cases/{case_id}/dossier")).json()]
    assert kinds[0] == "case_opened" and "ziekmelding_arbodienst_sent" in kinds
    assert (await api.get(f"/api/cases/{case_id}/spoor2")).status_code == 404
    assert (await api.get("/api/cases/Cnosuchcase")).status_code == 404


async def test_the_poortwachtertoets_and_the_observations_are_read_through_the_api_in_scope(api):
    case_id = new_id()
    # Opened in week 8 with the probleemanalyse declared not done: observed overdue at once.
    await api.open(
        case_id,
        first_sick_day=(today() - timedelta(days=50)).isoformat(),
        prior_steps=[{"key": "probleemanalyse", "done_on": None}],
    )
    toets = await eventually(
        lambda: api.get(f"/api/cases/{case_id}/poortwachtertoets"),
        lambda r: r.status_code == 200 and "open" in r.json()["verdict"],
    )
    points = toets.json()["points"]
    assert [p["step"] for p in points][0] == "documenten" and points[-1]["step"] == "herstel"
    assert any(p["status"] == "open" and p["label"] == "Probleemanalyse door de bedrijfsarts" for p in points)
    dossier = (await api.get(f"/api/cases/{case_id}/dossier")).json()
    [seen] = [e for e in dossier if e["kind"] == "deadline_overdue" and e["details"]["key"] == "probleemanalyse"]
    assert seen["observation"]["state"] == "open" and seen["superseded_by"] is None
    # Recorded after the fact, on time: the observation is superseded, and the toets no longer holds it open.
    pa = await api.act(
        case_id,
        "probleemanalyse_recorded",
        who="bedrijfsarts",
        on=(today() - timedelta(days=50) + timedelta(days=40)).isoformat(),
    )
    assert pa.status_code == 200, pa.text
    dossier = (await api.get(f"/api/cases/{case_id}/dossier")).json()
    [seen] = [e for e in dossier if e["kind"] == "deadline_overdue" and e["details"]["key"] == "probleemanalyse"]
    assert seen["observation"]["state"] == "superseded" and seen["superseded_by"] == pa.json()["entry"]["seq"]
    points = (await api.get(f"/api/cases/{case_id}/poortwachtertoets")).json()["points"]
    assert not any(p["status"] == "open" and p["label"] == "Probleemanalyse door de bedrijfsarts" for p in points)
    # Another employer's werkgever reads neither: to it the case is not there.
    for path in ("/poortwachtertoets", "/dossier"):
        assert (await api.get(f"/api/cases/{case_id}{path}", who="other_werkgever")).status_code == 404


async def test_a_retried_request_applies_once(api):
    case_id = new_id()
    first = await api.open(case_id, key="open-" + case_id)
    again = await api.open(case_id, key="open-" + case_id)
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["created"] is False
    other = await api.open(case_id)  # a new request for the same case id
    assert other.status_code == 409 and "already exists" in other.json()["detail"]

    key = f"zm-{case_id}"
    one = await api.act(case_id, "ziekmelding_arbodienst_sent", key=key)
    two = await api.act(case_id, "ziekmelding_arbodienst_sent", key=key)
    assert one.status_code == two.status_code == 200
    assert two.json()["entry"] == one.json()["entry"]
    dossier = (await api.get(f"/api/cases/{case_id}/dossier")).json()
    assert [e["kind"] for e in dossier].count("ziekmelding_arbodienst_sent") == 1
    reused = await api.act(case_id, "case_withdrawn", key=key, reason="opened by mistake")
    assert reused.status_code == 409 and "already used for “Ziekmelding to the arbodienst”" in reused.json()["detail"]


async def test_a_replayed_key_answers_only_its_own_caller_and_never_a_medical_note(api):
    """Issue 18, high: action ids show in every dossier; replaying the bedrijfsarts's leaked its note."""
    case_id = new_id()
    await api.open(case_id)
    note = "Diagnose: hernia L4-L5, pijnstilling"
    key = f"pa-{case_id}"
    pa = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", key=key, note=note)
    assert pa.status_code == 200 and pa.json()["entry"]["details"]["note"] == note  # the bedrijfsarts's own answer
    for who in ("werkgever", "casemanager", "operations", "reintegratiecoach"):
        replayed = await api.act(case_id, "probleemanalyse_recorded", who=who, key=key, note=note)
        assert replayed.status_code in (403, 409), (who, replayed.text)
        assert note not in replayed.text and "hernia" not in replayed.text
    stolen = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever", key=key)
    assert stolen.status_code == 409 and stolen.json()["detail"].endswith(
        "belongs to another caller's request; send a new Idempotency-Key"
    )
    # The bedrijfsarts's own retry is answered; with other fields it is refused, not answered.
    again = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", key=key, note=note)
    assert again.status_code == 200 and again.json()["entry"]["seq"] == pa.json()["entry"]["seq"]
    changed = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", key=key, note="other")
    assert (
        changed.status_code == 409 and "already used for another “Probleemanalyse recorded”" in changed.json()["detail"]
    )


async def test_refusals_name_their_reason_with_the_right_status(api, api_server):
    case_id = new_id()
    await api.open(case_id)
    # Not authenticated.
    assert (await api.http.get(f"/api/cases/{case_id}")).status_code == 401
    bad = await api.http.get(f"/api/cases/{case_id}", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401 and bad.json()["detail"] == "a valid bearer token is required"
    # Refused by the case: 409 with the validator's reason; malformed: 422 naming the field.
    refused = await api.act(case_id, "evaluatie_held", who="werkgever")
    assert (
        refused.status_code == 409
        and refused.json()["detail"] == "evaluatie_held: the plan van aanpak must be on record first"
    )
    future = await api.act(case_id, "ziekmelding_arbodienst_sent", on=(today() + timedelta(days=3)).isoformat())
    assert future.status_code == 409 and "is in the future" in future.json()["detail"]
    malformed = await api.act(case_id, "partial_recovery", who="bedrijfsarts", percentage=150)
    assert malformed.status_code == 422 and "percentage" in malformed.text
    no_key = await api.http.post(
        f"/api/cases/{case_id}/actions/evaluatie_held",
        json={"on": today().isoformat()},
        headers={"Authorization": f"Bearer {api_server.tokens['operations']}"},
    )
    assert no_key.status_code == 422 and "Idempotency-Key" in no_key.text
    # Each role rule: 403 naming the roles allowed.
    rules: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "werkgever",
            "probleemanalyse_recorded",
            {},
            "the role werkgever may not record “Probleemanalyse recorded” (allowed: bedrijfsarts)",
        ),
        ("casemanager", "spoor2_consent_given", {}, "allowed: bedrijfsarts"),
        ("bedrijfsarts", "ad_onderzoek_concluded", {"own_work_possible": True}, "allowed: arbeidsdeskundige"),
        ("arbeidsdeskundige", "case_withdrawn", {"reason": "not my call"}, "may not record “Case withdrawn”"),
        ("werkgever", "escalation_acknowledged", {"reason": "seen"}, "allowed: casemanager, operations"),
    ]
    for who, kind, fields, reason in rules:
        r = await api.act(case_id, kind, who=who, **fields)
        assert r.status_code == 403 and reason in r.json()["detail"], (who, kind, r.text)
    # The case judges scope before role: a caller who may not see it (a coach, without a trajectory) hears that
    # there is no such case, not what its role may do there.
    outside = await api.act(case_id, "ad_onderzoek_concluded", who="reintegratiecoach", own_work_possible=True)
    assert outside.status_code == 404 and "that you may see" in outside.json()["detail"]
    # An employer sees and acts on its own employer's cases only, and learns of no other: another's case answers
    # as a case that is not there does. The full state is not for it.
    unknown = await api.get(f"/api/cases/{new_id()}", who="other_werkgever")
    for answer in (
        await api.get(f"/api/cases/{case_id}", who="other_werkgever"),
        await api.act(case_id, "ziekmelding_arbodienst_sent", who="other_werkgever"),
    ):
        assert answer.status_code == unknown.status_code == 404
        assert answer.json()["detail"].replace(case_id, "X") == unknown.json()["detail"].replace(
            unknown.url.path.split("/")[-1], "X"
        )
    assert (await api.open(new_id(), "E-api", who="other_werkgever")).status_code == 403
    assert (await api.get(f"/api/cases/{case_id}/state", who="werkgever")).status_code == 403
    # Nothing refused entered the dossier.
    assert [e["kind"] for e in (await api.get(f"/api/cases/{case_id}/dossier")).json()] == [
        "case_opened",
        "reminder_sent",
    ]


async def test_the_bedrijfsartss_notes_are_for_the_bedrijfsarts_only(api):
    case_id = new_id()
    await api.open(case_id)
    note = "Spanningsklachten; behandeling bij de huisarts"
    r = await api.act(
        case_id, "probleemanalyse_recorded", who="bedrijfsarts", belastbaarheid_hours_per_day=4, note=note
    )
    assert r.status_code == 200, r.text

    async def seen_by(who: str) -> dict:
        dossier = (await api.get(f"/api/cases/{case_id}/dossier", who=who)).json()
        return next(e for e in dossier if e["kind"] == "probleemanalyse_recorded")["details"]

    assert (await seen_by("bedrijfsarts"))["note"] == note
    for who in ("operations", "casemanager", "werkgever"):
        details = await seen_by(who)
        assert "note" not in details and details["belastbaarheid_hours_per_day"] == 4  # capacity, not diagnosis
    # A coach sees only the cases it coaches, and this one has no spoor 2.
    assert (await api.get(f"/api/cases/{case_id}/dossier", who="reintegratiecoach")).status_code == 404
    state = (await api.get(f"/api/cases/{case_id}/state", who="casemanager")).json()
    assert note not in str(state)


async def in_phase(api, case_id: str, employer: str, phase: int) -> None:
    """A case taken over at week 53 with spoor 1 done, through spoor 2 intake into `phase`, all by API."""
    first = today() - timedelta(weeks=53)
    done = {
        "ziekmelding_arbodienst": 1,
        "probleemanalyse": 30,
        "plan_van_aanpak": 40,
        "ziekmelding_uwv": 290,
        "eerstejaarsevaluatie": 360,
    }
    r = await api.open(
        case_id,
        employer,
        first_sick_day=first.isoformat(),
        stage="spoor1",
        prior_steps=[{"key": k, "done_on": (first + timedelta(days=d)).isoformat()} for k, d in done.items()],
        evaluations_held=[(first + timedelta(days=d)).isoformat() for d in range(82, 365, 42)],
    )
    assert r.status_code == 201, r.text
    for kind, fields in (
        ("ad_onderzoek_started", {}),
        ("ad_gesprek_held", {"party": "werkgever"}),
        ("ad_gesprek_held", {"party": "werknemer"}),
        ("ad_onderzoek_concluded", {"own_work_possible": False, "other_work_inside_possible": False}),
    ):
        assert (await api.act(case_id, kind, who="arbeidsdeskundige", **fields)).status_code == 200
    assert (await api.act(case_id, "spoor2_started")).status_code == 200
    await eventually(lambda: api.get(f"/api/cases/{case_id}/spoor2"), lambda r: r.status_code == 200)
    for document, role in DOCUMENT_ROLES.items():
        who = {
            "casemanager": "casemanager",
            "werkgever": "werkgever",
            "arbeidsdeskundige": "arbeidsdeskundige",
            "bedrijfsarts": "bedrijfsarts",
        }[role]
        extra = {"belastbaarheid_hours_per_day": 4} if document == "bedrijfsarts_bevindingen" else {}
        r = await api.act(
            case_id,
            "document_received",
            who=who,
            spoor2=True,
            document=document,
            reference=f"dms://{document}/1",
            **extra,
        )
        assert r.status_code == 200, r.text
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("intake_held", "reintegratiecoach", {"coach_id": "coach-1"}),
        ("proposal_sent", "reintegratiecoach", {}),
        ("purchase_approved", "werkgever", {"scope": "whole"}),
        (
            "haalbaarheidstoets_decided",
            "reintegratiecoach",
            {"decision": "go", "grounds": GROUNDS, "zoekprofiel": ZOEKPROFIEL},
        ),
        ("phase_started", "reintegratiecoach", {"phase": 1}),
    ]
    if phase == 2:
        steps += [
            ("phase_completed", "reintegratiecoach", {"phase": 1}),
            ("phase_started", "reintegratiecoach", {"phase": 2}),
        ]
    for kind, who, fields in steps:
        r = await api.act(case_id, kind, who=who, spoor2=True, **fields)
        assert r.status_code == 200, (kind, r.text)
    # The trajectory tells the case by signal; a caller that counts the case's dossier next must see it arrived.
    await eventually(
        lambda: api.get(f"/api/cases/{case_id}/dossier"),
        lambda r: any(e["kind"] == "spoor2:phase_started" and e["details"].get("phase") == phase for e in r.json()),
    )


async def test_a_coach_reads_and_acts_only_on_the_cases_it_coaches(api):
    """Issue 18, high: a coach that named another coach's case read it and escalated it."""
    employer = "E-api"
    coached, fresh = new_id(), new_id()
    await in_phase(api, coached, employer, 1)  # coach-1 holds the intake: its case
    await api.open(fresh, employer)
    await eventually(
        lambda: api.get(f"/api/cases/{coached}", who="reintegratiecoach"),
        lambda r: r.status_code == 200 and r.json()["spoor2_coach_id"] == "coach-1",
    )
    for path in ("", "/deadlines", "/dossier", "/poortwachtertoets", "/spoor2", "/documents"):
        assert (await api.get(f"/api/cases/{coached}{path}", who="other_coach")).status_code == 404, path
        assert (await api.get(f"/api/cases/{fresh}{path}", who="reintegratiecoach")).status_code == 404, path
    refused = await api.act(coached, "stagnation_reported", who="other_coach")
    assert refused.status_code == 404 and "that you may see" in refused.text
    summary = (await api.get(f"/api/cases/{coached}")).json()
    assert summary["escalation_level"] == 0  # nothing climbed, nobody was mailed
    assert (await api.act(coached, "stagnation_reported", who="reintegratiecoach")).status_code == 200


async def test_list_and_count_by_each_filter(api):
    employer = "E-api"  # the werkgever token's employer: it approves the spoor 2 purchases below
    ids = {name: new_id() for name in ("fresh", "overdue", "reported", "phase1", "phase2")}
    await api.open(ids["fresh"], employer)
    # Day 50, the probleemanalyse declared not done: overdue, and stalled from the opening (level 1). (Had the
    # opening said nothing of it, the case would give the bureau its backfill days first.)
    await api.open(
        ids["overdue"],
        employer,
        first_sick_day=(today() - timedelta(days=50)).isoformat(),
        prior_steps=[{"key": "probleemanalyse", "done_on": None}],
    )
    await api.open(ids["reported"], employer, first_sick_day=(today() - timedelta(days=3)).isoformat())
    assert (await api.act(ids["reported"], "stagnation_reported", who="casemanager")).status_code == 200
    await in_phase(api, ids["phase1"], employer, 1)
    await in_phase(api, ids["phase2"], employer, 2)

    def has(*names):
        # Other tests open cases for the same employer: compare within this test's cases.
        return lambda found: sorted(set(found) & set(ids.values())) == sorted(ids[n] for n in names)

    await eventually(lambda: api.listed(employer_id=employer), has("fresh", "overdue", "reported", "phase1", "phase2"))
    await eventually(lambda: api.listed(employer_id=employer, stage="spoor2"), has("phase1", "phase2"))
    await eventually(lambda: api.listed(employer_id=employer, spoor2_phase=2), has("phase2"))
    await eventually(lambda: api.listed(employer_id=employer, overdue="true"), has("overdue"))
    await eventually(lambda: api.listed(employer_id=employer, min_escalation_level=2), has("reported"))
    await eventually(lambda: api.listed(employer_id=employer, min_escalation_level=1), has("overdue", "reported"))
    await eventually(lambda: api.listed(employer_id=employer, coach_id="coach-1"), has("phase1", "phase2"))
    # Next deadline before a date: the cases whose summaries say so, and only those.
    horizon = today() + timedelta(days=4)
    due = {n: (await api.get(f"/api/cases/{i}")).json()["next_deadline"]["due"] for n, i in ids.items()}
    soon = [n for n, d in due.items() if date.fromisoformat(d) < horizon]
    assert "reported" in soon and "fresh" not in soon  # due in 3 days and in 6 days
    await eventually(lambda: api.listed(employer_id=employer, deadline_before=horizon.isoformat()), has(*soon))
    # The coach's own view is scoped to the cases it coaches.
    await eventually(lambda: api.listed("reintegratiecoach", employer_id=employer), has("phase1", "phase2"))

    # Paged: two at a time, every case once.
    seen, token = [], None
    for _ in range(50):
        params = {"employer_id": employer, "page_size": 2, **({"page_token": token} if token else {})}
        page = (await api.get("/api/cases", **params)).json()
        assert len(page["cases"]) <= 2
        seen += [c["case_id"] for c in page["cases"]]
        token = page["next_page_token"]
        if not token:
            break
    assert len(seen) == len(set(seen)) and set(ids.values()) <= set(seen)
    bad = await api.get("/api/cases", stage="nowhere")
    assert bad.status_code == 422 and "stage" in bad.text
    assert (await api.get("/api/cases", employer_id="x' OR 1=1")).status_code == 422

    overview = (await api.get("/api/overview")).json()
    assert overview["running"] >= 5 and set(overview["by_stage"]) == {
        "ziekmelding",
        "spoor1",
        "ad_onderzoek",
        "spoor2",
        "wia",
    }
    assert set(overview["by_escalation_level"]) == {"0", "1", "2", "3"}


async def test_an_employer_lists_and_counts_its_own_cases_only(api):
    mine, theirs = new_id(), new_id()
    await api.open(mine, "E-api")
    await api.open(theirs, "E-other")
    found = await eventually(lambda: api.listed("werkgever"), lambda f: mine in f)
    assert theirs not in found
    # Asking for another employer does not widen the scope.
    assert theirs not in await api.listed("werkgever", employer_id="E-other")
    overview = (await api.get("/api/overview", who="werkgever")).json()

    async def everything() -> int:
        return (await api.get("/api/overview")).json()["running"]

    # Each scope's counts are kept a few seconds (operations.cases.CountsCache): the operations caller's may be
    # counted before this test's cases were opened.
    await eventually(everything, lambda n: n > overview["running"])


async def test_the_openapi_document_lists_every_action(api):
    doc = (await api.http.get("/openapi.json")).json()
    actions = (await api.get("/api/actions")).json()
    # Every action but the outbox's own, which the UWV routes record with their message (docs/uwv.md).
    assert sorted(a["kind"] for a in actions) == sorted(
        {*ACTION_KINDS, *SPOOR2_ACTION_KINDS} - {"uwv_message_prepared", "uwv_message_sent"}
    )
    for a in actions:
        assert a["path"].replace(a["path"].split("/")[3], "{case_id}") in doc["paths"]
    body = doc["components"]["schemas"]["CasePartialRecovery"]
    assert set(body["properties"]) == {"on", "note", "hours_per_week", "percentage"}


async def test_refusals_are_logged_without_personal_data(api, api_server):
    from structlog.testing import capture_logs

    case_id = new_id()
    await api.open(case_id)
    with capture_logs() as logs:
        await api.http.get(f"/api/cases/{case_id}", headers={"Authorization": "Bearer stolen-or-mistyped"})
        await api.act(case_id, "probleemanalyse_recorded", who="werkgever", note="Rugklachten, fysiotherapie")
    refused = [entry for entry in logs if entry["event"] == "request refused"]
    assert [(e["status"], e["role"]) for e in refused] == [(401, None), (403, "werkgever")]
    assert refused[1]["route"] == "/api/cases/{case_id}/actions/probleemanalyse_recorded"
    text = str(refused)
    assert "stolen-or-mistyped" not in text and "Rugklachten" not in text and api_server.tokens["werkgever"] not in text


async def test_an_action_the_case_cannot_take_just_now_is_answered_503_with_retry_after(api, monkeypatch):
    """Issue 18: a transient rejection (a worker or server restarting) is no refusal by the case (409): the client
    is told to send the same request again. The rejection is raised where the client helper raises it."""
    from operations import cases

    case_id = new_id()
    await api.open(case_id)

    async def restarting(client, case_id, payload, **kwargs):
        raise cases.CaseBusy("Workflow Task in failed state")

    monkeypatch.setattr(cases, "act", restarting)
    busy = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever", key=f"zm-{case_id}")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "10"
    assert "send the same request again" in busy.json()["detail"]
    monkeypatch.undo()
    again = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever", key=f"zm-{case_id}")
    assert again.status_code == 200 and again.json()["applied"] is True


async def test_case_data_is_never_cached_and_an_opening_takes_a_bounded_number_of_contacts(api):
    """Issue 18: API JSON lacked Cache-Control: no-store; 2,000 contact addresses were accepted."""
    case_id = new_id()
    many = [f"hr{n}@example.nl" for n in range(2000)]
    refused = await api.open(case_id, contacts={"werkgever": many})
    assert (
        refused.status_code == 422
        and refused.json()["detail"] == "contacts.werkgever: 2000 addresses; at most 10 per role"
    )
    assert (await api.get(f"/api/cases/{case_id}")).status_code == 404  # nothing was opened
    opened = await api.open(case_id, contacts={"werkgever": many[:10]})
    assert opened.status_code == 201
    for path in ("/api/cases", f"/api/cases/{case_id}", f"/api/cases/{case_id}/dossier", "/api/overview"):
        assert (await api.get(path)).headers["Cache-Control"] == "no-store", path
    page = await api.http.get(f"/cases/{case_id}", headers={"Cookie": f"{COOKIE}={api.server.tokens['operations']}"})
    assert page.headers["Cache-Control"] == "no-store"


async def test_an_action_body_is_taken_with_jsons_own_types_and_only_the_actions_fields(api):
    """The route reads the body once and parses it once, as JSON: `true` is no percentage and "4" no number of
    hours, and the fields the edge fills in (who acts, the key, the kind) cannot be sent; a refusal still lists
    every field with pydantic's `loc` and `type`, as when FastAPI read the body itself."""
    case_id = new_id()
    await api.open(case_id)
    for field, value in (("percentage", True), ("hours_per_week", "4")):
        r = await api.act(case_id, "partial_recovery", who="bedrijfsarts", **{field: value})
        assert r.status_code == 422, r.text
        assert [e["loc"] for e in r.json()["detail"]] == [["body", field]]
    forged = await api.act(case_id, "ziekmelding_arbodienst_sent", actor={"role": "operations", "id": "ops-9"})
    assert forged.status_code == 422 and forged.json()["detail"][0]["loc"] == ["body", "actor"]
    assert forged.json()["detail"][0]["type"] == "extra_forbidden"
    several = await api.act(case_id, "case_withdrawn", who="werkgever", on="someday", extra=1)
    assert {tuple(e["loc"]) for e in several.json()["detail"]} >= {("body", "on"), ("body", "extra")}
    broken = await api.http.post(
        f"/api/cases/{case_id}/actions/case_withdrawn",
        content=b'{"on": ',
        headers={**api.server.headers("werkgever"), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    as_text = await api.http.post(
        f"/api/cases/{case_id}/actions/case_withdrawn",
        content=b'{"on": "2026-01-01"}',
        headers={**api.server.headers("werkgever"), "Content-Type": "text/plain"},
    )
    assert as_text.status_code == 415
    kinds = [e["kind"] for e in (await api.get(f"/api/cases/{case_id}/dossier")).json()]
    assert kinds == ["case_opened", "reminder_sent"]
    # What the route takes is still documented: the action's own fields, none the edge fills in.
    doc = (await api.http.get("/openapi.json")).json()
    operation = doc["paths"]["/api/cases/{case_id}/actions/partial_recovery"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("CasePartialRecovery")


async def test_a_role_the_case_refuses_is_403_naming_the_roles_that_use_the_api(api):
    """The role is judged by the case's validator (its role tables), and the API answers 403; the roles it names are
    those a caller of the API can be (UWV acts through the casemanager)."""
    case_id = new_id()
    await api.open(case_id)
    r = await api.act(
        case_id, "deskundigenoordeel_answered", who="werkgever", request_id="a-request", conclusion="Voldoende"
    )
    assert r.status_code == 403, r.text
    assert r.json()["detail"].endswith("(allowed: casemanager, operations)") and "uwv" not in r.json()["detail"]
    # The answer carries what redaction needs, never who treats the case.
    done = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever")
    assert done.status_code == 200 and "bedrijfsarts_ids" not in done.json()


async def test_the_overview_counts_each_scope_apart_and_shows_a_new_case_within_seconds(api, api_server):
    """Issue 22: the tiles' counts are reused for a few seconds per scope (11 count queries at most once per
    scope in that time); a caller never sees another scope's counts, and a newly opened case is on the tiles
    within the seconds they are kept."""
    import time

    from operations.cases import COUNTS_FRESH_SECONDS, CountsCache

    counted = CountsCache(api_server.env.client)
    mine, theirs = f"E-{uuid.uuid4().hex[:8]}", f"E-{uuid.uuid4().hex[:8]}"  # two werkgevers' scopes
    for case_id, employer in ((new_id(), mine), (new_id(), mine), (new_id(), theirs)):
        assert (await api.open(case_id, employer)).status_code == 201

    async def both() -> tuple[int, int]:
        a, b = await asyncio.gather(counted.get(employer_id=mine), counted.get(employer_id=theirs))
        return a.running, b.running

    await eventually(both, lambda found: found == (2, 1))
    assert (await counted.get(employer_id=mine)).by_stage["ziekmelding"] == 2

    # A case opened now shows within the seconds the counts are kept (and the visibility store's own lag).
    assert (await api.open(new_id(), theirs)).status_code == 201
    opened = time.monotonic()
    await eventually(both, lambda found: found == (2, 2), seconds=COUNTS_FRESH_SECONDS + 10)
    assert time.monotonic() - opened <= COUNTS_FRESH_SECONDS + 5

    # The API's own: the werkgever's tiles count its employer's cases, the operations caller's all of them.
    werkgever = (await api.get("/api/overview", who="werkgever")).json()
    everything = (await api.get("/api/overview")).json()
    assert everything["running"] >= werkgever["running"] + 4
    before = werkgever["running"]
    assert (await api.open(new_id(), "E-api")).status_code == 201

    async def werkgever_running() -> int:
        return (await api.get("/api/overview", who="werkgever")).json()["running"]

    await eventually(werkgever_running, lambda n: n >= before + 1, seconds=COUNTS_FRESH_SECONDS + 10)
