"""The one registry of what things are called: stages, roles, outcomes, steps and the kinds of dossier entry.

Each label is an English msgid (marked `N_` so `make translations` collects it); the person reading it gets it in
their language through service.i18n (Dutch by default, from service/locale). The statutory Dutch terms stay Dutch
in both languages. The dashboard, the CLI and the documents read their labels here and nowhere else; a kind that
is missing falls back to its key with spaces, which tests/domain/test_glossary.py refuses for every known kind.
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
    # Messages to UWV (domain.uwv)
    "uwv_message_prepared": (Category.STATUTORY, N_("Message to UWV prepared")),
    "uwv_message_sent": (Category.STATUTORY, N_("Message to UWV sent")),
    "uwv_ziekmelding_accepted": (Category.STATUTORY, N_("UWV accepted the ziekmelding")),
    "uwv_hersteldmelding_accepted": (Category.STATUTORY, N_("UWV accepted the hersteldmelding")),
    "uwv_message_rejected": (Category.STATUTORY, N_("UWV rejected a message")),
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


# The case's dossier holds a copy of each trajectory entry under "spoor2:<kind>": the same thing, the same name.
TRAJECTORY_PREFIX = "spoor2:"


def _entry_kind(kind: str) -> tuple[Category, str] | None:
    return ENTRY_KINDS.get(kind) or ENTRY_KINDS.get(kind.removeprefix(TRAJECTORY_PREFIX))


def entry_label(kind: str) -> str:
    """The msgid of a dossier entry kind's name (a trajectory entry's copy in the case's dossier included)."""
    found = _entry_kind(kind)
    return found[1] if found else _fallback(kind)


def entry_category(kind: str) -> Category:
    """The group a dossier entry kind belongs to (unknown kinds: the case's own)."""
    found = _entry_kind(kind)
    return found[0] if found else Category.CASE


def step_short(key: str) -> str | None:
    """The timeline's short msgid for a statutory step, if it has one."""
    return STEP_SHORT.get(key)


# The fields of the action forms a person fills in (domain.actions, domain.spoor2): field name -> (label, help).
# A key "kind.field" gives one action's field its own words where the shared ones would mislead.
FIELDS: dict[str, tuple[str, str]] = {
    "note": (N_("Note"), N_("Optional; kept in the dossier")),
    "surname": (N_("Surname"), N_("Of the employee, with any prefix (de Vries); found by the search box")),
    "given_names": (N_("Given name or initials"), ""),
    "personnel_number": (N_("Personnel number"), N_("The employee's number at the employer")),
    "bsn": (N_("BSN"), N_("Burgerservicenummer, for the messages to UWV only")),
    "message_id": (N_("Message"), N_("The message's id in the outbox")),
    "message": (N_("Kind of message"), ""),
    "uwv_message_sent.reference": (N_("Reference"), N_("What the channel made of it (a file name)")),
    "uwv_message_rejected.reason": (N_("Reason of UWV"), ""),
    "belastbaarheid_hours_per_day": (
        N_("Belastbaarheid (hours a day)"),
        N_("How many hours a day the werknemer can work"),
    ),
    "casemanager_id": (N_("Casemanager"), N_("The casemanager the plan names (id)")),
    "employer_view": (N_("The werkgever's view"), ""),
    "employee_view": (N_("The werknemer's view"), ""),
    "party": (N_("Conversation with"), ""),
    "own_work_possible": (N_("Own work possible"), N_("Own work, adapted if needed?")),
    "other_work_inside_possible": (N_("Other work inside possible"), N_("Other work inside the organisation?")),
    "conclusion": (N_("Conclusion"), ""),
    "deskundigenoordeel_answered.conclusion": (N_("Conclusion of UWV"), ""),
    "report_reference": (N_("Report reference"), N_("Where the document is kept, not its content")),
    "result": (N_("Result"), ""),
    "hours_per_week": (N_("Hours a week"), N_("Hours a week the werknemer works again")),
    "percentage": (N_("Percentage"), N_("Share of the agreed hours the werknemer works again")),
    "deadline": (N_("Step"), N_("The key of the step whose term changes")),
    "reason": (N_("Reason"), ""),
    "phase_paused.reason": (N_("Reason for the pause"), ""),
    "new_due": (N_("New due date"), ""),
    "occurrence": (N_("Which one"), N_("For a recurring step (evaluatie): which one; empty: the open one")),
    "first_sick_day": (N_("First sick day"), N_("The real first sick day")),
    "leave": (N_("Kind of leave"), N_("As the rulebook names it, e.g. zwangerschapsverlof")),
    "requested_by": (N_("Requested by"), ""),
    "question": (N_("Question"), ""),
    "request_id": (N_("Request"), N_("The action id of the request it answers")),
    "weeks": (N_("Weeks"), ""),
    "employer_agrees": (N_("The werkgever agrees"), ""),
    "employee_agrees": (N_("The werknemer agrees"), ""),
    "opinion": (N_("The werknemer's view"), N_("In the werknemer's words; no medical details")),
    "agrees": (N_("Agrees"), N_("Does the werknemer agree with the werkgever's account?")),
    "late_cause": (
        N_("Late through"),
        N_("Filed after its term: whose doing. The werkgever's extends the wage payment by the delay"),
    ),
    "measure": (N_("Measure"), ""),
    "recipient_role": (N_("Recipient"), ""),
    "addresses": (N_("E-mail addresses"), N_("One a line")),
    "role": (N_("Role"), ""),
    "person_assigned.role": (N_("Role"), N_("casemanager, bedrijfsarts, arbeidsdeskundige or re-integratiecoach")),
    "person_id": (N_("Person"), N_("The person's id, as their sign-in gives it")),
    "replaces": (N_("Replaces"), N_("The person handing the case over (hand-over)")),
    "document": (N_("Document"), ""),
    "audience": (N_("Version for"), N_("werkgever: without medical notes")),
    "period_start": (N_("Period from"), N_("voortgangsrapportage: first day (default a month back)")),
    "period_end": (N_("Period until"), N_("voortgangsrapportage: last day (default the date above)")),
    "reference": (N_("Reference"), N_("Where the document is kept, not its content")),
    "coach_id": (N_("Coach"), N_("The re-integratiecoach (id)")),
    "scope": (N_("Purchase of"), ""),
    "phase": (N_("Phase"), ""),
    "decision": (N_("Decision"), ""),
    "grounds": (N_("Grounds"), N_("The reasoning of the haalbaarheidstoets, per ground")),
    "grounds.belastbaarheid": (N_("Belastbaarheid"), N_("What the employee can carry, as the bedrijfsarts judged it")),
    "grounds.skills": (N_("Skills and experience"), ""),
    "grounds.coping": (N_("Coping"), N_("How the employee deals with the illness and the change")),
    "grounds.circumstances": (N_("Personal circumstances"), ""),
    "grounds.labour_market": (N_("Labour market"), N_("The chances of work elsewhere in the region")),
    "zoekprofiel": (N_("Zoekprofiel"), ""),
    "coach_match": (N_("Coach match"), N_("What the coach should bring (optional)")),
    "coach_match.language": (N_("Language"), ""),
    "coach_match.sector": (N_("Sector"), ""),
    "coach_match.learning_style": (N_("Learning style"), ""),
    "activity": (N_("Activity"), ""),
    "service": (N_("Service"), ""),
    "bedrijfsarts_consent_on": (N_("Consent of the bedrijfsarts on"), ""),
    "outcome": (N_("Outcome"), ""),
}


# The details of dossier entries that are no form field (FIELDS names those): key -> label.
DETAILS: dict[str, str] = {
    "level": N_("Level"),
    "previous": N_("Previous level"),
    "since": N_("Since"),
    "episode": N_("Episode"),
    "order": N_("Order"),
    "key": N_("Step"),
    "due": N_("Due"),
    "done_on": N_("Done on"),
    "lead_days": N_("Days ahead"),
    "ruleset": N_("Rule set"),
    "stage": N_("Stage"),
    "from": N_("From"),
    "to": N_("To"),
    "notification_id": N_("Notice"),
    "channel": N_("Channel"),
    "order_id": N_("Order"),
    "trajectory_seq": N_("Entry in the trajectory"),
}


def field_label(kind: str, name: str) -> tuple[str, str]:
    """The msgids of a form field's label and help text (help "" when there is none)."""
    return FIELDS.get(f"{kind}.{name}") or FIELDS.get(name) or (_fallback(name), "")


def detail_label(kind: str, key: str) -> str:
    """The msgid of a dossier entry's detail: an action's field by its form label, else the details' own name."""
    if f"{kind}.{key}" in FIELDS or key in FIELDS:
        return field_label(kind, key)[0]
    return DETAILS.get(key, _fallback(key))


# --------------------------------------------------------------------------- the documents' and the dossier's words
# Keys are the values of the domain's enums (a StrEnum member finds its label too), so this module imports nothing.

# The documents a case produces (domain.documents.DocumentKind): their titles and their names in a sentence.
DOCUMENT_TITLES: dict[str, str] = {
    "intakeverslag": N_("Intakeverslag of spoor 2"),
    "voortgangsrapportage": N_("Voortgangsrapportage of spoor 2"),
    "no_go_rapport": N_("Haalbaarheidstoets report: no-go"),
    "reintegratieoverzicht": N_("Re-integratieoverzicht for the WIA-aanvraag"),
}
DOCUMENTS: dict[str, str] = {
    "intakeverslag": N_("intakeverslag"),
    "voortgangsrapportage": N_("voortgangsrapportage"),
    "no_go_rapport": N_("no-go report"),
    "reintegratieoverzicht": N_("re-integratieoverzicht"),
}
# Whose version of a document (domain.documents.Audience): the banner on it and the short name in a sentence.
AUDIENCES: dict[str, str] = {
    "werkgever": N_("Employer's version — without medical data"),
    "bedrijfsarts": N_("Bedrijfsarts's version — contains medical data, confidential"),
}
AUDIENCES_SHORT: dict[str, str] = {
    "werkgever": N_("employer's version"),
    "bedrijfsarts": N_("bedrijfsarts's version"),
}

# The AD-onderzoek: its conclusions (domain.models.AdConclusion) and its conversations (the party).
AD_CONCLUSIONS: dict[str, str] = {
    "eigen_werk": N_("own work (adapted where needed)"),
    "ander_werk_intern": N_("other work within the organisation"),
    "spoor2": N_("neither: advice to start spoor 2"),
}
AD_CONVERSATIONS: dict[str, str] = {
    "werkgever": N_("conversation with the werkgever"),
    "werknemer": N_("conversation with the werknemer"),
    "werkplekbezoek": N_("visit to the workplace"),
}

# Spoor 2: where a trajectory stands, how it ended, what was done in it, why a phase paused.
SPOOR2_STATUSES: dict[str, str] = {
    "aanmelding": N_("registration (collecting documents)"),
    "intake": N_("intake to be planned"),
    "voorstel": N_("proposal and the werkgever's approval"),
    "haalbaarheidstoets": N_("haalbaarheidstoets"),
    "fase": N_("phase running"),
    "wacht_op_fase": N_("waiting for the next phase"),
    "gepauzeerd": N_("paused"),
    "afgerond": N_("phases completed; outcome to be recorded"),
    "beeindigd": N_("ended"),
}
SPOOR2_OUTCOMES: dict[str, str] = {
    "nieuw_werk": N_("new work with another employer"),
    "detachering": N_("secondment until the end of the waiting time"),
    "werkritmeplaats": N_("werkritmeplaats"),
    "geen_resultaat": N_("no result; on to the WIA-aanvraag"),
    "no_go": N_("no-go after the haalbaarheidstoets"),
    "case_closed": N_("the case is closed"),
}
ACTIVITIES: dict[str, str] = {
    "conversation": N_("Conversation with the coach"),
    "application": N_("Job application"),
    "interview": N_("Job interview"),
    "trial_placement": N_("Trial placement"),
    "secondment": N_("Secondment"),
    "werkritmeplaats": N_("Werkritmeplaats"),
    "job_offer": N_("Job offer"),
    "internship": N_("Internship"),
    "progress_meeting": N_("Progress meeting of werkgever and werknemer"),
    "progress_report": N_("Written progress report"),
}
PAUSE_REASONS: dict[str, str] = {
    "illness": N_("illness"),
    "rehabilitation": N_("rehabilitation"),
}
# Seed 001: what the haalbaarheidstoets weighs, in its order.
HAALBAARHEID_GROUNDS: dict[str, str] = {
    "belastbaarheid": N_("Current physical and mental belastbaarheid (according to the bedrijfsarts)"),
    "skills": N_("Knowledge, experience and (transferable) skills"),
    "coping": N_("Coping style and hindering traits"),
    "circumstances": N_("Personal circumstances and pace towards work"),
    "labour_market": N_("Labour market potential with regular employers"),
}

# Escalation: why a case escalated (domain.stagnation).
ESCALATION_REASONS: dict[str, str] = {
    "non_cooperation": N_("the werknemer does not cooperate"),
    "reported": N_("stagnation reported"),
    "cadence": N_("no activity within the expected term"),
    "deadline": N_("a statutory step is late"),
}

# The dossier check (domain.dossier_check): what is wrong with a step, what it risks, and UWV's five questions.
GAP_KINDS: dict[str, str] = {
    "missing": N_("missing"),
    "late": N_("late"),
    "views_missing": N_("view missing"),
    "no_recent_oordeel": N_("no recent oordeel"),
    "reason_after_term": N_("reason after the term"),
}
RISKS: dict[str, str] = {
    "loonsanctie": N_("loonsanctie"),
    "boete": N_("fine"),
}
TOETS_STEPS: dict[str, str] = {
    "documenten": N_("1. Is the re-integratieverslag complete?"),
    "resultaat": N_("2. Is there a satisfactory result?"),
    "inspanningen": N_("3. Were the re-integration efforts sufficient?"),
    "gronden": N_("4. Is there a valid reason where they were not?"),
    "herstel": N_("5. Can it still be repaired?"),
}

# The lanes of the documents' timeline.
TIMELINE_LANES: dict[str, str] = {
    "steps": N_("Statutory steps"),
    "spoor1": N_("Spoor 1"),
    "ad": N_("AD-onderzoek"),
    "spoor2": N_("Spoor 2"),
    "escalation": N_("Escalations"),
    "dossier": N_("Dossier"),
}


def kinds_in(category: Category) -> frozenset[str]:
    """The dossier entry kinds of one category (e.g. everything the escalation section of a report shows)."""
    return frozenset(kind for kind, (cat, _label) in ENTRY_KINDS.items() if cat is category)


def label(table: dict[str, str], key: object, default: str | None = None) -> str:
    """The msgid for `key` in one of the tables above; `default` (else the key with spaces) when it has none."""
    found = table.get(str(key.value if hasattr(key, "value") else key))
    if found is not None:
        return found
    return default if default is not None else _fallback(str(key))


# The read audit (service.audit): what was read, and how the read went.
AUDIT_READS: dict[str, str] = {
    "case": N_("case"),
    "deadlines": N_("terms"),
    "dossier": N_("dossier"),
    "state": N_("state"),
    "poortwachtertoets": N_("poortwachtertoets"),
    "spoor2": N_("spoor 2"),
    "document": N_("document"),
    "codec_decode": N_("decrypted payload"),
    "audit": N_("audit"),
    "documents": N_("list of documents"),
    "cases": N_("list of cases"),
    "uwv": N_("messages to UWV"),
}
AUDIT_OUTCOMES: dict[str, str] = {
    "allowed": N_("allowed"),
    "refused": N_("refused"),
    "not_found": N_("not found"),
}

# What a stage or a trajectory status expects next: the `expects` of domain/stagnation.toml, which are msgids
# (tests/domain/test_glossary.py keeps the two in step); a notice translates them where it says what was expected.
EXPECTATIONS: frozenset[str] = frozenset(
    {
        N_("an evaluatie of the plan van aanpak or another recorded step"),
        N_("the AD-onderzoek's conversations or report"),
        N_("the intake documents"),
        N_("the intake with the coach"),
        N_("the proposal and the employer's approval"),
        N_("the go / no-go of the haalbaarheidstoets"),
        N_("the next phase, approved and started"),
        N_("the trajectory's outcome"),
    }
)

# The statutory steps (the deadline keys of domain/rulebook.toml) as a sentence names them, e.g. in a refusal:
# with their article, which differs per language (het plan van aanpak, de probleemanalyse).
STEPS: dict[str, str] = {
    "ziekmelding_arbodienst": N_("the ziekmelding to the arbodienst"),
    "probleemanalyse": N_("the probleemanalyse"),
    "plan_van_aanpak": N_("the plan van aanpak"),
    "evaluatie": N_("the evaluation of the plan van aanpak"),
    "ziekmelding_uwv": N_("the ziekmelding to UWV (42nd week)"),
    "eerstejaarsevaluatie": N_("the eerstejaarsevaluatie"),
    "spoor2_start": N_("the start of spoor 2"),
    "wia_brief_uwv": N_("the WIA letter from UWV"),
    "eindevaluatie": N_("the eindevaluatie"),
    "oordeel_werknemer": N_("the werknemer's view"),
    "reintegratieverslag": N_("the re-integratieverslag"),
    "wia_aanvraag": N_("the WIA-aanvraag"),
    "einde_wachttijd": N_("the end of the waiting time"),
}


def step_label(key: str) -> str:
    """The msgid of a statutory step's name in a sentence, with its article."""
    return STEPS.get(str(key), _fallback(str(key)))


# The messages to UWV (domain.uwv) and where each stands.
UWV_MESSAGES: dict[str, str] = {
    "ziekmelding": N_("Ziekmelding (42nd week)"),
    "hersteldmelding": N_("Hersteldmelding"),
}
UWV_STATUSES: dict[str, str] = {
    "prepared": N_("prepared"),
    "sent": N_("sent"),
    "accepted": N_("accepted"),
    "rejected": N_("rejected"),
}


# The choices of the forms' selects by value: the labels of the tables above (one label per thing), and the few
# values no table names. A value means the same across the actions' fields (an AD party "werkgever" is the role).
CHOICES: dict[str, str] = {
    **UWV_MESSAGES,
    **ACTIVITIES,
    **PAUSE_REASONS,
    **DOCUMENT_TITLES,
    **SPOOR2_OUTCOMES,
    **AD_CONCLUSIONS,
    "werkplekbezoek": AD_CONVERSATIONS["werkplekbezoek"],
    "true": N_("yes"),
    "false": N_("no"),
    "True": N_("yes"),
    "go": N_("go"),
    "whole": N_("the whole trajectory"),
    "phase": N_("one phase"),
}


def choice_label(value: str) -> str:
    """The msgid of a choice in a form's select: a role by its name, other values from CHOICES."""
    return CHOICES.get(value) or ROLES.get(value) or _fallback(value)
