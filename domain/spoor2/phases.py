"""The phases of a trajectory and the activity within them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.access import COACH
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import (
    Role,
)
from domain.spoor2.state import ActivityKind, ActivityRecord, PhaseRecord, TrajectoryState


class PhaseStarted(ActionBase):
    kind: Literal["phase_started"]
    phase: int = Field(ge=1)


class PhaseCompleted(ActionBase):
    kind: Literal["phase_completed"]
    phase: int = Field(ge=1)


class ActivityRecorded(ActionBase):
    kind: Literal["activity_recorded"]
    activity: ActivityKind


def _check_phase_started(state: TrajectoryState, a: PhaseStarted, today: date) -> None:
    if state.haalbaarheid is None or state.haalbaarheid.decision != "go":
        raise ActionRefused("phase_started: phases start after a go of the haalbaarheidstoets")
    if state.current_phase is not None:
        raise ActionRefused("phase_started: phase %(phase)s is still running", phase=state.current_phase.number)
    expected = state.phases[-1].number + 1 if state.phases else 1
    if a.phase != expected:
        raise (
            ActionRefused("phase: the next phase is %(phase)s", phase=expected)
            if expected <= state.rules.last_phase
            else ActionRefused("phase: all phases are done")
        )
    if not state.phase_approved(a.phase):
        raise ActionRefused("phase_started: phase %(phase)s is not approved by the employer", phase=a.phase)
    last_done = state.phases[-1].completed_on if state.phases else None  # no phase runs: the last is completed
    if last_done is not None and a.on < last_done:
        raise ActionRefused(
            "on: %(on)s is before phase %(phase)s was completed", on=a.on, phase=state.phases[-1].number
        )


def _phase_started(state: TrajectoryState, a: PhaseStarted, now: datetime) -> str:
    state.phases.append(PhaseRecord(number=a.phase, started_on=a.on))
    rule = state.rules.phase_rule(a.phase)
    return f"Phase {a.phase} started ({rule.label}); time is up after {state.phases[-1].ends_on(rule)}"


def _check_phase_completed(state: TrajectoryState, a: PhaseCompleted, today: date) -> None:
    current = state.current_phase
    if current is None:
        raise ActionRefused("phase_completed: no phase is running")
    if a.phase != current.number:
        raise ActionRefused(
            "phase: phase %(phase)s is running, not phase %(given)s", phase=current.number, given=a.phase
        )
    current.refuse_before_start(a.on)


def _phase_completed(state: TrajectoryState, a: PhaseCompleted, now: datetime) -> str:
    current = state.current_phase
    assert current is not None  # _check_phase_completed
    current.completed_on = a.on
    return f"Phase {a.phase} completed"


def _activity(state: TrajectoryState, a: ActivityRecorded, now: datetime) -> str:
    current = state.current_phase
    state.activities.append(ActivityRecord(activity=a.activity, on=a.on, phase=current.number if current else None))
    return f"Activity: {a.activity.value}"


DECLARED: tuple[Declared[TrajectoryState], ...] = (
    Declared(PhaseStarted, COACH, _check_phase_started, _phase_started),
    Declared(PhaseCompleted, COACH, _check_phase_completed, _phase_completed),
    Declared(ActivityRecorded, frozenset({*COACH, Role.WERKNEMER}), None, _activity, while_halted=True),
)
