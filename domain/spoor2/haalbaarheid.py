"""The haalbaarheidstoets: go (with zoekprofiel and matched coach) or no-go."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.access import COACH
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import (
    OpaqueId,
)
from domain.spoor2.state import CoachMatch, Grounds, HaalbaarheidRecord, Reference, Spoor2Outcome, TrajectoryState


class HaalbaarheidstoetsDecided(ActionBase):
    kind: Literal["haalbaarheidstoets_decided"]
    decision: Literal["go", "no_go"]
    grounds: Grounds
    zoekprofiel: str | None = Field(default=None, min_length=3, max_length=4000)
    coach_id: OpaqueId | None = None
    coach_match: CoachMatch | None = None
    report_reference: Reference | None = None


def _check_haalbaarheid(state: TrajectoryState, a: HaalbaarheidstoetsDecided, today: date) -> None:
    if state.haalbaarheid is not None:
        raise ActionRefused(
            "haalbaarheidstoets_decided: decided on %(on)s (%(decision)s)",
            on=state.haalbaarheid.on,
            decision=state.haalbaarheid.decision,
        )
    if state.intake_on is None:
        raise ActionRefused("haalbaarheidstoets_decided: the intake has not been held")
    if not (state.whole_trajectory_approved_on or state.approved_phases):
        raise ActionRefused("haalbaarheidstoets_decided: the employer has not approved the proposal")
    if a.decision == "go":
        if not a.zoekprofiel:
            raise ActionRefused("zoekprofiel: a go needs a zoekprofiel")
        if not (a.coach_id or state.coach_id):
            raise ActionRefused("coach_id: a go needs a matched coach")


def _haalbaarheid(state: TrajectoryState, a: HaalbaarheidstoetsDecided, now: datetime) -> str:
    state.haalbaarheid = HaalbaarheidRecord(
        decision=a.decision, on=a.on, grounds=a.grounds, zoekprofiel=a.zoekprofiel, report_reference=a.report_reference
    )
    if a.decision == "no_go":
        state.outcome, state.ended_on = Spoor2Outcome.NO_GO, a.on
        return "Haalbaarheidstoets: no-go; the trajectory ends and the grounds go with the WIA application"
    if a.coach_id and a.coach_id != state.coach_id:
        state.coach_id = a.coach_id
        state.coach_history.append(a.coach_id)
    return "Haalbaarheidstoets: go, with zoekprofiel and matched coach"


DECLARED: tuple[Declared[TrajectoryState], ...] = (
    Declared(HaalbaarheidstoetsDecided, COACH, _check_haalbaarheid, _haalbaarheid),
)
