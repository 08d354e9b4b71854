"""UWV's part: a deskundigenoordeel asked and answered, a loonsanctie imposed, its repair reported and accepted."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from domain.access import ADMIN, ALL_PARTIES
from domain.case.deadlines import wachttijd_end
from domain.case.state import CaseState, DeskundigenoordeelRecord, Loonsanctie
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import ActionId, Role


class DeskundigenoordeelRequested(ActionBase):
    kind: Literal["deskundigenoordeel_requested"]
    requested_by: Literal[Role.WERKGEVER, Role.WERKNEMER]
    question: str = Field(min_length=3, max_length=1000)


class DeskundigenoordeelAnswered(ActionBase):
    kind: Literal["deskundigenoordeel_answered"]
    request_id: ActionId = Field(description="The action id of the request it answers")
    conclusion: str = Field(min_length=3, max_length=2000)


class LoonsanctieImposed(ActionBase):
    kind: Literal["loonsanctie_imposed"]
    weeks: int = Field(ge=1)


class RepairReported(ActionBase):
    """The employer reports the shortcomings repaired (herstelmelding)."""

    kind: Literal["repair_reported"]


class RepairAccepted(ActionBase):
    kind: Literal["repair_accepted"]


def _check_do_answered(state: CaseState, action: DeskundigenoordeelAnswered, today: date) -> None:
    for r in state.deskundigenoordelen:
        if r.request_id == action.request_id:
            if r.answered_on is not None:
                raise ActionRefused(
                    "request_id: %(value)r was already answered on %(on)s", value=action.request_id, on=r.answered_on
                )
            if action.on < r.requested_on:
                raise ActionRefused(
                    "on: %(on)s is before the request of %(requested_on)s", on=action.on, requested_on=r.requested_on
                )
            return
    raise ActionRefused("request_id: no deskundigenoordeel was requested under %(value)r", value=action.request_id)


def _check_loonsanctie(state: CaseState, action: LoonsanctieImposed, today: date) -> None:
    if "wia_aanvraag" not in state.done:
        raise ActionRefused("loonsanctie_imposed: UWV imposes a loonsanctie on the WIA application; none is on record")
    if state.wage.loonsanctie is not None:
        raise ActionRefused(
            "loonsanctie_imposed: a loonsanctie was already imposed on %(on)s", on=state.wage.loonsanctie.imposed_on
        )
    if action.weeks > state.ruleset.max_loonsanctie_weeks:
        raise ActionRefused(
            "weeks: a loonsanctie lasts at most %(limit)s weeks", limit=state.ruleset.max_loonsanctie_weeks
        )


def _check_repair_reported(state: CaseState, action: RepairReported, today: date) -> None:
    s = state.wage.loonsanctie
    if s is None:
        raise ActionRefused("repair_reported: no loonsanctie is on record")
    if s.repair_reported_on is not None:
        raise ActionRefused("repair_reported: a repair was already reported on %(on)s", on=s.repair_reported_on)
    if action.on < s.imposed_on:
        raise ActionRefused(
            "on: %(on)s is before the loonsanctie of %(imposed_on)s", on=action.on, imposed_on=s.imposed_on
        )


def _check_repair_accepted(state: CaseState, action: RepairAccepted, today: date) -> None:
    s = state.wage.loonsanctie
    if s is None or s.repair_reported_on is None:
        raise ActionRefused("repair_accepted: no reported repair is on record")
    if s.repair_accepted_on is not None:
        raise ActionRefused("repair_accepted: the repair was already accepted on %(on)s", on=s.repair_accepted_on)
    if action.on < s.repair_reported_on:
        raise ActionRefused(
            "on: %(on)s is before the repair was reported (%(reported_on)s)",
            on=action.on,
            reported_on=s.repair_reported_on,
        )


def _do_requested(state: CaseState, action: DeskundigenoordeelRequested, now: datetime) -> str:
    state.deskundigenoordelen.append(
        DeskundigenoordeelRecord(
            request_id=action.action_id,
            requested_by=Role(action.requested_by),
            question=action.question,
            requested_on=action.on,
        )
    )
    return f"Deskundigenoordeel requested by the {action.requested_by}"


def _do_answered(state: CaseState, action: DeskundigenoordeelAnswered, now: datetime) -> str:
    for r in state.deskundigenoordelen:
        if r.request_id == action.request_id:
            r.answered_on, r.conclusion = action.on, action.conclusion
    return "Deskundigenoordeel received"


def _loonsanctie(state: CaseState, action: LoonsanctieImposed, now: datetime) -> str:
    state.wage.loonsanctie = Loonsanctie(imposed_on=action.on, weeks=action.weeks)
    return f"Loonsanctie of {action.weeks} weeks imposed; the waiting time now ends {wachttijd_end(state)}"


def _repair_reported(state: CaseState, action: RepairReported, now: datetime) -> str:
    assert state.wage.loonsanctie is not None  # checked: a repair needs a loonsanctie
    state.wage.loonsanctie.repair_reported_on = action.on
    return "Repair of the re-integration shortcomings reported to UWV"


def _repair_accepted(state: CaseState, action: RepairAccepted, now: datetime) -> str:
    assert state.wage.loonsanctie is not None  # checked: a repair needs a loonsanctie
    state.wage.loonsanctie.repair_accepted_on = action.on
    return f"Repair accepted; the loonsanctie ends {wachttijd_end(state)}"


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(DeskundigenoordeelRequested, ALL_PARTIES, effect=_do_requested),
    Declared(
        DeskundigenoordeelAnswered,
        frozenset({Role.UWV, *ADMIN}),
        _check_do_answered,
        _do_answered,
        while_halted=True,
    ),
    Declared(LoonsanctieImposed, frozenset({Role.UWV, Role.WERKGEVER, *ADMIN}), _check_loonsanctie, _loonsanctie),
    Declared(RepairReported, frozenset({Role.WERKGEVER, *ADMIN}), _check_repair_reported, _repair_reported),
    Declared(RepairAccepted, frozenset({Role.UWV, *ADMIN}), _check_repair_accepted, _repair_accepted),
)
