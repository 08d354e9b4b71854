"""`SickLeaveCase`: one durable workflow per sick-leave case, from first sick day to closing.

The workflow keeps time and takes human actions; the rules that decide live in `domain.case`.
Actions arrive as the `act` update: its validator refuses what does not fit (nothing enters the
history), and the action id makes a retried request apply once, also across continue-as-new.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import case as rules
    from domain.actions import parse_action
    from domain.case import CaseOpening, CaseState, CaseSummary, DeadlineView, DossierEntry, Notification
    from domain.errors import ActionRefused
    from domain.models import Outcome, Stage
    from domain.nl_time import local_date, start_of_day
    from domain.rules import RuleSet
    from workflows import search_attributes as sa

NOTIFY_TIMEOUT = timedelta(minutes=1)
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))


class CaseInput(BaseModel):
    """Starts a case (`opening` + `ruleset`) or continues one (`state`, after continue-as-new)."""

    opening: CaseOpening | None = None
    ruleset: RuleSet | None = None
    state: CaseState | None = None
    continue_as_new_after_events: int = 1000


class ActionResult(BaseModel):
    """The answer to an action: its dossier entry; `applied` is False for a retried action id."""

    action_id: str
    applied: bool
    stage: Stage
    entry: DossierEntry


class CaseResult(BaseModel):
    case_id: str
    outcome: Outcome | None
    closed_on: date | None


def _refused(reason: str) -> ApplicationError:
    return ApplicationError(reason, type="ActionRefused", non_retryable=True)


@workflow.defn(name="SickLeaveCase")
class SickLeaveCase:
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self._cap = input.continue_as_new_after_events
        self._opening_refused: str | None = None
        self._state: CaseState | None = input.state
        if self._state is None:
            if input.opening is None or input.ruleset is None:
                self._opening_refused = "input: a new case needs `opening` and `ruleset`"
            else:
                try:
                    self._state = rules.open_case(input.opening, input.ruleset, today=self._today(), now=workflow.now())
                except ActionRefused as err:
                    self._opening_refused = str(err)
        self._changed = False
        self._search_attributes: dict[str, Any] = {}
        self._notifications: list[asyncio.Task[Any]] = []

    # ----------------------------------------------------------------- main loop

    @workflow.run
    async def run(self, input: CaseInput) -> CaseResult:
        if self._state is None:
            raise ApplicationError(self._opening_refused or "case refused", type="CaseRefused", non_retryable=True)
        state = self._state
        while True:
            today = self._today()
            for note in rules.tick(state, today=today, now=workflow.now()):
                self._send(note)
            self._upsert_search_attributes(today)
            if state.closed:
                break
            if self._history_too_long():
                await self._drain()
                workflow.continue_as_new(CaseInput(state=state, continue_as_new_after_events=self._cap))
            wake = rules.next_wake(state, today)
            self._changed = False
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            except asyncio.TimeoutError:
                pass
        await self._drain()
        workflow.logger.info("case closed", extra={"case_id": state.case_id, "outcome": str(state.outcome)})
        return CaseResult(case_id=state.case_id, outcome=state.outcome, closed_on=state.closed_on)

    def _today(self):
        return local_date(workflow.now())

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self._cap

    async def _drain(self) -> None:
        """Let running handlers and notifications finish before closing or continuing as new."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._notifications:
            await asyncio.gather(*self._notifications)
            self._notifications.clear()

    def _send(self, note: Notification) -> None:
        # Notifications run beside the loop, so a channel that is down does not stall the case.
        self._notifications = [t for t in self._notifications if not t.done()]
        self._notifications.append(
            workflow.start_activity(
                "notify",
                note,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
                summary=note.kind,
            )
        )

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
        updates: list[SearchAttributeUpdate] = []
        for key in sa.ALL:
            value = wanted[key.name]
            if key.name in self._search_attributes and self._search_attributes[key.name] == value:
                continue
            updates.append(key.value_unset() if value is None else key.value_set(value))  # type: ignore[attr-defined]
            self._search_attributes[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)

    # ----------------------------------------------------------------- actions

    @workflow.update(name="act")
    def act(self, request: dict[str, Any]) -> ActionResult:
        """Record a human action (see domain.actions for the kinds)."""
        state = self._state
        if state is None:
            raise _refused("the case was never opened")
        try:
            action = parse_action(request)
            known = action.action_id in state.applied_actions
            entry = rules.apply(state, action, self._today(), workflow.now())
        except ActionRefused as err:
            raise _refused(str(err)) from None
        if not known:
            self._changed = True
            workflow.logger.info("action applied", extra={"case_id": state.case_id, "action": entry.kind})
        return ActionResult(action_id=action.action_id, applied=not known, stage=state.stage, entry=entry)

    @act.validator
    def _validate_act(self, request: dict[str, Any]) -> None:
        if self._state is None:
            raise _refused("the case was never opened")
        try:
            rules.check(self._state, parse_action(request), self._today())
        except ActionRefused as err:
            raise _refused(str(err)) from None

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
    def dossier(self) -> list[DossierEntry]:
        """Every event of the case in the order it was recorded."""
        return self._require_state().dossier

    @workflow.query
    def state(self) -> CaseState:
        """The full case state."""
        return self._require_state()
