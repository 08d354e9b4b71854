"""Hostile and broken input: every update, internal signal and API endpoint refuses it clearly, and
no case gets stuck or loses a thing.

Against the dev server (the real server's limits) with the API's worker. The updates go straight to
Temporal, past the client-side checks, as any client with access to the cluster could send them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.service import RPCError

from domain.actions import _ADAPTER as CASE_ADAPTER
from domain.actions import ACTION_KINDS, ACTION_ROLES, MAX_ACTION_BYTES, MAX_TEXT_CHARS
from domain.models import Role
from domain.spoor2 import _ADAPTER as SPOOR2_ADAPTER
from domain.spoor2 import SPOOR2_ACTION_KINDS, SPOOR2_ACTION_ROLES
from operations import cases
from operations.api import MAX_BODY_BYTES
from tests.apiserver import eventually
from tests.operations.test_api import Api, in_phase, new_id, today
from workflows.ids import case_workflow_id, trajectory_workflow_id

pytestmark = pytest.mark.devserver


@pytest.fixture
async def api(api_server):
    # English, the messages' own language, which these tests read (Dutch is the default).
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60, headers={"Accept-Language": "en"}) as http:
        yield Api(api_server, http)


@pytest.fixture
async def spoor2_case(api) -> str:
    """A case in spoor 2 phase 1, opened and driven there by the API, with a dossier to lose."""
    case_id = new_id("H")
    await in_phase(api, case_id, "E-api", 1)
    r = await api.act(case_id, "activity_recorded", who="reintegratiecoach", spoor2=True, activity="conversation")
    assert r.status_code == 200, r.text
    # The trajectory reports to the case shortly after: wait, so the dossier is settled before a snapshot.
    await eventually(
        lambda: api.get(f"/api/cases/{case_id}/dossier"),
        lambda r: any(e["kind"] == "spoor2:activity_recorded" for e in r.json()),
    )
    return case_id


# --------------------------------------------------------------------------- helpers


def raw_json(text: str | bytes) -> RawValue:
    """A payload sent as these exact bytes (through the codec): broken JSON, NaN, escapes."""
    return RawValue(
        Payload(metadata={"encoding": b"json/plain"}, data=text.encode() if isinstance(text, str) else text)
    )


async def events(handle: WorkflowHandle, kind: int) -> list:
    return [e for e in (await handle.fetch_history()).events if e.event_type == kind]


async def task_failures(handle: WorkflowHandle) -> list[str]:
    """The workflow task failures in the history: any is a case that was (or is) stuck."""
    failed = await events(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    return [e.workflow_task_failed_event_attributes.failure.message for e in failed]


class Snapshot:
    """What a case and its trajectory hold, to show afterwards that nothing was lost."""

    def __init__(self, client, case_id: str) -> None:
        self.case = client.get_workflow_handle(case_workflow_id(case_id))
        self.trajectory = client.get_workflow_handle(trajectory_workflow_id(case_id))

    async def take(self) -> tuple[list[dict], list[dict], int, int]:
        dossier = await self.case.query("dossier")
        record = await self.trajectory.query("record")
        accepted = [
            len(await events(h, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED))
            for h in (self.case, self.trajectory)
        ]
        return dossier, record, *accepted


async def still_works(api, case_id: str, before: tuple[list[dict], list[dict], int, int]) -> None:
    """No task failed, every earlier entry is still there, queries answer, a valid action applies once."""
    snap = Snapshot(api.server.env.client, case_id)
    assert await task_failures(snap.case) == [] and await task_failures(snap.trajectory) == []
    dossier, record, case_accepted, trajectory_accepted = await snap.take()
    assert (case_accepted, trajectory_accepted) == before[2:], "a hostile update entered the history"
    assert dossier[: len(before[0])] == before[0] and record == before[1]
    key = f"after-{uuid.uuid4().hex[:8]}"
    for _ in range(2):  # a retry applies once
        r = await api.act(
            case_id, "activity_recorded", who="reintegratiecoach", spoor2=True, key=key, activity="application"
        )
        assert r.status_code == 200, r.text
    r = await api.act(case_id, "stagnation_reported", who="casemanager")
    assert r.status_code == 200, r.text
    dossier, record, *_ = await snap.take()
    assert [e["action_id"] for e in record].count(key) == 1
    assert len(record) == len(before[1]) + 1 and dossier[: len(before[0])] == before[0]
    for path in ("", "/deadlines", "/dossier", "/state", "/spoor2"):
        assert (await api.get(f"/api/cases/{case_id}{path}")).status_code == 200
    # Checked again now that the workflows have certainly processed everything sent before.
    assert await task_failures(snap.case) == [] and await task_failures(snap.trajectory) == []


# --------------------------------------------------------------------------- hostile updates


def _schema_type(prop: dict, defs: dict) -> dict:
    """The declared type of a field: the first non-null of a union, a $ref resolved."""
    for option in prop.get("anyOf", [prop]):
        if option.get("type") != "null":
            prop = option
            break
    if "$ref" in prop:
        return defs[prop["$ref"].rsplit("/", 1)[1]]
    return prop


def _wrong_value(prop: dict) -> Any:
    """A value of the wrong JSON type for the field (strict: no `true` for a number, no "1.5" for a float)."""
    kind: str = prop.get("type", "")
    if kind == "string" and prop.get("format") == "date":
        return "2025-02-30"
    return {"string": 12345, "integer": True, "number": "12.5", "boolean": "yes", "array": "a@b.nl"}.get(kind, "x")


def per_field_payloads(adapter, kinds: tuple[str, ...], base: dict) -> list[tuple[str, dict, str]]:
    """For every kind: only its kind, an extra field, and each of its fields with a wrong value and
    with a nested list; each with the field the refusal must name."""
    schema = adapter.json_schema()
    defs = schema["$defs"]
    out: list[tuple[str, dict[str, Any], str]] = []
    for kind in kinds:
        model = next(d for d in defs.values() if d.get("properties", {}).get("kind", {}).get("const") == kind)
        out.append((kind, {"kind": kind}, "action_id: Field required"))
        # A BSN is refused by every action but the one that keeps it in the employee's (encrypted) details.
        extra = "sofinummer" if kind == "employee_details_corrected" else "bsn"
        out.append((kind, {**base, "kind": kind, extra: "123456782"}, f"{extra}: Extra inputs are not permitted"))
        for field, prop in model["properties"].items():
            if field == "kind":
                continue
            declared = _schema_type(prop, defs)
            out.append((kind, {**base, "kind": kind, field: _wrong_value(declared)}, field))
            out.append((kind, {**base, "kind": kind, field: [[]]}, field))
    return out


def hostile_payloads(on: str, base: dict, kind: str, role: str, fields: dict) -> list[tuple[str, Any, str]]:
    """(name, payload, what the refusal must say) for one update: shapes, sizes, numbers, dates, text."""
    ok = {**base, "kind": kind, "actor": {"role": role}, **fields}
    mb = "x" * 1_000_000
    return [
        ("list", [ok], "action: must be a JSON object of the action's fields, not list"),
        ("string", "relapse", "action: must be a JSON object of the action's fields, not str"),
        ("null", None, "action: must be a JSON object of the action's fields, not null"),
        ("number", 42, "action: must be a JSON object of the action's fields, not int"),
        ("empty", {}, "kind: None is not a known"),
        ("unknown kind", {**ok, "kind": "teleport"}, "kind: 'teleport' is not a known"),
        ("kind of wrong type", {**ok, "kind": ["relapse"]}, "kind: ['relapse'] is not a known"),
        ("1 MB kind", {**ok, "kind": mb}, f"kind: 1000000 characters, more than the {MAX_TEXT_CHARS}"),
        ("1 MB note", {**ok, "note": mb}, f"note: 1000000 characters, more than the {MAX_TEXT_CHARS}"),
        ("1 MB role", {**ok, "actor": {"role": mb}}, "actor.role: 1000000 characters"),
        ("1 MB field name", {**ok, mb: 1}, "action: a field name of 1000000 characters (at most 100)"),
        ("1 MB action id", {**ok, "action_id": mb}, "action_id: 1000000 characters"),
        (
            "many fields",
            {**ok, **{f"f{n}": n for n in range(200)}},
            f"action: {len(ok) + 200} entries, more than the 100",
        ),
        (
            "size",
            {**ok, **{f"f{n}": "x" * 3000 for n in range(50)}},
            f"more than the {MAX_ACTION_BYTES} an action may have",
        ),
        ("deep", {**ok, "note": json.loads("[" * 150 + "]" * 150)}, "note.0.0.0: nested deeper than 4 levels"),
        ("deeper than the decoder", raw_json('{"kind":' + "[" * 5000 + "]" * 5000 + "}"), "Failed decoding arguments"),
        ("broken JSON", raw_json('{"kind": '), "Failed decoding arguments"),
        ("not UTF-8", raw_json(b'{"kind": "\xff\xfe"}'), "Failed decoding arguments"),
        (
            "unpaired surrogate",
            raw_json(json.dumps({**ok, "note": "x"})[:-1] + ', "y": "\\ud800"}'),
            "Failed decoding arguments",
        ),
        ("NUL", {**ok, "note": "a\x00b"}, "note: the control character U+0000 at position 1"),
        ("escape", {**ok, "note": "\x1b[31mred"}, "note: the control character U+001B"),
        ("NaN", raw_json(json.dumps({**ok, "note": None})[:-1] + ', "x": NaN}'), "x: nan is not a number"),
        ("Infinity", raw_json(json.dumps({**ok, "note": None})[:-1] + ', "x": -Infinity}'), "x: -inf is not a number"),
        ("big number", {**ok, "x": -(10**9)}, "x: -1000000000 is out of range (at most 100000)"),
        ("huge number", {**ok, "x": 10**30}, "x: a number of about 31 digits is out of range"),
        ("enormous number", raw_json(json.dumps(ok)[:-1] + ', "x": 1' + "0" * 5000 + "}"), "Failed decoding arguments"),
        ("year 1", {**ok, "on": "0001-01-01"}, "on: 0001-01-01 is more than 20 years before today"),
        ("year 9999", {**ok, "on": "9999-12-31"}, "on: 9999-12-31 is more than 10 years after today"),
        ("no date", {**ok, "on": "yesterday"}, "on: Input should be a valid date"),
        ("timestamp", {**ok, "on": f"{on}T23:30:00+14:00"}, "on: Input should be a valid date"),
        ("date as a spreadsheet number", {**ok, "on": 45000}, "on: Input should be a valid date"),
        ("actor as text", {**ok, "actor": role}, "actor: Input should be an object"),
        ("actor without role", {**ok, "actor": {}}, "actor.role: Field required"),
        ("unknown role", {**ok, "actor": {"role": "janitor"}}, "actor.role: 'janitor' is not a known role"),
        ("system role", {**ok, "actor": {"role": "systeem"}}, "the role Spoorwerk may not record"),
        (
            "BSN as actor id",
            {**ok, "actor": {"role": role, "id": "123456782"}},
            "actor.id: String should match pattern",
        ),
        ("action id with spaces", {**ok, "action_id": "a b"}, "action_id: String should match pattern"),
    ]


async def send(handle: WorkflowHandle, payload: Any) -> str:
    """The refusal's reason; fails the test if the update was accepted or did not get a refusal."""
    try:
        result = await handle.execute_update("act", payload)
    except WorkflowUpdateFailedError as err:
        return getattr(err.cause, "message", None) or str(err.cause)
    raise AssertionError(f"accepted: {json.dumps(result)[:300]}")


async def test_hostile_updates_are_refused_with_the_field_and_the_case_goes_on(api, spoor2_case):
    client = api.server.env.client
    snap = Snapshot(client, spoor2_case)
    before = await snap.take()
    on = today().isoformat()
    tried: dict[str, int] = {}
    for target, handle, adapter, kinds, kind, role, fields in (
        ("case act", snap.case, CASE_ADAPTER, ACTION_KINDS, "evaluatie_held", "casemanager", {}),
        (
            "trajectory act",
            snap.trajectory,
            SPOOR2_ADAPTER,
            SPOOR2_ACTION_KINDS,
            "activity_recorded",
            "reintegratiecoach",
            {"activity": "conversation"},
        ),
    ):
        base = {"action_id": f"h-{uuid.uuid4().hex[:8]}", "actor": {"role": role}, "on": on}
        cases_ = [(name, payload, expect) for name, payload, expect in hostile_payloads(on, base, kind, role, fields)]
        cases_ += [(f"{k}: field", payload, expect) for k, payload, expect in per_field_payloads(adapter, kinds, base)]
        for name, payload, expect in cases_:
            reason = await send(handle, payload)
            assert expect in reason, (target, name, reason)
            assert len(reason) < 2000, (target, name, "a refusal must not echo the input")
        tried[target] = len(cases_)
    print(f"\nhostile updates refused: {tried}")
    await still_works(api, spoor2_case, before)


async def test_dates_far_off_are_refused_and_the_furthest_allowed_one_keeps_the_case_going(api, spoor2_case):
    """A deadline moved to 9999-12-31 was accepted and then failed every workflow task (a date overflow)."""
    snap = Snapshot(api.server.env.client, spoor2_case)
    now = today()
    latest = (
        now.replace(year=now.year + 10) if (now.month, now.day) != (2, 29) else now.replace(year=now.year + 10, day=28)
    )
    base = {
        "kind": "deadline_deviation",
        "actor": {"role": "casemanager"},
        "on": now.isoformat(),
        "deadline": "evaluatie",
        "reason": "Agreed with UWV in writing",
    }
    for new_due in ("9999-12-31", (latest + timedelta(days=1)).isoformat()):
        reason = await send(snap.case, {**base, "action_id": f"d-{uuid.uuid4().hex[:8]}", "new_due": new_due})
        assert reason == f"new_due: {new_due} is more than 10 years after today ({now})"
    reason = await send(
        snap.trajectory,
        {
            "kind": "phase_paused",
            "action_id": "p-year-1",
            "actor": {"role": "bedrijfsarts"},
            "on": now.isoformat(),
            "reason": "illness",
            "bedrijfsarts_consent_on": "0001-01-01",
        },
    )
    assert reason == f"bedrijfsarts_consent_on: 0001-01-01 is more than 20 years before today ({now})"
    moved = await snap.case.execute_update("act", {**base, "action_id": "d-latest", "new_due": latest.isoformat()})
    assert moved["entry"]["kind"] == "deadline_deviation"
    deadlines = (await api.get(f"/api/cases/{spoor2_case}/deadlines")).json()
    assert latest.isoformat() in [d["due"] for d in deadlines if d["key"] == "evaluatie"]
    await still_works(api, spoor2_case, await snap.take())


async def test_text_oddities_that_are_text_are_kept_exactly(api, spoor2_case):
    """Right-to-left marks, combining accents, emoji and newlines are text: recorded and shown as sent."""
    note = "Afspraak \u200fمع الموظف\u200e; cafe\u0301 ☕ 👩🏽‍⚕️\n\tvolgende week \u202eoverride\u202c"
    r = await api.act(spoor2_case, "evaluatie_held", who="casemanager", note=note)
    assert r.status_code == 200, r.text
    entry = next(
        e for e in (await api.get(f"/api/cases/{spoor2_case}/dossier")).json() if e["kind"] == "evaluatie_held"
    )
    assert entry["details"]["note"] == note


async def test_an_update_past_temporals_blob_limit_leaves_the_case_unharmed(api, spoor2_case):
    """A 3 MB update is beyond what any validator can refuse: Temporal sends a rejection back with its
    request, and the SDK will not upload one over the 2 MB blob limit, so that one workflow task fails.
    The server then drops the update (the caller gets an error, not a result) and the next attempt
    of the task completes: nothing entered the history, nothing was lost, the case goes on.
    Spoorwerk's own clients never send it (API: 413; operations.cases: refused before sending)."""
    snap = Snapshot(api.server.env.client, spoor2_case)
    before = await snap.take()
    huge = {
        "kind": "evaluatie_held",
        "action_id": "huge-1",
        "actor": {"role": "casemanager"},
        "on": today().isoformat(),
        "note": "x" * 3_000_000,
    }
    with pytest.raises(cases.InvalidInput, match="note: 3000000 characters, more than the 4000"):
        await cases.act(api.server.env.client, spoor2_case, huge)
    r = await api.act(spoor2_case, "evaluatie_held", note="x" * 3_000_000)
    assert (
        r.status_code == 413
        and r.json()["detail"] == f"body: larger than the {MAX_BODY_BYTES} bytes a request may have"
    )

    with pytest.raises(RPCError, match="Workflow Task in failed state"):
        await snap.case.execute_update("act", huge)
    failures = await task_failures(snap.case)
    assert failures and all("exceeded the error limit" in f or f == "Encoded failure" for f in failures)
    # The next attempt of the task (the server's backoff: ~10 s) completes without the update.
    for _ in range(60):
        try:
            await snap.case.query("dossier")
            break
        except RPCError:
            await asyncio.sleep(1)
    last_task = [
        e.event_type
        for e in (await snap.case.fetch_history()).events
        if e.event_type in (EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)
    ][-1]
    assert last_task == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    dossier, record, case_accepted, trajectory_accepted = await snap.take()

    # Every entry is kept, in order, with the same content. Only `recorded_at` of an entry from a signal
    # taken just before the failed task may move: after the failure the worker rebuilds the case from its
    # history, and the SDK then applies that signal with the next task's time (seen with a document being
    # rendered at that moment; the history replays without a nondeterminism error).
    def content(entries):
        return [{k: v for k, v in e.items() if k != "recorded_at"} for e in entries]

    assert content(dossier[: len(before[0])]) == content(before[0]) and record == before[1]
    assert (case_accepted, trajectory_accepted) == before[2:]
    r = await api.act(spoor2_case, "stagnation_reported", who="casemanager")
    assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- internal signals


async def test_garbage_internal_signals_are_dropped_and_never_stick_a_workflow(api, spoor2_case):
    """`trajectory_update`, `resync` and `case_closed` with no argument, two, null or the wrong shape:
    before, each failed every workflow task of its workflow (a TypeError or AttributeError in the
    handler) and the case or its trajectory was stuck. Undecodable bytes the SDK drops itself."""
    snap = Snapshot(api.server.env.client, spoor2_case)
    before = await snap.take()
    forged_entry = {
        "seq": 10**6,
        "recorded_at": "2026-01-01T00:00:00Z",
        "on": "9999-12-31",
        "actor": {"role": "werknemer"},
        "kind": "forged",
        "summary": "forged",
    }
    garbage: list[tuple[WorkflowHandle, str, list[Any]]] = []
    hostile: list[list[Any]] = [
        [],
        [None],
        [1, 2],
        [{}],
        ["x" * 100_000],
        [[1]],
        [raw_json("{broken")],
        [raw_json(b"\xff")],
    ]
    for args in hostile:
        garbage += [
            (snap.case, "trajectory_update", args),
            (snap.trajectory, "resync", args),
            (snap.trajectory, "case_closed", args),
        ]
    garbage += [
        (
            snap.case,
            "trajectory_update",
            [{"status": "fase", "phase": 1, "outcome": None, "ended_on": None, "events": [forged_entry]}, "extra"],
        ),
        (snap.case, "trajectory_update", [{"status": "nowhere", "phase": "one", "events": "none"}]),
        (snap.trajectory, "resync", ["abc"]),
        (snap.trajectory, "resync", [1.5]),
        (snap.trajectory, "resync", [-5]),
        (snap.trajectory, "resync", [10**30]),  # valid ints: a harmless re-send
        (snap.trajectory, "case_closed", [{"outcome": "hersteld"}]),
        (snap.trajectory, "case_closed", [{"outcome": "hersteld", "closed_on": "not a date"}]),
        (snap.case, "no_such_signal", [1]),
        (snap.trajectory, "no_such_signal", []),
    ]
    for handle, name, args in garbage:
        await handle.signal(name, args=args)
    print(f"\ngarbage signals sent: {len(garbage)}")
    await still_works(api, spoor2_case, before)
    dossier = await snap.case.query("dossier")
    assert not any(e["kind"] == "spoor2:forged" for e in dossier)
    assert (await api.get(f"/api/cases/{spoor2_case}/spoor2")).json()["status"] == "fase"


# --------------------------------------------------------------------------- the API


ROLE_CALLER = {
    Role.OPERATIONS: "operations",
    Role.CASEMANAGER: "casemanager",
    Role.REINTEGRATIECOACH: "reintegratiecoach",
    Role.BEDRIJFSARTS: "bedrijfsarts",
    Role.ARBEIDSDESKUNDIGE: "arbeidsdeskundige",
    Role.WERKGEVER: "werkgever",
}


def caller_for(path: str) -> str:
    """A caller whose role may take the action of `path` (so the refusal is about the input, not the role)."""
    kind = path.rsplit("/", 1)[1]
    roles = SPOOR2_ACTION_ROLES[kind] if "/spoor2/actions/" in path else ACTION_ROLES[kind]
    if kind == "document_received":
        return "casemanager"
    if not roles & set(ROLE_CALLER):  # UWV's answers (domain.case.actions.uwv): no caller may; the body is judged first
        return "operations"
    return next(
        ROLE_CALLER[r]
        for r in (
            Role.OPERATIONS,
            Role.CASEMANAGER,
            Role.REINTEGRATIECOACH,
            Role.WERKGEVER,
            Role.BEDRIJFSARTS,
            Role.ARBEIDSDESKUNDIGE,
        )
        if r in roles
    )


def body_fields(doc: dict, operation: dict) -> dict[str, dict]:
    ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    if not ref:
        return {}
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return {
        name: _schema_type(prop, doc["components"]["schemas"]) for name, prop in schema.get("properties", {}).items()
    }


def example(prop: dict, defs: dict) -> Any:
    """A valid value for a field of the schema, so that one hostile field is all that is wrong with a body."""
    prop = _schema_type(prop, defs)
    if "const" in prop:
        return prop["const"]
    if "enum" in prop:
        return prop["enum"][0]
    kind: str = prop.get("type", "")
    if kind == "object":
        return {
            name: example(sub, defs)
            for name, sub in prop.get("properties", {}).items()
            if name in prop.get("required", [])
        }
    if kind == "string":
        return {"date": today().isoformat(), "email": "hr@example.nl"}.get(prop.get("format", ""), "Xvalid-text")
    return {"integer": 1, "number": 1.0, "boolean": True, "array": []}[kind]


ODD_IDS = ["%00", "x" * 5000, "C%20x'%22", "%F0%9F%98%80", "%ED%A0%80", "C;DROP", "C%0Ax", "123456782", "-C", "C" * 65]


async def test_every_api_endpoint_answers_hostile_requests_with_a_4xx_naming_the_field(api, api_server, spoor2_case):
    doc = (await api.http.get("/openapi.json")).json()
    before = await Snapshot(api_server.env.client, spoor2_case).take()
    tried: dict[str, int] = {}
    statuses: dict[int, int] = {}

    async def expect(path: str, r: httpx.Response, status: int | tuple[int, ...], names: str | None) -> None:
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        assert r.status_code in ((status,) if isinstance(status, int) else status), (path, r.status_code, r.text[:300])
        detail = r.json()["detail"]
        text = json.dumps(detail)
        assert len(text) < 5000, (path, "the answer must not echo the input")
        if names is not None:
            assert names in text, (path, names, text[:300])
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    for template, operations in doc["paths"].items():
        if not template.startswith("/api/"):
            continue
        for method, operation in operations.items():
            label = f"{method.upper()} {template}"
            path = template.replace("{case_id}", spoor2_case).replace("{import_id}", "import-0000000000000000")
            if "{order_id}" in template:  # a document download: the case's intakeverslag, once it is rendered
                listed = await eventually(
                    lambda: api.get(f"/api/cases/{spoor2_case}/documents"),
                    lambda r: r.status_code == 200 and r.json(),
                    seconds=60,
                )
                path = path.replace("{order_id}", listed.json()[0]["order_id"]).replace("{fmt}", "pdf")
            who = caller_for(template) if "/actions/" in template else "operations"
            headers = api_server.headers(who)
            n = 0

            async def call(url: str, **kw: Any) -> httpx.Response:
                nonlocal n
                n += 1
                return await api.http.request(method.upper(), url, headers={**headers, **kw.pop("headers", {})}, **kw)  # noqa: B023

            if "{case_id}" in template:
                for odd in ODD_IDS:
                    await expect(
                        label,
                        await call(template.replace("{case_id}", odd), json={"on": today().isoformat()}),
                        422,
                        "case_id",
                    )
            # An import's body is the file itself, not JSON: its hostile uploads are in tests/operations/test_import.py.
            # (A POST without a body, such as sending a message to UWV, has only its path to be hostile with.)
            if method == "post" and "application/json" in operation.get("requestBody", {}).get("content", {}):
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                valid_on = example(doc["components"]["schemas"][ref], doc["components"]["schemas"])
                valid_on |= {"case_id": new_id("N"), "employer_id": "E-api"} if template == "/api/cases" else {}
                json_header = {"Content-Type": "application/json"}
                await expect(label, await call(path, content=b'{"on": ', headers=json_header), 422, "body")
                await expect(
                    label,
                    await call(path, content=json.dumps(valid_on), headers={"Content-Type": "text/plain"}),
                    415,
                    "Content-Type: application/json",
                )
                await expect(
                    label,
                    await call(
                        path, content=b"on=2025-01-01", headers={"Content-Type": "application/x-www-form-urlencoded"}
                    ),
                    415,
                    "application/x-www-form-urlencoded",
                )
                for body in ([valid_on], "on", 5):
                    await expect(label, await call(path, json=body), 422, "body")
                await expect(label, await call(path, content=b"null", headers=json_header), 422, "body")
                await expect(
                    label,
                    await call(path, content=b"[" * 50_000 + b"]" * 50_000, headers=json_header),
                    (400, 422),
                    "body",
                )  # deeper than the JSON parser goes: FastAPI's own 400
                too_big = json.dumps({**valid_on, "note": "x" * MAX_BODY_BYTES}).encode()
                await expect(
                    label, await call(path, content=too_big, headers=json_header), 413, f"{MAX_BODY_BYTES} bytes"
                )

                async def chunks():
                    for _ in range(MAX_BODY_BYTES // 65536 + 2):
                        yield b" " * 65536

                await expect(label, await call(path, content=chunks(), headers=json_header), 413, "body: larger than")
                await expect(
                    label,
                    await call(path, json=valid_on, headers={"Idempotency-Key": "x" * 10_000}),
                    422,
                    "Idempotency-Key",
                )
                for name, declared in body_fields(doc, operation).items():
                    await expect(label, await call(path, json={**valid_on, name: [[]]}), 422, name)
                    wrong = {"string": {"x": 1}, "integer": "many", "number": "many", "boolean": "maybe"}.get(
                        declared.get("type", ""), 12345
                    )
                    if declared.get("format") == "date":
                        wrong = "2025-02-30"
                    await expect(label, await call(path, json={**valid_on, name: wrong}), 422, name)
                    if declared.get("type") == "string" and declared.get("format") != "date" and "enum" not in declared:
                        await expect(
                            label, await call(path, json={**valid_on, name: "y" * (MAX_TEXT_CHARS + 1)}), 422, name
                        )
                    if name in ("on", "new_due", "bedrijfsarts_consent_on", "first_sick_day"):
                        for far in ("0001-01-01", "9999-12-31"):
                            await expect(label, await call(path, json={**valid_on, name: far}), (409, 422), None)
            if method == "get":
                for params, names in (
                    ({"page_token": "x" * 4001}, "page_token"),
                    ({"employer_id": "x" * 20_000}, "employer_id"),
                    ({"page_size": "1e9"}, "page_size"),
                    ({"overdue": "maybe"}, "overdue"),
                    ({"deadline_before": "0001-01-01"}, "deadline_before"),
                    ({"min_escalation_level": "-1"}, "min_escalation_level"),
                    ({"stage": "x" * 10_000}, "stage"),
                ):
                    if template == "/api/cases":
                        await expect(label, await call(path, params=params), 422, names)
                r = await call(path, params={"unknown": "x" * 20_000})  # an unknown parameter is ignored
                assert r.status_code == (404 if "{import_id}" in template else 200), (label, r.text[:300])
            tried[label] = n
    total = sum(tried.values())
    print(f"\nAPI: {total} hostile requests over {len(tried)} endpoints; statuses {dict(sorted(statuses.items()))}")
    assert len(tried) >= 55 and total >= 1400  # every endpoint of the document, each many times
    await still_works(api, spoor2_case, before)


# --------------------------------------------------------------------------- the command line


async def test_the_command_line_passes_refusals_on_with_the_field(api_server, spoor2_case, tmp_path):
    """Through the API and with --direct: the same limits, a refusal naming the field, exit 1, no traceback."""
    from tests.operations.test_cli_operations import base_env, run

    # In English, the reasons these cases name (the Dutch ones are tests/operations/test_refusals_i18n.py's).
    via_api = base_env(
        tmp_path,
        SPOORWERK_API_URL=api_server.url,
        SPOORWERK_API_TOKEN=api_server.tokens["operations"],
        SPOORWERK_LANGUAGE="en",
    )
    direct = base_env(
        tmp_path,
        TEMPORAL_ADDRESS=api_server.env.client.service_client.config.target_host,
        SPOORWERK_TASK_QUEUE=api_server.task_queue,
        SPOORWERK_LANGUAGE="en",
    )
    tried = 0
    for env, extra in ((via_api, ()), (direct, ("--direct",))):
        for args, reason in (
            (("act", spoor2_case, "evaluatie_held", "--field", "note=" + "x" * 5000), "note: "),
            (("act", spoor2_case, "evaluatie_held", "--field", "note=a\u0007b"), "note: the control character U+0007"),
            (("act", spoor2_case, "partial_recovery", "--field", "percentage=true"), "percentage: "),
            (
                (
                    "act",
                    spoor2_case,
                    "deadline_deviation",
                    "--field",
                    "deadline=evaluatie",
                    "--field",
                    "reason=Agreed in writing",
                    "--field",
                    "new_due=9999-12-31",
                ),
                "new_due: 9999-12-31 is more than 10 years after today",
            ),
            (("cases", "--deadline-before", "0001-01-01"), "deadline_before: 0001-01-01 is before 1900-01-01"),
        ):
            done = await run(*args, *extra, env=env)
            tried += 1
            assert done.rc == 1 and reason in done.err and "Traceback" not in done.err, (
                extra,
                args[:3],
                done.err[-500:],
            )
    assert tried == 10
    # With --direct, --deadline-before used to reach the query as text and end in a traceback.
    soon = await run(
        "cases", "--deadline-before", (today() + timedelta(days=30)).isoformat(), "--json", "--direct", env=direct
    )
    assert soon.rc == 0 and "cases" in json.loads(soon.out), soon.err[-500:]
