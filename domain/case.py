"""A sick-leave case as data, and the rules that decide what an action or the passing of time does.

Everything here is pure: the workflow passes in `today` (an Amsterdam calendar date) and the
current instant, and records what these functions return. That keeps every decision testable
without Temporal, and the workflow deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from domain import access, glossary
from domain import actions as a
from domain import dossier_check as dc
from domain import observations as obs
from domain import stagnation as st
from domain.clock import Clock, PeriodError, SickPeriod, build_periods, fixed_due, recurring_dues
from domain.documents import (
    AUDIENCE_ROLES,
    DocumentKind,
    DocumentOrder,
    DocumentRef,
    DossierRules,
    next_progress_report,
)
from domain.errors import ActionRefused, joined
from domain.messages import N_, Text, ngettext, text
from domain.models import (
    SYSTEM,
    Actor,
    AdConclusion,
    AdParty,
    DeadlineStatus,
    DossierEntry,
    Notification,
    OpaqueId,
    Outcome,
    Role,
    Stage,
    append_entry,
    recorded_details,
    retry_refusal,
    unsealed_note_refusal,
)
from domain.nl_time import start_of_day
from domain.people import MAX_PERSON_KEYS, Employee, PersonKey
from domain.rules import RuleSet
from domain.spoor2 import Spoor2Outcome, Spoor2Rules, Spoor2Status, TrajectoryUpdate, flag_body, flag_subject
from domain.stagnation import Expectation, StagnationRules, Watch

EVALUATIE = "evaluatie"
# The step each action completes, where it completes one.
COMPLETES: dict[str, str] = {
    "ziekmelding_arbodienst_sent": "ziekmelding_arbodienst",
    "probleemanalyse_recorded": "probleemanalyse",
    "plan_van_aanpak_agreed": "plan_van_aanpak",
    "ziekmelding_uwv_sent": "ziekmelding_uwv",
    "eerstejaarsevaluatie_held": "eerstejaarsevaluatie",
    "spoor2_started": "spoor2_start",
    "eindevaluatie_held": "eindevaluatie",
    "werknemer_oordeel_recorded": "oordeel_werknemer",
    "reintegratieverslag_completed": "reintegratieverslag",
    "wia_aanvraag_filed": "wia_aanvraag",
}
# Steps that must be on record before an action is accepted (and not after it in time).
REQUIRES: dict[str, str] = {
    "plan_van_aanpak_agreed": "probleemanalyse",
    "evaluatie_held": "plan_van_aanpak",
    "eerstejaarsevaluatie_held": "plan_van_aanpak",
}
OPEN_STAGES = frozenset(s for s in Stage if s is not Stage.CLOSED)

# Versions of the case's behaviour. A case keeps the version it was opened with for life, so a
# running case never changes its rules mid-way; the workflow picks it with `workflow.patched()`.
#   1: spoor 2 is two case actions (spoor2_started / spoor2_ended); the AD-onderzoek one conclusion.
#   2: spoor 2 runs as its own trajectory workflow; the AD-onderzoek records its conversations and
#      answers its questions in order.
#   3: the stagnation watch: reminders before deadlines, the escalation ladder, notifications to
#      the case's contacts by role; the trajectory reports what it expects and notifies through
#      the case.
#   4: the coach of the running trajectory is a search attribute (CoachId).
#   5: the dossier as documents: rendered on events, monthly during spoor 2 and on request; the
#      loonsanctie pre-flight from week 80.
#   6: runs are bounded and the state moves to the current version at every run's start (domain.migration).
CURRENT_VERSION = 6
# Revisions of the case's behaviour. Unlike the version, a case moves to the current revision when a
# run of it starts (patch `dossier-truth`, taken at the start of every run), so a running case gains
# the change at its next continue-as-new and its earlier runs replay as they were.
#   1: facts and observations apart (an overdue observation a later record disproves is superseded),
#      a deviation excuses up to its new date only and a reason may follow the term, first sick day
#      corrections, terms counted from the end move with it (rule sets that mark them `from_end`).
#   2: who is assigned to the case is a search attribute (`Assigned`, patch `assignments`), so a
#      listing shows each person the cases of their scope (domain.access).
#   3: the key of the next step (`NextStep`) and the keyed hashes of the employee's surname and personnel number
#      (`PersonKeys`, domain.people) are search attributes (patch `worklist-attributes`): the work list and the
#      search by name read visibility alone.
FACTS_REVISION = obs.FACTS_REVISION
ASSIGNMENTS_REVISION = 2
WORKLIST_REVISION = 3
CURRENT_REVISION = WORKLIST_REVISION
TRAJECTORY_VERSION = 2
WATCH_VERSION = 3
COACH_VERSION = 4
DOCUMENTS_VERSION = 5
# Trajectory record entries the case manager is notified of (version 3 on; before, the trajectory
# sent them itself).
TRAJECTORY_FLAGS = frozenset({"intake_late", "phase_time_up"})
# What the case does when its trajectory ends with an outcome.
_CASE_RESULT = {
    Spoor2Outcome.NIEUW_WERK: a.Spoor2Result.NIEUW_WERK,
    Spoor2Outcome.DETACHERING: a.Spoor2Result.DETACHERING,
    Spoor2Outcome.WERKRITMEPLAATS: a.Spoor2Result.WERKRITMEPLAATS,
    Spoor2Outcome.GEEN_RESULTAAT: a.Spoor2Result.GEEN_RESULTAAT,
    Spoor2Outcome.NO_GO: a.Spoor2Result.NO_GO,
}


# --------------------------------------------------------------------------- state


class DoneStep(BaseModel):
    on: date
    action_id: str | None = None  # None when taken over from another system


class Deviation(BaseModel):
    """Reg art. 5: why a term was not kept; `new_due` moves it, None waives it.

    A reason given after the term (`given_after_term`, revision 1) is kept and shown as such: an
    assessor weighs it differently from one given in time.
    """

    reason: str
    new_due: date | None
    on: date
    action_id: str
    term: date | None = Field(default=None, description="The term deviated from, as it stood when the reason was given")
    given_after_term: bool = False


class Loonsanctie(BaseModel):
    imposed_on: date
    weeks: int
    repair_reported_on: date | None = None
    repair_accepted_on: date | None = None


class DeskundigenoordeelRecord(BaseModel):
    request_id: str
    requested_by: Role
    question: str
    requested_on: date
    answered_on: date | None = None
    conclusion: str | None = None


class AdConversation(BaseModel):
    party: AdParty
    on: date
    action_id: str


class PartialRecoveryRecord(BaseModel):
    on: date
    hours_per_week: float | None
    percentage: int | None


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


class CaseState(BaseModel):
    """Everything a case carries, also across continue-as-new."""

    case_id: str
    employer_id: str
    version: int = 1
    revision: int = Field(default=0, description="Behaviour revision, raised when a run starts (FACTS_REVISION)")
    opened_on: date | None = Field(default=None, description="The day the case was opened in Spoorwerk")
    holidays: list[date] = Field(
        default_factory=list,
        description="Public holidays a working-day term skips, "
        "computed when the case opened (RuleSet.holiday_calendar)",
    )
    ruleset: RuleSet
    spoor2_rules: Spoor2Rules | None = None
    periods: list[SickPeriod]
    stage: Stage
    outcome: Outcome | None = None
    closed_on: date | None = None
    done: dict[str, DoneStep] = Field(default_factory=dict)
    evaluations: list[DoneStep] = Field(default_factory=list)
    deviations: dict[str, Deviation] = Field(default_factory=dict)
    overdue_marked: list[str] = Field(default_factory=list)
    milestones_passed: list[str] = Field(default_factory=list)
    ad_started_on: date | None = None
    ad_conversations: list[AdConversation] = Field(default_factory=list)
    ad_conclusion: AdConclusion | None = None
    ad_report_reference: str | None = None
    spoor2_consent_on: date | None = None
    spoor2_started_on: date | None = None
    spoor2_started_by: Actor | None = None
    spoor2_ended_on: date | None = None
    spoor2_result: a.Spoor2Result | None = None
    trajectory_started: bool = Field(default=False, description="The trajectory workflow has been started")
    spoor2_status: Spoor2Status | None = None
    spoor2_phase: int | None = None
    spoor2_coach_id: str | None = None
    trajectory_entries_seen: int = 0
    partial_recovery: PartialRecoveryRecord | None = None
    loonsanctie: Loonsanctie | None = None
    voluntary_extension_weeks: int = 0
    wage_extension_days: int = Field(
        default=0,
        description="BW 7:629 lid 11 sub a: a WIA aanvraag filed late by the "
        "employer's doing extends the wage payment by the delay",
    )
    deskundigenoordelen: list[DeskundigenoordeelRecord] = Field(default_factory=list)
    stagnation_rules: StagnationRules | None = None
    watch: Watch | None = Field(default=None, description="The stagnation watch (version 3 on)")
    trajectory_expectation: Expectation | None = None
    contacts: dict[Role, list[str]] = Field(default_factory=dict)
    assigned: dict[Role, list[str]] = Field(
        default_factory=dict, description="Who is assigned per role (domain.access)"
    )
    employee: Employee | None = Field(
        default=None, description="The employee's name and personnel number (domain.people)"
    )
    person_keys: list[str] = Field(default_factory=list, description="Keyed hashes to find the case by (PersonKeys)")
    outbox: list[Notification] = Field(default_factory=list, description="Notifications not yet handed to the channels")
    dossier: list[DossierEntry] = Field(default_factory=list)
    applied_actions: dict[str, int] = Field(default_factory=dict, description="action id -> dossier seq")
    dossier_rules: DossierRules | None = Field(default=None, description="Documents and pre-flight (version 5 on)")
    preflights_run: list[int] = Field(default_factory=list, description="Weeks whose pre-flight check has run")
    document_requests: list[DocumentOrder] = Field(default_factory=list, description="Requested, not yet rendered")
    documents_done: list[str] = Field(default_factory=list, description="Order ids rendered (or given up on)")
    documents: list[DocumentRef] = Field(default_factory=list, description="Where each rendered document is stored")

    @property
    def clock(self) -> Clock:
        return Clock(self.periods)

    @property
    def first_sick_day(self) -> date:
        return self.periods[0].start

    @property
    def recovered_on(self) -> date | None:
        """The first day back at work after a full recovery; None while sick (or on leave that pauses the clock)."""
        last = self.periods[-1]
        return last.end if last.paused_for is None else None

    @property
    def on_leave(self) -> SickPeriod | None:
        """The period that leave (a RuleSet pause) interrupted, while that leave lasts."""
        last = self.periods[-1]
        return last if last.paused_for is not None else None

    @property
    def closed(self) -> bool:
        return self.stage is Stage.CLOSED

    @property
    def spoor2_running(self) -> bool:
        return self.spoor2_started_on is not None and self.spoor2_ended_on is None

    @property
    def has_trajectory(self) -> bool:
        """Spoor 2 runs as a trajectory workflow (version 2 on)."""
        return self.version >= TRAJECTORY_VERSION

    @property
    def trajectory_due(self) -> bool:
        """Spoor 2 started on a case whose trajectory workflow is not running yet."""
        return self.has_trajectory and self.spoor2_running and not self.trajectory_started and not self.closed

    def done_dates(self) -> dict[str, date]:
        return {k: v.on for k, v in self.done.items()}

    def record(
        self,
        *,
        now: datetime,
        on: date,
        actor: Actor,
        kind: str,
        summary: str,
        action_id: str | None = None,
        details: dict[str, Any] | None = None,
        register: bool = True,
    ) -> DossierEntry:
        """Append a dossier entry; `register` makes its action id known to the case's idempotency."""
        return append_entry(
            self.dossier,
            self.applied_actions,
            register=register,
            recorded_at=now,
            on=on,
            actor=actor,
            kind=kind,
            summary=summary,
            action_id=action_id,
            details=details or {},
        )


# --------------------------------------------------------------------------- opening


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
        spoor2_rules=spoor2_rules,
        periods=periods,
        stage=opening.stage or _taken_over_stage(opening),
        opened_on=today,
        holidays=list(holidays or []),
        contacts={role: list(addresses) for role, addresses in opening.contacts.items()},
        assigned={role: list(ids) for role, ids in opening.assigned.items() if ids},
        employee=opening.employee,
        person_keys=list(opening.person_keys),
    )
    if version >= WATCH_VERSION and stagnation_rules is not None:
        # A taken-over case is watched from its opening, not from its (unknown) past activity.
        state.stagnation_rules, state.watch = stagnation_rules, st.start_watch(today)
    if version >= DOCUMENTS_VERSION:
        state.dossier_rules = dossier_rules
    state.record(
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
            _check_date(state, step.done_on, today, field=f"prior_steps.{n}.done_on")
            state.done[step.key] = DoneStep(on=step.done_on)
        state.record(
            now=now,
            on=step.done_on or opening.first_sick_day,
            actor=opening.opened_by,
            kind="prior_step",
            summary=f"Taken over: {step.key} " + (f"done on {step.done_on}" if step.done_on else "not done"),
            details={"key": step.key, "done_on": step.done_on.isoformat() if step.done_on else None},
        )
    for n, held in enumerate(sorted(opening.evaluations_held)):
        _check_date(state, held, today, field=f"evaluations_held.{n}")
        state.evaluations.append(DoneStep(on=held))
    if "spoor2_start" in state.done:
        state.spoor2_started_on = state.done["spoor2_start"].on
    return state


def _taken_over_stage(opening: CaseOpening) -> Stage:
    """Spoor 1 for a case taken over with its probleemanalyse done; known before `case_opened` records the stage."""
    done = any(step.key == "probleemanalyse" and step.done_on is not None for step in opening.prior_steps)
    return Stage.SPOOR1 if done else Stage.ZIEKMELDING


# --------------------------------------------------------------------------- deadlines


class DeadlineView(BaseModel):
    """A statutory step as the case sees it today."""

    key: str
    label: str
    occurrence: int | None = None
    due: date | None
    status: DeadlineStatus
    done_on: date | None = None
    late: bool = False
    tracked: bool = True
    deviation: Deviation | None = None
    waived_because: str | None = None
    original_due: date | None = Field(default=None, description="The term before a deviation moved it")
    excused: bool = Field(default=False, description="Late, but a deviation excuses it (revision 0: any deviation)")
    reason_after_term: bool = Field(default=False, description="Late against its term, with a reason given after it")

    @property
    def late_days(self) -> int | None:
        """Days after its (possibly moved) term the step was done; None when not late."""
        return (self.done_on - self.due).days if self.late and self.done_on and self.due else None

    @property
    def term(self) -> date:
        """`due` where the status implies one (overdue, passed, or open and remindable): never None there."""
        assert self.due is not None, f"{self.mark} has no term"
        return self.due

    @property
    def mark(self) -> str:
        """The id under which an overdue mark or a passed milestone is recorded once."""
        return self.key if self.occurrence is None else f"{self.key}#{self.occurrence}"


def wachttijd_end(state: CaseState) -> date | None:
    """The last day of the waiting time, after voluntary extension and any loonsanctie."""
    base = fixed_due(state.ruleset.deadline("einde_wachttijd"), state.clock, {})
    if base is None:
        return None
    end = base + timedelta(weeks=state.voluntary_extension_weeks, days=state.wage_extension_days)
    sanction = state.loonsanctie
    if sanction is not None:
        sanction_end = end + timedelta(weeks=sanction.weeks)
        if sanction.repair_accepted_on is not None:
            after_repair = sanction.repair_accepted_on + timedelta(
                weeks=state.ruleset.loonsanctie_ends_weeks_after_repair
            )
            end = max(end, min(sanction_end, after_repair))
        else:
            end = sanction_end
    return end


def _status(due: date | None, today: date, tracked: bool) -> DeadlineStatus:
    if due is None or today <= due:
        return DeadlineStatus.OPEN
    return DeadlineStatus.OVERDUE if tracked else DeadlineStatus.PASSED


def deadlines(state: CaseState, today: date) -> list[DeadlineView]:
    """Every statutory step with its due date and status as of `today`, in order of due date."""
    as_of = min(today, state.closed_on) if state.closed_on else today
    clock = state.clock
    done = state.done_dates()
    views: list[DeadlineView] = []
    for rule in state.ruleset.deadlines:
        if rule.recurring:
            views.extend(_evaluation_views(state, rule, clock, done, as_of))
            continue
        if rule.key == "einde_wachttijd":
            due = wachttijd_end(state)
        else:
            due = fixed_due(rule, clock, done, state.holidays)
            if due is not None and rule.from_end:
                # Counted back from the end of the waiting time: a voluntary extension moves it too (WIA art. 24).
                due += timedelta(weeks=state.voluntary_extension_weeks)
        view = DeadlineView(key=rule.key, label=rule.label, due=due, status=DeadlineStatus.OPEN, tracked=rule.tracked)
        step = state.done.get(rule.key)
        deviation = state.deviations.get(rule.key)
        if step is not None:
            _judge_done(state, view, step.on, deviation)
        elif deviation is not None:
            view.deviation = deviation
            if deviation.new_due is None:
                view.status, view.waived_because = DeadlineStatus.WAIVED, deviation.reason
            else:
                view.original_due, view.due = due, deviation.new_due
                view.status = _status(view.due, as_of, True)
        elif rule.key == "spoor2_start" and state.ad_conclusion in (
            AdConclusion.EIGEN_WERK,
            AdConclusion.ANDER_WERK_INTERN,
        ):
            view.status = DeadlineStatus.WAIVED
            view.waived_because = f"AD-onderzoek: {state.ad_conclusion.value}"
        else:
            view.status = _status(due, as_of, rule.tracked)
        views.append(view)
    return sorted(views, key=lambda v: (v.due is None, v.due or date.max, v.key))


def _judge_done(state: CaseState, view: DeadlineView, done_on: date, deviation: Deviation | None) -> None:
    """A done step: late or not against its term, and what a deviation excuses (Reg art. 5)."""
    view.status, view.done_on, view.deviation = DeadlineStatus.DONE, done_on, deviation
    due = view.due
    if state.revision < FACTS_REVISION:
        view.late = due is not None and done_on > due
        view.excused = view.late and deviation is not None  # any deviation excused any lateness
        return
    if deviation is not None and deviation.new_due is not None:
        view.original_due, view.due = due, deviation.new_due  # excused up to the new date, and no further
    waived_in_time = deviation is not None and deviation.new_due is None and not deviation.given_after_term
    view.late = view.due is not None and done_on > view.due and not waived_in_time
    view.reason_after_term = bool(
        deviation is not None and deviation.given_after_term and due is not None and done_on > due
    )


def _evaluation_views(state: CaseState, rule, clock: Clock, done: dict[str, date], as_of: date) -> list[DeadlineView]:
    held = [e.on for e in state.evaluations]
    dues = recurring_dues(rule, state.ruleset, clock, done, held, plan_ahead=False, holidays=state.holidays)
    views = []
    for n, due in enumerate(dues, start=1):
        view = DeadlineView(key=rule.key, label=rule.label, occurrence=n, due=due, status=DeadlineStatus.OPEN)
        if n <= len(held):
            deviation = state.deviations.get(view.mark) if state.revision >= FACTS_REVISION else None
            _judge_done(state, view, held[n - 1], deviation)
        else:
            if "reintegratieverslag" in state.done:
                break  # the eindevaluatie of the re-integratieverslag closes the cycle
            deviation = state.deviations.get(view.mark)
            if deviation is not None:
                view.deviation = deviation
                if deviation.new_due is None:
                    view.status, view.waived_because = DeadlineStatus.WAIVED, deviation.reason
                    views.append(view)
                    continue
                view.original_due, view.due = view.due, deviation.new_due
            view.status = _status(view.due, as_of, True)
        views.append(view)
    return views


def next_deadline(views: list[DeadlineView]) -> DeadlineView | None:
    """The earliest open tracked step with a due date."""
    open_ = [v for v in views if v.tracked and v.status is DeadlineStatus.OPEN and v.due is not None]
    return min(open_, key=lambda v: v.term, default=None)


# --------------------------------------------------------------------------- time passing


def tick(state: CaseState, *, today: date, now: datetime, in_order: bool = False) -> list[Notification]:
    """Apply the passing of time up to `today`: overdue marks, milestones, closing, and (version 3)
    reminders and the escalation ladder. Idempotent. Returns the notifications to send.

    `in_order` (the workflow's patch `catch-up`): what a late wake (a worker down for days) takes at
    once is recorded in the order of its dates, and a ladder step a later one replaces notifies no one.
    """
    was_closed = state.closed
    first_new = len(state.dossier)
    notes = _statutory_tick(state, today=today, now=now)
    if state.watch is not None and not was_closed:
        notes += _watch_tick(state, today=today, now=now, in_order=in_order)
    if state.dossier_rules is not None and not was_closed:
        notes += dc.preflight(state, today=today, now=now)
    if in_order:
        _in_date_order(state, first_new)
    notes += state.outbox
    state.outbox = []
    return notes


def _in_date_order(state: CaseState, first_new: int) -> None:
    """Put the entries one tick recorded in the order of their dates (stable), numbered anew.

    They are the system's own entries (no action ids), so no idempotency key points at their numbers.
    """
    new = sorted(state.dossier[first_new:], key=lambda e: e.on)
    for n, entry in enumerate(new, start=first_new + 1):
        entry.seq = n
    state.dossier[first_new:] = new


def _statutory_tick(state: CaseState, *, today: date, now: datetime) -> list[Notification]:
    if state.closed:
        return []
    notes: list[Notification] = []
    recovered = state.recovered_on
    if recovered is not None:
        closes = recovered + timedelta(days=state.ruleset.four_week_rule_days)
        if today >= closes:
            _close(state, Outcome.HERSTELD, on=closes, now=now, summary="No relapse within four weeks of recovery")
            return []
    for view in deadlines(state, today):
        if view.status is DeadlineStatus.OVERDUE and view.mark not in state.overdue_marked:
            if backfilling(state, view, today):
                continue
            state.overdue_marked.append(view.mark)
            state.record(
                now=now,
                on=view.term + timedelta(days=1),
                actor=SYSTEM,
                kind=obs.OVERDUE,
                summary=f"{view.mark} overdue: it was due {view.due}",
                details={"key": view.key, "occurrence": view.occurrence, "due": view.term.isoformat()},
            )
            if state.revision >= FACTS_REVISION and obs.notified_before(state.dossier, view.mark, view.term):
                continue  # the same term was observed and notified before a record disproved it: once is enough
            notes.append(
                Notification(
                    notification_id=f"{state.case_id}:overdue:{view.mark}:{view.due}",
                    case_id=state.case_id,
                    recipient_role=Role.CASEMANAGER,
                    recipients=state.contacts.get(Role.CASEMANAGER, []),
                    kind="deadline_overdue",
                    subject=f"Case {state.case_id}: {view.label} is overdue",
                    body=(
                        f"The statutory step '{view.label}' ({view.mark}) of case {state.case_id} "
                        f"was due on {view.due} and has not been recorded. Record it, or record a "
                        "deviation with its reason."
                    ),
                    subject_text=text(N_("Case %(case)s: %(step)s is overdue"), case=state.case_id, step=view.label),
                    body_text=text(
                        N_(
                            "The statutory step '%(step)s' (%(mark)s) of case %(case)s was due on %(due)s "
                            "and has not been recorded. Record it, or record a deviation with its reason."
                        ),
                        step=view.label,
                        mark=view.mark,
                        case=state.case_id,
                        due=view.due,
                    ),
                    deadline_key=view.key,
                    due=view.due,
                )
            )
        elif view.status is DeadlineStatus.PASSED and view.mark not in state.milestones_passed:
            state.milestones_passed.append(view.mark)
            on = view.term + timedelta(days=1)
            if view.key == "einde_wachttijd":
                if awaiting_wia_aanvraag(state):
                    state.milestones_passed.remove(view.mark)  # it closes once the aanvraag is on record
                    notes += _ended_without_wia(state, view, now=now)
                    continue
                _close(state, Outcome.EINDE_WACHTTIJD, on=view.term, now=now, summary="End of the waiting time")
                return notes
            state.record(now=now, on=on, actor=SYSTEM, kind="milestone_passed", summary=f"{view.label}: {view.due}")
            if view.key == "wia_brief_uwv" and state.stage in (Stage.SPOOR1, Stage.AD_ONDERZOEK, Stage.ZIEKMELDING):
                _set_stage(state, Stage.WIA, on=on, now=now, actor=SYSTEM)
    return notes


def awaiting_wia_aanvraag(state: CaseState) -> bool:
    """Revision 1: the waiting time ended without a WIA aanvraag on record, so the case does not close as if
    all were well: the employer's wage payment goes on while the aanvraag is late (BW 7:629 lid 11 sub a)."""
    return (
        state.revision >= FACTS_REVISION
        and "wia_aanvraag" in state.ruleset.keys
        and "wia_aanvraag" not in state.done
        and "wia_aanvraag" not in state.deviations
    )


_WITHOUT_WIA = "einde_wachttijd:zonder_wia_aanvraag"


def _ended_without_wia(state: CaseState, view: DeadlineView, *, now: datetime) -> list[Notification]:
    """Recorded and notified once: the end of the waiting time passed with no WIA aanvraag on record."""
    if _WITHOUT_WIA in state.milestones_passed:
        return []
    state.milestones_passed.append(_WITHOUT_WIA)
    on = view.term + timedelta(days=1)
    state.record(
        now=now,
        on=on,
        actor=SYSTEM,
        kind="wachttijd_ended_without_wia_aanvraag",
        summary=f"The waiting time ended on {view.due} with no WIA aanvraag on record: the case stays open; "
        "a late aanvraag by the employer's doing extends the wage payment by the delay",
        details={"due": view.term.isoformat()},
    )
    body = (
        f"The waiting time of case {state.case_id} ended on {view.due}, but no WIA aanvraag is on record. Record "
        "it (wia_aanvraag_filed, with late_cause): if the delay is the employer's doing, the wage payment runs on "
        "by the delay (BW 7:629 lid 11 sub a)."
    )
    body_text = text(
        N_(
            "The waiting time of case %(case)s ended on %(due)s, but no WIA aanvraag is on record. Record "
            "it (wia_aanvraag_filed, with late_cause): if the delay is the employer's doing, the wage "
            "payment runs on by the delay (BW 7:629 lid 11 sub a)."
        ),
        case=state.case_id,
        due=view.due,
    )
    return [
        _note(
            state,
            role,
            key=_WITHOUT_WIA,
            kind="wachttijd_ended_without_wia_aanvraag",
            subject=f"Case {state.case_id}: waiting time ended without a WIA aanvraag",
            body=body,
            subject_text=text(N_("Case %(case)s: waiting time ended without a WIA aanvraag"), case=state.case_id),
            body_text=body_text,
        )
        for role in (Role.CASEMANAGER, Role.WERKGEVER)
    ]


def backfilling(state: CaseState, view: DeadlineView, today: date) -> bool:
    """A term that had passed before the case was opened, in the days the bureau has to enter the case's past
    (revision 1; `RuleSet.backfill_days`): not yet observed as overdue, notified or escalated. A step the
    opening declared (`prior_steps`, `evaluations_held`) is known and is observed at once."""
    if state.revision < FACTS_REVISION or state.opened_on is None or view.due is None:
        return False
    if not (view.due < state.opened_on and today < state.opened_on + timedelta(days=state.ruleset.backfill_days)):
        return False
    return view.key not in _declared_at_opening(state)


def _declared_at_opening(state: CaseState) -> set[str]:
    # The opening's entries come first: case_opened, then one prior_step per step it declared.
    declared = {
        str(e.details.get("key")) for e in state.dossier[: 1 + len(state.ruleset.deadlines)] if e.kind == "prior_step"
    }
    if state.evaluations and any(e.action_id is None for e in state.evaluations):
        declared.add(EVALUATIE)
    return declared


def reconcile(state: CaseState, today: date, cause: DossierEntry | None = None) -> list[DossierEntry]:
    """Mark the overdue observations that the records now disprove as superseded (revision 1).

    `cause` is the record that just arrived (its seq is the reference); without one (a case moving to
    revision 1) the record that explains each is named where there is one. The marks are released, so
    a term that passes again (a moved date) is observed again.
    """
    if state.revision < FACTS_REVISION or not obs.current(state.dossier):
        return []  # nothing observed that a record could disprove: no deadlines to compute on this path
    views = {v.mark: v for v in deadlines(state, today)}
    gone = obs.stale(state.dossier, views)
    for entry in gone:
        mark = obs.mark_of(entry)
        entry.superseded_by = cause.seq if cause is not None else _explained_by(state, views.get(mark))
        if mark in state.overdue_marked:
            state.overdue_marked.remove(mark)
    return gone


def _explained_by(state: CaseState, view: DeadlineView | None) -> int | None:
    """The seq of the record that makes a step done or deviated, where it has one."""
    if view is None:
        return None
    action_id = None
    if view.status is DeadlineStatus.DONE:
        if view.occurrence is None:
            step = state.done.get(view.key)
            action_id = step.action_id if step else None
        elif view.occurrence <= len(state.evaluations):
            action_id = state.evaluations[view.occurrence - 1].action_id
    if action_id is None and view.deviation is not None:
        action_id = view.deviation.action_id
    return state.applied_actions.get(action_id) if action_id else None


def upgrade(state: CaseState, today: date, revision: int = CURRENT_REVISION) -> None:
    """Move a case to `revision` (at the start of a run): what its records already disprove is marked."""
    if state.revision >= revision:
        return
    if state.revision < FACTS_REVISION:
        state.evaluations.sort(key=lambda e: e.on)
        state.revision = FACTS_REVISION
        reconcile(state, today)
    state.revision = revision


def observations(state: CaseState, today: date) -> dict[int, obs.Observation]:
    """Every overdue observation of the dossier as it stands now, by seq: the one answer every view shows."""
    return obs.status(state.dossier, {v.mark: v for v in deadlines(state, today)})


def poortwachtertoets(state: CaseState, today: date, rules: dc.PreflightRules | None = None) -> dc.Toets | None:
    """The dossier read as UWV's assessor will read it (domain.dossier_check.toets), with the case's own pre-flight
    rules, else `rules`; None when there are neither."""
    chosen = state.dossier_rules.preflight if state.dossier_rules is not None else rules
    return dc.toets(state, min(today, state.closed_on) if state.closed_on else today, chosen) if chosen else None


class DossierLine(DossierEntry):
    """A dossier entry as every view shows it: an overdue observation says how it stands now."""

    observation: obs.Observation | None = None


def dossier_lines(state: CaseState, today: date) -> list[DossierLine]:
    """The dossier in recorded order, each overdue observation with its standing (open, late, superseded)."""
    seen = observations(state, today)
    return [DossierLine.model_construct(**dict(e), observation=seen.get(e.seq)) for e in state.dossier]


def next_wake(state: CaseState, today: date) -> datetime | None:
    """The next instant at which time alone changes the case (a deadline, reminder or window)."""
    if state.closed:
        return None
    days: list[date] = []
    views = deadlines(state, today)
    for view in views:
        if view.status is DeadlineStatus.OPEN and view.due is not None:
            days.append(view.due + timedelta(days=1))
        elif view.status is DeadlineStatus.OVERDUE and backfilling(state, view, today):
            assert state.opened_on is not None  # backfilling needs the opening day
            days.append(state.opened_on + timedelta(days=state.ruleset.backfill_days))
    if state.recovered_on is not None:
        days.append(state.recovered_on + timedelta(days=state.ruleset.four_week_rule_days))
    wake = start_of_day(min(days)) if days else None
    if state.watch is not None and state.stagnation_rules is not None:
        leads = state.stagnation_rules.reminders.lead_days
        watch_days = [st.next_reminder_day(leads, view.term, today) for view in _remindable(views)]
        watch_days.append(st.next_wake_day(state.watch, expectation(state), today))
    else:
        watch_days = []
    if state.dossier_rules is not None:
        # The pre-flight and the monthly voortgangsrapportage go in the same morning round.
        watch_days += [dc.next_preflight(state), next_progress_report(state, today)]
    if watch_days:
        later = [d for d in watch_days if d is not None and d > today]
        if later:
            # Reminders and escalations go out in the morning, and apart from the statutory clock's
            # and the trajectory's midnight timers (which may change the same watch).
            morning = start_of_day(min(later)) + timedelta(hours=st.WATCH_HOUR)
            wake = morning if wake is None else min(wake, morning)
    return wake


# --------------------------------------------------------------------------- stagnation (version 3)


def expectation(state: CaseState) -> Expectation | None:
    """The activity the case expects next and by when; the running trajectory's own while it runs."""
    watch, rules = state.watch, state.stagnation_rules
    if watch is None or rules is None or state.closed or state.recovered_on is not None or state.on_leave:
        return None
    if state.spoor2_running and state.has_trajectory:
        return state.trajectory_expectation
    w = rules.stage_watch(state.stage.value)
    if w is None:
        return None
    return Expectation(
        what=w.expects, by=watch.last_activity_on + timedelta(days=w.within_days), context=state.stage.value
    )


def _remindable(views: list[DeadlineView]) -> list[DeadlineView]:
    return [v for v in views if v.tracked and v.status is DeadlineStatus.OPEN and v.due is not None]


def _note(
    state: CaseState,
    role: Role,
    *,
    key: str,
    kind: str,
    subject: str,
    body: str,
    deadline_key: str | None = None,
    due: date | None = None,
    subject_text: Text | None = None,
    body_text: Text | None = None,
) -> Notification:
    """A notification to a role on this case, at the role's contacts; `key` makes its id stable. `subject_text`
    and `body_text` are what the recipient reads, translated when it is sent (domain.messages)."""
    return Notification(
        notification_id=f"{state.case_id}:{key}:{role.value}",
        case_id=state.case_id,
        recipient_role=role,
        recipients=state.contacts.get(role, []),
        kind=kind,
        subject=subject,
        body=body,
        deadline_key=deadline_key,
        due=due,
        subject_text=subject_text,
        body_text=body_text,
    )


def _reminder_roles(state: CaseState, key: str) -> list[Role]:
    """Who is reminded of a step: whoever takes it (per the rule set), and the case manager."""
    actor = state.ruleset.deadline(key).actor
    roles = [Role(actor)] if actor in {r.value for r in Role} and actor not in (Role.UWV, Role.CASEMANAGER) else []
    return [*roles, Role.CASEMANAGER]


def _watch_tick(state: CaseState, *, today: date, now: datetime, in_order: bool = False) -> list[Notification]:
    watch, rules = state.watch, state.stagnation_rules
    assert watch is not None and rules is not None
    if state.closed:
        assert state.closed_on is not None  # a closed case has its closing day
        step = st.close(watch, state.closed_on)
        if step is not None:
            state.record(now=now, on=step.on, actor=SYSTEM, kind=step.kind, summary=step.summary, details=step.details)
        return []
    notes: list[Notification] = []
    views = deadlines(state, today)
    leads = rules.reminders.lead_days
    for view in _remindable(views):
        due = view.term
        lead = st.reminder_due(leads, due, today, set(watch.reminders_sent), view.mark)
        if lead is None:
            continue
        # The longer leads are spent too: a late reminder does not send the stale ones after it.
        watch.reminders_sent += [
            st.reminder_key(view.mark, due, n)
            for n in leads
            if n >= lead and st.reminder_key(view.mark, due, n) not in watch.reminders_sent
        ]
        days = (due - today).days
        state.record(
            now=now,
            on=today,
            actor=SYSTEM,
            kind="reminder_sent",
            summary=f"Reminder: {view.label} ({view.mark}) is due {due}, in {days} days",
            details={"key": view.key, "occurrence": view.occurrence, "due": due.isoformat(), "lead_days": lead},
        )
        for role in _reminder_roles(state, view.key):
            notes.append(
                _note(
                    state,
                    role,
                    key=f"reminder:{st.reminder_key(view.mark, due, lead)}",
                    kind="deadline_reminder",
                    subject=f"Case {state.case_id}: {view.label} is due {due}",
                    body=(
                        f"Reminder: the statutory step '{view.label}' ({view.mark}) of case {state.case_id} is due on "
                        f"{due}, in {days} days. Record it when done, or record a deviation with its reason."
                    ),
                    deadline_key=view.key,
                    due=due,
                    subject_text=text(
                        N_("Case %(case)s: %(step)s is due %(due)s"), case=state.case_id, step=view.label, due=due
                    ),
                    body_text=ngettext(
                        "Reminder: the statutory step '%(step)s' (%(mark)s) of case %(case)s is due on "
                        "%(due)s, in %(num)s day. Record it when done, or record a deviation with its reason.",
                        "Reminder: the statutory step '%(step)s' (%(mark)s) of case %(case)s is due on "
                        "%(due)s, in %(num)s days. Record it when done, or record a deviation with its "
                        "reason.",
                        days,
                        step=view.label,
                        mark=view.mark,
                        case=state.case_id,
                        due=due,
                    ),
                )
            )
    overdue = [
        (v.mark, v.term + timedelta(days=1))
        for v in views
        if v.status is DeadlineStatus.OVERDUE and not backfilling(state, v, today)
    ]
    stall = st.find_stall(watch, expectation(state), overdue, today)
    coach = state.spoor2_running and state.has_trajectory
    steps = st.advance(watch, rules, stall, today, case_id=state.case_id, coach=coach)
    if in_order:
        st.drop_replaced_notices(steps)
    for step in steps:
        state.record(now=now, on=step.on, actor=SYSTEM, kind=step.kind, summary=step.summary, details=step.details)
        for role in step.notify:
            notes.append(
                _note(
                    state,
                    role,
                    key=step.note_key,
                    kind=step.kind,
                    subject=step.subject,
                    body=step.body,
                    subject_text=step.subject_text,
                    body_text=step.body_text,
                )
            )
    return notes


def notification_failed(
    state: CaseState, note: Notification, channel: str, reason: str, *, today: date, now: datetime
) -> DossierEntry:
    """A notification a channel could not deliver (bad address, refused): on the dossier; the case goes on."""
    return state.record(
        now=now,
        on=today,
        actor=SYSTEM,
        kind="notification_failed",
        summary=f"Notification '{note.kind}' to the {note.recipient_role.value} not delivered ({channel}): {reason}",
        details={"notification_id": note.notification_id, "channel": channel, "reason": reason},
    )


# --------------------------------------------------------------------------- actions


def _check_date(state: CaseState, on: date, today: date, *, field: str = "on") -> None:
    if on < state.first_sick_day:
        raise ActionRefused(
            "%(field)s: %(on)s is before the first sick day %(first_sick_day)s",
            field=field,
            on=on,
            first_sick_day=state.first_sick_day,
        )
    if on > today:
        raise ActionRefused("%(field)s: %(on)s is in the future (today is %(today)s)", field=field, on=on, today=today)


def validate(state: CaseState, action: a._Action, today: date) -> None:
    """The update validator's check: `check`, and a bedrijfsarts's note arrives sealed (never in `apply`, so
    histories recorded before the seal replay as they were)."""
    check(state, action, today)
    if action.action_id not in state.applied_actions:
        refusal = unsealed_note_refusal(action)
        if refusal is not None:
            raise refusal


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


def check(state: CaseState, action: a._Action, today: date) -> None:
    """Refuse, with the reason, an action that does not fit the case; else return."""
    kind = action.kind
    seq = state.applied_actions.get(action.action_id)
    if seq is not None:  # a retry: answered from the dossier to the same request only, never applied twice
        refusal = retry_refusal(state.dossier[seq - 1], action)
        if refusal is not None:
            raise refusal
        return
    if state.closed:
        raise closed_refusal(kind, state.outcome, state.closed_on)
    _check_role(state, action, kind)
    _check_date(state, action.on, today)
    required = REQUIRES.get(kind)
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
    completes = COMPLETES.get(kind)
    if completes is not None and completes in state.done:
        raise ActionRefused(
            "%(field)s: %(done_step)s is already on record (on %(on)s)",
            field=kind,
            done_step=completes,
            on=state.done[completes].on,
        )
    if state.recovered_on is not None and kind not in (
        "relapse",
        "case_withdrawn",
        "deskundigenoordeel_answered",
        "contacts_updated",
        "first_sick_day_corrected",
        "person_assigned",
        "person_unassigned",
        "employee_details_corrected",
    ):
        raise ActionRefused(
            "%(field)s: the employee recovered on %(on)s; record a relapse first if the employee is sick again",
            field=kind,
            on=state.recovered_on,
        )
    _CHECKS.get(kind, _no_extra_check)(state, action, today)


def _check_role(state: CaseState, action: a._Action, kind: str) -> None:
    """The actor's role may record this kind, and the actor is assigned to the case if its role has someone assigned."""
    allowed = a.ACTION_ROLES[kind]
    if action.actor.role not in allowed:
        raise ActionRefused(
            "actor.role: the role %(role)s may not record \u201c%(kind)s\u201d (allowed: %(roles)s)",
            role=action.actor.role,
            kind=kind,
            roles=joined(allowed),
        )
    # The trajectory's coach counts from revision 2: runs before it accepted any coach, and replay as they did.
    coach = state.spoor2_coach_id if state.spoor2_running and state.revision >= ASSIGNMENTS_REVISION else None
    refusal = access.assignment_refusal(state.assigned, action.actor.role, action.actor.id, trajectory_coach=coach)
    if refusal is not None:
        raise refusal


def apply(state: CaseState, action: a._Action, today: date, now: datetime) -> DossierEntry:
    """Check and apply an action; returns its dossier entry. A retried action id is not re-applied."""
    check(state, action, today)
    seq = state.applied_actions.get(action.action_id)
    if seq is not None:
        return state.dossier[seq - 1]
    kind = action.kind
    completes = COMPLETES.get(kind)
    if completes is not None:
        state.done[completes] = DoneStep(on=action.on, action_id=action.action_id)
    summary = _EFFECTS.get(kind, _no_effect)(state, action, now) or kind.replace("_", " ")
    details = recorded_details(action)  # contact addresses are kept for notifying, not written into the dossier
    entry = state.record(
        now=now,
        on=action.on,
        actor=action.actor,
        kind=kind,
        summary=summary,
        action_id=action.action_id,
        details=details,
    )
    watch = state.watch
    if watch is not None:
        if kind not in a.NOT_ACTIVITY_KINDS:
            st.activity(watch, on=action.on, seq=entry.seq)
        elif kind == "stagnation_reported":
            watch.reported = st.Trigger(on=action.on, seq=entry.seq, actor=action.actor)
        elif kind == "non_cooperation_recorded":
            watch.non_cooperation = st.Trigger(on=action.on, seq=entry.seq, actor=action.actor)
    reconcile(state, today, cause=entry)
    return entry


def _no_extra_check(state: CaseState, action: Any, today: date) -> None:
    return None


def _no_effect(state: CaseState, action: Any, now: datetime) -> str | None:
    return None


def _set_stage(state: CaseState, stage: Stage, *, on: date, now: datetime, actor: Actor) -> None:
    if state.stage is stage:
        return
    previous = state.stage
    state.stage = stage
    state.record(
        now=now,
        on=on,
        actor=actor,
        kind="stage_changed",
        summary=f"Stage {previous.value} -> {stage.value}",
        details={"from": previous.value, "to": stage.value},
    )


def _close(state: CaseState, outcome: Outcome, *, on: date, now: datetime, summary: str, actor: Actor = SYSTEM) -> None:
    state.outcome = outcome
    state.closed_on = on
    _set_stage(state, Stage.CLOSED, on=on, now=now, actor=actor)
    state.record(now=now, on=on, actor=actor, kind="case_closed", summary=summary, details={"outcome": outcome.value})


def check_reopen(state: CaseState, action: a._Action, today: date) -> None:
    """Refuse, with the reason, reopening a closed case for this action: only a relapse inside the four-week
    window of a case that closed as recovered reopens it (the report came after the window seemed closed)."""
    kind = action.kind
    if not state.closed:
        raise ActionRefused("%(field)s: the case is not closed", field=kind)
    if kind != "relapse" or state.outcome is not Outcome.HERSTELD:
        raise closed_refusal(kind, state.outcome, state.closed_on)
    _check_role(state, action, kind)
    _check_date(state, action.on, today)
    assert isinstance(action, a.Relapse)  # the kind is "relapse"
    _check_relapse(state, action, today)


def reopen(state: CaseState, action: a._Action, *, today: date, now: datetime) -> DossierEntry:
    """Reopen a case closed as recovered for a relapse inside the window and record the relapse: the same
    dossier and the same clock go on (a new run of the same workflow). Raises ActionRefused."""
    check_reopen(state, action, today)
    closed = next(
        e for e in reversed(state.dossier) if e.kind == "stage_changed" and e.details.get("to") == Stage.CLOSED.value
    )
    state.outcome, state.closed_on = None, None
    state.record(
        now=now,
        on=action.on,
        actor=action.actor,
        kind="case_reopened",
        summary=f"Reopened: a relapse on {action.on}, within four weeks of the recovery, was reported after "
        "the case had closed; the same dossier and clock go on",
    )
    _set_stage(state, Stage(closed.details["from"]), on=action.on, now=now, actor=action.actor)
    if state.stagnation_rules is not None and state.watch is not None:
        state.watch = st.start_watch(today)
    return apply(state, action, today, now)


def _require_views(state: CaseState, action: Any) -> None:
    if action.on >= state.ruleset.views_required_from and not (action.employer_view and action.employee_view):
        raise ActionRefused(
            "employer_view, employee_view: both the employer's and the employee's view on re-integration are required "
            "since %(since)s",
            since=state.ruleset.views_required_from,
        )


def _check_pva(state: CaseState, action: a.PlanVanAanpakAgreed, today: date) -> None:
    _require_views(state, action)


def _check_eerstejaars(state: CaseState, action: a.EerstejaarsevaluatieHeld, today: date) -> None:
    _require_views(state, action)


def _check_part_of_verslag(state: CaseState, action: Any, today: date) -> None:
    key = COMPLETES[action.kind]
    if key not in state.ruleset.keys:
        raise ActionRefused(
            "%(field)s: rule set %(ruleset)s of this case does not hold %(step)s; record it with the "
            "re-integratieverslag",
            field=action.kind,
            ruleset=state.ruleset.id,
            step=key,
        )
    if action.kind == "eindevaluatie_held":
        _require_views(state, action)


def _check_ad_started(state: CaseState, action: a.AdOnderzoekStarted, today: date) -> None:
    if state.stage is Stage.ZIEKMELDING:
        raise ActionRefused("ad_onderzoek_started: needs a probleemanalyse on record first")
    if state.ad_started_on is not None and state.ad_conclusion is None:
        raise ActionRefused(
            "ad_onderzoek_started: an AD-onderzoek is already running (since %(on)s)", on=state.ad_started_on
        )


def _ad_running(state: CaseState) -> bool:
    return state.ad_started_on is not None and state.ad_conclusion is None


def _check_ad_gesprek(state: CaseState, action: a.AdGesprekHeld, today: date) -> None:
    if not _ad_running(state):
        raise ActionRefused(
            "ad_gesprek_held: no AD-onderzoek is running; record \u201c%(next_kind)s\u201d first",
            next_kind="ad_onderzoek_started",
        )
    assert state.ad_started_on is not None  # _ad_running
    if action.on < state.ad_started_on:
        raise ActionRefused(
            "on: %(on)s is before the AD-onderzoek started (%(started_on)s)",
            on=action.on,
            started_on=state.ad_started_on,
        )


def _check_ad_concluded(state: CaseState, action: a.AdOnderzoekConcluded, today: date) -> None:
    if state.stage is Stage.ZIEKMELDING:
        raise ActionRefused("ad_onderzoek_concluded: needs a probleemanalyse on record first")
    if state.ad_started_on is not None and action.on < state.ad_started_on:
        raise ActionRefused(
            "on: %(on)s is before the AD-onderzoek started (%(started_on)s)",
            on=action.on,
            started_on=state.ad_started_on,
        )
    # The questions are answered in a fixed order: own work, then other work inside, else spoor 2.
    if action.own_work_possible is None:
        if state.has_trajectory or action.conclusion is None:
            raise ActionRefused(
                "own_work_possible: the AD-onderzoek first answers whether the employee can do their own "
                "work, adapted if needed"
            )
    elif action.own_work_possible and action.other_work_inside_possible is not None:
        raise ActionRefused("other_work_inside_possible: asked only when own work is not possible; leave it out")
    elif not action.own_work_possible and action.other_work_inside_possible is None:
        raise ActionRefused(
            "other_work_inside_possible: own work is not possible, so say whether other work inside the organisation is"
        )
    elif action.conclusion is not None and action.conclusion is not action.answers():
        raise ActionRefused(
            "conclusion: the answers lead to %(expected)s, not %(given)s",
            expected=action.answers(),
            given=action.conclusion,
        )
    if state.has_trajectory:
        if not _ad_running(state):
            raise ActionRefused(
                "ad_onderzoek_concluded: no AD-onderzoek is running; record \u201c%(next_kind)s\u201d first",
                next_kind="ad_onderzoek_started",
            )
        held = {c.party for c in state.ad_conversations}
        missing = [p.value for p in (AdParty.WERKGEVER, AdParty.WERKNEMER) if p not in held]
        if missing:
            raise (
                ActionRefused(
                    "ad_onderzoek_concluded: the AD-onderzoek needs a conversation with the werkgever and the "
                    "werknemer on record first (ad_gesprek_held)"
                )
                if len(missing) > 1
                else ActionRefused(
                    "ad_onderzoek_concluded: the AD-onderzoek needs a conversation with the %(party_role)s on "
                    "record first (ad_gesprek_held)",
                    party_role=missing[0],
                )
            )


def _check_consent(state: CaseState, action: a.Spoor2ConsentGiven, today: date) -> None:
    if state.spoor2_started_on is not None:
        raise ActionRefused("spoor2_consent_given: spoor 2 has already started")


def _first_year_end(state: CaseState) -> date | None:
    return state.clock.date_of_day(7 * 52)


def _check_spoor2_started(state: CaseState, action: a.Spoor2Started, today: date) -> None:
    if state.ad_conclusion is None:
        raise ActionRefused("spoor2_started: spoor 2 cannot start without an AD-onderzoek on record")
    if state.has_trajectory and state.spoor2_rules is None:
        raise ActionRefused(
            "spoor2_started: this case was opened without the spoor 2 rules; it cannot run a trajectory"
        )
    year_end = _first_year_end(state)
    if year_end is not None and action.on <= year_end and state.spoor2_consent_on is None:
        raise ActionRefused(
            "spoor2_started: starting spoor 2 before the first year ends (%(year_end)s) needs the bedrijfsarts's consent "
            "on record",
            year_end=year_end,
        )


def _check_spoor2_ended(state: CaseState, action: a.Spoor2Ended, today: date) -> None:
    if state.has_trajectory:
        raise ActionRefused(
            "spoor2_ended: spoor 2 ends with the outcome of its trajectory; record \u201c%(next_kind)s\u201d on the "
            "trajectory",
            next_kind="outcome_recorded",
        )
    if not state.spoor2_running:
        raise ActionRefused("spoor2_ended: no spoor 2 trajectory is running")
    assert state.spoor2_started_on is not None  # spoor2_running
    if action.on < state.spoor2_started_on:
        raise ActionRefused(
            "on: %(on)s is before spoor 2 started (%(started_on)s)", on=action.on, started_on=state.spoor2_started_on
        )


def _check_leave_started(state: CaseState, action: a.LeaveStarted, today: date) -> None:
    if state.revision < FACTS_REVISION:
        raise ActionRefused(
            "leave_started: this case still runs on an older version; it can record leave once it has continued"
        )
    if state.ruleset.pause(action.leave) is None:
        keys = ", ".join(p.key for p in state.ruleset.pauses) or "none"
        raise ActionRefused(
            "leave: %(value)r is not leave that pauses the clock in rule set %(ruleset)s (%(known)s)",
            value=action.leave,
            ruleset=state.ruleset.id,
            known=keys,
        )
    if state.on_leave is not None:
        raise ActionRefused(
            "leave_started: the employee is on leave since %(on)s; record \u201c%(next_kind)s\u201d first",
            on=state.on_leave.end,
            next_kind="leave_ended",
        )
    start = state.periods[-1].start
    if action.on <= start:
        raise ActionRefused("on: the leave must start after the sick period began (%(start)s)", start=start)


def _check_leave_ended(state: CaseState, action: a.LeaveEnded, today: date) -> None:
    leave = state.on_leave
    if leave is None:
        raise ActionRefused("leave_ended: the employee is not on leave")
    assert leave.end is not None  # leave ends a period: it has its first day of leave as end
    if action.on <= leave.end:
        raise ActionRefused("on: the leave started on %(on)s; it ends on a later day", on=leave.end)


def _check_full_recovery(state: CaseState, action: a.FullRecovery, today: date) -> None:
    if state.on_leave is not None:
        raise ActionRefused(
            "full_recovery: the employee is on leave since %(on)s; record \u201c%(next_kind)s\u201d first (the first "
            "day back counts from there)",
            on=state.on_leave.end,
            next_kind="leave_ended",
        )
    start = state.periods[-1].start
    if action.on <= start:
        raise ActionRefused(
            "on: the first day back at work must be after the sick period began (%(start)s)", start=start
        )


def _check_wia(state: CaseState, action: a.WiaAanvraagFiled, today: date) -> None:
    if state.revision < FACTS_REVISION:
        return
    view = _current_view(state, "wia_aanvraag", today)
    due = view.due if view is not None else None
    if due is not None and action.on > due and action.late_cause is None:
        raise ActionRefused(
            "late_cause: the WIA-aanvraag is filed %(days)s days after its term (%(due)s); say whose doing "
            "that was (werkgever: the wage payment runs on by the delay, BW 7:629 lid 11 sub a; werknemer)",
            days=(action.on - due).days,
            due=due,
        )
    if action.late_cause is not None and (due is None or action.on <= due):
        raise (
            ActionRefused(
                "late_cause: the WIA-aanvraag is filed within its term (%(due)s); leave late_cause out", due=due
            )
            if due is not None
            else ActionRefused("late_cause: the WIA-aanvraag has no term yet; leave late_cause out")
        )


def _check_relapse(state: CaseState, action: a.Relapse, today: date) -> None:
    recovered = state.recovered_on
    if recovered is None:
        raise ActionRefused("relapse: the employee has not recovered, so cannot relapse")
    if action.on <= recovered:
        raise ActionRefused("on: a relapse must come after the recovery on %(on)s", on=recovered)
    gap = (action.on - recovered).days
    if gap >= state.ruleset.four_week_rule_days:
        raise ActionRefused(
            "on: a relapse %(gap)s days after recovery (%(limit)s or more) starts a new case",
            gap=gap,
            limit=state.ruleset.four_week_rule_days,
        )


def _check_deviation(state: CaseState, action: a.DeadlineDeviation, today: date) -> None:
    keys = state.ruleset.keys
    if action.deadline not in keys:
        raise ActionRefused(
            "deadline: %(value)r is not a statutory step (%(known)s)", value=action.deadline, known=list(keys)
        )
    rule = state.ruleset.deadline(action.deadline)
    if not rule.deviable:
        raise ActionRefused("deadline: the term of %(step)s may not be deviated from", step=action.deadline)
    if action.occurrence is not None and not rule.recurring:
        raise ActionRefused("occurrence: %(step)s happens once; leave occurrence out", step=action.deadline)
    view = _deviation_view(state, action, today)
    if view is None:
        raise ActionRefused(
            "occurrence: %(step)s has no occurrence %(occurrence)s yet",
            step=action.deadline,
            occurrence=action.occurrence,
        )
    if view.status is DeadlineStatus.DONE:
        if state.revision < FACTS_REVISION:
            raise ActionRefused("deadline: %(step)s is already done", step=action.deadline)
        if not (view.late or view.reason_after_term):
            raise ActionRefused(
                "deadline: %(mark)s was done on %(done_on)s, within its term (%(due)s); no reason is needed",
                mark=view.mark,
                done_on=view.done_on,
                due=view.due,
            )
        if action.new_due is not None:
            raise ActionRefused(
                "new_due: %(mark)s is already done (on %(done_on)s); a reason given afterwards does not move "
                "its term: leave new_due out",
                mark=view.mark,
                done_on=view.done_on,
            )
    if action.new_due is not None and action.new_due < action.on:
        raise ActionRefused(
            "new_due: %(new_due)s is before the deviation is recorded (%(on)s)", new_due=action.new_due, on=action.on
        )


def _deviation_view(state: CaseState, action: a.DeadlineDeviation, today: date) -> DeadlineView | None:
    """The occurrence a deviation is about: the one named, else the open one (else the last)."""
    if action.occurrence is None:
        return _current_view(state, action.deadline, today)
    return next(
        (v for v in deadlines(state, today) if v.key == action.deadline and v.occurrence == action.occurrence), None
    )


def _check_correction(state: CaseState, action: a.FirstSickDayCorrected, today: date) -> None:
    new = action.first_sick_day
    if state.revision < FACTS_REVISION:
        raise ActionRefused(
            "first_sick_day_corrected: this case still runs on an older version; it can be corrected "
            "once it has continued (or open it again)"
        )
    if new == state.first_sick_day:
        raise ActionRefused("first_sick_day: %(on)s is already the first sick day", on=new)
    if new > today:
        raise ActionRefused("first_sick_day: %(on)s is in the future (today is %(today)s)", on=new, today=today)
    if new < state.ruleset.valid_from:
        raise ActionRefused(
            "first_sick_day: %(on)s lies before rule set %(ruleset)s (from %(valid_from)s); withdraw the "
            "case and open it again",
            on=new,
            ruleset=state.ruleset.id,
            valid_from=state.ruleset.valid_from,
        )
    first = state.periods[0]
    if first.end is not None and new >= first.end:
        raise ActionRefused(
            "first_sick_day: %(on)s is not before the recovery on %(recovered_on)s", on=new, recovered_on=first.end
        )
    if action.on < new:
        raise ActionRefused(
            "on: %(on)s is before the corrected first sick day %(first_sick_day)s", on=action.on, first_sick_day=new
        )
    earlier = [
        e
        for e in state.dossier
        if e.on < new
        and e.actor.role is not Role.SYSTEEM
        and e.kind not in ("case_opened", "prior_step", "first_sick_day_corrected")
    ]
    earlier += [e for e in state.dossier if e.kind == "prior_step" and e.details.get("done_on") and e.on < new]
    if earlier:
        e = min(earlier, key=lambda e: e.on)
        raise ActionRefused(
            "first_sick_day: %(on)s is after \u201c%(entry_kind)s\u201d on %(entry_on)s (dossier #%(seq)s); a step "
            "cannot come before the illness",
            on=new,
            entry_kind=e.kind,
            entry_on=e.on,
            seq=e.seq,
        )


def _current_view(state: CaseState, key: str, today: date) -> DeadlineView | None:
    """The open occurrence of a step (the next one, for a recurring step)."""
    views = [v for v in deadlines(state, today) if v.key == key]
    pending = [v for v in views if v.status is not DeadlineStatus.DONE]
    return pending[0] if pending else (views[-1] if views else None)


def _check_do_answered(state: CaseState, action: a.DeskundigenoordeelAnswered, today: date) -> None:
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


def _check_loonsanctie(state: CaseState, action: a.LoonsanctieImposed, today: date) -> None:
    if "wia_aanvraag" not in state.done:
        raise ActionRefused("loonsanctie_imposed: UWV imposes a loonsanctie on the WIA application; none is on record")
    if state.loonsanctie is not None:
        raise ActionRefused(
            "loonsanctie_imposed: a loonsanctie was already imposed on %(on)s", on=state.loonsanctie.imposed_on
        )
    if action.weeks > state.ruleset.max_loonsanctie_weeks:
        raise ActionRefused(
            "weeks: a loonsanctie lasts at most %(limit)s weeks", limit=state.ruleset.max_loonsanctie_weeks
        )


def _check_repair_reported(state: CaseState, action: a.RepairReported, today: date) -> None:
    s = state.loonsanctie
    if s is None:
        raise ActionRefused("repair_reported: no loonsanctie is on record")
    if s.repair_reported_on is not None:
        raise ActionRefused("repair_reported: a repair was already reported on %(on)s", on=s.repair_reported_on)
    if action.on < s.imposed_on:
        raise ActionRefused(
            "on: %(on)s is before the loonsanctie of %(imposed_on)s", on=action.on, imposed_on=s.imposed_on
        )


def _check_repair_accepted(state: CaseState, action: a.RepairAccepted, today: date) -> None:
    s = state.loonsanctie
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


def _require_watch(state: CaseState, action: Any, today: date) -> Watch:
    if state.watch is None or state.stagnation_rules is None:
        raise ActionRefused(
            "%(field)s: this case has no stagnation watch (it was opened before version %(version)s)",
            field=action.kind,
            version=WATCH_VERSION,
        )
    return state.watch


def _check_acknowledged(state: CaseState, action: a.EscalationAcknowledged, today: date) -> None:
    if _require_watch(state, action, today).level == 0:
        raise ActionRefused("escalation_acknowledged: the case is not escalated (level 0)")


def _check_measure(state: CaseState, action: a.MeasureTaken, today: date) -> None:
    watch = _require_watch(state, action, today)
    rules = state.stagnation_rules
    assert rules is not None  # _require_watch
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


def _check_assigned(state: CaseState, action: a.PersonAssigned, today: date) -> None:
    if action.role is Role.REINTEGRATIECOACH and state.spoor2_running:
        raise ActionRefused(
            "role: the running spoor 2 trajectory names its coach; record \u201c%(next_kind)s\u201d on it instead",
            next_kind="coach_replaced",
        )
    ids = state.assigned.get(action.role, [])
    if action.person_id in ids:
        raise ActionRefused(
            "person_id: %(person)s is already assigned as %(role)s", person=action.person_id, role=action.role
        )
    if action.replaces is not None and action.replaces not in ids:
        raise ActionRefused(
            "replaces: %(person)s is not assigned as %(role)s", person=action.replaces, role=action.role
        )
    after = [i for i in ids if i != action.replaces] + [action.person_id]
    refusal = access.assignment_list_refusal(action.role, after, field="role")
    if refusal is not None:
        if (
            action.replaces is None
            and action.role in access.ASSIGNABLE
            and len(after) > access.MAX_ASSIGNED[action.role]
        ):
            raise ActionRefused(
                "role: a case has at most %(limit)s %(role)s assigned at a time; name the one you hand over "
                "from in replaces (%(assigned)s)",
                limit=access.MAX_ASSIGNED[action.role],
                role=action.role,
                assigned=ids,
            )
        raise refusal


def _check_employee(state: CaseState, action: a.EmployeeDetailsCorrected, today: date) -> None:
    try:
        action.employee()
    except ValidationError as err:
        field = str(err.errors()[0]["loc"][0]) if err.errors() and err.errors()[0].get("loc") else "surname"
        raise ActionRefused(_EMPLOYEE_REFUSALS.get(field, _EMPLOYEE_REFUSALS["surname"])) from None


_EMPLOYEE_REFUSALS = {
    "surname": "surname: not a surname the case can keep (empty, or with control characters)",
    "given_names": "given_names: not a name the case can keep (control characters)",
    "personnel_number": "personnel_number: not a personnel number (letters, digits, . _ / -, at most 32)",
}


def _employee_corrected(state: CaseState, action: a.EmployeeDetailsCorrected, now: datetime) -> str:
    state.employee = action.employee()
    state.person_keys = list(action.person_keys)
    return "Employee details corrected"


def _check_unassigned(state: CaseState, action: a.PersonUnassigned, today: date) -> None:
    if action.person_id not in state.assigned.get(action.role, []):
        raise ActionRefused(
            "person_id: %(person)s is not assigned as %(role)s", person=action.person_id, role=action.role
        )


def _check_contacts(state: CaseState, action: a.ContactsUpdated, today: date) -> None:
    if action.recipient_role in (Role.SYSTEEM, Role.UWV):
        raise ActionRefused("role: Spoorwerk does not notify the %(role)s", role=action.recipient_role)


def _check_extension(state: CaseState, action: a.VoluntaryExtension, today: date) -> None:
    room = state.ruleset.max_voluntary_extension_weeks - state.voluntary_extension_weeks
    if action.weeks > room:
        raise ActionRefused(
            "weeks: the waiting time may be extended by at most %(limit)s weeks in all; %(room)s remain",
            limit=state.ruleset.max_voluntary_extension_weeks,
            room=room,
        )


def _check_document(state: CaseState, action: a.DocumentRequested, today: date) -> None:
    if state.dossier_rules is None:
        raise ActionRefused(
            "document_requested: this case was opened before documents (version %(version)s)", version=DOCUMENTS_VERSION
        )
    if action.actor.role not in AUDIENCE_ROLES[action.audience]:
        raise ActionRefused(
            "audience: the %(audience)s version is not for the %(role)s",
            audience=action.audience,
            role=action.actor.role,
        )
    kinds = {e.kind for e in state.dossier}
    if action.document is DocumentKind.INTAKEVERSLAG and "spoor2:intake_held" not in kinds:
        raise ActionRefused("document: no spoor 2 intake is on record yet")
    if action.document is DocumentKind.NO_GO_RAPPORT and not any(
        e.kind == "spoor2:haalbaarheidstoets_decided" and e.details.get("decision") == "no_go" for e in state.dossier
    ):
        raise ActionRefused("document: the haalbaarheidstoets has not decided no-go on this case")
    periodic = action.document is DocumentKind.VOORTGANGSRAPPORTAGE
    if periodic and state.spoor2_started_on is None:
        raise ActionRefused("document: spoor 2 has not started; there is no progress to report")
    if not periodic and (action.period_start or action.period_end):
        raise ActionRefused("period_start: only a voortgangsrapportage covers a period")
    start, end = _period(state, action)
    if start > end:
        raise ActionRefused("period_start: %(start)s is after period_end %(end)s", start=start, end=end)
    if action.period_end is not None and action.period_end > action.on:
        raise ActionRefused(
            "period_end: %(period_end)s is after the day of the request (%(on)s)",
            period_end=action.period_end,
            on=action.on,
        )


def _period(state: CaseState, action: a.DocumentRequested) -> tuple[date, date]:
    end = action.period_end or action.on
    start = action.period_start or max(end - timedelta(days=30), state.spoor2_started_on or state.first_sick_day)
    return start, end


_CHECKS: dict[str, Callable[[CaseState, Any, date], object]] = {
    "document_requested": _check_document,
    "plan_van_aanpak_agreed": _check_pva,
    "eerstejaarsevaluatie_held": _check_eerstejaars,
    "eindevaluatie_held": _check_part_of_verslag,
    "werknemer_oordeel_recorded": _check_part_of_verslag,
    "ad_onderzoek_started": _check_ad_started,
    "ad_gesprek_held": _check_ad_gesprek,
    "ad_onderzoek_concluded": _check_ad_concluded,
    "spoor2_consent_given": _check_consent,
    "spoor2_started": _check_spoor2_started,
    "spoor2_ended": _check_spoor2_ended,
    "full_recovery": _check_full_recovery,
    "relapse": _check_relapse,
    "deadline_deviation": _check_deviation,
    "first_sick_day_corrected": _check_correction,
    "leave_started": _check_leave_started,
    "wia_aanvraag_filed": _check_wia,
    "leave_ended": _check_leave_ended,
    "deskundigenoordeel_answered": _check_do_answered,
    "loonsanctie_imposed": _check_loonsanctie,
    "repair_reported": _check_repair_reported,
    "repair_accepted": _check_repair_accepted,
    "voluntary_extension": _check_extension,
    "stagnation_reported": _require_watch,
    "non_cooperation_recorded": _require_watch,
    "escalation_acknowledged": _check_acknowledged,
    "measure_taken": _check_measure,
    "contacts_updated": _check_contacts,
    "person_assigned": _check_assigned,
    "person_unassigned": _check_unassigned,
    "employee_details_corrected": _check_employee,
}


# Effects: change the state beyond marking a step done; return a dossier summary (or None).


def _pa(state: CaseState, action: a.ProbleemanalyseRecorded, now: datetime) -> str:
    if state.stage is Stage.ZIEKMELDING:
        _set_stage(state, Stage.SPOOR1, on=action.on, now=now, actor=action.actor)
    return "Probleemanalyse recorded"


def _evaluatie(state: CaseState, action: a.EvaluatieHeld, now: datetime) -> str:
    state.evaluations.append(DoneStep(on=action.on, action_id=action.action_id))
    if state.revision >= FACTS_REVISION:
        state.evaluations.sort(key=lambda e: e.on)  # one recorded after the fact takes its place in time
        return f"Evaluatie {[e.action_id for e in state.evaluations].index(action.action_id) + 1} held"
    return f"Evaluatie {len(state.evaluations)} held"


def _ad_started(state: CaseState, action: a.AdOnderzoekStarted, now: datetime) -> str:
    state.ad_started_on, state.ad_conclusion = action.on, None
    state.ad_conversations, state.ad_report_reference = [], None
    if state.stage is Stage.SPOOR1:
        _set_stage(state, Stage.AD_ONDERZOEK, on=action.on, now=now, actor=action.actor)
    return "AD-onderzoek started"


_GESPREK = {
    AdParty.WERKGEVER: "conversation with the employer",
    AdParty.WERKNEMER: "conversation with the employee",
    AdParty.WERKPLEKBEZOEK: "workplace visit",
}


def _ad_gesprek(state: CaseState, action: a.AdGesprekHeld, now: datetime) -> str:
    state.ad_conversations.append(AdConversation(party=action.party, on=action.on, action_id=action.action_id))
    return f"AD-onderzoek: {_GESPREK[action.party]}"


def _ad_concluded(state: CaseState, action: a.AdOnderzoekConcluded, now: datetime) -> str:
    conclusion = action.answers()
    assert conclusion is not None  # the check asks for the answers
    state.ad_conclusion = conclusion
    state.ad_report_reference = action.report_reference
    if state.ad_started_on is None:
        state.ad_started_on = action.on
    if state.stage in (Stage.SPOOR1, Stage.AD_ONDERZOEK):
        target = Stage.AD_ONDERZOEK if conclusion is AdConclusion.SPOOR2 else Stage.SPOOR1
        _set_stage(state, target, on=action.on, now=now, actor=action.actor)
    if action.own_work_possible is None:
        return f"AD-onderzoek concluded: {conclusion.value}"
    steps = ["own work: " + ("possible" if action.own_work_possible else "not possible")]
    if action.other_work_inside_possible is not None:
        steps.append("other work inside: " + ("possible" if action.other_work_inside_possible else "not possible"))
    advice = {
        AdConclusion.EIGEN_WERK: "back to own work",
        AdConclusion.ANDER_WERK_INTERN: "other work inside the organisation",
        AdConclusion.SPOOR2: "advice: spoor 2",
    }[conclusion]
    return f"AD-onderzoek concluded: {'; '.join(steps)}; {advice}"


def _consent(state: CaseState, action: a.Spoor2ConsentGiven, now: datetime) -> str:
    state.spoor2_consent_on = action.on
    return "Bedrijfsarts consents to an early start of spoor 2"


def _spoor2_started(state: CaseState, action: a.Spoor2Started, now: datetime) -> str:
    state.spoor2_started_on, state.spoor2_ended_on, state.spoor2_result = action.on, None, None
    state.spoor2_started_by = action.actor
    if state.stage is not Stage.WIA:
        _set_stage(state, Stage.SPOOR2, on=action.on, now=now, actor=action.actor)
    return "Spoor 2 started"


def _spoor2_ended(state: CaseState, action: a.Spoor2Ended, now: datetime) -> str:
    state.spoor2_ended_on, state.spoor2_result = action.on, action.result
    return f"Spoor 2 ended: {action.result.value}"


def _partial(state: CaseState, action: a.PartialRecovery, now: datetime) -> str:
    state.partial_recovery = PartialRecoveryRecord(
        on=action.on, hours_per_week=action.hours_per_week, percentage=action.percentage
    )
    return "Partial recovery recorded"


def _full_recovery(state: CaseState, action: a.FullRecovery, now: datetime) -> str:
    last = state.periods[-1]
    state.periods[-1] = SickPeriod(start=last.start, end=action.on)
    closes = action.on + timedelta(days=state.ruleset.four_week_rule_days)
    return f"Fully recovered, back at work on {action.on}; the case closes on {closes} unless the employee relapses"


def _relapse(state: CaseState, action: a.Relapse, now: datetime) -> str:
    assert state.recovered_on is not None  # _check_relapse
    gap = (action.on - state.recovered_on).days
    state.periods.append(SickPeriod(start=action.on))
    return f"Relapse after {gap} days: the clock resumes and later deadlines move by {gap} days"


def _deviation(state: CaseState, action: a.DeadlineDeviation, now: datetime) -> str:
    if state.revision >= FACTS_REVISION:
        return _deviation_with_term(state, action)
    view = _current_view(state, action.deadline, action.on)
    mark = view.mark if view is not None else action.deadline
    state.deviations[mark] = Deviation(
        reason=action.reason, new_due=action.new_due, on=action.on, action_id=action.action_id
    )
    if mark in state.overdue_marked and action.new_due is not None:
        state.overdue_marked.remove(mark)  # overdue again, and notified again, if the new date passes too
    return f"Deviation from {mark}: " + (f"moved to {action.new_due}" if action.new_due else "waived")


def _deviation_with_term(state: CaseState, action: a.DeadlineDeviation) -> str:
    """Revision 1: the deviation keeps the term it concerns and whether its reason came after that term."""
    view = _deviation_view(state, action, action.on)
    mark = view.mark if view is not None else action.deadline
    term = view.due if view is not None else None
    after = term is not None and action.on > term
    state.deviations[mark] = Deviation(
        reason=action.reason,
        new_due=action.new_due,
        on=action.on,
        action_id=action.action_id,
        term=term,
        given_after_term=after,
    )
    # The overdue observations this disproves are superseded by `reconcile` once the entry is recorded.
    when = f" (reason given after the term of {term})" if after else ""
    if view is not None and view.status is DeadlineStatus.DONE:
        return f"Reason for the lateness of {mark} (done {view.done_on}){when}"
    return f"Deviation from {mark}: " + (f"moved to {action.new_due}" if action.new_due else "waived") + when


def _correct_first_sick_day(state: CaseState, action: a.FirstSickDayCorrected, now: datetime) -> str:
    old = state.periods[0]
    state.periods[0] = SickPeriod(start=action.first_sick_day, end=old.end)
    return (
        f"First sick day corrected from {old.start} to {action.first_sick_day}; every term is planned anew. "
        f"Reason: {action.reason}"
    )


def _leave_started(state: CaseState, action: a.LeaveStarted, now: datetime) -> str:
    last = state.periods[-1]
    state.periods[-1] = SickPeriod(start=last.start, end=action.on, paused_for=action.leave)
    rule = state.ruleset.pause(action.leave)
    assert rule is not None  # the action's leave is one of the ruleset's pauses (checked)
    label = rule.label
    return f"{label} from {action.on}: the illness does not count meanwhile; every later term moves by the leave"


def _leave_ended(state: CaseState, action: a.LeaveEnded, now: datetime) -> str:
    leave = state.on_leave
    assert leave is not None and leave.end is not None  # the check asks for it
    state.periods.append(SickPeriod(start=action.on))
    return f"Leave ended after {(action.on - leave.end).days} days; the clock resumes on {action.on}"


def _do_requested(state: CaseState, action: a.DeskundigenoordeelRequested, now: datetime) -> str:
    state.deskundigenoordelen.append(
        DeskundigenoordeelRecord(
            request_id=action.action_id,
            requested_by=Role(action.requested_by),
            question=action.question,
            requested_on=action.on,
        )
    )
    return f"Deskundigenoordeel requested by the {action.requested_by}"


def _do_answered(state: CaseState, action: a.DeskundigenoordeelAnswered, now: datetime) -> str:
    for r in state.deskundigenoordelen:
        if r.request_id == action.request_id:
            r.answered_on, r.conclusion = action.on, action.conclusion
    return "Deskundigenoordeel received"


def _loonsanctie(state: CaseState, action: a.LoonsanctieImposed, now: datetime) -> str:
    state.loonsanctie = Loonsanctie(imposed_on=action.on, weeks=action.weeks)
    return f"Loonsanctie of {action.weeks} weeks imposed; the waiting time now ends {wachttijd_end(state)}"


def _repair_reported(state: CaseState, action: a.RepairReported, now: datetime) -> str:
    assert state.loonsanctie is not None  # checked: a repair needs a loonsanctie
    state.loonsanctie.repair_reported_on = action.on
    return "Repair of the re-integration shortcomings reported to UWV"


def _repair_accepted(state: CaseState, action: a.RepairAccepted, now: datetime) -> str:
    assert state.loonsanctie is not None  # checked: a repair needs a loonsanctie
    state.loonsanctie.repair_accepted_on = action.on
    return f"Repair accepted; the loonsanctie ends {wachttijd_end(state)}"


def _extension(state: CaseState, action: a.VoluntaryExtension, now: datetime) -> str:
    state.voluntary_extension_weeks += action.weeks
    return f"Waiting time voluntarily extended by {action.weeks} weeks; it now ends {wachttijd_end(state)}"


def _stagnation_reported(state: CaseState, action: a.StagnationReported, now: datetime) -> str:
    return f"Stagnation reported by the {action.actor.role.value}"


def _non_cooperation(state: CaseState, action: a.NonCooperationRecorded, now: datetime) -> str:
    return "The employee does not cooperate with the re-integration"


def _acknowledged(state: CaseState, action: a.EscalationAcknowledged, now: datetime) -> str:
    assert state.watch is not None and state.stagnation_rules is not None  # _require_watch
    return st.acknowledge(state.watch, state.stagnation_rules, on=action.on, reason=action.reason, actor=action.actor)


def _measure_taken(state: CaseState, action: a.MeasureTaken, now: datetime) -> str:
    assert state.watch is not None and state.stagnation_rules is not None  # _require_watch
    return st.measure_taken(state.watch, state.stagnation_rules, key=action.measure, on=action.on)


def _assigned(state: CaseState, action: a.PersonAssigned, now: datetime) -> str:
    ids = [i for i in state.assigned.get(action.role, []) if i != action.replaces]
    state.assigned[action.role] = [*ids, action.person_id]
    if action.replaces is not None:
        return f"{action.role.value} {action.replaces} handed the case over to {action.person_id}"
    return f"{action.role.value} {action.person_id} assigned"


def _unassigned(state: CaseState, action: a.PersonUnassigned, now: datetime) -> str:
    ids = [i for i in state.assigned.get(action.role, []) if i != action.person_id]
    if ids:
        state.assigned[action.role] = ids
    else:
        state.assigned.pop(action.role, None)
    return f"{action.role.value} {action.person_id} no longer assigned" + (
        "" if ids else f"; the case is open to every {action.role.value} again"
    )


def _contacts(state: CaseState, action: a.ContactsUpdated, now: datetime) -> str:
    if action.addresses:
        state.contacts[action.recipient_role] = list(action.addresses)
    else:
        state.contacts.pop(action.recipient_role, None)
    n = len(action.addresses)
    return (
        f"Contacts of the {action.recipient_role.value} updated ({n} address{'es' if n != 1 else ''})"
        if n
        else f"Contacts of the {action.recipient_role.value} removed: the configured defaults apply"
    )


def _wia(state: CaseState, action: a.WiaAanvraagFiled, now: datetime) -> str:
    _set_stage(state, Stage.WIA, on=action.on, now=now, actor=action.actor)
    if action.late_cause is not Role.WERKGEVER:
        return "WIA application filed" + (" late, by the employee's doing" if action.late_cause else "")
    view = _current_view(state, "wia_aanvraag", action.on)
    due = view.due if view is not None else None  # its term (a deviation's new date, if any)
    delay = (action.on - due).days if due is not None else 0
    state.wage_extension_days += max(delay, 0)
    return (
        f"WIA application filed {delay} days late by the employer's doing: the wage payment runs {delay} days "
        f"longer (BW 7:629 lid 11 sub a), until {wachttijd_end(state)}"
    )


def _withdrawn(state: CaseState, action: a.CaseWithdrawn, now: datetime) -> str:
    _close(state, Outcome.INGETROKKEN, on=action.on, now=now, summary="Case withdrawn", actor=action.actor)
    return f"Withdrawn: {action.reason}"


def _document_requested(state: CaseState, action: a.DocumentRequested, now: datetime) -> str:
    start, end = _period(state, action) if action.document is DocumentKind.VOORTGANGSRAPPORTAGE else (None, None)
    state.document_requests.append(
        DocumentOrder(
            order_id=f"request:{action.action_id}",
            kind=action.document,
            audience=action.audience,
            as_of=action.on,
            period_start=start,
            period_end=end,
            requested_by=action.actor,
            action_id=action.action_id,
        )
    )
    return f"Document requested: {action.document.value} ({action.audience.value} version)"


def _oordeel(state: CaseState, action: a.BedrijfsartsOordeel, now: datetime) -> str:
    return "Actueel oordeel of the bedrijfsarts recorded"


_EFFECTS: dict[str, Callable[[CaseState, Any, datetime], str | None]] = {
    "document_requested": _document_requested,
    "bedrijfsarts_oordeel": _oordeel,
    "probleemanalyse_recorded": _pa,
    "evaluatie_held": _evaluatie,
    "ad_onderzoek_started": _ad_started,
    "ad_gesprek_held": _ad_gesprek,
    "ad_onderzoek_concluded": _ad_concluded,
    "spoor2_consent_given": _consent,
    "spoor2_started": _spoor2_started,
    "spoor2_ended": _spoor2_ended,
    "partial_recovery": _partial,
    "full_recovery": _full_recovery,
    "relapse": _relapse,
    "deadline_deviation": _deviation,
    "first_sick_day_corrected": _correct_first_sick_day,
    "leave_started": _leave_started,
    "leave_ended": _leave_ended,
    "deskundigenoordeel_requested": _do_requested,
    "deskundigenoordeel_answered": _do_answered,
    "loonsanctie_imposed": _loonsanctie,
    "repair_reported": _repair_reported,
    "repair_accepted": _repair_accepted,
    "voluntary_extension": _extension,
    "wia_aanvraag_filed": _wia,
    "case_withdrawn": _withdrawn,
    "stagnation_reported": _stagnation_reported,
    "non_cooperation_recorded": _non_cooperation,
    "escalation_acknowledged": _acknowledged,
    "measure_taken": _measure_taken,
    "contacts_updated": _contacts,
    "person_assigned": _assigned,
    "person_unassigned": _unassigned,
    "employee_details_corrected": _employee_corrected,
}
assert set(_CHECKS) <= set(a.ACTION_ROLES) and set(_EFFECTS) <= set(a.ACTION_ROLES)


# --------------------------------------------------------------------------- the spoor 2 trajectory


def trajectory_started(state: CaseState) -> None:
    """The trajectory workflow runs; the case no longer needs to start it."""
    state.trajectory_started = True
    state.spoor2_status = state.spoor2_status or Spoor2Status.AANMELDING


def end_trajectory_with_case(state: CaseState, *, now: datetime) -> bool:
    """A case that closed while its trajectory ran ends spoor 2 on the closing day; True if it did."""
    if not (state.closed and state.trajectory_started and state.spoor2_ended_on is None):
        return False
    state.spoor2_ended_on = state.closed_on
    state.spoor2_status, state.spoor2_phase = Spoor2Status.BEEINDIGD, None
    assert state.closed_on is not None  # a closed case has its closing day
    state.record(
        now=now,
        on=state.closed_on,
        actor=SYSTEM,
        kind="spoor2_ended_with_case",
        summary="The spoor 2 trajectory ends with the case",
    )
    return True


def apply_trajectory_update(state: CaseState, update: TrajectoryUpdate, *, now: datetime) -> bool:
    """Copy the trajectory's new record entries into the dossier and follow its outcome.

    Entries already seen (a re-sent update) are skipped, so the dossier gets each once. Returns
    whether the case changed.
    """
    fresh = [e for e in update.events if e.seq > state.trajectory_entries_seen]
    unchanged = (update.status, update.phase, update.expectation) == (
        state.spoor2_status,
        state.spoor2_phase,
        state.trajectory_expectation,
    )
    if not fresh and unchanged:
        return False
    for e in fresh:
        copy = state.record(
            now=now,
            on=e.on,
            actor=e.actor,
            kind=f"spoor2:{e.kind}",
            summary=e.summary,
            action_id=e.action_id,
            details={**e.details, "trajectory_seq": e.seq},
            register=False,
        )
        state.trajectory_entries_seen = e.seq
        if state.watch is not None:
            _watch_trajectory_entry(state, e, copy.seq)
    state.spoor2_status, state.spoor2_phase = update.status, update.phase
    state.spoor2_coach_id = update.coach_id or state.spoor2_coach_id
    if state.watch is not None:
        state.trajectory_expectation = update.expectation
    outcome = update.outcome
    if outcome is None or state.spoor2_ended_on is not None or state.closed:
        return True
    on = update.ended_on or (fresh[-1].on if fresh else now.date())
    state.spoor2_ended_on = on
    if outcome is Spoor2Outcome.CASE_CLOSED:
        return True
    state.spoor2_result = _CASE_RESULT[outcome]
    if outcome is Spoor2Outcome.NIEUW_WERK:
        _close(
            state,
            Outcome.NIEUW_WERK,
            on=on,
            now=now,
            summary="Spoor 2: the employee starts work with a new employer (hersteldmelding); the case closes",
        )
    elif outcome in (Spoor2Outcome.DETACHERING, Spoor2Outcome.WERKRITMEPLAATS):
        state.record(
            now=now,
            on=on,
            actor=SYSTEM,
            kind="spoor2_outcome",
            summary=f"Spoor 2: {outcome.value} until the end of the waiting time ({wachttijd_end(state)})",
            details={"outcome": outcome.value},
        )
    else:
        state.record(
            now=now,
            on=on,
            actor=SYSTEM,
            kind="spoor2_outcome",
            summary=f"Spoor 2 ended ({outcome.value}); the trajectory's record goes with the WIA application",
            details={"outcome": outcome.value},
        )
        _set_stage(state, Stage.WIA, on=on, now=now, actor=SYSTEM)
    return True


def _watch_trajectory_entry(state: CaseState, e: DossierEntry, seq: int) -> None:
    """A trajectory entry seen by the watch: a person's step is activity; a flag is for the case manager."""
    if e.actor.role is not Role.SYSTEEM:
        assert state.watch is not None
        st.activity(state.watch, on=e.on, seq=seq)
    if e.kind in TRAJECTORY_FLAGS:
        state.outbox.append(
            _note(
                state,
                Role.CASEMANAGER,
                key=f"spoor2:{e.kind}:{e.details.get('due')}",
                kind=f"spoor2_{e.kind}",
                subject=f"Case {state.case_id}: spoor 2 needs attention",
                body=f"Spoor 2 trajectory of case {state.case_id}: {e.summary}.",
                subject_text=flag_subject(state.case_id),
                body_text=flag_body(state.case_id, e.kind, e.details.get("due")),
            )
        )


# --------------------------------------------------------------------------- views


class CaseSummary(BaseModel):
    """What the operations overview shows of a case."""

    case_id: str
    employer_id: str
    stage: Stage
    outcome: Outcome | None
    closed_on: date | None
    first_sick_day: date
    ruleset: str
    illness_day: int
    illness_week: int
    recovered_on: date | None
    on_leave: str | None = Field(default=None, description="The leave that pauses the clock now (its label)")
    on_leave_since: date | None = None
    closes_on_without_relapse: date | None
    next_deadline: DeadlineView | None
    overdue: list[str]
    wachttijd_ends: date | None
    spoor2_running: bool
    spoor2_status: Spoor2Status | None
    spoor2_phase: int | None
    spoor2_coach_id: str | None = None
    spoor2_result: a.Spoor2Result | None
    assigned: dict[Role, list[str]] = Field(
        default_factory=dict, description="Who is assigned per role (domain.access)"
    )
    employee: Employee | None = Field(default=None, description="The employee's name and personnel number")
    loonsanctie: Loonsanctie | None
    escalation_level: int | None = Field(default=None, description="0-3; None for cases without the watch")
    escalation_reason: str | None = None
    stalled_since: date | None = None
    expected: Expectation | None = Field(default=None, description="The activity the case expects next, by when")


def _leave_label(state: CaseState) -> str | None:
    leave = state.on_leave
    if leave is None:
        return None
    assert leave.paused_for is not None  # on_leave: a period that leave paused
    rule = state.ruleset.pause(leave.paused_for)
    return rule.label if rule is not None else leave.paused_for


def summarize(state: CaseState, today: date) -> CaseSummary:
    """The case at a glance as of `today`."""
    as_of = min(today, state.closed_on) if state.closed_on else today
    views = deadlines(state, as_of)
    day = state.clock.day_of_date(as_of)
    recovered = state.recovered_on
    return CaseSummary(
        case_id=state.case_id,
        employer_id=state.employer_id,
        stage=state.stage,
        outcome=state.outcome,
        closed_on=state.closed_on,
        first_sick_day=state.first_sick_day,
        ruleset=state.ruleset.id,
        illness_day=day,
        illness_week=(day + 6) // 7,
        recovered_on=recovered,
        on_leave=_leave_label(state),
        on_leave_since=state.on_leave.end if state.on_leave else None,
        closes_on_without_relapse=(
            recovered + timedelta(days=state.ruleset.four_week_rule_days) if recovered and not state.closed else None
        ),
        # Nothing is due on a closed case any more; its deadlines stay visible in `deadlines`.
        next_deadline=None if state.closed else next_deadline(views),
        overdue=[] if state.closed else [v.mark for v in views if v.status is DeadlineStatus.OVERDUE],
        wachttijd_ends=wachttijd_end(state),
        spoor2_running=state.spoor2_running,
        spoor2_status=state.spoor2_status,
        spoor2_phase=state.spoor2_phase,
        spoor2_coach_id=state.spoor2_coach_id,
        spoor2_result=state.spoor2_result,
        assigned=state.assigned,
        employee=state.employee,
        loonsanctie=state.loonsanctie,
        escalation_level=state.watch.level if state.watch else None,
        escalation_reason=state.watch.reason if state.watch else None,
        stalled_since=state.watch.since if state.watch else None,
        expected=expectation(state),
    )


# --------------------------------------------------------------------------- documents (version 5)


def document_rendered(state: CaseState, ref: DocumentRef, *, now: datetime) -> DossierEntry:
    """Record where a rendered document is stored and its content hash; the document itself stays out."""
    order = ref.order
    state.documents_done.append(order.order_id)
    state.documents.append(ref)
    state.document_requests = [o for o in state.document_requests if o.order_id != order.order_id]
    return state.record(
        now=now,
        on=order.as_of,
        actor=SYSTEM,
        kind="document_rendered",
        summary=f"{ref.title} ({order.audience.value} version) rendered and stored",
        details={
            "order_id": order.order_id,
            "document": order.kind.value,
            "audience": order.audience.value,
            "pdf": ref.pdf.model_dump(),
            "html": ref.html.model_dump(),
        },
    )


def document_failed(state: CaseState, order: DocumentOrder, reason: str, *, today: date, now: datetime) -> DossierEntry:
    """Rendering gave up: the dossier says so and the case manager may request it again."""
    state.documents_done.append(order.order_id)
    state.document_requests = [o for o in state.document_requests if o.order_id != order.order_id]
    state.outbox.append(
        Notification(
            notification_id=f"{state.case_id}:document_failed:{order.order_id}",
            case_id=state.case_id,
            recipient_role=Role.CASEMANAGER,
            recipients=state.contacts.get(Role.CASEMANAGER, []),
            kind="document_failed",
            subject=f"Case {state.case_id}: the {order.kind.value} could not be made",
            body=f"The {order.kind.value} of case {state.case_id} (as of {order.as_of}) could not be rendered or stored. "
            "Request it again (document_requested) once the document store is reachable.",
            subject_text=text(
                N_("Case %(case)s: the %(document)s could not be made"),
                case=state.case_id,
                document=text(glossary.label(glossary.DOCUMENTS, order.kind)),
            ),
            body_text=text(
                N_(
                    "The %(document)s of case %(case)s (as of %(day)s) could not be rendered or stored. Request "
                    "it again (document_requested) once the document store is reachable."
                ),
                document=text(glossary.label(glossary.DOCUMENTS, order.kind)),
                case=state.case_id,
                day=order.as_of,
            ),
        )
    )
    return state.record(
        now=now,
        on=today,
        actor=SYSTEM,
        kind="document_failed",
        summary=f"{order.kind.value} could not be made: {reason[:200]}",
        details={"order_id": order.order_id, "document": order.kind.value},
    )
