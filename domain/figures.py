"""The verzuim figures of one employer over one period, by the published definitions. Pure: the store
(service.reporting) hands in the spells of the employer's cases and its employment data.

Sources (read 2026-12):
- Vernet, "Definities en rekenregels" (https://www.vernet.nl/definities/), after the 1996 standard of the
  Projectgroep Uniformering Verzuimgrootheden (CBS, Ctsv, NIA, SZW, Tica, TNO), "Berekening van ziekteverzuim":
  * verzuimpercentage: every sick day in the period × that day's part-time factor × the incapacity factor, summed,
    ÷ every employment day in the period (sick or not) × that day's part-time factor, summed, × 100;
  * meldingsfrequentie: sick reports in the period ÷ the number of employees in the period (the average headcount);
    a quarter's × 4 (and a month's × 12) so that it compares with a year's;
  * gemiddelde verzuimduur: the cases ended in the period (hersteldatum inside it), each counted from its first sick
    day on, so days before the period count too, ÷ their number;
  * duurklassen: each case of the period by its total length, from its first sick day up to its hersteldatum or the
    period's end, at most 730 days: 1–14, 15–91, 92–365, 366–730.
- CBS, "Ziekteverzuimpercentage" (https://www.cbs.nl/nl-nl/onze-diensten/methoden/begrippen/ziekteverzuimpercentage)
  and "Verzuimduur" (…/begrippen/verzuimduur-ziekteverzuim): sick calendar days as a percentage of the available
  calendar days, without part-time or incapacity factors; long absence counts, pregnancy and maternity leave does
  not (a case's leave is no sick period: domain.clock).

Calendar days throughout; a case crossing the period's border counts only its days inside.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.facts import CaseRow, Spell


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# Periods per year: the meldingsfrequentie of a shorter period is raised to a year's (Vernet).
PER_YEAR = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 4, PeriodKind.YEAR: 1}
# Duration classes (Vernet): label, first and last day; a case longer than the last counts in the last.
DURATION_CLASSES: tuple[tuple[str, int, int], ...] = (
    ("1-14", 1, 14),
    ("15-91", 15, 91),
    ("92-365", 92, 365),
    ("366-730", 366, 730),
)
MAX_DURATION = 730


class Period(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: PeriodKind
    start: date
    end: date = Field(description="The first day after the period (after today, for one still running)")
    full_end: date | None = Field(default=None, description="A running period's own end; None when it has ended")

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def so_far(self, as_of: date) -> Period:
        """The period up to and including `as_of` when it is still running then: no day after today is counted (a
        running case's length, its sick days, the employment days); itself when it has ended."""
        if self.end <= as_of + timedelta(days=1) or as_of < self.start:
            return self
        return self.model_copy(update={"end": as_of + timedelta(days=1), "full_end": self.end})

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.YEAR:
            return str(self.start.year)
        if self.kind is PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"


def period_of(kind: PeriodKind, day: date) -> Period:
    """The month, quarter or year `day` falls in."""
    if kind is PeriodKind.YEAR:
        return Period(kind=kind, start=date(day.year, 1, 1), end=date(day.year + 1, 1, 1))
    months = 3 if kind is PeriodKind.QUARTER else 1
    first = (day.month - 1) // months * months + 1
    year, month = (day.year + 1, 1) if first + months > 12 else (day.year, first + months)
    return Period(kind=kind, start=date(day.year, first, 1), end=date(year, month, 1))


def periods_between(kind: PeriodKind, first: date, last: date, as_of: date | None = None) -> list[Period]:
    """The periods from the one holding `first` up to the one holding `last`; with `as_of` (today), one still running
    counts its days so far (`Period.so_far`), and one not begun yet is left out."""
    found = [period_of(kind, first)]
    while found[-1].end <= last:
        found.append(period_of(kind, found[-1].end))
    if as_of is None:
        return found
    return [p.so_far(as_of) for p in found if p.start <= as_of]


class Employment(BaseModel):
    """One employee's employment at one part-time factor, from `start` up to and including `end` (None: ongoing)."""

    model_config = ConfigDict(frozen=True)

    employer_id: str
    employee_key: str = Field(default="", description="Keyed hash of the personnel number (operations.people)")
    start: date
    end: date | None = None
    part_time_factor: float = Field(gt=0, le=1)

    @property
    def until(self) -> date | None:
        return None if self.end is None else self.end + timedelta(days=1)


class Figures(BaseModel):
    employer_id: str
    period: str
    start: date
    end: date = Field(description="The period's last day")
    verzuimpercentage: float | None = Field(description="Vernet: part-time and incapacity factors; None without staff")
    verzuimpercentage_cbs: float | None = Field(description="CBS: calendar days, no factors")
    meldingsfrequentie: float | None = Field(description="Sick reports per employee, per year")
    gemiddelde_verzuimduur: float | None = Field(description="Days, of the cases ended in the period; None if none")
    sick_reports: int
    cases_ended: int
    average_headcount: float
    duration_classes: dict[str, int]
    cases_without_employment: int = Field(description="Cases whose employee is not in the employment data: factor 1")
    running: bool = Field(default=False, description="The period has not ended: the figures count its days up to `end`")


def overlap(start: date, end: date | None, period: Period) -> int:
    """Days of [start, end) inside the period (end None: open)."""
    last = period.end if end is None else min(end, period.end)
    return max(0, (last - max(start, period.start)).days)


class _Melding(BaseModel):
    """A ziekmelding: a reported spell and the spells that carry it on, up to the next report."""

    start: date
    end: date | None
    spells: list[Spell]


def meldingen(spells: Iterable[Spell]) -> list[_Melding]:
    found: list[_Melding] = []
    for spell in sorted(spells, key=lambda s: s.start):
        if spell.reported or not found:
            found.append(_Melding(start=spell.start, end=spell.end, spells=[spell]))
        else:
            found[-1].spells.append(spell)
            found[-1].end = spell.end
    return found


def compute(
    employer_id: str,
    period: Period,
    cases: Sequence[tuple[CaseRow, Sequence[Spell]]],
    employments: Sequence[Employment],
) -> Figures:
    """The figures of one employer in one period from its cases (with their spells) and its employment data."""
    staff = [e for e in employments if e.employer_id == employer_id]
    employed = sum(overlap(e.start, e.until, period) for e in staff)
    weighted = sum(overlap(e.start, e.until, period) * e.part_time_factor for e in staff)
    sick_weighted = 0.0
    sick_days = 0
    reports = 0
    ended: list[int] = []
    classes = {label: 0 for label, _, _ in DURATION_CLASSES}
    unmatched = 0
    for case, spells in cases:
        if case.employer_id != employer_id:
            continue
        keys = set(case.person_keys)
        own = [e for e in staff if e.employee_key and e.employee_key in keys]
        if not own and any(overlap(s.start, s.end, period) for s in spells):
            unmatched += 1
        for spell in spells:
            if own:
                for e in own:  # only the days employed count, each at that employment's factor
                    span = overlap(max(spell.start, e.start), _earliest(spell.end, e.until), period)
                    sick_days += span
                    sick_weighted += span * e.part_time_factor * spell.incapacity / 100
            else:
                days = overlap(spell.start, spell.end, period)
                sick_days += days
                sick_weighted += days * spell.incapacity / 100
        for melding in meldingen(spells):
            if period.start <= melding.start < period.end:
                reports += 1
            # Ended in the period: its last sick day (the day before the hersteldatum) falls inside it.
            if melding.end is not None and period.start < melding.end <= period.end:
                ended.append((melding.end - melding.start).days)
            if overlap(melding.start, melding.end, period):
                until = period.end if melding.end is None else min(melding.end, period.end)
                length = min((until - melding.start).days, MAX_DURATION)
                for label, low, high in DURATION_CLASSES:
                    if low <= length <= high:
                        classes[label] += 1
    headcount = employed / period.days
    # A running period's reports so far, raised to a year's over the days counted (a whole quarter's: × 4).
    per_year = PER_YEAR[period.kind] * ((period.full_end - period.start).days / period.days if period.full_end else 1)
    return Figures(
        employer_id=employer_id,
        period=period.label,
        start=period.start,
        end=period.end - timedelta(days=1),
        verzuimpercentage=round(sick_weighted / weighted * 100, 2) if weighted else None,
        verzuimpercentage_cbs=round(sick_days / employed * 100, 2) if employed else None,
        meldingsfrequentie=round(reports / headcount * per_year, 2) if headcount else None,
        gemiddelde_verzuimduur=round(sum(ended) / len(ended), 1) if ended else None,
        sick_reports=reports,
        cases_ended=len(ended),
        average_headcount=round(headcount, 2),
        duration_classes=classes,
        cases_without_employment=unmatched,
        running=period.full_end is not None,
    )


def _earliest(a: date | None, b: date | None) -> date | None:
    if a is None:
        return b
    return a if b is None else min(a, b)
