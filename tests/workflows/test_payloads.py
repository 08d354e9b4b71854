"""What crosses the workflows' boundary: cases opened with the same rules share one copy of them."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pydantic_core
import pytest
from pydantic import ValidationError

from domain import case as rules
from domain.case import CaseOpening
from domain.models import Actor
from operations.cases import load_dossier_rules, load_rulebook, load_spoor2_rules, load_stagnation_rules
from workflows.payloads import CaseInput

FIRST = date(2026, 3, 2)


def _input(case_id: str) -> bytes:
    opening = CaseOpening(
        case_id=case_id, employer_id="E-1", first_sick_day=FIRST, opened_by=Actor(role="casemanager", id="cm-1")
    )
    return pydantic_core.to_json(
        CaseInput(
            opening=opening,
            ruleset=load_rulebook().for_first_sick_day(FIRST),
            spoor2_rules=load_spoor2_rules(),
            stagnation_rules=load_stagnation_rules(),
            dossier_rules=load_dossier_rules(),
        )
    )


def test_cases_with_the_same_rules_share_them_as_the_worker_decodes_them():
    one, two = CaseInput.model_validate_json(_input("C-1")), CaseInput.model_validate_json(_input("C-2"))
    assert one.opening is not None and two.opening is not None and one.ruleset is not None
    assert one.ruleset is two.ruleset and one.spoor2_rules is two.spoor2_rules
    assert one.stagnation_rules is two.stagnation_rules and one.dossier_rules is two.dossier_rules
    assert one.opening.case_id != two.opening.case_id

    # A continued run's state shares them too.
    state = rules.open_case(
        one.opening,
        one.ruleset,
        today=FIRST,
        now=datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
        spoor2_rules=one.spoor2_rules,
        stagnation_rules=one.stagnation_rules,
        dossier_rules=one.dossier_rules,
    )
    continued = CaseInput.model_validate_json(pydantic_core.to_json(CaseInput(state=state)))
    assert continued.state is not None and continued.state.escalation is not None
    assert continued.state.ruleset is one.ruleset and continued.state.escalation.rules is one.stagnation_rules

    # Shared rules cannot be changed through one case.
    with pytest.raises(ValidationError):
        one.ruleset.id = "changed"  # type: ignore[misc]


def test_different_rules_are_not_shared():
    raw = CaseInput.model_validate_json(_input("C-3")).model_dump(mode="json")
    raw["ruleset"]["id"] = raw["ruleset"]["id"] + "-variant"
    variant = CaseInput.model_validate(raw)
    assert variant.ruleset is not None and variant.ruleset.id.endswith("-variant")
    assert variant.ruleset is not CaseInput.model_validate_json(_input("C-4")).ruleset
