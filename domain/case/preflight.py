"""The loonsanctie pre-flight: from week 80, the gaps the re-integratieverslag would show, while there is time to repair them."""

from __future__ import annotations

from datetime import date, datetime

from domain import glossary
from domain.case.gaps import gaps
from domain.case.state import CaseState
from domain.case.toets import toets
from domain.dossier_check import PreflightRules, Risk, Toets
from domain.messages import N_, Text, ngettext, text
from domain.models import SYSTEM, Notification


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
    rules = state.documents.rules.preflight if state.documents.rules else None
    if rules is None or state.closed or state.recovered_on is not None or state.on_leave is not None:
        return []
    fallen = [(w, d) for w, d in check_dates(state, rules) if d <= today and w not in state.documents.preflights_run]
    if not fallen:
        return []
    state.documents.preflights_run.extend(w for w, _ in fallen)
    week, _ = fallen[-1]
    found = gaps(state, today, rules)
    loonsanctie = [g for g in found if g.risk is Risk.LOONSANCTIE]
    summary = (
        f"Pre-flight week {week}: {len(found)} gap(s) in the dossier, {len(loonsanctie)} with a loonsanctie risk"
        if found
        else f"Pre-flight week {week}: the dossier has everything the re-integratieverslag needs"
    )
    details: dict = {"week": week, "gaps": [g.model_dump(mode="json") for g in found]}
    assessed = toets(state, today, rules)
    details["toets"] = [p.model_dump(mode="json") for p in assessed.open_points]
    state.log(now=now, on=today, actor=SYSTEM, kind="preflight", summary=summary, details=details)
    if not found:
        return []
    check = next(c for c in rules.check if c.week == week)
    # In the order UWV's assessor reads the verslag.
    lines = "\n".join(f"- {glossary.TOETS_STEPS[p.step]} {p.label}: {p.detail}" for p in assessed.open_points)
    body = (
        f"The dossier check of week {week} of case {state.case_id} found {len(found)} gap(s) that the "
        f"re-integratieverslag will show UWV. Repair them while there is time (record the step, or a "
        f"deviation with its reason):\n{lines}"
    )
    subject_text = ngettext(
        "Case %(case)s: dossier check week %(week)s, %(num)s gap",
        "Case %(case)s: dossier check week %(week)s, %(num)s gaps",
        len(found),
        case=state.case_id,
        week=week,
    )
    body_text = ngettext(
        "The dossier check of week %(week)s of case %(case)s found %(num)s gap that the "
        "re-integratieverslag will show UWV. Repair it while there is time (record the step, or a "
        "deviation with its reason):\n%(lines)s",
        "The dossier check of week %(week)s of case %(case)s found %(num)s gaps that the "
        "re-integratieverslag will show UWV. Repair them while there is time (record the step, or a "
        "deviation with its reason):\n%(lines)s",
        len(found),
        week=week,
        case=state.case_id,
        lines=_toets_lines(assessed),
    )
    return [
        Notification(
            notification_id=f"{state.case_id}:preflight:{week}:{role.value}",
            case_id=state.case_id,
            recipient_role=role,
            kind="preflight_gaps",
            subject=f"Case {state.case_id}: dossier check week {week}, {len(found)} gap(s)",
            body=body,
            recipients=list(state.people.contacts.get(role, [])),
            subject_text=subject_text,
            body_text=body_text,
        )
        for role in check.notify
    ]


def _toets_lines(assessed: Toets) -> list[Text]:
    """The notice's lines in the assessor's order, translated when it is sent."""
    return [
        text(
            N_("- %(question)s %(label)s: %(detail)s"),
            question=text(glossary.label(glossary.TOETS_STEPS, p.step)),
            label=p.label,
            detail=p.detail,
        )
        for p in assessed.open_points
    ]


def next_preflight(state: CaseState) -> date | None:
    """The day the next pre-flight check runs, if any is left."""
    rules = state.documents.rules.preflight if state.documents.rules else None
    if rules is None or state.closed:
        return None
    days = [d for w, d in check_dates(state, rules) if w not in state.documents.preflights_run]
    return min(days, default=None)
