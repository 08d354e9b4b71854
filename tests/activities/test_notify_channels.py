"""The notify activity's channels against real servers on loopback (tests/loopback.py): SMTP
(aiosmtpd, STARTTLS, AUTH), a webhook receiver that checks the signature, and Temporal's own
activity retries."""

from __future__ import annotations

import dataclasses
import multiprocessing
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date, timedelta
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.mail import message_id
from activities.notify import DeliveryReport, NotificationLog, Notifications
from activities.webhook import sign, verify
from domain.models import Notification, Role
from service.settings import Settings
from tests.loopback import HR, SMTP_USER, WEBHOOK_SECRET, free_port, settings_for

# ------------------------------------------------------------------ the Temporal side


# Not sandboxed: it only calls the activity, and this module imports servers the sandbox would re-import.
@workflow.defn(sandboxed=False)
class NotifyOnce:
    @workflow.run
    async def run(self, note: Notification) -> DeliveryReport:
        return await workflow.execute_activity(
            "notify",
            note,
            result_type=DeliveryReport,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5),
        )


async def run_notify(env: WorkflowEnvironment, settings: Settings, note: Notification) -> tuple[DeliveryReport, int]:
    """The activity's report, through real retries, and the attempt that finished it."""
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    notifications = Notifications.from_settings(settings)
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[NotifyOnce],
            activities=[notifications.notify],
            activity_executor=executor,
        ):
            handle = await env.client.start_workflow(
                NotifyOnce.run, note, id=f"notify-{uuid.uuid4().hex[:8]}", task_queue=task_queue
            )
            report = await handle.result()
            history = await handle.fetch_history()
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    return report, started[-1].activity_task_started_event_attributes.attempt


def note(**fields) -> Notification:
    return Notification(
        notification_id=fields.pop("notification_id", f"n-{uuid.uuid4().hex[:8]}"),
        case_id="C-case-1",
        recipient_role=fields.pop("recipient_role", "werkgever"),
        kind="deadline_approaching",
        subject="Plan van aanpak due",
        body="The plan van aanpak for case C-case-1 is due in 7 days.",
        deadline_key="plan_van_aanpak",
        due=date(2026, 3, 2),
        **fields,
    )


def run_once(settings: Settings, notification: Notification) -> DeliveryReport:
    """One attempt of the activity, outside a workflow (ActivityEnvironment records heartbeats)."""
    return ActivityEnvironment().run(Notifications.from_settings(settings).notify, notification)


# ------------------------------------------------------------------ through Temporal's retries


async def test_transient_webhook_is_retried_and_email_is_not_sent_twice(ts_env, tmp_path, smtp, webhook) -> None:
    webhook.statuses = [500, 200]
    n = note()
    report, attempt = await run_notify(ts_env, settings_for(tmp_path, ["log", "email", "webhook"], smtp, webhook), n)

    assert attempt == 2  # the 500 failed the first attempt; Temporal ran it again
    assert report == DeliveryReport(notification_id=n.notification_id, delivered=["log", "email", "webhook"])
    # Each channel once, though the activity ran twice: the second attempt read the first's heartbeat.
    assert len(smtp.inbox.messages) == 1
    rcpt_tos, msg = smtp.inbox.messages[0]
    assert msg["Message-ID"] == message_id(n.notification_id)
    assert msg["Subject"] == n.subject and msg.get_content().strip() == n.body
    assert [a for _, a in getaddresses([msg["To"]])] == HR == rcpt_tos
    assert msg["Cc"] is None and msg["Bcc"] is None
    assert [r["status"] for r in webhook.requests] == [500, 200]
    assert all(r["valid"] for r in webhook.requests)
    assert {r["headers"]["Idempotency-Key"] for r in webhook.requests} == {n.notification_id}
    assert set(webhook.requests[-1]["body"]) == {
        "notification_id",
        "case_id",
        "recipient_role",
        "kind",
        "subject",
        "body",
        "deadline_key",
        "due",
    }
    log_file = tmp_path / "data" / "notifications.jsonl"
    assert [r["notification_id"] for r in NotificationLog(log_file).read()] == [n.notification_id]
    # What was sent to whom about which case: the service's user only.
    assert (log_file.stat().st_mode & 0o777, log_file.parent.stat().st_mode & 0o777) == (0o600, 0o700)


async def test_webhook_400_is_reported_not_retried(ts_env, tmp_path, smtp, webhook) -> None:
    webhook.statuses = [400]
    n = note()
    report, attempt = await run_notify(ts_env, settings_for(tmp_path, ["email", "webhook"], smtp, webhook), n)

    assert attempt == 1
    assert report.delivered == ["email"]
    assert [(f.channel, f.reason) for f in report.failed] == [("webhook", "webhook: HTTP 400")]
    assert len(webhook.requests) == 1 and webhook.requests[0]["valid"]
    assert len(smtp.inbox.messages) == 1


# ------------------------------------------------------------------ one attempt at a time


def test_refused_recipient_is_permanent_and_names_no_address(tmp_path, refusing_smtp) -> None:
    report = run_once(settings_for(tmp_path, ["email"], refusing_smtp), note())

    assert report.delivered == []
    [failure] = report.failed
    assert failure.channel == "email" and failure.reason.startswith("email: SMTP 550")
    assert "@" not in failure.reason and not any(a.split("@")[0] in failure.reason for a in HR)
    assert refusing_smtp.inbox.messages == []


def test_wrong_smtp_password_is_permanent(tmp_path, smtp) -> None:
    report = run_once(settings_for(tmp_path, ["email"], smtp, smtp_password="wrong"), note())

    assert [f.reason.split(" ")[:3] for f in report.failed] == [["email:", "SMTP", "535"]]
    assert SMTP_USER not in report.failed[0].reason


def test_no_address_for_the_role_is_permanent(tmp_path, smtp) -> None:
    report = run_once(settings_for(tmp_path, ["log", "email"], smtp), note(recipient_role="bedrijfsarts"))

    assert report.delivered == ["log"]
    assert [(f.channel, f.reason) for f in report.failed] == [
        ("email", "email: no e-mail address for role bedrijfsarts")
    ]


@pytest.mark.skipif("recipients" not in Notification.model_fields, reason="Notification has no recipients yet")
def test_the_notifications_own_recipients_come_first(tmp_path, smtp) -> None:
    report = run_once(settings_for(tmp_path, ["email"], smtp), note(recipients=["piet@acme.example"]))

    assert report.delivered == ["email"]
    rcpt_tos, msg = smtp.inbox.messages[0]
    assert rcpt_tos == ["piet@acme.example"] and msg["To"] == "piet@acme.example"


def test_a_channel_that_is_down_fails_the_attempt_after_the_others_delivered(tmp_path, webhook) -> None:
    down = free_port()  # nothing listens there
    settings = settings_for(
        tmp_path,
        ["email", "log", "webhook"],
        smtp_host="127.0.0.1",
        smtp_port=down,
        smtp_from="noreply@spoorwerk.example",
        webhook_url=webhook.url,
        webhook_secret=WEBHOOK_SECRET,
    )
    env = ActivityEnvironment()
    heartbeats: list = []
    env.on_heartbeat = lambda *details: heartbeats.append(details[0])
    notifications = Notifications.from_settings(settings)
    n = note()

    with pytest.raises(ApplicationError) as raised:
        env.run(notifications.notify, n)
    assert not raised.value.non_retryable and raised.value.message.startswith("email: cannot connect")
    assert heartbeats[-1] == {"notification_id": n.notification_id, "delivered": ["log", "webhook"], "failed": []}

    # The next attempt, as Temporal starts it: the last heartbeat's details. Only e-mail is tried.
    env.info = dataclasses.replace(env.info, attempt=2, heartbeat_details=[heartbeats[-1]])
    with pytest.raises(ApplicationError):
        env.run(notifications.notify, n)
    assert len(webhook.requests) == 1
    assert len(NotificationLog(settings.notification_log_path).read()) == 1


def test_a_batch_reports_each_notification_and_retries_only_what_is_left(tmp_path, webhook) -> None:
    """One wake's notifications go as one `notify_batch`: a report each; a channel down for one
    notification leaves the others delivered, and the retry sends only what was left."""
    down = free_port()
    settings = settings_for(
        tmp_path, ["log", "email"], smtp_host="127.0.0.1", smtp_port=down, smtp_from="noreply@spoorwerk.example"
    )
    env = ActivityEnvironment()
    heartbeats: list = []
    env.on_heartbeat = lambda *details: heartbeats.append(details[0])
    notifications = Notifications.from_settings(settings)
    # The bedrijfsarts has no address (a permanent failure); the werkgever's mail server is down.
    first, second = note(recipient_role="bedrijfsarts"), note(recipient_role="werkgever")

    with pytest.raises(ApplicationError) as raised:
        env.run(notifications.notify_batch, [first, second])
    assert raised.value.message.startswith("email: cannot connect")
    [left] = raised.value.details
    assert list(left) == [second.notification_id]  # only the werkgever's is left to retry
    assert [r["delivered"] for r in heartbeats[-1]] == [["log"], ["log"]]
    assert heartbeats[-1][0]["failed"][0]["channel"] == "email"

    # The retry, with the last heartbeat: the log is not written twice; the e-mail is tried again.
    env.info = dataclasses.replace(env.info, attempt=2, heartbeat_details=[heartbeats[-1]])
    with pytest.raises(ApplicationError):
        env.run(notifications.notify_batch, [first, second])
    assert len(NotificationLog(settings.notification_log_path).read()) == 2

    # With only the log on, both are delivered and each has its report, in order.
    reports = ActivityEnvironment().run(
        Notifications.from_settings(settings_for(tmp_path, ["log"])).notify_batch, [first, second]
    )
    assert [(r.notification_id, r.delivered, r.failed) for r in reports] == [
        (first.notification_id, ["log"], []),
        (second.notification_id, ["log"], []),
    ]


def test_the_local_activity_delivers_over_the_log_and_leaves_the_rest_to_the_batch(tmp_path, webhook) -> None:
    """`notify_local` (patch `notices-local`) delivers over the log only, in the case's own workflow task; the webhook
    is left to `notify_batch`, which is told what is done and sends every notification over each channel once."""
    settings = settings_for(tmp_path, ["log", "webhook"], webhook=webhook)
    notifications = Notifications.from_settings(settings)
    log = NotificationLog(settings.notification_log_path)
    first, second = note(recipient_role="bedrijfsarts"), note(recipient_role="werkgever")

    local = ActivityEnvironment().run(notifications.notify_local, [first, second])
    assert [(r.delivered, r.failed) for r in local.reports] == [(["log"], []), (["log"], [])]
    assert local.rest  # the webhook is no local channel
    assert len(log.read()) == 2 and webhook.requests == []

    reports = ActivityEnvironment().run(notifications.notify_batch, [first, second], local.reports)
    assert [r.delivered for r in reports] == [["log", "webhook"], ["log", "webhook"]]
    assert len(log.read()) == 2
    assert sorted(r["headers"]["Idempotency-Key"] for r in webhook.requests) == sorted(
        [first.notification_id, second.notification_id]
    )

    # With only the log on, nothing is left; a log that cannot be written leaves its notices to the batch, unraised.
    only_log = Notifications.from_settings(settings_for(tmp_path / "only", ["log"]))
    assert ActivityEnvironment().run(only_log.notify_local, [note()]).rest is False
    blocked = settings_for(tmp_path / "blocked", ["log"])
    blocked.notification_log_path.mkdir(parents=True)  # a folder where the log should be: as a full disk
    failed = ActivityEnvironment().run(Notifications.from_settings(blocked).notify_local, [note()])
    assert failed.rest and failed.reports[0].delivered == [] and failed.reports[0].failed == []


def test_the_log_writes_a_notification_once(tmp_path) -> None:
    log = NotificationLog(tmp_path / "n.jsonl")
    n = note(recipients=["piet@acme.example"]) if "recipients" in Notification.model_fields else note()
    assert log.append(n) is True
    assert NotificationLog(tmp_path / "n.jsonl").append(n) is False  # a fresh process reads what is there
    [record] = log.read()
    assert record["notification_id"] == n.notification_id and "recipients" not in record


def test_the_log_writes_a_notification_once_across_workers_sharing_it(tmp_path) -> None:
    """Two worker processes on one data folder: a batch the first wrote before it died is retried on the second,
    which had read the log before those lines were written. It must find them there, not write them again."""
    path = tmp_path / "n.jsonl"
    first, second = NotificationLog(path), NotificationLog(path)
    earlier, retried = note(), note()
    assert second.append(earlier) is True  # the second worker has read the log (and written to it)
    assert first.append(retried) is True  # the first writes a notice of its batch, then dies
    assert second.append(retried) is False  # the retry on the second
    assert first.append(earlier) is False
    assert [r["notification_id"] for r in first.read()] == [earlier.notification_id, retried.notification_id]


def _append_all(path: str, own: str, ids: list[str], together: Any) -> int:
    log = NotificationLog(Path(path))
    log.append(note(notification_id=own))  # each process has read the log before the race
    together.wait()
    return sum(log.append(note(notification_id=i)) for i in ids)


def test_processes_appending_the_same_notices_at_once_write_each_once(tmp_path) -> None:
    """The log's file lock: four processes, each having read the log, race over the same 40 notifications and
    write each one line between them."""
    ids = [f"n-race-{i}" for i in range(40)]
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(4, mp_context=spawn) as pool:
        together = manager.Barrier(4)
        orders = [ids, ids[::-1], ids, ids[::-1]]
        path = str(tmp_path / "n.jsonl")
        written = list(pool.map(_append_all, [path] * 4, [f"own-{n}" for n in range(4)], orders, [together] * 4))
    assert sum(written) == len(ids)
    assert Counter(r["notification_id"] for r in NotificationLog(tmp_path / "n.jsonl").read()) == Counter(
        ids + [f"own-{n}" for n in range(4)]
    )


# ------------------------------------------------------------------ signatures


def test_signature_verifies_only_with_the_shared_secret() -> None:
    body = b'{"notification_id":"n-1"}'
    signature = sign(WEBHOOK_SECRET, 1_700_000_000, body)

    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify(WEBHOOK_SECRET, "1700000000", body, signature, now=1_700_000_010)
    assert not verify("a-wrong-secret", "1700000000", body, signature, now=1_700_000_010)
    assert not verify(WEBHOOK_SECRET, "1700000000", body + b" ", signature, now=1_700_000_010)
    assert not verify(WEBHOOK_SECRET, "1700000001", body, signature, now=1_700_000_010)
    assert not verify(WEBHOOK_SECRET, "1700000000", body, signature, now=1_700_000_000 + 3600)  # a replay


def test_the_receiver_rejects_a_wrong_secret(tmp_path, webhook) -> None:
    report = run_once(settings_for(tmp_path, ["webhook"], webhook=webhook, webhook_secret="not-the-shared-one"), note())

    assert [r["valid"] for r in webhook.requests] == [False]
    assert [(f.channel, f.reason) for f in report.failed] == [("webhook", "webhook: HTTP 401")]


# ------------------------------------------------------------------ settings


def test_channels_from_a_comma_separated_variable(monkeypatch) -> None:
    monkeypatch.setenv("SPOORWERK_NOTIFY_CHANNELS", "log, webhook,log")
    monkeypatch.setenv("SPOORWERK_WEBHOOK_URL", "https://hooks.example/spoorwerk")
    monkeypatch.setenv("SPOORWERK_WEBHOOK_SECRET", "x")
    monkeypatch.setenv("SPOORWERK_NOTIFY_DEFAULT_RECIPIENTS", '{"werkgever": ["hr@acme.example"]}')
    settings = Settings()

    assert settings.notify_channels == ["log", "webhook"]
    assert settings.notify_default_recipients == {"werkgever": ["hr@acme.example"]}
    secret = Settings().webhook_secret
    assert secret is not None and secret.get_secret_value() == "x"
    monkeypatch.setenv("SPOORWERK_NOTIFY_CHANNELS", '["log"]')
    assert Settings().notify_channels == ["log"]


def test_default_is_the_log_alone(monkeypatch) -> None:
    monkeypatch.delenv("SPOORWERK_NOTIFY_CHANNELS", raising=False)
    assert Settings().notify_channels == ["log"]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SPOORWERK_NOTIFY_CHANNELS": "log,email", "SPOORWERK_SMTP_FROM": "a@b.example"}, "SPOORWERK_SMTP_HOST"),
        ({"SPOORWERK_NOTIFY_CHANNELS": "email", "SPOORWERK_SMTP_HOST": "mail"}, "SPOORWERK_SMTP_FROM"),
        ({"SPOORWERK_NOTIFY_CHANNELS": "webhook", "SPOORWERK_WEBHOOK_SECRET": "x"}, "SPOORWERK_WEBHOOK_URL"),
        (
            {"SPOORWERK_NOTIFY_CHANNELS": "webhook", "SPOORWERK_WEBHOOK_URL": "https://h.example"},
            "SPOORWERK_WEBHOOK_SECRET",
        ),
        ({"SPOORWERK_NOTIFY_CHANNELS": "log,sms"}, "notify_channels"),
    ],
)
def test_a_channel_without_its_settings_is_refused_by_name(monkeypatch, env, named) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError) as raised:
        Settings()
    assert named in str(raised.value)


# ------------------------------------------------------------------ the recipient's language


def test_what_the_recipient_reads_is_dutch_by_default_and_english_when_configured(tmp_path) -> None:
    """The domain keeps msgids (it cannot translate); the activity writes them in SPOORWERK_LANGUAGE."""
    from domain import spoor2 as s2

    flag = s2.Flag(kind="intake_late", summary="Intake not held by 2026-03-06", due=date(2026, 3, 6))
    # As it reaches the activity: through the payload converter's JSON.
    sent = Notification.model_validate_json(s2.notification("C-1", flag).model_dump_json())
    read = {}
    for language in ("nl", "en"):
        extra: dict[str, Any] = {"language": language} if language == "en" else {}  # Dutch: the default, unset
        settings = settings_for(tmp_path / language, ["log"], **extra)
        ActivityEnvironment().run(Notifications.from_settings(settings).notify, sent)
        [read[language]] = NotificationLog(settings.notification_log_path).read()
    assert (read["nl"]["subject"], read["nl"]["body"]) == (
        "Zaak C-1: spoor 2 vraagt aandacht",
        "Spoor 2-traject van zaak C-1: Intake niet op tijd gehouden (uiterlijk 6 mrt 2026).",
    )
    assert (read["en"]["subject"], read["en"]["body"]) == (
        "Case C-1: spoor 2 needs attention",
        "Spoor 2 trajectory of case C-1: Intake not held in time (due by Mar 6, 2026).",
    )
    assert "subject_text" not in read["nl"]  # receivers get the words, not the msgids


def test_a_notification_recorded_before_its_texts_goes_as_it_was_written(tmp_path) -> None:
    old = note()
    settings = settings_for(tmp_path, ["log"])
    ActivityEnvironment().run(Notifications.from_settings(settings).notify, old)
    [record] = NotificationLog(settings.notification_log_path).read()
    assert (record["subject"], record["body"]) == (old.subject, old.body)


def test_counts_and_lines_of_a_notice_are_translated_too() -> None:
    from domain.messages import N_, ngettext, text
    from service import i18n
    from service.texts import render

    lines = [
        text(
            N_("- %(question)s %(label)s: %(detail)s"),
            question=text(N_("2. Is there a satisfactory result?")),
            label="Re-integratie",
            detail="geen werk",
        )
    ]
    body = ngettext(
        "Case %(case)s: dossier check week %(week)s, %(num)s gap",
        "Case %(case)s: dossier check week %(week)s, %(num)s gaps",
        2,
        case="C-1",
        week=80,
    )
    assert render(body) == "Zaak C-1: dossiercheck week 80, 2 gaten"
    assert render(lines[0]) == "- 2. Is er een bevredigend resultaat? Re-integratie: geen werk"
    with i18n.using("en"):
        assert render(body.model_copy(update={"n": 1})) == "Case C-1: dossier check week 80, 1 gap"


# ------------------------------------------------------------------ notices by reference (issue 22)


def _case_notices() -> list[Notification]:
    """A case's notices as the domain makes them in the workflow: left alone for 80 days, it is reminded, its steps
    fall overdue and it climbs the escalation ladder."""
    from datetime import datetime, timezone

    from domain import case as rules
    from domain.case import CaseOpening
    from service.rulebook import load_rulebook, load_stagnation_rules

    first = date(2026, 3, 2)
    opening = CaseOpening(case_id="C-refs", employer_id="E1", first_sick_day=first, opened_by={"role": "casemanager"})
    opened = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    state = rules.open_case(
        opening,
        load_rulebook().for_first_sick_day(first),
        today=first,
        now=opened,
        stagnation_rules=load_stagnation_rules(),
    )
    found: list[Notification] = []
    for n in range(80):
        found += rules.tick(state, today=first + timedelta(days=n), now=opened + timedelta(days=n), in_order=True)
    return found


def _recorded_notices(name: str) -> list[Notification]:
    """The notices a recorded case handed its activity (tests/histories): the measures, the dossier check."""
    import json

    from temporalio.client import WorkflowHistory

    from tests.paths import TESTS

    history = WorkflowHistory.from_json(name, (TESTS / "histories" / "v6" / f"{name}.json").read_text("utf-8"))
    found = []
    for event in history.events:
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == "notify_batch":
            found += [Notification.model_validate(n) for n in json.loads(scheduled.input.payloads[0].data)]
    return found


def test_notices_by_reference_reach_every_channel_in_the_same_words(tmp_path, smtp, webhook) -> None:
    """A case on the patch `notice-refs` hands the activity references, not text: the log, the mail and the webhook
    receive the same words as from the whole notification, in Dutch and in English, for every kind of notice."""
    import pydantic_core
    from pydantic import TypeAdapter

    from domain import notices
    from domain.notices import NoticeRef

    made = _case_notices()
    assert {"deadline_reminder", "deadline_overdue", "escalation_raised"} <= {n.kind for n in made}
    recorded = _recorded_notices("stagnation_non_cooperation_measures") + _recorded_notices(
        "documents_preflight_to_wia"
    )
    assert {"measure_requested", "measure_reminder", "escalation_resolved", "preflight_gaps"} <= {
        n.kind for n in recorded
    }
    everyone = {role.value: HR for role in Role}
    shapes = TypeAdapter(list[Notification | NoticeRef])
    for language in ("nl", "en"):
        received = {}
        for shape in ("whole", "reference"):
            smtp.inbox.messages.clear()
            webhook.requests.clear()
            settings = settings_for(
                tmp_path / language / shape,
                ["log", "email", "webhook"],
                smtp,
                webhook,
                language=language,
                notify_default_recipients=everyone,
            )
            items: list[Any] = [*made, *recorded]
            if shape == "reference":
                items = [notices.reference(n) for n in items]
                assert all(isinstance(i, NoticeRef) for i in items)
            # As they reach the activity: through the payload converter's JSON, into the activity's own type.
            sent = shapes.validate_json(pydantic_core.to_json(items))
            reports = ActivityEnvironment().run(Notifications.from_settings(settings).notify_batch, sent)
            assert [r for r in reports if r.delivered != ["log", "email", "webhook"]] == []
            received[shape] = _what_the_channels_got(smtp, webhook, settings)
        assert received["reference"] == received["whole"]
        mails = received["whole"][0]
        assert len(mails) == len(made) + len(recorded)
    # In Dutch, by the catalogue: a reminder as the recipient reads it.
    reminder = next(n for n in made if n.kind == "deadline_reminder")
    assert (
        "Herinnering"
        in NotificationLog(tmp_path / "nl" / "reference" / "data" / "notifications.jsonl").read()[made.index(reminder)][
            "body"
        ]
    )


def test_a_notice_by_reference_is_a_fraction_of_the_whole_notification() -> None:
    import pydantic_core

    from domain import notices

    made = _case_notices()
    whole = sum(len(pydantic_core.to_json(n)) for n in made)
    referenced = sum(len(pydantic_core.to_json(notices.reference(n))) for n in made)
    assert referenced < whole / 3


def test_a_trajectorys_notice_by_reference_reaches_every_channel_in_the_same_words(tmp_path, smtp, webhook) -> None:
    """A trajectory on the patch `trajectory-notice-refs` hands `notify` a reference: every channel receives the same
    words as from the whole notification, in Dutch and in English, for each of its flags."""
    import pydantic_core
    from pydantic import TypeAdapter

    from domain import notices
    from domain.notices import NoticeRef
    from domain.spoor2.time import Flag, notification

    made = [
        notification("C-traj", Flag(kind="intake_late", summary="Intake not held in time", due=date(2026, 3, 9))),
        notification("C-traj", Flag(kind="phase_time_up", summary="Phase 1's time is up", due=date(2026, 6, 1))),
        notification("C-traj", Flag(kind="search_widened", summary="The search widened", due=date(2026, 9, 1))),
    ]
    one = TypeAdapter(Notification | NoticeRef)
    for language in ("nl", "en"):
        received = {}
        for shape in ("whole", "reference"):
            smtp.inbox.messages.clear()
            webhook.requests.clear()
            settings = settings_for(
                tmp_path / language / shape,
                ["log", "email", "webhook"],
                smtp,
                webhook,
                language=language,
                notify_default_recipients={role.value: HR for role in Role},
            )
            notifications = Notifications.from_settings(settings)
            for made_note in made:
                item = notices.reference(made_note) if shape == "reference" else made_note
                # As it reaches the activity: through the payload converter's JSON, into the activity's own type.
                sent = one.validate_json(pydantic_core.to_json(item))
                assert isinstance(sent, NoticeRef if shape == "reference" else Notification)
                report = ActivityEnvironment().run(notifications.notify, sent)
                assert report.delivered == ["log", "email", "webhook"]
            received[shape] = _what_the_channels_got(smtp, webhook, settings)
        assert received["reference"] == received["whole"]
        assert len(received["whole"][0]) == len(made)
    log = NotificationLog(tmp_path / "nl" / "reference" / "data" / "notifications.jsonl").read()
    assert "spoor 2" in log[0]["subject"] and "2026" in log[0]["body"]
    whole = sum(len(pydantic_core.to_json(n)) for n in made)
    assert sum(len(pydantic_core.to_json(notices.reference(n))) for n in made) < whole / 2


def _what_the_channels_got(smtp: Any, webhook: Any, settings: Settings) -> tuple[list, list, list]:
    """The mails, webhook bodies and log lines (without their send time) the channels received."""
    return (
        [(m["Message-ID"], m["To"], m["Subject"], m.get_content()) for _, m in smtp.inbox.messages],
        [r["body"] for r in webhook.requests],
        [
            {k: v for k, v in r.items() if k != "sent_at"}
            for r in NotificationLog(settings.notification_log_path).read()
        ],
    )
