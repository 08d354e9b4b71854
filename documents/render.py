"""The case's documents in Dutch, as HTML and PDF, from the case and trajectory state only.

One Jinja2 template per document kind on a shared base with print CSS (A4, page numbers, footer);
WeasyPrint turns the same HTML into the PDF. The employer's version is built from the dossier and
the trajectory record without the bedrijfsarts's notes, so nothing medical can reach its template.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel

from documents.timeline import timeline_data_uri
from domain import spoor2 as s2
from domain.case import CaseState, DeadlineView, deadlines, observations, wachttijd_end
from domain.documents import Audience, DocumentKind, DocumentOrder, add_months
from domain.dossier_check import TOETS_LABELS, Gap, GapKind, PreflightRules, Risk, gaps, toets
from domain.errors import ActionRefused
from domain.models import Actor, DeadlineStatus, DossierEntry, Role, without_medical_notes
from domain.observations import Observation, ObservationState, standing
from domain.spoor2 import ActivityKind, TrajectoryState

HERE = Path(__file__).parent

TITLES = {
    DocumentKind.INTAKEVERSLAG: "Intakeverslag tweede spoor",
    DocumentKind.VOORTGANGSRAPPORTAGE: "Voortgangsrapportage tweede spoor",
    DocumentKind.NO_GO_RAPPORT: "Rapport haalbaarheidstoets: no-go",
    DocumentKind.REINTEGRATIEOVERZICHT: "Re-integratieoverzicht voor de WIA-aanvraag",
}
AUDIENCE_LABELS = {
    Audience.WERKGEVER: "Versie werkgever — zonder medische gegevens",
    Audience.BEDRIJFSARTS: "Versie bedrijfsarts — bevat medische gegevens, vertrouwelijk",
}
ROLE_LABELS = {
    Role.WERKNEMER: "werknemer", Role.WERKGEVER: "werkgever", Role.BEDRIJFSARTS: "bedrijfsarts",
    Role.ARBEIDSDESKUNDIGE: "arbeidsdeskundige", Role.CASEMANAGER: "casemanager",
    Role.REINTEGRATIECOACH: "re-integratiecoach", Role.OPERATIONS: "operations", Role.UWV: "UWV",
    Role.SYSTEEM: "Spoorwerk",
}
STAGE_LABELS = {"ziekmelding": "Ziekmelding", "spoor1": "Spoor 1", "ad_onderzoek": "AD-onderzoek", "spoor2": "Spoor 2",
                "wia": "WIA-aanvraag", "closed": "Afgesloten"}
STATUS_LABELS = {
    DeadlineStatus.OPEN: "open", DeadlineStatus.DONE: "gedaan", DeadlineStatus.OVERDUE: "niet gedaan, termijn verstreken",
    DeadlineStatus.WAIVED: "vervallen", DeadlineStatus.PASSED: "verstreken",
}
OUTCOME_LABELS = {"hersteld": "hersteld", "einde_wachttijd": "einde wachttijd", "ingetrokken": "ingetrokken",
                  "nieuw_werk": "nieuw werk bij een andere werkgever"}
AD_LABELS = {"eigen_werk": "eigen werk (eventueel aangepast)", "ander_werk_intern": "ander werk binnen de organisatie",
             "spoor2": "geen van beide: advies tweede spoor"}
AD_PARTY = {"werkgever": "gesprek met de werkgever", "werknemer": "gesprek met de werknemer",
            "werkplekbezoek": "werkplekbezoek"}
SPOOR2_STATUS = {
    "aanmelding": "aanmelding (documenten verzamelen)", "intake": "intake te plannen", "voorstel": "voorstel en akkoord werkgever",
    "haalbaarheidstoets": "haalbaarheidstoets", "fase": "fase loopt", "wacht_op_fase": "wacht op de volgende fase",
    "gepauzeerd": "gepauzeerd", "afgerond": "fasen afgerond; uitkomst vast te leggen", "beeindigd": "beëindigd",
}
SPOOR2_OUTCOME = {
    "nieuw_werk": "nieuw werk bij een andere werkgever", "detachering": "detachering tot het einde van de wachttijd",
    "werkritmeplaats": "werkritmeplaats", "geen_resultaat": "geen resultaat; door naar de WIA-aanvraag",
    "no_go": "no-go na de haalbaarheidstoets", "case_closed": "de zaak is gesloten",
}
ACTIVITY_LABELS = {
    ActivityKind.CONVERSATION: "Gesprek met de coach", ActivityKind.APPLICATION: "Sollicitatie",
    ActivityKind.INTERVIEW: "Sollicitatiegesprek", ActivityKind.TRIAL_PLACEMENT: "Proefplaatsing",
    ActivityKind.SECONDMENT: "Detachering", ActivityKind.WERKRITMEPLAATS: "Werkritmeplaats",
    ActivityKind.JOB_OFFER: "Baanaanbod", ActivityKind.INTERNSHIP: "Stage",
    ActivityKind.PROGRESS_MEETING: "Voortgangsgesprek werkgever en werknemer",
    ActivityKind.PROGRESS_REPORT: "Schriftelijke voortgangsrapportage",
}
# Seed 001: what the haalbaarheidstoets weighs, in its order.
GROUND_LABELS = {
    "belastbaarheid": "Actuele fysieke en mentale belastbaarheid (volgens de bedrijfsarts)",
    "skills": "Kennis, ervaring en (overdraagbare) vaardigheden",
    "coping": "Copingstijl en belemmerende eigenschappen",
    "circumstances": "Persoonlijke omstandigheden en tempo richting werk",
    "labour_market": "Arbeidsmarktpotentieel bij reguliere werkgevers",
}
ESCALATION_REASONS = {"non_cooperation": "de werknemer werkt niet mee", "reported": "stagnatie gemeld",
                      "cadence": "geen activiteit binnen de verwachte termijn", "deadline": "een wettelijke stap is te laat"}
ESCALATION_KINDS = ("escalation_raised", "escalation_resolved", "escalation_acknowledged", "stagnation_reported",
                    "non_cooperation_recorded", "measure_requested", "measure_reminder", "measure_taken", "measures_exhausted")
GAP_KINDS = {GapKind.MISSING: "ontbreekt", GapKind.LATE: "te laat", GapKind.VIEWS_MISSING: "visie ontbreekt",
             GapKind.NO_RECENT_OORDEEL: "geen actueel oordeel", GapKind.REASON_AFTER_TERM: "reden na de termijn"}
RISK_LABELS = {Risk.LOONSANCTIE: "loonsanctie", Risk.BOETE: "boete"}
DOCUMENT_LABELS = {DocumentKind.INTAKEVERSLAG: "intakeverslag", DocumentKind.VOORTGANGSRAPPORTAGE: "voortgangsrapportage",
                   DocumentKind.NO_GO_RAPPORT: "no-go rapport", DocumentKind.REINTEGRATIEOVERZICHT: "re-integratieoverzicht"}
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
    """dd-mm-yyyy, the way Dutch documents write dates; '–' for none."""
    if d is None or d == "":
        return "–"
    if isinstance(d, str):
        try:
            d = date.fromisoformat(d)
        except ValueError:
            return d
    return d.strftime("%d-%m-%Y")


def fmt_hours(h: float | None) -> str:
    if h is None:
        return "–"
    return (f"{h:.1f}".rstrip("0").rstrip(".")).replace(".", ",")


def actor_label(actor: Actor | None) -> str:
    if actor is None:
        return "–"
    role = ROLE_LABELS.get(actor.role, actor.role.value)
    return f"{role} {actor.id}" if actor.id else role


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name: ids and free text come from people
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["d"] = fmt_date
_ENV.filters["hours"] = fmt_hours
_ENV.filters["actor"] = actor_label


# --------------------------------------------------------------------------- dossier entries in Dutch


def _label(case: CaseState, key: str | None) -> str:
    if not key:
        return "–"
    try:
        return case.ruleset.deadline(key).label
    except (KeyError, StopIteration, ValueError):
        return key.replace("_", " ")


def _measure_label(case: CaseState, key: Any) -> str:
    rules = case.stagnation_rules
    rule = rules.measure_rule(str(key)) if rules is not None else None
    return rule.label if rule is not None else str(key).replace("_", " ")


def _document_label(trajectory: TrajectoryState | None, key: str) -> str:
    rule = trajectory.rules.document_rule(key) if trajectory is not None else None
    return rule.label if rule is not None else key.replace("_", " ")


def describe(entry: DossierEntry, case: CaseState, trajectory: TrajectoryState | None,
             seen: dict[int, Observation] | None = None) -> str:
    """What a dossier or trajectory entry says, in Dutch, from its kind and structured details.

    `seen`: the overdue observations as they stand now (domain.case.observations), so an observation that a
    later record disproved, or whose step was done late, says so rather than contradicting that record.
    """
    kind, d = entry.kind, entry.details
    if kind.startswith("spoor2:"):
        return "Spoor 2: " + _describe_trajectory(kind.removeprefix("spoor2:"), d, trajectory)
    if kind in _TRAJECTORY_KINDS:
        return _describe_trajectory(kind, d, trajectory)
    hours = d.get("belastbaarheid_hours_per_day")
    with_hours = f"; belastbaarheid {fmt_hours(hours)} uur per dag" if isinstance(hours, int | float) else ""
    match kind:
        case "case_opened":
            return f"Zaak geopend; eerste ziektedag {fmt_date(case.first_sick_day)} (regels {d.get('ruleset', case.ruleset.id)})"
        case "prior_step":
            done = d.get("done_on")
            return f"Overgenomen uit een ander systeem: {_label(case, d.get('key'))}, " + (
                f"gedaan op {fmt_date(done)}" if done else "niet gedaan")
        case "stage_changed":
            return (f"Fase van de zaak: {STAGE_LABELS.get(str(d.get('from')), d.get('from'))} → "
                    f"{STAGE_LABELS.get(str(d.get('to')), d.get('to'))}")
        case "case_closed":
            return f"Zaak gesloten: {OUTCOME_LABELS.get(str(d.get('outcome')), d.get('outcome'))}"
        case "deadline_overdue":
            occ = f" ({d['occurrence']}e)" if d.get("occurrence") else ""
            step, due = f"{_label(case, d.get('key'))}{occ}", fmt_date(d.get("due"))
            standing_now = (seen or {}).get(entry.seq)
            if standing_now is None:
                return f"Termijn verstreken: {step} was uiterlijk {due} en was toen niet gedaan"
            if standing_now.state is ObservationState.SUPERSEDED:
                return f"Vervallen waarneming: {step} leek na {due} niet gedaan; {standing(standing_now)}"
            if standing_now.state is ObservationState.OPEN:
                return f"Termijn verstreken: {step} was uiterlijk {due} en is niet gedaan"
            return f"Termijn verstreken: {step} was uiterlijk {due} en was toen niet gedaan; {standing(standing_now)}"
        case "milestone_passed":
            return "Mijlpaal verstreken: " + re.sub(r"\d{4}-\d{2}-\d{2}", lambda m: fmt_date(m.group(0)), entry.summary)
        case "escalation_raised":
            reason = ESCALATION_REASONS.get(str(d.get("reason")), "stagnatie")
            return f"Escalatie naar niveau {d.get('level')}: {reason}"
        case "escalation_resolved":
            return f"Escalatie beëindigd (was niveau {d.get('previous')})"
        case "escalation_acknowledged":
            return f"Escalatie gezien en in behandeling: {d.get('reason', '')}"
        case "measure_requested":
            return f"Werkgever gevraagd een maatregel te nemen: {_measure_label(case, d.get('measure'))}"
        case "measure_reminder":
            return f"Herinnering aan de gevraagde maatregel: {_measure_label(case, d.get('measure'))}"
        case "measures_exhausted":
            return "Alle maatregelen zijn genomen en de stagnatie duurt voort; de casemanager beslist verder"
        case "measure_taken":
            return f"Maatregel genomen: {_measure_label(case, d.get('measure'))}"
        case "stagnation_reported":
            return f"Stagnatie gemeld door de {actor_label(entry.actor)}"
        case "non_cooperation_recorded":
            return "Vastgelegd: de werknemer werkt niet mee aan de re-integratie"
        case "ziekmelding_arbodienst_sent":
            return "Ziekmelding bij de arbodienst / bedrijfsarts"
        case "probleemanalyse_recorded":
            return "Probleemanalyse door de bedrijfsarts" + with_hours
        case "bedrijfsarts_oordeel":
            return "Oordeel van de bedrijfsarts over de belastbaarheid" + with_hours
        case "plan_van_aanpak_agreed":
            return f"Plan van aanpak vastgesteld; casemanager {d.get('casemanager_id', '–')}"
        case "evaluatie_held":
            return "Evaluatie van het plan van aanpak"
        case "ziekmelding_uwv_sent":
            return "Ziekmelding bij UWV (42e-weekmelding)"
        case "eerstejaarsevaluatie_held":
            return "Eerstejaarsevaluatie gehouden"
        case "ad_onderzoek_started":
            return "Arbeidsdeskundig onderzoek gestart"
        case "ad_gesprek_held":
            return "AD-onderzoek: " + AD_PARTY.get(str(d.get("party")), str(d.get("party")))
        case "ad_onderzoek_concluded":
            conclusion = case.ad_conclusion.value if case.ad_conclusion else d.get("conclusion")
            ref = f"; rapport {d['report_reference']}" if d.get("report_reference") else ""
            return f"AD-onderzoek afgerond: {AD_LABELS.get(str(conclusion), conclusion or 'conclusie vastgelegd')}{ref}"
        case "spoor2_consent_given":
            return "De bedrijfsarts stemt in met een vervroegde start van het tweede spoor"
        case "spoor2_started":
            return "Tweede spoor gestart"
        case "spoor2_ended" | "spoor2_outcome":
            result = d.get("result") or d.get("outcome")
            return f"Tweede spoor beëindigd: {SPOOR2_OUTCOME.get(str(result), result)}"
        case "spoor2_ended_with_case":
            return "Het tweede-spoortraject eindigt met de zaak"
        case "partial_recovery":
            parts = [f"{fmt_hours(d['hours_per_week'])} uur per week" if d.get("hours_per_week") else None,
                     f"{d['percentage']}%" if d.get("percentage") else None]
            return "Gedeeltelijk hersteld: " + ", ".join(p for p in parts if p)
        case "full_recovery":
            return "Volledig hersteld; weer aan het werk"
        case "relapse":
            return "Opnieuw ziek (terugval binnen vier weken): de termijnen schuiven op"
        case "deadline_deviation":
            new_due = d.get("new_due")
            occ = f" ({d['occurrence']}e)" if d.get("occurrence") else ""
            # The deviation as the case keeps it (a later one for the same step replaces it: then the plain words).
            dv = next((v for v in case.deviations.values() if v.action_id == entry.action_id), None)
            after_term = " (reden gegeven na de termijn)" if dv is not None and dv.given_after_term else ""
            mark = f"{d.get('deadline')}#{d['occurrence']}" if d.get("occurrence") else str(d.get("deadline"))
            step = next((v for v in deadlines(case, entry.on) if v.mark == mark), None) if dv is not None else None
            if step is not None and dv is not None and step.done_on is not None and step.done_on <= dv.on:
                return f"Reden voor het te laat doen van {_label(case, d.get('deadline'))}{occ} (Reg art. 5): {d.get('reason', '')}{after_term}"
            return (f"Afwijking van de termijn van {_label(case, d.get('deadline'))}{occ} (Reg art. 5): {d.get('reason', '')}; "
                    + (f"nieuwe uiterste datum {fmt_date(new_due)}" if new_due else "de stap vervalt") + after_term)
        case "deskundigenoordeel_requested":
            return f"Deskundigenoordeel aangevraagd door de {d.get('requested_by')}: {d.get('question', '')}"
        case "deskundigenoordeel_answered":
            return f"Deskundigenoordeel van UWV ontvangen: {d.get('conclusion', '')}"
        case "loonsanctie_imposed":
            return f"Loonsanctie opgelegd door UWV: {d.get('weeks')} weken"
        case "repair_reported":
            return "Herstelmelding bij UWV gedaan"
        case "repair_accepted":
            return "Herstel geaccepteerd door UWV"
        case "voluntary_extension":
            return f"Wachttijd vrijwillig verlengd met {d.get('weeks')} weken"
        case "reintegratieverslag_completed":
            return "Re-integratieverslag gereed"
        case "eindevaluatie_held":
            return "Eindevaluatie van werkgever en werknemer gehouden"
        case "werknemer_oordeel_recorded":
            agrees = {True: "; de werknemer is het eens met het verloop", False: "; de werknemer is het niet eens met het verloop"}
            return f"Mening van de werknemer over de re-integratie vastgelegd{agrees.get(d.get('agrees'), '')}"
        case "wia_aanvraag_filed":
            cause = d.get("late_cause")
            if cause == "werkgever":
                return ("WIA-aanvraag te laat ingediend door toedoen van de werkgever: de loondoorbetaling loopt door tot "
                        f"{fmt_date(wachttijd_end(case))} (BW 7:629 lid 11 sub a)")
            return "WIA-aanvraag ingediend" + (" (te laat, door toedoen van de werknemer)" if cause == "werknemer" else "")
        case "wachttijd_ended_without_wia_aanvraag":
            return (f"De wachttijd eindigde op {fmt_date(d.get('due'))} zonder WIA-aanvraag; de zaak blijft open en de "
                    "loondoorbetaling loopt door tot de aanvraag")
        case "first_sick_day_corrected":
            return (f"Eerste ziektedag gecorrigeerd naar {fmt_date(d.get('first_sick_day'))}: alle termijnen opnieuw "
                    f"berekend. Reden: {d.get('reason', '')}")
        case "leave_started":
            pause = case.ruleset.pause(str(d.get("leave")))
            return f"{pause.label if pause else d.get('leave')} begonnen: de ziekte telt niet mee, de termijnen schuiven op"
        case "leave_ended":
            return "Verlof beëindigd: de ziekte telt weer mee"
        case "case_reopened":
            return "Zaak heropend: een terugval binnen vier weken na het herstel werd gemeld nadat de zaak gesloten was"
        case "case_withdrawn":
            return f"Zaak ingetrokken: {d.get('reason', '')}"
        case "document_requested":
            doc = d.get("document")
            label = DOCUMENT_LABELS.get(DocumentKind(doc), doc) if doc in DocumentKind._value2member_map_ else doc
            return f"Document aangevraagd: {label}"
        case "document_rendered" | "document_failed":
            doc = d.get("document")
            label = DOCUMENT_LABELS.get(DocumentKind(doc), doc) if doc in DocumentKind._value2member_map_ else doc
            if kind == "document_failed":
                return f"Document kon niet worden gemaakt: {label}"
            sha = (d.get("pdf") or {}).get("sha256") if isinstance(d.get("pdf"), dict) else None
            version = {"werkgever": "versie werkgever", "bedrijfsarts": "versie bedrijfsarts"}.get(str(d.get("audience")), "")
            return f"Document gemaakt en bewaard: {label} ({version})" + (f"; SHA-256 van de PDF {sha[:16]}…" if sha else "")
        case "preflight":
            found = d.get("gaps") or []
            return (f"Dossiercheck week {d.get('week')}: {len(found)} gat(en) gevonden" if found
                    else f"Dossiercheck week {d.get('week')}: het dossier is compleet")
    return kind.replace("_", " ").capitalize()


_TRAJECTORY_KINDS = frozenset({
    "trajectory_started", "document_received", "intake_held", "proposal_sent", "purchase_approved", "coach_replaced",
    "haalbaarheidstoets_decided", "phase_started", "phase_completed", "activity_recorded", "service_requested",
    "service_approved", "service_started", "phase_paused", "phase_resumed", "outcome_recorded", "trajectory_ended",
    "search_widened", "intake_late", "phase_time_up",
})


def _service_name(trajectory: TrajectoryState | None, request_id: Any) -> str:
    for s in trajectory.services if trajectory is not None else []:
        if s.request_id == request_id:
            return s.service
    return "aanvullende dienst"


def _describe_trajectory(kind: str, d: dict[str, Any], trajectory: TrajectoryState | None) -> str:
    match kind:
        case "trajectory_started":
            return "Traject gestart; aanmelding"
        case "document_received":
            hours = d.get("belastbaarheid_hours_per_day")
            extra = f"; belastbaarheid {fmt_hours(hours)} uur per dag" if hours else ""
            return f"Document ontvangen: {_document_label(trajectory, str(d.get('document')))} ({d.get('reference', '–')}){extra}"
        case "intake_held":
            return f"Intake gehouden met re-integratiecoach {d.get('coach_id', '–')}"
        case "proposal_sent":
            return "Voorstel aan de werkgever verstuurd"
        case "purchase_approved":
            return ("Werkgever geeft akkoord op het hele traject" if d.get("scope") == "whole"
                    else f"Werkgever geeft akkoord op fase {d.get('phase')}")
        case "coach_replaced":
            return f"Andere re-integratiecoach: {d.get('coach_id')} ({d.get('reason', '')})"
        case "haalbaarheidstoets_decided":
            return "Haalbaarheidstoets: " + ("no-go; het traject eindigt" if d.get("decision") == "no_go"
                                             else "go, met zoekprofiel en passende coach")
        case "phase_started":
            number = d.get("phase")
            label = ""
            if trajectory is not None and isinstance(number, int):
                try:
                    label = f" ({trajectory.rules.phase_rule(number).label})"
                except KeyError:
                    label = ""
            return f"Fase {number} gestart{label}"
        case "phase_completed":
            return f"Fase {d.get('phase')} afgerond"
        case "activity_recorded":
            try:
                return ACTIVITY_LABELS[ActivityKind(d.get("activity"))]
            except ValueError:
                return f"Activiteit: {d.get('activity')}"
        case "service_requested":
            return f"Aanvullende dienst aangevraagd: {d.get('service', '')}"
        case "service_approved":
            return f"Werkgever geeft akkoord op aanvullende dienst: {_service_name(trajectory, d.get('request_id'))}"
        case "service_started":
            return f"Aanvullende dienst gestart: {_service_name(trajectory, d.get('request_id'))}"
        case "phase_paused":
            reason = {"illness": "ziekte", "rehabilitation": "revalidatie"}.get(str(d.get("reason")), d.get("reason"))
            return (f"Fase gepauzeerd wegens {reason}, met instemming van de bedrijfsarts "
                    f"({fmt_date(d.get('bedrijfsarts_consent_on'))})")
        case "phase_resumed":
            return "Fase hervat"
        case "outcome_recorded":
            return f"Uitkomst: {SPOOR2_OUTCOME.get(str(d.get('outcome')), d.get('outcome'))}"
        case "trajectory_ended":
            return "Traject beëindigd: de zaak is gesloten"
        case "search_widened":
            return "Zes maanden in het tweede spoor: het zoekprofiel omvat nu ook werk onder het eigen niveau"
        case "intake_late":
            return f"Intake niet op tijd gehouden (uiterlijk {fmt_date(d.get('due'))})"
        case "phase_time_up":
            return f"De tijd van de fase is verstreken ({fmt_date(d.get('due'))}) en de fase is niet afgerond"
    return kind.replace("_", " ").capitalize()


def _note(entry: DossierEntry, audience: Audience) -> str | None:
    """The free-text note of an entry, if this version may show it: a bedrijfsarts's notes are medical."""
    note = entry.details.get("note")
    if not isinstance(note, str) or not note.strip():
        return None
    if entry.actor.role is Role.BEDRIJFSARTS and not audience.medical_notes:
        return None
    return note


def _rows(entries: list[DossierEntry], case: CaseState, trajectory: TrajectoryState | None, audience: Audience, *,
          start: date | None = None, end: date, kinds: frozenset[str] | None = None,
          seen: dict[int, Observation] | None = None) -> list[dict[str, Any]]:
    """The printed record; `seen` (for the case's own dossier) says how each overdue observation stands now."""
    rows = []
    for e in sorted(entries, key=lambda e: (e.on, e.seq)):
        if e.on > end or (start is not None and e.on < start) or e.kind in NOT_PRINTED:
            continue
        if kinds is not None and e.kind not in kinds:
            continue
        superseded = seen is not None and e.seq in seen and seen[e.seq].state is ObservationState.SUPERSEDED
        rows.append({"on": e.on, "who": actor_label(e.actor), "what": describe(e, case, trajectory, seen),
                     "note": _note(e, audience), "system": e.actor.role is Role.SYSTEEM, "superseded": superseded})
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
        status = STATUS_LABELS[v.status]
        problem = v.status is DeadlineStatus.OVERDUE
        if v.status is DeadlineStatus.DONE and v.reason_after_term:
            term = v.original_due or v.due
            late_days = (v.done_on - term).days if v.done_on and term else 0
            status = f"gedaan, {late_days} dagen na de termijn; reden pas na de termijn gegeven"
            problem = True
        elif v.status is DeadlineStatus.DONE and v.late:
            status = f"gedaan, {v.late_days or 0} dagen te laat" + (" (afwijking met reden)" if v.excused else "")
            if v.original_due is not None:
                status += ", ook na de verschoven termijn"
            problem = not v.excused
        elif v.status is DeadlineStatus.DONE and v.original_due is not None:
            status = "gedaan, binnen de verschoven termijn"
        deviation = None
        if v.deviation is not None:
            moved = v.deviation.new_due
            deviation = v.deviation.reason + (f" — nieuwe uiterste datum {fmt_date(moved)}" if moved else
                                              " — stap vervalt" if v.status is not DeadlineStatus.DONE else "")
            if v.deviation.given_after_term:
                deviation += f" (reden gegeven op {fmt_date(v.deviation.on)}, na de termijn)"
        elif v.waived_because:
            reason = v.waived_because.removeprefix("AD-onderzoek: ")
            deviation = f"niet nodig: AD-onderzoek concludeert {AD_LABELS[reason]}" if reason in AD_LABELS else v.waived_because
        if v.status is DeadlineStatus.OPEN and not v.tracked:
            status = "nog niet bereikt"
        rows.append({"label": v.label + (f" ({v.occurrence})" if v.occurrence else ""), "due": v.due, "done_on": v.done_on,
                     "status": status, "problem": problem, "tracked": v.tracked, "deviation": deviation})
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
        "title": TITLES[order.kind], "kind": order.kind.value, "case": case, "as_of": as_of,
        "audience_label": AUDIENCE_LABELS[order.audience], "medical": order.audience.medical_notes,
        "week": case.clock.week_of_date(as_of), "stage": STAGE_LABELS.get(stage, stage), "period": None,
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
        rows.append({"label": rule.label, "on": rec.on if rec else None, "reference": rec.reference if rec else None,
                     "hours": rec.belastbaarheid_hours_per_day if rec else None})
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
    complete = trajectory.documents_complete_on if trajectory.documents_complete_on and trajectory.documents_complete_on <= as_of else None
    proposal = trajectory.proposal_on if trajectory.proposal_on and trajectory.proposal_on <= as_of else None
    approval = (_entry(trajectory.record, "purchase_approved", as_of) or _NO).on
    decided = trajectory.haalbaarheid if trajectory.haalbaarheid and trajectory.haalbaarheid.on <= as_of else None
    first_phase = trajectory.rules.phase_rule(1).label if trajectory.rules.phase else ""
    next_steps = [
        {"what": "Intakeverslag naar de werknemer en de werkgever", "status": f"met dit verslag ({fmt_date(as_of)})"},
        {"what": "Voorstel voor het traject aan de werkgever (per e-mail)",
         "status": f"verstuurd op {fmt_date(proposal)}" if proposal else "volgt na de intake"},
        {"what": "Akkoord van de werkgever op het voorstel (heel traject of per fase)",
         "status": f"gegeven op {fmt_date(approval)}" if approval else "nog niet gegeven"},
        {"what": "Haalbaarheidstoets: go of no-go; bij go een zoekprofiel en een passende re-integratiecoach",
         "status": f"besloten op {fmt_date(decided.on)}: {'no-go' if decided.decision == 'no_go' else 'go'}" if decided else "na het akkoord"},
        {"what": f"Bij go: start van fase 1 — {first_phase}", "status": "na de haalbaarheidstoets"},
    ]
    return {
        "started_on": trajectory.started_on, "started_by": case.spoor2_started_by,
        "documents": _documents(trajectory, as_of), "complete_on": complete, "intake_due": due if complete else None,
        "intake_on": intake.on if intake else None, "intake_late": bool(intake and due and intake.on > due),
        "coach_id": intake.details.get("coach_id") if intake else trajectory.coach_id,
        "intake_note": _note(intake, order.audience) if intake else None,
        "ad_conclusion": AD_LABELS.get(case.ad_conclusion.value) if case.ad_conclusion else None,
        "ad_reference": case.ad_report_reference, "ad_on": (_entry(case.dossier, "ad_onderzoek_concluded", as_of) or _NO).on,
        "hours": _belastbaarheid(trajectory, as_of), "next_steps": next_steps,
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
        label = describe(e, case, trajectory)
        counts[label] = counts.get(label, 0) + 1
        activities.append({"on": e.on, "what": label, "phase": phase.number if phase else None,
                           "who": actor_label(e.actor), "note": _note(e, order.audience)})
    events = _rows([e for e in trajectory.record if e.kind != "activity_recorded"], case, trajectory, order.audience,
                   start=start, end=end)
    phases = []
    for p in trajectory.phases:
        if p.started_on > end or (p.completed_on is not None and p.completed_on < start):
            continue
        rule = trajectory.rules.phase_rule(p.number)
        until = min(p.completed_on, end) if p.completed_on else end
        paused = sum(((min(x.resumed_on or end, until) - x.on).days for x in trajectory.pauses
                      if p.started_on <= x.on <= until), 0)
        active = max(0, (until - p.started_on).days + 1 - paused)
        held = [a for a in trajectory.activities if a.phase == p.number and a.activity is ActivityKind.CONVERSATION and a.on <= end]
        phases.append({"number": p.number, "label": rule.label, "started_on": p.started_on,
                       "completed_on": p.completed_on if p.completed_on and p.completed_on <= end else None,
                       "ends_on": p.ends_on(rule), "held": len(held),
                       "held_in_period": sum(1 for a in held if a.on >= start),
                       "expected": rule.expected_conversations(active)})
    pauses = [{"on": x.on, "reason": {"illness": "ziekte", "rehabilitation": "revalidatie"}.get(x.reason, x.reason),
               "consent_on": x.consent_on, "resumed_on": x.resumed_on if x.resumed_on and x.resumed_on <= end else None}
              for x in trajectory.pauses if x.on <= end and (x.resumed_on is None or x.resumed_on >= start)]
    services = [{"service": s.service, "requested_on": s.requested_on,
                 "approved_on": s.approved_on if s.approved_on and s.approved_on <= end else None,
                 "started_on": s.started_on if s.started_on and s.started_on <= end else None}
                for s in trajectory.services if s.requested_on <= end]
    return {
        "period": (start, end), "start": start, "end": end, "started_on": trajectory.started_on,
        "coach_id": _coach_at(trajectory, end), "status": _status_at(trajectory, end),
        "zoekprofiel": trajectory.haalbaarheid.zoekprofiel if trajectory.haalbaarheid and trajectory.haalbaarheid.on <= end else None,
        "phases": phases, "activities": activities, "counts": sorted(counts.items()), "events": events,
        "pauses": pauses, "services": services, "outlook": _outlook(case, trajectory, end),
    }


def _coach_at(trajectory: TrajectoryState, day: date) -> str | None:
    coach = None
    for e in sorted(trajectory.record, key=lambda e: (e.on, e.seq)):
        if e.on > day:
            break
        if e.kind in ("intake_held", "coach_replaced") or (e.kind == "haalbaarheidstoets_decided" and e.details.get("coach_id")):
            coach = e.details.get("coach_id") or coach
    return coach


def _status_at(trajectory: TrajectoryState, day: date) -> str:
    if trajectory.ended_on is not None and trajectory.ended_on <= day and trajectory.outcome is not None:
        return f"beëindigd op {fmt_date(trajectory.ended_on)}: {SPOOR2_OUTCOME.get(trajectory.outcome.value)}"
    if any(x.on <= day and (x.resumed_on is None or x.resumed_on > day) for x in trajectory.pauses):
        return "gepauzeerd"
    phase = _phase_at(trajectory, day)
    if phase is not None and (phase.completed_on is None or phase.completed_on > day):
        return f"fase {phase.number} loopt"
    started = [p for p in trajectory.phases if p.started_on <= day]
    if started:
        return ("alle fasen afgerond" if started[-1].number >= trajectory.rules.last_phase
                else f"fase {started[-1].number} afgerond; wacht op fase {started[-1].number + 1}")
    return "voor de eerste fase"


def _outlook(case: CaseState, trajectory: TrajectoryState, end: date) -> list[dict[str, Any]]:
    """What is expected after the period: from the rules and what the trajectory holds as of its last day."""
    items: list[dict[str, Any]] = []
    if trajectory.ended_on is not None and trajectory.ended_on <= end:
        items.append({"what": "Het traject is beëindigd; het verslag gaat mee met de WIA-aanvraag", "by": trajectory.ended_on})
    else:
        phase = _phase_at(trajectory, end)
        if phase is not None and (phase.completed_on is None or phase.completed_on > end):
            rule = trajectory.rules.phase_rule(phase.number)
            convs = sorted(a.on for a in trajectory.activities
                           if a.phase == phase.number and a.activity is ActivityKind.CONVERSATION and a.on <= end)
            last = convs[-1] if convs else phase.started_on
            items.append({"what": f"Volgend gesprek met de re-integratiecoach (fase {phase.number}: "
                                  f"om de {rule.gap_after(len(convs))} dagen)", "by": last + timedelta(days=rule.gap_after(len(convs)))})
            items.append({"what": f"Einde van fase {phase.number} ({rule.label})", "by": phase.ends_on(rule)})
            if phase.number < trajectory.rules.last_phase:
                approved = trajectory.phase_approved(phase.number + 1)
                items.append({"what": f"Fase {phase.number + 1}: " + ("akkoord van de werkgever is gegeven" if approved
                                                                       else "akkoord van de werkgever nodig voor de start"),
                              "by": None})
        else:
            items.append({"what": "Start van de volgende fase, met akkoord van de werkgever", "by": None})
        widen = trajectory.started_on + timedelta(weeks=trajectory.rules.widen_search_after_weeks)
        if widen > end:
            items.append({"what": "Het zoekprofiel omvat vanaf dan ook werk onder het eigen niveau", "by": widen})
        meetings = [a.on for a in trajectory.activities if a.activity is ActivityKind.PROGRESS_MEETING and a.on <= end]
        if meetings:
            items.append({"what": "Voortgangsgesprek werkgever en werknemer (elke zes weken)",
                          "by": max(meetings) + timedelta(weeks=6)})
        items.append({"what": "Volgende voortgangsrapportage", "by": add_months(end + timedelta(days=1), 1) - timedelta(days=1)})
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


def _haalbaarheid(case: CaseState, trajectory: TrajectoryState | None, as_of: date) -> tuple[s2.HaalbaarheidRecord, DossierEntry | None]:
    if trajectory is not None and trajectory.haalbaarheid is not None:
        entry = _entry(trajectory.record, "haalbaarheidstoets_decided", date.max)
        return trajectory.haalbaarheid, entry
    entry = next((e for e in case.dossier if e.kind == "spoor2:haalbaarheidstoets_decided"), None)
    if entry is None:
        raise RenderError("no haalbaarheidstoets is on record")
    d = entry.details
    return s2.HaalbaarheidRecord(decision=d["decision"], on=entry.on, grounds=s2.Grounds(**d["grounds"]),
                                 zoekprofiel=d.get("zoekprofiel"), report_reference=d.get("report_reference")), entry


def _no_go(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None) -> dict[str, Any]:
    as_of = order.as_of
    record, entry = _haalbaarheid(case, trajectory, as_of)
    if record.decision != "no_go":
        raise RenderError("the haalbaarheidstoets decided go; there is no no-go report to make")
    grounds = record.grounds.model_dump()
    views = {v.key: v for v in deadlines(case, as_of) if v.occurrence is None}
    intake = _entry(trajectory.record, "intake_held", as_of) if trajectory is not None else None
    return {
        "decided_on": record.on, "reference": record.report_reference, "decided_by": entry.actor if entry else None,
        "note": _note(entry, order.audience) if entry else None,
        "grounds": [{"label": GROUND_LABELS[k], "text": grounds[k]} for k in GROUND_LABELS],
        "started_on": trajectory.started_on if trajectory else case.spoor2_started_on,
        "intake_on": intake.on if intake else None, "coach_id": (intake.details.get("coach_id") if intake else None),
        "documents": _documents(trajectory, as_of) if trajectory is not None else [],
        "ad_conclusion": AD_LABELS.get(case.ad_conclusion.value) if case.ad_conclusion else None,
        "ad_reference": case.ad_report_reference, "ad_on": (_entry(case.dossier, "ad_onderzoek_concluded", as_of) or _NO).on,
        "hours": _belastbaarheid(trajectory, as_of),
        "riv_due": views["reintegratieverslag"].due if "reintegratieverslag" in views else None,
        "wia_due": views["wia_aanvraag"].due if "wia_aanvraag" in views else None,
        "end_due": wachttijd_end(case),
        "record": _rows(trajectory.record, case, trajectory, order.audience, end=as_of) if trajectory is not None else [],
    }


def _overview(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None,
              preflight: PreflightRules | None) -> dict[str, Any]:
    as_of = order.as_of
    views = deadlines(case, as_of)
    rules = preflight or (case.dossier_rules.preflight if getattr(case, "dossier_rules", None) else None)
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
        "pva": pva.on if pva else None, "casemanager": pva.details.get("casemanager_id") if pva else None,
        "pva_employer_view": pva.details.get("employer_view") if pva else None,
        "pva_employee_view": pva.details.get("employee_view") if pva else None,
        "evaluations": [e.on for e in case.evaluations if e.on <= as_of],
        "eje": eje.on if eje else None,
        "eje_employer_view": eje.details.get("employer_view") if eje else None,
        "eje_employee_view": eje.details.get("employee_view") if eje else None,
        "ad_started": case.ad_started_on, "ad_conversations": [(c.on, AD_PARTY[c.party.value]) for c in case.ad_conversations],
        "ad_concluded": (_entry(dossier, "ad_onderzoek_concluded", as_of) or _NO).on,
        "ad_conclusion": AD_LABELS.get(case.ad_conclusion.value) if case.ad_conclusion else None,
        "ad_reference": case.ad_report_reference,
        "partial": case.partial_recovery,
        "oordelen": [{"on": e.on, "hours": e.details.get("belastbaarheid_hours_per_day"), "note": _note(e, order.audience)}
                     for e in oordelen],
    }
    spoor2: dict[str, Any] | None = None
    if case.spoor2_started_on is not None or trajectory is not None:
        spoor2 = {"started_on": case.spoor2_started_on or (trajectory.started_on if trajectory else None),
                  "started_by": case.spoor2_started_by, "ended_on": case.spoor2_ended_on,
                  "result": SPOOR2_OUTCOME.get(case.spoor2_result.value) if case.spoor2_result else None,
                  "consent_on": case.spoor2_consent_on, "trajectory": None}
        if trajectory is not None:
            t = trajectory
            intake = _entry(t.record, "intake_held", as_of)
            activity_counts: dict[str, int] = {}
            for a in t.activities:
                if a.on <= as_of:
                    label = ACTIVITY_LABELS[a.activity]
                    activity_counts[label] = activity_counts.get(label, 0) + 1
            spoor2["trajectory"] = {
                "documents_complete_on": t.documents_complete_on, "intake_on": intake.on if intake else None,
                "coach_id": _coach_at(t, as_of), "proposal_on": t.proposal_on,
                "approved": t.whole_trajectory_approved_on, "approved_phases": t.approved_phases,
                "haalbaarheid": t.haalbaarheid, "grounds": [{"label": GROUND_LABELS[k], "text": v}
                                                             for k, v in t.haalbaarheid.grounds.model_dump().items()] if t.haalbaarheid else [],
                "phases": _progress(order.model_copy(update={"period_start": t.started_on, "period_end": as_of}), case, t)["phases"],
                "activity_counts": sorted(activity_counts.items()),
                "pauses": [p for p in t.pauses if p.on <= as_of], "services": [s for s in t.services if s.requested_on <= as_of],
                "search_widened_on": t.search_widened_on if t.search_widened_on and t.search_widened_on <= as_of else None,
                "outcome": SPOOR2_OUTCOME.get(t.outcome.value) if t.outcome and t.ended_on and t.ended_on <= as_of else None,
                "ended_on": t.ended_on if t.ended_on and t.ended_on <= as_of else None,
                "record": _rows(t.record, case, t, order.audience, end=as_of),
            }
    escalations = _rows(dossier, case, trajectory, order.audience, end=as_of, kinds=frozenset(ESCALATION_KINDS))
    measures_taken = [e for e in dossier if e.kind == "measure_taken" and e.on <= as_of]
    deviations = [{"label": _label(case, mark.split("#")[0]) + (f" ({mark.split('#')[1]})" if "#" in mark else ""),
                   "reason": dv.reason, "on": dv.on, "new_due": dv.new_due} for mark, dv in case.deviations.items() if dv.on <= as_of]
    gap_rows = None if found is None else [
        {"label": g.label + (f" ({g.occurrence})" if g.occurrence else ""), "kind": GAP_KINDS.get(g.kind, g.kind.value),
         "risk": RISK_LABELS.get(g.risk, g.risk.value), "due": g.due, "done_on": g.done_on, "detail": g.detail} for g in found]
    first_check = min((c.week for c in rules.check), default=None) if rules is not None else None
    return {
        "complete_for_riv": first_check is not None and case.clock.week_of_date(as_of) > first_check,
        "deadline_rows": _deadline_rows(views), "deviations": deviations, "gaps": gap_rows,
        "loonsanctie_risks": sum(1 for g in found or [] if g.risk is Risk.LOONSANCTIE),
        "toets": toets(case, as_of, rules) if rules is not None else None, "toets_labels": TOETS_LABELS,
        "spoor1": spoor1, "spoor2": spoor2, "escalations": escalations,
        "measures_taken": [{"on": e.on, "label": _measure_label(case, e.details.get("measure"))} for e in measures_taken],
        "loonsanctie": case.loonsanctie, "deskundigenoordelen": [d for d in case.deskundigenoordelen if d.requested_on <= as_of],
        "extension_weeks": case.voluntary_extension_weeks, "wachttijd_end": wachttijd_end(case),
        "outcome": OUTCOME_LABELS.get(case.outcome.value) if case.outcome else None, "closed_on": case.closed_on,
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
_TRAJECTORY_SYSTEM = frozenset({"trajectory_started", "search_widened", "intake_late", "phase_time_up", "trajectory_ended"})


def trajectory_from_dossier(case: CaseState) -> TrajectoryState | None:
    """The trajectory rebuilt from the copies of its record in the case's dossier, for when its own state is gone.

    Each person's step is applied again with its own date and id; the trajectory's own entries are taken
    over as they were. None when the case has no trajectory, or its record does not replay.
    """
    entries = [e for e in case.dossier if e.kind.startswith("spoor2:")]
    starts = [n for n, e in enumerate(entries) if e.kind == "spoor2:trajectory_started"]
    if not starts or case.spoor2_rules is None:
        return None
    entries = entries[starts[-1]:]  # a later trajectory replaces an earlier one
    first = entries[0]
    state = s2.TrajectoryState(case_id=case.case_id, started_on=first.on, rules=case.spoor2_rules)
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
            action = s2.parse_spoor2_action({"kind": kind, "action_id": e.action_id, "actor": e.actor.model_dump(mode="json"),
                                             "on": e.on.isoformat(), **details})
            s2.apply(state, action, e.on, e.recorded_at)
    except (ActionRefused, KeyError, ValueError):
        return None
    return state


def for_audience(case: CaseState, trajectory: TrajectoryState | None,
                 audience: Audience) -> tuple[CaseState, TrajectoryState | None]:
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


def render_html(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None, *,
                preflight: PreflightRules | None = None) -> str:
    """The document as a self-contained HTML page (styles and the timeline inline)."""
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


def render(order: DocumentOrder, case: CaseState, trajectory: TrajectoryState | None, *,
           preflight: PreflightRules | None) -> Rendered:
    """Render one document of a case as HTML and PDF, for the order's audience, as of its day."""
    html = render_html(order, case, trajectory, preflight=preflight)
    return Rendered(title=TITLES[order.kind], filename_stem=filename_stem(order, case), html=html,
                    pdf=html_to_pdf(html, order.as_of))
