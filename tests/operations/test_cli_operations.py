"""`spoorwerk cases|case|act|ack|open`, end to end: the real command in a process of its own, against the API
served on loopback (a worker and the Temporal dev server behind it), and directly against Temporal.

The API server runs in this test's event loop, so a command must not block it: each runs in a child of a fork server
that imported the command line once (tests/cli_forkserver.py), and one test starts `python -m operations.cli` whole.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from domain.nl_time import local_date
from operations.cli import _parse_fields
from tests.apiserver import eventually
from tests.cli_forkserver import commands
from tests.loopback import free_port
from tests.paths import ROOT

pytestmark = pytest.mark.devserver

REPO = ROOT


@dataclass
class Done:
    rc: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def today() -> date:
    return local_date(datetime.now(timezone.utc))


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The command's environment: Dutch, the default, unless `extra` says SPOORWERK_LANGUAGE=en."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "SPOORWERK_API_URL",
            "SPOORWERK_API_TOKEN",
            "TEMPORAL_ADDRESS",
            "SPOORWERK_TASK_QUEUE",
            "SPOORWERK_LANGUAGE",
        )
    }
    # No token file of a local `make run` may stand in for the token a test gives.
    env["SPOORWERK_DATA_DIR"] = str(tmp_path / "data")
    return env | extra


async def run_process(*args: str, env: dict[str, str]) -> Done:
    """`python -m operations.cli *args` as a process of its own, imports and all."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "operations.cli",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None  # communicate() waited for the exit
    return Done(proc.returncode, out.decode(), err.decode())


async def run(*args: str, env: dict[str, str]) -> Done:
    """`spoorwerk *args` with `env` as its environment, in a process forked for it."""
    return Done(*await commands(REPO).run(list(args), env))


@pytest.fixture
def cli(api_server, tmp_path):
    """Run `spoorwerk ...` against the test API, as operations unless another --token is given (in Dutch)."""
    env = base_env(tmp_path, SPOORWERK_API_URL=api_server.url, SPOORWERK_API_TOKEN=api_server.tokens["operations"])

    async def call(*args: str) -> Done:
        return await run(*args, env=env)

    return call


@pytest.fixture
def cli_en(api_server, tmp_path):
    """The same in English: the refusals' own words are then the API's English ones, whatever it translates."""
    env = base_env(
        tmp_path,
        SPOORWERK_API_URL=api_server.url,
        SPOORWERK_API_TOKEN=api_server.tokens["operations"],
        SPOORWERK_LANGUAGE="en",
    )

    async def call(*args: str) -> Done:
        return await run(*args, env=env)

    return call


def listed(done: Done) -> list[str]:
    assert done.rc == 0, done.err
    return [c["case_id"] for c in done.json()["cases"]]


async def test_open_list_show_act_and_retry_once(cli):
    case_id, employer = new_id("C"), new_id("E")
    first_sick_day = (today() - timedelta(days=3)).isoformat()
    opened = await cli(
        "open", case_id, "--employer", employer, "--first-sick-day", first_sick_day, "--key", f"open-{case_id}"
    )
    assert opened.rc == 0, opened.err
    assert f"zaak {case_id} geopend" in opened.out
    again = await cli(
        "open",
        case_id,
        "--employer",
        employer,
        "--first-sick-day",
        first_sick_day,
        "--key",
        f"open-{case_id}",
        "--json",
    )
    assert again.rc == 0 and again.json() == {"case_id": case_id, "created": False}

    # Listed, as JSON and as a table, by employer and stage.
    found = await eventually(lambda: cli("cases", "--employer", employer, "--json"), lambda d: listed(d) == [case_id])
    (row,) = found.json()["cases"]
    assert row["employer_id"] == employer and row["stage"] == "ziekmelding" and row["first_sick_day"] == first_sick_day
    assert row["overdue"] is False and row["escalation_level"] == 0 and row["next_deadline"]
    table = await cli("cases", "--employer", employer, "--stage", "ziekmelding")
    assert table.rc == 0, table.err
    header, line = table.out.splitlines()[:2]
    assert header.split() == [
        "zaak",
        "werkgever",
        "fase",
        "eerste",
        "ziektedag",
        "volgende",
        "termijn",
        "fase",
        "te",
        "laat",
        "niveau",
    ]
    assert line.split()[:4] == [case_id, employer, "Ziekmelding", first_sick_day] and line.split()[-3:] == [
        "-",
        "nee",
        "0",
    ]
    none = await cli("cases", "--employer", employer, "--stage", "spoor2")
    assert none.rc == 0 and "geen zaken gevonden" in none.out

    # Shown: summary, deadlines, dossier.
    shown = await cli("case", case_id)
    assert shown.rc == 0, shown.err
    assert f"Zaak {case_id} - werkgever {employer} - fase Ziekmelding" in shown.out
    assert "week 1, dag 4" in shown.out and "\nTermijnen\n" in shown.out and "\nDossier\n" in shown.out
    assert any(l.startswith("probleemanalyse ") and "open" in l for l in shown.out.splitlines())
    # The poortwachtertoets's verdict: nothing due yet on a new case, so no open points.
    assert "\nPoortwachtertoets (" in shown.out and "Geen open punten" in shown.out

    # An action with a field, then its retry with the same key: applied once.
    key = f"k-{uuid.uuid4().hex[:12]}"
    acted = await cli(
        "act",
        case_id,
        "ziekmelding_arbodienst_sent",
        "--key",
        key,
        "--field",
        "note=sent by mail",
        "--on",
        today().isoformat(),
    )
    assert acted.rc == 0, acted.err
    assert f"vastgelegd: ziekmelding_arbodienst_sent op zaak {case_id}" in acted.out
    assert "operations/ops-1" in acted.out and f"sleutel: {key}" in acted.out
    assert "Ziekmelding bij de arbodienst / bedrijfsarts" in acted.out
    before = (await cli("case", case_id, "--json")).json()
    entry = next(e for e in before["dossier"] if e["action_id"] == key)
    assert entry["kind"] == "ziekmelding_arbodienst_sent" and entry["details"] == {"note": "sent by mail"}
    assert entry["actor"] == {"role": "operations", "id": "ops-1"}
    assert next(d for d in before["deadlines"] if d["key"] == "ziekmelding_arbodienst")["status"] == "done"

    retried = await cli(
        "act", case_id, "ziekmelding_arbodienst_sent", "--key", key, "--field", "note=sent by mail", "--json"
    )
    assert retried.rc == 0, retried.err
    # The same entry (`applied` may say True: the server answers from its record); the dossier adds how an
    # overdue observation stands, which an action's own entry never is.
    assert retried.json()["entry"] == {k: v for k, v in entry.items() if k != "observation"}
    after = (await cli("case", case_id, "--json")).json()
    assert after["dossier"] == before["dossier"]

    # The dossier reads as sentences, newest first: the ziekmelding of today above the opening three days ago.
    dossier = (await cli("case", case_id)).out.split("\nDossier\n", 1)[1].splitlines()[1:]
    assert "Ziekmelding bij de arbodienst / bedrijfsarts" in dossier[0]
    assert any("Zaak geopend; eerste ziektedag" in line for line in dossier[1:])
    assert not any("_sent" in line or "case_opened" in line for line in dossier)

    # Without --key a fresh key is made and printed first, so the request can be retried with it.
    fresh = await cli("act", case_id, "evaluatie_held", "--json")  # refused, but the key was printed
    assert fresh.rc == 1 and "idempotentiesleutel " in fresh.err and "--key" in fresh.err


async def test_listing_follows_pages_up_to_the_limit(cli):
    employer = new_id("E")
    ids = [new_id("C") for _ in range(3)]
    opened = await asyncio.gather(
        *(cli("open", c, "--employer", employer, "--first-sick-day", today().isoformat()) for c in ids)
    )
    assert all(d.rc == 0 for d in opened), [d.err for d in opened]
    await eventually(lambda: cli("cases", "--employer", employer, "--json"), lambda d: sorted(listed(d)) == sorted(ids))

    first = await cli("cases", "--employer", employer, "--page-size", "1", "--limit", "2", "--json")
    assert len(listed(first)) == 2 and first.json()["next_page_token"]
    rest = await cli("cases", "--employer", employer, "--page-token", first.json()["next_page_token"], "--json")
    assert sorted(listed(first) + listed(rest)) == sorted(ids)
    table = await cli("cases", "--employer", employer, "--page-size", "1", "--limit", "2")
    assert table.rc == 0 and "2 zaken (er kunnen er meer zijn: verhoog --limit)" in table.out


async def test_refusals_exit_1_with_the_reason(cli_en, api_server):
    cli = cli_en
    case_id = new_id("C")
    assert (await cli("open", case_id, "--employer", "E-api", "--first-sick-day", today().isoformat())).rc == 0

    taken = await cli("open", case_id, "--employer", "E-api", "--first-sick-day", today().isoformat())
    assert taken.rc == 1 and f"refused (HTTP 409): case_id: a case {case_id!r} already exists" in taken.err

    early = await cli("act", case_id, "evaluatie_held")
    assert early.rc == 1 and early.out == ""
    assert "spoorwerk: refused (HTTP 409): evaluatie_held: the plan van aanpak must be on record first" in early.err

    werkgever = await cli(
        "act",
        case_id,
        "probleemanalyse_recorded",
        "--field",
        "belastbaarheid_hours_per_day=4",
        "--token",
        api_server.tokens["werkgever"],
    )
    assert werkgever.rc == 1
    assert (
        "spoorwerk: refused (HTTP 403): actor.role: the role werkgever may not record “Probleemanalyse recorded”"
        in werkgever.err
    )

    no_trajectory = await cli("act", case_id, "intake_held", "--spoor2", "--json-body", '{"coach_id": "coach-1"}')
    assert no_trajectory.rc == 1 and "refused (HTTP 404): case_id: case" in no_trajectory.err
    assert "has no spoor 2 trajectory" in no_trajectory.err

    missing = await cli("case", new_id("Nope"))
    assert missing.rc == 1 and "refused (HTTP 404): case_id: no case" in missing.err
    unknown = await cli("cases", "--token", "not-a-token")
    assert unknown.rc == 1 and "refused (HTTP 401)" in unknown.err
    assert "Traceback" not in early.err + werkgever.err + missing.err + unknown.err


async def test_acknowledging_an_escalation(cli, cli_en):
    case_id = new_id("C")
    assert (await cli("open", case_id, "--employer", new_id("E"), "--first-sick-day", today().isoformat())).rc == 0
    calm = await cli_en("ack", case_id, "--reason", "looked at it")
    assert calm.rc == 1 and "refused (HTTP 409): escalation_acknowledged: the case is not escalated" in calm.err

    reported = await cli("act", case_id, "stagnation_reported", "--json")
    assert reported.rc == 0, reported.err
    assert reported.json()["entry"]["kind"] == "stagnation_reported"
    # The case climbs the ladder in its own loop, right after the action.
    await eventually(lambda: cli("case", case_id, "--json"), lambda d: d.json()["summary"]["escalation_level"] >= 2)

    acked = await cli("ack", case_id, "--reason", "seen; calling the employer today")
    assert acked.rc == 0, acked.err
    assert f"vastgelegd: escalation_acknowledged op zaak {case_id}" in acked.out
    shown = await cli("case", case_id)
    assert "Escalatie gezien en in behandeling: seen; calling the employer today" in shown.out
    assert "escalatie:" in shown.out
    # The stagnation without a deskundigenoordeel is an open point of the toets, in the assessor's order.
    assert "! 3. Zijn de re-integratie-inspanningen voldoende? Deskundigenoordeel" in shown.out


async def test_the_embedded_workers_token_file_is_the_default_token(api_server, tmp_path):
    env = base_env(tmp_path, SPOORWERK_API_URL=api_server.url, SPOORWERK_LANGUAGE="en")
    without = await run("cases", "--employer", "E-none", env=env)
    assert without.rc == 1 and "refused (HTTP 401): a valid bearer token is required" in without.err
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "api-token").write_text(api_server.tokens["operations"] + "\n")
    done = await run("cases", "--employer", "E-none", "--json", env=env)
    assert done.rc == 0, done.err
    assert done.json() == {"cases": [], "next_page_token": None}


BAD_INPUT = [
    (["cases", "--deadline-before", "2025-13-01"], "'2025-13-01' is geen datum"),
    (["cases", "--overdue", "--not-overdue"], "not allowed with argument"),  # argparse's own words
    (["cases", "--min-level", "4"], "is geen escalatieniveau"),
    (["case", "no/such"], "is geen geldig id"),
    (["act", "C1", "evaluatie_held", "--json-body", "{nope"], "--json-body: geen JSON"),
    (["act", "C1", "evaluatie_held", "--json-body", "[1, 2]"], "--json-body: moet een JSON-object zijn"),
    (["act", "C1", "evaluatie_held", "--field", "note"], "--field: 'note' is niet naam=waarde"),
    (
        ["act", "C1", "evaluatie_held", "--field", "action_id=x"],
        "action_id: geen veld van de body; het volgt uit --key",
    ),
    (["act", "C1", "no_such_action"], "KIND: 'no_such_action' is geen actie op een zaak"),
    (["act", "C1", "intake_held"], "het is een actie op spoor 2: voeg --spoor2 toe"),
    (["act", "C1", "evaluatie_held", "--key", "no spaces"], "is geen idempotentiesleutel"),
    (["open", "C1", "--employer", "E1", "--first-sick-day", "6-1-2025"], "is geen datum"),
    (["ack", "C1"], "the following arguments are required: --reason"),
]


async def test_bad_input_exits_2(tmp_path):
    # Refused before any request: the API address is one nobody listens on (that would be exit 3).
    env = base_env(tmp_path, SPOORWERK_API_URL=f"http://127.0.0.1:{free_port()}")
    done = await asyncio.gather(*(run(*args, env=env) for args, _ in BAD_INPUT))
    for (args, message), d in zip(BAD_INPUT, done):
        assert (d.rc, d.out) == (2, ""), (args, d)
        assert message in d.err, (args, d.err)


def test_field_values_are_json_when_they_parse():
    ns = argparse.Namespace(
        json_body='{"weeks": 2, "reason": "x"}',
        on=None,
        field=[
            "weeks=5",
            "flag=true",
            'items=[1, "a"]',
            'obj={"a": 1}',
            "text=hello world",
            'quoted="4"',
            "empty=",
            "expr=a=b",
        ],
    )
    fields = _parse_fields(ns)
    assert fields == {
        "weeks": 5,
        "reason": "x",
        "flag": True,
        "items": [1, "a"],
        "obj": {"a": 1},
        "text": "hello world",
        "quoted": "4",
        "empty": "",
        "expr": "a=b",
        "on": today().isoformat(),
    }


async def test_unreachable_api_or_temporal_exits_3(tmp_path):
    # As a process of its own (the others are forked): the module's entry point, and `--direct`'s exit without teardown.
    url = f"http://127.0.0.1:{free_port()}"
    done = await run_process("cases", "--api", url, "--token", "t", env=base_env(tmp_path))
    assert done.rc == 3 and done.out == ""
    assert f"spoorwerk: de Spoorwerk-API op {url} is niet bereikbaar" in done.err and "Traceback" not in done.err

    address = f"127.0.0.1:{free_port()}"
    direct = await run_process("case", "C1", "--direct", env=base_env(tmp_path, TEMPORAL_ADDRESS=address))
    assert direct.rc == 3 and f"spoorwerk: Temporal op {address}" in direct.err and "is niet bereikbaar" in direct.err
    assert "Traceback" not in direct.err


async def test_direct_lists_and_acts_as_operations(cli, api_server, tmp_path):
    case_id, employer = new_id("C"), new_id("E")
    assert (await cli("open", case_id, "--employer", employer, "--first-sick-day", today().isoformat())).rc == 0
    env = base_env(
        tmp_path,
        TEMPORAL_ADDRESS=api_server.env.client.service_client.config.target_host,
        SPOORWERK_TASK_QUEUE=api_server.task_queue,
        SPOORWERK_LANGUAGE="en",
    )

    async def direct(*args: str) -> Done:
        return await run(*args, "--direct", env=env)

    found = await eventually(
        lambda: direct("cases", "--employer", employer, "--json"), lambda d: listed(d) == [case_id]
    )
    assert found.json()["cases"][0]["stage"] == "ziekmelding"
    acted = await direct("act", case_id, "ziekmelding_arbodienst_sent", "--actor-id", "ops-night", "--json")
    assert acted.rc == 0, acted.err
    assert acted.json()["entry"]["actor"] == {"role": "operations", "id": "ops-night"}
    refused = await direct("act", case_id, "evaluatie_held")
    assert (
        refused.rc == 1
        and "spoorwerk: refused: evaluatie_held: the plan van aanpak must be on record first" in refused.err
    )
    # In the command's language: Dutch unless SPOORWERK_LANGUAGE says otherwise, the field named in front.
    dutch = await run("act", case_id, "evaluatie_held", "--direct", env={**env, "SPOORWERK_LANGUAGE": "nl"})
    assert (
        dutch.rc == 1
        and "spoorwerk: geweigerd: evaluatie_held: het plan van aanpak moet eerst vastgelegd zijn" in dutch.err
    )


async def test_documents_are_listed_and_saved_from_the_command_line(cli, api_server, tmp_path, tmp_path_factory):
    """Issue 20, documents in the CLI: list and save a PDF, checked against the dossier's hash; through the API and
    straight from Temporal and the store (recorded in the read audit)."""
    case_id = new_id("C")
    assert (await cli("open", case_id, "--employer", "E-api", "--first-sick-day", today().isoformat())).rc == 0
    assert (await cli("act", case_id, "document_requested", "--field", "document=reintegratieoverzicht")).rc == 0
    listed_docs = await eventually(lambda: cli("documents", case_id, "--json"), lambda d: d.rc == 0 and d.json(), 60)
    [doc] = listed_docs.json()
    table = await cli("documents", case_id)
    assert table.rc == 0 and doc["order_id"] in table.out and "Re-integratieoverzicht" in table.out

    saved = tmp_path / "overzicht.pdf"
    done = await cli("document", case_id, doc["order_id"], "--out", str(saved))
    assert done.rc == 0, done.err
    assert saved.read_bytes().startswith(b"%PDF") and "gelijk aan de hash in het dossier" in done.out
    again = await cli("document", case_id, doc["order_id"], "--out", str(saved))
    assert again.rc == 2 and "bestaat al" in again.err  # nothing overwritten without --force
    missing = await cli("document", case_id, "nothing-here", "--out", str(tmp_path / "x.pdf"))
    assert missing.rc == 1 and "heeft geen document 'nothing-here'" in missing.err

    env = base_env(
        tmp_path,
        TEMPORAL_ADDRESS=api_server.env.client.service_client.config.target_host,
        SPOORWERK_TASK_QUEUE=api_server.task_queue,
        SPOORWERK_DOCUMENTS_DIR=str(tmp_path_factory.getbasetemp() / "documents"),
    )
    direct = await run(
        "document",
        case_id,
        doc["order_id"],
        "--html",
        "--out",
        str(tmp_path / "o.html"),
        "--direct",
        "--actor-id",
        "ops-night",
        env=env,
    )
    assert direct.rc == 0, direct.err
    assert case_id in (tmp_path / "o.html").read_text()
    audit = await run("audit", "--case", case_id, "--json", env=env)
    assert audit.rc == 0, audit.err
    assert {(r["reader_id"], r["what"], r["channel"]) for r in audit.json()["records"]} >= {
        ("ops-night", "documents", "cli"),
        ("ops-night", "document", "cli"),
    }


async def test_the_command_finds_the_api_where_the_service_listens(tmp_path):
    """Issue 20: the CLI read only SPOORWERK_API_URL; the service's own SPOORWERK_API_PORT is where it listens."""
    port = free_port()
    done = await run("cases", env=base_env(tmp_path, SPOORWERK_API_PORT=str(port)))
    assert done.rc == 3 and f"http://127.0.0.1:{port}" in done.err


async def test_a_case_opened_with_its_employee_and_casemanager_is_found_by_name(cli, api_server):
    """Issue 20: the CLI opens a case as the "Nieuwe zaak" form does, with the employee and the casemanager; the
    casemanager's work list has it and the search by surname finds it. Half an employee is refused before any call."""
    case_id, surname = new_id("C"), f"Bakker-{new_id('n')}"
    overdue_from = (today() - timedelta(days=60)).isoformat()  # the probleemanalyse is overdue: on the work list
    half = await cli("open", case_id, "--employer", "E-api", "--first-sick-day", overdue_from, "--given-names", "A.")
    assert half.rc == 2 and "--surname" in half.err
    opened = await cli(
        "open",
        case_id,
        "--employer",
        "E-api",
        "--first-sick-day",
        overdue_from,
        "--surname",
        surname,
        "--given-names",
        "A.",
        "--personnel-number",
        "4711",
        "--casemanager",
        "cm-1",
    )
    assert opened.rc == 0, opened.err
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        await eventually(
            lambda: http.get(
                "/api/cases", params={"person": surname.upper()}, headers=api_server.headers("casemanager")
            ),
            lambda r: r.status_code == 200 and [c["case_id"] for c in r.json()["cases"]] == [case_id],
        )
        work = await http.get("/api/worklist", headers=api_server.headers("casemanager"))
        assert case_id in {i["case_id"] for i in work.json()["items"]}
        colleague = await http.get(
            "/api/cases", params={"person": surname}, headers=api_server.headers("other_casemanager")
        )
        assert colleague.json()["cases"] == []  # not theirs to see
