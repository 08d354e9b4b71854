"""The gaps a dossier shows against its statutory steps: missing, late, late with a reason only after the term, the
views or a recent oordeel missing (domain.dossier_check.Gap)."""

from __future__ import annotations

from datetime import date, timedelta

from domain.case.deadlines import DeadlineView, deadlines
from domain.case.state import CaseState
from domain.dossier_check import Gap, GapKind, PreflightRules, Risk, fmt_day
from domain.models import DeadlineStatus, Role


def gaps(state: CaseState, today: date, rules: PreflightRules) -> list[Gap]:
    """Every gap in the dossier as of `today`, in order of due date."""
    found: list[Gap] = []
    for view in deadlines(state, today):
        gap = _step_gap(view, rules)
        if gap is not None:
            found.append(gap)
    found.extend(_views_missing(state, rules))
    oordeel = oordeel_gap(state, today, rules)
    if oordeel is not None:
        found.append(oordeel)
    return sorted(found, key=lambda g: (g.due is None, g.due or date.max, g.key))


def _step_gap(view: DeadlineView, rules: PreflightRules) -> Gap | None:
    if not view.tracked:
        return None
    risk = Risk.BOETE if view.key in rules.fine_only else Risk.LOONSANCTIE
    common = dict(
        key=view.key, occurrence=view.occurrence, label=view.label, risk=risk, due=view.due, done_on=view.done_on
    )
    if view.status is DeadlineStatus.OVERDUE:
        return Gap(kind=GapKind.MISSING, detail=f"Niet gedaan; uiterlijk {fmt_day(view.due)}", **common)
    if view.status is not DeadlineStatus.DONE:
        return None
    if view.reason_after_term and view.deviation is not None:
        term = view.original_due or view.due
        days = (view.done_on - term).days if view.done_on and term else 0
        return Gap(
            kind=GapKind.REASON_AFTER_TERM,
            detail=f"{days} dagen na de termijn gedaan ({fmt_day(view.done_on)}, uiterlijk {fmt_day(term)}); de reden "
            f"(Reg art. 5) is pas na de termijn gegeven, op {fmt_day(view.deviation.on)}: {view.deviation.reason}",
            **common,
        )
    if view.late:
        days = view.late_days or 0
        if view.original_due is not None:
            detail = (
                f"{days} dagen te laat ({fmt_day(view.done_on)}), ook na de verschoven termijn {fmt_day(view.due)} "
                f"(oorspronkelijk {fmt_day(view.original_due)})"
            )
        else:
            detail = f"{days} dagen te laat ({fmt_day(view.done_on)}, uiterlijk {fmt_day(view.due)}), zonder vastgelegde reden (Reg art. 5)"
        return Gap(kind=GapKind.LATE, detail=detail, **common)
    return None


def _views_missing(state: CaseState, rules: PreflightRules) -> list[Gap]:
    found = []
    for key in rules.views_required:
        step = state.done.get(key)
        if step is None or step.on < state.ruleset.views_required_from:
            continue
        details = (
            state.dossier[state.applied_actions[step.action_id] - 1].details
            if step.action_id in state.applied_actions
            else {}
        )
        missing = [
            who
            for who, field in (("werkgever", "employer_view"), ("werknemer", "employee_view"))
            if not details.get(field)
        ]
        if missing:
            label = state.ruleset.deadline(key).label
            found.append(
                Gap(
                    key=key,
                    label=label,
                    kind=GapKind.VIEWS_MISSING,
                    risk=Risk.LOONSANCTIE,
                    done_on=step.on,
                    detail="De visie op re-integratie van " + " en ".join(missing) + " staat niet in het dossier",
                )
            )
    return found


def oordeel_gap(state: CaseState, today: date, rules: PreflightRules) -> Gap | None:
    first = min(c.week for c in rules.check)
    start = state.clock.date_of_day(7 * (first - 1) + 1)
    if start is None or today < start:
        return None  # only from the first pre-flight on: earlier, any judgement is still recent enough
    last = max(
        (e.on for e in state.dossier if e.actor.role is Role.BEDRIJFSARTS and e.kind in rules.oordeel_kinds),
        default=None,
    )
    if last is not None and today - last <= timedelta(weeks=rules.recent_oordeel_weeks):
        return None
    detail = (
        f"Het laatste oordeel van de bedrijfsarts is van {fmt_day(last)}"
        if last
        else "Geen oordeel van de bedrijfsarts"
    ) + (f"; het re-integratieverslag vraagt een actueel oordeel (niet ouder dan {rules.recent_oordeel_weeks} weken)")
    return Gap(
        key="actueel_oordeel",
        label="Actueel oordeel van de bedrijfsarts",
        kind=GapKind.NO_RECENT_OORDEEL,
        risk=Risk.LOONSANCTIE,
        done_on=last,
        detail=detail,
    )
