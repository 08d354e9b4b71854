"""Issue 20, done when: a casemanager's morning in a real browser, and the employer's view of the same case.

Debian's Chromium driven by Playwright against the real app, a worker and the dev server (`api_server`), as a Dutch
browser would: the casemanager signs in, opens "Mijn werk", opens the overdue case from it, records the plan van
aanpak with the form (first refused for a date before the first sick day, said next to the date, then recorded),
asks for a document and downloads it, hands the case to the bedrijfsarts, and finds the case again by the employee's
surname (a colleague's case stays out of sight). The employer then signs in and sees the same case, with the plan van aanpak, without the bedrijfsarts's
notes. Every page is Dutch; screenshots at 1366×900 and 390×844 go to tests/artifacts/morning/.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from domain.nl_time import local_date
from tests.apiserver import eventually
from tests.operations.test_dashboard_browser import CHROMIUM, LAUNCH_ARGS, LOCALE, urlpath
from tests.operations.test_dashboard_i18n import ENGLISH, _visible
from tests.paths import TESTS

pytestmark = pytest.mark.devserver

SHOTS = TESTS / "artifacts" / "morning"
# English words no Dutch sentence has: a sentence that escaped translation shows itself by them.
COMMON_ENGLISH = ("the", "and", "is due", "overdue", "recorded", "another")
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


async def _open(http: httpx.AsyncClient, server, body: dict[str, Any]) -> None:
    response = await http.post("/api/cases", json=body, headers=server.headers("operations"))
    assert response.status_code == 201, response.text


async def _signed_in(browser, server, who: str, size: str, target: str):
    """A new Dutch browser context of `size`, signed in as `who` with the login form, on `target`."""
    context = await browser.new_context(viewport=SIZES[size], locale=LOCALE, accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await page.goto(server.url + target)
    assert urlpath(page.url) == "/login", page.url
    await page.fill("#token", server.tokens[who])
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(server.url + target)
    return context, page, errors


async def _dutch(page) -> None:
    """Nothing of the English interface on the page a Dutch browser shows."""
    text = _visible(await page.content())
    found = [w for w in (*ENGLISH, *COMMON_ENGLISH) if re.search(rf"\b{re.escape(w)}\b", text)]
    assert not found, f"English on a Dutch page ({page.url}): {found}"
    assert '<html lang="nl">' in await page.content()


async def _shoot(page, name: str, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SHOTS / f"{name}-{size}.png", full_page=True)
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} at {size} is {overflow}px wider than the screen"


async def test_a_casemanagers_morning_and_the_employers_view(api_server):
    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it)")
    from playwright.async_api import async_playwright, expect

    today = local_date(datetime.now(timezone.utc))
    run = uuid.uuid4().hex[:6]
    mine, colleague = f"C-walk-{run}", f"C-walk-other-{run}"
    first = today - timedelta(weeks=12)
    surname = f"Jansen-{run}"
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        # Taken over in week 12: the probleemanalyse done, the plan van aanpak not (overdue); cm-1 holds the case.
        await _open(
            http,
            api_server,
            {
                "case_id": mine,
                "employer_id": "E-api",
                "first_sick_day": first.isoformat(),
                "stage": "spoor1",
                "assigned": {"casemanager": ["cm-1"]},
                "employee": {"surname": surname, "given_names": "P.", "personnel_number": f"P-{run}"},
                "prior_steps": [
                    {"key": "ziekmelding_arbodienst", "done_on": (first + timedelta(days=2)).isoformat()},
                    {"key": "probleemanalyse", "done_on": (first + timedelta(days=40)).isoformat()},
                    {"key": "plan_van_aanpak"},
                ],
            },
        )
        # A colleague's case of the same employer: not on cm-1's work list.
        await _open(
            http,
            api_server,
            {
                "case_id": colleague,
                "employer_id": "E-api",
                "first_sick_day": (today - timedelta(days=2)).isoformat(),
                "assigned": {"casemanager": ["cm-2"]},
                "employee": {"surname": f"de Vries-{run}"},
            },
        )
        await eventually(
            lambda: http.get("/api/worklist", headers=api_server.headers("casemanager")),
            lambda r: mine in {i["case_id"] for i in r.json()["items"]},
        )

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            # ------------------------------------------------ the work list
            context, page, errors = await _signed_in(browser, api_server, "casemanager", "desktop", "/werk")
            work = page.locator("#worklist tbody tr[data-case]")
            row = page.locator(f"#worklist tr[data-case='{mine}']")
            await expect(row).to_have_count(1)
            await expect(row).to_contain_text(surname)
            await expect(row).to_contain_text("Plan v. aanpak")
            await expect(row.locator(".badge.overdue")).to_be_visible()
            assert colleague not in await work.evaluate_all("rs => rs.map(r => r.dataset.case)")
            await expect(page.locator("h1")).to_have_text("Mijn werk")
            await _dutch(page)
            await _shoot(page, "1-werk", "desktop")

            # ------------------------------------------------ the case, from the work list
            await row.locator(f"a[href='/cases/{mine}']").click()
            await page.wait_for_url(f"{api_server.url}/cases/{mine}")
            await expect(page.locator("[data-employee]")).to_contain_text(surname)
            await _dutch(page)
            await _shoot(page, "2-zaak", "desktop")

            # ------------------------------------------------ record the plan van aanpak: refused, then recorded
            form = page.locator("#action-form")
            await expect(form.locator("select[name=kind]")).to_have_value("plan_van_aanpak_agreed")
            await form.locator("input[name=on]").fill((first - timedelta(days=1)).isoformat())
            await form.locator("input[name=f-casemanager_id]").fill("cm-1")
            await form.locator("textarea[name=f-employer_view]").fill("Eerst twee uur per dag")
            await form.locator("textarea[name=f-employee_view]").fill("Akkoord")
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-result]")).to_contain_text("Geweigerd (409): Datum: ")
            await expect(form.locator("[data-error-for=on]")).to_contain_text("eerste ziektedag")
            await _shoot(page, "3-geweigerd", "desktop")

            await form.locator("input[name=on]").fill(today.isoformat())
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-result]")).to_contain_text("Vastgelegd")
            await expect(form.locator("[data-error-for=on]")).to_be_empty()
            await expect(page.locator("#dossier li[data-kind='plan_van_aanpak_agreed']")).to_have_count(1)
            await expect(page.locator("#dossier li[data-kind='plan_van_aanpak_agreed']")).to_contain_text(
                "Plan van aanpak vastgesteld"
            )
            await expect(page.locator("svg#timeline g.dl[data-key='plan_van_aanpak']")).to_have_attribute(
                "data-status", "done"
            )

            # ------------------------------------------------ ask for a document with the form, and download it
            await form.locator("select[name=kind]").select_option("document_requested")
            await form.locator("select[name=f-document]").select_option("reintegratieoverzicht")
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-result]")).to_contain_text("Vastgelegd")
            pdf_link = page.locator("section.documents a[download]").first
            await expect(pdf_link).to_be_visible(timeout=30_000)
            async with page.expect_download() as waiting:
                await pdf_link.click()
            download = await waiting.value
            saved = SHOTS / "reintegratieoverzicht.pdf"
            await download.save_as(saved)
            assert saved.read_bytes().startswith(b"%PDF")
            await _shoot(page, "4-document", "desktop")

            # ------------------------------------------------ hand the case to the bedrijfsarts
            await form.locator("select[name=kind]").select_option("person_assigned")
            await form.locator("select[name=f-role]").select_option("bedrijfsarts")
            await form.locator("input[name=f-person_id]").fill("arts-1")
            await form.locator("button[type=submit]").click()
            await expect(form.locator("[data-result]")).to_contain_text("Vastgelegd")
            await expect(page.locator("dl")).to_contain_text("bedrijfsarts arts-1")
            await _dutch(page)
            await _shoot(page, "5-overgedragen", "desktop")

            # ------------------------------------------------ the search box: by surname, however typed; a
            # colleague's case is not found, as it is not the casemanager's to see
            await page.goto(api_server.url + "/")
            found = page.locator("table.cases tbody tr[data-case]")
            await page.fill("input[name=q]", f"de vries-{run}")
            await page.press("input[name=q]", "Enter")
            await page.wait_for_url(re.compile(r"q=de\+vries"))
            await expect(page.locator("table.cases tbody td.empty")).to_be_visible()
            await expect(found).to_have_count(0)
            await page.fill("input[name=q]", f" {surname.upper()} ")
            await page.press("input[name=q]", "Enter")
            await expect(found).to_have_count(1)
            await expect(found.first).to_have_attribute("data-case", mine)
            await expect(found.first).to_contain_text(surname)
            await _shoot(page, "6-gezocht", "desktop")
            assert not errors, errors
            await context.close()

            # ------------------------------------------------ the same morning on a phone
            context, page, errors = await _signed_in(browser, api_server, "casemanager", "phone", "/werk")
            # Done for this morning: the plan van aanpak is recorded and its evaluation is weeks away.
            await expect(page.locator(f"#worklist tr[data-case='{mine}']")).to_have_count(0)
            await _dutch(page)
            await _shoot(page, "1-werk", "phone")
            await page.goto(f"{api_server.url}/cases/{mine}")
            await _shoot(page, "2-zaak", "phone")
            sentence = await page.locator("#dossier li .text").first.bounding_box()
            assert sentence is not None and sentence["width"] > 250, sentence  # readable, not squeezed aside
            assert not errors, errors
            await context.close()

            # ------------------------------------------------ the employer's view of the same case
            for size in SIZES:
                context, page, errors = await _signed_in(browser, api_server, "werkgever", size, f"/cases/{mine}")
                await expect(page.locator("[data-employee]")).to_contain_text(surname)
                await expect(page.locator("#dossier li[data-kind='plan_van_aanpak_agreed']")).to_have_count(1)
                await _dutch(page)
                await _shoot(page, "7-werkgever", size)
                # Another employer's case stays out of sight: the same answer as a case that does not exist.
                response = await page.goto(f"{api_server.url}/cases/C-walk-missing-{run}")
                assert response is not None and response.status == 404
                assert not errors, errors
                await context.close()
        finally:
            await browser.close()
