"""The one registry of what things are called: stages, roles, outcomes, steps and the kinds of dossier entry.

Each label is an English msgid (marked `N_` so `make translations` collects it); the person reading it gets it in
their language through service.i18n (Dutch by default, from service/locale). The statutory Dutch terms stay Dutch
in both languages. The dashboard, the CLI and the documents read their labels here and nowhere else; a kind that
is missing falls back to its key with spaces, which tests/test_glossary.py refuses for every known kind.
"""

from __future__ import annotations

from enum import StrEnum


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name; the domain has no translator
    """Mark a label for the catalogue; it is translated where it is shown."""
    return message


class Category(StrEnum):
    """What a dossier entry is about: the groups the case page and the documents sort entries into."""

    STATUTORY = "statutory"  # the steps of the Wet verbetering poortwachter
    AD_ONDERZOEK = "ad_onderzoek"
    SPOOR2 = "spoor2"
    RECOVERY = "recovery"  # recovery, relapse, leave and corrections of the clock
    LOONSANCTIE = "loonsanctie"
    ESCALATION = "escalation"
    DOCUMENTS = "documents"
    CASE = "case"  # opening, closing, people and contacts
    SYSTEM = "system"  # what Spoorwerk did by itself: reminders, notices, milestones


CATEGORIES: dict[Category, str] = {
    Category.STATUTORY: N_("Statutory steps"),
    Category.AD_ONDERZOEK: N_("AD-onderzoek"),
    Category.SPOOR2: N_("Spoor 2"),
    Category.RECOVERY: N_("Recovery and leave"),
    Category.LOONSANCTIE: N_("Loonsanctie"),
    Category.ESCALATION: N_("Escalation"),
    Category.DOCUMENTS: N_("Documents"),
    Category.CASE: N_("Case"),
    Category.SYSTEM: N_("Spoorwerk"),
}

STAGES: dict[str, str] = {
    "ziekmelding": N_("Ziekmelding"),
    "spoor1": N_("Spoor 1"),
    "ad_onderzoek": N_("AD-onderzoek"),
    "spoor2": N_("Spoor 2"),
    "wia": N_("WIA-aanvraag"),
    "closed": N_("Closed"),
}

ROLES: dict[str, str] = {
    "werknemer": N_("werknemer"),
    "werkgever": N_("werkgever"),
    "bedrijfsarts": N_("bedrijfsarts"),
    "arbeidsdeskundige": N_("arbeidsdeskundige"),
    "casemanager": N_("casemanager"),
    "reintegratiecoach": N_("re-integratiecoach"),
    "operations": N_("operations"),
    "uwv": N_("UWV"),
    "systeem": N_("Spoorwerk"),
}

OUTCOMES: dict[str, str] = {
    "hersteld": N_("recovered"),
    "einde_wachttijd": N_("end of the waiting time"),
    "ingetrokken": N_("withdrawn"),
    "nieuw_werk": N_("new work with another employer"),
}

DEADLINE_STATUSES: dict[str, str] = {
    "open": N_("open"),
    "done": N_("done"),
    "overdue": N_("overdue"),
    "waived": N_("waived"),
    "passed": N_("passed"),
}

# Short names of the statutory steps for the timeline (rulebook.toml gives each step's full Dutch label).
STEP_SHORT: dict[str, str] = {
    "ziekmelding_arbodienst": N_("Ziekmelding"),
    "probleemanalyse": N_("Probleemanalyse"),
    "plan_van_aanpak": N_("Plan v. aanpak"),
    "ziekmelding_uwv": N_("42nd week"),
    "eerstejaarsevaluatie": N_("Eerstejaarsevaluatie"),
    "spoor2_start": N_("Spoor 2 at the latest"),
    "wia_brief_uwv": N_("WIA letter"),
    "reintegratieverslag": N_("RIV"),
    "wia_aanvraag": N_("WIA-aanvraag"),
    "einde_wachttijd": N_("End of waiting time"),
}

# Every kind of dossier entry: the actions people record (domain.actions, domain.spoor2) and what the case
# records by itself. (category, label)
ENTRY_KINDS: dict[str, tuple[Category, str]] = {
    # The statutory steps (domain/rulebook.toml)
    "ziekmelding_arbodienst_sent": (Category.STATUTORY, N_("Ziekmelding to the arbodienst")),
    "probleemanalyse_recorded": (Category.STATUTORY, N_("Probleemanalyse recorded")),
    "plan_van_aanpak_agreed": (Category.STATUTORY, N_("Plan van aanpak agreed")),
    "evaluatie_held": (Category.STATUTORY, N_("Evaluation of the plan van aanpak")),
    "ziekmelding_uwv_sent": (Category.STATUTORY, N_("Ziekmelding to UWV (42nd week)")),
    "eerstejaarsevaluatie_held": (Category.STATUTORY, N_("Eerstejaarsevaluatie held")),
    "bedrijfsarts_oordeel": (Category.STATUTORY, N_("Oordeel of the bedrijfsarts")),
    "eindevaluatie_held": (Category.STATUTORY, N_("Eindevaluatie held")),
    "werknemer_oordeel_recorded": (Category.STATUTORY, N_("The werknemer's view recorded")),
    "reintegratieverslag_completed": (Category.STATUTORY, N_("Re-integratieverslag completed")),
    "wia_aanvraag_filed": (Category.STATUTORY, N_("WIA-aanvraag filed")),
    "deadline_deviation": (Category.STATUTORY, N_("Deviation from a term recorded")),
    "prior_step": (Category.STATUTORY, N_("Step taken over from before")),
    # AD-onderzoek
    "ad_onderzoek_started": (Category.AD_ONDERZOEK, N_("AD-onderzoek started")),
    "ad_gesprek_held": (Category.AD_ONDERZOEK, N_("Conversation of the arbeidsdeskundige")),
    "ad_onderzoek_concluded": (Category.AD_ONDERZOEK, N_("AD-onderzoek concluded")),
    # Spoor 2: the case's side and the trajectory's
    "spoor2_consent_given": (Category.SPOOR2, N_("Consent to spoor 2")),
    "spoor2_started": (Category.SPOOR2, N_("Spoor 2 started")),
    "spoor2_ended": (Category.SPOOR2, N_("Spoor 2 ended")),
    "spoor2_outcome": (Category.SPOOR2, N_("Outcome of spoor 2")),
    "spoor2_ended_with_case": (Category.SPOOR2, N_("Spoor 2 ended with the case")),
    "trajectory_started": (Category.SPOOR2, N_("Spoor 2 trajectory started")),
    "trajectory_ended": (Category.SPOOR2, N_("Spoor 2 trajectory ended")),
    "intake_held": (Category.SPOOR2, N_("Intake held")),
    "intake_late": (Category.SPOOR2, N_("Intake late")),
    "proposal_sent": (Category.SPOOR2, N_("Proposal sent to the werkgever")),
    "purchase_approved": (Category.SPOOR2, N_("Purchase approved by the werkgever")),
    "coach_replaced": (Category.SPOOR2, N_("Coach replaced")),
    "haalbaarheidstoets_decided": (Category.SPOOR2, N_("Haalbaarheidstoets decided")),
    "phase_started": (Category.SPOOR2, N_("Phase started")),
    "phase_completed": (Category.SPOOR2, N_("Phase completed")),
    "phase_paused": (Category.SPOOR2, N_("Phase paused")),
    "phase_resumed": (Category.SPOOR2, N_("Phase resumed")),
    "phase_time_up": (Category.SPOOR2, N_("Time of the phase is up")),
    "activity_recorded": (Category.SPOOR2, N_("Activity recorded")),
    "service_requested": (Category.SPOOR2, N_("Service requested")),
    "service_approved": (Category.SPOOR2, N_("Service approved")),
    "service_started": (Category.SPOOR2, N_("Service started")),
    "outcome_recorded": (Category.SPOOR2, N_("Outcome recorded")),
    # Recovery, leave and the clock
    "partial_recovery": (Category.RECOVERY, N_("Partial recovery")),
    "full_recovery": (Category.RECOVERY, N_("Full recovery")),
    "relapse": (Category.RECOVERY, N_("Relapse")),
    "leave_started": (Category.RECOVERY, N_("Leave started")),
    "leave_ended": (Category.RECOVERY, N_("Leave ended")),
    "first_sick_day_corrected": (Category.RECOVERY, N_("First sick day corrected")),
    # Loonsanctie and the deskundigenoordeel
    "deskundigenoordeel_requested": (Category.LOONSANCTIE, N_("Deskundigenoordeel requested")),
    "deskundigenoordeel_answered": (Category.LOONSANCTIE, N_("Deskundigenoordeel answered")),
    "loonsanctie_imposed": (Category.LOONSANCTIE, N_("Loonsanctie imposed")),
    "repair_reported": (Category.LOONSANCTIE, N_("Repair reported")),
    "repair_accepted": (Category.LOONSANCTIE, N_("Repair accepted")),
    "voluntary_extension": (Category.LOONSANCTIE, N_("Voluntary extension")),
    # Escalation
    "stagnation_reported": (Category.ESCALATION, N_("Stagnation reported")),
    "non_cooperation_recorded": (Category.ESCALATION, N_("Non-cooperation recorded")),
    "escalation_raised": (Category.ESCALATION, N_("Escalation raised")),
    "escalation_resolved": (Category.ESCALATION, N_("Escalation resolved")),
    "escalation_acknowledged": (Category.ESCALATION, N_("Escalation acknowledged")),
    "measure_requested": (Category.ESCALATION, N_("Measure requested")),
    "measure_reminder": (Category.ESCALATION, N_("Reminder of a measure")),
    "measure_taken": (Category.ESCALATION, N_("Measure taken")),
    "measures_exhausted": (Category.ESCALATION, N_("Measures exhausted")),
    # Documents
    "document_requested": (Category.DOCUMENTS, N_("Document requested")),
    "document_received": (Category.DOCUMENTS, N_("Document received")),
    "document_rendered": (Category.DOCUMENTS, N_("Document made")),
    "document_failed": (Category.DOCUMENTS, N_("Document could not be made")),
    "preflight": (Category.DOCUMENTS, N_("Dossier check")),
    "preflight_gaps": (Category.DOCUMENTS, N_("Dossier check found gaps")),
    # The case itself
    "case_opened": (Category.CASE, N_("Case opened")),
    "case_closed": (Category.CASE, N_("Case closed")),
    "case_reopened": (Category.CASE, N_("Case reopened")),
    "case_withdrawn": (Category.CASE, N_("Case withdrawn")),
    "stage_changed": (Category.CASE, N_("Stage changed")),
    "contacts_updated": (Category.CASE, N_("Contacts updated")),
    "person_assigned": (Category.CASE, N_("Person assigned")),
    "person_unassigned": (Category.CASE, N_("Assignment ended")),
    "employee_details_corrected": (Category.CASE, N_("Employee details corrected")),
    # What Spoorwerk did by itself
    "deadline_reminder": (Category.SYSTEM, N_("Reminder of a term")),
    "reminder_sent": (Category.SYSTEM, N_("Reminder sent")),
    "deadline_overdue": (Category.SYSTEM, N_("Term passed without the step")),
    "milestone_passed": (Category.SYSTEM, N_("Milestone passed")),
    "notification_failed": (Category.SYSTEM, N_("Notice could not be delivered")),
    "wachttijd_ended_without_wia_aanvraag": (Category.SYSTEM, N_("Waiting time ended without a WIA-aanvraag")),
}


def _fallback(key: str) -> str:
    return key.replace("_", " ")


def stage_label(stage: str | None) -> str:
    """The msgid of a stage's name."""
    return STAGES.get(str(stage), _fallback(str(stage))) if stage else "–"


def role_label(role: str) -> str:
    """The msgid of a role's name."""
    return ROLES.get(str(role), _fallback(str(role)))


def entry_label(kind: str) -> str:
    """The msgid of a dossier entry kind's name."""
    found = ENTRY_KINDS.get(kind)
    return found[1] if found else _fallback(kind)


def entry_category(kind: str) -> Category:
    """The group a dossier entry kind belongs to (unknown kinds: the case's own)."""
    found = ENTRY_KINDS.get(kind)
    return found[0] if found else Category.CASE


def step_short(key: str) -> str | None:
    """The timeline's short msgid for a statutory step, if it has one."""
    return STEP_SHORT.get(key)
