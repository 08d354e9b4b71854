"""Spoor 2 on the case: the bedrijfsarts's consent to an early start, and the start (its trajectory runs on its own)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from domain.access import ADMIN
from domain.case.stages import set_stage
from domain.case.state import CaseState
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import Role, Stage


class Spoor2ConsentGiven(ActionBase):
    """The bedrijfsarts agrees to start spoor 2 before the first year ends."""

    kind: Literal["spoor2_consent_given"]


class Spoor2Started(ActionBase):
    kind: Literal["spoor2_started"]


def _check_consent(state: CaseState, action: Spoor2ConsentGiven, today: date) -> None:
    if state.spoor2.started_on is not None:
        raise ActionRefused("spoor2_consent_given: spoor 2 has already started")


def _first_year_end(state: CaseState) -> date | None:
    return state.clock.date_of_day(7 * 52)


def _check_spoor2_started(state: CaseState, action: Spoor2Started, today: date) -> None:
    if state.ad.conclusion is None:
        raise ActionRefused("spoor2_started: spoor 2 cannot start without an AD-onderzoek on record")
    if state.spoor2.rules is None:
        raise ActionRefused(
            "spoor2_started: this case was opened without the spoor 2 rules; it cannot run a trajectory"
        )
    year_end = _first_year_end(state)
    if year_end is not None and action.on <= year_end and state.spoor2.consent_on is None:
        raise ActionRefused(
            "spoor2_started: starting spoor 2 before the first year ends (%(year_end)s) needs the bedrijfsarts's consent "
            "on record",
            year_end=year_end,
        )


def _consent(state: CaseState, action: Spoor2ConsentGiven, now: datetime) -> str:
    state.spoor2.consent_on = action.on
    return "Bedrijfsarts consents to an early start of spoor 2"


def _spoor2_started(state: CaseState, action: Spoor2Started, now: datetime) -> str:
    state.spoor2.started_on, state.spoor2.ended_on, state.spoor2.result = action.on, None, None
    state.spoor2.started_by = action.actor
    if state.stage is not Stage.WIA:
        set_stage(state, Stage.SPOOR2, on=action.on, now=now, actor=action.actor)
    return "Spoor 2 started"


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(Spoor2ConsentGiven, frozenset({Role.BEDRIJFSARTS}), _check_consent, _consent),
    Declared(
        Spoor2Started,
        frozenset({Role.WERKGEVER, Role.REINTEGRATIECOACH, *ADMIN}),
        _check_spoor2_started,
        _spoor2_started,
        completes="spoor2_start",
    ),
)
