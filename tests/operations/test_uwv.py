"""Messages to UWV end to end (issue 21): prepared from a real case, dropped as a file, answered by a simulated UWV
that reads the drop and writes answers, and the answers recorded on the case and in the outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.operations.test_api import Api, new_id, today

pytestmark = pytest.mark.devserver

BSN = "111222333"  # passes the elfproef; fictional


@pytest.fixture
async def api(api_server):
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30, headers={"Accept-Language": "en"}) as http:
        yield Api(api_server, http)


class SimulatedUwv:
    """UWV as the file drop meets it: reads the messages dropped in the outbox folder, answers in the answers folder."""

    def __init__(self, outbox: Path, answers: Path) -> None:
        self.outbox, self.answers = outbox, answers

    def received(self) -> dict[str, dict]:
        return {p.stem: json.loads(p.read_text()) for p in sorted(self.outbox.glob("UWV-*.json"))}

    def answer(self, message_id: str, *, reason: str | None = None) -> None:
        self.answers.mkdir(parents=True, exist_ok=True)
        body = {
            "message_id": message_id,
            "status": "rejected" if reason else "accepted",
            "answered_on": today().isoformat(),
            **({"reason": reason} if reason else {}),
        }
        (self.answers / f"{message_id}.json").write_text(json.dumps(body))


@pytest.fixture
def uwv(api_server) -> SimulatedUwv:
    return SimulatedUwv(api_server.settings.uwv_outbox_path, api_server.settings.uwv_answers_path)


async def open_in_week_42(api: Api, *, bsn: str | None = BSN, employer_id: str = "E-api") -> str:
    case_id = new_id()
    employee = {"surname": "de Vries", "given_names": "Anna", "personnel_number": "4711"}
    r = await api.open(
        case_id,
        employer_id,
        first_sick_day=(today() - timedelta(weeks=41, days=2)).isoformat(),
        employee={**employee, **({"bsn": bsn} if bsn else {})},
    )
    assert r.status_code == 201, r.text
    return case_id


async def prepare(api: Api, case_id: str, message: str, *, who: str = "werkgever", key: str | None = None):
    return await api.http.post(
        f"/api/cases/{case_id}/uwv", json={"message": message}, headers=api.server.headers(who, key)
    )


async def send(api: Api, case_id: str, message_id: str, *, who: str = "werkgever"):
    return await api.http.post(f"/api/cases/{case_id}/uwv/{message_id}/send", headers=api.server.headers(who))


async def test_an_accepted_ziekmelding_completes_the_step(api, uwv):
    case_id = await open_in_week_42(api)
    # The case page offers what the case can make today: in week 42, the ziekmelding; no hersteldmelding yet.
    async with httpx.AsyncClient(base_url=api.server.url, timeout=30) as page:
        await page.post("/login", data={"token": api.server.tokens["casemanager"], "next": "/"})
        shown = (await page.get(f"/cases/{case_id}")).text
    assert 'data-uwv-message-kind="ziekmelding"' in shown and 'data-uwv-message-kind="hersteldmelding"' not in shown
    prepared = await prepare(api, case_id, "ziekmelding", key="zm-1")
    assert prepared.status_code == 201, prepared.text
    message_id = prepared.json()["message_id"]
    assert prepared.json()["status"] == "prepared" and BSN not in prepared.text
    # The same request again is the same message.
    assert (await prepare(api, case_id, "ziekmelding", key="zm-1")).json()["message_id"] == message_id
    # Another one crosses it.
    crossing = await prepare(api, case_id, "ziekmelding", key="zm-2")
    assert crossing.status_code == 409 and "already under way" in crossing.json()["detail"]
    # Not a step to record by hand while the outbox holds it.
    by_hand = await api.act(
        case_id, "uwv_message_prepared", who="casemanager", message_id=message_id, message="ziekmelding"
    )
    assert by_hand.status_code == 409 and "outbox" in by_hand.json()["detail"]

    sent = await send(api, case_id, message_id)
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["reference"] == f"file:{message_id}.json"
    # A retried send drops nothing twice and records nothing twice.
    again = await send(api, case_id, message_id)
    assert again.status_code == 200 and again.json()["reference"] == sent.json()["reference"]
    dropped = uwv.received()
    assert list(dropped) == [message_id]
    message = dropped[message_id]
    assert message["soort"] == "ziekmelding" and message["werknemer"]["bsn"] == BSN
    assert message["werkgever"]["loonheffingennummer"] == "123456789L01" and message["ziekteweek"] == 42
    assert [h["status"] for h in again.json()["history"]] == ["prepared", "sent"]

    uwv.answer(message_id)
    assert (await api.http.post("/api/uwv/answers", headers=api.server.headers("casemanager"))).status_code == 403
    processed = await api.http.post("/api/uwv/answers", headers=api.server.headers("operations"))
    assert processed.status_code == 200, processed.text
    assert [(o["message_id"], o["status"], o["recorded"]) for o in processed.json()] == [(message_id, "accepted", True)]
    # Settled: read once.
    assert (await api.http.post("/api/uwv/answers", headers=api.server.headers("operations"))).json() == []

    deadlines = {d["key"]: d for d in (await api.get(f"/api/cases/{case_id}/deadlines", who="werkgever")).json()}
    assert deadlines["ziekmelding_uwv"]["status"] == "done"
    assert deadlines["ziekmelding_uwv"]["done_on"] == today().isoformat()
    outbox = (await api.get(f"/api/cases/{case_id}/uwv", who="casemanager")).json()
    assert [(m["message_id"], m["status"]) for m in outbox] == [(message_id, "accepted")]
    dossier = (await api.get(f"/api/cases/{case_id}/dossier", who="werkgever")).json()
    accepted = [e for e in dossier if e["kind"] == "uwv_ziekmelding_accepted"]
    assert accepted and accepted[0]["actor"] == {"role": "uwv", "id": "uwv"}
    assert BSN not in json.dumps(dossier)
    # The case page lists it.
    async with httpx.AsyncClient(base_url=api.server.url, timeout=30) as page:
        await page.post("/login", data={"token": api.server.tokens["werkgever"], "next": "/"})
        shown = (await page.get(f"/cases/{case_id}")).text
    assert "UWV-berichten" in shown and message_id in shown and "geaccepteerd" in shown
    # UWV has it: nothing more to make until the employee recovers.
    assert "data-uwv-message-kind" not in shown and "Er hoeft nu geen bericht naar UWV." in shown


async def test_a_rejected_hersteldmelding_shows_uwvs_reason(api, uwv):
    case_id = await open_in_week_42(api)
    assert (await api.act(case_id, "ziekmelding_uwv_sent", who="werkgever")).status_code == 200
    early = await prepare(api, case_id, "hersteldmelding", who="casemanager")
    assert early.status_code == 409 and early.json()["detail"].startswith("message: no recovery is on record")
    assert (await api.act(case_id, "full_recovery", who="werkgever")).status_code == 200

    prepared = await prepare(api, case_id, "hersteldmelding", who="casemanager")
    assert prepared.status_code == 201, prepared.text
    message_id = prepared.json()["message_id"]
    assert (await send(api, case_id, message_id, who="casemanager")).status_code == 200
    assert uwv.received()[message_id]["herstel"] == "volledig"
    reason = "Hersteldatum valt na de einddatum van het dienstverband"
    uwv.answer(message_id, reason=reason)
    processed = await api.http.post("/api/uwv/answers", headers=api.server.headers("operations"))
    assert [(o["message_id"], o["status"]) for o in processed.json()] == [(message_id, "rejected")]

    [record] = (await api.get(f"/api/cases/{case_id}/uwv", who="werkgever")).json()
    assert record["status"] == "rejected" and record["reason"] == reason
    assert record["history"][-1]["actor_role"] == "uwv" and record["history"][-1]["detail"] == reason
    dossier = (await api.get(f"/api/cases/{case_id}/dossier", who="werkgever")).json()
    [rejected] = [e for e in dossier if e["kind"] == "uwv_message_rejected"]
    assert rejected["details"]["reason"] == reason
    async with httpx.AsyncClient(base_url=api.server.url, timeout=30) as page:
        await page.post("/login", data={"token": api.server.tokens["casemanager"], "next": "/"})
        shown = (await page.get(f"/cases/{case_id}")).text
    assert "afgewezen" in shown and reason in shown
    assert 'data-uwv-message-kind="hersteldmelding"' in shown and 'data-uwv-message-kind="ziekmelding"' not in shown
    # Corrected, it may be made again.
    assert (await prepare(api, case_id, "hersteldmelding", who="casemanager")).status_code == 201


async def test_what_uwv_needs_is_asked_for_by_name_and_the_scope_holds(api, uwv):
    without_bsn = await open_in_week_42(api, bsn=None)
    refused = await prepare(api, without_bsn, "ziekmelding")
    assert refused.status_code == 409 and refused.json()["detail"].startswith("employee.bsn:")
    unknown_employer = await open_in_week_42(api, employer_id="E-other")
    refused = await prepare(api, unknown_employer, "ziekmelding", who="operations")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(
        "loonheffingennummer: no loonheffingennummer is known for employer E-other"
    )
    # In Dutch, by default.
    dutch = await api.http.post(
        f"/api/cases/{without_bsn}/uwv",
        json={"message": "ziekmelding"},
        headers={**api.server.headers("werkgever"), "Accept-Language": "nl"},
    )
    assert dutch.status_code == 409 and dutch.json()["detail"].startswith("employee.bsn: de zaak")

    case_id = await open_in_week_42(api)
    prepared = await prepare(api, case_id, "ziekmelding")
    message_id = prepared.json()["message_id"]
    # Out of scope: as if there were no case, for every route; a role in scope that may not send: 403.
    assert (await api.get(f"/api/cases/{case_id}/uwv", who="other_werkgever")).status_code == 404
    assert (await prepare(api, case_id, "ziekmelding", who="other_werkgever")).status_code == 404
    assert (await send(api, case_id, message_id, who="other_werkgever")).status_code == 404
    assert (await send(api, case_id, message_id, who="bedrijfsarts")).status_code == 403
    assert (await api.get(f"/api/cases/{case_id}/uwv", who="bedrijfsarts")).status_code == 200
    # A message of another case is not this case's.
    assert (await send(api, without_bsn, message_id)).status_code == 404
    assert message_id not in uwv.received()
    reads = (await api.get("/api/audit", case_id=case_id, what="uwv")).json()["records"]
    assert {(r["reader_id"], r["outcome"]) for r in reads} >= {("hr-2", "refused"), ("hr-1", "allowed")}


async def test_the_command_line_prepares_sends_lists_and_records_answers(api, uwv, tmp_path):
    from tests.operations.test_cli_operations import base_env, run

    case_id = await open_in_week_42(api)
    as_werkgever = base_env(
        tmp_path, SPOORWERK_API_URL=api.server.url, SPOORWERK_API_TOKEN=api.server.tokens["werkgever"]
    )
    prepared = await run("uwv", "prepare", case_id, "ziekmelding", "--key", "cli-1", "--json", env=as_werkgever)
    assert prepared.rc == 0, prepared.err
    message_id = json.loads(prepared.out)["message_id"]
    sent = await run("uwv", "send", case_id, message_id, env=as_werkgever)
    assert sent.rc == 0 and message_id in sent.out and "verstuurd" in sent.out, sent.err
    uwv.answer(message_id, reason="Eerste ziektedag wijkt af van de polisadministratie")
    as_operations = {**as_werkgever, "SPOORWERK_API_TOKEN": api.server.tokens["operations"]}
    answered = await run("uwv", "answers", env=as_operations)
    assert answered.rc == 0 and message_id in answered.out and "rejected" in answered.out, answered.err
    listed = await run("uwv", "list", case_id, env=as_werkgever)
    assert "afgewezen" in listed.out and "Reden van UWV: Eerste ziektedag wijkt af" in listed.out
    # Nothing to send as a caller out of scope, and a clear refusal for a kind that is not one.
    other = {**as_werkgever, "SPOORWERK_API_TOKEN": api.server.tokens["other_werkgever"]}
    assert (await run("uwv", "list", case_id, env=other)).rc == 1
    wrong = await run("uwv", "prepare", case_id, "ziekbericht", env=as_werkgever)
    assert wrong.rc == 1 and "message" in wrong.err
