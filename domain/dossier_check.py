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

from domain import glossary
from domain.messages import N_, Text, ngettext, text
from domain.models import SYSTEM, DeadlineStatus, Notification, Role
from domain.observations import FACTS_REVISION

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
    common = dict(
        key=view.key, occurrence=view.occurrence, label=view.label, risk=risk, due=view.due, done_on=view.done_on
    )
    if view.status is DeadlineStatus.OVERDUE:
        return Gap(kind=GapKind.MISSING, detail=f"Niet gedaan; uiterlijk {_fmt(view.due)}", **common)
    if view.status is not DeadlineStatus.DONE:
        return None
    if view.reason_after_term and view.deviation is not None:
        term = view.original_due or view.due
        days = (view.done_on - term).days if view.done_on and term else 0
        return Gap(
            kind=GapKind.REASON_AFTER_TERM,
            detail=f"{days} dagen na de termijn gedaan ({_fmt(view.done_on)}, uiterlijk {_fmt(term)}); de reden "
            f"(Reg art. 5) is pas na de termijn gegeven, op {_fmt(view.deviation.on)}: {view.deviation.reason}",
            **common,
        )
    if view.late and not view.excused:
        days = view.late_days or 0
        if view.original_due is not None:
            detail = (
                f"{days} dagen te laat ({_fmt(view.done_on)}), ook na de verschoven termijn {_fmt(view.due)} "
                f"(oorspronkelijk {_fmt(view.original_due)})"
            )
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


def _oordeel_gap(state: CaseState, today: date, rules: PreflightRules) -> Gap | None:
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
        f"Het laatste oordeel van de bedrijfsarts is van {_fmt(last)}" if last else "Geen oordeel van de bedrijfsarts"
    ) + (f"; het re-integratieverslag vraagt een actueel oordeel (niet ouder dan {rules.recent_oordeel_weeks} weken)")
    return Gap(
        key="actueel_oordeel",
        label="Actueel oordeel van de bedrijfsarts",
        kind=GapKind.NO_RECENT_OORDEEL,
        risk=Risk.LOONSANCTIE,
        done_on=last,
        detail=detail,
    )


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
    summary = (
        f"Pre-flight week {week}: {len(found)} gap(s) in the dossier, {len(loonsanctie)} with a loonsanctie risk"
        if found
        else f"Pre-flight week {week}: the dossier has everything the re-integratieverslag needs"
    )
    details: dict = {"week": week, "gaps": [g.model_dump(mode="json") for g in found]}
    assessed = toets(state, today, rules) if state.revision >= FACTS_REVISION else None
    if assessed is not None:
        details["toets"] = [p.model_dump(mode="json") for p in assessed.open_points]
    state.record(now=now, on=today, actor=SYSTEM, kind="preflight", summary=summary, details=details)
    if not found:
        return []
    check = next(c for c in rules.check if c.week == week)
    lines = "\n".join(
        f"- {g.label}{f' #{g.occurrence}' if g.occurrence else ''}: {g.kind.value}, risk {g.risk.value} "
        f"(due {g.due or '-'}, done {g.done_on or '-'})"
        for g in found
    )
    if assessed is not None:  # in the order UWV's assessor reads the verslag
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
        lines=_gap_lines(found, assessed),
    )
    return [
        Notification(
            notification_id=f"{state.case_id}:preflight:{week}:{role.value}",
            case_id=state.case_id,
            recipient_role=role,
            kind="preflight_gaps",
            subject=f"Case {state.case_id}: dossier check week {week}, {len(found)} gap(s)",
            body=body,
            recipients=list(state.contacts.get(role, [])),
            subject_text=subject_text,
            body_text=body_text,
        )
        for role in check.notify
    ]


def _gap_lines(found: list[Gap], assessed: Toets | None) -> list[Text]:
    """The notice's lines, translated when it is sent: in the assessor's order where the toets ran."""
    if assessed is not None:
        return [
            text(
                N_("- %(question)s %(label)s: %(detail)s"),
                question=text(glossary.label(glossary.TOETS_STEPS, p.step)),
                label=p.label,
                detail=p.detail,
            )
            for p in assessed.open_points
        ]
    return [
        text(
            N_("- %(step)s%(occurrence)s: %(kind)s, risk %(risk)s (due %(due)s, done %(done)s)"),
            step=g.label,
            occurrence=f" #{g.occurrence}" if g.occurrence else "",
            kind=text(glossary.label(glossary.GAP_KINDS, g.kind)),
            risk=text(glossary.label(glossary.RISKS, g.risk)),
            due=g.due,
            done=g.done_on,
        )
        for g in found
    ]


def next_preflight(state: CaseState) -> date | None:
    """The day the next pre-flight check runs, if any is left."""
    rules = state.dossier_rules.preflight if state.dossier_rules else None
    if rules is None or state.closed:
        return None
    days = [d for w, d in check_dates(state, rules) if w not in state.preflights_run]
    return min(days, default=None)


# --------------------------------------------------------------------------- the poortwachtertoets


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
_VERSLAG_STEPS = ("probleemanalyse", "plan_van_aanpak", "eerstejaarsevaluatie", "eindevaluatie", "oordeel_werknemer")
# A result that satisfies the assessor: work with the own or a new employer, or a lasting placement.
SATISFACTORY_PERCENTAGE = 65  # product default: earning at least 65% of the old wage (the WIA's own threshold)


def toets(state: CaseState, today: date, rules: PreflightRules) -> Toets:
    """The live poortwachtertoets: the same gaps as the pre-flight, read in the assessor's order."""
    from domain.case import deadlines, wachttijd_end  # a cycle otherwise: domain.case carries the preflight state

    views = {v.mark: v for v in deadlines(state, today)}
    found = gaps(state, today, rules)
    points = _documents(state, today, views, rules) + [_result(state)]
    # A missing part of the verslag is an open point of question 1 already: not counted twice.
    effort = [
        g
        for g in found
        if g.kind in (GapKind.LATE, GapKind.VIEWS_MISSING)
        or (g.kind is GapKind.MISSING and g.key not in _VERSLAG_STEPS)
    ]
    for g in effort:
        points.append(
            ToetsPoint(step=ToetsStep.INSPANNINGEN, status=PointStatus.OPEN, label=_gap_label(g), detail=g.detail)
        )
    if state.watch is not None and state.watch.level >= 2 and not state.deskundigenoordelen:
        points.append(
            ToetsPoint(
                step=ToetsStep.INSPANNINGEN,
                status=PointStatus.OPEN,
                label="Deskundigenoordeel",
                detail="De re-integratie stagneert (escalatie niveau "
                f"{state.watch.level}) en er is geen deskundigenoordeel van UWV gevraagd",
            )
        )
    if not effort and not any(p.step is ToetsStep.INSPANNINGEN for p in points):
        points.append(
            ToetsPoint(
                step=ToetsStep.INSPANNINGEN,
                status=PointStatus.OK,
                label="Wettelijke stappen",
                detail="Elke stap die tot nu moest gebeuren is op tijd gedaan, of met een reden verschoven",
            )
        )
    for g in found:
        if g.kind is GapKind.REASON_AFTER_TERM:
            points.append(
                ToetsPoint(step=ToetsStep.GRONDEN, status=PointStatus.OPEN, label=_gap_label(g), detail=g.detail)
            )
    for mark, dv in state.deviations.items():
        if not dv.given_after_term:
            points.append(
                ToetsPoint(
                    step=ToetsStep.GRONDEN,
                    status=PointStatus.OK,
                    label=_mark_label(state, mark),
                    detail=f"Reden op tijd vastgelegd ({_fmt(dv.on)}): {dv.reason}",
                )
            )
    points.append(_repair(today, views, any(p.status is PointStatus.OPEN for p in points), wachttijd_end(state)))
    open_ = [p for p in points if p.status is PointStatus.OPEN]
    verdict = (
        "Geen open punten: het dossier is tot vandaag op orde"
        if not open_
        else "1 open punt dat UWV bij de beoordeling zou tegenwerpen"
        if len(open_) == 1
        else f"{len(open_)} open punten die UWV bij de beoordeling zou tegenwerpen"
    )
    return Toets(as_of=today, points=points, verdict=verdict)


def _gap_label(g: Gap) -> str:
    return g.label + (f" ({g.occurrence})" if g.occurrence else "")


def _mark_label(state: CaseState, mark: str) -> str:
    key, _, occurrence = mark.partition("#")
    try:
        label = state.ruleset.deadline(key).label
    except KeyError:
        label = key
    return label + (f" ({occurrence})" if occurrence else "")


def _documents(state: CaseState, today: date, views: dict, rules: PreflightRules) -> list[ToetsPoint]:
    out = []
    for key in _VERSLAG_STEPS:
        if key not in state.ruleset.keys:
            continue
        view = views.get(key)
        label = state.ruleset.deadline(key).label
        if key in state.done:
            out.append(
                ToetsPoint(
                    step=ToetsStep.DOCUMENTEN,
                    status=PointStatus.OK,
                    label=label,
                    detail=f"Aanwezig ({_fmt(state.done[key].on)})",
                )
            )
        elif view is not None and view.status is DeadlineStatus.WAIVED:
            out.append(
                ToetsPoint(
                    step=ToetsStep.DOCUMENTEN,
                    status=PointStatus.OK,
                    label=label,
                    detail=f"Niet nodig: {view.waived_because}",
                )
            )
        elif view is not None and view.status is DeadlineStatus.OVERDUE:
            out.append(
                ToetsPoint(
                    step=ToetsStep.DOCUMENTEN,
                    status=PointStatus.OPEN,
                    label=label,
                    detail=f"Ontbreekt; uiterlijk {_fmt(view.due)}",
                )
            )
        else:
            out.append(
                ToetsPoint(
                    step=ToetsStep.DOCUMENTEN,
                    status=PointStatus.LATER,
                    label=label,
                    detail=f"Nog niet nodig; uiterlijk {_fmt(view.due if view else None)}",
                )
            )
    if "plan_van_aanpak" in state.done:
        held = len(state.evaluations)
        out.append(
            ToetsPoint(
                step=ToetsStep.DOCUMENTEN,
                status=PointStatus.OK,
                label="Bijstellingen van het plan van aanpak",
                detail=f"{held} evaluatie{'' if held == 1 else 's'} vastgelegd",
            )
        )
    oordeel = _oordeel_gap(state, today, rules)
    last = max(
        (e.on for e in state.dossier if e.actor.role is Role.BEDRIJFSARTS and e.kind in rules.oordeel_kinds),
        default=None,
    )
    if oordeel is not None:
        out.append(
            ToetsPoint(step=ToetsStep.DOCUMENTEN, status=PointStatus.OPEN, label=oordeel.label, detail=oordeel.detail)
        )
    else:
        out.append(
            ToetsPoint(
                step=ToetsStep.DOCUMENTEN,
                status=PointStatus.OK if last else PointStatus.LATER,
                label="Actueel oordeel van de bedrijfsarts",
                detail=f"Laatste oordeel {_fmt(last)}" if last else "Nog niet nodig",
            )
        )
    out.append(
        ToetsPoint(
            step=ToetsStep.DOCUMENTEN,
            status=PointStatus.OK if last else PointStatus.LATER,
            label="Medische informatie",
            detail="Via de bedrijfsarts (niet via de werkgever), in diens eigen stukken"
            if last
            else "Nog geen oordeel van de bedrijfsarts vastgelegd",
        )
    )
    return out


def _result(state: CaseState) -> ToetsPoint:
    partial = state.partial_recovery
    if partial is not None and partial.percentage is not None and partial.percentage >= SATISFACTORY_PERCENTAGE:
        return ToetsPoint(
            step=ToetsStep.RESULTAAT,
            status=PointStatus.OK,
            label="Bevredigend resultaat",
            detail=f"De werknemer werkt weer voor {partial.percentage}% ({_fmt(partial.on)})",
        )
    if state.spoor2_result is not None and state.spoor2_result.value in ("nieuw_werk", "detachering"):
        return ToetsPoint(
            step=ToetsStep.RESULTAAT,
            status=PointStatus.OK,
            label="Bevredigend resultaat",
            detail=f"Tweede spoor: {state.spoor2_result.value.replace('_', ' ')}",
        )
    return ToetsPoint(
        step=ToetsStep.RESULTAAT,
        status=PointStatus.LATER,
        label="Geen bevredigend resultaat (nog)",
        detail="Dan kijkt UWV of de inspanningen voldoende waren (stap 3)",
    )


def _repair(today: date, views: dict, anything_open: bool, end: date | None) -> ToetsPoint:
    verslag = views.get("reintegratieverslag")
    due = verslag.due if verslag is not None else None
    if not anything_open:
        return ToetsPoint(step=ToetsStep.HERSTEL, status=PointStatus.OK, label="Herstel", detail="Niets te herstellen")
    if due is None:  # the clock stands still (recovered, or on leave): the verslag has no date yet
        return ToetsPoint(
            step=ToetsStep.HERSTEL,
            status=PointStatus.OK,
            label="Herstel",
            detail="Nog te herstellen: het re-integratieverslag heeft nog geen datum (de klok staat stil)",
        )
    if due is not None and today <= due:
        return ToetsPoint(
            step=ToetsStep.HERSTEL,
            status=PointStatus.OK,
            label="Herstel",
            detail=f"Nog te herstellen: {(due - today).days} dagen tot het re-integratieverslag "
            f"(uiterlijk {_fmt(due)})",
        )
    return ToetsPoint(
        step=ToetsStep.HERSTEL,
        status=PointStatus.OPEN,
        label="Herstel",
        detail="Na de termijn van het re-integratieverslag: herstel kan nog, maar UWV legt dan een "
        f"loonsanctie op die eindigt na een geaccepteerde herstelmelding (einde wachttijd nu {_fmt(end)})",
    )
