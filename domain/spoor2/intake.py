"""The aanmelding and intake of a trajectory: its documents, the intake with the coach, the proposal and the purchase, a coach replaced."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import Field

from domain.access import COACH
from domain.errors import ActionRefused, joined
from domain.ledger import ActionBase, Declared
from domain.models import (
    OpaqueId,
    Role,
)
from domain.spoor2.rules import DocumentRule
from domain.spoor2.state import DocumentRecord, Reference, TrajectoryState


class DocumentReceived(ActionBase):
    kind: Literal["document_received"]
    document: str
    reference: Reference
    belastbaarheid_hours_per_day: float | None = Field(default=None, gt=0, le=24)


class IntakeHeld(ActionBase):
    kind: Literal["intake_held"]
    coach_id: OpaqueId


class ProposalSent(ActionBase):
    kind: Literal["proposal_sent"]


class PurchaseApproved(ActionBase):
    """The employer buys the whole trajectory at once, or one phase."""

    kind: Literal["purchase_approved"]
    scope: Literal["whole", "phase"]
    phase: int | None = Field(default=None, ge=1)


class CoachReplaced(ActionBase):
    kind: Literal["coach_replaced"]
    coach_id: OpaqueId
    reason: str = Field(min_length=3, max_length=1000)


def _document_rule(state: TrajectoryState, a: DocumentReceived) -> DocumentRule:
    rule = state.rules.document_rule(a.document)
    if rule is None:
        keys = ", ".join(d.key for d in state.rules.document)
        raise ActionRefused(
            "document: %(value)r is not an intake document (%(documents)s)", value=a.document, documents=keys
        )
    return rule


def _document_role(state: TrajectoryState, a: DocumentReceived) -> None:
    rule = _document_rule(state, a)
    if a.actor.role not in rule.roles:
        raise ActionRefused(
            "actor.role: the role %(role)s may not record the %(document)s (allowed: %(roles)s)",
            role=a.actor.role,
            document=a.document,
            roles=joined(rule.roles),
        )


def _check_document(state: TrajectoryState, a: DocumentReceived, today: date) -> None:
    rule = _document_rule(state, a)
    if rule.needs_hours and a.belastbaarheid_hours_per_day is None:
        raise ActionRefused(
            "belastbaarheid_hours_per_day: the %(document)s must state the belastbaarheid in hours", document=a.document
        )


def _document(state: TrajectoryState, a: DocumentReceived, now: datetime) -> str:
    state.documents[a.document] = DocumentRecord(
        reference=a.reference, on=a.on, belastbaarheid_hours_per_day=a.belastbaarheid_hours_per_day
    )
    if state.documents_complete_on is None and all(d.key in state.documents for d in state.rules.document):
        state.documents_complete_on = a.on
        due = a.on + timedelta(days=state.rules.intake_within_days)
        return f"Document {a.document} received; the intake documents are complete, intake due by {due}"
    return f"Document {a.document} received"


def _check_intake(state: TrajectoryState, a: IntakeHeld, today: date) -> None:
    if state.documents_complete_on is None:
        missing = [d.key for d in state.rules.document if d.key not in state.documents]
        raise ActionRefused(
            "intake_held: the intake documents are not complete (missing: %(documents)s)", documents=", ".join(missing)
        )
    if state.intake_on is not None:
        raise ActionRefused("intake_held: the intake was held on %(on)s", on=state.intake_on)


def _intake(state: TrajectoryState, a: IntakeHeld, now: datetime) -> str:
    state.intake_on = a.on
    state.coach_id = a.coach_id
    state.coach_history.append(a.coach_id)
    return "Intake held with the coach"


def _check_proposal(state: TrajectoryState, a: ProposalSent, today: date) -> None:
    if state.intake_on is None:
        raise ActionRefused("proposal_sent: the intake has not been held")
    if state.proposal_on is not None:
        raise ActionRefused("proposal_sent: the proposal was sent on %(on)s", on=state.proposal_on)


def _proposal(state: TrajectoryState, a: ProposalSent, now: datetime) -> str:
    state.proposal_on = a.on
    return "Proposal sent to the employer"


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


def _purchase(state: TrajectoryState, a: PurchaseApproved, now: datetime) -> str:
    if a.scope == "whole":
        state.whole_trajectory_approved_on = a.on
        return "Employer approved the whole trajectory"
    assert a.phase is not None  # _check_purchase: a phase purchase names its phase
    state.approved_phases.append(a.phase)
    return f"Employer approved phase {a.phase}"


def _check_coach(state: TrajectoryState, a: CoachReplaced, today: date) -> None:
    if state.coach_id is None:
        raise ActionRefused("coach_replaced: no coach has been assigned yet")
    if a.coach_id == state.coach_id:
        raise ActionRefused("coach_id: %(value)r is already the coach", value=a.coach_id)


def _coach(state: TrajectoryState, a: CoachReplaced, now: datetime) -> str:
    previous = state.coach_id
    state.coach_id = a.coach_id
    state.coach_history.append(a.coach_id)
    return f"Coach replaced ({previous} -> {a.coach_id}): {a.reason}"


DECLARED: tuple[Declared[TrajectoryState], ...] = (
    # Anyone may hand in a document; the rules narrow it per document.
    Declared(
        DocumentReceived,
        frozenset(Role) - {Role.SYSTEEM},
        _check_document,
        _document,
        while_halted=True,
        role=_document_role,
    ),
    Declared(IntakeHeld, COACH, _check_intake, _intake),
    Declared(ProposalSent, COACH, _check_proposal, _proposal),
    Declared(PurchaseApproved, frozenset({Role.WERKGEVER}), _check_purchase, _purchase),
    Declared(CoachReplaced, COACH, _check_coach, _coach),
)
