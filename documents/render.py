"""The case's documents in Dutch, as HTML and PDF, from the case and trajectory state only.

One Jinja2 template per document kind on a shared base with print CSS (A4, page numbers, footer);
WeasyPrint turns the same HTML into the PDF. The documents go to UWV, so they are Dutch whoever makes them:
they are rendered inside `i18n.using("nl")`, their labels from domain.glossary and the sentences of their
dossier entries from documents.dossier_text, the same words the dashboard and the CLI show. The employer's version is built from the dossier and
the trajectory record without the bedrijfsarts's notes, so nothing medical can reach its template.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from documents.dossier_text import actor as actor_label
from documents.dossier_text import day, describe, hours
from documents.timeline import timeline_data_uri
from domain import glossary
from domain import spoor2 as s2
from domain.case import CaseState, DeadlineView, deadlines, gaps, observations, toets, wachttijd_end
from domain.documents import Audience, DocumentKind, DocumentOrder, add_months
from domain.dossier_check import Gap, PreflightRules, Risk
from domain.errors import ActionRefused
from domain.glossary import Category
from domain.models import DeadlineStatus, DossierEntry, Role, without_medical_notes
from domain.observations import Observation, ObservationState
from domain.spoor2 import ActivityKind, TrajectoryState
from service import i18n
from service.i18n import _

HERE = Path(__file__).parent
LANGUAGE = "nl"  # the documents' language, whatever the language of the person who asks for them

# Operational entries that say nothing about the re-integration itself: left out of the printed record.
NOT_PRINTED = frozenset({"reminder_sent", "notification_failed", "contacts_updated"})


class RenderError(ValueError):
    """The order cannot be rendered from this state (e.g. an intakeverslag without an intake): retrying will not help."""


class Rendered(BaseModel):
    """One rendered document: its title, a file name without extension, and the same content as HTML and PDF."""

    title: str
    filename_stem: str
    html: str
    pdf: bytes


# --------------------------------------------------------------------------- formatting


def fmt_date(d: date | str | None) -> str:
    """dd-mm-yyyy, the way Dutch documents write dates (Babel's short Dutch date); '–' for none."""
    return day(d, "short")


def _of(table: dict[str, str], key: object) -> str:
    """A glossary label, in the document's language."""
    return _(glossary.label(table, key))


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name: ids and free text come from people
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["d"] = fmt_date
_ENV.filters["hours"] = hours
_ENV.filters["actor"] = actor_label


# --------------------------------------------------------------------------- names the case's own rules give


def _label(case: CaseState, key: str | None) -> str:
    if not key:
        return "–"
    try:
        return case.ruleset.deadline(key).label
    except (KeyError, StopIteration, ValueError):
        return key.replace("_", " ")


def _measure_label(case: CaseState, key: Any) -> str:
    rules = case.escalation.rules if case.escalation is not None else None
    rule = rules.measure_rule(str(key)) if rules is not None else None
    return rule.label if rule is not None else str(key).replace("_", " ")


def _note(entry: DossierEntry, audience: Audience) -> str | None:
    """The free-text note of an entry, if this version may show it: a bedrijfsarts's notes are medical."""
    note = entry.details.get("note")
    if not isinstance(note, str) or not note.strip():
        return None
    if entry.actor.role is Role.BEDRIJFSARTS and not audience.medical_notes:
        return None
    return note


def _rows(
    entries: list[DossierEntry],
    case: CaseState,
    trajectory: TrajectoryState | None,
    audience: Audience,
    *,
    start: date | None = None,
    end: date,
    kinds: frozenset[str] | None = None,
    seen: dict[int, Observation] | None = None,
) -> list[dict[str, Any]]:
    """The printed record; `seen` (for the case's own dossier) says how each overdue observation stands now."""
    rows = []
    for e in sorted(entries, key=lambda e: (e.on, e.seq)):
        if e.on > end or (start is not None and e.on < start) or e.kind in NOT_PRINTED:
            continue
        if kinds is not None and e.kind not in kinds:
            continue
        superseded = seen is not None and e.seq in seen and seen[e.seq].state is ObservationState.SUPERSEDED
        rows.append(
            {
                "on": e.on,
                "who": actor_label(e.actor),
                "what": describe(e, case, trajectory, seen, date_style="short"),
                "note": _note(e, audience),
                "system": e.actor.role is Role.SYSTEEM,
                "superseded": superseded,
            }
        )
    return rows


# --------------------------------------------------------------------------- the documents


class _Nothing:
    """Stands in for an entry not on record: its date is None."""

    on = None


_NO = _Nothing()


def _entry(entries: list[DossierEntry], kind: str, as_of: date) -> DossierEntry | None:
    return next((e for e in entries if e.kind == kind and e.on <= as_of), None)


def _deadline_rows(views: list[DeadlineView]) -> list[dict[str, Any]]:
    rows = []
    for v in views:
        status = _of(glossary.DEADLINE_STATUSES, v.status)
        problem = v.status is DeadlineStatus.OVERDUE
        if v.status is DeadlineStatus.DONE and v.reason_after_term:
            term = v.original_due or v.due
            late_days = (v.done_on - term).days if v.done_on and term else 0
            status = f"gedaan, {late_days} dagen na de termijn; reden pas na de termijn gegeven"
            problem = True
        elif v.status is DeadlineStatus.DONE and v.late:
            status = f"gedaan, {v.late_days or 0} dagen te laat"
            if v.original_due is not None:
                status += ", ook na de verschoven termijn"
            problem = True
        elif v.status is DeadlineStatus.DONE and v.original_due is not None:
            status = "gedaan, binnen de verschoven termijn"
        deviation = None
        if v.deviation is not None:
            moved = v.deviation.new_due
            deviation = v.deviation.reason + (
                f" — nieuwe uiterste datum {fmt_date(moved)}"
                if moved
                else " — stap vervalt"
                if v.status is not DeadlineStatus.DONE
                else ""
            )
            if v.deviation.given_after_term:
                deviation += f" (reden gegeven op {fmt_date(v.deviation.on)}, na de termijn)"
        elif v.waived_because:
            reason = v.waived_because.removeprefix("AD-onderzoek: ")
            deviation = (
                f"niet nodig: AD-onderzoek concludeert {_of(glossary.AD_CONCLUSIONS, reason)}"
                if reason in glossary.AD_CONCLUSIONS
                else v.waived_because
            )
        if v.status is DeadlineStatus.OPEN and not v.tracked:
            status = "nog niet bereikt"
        rows.append(
            {
                "label": v.label + (f" ({v.occurrence})" if v.occurrence else ""),
                "due": v.due,
                "done_on": v.done_on,
                "status": status,
                "problem": problem,
                "tracked": v.tracked,
                "deviation": deviation,
            }
        )
    return rows


def stage_on(case: CaseState, day: date) -> str:
    """The case's stage on a day, from its stage changes: a document made later still shows its own day's stage."""
    opened = next((e for e in case.dossier if e.kind == "case_opened"), None)
    stage = str(opened.details.get("stage")) if opened and opened.details.get("stage") else case.stage.value
    changes = [e for e in case.dossier if e.kind == "stage_changed"]
    if changes and not opened:
        stage = str(changes[0].details.get("from"))
    for e in changes:
        if e.on <= day:
            stage = str(e.details.get("to"))
    return stage


def _common(order: DocumentOrder, case: CaseState) -> dict[str, Any]:
    as_of = order.as_of
    stage = stage_on(case, as_of)
    return {
        "title": _of(glossary.DOCUMENT_TITLES, order.kind),
        "kind": order.kind.value,
        "case": case,
        "as_of": as_of,
        "audience_label": _of(glossary.AUDIENCES, order.audience),
        "medical": order.audience.medical_notes,
        "week": case.clock.week_of_date(as_of),
        "stage": _(glossary.stage_label(stage)),
        "period": None,
    }


def _phase_at(trajectory: TrajectoryState, day: date) -> s2.PhaseRecord | None:
    for p in trajectory.phases:
        if p.started_on <= day and (p.completed_on is None or p.completed_on >= day):
            return p
    return None


def _documents(trajectory: TrajectoryState, as_of: date) -> list[dict[str, Any]]:
    rows = []
    for rule in trajectory.rules.document:
        rec = trajectory.documents.get(rule.key)
        if rec is not None and rec.on > as_of:
            rec = None
        rows.append(
            {
                "label": rule.label,
                "on": rec.on if rec else None,
                "reference": rec.reference if rec else None,
                "hours": rec.belastbaarheid_hours_per_day if rec else None,
            }
        )
    return rows


def _belastbaarheid(trajectory: TrajectoryState | None, as_of: date) -> float | None:
    rec = trajectory.documents.get("bedrijfsarts_bevindingen") if trajectory is not None else None
    return rec.belastbaarheid_hours_per_day if rec is not None and rec.on <= as_of else None


def _intake(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None) -> dict[str, Any]:
    if trajectory is None:
        raise RenderError("an intakeverslag needs the spoor 2 trajectory; none is on record")
    as_of = order.as_of
    intake = _entry(trajectory.record, "intake_held", as_of)
    due = s2.intake_due_on(trajectory)
    complete = (
        trajectory.documents_complete_on
        if trajectory.documents_complete_on and trajectory.documents_complete_on <= as_of
        else None
    )
    proposal = trajectory.proposal_on if trajectory.proposal_on and trajectory.proposal_on <= as_of else None
    approval = (_entry(trajectory.record, "purchase_approved", as_of) or _NO).on
    decided = trajectory.haalbaarheid if trajectory.haalbaarheid and trajectory.haalbaarheid.on <= as_of else None
    first_phase = trajectory.rules.phase_rule(1).label if trajectory.rules.phase else ""
    next_steps = [
        {"what": "Intakeverslag naar de werknemer en de werkgever", "status": f"met dit verslag ({fmt_date(as_of)})"},
        {
            "what": "Voorstel voor het traject aan de werkgever (per e-mail)",
            "status": f"verstuurd op {fmt_date(proposal)}" if proposal else "volgt na de intake",
        },
        {
            "what": "Akkoord van de werkgever op het voorstel (heel traject of per fase)",
            "status": f"gegeven op {fmt_date(approval)}" if approval else "nog niet gegeven",
        },
        {
            "what": "Haalbaarheidstoets: go of no-go; bij go een zoekprofiel en een passende re-integratiecoach",
            "status": f"besloten op {fmt_date(decided.on)}: {'no-go' if decided.decision == 'no_go' else 'go'}"
            if decided
            else "na het akkoord",
        },
        {"what": f"Bij go: start van fase 1 — {first_phase}", "status": "na de haalbaarheidstoets"},
    ]
    return {
        "started_on": trajectory.started_on,
        "started_by": case.spoor2.started_by,
        "documents": _documents(trajectory, as_of),
        "complete_on": complete,
        "intake_due": due if complete else None,
        "intake_on": intake.on if intake else None,
        "intake_late": bool(intake and due and intake.on > due),
        "coach_id": intake.details.get("coach_id") if intake else trajectory.coach_id,
        "intake_note": _note(intake, order.audience) if intake else None,
        "ad_conclusion": _of(glossary.AD_CONCLUSIONS, case.ad.conclusion) if case.ad.conclusion else None,
        "ad_reference": case.ad.report_reference,
        "ad_on": (_entry(case.dossier, "ad_onderzoek_concluded", as_of) or _NO).on,
        "hours": _belastbaarheid(trajectory, as_of),
        "next_steps": next_steps,
        "record": _rows(trajectory.record, case, trajectory, order.audience, end=as_of),
        "intake_within_days": trajectory.rules.intake_within_days,
    }


def _progress(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None) -> dict[str, Any]:
    if trajectory is None:
        raise RenderError("a voortgangsrapportage needs the spoor 2 trajectory; none is on record")
    end = order.period_end or order.as_of
    start = order.period_start or max(trajectory.started_on, end - timedelta(days=30))
    activities = []
    counts: dict[str, int] = {}
    for e in sorted(trajectory.record, key=lambda e: (e.on, e.seq)):
        if e.kind != "activity_recorded" or not start <= e.on <= end:
            continue
        phase = _phase_at(trajectory, e.on)
        label = describe(e, case, trajectory, date_style="short")
        counts[label] = counts.get(label, 0) + 1
        activities.append(
            {
                "on": e.on,
                "what": label,
                "phase": phase.number if phase else None,
                "who": actor_label(e.actor),
                "note": _note(e, order.audience),
            }
        )
    events = _rows(
        [e for e in trajectory.record if e.kind != "activity_recorded"],
        case,
        trajectory,
        order.audience,
        start=start,
        end=end,
    )
    phases = []
    for p in trajectory.phases:
        if p.started_on > end or (p.completed_on is not None and p.completed_on < start):
            continue
        rule = trajectory.rules.phase_rule(p.number)
        until = min(p.completed_on, end) if p.completed_on else end
        paused = sum(
            ((min(x.resumed_on or end, until) - x.on).days for x in trajectory.pauses if p.started_on <= x.on <= until),
            0,
        )
        active = max(0, (until - p.started_on).days + 1 - paused)
        held = [
            a
            for a in trajectory.activities
            if a.phase == p.number and a.activity is ActivityKind.CONVERSATION and a.on <= end
        ]
        phases.append(
            {
                "number": p.number,
                "label": rule.label,
                "started_on": p.started_on,
                "completed_on": p.completed_on if p.completed_on and p.completed_on <= end else None,
                "ends_on": p.ends_on(rule),
                "held": len(held),
                "held_in_period": sum(1 for a in held if a.on >= start),
                "expected": rule.expected_conversations(active),
            }
        )
    pauses = [
        {
            "on": x.on,
            "reason": {"illness": "ziekte", "rehabilitation": "revalidatie"}.get(x.reason, x.reason),
            "consent_on": x.consent_on,
            "resumed_on": x.resumed_on if x.resumed_on and x.resumed_on <= end else None,
        }
        for x in trajectory.pauses
        if x.on <= end and (x.resumed_on is None or x.resumed_on >= start)
    ]
    services = [
        {
            "service": s.service,
            "requested_on": s.requested_on,
            "approved_on": s.approved_on if s.approved_on and s.approved_on <= end else None,
            "started_on": s.started_on if s.started_on and s.started_on <= end else None,
        }
        for s in trajectory.services
        if s.requested_on <= end
    ]
    return {
        "period": (start, end),
        "start": start,
        "end": end,
        "started_on": trajectory.started_on,
        "coach_id": _coach_at(trajectory, end),
        "status": _status_at(trajectory, end),
        "zoekprofiel": trajectory.haalbaarheid.zoekprofiel
        if trajectory.haalbaarheid and trajectory.haalbaarheid.on <= end
        else None,
        "phases": phases,
        "activities": activities,
        "counts": sorted(counts.items()),
        "events": events,
        "pauses": pauses,
        "services": services,
        "outlook": _outlook(case, trajectory, end),
    }


def _coach_at(trajectory: TrajectoryState, day: date) -> str | None:
    coach = None
    for e in sorted(trajectory.record, key=lambda e: (e.on, e.seq)):
        if e.on > day:
            break
        if e.kind in ("intake_held", "coach_replaced") or (
            e.kind == "haalbaarheidstoets_decided" and e.details.get("coach_id")
        ):
            coach = e.details.get("coach_id") or coach
    return coach


def _status_at(trajectory: TrajectoryState, day: date) -> str:
    if trajectory.ended_on is not None and trajectory.ended_on <= day and trajectory.outcome is not None:
        return f"beëindigd op {fmt_date(trajectory.ended_on)}: {_of(glossary.SPOOR2_OUTCOMES, trajectory.outcome)}"
    if any(x.on <= day and (x.resumed_on is None or x.resumed_on > day) for x in trajectory.pauses):
        return "gepauzeerd"
    phase = _phase_at(trajectory, day)
    if phase is not None and (phase.completed_on is None or phase.completed_on > day):
        return f"fase {phase.number} loopt"
    started = [p for p in trajectory.phases if p.started_on <= day]
    if started:
        return (
            "alle fasen afgerond"
            if started[-1].number >= trajectory.rules.last_phase
            else f"fase {started[-1].number} afgerond; wacht op fase {started[-1].number + 1}"
        )
    return "voor de eerste fase"


def _outlook(case: CaseState, trajectory: TrajectoryState, end: date) -> list[dict[str, Any]]:
    """What is expected after the period: from the rules and what the trajectory holds as of its last day."""
    items: list[dict[str, Any]] = []
    if trajectory.ended_on is not None and trajectory.ended_on <= end:
        items.append(
            {"what": "Het traject is beëindigd; het verslag gaat mee met de WIA-aanvraag", "by": trajectory.ended_on}
        )
    else:
        phase = _phase_at(trajectory, end)
        if phase is not None and (phase.completed_on is None or phase.completed_on > end):
            rule = trajectory.rules.phase_rule(phase.number)
            convs = sorted(
                a.on
                for a in trajectory.activities
                if a.phase == phase.number and a.activity is ActivityKind.CONVERSATION and a.on <= end
            )
            last = convs[-1] if convs else phase.started_on
            items.append(
                {
                    "what": f"Volgend gesprek met de re-integratiecoach (fase {phase.number}: "
                    f"om de {rule.gap_after(len(convs))} dagen)",
                    "by": last + timedelta(days=rule.gap_after(len(convs))),
                }
            )
            items.append({"what": f"Einde van fase {phase.number} ({rule.label})", "by": phase.ends_on(rule)})
            if phase.number < trajectory.rules.last_phase:
                approved = trajectory.phase_approved(phase.number + 1)
                items.append(
                    {
                        "what": f"Fase {phase.number + 1}: "
                        + (
                            "akkoord van de werkgever is gegeven"
                            if approved
                            else "akkoord van de werkgever nodig voor de start"
                        ),
                        "by": None,
                    }
                )
        else:
            items.append({"what": "Start van de volgende fase, met akkoord van de werkgever", "by": None})
        widen = trajectory.started_on + timedelta(weeks=trajectory.rules.widen_search_after_weeks)
        if widen > end:
            items.append({"what": "Het zoekprofiel omvat vanaf dan ook werk onder het eigen niveau", "by": widen})
        meetings = [a.on for a in trajectory.activities if a.activity is ActivityKind.PROGRESS_MEETING and a.on <= end]
        if meetings:
            items.append(
                {
                    "what": "Voortgangsgesprek werkgever en werknemer (elke zes weken)",
                    "by": max(meetings) + timedelta(weeks=6),
                }
            )
        items.append(
            {"what": "Volgende voortgangsrapportage", "by": add_months(end + timedelta(days=1), 1) - timedelta(days=1)}
        )
    # Statutory steps still ahead on the period's last day (a report made later may find them done since).
    evaluation = False
    for v in deadlines(case, end):
        ahead = v.status is DeadlineStatus.OPEN or (v.status is DeadlineStatus.DONE and v.done_on and v.done_on > end)
        if not (v.tracked and ahead and v.due is not None and v.due > end):
            continue
        if v.occurrence is not None:
            if evaluation:
                continue
            evaluation = True
        items.append({"what": f"Wettelijke termijn: {v.label}", "by": v.due})
    return sorted(items, key=lambda i: (i["by"] is None, i["by"] or date.max))


def _haalbaarheid(
    case: CaseState, trajectory: TrajectoryState | None, as_of: date
) -> tuple[s2.HaalbaarheidRecord, DossierEntry | None]:
    if trajectory is not None and trajectory.haalbaarheid is not None:
        entry = _entry(trajectory.record, "haalbaarheidstoets_decided", date.max)
        return trajectory.haalbaarheid, entry
    entry = next((e for e in case.dossier if e.kind == "spoor2:haalbaarheidstoets_decided"), None)
    if entry is None:
        raise RenderError("no haalbaarheidstoets is on record")
    d = entry.details
    return s2.HaalbaarheidRecord(
        decision=d["decision"],
        on=entry.on,
        grounds=s2.Grounds(**d["grounds"]),
        zoekprofiel=d.get("zoekprofiel"),
        report_reference=d.get("report_reference"),
    ), entry


def _no_go(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None) -> dict[str, Any]:
    as_of = order.as_of
    record, entry = _haalbaarheid(case, trajectory, as_of)
    if record.decision != "no_go":
        raise RenderError("the haalbaarheidstoets decided go; there is no no-go report to make")
    grounds = record.grounds.model_dump()
    views = {v.key: v for v in deadlines(case, as_of) if v.occurrence is None}
    intake = _entry(trajectory.record, "intake_held", as_of) if trajectory is not None else None
    return {
        "decided_on": record.on,
        "reference": record.report_reference,
        "decided_by": entry.actor if entry else None,
        "note": _note(entry, order.audience) if entry else None,
        "grounds": [
            {"label": _(glossary.HAALBAARHEID_GROUNDS[k]), "text": grounds[k]} for k in glossary.HAALBAARHEID_GROUNDS
        ],
        "started_on": trajectory.started_on if trajectory else case.spoor2.started_on,
        "intake_on": intake.on if intake else None,
        "coach_id": (intake.details.get("coach_id") if intake else None),
        "documents": _documents(trajectory, as_of) if trajectory is not None else [],
        "ad_conclusion": _of(glossary.AD_CONCLUSIONS, case.ad.conclusion) if case.ad.conclusion else None,
        "ad_reference": case.ad.report_reference,
        "ad_on": (_entry(case.dossier, "ad_onderzoek_concluded", as_of) or _NO).on,
        "hours": _belastbaarheid(trajectory, as_of),
        "riv_due": views["reintegratieverslag"].due if "reintegratieverslag" in views else None,
        "wia_due": views["wia_aanvraag"].due if "wia_aanvraag" in views else None,
        "end_due": wachttijd_end(case),
        "record": _rows(trajectory.record, case, trajectory, order.audience, end=as_of)
        if trajectory is not None
        else [],
    }


def _overview(
    order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None, preflight: PreflightRules | None
) -> dict[str, Any]:
    as_of = order.as_of
    views = deadlines(case, as_of)
    rules = preflight or (case.documents.rules.preflight if case.documents.rules is not None else None)
    found: list[Gap] | None = gaps(case, as_of, rules) if rules is not None else None
    dossier = case.dossier
    pva = _entry(dossier, "plan_van_aanpak_agreed", as_of)
    eje = _entry(dossier, "eerstejaarsevaluatie_held", as_of)
    pa = _entry(dossier, "probleemanalyse_recorded", as_of)
    oordelen = [e for e in dossier if e.kind == "bedrijfsarts_oordeel" and e.on <= as_of]
    spoor1 = {
        "probleemanalyse": pa.on if pa else None,
        "pa_hours": pa.details.get("belastbaarheid_hours_per_day") if pa else None,
        "pa_note": _note(pa, order.audience) if pa else None,
        "pva": pva.on if pva else None,
        "casemanager": pva.details.get("casemanager_id") if pva else None,
        "pva_employer_view": pva.details.get("employer_view") if pva else None,
        "pva_employee_view": pva.details.get("employee_view") if pva else None,
        "evaluations": [e.on for e in case.evaluations if e.on <= as_of],
        "eje": eje.on if eje else None,
        "eje_employer_view": eje.details.get("employer_view") if eje else None,
        "eje_employee_view": eje.details.get("employee_view") if eje else None,
        "ad_started": case.ad.started_on,
        "ad_conversations": [(c.on, _of(glossary.AD_CONVERSATIONS, c.party)) for c in case.ad.conversations],
        "ad_concluded": (_entry(dossier, "ad_onderzoek_concluded", as_of) or _NO).on,
        "ad_conclusion": _of(glossary.AD_CONCLUSIONS, case.ad.conclusion) if case.ad.conclusion else None,
        "ad_reference": case.ad.report_reference,
        "partial": case.recovery.partial,
        "oordelen": [
            {"on": e.on, "hours": e.details.get("belastbaarheid_hours_per_day"), "note": _note(e, order.audience)}
            for e in oordelen
        ],
    }
    spoor2: dict[str, Any] | None = None
    if case.spoor2.started_on is not None or trajectory is not None:
        spoor2 = {
            "started_on": case.spoor2.started_on or (trajectory.started_on if trajectory else None),
            "started_by": case.spoor2.started_by,
            "ended_on": case.spoor2.ended_on,
            "result": _of(glossary.SPOOR2_OUTCOMES, case.spoor2.result) if case.spoor2.result else None,
            "consent_on": case.spoor2.consent_on,
            "trajectory": None,
        }
        if trajectory is not None:
            t = trajectory
            intake = _entry(t.record, "intake_held", as_of)
            activity_counts: dict[str, int] = {}
            for a in t.activities:
                if a.on <= as_of:
                    label = _of(glossary.ACTIVITIES, a.activity)
                    activity_counts[label] = activity_counts.get(label, 0) + 1
            spoor2["trajectory"] = {
                "documents_complete_on": t.documents_complete_on,
                "intake_on": intake.on if intake else None,
                "coach_id": _coach_at(t, as_of),
                "proposal_on": t.proposal_on,
                "approved": t.whole_trajectory_approved_on,
                "approved_phases": t.approved_phases,
                "haalbaarheid": t.haalbaarheid,
                "grounds": [
                    {"label": _(glossary.HAALBAARHEID_GROUNDS[k]), "text": v}
                    for k, v in t.haalbaarheid.grounds.model_dump().items()
                ]
                if t.haalbaarheid
                else [],
                "phases": _progress(
                    order.model_copy(update={"period_start": t.started_on, "period_end": as_of}), case, t
                )["phases"],
                "activity_counts": sorted(activity_counts.items()),
                "pauses": [p for p in t.pauses if p.on <= as_of],
                "services": [s for s in t.services if s.requested_on <= as_of],
                "search_widened_on": t.search_widened_on
                if t.search_widened_on and t.search_widened_on <= as_of
                else None,
                "outcome": _of(glossary.SPOOR2_OUTCOMES, t.outcome)
                if t.outcome and t.ended_on and t.ended_on <= as_of
                else None,
                "ended_on": t.ended_on if t.ended_on and t.ended_on <= as_of else None,
                "record": _rows(t.record, case, t, order.audience, end=as_of),
            }
    escalations = _rows(
        dossier, case, trajectory, order.audience, end=as_of, kinds=glossary.kinds_in(Category.ESCALATION)
    )
    measures_taken = [e for e in dossier if e.kind == "measure_taken" and e.on <= as_of]
    deviations = [
        {
            "label": _label(case, mark.split("#")[0]) + (f" ({mark.split('#')[1]})" if "#" in mark else ""),
            "reason": dv.reason,
            "on": dv.on,
            "new_due": dv.new_due,
        }
        for mark, dv in case.deviations.items()
        if dv.on <= as_of
    ]
    gap_rows = (
        None
        if found is None
        else [
            {
                "label": g.label + (f" ({g.occurrence})" if g.occurrence else ""),
                "kind": _of(glossary.GAP_KINDS, g.kind),
                "risk": _of(glossary.RISKS, g.risk),
                "due": g.due,
                "done_on": g.done_on,
                "detail": g.detail,
            }
            for g in found
        ]
    )
    first_check = min((c.week for c in rules.check), default=None) if rules is not None else None
    return {
        "complete_for_riv": first_check is not None and case.clock.week_of_date(as_of) > first_check,
        "deadline_rows": _deadline_rows(views),
        "deviations": deviations,
        "gaps": gap_rows,
        "loonsanctie_risks": sum(1 for g in found or [] if g.risk is Risk.LOONSANCTIE),
        "toets": toets(case, as_of, rules) if rules is not None else None,
        "toets_labels": {k: _(v) for k, v in glossary.TOETS_STEPS.items()},
        "spoor1": spoor1,
        "spoor2": spoor2,
        "escalations": escalations,
        "measures_taken": [
            {"on": e.on, "label": _measure_label(case, e.details.get("measure"))} for e in measures_taken
        ],
        "loonsanctie": case.wage.loonsanctie,
        "deskundigenoordelen": [d for d in case.deskundigenoordelen if d.requested_on <= as_of],
        "extension_weeks": case.wage.voluntary_extension_weeks,
        "wachttijd_end": wachttijd_end(case),
        "outcome": _of(glossary.OUTCOMES, case.outcome) if case.outcome else None,
        "closed_on": case.closed_on,
        "timeline": timeline_data_uri(case, trajectory, as_of),
        "dossier": _rows(dossier, case, trajectory, order.audience, end=as_of, seen=observations(case, as_of)),
    }


_BUILDERS = {
    DocumentKind.INTAKEVERSLAG: lambda o, c, t, p: _intake(o, c, t),
    DocumentKind.VOORTGANGSRAPPORTAGE: lambda o, c, t, p: _progress(o, c, t),
    DocumentKind.NO_GO_RAPPORT: lambda o, c, t, p: _no_go(o, c, t),
    DocumentKind.REINTEGRATIEOVERZICHT: _overview,
}


# Entries the trajectory records by itself (time passing, the case closing), not people's actions.
_TRAJECTORY_SYSTEM = frozenset(
    {"trajectory_started", "search_widened", "intake_late", "phase_time_up", "trajectory_ended"}
)


def trajectory_from_dossier(case: CaseState) -> TrajectoryState | None:
    """The trajectory rebuilt from the copies of its record in the case's dossier, for when its own state is gone.

    Each person's step is applied again with its own date and id; the trajectory's own entries are taken
    over as they were. None when the case has no trajectory, or its record does not replay.
    """
    entries = [e for e in case.dossier if e.kind.startswith("spoor2:")]
    starts = [n for n, e in enumerate(entries) if e.kind == "spoor2:trajectory_started"]
    if not starts or case.spoor2.rules is None:
        return None
    entries = entries[starts[-1] :]  # a later trajectory replaces an earlier one
    first = entries[0]
    state = s2.TrajectoryState(case_id=case.case_id, started_on=first.on, rules=case.spoor2.rules)
    try:
        for e in entries:
            kind = e.kind.removeprefix("spoor2:")
            details = {k: v for k, v in e.details.items() if k != "trajectory_seq"}
            if kind in _TRAJECTORY_SYSTEM:
                if kind == "search_widened":
                    state.search_widened_on = e.on
                elif kind == "intake_late":
                    state.intake_late_flagged = True
                elif kind == "phase_time_up" and state.current_phase is not None:
                    state.current_phase.time_up_flagged = True
                elif kind == "trajectory_ended":
                    s2.end_because_case_closed(state, on=e.on, now=e.recorded_at, why="The case closed")
                    continue
                state.log(now=e.recorded_at, on=e.on, actor=e.actor, kind=kind, summary=e.summary, details=details)
                continue
            action = s2.parse_spoor2_action(
                {
                    "kind": kind,
                    "action_id": e.action_id,
                    "actor": e.actor.model_dump(mode="json"),
                    "on": e.on.isoformat(),
                    **details,
                }
            )
            s2.apply(state, action, e.on, e.recorded_at)
    except (ActionRefused, KeyError, ValueError):
        return None
    return state


def for_audience(
    case: CaseState, trajectory: TrajectoryState | None, audience: Audience
) -> tuple[CaseState, TrajectoryState | None]:
    """The state a version may be made from: the employer's without the bedrijfsarts's notes, the bedrijfsarts's
    with them opened (they are recorded sealed: service.medical_seal)."""
    if audience.medical_notes:
        # This runs in the worker (the render_document activity), which so holds the medical keys as well: the
        # point of the seal is that neither the codec endpoint nor Temporal's database shows a note. Strict: a
        # bedrijfsarts's document is not made with a note missing; the activity retries until the key is there.
        from service.medical_seal import opened_notes

        case = case.model_copy(update={"dossier": opened_notes(case.dossier, strict=True)})
        if trajectory is not None:
            trajectory = trajectory.model_copy(update={"record": opened_notes(trajectory.record, strict=True)})
        return case, trajectory
    case = case.model_copy(update={"dossier": without_medical_notes(case.dossier)})
    if trajectory is not None:
        trajectory = trajectory.model_copy(update={"record": without_medical_notes(trajectory.record)})
    return case, trajectory


def render_html(
    order: DocumentOrder,
    case: CaseState,
    trajectory: TrajectoryState | None,
    *,
    preflight: PreflightRules | None = None,
) -> str:
    """The document as a self-contained HTML page (styles and the timeline inline), in Dutch."""
    with i18n.using(LANGUAGE):
        return _render_html(order, case, trajectory, preflight)


def _render_html(
    order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None, preflight: PreflightRules | None
) -> str:
    if trajectory is None:
        trajectory = trajectory_from_dossier(case)
    case, trajectory = for_audience(case, trajectory, order.audience)
    context = _common(order, case)
    context.update(_BUILDERS[order.kind](order, case, trajectory, preflight))
    return _ENV.get_template(f"{order.kind.value}.html").render(**context)


def html_to_pdf(html: str, as_of: date) -> bytes:
    """The PDF of a rendered page; dated by the document's as-of day, so the same input gives the same bytes."""
    import weasyprint  # heavy (pango via cffi): only when a PDF is made

    # The page is self-contained: whatever else a URL in it might name (a file, a host) is not fetched.
    data_only = weasyprint.URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    moment = datetime.combine(as_of, time(12), tzinfo=timezone.utc).isoformat()
    doc = weasyprint.HTML(string=html, base_url=str(HERE / "templates"), url_fetcher=data_only).render()
    doc.metadata.created = doc.metadata.modified = moment
    return doc.write_pdf()


def filename_stem(order: DocumentOrder, case: CaseState) -> str:
    """A file name without extension: case, document, day and version, in characters any file system takes."""
    raw = f"{case.case_id}_{order.kind.value}_{order.as_of:%Y%m%d}_{order.audience.value}"
    if order.order_id.startswith("voortgangsrapportage-"):
        raw = f"{case.case_id}_{order.order_id}_{order.as_of:%Y%m%d}_{order.audience.value}"
    return re.sub(r"[^A-Za-z0-9_.-]", "-", raw)[:150]


def render(
    order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None, *, preflight: PreflightRules | None
) -> Rendered:
    """Render one document of a case as HTML and PDF, for the order's audience, as of its day."""
    html = render_html(order, case, trajectory, preflight=preflight)
    with i18n.using(LANGUAGE):
        title = _of(glossary.DOCUMENT_TITLES, order.kind)
    return Rendered(
        title=title, filename_stem=filename_stem(order, case), html=html, pdf=html_to_pdf(html, order.as_of)
    )
