"""A spoor 2 trajectory: aanmelding, intake, voorstel, haalbaarheidstoets, phases 1-4, outcome.

Pure like `domain.case`: the trajectory workflow passes in today and records what these return. The package is
split by job (rules, state, one module per topic of actions, the engine, time, the view); this is its public
face for the workflows and the edge. Inside `domain/`, import the submodules themselves.
"""

from __future__ import annotations

from domain.spoor2.engine import (
    _ADAPTER,
    LEDGER,
    SPOOR2_ACTION_KINDS,
    SPOOR2_ACTION_ROLES,
    Spoor2Action,
    apply,
    check,
    parse_spoor2_action,
    start_trajectory,
    validate,
)
from domain.spoor2.haalbaarheid import HaalbaarheidstoetsDecided
from domain.spoor2.intake import CoachReplaced, DocumentReceived, IntakeHeld, ProposalSent, PurchaseApproved
from domain.spoor2.outcome import CaseClosed, OutcomeRecorded, end_because_case_closed
from domain.spoor2.pauses import PhasePaused, PhaseResumed
from domain.spoor2.phases import ActivityRecorded, PhaseCompleted, PhaseStarted
from domain.spoor2.rules import CadenceSegment, DocumentRule, PhaseRule, Spoor2Rules, parse_spoor2_rules
from domain.spoor2.services import ServiceApproved, ServiceRequested, ServiceStarted
from domain.spoor2.state import (
    ActivityKind,
    ActivityRecord,
    CoachMatch,
    DocumentRecord,
    Ground,
    Grounds,
    HaalbaarheidRecord,
    PauseRecord,
    PhaseRecord,
    Reference,
    ServiceRecord,
    Spoor2Outcome,
    Spoor2Status,
    TrajectoryEvent,
    TrajectoryState,
    TrajectoryUpdate,
)
from domain.spoor2.time import (
    Flag,
    expectation,
    flag_body,
    flag_subject,
    intake_due_on,
    next_wake_day,
    notification,
    tick,
    update_for_case,
)
from domain.spoor2.view import PhaseView, TrajectoryView, view

__all__ = [
    "CadenceSegment",
    "PhaseRule",
    "DocumentRule",
    "Spoor2Rules",
    "parse_spoor2_rules",
    "Reference",
    "Ground",
    "Grounds",
    "CoachMatch",
    "ActivityKind",
    "Spoor2Outcome",
    "Spoor2Status",
    "DocumentRecord",
    "PhaseRecord",
    "PauseRecord",
    "ServiceRecord",
    "ActivityRecord",
    "HaalbaarheidRecord",
    "TrajectoryEvent",
    "TrajectoryState",
    "TrajectoryUpdate",
    "DocumentReceived",
    "IntakeHeld",
    "ProposalSent",
    "PurchaseApproved",
    "CoachReplaced",
    "HaalbaarheidstoetsDecided",
    "PhaseStarted",
    "PhaseCompleted",
    "ActivityRecorded",
    "ServiceRequested",
    "ServiceApproved",
    "ServiceStarted",
    "PhasePaused",
    "PhaseResumed",
    "OutcomeRecorded",
    "CaseClosed",
    "end_because_case_closed",
    "start_trajectory",
    "Spoor2Action",
    "SPOOR2_ACTION_KINDS",
    "SPOOR2_ACTION_ROLES",
    "_ADAPTER",
    "parse_spoor2_action",
    "check",
    "validate",
    "apply",
    "LEDGER",
    "Flag",
    "tick",
    "flag_subject",
    "flag_body",
    "notification",
    "expectation",
    "intake_due_on",
    "next_wake_day",
    "update_for_case",
    "PhaseView",
    "TrajectoryView",
    "view",
]
