"""A case keeps its facts in the reporting store itself (issue 21): no `spoorwerk figures rebuild` needed to see it in
the figures, a retried write or a replay counts nothing twice, and the store holds what a rebuild would write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from activities.reporting import ReportingActivities
from domain.facts import derive
from domain.figures import PeriodKind
from domain.models import Outcome
from service import reporting
from service.reporting_tables import events, spells
from service.settings import Settings
from tests.domain.test_case_rules import new_case
from tests.driver import CaseDriver, activities_scheduled, local_work_done
from tests.workflows.test_case_workflow import VIEWS, wait_for
from workflows.sandbox import WORKFLOW_RUNNER
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory


def _rows(engine, case_id: str) -> tuple[list[dict], list[dict]]:
    with engine.connect() as conn:
        found_spells = conn.execute(select(spells).where(spells.c.case_id == case_id).order_by(spells.c.start))
        found_events = conn.execute(select(events).where(events.c.case_id == case_id).order_by(events.c.seq))
        return [dict(r) for r in found_spells.mappings()], [dict(r) for r in found_events.mappings()]


async def test_a_case_writes_its_facts_to_the_store_as_its_dossier_grows(driver, tmp_path):
    first = await driver.today()
    await driver.open(first, employer_id="E-facts")
    case_id = driver.case_id
    assert case_id is not None
    store = reporting.open_store(driver.settings.reporting_database)

    # Opened: the case and its first spell are in the store without a rebuild.
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance(days=1)
    # The write runs beside the case: it lands shortly after the wake.
    opened_spells, opened_events = await wait_for(lambda: len(_rows(store, case_id)[1]) == 2 and _rows(store, case_id))
    assert [(s["start"], s["end"], s["incapacity"]) for s in opened_spells] == [(first, None, 100)]
    assert [e["kind"] for e in opened_events] == ["opened", "step_done"]

    # The probleemanalyse missed: the case escalates; recorded late, a step done days late; back for half, then fully.
    due = first + timedelta(days=41)
    await driver.advance_to(due + timedelta(days=16))
    await driver.case_dossier_has("escalation_raised", count=2)
    await driver.act("probleemanalyse_recorded")
    await driver.advance(days=7)
    await driver.act("plan_van_aanpak_agreed", casemanager_id="cm-1", **VIEWS)
    await driver.act("partial_recovery", role="bedrijfsarts", percentage=50)
    await driver.advance(weeks=2)
    back = await driver.today()
    await driver.act("full_recovery", back)
    result = await driver.result()
    assert result.outcome is Outcome.HERSTELD

    live_spells, live_events = _rows(store, case_id)
    kinds = [e["kind"] for e in live_events]
    assert kinds.count("escalation") == 2 and "escalation_resolved" in kinds
    assert [e["days_late"] for e in live_events if e["detail"] == "probleemanalyse"] == [16]
    assert kinds[-1] == "outcome" and live_events[-1]["detail"] == Outcome.HERSTELD.value
    assert [(s["incapacity"], s["ended_by_recovery"]) for s in live_spells] == [(100, False), (50, True)]
    assert live_spells[-1]["end"] == back

    # What a rebuild writes (operations.figures_rebuild: the state query, derived as of today) is what the case wrote.
    today = await driver.today()
    state = await driver.opened.query(SickLeaveCase.state)
    rebuilt = reporting.open_store(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    reporting.write_case(rebuilt, derive(state, today))
    assert _rows(rebuilt, case_id) == (live_spells, live_events)
    figures = [(PeriodKind.MONTH, first, today), (PeriodKind.QUARTER, first, today), (PeriodKind.YEAR, first, today)]
    for kind, start, end in figures:
        assert reporting.figures_for(store, ["E-facts"], kind, start, end) == reporting.figures_for(
            rebuilt, ["E-facts"], kind, start, end
        )

    # A retried write counts nothing twice, nor does a replay of the case (it runs no activity again).
    ReportingActivities(driver.settings.reporting_database).write_case_facts(derive(state, today))
    history = await driver.opened.fetch_history()
    replayed = await Replayer(
        workflows=[SickLeaveCase, Spoor2Trajectory],
        data_converter=driver.client.data_converter,
        workflow_runner=WORKFLOW_RUNNER,
    ).replay_workflow(WorkflowHistory.from_json("facts", history.to_json()))
    assert replayed.replay_failure is None
    assert _rows(store, case_id) == (live_spells, live_events)
    assert reporting.event_counts(store, [case_id]) == {case_id: len(live_events)}
    # One write per wake at most, and only when the facts changed: fewer than the case's workflow tasks (few
    # themselves: no task is a write's or a notice's completion any more, both are local activities, releases 8, 9).
    writes = await local_writes(driver.client, history)
    tasks = [e for e in history.events if e.HasField("workflow_task_completed_event_attributes")]
    assert 5 <= len(writes) < len(tasks)
    assert durable_writes(history) == []


async def local_writes(client: Client, history: WorkflowHistory) -> list[str | None]:
    """The facts the worker wrote itself, as a history records them: each local write's failure (None: written).
    Release 11 writes them as the facts' part of a wake's `local_work` (a whole failed one counts as failed)."""
    return [
        "local work failed" if done is None else done.facts_failed
        for done in await local_work_done(client, history)
        if done is None or done.facts_written is not None or done.facts_failed is not None
    ]


def durable_writes(history: WorkflowHistory) -> list[Any]:
    """The activities `write_case_facts` (with the long retry) a history schedules."""
    return activities_scheduled(history, "write_case_facts")


async def test_a_store_that_fails_the_local_write_gets_the_facts_by_the_activity_with_the_long_retry(ts_env, tmp_path):
    # A store that cannot be opened (a file is where its folder should be): as a database that is down.
    folder = tmp_path / "store"
    folder.write_text("in the way")
    settings = Settings(
        data_dir=tmp_path / "data", reporting_database_url=SecretStr(f"sqlite:///{folder / 'facts.db'}")
    )
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        first = await driver.today()
        await driver.open(first, employer_id="E-down")
        case_id = driver.case_id
        assert case_id is not None
        await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
        history = await driver.opened.fetch_history()
        # The one short local attempt failed, and the activity with the long retry took over at once.
        assert [failed is not None for failed in await local_writes(driver.client, history)][:1] == [True]
        assert len(durable_writes(history)) == 1
        # The opening's reminders, in the same local activity (release 11), went to the log all the same.
        [opening, *_] = await local_work_done(driver.client, history)
        assert opening is not None and opening.facts_failed and opening.delivery is not None
        assert [r.delivered for r in opening.delivery.reports] == [["log"], ["log"]]
        assert activities_scheduled(history, "notify_batch") == []
        # The store comes back: the retry writes the case's facts, and the case took its actions meanwhile.
        folder.unlink()
        await driver.env.sleep(timedelta(minutes=30))
        store = reporting.open_store(settings.reporting_database)
        _spells, written = await wait_for(lambda: len(_rows(store, case_id)[1]) == 2 and _rows(store, case_id))
        assert [e["kind"] for e in written] == ["opened", "step_done"]
        # Once the store writes again, so does the worker itself.
        await driver.act("probleemanalyse_recorded", role="bedrijfsarts")
        history = await driver.opened.fetch_history()
        assert (await local_writes(driver.client, history))[-1] is None


def test_a_worker_without_a_store_keeps_nothing_and_the_write_still_succeeds():
    state = new_case()
    assert ReportingActivities(None).write_case_facts(derive(state, state.first_sick_day)) == 0


async def test_a_case_reopened_by_a_relapse_after_it_closed_is_open_in_the_store_again(driver):
    first = await driver.today()
    await driver.open(first, employer_id="E-relapse")
    case_id = driver.case_id
    assert case_id is not None
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.advance(days=20)
    back = await driver.today()
    await driver.act("full_recovery", back)
    assert (await driver.result()).outcome is Outcome.HERSTELD
    store = reporting.open_store(driver.settings.reporting_database)
    [(closed, _spells)] = reporting.employer_cases(store, "E-relapse")
    assert closed.outcome == Outcome.HERSTELD.value

    # Reported after the four weeks, a relapse within them reopens the case in a new run: the store follows at once.
    await driver.act("relapse", back + timedelta(days=20))

    def reopened():
        [(row, spells_of)] = reporting.employer_cases(store, "E-relapse")
        return row.outcome is None and (row, spells_of)

    row, spells_of = await wait_for(reopened)
    assert row.stage != "closed"
    assert [(s.start, s.end) for s in spells_of] == [(first, back), (back + timedelta(days=20), None)]
