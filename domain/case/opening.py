"""Opening a case: from its first sick day, or taken over from another system with its past."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from domain import access
from domain import stagnation as st
from domain.case.state import (
    CURRENT_VERSION,
    EVALUATIE,
    CaseDocuments,
    CaseState,
    DoneStep,
    Escalation,
    People,
    Spoor2Link,
)
from domain.clock import PeriodError, build_periods
from domain.documents import DossierRules
from domain.errors import ActionRefused
from domain.ledger import not_in_future
from domain.models import Actor, OpaqueId, Role, Stage
from domain.people import MAX_PERSON_KEYS, Employee, PersonKey
from domain.rules import RuleSet
from domain.spoor2.rules import Spoor2Rules
from domain.stagnation import StagnationRules


class PriorStep(BaseModel):
    """A step of a case taken over from another system: done on a date, or not done (None)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    done_on: date | None = None


class Interruption(BaseModel):
    """An earlier recovery within the four-week window: first day back, and first sick day again."""

    model_config = ConfigDict(extra="forbid")

    recovered_on: date
    relapsed_on: date


class CaseOpening(BaseModel):
    """What opens a case: the first sick day, the employer, and for a case taken over, its past."""

    model_config = ConfigDict(extra="forbid")

    case_id: OpaqueId
    employer_id: OpaqueId
    first_sick_day: date
    opened_by: Actor
    interruptions: list[Interruption] = Field(default_factory=list)
    stage: Stage | None = Field(default=None, description="For a case taken over at a later stage")
    prior_steps: list[PriorStep] = Field(default_factory=list)
    evaluations_held: list[date] = Field(default_factory=list)
    contacts: dict[Role, list[EmailStr]] = Field(
        default_factory=dict, description="E-mail addresses per role for notifications; unset roles get the defaults"
    )
    assigned: dict[Role, list[OpaqueId]] = Field(
        default_factory=dict,
        description="Who is assigned per role (casemanager, bedrijfsarts, arbeidsdeskundige, "
        "reintegratiecoach): opaque ids; a role left out is open to its pool",
    )
    employee: Employee | None = Field(
        default=None,
        description="The employee's name and personnel number (kept "
        "encrypted in the case; shown only to who may see it)",
    )
    person_keys: list[PersonKey] = Field(
        default_factory=list,
        max_length=MAX_PERSON_KEYS,
        description="Keyed hashes of the employee's surname and personnel number, made by the operations edge "
        "(operations.people), never by the caller: the PersonKeys search attribute",
    )


def open_case(
    opening: CaseOpening,
    ruleset: RuleSet,
    *,
    today: date,
    now: datetime,
    version: int = CURRENT_VERSION,
    spoor2_rules: Spoor2Rules | None = None,
    stagnation_rules: StagnationRules | None = None,
    dossier_rules: DossierRules | None = None,
    holidays: list[date] | None = None,
) -> CaseState:
    """A new case from its opening, checked; raises ActionRefused naming the field at fault."""
    if opening.first_sick_day > today:
        raise ActionRefused(
            "first_sick_day: %(on)s is in the future (today is %(today)s)", on=opening.first_sick_day, today=today
        )
    try:
        periods = build_periods(
            opening.first_sick_day, [(i.recovered_on, i.relapsed_on) for i in opening.interruptions]
        )
    except PeriodError as err:
        raise err.refusal from None
    for n, i in enumerate(opening.interruptions):
        gap = (i.relapsed_on - i.recovered_on).days
        if gap >= ruleset.four_week_rule_days:
            raise ActionRefused(
                "interruptions.%(n)s.relapsed_on: a gap of %(gap)s days (%(limit)s or more) starts a new case; open a case "
                "with first sick day %(relapsed_on)s",
                n=n,
                gap=gap,
                limit=ruleset.four_week_rule_days,
                relapsed_on=i.relapsed_on,
            )
        if i.relapsed_on > today:
            raise ActionRefused("interruptions.%(n)s.relapsed_on: %(on)s is in the future", n=n, on=i.relapsed_on)
    if opening.stage is Stage.CLOSED:
        raise ActionRefused("stage: a case cannot be opened closed")
    for role, ids in opening.assigned.items():
        refusal = access.assignment_list_refusal(role, ids, field=f"assigned.{role.value}")
        if refusal is not None:
            raise refusal
    if opening.stage is Stage.ZIEKMELDING and _taken_over_stage(opening) is Stage.SPOOR1:
        # It could never leave the ziekmelding: the probleemanalyse is done, and the AD-onderzoek needs spoor 1.
        raise ActionRefused(
            "stage: the probleemanalyse is done (prior_steps), so the case is past the ziekmelding; "
            "give spoor1 or leave stage out"
        )

    state = CaseState(
        case_id=opening.case_id,
        employer_id=opening.employer_id,
        version=version,
        ruleset=ruleset,
        spoor2=Spoor2Link(rules=spoor2_rules),
        periods=periods,
        stage=opening.stage or _taken_over_stage(opening),
        opened_on=today,
        holidays=list(holidays or []),
        people=People(
            contacts={role: list(addresses) for role, addresses in opening.contacts.items()},
            assigned={role: list(ids) for role, ids in opening.assigned.items() if ids},
            employee=opening.employee,
            person_keys=list(opening.person_keys),
        ),
        documents=CaseDocuments(rules=dossier_rules),
    )
    if stagnation_rules is not None:
        # A taken-over case is watched from its opening, not from its (unknown) past activity.
        state.escalation = Escalation(rules=stagnation_rules, watch=st.start_watch(today))
    state.log(
        now=now,
        on=opening.first_sick_day,
        actor=opening.opened_by,
        kind="case_opened",
        summary=f"Case opened, first sick day {opening.first_sick_day}, rule set {ruleset.id}",
        details={"ruleset": ruleset.id, "stage": state.stage.value},
    )
    tracked = {d.key for d in ruleset.deadlines if d.tracked}
    seen: set[str] = set()
    for n, step in enumerate(opening.prior_steps):
        if step.key not in tracked or step.key == EVALUATIE:
            raise (
                ActionRefused(
                    "prior_steps.%(n)s.key: %(value)r is not a step of rule set %(ruleset)s (give evaluations in "
                    "evaluations_held)",
                    n=n,
                    value=step.key,
                    ruleset=ruleset.id,
                )
                if step.key == EVALUATIE
                else ActionRefused(
                    "prior_steps.%(n)s.key: %(value)r is not a step of rule set %(ruleset)s",
                    n=n,
                    value=step.key,
                    ruleset=ruleset.id,
                )
            )
        if step.key in seen:
            raise ActionRefused("prior_steps.%(n)s.key: %(value)r is given twice", n=n, value=step.key)
        seen.add(step.key)
        if step.done_on is not None:
            check_date(state, step.done_on, today, field=f"prior_steps.{n}.done_on")
            state.done[step.key] = DoneStep(on=step.done_on)
        state.log(
            now=now,
            on=step.done_on or opening.first_sick_day,
            actor=opening.opened_by,
            kind="prior_step",
            summary=f"Taken over: {step.key} " + (f"done on {step.done_on}" if step.done_on else "not done"),
            details={"key": step.key, "done_on": step.done_on.isoformat() if step.done_on else None},
        )
    for n, held in enumerate(sorted(opening.evaluations_held)):
        check_date(state, held, today, field=f"evaluations_held.{n}")
        state.evaluations.append(DoneStep(on=held))
    if "spoor2_start" in state.done:
        state.spoor2.started_on = state.done["spoor2_start"].on
    return state


def _taken_over_stage(opening: CaseOpening) -> Stage:
    """Spoor 1 for a case taken over with its probleemanalyse done; known before `case_opened` records the stage."""
    done = any(step.key == "probleemanalyse" and step.done_on is not None for step in opening.prior_steps)
    return Stage.SPOOR1 if done else Stage.ZIEKMELDING


def check_date(state: CaseState, on: date, today: date, *, field: str = "on") -> None:
    if on < state.first_sick_day:
        raise ActionRefused(
            "%(field)s: %(on)s is before the first sick day %(first_sick_day)s",
            field=field,
            on=on,
            first_sick_day=state.first_sick_day,
        )
    not_in_future(on, today, field)
