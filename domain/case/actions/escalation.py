"""Escalation (domain.stagnation): stagnation reported, non-cooperation, an escalation acknowledged, a measure taken. Recording these is not re-integration activity: they do not end a stall."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from domain import stagnation as st
from domain.access import ADMIN
from domain.case.state import CaseState, Escalation
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import Role


class StagnationReported(ActionBase):
    """The coach reports that the trajectory stagnates (seed 004): the employer is alerted at once."""

    kind: Literal["stagnation_reported"]


class NonCooperationRecorded(ActionBase):
    """The employee does not (or no longer) cooperate: the employer is asked to take measures."""

    kind: Literal["non_cooperation_recorded"]


class EscalationAcknowledged(ActionBase):
    """Operations saw the escalation; it does not climb further for a while."""

    kind: Literal["escalation_acknowledged"]
    reason: str = Field(min_length=3, max_length=2000)


class MeasureTaken(ActionBase):
    """The employer took a measure against non-cooperation (keys in domain/stagnation.toml)."""

    kind: Literal["measure_taken"]
    measure: str = Field(min_length=1, max_length=100)


def _require_watch(state: CaseState, action: Any, today: date) -> Escalation:
    if state.escalation is None:
        raise ActionRefused(
            "%(field)s: this case was opened without the stagnation rules; it has no stagnation watch",
            field=action.kind,
        )
    return state.escalation


def _check_acknowledged(state: CaseState, action: EscalationAcknowledged, today: date) -> None:
    if _require_watch(state, action, today).watch.level == 0:
        raise ActionRefused("escalation_acknowledged: the case is not escalated (level 0)")


def _check_measure(state: CaseState, action: MeasureTaken, today: date) -> None:
    escalation = _require_watch(state, action, today)
    watch, rules = escalation.watch, escalation.rules
    keys = rules.measure_keys()
    if action.measure not in keys:
        raise ActionRefused(
            "measure: %(value)r is not a measure (in order: %(known)s)", value=action.measure, known=list(keys)
        )
    done = next((m for m in watch.measures if m.key == action.measure and m.taken_on), None)
    if done is not None:
        raise ActionRefused("measure: %(measure)s was taken on %(on)s", measure=action.measure, on=done.taken_on)
    if watch.level < st.TOP_LEVEL:
        raise ActionRefused(
            "measure_taken: no measures are asked (escalation level %(level)s); record \u201c%(next_kind)s\u201d first",
            level=watch.level,
            next_kind="non_cooperation_recorded",
        )
    expected = watch.next_measure(rules)
    if action.measure != expected:
        raise ActionRefused("measure: measures are taken in their order; the next is %(measure)s", measure=expected)


def _next_seq(state: CaseState) -> int:
    """The seq the action's own entry gets: it is appended right after its effect."""
    return len(state.dossier) + 1


def _stagnation_reported(state: CaseState, action: StagnationReported, now: datetime) -> str:
    assert state.escalation is not None  # _require_watch
    state.escalation.watch.reported = st.Trigger(on=action.on, seq=_next_seq(state), actor=action.actor)
    return f"Stagnation reported by the {action.actor.role.value}"


def _non_cooperation(state: CaseState, action: NonCooperationRecorded, now: datetime) -> str:
    assert state.escalation is not None  # _require_watch
    state.escalation.watch.non_cooperation = st.Trigger(on=action.on, seq=_next_seq(state), actor=action.actor)
    return "The employee does not cooperate with the re-integration"


def _acknowledged(state: CaseState, action: EscalationAcknowledged, now: datetime) -> str:
    assert state.escalation is not None  # _require_watch
    return st.acknowledge(
        state.escalation.watch, state.escalation.rules, on=action.on, reason=action.reason, actor=action.actor
    )


def _measure_taken(state: CaseState, action: MeasureTaken, now: datetime) -> str:
    assert state.escalation is not None  # _require_watch
    return st.measure_taken(state.escalation.watch, state.escalation.rules, key=action.measure, on=action.on)


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(
        StagnationReported,
        frozenset({Role.REINTEGRATIECOACH, *ADMIN}),
        _require_watch,
        _stagnation_reported,
        activity=False,
    ),
    Declared(
        NonCooperationRecorded,
        frozenset({Role.REINTEGRATIECOACH, Role.WERKGEVER, Role.BEDRIJFSARTS, *ADMIN}),
        _require_watch,
        _non_cooperation,
        activity=False,
    ),
    Declared(EscalationAcknowledged, ADMIN, _check_acknowledged, _acknowledged, activity=False),
    Declared(MeasureTaken, frozenset({Role.WERKGEVER, *ADMIN}), _check_measure, _measure_taken, activity=False),
)
