"""`SickLeaveCase`: one durable workflow per sick-leave case, from first sick day to closing.

The workflow keeps time and takes human actions; the rules that decide live in `domain.case`.
Actions arrive as the `act` update: its validator refuses what does not fit (nothing enters the
history), and the action id makes a retried request apply once, also across continue-as-new.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from domain import access
    from domain import case as rules
    from domain.actions import parse_action
    from domain.case import CaseState, CaseSummary, DeadlineView, DossierLine, documents_due
    from domain.documents import DocumentOrder, DocumentRef, RenderJob
    from domain.dossier_check import PreflightRules, Toets
    from domain.errors import ActionRefused
    from domain.models import Notification
    from domain.nl_time import local_date, start_of_day
    from domain.spoor2 import CaseClosed, TrajectoryUpdate
    from service import metrics
    from workflows import search_attributes as sa
    from workflows.common import Notifier, WakeTimer, apply_action, check_action, refused, signal_arg
    from workflows.ids import trajectory_workflow_id
    from workflows.payloads import ActionResult, CaseInput, CaseResult, TrajectoryInput
    from workflows.spoor2_trajectory import Spoor2Trajectory

# Patch ids, one per change to the commands the workflow issues (docs/versioning.md).
PATCH_SPOOR2_TRAJECTORY = "spoor2-trajectory"  # case version 2: spoor 2 as a child workflow
PATCH_STAGNATION_WATCH = "stagnation-watch"  # case version 3: reminders, escalation, contacts
PATCH_COACH_ATTRIBUTE = "coach-attribute"  # case version 4: CoachId search attribute
PATCH_TRAJECTORY_RESYNC = "trajectory-resync"  # a continued run asks its trajectory for what it missed
PATCH_CATCH_UP = "catch-up"  # a late wake records in date order and drops ladder notices a later step replaces
PATCH_DOCUMENTS = "documents"  # case version 5: documents rendered by activity, the loonsanctie pre-flight
PATCH_WAKE_TIMER = "wake-timer"  # one timer kept to the next wake, not a new one after every action
PATCH_NOTIFY_BATCH = "notify-batch"  # what one wake sends goes as one activity, not one per notification
PATCH_DOSSIER_TRUTH = "dossier-truth"  # revision 1 from the start of a run: domain.case.FACTS_REVISION
PATCH_ASSIGNMENTS = "assignments"  # revision 2 from the start of a run: the Assigned search attribute
PATCH_WORKLIST = "worklist-attributes"  # revision 3 from the start of a run: NextStep and PersonKeys

# Rendering a document: a slow store is retried; a document that cannot be made is recorded as failed.
RENDER_TIMEOUT = timedelta(minutes=5)
RENDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=8,
)


@workflow.defn(name="SickLeaveCase")
class SickLeaveCase:
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self._cap = input.continue_as_new_after_events
        self._opening_refused: str | None = None
        self._state: CaseState | None = input.state
        if input.state is not None and input.reopen_with is not None:
            # A new run of a case closed as recovered: the relapse reported after the window seemed closed.
            try:
                rules.reopen(input.state, parse_action(input.reopen_with), today=self._today(), now=workflow.now())
            except ActionRefused as err:
                self._state, self._opening_refused = None, str(err)
        if self._state is None and input.state is None:
            if input.opening is None or input.ruleset is None:
                self._opening_refused = "input: a new case needs `opening` and `ruleset`"
            else:
                # A case opened before a patch replays as the version it was and keeps it for life.
                version = 1
                if workflow.patched(PATCH_SPOOR2_TRAJECTORY):
                    version = 2
                    if workflow.patched(PATCH_STAGNATION_WATCH):
                        version = (
                            rules.COACH_VERSION if workflow.patched(PATCH_COACH_ATTRIBUTE) else rules.WATCH_VERSION
                        )
                        if version == rules.COACH_VERSION and workflow.patched(PATCH_DOCUMENTS):
                            version = rules.DOCUMENTS_VERSION
                try:
                    self._state = rules.open_case(
                        input.opening,
                        input.ruleset,
                        today=self._today(),
                        now=workflow.now(),
                        version=version,
                        spoor2_rules=input.spoor2_rules,
                        stagnation_rules=input.stagnation_rules,
                        dossier_rules=input.dossier_rules,
                        holidays=input.holidays,
                    )
                except ActionRefused as err:
                    self._opening_refused = str(err)
        self._changed = False
        self._trajectory_to_end = False
        self._search_attributes: dict[str, Any] = {}
        if input.state is None:
            # A new case starts without Spoor2Phase, CoachId, NextStep or PersonKeys: nothing to unset.
            for key in (sa.SPOOR2_PHASE, sa.COACH_ID, sa.NEXT_STEP, sa.PERSON_KEYS):
                self._search_attributes[key.name] = None
        self._notifier = Notifier(on_failure=self._notification_failed)
        self._rendering: dict[str, asyncio.Task[None]] = {}  # order id -> its running render (kept: no GC)
        # Dossier entries the escalation metric has seen: a continued run's were seen by the run before.
        self._counted = len(input.state.dossier) if input.state is not None else 0

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        if self._state is None:
            raise ApplicationError(self._opening_refused or "case refused", type="CaseRefused", non_retryable=True)
        state = self._state
        if input.state is not None and state.spoor2.trajectory_started and state.spoor2_running and not state.closed:
            if workflow.patched(PATCH_TRAJECTORY_RESYNC):
                await self._resync_trajectory()
        # Runs begun before the patch keep the old catch-up for their life; a continued run takes the new one.
        in_order = workflow.patched(PATCH_CATCH_UP)
        alarm = WakeTimer() if workflow.patched(PATCH_WAKE_TIMER) else None
        batched = workflow.patched(PATCH_NOTIFY_BATCH)
        if workflow.patched(PATCH_DOSSIER_TRUTH):
            # Taken at every run's start, so a running case moves to the new revision when it continues as new.
            revision = rules.FACTS_REVISION
            if workflow.patched(PATCH_ASSIGNMENTS):
                revision = rules.WORKLIST_REVISION if workflow.patched(PATCH_WORKLIST) else rules.ASSIGNMENTS_REVISION
            rules.upgrade(state, self._today(), revision)
        while True:
            # Reset before anything awaits, so an action or signal arriving meanwhile still wakes the loop.
            self._changed = False
            today = self._today()
            notes = rules.tick(state, today=today, now=workflow.now(), in_order=in_order)
            if batched:
                self._notifier.send_all(notes)
            else:
                for note in notes:
                    self._notifier.send(note)
            self._counted = metrics.count_escalations(state.dossier, self._counted)
            if state.trajectory_due:
                await self._start_trajectory()
            if rules.end_trajectory_with_case(state, now=workflow.now()):
                self._trajectory_to_end = True
            self._upsert_search_attributes(today)
            # Documents render beside the loop: the case takes actions and keeps its search attributes
            # current while a document is made (or its store is retried for half an hour).
            for order in documents_due(state, today):
                if order.order_id not in self._rendering:
                    self._rendering[order.order_id] = asyncio.create_task(
                        self._render(order), name=f"render {order.order_id}"
                    )
            if state.closed:
                break
            if self._history_too_long():
                await workflow.wait_condition(lambda: not self._rendering)
                await self._notifier.drain()
                self._counted = metrics.count_escalations(state.dossier, self._counted)
                workflow.continue_as_new(CaseInput(state=state, continue_as_new_after_events=self._cap))
            wake = rules.next_wake(state, today)
            if alarm is not None:
                await alarm.wait(lambda: self._changed, wake)
                continue
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            except asyncio.TimeoutError:
                pass
        await self._end_trajectory()
        await workflow.wait_condition(lambda: not self._rendering)
        await self._notifier.drain()
        workflow.logger.info("case closed", extra={"case_id": state.case_id, "outcome": str(state.outcome)})
        return CaseResult(case_id=state.case_id, outcome=state.outcome, closed_on=state.closed_on)

    def _today(self):
        return local_date(workflow.now())

    async def _start_trajectory(self) -> None:
        state = self._state
        assert state is not None and state.spoor2.rules is not None and state.spoor2.started_on is not None
        # ABANDON: the trajectory must outlive this run when the case continues as new; the case
        # ends it itself when it closes (`_end_trajectory`).
        await workflow.start_child_workflow(
            Spoor2Trajectory.run,
            TrajectoryInput(
                case_id=state.case_id,
                parent_workflow_id=workflow.info().workflow_id,
                started_on=state.spoor2.started_on,
                started_by=state.spoor2.started_by or rules.SYSTEM,
                rules=state.spoor2.rules,
                watch=state.escalation.rules.spoor2 if state.escalation else None,
                continue_as_new_after_events=self._cap,
            ),
            id=trajectory_workflow_id(state.case_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary="spoor 2 trajectory",
        )
        rules.trajectory_started(state)

    async def _render(self, order: DocumentOrder) -> None:
        """Have a document rendered and stored; the dossier keeps its reference and hash."""
        state = self._state
        assert state is not None
        job = RenderJob(
            case_id=state.case_id,
            order=order,
            trajectory_workflow_id=trajectory_workflow_id(state.case_id) if state.spoor2.trajectory_started else None,
        )
        try:
            ref = await workflow.execute_activity(
                "render_document",
                job,
                result_type=DocumentRef,
                start_to_close_timeout=RENDER_TIMEOUT,
                retry_policy=RENDER_RETRY,
                summary=f"render {order.kind.value}",
            )
        except ActivityError as err:
            cause = err.cause.message if isinstance(err.cause, FailureError) else str(err)
            rules.document_failed(state, order, cause, today=self._today(), now=workflow.now())
            workflow.logger.warning("document not rendered", extra={"case_id": state.case_id, "order": order.order_id})
        else:
            rules.document_rendered(state, ref, now=workflow.now())
        self._rendering.pop(order.order_id, None)
        self._changed = True  # the loop sends what the dossier now holds (a failure notice) and sleeps anew

    async def _resync_trajectory(self) -> None:
        """A report of the trajectory may have reached the previous run as it continued as new: ask again."""
        state = self._state
        assert state is not None
        try:
            await workflow.get_external_workflow_handle(trajectory_workflow_id(state.case_id)).signal(
                Spoor2Trajectory.resync, state.spoor2.entries_seen
            )
        except FailureError as err:  # it has ended; its last report is on its way or already here
            workflow.logger.info("trajectory not resynced", extra={"case_id": state.case_id, "error": str(err)})

    async def _end_trajectory(self) -> None:
        """A case that closes while its trajectory runs ends the trajectory (it records why)."""
        state = self._state
        assert state is not None
        if self._trajectory_to_end:
            notice = CaseClosed(outcome=state.outcome.value if state.outcome else "closed", closed_on=state.closed_on)
            try:
                await workflow.get_external_workflow_handle(trajectory_workflow_id(state.case_id)).signal(
                    Spoor2Trajectory.case_closed, notice
                )
            except FailureError as err:  # it ended at the same moment
                workflow.logger.info(
                    "trajectory not told the case closed", extra={"case_id": state.case_id, "error": str(err)}
                )

    def _notification_failed(self, note: Notification, channel: str, reason: str) -> None:
        """A channel could not deliver (bad address, refused): the dossier says so; the case goes on."""
        if self._state is not None:
            rules.notification_failed(self._state, note, channel, reason, today=self._today(), now=workflow.now())
            self._changed = True

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self._cap

    def _upsert_search_attributes(self, today) -> None:
        state = self._state
        assert state is not None
        summary = rules.summarize(state, today)
        upcoming = summary.next_deadline
        wanted: dict[str, Any] = {
            sa.CASE_STAGE.name: state.stage.value,
            sa.EMPLOYER_ID.name: state.employer_id,
            sa.FIRST_SICK_DAY.name: start_of_day(state.first_sick_day),
            sa.NEXT_DEADLINE.name: start_of_day(upcoming.due) if upcoming and upcoming.due else None,
            sa.OVERDUE.name: bool(summary.overdue),
        }
        # Each version keeps the attributes it recorded, so its histories replay.
        keys: tuple[SearchAttributeKey[Any], ...] = sa.VERSION_1
        if state.version >= rules.TRAJECTORY_VERSION:
            keys = sa.VERSION_2
            wanted[sa.SPOOR2_PHASE.name] = state.spoor2.phase if state.spoor2_running else None
        if state.escalation is not None:
            keys = sa.VERSION_3
            wanted[sa.ESCALATION_LEVEL.name] = state.escalation.watch.level
        if state.version >= rules.COACH_VERSION:
            keys = sa.VERSION_4
            wanted[sa.COACH_ID.name] = state.spoor2.coach_id if state.spoor2_running else None
        if state.revision >= rules.ASSIGNMENTS_REVISION:
            keys = (*keys, sa.ASSIGNED)
            wanted[sa.ASSIGNED.name] = access.attribute_values(
                state.people.assigned,
                trajectory_coach=state.spoor2.coach_id if state.spoor2_running else None,
                spoor2_running=state.spoor2_running,
            )
        if state.revision >= rules.WORKLIST_REVISION:
            keys = (*keys, sa.NEXT_STEP, sa.PERSON_KEYS)
            wanted[sa.NEXT_STEP.name] = upcoming.key if upcoming and upcoming.due else None
            wanted[sa.PERSON_KEYS.name] = list(state.people.person_keys) or None
        updates: list[SearchAttributeUpdate] = []
        for key in keys:
            value = wanted[key.name]
            if key.name in self._search_attributes and self._search_attributes[key.name] == value:
                continue
            updates.append(key.value_unset() if value is None else key.value_set(value))
            self._search_attributes[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)

    # ----------------------------------------------------------------- actions

    @workflow.update(name="act")
    def act(self, request: Any) -> ActionResult:
        """Record a human action (see domain.actions for the kinds)."""
        state = self._state
        if state is None:
            raise refused("the case was never opened")
        action, applied, entry = apply_action(state, request, parse_action, rules.apply, self._today())
        if applied:
            self._changed = True
            workflow.logger.info("action applied", extra={"case_id": state.case_id, "action": entry.kind})
        return ActionResult(action_id=action.action_id, applied=applied, stage=state.stage, entry=entry)

    @act.validator
    def _validate_act(self, request: Any) -> None:
        # Any, not a dict: a list or null reaches the validator and is refused with a reason.
        if self._state is None:
            raise refused("the case was never opened")
        check_action(self._state, request, parse_action, rules.validate, self._today())

    @workflow.signal(name="trajectory_update")
    def trajectory_update(self, *args: Any) -> None:
        """The spoor 2 trajectory changed: its new record entries, status, phase and outcome (a TrajectoryUpdate)."""
        update = signal_arg("trajectory_update", args, TrajectoryUpdate)
        state = self._state
        if update is None or state is None or state.closed:
            return
        if rules.apply_trajectory_update(state, update, now=workflow.now()):
            self._changed = True

    # ----------------------------------------------------------------- queries

    def _require_state(self) -> CaseState:
        if self._state is None:
            raise ApplicationError(self._opening_refused or "case refused", type="CaseRefused")
        return self._state

    def _as_of(self, as_of: date | None) -> date:
        # A query sees the time of the case's last activation, which may be weeks old between
        # timers; callers pass their own today so weeks sick and statuses are current.
        today = self._today()
        return max(as_of, today) if as_of is not None else today

    @workflow.query
    def summary(self, as_of: date | None = None) -> CaseSummary:
        """Stage, weeks sick, next deadline, overdue steps, as of `as_of` (default: last activation)."""
        return rules.summarize(self._require_state(), self._as_of(as_of))

    @workflow.query
    def deadlines(self, as_of: date | None = None) -> list[DeadlineView]:
        """Every statutory step with due date and status (open, done, overdue, waived, passed)."""
        return rules.deadlines(self._require_state(), self._as_of(as_of))

    @workflow.query
    def dossier(self, as_of: date | None = None) -> list[DossierLine]:
        """Every event of the case in the order it was recorded; overdue observations with how they stand now."""
        return rules.dossier_lines(self._require_state(), self._as_of(as_of))

    @workflow.query
    def poortwachtertoets(self, as_of: date | None = None, preflight: PreflightRules | None = None) -> Toets | None:
        """The dossier in the order UWV's assessor reads it, with its open points; `preflight` for a case without its own rules."""
        return rules.poortwachtertoets(self._require_state(), self._as_of(as_of), preflight)

    @workflow.query
    def state(self) -> CaseState:
        """The full case state."""
        return self._require_state()

    @workflow.query
    def documents(self) -> list[DocumentRef]:
        """Where each rendered document is stored, with its hash (version 5 on; none before)."""
        return self._require_state().documents.refs
