"""The dossier as documents: the bedrijfsarts's actueel oordeel, and a document requested."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import Field

from domain.access import ALL_PARTIES
from domain.case.state import CaseState
from domain.documents import AUDIENCE_ROLES, Audience, DocumentKind, DocumentOrder
from domain.errors import ActionRefused
from domain.ledger import ActionBase, Declared
from domain.models import Role


class BedrijfsartsOordeel(ActionBase):
    """The bedrijfsarts's actueel oordeel of the employee's capacity: the re-integratieverslag needs a recent one."""

    kind: Literal["bedrijfsarts_oordeel"]
    belastbaarheid_hours_per_day: float | None = Field(default=None, ge=0, le=24)


class DocumentRequested(ActionBase):
    """Render a document of the case now (domain.documents); the dossier records where it is stored."""

    kind: Literal["document_requested"]
    document: DocumentKind
    audience: Audience = Field(default=Audience.WERKGEVER, description="werkgever: without medical notes")
    period_start: date | None = Field(
        default=None, description="voortgangsrapportage: first day (default a month back)"
    )
    period_end: date | None = Field(default=None, description="voortgangsrapportage: last day (default `on`)")


def _check_document(state: CaseState, action: DocumentRequested, today: date) -> None:
    if state.documents.rules is None:
        raise ActionRefused("document_requested: this case was opened without the dossier rules; it makes no documents")
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
    if periodic and state.spoor2.started_on is None:
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


def _period(state: CaseState, action: DocumentRequested) -> tuple[date, date]:
    end = action.period_end or action.on
    start = action.period_start or max(end - timedelta(days=30), state.spoor2.started_on or state.first_sick_day)
    return start, end


def _document_requested(state: CaseState, action: DocumentRequested, now: datetime) -> str:
    start, end = _period(state, action) if action.document is DocumentKind.VOORTGANGSRAPPORTAGE else (None, None)
    state.documents.requests.append(
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


def _oordeel(state: CaseState, action: BedrijfsartsOordeel, now: datetime) -> str:
    return "Actueel oordeel of the bedrijfsarts recorded"


DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(BedrijfsartsOordeel, frozenset({Role.BEDRIJFSARTS}), effect=_oordeel),
    # Who may ask for which version is checked against domain.documents.AUDIENCE_ROLES.
    Declared(
        DocumentRequested,
        frozenset({*ALL_PARTIES, Role.BEDRIJFSARTS, Role.REINTEGRATIECOACH, Role.ARBEIDSDESKUNDIGE}),
        _check_document,
        _document_requested,
        activity=False,
    ),
)
