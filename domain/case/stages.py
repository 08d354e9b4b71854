"""The stage of a case and its closing, each recorded in the dossier."""

from __future__ import annotations

from datetime import date, datetime

from domain.case.state import CaseState
from domain.models import SYSTEM, Actor, Outcome, Stage


def set_stage(state: CaseState, stage: Stage, *, on: date, now: datetime, actor: Actor) -> None:
    if state.stage is stage:
        return
    previous = state.stage
    state.stage = stage
    state.log(
        now=now,
        on=on,
        actor=actor,
        kind="stage_changed",
        summary=f"Stage {previous.value} -> {stage.value}",
        details={"from": previous.value, "to": stage.value},
    )


def close_case(
    state: CaseState, outcome: Outcome, *, on: date, now: datetime, summary: str, actor: Actor = SYSTEM
) -> None:
    state.outcome = outcome
    state.closed_on = on
    set_stage(state, Stage.CLOSED, on=on, now=now, actor=actor)
    state.log(now=now, on=on, actor=actor, kind="case_closed", summary=summary, details={"outcome": outcome.value})
