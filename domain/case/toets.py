"""The poortwachtertoets: the dossier read, point by point, as UWV's assessor will read it."""

from __future__ import annotations

from datetime import date

from domain.case.deadlines import deadlines, wachttijd_end
from domain.case.gaps import gaps, oordeel_gap
from domain.case.state import CaseState
from domain.dossier_check import (
    SATISFACTORY_PERCENTAGE,
    VERSLAG_STEPS,
    Gap,
    GapKind,
    PointStatus,
    PreflightRules,
    Toets,
    ToetsPoint,
    ToetsStep,
    fmt_day,
)
from domain.models import DeadlineStatus, Role


def toets(state: CaseState, today: date, rules: PreflightRules) -> Toets:
    """The live poortwachtertoets: the same gaps as the pre-flight, read in the assessor's order."""
    views = {v.mark: v for v in deadlines(state, today)}
    found = gaps(state, today, rules)
    points = _documents(state, today, views, rules) + [_result(state)]
    # A missing part of the verslag is an open point of question 1 already: not counted twice.
    effort = [
        g
        for g in found
        if g.kind in (GapKind.LATE, GapKind.VIEWS_MISSING) or (g.kind is GapKind.MISSING and g.key not in VERSLAG_STEPS)
    ]
    for g in effort:
        points.append(
            ToetsPoint(step=ToetsStep.INSPANNINGEN, status=PointStatus.OPEN, label=_gap_label(g), detail=g.detail)
        )
    watch = state.escalation.watch if state.escalation is not None else None
    if watch is not None and watch.level >= 2 and not state.deskundigenoordelen:
        points.append(
            ToetsPoint(
                step=ToetsStep.INSPANNINGEN,
                status=PointStatus.OPEN,
                label="Deskundigenoordeel",
                detail="De re-integratie stagneert (escalatie niveau "
                f"{watch.level}) en er is geen deskundigenoordeel van UWV gevraagd",
            )
        )
    # "Every step on time" only while it is true: a missing part of the verslag (an open point of question 1) is a
    # step not done on time too.
    behind = any(g.kind in (GapKind.LATE, GapKind.VIEWS_MISSING, GapKind.MISSING) for g in found)
    if not behind and not any(p.step is ToetsStep.INSPANNINGEN for p in points):
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
                    detail=f"Reden op tijd vastgelegd ({fmt_day(dv.on)}): {dv.reason}",
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
    for key in VERSLAG_STEPS:
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
                    detail=f"Aanwezig ({fmt_day(state.done[key].on)})",
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
                    detail=f"Ontbreekt; uiterlijk {fmt_day(view.due)}",
                )
            )
        else:
            out.append(
                ToetsPoint(
                    step=ToetsStep.DOCUMENTEN,
                    status=PointStatus.LATER,
                    label=label,
                    detail=f"Nog niet nodig; uiterlijk {fmt_day(view.due if view else None)}",
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
    oordeel = oordeel_gap(state, today, rules)
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
                detail=f"Laatste oordeel {fmt_day(last)}" if last else "Nog niet nodig",
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
    partial = state.recovery.partial
    if partial is not None and partial.percentage is not None and partial.percentage >= SATISFACTORY_PERCENTAGE:
        return ToetsPoint(
            step=ToetsStep.RESULTAAT,
            status=PointStatus.OK,
            label="Bevredigend resultaat",
            detail=f"De werknemer werkt weer voor {partial.percentage}% ({fmt_day(partial.on)})",
        )
    if state.spoor2.result is not None and state.spoor2.result.value in ("nieuw_werk", "detachering"):
        return ToetsPoint(
            step=ToetsStep.RESULTAAT,
            status=PointStatus.OK,
            label="Bevredigend resultaat",
            detail=f"Tweede spoor: {state.spoor2.result.value.replace('_', ' ')}",
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
            f"(uiterlijk {fmt_day(due)})",
        )
    return ToetsPoint(
        step=ToetsStep.HERSTEL,
        status=PointStatus.OPEN,
        label="Herstel",
        detail="Na de termijn van het re-integratieverslag: herstel kan nog, maar UWV legt dan een "
        f"loonsanctie op die eindigt na een geaccepteerde herstelmelding (einde wachttijd nu {fmt_day(end)})",
    )
