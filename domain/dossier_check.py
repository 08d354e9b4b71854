"""The loonsanctie pre-flight: what the re-integratieverslag will need, checked against the dossier.

UWV judges the re-integration on the dossier handed in with the WIA application. A step missing, or
late without a recorded reason (Reg art. 5), is a gap that puts a loonsanctie at risk. The case runs
these checks from week 80 (as data, domain/dossier.toml) while there is still time to repair them,
and the re-integratieoverzicht lists the same findings. Here: the rules and the findings as data; the checks
that read a case are `domain.case.preflight` and `domain.case.toets`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.models import Role


class GapKind(StrEnum):
    MISSING = "missing"  # due, not done, no recorded deviation
    LATE = "late"  # done after its due date, no recorded deviation
    VIEWS_MISSING = "views_missing"  # the employer's or the employee's view is not on record
    NO_RECENT_OORDEEL = "no_recent_oordeel"  # no actueel oordeel of the bedrijfsarts
    REASON_AFTER_TERM = "reason_after_term"  # late, with a reason (Reg art. 5) given only after the term


class Risk(StrEnum):
    LOONSANCTIE = "loonsanctie"
    BOETE = "boete"  # a fine, e.g. a late ziekmelding at UWV


class Gap(BaseModel):
    """One finding: the step, what is wrong, and the dates that show it."""

    key: str = Field(description="The statutory step (deadline key) or check it concerns")
    occurrence: int | None = None
    label: str
    kind: GapKind
    risk: Risk
    due: date | None = None
    done_on: date | None = None
    detail: str = Field(description="In Dutch, for the report and the notification; never personal data")


class PreflightCheck(BaseModel):
    week: int = Field(ge=1, le=200)
    notify: list[Role] = Field(min_length=1)


class PreflightRules(BaseModel):
    recent_oordeel_weeks: int = Field(ge=1)
    oordeel_kinds: list[str]
    fine_only: list[str] = Field(default_factory=list)
    views_required: list[str] = Field(default_factory=list)
    check: list[PreflightCheck] = Field(min_length=1)


def fmt_day(d: date | None) -> str:
    return d.strftime("%d-%m-%Y") if d else "-"


class ToetsStep(StrEnum):
    """UWV's Werkwijzer Poortwachter: the order in which an assessor reads the re-integratieverslag."""

    DOCUMENTEN = "documenten"  # (1) are the documents complete
    RESULTAAT = "resultaat"  # (2) is there a satisfactory result
    INSPANNINGEN = "inspanningen"  # (3) were the efforts enough
    GRONDEN = "gronden"  # (4) if not, is there a valid reason
    HERSTEL = "herstel"  # (5) can it still be repaired


class PointStatus(StrEnum):
    OK = "ok"
    OPEN = "open"  # what an assessor would hold against the dossier today
    LATER = "later"  # not yet due


class ToetsPoint(BaseModel):
    step: ToetsStep
    status: PointStatus
    label: str
    detail: str = Field(description="In Dutch; never personal or medical data")


class Toets(BaseModel):
    """The dossier read the way UWV's assessor will read it, as of a day: each point in the assessor's order."""

    as_of: date
    points: list[ToetsPoint]
    verdict: str

    @property
    def open_points(self) -> list[ToetsPoint]:
        return [p for p in self.points if p.status is PointStatus.OPEN]


# The parts of a complete re-integratieverslag (Reg art. 6; Werkwijzer Poortwachter) that are steps of the
# rule set, in the verslag's order; the actueel oordeel and the medical route are checked from the record.
VERSLAG_STEPS = ("probleemanalyse", "plan_van_aanpak", "eerstejaarsevaluatie", "eindevaluatie", "oordeel_werknemer")


# A result that satisfies the assessor: work with the own or a new employer, or a lasting placement.
SATISFACTORY_PERCENTAGE = 65  # product default: earning at least 65% of the old wage (the WIA's own threshold)
