"""A case's facts for reporting, derived from its state and dossier: pure, so a replayed or rebuilt case gives the
same rows, and the reporting store (service.reporting) keys them by case and dossier entry to count each once.

Three sorts of row:
- the case itself (employer, first sick day, stage, outcome) and the keyed hashes it is found by, so the
  employment data of an employer can give its sick employee's part-time factor without a name or number;
- *spells*: the days of illness at one incapacity percentage. A sick period (domain.clock.SickPeriod) is split where
  a partial recovery was recorded; `reported` marks the spell that starts a new ziekmelding (the first sick day or a
  relapse), not one that goes on after leave or at another percentage;
- *events* from the dossier, one per entry (its seq): stage changes, recoveries and relapses, steps done (with the
  days late against their term), escalations, the outcome.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.case import COMPLETES, CaseState, deadlines
from domain.models import DeadlineStatus, Outcome

# Dossier entry kinds and the event they are reported as.
EVENT_KINDS: dict[str, str] = {
    "case_opened": "opened",
    "stage_changed": "stage_changed",
    "partial_recovery": "partial_recovery",
    "full_recovery": "recovered",
    "relapse": "relapse",
    "escalation_raised": "escalation",
    "escalation_resolved": "escalation_resolved",
    "case_closed": "outcome",
    "prior_step": "step_done",
    **{kind: "step_done" for kind in COMPLETES},
}
FULL_INCAPACITY = 100


class CaseRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    employer_id: str
    first_sick_day: date
    stage: str
    outcome: str | None = None
    closed_on: date | None = None
    person_keys: tuple[str, ...] = ()


class Spell(BaseModel):
    """Sick days `start` up to `end` (the first day no longer at this incapacity; None: still sick)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    employer_id: str
    start: date
    end: date | None
    incapacity: int = Field(ge=1, le=100, description="Percent unable to work")
    reported: bool = Field(description="A new ziekmelding starts here (first sick day or relapse)")
    ended_by_recovery: bool = Field(default=False, description="`end` is the hersteldatum of this ziekmelding")


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    case_id: str
    employer_id: str
    seq: int = Field(description="The dossier entry it comes from: with the case id, the key that counts it once")
    kind: str
    on: date
    detail: str = ""
    days_late: int | None = None


class CaseFacts(BaseModel):
    case: CaseRow
    spells: list[Spell]
    events: list[Event]


def derive(state: CaseState, as_of: date) -> CaseFacts:
    """Every fact of the case as of `as_of`. A case withdrawn as opened in error has no spells: it was no illness."""
    case = CaseRow(
        case_id=state.case_id,
        employer_id=state.employer_id,
        first_sick_day=state.first_sick_day,
        stage=state.stage.value,
        outcome=state.outcome.value if state.outcome else None,
        closed_on=state.closed_on,
        person_keys=tuple(state.people.person_keys),
    )
    spells = [] if state.outcome is Outcome.INGETROKKEN else _spells(state)
    return CaseFacts(case=case, spells=spells, events=_events(state, as_of))


def _spells(state: CaseState) -> list[Spell]:
    # Each partial recovery changes the incapacity from its day on; the percentage recorded is the share resumed.
    # A partial recovery given in hours only cannot be turned into a percentage without the contract hours: the
    # spell keeps its incapacity (a known limit, docs/figures.md).
    changes = sorted(
        (e.on, FULL_INCAPACITY - int(e.details["percentage"]))
        for e in state.dossier
        if e.kind == "partial_recovery" and isinstance(e.details.get("percentage"), int)
    )
    spells: list[Spell] = []
    previous_paused = False
    for period in state.periods:
        end = period.end
        if end is None and state.closed_on is not None:
            end = max(state.closed_on, period.start + timedelta(days=1))  # the waiting time ended: out of the verzuim
        cuts = [(on, pct) for on, pct in changes if on > period.start and (end is None or on < end)]
        start, incapacity, first = period.start, FULL_INCAPACITY, True
        for on, pct in cuts:
            if pct == incapacity:
                continue
            spells.append(_spell(state, start, on, incapacity, reported=first and not previous_paused))
            start, incapacity, first = on, max(pct, 1), False
        recovered = period.end is not None and period.paused_for is None
        spells.append(
            _spell(state, start, end, incapacity, reported=first and not previous_paused, recovered=recovered)
        )
        previous_paused = period.paused_for is not None
    return spells


def _spell(
    state: CaseState, start: date, end: date | None, incapacity: int, *, reported: bool, recovered: bool = False
) -> Spell:
    return Spell(
        case_id=state.case_id,
        employer_id=state.employer_id,
        start=start,
        end=end,
        incapacity=incapacity,
        reported=reported,
        ended_by_recovery=recovered,
    )


def _events(state: CaseState, as_of: date) -> list[Event]:
    views = {v.key: v for v in deadlines(state, as_of) if v.occurrence is None}
    found: list[Event] = []
    for entry in state.dossier:
        kind = EVENT_KINDS.get(entry.kind)
        if kind is None:
            continue
        detail, late = "", None
        if kind == "step_done":
            detail = COMPLETES.get(entry.kind) or str(entry.details.get("key", ""))
            view = views.get(detail)
            if view is not None and view.status is DeadlineStatus.DONE and view.late and view.due and view.done_on:
                late = (view.done_on - view.due).days
        elif kind == "stage_changed":
            detail = str(entry.details.get("to", ""))
        elif kind == "outcome":
            detail = str(entry.details.get("outcome", ""))
        elif kind == "partial_recovery":
            detail = str(entry.details.get("percentage", ""))
        found.append(
            Event(
                case_id=state.case_id,
                employer_id=state.employer_id,
                seq=entry.seq,
                kind=kind,
                on=entry.on,
                detail=detail,
                days_late=late,
            )
        )
    return found
