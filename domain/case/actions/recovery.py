"""Recovery and leave: partial and full recovery, a relapse, leave that pauses the clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from domain.access import ADMIN, ALL_PARTIES
from domain.case.state import CaseState, PartialRecoveryRecord
from domain.clock import SickPeriod
from domain.errors import ActionRefused
from domain.glossary import N_
from domain.ledger import ActionBase, Declared
from domain.models import Role


class PartialRecovery(ActionBase):
    kind: Literal["partial_recovery"]
    hours_per_week: float | None = Field(default=None, gt=0, le=60)
    percentage: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _some_measure(self) -> PartialRecovery:
        if self.hours_per_week is None and self.percentage is None:
            raise ValueError(N_("give hours_per_week or percentage"))  # said in the reader's language
        return self


class FullRecovery(ActionBase):
    """`on` is the first day back at work."""

    kind: Literal["full_recovery"]


class Relapse(ActionBase):
    """`on` is the first sick day of the new period."""

    kind: Literal["relapse"]


class LeaveStarted(ActionBase):
    """Leave that does not count as illness (a pause of the rule set, e.g. Wazo) starts on `on`: the clock pauses."""

    kind: Literal["leave_started"]
    leave: str = Field(min_length=1, max_length=100, description="The kind of leave (rulebook.toml, [[ruleset.pause]])")


class LeaveEnded(ActionBase):
    """The leave ended: from `on` the illness counts again and the clock resumes."""

    kind: Literal["leave_ended"]


def _check_full_recovery(state: CaseState, action: FullRecovery, today: date) -> None:
    if state.on_leave is not None:
        raise ActionRefused(
            "full_recovery: the employee is on leave since %(on)s; record \u201c%(next_kind)s\u201d first (the first "
            "day back counts from there)",
            on=state.on_leave.end,
            next_kind="leave_ended",
        )
    start = state.periods[-1].start
    if action.on <= start:
        raise ActionRefused(
            "on: the first day back at work must be after the sick period began (%(start)s)", start=start
        )


def check_relapse(state: CaseState, action: Relapse, today: date) -> None:
    recovered = state.recovered_on
    if recovered is None:
        raise ActionRefused("relapse: the employee has not recovered, so cannot relapse")
    if action.on <= recovered:
        raise ActionRefused("on: a relapse must come after the recovery on %(on)s", on=recovered)
    gap = (action.on - recovered).days
    if gap >= state.ruleset.four_week_rule_days:
        raise ActionRefused(
            "on: a relapse %(gap)s days after recovery (%(limit)s or more) starts a new case",
            gap=gap,
            limit=state.ruleset.four_week_rule_days,
        )


def _check_leave_started(state: CaseState, action: LeaveStarted, today: date) -> None:
    if state.ruleset.pause(action.leave) is None:
        keys = ", ".join(p.key for p in state.ruleset.pauses) or "none"
        raise ActionRefused(
            "leave: %(value)r is not leave that pauses the clock in rule set %(ruleset)s (%(known)s)",
            value=action.leave,
            ruleset=state.ruleset.id,
            known=keys,
        )
    if state.on_leave is not None:
        raise ActionRefused(
            "leave_started: the employee is on leave since %(on)s; record \u201c%(next_kind)s\u201d first",
            on=state.on_leave.end,
            next_kind="leave_ended",
        )
    start = state.periods[-1].start
    if action.on <= start:
        raise ActionRefused("on: the leave must start after the sick period began (%(start)s)", start=start)


def _check_leave_ended(state: CaseState, action: LeaveEnded, today: date) -> None:
    leave = state.on_leave
    if leave is None:
        raise ActionRefused("leave_ended: the employee is not on leave")
    assert leave.end is not None  # leave ends a period: it has its first day of leave as end
    if action.on <= leave.end:
        raise ActionRefused("on: the leave started on %(on)s; it ends on a later day", on=leave.end)


def _partial(state: CaseState, action: PartialRecovery, now: datetime) -> str:
    state.recovery.partial = PartialRecoveryRecord(
        on=action.on, hours_per_week=action.hours_per_week, percentage=action.percentage
    )
    return "Partial recovery recorded"


def _full_recovery(state: CaseState, action: FullRecovery, now: datetime) -> str:
    last = state.periods[-1]
    state.periods[-1] = SickPeriod(start=last.start, end=action.on)
    closes = action.on + timedelta(days=state.ruleset.four_week_rule_days)
    return f"Fully recovered, back at work on {action.on}; the case closes on {closes} unless the employee relapses"


def _relapse(state: CaseState, action: Relapse, now: datetime) -> str:
    assert state.recovered_on is not None  # check_relapse
    gap = (action.on - state.recovered_on).days
    state.periods.append(SickPeriod(start=action.on))
    return f"Relapse after {gap} days: the clock resumes and later deadlines move by {gap} days"


def _leave_started(state: CaseState, action: LeaveStarted, now: datetime) -> str:
    last = state.periods[-1]
    state.periods[-1] = SickPeriod(start=last.start, end=action.on, paused_for=action.leave)
    rule = state.ruleset.pause(action.leave)
    assert rule is not None  # the action's leave is one of the ruleset's pauses (checked)
    label = rule.label
    return f"{label} from {action.on}: the illness does not count meanwhile; every later term moves by the leave"


def _leave_ended(state: CaseState, action: LeaveEnded, now: datetime) -> str:
    leave = state.on_leave
    assert leave is not None and leave.end is not None  # the check asks for it
    state.periods.append(SickPeriod(start=action.on))
    return f"Leave ended after {(action.on - leave.end).days} days; the clock resumes on {action.on}"


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(PartialRecovery, frozenset({Role.BEDRIJFSARTS, Role.WERKGEVER, *ADMIN}), effect=_partial),
    Declared(FullRecovery, frozenset({*ALL_PARTIES, Role.BEDRIJFSARTS}), _check_full_recovery, _full_recovery),
    Declared(Relapse, frozenset({*ALL_PARTIES, Role.BEDRIJFSARTS}), check_relapse, _relapse, while_halted=True),
    # Leave pauses the clock; recording it is not re-integration activity.
    Declared(LeaveStarted, frozenset({Role.WERKGEVER, *ADMIN}), _check_leave_started, _leave_started, activity=False),
    Declared(LeaveEnded, frozenset({Role.WERKGEVER, *ADMIN}), _check_leave_ended, _leave_ended, activity=False),
)
