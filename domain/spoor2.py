"""A spoor 2 trajectory: aanmelding, intake, voorstel, haalbaarheidstoets, phases 1-4, outcome.

Pure like `domain.case`: the trajectory workflow passes in today and records what these return.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from domain import access, glossary
from domain.actions import action_kind, action_models, parse_tagged
from domain.errors import ActionRefused, joined
from domain.messages import N_, Text, text
from domain.models import (
    NOTE_MAX_CHARS,
    SYSTEM,
    ActionId,
    Actor,
    DossierEntry,
    Notification,
    OpaqueId,
    Role,
    append_entry,
    recorded_details,
    retry_refusal,
    sealed_or_plain_note,
    unsealed_note_refusal,
)
from domain.stagnation import Expectation, Spoor2Watch, spoor2_watch

# --------------------------------------------------------------------------- rules as data


class CadenceSegment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int | None = Field(default=None, ge=1)
    every_days: int = Field(ge=1)


class PhaseRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1)
    label: str
    length_weeks: int = Field(ge=1)
    cadence: tuple[CadenceSegment, ...]

    def expected_conversations(self, active_days: int) -> int:
        """Conversations the cadence expects after `active_days` days of the phase."""
        limit = min(active_days, 7 * self.length_weeks)
        t, n = 0, 0
        for i, seg in enumerate(self.cadence):
            last = i == len(self.cadence) - 1
            k = 0
            while (seg.count is None and last) or (seg.count is not None and k < seg.count):
                t += seg.every_days
                if t > limit:
                    return n
                n, k = n + 1, k + 1
        return n

    def gap_after(self, held: int) -> int:
        """Days the cadence allows before the next conversation, after `held` in this phase."""
        for seg in self.cadence:
            if seg.count is None or held < seg.count:
                return seg.every_days
            held -= seg.count
        return self.cadence[-1].every_days


class DocumentRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    needs_hours: bool = False
    roles: tuple[Role, ...]


class Spoor2Rules(BaseModel):
    """The rules a trajectory keeps from its start (domain/spoor2.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intake_within_days: int = Field(ge=1)
    widen_search_after_weeks: int = Field(ge=1)
    document: tuple[DocumentRule, ...]
    phase: tuple[PhaseRule, ...]

    def phase_rule(self, number: int) -> PhaseRule:
        for p in self.phase:
            if p.number == number:
                return p
        raise KeyError(number)

    @property
    def last_phase(self) -> int:
        return max(p.number for p in self.phase)

    def document_rule(self, key: str) -> DocumentRule | None:
        return next((d for d in self.document if d.key == key), None)


def parse_spoor2_rules(text: str) -> Spoor2Rules:
    """Parse domain/spoor2.toml."""
    return Spoor2Rules.model_validate(tomllib.loads(text))


# --------------------------------------------------------------------------- actions


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    if TYPE_CHECKING:
        kind: str  # each action's own Literal; for the checker only (see domain.actions._Action)

    action_id: ActionId
    actor: Actor
    on: date
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)

    @field_validator("note", mode="wrap")
    @classmethod
    def _sealed_or_plain(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        # A bedrijfsarts's note arrives sealed (domain.models.sealed_or_plain_note), longer than the text it hides.
        return sealed_or_plain_note(value, handler, info.data.get("actor"))


Reference = Annotated[
    str, Field(min_length=1, max_length=200, description="Where the document is kept, not its content")
]
Ground = Annotated[str, Field(min_length=3, max_length=4000)]


class DocumentReceived(_Action):
    kind: Literal["document_received"]
    document: str
    reference: Reference
    belastbaarheid_hours_per_day: float | None = Field(default=None, gt=0, le=24)


class IntakeHeld(_Action):
    kind: Literal["intake_held"]
    coach_id: OpaqueId


class ProposalSent(_Action):
    kind: Literal["proposal_sent"]


class PurchaseApproved(_Action):
    """The employer buys the whole trajectory at once, or one phase."""

    kind: Literal["purchase_approved"]
    scope: Literal["whole", "phase"]
    phase: int | None = Field(default=None, ge=1)


class CoachReplaced(_Action):
    kind: Literal["coach_replaced"]
    coach_id: OpaqueId
    reason: str = Field(min_length=3, max_length=1000)


class Grounds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    belastbaarheid: Ground
    skills: Ground
    coping: Ground
    circumstances: Ground
    labour_market: Ground


class CoachMatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str | None = Field(default=None, max_length=100)
    sector: str | None = Field(default=None, max_length=100)
    learning_style: str | None = Field(default=None, max_length=100)


class HaalbaarheidstoetsDecided(_Action):
    kind: Literal["haalbaarheidstoets_decided"]
    decision: Literal["go", "no_go"]
    grounds: Grounds
    zoekprofiel: str | None = Field(default=None, min_length=3, max_length=4000)
    coach_id: OpaqueId | None = None
    coach_match: CoachMatch | None = None
    report_reference: Reference | None = None


class PhaseStarted(_Action):
    kind: Literal["phase_started"]
    phase: int = Field(ge=1)


class PhaseCompleted(_Action):
    kind: Literal["phase_completed"]
    phase: int = Field(ge=1)


class ActivityKind(StrEnum):
    CONVERSATION = "conversation"
    APPLICATION = "application"
    INTERVIEW = "interview"
    TRIAL_PLACEMENT = "trial_placement"  # proefplaatsing
    SECONDMENT = "secondment"  # detachering
    WERKRITMEPLAATS = "werkritmeplaats"
    JOB_OFFER = "job_offer"
    INTERNSHIP = "internship"
    PROGRESS_MEETING = "progress_meeting"  # voortgangsgesprek employer-employee (every 6 weeks)
    PROGRESS_REPORT = "progress_report"  # written voortgangsrapportage (monthly)


class ActivityRecorded(_Action):
    kind: Literal["activity_recorded"]
    activity: ActivityKind


class ServiceRequested(_Action):
    kind: Literal["service_requested"]
    service: str = Field(min_length=3, max_length=200)


class ServiceApproved(_Action):
    kind: Literal["service_approved"]
    request_id: ActionId


class ServiceStarted(_Action):
    kind: Literal["service_started"]
    request_id: ActionId


class PhasePaused(_Action):
    """Illness or rehabilitation stops the phase clock, with the bedrijfsarts's consent."""

    kind: Literal["phase_paused"]
    reason: Literal["illness", "rehabilitation"]
    bedrijfsarts_consent_on: date


class PhaseResumed(_Action):
    kind: Literal["phase_resumed"]


class Spoor2Outcome(StrEnum):
    NIEUW_WERK = "nieuw_werk"  # job with a new employer: the case closes on recovery
    DETACHERING = "detachering"  # secondment until the end of the waiting time
    WERKRITMEPLAATS = "werkritmeplaats"
    GEEN_RESULTAAT = "geen_resultaat"  # on to the WIA application with the trajectory's record
    NO_GO = "no_go"  # ended by the haalbaarheidstoets
    CASE_CLOSED = "case_closed"  # the case ended first (recovery, end of waiting time, withdrawal)


class OutcomeRecorded(_Action):
    kind: Literal["outcome_recorded"]
    outcome: Literal[
        Spoor2Outcome.NIEUW_WERK, Spoor2Outcome.DETACHERING, Spoor2Outcome.WERKRITMEPLAATS, Spoor2Outcome.GEEN_RESULTAAT
    ]


Spoor2Action = Annotated[
    Union[
        DocumentReceived,
        IntakeHeld,
        ProposalSent,
        PurchaseApproved,
        CoachReplaced,
        HaalbaarheidstoetsDecided,
        PhaseStarted,
        PhaseCompleted,
        ActivityRecorded,
        ServiceRequested,
        ServiceApproved,
        ServiceStarted,
        PhasePaused,
        PhaseResumed,
        OutcomeRecorded,
    ],
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Spoor2Action)
SPOOR2_ACTION_KINDS: tuple[str, ...] = tuple(action_kind(m) for m in action_models(Spoor2Action))

_ADMIN = {Role.CASEMANAGER, Role.OPERATIONS}
_COACH = {Role.REINTEGRATIECOACH, *_ADMIN}
SPOOR2_ACTION_ROLES: dict[str, frozenset[Role]] = {
    "document_received": frozenset(Role) - {Role.SYSTEEM},  # narrowed per document by the rules
    "intake_held": frozenset(_COACH),
    "proposal_sent": frozenset(_COACH),
    "purchase_approved": frozenset({Role.WERKGEVER}),
    "coach_replaced": frozenset(_COACH),
    "haalbaarheidstoets_decided": frozenset(_COACH),
    "phase_started": frozenset(_COACH),
    "phase_completed": frozenset(_COACH),
    "activity_recorded": frozenset({*_COACH, Role.WERKNEMER}),
    "service_requested": frozenset({*_COACH, Role.WERKNEMER}),
    "service_approved": frozenset({Role.WERKGEVER}),
    "service_started": frozenset(_COACH),
    "phase_paused": frozenset({*_COACH, Role.BEDRIJFSARTS}),
    "phase_resumed": frozenset({*_COACH, Role.BEDRIJFSARTS}),
    "outcome_recorded": frozenset(_COACH),
}
assert set(SPOOR2_ACTION_ROLES) == set(SPOOR2_ACTION_KINDS)


def parse_spoor2_action(raw: Any, *, strict: bool = False) -> Any:
    """Validate a raw trajectory action; refuses with the failing fields and reasons."""
    return parse_tagged(_ADAPTER, SPOOR2_ACTION_KINDS, raw, "spoor 2 action", strict=strict)


# --------------------------------------------------------------------------- state


class Spoor2Status(StrEnum):
    AANMELDING = "aanmelding"  # collecting the intake documents
    INTAKE = "intake"  # documents complete, intake due within a week
    VOORSTEL = "voorstel"  # intake held; proposal to be sent and approved
    HAALBAARHEIDSTOETS = "haalbaarheidstoets"  # approved; go / no-go to decide
    FASE = "fase"  # a phase runs
    WACHT_OP_FASE = "wacht_op_fase"  # the next phase is not started (or not approved) yet
    GEPAUZEERD = "gepauzeerd"
    AFGEROND = "afgerond"  # the last phase is done; the outcome is to be recorded
    BEEINDIGD = "beeindigd"


class DocumentRecord(BaseModel):
    reference: str
    on: date
    belastbaarheid_hours_per_day: float | None = None


class PhaseRecord(BaseModel):
    number: int
    started_on: date
    completed_on: date | None = None
    paused_days: int = 0
    time_up_flagged: bool = False

    def ends_on(self, rule: PhaseRule) -> date:
        """The last day of the phase, its clock stopped for every pause."""
        return self.started_on + timedelta(weeks=rule.length_weeks, days=self.paused_days - 1)


class PauseRecord(BaseModel):
    on: date
    reason: str
    consent_on: date
    resumed_on: date | None = None


class ServiceRecord(BaseModel):
    request_id: str
    service: str
    requested_on: date
    approved_on: date | None = None
    started_on: date | None = None


class ActivityRecord(BaseModel):
    activity: ActivityKind
    on: date
    phase: int | None


class HaalbaarheidRecord(BaseModel):
    decision: Literal["go", "no_go"]
    on: date
    grounds: Grounds
    zoekprofiel: str | None = None
    report_reference: str | None = None


# One line of the trajectory's record; the case's dossier gets a copy of each.
TrajectoryEvent = DossierEntry


class TrajectoryState(BaseModel):
    case_id: str
    started_on: date
    rules: Spoor2Rules
    documents: dict[str, DocumentRecord] = Field(default_factory=dict)
    documents_complete_on: date | None = None
    intake_on: date | None = None
    intake_late_flagged: bool = False
    coach_id: str | None = None
    coach_history: list[str] = Field(default_factory=list)
    proposal_on: date | None = None
    whole_trajectory_approved_on: date | None = None
    approved_phases: list[int] = Field(default_factory=list)
    haalbaarheid: HaalbaarheidRecord | None = None
    phases: list[PhaseRecord] = Field(default_factory=list)
    pauses: list[PauseRecord] = Field(default_factory=list)
    services: list[ServiceRecord] = Field(default_factory=list)
    activities: list[ActivityRecord] = Field(default_factory=list)
    search_widened_on: date | None = None
    outcome: Spoor2Outcome | None = None
    ended_on: date | None = None
    watch: tuple[Spoor2Watch, ...] | None = Field(
        default=None, description="Version 3: what each status expects; the case notifies and escalates"
    )
    record: list[TrajectoryEvent] = Field(default_factory=list)
    applied_actions: dict[str, int] = Field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.outcome is not None

    @property
    def current_phase(self) -> PhaseRecord | None:
        """The phase that runs (started, not completed)."""
        if self.phases and self.phases[-1].completed_on is None:
            return self.phases[-1]
        return None

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].resumed_on is None

    @property
    def status(self) -> Spoor2Status:
        if self.ended:
            return Spoor2Status.BEEINDIGD
        if self.paused:
            return Spoor2Status.GEPAUZEERD
        if self.current_phase is not None:
            return Spoor2Status.FASE
        if self.phases:
            return (
                Spoor2Status.AFGEROND if self.phases[-1].number >= self.rules.last_phase else Spoor2Status.WACHT_OP_FASE
            )
        if self.haalbaarheid is not None:
            return Spoor2Status.WACHT_OP_FASE
        if self.whole_trajectory_approved_on or self.approved_phases:
            return Spoor2Status.HAALBAARHEIDSTOETS
        if self.intake_on is not None:
            return Spoor2Status.VOORSTEL
        if self.documents_complete_on is not None:
            return Spoor2Status.INTAKE
        return Spoor2Status.AANMELDING

    def phase_approved(self, number: int) -> bool:
        return self.whole_trajectory_approved_on is not None or number in self.approved_phases

    def log(
        self,
        *,
        now: datetime,
        on: date,
        actor: Actor,
        kind: str,
        summary: str,
        action_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> TrajectoryEvent:
        return append_entry(
            self.record,
            self.applied_actions,
            recorded_at=now,
            on=on,
            actor=actor,
            kind=kind,
            summary=summary,
            action_id=action_id,
            details=details or {},
        )


class TrajectoryUpdate(BaseModel):
    """What the case learns from its trajectory after each change: status and new record entries."""

    status: Spoor2Status
    phase: int | None
    outcome: Spoor2Outcome | None
    ended_on: date | None
    events: list[TrajectoryEvent]
    expectation: Expectation | None = Field(default=None, description="What the trajectory expects next (version 3)")
    coach_id: str | None = None


def update_for_case(state: TrajectoryState, since: int) -> TrajectoryUpdate:
    """The trajectory's status and the record entries after the first `since`."""
    current = state.current_phase
    return TrajectoryUpdate(
        status=state.status,
        phase=current.number if current else None,
        outcome=state.outcome,
        ended_on=state.ended_on,
        events=state.record[since:],
        expectation=expectation(state),
        coach_id=state.coach_id,
    )


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


# --------------------------------------------------------------------------- checks


def _date_ok(state: TrajectoryState, on: date, today: date, field: str = "on") -> None:
    if on < state.started_on:
        raise ActionRefused(
            "%(field)s: %(on)s is before spoor 2 started (%(started_on)s)",
            field=field,
            on=on,
            started_on=state.started_on,
        )
    if on > today:
        raise ActionRefused("%(field)s: %(on)s is in the future (today is %(today)s)", field=field, on=on, today=today)


def check(state: TrajectoryState, action: Any, today: date) -> None:
    """Refuse, with the reason, an action that does not fit the trajectory; else return."""
    kind: str = action.kind
    seq = state.applied_actions.get(action.action_id)
    if seq is not None:  # a retry: answered from the record to the same request only, never applied twice
        refusal = retry_refusal(state.record[seq - 1], action)
        if refusal is not None:
            raise refusal
        return
    if state.ended:
        raise ActionRefused(
            "%(field)s: the trajectory has ended (%(result)s on %(ended_on)s); no action is accepted any more",
            field=kind,
            result=state.outcome,
            ended_on=state.ended_on,
        )
    allowed = SPOOR2_ACTION_ROLES[kind]
    if action.actor.role not in allowed:
        raise ActionRefused(
            "actor.role: the role %(role)s may not record \u201c%(kind)s\u201d (allowed: %(roles)s)",
            role=action.actor.role,
            kind=kind,
            roles=joined(allowed),
        )
    _date_ok(state, action.on, today)
    if state.paused and kind not in ("phase_resumed", "activity_recorded", "document_received", "outcome_recorded"):
        raise ActionRefused(
            "%(field)s: the trajectory is paused since %(on)s; record \u201c%(next_kind)s\u201d first",
            field=kind,
            on=state.pauses[-1].on,
            next_kind="phase_resumed",
        )
    _CHECKS[kind](state, action, today)


def validate(state: TrajectoryState, action: Any, today: date) -> None:
    """The update validator's check: `check`, and the coach the intake named is the only coach who acts.

    Only in the validator, never in `apply`: a trajectory recorded before this rule replays as it was
    (a refused update never enters a history)."""
    check(state, action, today)
    if action.action_id in state.applied_actions:
        return
    refusal = unsealed_note_refusal(action) or access.assignment_refusal(
        {}, action.actor.role, action.actor.id, trajectory_coach=state.coach_id
    )
    if refusal is not None:
        raise refusal


def _check_document(state: TrajectoryState, a: DocumentReceived, today: date) -> None:
    rule = state.rules.document_rule(a.document)
    if rule is None:
        keys = ", ".join(d.key for d in state.rules.document)
        raise ActionRefused(
            "document: %(value)r is not an intake document (%(documents)s)", value=a.document, documents=keys
        )
    if a.actor.role not in rule.roles:
        raise ActionRefused(
            "actor.role: the role %(role)s may not record the %(document)s (allowed: %(roles)s)",
            role=a.actor.role,
            document=a.document,
            roles=joined(rule.roles),
        )
    if rule.needs_hours and a.belastbaarheid_hours_per_day is None:
        raise ActionRefused(
            "belastbaarheid_hours_per_day: the %(document)s must state the belastbaarheid in hours", document=a.document
        )


def _check_intake(state: TrajectoryState, a: IntakeHeld, today: date) -> None:
    if state.documents_complete_on is None:
        missing = [d.key for d in state.rules.document if d.key not in state.documents]
        raise ActionRefused(
            "intake_held: the intake documents are not complete (missing: %(documents)s)", documents=", ".join(missing)
        )
    if state.intake_on is not None:
        raise ActionRefused("intake_held: the intake was held on %(on)s", on=state.intake_on)


def _check_proposal(state: TrajectoryState, a: ProposalSent, today: date) -> None:
    if state.intake_on is None:
        raise ActionRefused("proposal_sent: the intake has not been held")
    if state.proposal_on is not None:
        raise ActionRefused("proposal_sent: the proposal was sent on %(on)s", on=state.proposal_on)


def _check_purchase(state: TrajectoryState, a: PurchaseApproved, today: date) -> None:
    if state.proposal_on is None:
        raise ActionRefused("purchase_approved: no proposal has been sent to the employer")
    if state.whole_trajectory_approved_on is not None:
        raise ActionRefused(
            "purchase_approved: the whole trajectory was approved on %(on)s", on=state.whole_trajectory_approved_on
        )
    if a.scope == "whole":
        if a.phase is not None:
            raise ActionRefused("phase: leave it out when approving the whole trajectory")
        return
    if a.phase is None:
        raise ActionRefused("phase: name the phase the employer buys")
    if a.phase > state.rules.last_phase:
        raise ActionRefused(
            "phase: there is no phase %(phase)s (1-%(last)s)", phase=a.phase, last=state.rules.last_phase
        )
    if a.phase in state.approved_phases:
        raise ActionRefused("phase: phase %(phase)s is already approved", phase=a.phase)
    expected = max(state.approved_phases, default=0) + 1
    if a.phase != expected:
        raise ActionRefused("phase: phases are bought in order; the next to approve is phase %(phase)s", phase=expected)


def _check_coach(state: TrajectoryState, a: CoachReplaced, today: date) -> None:
    if state.coach_id is None:
        raise ActionRefused("coach_replaced: no coach has been assigned yet")
    if a.coach_id == state.coach_id:
        raise ActionRefused("coach_id: %(value)r is already the coach", value=a.coach_id)


def _check_haalbaarheid(state: TrajectoryState, a: HaalbaarheidstoetsDecided, today: date) -> None:
    if state.haalbaarheid is not None:
        raise ActionRefused(
            "haalbaarheidstoets_decided: decided on %(on)s (%(decision)s)",
            on=state.haalbaarheid.on,
            decision=state.haalbaarheid.decision,
        )
    if state.intake_on is None:
        raise ActionRefused("haalbaarheidstoets_decided: the intake has not been held")
    if not (state.whole_trajectory_approved_on or state.approved_phases):
        raise ActionRefused("haalbaarheidstoets_decided: the employer has not approved the proposal")
    if a.decision == "go":
        if not a.zoekprofiel:
            raise ActionRefused("zoekprofiel: a go needs a zoekprofiel")
        if not (a.coach_id or state.coach_id):
            raise ActionRefused("coach_id: a go needs a matched coach")


def _check_phase_started(state: TrajectoryState, a: PhaseStarted, today: date) -> None:
    if state.haalbaarheid is None or state.haalbaarheid.decision != "go":
        raise ActionRefused("phase_started: phases start after a go of the haalbaarheidstoets")
    if state.current_phase is not None:
        raise ActionRefused("phase_started: phase %(phase)s is still running", phase=state.current_phase.number)
    expected = state.phases[-1].number + 1 if state.phases else 1
    if a.phase != expected:
        raise (
            ActionRefused("phase: the next phase is %(phase)s", phase=expected)
            if expected <= state.rules.last_phase
            else ActionRefused("phase: all phases are done")
        )
    if not state.phase_approved(a.phase):
        raise ActionRefused("phase_started: phase %(phase)s is not approved by the employer", phase=a.phase)
    last_done = state.phases[-1].completed_on if state.phases else None  # no phase runs: the last is completed
    if last_done is not None and a.on < last_done:
        raise ActionRefused(
            "on: %(on)s is before phase %(phase)s was completed", on=a.on, phase=state.phases[-1].number
        )


def _check_phase_completed(state: TrajectoryState, a: PhaseCompleted, today: date) -> None:
    current = state.current_phase
    if current is None:
        raise ActionRefused("phase_completed: no phase is running")
    if a.phase != current.number:
        raise ActionRefused(
            "phase: phase %(phase)s is running, not phase %(given)s", phase=current.number, given=a.phase
        )
    if a.on < current.started_on:
        raise ActionRefused(
            "on: %(on)s is before phase %(phase)s started (%(started_on)s)",
            on=a.on,
            phase=current.number,
            started_on=current.started_on,
        )


def _check_activity(state: TrajectoryState, a: ActivityRecorded, today: date) -> None:
    return None


def _service(state: TrajectoryState, request_id: str) -> ServiceRecord:
    for s in state.services:
        if s.request_id == request_id:
            return s
    raise ActionRefused("request_id: no additional service was requested under %(value)r", value=request_id)


def _check_service_requested(state: TrajectoryState, a: ServiceRequested, today: date) -> None:
    return None


def _check_service_approved(state: TrajectoryState, a: ServiceApproved, today: date) -> None:
    s = _service(state, a.request_id)
    if s.approved_on is not None:
        raise ActionRefused(
            "request_id: %(service)r was already approved on %(on)s", service=s.service, on=s.approved_on
        )


def _check_service_started(state: TrajectoryState, a: ServiceStarted, today: date) -> None:
    s = _service(state, a.request_id)
    if s.approved_on is None:
        raise ActionRefused("service_started: %(service)r is not approved by the employer", service=s.service)
    if s.started_on is not None:
        raise ActionRefused("service_started: %(service)r started on %(on)s", service=s.service, on=s.started_on)


def _check_paused(state: TrajectoryState, a: PhasePaused, today: date) -> None:
    current = state.current_phase
    if current is None:
        raise ActionRefused("phase_paused: no phase is running")
    if a.bedrijfsarts_consent_on > a.on:
        raise ActionRefused("bedrijfsarts_consent_on: the bedrijfsarts's consent must precede the pause")
    if a.on < current.started_on:
        raise ActionRefused(
            "on: %(on)s is before phase %(phase)s started (%(started_on)s)",
            on=a.on,
            phase=current.number,
            started_on=current.started_on,
        )


def _check_resumed(state: TrajectoryState, a: PhaseResumed, today: date) -> None:
    if not state.paused:
        raise ActionRefused("phase_resumed: the trajectory is not paused")
    if a.on < state.pauses[-1].on:
        raise ActionRefused("on: %(on)s is before the pause of %(paused_on)s", on=a.on, paused_on=state.pauses[-1].on)


def _check_outcome(state: TrajectoryState, a: OutcomeRecorded, today: date) -> None:
    if state.haalbaarheid is None or state.haalbaarheid.decision != "go":
        raise ActionRefused("outcome_recorded: an outcome follows a go of the haalbaarheidstoets")


_CHECKS: dict[str, Callable[[TrajectoryState, Any, date], None]] = {
    "document_received": _check_document,
    "intake_held": _check_intake,
    "proposal_sent": _check_proposal,
    "purchase_approved": _check_purchase,
    "coach_replaced": _check_coach,
    "haalbaarheidstoets_decided": _check_haalbaarheid,
    "phase_started": _check_phase_started,
    "phase_completed": _check_phase_completed,
    "activity_recorded": _check_activity,
    "service_requested": _check_service_requested,
    "service_approved": _check_service_approved,
    "service_started": _check_service_started,
    "phase_paused": _check_paused,
    "phase_resumed": _check_resumed,
    "outcome_recorded": _check_outcome,
}
assert set(_CHECKS) == set(SPOOR2_ACTION_KINDS)


# --------------------------------------------------------------------------- effects


def apply(state: TrajectoryState, action: Any, today: date, now: datetime) -> TrajectoryEvent:
    """Check and apply an action; returns its record entry. A retried action id is not re-applied."""
    check(state, action, today)
    seq = state.applied_actions.get(action.action_id)
    if seq is not None:
        return state.record[seq - 1]
    summary = _EFFECTS[action.kind](state, action)
    details = recorded_details(action)
    return state.log(
        now=now,
        on=action.on,
        actor=action.actor,
        kind=action.kind,
        summary=summary,
        action_id=action.action_id,
        details=details,
    )


def _document(state: TrajectoryState, a: DocumentReceived) -> str:
    state.documents[a.document] = DocumentRecord(
        reference=a.reference, on=a.on, belastbaarheid_hours_per_day=a.belastbaarheid_hours_per_day
    )
    if state.documents_complete_on is None and all(d.key in state.documents for d in state.rules.document):
        state.documents_complete_on = a.on
        due = a.on + timedelta(days=state.rules.intake_within_days)
        return f"Document {a.document} received; the intake documents are complete, intake due by {due}"
    return f"Document {a.document} received"


def _intake(state: TrajectoryState, a: IntakeHeld) -> str:
    state.intake_on = a.on
    state.coach_id = a.coach_id
    state.coach_history.append(a.coach_id)
    return "Intake held with the coach"


def _proposal(state: TrajectoryState, a: ProposalSent) -> str:
    state.proposal_on = a.on
    return "Proposal sent to the employer"


def _purchase(state: TrajectoryState, a: PurchaseApproved) -> str:
    if a.scope == "whole":
        state.whole_trajectory_approved_on = a.on
        return "Employer approved the whole trajectory"
    assert a.phase is not None  # _check_purchase: a phase purchase names its phase
    state.approved_phases.append(a.phase)
    return f"Employer approved phase {a.phase}"


def _coach(state: TrajectoryState, a: CoachReplaced) -> str:
    previous = state.coach_id
    state.coach_id = a.coach_id
    state.coach_history.append(a.coach_id)
    return f"Coach replaced ({previous} -> {a.coach_id}): {a.reason}"


def _haalbaarheid(state: TrajectoryState, a: HaalbaarheidstoetsDecided) -> str:
    state.haalbaarheid = HaalbaarheidRecord(
        decision=a.decision, on=a.on, grounds=a.grounds, zoekprofiel=a.zoekprofiel, report_reference=a.report_reference
    )
    if a.decision == "no_go":
        state.outcome, state.ended_on = Spoor2Outcome.NO_GO, a.on
        return "Haalbaarheidstoets: no-go; the trajectory ends and the grounds go with the WIA application"
    if a.coach_id and a.coach_id != state.coach_id:
        state.coach_id = a.coach_id
        state.coach_history.append(a.coach_id)
    return "Haalbaarheidstoets: go, with zoekprofiel and matched coach"


def _phase_started(state: TrajectoryState, a: PhaseStarted) -> str:
    state.phases.append(PhaseRecord(number=a.phase, started_on=a.on))
    rule = state.rules.phase_rule(a.phase)
    return f"Phase {a.phase} started ({rule.label}); time is up after {state.phases[-1].ends_on(rule)}"


def _phase_completed(state: TrajectoryState, a: PhaseCompleted) -> str:
    current = state.current_phase
    assert current is not None  # _check_phase_completed
    current.completed_on = a.on
    return f"Phase {a.phase} completed"


def _activity(state: TrajectoryState, a: ActivityRecorded) -> str:
    current = state.current_phase
    state.activities.append(ActivityRecord(activity=a.activity, on=a.on, phase=current.number if current else None))
    return f"Activity: {a.activity.value}"


def _service_requested(state: TrajectoryState, a: ServiceRequested) -> str:
    state.services.append(ServiceRecord(request_id=a.action_id, service=a.service, requested_on=a.on))
    return f"Additional service requested: {a.service}"


def _service_approved(state: TrajectoryState, a: ServiceApproved) -> str:
    s = _service(state, a.request_id)
    s.approved_on = a.on
    return f"Employer approved the additional service {s.service!r}"


def _service_started(state: TrajectoryState, a: ServiceStarted) -> str:
    s = _service(state, a.request_id)
    s.started_on = a.on
    return f"Additional service started: {s.service}"


def _paused(state: TrajectoryState, a: PhasePaused) -> str:
    state.pauses.append(PauseRecord(on=a.on, reason=a.reason, consent_on=a.bedrijfsarts_consent_on))
    current = state.current_phase
    assert current is not None  # _check_paused
    return f"Phase {current.number} paused ({a.reason}), with the bedrijfsarts's consent"


def _resumed(state: TrajectoryState, a: PhaseResumed) -> str:
    pause = state.pauses[-1]
    pause.resumed_on = a.on
    days = (a.on - pause.on).days
    current = state.current_phase
    if current is not None:
        current.paused_days += days
        rule = state.rules.phase_rule(current.number)
        return f"Phase {current.number} resumed after {days} days; time is now up after {current.ends_on(rule)}"
    return f"Resumed after {days} days"


def _outcome(state: TrajectoryState, a: OutcomeRecorded) -> str:
    state.outcome, state.ended_on = Spoor2Outcome(a.outcome), a.on
    current = state.current_phase
    if current is not None:
        current.completed_on = a.on
    if state.paused:
        state.pauses[-1].resumed_on = a.on
    return f"Outcome: {a.outcome.value}"


_EFFECTS: dict[str, Callable[[TrajectoryState, Any], str]] = {
    "document_received": _document,
    "intake_held": _intake,
    "proposal_sent": _proposal,
    "purchase_approved": _purchase,
    "coach_replaced": _coach,
    "haalbaarheidstoets_decided": _haalbaarheid,
    "phase_started": _phase_started,
    "phase_completed": _phase_completed,
    "activity_recorded": _activity,
    "service_requested": _service_requested,
    "service_approved": _service_approved,
    "service_started": _service_started,
    "phase_paused": _paused,
    "phase_resumed": _resumed,
    "outcome_recorded": _outcome,
}


class CaseClosed(BaseModel):
    """The case tells its running trajectory that it closed, how and when."""

    outcome: str
    closed_on: date


def end_because_case_closed(state: TrajectoryState, *, on: date, now: datetime, why: str) -> TrajectoryEvent | None:
    """The case ended first (recovery, end of the waiting time, withdrawal), or the trajectory was cancelled."""
    if state.ended:
        return None
    state.outcome, state.ended_on = Spoor2Outcome.CASE_CLOSED, on
    current = state.current_phase
    if current is not None:
        current.completed_on = on
    if state.paused:
        state.pauses[-1].resumed_on = on
    return state.log(now=now, on=on, actor=SYSTEM, kind="trajectory_ended", summary=f"{why}; the trajectory ends")


# --------------------------------------------------------------------------- time passing


class Flag(BaseModel):
    """Something time alone raised on the trajectory, for the case manager."""

    kind: str
    summary: str
    due: date


def tick(state: TrajectoryState, *, today: date, now: datetime) -> list[Flag]:
    """Apply the passing of time up to `today`: late intake, phase time up, wider search. Idempotent."""
    if state.ended:
        return []
    flags: list[Flag] = []
    intake_due = intake_due_on(state)
    if intake_due is not None and state.intake_on is None and today > intake_due and not state.intake_late_flagged:
        state.intake_late_flagged = True
        flags.append(
            Flag(
                kind="intake_late",
                due=intake_due,
                summary=f"Intake not held within {state.rules.intake_within_days} days of complete documents (due {intake_due})",
            )
        )
    current = state.current_phase
    if current is not None and not state.paused and not current.time_up_flagged:
        ends = current.ends_on(state.rules.phase_rule(current.number))
        if today > ends:
            current.time_up_flagged = True
            flags.append(
                Flag(
                    kind="phase_time_up",
                    due=ends,
                    summary=f"Phase {current.number}'s time was up on {ends} and it is not completed; it is not extended",
                )
            )
    entries: list[tuple[date, str, str, dict]] = []
    widen = state.started_on + timedelta(weeks=state.rules.widen_search_after_weeks)
    if state.search_widened_on is None and today >= widen:
        state.search_widened_on = widen
        entries.append(
            (
                widen,
                "search_widened",
                "Six months in spoor 2: the zoekprofiel now includes work below the employee's level",
                {},
            )
        )
    entries += [(f.due + timedelta(days=1), f.kind, f.summary, {"due": f.due.isoformat()}) for f in flags]
    # In the order of their dates: a trajectory that wakes late (its worker was down) may take several at once.
    for on, kind, summary, details in sorted(entries, key=lambda e: e[0]):
        state.log(now=now, on=on, actor=SYSTEM, kind=kind, summary=summary, details=details)
    return flags


# What a flag says to the case manager, translated when the notice is sent (the dossier's own words for it:
# documents.dossier_text uses the same msgids).
_FLAG_TEXTS = {
    "intake_late": N_("Intake not held in time (due by %(day)s)"),
    "phase_time_up": N_("The time of the phase has passed (%(day)s) and the phase is not completed"),
}


def flag_subject(case_id: str) -> Text:
    """The subject of a flag's notice."""
    return text(N_("Case %(case)s: spoor 2 needs attention"), case=case_id)


def flag_body(case_id: str, kind: str, due: date | str | None) -> Text:
    """The body of a flag's notice: what the trajectory's record says about it."""
    what = text(_FLAG_TEXTS[kind], day=due) if kind in _FLAG_TEXTS else text(glossary.entry_label(kind))
    return text(N_("Spoor 2 trajectory of case %(case)s: %(what)s."), case=case_id, what=what)


def notification(case_id: str, flag: Flag) -> Notification:
    """The case manager's notice of a flag; its id makes a retried send deliver once."""
    return Notification(
        notification_id=f"{case_id}:spoor2:{flag.kind}:{flag.due}",
        case_id=case_id,
        recipient_role=Role.CASEMANAGER,
        kind=f"spoor2_{flag.kind}",
        subject=f"Case {case_id}: spoor 2 needs attention",
        body=f"Spoor 2 trajectory of case {case_id}: {flag.summary}.",
        due=flag.due,
        subject_text=flag_subject(case_id),
        body_text=flag_body(case_id, flag.kind, flag.due),
    )


def expectation(state: TrajectoryState) -> Expectation | None:
    """The activity the trajectory expects next and the last day for it; None when nothing is
    (ended, paused with the bedrijfsarts's consent, or a trajectory without the watch)."""
    if state.watch is None or state.ended or state.paused:
        return None
    status = state.status
    last = max((e.on for e in state.record if e.actor.role is not Role.SYSTEEM), default=state.started_on)
    current = state.current_phase
    if current is not None:
        rule = state.rules.phase_rule(current.number)
        held = sum(1 for a in state.activities if a.phase == current.number and a.activity is ActivityKind.CONVERSATION)
        gap = rule.gap_after(held)
        return Expectation(
            what=f"a conversation with the coach or other activity (phase {current.number}: every {gap} days)",
            what_text=text(
                N_("a conversation with the coach or other activity (phase %(phase)s: every %(days)s days)"),
                phase=current.number,
                days=gap,
            ),
            by=last + timedelta(days=gap),
            context=f"spoor2:fase{current.number}",
        )
    w = spoor2_watch(state.watch, status.value)
    if w is None:
        return None
    if w.within_days is not None:
        by = last + timedelta(days=w.within_days)
    elif status is Spoor2Status.INTAKE:
        intake_by = intake_due_on(state)
        assert intake_by is not None  # the INTAKE status: the documents are complete
        by = intake_by
    else:
        return None
    return Expectation(what=w.expects, by=by, context=f"spoor2:{status.value}")


def intake_due_on(state: TrajectoryState) -> date | None:
    if state.documents_complete_on is None:
        return None
    return state.documents_complete_on + timedelta(days=state.rules.intake_within_days)


def next_wake_day(state: TrajectoryState) -> date | None:
    """The next day on which time alone changes the trajectory."""
    if state.ended:
        return None
    days: list[date] = []
    due = intake_due_on(state)
    if due is not None and state.intake_on is None and not state.intake_late_flagged:
        days.append(due + timedelta(days=1))
    current = state.current_phase
    if current is not None and not state.paused and not current.time_up_flagged:
        days.append(current.ends_on(state.rules.phase_rule(current.number)) + timedelta(days=1))
    if state.search_widened_on is None:
        days.append(state.started_on + timedelta(weeks=state.rules.widen_search_after_weeks))
    return min(days) if days else None


# --------------------------------------------------------------------------- views


class PhaseView(BaseModel):
    number: int
    label: str
    started_on: date
    completed_on: date | None
    time_up_on: date
    time_up_flagged: bool
    paused_days: int
    conversations_held: int
    conversations_expected: int


class TrajectoryView(BaseModel):
    """The trajectory at a glance: phase, cadence, approvals, documents, outcome."""

    case_id: str
    status: Spoor2Status
    started_on: date
    current_phase: int | None
    coach_id: str | None
    documents: dict[str, DocumentRecord]
    documents_missing: list[str]
    intake_due_on: date | None
    intake_on: date | None
    whole_trajectory_approved_on: date | None
    approved_phases: list[int]
    haalbaarheid: HaalbaarheidRecord | None
    phases: list[PhaseView]
    services: list[ServiceRecord]
    search_widened_on: date | None
    outcome: Spoor2Outcome | None
    ended_on: date | None
    expected: Expectation | None = Field(default=None, description="The activity expected next, by when (version 3)")


def view(state: TrajectoryState, today: date) -> TrajectoryView:
    """What operations and the people involved see of the trajectory as of `today`."""
    phases = []
    for p in state.phases:
        rule = state.rules.phase_rule(p.number)
        end = p.completed_on or today
        open_pause = (today - state.pauses[-1].on).days if state.paused and p.completed_on is None else 0
        active_days = max(0, (end - p.started_on).days + 1 - p.paused_days - open_pause)
        held = sum(1 for a in state.activities if a.phase == p.number and a.activity is ActivityKind.CONVERSATION)
        phases.append(
            PhaseView(
                number=p.number,
                label=rule.label,
                started_on=p.started_on,
                completed_on=p.completed_on,
                time_up_on=p.ends_on(rule),
                time_up_flagged=p.time_up_flagged,
                paused_days=p.paused_days,
                conversations_held=held,
                conversations_expected=rule.expected_conversations(active_days),
            )
        )
    current = state.current_phase
    return TrajectoryView(
        case_id=state.case_id,
        status=state.status,
        started_on=state.started_on,
        current_phase=current.number if current else None,
        coach_id=state.coach_id,
        documents=state.documents,
        documents_missing=[d.key for d in state.rules.document if d.key not in state.documents],
        intake_due_on=intake_due_on(state),
        intake_on=state.intake_on,
        whole_trajectory_approved_on=state.whole_trajectory_approved_on,
        approved_phases=state.approved_phases,
        haalbaarheid=state.haalbaarheid,
        phases=phases,
        services=state.services,
        search_widened_on=state.search_widened_on,
        outcome=state.outcome,
        ended_on=state.ended_on,
        expected=expectation(state),
    )
