"""One timeline drawing (documents.timeline): the dashboard's case page and the documents show the same picture.

The same case gives the same lanes, marks, colours and labels in both; only what the dashboard adds differs (its
tooltips, the links to the page's rows, the attributes its script finds marks by) and the name of the as-of line
(today on the dashboard, the peildatum in a document). First from the states of a whole case built with the domain
functions (spoor 1, AD, three phases of spoor 2 with a pause, escalations), then through the real case page of a
running service against the document its worker would make of the same case.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from documents.render import render_html
from domain import case as c
from domain import glossary
from domain import spoor2 as s2
from domain.documents import Audience, DocumentKind, DocumentOrder
from domain.nl_time import local_date
from operations import cases
from operations.dashboard import _timeline
from service import i18n
from service.rulebook import load_dossier_rules
from tests.documents.test_documents_render import Seed, full_case
from workflows.sick_leave_case import SickLeaveCase

SVG = "{http://www.w3.org/2000/svg}"
# What only the dashboard's version carries: its tooltips, links and the attributes it finds marks by.
INTERACTIVE_ATTRIBUTES = re.compile(r"^(data-.*|id|role|aria-label)$")
# The texts that name the as-of line: "vandaag …" on the dashboard, "peildatum …" in a document.
AS_OF_CLASSES = {"today-label", "legend-label legend-now"}


def _document_svg(html: str) -> ET.Element:
    found = re.search(r'<img class="timeline" src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert found, "the document has no timeline picture"
    return ET.fromstring(base64.b64decode(found.group(1)))


def _page_svg(html: str) -> ET.Element:
    found = re.search(r'<svg id="timeline".*?</svg>', html, flags=re.S)
    assert found, "the case page has no timeline"
    return ET.fromstring(found.group(0))


def _drawing(svg: ET.Element) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    """Every shape and text of the drawing in order, without what only the dashboard's version carries."""
    out = []
    for el in svg.iter():
        tag = el.tag.removeprefix(SVG)
        if tag in ("title", "a"):
            continue
        attrs = tuple(sorted((k, v) for k, v in el.attrib.items() if not INTERACTIVE_ATTRIBUTES.match(k)))
        text = "" if el.get("class") in AS_OF_CLASSES else (el.text or "")
        out.append((tag, attrs, text))
    return out


def _texts(svg: ET.Element, css: str) -> list[str]:
    return [el.text or "" for el in svg.iter() if (el.get("class") or "").split(" ")[0] == css]


def _count(svg: ET.Element, css: str) -> int:
    return sum(1 for el in svg.iter() if css in (el.get("class") or "").split(" "))


@pytest.fixture(scope="module")
def late() -> Seed:
    return full_case("C-timeline", late_pa=True)


def test_the_dashboard_and_the_documents_draw_the_same_timeline_of_a_case(late: Seed):
    as_of = late.day(7 * 92)
    order = DocumentOrder(order_id="t", kind=DocumentKind.REINTEGRATIEOVERZICHT, as_of=as_of)
    document = _document_svg(render_html(order, late.case, late.traj, preflight=load_dossier_rules().preflight))
    # What the case page queries of the case and its trajectory (SickLeaveCase.summary, deadlines, dossier; the
    # trajectory's view), drawn for a Dutch reader.
    with i18n.using("nl"):
        page = ET.fromstring(
            _timeline(
                c.summarize(late.case, as_of),
                c.deadlines(late.case, as_of),
                c.dossier_lines(late.case, as_of),
                s2.view(late.traj, as_of),
                as_of,
            )
        )
    assert _drawing(page) == _drawing(document)

    # The same lanes, by the glossary's names, in Dutch in both.
    lanes = [glossary.TIMELINE_LANES[k] for k in ("steps", "spoor1", "ad", "spoor2", "escalation", "dossier")]
    with i18n.using("nl"):
        assert _texts(document, "lane-label") == [i18n.gettext(k) for k in lanes]
    assert _texts(document, "lane-label")[0] == "Wettelijke stappen"
    # The marks a reader relies on: every dated statutory step, spoor 1 and the AD, three phases and the pause,
    # the escalations (levels 1, 1, 2, 3) and the dossier's entries.
    dated = [v for v in c.deadlines(late.case, as_of) if v.due or v.done_on]
    assert _count(document, "dl") == len(dated) and _count(page, "dl") == len(dated)
    assert _count(document, "track-spoor1") == 1 and _count(document, "track-ad") == 1
    phases = [el for el in document.iter(f"{SVG}g") if (el.get("class") or "").startswith("phase ")]
    assert [t.text for g in phases for t in g.iter(f"{SVG}text")] == ["Fase 1", "Fase 2", "Fase 3"]
    assert _count(document, "pause") == 1 and _count(document, "haalbaarheid-go") == 1
    assert _texts(document, "esc-level") == ["1", "1", "2", "3"]
    # Only the dashboard's version has tooltips and links; the as-of line is named for each.
    assert not list(document.iter(f"{SVG}title")) and not list(document.iter(f"{SVG}a"))
    assert len(list(page.iter(f"{SVG}title"))) > 100 and len(list(page.iter(f"{SVG}a"))) > 100
    assert _texts(page, "today-label") == ["vandaag 12 okt 2025"]
    assert _texts(document, "today-label") == ["peildatum 12 okt 2025"]


def test_the_late_probleemanalyse_stands_out_the_same_way_in_both(late: Seed):
    """Done 9 days late without a reason: a red ring, a red line from the due day to the day done, a red label."""
    as_of = late.day(7 * 92)
    order = DocumentOrder(order_id="t", kind=DocumentKind.REINTEGRATIEOVERZICHT, as_of=as_of)
    document = _document_svg(render_html(order, late.case, late.traj, preflight=load_dossier_rules().preflight))
    marks = [el for el in document.iter(f"{SVG}g") if el.get("class") == "dl dl-done late"]
    assert len(marks) == 1
    circle = marks[0].find(f"{SVG}circle")
    link = marks[0].find(f"{SVG}line")
    assert circle is not None and link is not None
    assert circle.get("stroke") == "#c62828" and link.get("stroke") == "#c62828"
    label = [el for el in document.iter(f"{SVG}text") if el.text == "Probleemanalyse"]
    assert len(label) == 1 and label[0].get("fill") == "#c62828"


@pytest.mark.devserver
async def test_a_case_page_and_its_document_show_the_same_timeline(api_server):
    """Through the service: the page a casemanager opens and the overview the worker would render of that case
    today draw the same; each mark on the page links to its row (the step's deadline, the dossier entry)."""
    today = local_date(datetime.now(timezone.utc))
    first = today - timedelta(weeks=20)
    case_id = f"C-tl-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        opened = await http.post(
            "/api/cases",
            headers=api_server.headers(),
            json={
                "case_id": case_id,
                "employer_id": "E-api",
                "first_sick_day": first.isoformat(),
                "stage": "spoor1",
                "prior_steps": [
                    {"key": "ziekmelding_arbodienst", "done_on": (first + timedelta(days=2)).isoformat()},
                    {"key": "probleemanalyse", "done_on": (first + timedelta(days=45)).isoformat()},
                    {"key": "plan_van_aanpak"},
                ],
            },
        )
        assert opened.status_code == 201, opened.text
        reported = await http.post(
            f"/api/cases/{case_id}/actions/stagnation_reported",
            json={"on": today.isoformat()},
            headers=api_server.headers("casemanager"),
        )
        assert reported.status_code == 200, reported.text
        signed_in = await http.post("/login", data={"token": api_server.tokens["operations"], "next": "/"})
        assert signed_in.status_code == 303
        page = await http.get(f"/cases/{case_id}")
        assert page.status_code == 200, page.text

    state = await cases.case_handle(api_server.env.client, case_id).query(SickLeaveCase.state)
    order = DocumentOrder(
        order_id="t", kind=DocumentKind.REINTEGRATIEOVERZICHT, as_of=today, audience=Audience.WERKGEVER
    )
    document = _document_svg(render_html(order, state, None, preflight=load_dossier_rules().preflight))
    drawn = _page_svg(page.text)
    assert _drawing(drawn) == _drawing(document)
    pva = [el for el in drawn.iter(f"{SVG}g") if el.get("data-key") == "plan_van_aanpak"]
    assert [el.get("data-status") for el in pva] == ["overdue"]  # taken over without one
    assert pva[0].find(f"{SVG}line") is not None  # its line runs on to today
    assert _count(drawn, "esc-raised") >= 1
    assert _count(drawn, "esc-other") == 1  # the stagnation reported

    targets = re.findall(r'<a href="#([^"]+)">', _svg_text(page.text))
    assert any(t.startswith("step-") for t in targets) and any(t.startswith("entry-") for t in targets)
    ids = set(re.findall(r'\bid="([^"]+)"', page.text))
    assert not [t for t in targets if t not in ids], "a mark links to a row the page does not have"


def _svg_text(html: str) -> str:
    found = re.search(r'<svg id="timeline".*?</svg>', html, flags=re.S)
    assert found
    return found.group(0)


def test_dates_are_the_readers_on_the_dashboard():
    """The page draws in its reader's language; a document in Dutch, whoever asks for it."""
    seed = Seed("C-tl-lang", date(2026, 1, 5))
    seed.act("ziekmelding_arbodienst_sent", seed.day(2), role="werkgever", actor_id="hr-1")
    as_of = seed.day(30)
    inputs = (
        c.summarize(seed.case, as_of),
        c.deadlines(seed.case, as_of),
        c.dossier_lines(seed.case, as_of),
        None,
        as_of,
    )
    with i18n.using("en"):
        english = ET.fromstring(_timeline(*inputs))
        order = DocumentOrder(order_id="t", kind=DocumentKind.REINTEGRATIEOVERZICHT, as_of=as_of)
        document = _document_svg(render_html(order, seed.case, None, preflight=load_dossier_rules().preflight))
    assert _texts(english, "lane-label")[0] == "Statutory steps" and _texts(english, "lane-empty") == ["no trajectory"]
    assert _texts(english, "today-label") == ["today Feb 3, 2026"]
    assert _texts(document, "lane-label")[0] == "Wettelijke stappen"
    assert _texts(document, "lane-empty") == ["geen traject"]
