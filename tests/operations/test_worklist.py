""" "Mijn werk", the overview's filters and people you can find (issue 20, items 3 and 6).

The work list and the search read Temporal visibility (`NextStep`, `NextDeadline`, `Overdue`, `Assigned`,
`PersonKeys`); names are read from the cases the caller may see, and visibility, workflow ids and logs never hold a
name or personnel number.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, timedelta

import httpx
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

from domain.case import CaseOpening
from domain.models import Actor
from domain.people import Employee, normalised
from operations import people
from operations.api import app_search_key
from tests.apiserver import eventually
from tests.operations.test_api import Api, new_id, today
from tests.paths import ROOT
from tests.processes import delete_workflows

SURNAME, NUMBER = "Jänsen-Ünal", "P-40721"


# --------------------------------------------------------------------------- the keyed hash


def test_the_same_person_hashes_alike_however_typed_and_differently_per_installation():
    key, other = b"k" * 32, b"o" * 32
    typed = [person.lower() for person in ("  jänsen-ünal ", "JÄNSEN-ÜNAL")]
    assert {people.person_key("surname", t, key) for t in typed} == {people.person_key("surname", SURNAME, key)}
    # "ä" typed as a + combining diaeresis is the same letter; without the diaeresis it is another name.
    assert normalised("Ja\u0308nsen") == normalised("Jänsen") != normalised("Jansen")
    assert people.person_key("surname", SURNAME, key) != people.person_key("surname", SURNAME, other)
    # A surname never matches a personnel number written the same.
    assert people.person_key("surname", "4072", key) != people.person_key("personnel_number", "4072", key)
    keys = people.person_keys(Employee(surname=SURNAME, personnel_number=NUMBER), key)
    assert set(people.search_keys(NUMBER, key)) & set(keys) and set(people.search_keys(SURNAME, key)) & set(keys)


@pytest.mark.parametrize(
    "bad",
    [
        {"surname": ""},
        {"surname": "   "},
        {"surname": "Jansen\x00"},
        {"surname": "x" * 101},
        {"surname": "Jansen", "personnel_number": "12 34"},
    ],
)
def test_employee_details_are_validated(bad):
    with pytest.raises(ValueError):
        Employee.model_validate(bad)


def test_the_embedded_default_makes_its_search_key_once_and_keeps_it_private(tmp_path, monkeypatch):
    from service.settings import Settings

    monkeypatch.delenv("SPOORWERK_SEARCH_KEY", raising=False)
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    first = people.search_key(settings)
    assert len(first) >= 32 and people.search_key(settings) == first
    assert (settings.search_key_file.stat().st_mode & 0o777) == 0o600
    # Against a cluster every API replica must share one: none makes its own.
    cluster = Settings(
        data_dir=tmp_path / "other",
        temporal_address="temporal:7233",
        encryption_keys=settings.encryption_keys,
        medical_keys=settings.medical_keys,
    )
    with pytest.raises(people.SearchKeyError, match="SPOORWERK_SEARCH_KEY is required"):
        people.search_key(cluster)
    assert not (tmp_path / "other" / "search-key").exists()


# --------------------------------------------------------------------------- the workflow's attributes


async def test_next_step_and_person_keys_are_search_attributes_without_plaintext(driver, caplog):
    key = b"s" * 32
    employee = Employee(surname=SURNAME, given_names="P.", personnel_number=NUMBER)
    first = await driver.today()
    with caplog.at_level(logging.DEBUG):
        await driver.open(
            first, employee=employee, person_keys=people.person_keys(employee, key), assigned={"casemanager": ["cm-1"]}
        )
        attrs = await _eventually_attrs(driver, lambda a: a.get("NextStep") == "ziekmelding_arbodienst")
        assert sorted(attrs["PersonKeys"]) == sorted(people.person_keys(employee, key))
        await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
        attrs = await _eventually_attrs(driver, lambda a: a.get("NextStep") == "probleemanalyse")
        # The next deadline is the next step's due day.
        due = (await driver.deadlines())["probleemanalyse"].due
        assert attrs["NextDeadline"].startswith(str(due - timedelta(days=1))) or attrs["NextDeadline"].startswith(
            str(due)
        )
        # The case keeps the details (encrypted in transit and at rest, by the codec) and shows them to a reader.
        assert (await driver.summary()).employee == employee
    raw = json.dumps(attrs) + driver.handle.id + caplog.text
    for plain in (SURNAME, normalised(SURNAME), NUMBER, normalised(NUMBER)):
        assert plain not in raw
    await driver.save_history("worklist_attributes")


async def _eventually_attrs(driver, check):
    """The search attributes once `check` holds: the case upserts them after the action's update returns."""
    attrs: dict = {}
    for _ in range(100):
        attrs = await driver.search_attributes()
        if check(attrs):
            return attrs
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached: {attrs}")


# --------------------------------------------------------------------------- the work list, through the API


@pytest.fixture
async def api(api_server):
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        yield Api(api_server, http)


async def _worklist(api: Api, who: str, **params) -> dict[str, dict]:
    r = await api.get("/api/worklist", who=who, **params)
    assert r.status_code == 200, r.text
    return {i["case_id"]: i for i in r.json()["items"]}


@pytest.mark.devserver
async def test_the_work_list_shows_each_person_the_work_of_their_own_cases(api):
    mine, colleagues, late = new_id(), new_id(), new_id()
    assert (
        await api.open(mine, who="casemanager", employee={"surname": "Jansen", "given_names": "Piet"})
    ).status_code == 201
    r = await api.open(colleagues, who="other_casemanager", employee={"surname": "de Vries"})
    assert r.status_code == 201, r.text
    # Opened in week 9 with nothing done: the ziekmelding and the probleemanalyse are overdue at once.
    r = await api.open(
        late,
        "E-other",
        who="other_casemanager",
        first_sick_day=(today() - timedelta(days=60)).isoformat(),
        employee={"surname": "Bakker", "personnel_number": "7781"},
    )
    assert r.status_code == 201, r.text

    found = await eventually(lambda: _worklist(api, "casemanager"), lambda f: mine in f)
    item = found[mine]
    assert item["step"] == "ziekmelding_arbodienst" and item["reasons"] == ["due"] and not item["overdue"]
    assert today() <= date.fromisoformat(item["due"]) <= today() + timedelta(days=14)
    assert item["employee"] == "Jansen, Piet"
    assert colleagues not in found and late not in found

    theirs = await eventually(lambda: _worklist(api, "other_casemanager"), lambda f: {colleagues, late} <= set(f))
    assert mine not in theirs
    assert theirs[late]["overdue"] and "overdue" in theirs[late]["reasons"]
    assert {"ziekmelding_arbodienst", "probleemanalyse"} <= set(theirs[late]["overdue_steps"])
    assert theirs[late]["employee"] == "Bakker" and theirs[colleagues]["employee"] == "de Vries"
    # Sorted by due day, the overdue case comes first; by case id, in id order.
    by_due = (await api.get("/api/worklist", who="other_casemanager", sort="due")).json()["items"]
    assert [i["case_id"] for i in by_due].index(late) < [i["case_id"] for i in by_due].index(colleagues)
    by_case = [
        i["case_id"] for i in (await api.get("/api/worklist", who="other_casemanager", sort="case")).json()["items"]
    ]
    assert by_case == sorted(by_case)

    employer = await eventually(lambda: _worklist(api, "werkgever"), lambda f: {mine, colleagues} <= set(f))
    assert late not in employer
    assert late in await _worklist(api, "other_werkgever") and mine not in await _worklist(api, "other_werkgever")
    assert (await api.get("/api/worklist", who="casemanager", sort="nonsense")).status_code == 422


# --------------------------------------------------------------------------- finding people


@pytest.mark.devserver
async def test_a_case_is_found_by_surname_or_personnel_number_and_never_by_another_installations_key(api, api_server):
    from operations import cases

    case_id, foreign = new_id(), new_id()
    surname = f"Jänsen{new_id('x')}"  # unique in this session's visibility store
    r = await api.open(
        case_id,
        who="casemanager",
        employee={"surname": surname, "given_names": "P.", "personnel_number": "NR-" + case_id[1:7]},
    )
    assert r.status_code == 201, r.text
    # A case whose keys another installation made (another SPOORWERK_SEARCH_KEY) is not found here.
    other_key = b"another installation's key, 32+ chars"
    employee = Employee(surname=surname)
    await cases.open_case(
        api_server.env.client,
        CaseOpening(
            case_id=foreign,
            employer_id="E-api",
            first_sick_day=today(),
            opened_by=Actor(role="operations", id="ops-1"),
            employee=employee,
            person_keys=people.person_keys(employee, other_key),
        ),
        task_queue=api_server.task_queue,
    )

    for typed in (surname.upper(), f"  {surname.lower()} ", "NR-" + case_id[1:7].lower()):
        found = await eventually(lambda t=typed: api.listed("casemanager", person=t), lambda f: case_id in f)
        assert foreign not in found
    assert case_id not in await api.listed("casemanager", person="Jansen")  # exact, not a prefix or a near miss
    # Out of scope, the name finds nothing: the scope filters first.
    assert case_id not in await api.listed("other_casemanager", person=surname)

    # Visibility holds keyed hashes only: no name, no number, under any attribute.
    client = api_server.env.client
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=f"case-{case_id}")
        )
    )
    fields = {n: p.data.decode() for n, p in raw.workflow_execution_info.search_attributes.indexed_fields.items()}
    listed = [wf async for wf in client.list_workflows(f"WorkflowId = 'case-{case_id}'")]
    shown = json.dumps(fields) + json.dumps([str(wf.search_attributes) for wf in listed])
    assert surname not in shown and surname.lower() not in shown and case_id[1:7] not in shown.replace(case_id, "")
    assert set(json.loads(fields["PersonKeys"])) == set(
        people.person_keys(
            Employee(surname=surname, personnel_number="NR-" + case_id[1:7]), app_search_key(api_server.app)
        )
    )

    # The dashboard: the search box finds it, the list and the case page name the employee for who may see it.
    async with (
        httpx.AsyncClient(base_url=api_server.url, timeout=30) as mine,
        httpx.AsyncClient(base_url=api_server.url, timeout=30) as theirs,
    ):
        await mine.post("/login", data={"token": api_server.tokens["casemanager"], "next": "/"})
        await theirs.post("/login", data={"token": api_server.tokens["other_casemanager"], "next": "/"})
        page = await mine.get("/", params={"q": surname.lower()})
        assert page.status_code == 200 and f'href="/cases/{case_id}"' in page.text and f"{surname}, P." in page.text
        assert f'href="/cases/{foreign}"' not in page.text
        case_page = await mine.get(f"/cases/{case_id}")
        assert f"{surname}, P." in case_page.text and "NR-" + case_id[1:7] in case_page.text
        # Another casemanager: not found, not shown (404 as for any case not theirs).
        assert f'href="/cases/{case_id}"' not in (await theirs.get("/", params={"q": surname})).text
        hidden = await theirs.get(f"/cases/{case_id}")
        assert hidden.status_code == 404 and surname not in hidden.text
        assert surname not in (await api.get(f"/api/cases/{case_id}", who="other_casemanager")).text


@pytest.mark.devserver
async def test_a_caller_cannot_send_its_own_person_keys(api):
    r = await api.open(new_id(), who="casemanager", employee={"surname": "Jansen"}, person_keys=["a" * 64])
    assert r.status_code == 422


# --------------------------------------------------------------------------- the overview and the work list page


@pytest.mark.devserver
async def test_the_overview_filters_by_due_day_and_casemanager_sorts_and_names_the_step(api, api_server):
    soon, later = new_id(), new_id()
    assert (await api.open(soon, who="casemanager")).status_code == 201
    # The ziekmelding done: its next step is the probleemanalyse, six weeks on.
    r = await api.open(
        later, who="casemanager", prior_steps=[{"key": "ziekmelding_arbodienst", "done_on": today().isoformat()}]
    )
    assert r.status_code == 201, r.text
    await eventually(lambda: api.listed("operations", casemanager_id="cm-1"), lambda f: {soon, later} <= set(f))
    assert soon not in await api.listed("operations", casemanager_id="cm-2")
    week = (today() + timedelta(days=8)).isoformat()
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as page:
        await page.post("/login", data={"token": api_server.tokens["operations"], "next": "/"})
        due = await page.get("/", params={"due_before": week, "casemanager": "cm-1"})
        assert due.status_code == 200, due.text
        assert f'href="/cases/{soon}"' in due.text and f'href="/cases/{later}"' not in due.text
        everything = await page.get("/", params={"casemanager": "cm-1", "sort": "next_deadline"})
        text = everything.text
        assert text.index(f'href="/cases/{soon}"') < text.index(f'href="/cases/{later}"')
        # The "next deadline" column says which step (the glossary's short name, in Dutch).
        row = text[text.index(f'data-case="{later}"') :]
        assert "Probleemanalyse" in row[: row.index("</tr>")]
        assert "alert" in (await page.get("/", params={"casemanager": "not an id"})).text
        assert "alert" in (await page.get("/", params={"due_before": "soon"})).text

        # Mijn werk on the dashboard: linked in the header, listing the casemanager's step due this week.
        await page.post("/logout")
        await page.post("/login", data={"token": api_server.tokens["casemanager"], "next": "/"})
        werk = await page.get("/werk")
        assert werk.status_code == 200 and 'href="/werk"' in werk.text
        assert f'href="/cases/{soon}"' in werk.text and "Mijn werk" in werk.text
        assert f'href="/cases/{soon}"' in (await page.get("/werk", params={"sort": "step"})).text


@pytest.mark.devserver
async def test_corrected_details_are_found_under_the_new_name_only_and_stay_out_of_the_dossier(api):
    case_id = new_id()
    before, after = f"Bakker{new_id('x')}", f"Smit{new_id('x')}"
    assert (await api.open(case_id, who="casemanager", employee={"surname": before})).status_code == 201
    await eventually(lambda: api.listed("casemanager", person=before), lambda f: case_id in f)

    assert (await api.act(case_id, "employee_details_corrected", who="werkgever", surname=after)).status_code == 403
    assert (
        await api.act(case_id, "employee_details_corrected", who="casemanager", surname=after, person_keys=["a" * 64])
    ).status_code == 422  # the keys are the edge's to make
    refused = await api.act(
        case_id, "employee_details_corrected", who="casemanager", surname=after, personnel_number="12 34"
    )
    assert refused.status_code == 409 and refused.json()["detail"].startswith("personnel_number:"), refused.text
    r = await api.act(
        case_id,
        "employee_details_corrected",
        who="casemanager",
        surname=after,
        given_names="J.",
        personnel_number="A-1",
    )
    assert r.status_code == 200, r.text
    assert after not in r.text and r.json()["entry"]["details"] == {}

    await eventually(lambda: api.listed("casemanager", person=after), lambda f: case_id in f)
    await eventually(lambda: api.listed("casemanager", person=before), lambda f: case_id not in f)
    assert case_id in await api.listed("casemanager", person="a-1")
    summary = (await api.get(f"/api/cases/{case_id}", who="casemanager")).json()
    assert summary["employee"] == {"surname": after, "given_names": "J.", "personnel_number": "A-1"}
    assert after not in (await api.get(f"/api/cases/{case_id}/dossier", who="casemanager")).text


@pytest.mark.devserver
async def test_spoorwerk_werk_prints_the_callers_work_list(api, api_server, tmp_path):
    from tests.operations.test_cli_operations import base_env, run

    case_id = new_id()
    assert (await api.open(case_id, who="casemanager", employee={"surname": "Visser"})).status_code == 201
    env = base_env(tmp_path, SPOORWERK_API_URL=api_server.url, SPOORWERK_API_TOKEN=api_server.tokens["casemanager"])
    done = await eventually(
        lambda: run("werk", "--json", env=env),
        lambda d: d.rc == 0 and case_id in [i["case_id"] for i in d.json()["items"]],
    )
    [item] = [i for i in done.json()["items"] if i["case_id"] == case_id]
    assert item["step"] == "ziekmelding_arbodienst" and item["employee"] == "Visser"
    table = await run("werk", "--sort", "case", env=env)
    assert table.rc == 0 and case_id in table.out and "Visser" in table.out and "Stappen met een termijn" in table.out
    # Another casemanager's list does not hold it.
    theirs = await run("werk", "--json", env={**env, "SPOORWERK_API_TOKEN": api_server.tokens["other_casemanager"]})
    assert theirs.rc == 0 and case_id not in theirs.out
    # Directly against Temporal, as operations: every case with work, without names (no scope check is asked).
    direct_env = base_env(
        tmp_path,
        TEMPORAL_ADDRESS=api_server.env.client.service_client.config.target_host,
        SPOORWERK_TASK_QUEUE=api_server.task_queue,
    )
    direct = await run("werk", "--direct", "--json", env=direct_env)
    assert direct.rc == 0, direct.err
    assert case_id in [i["case_id"] for i in direct.json()["items"]] and "Visser" not in direct.out


def test_an_api_against_a_cluster_without_a_search_key_stops_with_the_setting_named(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SPOORWERK_SEARCH_KEY"))}
    env.update(
        SPOORWERK_DATA_DIR=str(tmp_path),
        TEMPORAL_ADDRESS="127.0.0.1:1",
        SPOORWERK_DATABASE_URL=f"sqlite:///{tmp_path / 'spoorwerk.db'}",
        SPOORWERK_API_TOKENS=json.dumps({"t" * 40: {"role": "operations", "id": "ops-1"}}),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "SPOORWERK_SEARCH_KEY is required when the API runs against TEMPORAL_ADDRESS" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "search-key").exists()


@pytest.mark.devserver
async def test_an_escalation_puts_a_case_without_a_step_due_on_the_work_list(api):
    quiet = new_id()
    # The ziekmelding done today: the next step, the probleemanalyse, is six weeks off; nothing is due or overdue.
    r = await api.open(
        quiet, who="casemanager", prior_steps=[{"key": "ziekmelding_arbodienst", "done_on": today().isoformat()}]
    )
    assert r.status_code == 201, r.text
    await eventually(lambda: api.listed("casemanager", casemanager_id="cm-1"), lambda f: quiet in f)
    assert quiet not in await _worklist(api, "casemanager")

    assert (await api.act(quiet, "stagnation_reported", who="casemanager")).status_code == 200
    found = await eventually(lambda: _worklist(api, "casemanager"), lambda f: quiet in f)
    assert found[quiet]["reasons"] == ["escalated"] and found[quiet]["escalation_level"] == 2
    assert found[quiet]["step"] == "probleemanalyse" and not found[quiet]["overdue"]


async def test_the_overview_shows_at_once_when_the_cases_worker_is_down(api, api_server):
    """The overview reads each listed case for its employee's name; cases whose worker does not answer (down, or busy)
    are listed at once without a name rather than holding the page until each query times out in turn, and a case
    that answers is not kept waiting behind them."""
    from operations import cases

    employer, run = new_id("E"), new_id("r")[1:]
    stranded = [f"C-dead-{run}-{n}" for n in range(12)]  # more than the queries sent at once, several rounds
    for case_id in stranded:
        await cases.open_case(
            api_server.env.client,
            CaseOpening(
                case_id=case_id,
                employer_id=employer,
                first_sick_day=today(),
                opened_by=Actor(role="operations", id="ops-1"),
                employee=Employee(surname="Stranded"),
            ),
            task_queue=f"nobody-polls-{run}",  # no worker will ever take these cases
        )
    # One case of the same employer whose worker runs: its name shows, whatever the stranded ones do.
    alive = new_id("C")
    assert (await api.open(alive, employer, employee={"surname": "Levend"})).status_code == 201
    try:
        await eventually(lambda: api.listed("operations", employer_id=employer), lambda f: len(f) == 13)
        # Before, each case cost a query timeout (10 s) in rounds of eight: this page took 20 s. It has 3 s in all now.
        async with httpx.AsyncClient(base_url=api_server.url, timeout=8) as http:
            await http.post("/login", data={"token": api_server.tokens["operations"], "next": "/"})
            page = await http.get(f"/?employer_id={employer}")
        assert page.status_code == 200
        assert sum(case_id in page.text for case_id in stranded) == 12
        assert "Stranded" not in page.text  # no answer, so no name: nothing is made up
        assert "Levend" in page.text  # not queued behind the cases that do not answer
    finally:  # deleted (a running one is terminated first): no later test of the session meets a case nobody runs
        await delete_workflows(api_server.env.client, [f"case-{case_id}" for case_id in stranded])
