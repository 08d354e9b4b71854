"""Whole spoor 2 trajectories on the time-skipping server, as a child workflow of their case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from domain.models import Outcome, Stage
from domain.spoor2 import Spoor2Outcome, Spoor2Status
from operations.cases import ActionRejected
from tests.driver import GROUNDS, ZOEKPROFIEL
from tests.workflows.test_case_workflow import wait_for


async def sa_value(driver, name, expected, seconds: float = 10.0):
    """A search attribute once it has the expected value (the case upserts it after the trajectory reports)."""

    async def current():
        return (await driver.search_attributes()).get(name)

    for _ in range(int(seconds / 0.05)):
        if await current() == expected:
            return expected
        await __import__("asyncio").sleep(0.05)
    assert await current() == expected


async def test_no_go_with_grounds_ends_spoor2_and_sends_the_case_to_wia(driver):
    await driver.reach_spoor2()
    assert (await driver.summary()).stage is Stage.SPOOR2
    await driver.advance(days=2)
    await driver.to_haalbaarheidstoets(scope="whole")
    await driver.advance(days=5)
    decided = await driver.act2(
        "haalbaarheidstoets_decided", decision="no_go", grounds=GROUNDS, report_reference="dms://poortwachtersproof/1"
    )
    assert decided.status is Spoor2Status.BEEINDIGD

    result = await driver.trajectory_result()
    assert result.outcome is Spoor2Outcome.NO_GO
    await driver.case_dossier_has("spoor2_outcome")
    summary = await driver.summary()
    assert summary.stage is Stage.WIA and summary.spoor2_result.value == "no_go" and not summary.spoor2_running
    dossier = await driver.dossier()
    copied = [e.kind for e in dossier if e.kind.startswith("spoor2:")]
    assert copied == [
        "spoor2:trajectory_started",
        *["spoor2:document_received"] * 5,
        "spoor2:intake_held",
        "spoor2:proposal_sent",
        "spoor2:purchase_approved",
        "spoor2:haalbaarheidstoets_decided",
    ]
    no_go = next(e for e in dossier if e.kind == "spoor2:haalbaarheidstoets_decided")
    assert no_go.details["grounds"] == GROUNDS and no_go.details["report_reference"] == "dms://poortwachtersproof/1"
    assert (await driver.search_attributes())["CaseStage"] == "wia"
    await driver.save_history("spoor2_no_go_to_wia")
    await driver.save_workflow_history("spoor2_no_go_trajectory", driver.trajectory_id)


async def test_go_phases_bought_one_by_one_until_a_new_job_closes_the_case(driver):
    await driver.reach_spoor2()
    await driver.to_haalbaarheidstoets(scope="phase")
    await driver.advance(days=3)
    await driver.act2(
        "haalbaarheidstoets_decided",
        decision="go",
        grounds=GROUNDS,
        zoekprofiel=ZOEKPROFIEL,
        coach_id="coach-2",
        coach_match={"language": "nl", "sector": "administration"},
    )
    for phase in (1, 2, 3, 4):
        if phase > 1:
            await driver.act2("purchase_approved", scope="phase", phase=phase)
        await driver.act2("phase_started", phase=phase)
        await sa_value(driver, "Spoor2Phase", phase)
        for _ in range(4):
            await driver.advance(days=14)
            await driver.act2("activity_recorded", activity="conversation")
        if phase == 2:
            view = await driver.trajectory()
            assert view.current_phase == 2 and view.approved_phases == [1, 2]
            assert (view.phases[1].conversations_held, view.phases[1].conversations_expected) == (4, 4)
        if phase == 4:
            await driver.act2("activity_recorded", activity="application")
            await driver.act2("activity_recorded", activity="interview")
            await driver.act2("activity_recorded", activity="job_offer")
            break
        await driver.advance(days=20)
        await driver.act2("phase_completed", phase=phase)
    hired = await driver.today()
    await driver.act2("outcome_recorded", outcome="nieuw_werk")

    case = await driver.result()
    assert case.outcome is Outcome.NIEUW_WERK and case.closed_on == hired
    assert (await driver.trajectory_result()).outcome is Spoor2Outcome.NIEUW_WERK
    view = await driver.trajectory()
    assert [p.number for p in view.phases] == [1, 2, 3, 4] and all(p.completed_on for p in view.phases)
    assert view.coach_id == "coach-2" and not any(p.time_up_flagged for p in view.phases)
    attributes = await driver.search_attributes()
    assert attributes["CaseStage"] == "closed" and attributes.get("Spoor2Phase") is None
    await driver.save_history("spoor2_phase_by_phase_to_new_job")


async def test_pause_for_illness_stops_the_phase_clock_then_secondment_until_week_104(driver):
    first = await driver.reach_spoor2(weeks_sick=60)
    await driver.to_haalbaarheidstoets(scope="whole")
    await driver.act2("haalbaarheidstoets_decided", decision="go", grounds=GROUNDS, zoekprofiel=ZOEKPROFIEL)
    await driver.act2("phase_started", phase=1)
    await driver.advance(weeks=10)
    await driver.act2("phase_completed", phase=1)
    await driver.act2("phase_started", phase=2)
    started2 = await driver.today()
    await driver.advance(weeks=3)
    paused_on = await driver.today()
    await driver.act2(
        "phase_paused", reason="illness", bedrijfsarts_consent_on=(paused_on - timedelta(days=1)).isoformat()
    )
    await driver.case_dossier_has("spoor2:phase_paused")
    assert (await driver.summary()).spoor2_status is Spoor2Status.GEPAUZEERD
    # Without the pause phase 2's time would be up now; paused, nothing is flagged. To a local date:
    # twelve weeks of elapsed time from late evening end a day later across the change to summer time.
    await driver.advance_to(paused_on + timedelta(weeks=12))
    assert not (await driver.trajectory()).phases[1].time_up_flagged
    await driver.act2("phase_resumed")
    view = await driver.trajectory()
    assert view.phases[1].paused_days == 84
    assert view.phases[1].time_up_on == started2 + timedelta(days=91 + 84 - 1)
    await driver.advance(weeks=4)
    await driver.act2("activity_recorded", activity="secondment")
    await driver.act2("outcome_recorded", outcome="detachering")
    assert (await driver.trajectory_result()).outcome is Spoor2Outcome.DETACHERING
    await driver.case_dossier_has("spoor2_outcome")
    summary = await driver.summary()
    assert summary.stage is Stage.SPOOR2 and summary.spoor2_result.value == "detachering" and summary.outcome is None
    # The employee applies for WIA in week 92: with the aanvraag on record the case ends with the waiting time
    # (without one it would stay open, docs/process.md, "A late WIA aanvraag").
    await driver.advance_to(first + timedelta(weeks=92))
    await driver.act("wia_aanvraag_filed")

    case = await driver.result()
    assert case.outcome is Outcome.EINDE_WACHTTIJD and case.closed_on == first + timedelta(days=7 * 104 - 1)
    await driver.save_history("spoor2_pause_then_secondment")


async def test_intake_not_held_within_a_week_of_complete_documents_is_flagged(driver):
    await driver.reach_spoor2()
    await driver.advance(days=1)
    await driver.documents()
    complete = await driver.today()
    await driver.advance(days=9)
    late = await driver.case_dossier_has("spoor2:intake_late")
    assert (
        late[0].on == complete + timedelta(days=8)
        and late[0].details["due"] == (complete + timedelta(days=7)).isoformat()
    )
    sent = await wait_for(lambda: [n for n in driver.notifications() if n["kind"] == "spoor2_intake_late"])
    assert len(sent) == 1 and sent[0]["recipient_role"] == "casemanager"
    view = await driver.trajectory()
    assert view.status is Spoor2Status.INTAKE and view.intake_due_on == complete + timedelta(days=7)
    # Held late, it is still recorded; the flag stays in the record.
    await driver.act2("intake_held", coach_id="coach-1")
    assert (await driver.trajectory()).status is Spoor2Status.VOORSTEL
    await driver.save_history("spoor2_intake_late")


async def test_phase_whose_time_is_up_is_flagged_not_extended(driver):
    await driver.reach_spoor2()
    await driver.to_haalbaarheidstoets(scope="whole")
    await driver.act2("haalbaarheidstoets_decided", decision="go", grounds=GROUNDS, zoekprofiel=ZOEKPROFIEL)
    await driver.act2("phase_started", phase=1)
    started = await driver.today()
    await driver.advance(weeks=14)
    flagged = await driver.case_dossier_has("spoor2:phase_time_up")
    assert flagged[0].details["due"] == (started + timedelta(days=90)).isoformat()
    view = await driver.trajectory()
    assert view.status is Spoor2Status.FASE and view.phases[0].time_up_flagged
    assert view.phases[0].time_up_on == started + timedelta(days=90)
    assert (await driver.search_attributes())["Spoor2Phase"] == 1
    await wait_for(lambda: [n for n in driver.notifications() if n["kind"] == "spoor2_phase_time_up"])
    await driver.act2("phase_completed", phase=1)
    assert (await driver.trajectory()).status is Spoor2Status.WACHT_OP_FASE
    await driver.save_workflow_history("spoor2_phase_time_up_trajectory", driver.trajectory_id)


async def test_coach_replaced_for_no_click_and_additional_service_after_approval(driver):
    await driver.reach_spoor2()
    await driver.to_haalbaarheidstoets(scope="whole")
    replaced = await driver.act2("coach_replaced", coach_id="coach-7", reason="No click with the first coach")
    assert "coach-1 -> coach-7" in replaced.entry.summary
    request = await driver.act2("service_requested", service="Workplace job coaching")
    await driver.act2("service_approved", request_id=request.action_id)
    await driver.act2("service_started", request_id=request.action_id)
    view = await driver.trajectory()
    assert view.coach_id == "coach-7" and view.services[0].started_on == await driver.today()
    entries = await driver.case_dossier_has("spoor2:service_started")
    assert entries[0].actor.role.value == "reintegratiecoach"


@pytest.mark.parametrize("weeks_sick", [40])
async def test_early_start_needs_the_bedrijfsarts_consent(driver, weeks_sick):
    from tests.domain.test_refusals import assert_refused

    today = await driver.today()
    await driver.open(
        today - timedelta(weeks=weeks_sick),
        stage="spoor1",
        prior_steps=[{"key": "probleemanalyse", "done_on": (today - timedelta(weeks=weeks_sick - 5)).isoformat()}],
    )
    await driver.ad_onderzoek(today)
    await assert_refused(
        driver, "spoor2_started", today, "needs the bedrijfsarts's consent on record", role="werkgever"
    )
    await driver.act("spoor2_consent_given", today)
    await driver.act("spoor2_started", today, role="werkgever")
    await driver.wait_for_trajectory()
    assert (await driver.summary()).spoor2_running


# --------------------------------------------------------------------------- refusals


async def accepted_updates(driver, workflow_id: str) -> int:
    history = await driver.client.get_workflow_handle(workflow_id).fetch_history()
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def assert_trajectory_refuses(driver, kind, message, **fields) -> str:
    """The trajectory refuses the action with `message`; its state and history stay as they were."""
    before = (await driver.trajectory_state()).model_dump()
    updates = await accepted_updates(driver, driver.trajectory_id)
    with pytest.raises(ActionRejected) as err:
        await driver.act2(kind, **fields)
    assert message in str(err.value)
    assert (await driver.trajectory_state()).model_dump() == before
    assert await accepted_updates(driver, driver.trajectory_id) == updates
    return str(err.value)


async def test_trajectory_refusals_name_the_reason_and_change_nothing(driver):
    await driver.open()
    with pytest.raises(ActionRejected, match="has no spoor 2 trajectory \\(spoor2_started is not on record\\)"):
        await driver.act2("document_received", document="fml", reference="dms://fml/1", role="bedrijfsarts")

    await driver.reach_spoor2()
    await assert_trajectory_refuses(
        driver,
        "intake_held",
        "the intake documents are not complete (missing: toestemmingsformulier",
        coach_id="coach-1",
    )
    await driver.to_haalbaarheidstoets(scope="phase")
    await assert_trajectory_refuses(
        driver, "haalbaarheidstoets_decided", "zoekprofiel: a go needs a zoekprofiel", decision="go", grounds=GROUNDS
    )
    await assert_trajectory_refuses(
        driver,
        "haalbaarheidstoets_decided",
        "grounds.coping: Field required",
        decision="no_go",
        grounds={k: v for k, v in GROUNDS.items() if k != "coping"},
    )
    await driver.act2("haalbaarheidstoets_decided", decision="go", grounds=GROUNDS, zoekprofiel=ZOEKPROFIEL)
    await driver.act2("phase_started", phase=1)
    await driver.advance(weeks=8)
    await driver.act2("phase_completed", phase=1)
    await assert_trajectory_refuses(
        driver, "phase_started", "phase_started: phase 2 is not approved by the employer", phase=2
    )
    request = await driver.act2("service_requested", service="Workplace job coaching")
    await assert_trajectory_refuses(
        driver,
        "service_started",
        "'Workplace job coaching' is not approved by the employer",
        request_id=request.action_id,
    )
    await assert_trajectory_refuses(
        driver,
        "purchase_approved",
        "the role re-integratiecoach may not record “Purchase approved by the werkgever”",
        scope="phase",
        phase=2,
        role="reintegratiecoach",
    )
    # The case has no spoor2_ended: the trajectory's outcome ends spoor 2.
    with pytest.raises(ActionRejected, match="kind: 'spoor2_ended' is not a known action"):
        await driver.act("spoor2_ended", result="geen_resultaat", role="werkgever")

    await driver.act2("outcome_recorded", outcome="geen_resultaat")
    ended = await driver.trajectory_result()
    message = await assert_trajectory_refuses(
        driver, "activity_recorded", "the trajectory has ended", activity="application"
    )
    assert f"(geen_resultaat on {ended.ended_on})" in message
    await driver.case_dossier_has("spoor2_outcome")
    assert (await driver.summary()).stage is Stage.WIA


async def test_a_retried_trajectory_action_is_applied_once(driver):
    await driver.reach_spoor2()
    payload = driver.payload(
        "document_received", await driver.today(), role="bedrijfsarts", document="fml", reference="dms://fml/1"
    )
    from operations import spoor2 as trajectories

    first = await trajectories.act(driver.client, driver.case_id, payload)
    again = await trajectories.act(driver.client, driver.case_id, payload)
    assert again.entry == first.entry
    # Another caller replaying the id (it shows in the record) learns nothing of the bedrijfsarts's entry.
    reused = driver.payload("intake_held", await driver.today(), action_id=payload["action_id"], coach_id="coach-1")
    with pytest.raises(ActionRejected, match="belongs to another caller's request"):
        await trajectories.act(driver.client, driver.case_id, reused)
    mine = driver.payload(
        "intake_held", await driver.today(), role="bedrijfsarts", action_id=payload["action_id"], coach_id="coach-1"
    )
    with pytest.raises(ActionRejected, match="was already used for “Document received”, not “Intake held”"):
        await trajectories.act(driver.client, driver.case_id, mine)
    record = await driver.trajectory_record()
    assert [e.kind for e in record].count("document_received") == 1
    entries = await driver.case_dossier_has("spoor2:document_received")
    await driver.advance(days=1)
    assert len([e for e in await driver.dossier() if e.kind == "spoor2:document_received"]) == len(entries) == 1


async def test_case_and_trajectory_continue_as_new_without_losing_or_repeating_anything(driver):
    await driver.reach_spoor2(cap=60)
    case_run = (await driver.handle.describe()).run_id
    trajectory = driver.client.get_workflow_handle(driver.trajectory_id)
    trajectory_run = (await trajectory.describe()).run_id
    await driver.to_haalbaarheidstoets(scope="whole")
    decided_on = await driver.today()
    await driver.act2(
        "haalbaarheidstoets_decided",
        decided_on,
        decision="go",
        grounds=GROUNDS,
        zoekprofiel=ZOEKPROFIEL,
        action_id="go-1",
    )
    await driver.act2("phase_started", phase=1)
    for week in range(1, 13):
        await driver.advance(weeks=1)
        await driver.act2("activity_recorded", activity="conversation" if week % 2 else "application")
    assert (await driver.handle.describe()).run_id != case_run
    assert (await trajectory.describe()).run_id != trajectory_run
    # The same request again, weeks later (a client's retry): answered from the record, not applied.
    again = await driver.act2(
        "haalbaarheidstoets_decided",
        decided_on,
        decision="go",
        grounds=GROUNDS,
        zoekprofiel=ZOEKPROFIEL,
        action_id="go-1",
    )
    assert again.applied is False

    # The trajectory reports to the case's newest run; the dossier has every entry exactly once.
    record = await driver.trajectory_record()
    copied = await driver.case_dossier_has("spoor2:activity_recorded", count=12)
    assert len(copied) == 12
    dossier = await driver.dossier()
    seqs = [e.details["trajectory_seq"] for e in dossier if e.kind.startswith("spoor2:")]
    assert seqs == [e.seq for e in record]
    assert (await driver.search_attributes())["Spoor2Phase"] == 1
    view = await driver.trajectory()
    assert view.phases[0].conversations_held == 6
    await driver.save_workflow_history(
        "spoor2_continued_as_new_trajectory_first_run", driver.trajectory_id, trajectory_run
    )
    await driver.save_history("spoor2_continued_as_new_case_first_run", run_id=case_run)


async def test_a_trajectory_without_the_watch_sends_its_own_notice_as_a_reference(driver):
    """A trajectory that notifies itself (one whose case has no stagnation watch) hands `notify` a reference on this
    release (patch `trajectory-notice-refs`): the case manager still reads the whole notice."""
    import json
    import uuid

    from domain.models import Actor, Role
    from service.rulebook import load_spoor2_rules
    from workflows import patches
    from workflows.payloads import TrajectoryInput
    from workflows.spoor2_trajectory import Spoor2Trajectory

    driver.case_id = f"C{uuid.uuid4().hex[:10]}"
    start = TrajectoryInput(
        case_id=driver.case_id,
        parent_workflow_id=f"no-case-{driver.case_id}",  # its reports go nowhere: what is sent is what counts here
        started_on=await driver.today(),
        started_by=Actor(role=Role.WERKGEVER),
        rules=load_spoor2_rules(),
        release=patches.RELEASE,
    )
    handle = await driver.client.start_workflow(
        Spoor2Trajectory.run, start, id=driver.trajectory_id, task_queue=driver.task_queue
    )
    await driver.documents()
    await driver.advance(days=9)
    [sent] = await wait_for(lambda: [n for n in driver.notifications() if n["kind"] == "spoor2_intake_late"])
    assert sent["recipient_role"] == "casemanager" and driver.case_id in sent["subject"] and sent["body"]
    codec = driver.client.data_converter.payload_codec
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    [notify] = [s for s in scheduled if s.activity_type.name == "notify"]
    [payload] = await codec.decode(notify.input.payloads)
    item = json.loads(payload.data)
    assert item["kind"] == "spoor2_intake_late" and item["subject"] == {"t": "spoor2.subject"}
    assert "notification_id" not in item and "body_text" not in item
