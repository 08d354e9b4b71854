"""The typed search attributes operations filter on, and a case's values of them. None of them holds personal data."""

from __future__ import annotations

from datetime import date
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from domain import access
from domain.case import CaseState, due_and_overdue
from domain.nl_time import start_of_day

CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
FIRST_SICK_DAY = SearchAttributeKey.for_datetime("FirstSickDay")
EMPLOYER_ID = SearchAttributeKey.for_keyword("EmployerId")
OVERDUE = SearchAttributeKey.for_bool("Overdue")
# The phase (1-4) of the running spoor 2 trajectory; unset when none runs. Cases of version 2 on.
SPOOR2_PHASE = SearchAttributeKey.for_int("Spoor2Phase")

# How far a stalled case has escalated: 0 (not stalled) to 3 (measures asked). Cases of version 3 on.
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")

# The opaque id of the coach of the running spoor 2 trajectory; unset when none runs. Version 4 on.
COACH_ID = SearchAttributeKey.for_keyword("CoachId")

# Who is assigned to the case, as `role:opaque-id`, and `role:-` where the role's pool sees it
# (domain.access.attribute_values). Cases of revision 2 on (patch `assignments`).
ASSIGNED = SearchAttributeKey.for_keyword_list("Assigned")

# The key of the statutory step whose due day is NextDeadline (e.g. `probleemanalyse`, `evaluatie`): the work list
# says which step is due without a query per case. Cases of revision 3 on (patch `worklist-attributes`).
NEXT_STEP = SearchAttributeKey.for_keyword("NextStep")

# Keyed hashes (HMAC-SHA256 with the installation's SPOORWERK_SEARCH_KEY, hex) of the employee's normalised surname
# and personnel number, computed at the operations edge (operations.people): an exact search finds the case while
# visibility holds no name or number. Cases of revision 3 on (patch `worklist-attributes`).
PERSON_KEYS = SearchAttributeKey.for_keyword_list("PersonKeys")

# The attributes each case version keeps up to date (older cases must replay as recorded).
VERSION_1 = (CASE_STAGE, NEXT_DEADLINE, FIRST_SICK_DAY, EMPLOYER_ID, OVERDUE)
VERSION_2 = (*VERSION_1, SPOOR2_PHASE)
VERSION_3 = (*VERSION_2, ESCALATION_LEVEL)
VERSION_4 = (*VERSION_3, COACH_ID)
# Revisions add attributes at the start of a run (domain.case.ASSIGNMENTS_REVISION, WORKLIST_REVISION).
REVISION_2 = (ASSIGNED,)
REVISION_3 = (*REVISION_2, NEXT_STEP, PERSON_KEYS)
ALL = (*VERSION_4, *REVISION_3)


def values(state: CaseState, today: date) -> dict[str, Any]:
    """Each attribute's value for the case as of `today`, by name (None: unset)."""
    upcoming, overdue = due_and_overdue(state, today)
    due = upcoming.due if upcoming is not None else None
    coach = state.spoor2.coach_id if state.spoor2_running else None
    return {
        CASE_STAGE.name: state.stage.value,
        EMPLOYER_ID.name: state.employer_id,
        FIRST_SICK_DAY.name: start_of_day(state.first_sick_day),
        NEXT_DEADLINE.name: start_of_day(due) if due else None,
        OVERDUE.name: bool(overdue),
        SPOOR2_PHASE.name: state.spoor2.phase if state.spoor2_running else None,
        ESCALATION_LEVEL.name: state.escalation.watch.level if state.escalation is not None else None,
        COACH_ID.name: coach,
        ASSIGNED.name: access.attribute_values(
            state.people.assigned, trajectory_coach=coach, spoor2_running=state.spoor2_running
        ),
        NEXT_STEP.name: upcoming.key if upcoming is not None and due else None,
        PERSON_KEYS.name: list(state.people.person_keys) or None,
    }


def typed(by_name: dict[str, Any]) -> TypedSearchAttributes:
    """The attributes of `values` that are set, as a workflow starts with them."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(key, by_name[key.name]) for key in ALL if by_name.get(key.name) is not None
    ]
    return TypedSearchAttributes(pairs)


def named(attributes: TypedSearchAttributes) -> dict[str, Any]:
    """Each of ALL by name as `attributes` hold it (None: not there), in the form `values` gives."""
    found: dict[str, Any] = {}
    for key in ALL:
        value = attributes.get(key)
        found[key.name] = list(value) if isinstance(value, (list, tuple)) else value
    return found


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags that register them on `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        kind = {
            "KEYWORD": "Keyword",
            "DATETIME": "Datetime",
            "BOOL": "Bool",
            "INT": "Int",
            "KEYWORD_LIST": "KeywordList",
        }[key.indexed_value_type.name]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags
