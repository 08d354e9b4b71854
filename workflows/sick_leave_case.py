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
    from activities.documents import DocumentActivities
    from domain import case as rules
    from domain.actions import parse_action
    from domain.case import CaseState, CaseSummary, DeadlineView, DossierLine, documents_due
    from domain.documents import DocumentOrder, DocumentRef, RenderJob
    from domain.dossier_check import PreflightRules, Toets
    from domain.errors import ActionRefused
    from domain.migration import RUN_BOUND, UnsupportedState, migrate
    from domain.models import Notification, Role
    from domain.nl_time import local_date
    from domain.spoor2 import CaseClosed, TrajectoryUpdate
    from service import metrics
    from workflows import patches
    from workflows import search_attributes as sa
    from workflows.case_facts import CaseFactsWriter
    from workflows.common import (
        ActionRules,
        ActionUpdates,
        CaseScope,
        Notifier,
        PatchGate,
        RunBound,
        WakeTimer,
        carried_rules,
        case_scope,
        opened_state,
        refused,
        signal_arg,
        trajectory_rules,
    )
    from workflows.ids import trajectory_workflow_id
    from workflows.local_work import LocalWorkBatch
    from workflows.payloads import ActionResult, CaseInput, CaseResult, TrajectoryInput, TrajectoryScope
    from workflows.spoor2_trajectory import Spoor2Trajectory

# Rendering a document: a slow store is retried; a document that cannot be made is recorded as failed.
RENDER_TIMEOUT = timedelta(minutes=5)
RENDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=8,
)


@workflow.defn(name="SickLeaveCase")
class SickLeaveCase(ActionUpdates):
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self._patches = PatchGate(input.release)
        self._cap = input.continue_as_new_after_events
        self._bound = timedelta(days=input.run_bound_days) if input.run_bound_days else RUN_BOUND
        self._opening_refused: str | None = None
        self._state: CaseState | None = None
        if input.state is not None:
            # The state as the previous run (or a closed case) left it, lifted to what this code expects.
            try:
                self._state = migrate(input.state, self._today())
            except UnsupportedState as err:
                self._opening_refused = str(err)
        if self._state is not None and input.reopen_with is not None:
            # A new run of a case closed as recovered: the relapse reported after the window seemed closed.
            try:
                rules.reopen(self._state, parse_action(input.reopen_with), today=self._today(), now=workflow.now())
            except ActionRefused as err:
                self._state, self._opening_refused = None, str(err)
        if input.state is None:
            try:
                self._state = opened_state(input, today=self._today(), now=workflow.now())
            except ActionRefused as err:
                self._opening_refused = str(err)
            else:
                # A new case opens at the current version; the (deprecated) markers stay until release 5's runs have
                # gone. Opening issues no command, so taking them after it keeps the recorded order.
                for patch in patches.OPENING:
                    self._patches.taken(patch)
        self._changed = False  # something a person (an action), a trajectory's action or a document told the case
        self._clock_news = False  # a report of the trajectory's own clock (its flags of the night)
        self._trajectory_to_end = False
        # The scope this case last told its trajectory (carried across continue-as-new): it tells it again on a change.
        self._scope_told: TrajectoryScope | None = input.trajectory_scope
        # What the run's search attributes are, as far as it knows: its upserts send only what differs.
        self._search_attributes: dict[str, Any] = {}
        if self._patches.taken(patches.START_ATTRIBUTES):
            # A new case starts with its attributes (operations.cases.open_case), a continued run with the last run's:
            # a start whose first wake changes none of them upserts nothing.
            self._search_attributes = sa.named(workflow.info().typed_search_attributes)
        elif input.state is None:
            # A new case starts without Spoor2Phase, CoachId, NextStep or PersonKeys: nothing to unset.
            for key in (sa.SPOOR2_PHASE, sa.COACH_ID, sa.NEXT_STEP, sa.PERSON_KEYS):
                self._search_attributes[key.name] = None
        # What a wake hands the worker's channels and store, in one local activity (patch `local-work`).
        self._local_work = LocalWorkBatch()
        self._notifier = Notifier(on_failure=self._notification_failed, local_work=self._joint_local_work)
        self._rendering: dict[str, asyncio.Task[None]] = {}  # order id -> its running render (kept: no GC)
        # Dossier entries the escalation metric has seen: a continued run's were seen by the run before.
        self._counted = len(input.state.dossier) if input.state is not None else 0
        # A continued run's facts were written by the run before; a reopened case's relapse is news to the store.
        self._facts = CaseFactsWriter(
            self._counted if input.reopen_with is None else 0,
            wake=self._wake,
            taken=lambda: self._patches.taken(patches.CASE_FACTS),
            local=lambda: self._patches.taken(patches.CASE_FACTS_LOCAL),
            local_work=self._joint_local_work,
        )

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        if self._state is None:
            raise ApplicationError(self._opening_refused or "case refused", type="CaseRefused", non_retryable=True)
        state = self._state
        if input.state is not None and state.spoor2.trajectory_started and state.spoor2_running and not state.closed:
            self._patches.taken(patches.TRAJECTORY_RESYNC)
            await self._resync_trajectory()
        # Release 5 took these at the start of every run; their markers stay readable until its runs have gone.
        for patch in patches.RUN_START:
            self._patches.taken(patch)
        alarm = WakeTimer()
        bound = RunBound(self._bound, self._patches)
        opened_by_a_person = input.state is None or input.reopen_with is not None
        while True:
            # The clock's work may wait for the morning round only at a wake by the clock alone: what a person (or a
            # trajectory, or a document) did is told at once, with the clock's work that came with it.
            by_clock = not (self._changed or opened_by_a_person)
            opened_by_a_person = False
            # Reset before anything awaits, so an action or signal arriving meanwhile still wakes the loop.
            self._changed = self._clock_news = False
            today = self._today()
            with self._local_work.gathering():  # the wake's notices and facts: one local activity
                morning = self._morning_hold if by_clock else None
                notes = rules.tick(
                    state,
                    today=today,
                    now=workflow.now(),
                    in_order=True,
                    morning=morning,
                    wall_clock=self._morning_wall_clock,
                )
                self._notifier.send_all(
                    notes,
                    by_reference=bool(notes) and self._notices_by_reference(),
                    local=bool(notes) and self._patches.taken(patches.NOTICES_LOCAL),
                )
                self._counted = metrics.count_escalations(state.dossier, self._counted)
                if state.trajectory_due:
                    await self._start_trajectory()
                await self._tell_trajectory_scope()
                if rules.end_trajectory_with_case(state, now=workflow.now()):
                    self._trajectory_to_end = True
                self._upsert_search_attributes(today)
                self._facts.write(state, today)
            # Documents render beside the loop: the case takes actions and keeps its search attributes
            # current while a document is made (or its store is retried for half an hour).
            for order in documents_due(state, today):
                if order.order_id not in self._rendering:
                    self._rendering[order.order_id] = asyncio.create_task(
                        self._render(order), name=f"render {order.order_id}"
                    )
            if state.closed:
                break
            if self._history_too_long() or bound.reached():
                await workflow.wait_condition(lambda: not self._rendering)
                await self._notifier.drain()
                self._counted = metrics.count_escalations(state.dossier, self._counted)
                await self._facts.flush(state, self._today())
                rules.hand_over(state)
                workflow.continue_as_new(
                    CaseInput(
                        state=state,
                        rules=carried_rules(state),  # by reference where shipped: 1 KB of JSON, not 8
                        continue_as_new_after_events=self._cap,
                        run_bound_days=input.run_bound_days,
                        trajectory_scope=self._scope_told,
                        release=patches.RELEASE,
                    )
                )
            wake = rules.next_wake(state, today, spread=self._morning_spread(), wall_clock=self._morning_wall_clock)
            await alarm.wait(lambda: self._changed or self._clock_news, bound.earlier(wake))
        await self._end_trajectory()
        await workflow.wait_condition(lambda: not self._rendering)
        await self._notifier.drain()
        await self._facts.flush(state, self._today())
        workflow.logger.info("case closed", extra={"case_id": state.case_id, "outcome": str(state.outcome)})
        return CaseResult(case_id=state.case_id, outcome=state.outcome, closed_on=state.closed_on)

    def _today(self):
        return local_date(workflow.now())

    def _morning_spread(self) -> bool:
        """Whether this run takes its morning round at the case's own minute: a run that replays without the patch's
        marker keeps 06:00 sharp, as it recorded, and spreads from its next run on. The SDK keeps a patch's first
        answer for the rest of the run."""
        return self._patches.taken(patches.MORNING_SPREAD)

    def _morning_wall_clock(self) -> bool:
        """Whether this run takes its morning round by Amsterdam's clocks, asked only for a round on a day they change
        (at that day's wakes, or at an earlier wake whose next reminder or ladder step falls on it): a run that replays
        without the marker of the patch `morning-wall-clock` keeps the hours from midnight it recorded."""
        return self._patches.taken(patches.MORNING_WALL_CLOCK)

    def _morning_hold(self) -> bool | None:
        """For the domain's tick, asked when the clock has work before the morning round: whether this run spreads its
        morning round, or None when it sends the clock's notices at once (a run that replays without the marker of
        the patch `morning-notices` sends them at once until its next run)."""
        return self._morning_spread() if self._patches.taken(patches.MORNING_NOTICES) else None

    def _joint_local_work(self) -> LocalWorkBatch | None:
        """The wake's batch when this run takes the patch `local-work`, asked when a wake first hands the worker its
        notices or its facts: a run that replays without the marker keeps its two local activities until its next."""
        return self._local_work if self._patches.taken(patches.LOCAL_WORK) else None

    def _notices_by_reference(self) -> bool:
        """Whether this run sends its notices as references (issue 22), asked when it first sends: a run that
        replays without the patch's marker sends whole notifications until its next run."""
        return self._patches.taken(patches.NOTICE_REFS)

    def _wake(self) -> None:
        self._changed = True

    def _trajectory_scope(self) -> TrajectoryScope:
        """What of the case decides who may act on its trajectory: its employer and who is assigned."""
        state = self._state
        assert state is not None
        assigned = {role: list(ids) for role, ids in state.people.assigned.items()}
        return TrajectoryScope(employer_id=state.employer_id, assigned=assigned)

    async def _tell_trajectory_scope(self) -> None:
        """Tell the running trajectory the case's scope when it is not what the trajectory was last told (an
        assignment changed, or a trajectory started before the case told it): its validator judges a caller's
        scope with it. A run that replays without the patch's marker tells it from its next run on."""
        state = self._state
        assert state is not None
        if not (state.spoor2.trajectory_started and state.spoor2_running) or state.closed:
            return
        wanted = self._trajectory_scope()
        if wanted == self._scope_told or not self._patches.taken(patches.TRAJECTORY_SCOPE):
            return
        self._scope_told = wanted
        try:
            await workflow.get_external_workflow_handle(trajectory_workflow_id(state.case_id)).signal(
                Spoor2Trajectory.case_scope, wanted
            )
        except FailureError as err:  # it has ended: no action is taken on it any more
            workflow.logger.info("trajectory not told its scope", extra={"case_id": state.case_id, "error": str(err)})

    async def _start_trajectory(self) -> None:
        state = self._state
        assert state is not None and state.spoor2.rules is not None and state.spoor2.started_on is not None
        # The scope goes with the start (no command of its own); a run that replays a start recorded without the
        # patch's marker started its trajectory without it, and tells it from its next run on.
        scope = self._trajectory_scope() if self._patches.taken(patches.TRAJECTORY_SCOPE) else None
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
                rules_ref=trajectory_rules(state),  # its JSON then leaves out the two above
                continue_as_new_after_events=self._cap,
                run_bound_days=self._bound.days if self._bound != RUN_BOUND else None,
                scope=scope,
                release=patches.RELEASE,
            ),
            id=trajectory_workflow_id(state.case_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary="spoor 2 trajectory",
        )
        rules.trajectory_started(state)
        self._scope_told = scope

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
            ref = await workflow.execute_activity_method(
                DocumentActivities.render_document,
                job,
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
        wanted = sa.values(state, today)
        updates: list[SearchAttributeUpdate] = []
        key: SearchAttributeKey[Any]
        for key in sa.ALL:
            value = wanted[key.name]
            if key.name in self._search_attributes and self._search_attributes[key.name] == value:
                continue
            updates.append(key.value_unset() if value is None else key.value_set(value))
            self._search_attributes[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)

    # ----------------------------------------------------------------- actions

    # The `act` update (workflows.common.ActionUpdates): what of it is the case's.
    ACTION_RULES = ActionRules(
        parse=parse_action,
        validate=rules.validate,
        apply=rules.apply,
    )

    def _action_state(self) -> CaseState:
        if self._state is None:
            raise refused("the case was never opened")
        return self._state

    def _action_scope(self, state: CaseState) -> CaseScope:
        return case_scope(state)

    def _action_context(self, state: CaseState) -> list[str]:
        return list(state.people.assigned.get(Role.BEDRIJFSARTS, []))

    def _action_answer(
        self, state: CaseState, action: Any, applied: bool, entry: Any, context: list[str]
    ) -> ActionResult:
        return ActionResult(
            action_id=action.action_id, applied=applied, stage=state.stage, entry=entry, bedrijfsarts_ids=context
        )

    @workflow.signal(name="trajectory_update")
    def trajectory_update(self, *args: Any) -> None:
        """The spoor 2 trajectory changed: its new record entries, status, phase and outcome (a TrajectoryUpdate)."""
        update = signal_arg("trajectory_update", args, TrajectoryUpdate)
        state = self._state
        if update is None or state is None or state.closed:
            return
        if rules.apply_trajectory_update(state, update, now=workflow.now()):
            # A report of the trajectory's clock wakes the loop as the case's own timer does: a wake by the clock.
            if update.by_clock:
                self._clock_news = True
            else:
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
