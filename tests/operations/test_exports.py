"""Issue 21: the re-integratieverslag as UWV's portal takes it (a ZIP of PDFs named by type and date, with an index),
and the overview's case list as CSV with the overview's filters; both within the caller's scope, on the dev server."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.apiserver import eventually
from tests.operations.test_api import Api, new_id, today
from tests.operations.test_cli_operations import base_env, cli, run  # noqa: F401  (the `cli` fixture)
from tests.operations.test_documents_api import MEDICAL, listed

pytestmark = pytest.mark.devserver
DUTCH = {"Accept-Language": "nl"}


@pytest.fixture
async def api(api_server):
    async with httpx.AsyncClient(base_url=api_server.url, timeout=60, headers={"Accept-Language": "en"}) as http:
        yield Api(api_server, http)


def unzipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


async def test_the_bundle_holds_each_document_the_reader_may_open_as_a_pdf_named_by_type_and_date(api):
    case_id = new_id()
    # Day 60: the probleemanalyse is on record, the plan van aanpak (due in week 8) is not.
    first = today() - timedelta(days=59)
    assert (await api.open(case_id, first_sick_day=first.isoformat())).status_code == 201
    pa = await api.act(
        case_id,
        "probleemanalyse_recorded",
        who="bedrijfsarts",
        note=MEDICAL,
        on=(first + timedelta(days=29)).isoformat(),
    )
    assert pa.status_code == 200, pa.text
    yesterday = today() - timedelta(days=1)
    for who, audience, on in (
        ("werkgever", "werkgever", yesterday),
        ("werkgever", "werkgever", today()),
        ("casemanager", "werkgever", today()),  # the same type and date again
        ("bedrijfsarts", "bedrijfsarts", today()),
    ):
        asked = await api.act(
            case_id,
            "document_requested",
            who=who,
            document="reintegratieoverzicht",
            audience=audience,
            on=on.isoformat(),
        )
        assert asked.status_code == 200, asked.text
    everything = await listed(api, case_id, 4, who="bedrijfsarts")
    theirs = [d for d in everything if d["audience"] == "werkgever"]

    r = await api.get(f"/api/cases/{case_id}/bundle", who="werkgever")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip" and r.headers["cache-control"] == "private, no-store"
    assert f'filename="re-integratieverslag-{case_id}-{today().isoformat()}.zip"' in r.headers["content-disposition"]
    files = unzipped(r.content)
    day, before = today().isoformat(), yesterday.isoformat()
    assert sorted(files) == sorted(
        [
            "inhoud.txt",
            f"re-integratieoverzicht-{before}.pdf",
            f"re-integratieoverzicht-{day}.pdf",
            f"re-integratieoverzicht-{day}-2.pdf",
        ]
    )
    # Names a portal takes: no spaces, no characters beyond lowercase letters, digits, '-' and the extension.
    assert all(re.fullmatch(r"[a-z0-9-]+\.(pdf|txt)", name) for name in files)
    pdfs = {name: data for name, data in files.items() if name.endswith(".pdf")}
    assert all(data.startswith(b"%PDF") for data in pdfs.values())
    # Each the stored document: its hash is the one the dossier recorded for a werkgever's version.
    assert sorted(hashlib.sha256(d).hexdigest() for d in pdfs.values()) == sorted(d["pdf_sha256"] for d in theirs)

    index = files["inhoud.txt"].decode("utf-8")
    assert f"zaak {case_id}" in index and "In deze bundel (3 documenten)" in index
    assert all(name in index for name in pdfs) and all(d["pdf_sha256"] in index for d in theirs)
    # What the re-integratieverslag still lacks, by the poortwachtertoets: the plan van aanpak is overdue.
    assert re.search(r"ONTBREEKT: Plan van aanpak", index), index
    assert re.search(r"aanwezig: Probleemanalyse", index), index
    assert MEDICAL not in index and "versie-bedrijfsarts" not in index

    # The bedrijfsarts's bundle has its confidential version too; the werkgever's above did not.
    mine = unzipped((await api.get(f"/api/cases/{case_id}/bundle", who="bedrijfsarts")).content)
    assert f"re-integratieoverzicht-{day}-versie-bedrijfsarts.pdf" in mine and len(mine) == 5
    # Another employer's HR: no such case. A bundle read no document for it.
    refused = await api.get(f"/api/cases/{case_id}/bundle", who="other_werkgever")
    assert refused.status_code == 404 and "that you may see" in refused.text

    # Every document put in is a read of that document in the audit, by whoever took the bundle.
    reads = (await api.get("/api/audit", case_id=case_id, what="document")).json()["records"]
    assert sorted(r["object_id"] for r in reads if r["reader_id"] == "hr-1") == sorted(d["order_id"] for d in theirs)
    assert not [r for r in reads if r["reader_id"] == "hr-2"]


async def test_a_case_without_documents_gives_an_index_that_says_what_to_ask_for(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    r = await api.get(f"/api/cases/{case_id}/bundle", who="casemanager")
    assert r.status_code == 200, r.text
    files = unzipped(r.content)
    assert list(files) == ["inhoud.txt"]
    assert "nog niet gemaakt: het re-integratieoverzicht" in files["inhoud.txt"].decode("utf-8")


def rows_of(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeff".encode())  # the byte order mark Excel reads UTF-8 by
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


async def test_the_case_list_exports_as_csv_with_the_listings_filters_and_scope(api):
    surname = f"Zwart{uuid.uuid4().hex[:6]}"
    ours, other, elsewhere = new_id(), new_id(), new_id()
    employee = {"surname": surname, "given_names": "Ömer"}
    first = {
        ours: today() - timedelta(days=2),
        other: today() - timedelta(days=10),
        elsewhere: today() - timedelta(days=20),
    }
    assert (await api.open(ours, first_sick_day=first[ours].isoformat(), employee=employee)).status_code == 201
    assert (
        await api.open(other, first_sick_day=first[other].isoformat(), employee={"surname": "Bakker"})
    ).status_code == 201
    opened = await api.open(elsewhere, "E-other", first_sick_day=first[elsewhere].isoformat(), employee=employee)
    assert opened.status_code == 201
    await eventually(lambda: api.listed(q=surname), lambda found: found == sorted([ours, elsewhere]))

    async def export(who: str = "operations", **params: str) -> list[list[str]]:
        return rows_of(await api.http.get("/api/cases.csv", params=params, headers=api.server.headers(who) | DUTCH))

    r = await api.http.get("/api/cases.csv", params={"q": surname}, headers=api.server.headers("operations") | DUTCH)
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="zaken-{today().isoformat()}.csv"' in r.headers["content-disposition"]
    header, *rows = rows_of(r)
    assert header == [
        "Zaak",
        "Werkgever",
        "Werknemer",
        "Fase",
        "Week",
        "Eerste ziektedag",
        "Eerstvolgende termijn",
        "Stap",
        "Fase spoor 2",
        "Coach",
        "Te laat",
        "Escalatie",
    ]
    # The same rows as the JSON listing for the same filter, and only those.
    assert sorted(row[0] for row in rows) == await api.listed(q=surname) == sorted([ours, elsewhere])
    row = next(row for row in rows if row[0] == ours)
    assert row[1:4] == ["E-api", f"{surname}, Ömer", "Ziekmelding"] and row[5] == first[ours].isoformat()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", row[6]) and row[7] == "Ziekmelding" and row[10] == "nee"
    # The overview's order, over the whole export.
    by_first_day = await export(q=surname, sort="first_sick_day")
    assert [row[0] for row in by_first_day[1:]] == [elsewhere, ours]
    # Filters narrow it as they narrow the listing: another stage, another employer.
    assert await export(q=surname, stage="spoor2") == [header]
    assert [row[0] for row in (await export(q=surname, employer_id="E-other"))[1:]] == [elsewhere]

    # A werkgever exports its own employer's cases only, whatever it asks for.
    mine = await export("werkgever", q=surname)
    assert [row[0] for row in mine[1:]] == [ours] and mine[1][2] == f"{surname}, Ömer"
    assert [row[0] for row in (await export("werkgever", q=surname, employer_id="E-other"))[1:]] == [ours]
    assert [row[0] for row in (await export("other_werkgever", q=surname))[1:]] == [elsewhere]
    everything = await export("werkgever")
    assert other in {row[0] for row in everything} and elsewhere not in {row[0] for row in everything}

    # Bad input is named by its field.
    bad = await api.http.get("/api/cases.csv", params={"sort": "salary"}, headers=api.server.headers("operations"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sort"]
    bad = await api.http.get("/api/cases.csv", params={"deadline_before": "soon"}, headers=api.server.headers())
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "deadline_before"]


async def test_the_overviews_export_link_carries_its_filters(api, api_server):
    surname = f"Zwart{uuid.uuid4().hex[:6]}"
    case_id = new_id()
    assert (await api.open(case_id, employee={"surname": surname})).status_code == 201
    await eventually(lambda: api.listed(q=surname), lambda found: found == [case_id])
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as browser:
        await browser.post("/login", data={"token": api_server.tokens["werkgever"], "next": "/"})
        page = await browser.get("/", params={"q": surname, "stage": "ziekmelding", "sort": "next_deadline"})
        assert page.status_code == 200 and "Exporteer (CSV)" in page.text
        [link] = re.findall(r'href="([^"]+)"[^>]*data-export', page.text)
        link = link.replace("&amp;", "&")
        assert link.startswith("/api/cases.csv?") and f"q={surname}" in link
        assert "stage=ziekmelding" in link and "sort=next_deadline" in link and "employer_id" not in link
        rows = rows_of(await browser.get(link))  # the session cookie opens it, as the documents
        assert [row[0] for row in rows[1:]] == [case_id]
        # The case page offers the bundle on its documents card.
        case_page = await browser.get(f"/cases/{case_id}")
        assert f'href="/api/cases/{case_id}/bundle"' in case_page.text
        assert "Re-integratieverslag downloaden (zip)" in case_page.text


async def test_the_command_line_saves_the_bundle_and_the_csv_through_the_api_and_directly(
    api, cli, api_server, tmp_path, tmp_path_factory
):
    employer = f"E-cli{uuid.uuid4().hex[:6]}"
    case_id = new_id()
    assert (await api.open(case_id, employer, employee={"surname": "Visser"})).status_code == 201
    asked = await api.act(case_id, "document_requested", document="reintegratieoverzicht")
    assert asked.status_code == 200, asked.text
    [doc] = await listed(api, case_id, 1)
    await eventually(lambda: api.listed(employer_id=employer), lambda found: found == [case_id])
    name = f"re-integratieoverzicht-{today().isoformat()}.pdf"

    saved = tmp_path / "verslag.zip"
    done = await cli("bundle", case_id, "--out", str(saved))
    assert done.rc == 0, done.err
    assert "Opgeslagen" in done.out and name in done.out
    files = unzipped(saved.read_bytes())
    assert sorted(files) == ["inhoud.txt", name] and hashlib.sha256(files[name]).hexdigest() == doc["pdf_sha256"]
    again = await cli("bundle", case_id, "--out", str(saved))
    assert again.rc == 2 and "bestaat al" in again.err  # nothing overwritten without --force
    assert (await cli("bundle", case_id, "--out", str(saved), "--force")).rc == 0

    printed = await cli("cases", "--csv", "--employer", employer)
    assert printed.rc == 0, printed.err
    rows = list(csv.reader(io.StringIO(printed.out), delimiter=";"))
    assert rows[0][:3] == ["Zaak", "Werkgever", "Werknemer"] and [r[:3] for r in rows[1:]] == [
        [case_id, employer, "Visser"]
    ]
    out = tmp_path / "zaken.csv"
    assert (await cli("cases", "--csv", "--employer", employer, "--out", str(out))).rc == 0
    assert out.read_bytes().startswith("\ufeff".encode()) and case_id in out.read_text("utf-8-sig")
    refused = await cli("cases", "--sort", "stage")
    assert refused.rc == 2 and "--sort" in refused.err

    # --direct: straight from Temporal and the document store, as operations, recorded in the read audit.
    env = base_env(
        tmp_path,
        TEMPORAL_ADDRESS=api_server.env.client.service_client.config.target_host,
        SPOORWERK_TASK_QUEUE=api_server.task_queue,
        SPOORWERK_DOCUMENTS_DIR=str(tmp_path_factory.getbasetemp() / "documents"),
    )
    direct_zip = tmp_path / "direct.zip"
    direct = await run("bundle", case_id, "--out", str(direct_zip), "--direct", "--actor-id", "ops-night", env=env)
    assert direct.rc == 0, direct.err
    assert sorted(unzipped(direct_zip.read_bytes())) == ["inhoud.txt", name]
    direct_csv = await run("cases", "--csv", "--employer", employer, "--direct", env=env)
    assert direct_csv.rc == 0 and [r[0] for r in csv.reader(io.StringIO(direct_csv.out), delimiter=";")][1:] == [
        case_id
    ]
    audit = await run("audit", "--case", case_id, "--json", env=env)
    assert {(r["reader_id"], r["what"], r["object_id"]) for r in audit.json()["records"]} >= {
        ("ops-night", "documents", None),
        ("ops-night", "document", doc["order_id"]),
    }


async def test_in_a_browser_the_export_downloads_the_list_as_filtered(api, api_server):
    """The overview's form narrowed by a person, then "Exporteer (CSV)": the file holds what the page lists."""
    from tests.operations.test_dashboard_browser import CHROMIUM, LAUNCH_ARGS, LOCALE, _login

    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    surname = f"Zwart{uuid.uuid4().hex[:6]}"
    found, missed = new_id(), new_id()
    assert (await api.open(found, employee={"surname": surname})).status_code == 201
    assert (await api.open(missed, employee={"surname": "Bakker"})).status_code == 201
    await eventually(lambda: api.listed(q=surname), lambda ids: ids == [found])
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = await (await browser.new_context(locale=LOCALE, accept_downloads=True)).new_page()
            await _login(page, api_server, "werkgever", "/")
            form = page.locator("form.filters")
            await form.locator("input[name=q]").fill(surname)
            await form.locator("select[name=stage]").select_option("ziekmelding")
            await form.locator("select[name=sort]").select_option("first_sick_day")
            await form.locator("button[type=submit]").click()
            await expect(page.locator("table#cases tbody tr")).to_have_count(1)
            link = page.locator("a[data-export]")
            await expect(link).to_have_text("Exporteer (CSV)")
            href = await link.get_attribute("href") or ""
            assert all(part in href for part in (f"q={surname}", "stage=ziekmelding", "sort=first_sick_day"))
            async with page.expect_download() as info:
                await link.click()
            download = await info.value
            assert download.suggested_filename == f"zaken-{today().isoformat()}.csv"
            text = Path(await download.path()).read_bytes().decode("utf-8-sig")
        finally:
            await browser.close()
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Zaak" and [row[0] for row in rows[1:]] == [found]
