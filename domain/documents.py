"""The dossier as documents: which documents a case makes, for whom, and when they fall due.

Pure rules: the case workflow asks `documents_due` what to render; an activity renders and stores
it; the dossier keeps only a `DocumentRef` (where it is and its SHA-256), never the document.
"""

from __future__ import annotations

import calendar
import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.dossier_check import PreflightRules
from domain.models import SYSTEM, Actor, Role


class DocumentKind(StrEnum):
    """The documents of a case (glossary: intakeverslag, voortgangsrapportage, no-go rapport, re-integratieoverzicht)."""

    INTAKEVERSLAG = "intakeverslag"  # spoor 2 intake: sent to employee and employer (seed 004)
    VOORTGANGSRAPPORTAGE = "voortgangsrapportage"  # monthly progress of the spoor 2 trajectory (seed 004)
    NO_GO_RAPPORT = "no_go_rapport"  # the haalbaarheidstoets said no-go: the grounds (seed 001)
    REINTEGRATIEOVERZICHT = "reintegratieoverzicht"  # for the WIA application: every step, record, gaps


class Audience(StrEnum):
    """Whose version: the employer's never holds the bedrijfsarts's medical notes."""

    WERKGEVER = "werkgever"
    BEDRIJFSARTS = "bedrijfsarts"

    @property
    def medical_notes(self) -> bool:
        return self is Audience.BEDRIJFSARTS


# Which roles may ask for (and download) which version.
AUDIENCE_ROLES: dict[Audience, frozenset[Role]] = {
    Audience.WERKGEVER: frozenset(
        {
            Role.WERKGEVER,
            Role.WERKNEMER,
            Role.CASEMANAGER,
            Role.REINTEGRATIECOACH,
            Role.ARBEIDSDESKUNDIGE,
            Role.BEDRIJFSARTS,
            Role.OPERATIONS,
            Role.UWV,
        }
    ),
    Audience.BEDRIJFSARTS: frozenset({Role.BEDRIJFSARTS}),
}


def may_read_version(
    role: Role, person_id: str, audience: Audience, requested_by: str | None, treating: Sequence[str]
) -> bool:
    """Whether a person may open a version of a document. The bedrijfsarts's version holds medical notes, so it is
    read by the bedrijfsarts who treats the case (`treating`: the assigned ones), as the dossier's notes are; while
    none is assigned, only by the bedrijfsarts who asked for it, not by every bedrijfsarts of the pool."""
    if role not in AUDIENCE_ROLES[audience]:
        return False
    if not audience.medical_notes:
        return True
    return person_id in treating if treating else person_id == requested_by


class DocumentOrder(BaseModel):
    """One document to render: what, as of which day, over which period, for whom."""

    model_config = ConfigDict(frozen=True)

    order_id: str = Field(description="Stable: the same order is rendered and recorded once")
    kind: DocumentKind
    audience: Audience = Audience.WERKGEVER
    as_of: date
    period_start: date | None = None
    period_end: date | None = None
    requested_by: Actor = SYSTEM
    action_id: str | None = None


class StoredDocument(BaseModel):
    """A rendered file in the document store: its key there, size and content hash."""

    key: str
    media_type: str
    size: int
    sha256: str


class DocumentRef(BaseModel):
    """What the case keeps of a rendered document: the order and where its files are."""

    order: DocumentOrder
    title: str
    html: StoredDocument
    pdf: StoredDocument
    rendered_at: datetime


class RenderJob(BaseModel):
    """What the render activity gets: the order and where to read the case (and trajectory) state."""

    case_id: str
    order: DocumentOrder
    trajectory_workflow_id: str | None = None


class DocumentRules(BaseModel):
    progress_report_every_months: int = Field(ge=1, le=12)


def add_months(d: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


class DossierRules(BaseModel):
    """domain/dossier.toml: when documents are made and what the loonsanctie pre-flight checks."""

    documents: DocumentRules
    preflight: PreflightRules


def parse_dossier_rules(text: str) -> DossierRules:
    return DossierRules.model_validate(tomllib.loads(text))
