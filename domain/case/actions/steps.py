"""The statutory steps as actions: ziekmelding, probleemanalyse, plan van aanpak, evaluations, the re-integratieverslag, the WIA aanvraag, a deviation from a term, a voluntary extension."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.access import ADMIN, ALL_PARTIES
from domain.case.deadlines import DeadlineView, current_view, deadlines, wachttijd_end
from domain.case.stages import set_stage
from domain.case.state import CaseState, Deviation, DoneStep
from domain.case.uwv import open_message
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import DeadlineStatus, OpaqueId, Role, Stage
from domain.uwv import MessageKind

# The steps of the re-integratieverslag that a rule set may hold apart.
EINDEVALUATIE = "eindevaluatie"
OORDEEL_WERKNEMER = "oordeel_werknemer"


View = Annotated[str, Field(min_length=1, max_length=4000)]


class ZiekmeldingArbodienstSent(ActionBase):
    kind: Literal["ziekmelding_arbodienst_sent"]


class ProbleemanalyseRecorded(ActionBase):
    kind: Literal["probleemanalyse_recorded"]
    belastbaarheid_hours_per_day: float | None = Field(default=None, ge=0, le=24)


class PlanVanAanpakAgreed(ActionBase):
    kind: Literal["plan_van_aanpak_agreed"]
    casemanager_id: OpaqueId = Field(description="The case manager the plan names (opaque id)")
    employer_view: View | None = None
    employee_view: View | None = None


class EvaluatieHeld(ActionBase):
    kind: Literal["evaluatie_held"]


class ZiekmeldingUwvSent(ActionBase):
    kind: Literal["ziekmelding_uwv_sent"]


class EerstejaarsevaluatieHeld(ActionBase):
    kind: Literal["eerstejaarsevaluatie_held"]
    employer_view: View | None = None
    employee_view: View | None = None


class EindevaluatieHeld(ActionBase):
    """The eindevaluatie of the re-integratieverslag: employer and employee look back on the whole re-integration."""

    kind: Literal["eindevaluatie_held"]
    employer_view: View | None = None
    employee_view: View | None = None


class WerknemerOordeelRecorded(ActionBase):
    """The employee's own opinion on the re-integration, a part of the re-integratieverslag (Reg art. 6)."""

    kind: Literal["werknemer_oordeel_recorded"]
    opinion: View = Field(description="In the employee's words; no medical details")
    agrees: bool | None = Field(default=None, description="Does the employee agree with the employer's account?")


class ReintegratieverslagCompleted(ActionBase):
    kind: Literal["reintegratieverslag_completed"]


class WiaAanvraagFiled(ActionBase):
    kind: Literal["wia_aanvraag_filed"]
    late_cause: Literal[Role.WERKGEVER, Role.WERKNEMER] | None = Field(
        default=None,
        description="Filed after its term: whose doing. The employer's extends the wage payment by the "
        "delay (BW 7:629 lid 11 sub a)",
    )


class DeadlineDeviation(ActionBase):
    """Reg art. 5: a term deviated from with its reason; with `new_due` it moves, without it is waived.

    Also the reason for a step already done late, recorded afterwards: `on` is the day the reason was given.
    """

    kind: Literal["deadline_deviation"]
    deadline: str
    reason: str = Field(min_length=10, max_length=2000)
    new_due: date | None = None
    occurrence: int | None = Field(
        default=None, ge=1, le=100, description="For a recurring step (evaluatie): which one; default the open one"
    )


class VoluntaryExtension(ActionBase):
    """WIA art. 24: wage payment extended at the joint request of employer and employee."""

    kind: Literal["voluntary_extension"]
    weeks: int = Field(ge=1)
    employer_agrees: Literal[True]
    employee_agrees: Literal[True]


def _require_views(state: CaseState, action: Any) -> None:
    if action.on >= state.ruleset.views_required_from and not (action.employer_view and action.employee_view):
        raise ActionRefused(
            "employer_view, employee_view: both the employer's and the employee's view on re-integration are required "
            "since %(since)s",
            since=state.ruleset.views_required_from,
        )


def _check_pva(state: CaseState, action: PlanVanAanpakAgreed, today: date) -> None:
    _require_views(state, action)


def _check_eerstejaars(state: CaseState, action: EerstejaarsevaluatieHeld, today: date) -> None:
    _require_views(state, action)


def _part_of_verslag(state: CaseState, action: Any, key: str) -> None:
    """A step that older rule sets keep inside the re-integratieverslag itself."""
    if key not in state.ruleset.keys:
        raise ActionRefused(
            "%(field)s: rule set %(ruleset)s of this case does not hold %(step)s; record it with the "
            "re-integratieverslag",
            field=action.kind,
            ruleset=state.ruleset.id,
            step=key,
        )


def _check_eindevaluatie(state: CaseState, action: EindevaluatieHeld, today: date) -> None:
    _part_of_verslag(state, action, EINDEVALUATIE)
    _require_views(state, action)


def _check_werknemer_oordeel(state: CaseState, action: WerknemerOordeelRecorded, today: date) -> None:
    _part_of_verslag(state, action, OORDEEL_WERKNEMER)


def _check_wia(state: CaseState, action: WiaAanvraagFiled, today: date) -> None:
    view = current_view(state, "wia_aanvraag", today)
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


def _check_ziekmelding_uwv(state: CaseState, action: ZiekmeldingUwvSent, today: date) -> None:
    # Made outside Spoorwerk while one is under way in its outbox, UWV would get the ziekmelding twice.
    waiting = open_message(state, MessageKind.ZIEKMELDING)
    if waiting is not None:
        raise ActionRefused(
            "ziekmelding_uwv_sent: the ziekmelding %(message_id)s to UWV is under way in the outbox; UWV's answer "
            "completes the step",
            message_id=waiting.message_id,
        )


def _check_deviation(state: CaseState, action: DeadlineDeviation, today: date) -> None:
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
    view = deviation_view(state, action, today)
    if view is None:
        raise ActionRefused(
            "occurrence: %(step)s has no occurrence %(occurrence)s yet",
            step=action.deadline,
            occurrence=action.occurrence,
        )
    if view.status is DeadlineStatus.DONE:
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


def _check_extension(state: CaseState, action: VoluntaryExtension, today: date) -> None:
    room = state.ruleset.max_voluntary_extension_weeks - state.wage.voluntary_extension_weeks
    if action.weeks > room:
        raise ActionRefused(
            "weeks: the waiting time may be extended by at most %(limit)s weeks in all; %(room)s remain",
            limit=state.ruleset.max_voluntary_extension_weeks,
            room=room,
        )


def _pa(state: CaseState, action: ProbleemanalyseRecorded, now: datetime) -> str:
    if state.stage is Stage.ZIEKMELDING:
        set_stage(state, Stage.SPOOR1, on=action.on, now=now, actor=action.actor)
    return "Probleemanalyse recorded"


def _evaluatie(state: CaseState, action: EvaluatieHeld, now: datetime) -> str:
    state.evaluations.append(DoneStep(on=action.on, action_id=action.action_id))
    state.evaluations.sort(key=lambda e: e.on)  # one recorded after the fact takes its place in time
    return f"Evaluatie {[e.action_id for e in state.evaluations].index(action.action_id) + 1} held"


def one_evaluatie_a_day(state: CaseState, action: Any) -> ActionRefused | None:
    """A second evaluatie on a day that has one is refused: it is the same conversation recorded twice (a form sent
    again), and counted twice it would make the toets read more evaluations than were held. Validator only: cases
    that recorded two before this rule replay as they were. So it is best-effort for two sends that reach the case in
    one workflow task (all are validated before the first applies); the form's Idempotency-Key covers a resend."""
    if action.kind != "evaluatie_held":
        return None
    same_day = next((e for e in state.evaluations if e.on == action.on and e.action_id != action.action_id), None)
    if same_day is None:
        return None
    return ActionRefused(
        "evaluatie_held: an evaluatie on %(on)s is on record already (dossier line %(line)s); one evaluatie a day "
        "is counted",
        on=action.on,
        line=state.applied_actions.get(same_day.action_id or "", "?"),  # a taken-over one has no action
    )


def _deviation(state: CaseState, action: DeadlineDeviation, now: datetime) -> str:
    """The deviation keeps the term it concerns and whether its reason came after that term."""
    view = deviation_view(state, action, action.on)
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


def _wia(state: CaseState, action: WiaAanvraagFiled, now: datetime) -> str:
    set_stage(state, Stage.WIA, on=action.on, now=now, actor=action.actor)
    if action.late_cause is not Role.WERKGEVER:
        return "WIA application filed" + (" late, by the employee's doing" if action.late_cause else "")
    view = current_view(state, "wia_aanvraag", action.on)
    due = view.due if view is not None else None  # its term (a deviation's new date, if any)
    delay = (action.on - due).days if due is not None else 0
    state.wage.extension_days += max(delay, 0)
    return (
        f"WIA application filed {delay} days late by the employer's doing: the wage payment runs {delay} days "
        f"longer (BW 7:629 lid 11 sub a), until {wachttijd_end(state)}"
    )


def _extension(state: CaseState, action: VoluntaryExtension, now: datetime) -> str:
    state.wage.voluntary_extension_weeks += action.weeks
    return f"Waiting time voluntarily extended by {action.weeks} weeks; it now ends {wachttijd_end(state)}"


def deviation_view(state: CaseState, action: DeadlineDeviation, today: date) -> DeadlineView | None:
    """The occurrence a deviation is about: the one named, else the open one (else the last)."""
    if action.occurrence is None:
        return current_view(state, action.deadline, today)
    return next(
        (v for v in deadlines(state, today) if v.key == action.deadline and v.occurrence == action.occurrence), None
    )


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(ZiekmeldingArbodienstSent, frozenset({Role.WERKGEVER, *ADMIN}), completes="ziekmelding_arbodienst"),
    Declared(ProbleemanalyseRecorded, frozenset({Role.BEDRIJFSARTS}), effect=_pa, completes="probleemanalyse"),
    Declared(
        PlanVanAanpakAgreed,
        frozenset({Role.WERKGEVER, *ADMIN}),
        _check_pva,
        completes="plan_van_aanpak",
        requires="probleemanalyse",
    ),
    Declared(
        EvaluatieHeld,
        frozenset({*ALL_PARTIES, Role.BEDRIJFSARTS}),
        effect=_evaluatie,
        requires="plan_van_aanpak",
        holds="evaluatie",
    ),
    Declared(
        ZiekmeldingUwvSent, frozenset({Role.WERKGEVER, *ADMIN}), _check_ziekmelding_uwv, completes="ziekmelding_uwv"
    ),
    Declared(
        EerstejaarsevaluatieHeld,
        frozenset({Role.WERKGEVER, *ADMIN}),
        _check_eerstejaars,
        completes="eerstejaarsevaluatie",
        requires="plan_van_aanpak",
    ),
    Declared(DeadlineDeviation, frozenset({Role.WERKGEVER, Role.BEDRIJFSARTS, *ADMIN}), _check_deviation, _deviation),
    Declared(VoluntaryExtension, frozenset({Role.WERKGEVER, *ADMIN}), _check_extension, _extension),
    Declared(
        EindevaluatieHeld,
        frozenset({Role.WERKGEVER, *ADMIN}),
        _check_eindevaluatie,
        completes=EINDEVALUATIE,
    ),
    Declared(
        WerknemerOordeelRecorded,
        frozenset({Role.WERKNEMER, *ADMIN}),
        _check_werknemer_oordeel,
        completes=OORDEEL_WERKNEMER,
    ),
    Declared(ReintegratieverslagCompleted, frozenset({Role.WERKGEVER, *ADMIN}), completes="reintegratieverslag"),
    Declared(WiaAanvraagFiled, frozenset({Role.WERKNEMER, *ADMIN}), _check_wia, _wia, completes="wia_aanvraag"),
)
