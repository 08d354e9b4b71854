"""Documents through the API on the dev server: asked for as an action, listed, downloaded, each version
only for the roles it is for."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from tests.operations.test_api import Api, api, new_id, today  # noqa: F401  (the `api` fixture)

pytestmark = pytest.mark.devserver
MEDICAL = "Diagnose: lumbale hernia L4-L5"


async def listed(api: Api, case_id: str, count: int, who: str = "operations") -> list[dict]:
    for _ in range(600):
        r = await api.get(f"/api/cases/{case_id}/documents", who=who)
        assert r.status_code == 200, r.text
        if len(r.json()) >= count:
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{case_id} lists {len(r.json())} documents, not {count}")


async def test_a_requested_overview_is_listed_and_downloads_with_its_hash(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    assert (await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=MEDICAL)).status_code == 200
    asked = await api.act(case_id, "document_requested", who="werkgever", document="reintegratieoverzicht")
    assert asked.status_code == 200, asked.text
    assert asked.json()["entry"]["summary"] == "Document requested: reintegratieoverzicht (werkgever version)"

    [doc] = await listed(api, case_id, 1, who="werkgever")
    assert (
        doc["document"] == "reintegratieoverzicht"
        and doc["audience"] == "werkgever"
        and doc["as_of"] == today().isoformat()
    )
    pdf = await api.get(doc["pdf"], who="werkgever")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and hashlib.sha256(pdf.content).hexdigest() == doc["pdf_sha256"]
    assert pdf.headers["cache-control"] == "private, no-store" and "attachment" in pdf.headers["content-disposition"]
    html = await api.get(doc["html"], who="werkgever")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert case_id in html.text and MEDICAL not in html.text

    # Another employer's HR sees neither the list nor the file: to it the case is not there.
    assert (await api.get(f"/api/cases/{case_id}/documents", who="other_werkgever")).status_code == 404
    assert (await api.get(doc["pdf"], who="other_werkgever")).status_code == 404
    assert (await api.get(f"/api/cases/{case_id}/documents/nothing.pdf")).status_code == 404


async def test_the_bedrijfsarts_version_is_for_the_bedrijfsarts_only(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    assert (await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=MEDICAL)).status_code == 200
    refused = await api.act(
        case_id, "document_requested", who="casemanager", document="reintegratieoverzicht", audience="bedrijfsarts"
    )
    assert refused.status_code == 409 and "not for the casemanager" in refused.json()["detail"]
    bad = await api.act(case_id, "document_requested", who="casemanager", document="jaarverslag")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "document"]
    asked = await api.act(
        case_id, "document_requested", who="bedrijfsarts", document="reintegratieoverzicht", audience="bedrijfsarts"
    )
    assert asked.status_code == 200, asked.text
    [doc] = await listed(api, case_id, 1, who="bedrijfsarts")
    html = await api.get(doc["html"], who="bedrijfsarts")
    assert MEDICAL in html.text
    assert (await api.get(f"/api/cases/{case_id}/documents", who="casemanager")).json() == []
    forbidden = await api.get(doc["pdf"], who="casemanager")
    assert forbidden.status_code == 403 and "bedrijfsarts version" in forbidden.json()["detail"]

    # While none is assigned, the bedrijfsarts of the pool sees the case but not the version another asked for: its
    # notes are medical, as in the dossier. Once one is assigned, that one treats the case and reads it, only it.
    assert (await api.get(f"/api/cases/{case_id}/documents", who="other_bedrijfsarts")).json() == []
    pooled = await api.get(doc["pdf"], who="other_bedrijfsarts")
    assert pooled.status_code == 403 and "who treats the case" in pooled.json()["detail"]
    assigned = await api.act(case_id, "person_assigned", role="bedrijfsarts", person_id="arts-2")
    assert assigned.status_code == 200, assigned.text
    opened = await api.get(doc["pdf"], who="other_bedrijfsarts")
    assert opened.status_code == 200 and hashlib.sha256(opened.content).hexdigest() == doc["pdf_sha256"]
    # The one who asked for it no longer treats the case: to it the case is not there at all (domain.access).
    assert (await api.get(doc["pdf"], who="bedrijfsarts")).status_code == 404


async def test_the_case_page_lists_the_versions_its_reader_may_open_and_they_download(api):
    """Issue 20, documents on the case page: a person opens the PDF from the dashboard, signed in, no token or curl."""
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    assert (await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=MEDICAL)).status_code == 200
    for who, audience in (("werkgever", "werkgever"), ("bedrijfsarts", "bedrijfsarts")):
        asked = await api.act(
            case_id, "document_requested", who=who, document="reintegratieoverzicht", audience=audience
        )
        assert asked.status_code == 200, asked.text
    # The bedrijfsarts may open both versions: once it lists two, both are rendered.
    docs = {d["audience"]: d for d in await listed(api, case_id, 2, who="bedrijfsarts")}

    async def page_of(browser: httpx.AsyncClient, who: str) -> str:
        await browser.post("/login", data={"token": api.server.tokens[who], "next": "/"})
        page = await browser.get(f"/cases/{case_id}")
        assert page.status_code == 200
        return page.text

    async with httpx.AsyncClient(base_url=api.server.url, timeout=30) as browser:
        html = await page_of(browser, "werkgever")
        assert f'href="{docs["werkgever"]["pdf"]}"' in html and docs["bedrijfsarts"]["pdf"] not in html
        assert "Re-integratieoverzicht" in html
        pdf = await browser.get(docs["werkgever"]["pdf"])  # the session cookie opens it
        assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == docs["werkgever"]["pdf_sha256"]
    async with httpx.AsyncClient(base_url=api.server.url, timeout=30) as browser:
        html = await page_of(browser, "bedrijfsarts")
        assert docs["bedrijfsarts"]["pdf"] in html and "vertrouwelijk" in html
