"""Notifications: the `notify` activity delivers each one over the configured channels.

Channels: the JSON-lines notification log (the embedded default), e-mail over SMTP and a signed
webhook. What the recipient reads is rendered here, in SPOORWERK_LANGUAGE (Dutch by default), from the
msgids the domain puts on the notification (`subject_text`, `body_text`); a notification without them
(recorded before they existed) goes as it was written. A case hands `notify_batch` references
(domain.notices.NoticeRef: kind, case, step, due date, recipients, templates and the few parameters they do not
give), and the notice is made again here from them. From release 9 (patch `notices-local`) a case first hands them to
`notify_local`, a local activity that delivers over the local channels (the log) inside the case's workflow task;
`notify_batch` takes what is left. The log's lines from `notify_local` are held until the history records the task
that made them (activities.held_notices: a task that runs again may make other notices). Each channel delivers a
notification at most once across the activity's retries: progress is kept in the activity's heartbeat details, which
Temporal hands to the next attempt, on any worker. A delivery that succeeds just before the worker dies, before its heartbeat is recorded, is sent again;
the e-mail's stable Message-ID and the webhook's Idempotency-Key let receivers drop that repeat.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities.delivery import (
    Channel,
    ChannelFailure,
    DeliveryReport,
    LocalDelivery,
    PermanentFailure,
    TransientFailure,
    public_fields,
)
from activities.held_notices import HeldNotices, Task
from activities.mail import EmailChannel
from activities.webhook import WebhookChannel
from domain.models import Notification
from domain.notices import NoticeRef
from service import i18n, metrics
from service.files import open_private
from service.settings import Settings
from service.texts import render


class NotificationLog:
    """A notification channel that appends each notification once to a JSON-lines file.

    Once also across worker processes sharing the file (replicas on one host, one data folder): each append takes
    the file's lock and first reads what was appended since this process last looked, so a retry on another worker
    of a batch this one wrote before it died finds the lines there."""

    name = "log"
    local = True  # an append to a file in the data folder: delivered by local activity (activities.delivery.Channel)

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = HeldNotices(path)  # `notify_local`'s lines, until their workflow task is recorded
        self._lock = threading.Lock()
        self._sent: set[str] = set()
        self._offset = 0  # how far this process has read the file

    def _catch_up(self, log: BinaryIO) -> None:
        log.seek(self._offset)
        data = log.read()
        complete = data.rfind(b"\n") + 1  # a line still being written is read the next time
        for line in data[:complete].splitlines():
            try:
                self._sent.add(json.loads(line)["notification_id"])
            except (ValueError, KeyError, TypeError):  # a damaged line (a disk that filled up) holds no notification
                continue
        self._offset += complete

    def append(self, notification: Notification) -> bool:
        """Write the notification; False when the log had it already."""
        return self.write(notification.notification_id, public_fields(notification))

    def write(self, notification_id: str, fields: dict) -> bool:
        """Write a notification's line (its public fields); False when the log had it already."""
        with self._lock:
            # What was sent to whom about which case: the service's user only.
            with os.fdopen(open_private(self.path, os.O_RDWR | os.O_APPEND), "a+b") as log:
                fcntl.flock(log, fcntl.LOCK_EX)  # released when the file closes
                self._catch_up(log)
                if notification_id in self._sent:
                    return False
                record = {"sent_at": datetime.now(timezone.utc).isoformat(), **fields}
                log.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                log.flush()
                self._sent.add(notification_id)
                self._offset = log.tell()
        return True

    def deliver(self, notification: Notification, task: Task | None = None) -> None:
        """Write the notification; given the workflow `task` of a local activity, hold it until that task is recorded."""
        try:
            if task is None:
                self.append(notification)
            else:
                self.held.hold(task, public_fields(notification))
        except OSError as err:  # a full or read-only disk may recover
            raise TransientFailure(f"log: cannot write ({type(err).__name__})") from None

    def read(self) -> list[dict]:
        """Every notification in the log, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line.strip()]


class Notifications:
    """The `notify` activity over a list of channels, tried in order."""

    def __init__(self, channels: Sequence[Channel], *, language: str = i18n.DEFAULT_LANGUAGE) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique: {names}")
        self.channels = list(channels)
        self.language = language

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifications:
        """The channels named in SPOORWERK_NOTIFY_CHANNELS, set up from the settings."""
        channels: list[Channel] = []
        for name in settings.notify_channels:
            if name == "log":
                channels.append(NotificationLog(settings.notification_log_path))
            elif name == "email":
                # Settings refuses the email channel without a host and a sender, the webhook without its secret.
                assert settings.smtp_host is not None and settings.smtp_from is not None
                channels.append(
                    EmailChannel(
                        host=settings.smtp_host,
                        port=settings.smtp_port,
                        sender=settings.smtp_from,
                        starttls=settings.smtp_starttls,
                        username=settings.smtp_username,
                        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                        timeout=settings.smtp_timeout_seconds,
                        ca_file=settings.smtp_ca_file,
                        default_recipients=settings.notify_default_recipients,
                    )
                )
            elif name == "webhook":
                assert settings.webhook_secret is not None
                channels.append(
                    WebhookChannel(
                        url=str(settings.webhook_url),
                        secret=settings.webhook_secret.get_secret_value(),
                        timeout=settings.webhook_timeout_seconds,
                    )
                )
        return cls(channels, language=settings.language)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.channels]

    @activity.defn(name="notify")
    def notify(self, notification: Notification | NoticeRef) -> DeliveryReport:
        """Deliver over every channel not finished on an earlier attempt.

        A permanent failure is reported, not raised: the workflow records it and the case goes on.
        A transient one leaves the other channels to go ahead, then fails this attempt so Temporal
        retries the activity, with only the unfinished channels left.

        A trajectory on the patch `trajectory-notice-refs` sends a reference (domain.notices.NoticeRef), made
        again here as `notify_batch` makes the case's; a run on the old path sends the whole notification.
        """
        info = activity.info()
        ref = notification if isinstance(notification, NoticeRef) else None
        languages = {ref.id: ref.lang} if ref is not None and ref.lang else None
        note = ref.notification() if ref is not None else notification
        assert isinstance(note, Notification)
        report = _progress(note.notification_id, info.heartbeat_details)
        transient = self._deliver(
            [(note, report)], info, lambda: activity.heartbeat(report.model_dump(mode="json")), languages
        )
        if transient:
            raise ApplicationError("; ".join(transient[note.notification_id]), type="NotificationNotDelivered")
        return report

    @activity.defn(name="notify_batch")
    def notify_batch(
        self, notifications: list[Notification | NoticeRef], done: list[DeliveryReport] | None = None
    ) -> list[DeliveryReport]:
        """`notify` for the notifications one wake of a case sends (one report each, in order).

        One activity for them all rather than one each: the case's history, its workflow tasks and
        the server's work per wake shrink with it. When a channel fails transiently for some, the
        others still go; the failure's details name, per notification, what is left, so a give-up
        is recorded against the notifications it concerns only.

        A case on the patch `notice-refs` sends references (domain.notices.NoticeRef): the notice is made again
        here from its kind, case, step, dates and templates, and rendered as before; a run on the old path still
        sends whole notifications, and both are taken, also side by side in one batch.

        `done`: what `notify_local` finished before this activity was scheduled (patch `notices-local`): those
        channels are not tried again, and their reports are part of the result.
        """
        info = activity.info()
        notes, languages = _made(notifications)
        reports = _batch_progress(notes, info.heartbeat_details, done)
        pairs = list(zip(notes, reports))
        transient = self._deliver(
            pairs, info, lambda: activity.heartbeat([r.model_dump(mode="json") for r in reports]), languages
        )
        if transient:
            reasons = list(dict.fromkeys(reason for left in transient.values() for reason in left))
            raise ApplicationError(
                "; ".join(reasons),
                {nid: "; ".join(left) for nid, left in transient.items()},
                type="NotificationNotDelivered",
            )
        return reports

    @activity.defn(name="notify_local")
    def notify_local(self, notifications: list[Notification | NoticeRef], task: int | None = None) -> LocalDelivery:
        """`notify_batch` over the local channels only (the notification log), run by the case's worker as a local
        activity inside the workflow task that made the notifications (patch `notices-local`, issue 22): no activity
        task, no workflow task more. One attempt, no retry of its own: a local channel that fails transiently, and
        every channel that is not local, is left to `notify_batch` (`rest`), which the case schedules at once with
        these reports, so no channel delivers twice and the long retry and its give-up stay as they were.

        `task`: the history length the workflow task saw (its started event). The log's lines are then held until the
        history records that task with this activity's marker (activities.held_notices); a worker that dies before
        then leaves them to be confirmed, or dropped when the task ran again and made other notices. Without it (a
        caller outside a workflow) the log is written at once."""
        info = activity.info()
        notes, languages = _made(notifications)
        reports = [DeliveryReport(notification_id=n.notification_id) for n in notes]
        local = [c for c in self.channels if getattr(c, "local", False)]
        held = Task(info.workflow_id or "", info.workflow_run_id or "", task) if task is not None else None
        transient = self._deliver(list(zip(notes, reports)), info, lambda: None, languages, channels=local, task=held)
        return LocalDelivery(reports=reports, rest=bool(transient) or len(local) < len(self.channels))

    @property
    def log(self) -> NotificationLog | None:
        """The notification log channel, when it is on."""
        return next((c for c in self.channels if isinstance(c, NotificationLog)), None)

    def _deliver(
        self,
        pairs: list[tuple[Notification, DeliveryReport]],
        info: activity.Info,
        heartbeat: Callable[[], None],
        languages: dict[str, str] | None = None,
        *,
        channels: Sequence[Channel] | None = None,
        task: Task | None = None,
    ) -> dict[str, list[str]]:
        """Each notification over each channel (`channels`, else all) its report has not finished; the transient
        failures left, by id. `languages`: a notification's own language by id (a reference may name one); else the
        worker's. `task`: the workflow task of a local activity, handed to the (local) channels."""
        transient: dict[str, list[str]] = {}
        languages = languages or {}
        written = {
            note.notification_id: localized(note, languages.get(note.notification_id, self.language))
            for note, _report in pairs
        }
        steps = [
            (written[note.notification_id], report, channel)
            for note, report in pairs
            for channel in (self.channels if channels is None else channels)
            if channel.name not in report.finished
        ]
        for i, (notification, report, channel) in enumerate(steps):
            # Any line logged meanwhile (the channels', their libraries') names the case and its workflow.
            with structlog.contextvars.bound_contextvars(
                case_id=notification.case_id, workflow_id=info.workflow_id, run_id=info.workflow_run_id
            ):
                outcome, reason = self._try(notification, report, channel, info, task)
                if outcome == "retry":
                    transient.setdefault(notification.notification_id, []).append(reason or channel.name)
                elif transient or i < len(steps) - 1:
                    # Recorded before the next step: a later attempt skips this one. After the last
                    # step, with nothing to retry, the activity's result says it instead.
                    heartbeat()
                metrics.count_delivery(activity.metric_meter(), channel.name, outcome)
                activity.logger.info(
                    "notification channel",
                    extra={**_fields(notification, channel.name, info), "outcome": outcome, "reason": reason},
                )
        return transient

    def _try(
        self,
        notification: Notification,
        report: DeliveryReport,
        channel: Channel,
        info: activity.Info,
        task: Task | None = None,
    ) -> tuple[str, str | None]:
        """One channel's attempt at one notification: its outcome (delivered, failed, retry) and the reason."""
        try:
            if task is not None:
                channel.deliver(notification, task)  # type: ignore[call-arg]  # a local channel (delivery.Channel)
            else:
                channel.deliver(notification)
        except PermanentFailure as err:
            report.failed.append(ChannelFailure(channel=channel.name, reason=err.reason))
            return "failed", err.reason
        except TransientFailure as err:
            return "retry", err.reason
        except CancelledError:  # the worker's shutdown grace ran out: no channel's fault; the SDK retries
            raise
        except Exception as err:  # a bug in one channel must not keep the others from delivering
            activity.logger.exception("notification channel raised", extra=_fields(notification, channel.name, info))
            return "retry", f"{channel.name}: unexpected {type(err).__name__}"
        report.delivered.append(channel.name)
        return "delivered", None


def localized(notification: Notification, language: str) -> Notification:
    """The notification as its recipient reads it: subject and body rendered in `language` from their msgids."""
    if notification.subject_text is None and notification.body_text is None:
        return notification
    with i18n.using(language):
        update = {"subject": render(notification.subject_text)} if notification.subject_text is not None else {}
        if notification.body_text is not None:
            update["body"] = render(notification.body_text)
    return notification.model_copy(update=update)


def _fields(notification: Notification, channel: str, info: activity.Info) -> dict:
    # Ids and kind only: addresses, subjects and bodies are personal data. The notification id is
    # built from the case id, deadline key, date and role: it tells which of a batch this line is about.
    return {
        "case_id": notification.case_id,
        "notification_id": notification.notification_id,
        "notification": notification.kind,
        "channel": channel,
        "attempt": info.attempt,
    }


def _progress(notification_id: str, details: Sequence[object]) -> DeliveryReport:
    """The report so far, from the last heartbeat of an earlier attempt (nothing on the first)."""
    if details:
        try:
            report = DeliveryReport.model_validate(details[-1])
            if report.notification_id == notification_id:
                return report
        except ValueError:
            pass
    return DeliveryReport(notification_id=notification_id)


def _made(notifications: list[Notification | NoticeRef]) -> tuple[list[Notification], dict[str, str]]:
    """The notifications made again from their references (a whole one as it is), and the languages they name."""
    notes = [n.notification() if isinstance(n, NoticeRef) else n for n in notifications]
    return notes, {n.id: n.lang for n in notifications if isinstance(n, NoticeRef) and n.lang}


def _batch_progress(
    notifications: list[Notification], details: Sequence[object], before: list[DeliveryReport] | None = None
) -> list[DeliveryReport]:
    """Each notification's report so far: from the last heartbeat of an earlier attempt of the batch, else from what
    the case says was done before it (`notify_local`'s reports)."""
    done: dict[str, DeliveryReport] = {r.notification_id: r.model_copy(deep=True) for r in before or []}
    if details and isinstance(details[-1], list):
        for item in details[-1]:
            try:
                report = DeliveryReport.model_validate(item)
            except ValueError:
                continue
            done[report.notification_id] = report
    return [done.get(n.notification_id) or DeliveryReport(notification_id=n.notification_id) for n in notifications]


def describe_channels(settings: Settings) -> str:
    """The channels that are on, for the startup banner: no secrets, addresses or URL paths."""
    parts = []
    for name in settings.notify_channels:
        if name == "log":
            parts.append(f"log ({settings.notification_log_path})")
        elif name == "email":
            tls = "STARTTLS" if settings.smtp_starttls else "no TLS"
            parts.append(f"email (SMTP {settings.smtp_host}:{settings.smtp_port}, {tls})")
        elif name == "webhook":
            url = urlsplit(str(settings.webhook_url))
            parts.append(f"webhook ({url.scheme}://{url.hostname})")
    return ", ".join(parts)
