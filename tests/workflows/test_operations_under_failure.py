"""Operations under failure on the time-skipping server: a notification channel down for a day and
for longer than the give-up time, and the worker down for a week and for three weeks.

The channels fail for real: the SMTP server (tests/loopback.py) refuses every recipient with a 451
and the webhook receiver answers 503, through Temporal's own activity retries. The worker is
stopped (the `async with` is left), time passes without it (`worker_down`), and a new worker starts
on the same task queue. docs/durability.md, "Operations under failure", describes what the operator sees.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.testing import WorkflowEnvironment

from activities import notify
from activities.mail import message_id
from activities.notify import NotificationLog
from domain import spoor2
from domain import stagnation as st
from domain.models import Role
from service.rulebook import load_stagnation_rules
from service.settings import Settings
from tests.domain.test_spoor2_rules import START, act, new_trajectory, to_go
from tests.driver import CaseDriver, activities_scheduled, local_activities, local_work_done
from tests.loopback import settings_for
from tests.workflows.test_case_workflow import wait_for
from worker import build_worker
from workflows.common import NOTIFY_GIVE_UP

CONTACTS = {"bedrijfsarts": ["arts@arbodienst.example"], "casemanager": ["cm@acme.example"]}
NOW_LATE = datetime(2026, 7, 20, 9, tzinfo=timezone.utc)
SMTP_DOWN = "451 4.3.0 Mail server temporarily unavailable, try again later"


def logged(driver: CaseDriver) -> list[dict]:
    """The notification log, read while the worker may be appending to it."""
    for _ in range(100):
        try:
            return driver.notifications()
        except json.JSONDecodeError:  # a line half written: read again
            time.sleep(0.01)
    return driver.notifications()


def kinds_on(entries, first: date) -> list[tuple[str, int]]:
    """Dossier entries as (kind, days since the first sick day)."""
    return [(e.kind, (e.on - first).days) for e in entries]


def mails_for(smtp, notification_id: str) -> list:
    return [m for _, m in smtp.inbox.messages if m["Message-ID"] == message_id(notification_id)]


def hooks_for(webhook, notification_id: str, status: int | None = None) -> list[dict]:
    return [
        r
        for r in webhook.requests
        if r["body"]["notification_id"] == notification_id and (status is None or r["status"] == status)
    ]


# ------------------------------------------------------------------ a channel down


def due_ids(driver: CaseDriver) -> list[str]:
    """Ids of the notifications in the log about the probleemanalyse and the plan van aanpak."""
    return [n["notification_id"] for n in logged(driver) if n["deadline_key"] in ("probleemanalyse", "plan_van_aanpak")]


async def open_case_before_the_probleemanalyse_reminder(driver: CaseDriver) -> tuple[date, date]:
    """A case opened today with its contacts; returns the first sick day and the day of the
    probleemanalyse's 14-day reminder (06:00), with time just before that reminder."""
    first = await driver.today()
    await driver.open(first, contacts=CONTACTS)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    reminder_day = first + timedelta(days=41 - 14)
    await driver.advance_to(reminder_day, hour=4)
    return first, reminder_day


async def test_channels_down_for_a_day_deliver_each_notification_once_when_back(ts_env, tmp_path, smtp, webhook):
    settings = settings_for(tmp_path, ["log", "email", "webhook"], smtp, webhook)
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        first, down_on = await open_case_before_the_probleemanalyse_reminder(driver)
        # What went before the outage went out on every channel.
        await wait_for(lambda: len(logged(driver)) == len(webhook.requests) == len(smtp.inbox.messages))

        # 05:00: the mail server refuses every recipient with a 451 and the webhook receiver answers 503.
        await driver.advance_to(down_on, hour=5)
        smtp.inbox.refuse, webhook.statuses[:] = SMTP_DOWN, [503]
        requests_before = len(webhook.requests)
        # 06:00: the probleemanalyse's reminder falls due; 14:00: the bedrijfsarts records it, which
        # brings the plan van aanpak's reminder. The case's clock and actions do not wait for the channels.
        await driver.advance_to(down_on, hour=14)
        recorded = await driver.act("probleemanalyse_recorded")
        assert recorded.applied and recorded.entry.on == down_on
        await driver.advance_to(down_on + timedelta(days=1), hour=4)

        dossier = await driver.dossier()
        reminders = [e for e in dossier if e.kind == "reminder_sent" and e.on == down_on]
        assert [e.details["key"] for e in reminders] == ["probleemanalyse", "plan_van_aanpak"]
        assert not [e for e in dossier if e.kind == "notification_failed"]  # a transient failure is not one
        # Four notifications into the outage: the log has them, e-mail and webhook not yet.
        ids = due_ids(driver)
        assert len(ids) == 4 and len(set(ids)) == 4
        assert not any(mails_for(smtp, i) or hooks_for(webhook, i, 200) for i in ids)
        assert {r["status"] for r in webhook.requests[requests_before:]} == {503}
        tried = Counter(r["body"]["notification_id"] for r in webhook.requests[requests_before:])
        assert set(tried) == set(ids)
        # Retried with backoff (5 s doubling to an hour): about 30 attempts each in the first day.
        assert min(tried.values()) >= 20

        # 05:00 the next day, after 24 hours, the mail server is back; 06:00 the webhook receiver.
        await driver.advance_to(down_on + timedelta(days=1), hour=5)
        smtp.inbox.refuse = None
        await driver.advance_to(down_on + timedelta(days=1), hour=6)
        webhook.statuses[:] = [200]
        await driver.advance_to(down_on + timedelta(days=1), hour=9)

        await wait_for(lambda: all(hooks_for(webhook, i, 200) for i in ids))
        for i in ids:  # exactly once on every channel
            assert len(mails_for(smtp, i)) == 1, i
            assert len(hooks_for(webhook, i, 200)) == 1, i
        log = Counter(n["notification_id"] for n in logged(driver))
        assert set(log.values()) == {1}
        # The mail carries the role's contact and nothing was lost or recorded twice.
        pa_mail = mails_for(smtp, next(i for i in ids if i.endswith(":bedrijfsarts")))[0]
        assert pa_mail["To"] == "arts@arbodienst.example"
        dossier = await driver.dossier()
        assert not [e for e in dossier if e.kind == "notification_failed"]
        assert Counter(e.kind for e in dossier if e.on >= down_on) == {
            "reminder_sent": 2,
            "probleemanalyse_recorded": 1,
            "stage_changed": 1,
        }
        assert [e.seq for e in dossier] == list(range(1, len(dossier) + 1))
        print(
            f"\n[channel down 1 day] notifications into the outage: {len(ids)}; webhook attempts refused: "
            f"{sum(tried.values())} (per notification {sorted(tried.values())}); delivered once each on "
            f"3 channels; duplicates: 0"
        )


async def test_a_log_that_fails_the_local_delivery_gets_the_notices_by_the_activity_with_the_long_retry(
    ts_env, tmp_path
):
    """On the embedded default the log is written by local activity in the case's workflow task (patch
    `notices-local`); a log that cannot be written then is left to `notify_batch`, which retries until it can."""
    settings = settings_for(tmp_path, ["log"])
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        first, due_on = await open_case_before_the_probleemanalyse_reminder(driver)
        before = len(await driver.sent())
        assert before > 0
        history = await driver.opened.fetch_history()
        assert activities_scheduled(history) == [] and local_activities(history, "local_work")

        # 05:00 folders are where the log and its held lines should be (as a full disk); 06:00 the reminder falls due.
        log = NotificationLog(settings.notification_log_path)
        for path in (log.path, log.held.path):
            path.rename(path.with_name(path.name + ".aside"))
            path.mkdir()
        await driver.advance_to(due_on, hour=9)
        history = await driver.opened.fetch_history()
        [batch] = activities_scheduled(history, "notify_batch")
        [refs, done] = await driver.client.data_converter.decode(batch.input.payloads)
        assert [r["delivered"] for r in done] == [[]] * len(refs) == [[]] * 2  # the local attempt finished nothing

        # The disk is freed at noon: the retry delivers each reminder once, and the case recorded no failure.
        for path in (log.path, log.held.path):
            path.rmdir()
            path.with_name(path.name + ".aside").rename(path)
        await driver.advance_to(due_on, hour=14)
        await wait_for(lambda: len(logged(driver)) == before + 2)
        assert set(Counter(n["notification_id"] for n in logged(driver)).values()) == {1}
        dossier = await driver.dossier()
        assert [e.details["key"] for e in dossier if e.kind == "reminder_sent" and e.on == due_on] == [
            "probleemanalyse"
        ]
        assert not [e for e in dossier if e.kind == "notification_failed"]


async def test_notices_the_worker_cannot_make_go_the_long_way_while_the_facts_of_the_same_wake_are_written(
    ts_env, tmp_path, monkeypatch
):
    """Release 11 hands a wake's notices and facts to the worker in one local activity (`local_work`): a part that
    fails there goes its own long way, the other stands. Here the worker cannot make the opening's reminders (as
    templates it lacks): `notify_batch` retries them until it can; the store has the opening's facts at once."""
    settings = settings_for(tmp_path, ["log"])
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:

        def cannot_make(_notifications):
            raise LookupError("template deadline_reminder missing")

        monkeypatch.setattr(notify, "_made", cannot_make)
        await driver.open(await driver.today(), contacts=CONTACTS)
        for _ in range(200):  # the opening's first workflow task, recorded
            history = await driver.opened.fetch_history()
            if activities_scheduled(history, "notify_batch"):
                break
            await asyncio.sleep(0.05)
        [opening] = await local_work_done(driver.client, history)
        assert opening is not None and opening.delivery is None
        assert "template deadline_reminder missing" in (opening.notices_failed or "")
        assert opening.facts_written and opening.facts_failed is None
        assert len(activities_scheduled(history, "notify_batch")) == 1
        assert activities_scheduled(history, "write_case_facts") == []
        assert logged(driver) == []

        # The templates are back: the batch's retry delivers each reminder once, and the case records no failure.
        monkeypatch.undo()
        await driver.env.sleep(timedelta(hours=2))
        await wait_for(lambda: len(logged(driver)) == 2)
        assert set(Counter(n["notification_id"] for n in logged(driver)).values()) == {1}
        assert not [e for e in await driver.dossier() if e.kind == "notification_failed"]


async def test_a_channel_down_longer_than_the_give_up_time_is_recorded_and_the_case_goes_on(
    ts_env, tmp_path, smtp, webhook
):
    settings = settings_for(tmp_path, ["log", "email", "webhook"], smtp, webhook)
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        first, down_on = await open_case_before_the_probleemanalyse_reminder(driver)
        await driver.advance_to(down_on, hour=5)
        webhook.statuses[:] = [503]  # down for four days; e-mail and the log work
        await driver.advance_to(down_on, hour=14)
        await driver.act("probleemanalyse_recorded")
        ids = await wait_for(lambda: len(due_ids(driver)) == 4 and due_ids(driver))

        # Three days after each notification was handed over, its webhook delivery is given up on.
        await driver.advance_to(down_on + NOTIFY_GIVE_UP, hour=10)
        failed = await driver.case_dossier_has("notification_failed", count=2)
        assert len(failed) == 2  # the probleemanalyse's, at 06:00; not yet the plan's, from 14:00
        await driver.advance_to(down_on + NOTIFY_GIVE_UP, hour=15)
        failed = await driver.case_dossier_has("notification_failed", count=4)
        assert {e.details["notification_id"] for e in failed} == set(ids)
        assert {e.details["channel"] for e in failed} == {"webhook"}
        assert {e.on for e in failed} == {down_on + NOTIFY_GIVE_UP}
        assert all(e.details["reason"].startswith("gave up after 3 days: webhook: HTTP 503") for e in failed)
        assert "not delivered (webhook)" in failed[0].summary
        # The channels that worked delivered once; the case went on meanwhile.
        assert all(len(mails_for(smtp, i)) == 1 for i in ids)
        summary = await driver.summary()
        assert summary.escalation_level == 0 and not summary.overdue

        # The receiver is back on the fourth day: the given-up notices are not sent late, new ones arrive.
        await driver.advance_to(down_on + timedelta(days=4), hour=5)
        webhook.statuses[:] = [200]
        pva_due = down_on + timedelta(days=14)
        await driver.advance_to(pva_due - timedelta(days=3), hour=10)
        later = await wait_for(
            lambda: [
                r for r in webhook.requests if r["status"] == 200 and r["body"]["deadline_key"] == "plan_van_aanpak"
            ]
        )
        assert {r["body"]["recipient_role"] for r in later} == {"werkgever", "casemanager"}
        assert all(r["body"]["due"] == pva_due.isoformat() for r in later)
        assert not any(hooks_for(webhook, i, 200) for i in ids)
        assert len([e for e in await driver.dossier() if e.kind == "notification_failed"]) == 4
        attempts = sorted(len(hooks_for(webhook, i, 503)) for i in ids)
        print(
            f"\n[channel down {NOTIFY_GIVE_UP.days + 1} days] webhook attempts refused per notification: {attempts}; "
            f"notifications given up on the webhook: 4, "
            f"recorded as notification_failed: 4; delivered by e-mail and log: 4 each; sent late: 0"
        )


# ------------------------------------------------------------------ the worker down


async def worker_down(env: WorkflowEnvironment, workflow_ids: list[str], duration: timedelta) -> int:
    """Let `duration` pass with no worker; returns how many of the workflows woke meanwhile.

    The time-skipping server holds its clock while a task waits for a worker (it expects one to come
    at once), where the real server's timers fire and their tasks wait in the queue for the week.
    So each workflow task that is scheduled meanwhile gets its hold on the clock released here, and
    given back before the next worker starts (which takes the task and with it the hold). The stopped
    worker must have run without a sticky cache (`case_left_at_day_36`): this server never moves a
    task off the sticky queue of a worker that is gone, as the real one does after a few seconds.
    """
    seen = {}
    for workflow_id in workflow_ids:
        seen[workflow_id] = len((await env.client.get_workflow_handle(workflow_id).fetch_history()).events)
    sleeping = asyncio.create_task(env.sleep(duration))
    woke: set[str] = set()
    while not sleeping.done():
        for workflow_id in set(workflow_ids) - woke:
            events = (await env.client.get_workflow_handle(workflow_id).fetch_history()).events
            if (
                len(events) > seen[workflow_id]
                and events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
            ):
                woke.add(workflow_id)
                await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        await asyncio.wait([sleeping], timeout=0.02)
    await sleeping
    for _ in woke:
        await env.client.test_service.lock_time_skipping(LockTimeSkippingRequest())
    return len(woke)


async def case_left_at_day_36(ts_env: WorkflowEnvironment, tmp_path) -> tuple[CaseDriver, date, int]:
    """A case opened today, its ziekmelding sent and nothing after, run to day 36 by a worker that
    then stops. Returns the driver, the first sick day and how many notifications went out.

    The worker runs without a sticky cache (see `worker_down`) and answers no queries meanwhile.
    """
    settings = Settings(data_dir=tmp_path / "data", max_cached_workflows=0)
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        first = await driver.today()
        await driver.open(first)
        await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
        await driver.advance_to(first + timedelta(days=36))
        # The ziekmelding's and the probleemanalyse's 14-day reminders, to the employer or bedrijfsarts and the case manager.
        sent = len(await wait_for(lambda: len(logged(driver)) == 4 and logged(driver)))
    return driver, first, sent


async def test_worker_down_for_a_week_takes_what_fell_due_in_date_order_without_stale_reminders(ts_env, tmp_path):
    driver, first, sent_before = await case_left_at_day_36(ts_env, tmp_path)
    pa_due, pva_due = first + timedelta(days=41), first + timedelta(days=55)  # week 6; week 8 while no probleemanalyse

    # Down from day 36 to day 43. Due meanwhile: the probleemanalyse's 3-day reminder (day 38), the
    # plan van aanpak's 14-day reminder (day 41), the probleemanalyse overdue and escalation level 1 (day 42).
    assert driver.handle is not None
    woke = await worker_down(ts_env, [driver.handle.id], timedelta(weeks=1))
    assert woke == 1
    returned = await driver.now()
    async with build_worker(ts_env.client, Settings(data_dir=tmp_path / "data"), task_queue=driver.task_queue):
        back = await driver.today()
        assert back == first + timedelta(days=43)
        await driver.case_dossier_has("escalation_raised")
        dossier = await driver.dossier()
        new = [e for e in dossier if e.recorded_at >= returned]  # all the worker took on its return
        assert kinds_on(new, first) == [("deadline_overdue", 42), ("escalation_raised", 42), ("reminder_sent", 43)]
        overdue, raised, reminder = new
        assert overdue.details["key"] == "probleemanalyse" and overdue.details["due"] == pa_due.isoformat()
        assert (raised.details["level"], raised.details["reason"]) == (1, "deadline")
        assert raised.details["since"] == (pa_due + timedelta(days=1)).isoformat()
        # Still useful: the plan is due in 12 days, so its 14-day reminder goes now, dated today.
        assert (reminder.details["key"], reminder.details["lead_days"], reminder.details["due"]) == (
            "plan_van_aanpak",
            14,
            pva_due.isoformat(),
        )
        assert "in 12 days" in reminder.summary
        # Stale: the probleemanalyse's 3-day reminder; its deadline passed while the worker was down.
        assert not [e for e in new if e.kind == "reminder_sent" and e.details["key"] == "probleemanalyse"]
        assert [e.kind for e in dossier if e.recorded_at < returned][-1] == "reminder_sent"  # day 27's, before
        assert [e.seq for e in dossier] == list(range(1, len(dossier) + 1))

        notes = await wait_for(lambda: len(logged(driver)) == sent_before + 4 and logged(driver))
        woken = [(n["kind"], n["recipient_role"], n["deadline_key"]) for n in notes[sent_before:]]
        assert sorted(woken, key=str) == sorted(
            [
                ("deadline_overdue", "casemanager", "probleemanalyse"),
                ("escalation_raised", "casemanager", None),
                ("deadline_reminder", "werkgever", "plan_van_aanpak"),
                ("deadline_reminder", "casemanager", "plan_van_aanpak"),
            ],
            key=str,
        )
        summary = await driver.summary()
        assert summary.escalation_level == 1 and summary.overdue == ["probleemanalyse"]

        # The case keeps time again: the plan's 3-day reminder comes on its day, once.
        await driver.advance_to(pva_due - timedelta(days=3))
        reminded = [
            e
            for e in await driver.case_dossier_has(
                "reminder_sent", count=len([e for e in dossier if e.kind == "reminder_sent"]) + 1
            )
            if e.details["key"] == "plan_van_aanpak"
        ]
        assert [(e.on, e.details["lead_days"]) for e in reminded] == [(back, 14), (pva_due - timedelta(days=3), 3)]
        await driver.save_history("worker_down_a_week")
        print(
            f"\n[worker down 7 days] timers fired meanwhile: {woke}; steps taken on return: {len(new)} "
            f"(overdue day 42, level 1 day 42, reminder day 43); notifications: 4; stale reminders suppressed: 1 "
            f"(probleemanalyse, 3 days ahead, 2 roles)"
        )


async def test_worker_down_for_three_weeks_climbs_the_ladder_in_order_and_sends_only_what_still_holds(ts_env, tmp_path):
    driver, first, sent_before = await case_left_at_day_36(ts_env, tmp_path)

    # Down from day 36 to day 57: two reminders of the probleemanalyse and plan van aanpak each fall
    # due and their deadlines pass; both steps go overdue; the ladder climbs to level 1, then 2.
    assert driver.handle is not None
    woke = await worker_down(ts_env, [driver.handle.id], timedelta(weeks=3))
    returned = await driver.now()
    async with build_worker(ts_env.client, Settings(data_dir=tmp_path / "data"), task_queue=driver.task_queue):
        await driver.case_dossier_has("escalation_raised", count=2)
        dossier = await driver.dossier()
        new = [e for e in dossier if e.recorded_at >= returned]  # all the worker took on its return
        assert kinds_on(new, first) == [
            ("deadline_overdue", 42),
            ("escalation_raised", 42),
            ("deadline_overdue", 56),
            ("escalation_raised", 56),
        ]
        assert [e.details["key"] for e in new if e.kind == "deadline_overdue"] == ["probleemanalyse", "plan_van_aanpak"]
        level1, level2 = (e for e in new if e.kind == "escalation_raised")
        assert (level1.details["level"], level2.details["level"], level2.details["previous"]) == (1, 2, 1)
        # Level 2 tells the case manager where things stand; level 1's notice to it is not sent as well.
        assert level1.details["not_notified"] == ["casemanager"] and "not sent to the casemanager" in level1.summary
        assert "not_notified" not in level2.details
        assert not [e for e in new if e.kind == "reminder_sent"]  # every reminder's deadline has passed

        notes = await wait_for(lambda: len(logged(driver)) == sent_before + 4 and logged(driver))
        woken = sorted((n["kind"], n["recipient_role"], n["deadline_key"] or "") for n in notes[sent_before:])
        assert woken == [
            ("deadline_overdue", "casemanager", "plan_van_aanpak"),
            ("deadline_overdue", "casemanager", "probleemanalyse"),
            ("escalation_raised", "casemanager", ""),
            ("escalation_raised", "werkgever", ""),
        ]
        level2_notes = [n for n in notes[sent_before:] if n["kind"] == "escalation_raised"]
        assert all("Escalatieniveau 2 (was 1)" in n["body"] for n in level2_notes)
        assert (await driver.summary()).escalation_level == 2
        await driver.save_history("worker_down_three_weeks")
        print(
            f"\n[worker down 21 days] timers fired meanwhile: {woke}; steps taken on return: {len(new)} in date "
            f"order; notifications: 4; suppressed: 1 superseded ladder notice + 3 stale reminders (6 notices)"
        )


# ------------------------------------------------------------------ the rules, without Temporal


def test_a_ladder_caught_up_at_once_notifies_each_role_of_its_latest_step_only():
    rules = load_stagnation_rules()
    start = date(2026, 3, 2)
    watch = st.start_watch(start)
    stall = st.Stall(reason="non_cooperation", since=start, min_level=3, forced_on=start, detail="non-cooperation")
    steps = st.advance(watch, rules, stall, start, case_id="C1", coach=False)
    assert [s.kind for s in steps] == ["escalation_raised", "measure_requested"]
    st.drop_replaced_notices(steps)  # same day: level 3 and its first measure both notify
    assert all(s.notify and "not_notified" not in s.details for s in steps)

    # The worker was down for six weeks: the requested measure is reminded on days 14, 28 and 42.
    day = start + timedelta(days=43)
    steps = st.advance(watch, rules, stall, day, case_id="C1", coach=False)
    assert [(s.kind, (s.on - start).days) for s in steps] == [
        ("measure_reminder", 14),
        ("measure_reminder", 28),
        ("measure_reminder", 42),
    ]
    st.drop_replaced_notices(steps)
    assert [s.notify for s in steps] == [[], [], [Role.WERKGEVER, Role.CASEMANAGER]]
    assert [s.details.get("not_notified") for s in steps] == [["werkgever", "casemanager"]] * 2 + [None]


def test_a_trajectory_waking_late_records_its_flags_in_date_order():
    state = new_trajectory()
    to_go(state)
    act(state, "phase_started", START + timedelta(days=7), phase=1)
    ends = spoor2.view(state, START + timedelta(days=7)).phases[0].time_up_on
    widen = START + timedelta(weeks=26)
    # Its worker was down from before phase 1's time was up until after the six-month mark.
    late = widen + timedelta(days=3)
    flags = spoor2.tick(state, today=late, now=NOW_LATE)
    assert [f.kind for f in flags] == ["phase_time_up"]
    taken = [(e.kind, e.on) for e in state.record if e.recorded_at == NOW_LATE]
    assert taken == [("phase_time_up", ends + timedelta(days=1)), ("search_widened", widen)]
