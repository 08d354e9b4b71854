"""Refusals in the reader's language: Dutch by default, English on request, the field they name kept in front.

Against the real API with a worker (a refusal made in the workflow's validator, carried back as the update's
failure details), and against every refusal template the code holds, in both languages.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from domain.errors import ActionRefused
from domain.nl_time import local_date
from operations.cases import ActionRejected
from service import i18n, refusals
from service.settings import PROJECT_ROOT

PLACEHOLDER = re.compile(r"%\((\w+)\)[sr]")
PREFIX = re.compile(r"^([a-z_]+)(?:\.[\w.%()]+)?: ")  # as dashboard.js reads the field a refusal names


def today() -> date:
    return local_date(datetime.now(timezone.utc))


def _templates() -> set[str]:
    """Every template a refusal is made with (the first argument of ActionRefused), as Babel collects them."""
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str] = set()

    def ours(dirpath: str) -> bool:
        top = Path(dirpath).relative_to(PROJECT_ROOT).parts[:1]
        return not top or top[0] in ("domain", "operations", "service", "workflows")

    for _file, _line, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords={"ActionRefused": None}, directory_filter=ours
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_refusal_template_is_filled_and_keeps_its_field_in_both_languages():
    templates = _templates()
    assert len(templates) > 150, "the refusal templates are collected"
    for template in sorted(templates):
        # Values of each kind the convention knows: a role, a list of roles, an action kind, a step, a date, text.
        values = {
            name: (
                "prior_steps.0.done_on"
                if name == "field"
                else "werkgever"
                if name.endswith("role")
                else "werkgever, bedrijfsarts"
                if name.endswith("roles")
                else "probleemanalyse_recorded"
                if name.endswith("kind")
                else "probleemanalyse"
                if name.endswith("step")
                else "2026-03-12"
                if name in ("on", "today", "due")
                else "x1"
            )
            for name in PLACEHOLDER.findall(template)
        }
        refusal = ActionRefused(template, **values)
        for lang in ("nl", "en"):
            with i18n.using(lang):
                text = refusals.said(refusal)
            assert "%(" not in text and "%%" not in text, (lang, template, text)
            english = PREFIX.match(str(refusal))
            if english:  # the field named in front stays, untranslated, in every language
                assert text.startswith(english.group(0)), (lang, template, text)
            if lang == "nl" and template not in ("%(field)s: %(reason)s", "%(field)s: %(reason)s; %(more)s"):
                assert text != str(refusal), ("not translated", template)


def test_the_dutch_catalogue_keeps_every_placeholder_of_a_refusal():
    """A translation that drops a value (%(value)r too) would leave the reader without the thing refused."""
    with i18n.catalogue_path("nl").open("rb") as po:
        catalogue = read_po(po, locale="nl")
    for template in _templates():
        translated = catalogue[template].string
        assert isinstance(translated, str), template  # one sentence, not plural forms
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(template)), template


def test_a_pydantic_reason_is_said_by_its_type():
    with i18n.using("nl"):
        assert refusals.validation_reason("missing", "Field required") == "Dit veld is verplicht"
        assert (
            refusals.validation_reason(
                "literal_error", "Input should be 'go' or 'no_go'", {"expected": "'go' or 'no_go'"}
            )
            == "Kies een van: 'go' of 'no_go'"
        )
        assert (
            refusals.validation_reason("less_than_equal", "Input should be less than or equal to 99", {"le": 99})
            == "Mag hoogstens 99 zijn"
        )
        assert (
            refusals.validation_reason("something_new", "Value error, odd")
            == "Deze waarde is ongeldig (Value error, odd)"
        )
        # A bound as the reader writes numbers: 0, not 0.0.
        assert refusals.validation_reason("greater_than", "Input should be greater than 0", {"gt": 0.0}) == (
            "Moet groter zijn dan 0"
        )
        # A validator of ours says its own reason in Dutch; so does an e-mail address without its @.
        assert (
            refusals.validation_reason("value_error", "Value error, give hours_per_week or percentage")
            == "vul het aantal uren per week of het percentage in"
        )
        email = "value is not a valid email address: An email address must have an @-sign."
        assert refusals.validation_reason("value_error", f"Value error, {email}").startswith("geen geldig e-mailadres")
        assert (
            refusals.validation_reason("value_error", "Value error, odd")
            == "Deze waarde is ongeldig (Value error, odd)"
        )
        # A refusal of an employee's details by its field, in Dutch.
        said = refusals.said(ActionRefused("bsn: not a burgerservicenummer (nine digits passing the elfproef)"))
        assert said == "bsn: geen burgerservicenummer (negen cijfers die de elfproef doorstaan)"
    with i18n.using("en"):
        assert refusals.validation_reason("missing", "Field required") == "Field required"


def test_a_refusal_names_roles_actions_and_dates_as_the_reader_writes_them():
    refusal = ActionRefused(
        "actor.role: the role %(role)s may not record \u201c%(kind)s\u201d (allowed: %(roles)s)",
        role="reintegratiecoach",
        kind="probleemanalyse_recorded",
        roles=["bedrijfsarts", "uwv"],
    )
    assert str(refusal) == (
        "actor.role: the role re-integratiecoach may not record \u201cProbleemanalyse recorded\u201d "
        "(allowed: bedrijfsarts, UWV)"
    )
    with i18n.using("nl"):
        assert refusals.said(refusal) == (
            "actor.role: de rol re-integratiecoach mag \u201eProbleemanalyse vastgelegd\u201d "
            "niet vastleggen (toegestaan: bedrijfsarts, UWV)"
        )
    future = ActionRefused(
        "%(field)s: %(on)s is in the future (today is %(today)s)",
        field="on",
        on=date(2026, 3, 12),
        today=date(2026, 3, 10),
    )
    assert str(future) == "on: 2026-03-12 is in the future (today is 2026-03-10)"
    with i18n.using("nl"):
        assert refusals.said(future) == "on: 12-03-2026 ligt na vandaag (10-03-2026)"
    # As it travels: the update failure's details hold template and values, and come back as the same refusal.
    carried = refusals.from_details([future.details()])
    assert carried is not None
    template, params = carried
    with i18n.using("nl"):
        assert ActionRejected(str(future), template, params).said() == "on: 12-03-2026 ligt na vandaag (10-03-2026)"
    # A refusal from a worker of an older version has no details: its text is shown as it came.
    assert refusals.from_details(()) is None and refusals.from_details(None) is None
    with i18n.using("nl"):
        assert ActionRejected("on: 2026-03-12 is in the future").said() == "on: 2026-03-12 is in the future"


@pytest.mark.devserver
async def test_the_api_says_a_refusal_in_dutch_by_default_and_in_english_on_request(api_server):
    case_id = f"C{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        opened = await http.post(
            "/api/cases",
            headers=api_server.headers(),
            json={"case_id": case_id, "employer_id": "E-api", "first_sick_day": today().isoformat()},
        )
        assert opened.status_code == 201, opened.text
        path = f"/api/cases/{case_id}/actions/ziekmelding_arbodienst_sent"
        future = (today() + timedelta(days=3)).isoformat()

        # Refused by the case's validator: the same refusal in both languages, the field in front.
        dutch = await http.post(path, json={"on": future}, headers=api_server.headers("werkgever"))
        english = await http.post(
            path, json={"on": future}, headers={**api_server.headers("werkgever"), "Accept-Language": "en-GB,en;q=0.9"}
        )
        assert dutch.status_code == english.status_code == 409, (dutch.text, english.text)
        shown = (today() + timedelta(days=3)).strftime("%d-%m-%Y")
        assert dutch.json()["detail"] == f"on: {shown} ligt na vandaag ({today().strftime('%d-%m-%Y')})"
        assert english.json()["detail"] == f"on: {future} is in the future (today is {today().isoformat()})"

        # The person's own choice on the dashboard (the language cookie) outranks the browser's.
        chosen = await http.post(
            path,
            json={"on": future},
            headers={
                **api_server.headers("werkgever"),
                "Accept-Language": "nl",
                "Cookie": f"{i18n.LANGUAGE_COOKIE}=en",
            },
        )
        assert chosen.json()["detail"].startswith("on: ") and "is in the future" in chosen.json()["detail"]

        # A rule of the case that names an action and a step by their labels.
        early = await http.post(
            f"/api/cases/{case_id}/actions/evaluatie_held",
            json={"on": today().isoformat()},
            headers=api_server.headers("werkgever"),
        )
        assert early.status_code == 409
        assert early.json()["detail"] == "evaluatie_held: het plan van aanpak moet eerst vastgelegd zijn"

        # A role the API refuses before the case is asked: 403, the roles by their labels.
        role = await http.post(
            f"/api/cases/{case_id}/actions/probleemanalyse_recorded",
            json={"on": today().isoformat()},
            headers=api_server.headers("werkgever"),
        )
        assert role.status_code == 403
        assert role.json()["detail"] == (
            "actor.role: de rol werkgever mag \u201eProbleemanalyse vastgelegd\u201d niet "
            "vastleggen (toegestaan: bedrijfsarts)"
        )

        # Pydantic's 422: `loc` and `type` as pydantic gives them, the reason in Dutch.
        missing = await http.post(
            f"/api/cases/{case_id}/actions/case_withdrawn",
            json={"on": today().isoformat()},
            headers=api_server.headers("werkgever"),
        )
        assert missing.status_code == 422, missing.text
        [error] = [e for e in missing.json()["detail"] if e["loc"][-1] == "reason"]
        assert error["type"] == "missing" and error["msg"] == "Dit veld is verplicht"
        bad_day = await http.post(path, json={"on": "gisteren"}, headers=api_server.headers("werkgever"))
        [error] = bad_day.json()["detail"]
        assert error["loc"] == ["body", "on"] and error["msg"] == "Dit is geen geldige datum (jjjj-mm-dd)"
        english_day = await http.post(
            path, json={"on": "gisteren"}, headers={**api_server.headers("werkgever"), "Accept-Language": "en"}
        )
        assert english_day.json()["detail"][0]["msg"].startswith("Input should be a valid date")

        # The API's own messages too.
        unknown = await http.get("/api/cases/Cnosuchcase00", headers=api_server.headers("werkgever"))
        assert unknown.status_code == 404 and unknown.json()["detail"] == (
            "case_id: er is geen zaak 'Cnosuchcase00' die u mag inzien"
        )
        anonymous = await http.get(f"/api/cases/{case_id}", headers={"Authorization": "Bearer nonsense"})
        assert anonymous.status_code == 401 and anonymous.json()["detail"] == "een geldig bearer-token is verplicht"

        for answer in (dutch, english, chosen, early, role, missing, bad_day, unknown, anonymous):
            assert "%(" not in answer.text, answer.text
