"""The loonsanctie pre-flight: what the re-integratieverslag will need, checked against the dossier.

UWV judges the re-integration on the dossier handed in with the WIA application. A step missing, or
late without a recorded reason (Reg art. 5), is a gap that puts a loonsanctie at risk. The case runs
these checks from week 80 (as data, domain/dossier.toml) while there is still time to repair them,
and the re-integratieoverzicht lists the same findings.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from domain.models import SYSTEM, DeadlineStatus, Notification, Role

if TYPE_CHECKING:
    from domain.case import CaseState, DeadlineView


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


def _fmt(d: date | None) -> str:
    return d.strftime("%d-%m-%Y") if d else "-"


def gaps(state: CaseState, today: date, rules: PreflightRules) -> list[Gap]:
    """Every gap in the dossier as of `today`, in order of due date."""
    from domain.case import deadlines  # a cycle otherwise: domain.case carries the preflight state

    found: list[Gap] = []
    for view in deadlines(state, today):
        gap = _step_gap(view, rules)
        if gap is not None:
            found.append(gap)
    found.extend(_views_missing(state, rules))
    oordeel = _oordeel_gap(state, today, rules)
    if oordeel is not None:
        found.append(oordeel)
    return sorted(found, key=lambda g: (g.due is None, g.due or date.max, g.key))


def _step_gap(view: DeadlineView, rules: PreflightRules) -> Gap | None:
    if not view.tracked:
        return None
    risk = Risk.BOETE if view.key in rules.fine_only else Risk.LOONSANCTIE
    common = dict(key=view.key, occurrence=view.occurrence, label=view.label, risk=risk, due=view.due, done_on=view.done_on)
    if view.status is DeadlineStatus.OVERDUE:
        return Gap(kind=GapKind.MISSING, detail=f"Niet gedaan; uiterlijk {_fmt(view.due)}", **common)
    if view.status is not DeadlineStatus.DONE:
        return None
    if view.reason_after_term and view.deviation is not None:
        term = view.original_due or view.due
        days = (view.done_on - term).days if view.done_on and term else 0
        return Gap(kind=GapKind.REASON_AFTER_TERM,
                   detail=f"{days} dagen na de termijn gedaan ({_fmt(view.done_on)}, uiterlijk {_fmt(term)}); de reden "
                          f"(Reg art. 5) is pas na de termijn gegeven, op {_fmt(view.deviation.on)}: {view.deviation.reason}",
                   **common)
    if view.late and not view.excused:
        days = view.late_days or 0
        if view.original_due is not None:
            detail = (f"{days} dagen te laat ({_fmt(view.done_on)}), ook na de verschoven termijn {_fmt(view.due)} "
                      f"(oorspronkelijk {_fmt(view.original_due)})")
        else:
            detail = f"{days} dagen te laat ({_fmt(view.done_on)}, uiterlijk {_fmt(view.due)}), zonder vastgelegde reden (Reg art. 5)"
        return Gap(kind=GapKind.LATE, detail=detail, **common)
    return None


def _views_missing(state: CaseState, rules: PreflightRules) -> list[Gap]:
    found = []
    for key in rules.views_required:
        step = state.done.get(key)
        if step is None or step.on < state.ruleset.views_required_from:
            continue
        details = state.dossier[state.applied_actions[step.action_id] - 1].details if step.action_id in state.applied_actions else {}
        missing = [who for who, field in (("werkgever", "employer_view"), ("werknemer", "employee_view")) if not details.get(field)]
        if missing:
            label = state.ruleset.deadline(key).label  # type: ignore[arg-type]
            found.append(Gap(key=key, label=label, kind=GapKind.VIEWS_MISSING, risk=Risk.LOONSANCTIE, done_on=step.on,
                             detail="De visie op re-integratie van " + " en ".join(missing) + " staat niet in het dossier"))
    return found


def _oordeel_gap(state: CaseState, today: date, rules: PreflightRules) -> Gap | None:
    first = min(c.week for c in rules.check)
    start = state.clock.date_of_day(7 * (first - 1) + 1)
    if start is None or today < start:
        return None  # only from the first pre-flight on: earlier, any judgement is still recent enough
    last = max((e.on for e in state.dossier if e.actor.role is Role.BEDRIJFSARTS and e.kind in rules.oordeel_kinds),
               default=None)
    if last is not None and today - last <= timedelta(weeks=rules.recent_oordeel_weeks):
        return None
    detail = (f"Het laatste oordeel van de bedrijfsarts is van {_fmt(last)}" if last else "Geen oordeel van de bedrijfsarts") + (
        f"; het re-integratieverslag vraagt een actueel oordeel (niet ouder dan {rules.recent_oordeel_weeks} weken)")
    return Gap(key="actueel_oordeel", label="Actueel oordeel van de bedrijfsarts", kind=GapKind.NO_RECENT_OORDEEL,
               risk=Risk.LOONSANCTIE, done_on=last, detail=detail)


def check_dates(state: CaseState, rules: PreflightRules) -> list[tuple[int, date]]:
    """Each pre-flight check's week and the day it runs (the day after that week of illness)."""
    out = []
    for c in rules.check:
        day = state.clock.date_of_day(7 * c.week + 1)
        if day is not None:
            out.append((c.week, day))
    return out


def preflight(state: CaseState, *, today: date, now: datetime) -> list[Notification]:
    """Run the pre-flight checks that fell due; a late wake runs the latest only. Returns its notifications."""
    rules = state.dossier_rules.preflight if state.dossier_rules else None
    if rules is None or state.closed or state.recovered_on is not None or state.on_leave is not None:
        return []
    fallen = [(w, d) for w, d in check_dates(state, rules) if d <= today and w not in state.preflights_run]
    if not fallen:
        return []
    state.preflights_run.extend(w for w, _ in fallen)
    week, _ = fallen[-1]
    found = gaps(state, today, rules)
    loonsanctie = [g for g in found if g.risk is Risk.LOONSANCTIE]
    summary = (f"Pre-flight week {week}: {len(found)} gap(s) in the dossier, {len(loonsanctie)} with a loonsanctie risk"
               if found else f"Pre-flight week {week}: the dossier has everything the re-integratieverslag needs")
    state.record(now=now, on=today, actor=SYSTEM, kind="preflight", summary=summary,
                 details={"week": week, "gaps": [g.model_dump(mode="json") for g in found]})
    if not found:
        return []
    check = next(c for c in rules.check if c.week == week)
    lines = "\n".join(f"- {g.label}{f' #{g.occurrence}' if g.occurrence else ''}: {g.kind.value}, risk {g.risk.value} "
                      f"(due {g.due or '-'}, done {g.done_on or '-'})" for g in found)
    body = (f"The dossier check of week {week} of case {state.case_id} found {len(found)} gap(s) that the "
            f"re-integratieverslag will show UWV. Repair them while there is time (record the step, or a "
            f"deviation with its reason):\n{lines}")
    return [
        Notification(notification_id=f"{state.case_id}:preflight:{week}:{role.value}", case_id=state.case_id,
                     recipient_role=role, kind="preflight_gaps",
                     subject=f"Case {state.case_id}: dossier check week {week}, {len(found)} gap(s)",
                     body=body, recipients=list(state.contacts.get(role, [])))
        for role in check.notify
    ]


def next_preflight(state: CaseState) -> date | None:
    """The day the next pre-flight check runs, if any is left."""
    rules = state.dossier_rules.preflight if state.dossier_rules else None
    if rules is None or state.closed:
        return None
    days = [d for w, d in check_dates(state, rules) if w not in state.preflights_run]
    return min(days, default=None)
