"""The trajectory's actions as one ledger (domain.ledger): each kind declared once, by topic; checked and applied once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import access
from domain.errors import ActionRefused
from domain.ledger import Declared, Ledger, not_in_future
from domain.models import Actor
from domain.spoor2.haalbaarheid import DECLARED as HAALBAARHEID
from domain.spoor2.intake import DECLARED as INTAKE
from domain.spoor2.outcome import DECLARED as OUTCOME
from domain.spoor2.pauses import DECLARED as PAUSES
from domain.spoor2.phases import DECLARED as PHASES
from domain.spoor2.rules import Spoor2Rules
from domain.spoor2.services import DECLARED as SERVICES
from domain.spoor2.state import TrajectoryEvent, TrajectoryState
from domain.stagnation import Spoor2Watch


def start_trajectory(
    case_id: str,
    started_on: date,
    rules: Spoor2Rules,
    *,
    now: datetime,
    actor: Actor,
    watch: tuple[Spoor2Watch, ...] | None = None,
) -> TrajectoryState:
    """A new trajectory, from the day spoor 2 started on the case."""
    state = TrajectoryState(case_id=case_id, started_on=started_on, rules=rules, watch=watch)
    state.log(
        now=now, on=started_on, actor=actor, kind="trajectory_started", summary="Spoor 2 trajectory started; aanmelding"
    )
    return state


def _date_ok(state: TrajectoryState, on: date, today: date, field: str = "on") -> None:
    if on < state.started_on:
        raise ActionRefused(
            "%(field)s: %(on)s is before spoor 2 started (%(started_on)s)",
            field=field,
            on=on,
            started_on=state.started_on,
        )
    not_in_future(on, today, field)


def _ended(state: TrajectoryState, kind: str) -> ActionRefused | None:
    if not state.ended:
        return None
    return ActionRefused(
        "%(field)s: the trajectory has ended (%(result)s on %(ended_on)s); no action is accepted any more",
        field=kind,
        result=state.outcome,
        ended_on=state.ended_on,
    )


def _gate(state: TrajectoryState, declared: Declared[TrajectoryState], action: Any, today: date) -> None:
    _date_ok(state, action.on, today)
    if state.paused and not declared.while_halted:
        raise ActionRefused(
            "%(field)s: the trajectory is paused since %(on)s; record \u201c%(next_kind)s\u201d first",
            field=action.kind,
            on=state.pauses[-1].on,
            next_kind="phase_resumed",
        )


def _named_coach(state: TrajectoryState, action: Any) -> ActionRefused | None:
    """The coach the intake named is the only coach who acts (a trajectory recorded before this rule replays as it
    was)."""
    return access.assignment_refusal({}, action.actor.role, action.actor.id, trajectory_coach=state.coach_id)


LEDGER: Ledger[TrajectoryState] = Ledger(
    declarations=(
        *INTAKE,
        *HAALBAARHEID,
        *PHASES,
        *SERVICES,
        *PAUSES,
        *OUTCOME,
    ),
    what="spoor 2 action",
    closed=_ended,
    gate=_gate,
    validator_only=_named_coach,
)
# What other code reads, all of it read off the declarations.
Spoor2Action: Any = LEDGER.union
SPOOR2_ACTION_KINDS: tuple[str, ...] = LEDGER.kinds
SPOOR2_ACTION_ROLES = LEDGER.roles
_ADAPTER = LEDGER.adapter
parse_spoor2_action = LEDGER.parse


def check(state: TrajectoryState, action: Any, today: date) -> None:
    """Refuse, with the reason, an action that does not fit the trajectory; else return."""
    LEDGER.check(state, action, today)


def validate(state: TrajectoryState, action: Any, today: date) -> None:
    """The update validator's check: `check`, a bedrijfsarts's note arrives sealed, and the coach the intake named is
    the only coach who acts (domain.ledger)."""
    LEDGER.validate(state, action, today)


def apply(state: TrajectoryState, action: Any, today: date, now: datetime) -> TrajectoryEvent:
    """Check and apply an action; returns its record entry. A retried action id is not re-applied."""
    return LEDGER.apply(state, action, today, now)
