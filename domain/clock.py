"""The statutory clock: sick periods, days of illness, and when each step is due.

Day 1 is the first sick day; week N is illness days 7(N-1)+1 .. 7N. Under the four-week rule,
sick periods less than `four_week_rule_days` apart add up and the gap does not count, so every
date is found by counting sick days only. A gap of that length or more starts a new case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import ActionRefused
from domain.nl_time import next_working_day
from domain.rules import DeadlineRule, RuleSet


class PeriodError(ValueError):
    """Sick periods that cannot be: a field name and the reason, and the refusal a case's opening gives for it (its
    interruptions, in the reader's language: domain.errors)."""

    def __init__(self, field: str, refusal: ActionRefused) -> None:
        self.field = field
        self.refusal = refusal
        self.reason = str(refusal).partition(": ")[2]
        super().__init__(f"{field}: {self.reason}")


class SickPeriod(BaseModel):
    """A run of sick days: `start` is the first sick day, `end` the first day back (exclusive)."""

    model_config = ConfigDict(frozen=True)

    start: date
    end: date | None = None
    paused_for: str | None = Field(
        default=None, description="Ended by leave that does not count (a RuleSet pause key), not by recovery"
    )

    @property
    def length(self) -> int | None:
        return None if self.end is None else (self.end - self.start).days


def build_periods(first_sick_day: date, interruptions: Sequence[tuple[date, date | None]]) -> list[SickPeriod]:
    """Periods from a first sick day and (recovered_on, relapsed_on) pairs, checked for order."""
    periods: list[SickPeriod] = []
    start = first_sick_day
    for i, (recovered, relapsed) in enumerate(interruptions):
        if recovered <= start:
            raise PeriodError(
                "recovered",
                ActionRefused(
                    "interruptions.recovered: %(recovered)s is not after the sick period that began %(start)s (recovered "
                    "is the first day back at work)",
                    recovered=recovered,
                    start=start,
                ),
            )
        periods.append(SickPeriod(start=start, end=recovered))
        if relapsed is None:
            if i != len(interruptions) - 1:
                raise PeriodError(
                    "relapse",
                    ActionRefused(
                        "interruptions.relapse: recovery on %(recovered)s needs a relapse before the next recovery",
                        recovered=recovered,
                    ),
                )
            return periods
        if relapsed <= recovered:
            raise PeriodError(
                "relapse",
                ActionRefused(
                    "interruptions.relapse: %(relapsed)s is not after the recovery on %(recovered)s",
                    relapsed=relapsed,
                    recovered=recovered,
                ),
            )
        start = relapsed
    periods.append(SickPeriod(start=start))
    return periods


def split_into_cases(periods: Sequence[SickPeriod], four_week_rule_days: int) -> list[list[SickPeriod]]:
    """Group periods into cases: a gap of `four_week_rule_days` or more starts a new case."""
    cases: list[list[SickPeriod]] = []
    for p in periods:
        if cases and cases[-1][-1].end is not None and (p.start - cases[-1][-1].end).days < four_week_rule_days:
            cases[-1].append(p)
        else:
            cases.append([p])
    return cases


class Clock:
    """Illness-day arithmetic over the sick periods of one case."""

    def __init__(self, periods: Iterable[SickPeriod]) -> None:
        self.periods = tuple(periods)
        if not self.periods:
            raise ValueError("a clock needs at least one sick period")

    @property
    def first_sick_day(self) -> date:
        return self.periods[0].start

    @property
    def paused(self) -> bool:
        """True while the employee is recovered (the last period has ended)."""
        return self.periods[-1].end is not None

    def date_of_day(self, n: int) -> date | None:
        """The calendar date of illness day `n`; None if it lies beyond a recovery (clock paused)."""
        if n < 1:
            raise ValueError("illness days start at 1")
        remaining = n
        for p in self.periods:
            if p.length is None or remaining <= p.length:
                return p.start + timedelta(days=remaining - 1)
            remaining -= p.length
        return None

    def day_of_date(self, d: date) -> int:
        """How many sick days there are up to and including `d`."""
        total = 0
        for p in self.periods:
            if d < p.start:
                break
            last = d if p.end is None else min(d, p.end - timedelta(days=1))
            total += (last - p.start).days + 1
        return total

    def week_of_date(self, d: date) -> int:
        """The week of illness `d` falls in (0 before the first sick day)."""
        return (self.day_of_date(d) + 6) // 7

    def after_weeks(self, d: date, weeks: int) -> date | None:
        """The date `weeks` weeks of illness after `d`."""
        return self.date_of_day(max(self.day_of_date(d), 1) + 7 * weeks)


def fixed_due(rule: DeadlineRule, clock: Clock, done: dict[str, date], holidays: Collection[date] = ()) -> date | None:
    """Due date of a non-recurring step, given the dates other steps were done (and the public holidays)."""
    if rule.after is not None and rule.after_weeks is not None and rule.after in done:
        due = clock.after_weeks(done[rule.after], rule.after_weeks)
    else:
        day = 7 * rule.week + (1 if rule.anchor == "day_after_week" else 0)
        due = clock.date_of_day(day)
    if due is not None and rule.working_day:
        due = next_working_day(due, holidays)
    return due


def recurring_dues(
    rule: DeadlineRule,
    ruleset: RuleSet,
    clock: Clock,
    done: dict[str, date],
    held: Sequence[date],
    *,
    plan_ahead: bool,
    holidays: Collection[date] = (),
) -> list[date | None]:
    """Due dates of a recurring step: one per occurrence held, then the next one open.

    With `plan_ahead`, every future occurrence up to `until_week` is listed (for planning);
    otherwise only the next one, since each is due `every_weeks` after the one actually held.
    """
    assert rule.every_weeks is not None and rule.after is not None and rule.until_week is not None
    limit_day = 7 * rule.until_week
    base = done.get(rule.after) or fixed_due(ruleset.deadline(rule.after), clock, done, holidays)
    dues: list[date | None] = []
    for h in held:
        dues.append(clock.after_weeks(base, rule.every_weeks) if base else None)
        base = h
    while True:
        if base is None:
            dues.append(None)
            break
        nxt = clock.after_weeks(base, rule.every_weeks)
        if nxt is None:
            dues.append(None)
            break
        if clock.day_of_date(nxt) > limit_day:
            break
        dues.append(nxt)
        if not plan_ahead:
            break
        base = nxt
    return dues


class ScheduledStep(BaseModel):
    """A statutory step on the calendar; `occurrence` numbers recurring ones from 1."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    due: date | None
    occurrence: int | None = None
    tracked: bool = True


def statutory_calendar(
    ruleset: RuleSet, periods: Sequence[SickPeriod], holidays: Collection[date] = ()
) -> list[ScheduledStep]:
    """Every statutory step of a case with nothing done yet, in order of due date."""
    clock = Clock(periods)
    steps: list[ScheduledStep] = []
    for rule in ruleset.deadlines:
        if rule.recurring:
            for i, due in enumerate(
                recurring_dues(rule, ruleset, clock, {}, [], plan_ahead=True, holidays=holidays), start=1
            ):
                steps.append(ScheduledStep(key=rule.key, label=rule.label, due=due, occurrence=i))
        else:
            steps.append(
                ScheduledStep(
                    key=rule.key, label=rule.label, due=fixed_due(rule, clock, {}, holidays), tracked=rule.tracked
                )
            )
    return sorted(steps, key=lambda s: (s.due is None, s.due or date.max))
