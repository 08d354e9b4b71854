"""What the case and trajectory workflows share: how they refuse an action and send notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pydantic_core
from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.actions import admit
    from domain.errors import ActionRefused
    from domain.models import DossierEntry, Notification
    from workflows import patches

NOTIFY_TIMEOUT = timedelta(minutes=1)
# A channel that stays down this long is given up on, and the dossier says so: a reminder days late
# helps nobody, and the case must not wait on it.
NOTIFY_GIVE_UP = timedelta(days=3)
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))


def refused(reason: str | ActionRefused) -> ApplicationError:
    """The failure an update validator or handler raises for an action that does not fit.

    A domain refusal carries its template and parameters as the failure's details, so the API and the CLI say it in
    the reader's language; the message stays the English text (logs, and clients that read only the message)."""
    if isinstance(reason, ActionRefused):
        return ApplicationError(str(reason), reason.details(), type="ActionRefused", non_retryable=True)
    return ApplicationError(reason, type="ActionRefused", non_retryable=True)


def check_action(state: Any, request: Any, parse: Callable, check: Callable, today: date) -> None:
    """An update validator: admit (size, text, dates), parse strictly, check; refuses with the reason."""
    try:
        check(state, admit(request, parse, today), today)
    except ActionRefused as err:
        raise refused(err) from None


def signal_arg(name: str, args: tuple[Any, ...], kind: Any) -> Any | None:
    """The one argument of an internal signal as `kind`, or None (logged) when it is not that.

    Anyone with access to the cluster can send any signal with any arguments. One the handler could
    not take (none, two, null, the wrong shape) would fail the workflow task on every attempt and
    leave the case stuck, so it is dropped, as the SDK drops one it cannot decode.
    """
    if len(args) == 1:
        try:
            # As the SDK decodes a typed argument (JSON, lax), so recorded signals replay alike.
            return TypeAdapter(kind).validate_json(pydantic_core.to_json(args[0]))
        except (ValidationError, ValueError):
            pass
    workflow.logger.warning("signal dropped: not one valid argument", extra={"signal": name, "arguments": len(args)})
    return None


def apply_action(
    state: Any, request: dict[str, Any], parse: Callable, apply: Callable, today: date
) -> tuple[Any, bool, DossierEntry]:
    """An update handler: the action, whether it was applied now (not a retry), and its record entry."""
    try:
        action = parse(request)
        known = action.action_id in state.applied_actions
        entry = apply(state, action, today, workflow.now())
    except ActionRefused as err:
        raise refused(err) from None
    return action, not known, entry


def _given_up(last_failure: str) -> list[tuple[str, str]]:
    """(channel, reason) for each channel still failing when the notification was given up on.

    The activity's last failure names them, "<channel>: <reason>" joined by "; "; the channels that
    delivered before are not in it, so the dossier does not say they failed.
    """
    days = NOTIFY_GIVE_UP.days
    parts = [part.strip() for part in last_failure.split("; ")]
    named = [part.partition(": ")[0] for part in parts]
    if all(name.isalpha() and name.islower() and ": " in part for name, part in zip(named, parts)):
        return [(name, f"gave up after {days} days: {part}") for name, part in zip(named, parts)]
    return [("all channels", f"gave up after {days} days: {last_failure}")]


class Notifier:
    """Notifications run beside the workflow's loop, so a channel that is down does not stall it.

    `on_failure(note, channel, reason)` hears of each channel that could not deliver: a permanent
    failure the activity reports, or a channel given up on after `NOTIFY_GIVE_UP`.
    """

    def __init__(self, on_failure: Callable[[Notification, str, str], None] | None = None) -> None:
        self._tasks: list[asyncio.Task[Any]] = []
        self._on_failure = on_failure

    def send(self, note: Notification) -> None:
        self._start("notify", note, lambda done: self._delivered(note, done), summary=note.kind)

    def send_all(self, notes: list[Notification]) -> None:
        """Send what one wake produced as one `notify_batch` activity (none for none)."""
        if notes:
            # No summary: it would be one more payload to encode and store per activity (the
            # activity's input shows what was sent).
            self._start("notify_batch", notes, lambda done: self._batch_delivered(notes, done))

    def _start(self, activity: str, arg: Any, on_done: Callable[[asyncio.Task[Any]], None], **options: Any) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]
        # Scheduled here and now, not in a task of its own: the order of commands must stay as recorded.
        handle = workflow.start_activity(
            activity,
            arg,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            schedule_to_close_timeout=NOTIFY_GIVE_UP,
            retry_policy=NOTIFY_RETRY,
            **options,
        )
        handle.add_done_callback(on_done)
        self._tasks.append(handle)

    def _delivered(self, note: Notification, done: asyncio.Task[Any]) -> None:
        if done.cancelled():
            return
        err = done.exception()
        if err is not None:
            cause = getattr(err, "cause", None)  # ActivityError: the last attempt's failure or the timeout
            failures = _given_up(getattr(cause, "message", None) or str(err))
        else:
            # Older workers answered True/False; the report lists each channel's permanent failure.
            report = done.result()
            failures = (
                [(f["channel"], f["reason"]) for f in report.get("failed", [])] if isinstance(report, dict) else []
            )
        self._failed(note, failures)

    def _batch_delivered(self, notes: list[Notification], done: asyncio.Task[Any]) -> None:
        if done.cancelled():
            return
        err = done.exception()
        if err is not None:
            # Given up: the last failure's details say what was left of each notification; without
            # them (a timeout before any attempt ended) all of the batch is reported on its message.
            cause = getattr(err, "cause", None)
            details = getattr(cause, "details", None) or ()
            left = details[0] if details and isinstance(details[0], dict) else None
            message = getattr(cause, "message", None) or str(err)
            for note in notes:
                if left is None:
                    self._failed(note, _given_up(message))
                elif note.notification_id in left:
                    self._failed(note, _given_up(str(left[note.notification_id])))
            return
        reports = done.result()
        for note, report in zip(notes, reports if isinstance(reports, list) else []):
            failed = report.get("failed", []) if isinstance(report, dict) else []
            self._failed(note, [(f["channel"], f["reason"]) for f in failed])

    def _failed(self, note: Notification, failures: list[tuple[str, str]]) -> None:
        if self._on_failure is not None:
            for channel, reason in failures:
                self._on_failure(note, channel, reason)

    async def drain(self) -> None:
        """Let running handlers and notifications finish, before closing or continuing as new."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()


class WakeTimer:
    """A workflow loop's one timer to its next wake, kept while the wake stays where it is.

    Waiting with `wait_condition(..., timeout=...)` cancels its timer and starts a new one each time
    the loop goes round, that is after every action and signal: two commands and two history events
    each time, for a wake that an action seldom moves. This keeps the timer until the wake moves.
    """

    def __init__(self) -> None:
        self._timer: asyncio.Task[None] | None = None
        self._at: datetime | None = None

    async def wait(self, woken: Callable[[], bool], at: datetime | None) -> None:
        """Until `woken()` holds or the moment `at` (None: no timer) comes; at least a second on."""
        timer = self._timer
        if timer is not None and (timer.done() or self._at != at):
            timer.cancel()  # a no-op once fired
            timer = self._timer = None
        if timer is None and at is not None:
            delay = max(at - workflow.now(), timedelta(seconds=1))
            timer = self._timer = asyncio.create_task(workflow.sleep(delay))
            self._at = at
        await workflow.wait_condition(lambda: woken() or (timer is not None and timer.done()))


class RunBound:
    """When a run has lived long enough to continue as new: at its first wake `bound` after it started.

    Made as the run's loop begins, after its other patch calls (the order of markers is the order of commands);
    the run's start is `workflow.now()` then, read from its history, never the wall clock.
    """

    def __init__(self, bound: timedelta) -> None:
        self._started = workflow.now()
        self._bound = bound
        # Runs begun on release 5 replay without the marker; they are bounded by `reached`'s late checks.
        self._patched = workflow.patched(patches.RUN_BOUND.id)
        self._late_checks = 0

    @property
    def wake(self) -> datetime | None:
        """The moment the run wakes to continue as new, if nothing wakes it before (none for a release-5 run,
        whose timers must stay as it recorded them)."""
        return self._started + self._bound if self._patched else None

    def earlier(self, wake: datetime | None) -> datetime | None:
        """`wake`, or the bound's wake when that comes first."""
        own = self.wake
        return own if wake is None or (own is not None and own < wake) else wake

    def reached(self) -> bool:
        if workflow.now() - self._started < self._bound:
            return False
        if self._patched:
            return True
        self._late_checks += 1
        return workflow.patched(patches.late_run_bound_id(self._late_checks))
