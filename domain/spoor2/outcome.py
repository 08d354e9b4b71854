"""How a trajectory ends: its outcome recorded, or the case closing first."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from domain.access import COACH
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import (
    SYSTEM,
)
from domain.spoor2.state import Spoor2Outcome, TrajectoryEvent, TrajectoryState


class OutcomeRecorded(ActionBase):
    kind: Literal["outcome_recorded"]
    outcome: Literal[
        Spoor2Outcome.NIEUW_WERK, Spoor2Outcome.DETACHERING, Spoor2Outcome.WERKRITMEPLAATS, Spoor2Outcome.GEEN_RESULTAAT
    ]


def _check_outcome(state: TrajectoryState, a: OutcomeRecorded, today: date) -> None:
    if state.haalbaarheid is None or state.haalbaarheid.decision != "go":
        raise ActionRefused("outcome_recorded: an outcome follows a go of the haalbaarheidstoets")


def _outcome(state: TrajectoryState, a: OutcomeRecorded, now: datetime) -> str:
    state.outcome, state.ended_on = Spoor2Outcome(a.outcome), a.on
    current = state.current_phase
    if current is not None:
        current.completed_on = a.on
    if state.paused:
        state.pauses[-1].resumed_on = a.on
    return f"Outcome: {a.outcome.value}"


DECLARED: tuple[Declared[TrajectoryState], ...] = (
    Declared(OutcomeRecorded, COACH, _check_outcome, _outcome, while_halted=True),
)


class CaseClosed(BaseModel):
    """The case tells its running trajectory that it closed, how and when."""

    outcome: str
    closed_on: date


def end_because_case_closed(state: TrajectoryState, *, on: date, now: datetime, why: str) -> TrajectoryEvent | None:
    """The case ended first (recovery, end of the waiting time, withdrawal), or the trajectory was cancelled."""
    if state.ended:
        return None
    state.outcome, state.ended_on = Spoor2Outcome.CASE_CLOSED, on
    current = state.current_phase
    if current is not None:
        current.completed_on = on
    if state.paused:
        state.pauses[-1].resumed_on = on
    return state.log(now=now, on=on, actor=SYSTEM, kind="trajectory_ended", summary=f"{why}; the trajectory ends")
