"""The case at a glance, and the dossier read as UWV's assessor will read it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from domain.case.deadlines import DeadlineView, deadlines, next_deadline, wachttijd_end
from domain.case.state import CaseState, Loonsanctie, Spoor2Result
from domain.case.toets import toets
from domain.case.uwv import preparable
from domain.case.watch import expectation
from domain.dossier_check import PreflightRules, Toets
from domain.errors import ActionRefused
from domain.models import DeadlineStatus, Outcome, Role, Stage
from domain.people import Employee
from domain.spoor2.state import Spoor2Status
from domain.stagnation import Expectation
from domain.uwv import MessageKind


class CaseSummary(BaseModel):
    """What the operations overview shows of a case."""

    case_id: str
    employer_id: str
    stage: Stage
    outcome: Outcome | None
    closed_on: date | None
    first_sick_day: date
    ruleset: str
    illness_day: int
    illness_week: int
    recovered_on: date | None
    on_leave: str | None = Field(default=None, description="The leave that pauses the clock now (its label)")
    on_leave_since: date | None = None
    closes_on_without_relapse: date | None
    next_deadline: DeadlineView | None
    overdue: list[str]
    wachttijd_ends: date | None
    spoor2_running: bool
    spoor2_status: Spoor2Status | None
    spoor2_phase: int | None
    spoor2_coach_id: str | None = None
    spoor2_result: Spoor2Result | None
    assigned: dict[Role, list[str]] = Field(
        default_factory=dict, description="Who is assigned per role (domain.access)"
    )
    employee: Employee | None = Field(default=None, description="The employee's name and personnel number")
    loonsanctie: Loonsanctie | None
    escalation_level: int | None = Field(default=None, description="0-3; None for cases without the watch")
    escalation_reason: str | None = None
    stalled_since: date | None = None
    expected: Expectation | None = Field(default=None, description="The activity the case expects next, by when")
    uwv_preparable: list[MessageKind] = Field(
        default_factory=list, description="The messages to UWV the case can make today (domain.case.uwv.preparable)"
    )

    @field_serializer("employee")
    def _employee_without_bsn(self, employee: Employee | None) -> dict[str, Any] | None:
        # The BSN is for the messages to UWV only: a summary does not even name the field.
        return None if employee is None else employee.model_dump(mode="json", exclude={"bsn"})


def _leave_label(state: CaseState) -> str | None:
    leave = state.on_leave
    if leave is None:
        return None
    assert leave.paused_for is not None  # on_leave: a period that leave paused
    rule = state.ruleset.pause(leave.paused_for)
    return rule.label if rule is not None else leave.paused_for


def due_and_overdue(state: CaseState, today: date) -> tuple[DeadlineView | None, list[str]]:
    """The next step due and the marks of the overdue ones as of `today`, as `summarize` gives them: what a wake's
    search attributes need of the summary, without the rest of it."""
    if state.closed:  # nothing is due on a closed case any more; its deadlines stay visible in `deadlines`
        return None, []
    views = deadlines(state, _as_of(state, today))
    return next_deadline(views), [v.mark for v in views if v.status is DeadlineStatus.OVERDUE]


def _as_of(state: CaseState, today: date) -> date:
    return min(today, state.closed_on) if state.closed_on else today


def summarize(state: CaseState, today: date) -> CaseSummary:
    """The case at a glance as of `today`."""
    as_of = _as_of(state, today)
    upcoming, overdue = due_and_overdue(state, today)
    day = state.clock.day_of_date(as_of)
    recovered = state.recovered_on
    return CaseSummary(
        case_id=state.case_id,
        employer_id=state.employer_id,
        stage=state.stage,
        outcome=state.outcome,
        closed_on=state.closed_on,
        first_sick_day=state.first_sick_day,
        ruleset=state.ruleset.id,
        illness_day=day,
        illness_week=(day + 6) // 7,
        recovered_on=recovered,
        on_leave=_leave_label(state),
        on_leave_since=state.on_leave.end if state.on_leave else None,
        closes_on_without_relapse=(
            recovered + timedelta(days=state.ruleset.four_week_rule_days) if recovered and not state.closed else None
        ),
        next_deadline=upcoming,
        overdue=overdue,
        wachttijd_ends=wachttijd_end(state),
        spoor2_running=state.spoor2_running,
        spoor2_status=state.spoor2.status,
        spoor2_phase=state.spoor2.phase,
        spoor2_coach_id=state.spoor2.coach_id,
        spoor2_result=state.spoor2.result,
        assigned=state.people.assigned,
        employee=state.people.employee.without_bsn() if state.people.employee else None,
        loonsanctie=state.wage.loonsanctie,
        escalation_level=state.escalation.watch.level if state.escalation else None,
        escalation_reason=state.escalation.watch.reason if state.escalation else None,
        stalled_since=state.escalation.watch.since if state.escalation else None,
        expected=expectation(state),
        uwv_preparable=[] if state.closed else _uwv_preparable(state, as_of),
    )


def _uwv_preparable(state: CaseState, today: date) -> list[MessageKind]:
    found = []
    for kind in MessageKind:
        try:
            preparable(state, kind, today)
        except ActionRefused:
            continue
        found.append(kind)
    return found


def poortwachtertoets(state: CaseState, today: date, rules: PreflightRules | None = None) -> Toets | None:
    """The dossier read as UWV's assessor will read it (domain.dossier_check.toets), with the case's own pre-flight
    rules, else `rules`; None when there are neither."""
    chosen = state.documents.rules.preflight if state.documents.rules is not None else rules
    return toets(state, min(today, state.closed_on) if state.closed_on else today, chosen) if chosen else None
