"""The trajectory at a glance, for operations and the people involved."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from domain.spoor2.state import (
    ActivityKind,
    DocumentRecord,
    HaalbaarheidRecord,
    ServiceRecord,
    Spoor2Outcome,
    Spoor2Status,
    TrajectoryState,
)
from domain.spoor2.time import expectation, intake_due_on
from domain.stagnation import Expectation


class PhaseView(BaseModel):
    number: int
    label: str
    started_on: date
    completed_on: date | None
    time_up_on: date
    time_up_flagged: bool
    paused_days: int
    conversations_held: int
    conversations_expected: int


class TrajectoryView(BaseModel):
    """The trajectory at a glance: phase, cadence, approvals, documents, outcome."""

    case_id: str
    status: Spoor2Status
    started_on: date
    current_phase: int | None
    coach_id: str | None
    documents: dict[str, DocumentRecord]
    documents_missing: list[str]
    intake_due_on: date | None
    intake_on: date | None
    whole_trajectory_approved_on: date | None
    approved_phases: list[int]
    haalbaarheid: HaalbaarheidRecord | None
    phases: list[PhaseView]
    services: list[ServiceRecord]
    search_widened_on: date | None
    outcome: Spoor2Outcome | None
    ended_on: date | None
    expected: Expectation | None = Field(default=None, description="The activity expected next, by when")


def view(state: TrajectoryState, today: date) -> TrajectoryView:
    """What operations and the people involved see of the trajectory as of `today`."""
    phases = []
    for p in state.phases:
        rule = state.rules.phase_rule(p.number)
        end = p.completed_on or today
        open_pause = (today - state.pauses[-1].on).days if state.paused and p.completed_on is None else 0
        active_days = max(0, (end - p.started_on).days + 1 - p.paused_days - open_pause)
        held = sum(1 for a in state.activities if a.phase == p.number and a.activity is ActivityKind.CONVERSATION)
        phases.append(
            PhaseView(
                number=p.number,
                label=rule.label,
                started_on=p.started_on,
                completed_on=p.completed_on,
                time_up_on=p.ends_on(rule),
                time_up_flagged=p.time_up_flagged,
                paused_days=p.paused_days,
                conversations_held=held,
                conversations_expected=rule.expected_conversations(active_days),
            )
        )
    current = state.current_phase
    return TrajectoryView(
        case_id=state.case_id,
        status=state.status,
        started_on=state.started_on,
        current_phase=current.number if current else None,
        coach_id=state.coach_id,
        documents=state.documents,
        documents_missing=[d.key for d in state.rules.document if d.key not in state.documents],
        intake_due_on=intake_due_on(state),
        intake_on=state.intake_on,
        whole_trajectory_approved_on=state.whole_trajectory_approved_on,
        approved_phases=state.approved_phases,
        haalbaarheid=state.haalbaarheid,
        phases=phases,
        services=state.services,
        search_widened_on=state.search_widened_on,
        outcome=state.outcome,
        ended_on=state.ended_on,
        expected=expectation(state),
    )
