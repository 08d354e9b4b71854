"""Issue 20: the dashboard speaks Dutch by default and English on request, with the glossary's labels and no raw keys.

Against the real app and a worker on the dev server (`api_server`), over HTTP as a browser would: signed in with a
token, the pages answer in Dutch; with `Accept-Language: en`, or after the header's NL | EN switch, in English. The
case page's dossier is newest first by its date, and neither the page nor its action forms show a step's key.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from domain import glossary
from domain.case import WHILE_RECOVERED_KINDS
from domain.nl_time import local_date
from operations.dashboard import _action_fields
from operations.pages import _detail_value
from service import i18n
from service.i18n import LANGUAGE_COOKIE
from service.rulebook import load_rulebook
from tests.operations.test_api import Api

pytestmark = pytest.mark.devserver

# Words of the English pages that must not show on a Dutch one.
ENGLISH = (
    "Overview",
    "Running cases",
    "Next deadline",
    "Record",
    "Sign out",
    "days",
    "Escalation",
    "Timeline",
    "Statutory deadlines",
    "newest first",
)


def _visible(page: str) -> str:
    """What a person reads on a page: its text, the dossier's sentences, and the titles, labels and placeholders of
    its elements (not the script's data)."""
    page = re.sub(r"<script\b.*?</script>", " ", page, flags=re.S)
    said = re.findall(r'\b(?:title|aria-label|placeholder|label)="([^"]*)"', page)
    page = re.sub(r"<title>(.*?)</title>", r" \1 ", page, flags=re.S)  # SVG titles are the timeline's tooltips
    return html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + " ".join(said))


async def _open_case(http: httpx.AsyncClient, server, today: date) -> str:
    """A case taken over in week 9 whose dossier was recorded out of date order: the later day first."""
    case_id = f"C-i18n-{uuid.uuid4().hex[:6]}"
    first = today - timedelta(weeks=8)
    opened = await http.post(
        "/api/cases",
        headers=server.headers(),
        json={
            "case_id": case_id,
            "employer_id": "E-api",
            "first_sick_day": first.isoformat(),
            "prior_steps": [{"key": "ziekmelding_arbodienst", "done_on": (first + timedelta(days=1)).isoformat()}],
        },
    )
    assert opened.status_code == 201, opened.text
    for kind, on, who in (
        ("person_assigned", today - timedelta(days=2), "operations"),
        ("probleemanalyse_recorded", today - timedelta(days=10), "bedrijfsarts"),
    ):
        body = {
            "on": on.isoformat(),
            **({"role": "casemanager", "person_id": "cm-1"} if kind == "person_assigned" else {}),
        }
        r = await http.post(f"/api/cases/{case_id}/actions/{kind}", json=body, headers=server.headers(who))
        assert r.status_code == 200, r.text
    return case_id


async def test_the_dashboard_is_dutch_by_default_and_english_on_request(api_server):
    today = local_date(datetime.now(timezone.utc))
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        case_id = await _open_case(http, api_server, today)
        login = await http.get("/login")
        assert '<html lang="nl">' in login.text and "Inloggen" in login.text and "Sign in" not in login.text
        assert (
            await http.post("/login", data={"token": api_server.tokens["operations"], "next": "/"})
        ).status_code == 303

        # Dutch by default: the overview and the case page, labels and dates included.
        overview = await http.get("/", params={"employer_id": "E-api"})
        assert overview.status_code == 200 and '<html lang="nl">' in overview.text
        text = _visible(overview.text)
        for dutch in ("Lopende zaken", "Eerstvolgende termijn", "Werkgever", "Uitloggen", "Filteren", "Fase"):
            assert dutch in text, dutch
        for english in ENGLISH:
            assert english not in text, english
        assert re.search(r"\d+ zaken?\b", text)  # counted with the right plural

        page = await http.get(f"/cases/{case_id}")
        assert page.status_code == 200, page.text
        text = _visible(page.text)
        for dutch in (
            "Zaak",
            "Eerstvolgende termijn",
            "Wettelijke termijnen",
            "Tijdlijn",
            "Actie vastleggen",
            "Vastleggen",
            "Toegewezen",
            "Eerste ziektedag",
            "nieuwste bovenaan",
            "vandaag",
            "Probleemanalyse vastgelegd",
            "Persoon toegewezen",
        ):
            assert dutch in text, dutch
        for english in ENGLISH:
            assert english not in text, english
        first_sick_day = today - timedelta(weeks=8)
        assert f"{first_sick_day.day} " in text and first_sick_day.isoformat() not in text  # "6 dec. 2026", not ISO

        # The dossier: newest first by its date, not by the order it was recorded in; each line by its glossary name.
        entries = re.findall(r'<li data-kind="([a-z0-9_]+)"[^>]*>\s*<span class="seq">(\d+)</span>', page.text)
        kinds = [kind for kind, _seq in entries]
        assert kinds.index("person_assigned") < kinds.index("probleemanalyse_recorded") < kinds.index("case_opened")
        seqs = dict((kind, int(seq)) for kind, seq in entries)
        assert seqs["person_assigned"] < seqs["probleemanalyse_recorded"]  # recorded first, yet shown above it

        # No raw keys anywhere a person reads: steps, entry kinds, roles' enum values with underscores.
        keys = {d.key for d in load_rulebook().for_first_sick_day(today).deadlines} | set(glossary.ENTRY_KINDS)
        shown_keys = sorted(k for k in keys if "_" in k and re.search(rf"\b{k}\b", text))
        assert not shown_keys, shown_keys
        assert not re.search(r"\b[a-z]+#\d", text), "an occurrence shown as its key (evaluatie#2)"
        # The action picker lists actions by their glossary label, and the form's fields are Dutch.
        picker = dict(re.findall(r'<option value="([a-z0-9_]+)" data-path="[^"]*"[^>]*>([^<]*)</option>', page.text))
        assert all("_" not in label for label in picker.values()), picker
        form = re.search(r'data-specs="([^"]*)"', page.text)
        assert form is not None, "the case page has no action form"
        specs = html.unescape(form.group(1))
        assert '"label": "Casemanager"' in specs and '"label": "Zienswijze werkgever"' in specs
        assert (
            '["no_go_rapport", "Rapport haalbaarheidstoets: no-go"]' in specs
            and '"help": "Optioneel; wordt bewaard in het dossier"' in specs
        )
        # A deviation's step is chosen from the case's own steps by name, not typed as a key.
        deviation = {f["name"]: f for f in json.loads(specs)["deadline_deviation"]}["deadline"]
        assert deviation["widget"] == "select"
        assert ["probleemanalyse", "Probleemanalyse door de bedrijfsarts"] in deviation["options"]
        assert "(Spoor 1)" in text and "(spoor1)" not in text  # the expectation's stage by its name

        # English with Accept-Language: en, for the same session.
        in_english = await http.get(f"/cases/{case_id}", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="en">' in in_english.text
        text = _visible(in_english.text)
        for word in ("Next deadline", "Record an action", "Statutory deadlines", "Sign out", "newest first"):
            assert word in text, word
        for dutch in ("Eerstvolgende termijn", "Termijnen", "gedaan", "Uitloggen"):  # the legend's labels too
            assert dutch not in text, dutch

        # The header's switch: a choice that outlasts the request, and back to the page it was made on.
        switched = await http.post("/language", data={"lang": "en", "next": f"/cases/{case_id}"})
        assert switched.status_code == 303 and switched.headers["location"] == f"/cases/{case_id}"
        assert http.cookies.get(LANGUAGE_COOKIE) == "en"
        overview = await http.get("/", headers={"Accept-Language": "nl"})  # the choice wins over the browser's
        assert '<html lang="en">' in overview.text and "Running cases" in overview.text
        # A browser's form says where it came from in its Referer: back to that page of ours, never another site's.
        back = await http.post("/language", data={"lang": "nl"}, headers={"Referer": f"{api_server.url}/?stage=spoor1"})
        assert back.headers["location"] == "/?stage=spoor1" and http.cookies.get(LANGUAGE_COOKIE) == "nl"
        elsewhere = await http.post("/language", data={"lang": "nl"}, headers={"Referer": "https://evil.example/x"})
        assert elsewhere.headers["location"] == "/"
        assert "Lopende zaken" in (await http.get("/")).text

        # Another site's form changes nothing, and the way back is never another origin.
        forged = await http.post(
            "/language", data={"lang": "en", "next": "/"}, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 303 and LANGUAGE_COOKIE not in forged.headers.get("set-cookie", "")
        assert http.cookies.get(LANGUAGE_COOKIE) == "nl"
        away = await http.post("/language", data={"lang": "en", "next": "//evil.example/x"})
        assert away.headers["location"] == "/"


def test_every_field_of_every_action_form_has_a_glossary_label():
    """The forms built from the actions' schemas name each field, and each choice of a select, from the glossary."""
    unnamed, unchosen = [], []
    for (_on, kind), specs in _action_fields().items():
        for spec in specs:
            if f"{kind}.{spec['name']}" not in glossary.FIELDS and spec["name"] not in glossary.FIELDS:
                unnamed.append(f"{kind}.{spec['name']}")
            unchosen += [
                f"{kind}.{spec['name']}={value}"
                for value in spec.get("options", [])
                if value not in glossary.CHOICES and value not in glossary.ROLES
            ]
    assert not unnamed, f"add these fields to domain/glossary.py FIELDS: {unnamed}"
    assert not unchosen, f"add these choices to domain/glossary.py CHOICES: {unchosen}"


def test_every_trajectory_status_has_a_label():
    from domain.spoor2 import Spoor2Status

    assert {s.value for s in Spoor2Status} <= set(glossary.SPOOR2_STATUSES)


def test_the_expected_activity_of_a_trajectory_is_said_in_the_readers_language():
    # A phase's expectation carries its numbers as parameters; the case page showed its English `what` before.
    from datetime import date

    from domain.messages import text
    from domain.stagnation import Expectation
    from operations import pages
    from service import i18n

    msgid = "a conversation with the coach or other activity (phase %(phase)s: every %(days)s days)"
    expected = Expectation(
        what="a conversation with the coach or other activity (phase 1: every 7 days)",
        what_text=text(msgid, phase=1, days=7),
        by=date(2026, 12, 11),
        context="spoor2:fase1",
    )
    show = pages.env.filters["expected_what"]
    with i18n.using("nl"):
        assert show(None, expected) == "een gesprek met de coach of een andere activiteit (fase 1: elke 7 dagen)"
    with i18n.using("en"):
        assert show(None, expected) == expected.what


@contextlib.asynccontextmanager
async def _signed_in(server, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser's session of `who` on the dashboard."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert (await http.post("/login", data={"token": server.tokens[who], "next": "/"})).status_code == 303
        yield http


def _chosen_action(page: str) -> str:
    """The value of the action picker's selected option ("" for "kies een actie…")."""
    picker = re.search(r'<select name="kind".*?</select>', page, flags=re.S)
    assert picker is not None
    chosen = re.findall(r'<option value="([^"]*)"[^>]*\bselected\b', picker.group())
    assert len(chosen) == 1, chosen
    return chosen[0]


async def test_the_action_picker_chooses_only_the_callers_own_step_that_is_due(api_server):
    """One click on "Vastleggen" must not record a step that is not due: the picker chooses the caller's action for the
    step due first, an evaluatie included, and otherwise asks the person to choose."""
    today = local_date(datetime.now(timezone.utc))
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        case_id = await _open_case(http, api_server, today)  # its next step: the plan van aanpak, the employer's
    async with _signed_in(api_server, "werkgever") as werkgever, _signed_in(api_server, "bedrijfsarts") as bedrijfsarts:
        assert _chosen_action((await werkgever.get(f"/cases/{case_id}")).text) == "plan_van_aanpak_agreed"
        # The bedrijfsarts may not agree the plan: nothing chosen, not the first action of the list.
        page = (await bedrijfsarts.get(f"/cases/{case_id}")).text
        assert _chosen_action(page) == "" and "kies een actie…" in page
        agreed = await werkgever.post(
            f"/api/cases/{case_id}/actions/plan_van_aanpak_agreed",
            json={
                "on": today.isoformat(),
                "casemanager_id": "cm-1",
                "employer_view": "2 uur per dag",
                "employee_view": "Eens",
            },
            headers={"Idempotency-Key": f"k-{uuid.uuid4().hex[:16]}"},
        )
        assert agreed.status_code == 200, agreed.text
        # Next: the first evaluatie of the plan, which either of them records. The plan, on record, is not offered again.
        for http in (werkgever, bedrijfsarts):
            page = (await http.get(f"/cases/{case_id}")).text
            assert _chosen_action(page) == "evaluatie_held"
            assert 'value="plan_van_aanpak_agreed"' not in page
        # Recovered: only what a recovered case takes (a relapse, …), nothing chosen.
        recovered = await werkgever.post(
            f"/api/cases/{case_id}/actions/full_recovery",
            json={"on": today.isoformat()},
            headers={"Idempotency-Key": f"k-{uuid.uuid4().hex[:16]}"},
        )
        assert recovered.status_code == 200, recovered.text
        page = (await werkgever.get(f"/cases/{case_id}")).text
        offered = re.findall(r'<option value="([a-z_0-9]+)" data-path=', page)
        assert "relapse" in offered and set(offered) <= WHILE_RECOVERED_KINDS, offered
        assert _chosen_action(page) == ""
        assert "wacht: de werknemer is hersteld op" in _visible(page)  # the open steps say why they wait


async def test_a_person_never_gets_a_bare_server_error_or_json_for_a_page(api_server):
    async with _signed_in(api_server, "casemanager") as http:
        unknown_order = await http.get("/", params={"sort": "zzz"})
        assert unknown_order.status_code == 200
        said = html.unescape(unknown_order.text)
        assert "'zzz' is geen volgorde van de lijst" in said and "laatst geopend bovenaan" in said
        for path in ("/nope", f"/cases/{uuid.uuid4().hex[:8]}/extra"):
            missing = await http.get(path)
            assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html"), path
            assert "Pagina niet gevonden" in missing.text and "Uitloggen" in missing.text  # the header, signed in
        api = await http.get("/api/nope")
        assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_a_dossier_detail_is_written_as_a_person_reads_it():
    with i18n.using("nl"):
        assert [_detail_value(v, "belastbaarheid_hours_per_day", {}) for v in (4.0, 4.5)] == ["4", "4,5"]
        assert _detail_value("fml", "document", {}) == "Functionele Mogelijkhedenlijst (FML)"
        assert _detail_value("intakeverslag", "document", {}) == "Intakeverslag tweede spoor"


async def test_the_toets_does_not_call_efforts_unjudged_while_the_plan_is_overdue(api_server):
    """Only the plan van aanpak is behind: its point is question 1's, and question 3 says so, not "nothing to judge"."""
    today = local_date(datetime.now(timezone.utc))
    first = today - timedelta(weeks=10)
    case_id = f"C-toets-{uuid.uuid4().hex[:6]}"
    done = {"ziekmelding_arbodienst": 1, "probleemanalyse": 30}
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        opened = await Api(api_server, http).open(
            case_id,
            first_sick_day=first.isoformat(),
            prior_steps=[{"key": k, "done_on": (first + timedelta(days=d)).isoformat()} for k, d in done.items()],
        )
        assert opened.status_code == 201, opened.text
    async with _signed_in(api_server, "operations") as http:
        text = _visible((await http.get(f"/cases/{case_id}")).text)
    efforts = text.split("3. Zijn de re-integratie-inspanningen voldoende?")[1].split("4. ")[0]
    assert "Niet elke stap is op tijd gedaan: zie vraag 1" in efforts and "Elke stap die tot nu" not in efforts
