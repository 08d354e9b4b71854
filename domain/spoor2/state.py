"""A spoor 2 trajectory as data: its status, what it has on record, and its own record of entries."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import ActionRefused
from domain.ledger import Recorded
from domain.models import (
    DossierEntry,
)
from domain.spoor2.rules import PhaseRule, Spoor2Rules
from domain.stagnation import Expectation, Spoor2Watch

Reference = Annotated[
    str, Field(min_length=1, max_length=200, description="Where the document is kept, not its content")
]


Ground = Annotated[str, Field(min_length=3, max_length=4000)]


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


class Spoor2Outcome(StrEnum):
    NIEUW_WERK = "nieuw_werk"  # job with a new employer: the case closes on recovery
    DETACHERING = "detachering"  # secondment until the end of the waiting time
    WERKRITMEPLAATS = "werkritmeplaats"
    GEEN_RESULTAAT = "geen_resultaat"  # on to the WIA application with the trajectory's record
    NO_GO = "no_go"  # ended by the haalbaarheidstoets
    CASE_CLOSED = "case_closed"  # the case ended first (recovery, end of waiting time, withdrawal)


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

    def refuse_before_start(self, on: date) -> None:
        """What happens in the phase cannot predate its start."""
        if on < self.started_on:
            raise ActionRefused(
                "on: %(on)s is before phase %(phase)s started (%(started_on)s)",
                on=on,
                phase=self.number,
                started_on=self.started_on,
            )


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


class TrajectoryState(Recorded):
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

    def ledger(self) -> tuple[list[TrajectoryEvent], dict[str, int]]:
        return self.record, self.applied_actions


class TrajectoryUpdate(BaseModel):
    """What the case learns from its trajectory after each change: status and new record entries."""

    status: Spoor2Status
    phase: int | None
    outcome: Spoor2Outcome | None
    ended_on: date | None
    events: list[TrajectoryEvent]
    expectation: Expectation | None = Field(default=None, description="What the trajectory expects next")
    coach_id: str | None = None
    # A report of the trajectory's own clock (a wake by its timer, no action or signal since its last), whose notices
    # may wait with the case's for the case's morning round (release 12, no patch); absent in older reports: False.
    by_clock: bool = False
