"""Bulk takeover of running cases (issue 21): an export checked row by row, opened once by a durable import, and a
re-run that opens nothing. Against the real dev server, through the API, the command and the workflow itself."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

import httpx
import openpyxl
import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest, DescribeWorkflowExecutionRequest

from documents.store import store_from_settings
from domain.models import Actor, Role
from domain.nl_time import local_date
from operations import imports
from operations.import_mapping import load_mapping, parse_mapping
from service import i18n
from service.codec import ENCODING
from service.settings import Settings
from tests.apiserver import CALLERS, eventually
from tests.conftest import thorough
from tests.paths import ROOT
from worker import build_worker
from workflows.import_payloads import ImportProgress

pytestmark = pytest.mark.devserver

KEY = b"test-search-key"
OPS = Actor(role=Role.OPERATIONS, id="ops-1")
HEADER = [
    "dossiernummer",
    "werkgever",
    "eerste_ziektedag",
    "fase",
    "achternaam",
    "voornamen",
    "personeelsnummer",
    "ziekmelding_arbodienst",
    "probleemanalyse",
    "plan_van_aanpak",
    "evaluaties",
    "onderbrekingen",
    "email_casemanager",
    "casemanager",
]


def today() -> date:
    return local_date(datetime.now(timezone.utc))


def generated(n: int, employer: str, *, errors_every: int = 40) -> tuple[list[list[str]], set[tuple[int, str]]]:
    """`n` rows of running cases of one employer; every `errors_every`th row (none with 0) has one deliberate mistake of one of seven
    kinds. Returns the rows and the (row number, column) of each mistake (row 1 is the header)."""
    rows: list[list[str]] = []
    wrong: set[tuple[int, str]] = set()
    for i in range(n):
        number = i + 2
        first = today() - timedelta(days=20 + (i * 7) % 500)
        pa = first + timedelta(days=40) if (today() - first).days > 45 else None
        row = {
            "dossiernummer": f"V-{i:05d}",
            "werkgever": employer,
            "eerste_ziektedag": first.isoformat(),
            "fase": "",
            "achternaam": f"Jansen-{i}",
            "voornamen": "P.",
            "personeelsnummer": f"P{i:05d}",
            "ziekmelding_arbodienst": (first + timedelta(days=1)).isoformat(),
            "probleemanalyse": pa.isoformat() if pa else "",
            "plan_van_aanpak": "niet gedaan" if pa and i % 3 == 0 else "",
            "evaluaties": "",
            "onderbrekingen": "",
            "email_casemanager": "cm@example.org",
            "casemanager": "cm-7",
        }
        if errors_every and i % errors_every == 7:
            kind = (i // errors_every) % 7
            column, value = [
                ("eerste_ziektedag", "31-02-2026"),  # no such day
                ("eerste_ziektedag", (today() + timedelta(days=3)).isoformat()),  # the case refuses a future day
                ("fase", "spoor 9"),
                ("personeelsnummer", "P 12 34"),
                ("email_casemanager", "not-an-address"),
                ("probleemanalyse", (first - timedelta(days=5)).isoformat()),  # before the first sick day
                ("dossiernummer", "V-00000"),  # the case of row 2 again
            ][kind]
            row[column] = value
            wrong.add((number, column))
        rows.append([row[h] for h in HEADER])
    return rows, wrong


def as_csv(rows: list[list[str]], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def as_xlsx(rows: list[list[str]]) -> bytes:
    """The same rows as Excel writes them: days as date cells, numbers as numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        cells: list[object] = []
        for value in row:
            try:
                cells.append(datetime.combine(date.fromisoformat(value), datetime.min.time()))
            except ValueError:
                cells.append(value or None)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def employer() -> str:
    return f"E-imp{uuid.uuid4().hex[:8]}"


async def running_cases(client, employer_id: str) -> int:
    return (await client.count_workflows(f"WorkflowType = 'SickLeaveCase' AND EmployerId = '{employer_id}'")).count


# --------------------------------------------------------------------------- checking rows, no server


def test_every_mistake_is_reported_by_row_and_column_in_dutch():
    rows, wrong = generated(300, "E-acme")
    i18n.set_language("nl")
    checked = imports.check_file(
        as_csv(rows), load_mapping("generic"), filename="export.csv", fmt=None, key=KEY, opened_by=OPS
    )
    found = imports.report(checked, None, dry_run=True)
    assert {(p.row, p.column) for p in found.problems} == wrong
    assert found.valid == 300 - len(wrong) and found.refused_rows == len(wrong)
    said = {p.column: p.message for p in found.problems}
    assert said["eerste_ziektedag"]  # both the unreadable day and the future one name the column
    assert "is geen datum" in next(p.message for p in found.problems if p.column == "eerste_ziektedag")
    assert "rij 2" in said["dossiernummer"]  # the duplicate names the row it repeats
    # The ids say nothing of the person and are the same on a second read.
    again = imports.check_file(
        as_csv(rows), load_mapping("generic"), filename="export.csv", fmt=None, key=KEY, opened_by=OPS
    )
    assert [r.opening.case_id for r in again.valid] == [r.opening.case_id for r in checked.valid]
    assert all("Jansen" not in r.opening.case_id and "V-" not in r.opening.case_id for r in checked.valid)


def test_xlsx_and_csv_of_the_same_export_open_the_same_cases():
    rows, _wrong = generated(60, "E-acme")
    mapping = load_mapping("generic")
    from_csv = imports.check_file(as_csv(rows), mapping, filename="x.csv", fmt=None, key=KEY, opened_by=OPS)
    from_xlsx = imports.check_file(as_xlsx(rows), mapping, filename="x.xlsx", fmt=None, key=KEY, opened_by=OPS)
    assert [(r.row, r.opening) for r in from_xlsx.valid] == [(r.row, r.opening) for r in from_csv.valid]
    assert [(p.row, p.column) for p in from_xlsx.problems] == [(p.row, p.column) for p in from_csv.problems]


AFAS_LIKE = """
name = "afas-like"
date_formats = ["%d-%m-%Y"]
list_separator = "|"
[columns]
case_key = "Verzuimmelding"
employer_id = "Werkgever"
first_sick_day = "Eerste verzuimdag"
stage = "Status"
surname = "Achternaam medewerker"
personnel_number = "Medewerkernr."
evaluations_held = "Evaluatiedata"
[steps]
probleemanalyse = "Datum probleemanalyse"
plan_van_aanpak = "Datum plan van aanpak"
[values.stage]
"Spoor 1 (eigen werk)" = "spoor1"
[values.employer_id]
"Acme B.V." = "E-acme"
"""


def test_a_mapping_reads_a_differently_named_export_as_it_comes():
    first = today() - timedelta(days=120)
    header = [
        "Verzuimmelding",
        "Werkgever",
        "Eerste verzuimdag",
        "Status",
        "Achternaam medewerker",
        "Medewerkernr.",
        "Datum probleemanalyse",
        "Datum plan van aanpak",
        "Evaluatiedata",
    ]
    d = lambda day: day.strftime("%d-%m-%Y")  # noqa: E731
    rows = [
        [
            "2024/0815",
            "Acme B.V.",
            d(first),
            "Spoor 1 (eigen werk)",
            "de Vries",
            "4711",
            d(first + timedelta(days=40)),
            d(first + timedelta(days=50)),
            f"{d(first + timedelta(days=90))}|{d(first + timedelta(days=110))}",
        ],
        ["2024/0816", "Acme B.V.", "2024-13-01", "", "Bakker", "4712", "", "", ""],
    ]
    mapping = parse_mapping(AFAS_LIKE, "afas-like.toml")
    i18n.set_language("nl")
    checked = imports.check_file(
        as_csv(rows, header, delimiter=";"), mapping, filename="afas.csv", fmt=None, key=KEY, opened_by=OPS
    )
    [row] = checked.valid
    assert row.row == 2
    opening = row.opening
    assert opening.stage is not None and opening.employee is not None
    assert (opening.employer_id, opening.first_sick_day, opening.stage.value) == ("E-acme", first, "spoor1")
    assert [(s.key, s.done_on) for s in opening.prior_steps] == [
        ("probleemanalyse", first + timedelta(days=40)),
        ("plan_van_aanpak", first + timedelta(days=50)),
    ]
    assert opening.evaluations_held == [first + timedelta(days=90), first + timedelta(days=110)]
    assert opening.employee.surname == "de Vries" and len(opening.person_keys) == 2
    [problem] = imports.report(checked, None, dry_run=False).problems
    assert (problem.row, problem.column) == (3, "Eerste verzuimdag")
    assert "'31-03-2026'" in problem.message  # says how this file writes a day


def test_a_file_without_a_column_the_mapping_needs_names_it():
    i18n.set_language("nl")
    checked = imports.check_file(
        b"nummer,werkgever\nX,E-acme\n", load_mapping("generic"), filename="x.csv", fmt=None, key=KEY, opened_by=OPS
    )
    [problem] = imports.report(checked, None, dry_run=False).problems
    assert problem.row == 1 and "dossiernummer" in problem.column and "eerste_ziektedag" in problem.message


# --------------------------------------------------------------------------- through the API, on the dev server


@pytest.fixture
async def api(api_server):
    async with httpx.AsyncClient(base_url=api_server.url, timeout=120) as http:
        yield api_server, http


async def upload(api, data: bytes, *, who: str = "operations", **params) -> httpx.Response:
    server, http = api
    return await http.post(
        "/api/imports",
        content=data,
        params={k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()},
        headers={"Authorization": f"Bearer {server.tokens[who]}", "Accept-Language": "nl"},
    )


async def finished(api, import_id: str, who: str = "operations") -> dict:
    server, http = api
    for _ in range(2000):  # ten minutes: a loaded CI machine opens 2,000 cases in a few
        r = await http.get(f"/api/imports/{import_id}", headers=server.headers(who))
        assert r.status_code == 200, r.text
        if not r.json()["running"]:
            return r.json()
        await asyncio.sleep(0.3)
    raise AssertionError("the import did not finish in time")


# 2,000 rows with `thorough` (the size); CI's 600 hold every kind of mistake and several chunks at once.
ROWS = 2000 if thorough() else 600


async def test_an_export_opens_its_valid_rows_once_and_a_second_run_opens_nothing(api, dev_env):
    server, _http = api
    boss = employer()
    rows, wrong = generated(ROWS, boss)
    data = as_csv(rows)

    dry = await upload(api, data, filename="export.csv", dry_run=True)
    assert dry.status_code == 200, dry.text
    assert {(p["row"], p["column"]) for p in dry.json()["problems"]} == wrong
    assert len(dry.json()["would_open"]) == ROWS - len(wrong) and dry.json()["import_id"] is None
    assert await running_cases(dev_env.client, boss) == 0  # the dry run opened nothing

    first = await upload(api, data, filename="export.csv")
    assert first.status_code == 202, first.text
    report = first.json()
    assert {(p["row"], p["column"]) for p in report["problems"]} == wrong
    done = await finished(api, report["import_id"])
    valid = ROWS - len(wrong)
    assert (done["opened"], done["existed"], done["failed"], done["refused_rows"]) == (valid, 0, 0, len(wrong))
    assert {(p["row"], p["column"]) for p in done["problems"]} == wrong
    await eventually(lambda: running_cases(dev_env.client, boss), lambda n: n == valid, seconds=60)

    second = await upload(api, data, filename="export.csv")
    assert second.status_code == 202
    again = await finished(api, second.json()["import_id"])
    assert (again["opened"], again["existed"]) == (0, valid)
    await asyncio.sleep(1)
    assert await running_cases(dev_env.client, boss) == valid

    # Both imports are listed, with their progress.
    listed = (await _http.get("/api/imports", headers=server.headers())).json()
    assert {report["import_id"], second.json()["import_id"]} <= {i["import_id"] for i in listed}


async def test_an_xlsx_export_and_an_own_mapping_through_the_api(api, dev_env):
    boss = employer()
    rows, wrong = generated(30, boss)
    r = await upload(api, as_xlsx(rows), filename="export.xlsx")
    assert r.status_code == 202, r.text
    done = await finished(api, r.json()["import_id"])
    assert done["opened"] == 30 - len(wrong) and {(p["row"], p["column"]) for p in done["problems"]} == wrong

    server, http = api
    other = employer()
    own = AFAS_LIKE.replace('"Acme B.V." = "E-acme"', f'"Acme B.V." = "{other}"')
    body = "Verzuimmelding;Werkgever;Eerste verzuimdag\n2024/1;Acme B.V.;{}\n".format(
        (today() - timedelta(days=10)).strftime("%d-%m-%Y")
    )
    r = await http.post(
        "/api/imports",
        content=body.encode(),
        params={"filename": "afas.csv"},
        headers={**server.headers(), "Import-Mapping": base64.b64encode(own.encode()).decode()},
    )
    assert r.status_code == 202, r.text
    assert (await finished(api, r.json()["import_id"]))["opened"] == 1
    await eventually(lambda: running_cases(dev_env.client, other), lambda n: n == 1)


@pytest.mark.parametrize("who", ["werkgever", "bedrijfsarts", "arbeidsdeskundige", "reintegratiecoach"])
async def test_only_operations_and_casemanagers_import(api, dev_env, who):
    boss = CALLERS[who].employer_id or employer()
    rows, _wrong = generated(3, boss)
    # Other tests on this server open cases for the callers' own employer too: count what this upload adds.
    before = await running_cases(dev_env.client, boss)
    r = await upload(api, as_csv(rows), who=who, filename="x.csv")
    assert r.status_code == 403 and "mag geen zaken importeren" in r.json()["detail"], r.text
    server, http = api
    assert (await http.get("/api/imports", headers=server.headers(who))).status_code == 403
    await asyncio.sleep(0.5)
    assert await running_cases(dev_env.client, boss) == before


async def test_a_casemanager_imports_for_its_own_employers_only_and_holds_the_cases(api, dev_env):
    server, http = api
    rows, _wrong = generated(3, "E-api", errors_every=0)
    rows += generated(1, "E-other", errors_every=0)[0]
    r = await upload(api, as_csv(rows), who="regional_casemanager", filename="x.csv", dry_run=True)
    assert r.status_code == 200
    assert [(p["row"], p["column"]) for p in r.json()["problems"]] == [
        (2, "werkgever"),
        (3, "werkgever"),
        (4, "werkgever"),
    ]
    # Another's import is not theirs to follow.
    r = await upload(api, as_csv(rows[:1]), who="casemanager", filename="x.csv")
    assert r.status_code == 202
    import_id = r.json()["import_id"]
    await finished(api, import_id, who="casemanager")
    assert (await http.get(f"/api/imports/{import_id}", headers=server.headers("other_casemanager"))).status_code == 404


# --------------------------------------------------------------------------- the workflow across a worker's stop


async def test_a_worker_stopped_mid_import_loses_and_doubles_nothing(dev_env, tmp_path):
    client = dev_env.client
    settings = Settings(data_dir=tmp_path / "data", documents_dir=tmp_path / "documents")
    queue = f"tq-import-{uuid.uuid4().hex[:8]}"
    boss = employer()
    rows, wrong = generated(500, boss, errors_every=0)
    assert not wrong
    checked = imports.check_file(
        as_csv(rows), load_mapping("generic"), filename="x.csv", fmt=None, key=KEY, opened_by=OPS
    )
    import_id = await imports.start_import(
        client, store_from_settings(settings), checked, started_by=OPS, task_queue=queue, parallel_starts=2
    )
    assert import_id is not None
    abrupt = settings.model_copy(update={"graceful_shutdown_seconds": 0})  # chunks in flight are cut off
    async with build_worker(client, abrupt, task_queue=queue):
        # Stop the worker once a few dozen cases are open: the chunks in flight (four at a time, a hundred rows each)
        # are half done. (Waiting for a whole chunk raced: the four in flight end within a second of each other.)
        for _ in range(1200):
            if await running_cases(client, boss) >= 40:
                break
            await asyncio.sleep(0.05)
    found = await imports.read_status(client, import_id)
    assert found.chunks_done < found.chunks, "the import ended before the worker stopped"
    async with build_worker(client, settings, task_queue=queue):
        handle = client.get_workflow_handle(import_id, result_type=ImportProgress)
        result = await handle.result()
    # Every case once, each counted as opened by this import (not as found before) though its chunk ran twice.
    assert (result.opened, result.existed, result.failed) == (500, 0, [])
    retried = [
        e.activity_task_started_event_attributes.attempt
        async for e in handle.fetch_history_events()
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert max(retried) > 1, "no chunk was cut off by the stop"
    # The rows at rest and the counts in the memo are sealed like every payload: no name, no case number in clear.
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=WorkflowExecution(workflow_id=import_id))
    )
    assert described.workflow_execution_info.memo.fields["progress"].metadata["encoding"] == ENCODING
    stored = b"".join(p.read_bytes() for p in (tmp_path / "documents").rglob("chunk-*.bin"))
    assert len(stored) > 500 * 50 and b"Jansen" not in stored and b"V-00001" not in stored
    await eventually(lambda: running_cases(client, boss), lambda n: n == 500, seconds=60)
    # Their task queue has no worker once this test ends: deleted, so no later test of the session (the API's fuzzing
    # reads every case it may see) meets 500 cases nobody runs.
    async for wf in client.list_workflows(f"EmployerId = '{boss}'"):
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=wf.id)
            )
        )


# --------------------------------------------------------------------------- the command


def _spoorwerk(*args: str, token: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPOORWERK_LANGUAGE": "nl", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "operations.cli", "import", *args, "--token", token],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


async def test_the_command_shows_a_dry_run_then_imports_and_follows(api, dev_env, tmp_path):
    server, _http = api
    boss = employer()
    rows, wrong = generated(120, boss)
    path = tmp_path / "export.csv"
    path.write_bytes(as_csv(rows))
    token = server.tokens["operations"]

    dry = await asyncio.to_thread(_spoorwerk, str(path), "--dry-run", "--api", server.url, token=token)
    assert dry.returncode == 1, dry.stderr  # rows were refused
    assert "120 rijen gelezen" in dry.stdout and "Proefdraai: er is niets geopend" in dry.stdout
    for row, column in wrong:
        assert any(line.split()[:2] == [str(row), column] for line in dry.stdout.splitlines()), (row, column)
    assert await running_cases(dev_env.client, boss) == 0

    run = await asyncio.to_thread(_spoorwerk, str(path), "--api", server.url, token=token)
    valid = 120 - len(wrong)
    assert f"{valid} geopend, 0 eerder geopend" in run.stdout, run.stdout + run.stderr
    again = await asyncio.to_thread(_spoorwerk, str(path), "--api", server.url, token=token)
    assert f"0 geopend, {valid} eerder geopend" in again.stdout, again.stdout + again.stderr
    await eventually(lambda: running_cases(dev_env.client, boss), lambda n: n == valid)


async def test_the_dashboard_lists_a_casemanagers_imports_with_their_progress(api):
    server, _http = api
    rows, _wrong = generated(5, "E-api", errors_every=0)
    r = await upload(api, as_csv(rows), who="casemanager", filename="x.csv")
    import_id = r.json()["import_id"]
    await finished(api, import_id, who="casemanager")
    for who, shown in (("casemanager", True), ("operations", True), ("other_casemanager", False)):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as page:
            await page.post("/login", data={"token": server.tokens[who], "next": "/"})
            listed = await page.get("/imports")
            assert listed.status_code == 200 and (import_id in listed.text) == shown, who
            if shown:
                assert 'value="5" max="5"' in listed.text
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as page:
        await page.post("/login", data={"token": server.tokens["werkgever"], "next": "/"})
        assert (await page.get("/imports")).status_code == 403


async def test_hostile_uploads_are_refused_naming_the_file_or_the_mapping(api, dev_env):
    server, http = api

    async def post(content, params=None, headers=None) -> httpx.Response:
        return await http.post(
            "/api/imports",
            content=content,
            params=params or {"filename": "x.csv"},
            headers={**server.headers(), "Accept-Language": "en", **(headers or {})},
        )

    cases: list[tuple[bytes, dict[str, str] | None, dict[str, str] | None, int | tuple[int, ...], str | None]] = [
        (b"PK\x03\x04" + os.urandom(2000), {"filename": "x.xlsx"}, None, 422, "file: not readable as XLSX"),
        (b"", None, None, 422, "file: no header row"),
        (b"a,b\x00,c\n1,2,3\n", None, None, (200, 422), None),
        (as_csv([]), {"filename": "x.csv", "mapping": "nope"}, None, 422, "no such mapping"),
        (as_csv([]), {"filename": "x.csv", "mapping": "../../etc/passwd"}, None, 422, "mapping"),
        (as_csv([]), None, {"Import-Mapping": "not base64!"}, 422, "Import-Mapping"),
        (as_csv([]), None, {"Import-Mapping": base64.b64encode(b"name = 1").decode()}, 422, "mapping"),
        (b"x" * (20 * 1024 * 1024 + 1), None, None, 413, "file: larger than"),
    ]
    for content, params, headers, status, says in cases:
        r = await post(content, params, headers)
        assert r.status_code in ((status,) if isinstance(status, int) else status), (says, r.status_code, r.text[:300])
        if says is not None:
            assert says in r.json()["detail"] if isinstance(r.json()["detail"], str) else says in r.text, r.text[:300]
    assert (await http.get("/api/imports/import-0000000000000000", headers=server.headers())).status_code == 404
    assert (await http.get("/api/imports/case-x", headers=server.headers())).status_code == 422


async def test_the_progress_bar_shows_the_rate_and_the_time_left():
    from rich.console import Console

    from operations import import_cli

    class Growing:
        """An import of 400 rows that takes 100 more at each look."""

        def __init__(self) -> None:
            self.done = 0

        async def status(self, import_id: str) -> dict:
            self.done = min(self.done + 100, 400)
            running = self.done < 400
            counts = {"opened": self.done, "existed": 0, "failed": 0, "refused_rows": 0, "problems": []}
            return {"import_id": import_id, "rows": 400, "done": self.done, "running": running, **counts}

    screen = io.StringIO()
    i18n.set_language("nl")
    code = await import_cli._follow(Growing(), "import-1", False, Console(file=screen, force_terminal=True, width=120))
    drawn = screen.getvalue()
    assert code == 0
    assert "400/400" in drawn and "rijen/s" in drawn and "nog" in drawn and "0:00:0" in drawn, drawn


async def test_the_command_imports_directly_against_temporal(api, dev_env, tmp_path, tmp_path_factory):
    """--direct: checked and started by the command itself as operations, followed by the workflow's memo."""
    server, _http = api
    boss = employer()
    rows, wrong = generated(50, boss)
    path = tmp_path / "export.xlsx"
    path.write_bytes(as_xlsx(rows))
    env = {
        **os.environ,
        "SPOORWERK_LANGUAGE": "nl",
        "PYTHONPATH": str(ROOT),
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "SPOORWERK_TASK_QUEUE": server.task_queue,
        "SPOORWERK_DATA_DIR": str(tmp_path / "data"),
        # The store the API server's worker reads the rows from (tests/apiserver.py).
        "SPOORWERK_DOCUMENTS_DIR": str(tmp_path_factory.getbasetemp() / "documents"),
    }
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "operations.cli", "import", str(path), "--direct"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert f"{50 - len(wrong)} geopend, 0 eerder geopend" in run.stdout, run.stdout + run.stderr
    await eventually(lambda: running_cases(dev_env.client, boss), lambda n: n == 50 - len(wrong))


async def test_a_casemanager_checks_and_imports_an_export_from_the_imports_page(api, tmp_path):
    """No command line: the file is chosen on the page, checked (problems by row and column, nothing opened), then
    imported, and the list shows the import."""
    from playwright.async_api import async_playwright, expect

    from tests.operations.test_dashboard_browser import CHROMIUM, LAUNCH_ARGS, LOCALE

    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium")
    server, _http = api
    rows, wrong = generated(9, "E-api", errors_every=8)  # row 9 (the 8th case) has a mistake
    assert len(wrong) == 1
    export = tmp_path / "verzuim-export.csv"
    export.write_bytes(as_csv(rows))
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = await (await browser.new_context(locale=LOCALE)).new_page()
            await page.goto(server.url + "/login?next=/imports")
            await page.fill("#token", server.tokens["casemanager"])
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(server.url + "/imports")
            form = page.locator("#import-form")
            await expect(page.locator("a[href='/imports/voorbeeld.csv']")).to_have_text("Voorbeeldbestand (CSV)")
            await form.locator("input[name=file]").set_input_files(str(export))
            await form.locator("button[name=check]").click()
            result = form.locator("[data-result]")
            await expect(result).to_contain_text("Gecontroleerd: 9 rijen, 8 te openen, 1 geweigerd")
            ((row, column),) = wrong
            problem = form.locator("[data-problems] tbody tr")
            await expect(problem).to_have_count(1)
            await expect(problem.locator("td").nth(0)).to_have_text(str(row))
            await expect(problem.locator("td").nth(1)).to_have_text(column)
            await page.screenshot(path=ROOT / "tests" / "artifacts" / "import_checked.png", full_page=True)
            await form.locator("button[name=import]").click()
            await expect(result).to_contain_text("Bezig met importeren: 8 van 9 rijen")
            await expect(page.locator("#imports tbody tr[data-import]")).not_to_have_count(0)
        finally:
            await browser.close()
