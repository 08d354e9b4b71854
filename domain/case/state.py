"""A sick-leave case as data: what it carries, also across continue-as-new.

The parts of a case that change together are nested models (the AD-onderzoek, the spoor 2 link, the
escalation watch, recovery, the wage payment, documents, the people on it). A state written before they
were nested (one flat object, as the recorded histories carry it) still loads: `CaseState` nests its keys.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from domain.clock import Clock, SickPeriod
from domain.documents import DocumentOrder, DocumentRef, DossierRules
from domain.ledger import Recorded
from domain.models import Actor, AdConclusion, AdParty, DossierEntry, Notification, Outcome, Role, Stage
from domain.people import Employee
from domain.rules import RuleSet
from domain.spoor2.rules import Spoor2Rules
from domain.spoor2.state import Spoor2Status
from domain.stagnation import Expectation, StagnationRules, Watch
from domain.uwv import UwvMessageRecord

# The shape and behaviour of a case's state: `domain.migration.migrate` lifts every run's state to these at its
# start (version 6: runs are bounded and migrate). Cases before version 5 revision 3 are no longer supported, so no
# rule asks for either (docs/versioning.md).
CURRENT_VERSION = 6
FACTS_REVISION = 1  # observations kept apart from facts (domain.observations)
ASSIGNMENTS_REVISION = 2
WORKLIST_REVISION = 3
CURRENT_REVISION = WORKLIST_REVISION
# The versions the workflow picks its patches by (workflows/sick_leave_case.py), no longer read by a rule.
TRAJECTORY_VERSION = 2
WATCH_VERSION = 3
COACH_VERSION = 4
DOCUMENTS_VERSION = 5

EVALUATIE = "evaluatie"
OPEN_STAGES = frozenset(s for s in Stage if s is not Stage.CLOSED)


class Spoor2Result(StrEnum):
    GEEN_RESULTAAT = "geen_resultaat"
    NO_GO = "no_go"
    NIEUW_WERK = "nieuw_werk"
    DETACHERING = "detachering"
    WERKRITMEPLAATS = "werkritmeplaats"


class DoneStep(BaseModel):
    on: date
    action_id: str | None = None  # None when taken over from another system


class Deviation(BaseModel):
    """Reg art. 5: why a term was not kept; `new_due` moves it, None waives it.

    A reason given after the term (`given_after_term`) is kept and shown as such: an assessor weighs it
    differently from one given in time.
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


class AdOnderzoek(BaseModel):
    """The arbeidsdeskundig onderzoek: started, its conversations, its answers."""

    started_on: date | None = None
    conversations: list[AdConversation] = Field(default_factory=list)
    conclusion: AdConclusion | None = None
    report_reference: str | None = None

    @property
    def running(self) -> bool:
        return self.started_on is not None and self.conclusion is None


class Spoor2Link(BaseModel):
    """Spoor 2 as the case sees it: started and ended on the case, and what its trajectory last reported."""

    rules: Spoor2Rules | None = None
    consent_on: date | None = None
    started_on: date | None = None
    started_by: Actor | None = None
    ended_on: date | None = None
    result: Spoor2Result | None = None
    trajectory_started: bool = Field(default=False, description="The trajectory workflow has been started")
    status: Spoor2Status | None = None
    phase: int | None = None
    coach_id: str | None = None
    entries_seen: int = Field(default=0, description="The trajectory's record entries copied into the dossier")
    expectation: Expectation | None = Field(default=None, description="What the running trajectory expects next")

    @property
    def running(self) -> bool:
        return self.started_on is not None and self.ended_on is None


class Escalation(BaseModel):
    """The stagnation watch and its rules (domain.stagnation)."""

    rules: StagnationRules
    watch: Watch


class Recovery(BaseModel):
    partial: PartialRecoveryRecord | None = None


class WagePayment(BaseModel):
    """What lengthens the employer's wage payment beyond the waiting time."""

    voluntary_extension_weeks: int = 0
    extension_days: int = Field(
        default=0,
        description="BW 7:629 lid 11 sub a: a WIA aanvraag filed late by the employer's doing extends the wage "
        "payment by the delay",
    )
    loonsanctie: Loonsanctie | None = None


class CaseDocuments(BaseModel):
    """The dossier as documents: the rules, the pre-flight weeks run, what is requested, rendered and stored."""

    rules: DossierRules | None = Field(default=None, description="Documents and pre-flight")
    preflights_run: list[int] = Field(default_factory=list, description="Weeks whose pre-flight check has run")
    requests: list[DocumentOrder] = Field(default_factory=list, description="Requested, not yet rendered")
    done: list[str] = Field(default_factory=list, description="Order ids rendered (or given up on)")
    refs: list[DocumentRef] = Field(default_factory=list, description="Where each rendered document is stored")


class People(BaseModel):
    """Who works on the case and how to reach them, and the employee's details."""

    contacts: dict[Role, list[str]] = Field(default_factory=dict)
    assigned: dict[Role, list[str]] = Field(
        default_factory=dict, description="Who is assigned per role (domain.access)"
    )
    employee: Employee | None = Field(default=None, description="The employee's name and personnel number")
    person_keys: list[str] = Field(default_factory=list, description="Keyed hashes to find the case by (PersonKeys)")


# The flat keys of a state written before the parts were nested: key -> (part, its key there).
_LEGACY_KEYS: dict[str, tuple[str, str]] = {
    "ad_started_on": ("ad", "started_on"),
    "ad_conversations": ("ad", "conversations"),
    "ad_conclusion": ("ad", "conclusion"),
    "ad_report_reference": ("ad", "report_reference"),
    "spoor2_rules": ("spoor2", "rules"),
    "spoor2_consent_on": ("spoor2", "consent_on"),
    "spoor2_started_on": ("spoor2", "started_on"),
    "spoor2_started_by": ("spoor2", "started_by"),
    "spoor2_ended_on": ("spoor2", "ended_on"),
    "spoor2_result": ("spoor2", "result"),
    "trajectory_started": ("spoor2", "trajectory_started"),
    "spoor2_status": ("spoor2", "status"),
    "spoor2_phase": ("spoor2", "phase"),
    "spoor2_coach_id": ("spoor2", "coach_id"),
    "trajectory_entries_seen": ("spoor2", "entries_seen"),
    "trajectory_expectation": ("spoor2", "expectation"),
    "stagnation_rules": ("escalation", "rules"),
    "watch": ("escalation", "watch"),
    "partial_recovery": ("recovery", "partial"),
    "voluntary_extension_weeks": ("wage", "voluntary_extension_weeks"),
    "wage_extension_days": ("wage", "extension_days"),
    "loonsanctie": ("wage", "loonsanctie"),
    "dossier_rules": ("documents", "rules"),
    "preflights_run": ("documents", "preflights_run"),
    "document_requests": ("documents", "requests"),
    "documents_done": ("documents", "done"),
    "contacts": ("people", "contacts"),
    "assigned": ("people", "assigned"),
    "employee": ("people", "employee"),
    "person_keys": ("people", "person_keys"),
}


def nest_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """A flat state (as written before the parts were nested) with its keys moved into the parts."""
    flat = any(key in data for key in _LEGACY_KEYS) or isinstance(data.get("documents"), list)
    if not flat:
        return data
    data = dict(data)
    parts: dict[str, dict[str, Any]] = {}
    if isinstance(data.get("documents"), list):
        parts["documents"] = {"refs": data.pop("documents")}
    for key, (part, name) in _LEGACY_KEYS.items():
        if key in data:
            parts.setdefault(part, {})[name] = data.pop(key)
    escalation = parts.pop("escalation", {})
    if escalation.get("rules") is not None and escalation.get("watch") is not None:
        data["escalation"] = escalation
    for part, values in parts.items():
        data[part] = {**values, **(data.get(part) or {})}
    return data


class Kept:
    """What a rule computed from a state, kept with the state together with what it was computed from
    (domain.case.deadlines). A cache, not part of the state: never serialized, and two states are equal whatever
    either keeps."""

    __slots__ = ("key", "value")

    def __init__(self) -> None:
        self.key: Any = None
        self.value: Any = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Kept)

    __hash__ = None  # type: ignore[assignment]  # mutable


class MorningRound(BaseModel):
    """The clock's work of the night waiting for the case's morning round (issue 22: a flat morning).

    A wake before the case's minute of the morning round (a statutory term passing at midnight) records what it
    observes at once, in the dossier and the search attributes; the notices it raises, and the write of the facts it
    recorded, wait for `until`. Anything recorded on the case meanwhile (an action, a report of its trajectory), or a
    wake that is not the clock's alone, sends them at once, so no notice arrives after a record it came before; they
    go to the role's contacts as they are then (domain.case.time.tick).
    """

    until: datetime
    dossier_length: int = Field(description="The dossier's length when they began to wait: an entry since sends them")
    notices: list[Notification] = Field(default_factory=list)


class CaseState(Recorded):
    """Everything a case carries, also across continue-as-new."""

    # The statutory steps as last computed, and from what (domain.case.deadlines).
    _deadlines: Kept = PrivateAttr(default_factory=Kept)

    case_id: str
    employer_id: str
    version: int = CURRENT_VERSION
    revision: int = Field(default=CURRENT_REVISION, description="Behaviour revision, raised when a run starts")
    opened_on: date | None = Field(default=None, description="The day the case was opened in Spoorwerk")
    holidays: list[date] = Field(
        default_factory=list,
        description="Public holidays a working-day term skips, computed when the case opened (RuleSet.holiday_calendar)",
    )
    ruleset: RuleSet
    periods: list[SickPeriod]
    stage: Stage
    outcome: Outcome | None = None
    closed_on: date | None = None
    done: dict[str, DoneStep] = Field(default_factory=dict)
    evaluations: list[DoneStep] = Field(default_factory=list)
    deviations: dict[str, Deviation] = Field(default_factory=dict)
    overdue_marked: list[str] = Field(default_factory=list)
    milestones_passed: list[str] = Field(default_factory=list)
    ad: AdOnderzoek = Field(default_factory=AdOnderzoek)
    spoor2: Spoor2Link = Field(default_factory=Spoor2Link)
    recovery: Recovery = Field(default_factory=Recovery)
    wage: WagePayment = Field(default_factory=WagePayment)
    deskundigenoordelen: list[DeskundigenoordeelRecord] = Field(default_factory=list)
    escalation: Escalation | None = Field(default=None, description="The stagnation watch and its rules")
    people: People = Field(default_factory=People)
    documents: CaseDocuments = Field(default_factory=CaseDocuments)
    outbox: list[Notification] = Field(default_factory=list, description="Notifications not yet handed to the channels")
    clock_outbox: list[Notification] = Field(
        default_factory=list,
        description="Notices the trajectory's clock raised, for the case's next tick: they may wait for the morning round",
    )
    morning: MorningRound | None = Field(default=None, description="The night's notices waiting for the morning round")
    uwv: list[UwvMessageRecord] = Field(
        default_factory=list, description="The messages to UWV and where each stands (domain.uwv), without content"
    )
    dossier: list[DossierEntry] = Field(default_factory=list)
    applied_actions: dict[str, int] = Field(default_factory=dict, description="action id -> dossier seq")

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_keys(cls, data: Any) -> Any:
        return nest_legacy(data) if isinstance(data, dict) else data

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
        return self.spoor2.running

    @property
    def trajectory_due(self) -> bool:
        """Spoor 2 started on a case whose trajectory workflow is not running yet."""
        return self.spoor2.running and not self.spoor2.trajectory_started and not self.closed

    def done_dates(self) -> dict[str, date]:
        return {k: v.on for k, v in self.done.items()}

    def ledger(self) -> tuple[list[DossierEntry], dict[str, int]]:
        return self.dossier, self.applied_actions
