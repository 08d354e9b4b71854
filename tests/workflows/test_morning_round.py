"""The morning round spread (issue 22): each case takes its reminders and escalations at a minute of its own between
06:00 and 08:00, the same minute in every run of the case, on the day they were always due."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from domain.case import morning_of
from domain.nl_time import start_of_day
from domain.stagnation import MORNING_WINDOW_MINUTES, WATCH_HOUR, morning_minute
from operations import cases
from service import reporting
from service.reporting_tables import events
from tests.driver import (
    GROUNDS,
    ZOEKPROFIEL,
    CaseDriver,
    activities_scheduled,
    local_activities,
    local_work_done,
    patch_markers,
)
from tests.workflows.test_case_workflow import wait_for
from tests.workflows.test_spoor2_workflow import sa_value
from workflows import patches
from workflows.ids import case_workflow_id
from workflows.sick_leave_case import SickLeaveCase

# Two case ids whose minutes lie 40 minutes apart (07:05 and 07:45).
EARLY, LATE = "C-morning-1", "C-morning-4"


def test_a_case_has_one_minute_of_the_morning_window_and_cases_spread_over_it():
    assert (morning_minute(EARLY), morning_minute(LATE)) == (65, 105)
    minutes = [morning_minute(f"C{n:06d}") for n in range(10_000)]
    assert set(minutes) == set(range(MORNING_WINDOW_MINUTES))
    # A steady load: no minute of the window takes more than twice its share of 10,000 cases.
    assert max(minutes.count(m) for m in range(MORNING_WINDOW_MINUTES)) < 2 * 10_000 / MORNING_WINDOW_MINUTES


async def _reminders(driver: CaseDriver, case_id: str):
    """The case's two reminders of the probleemanalyse, once its wake has recorded the second."""
    for _ in range(200):
        dossier = await driver.client.get_workflow_handle(case_workflow_id(case_id)).query(SickLeaveCase.dossier)
        found = [e for e in dossier if e.kind == "reminder_sent" and e.details["key"] == "probleemanalyse"]
        if len(found) >= 2:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{case_id}: not reminded twice")


async def test_cases_take_their_reminders_at_their_own_minute_on_the_day_they_are_due(driver):
    first = await driver.today()
    # The early case runs with the real bound: its 3-day reminder comes in its second run.
    for case_id, bound in ((EARLY, None), (LATE, 3650)):
        await driver.open(first, case_id=case_id, run_bound_days=bound)
        await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    early_first_run = (await driver.client.get_workflow_handle(case_workflow_id(EARLY)).describe()).run_id
    due = first + timedelta(days=41)  # the probleemanalyse: end of week 6
    await driver.advance_to(due - timedelta(days=3), hour=10)

    assert (await driver.client.get_workflow_handle(case_workflow_id(EARLY)).describe()).run_id != early_first_run
    for case_id in (EARLY, LATE):
        reminders = await _reminders(driver, case_id)
        # On the day each reminder was always due: 14 and 3 days before the term.
        assert [(e.on, e.details["lead_days"]) for e in reminders] == [
            (due - timedelta(days=14), 14),
            (due - timedelta(days=3), 3),
        ]
        # At the case's own minute from 06:00, in both runs alike.
        for entry in reminders:
            at = start_of_day(entry.on) + timedelta(hours=WATCH_HOUR, minutes=morning_minute(case_id))
            assert at <= entry.recorded_at < at + timedelta(minutes=1), (case_id, entry.recorded_at)

    # The notify activity delivers shortly after the wake that sent it.
    def sent() -> list[str]:
        notes = driver.notifications()
        return sorted(n["case_id"] for n in notes if n["kind"] == "deadline_reminder" and n["due"] == due.isoformat())

    await wait_for(lambda: sent() == [EARLY] * 4 + [LATE] * 4)

    # The worker delivered them itself (a local activity, patch `notices-local`, with the facts from release 11 on):
    # no activity to schedule, and what the case handed it is not in its history at all; the words were made there
    # (patch `notice-refs`).
    history = await driver.client.get_workflow_handle(case_workflow_id(LATE)).fetch_history()
    assert activities_scheduled(history, "notify_batch") == []
    delivered = local_activities(history, "local_work")
    assert len(delivered) >= 3 and all(d["failed"] is None for d in delivered)
    assert all(n["subject"] and n["body"] for n in driver.notifications())


async def test_a_term_passing_at_midnight_is_on_record_at_once_and_told_in_the_cases_morning_round(driver):
    """Patch `morning-notices` (release 12): the overdue mark and the ladder's first step are observed at midnight, in
    the dossier and the search attributes; their notices and the facts' write wait for the case's minute (07:05)."""
    today = await driver.today()
    await driver.open(today - timedelta(days=6), case_id=EARLY)  # the ziekmelding to the arbodienst is due today
    store = reporting.open_store(driver.settings.reporting_database)
    await wait_for(lambda: _escalations(store) is not None)
    assert _escalations(store) == 0
    night = today + timedelta(days=1)
    morning = start_of_day(night) + timedelta(hours=WATCH_HOUR, minutes=morning_minute(EARLY))
    assert morning == start_of_day(night) + timedelta(hours=7, minutes=5)

    await driver.env.sleep(start_of_day(night) + timedelta(minutes=30) - await driver.now())
    overdue, raised = (
        await driver.case_dossier_has("deadline_overdue"),
        await driver.case_dossier_has("escalation_raised"),
    )
    assert overdue[0].recorded_at == raised[0].recorded_at
    assert start_of_day(night) <= overdue[0].recorded_at < start_of_day(night) + timedelta(minutes=1)
    await sa_value(driver, "EscalationLevel", 1)
    assert (await driver.summary()).escalation_level == 1
    assert [n["kind"] for n in await driver.sent()] == ["deadline_reminder"] * 2  # the opening's, nothing since
    assert _escalations(store) == 0

    # A minute before the case's own: still nothing told. Then both notices, and the facts with the escalation.
    await driver.env.sleep(morning - timedelta(minutes=1) - await driver.now())
    assert [n["kind"] for n in await driver.sent()] == ["deadline_reminder"] * 2
    await driver.env.sleep(timedelta(minutes=2))
    told = await wait_for(lambda: [n for n in driver.notifications() if n["kind"] != "deadline_reminder"] or None)
    assert sorted((n["kind"], n["recipient_role"]) for n in told) == [
        ("deadline_overdue", "casemanager"),
        ("escalation_raised", "casemanager"),
    ]
    assert await wait_for(lambda: _escalations(store) or None) == 1

    # Midnight's task ran no local activity: the notices and the write went with the morning's.
    history = await driver.client.get_workflow_handle(case_workflow_id(EARLY)).fetch_history()
    done = await local_work_done(driver.client, history)
    assert len(done) == 2  # the opening's, the morning's
    morning_work = done[-1]
    assert morning_work is not None and morning_work.facts_written is not None


async def _round_on_a_sunday_the_clocks_change(driver: CaseDriver, night: date) -> None:
    """A case whose ziekmelding term passes at midnight of `night`: its two notices at its minute (07:05) by the clock."""
    await driver.advance_to(night - timedelta(days=1), hour=10)
    await driver.open(night - timedelta(days=7), case_id=EARLY)  # the ziekmelding to the arbodienst is due today
    morning = datetime.combine(night, time(7, 5), ZoneInfo("Europe/Amsterdam"))  # EARLY's minute: 06:00 + 65
    assert morning_of(EARLY, night, spread=True, wall_clock=lambda: True) == morning
    await driver.env.sleep(start_of_day(night) + timedelta(minutes=30) - await driver.now())
    await driver.case_dossier_has("deadline_overdue")

    def told() -> list[str]:
        return sorted(n["kind"] for n in driver.notifications() if n["kind"] != "deadline_reminder")

    await driver.env.sleep(morning - timedelta(minutes=1) - await driver.now())
    assert [n["kind"] for n in await driver.sent()] == ["deadline_reminder"] * 2  # the opening's, nothing since
    await driver.env.sleep(timedelta(minutes=2))
    assert await wait_for(lambda: told() or None) == ["deadline_overdue", "escalation_raised"]


SUNDAYS = pytest.mark.parametrize("night", [date(2027, 3, 28), date(2027, 10, 31)], ids=["march", "october"])


@SUNDAYS
async def test_on_the_sundays_the_clocks_change_the_morning_round_keeps_to_amsterdams_clocks(driver, night):
    """Patch `morning-wall-clock` (release 13): the round goes from 06:00 as the clocks in Amsterdam show it on the
    days they change, too; counted as six hours from midnight it began at 07:00 in March and at 05:00 in October."""
    await _round_on_a_sunday_the_clocks_change(driver, night)
    history = await driver.client.get_workflow_handle(case_workflow_id(EARLY)).fetch_history()
    assert patch_markers(history) == []  # a run of release 13 asks no one
    if night.month == 3:
        await driver.save_history("release13_morning_wall_clock")


@SUNDAYS
async def test_a_run_begun_on_release_12_takes_the_clock_from_its_first_such_round(driver, night, monkeypatch):
    """A run whose input says release 12, on this code: it asks the patch for the Sunday's round, writes its marker
    and takes the round by the clock, as a run of release 13 does."""
    made = cases.start_input
    monkeypatch.setattr(cases, "start_input", lambda *a, **k: made(*a, **k).model_copy(update={"release": 12}))
    await _round_on_a_sunday_the_clocks_change(driver, night)
    history = await driver.client.get_workflow_handle(case_workflow_id(EARLY)).fetch_history()
    assert patch_markers(history) == [patches.MORNING_WALL_CLOCK.id]


async def test_the_trajectorys_flag_of_the_night_is_on_record_at_once_and_told_in_the_cases_morning_round(driver):
    """The trajectory's own clock raises its flag at midnight (phase 1's time is up) and reports it to the case: on
    the case's record at once, told to the case manager at the case's minute (07:05), not in the night."""
    await driver.reach_spoor2(case_id=EARLY)
    await driver.to_haalbaarheidstoets(scope="whole")
    await driver.act2("haalbaarheidstoets_decided", decision="go", grounds=GROUNDS, zoekprofiel=ZOEKPROFIEL)
    await driver.act2("phase_started", phase=1)
    ends = (await driver.trajectory()).phases[0].time_up_on
    night = start_of_day(ends + timedelta(days=1))

    async def told() -> list[dict]:
        return [n for n in await driver.sent() if n["kind"] == "spoor2_phase_time_up"]

    await driver.env.sleep(night + timedelta(minutes=30) - await driver.now())
    flagged = await driver.case_dossier_has("spoor2:phase_time_up")
    assert night <= flagged[0].recorded_at < night + timedelta(minutes=1)
    assert await told() == []
    morning = night + timedelta(hours=7, minutes=5)
    await driver.env.sleep(morning - timedelta(minutes=1) - await driver.now())
    assert await told() == []
    await driver.env.sleep(timedelta(minutes=2))
    await wait_for(lambda: [n for n in driver.notifications() if n["kind"] == "spoor2_phase_time_up"] or None)
    assert [n["recipient_role"] for n in await told()] == ["casemanager"]
    await driver.save_history("release12_trajectory_clock_flag_case")
    await driver.save_workflow_history("release12_trajectory_clock_flag_trajectory", driver.trajectory_id)


def _escalations(store) -> int | None:
    """The escalations of the case in the reporting store; None before the case is there at all."""
    with store.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(events.c.kind).where(events.c.case_id == EARLY))]
    return kinds.count("escalation") if kinds else None
