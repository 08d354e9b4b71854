"""What a dossier entry says, as one sentence in the reader's language: the documents, the dashboard and the CLI.

The entries keep structured details (keys, dates, numbers); this module turns them into the sentence a person
reads, through service.i18n (Dutch by default, English on request). The documents for UWV call it inside
`i18n.using("nl")`, so they stay Dutch whoever makes them. Labels come from domain.glossary; the labels a case's
own rules give (a step, a measure, a document of the trajectory) are taken from those rules as they are.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from domain import glossary
from domain.case import CaseState, deadlines, wachttijd_end
from domain.models import Actor, DossierEntry
from domain.observations import Observation, ObservationState
from domain.spoor2 import TrajectoryState
from service import i18n
from service.i18n import ngettext
from service.rulebook import load_spoor2_rules

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

# Kinds the spoor 2 trajectory records in its own record (a copy in the case's dossier carries "spoor2:").
TRAJECTORY_KINDS = frozenset(
    {
        "trajectory_started",
        "document_received",
        "intake_held",
        "proposal_sent",
        "purchase_approved",
        "coach_replaced",
        "haalbaarheidstoets_decided",
        "phase_started",
        "phase_completed",
        "activity_recorded",
        "service_requested",
        "service_approved",
        "service_started",
        "phase_paused",
        "phase_resumed",
        "outcome_recorded",
        "trajectory_ended",
        "search_widened",
        "intake_late",
        "phase_time_up",
    }
)


# --------------------------------------------------------------------------- the small words


def _(message: str, **params: Any) -> str:
    """service.i18n.gettext, with a detail an older or partial entry lacks shown as '–' rather than 'None'."""
    return i18n.gettext(message, **{k: "–" if v is None else v for k, v in params.items()})


def day(value: date | str | None, style: str = "medium") -> str:
    """A date (or an ISO date string from an entry's details) as the reader writes it; '–' for none."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            return value
        return i18n.format_day(parsed, style)
    return i18n.format_day(value, style)


def hours(h: float | None) -> str:
    """Hours with at most one decimal, in the reader's notation (4,5 in Dutch); '–' for none."""
    if h is None:
        return "–"
    return i18n.format_number(h, "0.#")


def label(msgid: str) -> str:
    """A glossary label in the reader's language."""
    return _(msgid)


def actor(who: Actor | None) -> str:
    """Who did it: the role's name, with the person's id where there is one."""
    if who is None:
        return "–"
    role = _(glossary.role_label(who.role.value))
    return f"{role} {who.id}" if who.id else role


def standing_text(o: Observation) -> str:
    """How an overdue observation stands now (domain.observations.standing, in the reader's language)."""
    if o.state is ObservationState.SUPERSEDED:
        if o.superseded_by is not None:
            return _(
                "superseded: a later record (line %(line)s) shows the term had not yet passed then",
                line=o.superseded_by,
            )
        return _("superseded: a later record shows the term had not yet passed then")
    if o.state is ObservationState.LATE:
        return ngettext(
            "done later on %(day)s, %(num)s day late",
            "done later on %(day)s, %(num)s days late",
            o.days_late or 0,
            day=day(o.done_on, "short"),
        )
    return _("not done yet")


def _step(case: CaseState | None, key: Any) -> str:
    """A statutory step's name: the case's rule set has the full (Dutch, statutory) label."""
    if not key:
        return "–"
    if case is not None:
        try:
            return case.ruleset.deadline(str(key)).label
        except (KeyError, StopIteration, ValueError):
            pass
    short = glossary.step_short(str(key))
    return _(short) if short else str(key).replace("_", " ")


def _with_occurrence(step: str, occurrence: Any) -> str:
    return _("%(step)s (no. %(n)s)", step=step, n=occurrence) if occurrence else step


def _measure(case: CaseState | None, key: Any) -> str:
    if key is None:
        return "–"
    rules = case.escalation.rules if case is not None and case.escalation is not None else None
    rule = rules.measure_rule(str(key)) if rules is not None else None
    return rule.label if rule is not None else str(key).replace("_", " ")


def _document(trajectory: TrajectoryState | None, key: Any) -> str:
    if key is None:
        return "–"
    key = str(key)
    # Without the trajectory at hand (the case's dossier page), the shipped rules name the same documents.
    rules = trajectory.rules if trajectory is not None else load_spoor2_rules()
    rule = rules.document_rule(key)
    return rule.label if rule is not None else key.replace("_", " ")


def trajectory_document(key: Any) -> str:
    """A spoor 2 document's name as the shipped rules give it ("fml": "Functionele Mogelijkhedenlijst (FML)")."""
    return _document(None, key)


def _service(trajectory: TrajectoryState | None, request_id: Any) -> str:
    for s in trajectory.services if trajectory is not None else []:
        if s.request_id == request_id:
            return s.service
    return _("additional service")


def _of(table: dict[str, str], key: Any) -> str:
    """A label from a glossary table, translated; an unknown key as it is."""
    found = table.get(str(key))
    return _(found) if found is not None else ("–" if key is None else str(key))


# --------------------------------------------------------------------------- the sentences


def describe(
    entry: DossierEntry,
    case: CaseState | None = None,
    trajectory: TrajectoryState | None = None,
    seen: dict[int, Observation] | None = None,
    *,
    date_style: str = "medium",
    standing: bool = True,
) -> str:
    """The sentence a person reads for one dossier or trajectory entry, in the current language.

    `case` and `trajectory` give the names their rules hold (steps, measures, documents) and facts the entry
    leaves out; without them the sentence uses the entry alone. `seen`: the overdue observations as they
    stand now (domain.case.observations), so an observation a later record disproved says so (a
    domain.case.DossierLine brings its own). `date_style`
    is Babel's ("short" writes 06-12-2026 in Dutch, as the documents do). `standing`: an overdue observation's
    sentence ends with how it stands now; without, a page that shows the standing beside it says it once. A kind
    without a sentence of its own reads as its glossary label; a kind the glossary does not know, as the summary it
    was stored with.
    """
    kind, d = entry.kind, entry.details

    def on(value: Any) -> str:
        return day(value, date_style)

    if kind.startswith("spoor2:"):
        return _("Spoor 2: %(what)s", what=_trajectory(entry, kind.removeprefix("spoor2:"), d, trajectory, on))
    if kind in TRAJECTORY_KINDS:
        return _trajectory(entry, kind, d, trajectory, on)
    h = d.get("belastbaarheid_hours_per_day")
    has_hours = isinstance(h, int | float) and not isinstance(h, bool)
    match kind:
        case "case_opened":
            # The opening is recorded on the first sick day; the case knows a later correction of it.
            first = case.first_sick_day if case is not None else entry.on
            ruleset = d.get("ruleset", case.ruleset.id if case is not None else "–")
            return _("Case opened; first sick day %(day)s (rules %(ruleset)s)", day=on(first), ruleset=ruleset)
        case "prior_step":
            done = d.get("done_on")
            step = _step(case, d.get("key"))
            if done:
                return _("Taken over from another system: %(step)s, done on %(day)s", step=step, day=on(done))
            return _("Taken over from another system: %(step)s, not done", step=step)
        case "stage_changed":
            return _(
                "Stage of the case: %(before)s → %(after)s",
                before=_(glossary.stage_label(d.get("from"))),
                after=_(glossary.stage_label(d.get("to"))),
            )
        case "case_closed":
            return _("Case closed: %(outcome)s", outcome=_of(glossary.OUTCOMES, d.get("outcome")))
        case "deadline_overdue":
            step, due = _with_occurrence(_step(case, d.get("key")), d.get("occurrence")), on(d.get("due"))
            # A dossier line (domain.case.DossierLine) carries its own standing.
            now = (seen or {}).get(entry.seq) or getattr(entry, "observation", None)
            if now is None or (not standing and now.state is not ObservationState.SUPERSEDED):
                return _("Term passed: %(step)s was due by %(due)s and had not been done then", step=step, due=due)
            if not standing:
                return _("Superseded observation: %(step)s seemed not done after %(due)s", step=step, due=due)
            if now.state is ObservationState.SUPERSEDED:
                return _(
                    "Superseded observation: %(step)s seemed not done after %(due)s; %(standing)s",
                    step=step,
                    due=due,
                    standing=standing_text(now),
                )
            if now.state is ObservationState.OPEN:
                return _("Term passed: %(step)s was due by %(due)s and has not been done", step=step, due=due)
            return _(
                "Term passed: %(step)s was due by %(due)s and had not been done then; %(standing)s",
                step=step,
                due=due,
                standing=standing_text(now),
            )
        case "milestone_passed":
            return _("Milestone passed: %(what)s", what=_ISO_DAY.sub(lambda m: on(m.group(0)), entry.summary))
        case "escalation_raised":
            found = glossary.ESCALATION_REASONS.get(str(d.get("reason")))
            reason = _(found) if found else _("stagnation")
            return _("Escalation to level %(level)s: %(reason)s", level=d.get("level"), reason=reason)
        case "escalation_resolved":
            return _("Escalation ended (was level %(level)s)", level=d.get("previous"))
        case "escalation_acknowledged":
            return _("Escalation seen and being handled: %(reason)s", reason=d.get("reason", ""))
        case "measure_requested":
            return _("Werkgever asked to take a measure: %(measure)s", measure=_measure(case, d.get("measure")))
        case "measure_reminder":
            return _("Reminder of the measure asked for: %(measure)s", measure=_measure(case, d.get("measure")))
        case "measures_exhausted":
            return _("All measures have been taken and the stagnation goes on; the casemanager decides what next")
        case "measure_taken":
            return _("Measure taken: %(measure)s", measure=_measure(case, d.get("measure")))
        case "stagnation_reported":
            return _("Stagnation reported by the %(who)s", who=actor(entry.actor))
        case "non_cooperation_recorded":
            return _("Recorded: the werknemer does not cooperate with the re-integration")
        case "ziekmelding_arbodienst_sent":
            return _("Ziekmelding to the arbodienst / bedrijfsarts")
        case "probleemanalyse_recorded":
            if has_hours:
                return _("Probleemanalyse by the bedrijfsarts; belastbaarheid %(hours)s hours a day", hours=hours(h))
            return _("Probleemanalyse by the bedrijfsarts")
        case "bedrijfsarts_oordeel":
            if has_hours:
                return _(
                    "Oordeel of the bedrijfsarts on the belastbaarheid; belastbaarheid %(hours)s hours a day",
                    hours=hours(h),
                )
            return _("Oordeel of the bedrijfsarts on the belastbaarheid")
        case "plan_van_aanpak_agreed":
            return _("Plan van aanpak agreed; casemanager %(who)s", who=d.get("casemanager_id", "–"))
        case "evaluatie_held":
            return _("Evaluation of the plan van aanpak")
        case "ziekmelding_uwv_sent":
            return _("Ziekmelding to UWV (42nd-week report)")
        case "eerstejaarsevaluatie_held":
            return _("Eerstejaarsevaluatie held")
        case "ad_onderzoek_started":
            return _("Arbeidsdeskundig onderzoek started")
        case "ad_gesprek_held":
            return _("AD-onderzoek: %(what)s", what=_of(glossary.AD_CONVERSATIONS, d.get("party")))
        case "ad_onderzoek_concluded":
            conclusion = case.ad.conclusion.value if case is not None and case.ad.conclusion else d.get("conclusion")
            what = _of(glossary.AD_CONCLUSIONS, conclusion) if conclusion else _("conclusion recorded")
            if d.get("report_reference"):
                return _(
                    "AD-onderzoek concluded: %(conclusion)s; report %(reference)s",
                    conclusion=what,
                    reference=d["report_reference"],
                )
            return _("AD-onderzoek concluded: %(conclusion)s", conclusion=what)
        case "spoor2_consent_given":
            return _("The bedrijfsarts consents to an early start of spoor 2")
        case "spoor2_started":
            return _("Spoor 2 started")
        case "spoor2_ended" | "spoor2_outcome":
            result = d.get("result") or d.get("outcome")
            return _("Spoor 2 ended: %(result)s", result=_of(glossary.SPOOR2_OUTCOMES, result))
        case "spoor2_ended_with_case":
            return _("The spoor 2 trajectory ends with the case")
        case "partial_recovery":
            parts = [
                _("%(hours)s hours a week", hours=hours(d["hours_per_week"])) if d.get("hours_per_week") else None,
                f"{d['percentage']}%" if d.get("percentage") else None,
            ]
            return _("Partly recovered: %(how)s", how=", ".join(p for p in parts if p))
        case "full_recovery":
            return _("Fully recovered; back at work")
        case "relapse":
            return _("Sick again (relapse within four weeks): the terms move on")
        case "deadline_deviation":
            return _deviation(entry, case, on)
        case "deskundigenoordeel_requested":
            return _(
                "Deskundigenoordeel requested by the %(who)s: %(question)s",
                who=d.get("requested_by"),
                question=d.get("question", ""),
            )
        case "deskundigenoordeel_answered":
            return _("Deskundigenoordeel of UWV received: %(conclusion)s", conclusion=d.get("conclusion", ""))
        case "loonsanctie_imposed":
            return _("Loonsanctie imposed by UWV: %(weeks)s weeks", weeks=d.get("weeks"))
        case "repair_reported":
            return _("Repair reported to UWV")
        case "repair_accepted":
            return _("Repair accepted by UWV")
        case "voluntary_extension":
            return _("Waiting time voluntarily extended by %(weeks)s weeks", weeks=d.get("weeks"))
        case "reintegratieverslag_completed":
            return _("Re-integratieverslag completed")
        case "eindevaluatie_held":
            return _("Eindevaluatie of werkgever and werknemer held")
        case "werknemer_oordeel_recorded":
            agrees = d.get("agrees")
            if agrees is True:
                return _("The werknemer's view of the re-integration recorded; the werknemer agrees with its course")
            if agrees is False:
                return _(
                    "The werknemer's view of the re-integration recorded; the werknemer does not agree with its course"
                )
            return _("The werknemer's view of the re-integration recorded")
        case "wia_aanvraag_filed":
            cause = d.get("late_cause")
            if cause == "werkgever":
                until = on(wachttijd_end(case)) if case is not None else "–"
                return _(
                    "WIA-aanvraag filed late through the werkgever's doing: the wage payment runs on until "
                    "%(day)s (BW 7:629 lid 11 sub a)",
                    day=until,
                )
            if cause == "werknemer":
                return _("WIA-aanvraag filed (late, through the werknemer's doing)")
            return _("WIA-aanvraag filed")
        case "wachttijd_ended_without_wia_aanvraag":
            return _(
                "The waiting time ended on %(day)s without a WIA-aanvraag; the case stays open and the wage "
                "payment runs on until the aanvraag",
                day=on(d.get("due")),
            )
        case "first_sick_day_corrected":
            return _(
                "First sick day corrected to %(day)s: all terms calculated again. Reason: %(reason)s",
                day=on(d.get("first_sick_day")),
                reason=d.get("reason", ""),
            )
        case "leave_started":
            pause = case.ruleset.pause(str(d.get("leave"))) if case is not None else None
            return _(
                "%(leave)s started: the illness does not count, the terms move on",
                leave=pause.label if pause else d.get("leave"),
            )
        case "leave_ended":
            return _("Leave ended: the illness counts again")
        case "case_reopened":
            return _(
                "Case reopened: a relapse within four weeks of the recovery was reported after the case had closed"
            )
        case "case_withdrawn":
            return _("Case withdrawn: %(reason)s", reason=d.get("reason", ""))
        case "document_requested":
            return _("Document requested: %(document)s", document=_of(glossary.DOCUMENTS, d.get("document")))
        case "document_failed":
            return _("Document could not be made: %(document)s", document=_of(glossary.DOCUMENTS, d.get("document")))
        case "document_rendered":
            document = _of(glossary.DOCUMENTS, d.get("document"))
            version = (
                _(glossary.AUDIENCES_SHORT[str(d.get("audience"))])
                if str(d.get("audience")) in glossary.AUDIENCES_SHORT
                else ""
            )
            sha = (d.get("pdf") or {}).get("sha256") if isinstance(d.get("pdf"), dict) else None
            if sha:
                return _(
                    "Document made and kept: %(document)s (%(version)s); SHA-256 of the PDF %(sha)s…",
                    document=document,
                    version=version,
                    sha=sha[:16],
                )
            return _("Document made and kept: %(document)s (%(version)s)", document=document, version=version)
        case "uwv_message_prepared":
            what = _(glossary.UWV_MESSAGES.get(str(d.get("message")), _("Message")))
            return _("%(what)s for UWV prepared (%(id)s)", what=what, id=d.get("message_id", "–"))
        case "uwv_message_sent":
            return _(
                "Message %(id)s sent to UWV (%(reference)s)",
                id=d.get("message_id", "–"),
                reference=d.get("reference", "–"),
            )
        case "uwv_message_rejected":
            return _(
                "UWV rejected message %(id)s: %(reason)s", id=d.get("message_id", "–"), reason=d.get("reason", "–")
            )
        case "preflight":
            gap_list = d.get("gaps") or []
            if gap_list:
                return ngettext(
                    "Dossier check week %(week)s: %(num)s gap found",
                    "Dossier check week %(week)s: %(num)s gaps found",
                    len(gap_list),
                    week=d.get("week"),
                )
            return _("Dossier check week %(week)s: the dossier is complete", week=d.get("week"))
    return _known_or_summary(entry)


def _known_or_summary(entry: DossierEntry) -> str:
    """A kind without a sentence of its own: its glossary label; an unknown kind: the summary it was stored with."""
    kind = entry.kind.removeprefix("spoor2:")
    if kind in glossary.ENTRY_KINDS:
        return _(glossary.entry_label(kind))
    return entry.summary or kind.replace("_", " ")


def _deviation(entry: DossierEntry, case: CaseState | None, on: Any) -> str:
    """A deviation from a term (Reg art. 5): moved, waived, or the reason a step was done late."""
    d = entry.details
    step = _with_occurrence(_step(case, d.get("deadline")), d.get("occurrence"))
    reason = d.get("reason", "")
    # The deviation as the case keeps it (a later one for the same step replaces it: then the plain words).
    dv = (
        next((v for v in case.deviations.values() if v.action_id == entry.action_id), None)
        if case is not None
        else None
    )
    after_term = _(" (reason given after the term)") if dv is not None and dv.given_after_term else ""
    mark = f"{d.get('deadline')}#{d['occurrence']}" if d.get("occurrence") else str(d.get("deadline"))
    done = next((v for v in deadlines(case, entry.on) if v.mark == mark), None) if case is not None and dv else None
    if done is not None and dv is not None and done.done_on is not None and done.done_on <= dv.on:
        return _("Reason for doing %(step)s late (Reg art. 5): %(reason)s", step=step, reason=reason) + after_term
    if d.get("new_due"):
        return (
            _(
                "Deviation from the term of %(step)s (Reg art. 5): %(reason)s; new due date %(day)s",
                step=step,
                reason=reason,
                day=on(d.get("new_due")),
            )
            + after_term
        )
    return (
        _("Deviation from the term of %(step)s (Reg art. 5): %(reason)s; the step lapses", step=step, reason=reason)
        + after_term
    )


def _trajectory(entry: DossierEntry, kind: str, d: dict[str, Any], trajectory: TrajectoryState | None, on: Any) -> str:
    """The sentence of an entry in the spoor 2 trajectory's record."""
    match kind:
        case "trajectory_started":
            return _("Trajectory started; registration")
        case "document_received":
            h = d.get("belastbaarheid_hours_per_day")
            document, reference = _document(trajectory, d.get("document")), d.get("reference", "–")
            if h:
                return _(
                    "Document received: %(document)s (%(reference)s); belastbaarheid %(hours)s hours a day",
                    document=document,
                    reference=reference,
                    hours=hours(h),
                )
            return _("Document received: %(document)s (%(reference)s)", document=document, reference=reference)
        case "intake_held":
            return _("Intake held with re-integratiecoach %(coach)s", coach=d.get("coach_id", "–"))
        case "proposal_sent":
            return _("Proposal sent to the werkgever")
        case "purchase_approved":
            if d.get("scope") == "whole":
                return _("The werkgever approves the whole trajectory")
            return _("The werkgever approves phase %(phase)s", phase=d.get("phase"))
        case "coach_replaced":
            return _(
                "Another re-integratiecoach: %(coach)s (%(reason)s)",
                coach=d.get("coach_id"),
                reason=d.get("reason", ""),
            )
        case "haalbaarheidstoets_decided":
            if d.get("decision") == "no_go":
                return _("Haalbaarheidstoets: no-go; the trajectory ends")
            return _("Haalbaarheidstoets: go, with a zoekprofiel and a fitting coach")
        case "phase_started":
            number = d.get("phase")
            if trajectory is not None and isinstance(number, int):
                try:
                    return _(
                        "Phase %(phase)s started (%(label)s)",
                        phase=number,
                        label=trajectory.rules.phase_rule(number).label,
                    )
                except KeyError:
                    pass
            return _("Phase %(phase)s started", phase=number)
        case "phase_completed":
            return _("Phase %(phase)s completed", phase=d.get("phase"))
        case "activity_recorded":
            found = glossary.ACTIVITIES.get(str(d.get("activity")))
            return _(found) if found else _("Activity: %(activity)s", activity=d.get("activity"))
        case "service_requested":
            return _("Additional service requested: %(service)s", service=d.get("service", ""))
        case "service_approved":
            return _(
                "The werkgever approves the additional service: %(service)s",
                service=_service(trajectory, d.get("request_id")),
            )
        case "service_started":
            return _("Additional service started: %(service)s", service=_service(trajectory, d.get("request_id")))
        case "phase_paused":
            return _(
                "Phase paused because of %(reason)s, with the bedrijfsarts's consent (%(day)s)",
                reason=_of(glossary.PAUSE_REASONS, d.get("reason")),
                day=on(d.get("bedrijfsarts_consent_on")),
            )
        case "phase_resumed":
            return _("Phase resumed")
        case "outcome_recorded":
            return _("Outcome: %(outcome)s", outcome=_of(glossary.SPOOR2_OUTCOMES, d.get("outcome")))
        case "trajectory_ended":
            return _("Trajectory ended: the case is closed")
        case "search_widened":
            return _("Six months in spoor 2: the zoekprofiel now includes work below the own level")
        case "intake_late":
            return _("Intake not held in time (due by %(day)s)", day=on(d.get("due")))
        case "phase_time_up":
            return _("The time of the phase has passed (%(day)s) and the phase is not completed", day=on(d.get("due")))
    return _known_or_summary(entry)
