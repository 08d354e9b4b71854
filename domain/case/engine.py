"""The case's actions as one ledger (domain.ledger): each kind declared once, by topic; checked and applied once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import access
from domain import stagnation as st
from domain.case.actions.ad import DECLARED as AD
from domain.case.actions.admin import DECLARED as ADMIN
from domain.case.actions.documents import DECLARED as DOCUMENTS
from domain.case.actions.escalation import DECLARED as ESCALATION
from domain.case.actions.loonsanctie import DECLARED as LOONSANCTIE
from domain.case.actions.recovery import DECLARED as RECOVERY
from domain.case.actions.recovery import Relapse, check_relapse
from domain.case.actions.spoor2 import DECLARED as SPOOR2
from domain.case.actions.steps import DECLARED as STEPS
from domain.case.actions.steps import one_evaluatie_a_day
from domain.case.actions.uwv import DECLARED as UWV
from domain.case.facts import reconcile
from domain.case.opening import check_date
from domain.case.stages import set_stage
from domain.case.state import CaseState, DoneStep
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared, Ledger, role_check
from domain.models import DossierEntry, Outcome, Stage


def closed_refusal(kind: str, outcome: object, closed_on: object) -> ActionRefused:
    """The refusal of any action on a closed case (`outcome`: an Outcome, its key, or None)."""
    if outcome:
        return ActionRefused(
            "%(field)s: the case is closed (%(outcome)s on %(closed_on)s); no action is accepted any more",
            field=kind,
            outcome=outcome,
            closed_on=closed_on,
        )
    return ActionRefused(
        "%(field)s: the case is closed (on %(closed_on)s); no action is accepted any more",
        field=kind,
        closed_on=closed_on,
    )


def _closed(state: CaseState, kind: str) -> ActionRefused | None:
    return closed_refusal(kind, state.outcome, state.closed_on) if state.closed else None


def _check_assigned(state: CaseState, action: Any) -> None:
    """The actor is assigned to the case, if its role has someone assigned (domain.access)."""
    coach = state.spoor2.coach_id if state.spoor2_running else None
    refusal = access.assignment_refusal(
        state.people.assigned, action.actor.role, action.actor.id, trajectory_coach=coach
    )
    if refusal is not None:
        raise refusal


def _gate(state: CaseState, declared: Declared[CaseState], action: Any, today: date) -> None:
    """What every case action must fit: the assignment, the date, the steps it needs and completes, recovery."""
    kind = action.kind
    _check_assigned(state, action)
    check_date(state, action.on, today)
    required = declared.requires
    if required is not None:
        if required not in state.done:
            raise ActionRefused(
                "%(field)s: %(required_step)s must be on record first", field=kind, required_step=required
            )
        if action.on < state.done[required].on:
            raise ActionRefused(
                "on: %(on)s is before %(required_step)s of %(done_on)s",
                on=action.on,
                required_step=required,
                done_on=state.done[required].on,
            )
    completes = declared.completes
    if completes is not None and completes in state.done:
        raise ActionRefused(
            "%(field)s: %(done_step)s is already on record (on %(on)s)",
            field=kind,
            done_step=completes,
            on=state.done[completes].on,
        )
    if state.recovered_on is not None and not declared.while_halted:
        raise ActionRefused(
            "%(field)s: the employee recovered on %(on)s; record a relapse first if the employee is sick again",
            field=kind,
            on=state.recovered_on,
        )


def _before(state: CaseState, declared: Declared[CaseState], action: Any) -> None:
    if declared.completes is not None:
        state.done[declared.completes] = DoneStep(on=action.on, action_id=action.action_id)


def _after(state: CaseState, declared: Declared[CaseState], action: Any, entry: DossierEntry, today: date) -> None:
    if state.escalation is not None and declared.activity:
        st.activity(state.escalation.watch, on=action.on, seq=entry.seq)
    reconcile(state, today, cause=entry)


LEDGER: Ledger[CaseState] = Ledger(
    declarations=(*STEPS, *AD, *SPOOR2, *RECOVERY, *LOONSANCTIE, *ESCALATION, *ADMIN, *DOCUMENTS, *UWV),
    what="action",
    closed=_closed,
    gate=_gate,
    validator_only=one_evaluatie_a_day,
    before=_before,
    after=_after,
)
# What other code reads, all of it read off the declarations.
Action: Any = LEDGER.union
ACTION_KINDS: tuple[str, ...] = LEDGER.kinds
ACTION_ROLES = LEDGER.roles
COMPLETES: dict[str, str] = {d.kind: d.completes for d in LEDGER.declarations if d.completes}
# The statutory step each kind does: the one it completes, or the recurring one it holds an occurrence of.
DOES_STEP: dict[str, str] = {d.kind: step for d in LEDGER.declarations if (step := d.completes or d.holds) is not None}
REQUIRES: dict[str, str] = {d.kind: d.requires for d in LEDGER.declarations if d.requires}
NOT_ACTIVITY_KINDS = frozenset(d.kind for d in LEDGER.declarations if not d.activity)
WHILE_RECOVERED_KINDS = frozenset(d.kind for d in LEDGER.declarations if d.while_halted)
_ADAPTER = LEDGER.adapter
parse_action = LEDGER.parse


def validate(state: CaseState, action: ActionBase, today: date) -> None:
    """The update validator's check: `check`, and a bedrijfsarts's note arrives sealed (domain.ledger)."""
    LEDGER.validate(state, action, today)


def check(state: CaseState, action: ActionBase, today: date) -> None:
    """Refuse, with the reason, an action that does not fit the case; else return."""
    LEDGER.check(state, action, today)


def apply(state: CaseState, action: ActionBase, today: date, now: datetime) -> DossierEntry:
    """Check and apply an action; returns its dossier entry. A retried action id is not re-applied."""
    return LEDGER.apply(state, action, today, now)


def check_reopen(state: CaseState, action: ActionBase, today: date) -> None:
    """Refuse, with the reason, reopening a closed case for this action: only a relapse inside the four-week
    window of a case that closed as recovered reopens it (the report came after the window seemed closed)."""
    kind = action.kind
    if not state.closed:
        raise ActionRefused("%(field)s: the case is not closed", field=kind)
    if kind != "relapse" or state.outcome is not Outcome.HERSTELD:
        raise closed_refusal(kind, state.outcome, state.closed_on)
    role_check(LEDGER.by_kind[kind].roles, action)
    _check_assigned(state, action)
    check_date(state, action.on, today)
    assert isinstance(action, Relapse)  # the kind is "relapse"
    check_relapse(state, action, today)


def reopen(state: CaseState, action: ActionBase, *, today: date, now: datetime) -> DossierEntry:
    """Reopen a case closed as recovered for a relapse inside the window and record the relapse: the same
    dossier and the same clock go on (a new run of the same workflow). Raises ActionRefused."""
    check_reopen(state, action, today)
    closed = next(
        e for e in reversed(state.dossier) if e.kind == "stage_changed" and e.details.get("to") == Stage.CLOSED.value
    )
    state.outcome, state.closed_on = None, None
    state.log(
        now=now,
        on=action.on,
        actor=action.actor,
        kind="case_reopened",
        summary=f"Reopened: a relapse on {action.on}, within four weeks of the recovery, was reported after "
        "the case had closed; the same dossier and clock go on",
    )
    set_stage(state, Stage(closed.details["from"]), on=action.on, now=now, actor=action.actor)
    if state.escalation is not None:
        state.escalation.watch = st.start_watch(today)
    return apply(state, action, today, now)
