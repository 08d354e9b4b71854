"""Whole cases on the time-skipping server: two years of statutory clock in seconds."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping
from datetime import date, timedelta, timezone

from temporalio import workflow
from temporalio.api.enums.v1 import EventType

from domain.models import DeadlineStatus, Outcome, Stage
from domain.nl_time import local_date
from tests.driver import activities_scheduled, local_activities

DEADLINES = importlib.import_module("domain.case.deadlines")  # the module: `domain.case.deadlines` is the function

VIEWS = {"employer_view": "Return to own work, adapted hours", "employee_view": "Wants to try own work first"}


async def wait_for(predicate, *, seconds: float = 10.0):
    """Poll a condition that an activity makes true shortly after a timer fired."""
    for _ in range(int(seconds / 0.05)):
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def kinds(dossier) -> list[str]:
    return [e.kind for e in dossier]


async def test_case_that_recovers_in_spoor1_closes_four_weeks_after_recovery(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance_to(first + timedelta(days=30))
    await driver.act("probleemanalyse_recorded")
    await driver.advance(days=7)
    await driver.act("plan_van_aanpak_agreed", casemanager_id="cm-1", **VIEWS)
    assert (await driver.summary()).stage is Stage.SPOOR1
    await driver.advance(weeks=3)
    back = await driver.today()
    result = await driver.act("full_recovery", back)
    assert f"closes on {back + timedelta(days=28)}" in result.entry.summary

    outcome = await driver.result()
    assert outcome.outcome is Outcome.HERSTELD
    assert outcome.closed_on == back + timedelta(days=28)
    dossier = await driver.dossier()
    assert kinds(dossier)[-2:] == ["stage_changed", "case_closed"]
    assert "deadline_overdue" not in kinds(dossier)
    assert (await driver.search_attributes())["CaseStage"] == "closed"
    await driver.save_history("recovered_in_spoor1")


async def test_relapse_within_four_weeks_continues_the_clock_paused_for_the_gap(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.advance_to(first + timedelta(days=19))
    await driver.act("probleemanalyse_recorded")
    before = await driver.deadlines()
    await driver.advance_to(first + timedelta(days=27))
    back = await driver.today()
    await driver.act("full_recovery", back)
    paused = await driver.summary()
    assert paused.recovered_on == back and paused.closes_on_without_relapse == back + timedelta(days=28)

    await driver.advance(days=10)
    await driver.act("relapse", back + timedelta(days=10))
    after = await driver.deadlines()
    for key in ("plan_van_aanpak", "ziekmelding_uwv", "eerstejaarsevaluatie", "wia_aanvraag", "einde_wachttijd"):
        moved = (after[key].due - before[key].due).days
        assert moved == 10 or (key == "ziekmelding_uwv" and abs(moved - 10) <= 2), key

    # Past the four-week window from the recovery, the case still runs: the relapse came in time.
    await driver.advance(days=30)
    summary = await driver.summary()
    assert summary.stage is Stage.SPOOR1 and summary.outcome is None
    assert summary.illness_day == 27 + 30 + 1  # the gap does not count
    assert "Relapse after 10 days" in (await driver.dossier())[-1].summary or any(
        "Relapse after 10 days" in e.summary for e in await driver.dossier()
    )
    await driver.save_history("relapse_within_four_weeks")


async def test_missed_probleemanalyse_is_marked_overdue_and_notified(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance_to(first + timedelta(weeks=7))

    summary = await driver.summary()
    assert summary.overdue == ["probleemanalyse"]
    due = first + timedelta(days=41)
    marks = [e for e in await driver.dossier() if e.kind == "deadline_overdue"]
    assert [(m.details["key"], m.on) for m in marks] == [("probleemanalyse", due + timedelta(days=1))]
    sent = await wait_for(
        lambda: [
            n
            for n in driver.notifications()
            if n["deadline_key"] == "probleemanalyse" and n["kind"] == "deadline_overdue"
        ]
    )
    assert len(sent) == 1
    assert sent[0]["recipient_role"] == "casemanager" and sent[0]["due"] == due.isoformat()
    assert (await driver.search_attributes())["Overdue"] is True

    # Recording it late ends the overdue state; the lateness stays visible.
    await driver.act("probleemanalyse_recorded")
    pa = (await driver.deadlines())["probleemanalyse"]
    assert pa.status is DeadlineStatus.DONE and pa.late
    assert (await driver.search_attributes())["Overdue"] is False
    await driver.save_history("missed_probleemanalyse")


async def _act_on_day(driver, first: date, day: int, kind: str, **fields):
    await driver.advance_to(first + timedelta(days=day - 1))
    return await driver.act(kind, **fields)


async def test_case_all_the_way_to_the_wia_application_closes_at_end_of_waiting_time(driver):
    first = await driver.today()
    await driver.open(first)
    plan: list[tuple[int, str, Mapping[str, object]]] = [
        (2, "ziekmelding_arbodienst_sent", {"role": "werkgever"}),
        (35, "probleemanalyse_recorded", {}),
        (45, "plan_van_aanpak_agreed", {"casemanager_id": "cm-1", **VIEWS}),
        (290, "ziekmelding_uwv_sent", {"role": "werkgever"}),
        (330, "ad_onderzoek_started", {"role": "arbeidsdeskundige"}),
        (335, "ad_gesprek_held", {"party": "werkgever"}),
        (338, "ad_gesprek_held", {"party": "werknemer"}),
        (345, "ad_onderzoek_concluded", {"own_work_possible": False, "other_work_inside_possible": False}),
        (355, "eerstejaarsevaluatie_held", VIEWS),
        (370, "spoor2_started", {"role": "werkgever"}),
        (596, "eindevaluatie_held", {"role": "werkgever", **VIEWS}),
        (598, "werknemer_oordeel_recorded", {"role": "werknemer", "opinion": "Ik kan niet terug", "agrees": True}),
        (600, "reintegratieverslag_completed", {"role": "werkgever"}),
        (620, "wia_aanvraag_filed", {}),
    ]
    while True:
        views = await driver.deadlines()
        evaluation = next((v for v in views.values() if v.key == "evaluatie" and v.status is DeadlineStatus.OPEN), None)
        eval_day = (evaluation.due - first).days + 1 - 2 if evaluation else None
        if plan and (eval_day is None or plan[0][0] <= eval_day):
            day, kind, fields = plan.pop(0)
            await _act_on_day(driver, first, day, kind, **fields)
        elif eval_day is not None:
            await _act_on_day(driver, first, eval_day, "evaluatie_held")
        else:
            break
    summary = await driver.summary()
    assert summary.stage is Stage.WIA and summary.overdue == []
    views = await driver.deadlines()
    held = [v for v in views.values() if v.key == "evaluatie"]
    assert len(held) >= 12 and all(v.status is DeadlineStatus.DONE and not v.late for v in held)

    outcome = await driver.result()
    assert outcome.outcome is Outcome.EINDE_WACHTTIJD
    assert outcome.closed_on == first + timedelta(days=7 * 104 - 1)
    dossier = await driver.dossier()
    assert "deadline_overdue" not in kinds(dossier)
    stages = [e.details["to"] for e in dossier if e.kind == "stage_changed"]
    assert stages == ["spoor1", "ad_onderzoek", "spoor2", "wia", "closed"]
    # The trajectory that was still running ends with the case, and says so.
    ended = await driver.trajectory_result()
    assert ended.outcome.value == "case_closed" and ended.ended_on == outcome.closed_on
    await driver.save_history("full_case_to_end_of_wachttijd")


async def test_case_under_loonsanctie_runs_on_past_week_104_until_the_repair_ends_it(driver):
    first = await driver.today()
    await driver.open(first)
    await _act_on_day(driver, first, 640, "wia_aanvraag_filed")
    await _act_on_day(driver, first, 700, "loonsanctie_imposed", role="uwv", weeks=52)
    normal_end = first + timedelta(days=727)
    summary = await driver.summary()
    assert summary.wachttijd_ends == normal_end + timedelta(weeks=52)

    await driver.advance_to(first + timedelta(days=760))  # week 109
    summary = await driver.summary()
    assert summary.stage is Stage.WIA and summary.outcome is None and summary.illness_week == 109
    await _act_on_day(driver, first, 765, "repair_reported", role="werkgever")
    accepted = first + timedelta(days=779)
    await _act_on_day(driver, first, 780, "repair_accepted")

    outcome = await driver.result()
    assert outcome.outcome is Outcome.EINDE_WACHTTIJD
    assert outcome.closed_on == accepted + timedelta(weeks=6)
    await driver.save_history("loonsanctie_past_week_104")


async def test_case_taken_over_at_week_30(driver):
    today = await driver.today()
    first = today - timedelta(weeks=29, days=3)
    await driver.open(
        first,
        stage="spoor1",
        prior_steps=[
            {"key": "ziekmelding_arbodienst", "done_on": (first + timedelta(days=1)).isoformat()},
            {"key": "probleemanalyse", "done_on": (first + timedelta(days=38)).isoformat()},
            {"key": "plan_van_aanpak", "done_on": None},
        ],
        evaluations_held=[(first + timedelta(days=d)).isoformat() for d in (90, 130, 170)],
    )
    summary = await driver.summary()
    assert summary.illness_week == 30 and summary.stage is Stage.SPOOR1
    views = await driver.deadlines()
    assert views["probleemanalyse"].status is DeadlineStatus.DONE
    assert views["plan_van_aanpak"].status is DeadlineStatus.OVERDUE
    assert [views[f"evaluatie#{n}"].status for n in (1, 2, 3)] == [DeadlineStatus.DONE] * 3
    assert views["evaluatie#4"].due == first + timedelta(days=170 + 42)
    assert summary.overdue == ["plan_van_aanpak"]
    await wait_for(lambda: [n for n in driver.notifications() if n["deadline_key"] == "plan_van_aanpak"])
    taken_over = [e.details["key"] for e in await driver.dossier() if e.kind == "prior_step"]
    assert taken_over == ["ziekmelding_arbodienst", "probleemanalyse", "plan_van_aanpak"]

    await driver.act("plan_van_aanpak_agreed", casemanager_id="cm-2", **VIEWS)
    pva = (await driver.deadlines())["plan_van_aanpak"]
    assert pva.status is DeadlineStatus.DONE and pva.late
    await driver.save_history("taken_over_at_week_30")


async def test_history_stays_bounded_with_continue_as_new_and_retries_apply_once_across_runs(driver):
    first = await driver.today()
    await driver.open(first, cap=40)
    first_run = (await driver.handle.describe()).run_id
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever", action_id="retry-me")
    for week in range(1, 20):
        await driver.advance_to(first + timedelta(weeks=week))
        await driver.act("partial_recovery", hours_per_week=float(week))
    description = await driver.handle.describe()
    assert description.run_id != first_run
    history = await driver.client.get_workflow_handle(driver.handle.id).fetch_history()
    assert len(history.events) < 60

    again = await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever", action_id="retry-me")
    assert again.applied is False
    dossier = await driver.dossier()
    assert [e.kind for e in dossier].count("ziekmelding_arbodienst_sent") == 1
    assert len([e for e in dossier if e.kind == "partial_recovery"]) == 19
    assert [e.seq for e in dossier] == list(range(1, len(dossier) + 1))
    await driver.save_history("continued_as_new_first_run", run_id=first_run)
    await driver.save_history("continued_as_new_latest_run")


async def test_an_action_that_leaves_the_next_wake_where_it_was_keeps_its_timer(driver):
    """Each action used to cancel the case's timer and start a new one: two commands and two history
    events per action. Now the timer stays until the next wake moves, and the case still wakes on it."""
    from temporalio.api.enums.v1 import EventType

    first = await driver.today()
    await driver.open(first, documents=True)
    for _ in range(5):
        await driver.act(
            "bedrijfsarts_oordeel", role="bedrijfsarts", belastbaarheid_hours_per_day=4.0
        )  # due dates unchanged
    history = await driver.client.get_workflow_handle(driver.handle.id).fetch_history()
    types = [e.event_type for e in history.events]
    assert types.count(EventType.EVENT_TYPE_TIMER_STARTED) == 1
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in types
    # No activity at all on the embedded default (release 9): the two opening reminders go to the notification log
    # and the case's facts to the store in the opening's one local activity (release 11; a marker, no activity task,
    # no workflow task more); an oordeel is no fact of the figures, and sends nothing: no local work for it.
    assert activities_scheduled(history) == []
    assert local_activities(history, "notify_local") == local_activities(history, "write_case_facts") == []
    assert len(local_activities(history, "local_work")) == 1
    assert [m.marker_name for m in (e.marker_recorded_event_attributes for e in history.events) if m.marker_name] == [
        "core_local_activity"
    ]
    await wait_for(lambda: len(driver.notifications()) == 2)

    # The kept timer still wakes the case: a week on, it has recorded the ziekmelding bij de arbodienst overdue.
    await driver.advance(days=8)
    overdue = [e for e in await driver.dossier() if e.kind == "deadline_overdue"]
    assert [e.details["key"] for e in overdue] == ["ziekmelding_arbodienst"]


async def test_a_wake_computes_the_deadlines_once(driver, monkeypatch):
    """The statutory tick, the watch, the search attributes and the next wake all read one computation of the
    deadlines (domain.case.deadlines): once per wake, none for a second wake on the same day with nothing changed."""
    computed: list[date] = []
    compute = DEADLINES.compute

    def counted(state, today):
        if workflow.in_workflow():  # not operations.cases.open_case's, which starts the case with its attributes
            computed.append(today)
        return compute(state, today)

    monkeypatch.setattr(DEADLINES, "compute", counted)
    first = await driver.today()
    await driver.open(first)
    await driver.advance(days=60)  # overdue marks, reminders, the stagnation watch: wakes of their own
    await driver.state()  # the last wake has been taken
    history = await driver.opened.fetch_history()
    fired = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert len(fired) >= 5
    wake_days = {first} | {local_date(e.event_time.ToDatetime(tzinfo=timezone.utc)) for e in fired}
    assert sorted(computed) == sorted(wake_days)
