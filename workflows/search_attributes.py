"""The typed search attributes operations filter on. None of them holds personal data."""

from temporalio.common import SearchAttributeKey

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
