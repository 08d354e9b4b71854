"""A dossier that never contradicts itself (issue 17): records made after the fact, deviations with their
terms, terms counted from the end of the waiting time, first sick day corrections, and the documents'
peildatum, each through whole cases on the time-skipping server."""

from __future__ import annotations

import re
from datetime import date, timedelta

from temporalio.client import WorkflowExecutionStatus

from domain.case import CaseState, gaps
from domain.dossier_check import GapKind, PointStatus, ToetsStep
from domain.models import DeadlineStatus, Stage
from domain.nl_time import start_of_day
from domain.observations import ObservationState
from operations import cases
from service.rulebook import load_dossier_rules
from tests.driver import CaseDriver
from tests.workflows.test_case_workflow import VIEWS, wait_for
from tests.workflows.test_documents_workflow import local_store, pdf_text, rendered
from workflows.sick_leave_case import SickLeaveCase

PREFLIGHT = load_dossier_rules().preflight


def overdue_notices(driver: CaseDriver, key: str, log: list[dict] | None = None) -> list[dict]:
    """The log's overdue notices of a deadline (of `log`: one read already settled, else the log as it is now)."""
    log = driver.notifications() if log is None else log
    return [n for n in log if n["kind"] == "deadline_overdue" and n["deadline_key"] == key]


def observations_of(dossier, key: str):
    return [e for e in dossier if e.kind == "deadline_overdue" and e.details["key"] == key]


def fmt(d: date) -> str:
    return d.strftime("%d-%m-%Y")


# Spoor 1 done, as a case taken over from another system states it: step -> day after the first sick day.
SPOOR1_DONE = {
    "ziekmelding_arbodienst": 1,
    "probleemanalyse": 30,
    "plan_van_aanpak": 40,
    "ziekmelding_uwv": 290,
    "eerstejaarsevaluatie": 360,
}


async def open_taken_over(
    driver: CaseDriver, weeks: int, *, done: dict[str, int] = SPOOR1_DONE, first_evaluation: int = 82, **fields
) -> date:
    """A case opened `weeks` after its first sick day with `done` on record and an evaluation every six weeks."""
    first = await driver.today() - timedelta(weeks=weeks)
    await driver.open(
        first,
        prior_steps=[{"key": k, "done_on": (first + timedelta(days=d)).isoformat()} for k, d in done.items()],
        evaluations_held=[(first + timedelta(days=d)).isoformat() for d in range(first_evaluation, 7 * weeks - 6, 42)],
        **fields,
    )
    return first


async def test_a_step_recorded_after_the_fact_supersedes_the_overdue_observation_in_every_view(driver):
    first = await driver.today()
    await driver.open(first, documents=True)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    due = first + timedelta(days=41)
    await driver.advance_to(due + timedelta(days=3))
    [seen] = observations_of(await driver.dossier(), "probleemanalyse")
    assert seen.observation.state is ObservationState.OPEN
    await wait_for(lambda: overdue_notices(driver, "probleemanalyse"))

    # The bureau enters on Monday what the bedrijfsarts did on time, last week.
    result = await driver.act("probleemanalyse_recorded", due)
    [seen] = observations_of(await driver.dossier(), "probleemanalyse")
    assert seen.superseded_by == result.entry.seq
    assert seen.observation.state is ObservationState.SUPERSEDED
    pa = (await driver.deadlines())["probleemanalyse"]
    assert (pa.status, pa.done_on, pa.late) == (DeadlineStatus.DONE, due, False)
    summary = await driver.summary()
    assert "probleemanalyse" not in summary.overdue
    assert (await driver.search_attributes())["Overdue"] is False

    # The plan van aanpak, due two weeks after it, is not recorded: observed and notified once; then
    # recorded late, it shows once, as late, with its days.
    pva_due = due + timedelta(weeks=2)
    await driver.advance_to(pva_due + timedelta(days=2))
    await wait_for(lambda: overdue_notices(driver, "plan_van_aanpak"))
    await driver.act("plan_van_aanpak_agreed", pva_due + timedelta(days=1), casemanager_id="cm-1", **VIEWS)
    [late] = observations_of(await driver.dossier(), "plan_van_aanpak")
    assert late.superseded_by is None and late.observation.state is ObservationState.LATE
    assert late.observation.days_late == 1
    await driver.advance(weeks=3)
    sent = await driver.sent()
    assert len(overdue_notices(driver, "probleemanalyse", sent)) == 1
    assert len(overdue_notices(driver, "plan_van_aanpak", sent)) == 1

    state = await driver.state()
    found = {g.key: g for g in gaps(state, await driver.today(), PREFLIGHT)}
    assert "probleemanalyse" not in found
    assert found["plan_van_aanpak"].kind is GapKind.LATE and found["plan_van_aanpak"].detail.startswith(
        "1 dagen te laat"
    )

    # The document says the same as the dossier and the deadlines, nowhere "not done" for a step that was.
    await driver.act("document_requested", document="reintegratieoverzicht", action_id="doc-1")
    [ref] = await rendered(driver, 1)
    text = " ".join(pdf_text(local_store(driver).get(ref.pdf)).split())
    assert (
        f"Vervallen waarneming: Probleemanalyse door de bedrijfsarts leek na {fmt(due)} niet gedaan; vervallen: "
        f"een latere vastlegging (regel {result.entry.seq}) laat zien"
    ) in text
    assert "later gedaan op" in text and "1 dag te laat" in text
    assert "en is niet gedaan" not in text
    assert "1 gat in het dossier" in text
    await driver.save_history("backdated_step_supersedes_observation")


async def test_a_case_opened_late_gets_time_to_enter_its_past_before_terms_are_observed(driver):
    today = await driver.today()
    first = today - timedelta(weeks=9)
    await driver.open(first)
    await driver.advance(days=1)
    assert not observations_of(await driver.dossier(), "probleemanalyse")
    assert not [n for n in await driver.sent() if n["kind"] == "deadline_overdue"]
    # The deadlines are honest meanwhile: nothing is on record yet.
    assert (await driver.deadlines())["probleemanalyse"].status is DeadlineStatus.OVERDUE

    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.act("probleemanalyse_recorded", first + timedelta(days=35))
    await driver.advance_to(today + timedelta(days=8))
    dossier = await driver.dossier()
    assert not observations_of(dossier, "probleemanalyse") and not observations_of(dossier, "ziekmelding_arbodienst")
    [pva] = observations_of(dossier, "plan_van_aanpak")  # due two weeks after the probleemanalyse: not on record
    assert pva.details["due"] == (first + timedelta(days=49)).isoformat() and pva.on == first + timedelta(days=50)
    sent = await wait_for(lambda: [n for n in driver.notifications() if n["kind"] == "deadline_overdue"])
    assert [n["deadline_key"] for n in sent] == ["plan_van_aanpak"]
    await driver.save_history("truth_case_opened_late")


async def test_a_deviation_excuses_up_to_its_new_date_and_a_reason_may_follow_the_term(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    pa_due = first + timedelta(days=41)
    await driver.advance_to(pa_due - timedelta(days=3))
    await driver.act(
        "deadline_deviation",
        deadline="probleemanalyse",
        reason="Bedrijfsarts ziek, vervanger per week 8",
        new_due=(pa_due + timedelta(days=14)).isoformat(),
    )
    await driver.advance_to(pa_due + timedelta(days=10))
    assert not observations_of(await driver.dossier(), "probleemanalyse")  # the moved term has not passed
    await driver.act("probleemanalyse_recorded")
    pa = (await driver.deadlines())["probleemanalyse"]
    assert (pa.late, pa.original_due, pa.due) == (False, pa_due, pa_due + timedelta(days=14))

    # Moved a week, done twelve days late: excused for seven, late for five.
    pva_due = pa_due + timedelta(days=10) + timedelta(weeks=2)
    await driver.act(
        "deadline_deviation",
        deadline="plan_van_aanpak",
        reason="Werkgever met vakantie tot week 10",
        new_due=(pva_due + timedelta(days=7)).isoformat(),
    )
    await driver.advance_to(pva_due + timedelta(days=12))
    await driver.act("plan_van_aanpak_agreed", casemanager_id="cm-1", **VIEWS)
    pva = (await driver.deadlines())["plan_van_aanpak"]
    assert pva.late and pva.late_days == 5

    # An evaluation held late, and its reason recorded afterwards: shown as a reason given after the term.
    ev_due = pva_due + timedelta(days=12) + timedelta(weeks=6)
    await driver.advance_to(ev_due + timedelta(days=4))
    await driver.act("evaluatie_held")
    refused = await driver.refused(
        "deadline_deviation",
        deadline="evaluatie",
        occurrence=1,
        reason="Werknemer in het ziekenhuis opgenomen",
        new_due=ev_due.isoformat(),
    )
    assert refused.startswith("new_due: evaluatie#1 is already done")
    await driver.act(
        "deadline_deviation", deadline="evaluatie", occurrence=1, reason="Werknemer in het ziekenhuis opgenomen"
    )
    state: CaseState = await driver.state()
    found = {g.key: g for g in gaps(state, await driver.today(), PREFLIGHT)}
    assert "probleemanalyse" not in found
    assert (
        found["plan_van_aanpak"].kind is GapKind.LATE
        and "ook na de verschoven termijn" in found["plan_van_aanpak"].detail
    )
    assert found["evaluatie"].kind is GapKind.REASON_AFTER_TERM and "pas na de termijn" in found["evaluatie"].detail
    # A step done within its (moved) term needs no reason.
    refused = await driver.refused(
        "deadline_deviation", deadline="probleemanalyse", reason="Alleen voor de volledigheid"
    )
    assert "no reason is needed" in refused
    await driver.save_history("truth_deviation_terms")


async def test_an_overdue_step_given_a_later_term_afterwards_is_no_longer_overdue_but_marked(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    pa_due = first + timedelta(days=41)
    await driver.advance_to(pa_due + timedelta(days=5))
    result = await driver.act(
        "deadline_deviation",
        deadline="probleemanalyse",
        reason="Bedrijfsarts pas in week 9 beschikbaar",
        new_due=(pa_due + timedelta(days=21)).isoformat(),
    )
    [seen] = observations_of(await driver.dossier(), "probleemanalyse")
    assert seen.superseded_by == result.entry.seq
    assert "reason given after the term" in result.entry.summary
    await driver.advance_to(pa_due + timedelta(days=9))
    await driver.act("probleemanalyse_recorded")
    found = {g.key: g for g in gaps(await driver.state(), await driver.today(), PREFLIGHT)}
    assert found["probleemanalyse"].kind is GapKind.REASON_AFTER_TERM


async def test_a_voluntary_extension_moves_the_terms_counted_from_the_end(driver):
    first = await open_taken_over(driver, 85, stage="spoor1")
    before = await driver.deadlines()
    await driver.act("voluntary_extension", weeks=10, employer_agrees=True, employee_agrees=True, role="werkgever")
    after = await driver.deadlines()
    for key in ("reintegratieverslag", "wia_aanvraag", "wia_brief_uwv", "einde_wachttijd"):
        assert after[key].due - before[key].due == timedelta(weeks=10), key
    assert after["eerstejaarsevaluatie"].due == before["eerstejaarsevaluatie"].due

    # Week 95: without the extension the WIA application would be overdue and the case in the WIA stage.
    await driver.advance_to(first + timedelta(weeks=95))
    summary = await driver.summary()
    assert "wia_aanvraag" not in summary.overdue and summary.stage is Stage.SPOOR1
    assert not observations_of(await driver.dossier(), "wia_aanvraag")
    await driver.save_history("truth_extension_moves_end_terms")


async def test_correcting_the_first_sick_day_replans_every_term_and_supersedes_what_no_longer_holds(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.advance_to(first + timedelta(weeks=7))
    assert {e.details["key"] for e in (await driver.dossier()) if e.kind == "deadline_overdue"} == {
        "ziekmelding_arbodienst",
        "probleemanalyse",
    }

    real = first + timedelta(days=14)
    result = await driver.act(
        "first_sick_day_corrected",
        first_sick_day=real.isoformat(),
        reason="Typefout bij de ziekmelding: ziek sinds de 15e",
    )
    dossier = await driver.dossier()
    [pa] = observations_of(dossier, "probleemanalyse")
    assert pa.superseded_by == result.entry.seq
    views = await driver.deadlines()
    assert views["probleemanalyse"].due == real + timedelta(days=41)
    assert views["probleemanalyse"].status is DeadlineStatus.OPEN
    summary = await driver.summary()
    assert summary.first_sick_day == real and summary.overdue == ["ziekmelding_arbodienst"]
    assert (await driver.search_attributes())["FirstSickDay"].startswith(start_of_day(real).strftime("%Y-%m-%dT%H"))
    # The ziekmelding is still late under the real date: observed again with its new term, the old one superseded.
    await driver.advance(days=1)
    zm = observations_of(await driver.dossier(), "ziekmelding_arbodienst")
    assert [e.superseded_by is None for e in zm] == [False, True]
    assert zm[1].details["due"] == (real + timedelta(days=6)).isoformat()
    assert "Typefout" in result.entry.details["reason"]

    await driver.act("ziekmelding_arbodienst_sent", real + timedelta(days=10), role="werkgever")
    refused = await driver.refused(
        "first_sick_day_corrected",
        first_sick_day=(real + timedelta(days=12)).isoformat(),
        reason="Nog een keer verschoven",
    )
    assert re.match(r"first_sick_day: .* is after “Ziekmelding to the arbodienst” on", refused)
    await driver.save_history("truth_first_sick_day_corrected")


async def test_the_automatic_overview_of_a_case_opened_late_is_dated_the_day_it_is_made(driver):
    today = await driver.today()
    await open_taken_over(driver, 90, stage="spoor1", documents=True)
    assert (await driver.summary()).stage is Stage.WIA  # UWV's WIA letter (week 89) has passed
    [ref] = await rendered(driver, 1)
    assert ref.order.kind.value == "reintegratieoverzicht" and ref.order.as_of == today
    text = " ".join(pdf_text(local_store(driver).get(ref.pdf)).split())
    assert f"Peildatum {fmt(today)}" in text
    preflight = [e for e in await driver.dossier() if e.kind == "preflight"][-1]
    counted = len(preflight.details["gaps"])
    assert (f"{counted} gaten in het dossier" if counted != 1 else "1 gat in het dossier") in text


async def test_the_week_42_melding_due_on_a_public_holiday_moves_to_the_next_working_day(driver):
    # Day 295 (the day after week 42) of a case sick since 7 July 2026 is King's Day, Tuesday 27 April 2027.
    first = date(2026, 7, 7)
    assert first <= await driver.today()
    await driver.open(first)
    assert (await driver.deadlines())["ziekmelding_uwv"].due == date(2027, 4, 28)
    # The holidays are the case's own, kept from its opening: a package upgrade never moves a running case's term.
    assert date(2027, 4, 27) in (await driver.state()).holidays


async def test_wazo_leave_pauses_the_clock_without_ending_the_case(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance_to(first + timedelta(days=30))
    await driver.act("probleemanalyse_recorded")
    await driver.act("plan_van_aanpak_agreed", casemanager_id="cm-1", **VIEWS)
    before = await driver.deadlines()
    refused = await driver.refused("leave_started", leave="vakantie")
    assert refused.startswith("leave: 'vakantie' is not leave that pauses the clock")
    leave_on = first + timedelta(days=31)
    await driver.advance_to(leave_on)
    await driver.act("leave_started", leave_on, leave="zwangerschapsverlof")
    summary = await driver.summary()
    assert summary.on_leave == "Zwangerschaps- en bevallingsverlof (Wazo)" and summary.recovered_on is None

    # Sixteen weeks of leave: far past the four-week window, the case runs on, and nothing fell due meanwhile.
    await driver.advance(weeks=16)
    summary = await driver.summary()
    assert summary.outcome is None and summary.stage is Stage.SPOOR1 and summary.overdue == []
    assert not [e for e in await driver.dossier() if e.kind in ("deadline_overdue", "case_closed")]
    back = await driver.today()
    await driver.act("leave_ended", back)
    after = await driver.deadlines()
    moved = (back - leave_on).days
    for key in ("evaluatie#1", "eerstejaarsevaluatie", "wia_aanvraag", "einde_wachttijd"):
        assert (after[key].due - before[key].due).days == moved, key
    assert (await driver.summary()).illness_day == 31 + 1  # the leave does not count
    await driver.save_history("truth_wazo_leave")


async def test_a_case_whose_waiting_time_ends_without_a_wia_aanvraag_stays_open_and_a_late_one_extends_wages(driver):
    # No spoor 2 on record: a running trajectory would only slow the test server's clock down here.
    first = await open_taken_over(driver, 100, done={**SPOOR1_DONE, "reintegratieverslag": 7 * 90}, stage="wia")
    end = (await driver.summary()).wachttijd_ends
    assert end == first + timedelta(days=7 * 104 - 1)
    await driver.advance_to(end + timedelta(days=3))
    summary = await driver.summary()
    assert summary.outcome is None and summary.stage is Stage.WIA
    [seen] = [e for e in await driver.dossier() if e.kind == "wachttijd_ended_without_wia_aanvraag"]
    assert seen.on == end + timedelta(days=1)
    sent = await wait_for(
        lambda: [
            n["recipient_role"] for n in driver.notifications() if n["kind"] == "wachttijd_ended_without_wia_aanvraag"
        ]
    )
    assert sorted(sent) == ["casemanager", "werkgever"]

    due = (await driver.deadlines())["wia_aanvraag"].due
    refused = await driver.refused("wia_aanvraag_filed")
    assert refused.startswith(f"late_cause: the WIA-aanvraag is filed {(await driver.today() - due).days} days after")
    result = await driver.act("wia_aanvraag_filed", late_cause="werkgever")
    delay = (await driver.today() - due).days
    summary = await driver.summary()
    assert summary.wachttijd_ends == end + timedelta(days=delay) and summary.outcome is None
    assert f"runs {delay} days longer" in result.entry.summary
    await driver.advance_to(end + timedelta(days=delay + 2))
    outcome = await driver.result()
    assert (outcome.outcome.value, outcome.closed_on) == ("einde_wachttijd", end + timedelta(days=delay))
    await driver.save_history("truth_late_wia_aanvraag")


async def test_a_relapse_reported_after_the_case_closed_continues_the_same_case(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance_to(first + timedelta(days=20))
    await driver.act("probleemanalyse_recorded")
    back = first + timedelta(days=27)
    await driver.advance_to(back)
    before = await driver.deadlines()
    await driver.act("full_recovery", back)
    await driver.advance_to(back + timedelta(days=35))
    closed = await driver.result()
    assert closed.outcome.value == "hersteld" and closed.closed_on == back + timedelta(days=28)
    assert driver.handle is not None
    first_described = await cases._describe(driver.client, driver.handle.id)
    assert first_described is not None
    first_run = first_described.execution.run_id

    # Five weeks after the recovery the employer reports that the employee fell ill again after 20 days.
    relapse = back + timedelta(days=20)
    too_late = await driver.refused("relapse", back + timedelta(days=28))
    assert too_late.startswith("on: a relapse 28 days after recovery")
    result = await driver.act("relapse", relapse)
    assert result.applied and result.entry.kind == "relapse"
    described = await cases._describe(driver.client, driver.handle.id)
    assert (
        described is not None
        and described.execution.run_id != first_run
        and described.status == WorkflowExecutionStatus.RUNNING
    )
    summary = await driver.summary()
    assert summary.outcome is None and summary.stage is Stage.SPOOR1 and summary.first_sick_day == first
    assert summary.illness_day == 27 + (await driver.today() - relapse).days + 1  # the same clock, the gap not counted
    dossier = await driver.dossier()
    kinds = [e.kind for e in dossier]
    assert kinds.count("case_opened") == 1 and "case_closed" in kinds
    assert kinds[kinds.index("case_closed") + 1 :][:3] == ["case_reopened", "stage_changed", "relapse"]
    after = await driver.deadlines()
    assert (after["plan_van_aanpak"].due - before["plan_van_aanpak"].due).days == 20
    # A retry of the same request is answered from the dossier, once.
    again = await driver.act("relapse", relapse, action_id=result.action_id)
    assert again.entry.seq == result.entry.seq
    assert [e.kind for e in await driver.dossier()].count("relapse") == 1
    await driver.save_history("truth_relapse_after_close")


async def test_the_poortwachtertoets_reads_the_dossier_in_the_assessors_order(driver):
    # The probleemanalyse 9 days late; the plan van aanpak on time after it.
    first = await open_taken_over(
        driver,
        86,
        done={**SPOOR1_DONE, "probleemanalyse": 50, "plan_van_aanpak": 60},
        first_evaluation=102,
        stage="spoor1",
        documents=True,
    )
    await driver.act("bedrijfsarts_oordeel", role="bedrijfsarts", belastbaarheid_hours_per_day=4)

    async def toets():
        return await driver.handle.query(SickLeaveCase.poortwachtertoets, args=[await driver.today(), None])

    found = await toets()
    order = [p.step for p in found.points]
    assert order == sorted(order, key=list(ToetsStep).index)  # documents, result, effort, reasons, repair
    by_label = {p.label: p for p in found.points if p.step is ToetsStep.DOCUMENTEN}
    assert by_label["Eindevaluatie van werkgever en werknemer"].status is PointStatus.LATER
    assert by_label["Mening van de werknemer over de re-integratie"].status is PointStatus.LATER
    pa = by_label["Probleemanalyse door de bedrijfsarts"]
    assert (pa.step, pa.status) == (ToetsStep.DOCUMENTEN, PointStatus.OK)
    effort = [p for p in found.open_points if p.step is ToetsStep.INSPANNINGEN]
    # Late, missing, and (taken over without them) the views on the plan van aanpak and the eerstejaarsevaluatie.
    assert {p.label for p in effort} == {
        "Probleemanalyse door de bedrijfsarts",
        "Start tweede spoor (uiterlijk)",
        "Plan van aanpak, met casemanager",
        "Eerstejaarsevaluatie",
    }
    repair = found.points[-1]
    assert repair.step is ToetsStep.HERSTEL and "tot het re-integratieverslag" in repair.detail

    # The reason for the late probleemanalyse, given now: no longer an effort gap, but a reason given after the term.
    await driver.act("deadline_deviation", deadline="probleemanalyse", reason="Bedrijfsarts wegens ziekte vervangen")
    found = await toets()
    assert [p.label for p in found.open_points if p.step is ToetsStep.GRONDEN] == [
        "Probleemanalyse door de bedrijfsarts"
    ]
    assert "Probleemanalyse door de bedrijfsarts" not in {
        p.label for p in found.open_points if p.step is ToetsStep.INSPANNINGEN
    }

    # Week 88's pre-flight names the open points in the same order, in what it records and what it sends.
    await driver.advance_to(first + timedelta(weeks=88, days=2))
    preflight = [e for e in await driver.dossier() if e.kind == "preflight"][-1]
    assert [p["label"] for p in preflight.details["toets"]] == [p.label for p in (await toets()).open_points]
    body = (await wait_for(lambda: [n for n in driver.notifications() if n["kind"] == "preflight_gaps"]))[-1]["body"]
    assert "4. Is er een deugdelijke grond waar dat niet zo is? Probleemanalyse door de bedrijfsarts" in body

    # Week 92: the verslag's own parts are due; recorded, they are in order.
    await driver.advance_to(first + timedelta(weeks=92))
    missing = {p.label for p in (await toets()).open_points if p.step is ToetsStep.DOCUMENTEN}
    assert missing >= {"Eindevaluatie van werkgever en werknemer", "Mening van de werknemer over de re-integratie"}
    await driver.act("eindevaluatie_held", role="werkgever", **VIEWS)
    await driver.act("werknemer_oordeel_recorded", role="werknemer", opinion="Ik kon niet meer terug", agrees=True)
    documents = {p.label: p.status for p in (await toets()).points if p.step is ToetsStep.DOCUMENTEN}
    assert documents["Eindevaluatie van werkgever en werknemer"] is PointStatus.OK
    assert documents["Mening van de werknemer over de re-integratie"] is PointStatus.OK
    await driver.save_history("truth_poortwachtertoets")


def test_the_toets_counts_a_missing_part_of_the_verslag_once_and_a_standing_clock_leaves_time_to_repair():
    from datetime import datetime, timezone

    from domain import case as rules
    from domain.actions import parse_action
    from domain.models import Actor
    from service.rulebook import load_rulebook

    first = date(2026, 1, 5)
    opening = rules.CaseOpening(
        case_id="C-toets", employer_id="E-acme", first_sick_day=first, opened_by=Actor(role="casemanager", id="cm-1")
    )
    now = datetime(2026, 3, 20, 9, tzinfo=timezone.utc)
    state = rules.open_case(opening, load_rulebook().for_first_sick_day(first), today=first, now=now)
    state.revision = rules.CURRENT_REVISION
    leave = parse_action(
        {
            "kind": "leave_started",
            "action_id": "l-1",
            "actor": {"role": "werkgever"},
            "on": date(2026, 3, 20).isoformat(),
            "leave": "zwangerschapsverlof",
        }
    )
    rules.apply(state, leave, date(2026, 3, 20), now)
    found = rules.poortwachtertoets(state, date(2026, 3, 20), PREFLIGHT)
    assert found is not None
    missing = [(p.step, p.label) for p in found.open_points if p.label == "Probleemanalyse door de bedrijfsarts"]
    assert missing == [(ToetsStep.DOCUMENTEN, "Probleemanalyse door de bedrijfsarts")]  # not again under effort
    repair = found.points[-1]
    assert (repair.status, repair.detail) == (
        PointStatus.OK,
        "Nog te herstellen: het re-integratieverslag heeft nog geen datum (de klok staat stil)",
    )
