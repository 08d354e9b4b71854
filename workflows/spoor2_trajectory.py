"""`Spoor2Trajectory`: a spoor 2 trajectory as a child workflow of its case.

People act on it with the `act` update (validated like the case's). Every entry of its record is
also sent to the case (signal `trajectory_update`), so one case keeps one dossier and the case's
stage and `Spoor2Phase` follow the trajectory. The rules live in `domain.spoor2`.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from domain import spoor2 as rules
    from domain.migration import RUN_BOUND
    from domain.models import Role
    from domain.nl_time import local_date, start_of_day
    from domain.spoor2 import TrajectoryEvent, TrajectoryState, TrajectoryView
    from workflows import patches
    from workflows.common import (
        ActionRules,
        ActionUpdates,
        CaseScope,
        Notifier,
        PatchGate,
        RunBound,
        WakeTimer,
        signal_arg,
    )
    from workflows.payloads import TrajectoryActionResult, TrajectoryInput, TrajectoryResult, TrajectoryScope


@workflow.defn(name="Spoor2Trajectory")
class Spoor2Trajectory(ActionUpdates):
    @workflow.init
    def __init__(self, input: TrajectoryInput) -> None:
        self._patches = PatchGate(input.release)
        self._cap = input.continue_as_new_after_events
        self._state = input.state or rules.start_trajectory(
            input.case_id, input.started_on, input.rules, now=workflow.now(), actor=input.started_by, watch=input.watch
        )
        self._reported = input.reported_to_case
        # The case's scope as the case last told it (with the start, or signal `case_scope`), carried across
        # continue-as-new; None for a trajectory started before the case told it, until its case does.
        self._scope: TrajectoryScope | None = input.scope
        self._changed = False
        self._case_closed: rules.CaseClosed | None = None
        self._notifier = Notifier()

    @workflow.run
    async def run(self, input: TrajectoryInput) -> TrajectoryResult:
        state = self._state
        parent = workflow.get_external_workflow_handle(input.parent_workflow_id)
        # Release 5 took it at the start of every run; its marker stays readable until its runs have gone.
        self._patches.taken(patches.WAKE_TIMER)
        alarm = WakeTimer()
        bound = RunBound(timedelta(days=input.run_bound_days) if input.run_bound_days else RUN_BOUND, self._patches)
        # Whether this pass of the loop follows a wake by its timer alone: its report is then the clock's, and the
        # case may hold the notices it raises for its morning round. A run's first pass follows its start.
        by_clock = False
        try:
            while True:
                # Reset before anything awaits, so an action arriving meanwhile still wakes the loop.
                self._changed = False
                today = self._today()
                closed = self._case_closed
                if closed is not None:
                    rules.end_because_case_closed(
                        state,
                        on=closed.closed_on,
                        now=workflow.now(),
                        why=f"The case closed on {closed.closed_on} ({closed.outcome})",
                    )
                for flag in rules.tick(state, today=today, now=workflow.now()):
                    if state.watch is None:  # with the watch (version 3) the case notifies, on its contacts
                        note = rules.notification(state.case_id, flag)
                        self._notifier.send(note, by_reference=self._notices_by_reference())
                await self._report(parent, by_clock=by_clock)
                if state.ended:
                    break
                info = workflow.info()
                if (
                    info.is_continue_as_new_suggested()
                    or info.get_current_history_length() >= self._cap
                    or bound.reached()
                ):
                    await self._notifier.drain()
                    await self._report(parent)  # what the last handlers recorded
                    workflow.continue_as_new(
                        input.model_copy(
                            update={
                                "state": state,
                                "reported_to_case": self._reported,
                                "scope": self._scope,
                                "release": patches.RELEASE,
                            }
                        )
                    )
                wake = rules.next_wake_day(state)
                await alarm.wait(lambda: self._changed, bound.earlier(None if wake is None else start_of_day(wake)))
                by_clock = not self._changed
        except asyncio.CancelledError:
            # Cancelled by hand (the case signals `case_closed` instead): record it, then end.
            rules.end_because_case_closed(state, on=self._today(), now=workflow.now(), why="Trajectory cancelled")
            await self._report(parent)
        await self._notifier.drain()
        return TrajectoryResult(outcome=state.outcome, ended_on=state.ended_on)

    def _today(self) -> date:
        return local_date(workflow.now())

    def _notices_by_reference(self) -> bool:
        """Whether this run sends its notices as references (issue 22), asked when it first sends, as the case asks
        `notice-refs`: a run that replays without the patch's marker sends whole notifications until its next run."""
        return self._patches.taken(patches.TRAJECTORY_NOTICE_REFS)

    async def _report(self, parent: workflow.ExternalWorkflowHandle[Any], *, by_clock: bool = False) -> None:
        """Send the case every record entry it has not seen, with the trajectory's status (`by_clock`: they are what
        its timer's wake recorded, nothing a person did)."""
        state = self._state
        if self._reported >= len(state.record):
            return
        update = rules.update_for_case(state, self._reported, by_clock=by_clock)
        try:
            await parent.signal("trajectory_update", update)
        except FailureError as err:
            # The case has closed (and told us so, or ended at the same moment): nothing to tell.
            workflow.logger.info(
                "case did not take the trajectory update", extra={"case_id": state.case_id, "error": str(err)}
            )
        # Not len(state.record): an update handler may have added entries while the signal was sent.
        self._reported = update.events[-1].seq if update.events else self._reported

    @workflow.signal(name="resync")
    def resync(self, *args: Any) -> None:
        """The case's new run has seen the first `seen` entries (an int): send it everything after them again.

        A report that reached the case's previous run just as it continued as new is not in the
        new run's state; the case skips what it already has, so re-sending is harmless.
        """
        seen = signal_arg("resync", args, int)
        if seen is None:
            return
        if seen < self._reported:
            self._reported = max(seen, 0)
        # Woken either way: a trajectory that waits on people has no timer, and its case continuing as new is when it
        # looks at its own run bound (a run begun on release 5 moves to this code then).
        self._changed = True

    @workflow.signal(name="case_closed")
    def case_closed(self, *args: Any) -> None:
        """The case closed while the trajectory ran (a CaseClosed): end it on the case's closing day."""
        notice = signal_arg("case_closed", args, rules.CaseClosed)
        if notice is not None:
            self._case_closed = notice
            self._changed = True

    @workflow.signal(name="case_scope")
    def case_scope(self, *args: Any) -> None:
        """The case's scope changed, or the case tells it for the first time (a TrajectoryScope). Nothing to wake
        for: only the validator reads it."""
        scope = signal_arg("case_scope", args, TrajectoryScope)
        if scope is not None:
            self._scope = scope

    # ----------------------------------------------------------------- actions

    # The `act` update (workflows.common.ActionUpdates): what of it is the trajectory's. It judges a caller's scope
    # as the case's validator does, with the scope its case told it; until it has been told, it cannot.
    ACTION_RULES = ActionRules(
        parse=rules.parse_spoor2_action,
        validate=rules.validate,
        apply=rules.apply,
    )
    APPLIED_LOG = "trajectory action applied"

    def _action_state(self) -> TrajectoryState:
        return self._state

    def _action_scope(self, state: TrajectoryState) -> CaseScope | None:
        # The coach is the trajectory's own (the case learns it from the trajectory's reports, later); it counts
        # while the trajectory runs, as the case's does while spoor 2 runs.
        told = self._scope
        if told is None:
            return None
        running = not state.ended
        return CaseScope(state.case_id, told.employer_id, told.assigned, state.coach_id if running else None, running)

    def _action_context(self, state: TrajectoryState) -> list[str] | None:
        told = self._scope
        return list(told.assigned.get(Role.BEDRIJFSARTS, [])) if told is not None else None

    def _action_answer(
        self, state: TrajectoryState, action: Any, applied: bool, entry: Any, context: list[str] | None
    ) -> TrajectoryActionResult:
        return TrajectoryActionResult(
            action_id=action.action_id, applied=applied, status=state.status, entry=entry, bedrijfsarts_ids=context
        )

    # ----------------------------------------------------------------- queries

    @workflow.query
    def view(self, as_of: date | None = None) -> TrajectoryView:
        """Phase, cadence (conversations held versus expected), approvals, documents, outcome."""
        today = self._today()
        return rules.view(self._state, max(as_of, today) if as_of else today)

    @workflow.query
    def record(self) -> list[TrajectoryEvent]:
        return self._state.record

    @workflow.query
    def state(self) -> TrajectoryState:
        return self._state
