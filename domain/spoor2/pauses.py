"""A phase paused for illness or rehabilitation, with the bedrijfsarts's consent, and resumed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from domain.access import COACH
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import (
    Role,
)
from domain.spoor2.state import PauseRecord, TrajectoryState


class PhasePaused(ActionBase):
    """Illness or rehabilitation stops the phase clock, with the bedrijfsarts's consent."""

    kind: Literal["phase_paused"]
    reason: Literal["illness", "rehabilitation"]
    bedrijfsarts_consent_on: date


class PhaseResumed(ActionBase):
    kind: Literal["phase_resumed"]


def _check_paused(state: TrajectoryState, a: PhasePaused, today: date) -> None:
    current = state.current_phase
    if current is None:
        raise ActionRefused("phase_paused: no phase is running")
    if a.bedrijfsarts_consent_on > a.on:
        raise ActionRefused("bedrijfsarts_consent_on: the bedrijfsarts's consent must precede the pause")
    current.refuse_before_start(a.on)


def _paused(state: TrajectoryState, a: PhasePaused, now: datetime) -> str:
    state.pauses.append(PauseRecord(on=a.on, reason=a.reason, consent_on=a.bedrijfsarts_consent_on))
    current = state.current_phase
    assert current is not None  # _check_paused
    return f"Phase {current.number} paused ({a.reason}), with the bedrijfsarts's consent"


def _check_resumed(state: TrajectoryState, a: PhaseResumed, today: date) -> None:
    if not state.paused:
        raise ActionRefused("phase_resumed: the trajectory is not paused")
    if a.on < state.pauses[-1].on:
        raise ActionRefused("on: %(on)s is before the pause of %(paused_on)s", on=a.on, paused_on=state.pauses[-1].on)


def _resumed(state: TrajectoryState, a: PhaseResumed, now: datetime) -> str:
    pause = state.pauses[-1]
    pause.resumed_on = a.on
    days = (a.on - pause.on).days
    current = state.current_phase
    if current is not None:
        current.paused_days += days
        rule = state.rules.phase_rule(current.number)
        return f"Phase {current.number} resumed after {days} days; time is now up after {current.ends_on(rule)}"
    return f"Resumed after {days} days"


DECLARED: tuple[Declared[TrajectoryState], ...] = (
    Declared(PhasePaused, frozenset({*COACH, Role.BEDRIJFSARTS}), _check_paused, _paused),
    Declared(PhaseResumed, frozenset({*COACH, Role.BEDRIJFSARTS}), _check_resumed, _resumed, while_halted=True),
)
