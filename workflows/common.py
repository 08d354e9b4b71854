"""What the case and trajectory workflows share: the `act` update (its validator decides, its handler applies), how
they refuse an action, and how they send notifications (activities by typed reference)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, NamedTuple

import pydantic_core
from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryReport, LocalDelivery
    from activities.notify import Notifications
    from domain import access, notices
    from domain.actions import admit
    from domain.case import CaseState, open_case
    from domain.errors import ActionRefused
    from domain.migration import migrate
    from domain.models import Actor, DossierEntry, Notification, Role
    from domain.notices import NoticeRef
    from domain.rules import RulesRef
    from service import rulebook
    from workflows import patches
    from workflows.local_work import LocalPartFailed, LocalWorkBatch
    from workflows.payloads import CallerScope, CaseInput

NOTIFY_TIMEOUT = timedelta(minutes=1)
# A channel that stays down this long is given up on, and the dossier says so: a reminder days late
# helps nobody, and the case must not wait on it.
NOTIFY_GIVE_UP = timedelta(days=3)
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))
# One attempt of `notify_local`: an append to the notification log takes a millisecond; a local activity holds the
# workflow task (and the answer to the action that made the notices) while it runs.
LOCAL_NOTIFY_TIMEOUT = timedelta(seconds=5)
_NOTIFY_OPTIONS: dict[str, Any] = {
    "start_to_close_timeout": NOTIFY_TIMEOUT,
    "schedule_to_close_timeout": NOTIFY_GIVE_UP,
    "retry_policy": NOTIFY_RETRY,
}


def refused(reason: str | ActionRefused) -> ApplicationError:
    """The failure an update validator or handler raises for an action that does not fit.

    A domain refusal carries its template and parameters as the failure's details, so the API and the CLI say it in
    the reader's language; the message stays the English text (logs, and clients that read only the message)."""
    if isinstance(reason, ActionRefused):
        return ApplicationError(str(reason), reason.details(), type="ActionRefused", non_retryable=True)
    return ApplicationError(reason, type="ActionRefused", non_retryable=True)


# The refusal of a caller's scope that the workflow cannot judge: never a person's answer (operations.spoor2.act then
# judges it on the case and sends the action without it), and it says nothing of the case.
SCOPE_UNKNOWN = "scope: the trajectory does not know its case's scope yet; judge the %(value)s's scope on the case"


def check_action(
    state: Any,
    request: Any,
    parse: Callable,
    check: Callable,
    today: date,
    *,
    scope: CallerScope | None = None,
    where: CaseScope | None = None,
) -> Any:
    """An update validator's decision, in the order that gives nothing away: admit (size, text, dates) and parse
    strictly; with the caller's `scope` and the case's (`where`), refuse a caller outside it as if there were no such
    case, and with a `scope` but no `where` (a trajectory its case has not told its scope yet), refuse with
    SCOPE_UNKNOWN so that the caller judges the scope on the case first; then the rules' `check` (domain.ledger: the
    role first, then what the kind asks). Returns the parsed action; refuses with the reason."""
    try:
        action = admit(request, parse, today)
        if scope is not None and where is None:
            raise ActionRefused(SCOPE_UNKNOWN, value=action.actor.role)
        if scope is not None and where is not None and not where.admits(action.actor, scope):
            raise ActionRefused("case_id: no case %(value)r that you may see", value=where.case_id)
        check(state, action, today)
    except ActionRefused as err:
        raise refused(err) from None
    return action


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
    state: Any, request: dict[str, Any], parse: Callable, apply: Callable, today: date, *, parsed: Any = None
) -> tuple[Any, bool, DossierEntry]:
    """An update handler: the action, whether it was applied now (not a retry), and its record entry.

    `parsed` is the action as the validator parsed it; on replay no validator runs, and the recorded input is
    parsed here (leniently: what older validators let in still applies). `apply` checks again, though the validator
    decided: updates that arrive in one workflow task are all validated before the first is applied, so a second
    that completes the same step was judged against a state the first has since changed."""
    try:
        action = parsed if parsed is not None else parse(request)
        known = action.action_id in state.applied_actions
        entry = apply(state, action, today, workflow.now())
    except ActionRefused as err:
        raise refused(err) from None
    return action, not known, entry


@dataclass(frozen=True)
class CaseScope:
    """What of a case decides who may act on it (domain.access): its employer and who is assigned."""

    case_id: str
    employer_id: str
    assigned: Mapping[Role, Sequence[str]]
    trajectory_coach: str | None
    spoor2_running: bool

    def admits(self, actor: Actor, scope: CallerScope) -> bool:
        return access.may_access(
            actor.role,
            actor.id or "",
            caller_employer_id=scope.employer_id,
            caller_employer_ids=scope.employer_ids,
            case_employer_id=self.employer_id,
            assigned=self.assigned,
            trajectory_coach=self.trajectory_coach,
            spoor2_running=self.spoor2_running,
        )


def case_scope(case: CaseState) -> CaseScope:
    """The scope of a case's state (domain.access): a trajectory's coach counts while it runs, as in the
    listing's `Assigned` attribute."""
    coach = case.spoor2.coach_id if case.spoor2_running else None
    return CaseScope(case.case_id, case.employer_id, case.people.assigned, coach, case.spoor2_running)


class ActionRules(NamedTuple):
    """A workflow's rules for human actions: parse a raw payload, the validator's check, the handler's apply, and
    the role refusal (state, action) the validator asks first."""

    parse: Callable[..., Any]
    validate: Callable[[Any, Any, date], None]
    apply: Callable[[Any, Any, date, datetime], Any]


class ActionUpdates:
    """The `act` update of the case and of the trajectory: the validator decides, the handler applies.

    The validator admits and parses the action, refuses a caller outside the case's scope when the caller's scope
    comes with the update, and asks the rules (their role tables among them). The handler applies the action the
    validator parsed; on replay, where no validator runs, it parses the recorded input itself. A workflow says what
    differs: its rules, its state, its scope and its answer.
    """

    ACTION_RULES: ClassVar[ActionRules]
    APPLIED_LOG: ClassVar[str] = "action applied"
    _changed: bool

    def _today(self) -> date:
        raise NotImplementedError

    def _action_state(self) -> Any:
        """The state actions apply to; refuses when there is none."""
        raise NotImplementedError

    def _action_scope(self, state: Any) -> CaseScope | None:
        """The case's scope, or None where the workflow cannot judge it (a trajectory its case has not told yet)."""
        return None

    def _action_context(self, state: Any) -> Any:
        """What the answer needs of the state as the action found it (before it applies)."""
        return None

    def _action_answer(self, state: Any, action: Any, applied: bool, entry: Any, context: Any) -> Any:
        raise NotImplementedError

    def _parsed_actions(self) -> dict[str, Any]:
        # The validator's parse, by update id, for the handler that runs right after it in the same task.
        found: dict[str, Any] = self.__dict__.setdefault("_validated_actions", {})
        return found

    @workflow.update(name="act")
    def act(self, request: Any, scope: CallerScope | None = None) -> Any:
        """Record a human action (the kinds: domain.actions for the case, domain.spoor2 for the trajectory)."""
        state = self._action_state()
        info = workflow.current_update_info()
        parsed = self._parsed_actions().pop(info.id, None) if info is not None else None
        context = self._action_context(state)
        action, applied, entry = apply_action(
            state, request, self.ACTION_RULES.parse, self.ACTION_RULES.apply, self._today(), parsed=parsed
        )
        if applied:
            self._changed = True
            workflow.logger.info(self.APPLIED_LOG, extra={"case_id": state.case_id, "action": entry.kind})
        return self._action_answer(state, action, applied, entry, context)

    @act.validator
    def _validate_act(self, request: Any, scope: CallerScope | None = None) -> None:
        # Any, not a dict: a list or null reaches the validator and is refused with a reason.
        state = self._action_state()
        rules = self.ACTION_RULES
        action = check_action(
            state,
            request,
            rules.parse,
            rules.validate,
            self._today(),
            scope=scope,
            where=self._action_scope(state),
        )
        info = workflow.current_update_info()
        if info is not None:
            self._parsed_actions()[info.id] = action


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


def _log_failure(done: asyncio.Task[Any]) -> None:
    # `_local_first` handles the activities' failures; anything else is a bug, and the notices' ids say which.
    if not done.cancelled() and done.exception() is not None:
        workflow.logger.error("notices not sent", exc_info=done.exception())


class Notifier:
    """Notifications run beside the workflow's loop, so a channel that is down does not stall it.

    `on_failure(note, channel, reason)` hears of each channel that could not deliver: a permanent
    failure the activity reports, or a channel given up on after `NOTIFY_GIVE_UP`.
    """

    def __init__(
        self,
        on_failure: Callable[[Notification, str, str], None] | None = None,
        local_work: Callable[[], LocalWorkBatch | None] | None = None,
    ) -> None:
        self._tasks: list[asyncio.Task[Any]] = []
        self._on_failure = on_failure
        # The case's wake batch when its run takes the patch `local-work` (asked when a wake first sends locally).
        self._local_work = local_work or (lambda: None)

    def send(self, note: Notification, *, by_reference: bool = False) -> None:
        """Send one notification as a `notify` activity; `by_reference` (the trajectory's patch
        `trajectory-notice-refs`): as a reference (domain.notices), the activity renders the text."""
        item: Notification | NoticeRef = notices.reference(note) if by_reference else note
        self._track(
            workflow.start_activity_method(Notifications.notify, item, summary=note.kind, **_NOTIFY_OPTIONS),
            lambda done: self._delivered(note, done),
        )

    def send_all(self, notes: list[Notification], *, by_reference: bool = False, local: bool = False) -> None:
        """Send what one wake produced as one `notify_batch` activity (none for none); `by_reference` (the case's
        patch `notice-refs`): as references (domain.notices), the activity renders the text; `local` (patch
        `notices-local`): first by the local activity `notify_local` (from patch `local-work` on: as the notices' part
        of the wake's `local_work`), `notify_batch` only for what is left."""
        if notes:
            items: list[Notification | NoticeRef] = [notices.reference(n) for n in notes] if by_reference else [*notes]
            if local:
                # The task that makes them: the log holds them until the history records it (activities.held_notices).
                task = workflow.info().get_current_history_length()
                batch = self._local_work()
                first = batch.notices(items, task) if batch is not None else None
                self._track(asyncio.create_task(self._local_first(notes, items, task, first)), _log_failure)
                return
            # No summary: it would be one more payload to encode and store per activity (the
            # activity's input shows what was sent).
            self._track(
                workflow.start_activity_method(Notifications.notify_batch, items, **_NOTIFY_OPTIONS),
                lambda done: self._batch_delivered(notes, done),
            )

    async def _local_first(
        self,
        notes: list[Notification],
        items: list[Notification | NoticeRef],
        task: int,
        joint: asyncio.Future[LocalDelivery] | None,
    ) -> None:
        """Deliver over the worker's local channels in this workflow task (`joint`: as part of the wake's
        `local_work`, else by `notify_local`), then, when anything is left (a channel that is not local, a local one
        that failed), by `notify_batch` with the long retry, told what is done."""
        first: LocalDelivery | None = None
        try:
            if joint is not None:
                first = await joint
            else:
                first = await workflow.execute_local_activity_method(
                    Notifications.notify_local,
                    # An argument is no command: histories of release 9 replay as they were.
                    args=[items, task],
                    start_to_close_timeout=LOCAL_NOTIFY_TIMEOUT,
                    retry_policy=RetryPolicy(maximum_attempts=1),
                )
        except (ActivityError, LocalPartFailed) as err:
            # The worker's channels could not be set to work (a bug, a timeout): all of it goes the long way.
            workflow.logger.warning(
                "notices not delivered locally",
                extra={"case_id": notes[0].case_id, "error": str(getattr(err, "cause", None) or err)},
            )
        done = first.reports if first is not None else None
        if first is not None:
            for note, report in zip(notes, first.reports):
                self._failed(note, [(f.channel, f.reason) for f in report.failed])
            if not first.rest:
                return
        batch = workflow.start_activity_method(Notifications.notify_batch, args=[items, done], **_NOTIFY_OPTIONS)
        await asyncio.gather(batch, return_exceptions=True)
        self._batch_delivered(notes, batch, before=done)

    def _track(self, handle: asyncio.Task[Any], on_done: Callable[[asyncio.Task[Any]], None]) -> None:
        # An activity is scheduled by the caller there and then, not in a task of its own: the order of commands must
        # stay as recorded. (The local path of `notices-local` is a task of its own; release 9 recorded it so.)
        self._tasks = [t for t in self._tasks if not t.done()]
        handle.add_done_callback(on_done)
        self._tasks.append(handle)

    def _delivered(self, note: Notification, done: asyncio.Task[DeliveryReport]) -> None:
        if done.cancelled():
            return
        err = done.exception()
        if err is not None:
            cause = getattr(err, "cause", None)  # ActivityError: the last attempt's failure or the timeout
            failures = _given_up(getattr(cause, "message", None) or str(err))
        else:
            # The report lists each channel's permanent failure (the True/False of workers before version 3 is no
            # longer replayed: tests/histories).
            failures = [(f.channel, f.reason) for f in done.result().failed]
        self._failed(note, failures)

    def _batch_delivered(
        self,
        notes: list[Notification],
        done: asyncio.Task[list[DeliveryReport]],
        before: list[DeliveryReport] | None = None,
    ) -> None:
        """Record what the batch could not deliver; `before`: failures `notify_local` reported (recorded then)."""
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
        known = {(r.notification_id, f.channel) for r in before or [] for f in r.failed}
        for note, report in zip(notes, done.result()):
            self._failed(
                note, [(f.channel, f.reason) for f in report.failed if (note.notification_id, f.channel) not in known]
            )

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


class NewerRelease(RuntimeError):
    """A run started by a newer release than this code: not an ApplicationError, so it fails the workflow task (which
    records nothing) and the task is retried until a worker of that release takes it, during a rolling update."""


class PatchGate:
    """Which patches a run takes, from the release of the code that started it (its input's `release`).

    A run started by release 7 or later takes every patch of its release and older without a call: no marker and no
    `TemporalChangeVersion` upsert, two commands per patch in the run's first task. It asks `workflow.patched` only
    for the patches of later releases, which its recorded history may have run without. A run whose input has no
    release was started by older code, and every recorded history is one: it calls `patched` and `deprecate_patch`
    exactly as that code did, so its markers match on replay.
    """

    def __init__(self, release: int | None) -> None:
        if release is not None and release > patches.RELEASE:
            # Its history holds no markers for the patches this code does not know: it would replay the old paths.
            raise NewerRelease(f"this run was started by release {release}; this worker is release {patches.RELEASE}")
        self.release = release

    def taken(self, patch: patches.Patch, marker: str | None = None) -> bool:
        """Whether the run takes `patch` (`marker`: its marker id where one patch writes several). The release check
        comes first, so that a run of this release writes no marker; a deprecated patch is always taken."""
        if self.release is not None and self.release >= patch.release:
            return True
        if patch.live:
            return workflow.patched(marker or patch.id)
        workflow.deprecate_patch(marker or patch.id)
        return True


def opening_rules(input: CaseInput) -> tuple[Any, Any, Any, Any]:
    """The rules a new case opens with (rule set, spoor 2, stagnation, dossier): by value as older code sent them, or
    by reference (`input.rules`), taken from the rules shipped with this code when their hashes match. A mismatch
    raises `RulesChanged`, which fails the workflow task: nothing is recorded, and the task is retried."""
    if input.rules is not None:
        return rulebook.resolve(input.rules)
    return input.ruleset, input.spoor2_rules, input.stagnation_rules, input.dossier_rules


def opened_state(input: CaseInput, *, today: date, now: datetime) -> CaseState:
    """A new case's state as its first run opens it, at the current version: the workflow's, and what
    operations.cases.open_case starts the workflow's search attributes from. Refuses an opening its rules do not take
    (ActionRefused); rules edited in place raise `RulesChanged` (opening_rules)."""
    ruleset, spoor2_rules, stagnation_rules, dossier_rules = opening_rules(input)
    if input.opening is None or ruleset is None:
        raise ActionRefused("input: a new case needs `opening` and `ruleset` (or `rules`)")
    opened = open_case(
        input.opening,
        ruleset,
        today=today,
        now=now,
        spoor2_rules=spoor2_rules,
        stagnation_rules=stagnation_rules,
        dossier_rules=dossier_rules,
        holidays=input.holidays,
    )
    return migrate(opened, today)


def carried_rules(state: CaseState) -> RulesRef | None:
    """The reference to the rules (and holidays) a continued run's state carries, for its continue-as-new input,
    when they are the rules shipped with this code (`CaseInput` then leaves them out of the state's JSON, and the
    next run resolves them as a new case's are); None when they are not: the state carries them by value."""
    return rulebook.shipped_ref(
        state.ruleset,
        spoor2=state.spoor2.rules,
        stagnation=state.escalation.rules if state.escalation is not None else None,
        dossier=state.documents.rules,
        holidays=state.holidays,
    )


def trajectory_rules(state: CaseState) -> RulesRef | None:
    """The reference to the rules a case's trajectory starts with (its spoor 2 rules, and the watch of its stagnation
    rules), when they are shipped with this code; None: they go by value."""
    ref = carried_rules(state)
    if ref is None or ref.spoor2_hash is None:
        return None
    # The trajectory needs neither the dossier rules nor the holidays: not asked of the worker that runs it.
    return ref.model_copy(update={"dossier_hash": None, "holidays_from": None, "holidays_hash": None})


class RunBound:
    """When a run has lived long enough to continue as new: at its first wake `bound` after it started.

    Made as the run's loop begins, after its other patch calls (the order of markers is the order of commands);
    the run's start is `workflow.now()` then, read from its history, never the wall clock.
    """

    def __init__(self, bound: timedelta, gate: PatchGate) -> None:
        self._started = workflow.now()
        self._bound = bound
        self._gate = gate
        # Runs begun on release 5 replay without the marker; they are bounded by `reached`'s late checks.
        self._patched = gate.taken(patches.RUN_BOUND)
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
        return self._gate.taken(patches.LATE_RUN_BOUND, patches.late_run_bound_id(self._late_checks))
