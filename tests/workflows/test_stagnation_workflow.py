"""Stagnation, escalation and reminders on the time-skipping server: cases left alone, on durable timers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from operations.cases import ActionRejected
from tests.driver import GROUNDS, ZOEKPROFIEL, CaseDriver
from tests.loopback import HR, settings_for
from tests.workflows.test_case_workflow import wait_for
from tests.workflows.test_spoor2_workflow import sa_value


async def in_phase_1(driver) -> date:
    """A case in spoor 2 phase 1, started today; its evaluatie held today so no statutory step
    falls due in the weeks the test looks at. Returns the day phase 1 started."""
    await driver.reach_spoor2()
    await driver.act("evaluatie_held", role="werkgever")
    await driver.to_haalbaarheidstoets(scope="whole")
    await driver.act2("haalbaarheidstoets_decided", decision="go", grounds=GROUNDS, zoekprofiel=ZOEKPROFIEL)
    await driver.act2("phase_started", phase=1)
    await driver.case_dossier_has("spoor2:phase_started")
    return await driver.today()


def entries(dossier, kind):
    return [e for e in dossier if e.kind == kind]


def notes(driver, kind):
    return [n for n in driver.notifications() if n["kind"] == kind]


async def test_phase_1_conversations_stop_escalate_step_by_step_and_resume_deescalates(driver):
    started = await in_phase_1(driver)
    for week in (1, 2):
        await driver.advance_to(started + timedelta(weeks=week))
        await driver.act2("activity_recorded", activity="conversation")
    last = started + timedelta(weeks=2)
    await driver.case_dossier_has("spoor2:activity_recorded", count=2)
    summary = await driver.summary()
    assert summary.escalation_level == 0
    assert summary.expected.by == last + timedelta(days=7) and summary.expected.context == "spoor2:fase1"
    assert (await driver.trajectory()).expected == summary.expected

    # Phase 1 expects a conversation every week: none by last + 7, so level 1 the next day.
    await driver.advance_to(last + timedelta(days=9))
    raised = await driver.case_dossier_has("escalation_raised")
    assert (raised[0].on, raised[0].details["level"], raised[0].details["reason"]) == (
        last + timedelta(days=8),
        1,
        "cadence",
    )
    await sa_value(driver, "EscalationLevel", 1)
    level1 = await wait_for(lambda: notes(driver, "escalation_raised"))
    assert sorted(n["recipient_role"] for n in level1) == ["casemanager", "reintegratiecoach"]
    assert (await driver.summary()).stalled_since == last + timedelta(days=8)

    # Fourteen more days without activity: level 2 alerts the employer, with the advice.
    await driver.advance_to(last + timedelta(days=8 + 14 + 1))
    raised = await driver.case_dossier_has("escalation_raised", count=2)
    assert (raised[1].on, raised[1].details["level"]) == (last + timedelta(days=22), 2)
    await sa_value(driver, "EscalationLevel", 2)
    employer = await wait_for(
        lambda: [n for n in notes(driver, "escalation_raised") if n["recipient_role"] == "werkgever"]
    )
    # In Dutch, the recipient's language by default (SPOORWERK_LANGUAGE).
    assert (
        "bespreek de re-integratie met uw werknemer" in employer[0]["body"].lower()
        and "bedrijfsarts" in employer[0]["body"]
    )

    # The coach records a conversation again: the stagnation ends, on the dossier with its date.
    resumed = await driver.today()
    await driver.act2("activity_recorded", activity="conversation")
    resolved = await driver.case_dossier_has("escalation_resolved")
    assert resolved[0].on == resumed and resolved[0].details["previous"] == 2
    await sa_value(driver, "EscalationLevel", 0)
    summary = await driver.summary()
    assert summary.escalation_level == 0 and summary.expected.by == resumed + timedelta(days=7)
    ended = await wait_for(lambda: notes(driver, "escalation_resolved"))
    assert sorted(n["recipient_role"] for n in ended) == ["casemanager", "werkgever"]
    # No level 3 was reached: nothing was asked of the employer beyond the talk.
    assert not entries(await driver.dossier(), "measure_requested")
    await driver.save_history("stagnation_phase1_escalates_and_resumes")


async def test_non_cooperation_asks_the_employer_for_measures_in_their_order(driver):
    started = await in_phase_1(driver)
    await driver.advance(days=3)
    await driver.act2("activity_recorded", activity="conversation")
    refused_on = await driver.today()
    await driver.act("non_cooperation_recorded", role="reintegratiecoach", note="Did not come to two appointments")

    # Straight to level 3: the first measure is asked, and the deskundigenoordeel offered to both parties.
    await sa_value(driver, "EscalationLevel", 3)
    requested = await driver.case_dossier_has("measure_requested")
    assert (requested[0].on, requested[0].details["measure"]) == (refused_on, "aanspreken")
    raised = entries(await driver.dossier(), "escalation_raised")
    assert raised[-1].details["level"] == 3 and "deskundigenoordeel" in raised[-1].summary
    level3 = await wait_for(lambda: notes(driver, "escalation_raised"))
    assert {n["recipient_role"] for n in level3} == {"werkgever", "casemanager", "werknemer"}
    assert not any("appointments" in n["body"] for n in await driver.sent())  # free-text notes stay in the dossier

    # Measures are recorded in order; skipping one is refused and changes nothing.
    with pytest.raises(ActionRejected, match="measures are taken in their order; the next is aanspreken"):
        await driver.act("measure_taken", role="werkgever", measure="officiele_berisping")
    await driver.advance(days=2)
    await driver.act("measure_taken", role="werkgever", measure="aanspreken")
    taken_on = await driver.today()

    # Still no cooperation 14 days after the measure: the next one is asked.
    await driver.advance_to(taken_on + timedelta(days=15))
    requested = await driver.case_dossier_has("measure_requested", count=2)
    assert (requested[1].on, requested[1].details["measure"]) == (
        taken_on + timedelta(days=14),
        "schriftelijk_vastleggen",
    )
    # Not recorded within 14 days: the employer is reminded of it, not asked for a third.
    await driver.advance_to(taken_on + timedelta(days=29))
    reminded = await driver.case_dossier_has("measure_reminder")
    assert (reminded[0].on, reminded[0].details["measure"]) == (
        taken_on + timedelta(days=28),
        "schriftelijk_vastleggen",
    )
    await driver.act("measure_taken", role="werkgever", measure="schriftelijk_vastleggen")
    await driver.act("evaluatie_held", role="werkgever")  # the plan's evaluations go on meanwhile
    measures = [e.details["measure"] for e in entries(await driver.dossier(), "measure_taken")]
    assert measures == ["aanspreken", "schriftelijk_vastleggen"]

    # Operations acknowledge the escalation: it stays at level 3 but asks nothing for the hold period.
    ack_on = await driver.today()
    await driver.act("escalation_acknowledged", role="operations", reason="Employer and bedrijfsarts meet next week")
    await driver.advance_to(ack_on + timedelta(days=14))
    assert len(entries(await driver.dossier(), "measure_requested")) == 2
    await driver.advance_to(ack_on + timedelta(days=16))
    requested = await driver.case_dossier_has("measure_requested", count=3)
    assert (requested[2].on, requested[2].details["measure"]) == (ack_on + timedelta(days=15), "officiele_berisping")

    # The employee cooperates again: activity ends it.
    await driver.act2("activity_recorded", activity="conversation")
    await driver.case_dossier_has("escalation_resolved")
    await sa_value(driver, "EscalationLevel", 0)
    assert started < refused_on
    await driver.save_history("stagnation_non_cooperation_measures")


async def test_reminders_arrive_at_their_lead_times_before_a_deadline(driver):
    first = await driver.today()
    await driver.open(first, contacts={"bedrijfsarts": ["arts@arbodienst.example"], "casemanager": ["cm@acme.example"]})
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    due = first + timedelta(days=41)  # the probleemanalyse: end of week 6

    # Opened within week 1, the ziekmelding to the arbodienst was reminded at once.
    opening = await driver.case_dossier_has("reminder_sent")
    assert [(e.on, e.details["key"], e.details["lead_days"]) for e in opening] == [
        (first, "ziekmelding_arbodienst", 14)
    ]

    await driver.advance_to(due - timedelta(days=14))
    first_reminder = [
        e for e in await driver.case_dossier_has("reminder_sent", count=2) if e.details["key"] == "probleemanalyse"
    ]
    assert [(e.on, e.details["lead_days"]) for e in first_reminder] == [(due - timedelta(days=14), 14)]
    sent = await wait_for(
        lambda: [n for n in notes(driver, "deadline_reminder") if n["deadline_key"] == "probleemanalyse"]
    )
    assert sorted(n["recipient_role"] for n in sent) == ["bedrijfsarts", "casemanager"]
    assert all(n["due"] == due.isoformat() for n in sent)

    await driver.advance_to(due - timedelta(days=3))
    reminders = [
        e for e in await driver.case_dossier_has("reminder_sent", count=3) if e.details["key"] == "probleemanalyse"
    ]
    assert [(e.on, e.details["lead_days"]) for e in reminders] == [
        (due - timedelta(days=14), 14),
        (due - timedelta(days=3), 3),
    ]
    await wait_for(
        lambda: len([n for n in notes(driver, "deadline_reminder") if n["deadline_key"] == "probleemanalyse"]) == 4
    )

    # Done in time: no overdue mark, no escalation, no further reminder of it.
    await driver.act("probleemanalyse_recorded")
    await driver.advance_to(due + timedelta(days=5))
    dossier = await driver.dossier()
    assert not entries(dossier, "deadline_overdue") and not entries(dossier, "escalation_raised")
    # The plan van aanpak falls due two weeks after the probleemanalyse: reminded at once, 14 days ahead.
    assert [(e.details["key"], e.details["lead_days"]) for e in entries(dossier, "reminder_sent")] == [
        ("ziekmelding_arbodienst", 14),
        ("probleemanalyse", 14),
        ("probleemanalyse", 3),
        ("plan_van_aanpak", 14),
    ]
    # No addresses in the dossier: the contacts are for notifying only.
    assert "arts@arbodienst.example" not in str([e.model_dump() for e in dossier])
    await driver.save_history("reminders_before_probleemanalyse")


async def test_a_missed_deadline_escalates_until_recorded(driver):
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    due = first + timedelta(days=41)
    await driver.advance_to(due + timedelta(days=16))
    raised = await driver.case_dossier_has("escalation_raised", count=2)
    assert [(e.on, e.details["level"], e.details["reason"]) for e in raised] == [
        (due + timedelta(days=1), 1, "deadline"),
        (due + timedelta(days=15), 2, "deadline"),
    ]
    assert "probleemanalyse is overdue" in raised[0].summary
    # Other activity does not end it: the step itself must be recorded (or deviated from).
    await driver.act("partial_recovery", role="bedrijfsarts", percentage=50)
    await driver.advance(days=1)
    assert (await driver.summary()).escalation_level == 2
    await driver.act("probleemanalyse_recorded")
    await driver.case_dossier_has("escalation_resolved")
    await sa_value(driver, "EscalationLevel", 0)


async def test_escalation_actions_are_refused_with_their_reason(driver):
    await driver.open()
    before = await driver.dossier()
    with pytest.raises(ActionRejected, match="not escalated"):
        await driver.act("escalation_acknowledged", role="operations", reason="seen")
    with pytest.raises(ActionRejected, match="no measures are asked"):
        await driver.act("measure_taken", role="werkgever", measure="aanspreken")
    with pytest.raises(ActionRejected, match="measure: 'boete' is not a measure"):
        await driver.act("measure_taken", role="werkgever", measure="boete")
    with pytest.raises(ActionRejected, match="actor.role: the role werknemer may not record “Stagnation reported”"):
        await driver.act("stagnation_reported", role="werknemer")
    with pytest.raises(ActionRejected, match="addresses.0"):
        await driver.act(
            "contacts_updated", role="operations", recipient_role="werkgever", addresses=["not-an-address"]
        )
    assert await driver.dossier() == before


async def test_stagnation_reported_by_the_coach_alerts_the_employer_at_once(driver):
    await in_phase_1(driver)
    reported_on = await driver.today()
    await driver.act("stagnation_reported", role="reintegratiecoach")
    raised = await driver.case_dossier_has("escalation_raised")
    assert (raised[0].on, raised[0].details["level"], raised[0].details["reason"]) == (reported_on, 2, "reported")
    await sa_value(driver, "EscalationLevel", 2)
    # Without activity it climbs to level 3 after the ladder's period.
    await driver.advance_to(reported_on + timedelta(days=15))
    raised = await driver.case_dossier_has("escalation_raised", count=2)
    assert (raised[1].on, raised[1].details["level"]) == (reported_on + timedelta(days=14), 3)


async def test_notifications_reach_the_cases_contacts_and_a_refused_one_is_recorded(ts_env, tmp_path, smtp, webhook):
    """E-mail to the addresses the case holds per role; a webhook that answers 400 is a recorded
    failure, not retried, and the case goes on."""
    webhook.statuses = [400]
    settings = settings_for(tmp_path, ["log", "email", "webhook"], smtp, webhook)
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        first = await driver.today()
        await driver.open(
            first, contacts={"bedrijfsarts": ["arts@arbodienst.example"], "casemanager": ["cm@acme.example"]}
        )
        await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
        due = first + timedelta(days=41)
        await driver.advance_to(due - timedelta(days=14))
        failed = await driver.case_dossier_has("notification_failed", count=4)  # opening reminder x2, this one x2
        assert {e.details["reason"] for e in failed} == {"webhook: HTTP 400"}
        assert {e.details["channel"] for e in failed} == {"webhook"}
        assert "not delivered (webhook): webhook: HTTP 400" in failed[-1].summary
        assert len(webhook.requests) == 4  # one request each: a 400 is not retried

        mails = await wait_for(
            lambda: [
                (to, m)
                for to, m in smtp.inbox.messages
                if "Plan" not in m["Subject"] and "Probleemanalyse" in m["Subject"]
            ]
        )
        assert sorted(to for to, _ in mails) == [["arts@arbodienst.example"], ["cm@acme.example"]]
        # The employer's reminder of the ziekmelding went to the configured defaults for werkgever.
        employer = [to for to, m in smtp.inbox.messages if "arbodienst" in m["Subject"].lower() and to == HR]
        assert employer == [HR]

        # The case goes on: the next reminder comes, and the failures are all it recorded of them.
        await driver.advance_to(due - timedelta(days=3))
        await driver.case_dossier_has("notification_failed", count=6)
        assert (await driver.summary()).escalation_level == 0
