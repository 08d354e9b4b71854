"""The typed search attributes operations filter on. None of them holds personal data."""

from temporalio.common import SearchAttributeKey

CASE_STAGE = SearchAttributeKey.for_keyword("CaseStage")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
FIRST_SICK_DAY = SearchAttributeKey.for_datetime("FirstSickDay")
EMPLOYER_ID = SearchAttributeKey.for_keyword("EmployerId")
OVERDUE = SearchAttributeKey.for_bool("Overdue")

ALL = (CASE_STAGE, NEXT_DEADLINE, FIRST_SICK_DAY, EMPLOYER_ID, OVERDUE)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags that register them on `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        kind = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}[key.indexed_value_type.name]
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags
