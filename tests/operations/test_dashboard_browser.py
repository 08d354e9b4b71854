"""The dashboard in a real browser (Debian's Chromium driven by Playwright, no browser download).

Against the real app on loopback with a worker and the dev server (`api_server`): log in with a
token, see the seeded cases in the overview with their counts and badges, narrow the list by a
filter, watch the list refresh by itself, open a case through the search box, see its timeline
drawn with the statutory deadlines, and record actions on the page, a refused one and accepted
ones, which show up in the dossier and the timeline. The bedrijfsarts's note is shown to the
bedrijfsarts only, and another employer is refused the case. Screenshots go to tests/artifacts/.

The server runs in this test's event loop: only the async Playwright API and httpx.AsyncClient here.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.nl_time import local_date
from operations.auth import COOKIE
from tests.apiserver import eventually
from tests.paths import TESTS

pytestmark = pytest.mark.devserver

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = TESTS / "artifacts"
LOCALE = "nl-NL"  # a Dutch browser (Accept-Language): the pages' default language, whatever the machine's locale


async def _seed(http: httpx.AsyncClient, server, employer: str, today: date) -> dict[str, str]:
    """Three cases of one employer: a plain new one, one taken over in spoor 1 with its plan van aanpak
    overdue (level 1), and one whose stagnation was reported (level 2)."""
    run = uuid.uuid4().hex[:6]
    ids = {name: f"C-ui-{name}-{run}" for name in ("plain", "takenover", "stalled")}

    async def post(path: str, body: dict[str, Any], who: str = "operations") -> dict[str, Any]:
        response = await http.post(path, json=body, headers=server.headers(who))
        assert response.status_code in (200, 201), response.text
        return response.json()

    first = today - timedelta(weeks=20)
    openings: list[dict[str, Any]] = [
        {"case_id": ids["plain"], "employer_id": employer, "first_sick_day": (today - timedelta(days=3)).isoformat()},
        {
            "case_id": ids["takenover"],
            "employer_id": employer,
            "first_sick_day": first.isoformat(),
            "stage": "spoor1",
            "prior_steps": [
                {"key": "ziekmelding_arbodienst", "done_on": (first + timedelta(days=2)).isoformat()},
                {"key": "probleemanalyse", "done_on": (first + timedelta(days=35)).isoformat()},
                {"key": "plan_van_aanpak"},
            ],
        },  # taken over without a plan van aanpak: overdue
        {
            "case_id": ids["stalled"],
            "employer_id": employer,
            "first_sick_day": (today - timedelta(days=20)).isoformat(),
        },
    ]
    await asyncio.gather(*(post("/api/cases", body) for body in openings))
    await post(f"/api/cases/{ids['stalled']}/actions/ziekmelding_arbodienst_sent", {"on": today.isoformat()})
    await post(f"/api/cases/{ids['stalled']}/actions/stagnation_reported", {"on": today.isoformat()})

    async def listed() -> dict[str, tuple[int | None, bool | None]]:
        response = await http.get("/api/cases", params={"employer_id": employer}, headers=server.headers())
        return {c["case_id"]: (c["escalation_level"], c["overdue"]) for c in response.json()["cases"]}

    await eventually(
        listed,
        lambda found: (
            found.get(ids["stalled"], (0,))[0] == 2
            and found.get(ids["takenover"], (None, None))[1] is True
            and ids["plain"] in found
        ),
    )
    return ids


async def _seed_spoor2(http: httpx.AsyncClient, server, today: date, *, decided: bool = True) -> str:
    """A case taken over in week 70, in phase 1 of spoor 2 for seven weeks now (not `decided`: its haalbaarheidstoets
    still to decide, the purchase approved). Its employer is the one of the `werkgever` token (only an employer
    approves the purchase of a phase)."""
    case_id = f"C-ui-spoor2-{uuid.uuid4().hex[:6]}"
    first = today - timedelta(weeks=70)

    def day(n: int) -> str:  # `n` days ago
        return (today - timedelta(days=n)).isoformat()

    async def post(path: str, body: dict[str, Any], who: str = "operations") -> None:
        response = await http.post(path, json=body, headers=server.headers(who))
        assert response.status_code in (200, 201), (path, response.text)

    done = {
        "ziekmelding_arbodienst": 1,
        "probleemanalyse": 30,
        "plan_van_aanpak": 40,
        "ziekmelding_uwv": 290,
        "eerstejaarsevaluatie": 360,
    }
    await post(
        "/api/cases",
        {
            "case_id": case_id,
            "employer_id": "E-api",
            "first_sick_day": first.isoformat(),
            "stage": "spoor1",
            "prior_steps": [{"key": k, "done_on": (first + timedelta(days=d)).isoformat()} for k, d in done.items()],
            "evaluations_held": [(first + timedelta(days=d)).isoformat() for d in range(82, 7 * 70 - 6, 42)],
        },
    )
    case, s2 = f"/api/cases/{case_id}/actions", f"/api/cases/{case_id}/spoor2/actions"
    await post(f"{case}/ad_onderzoek_started", {"on": day(70)})
    await post(f"{case}/ad_gesprek_held", {"on": day(70), "party": "werkgever"}, "arbeidsdeskundige")
    await post(f"{case}/ad_gesprek_held", {"on": day(70), "party": "werknemer"}, "arbeidsdeskundige")
    await post(
        f"{case}/ad_onderzoek_concluded",
        {
            "on": day(70),
            "own_work_possible": False,
            "other_work_inside_possible": False,
            "report_reference": "dms://ad-rapport/1",
        },
        "arbeidsdeskundige",
    )
    await post(f"{case}/spoor2_started", {"on": day(70)})
    await eventually(
        lambda: http.get(f"/api/cases/{case_id}/spoor2", headers=server.headers()), lambda r: r.status_code == 200
    )
    for document, who in (
        ("toestemmingsformulier", "operations"),
        ("opdrachtbevestiging", "operations"),
        ("ad_rapport", "operations"),
        ("bedrijfsarts_bevindingen", "bedrijfsarts"),
        ("fml", "bedrijfsarts"),
    ):
        hours = {"belastbaarheid_hours_per_day": 4.0} if document == "bedrijfsarts_bevindingen" else {}
        await post(
            f"{s2}/document_received",
            {"on": day(65), "document": document, "reference": f"dms://{document}/1", **hours},
            who,
        )
    await post(f"{s2}/intake_held", {"on": day(62), "coach_id": "coach-1"}, "reintegratiecoach")
    await post(f"{s2}/proposal_sent", {"on": day(60)}, "reintegratiecoach")
    await post(f"{s2}/purchase_approved", {"on": day(58), "scope": "phase", "phase": 1}, "werkgever")
    if not decided:
        return case_id
    grounds = {
        k: f"{k.replace('_', ' ')}: enough to go"
        for k in ("belastbaarheid", "skills", "coping", "circumstances", "labour_market")
    }
    await post(
        f"{s2}/haalbaarheidstoets_decided",
        {"on": day(56), "decision": "go", "grounds": grounds, "zoekprofiel": "Administrative work, 20 hours a week"},
        "reintegratiecoach",
    )
    await post(f"{s2}/phase_started", {"on": day(50), "phase": 1}, "reintegratiecoach")
    return case_id


async def _login(page, server, who: str, target: str) -> None:
    """Open `target`, be sent to the login page, log in as `who` and land back on `target`."""
    await page.goto(server.url + target)
    assert urlpath(page.url) == "/login", page.url
    if who == "operations":
        await page.screenshot(path=ARTIFACTS / "login.png")
    await page.fill("#token", server.tokens[who])
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(server.url + target)


def urlpath(url: str) -> str:
    return httpx.URL(url).path


async def test_dashboard_in_a_browser(api_server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(
            "the browser test needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)"
        )
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    employer = f"E-ui-{uuid.uuid4().hex[:8]}"
    today = local_date(datetime.now(timezone.utc))  # the dev server runs in real time
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        ids, spoor2_case = await asyncio.gather(
            _seed(http, api_server, employer, today), _seed_spoor2(http, api_server, today)
        )

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            try:
                ops = await browser.new_context(viewport={"width": 1280, "height": 900}, locale=LOCALE)
                await ops.clock.install()  # the overview's refresh timer, moved on below without waiting
                page = await ops.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                # Script errors only: the refused action below is a 4xx the browser logs as a failed load.
                page.on(
                    "console",
                    lambda msg: (
                        errors.append(msg.text)
                        if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                        else None
                    ),
                )
                page.on(
                    "response",
                    lambda r: errors.append(f"{r.status} {r.url}") if r.status == 404 or r.status >= 500 else None,
                )

                # ------------------------------------------------ login and the overview
                await _login(page, api_server, "operations", f"/?employer_id={employer}")
                cookie = next(c for c in await ops.cookies() if c["name"] == COOKIE)
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
                rows = page.locator("table.cases tbody tr[data-case]")
                await expect(rows).to_have_count(3)
                assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.case)")) == sorted(ids.values())
                stalled_row = page.locator(f"tr[data-case='{ids['stalled']}']")
                await expect(stalled_row.locator(".badge.lvl-2")).to_have_text("2")
                taken_row = page.locator(f"tr[data-case='{ids['takenover']}']")
                await expect(taken_row.locator(".badge.overdue")).to_be_visible()
                await expect(taken_row.locator("td.num").first).to_have_text("21")  # the 21st week of illness
                await expect(page.locator(".counts .tile.total .n")).to_have_text("3")
                await page.screenshot(path=ARTIFACTS / "overview.png", full_page=True)

                # ------------------------------------------------ a filter narrows the list, and it refreshes itself
                await page.select_option("select[name=min_escalation_level]", "2")
                await page.click("form.filters button[type=submit]")
                await page.wait_for_url(re.compile(r"min_escalation_level=2"))
                await expect(rows).to_have_count(1)
                await expect(rows.first).to_have_attribute("data-case", ids["stalled"])
                await page.screenshot(path=ARTIFACTS / "filtered.png", full_page=True)

                response = await http.post(
                    f"/api/cases/{ids['plain']}/actions/stagnation_reported",
                    json={"on": today.isoformat()},
                    headers=api_server.headers(),
                )
                assert response.status_code == 200, response.text
                await eventually(
                    lambda: http.get(
                        "/api/cases",
                        params={"employer_id": employer, "min_escalation_level": 2},
                        headers=api_server.headers(),
                    ),
                    lambda r: len(r.json()["cases"]) == 2,
                )
                await page.clock.fast_forward(16_000)  # past the 15 s refresh: the page fetches itself again
                await expect(rows).to_have_count(2)  # without a reload, and with its filter kept
                assert "min_escalation_level=2" in page.url

                # ------------------------------------------------ the search box opens a case
                await page.click("form.filters a.button")  # Reset: the search combines with the filters
                await page.wait_for_url(api_server.url + "/")
                await page.fill("input[name=q]", ids["takenover"])
                await page.press("input[name=q]", "Enter")
                await page.wait_for_url(f"{api_server.url}/cases/{ids['takenover']}")
                timeline = page.locator("svg#timeline")
                await expect(timeline).to_be_visible()
                assert await timeline.locator("g.dl").count() >= 8  # the statutory steps up to week 104
                pva = timeline.locator("g.dl[data-key='plan_van_aanpak']")
                await expect(pva).to_have_attribute("data-status", "overdue")
                await expect(timeline.locator("g.dl[data-key='probleemanalyse']")).to_have_attribute(
                    "data-status", "done"
                )
                await expect(timeline.locator("path.esc-raised")).to_have_count(1)  # level 1: a step is overdue
                await expect(timeline.locator("line.today")).to_have_count(1)
                toets = page.locator("section.toets")
                await expect(toets).to_contain_text("Poortwachtertoets")
                await expect(toets.locator(".point-open", has_text="Plan van aanpak")).not_to_have_count(0)
                await page.screenshot(path=ARTIFACTS / "case_before.png", full_page=True)
                await timeline.screenshot(path=ARTIFACTS / "timeline_before.png")

                # ------------------------------------------------ recording actions on the page
                form = page.locator("#action-form")
                # A form from the action's schema: the step due next is chosen already, its fields are inputs
                # (required ones marked), and a refusal is said next to the field it names. No JSON.
                await expect(form.locator("select[name=kind]")).to_have_value("plan_van_aanpak_agreed")
                await expect(form.locator("textarea")).to_have_count(3)  # the two views and the note
                await expect(form.locator("input[name=f-casemanager_id]")).to_have_attribute("required", "")
                await form.locator("input[name=f-casemanager_id]").fill("7")  # not an opaque id
                await form.locator("button[type=submit]").click()
                await expect(form.locator("[data-result]")).to_contain_text("Geweigerd (422)")
                await expect(form.locator("[data-error-for=casemanager_id]")).not_to_be_empty()
                await page.screenshot(path=ARTIFACTS / "case_form_refused.png", full_page=True)

                await form.locator("input[name=f-casemanager_id]").fill("cm-7")
                await form.locator("textarea[name=f-employer_view]").fill("Start with 2 hours a day")
                await form.locator("textarea[name=f-employee_view]").fill("Agreed")
                await form.locator("textarea[name=f-note]").fill("Agreed <b>in person</b>")
                await form.locator("button[type=submit]").click()
                await expect(form.locator("[data-result]")).to_contain_text("Vastgelegd")
                dossier_entry = page.locator("#dossier li[data-kind='plan_van_aanpak_agreed']")
                await expect(dossier_entry).to_have_count(1)  # refreshed without a reload
                await expect(dossier_entry).to_contain_text("Agreed <b>in person</b>")  # escaped, shown as typed
                await expect(pva).to_have_attribute("data-status", "done")
                await expect(timeline.locator("circle.esc-resolved")).to_have_count(1)
                await expect(page.locator("tr[data-key='plan_van_aanpak'] .badge.st-done")).to_have_text("gedaan")
                # The overdue observation stays in the dossier and now says the step was done, late, with its days.
                observed = page.locator(
                    "#dossier li[data-kind='deadline_overdue']",
                    has_text=re.compile(r"plan v(an|\.) aanpak", re.IGNORECASE),
                )
                await expect(observed.locator(".standing-late")).to_contain_text("dagen te laat")
                assert (await observed.inner_text()).count("te laat") == 1  # said once, beside the sentence
                await page.screenshot(path=ARTIFACTS / "case_after.png", full_page=True)
                await timeline.screenshot(path=ARTIFACTS / "timeline_after.png")
                assert not errors, errors

                # ------------------------------------------------ a case in spoor 2: its phase as a bar
                await page.goto(f"{api_server.url}/?spoor2_phase=1&employer_id=E-api")
                await expect(page.locator(f"tr[data-case='{spoor2_case}'] td.num").nth(1)).to_have_text("1")
                await page.click(f"tr[data-case='{spoor2_case}'] a")
                await page.wait_for_url(f"{api_server.url}/cases/{spoor2_case}")
                await expect(timeline.locator("g.phase")).to_have_count(1)
                await expect(timeline.locator("g.phase text")).to_have_text("Fase 1")
                await expect(
                    page.locator("#action-form optgroup[label='Op het spoor 2-traject'] option").filter(
                        has_text="Activiteit vastgelegd"
                    )
                ).to_have_count(1)
                await page.screenshot(path=ARTIFACTS / "case_spoor2.png", full_page=True)
                await timeline.screenshot(path=ARTIFACTS / "timeline_spoor2.png")

                # ------------------------------------------------ the bedrijfsarts's notes are the bedrijfsarts's
                arts = await browser.new_context(viewport={"width": 1280, "height": 900}, locale=LOCALE)
                arts_page = await arts.new_page()
                await _login(arts_page, api_server, "bedrijfsarts", f"/cases/{ids['plain']}")
                arts_form = arts_page.locator("#action-form")
                options = await arts_form.locator("select[name=kind] option").evaluate_all("os => os.map(o => o.value)")
                assert "probleemanalyse_recorded" in options and "plan_van_aanpak_agreed" not in options
                await arts_form.locator("select[name=kind]").select_option("probleemanalyse_recorded")
                await expect(arts_form.locator("input[name=f-belastbaarheid_hours_per_day]")).to_have_attribute(
                    "type", "number"
                )
                await arts_form.locator("input[name=f-belastbaarheid_hours_per_day]").fill("4")
                await arts_form.locator("textarea[name=f-note]").fill("medisch: rugklachten")
                await arts_form.locator("button[type=submit]").click()
                await expect(arts_form.locator("[data-result]")).to_contain_text("Vastgelegd")
                arts_entry = arts_page.locator("#dossier li[data-kind='probleemanalyse_recorded']")
                await expect(arts_entry).to_contain_text("medisch: rugklachten")
                await arts_page.screenshot(path=ARTIFACTS / "case_bedrijfsarts.png", full_page=True)

                await page.goto(f"{api_server.url}/cases/{ids['plain']}")
                ops_entry = page.locator("#dossier li[data-kind='probleemanalyse_recorded']")
                await expect(ops_entry).to_have_count(1)
                await expect(ops_entry).not_to_contain_text("rugklachten")

                # ------------------------------------------------ another employer may not see the case
                other = await browser.new_context(locale=LOCALE)
                other_page = await other.new_page()
                await _login(other_page, api_server, "other_werkgever", "/")
                await expect(other_page.locator(f"tr[data-case='{ids['plain']}']")).to_have_count(0)
                refused = await other_page.goto(f"{api_server.url}/cases/{ids['plain']}")
                assert refused is not None and refused.status == 404  # answered as a case that is not there
                await other_page.screenshot(path=ARTIFACTS / "refused.png")
                await expect(other_page.locator("#dossier")).to_have_count(0)

                # ------------------------------------------------ the header's language switch, and back
                await page.click("form.language button[value=en]")
                await page.wait_for_url(f"{api_server.url}/cases/{ids['plain']}")
                await expect(page.locator("html")).to_have_attribute("lang", "en")
                await expect(page.locator("#action-form button[type=submit]")).to_have_text("Record")
                await expect(page.locator("form.logout button")).to_have_text("Sign out")
                await page.screenshot(path=ARTIFACTS / "case_english.png", full_page=True)
                await page.click("form.language button[value=nl]")
                await expect(page.locator("html")).to_have_attribute("lang", "nl")
                await expect(page.locator("form.logout button")).to_have_text("Uitloggen")

                # ------------------------------------------------ logging out ends the session
                await page.click("form.logout button")
                await page.wait_for_url(re.compile(r"/login$"))
                assert not [c for c in await ops.cookies() if c["name"] == COOKIE]
                await page.goto(f"{api_server.url}/cases/{ids['plain']}")
                assert urlpath(page.url) == "/login"
            finally:
                await browser.close()


async def test_a_coach_records_the_haalbaarheidstoets_with_a_field_per_ground_not_json(api_server):
    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium")
    from playwright.async_api import async_playwright, expect

    today = local_date(datetime.now(timezone.utc))
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        case_id = await _seed_spoor2(http, api_server, today, decided=False)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            coach = await browser.new_context(viewport={"width": 1280, "height": 900}, locale=LOCALE)
            page = await coach.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            await _login(page, api_server, "reintegratiecoach", f"/cases/{case_id}")
            form = page.locator("#action-form")
            await form.locator("select[name=kind]").select_option("haalbaarheidstoets_decided")
            grounds = form.locator("fieldset.group", has_text="Onderbouwing")
            await expect(grounds.locator("legend")).to_have_text("Onderbouwing *")
            await expect(grounds.locator("textarea")).to_have_count(5)
            await expect(form.locator("textarea[placeholder=JSON]")).to_have_count(0)
            await form.locator("select[name=f-decision]").select_option("go")
            for part, text in (
                ("belastbaarheid", "4 uur per dag, zittend werk"),
                ("skills", "Administratief, 12 jaar ervaring"),
                ("coping", "Gemotiveerd"),
                ("circumstances", "Geen belemmeringen"),
            ):
                await grounds.locator(f"textarea[name='f-grounds.{part}']").fill(text)
            await form.locator("input[name='f-coach_match.sector']").fill("zorg")
            # One ground left empty: the browser asks for it before anything is sent.
            await form.locator("button[type=submit]").click()
            labour_market = grounds.locator("textarea[name='f-grounds.labour_market']")
            assert await labour_market.evaluate("el => el.validity.valueMissing")
            await expect(form.locator("[data-result]")).to_be_empty()
            # Too short a reason: refused by the service, said next to that ground by its Dutch name.
            await labour_market.fill("ok")
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-result]")).to_contain_text("Geweigerd (422)")
            await expect(form.locator("[data-result]")).to_contain_text("Arbeidsmarkt")
            await expect(form.locator("[data-error-for='grounds.labour_market']")).not_to_be_empty()
            await page.screenshot(path=ARTIFACTS / "haalbaarheidstoets_form.png", full_page=True)
            await labour_market.fill("Vraag naar administratief werk")
            await form.locator("textarea[name=f-zoekprofiel]").fill("Administratief werk, 20 uur per week")
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-result]")).to_contain_text("Vastgelegd")
            assert not errors, errors
        finally:
            await browser.close()
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        view = (await http.get(f"/api/cases/{case_id}/spoor2", headers=api_server.headers())).json()
    assert view["haalbaarheid"]["decision"] == "go", view
    assert view["haalbaarheid"]["grounds"]["skills"] == "Administratief, 12 jaar ervaring"


async def test_dashboard_login_and_scope_without_a_browser(api_server):
    """The pages' own checks, at the HTTP level (runs without Chromium too)."""
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        page = await http.get("/cases/C-anything?x=1")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fcases%2FC-anything%3Fx%3D1"
        assert (await http.get("/login")).headers["content-security-policy"].startswith("default-src 'self'")

        refused = await http.post("/login", data={"token": "not-a-token", "next": "/"})
        assert refused.status_code == 401 and "Onbekend token." in refused.text and COOKIE not in refused.cookies
        # Another site's form may not log a browser in (login CSRF).
        forged = await http.post(
            "/login", data={"token": api_server.tokens["operations"]}, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403 and COOKIE not in forged.cookies

        # After the login only a path of this site: never another origin.
        for target, expected in (
            ("//evil.example/x", "/"),
            ("https://evil.example", "/"),
            ("/\\evil.example", "/"),
            ("/cases/C-x", "/cases/C-x"),
        ):
            ok = await http.post("/login", data={"token": api_server.tokens["werkgever"], "next": target})
            assert ok.status_code == 303 and ok.headers["location"] == expected, target
            cookie = ok.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age" in cookie

        # A werkgever's overview holds its own employer's cases only, whatever the filter asks for.
        run = uuid.uuid4().hex[:6]
        today = local_date(datetime.now(timezone.utc))
        for employer in ("E-api", "E-other"):
            opened = await http.post(
                "/api/cases",
                headers=api_server.headers(),
                json={
                    "case_id": f"C-scope-{employer[2:]}-{run}",
                    "employer_id": employer,
                    "first_sick_day": today.isoformat(),
                },
            )
            assert opened.status_code == 201, opened.text
        # The werkgever's session (the cookie holds a session id, never the token: tests/operations/test_signin.py).
        assert (await http.post("/login", data={"token": api_server.tokens["werkgever"]})).status_code == 303
        overview = await eventually(
            lambda: http.get("/", params={"employer_id": "E-other", "q": "C-scope-"}),
            lambda r: f"C-scope-api-{run}" in r.text,
        )
        assert overview.status_code == 200 and "Werkgever <input" not in overview.text
        assert "E-other" not in overview.text and f"C-scope-other-{run}" not in overview.text
        employers = set(re.findall(r'<tr data-case="[^"]+"[^>]*>\s*<td>.*?</td>\s*<td>([^<]*)</td>', overview.text))
        assert employers == {"E-api"}, employers
        other_case = await http.get(f"/cases/C-scope-other-{run}")
        unknown = await http.get(f"/cases/C-scope-none-{run}")
        # Another employer's case answers as one that is not there: the same page, but for the id asked.
        assert other_case.status_code == unknown.status_code == 404 and "E-other" not in other_case.text
        assert other_case.text.replace("other", "none") == unknown.text
        # Anything typed is escaped, never markup.
        bad = await http.get("/", params={"q": "<script>alert(1)</script>"})
        assert "<script>alert(1)</script>" not in bad.text and "&lt;script&gt;" in bad.text
        missing = await http.get("/cases/C-not-there")
        assert missing.status_code == 404 and "er is geen zaak" in missing.text  # in the page's language
        assert (await http.get("/cases/<b>")).status_code == 404

        out = await http.post("/logout")
        assert (
            out.status_code == 303 and COOKIE in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
        )


async def test_a_casemanager_opens_and_takes_over_a_case_with_a_form(api_server):
    """Issue 20: a case is opened, or taken over with what was done before, from the dashboard; no API, no JSON."""
    if not CHROMIUM.exists():
        pytest.skip(
            "the browser test needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)"
        )
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    today = local_date(datetime.now(timezone.utc))
    first = today - timedelta(days=70)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = await (await browser.new_context(viewport={"width": 1366, "height": 900}, locale=LOCALE)).new_page()
            await _login(page, api_server, "casemanager", "/")
            await page.click("a[href='/cases/new']")
            await page.wait_for_url(api_server.url + "/cases/new")
            form = page.locator("#open-form")
            await expect(form.locator("input[name=casemanager]")).to_have_value("cm-1")
            await form.locator("input[name=employer_id]").fill("E-api")
            await form.locator("input[name=first_sick_day]").fill(first.isoformat())
            await form.locator("details.takeover summary").click()
            # A step done before the first sick day: refused, and said next to the steps.
            await form.locator("input[name=done-probleemanalyse]").fill((first - timedelta(days=1)).isoformat())
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-error-for=prior_steps]")).to_contain_text("vóór de eerste ziektedag")
            await page.screenshot(path=ARTIFACTS / "open_refused.png", full_page=True)
            await form.locator("input[name=done-probleemanalyse]").fill((first + timedelta(days=30)).isoformat())
            await form.locator("input[name=undone-plan_van_aanpak]").check()
            # A week back at work, typed as a Dutch casemanager writes dates (2-3-2026, 02-03-2026).
            recovered, relapsed = first + timedelta(days=20), first + timedelta(days=27)
            typed = f"{recovered.day}-{recovered.month}-{recovered.year} {relapsed:%d-%m-%Y}"
            await form.locator("textarea[name=interruptions]").fill(typed)
            await form.locator("button[type=submit]").click()
            await page.wait_for_url(lambda url: "/cases/C" in url)
            await expect(page.locator("section.summary")).to_contain_text("casemanager cm-1")
            await expect(page.locator("tr[data-key='probleemanalyse'] .badge.st-done")).to_have_text("gedaan")
            await expect(page.locator("tr[data-key='plan_van_aanpak'] .badge")).to_have_text("te laat")
            await page.screenshot(path=ARTIFACTS / "open_taken_over.png", full_page=True)
            # The 42nd-week ziekmelding in week 11: the form asks first, and nothing is recorded when declined.
            asked: list[str] = []

            async def decline(dialog) -> None:
                asked.append(dialog.message)
                await dialog.dismiss()

            page.once("dialog", decline)
            act = page.locator("#action-form")
            await act.locator("select[name=kind]").select_option("ziekmelding_uwv_sent")
            await act.locator("button[type=submit]").click()
            for _ in range(50):
                if asked:
                    break
                await asyncio.sleep(0.1)
            assert "Ziekmelding bij UWV" in asked[0] and "Toch vastleggen?" in asked[0], asked
            await expect(act.locator("[data-result]")).to_be_empty()
            await expect(page.locator("tr[data-key='ziekmelding_uwv'] .badge.st-done")).to_have_count(0)
            # The week off is off the clock, as if given as ISO dates through the API.
            async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
                opened = await http.get(
                    f"/api/cases/{urlpath(page.url).rsplit('/', 1)[-1]}", headers=api_server.headers()
                )
            assert opened.json()["illness_day"] == (today - first).days + 1 - 7, opened.json()
            # On a phone (390 px) the pages fit its width: wide tables scroll inside their card.
            phone = await (
                await browser.new_context(
                    viewport={"width": 390, "height": 844},
                    locale=LOCALE,
                    storage_state=await page.context.storage_state(),
                )
            ).new_page()
            case_path = urlpath(page.url)
            await page.goto(api_server.url + "/werk")  # Mijn werk, from the header
            await expect(page.locator("table#worklist")).to_be_visible()
            await page.screenshot(path=ARTIFACTS / "werk.png", full_page=True)
            for path, name in (
                (case_path, "case_390.png"),
                ("/", "overview_390.png"),
                ("/cases/new", "open_390.png"),
                ("/werk", "werk_390.png"),
            ):
                await phone.goto(api_server.url + path)
                await phone.screenshot(path=ARTIFACTS / name, full_page=True)
                wide = await phone.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > 391).map(e => e.tagName + '.' + e.className)""")
                assert await phone.evaluate("document.scrollingElement.scrollWidth") <= 390, (path, wide[:6])
            # A tablet and a small laptop: the overview's table scrolls by itself, the page keeps the window's width.
            for width in (768, 1024):
                await phone.set_viewport_size({"width": width, "height": 800})
                await phone.goto(api_server.url + "/")
                page_width = await phone.evaluate("document.scrollingElement.scrollWidth")
                assert page_width <= width, (width, page_width)
        finally:
            await browser.close()
    # A coach opens no cases: no button, and the page says so.
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        await http.post("/login", data={"token": api_server.tokens["reintegratiecoach"], "next": "/"})
        assert "/cases/new" not in (await http.get("/")).text
        assert (await http.get("/cases/new")).status_code == 403
