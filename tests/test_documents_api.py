"""Documents through the API on the dev server: asked for as an action, listed, downloaded, each version
only for the roles it is for."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from tests.test_api import Api, api, new_id, today  # noqa: F401  (the `api` fixture)

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
    assert doc["document"] == "reintegratieoverzicht" and doc["audience"] == "werkgever" and doc["as_of"] == today().isoformat()
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
    refused = await api.act(case_id, "document_requested", who="casemanager", document="reintegratieoverzicht",
                            audience="bedrijfsarts")
    assert refused.status_code == 409 and "not for the casemanager" in refused.json()["detail"]
    bad = await api.act(case_id, "document_requested", who="casemanager", document="jaarverslag")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "document"]
    asked = await api.act(case_id, "document_requested", who="bedrijfsarts", document="reintegratieoverzicht",
                          audience="bedrijfsarts")
    assert asked.status_code == 200, asked.text
    [doc] = await listed(api, case_id, 1, who="bedrijfsarts")
    html = await api.get(doc["html"], who="bedrijfsarts")
    assert MEDICAL in html.text
    assert (await api.get(f"/api/cases/{case_id}/documents", who="casemanager")).json() == []
    forbidden = await api.get(doc["pdf"], who="casemanager")
    assert forbidden.status_code == 403 and "bedrijfsarts version" in forbidden.json()["detail"]
