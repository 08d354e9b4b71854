"""The verzuim figures as a person gets them: from the API (JSON and CSV) within the caller's scope, the employment
data put in with its problems named by row and column, and the dashboard's Cijfers page in a Dutch browser, with
screenshots in tests/artifacts/figures/ (looked at when the page changes)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from domain.facts import derive
from operations.api import app_search_key
from operations.people import person_key
from service import reporting
from tests.domain.test_case_rules import act, new_case
from tests.operations.test_dashboard_browser import CHROMIUM, LAUNCH_ARGS, LOCALE
from tests.paths import TESTS

pytestmark = pytest.mark.devserver

SHOTS = TESTS / "artifacts" / "figures"
Q1 = {"period": "quarter", "from": "2025-01-01", "to": "2025-03-31"}
STAFF = b"personeelsnummer;in_dienst;uit_dienst;deeltijdfactor\r\n1001;2020-01-01;;0,5\r\n1002;01-01-2020;;1\r\n"


def _seed(app, employer_id: str, case_id: str, number: str) -> None:
    """A case of `employer_id`: its half-timer `number` sick 6 January 2025, back for half 3 February, fully 3 March;
    then sick again from 1 May to 20 May, and a third spell from 1 August."""
    state = new_case()
    state.case_id, state.employer_id = case_id, employer_id
    state.people.person_keys = [person_key("personnel_number", number, app_search_key(app))]
    act(state, "partial_recovery", date(2025, 2, 3), role="bedrijfsarts", percentage=50)
    act(state, "full_recovery", date(2025, 3, 3))
    reporting.write_case(app.state.reporting, derive(state, date(2025, 12, 31)), now=datetime.now(timezone.utc))
    later = new_case(first=date(2025, 5, 1))
    later.case_id, later.employer_id, later.people.person_keys = case_id + "b", employer_id, state.people.person_keys
    act(later, "full_recovery", date(2025, 5, 21))
    reporting.write_case(app.state.reporting, derive(later, date(2025, 12, 31)), now=datetime.now(timezone.utc))
    third = new_case(first=date(2025, 8, 1))
    third.case_id, third.employer_id, third.people.person_keys = case_id + "c", employer_id, state.people.person_keys
    reporting.write_case(app.state.reporting, derive(third, date(2025, 12, 31)), now=datetime.now(timezone.utc))


async def test_figures_within_scope_as_json_and_csv_and_employment_data_refused_by_row(api_server):
    _seed(api_server.app, "E-api", "FIGa1", "1001")
    _seed(api_server.app, "E-other", "FIGo1", "1001")
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60) as http:
        put = await http.put("/api/figures/employment/E-api", content=STAFF, headers=api_server.headers("werkgever"))
        assert put.status_code == 200 and put.json()["rows"] == 2, put.text
        # An employer puts in no other employer's data, and reads no other employer's figures.
        other = await http.put(
            "/api/figures/employment/E-other", content=STAFF, headers=api_server.headers("werkgever")
        )
        assert other.status_code == 403 and "E-other" in other.text
        bad = b"personeelsnummer;in_dienst;deeltijdfactor\r\n1001;2020-01-01;0,5\r\n1002;2020-13-01;2\r\n"
        refused = await http.put(
            "/api/figures/employment/E-api",
            content=bad,
            headers=api_server.headers("werkgever") | {"Accept-Language": "nl"},
        )
        assert refused.status_code == 422
        assert [(p["row"], p["column"]) for p in refused.json()["problems"]] == [
            (3, "in_dienst"),
            (3, "deeltijdfactor"),
        ]
        assert "geen datum" in refused.json()["problems"][0]["message"]  # said in Dutch
        # The refused file stored nothing: the figures below still use the first file.

        mine = await http.get("/api/figures", params=Q1, headers=api_server.headers("werkgever"))
        assert mine.status_code == 200, mine.text
        assert [f["employer_id"] for f in mine.json()] == ["E-api"]
        (q1,) = mine.json()
        # As in test_reporting_store: (28 × 0.5 + 28 × 0.5 × 0.5) / (90 × 0.5 + 90 × 1) × 100 = 15.56.
        assert (q1["verzuimpercentage"], q1["meldingsfrequentie"], q1["gemiddelde_verzuimduur"]) == (15.56, 2.0, 56.0)
        asked = await http.get(
            "/api/figures", params=Q1 | {"employer_id": "E-other"}, headers=api_server.headers("werkgever")
        )
        assert asked.status_code == 403 and "employer_id" in asked.text
        doctor = await http.get("/api/figures", params=Q1, headers=api_server.headers("bedrijfsarts"))
        assert doctor.status_code == 403
        regional = await http.get("/api/figures", params=Q1, headers=api_server.headers("regional_casemanager"))
        assert [f["employer_id"] for f in regional.json()] == ["E-other"]

        everyone = await http.get("/api/figures.csv", params=Q1, headers=api_server.headers("operations"))
        assert everyone.status_code == 200 and everyone.headers["content-type"].startswith("text/csv")
        lines = everyone.content.decode("utf-8-sig").splitlines()
        assert lines[0].startswith("employer_id;period;start;end;verzuimpercentage;verzuimpercentage_cbs")
        rows = {line.split(";")[0]: line.split(";") for line in lines[1:]}
        assert {"E-api", "E-other"} <= set(rows)
        assert rows["E-api"][1:5] == ["2025-Q1", "2025-01-01", "2025-03-31", "15,56"]
        assert rows["E-other"][4] == ""  # no employment data: no percentage rather than a made-up one


async def _send_staff_on_the_page(page, section, expect) -> None:
    """The employer sends its staff on the page: a wrong row is named and nothing is stored; the right file is."""
    staff = section.locator("details.employment")
    await staff.locator("summary").click()
    form = staff.locator("form[data-employment='E-api']")
    wrong = STAFF + b"1003;2021-02-30;;0,8\r\n"
    await form.locator("input[name=file]").set_input_files(
        {"name": "personeel.csv", "mimeType": "text/csv", "buffer": wrong}
    )
    await form.locator("button[type=submit]").click()
    await expect(form.locator("[data-result]")).to_contain_text("Niets bewaard: het bestand heeft problemen")
    await expect(form.locator("[data-problems] tbody tr td").nth(0)).to_have_text("4")
    await expect(form.locator("[data-problems] tbody tr td").nth(1)).to_have_text("in_dienst")
    await form.locator("input[name=file]").set_input_files(
        {"name": "personeel.csv", "mimeType": "text/csv", "buffer": STAFF}
    )
    async with page.expect_navigation():  # stored, the page shows the figures counted with it
        await form.locator("button[type=submit]").click()
        await expect(form.locator("[data-result]")).to_contain_text("Bewaard: 2 dienstverbanden")


async def test_the_cijfers_page_in_a_dutch_browser(api_server):
    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.async_api import ViewportSize, async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            for who, size, target in (
                (
                    "werkgever",
                    ViewportSize(width=1366, height=900),
                    "/cijfers?period=quarter&from=2025-01-01&to=2025-12-31",
                ),
                (
                    "werkgever",
                    ViewportSize(width=390, height=844),
                    "/cijfers?period=quarter&from=2025-01-01&to=2025-12-31",
                ),
                (
                    "operations",
                    ViewportSize(width=1366, height=900),
                    "/cijfers?period=month&from=2025-01-01&to=2025-12-31",
                ),
            ):
                context = await browser.new_context(viewport=size, locale=LOCALE)
                page = await context.new_page()
                await page.goto(api_server.url + target)
                await page.fill("#token", api_server.tokens[who])
                await page.click("form[action='/login'] button[type=submit]")
                await page.wait_for_url(api_server.url + target)
                await expect(page.locator("h1")).to_have_text("Verzuimcijfers")
                shown = await page.locator("section[data-employer]").evaluate_all("s => s.map(e => e.dataset.employer)")
                if who == "werkgever":
                    assert shown == ["E-api"]
                else:
                    assert {"E-api", "E-other"} <= set(shown)
                section = page.locator("section[data-employer='E-api']")
                await expect(section.locator("svg[data-figure]")).to_have_count(4)
                # Four quarters of bars for the verzuimpercentage (Vernet and CBS), Q1's Vernet bar at 15.56.
                bar = section.locator(
                    "svg[data-figure='verzuimpercentage'] rect[data-period='2025-Q1'][data-series='0']"
                )
                if who == "werkgever":
                    await expect(bar).to_have_attribute("data-value", "15.56")
                    await expect(section.locator("tr[data-period='2025-Q1']")).to_contain_text("15,56")
                await expect(page.locator("a[href^='/api/figures.csv']")).to_have_text("Downloaden als CSV")
                if who == "werkgever" and size["width"] == 1366:
                    await _send_staff_on_the_page(page, section, expect)
                name = f"{who}-{size['width']}"
                await page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
                overflow = await page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 1, f"{name} is {overflow}px wider than the screen"
                await context.close()
        finally:
            await browser.close()


async def test_a_rebuild_writes_every_case_running_or_closed_once(api_server):
    from sqlalchemy import func, select

    from domain.nl_time import local_date
    from operations.figures_rebuild import rebuild
    from service.reporting_tables import cases as case_rows
    from service.reporting_tables import events, spells
    from tests.apiserver import eventually
    from tests.operations.test_access import new_id
    from workflows.ids import case_workflow_id

    engine = api_server.app.state.reporting
    today = local_date(datetime.now(timezone.utc))
    running, withdrawn = new_id(), new_id()
    # An employer of this test's own: a rebuild of one employer reads its cases only, not every case on the server.
    employer = f"E-rebuild-{new_id()}"
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60) as http:
        for case_id in (running, withdrawn):
            body = {
                "case_id": case_id,
                "employer_id": employer,
                "first_sick_day": (today - timedelta(days=10)).isoformat(),
            }
            r = await http.post("/api/cases", json=body, headers=api_server.headers("operations"))
            assert r.status_code == 201, r.text
        r = await http.post(
            f"/api/cases/{withdrawn}/actions/case_withdrawn",
            json={"on": today.isoformat(), "reason": "opened in error"},
            headers=api_server.headers("operations"),
        )
        assert r.status_code == 200, r.text
    client = api_server.env.client
    listed = "WorkflowType = 'SickLeaveCase' AND ExecutionStatus != 'Running'"
    await eventually(
        lambda: _ids(client, listed), lambda found: case_workflow_id(withdrawn) in found, seconds=30
    )  # the closed case is listed as closed before the rebuild looks

    def counted() -> tuple[int, int, int]:
        with engine.connect() as conn:
            ours = [running, withdrawn]
            return (
                conn.scalar(select(func.count()).select_from(case_rows).where(case_rows.c.case_id.in_(ours))),
                conn.scalar(select(func.count()).select_from(spells).where(spells.c.case_id.in_(ours))),
                conn.scalar(select(func.count()).select_from(events).where(events.c.case_id.in_(ours))),
            )

    first = await rebuild(client, engine, today, employer_id=employer)
    assert first.failed == [] and first.written == first.cases == 2
    once = counted()
    # Both cases are there; the withdrawn one (opened in error) has no days of illness, the running one its one spell.
    assert once[0] == 2 and once[1] == 1 and once[2] > 0
    with engine.connect() as conn:
        closed = conn.execute(select(case_rows.c.outcome).where(case_rows.c.case_id == withdrawn)).scalar_one()
    assert closed == "ingetrokken"
    await rebuild(client, engine, today, employer_id=employer)
    assert counted() == once  # a second rebuild counts nothing twice


async def _ids(client, query: str) -> set[str]:
    return {wf.id async for wf in client.list_workflows(query)}
