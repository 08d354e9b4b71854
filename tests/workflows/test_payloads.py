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


def test_a_continued_runs_input_names_its_shipped_rules_and_holidays_and_the_worker_puts_them_back():
    """Continue-as-new by reference (issue 22): the state's JSON leaves out its rules and holidays, the input names
    them, and decoding gives the same state with the worker's own rule objects; rules that differ are refused."""
    import json

    from service.rulebook import RulesChanged, shipped_ref, working_day_holidays

    ruleset = load_rulebook().for_first_sick_day(FIRST)
    opening = CaseOpening(
        case_id="C-5", employer_id="E-1", first_sick_day=FIRST, opened_by=Actor(role="casemanager", id="cm-1")
    )
    state = rules.open_case(
        opening,
        ruleset,
        today=FIRST,
        now=datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
        spoor2_rules=load_spoor2_rules(),
        stagnation_rules=load_stagnation_rules(),
        dossier_rules=load_dossier_rules(),
        holidays=working_day_holidays(ruleset, FIRST),
    )
    assert state.holidays and state.escalation is not None
    ref = shipped_ref(
        state.ruleset,
        spoor2=state.spoor2.rules,
        stagnation=state.escalation.rules,
        dossier=state.documents.rules,
        holidays=state.holidays,
    )
    assert ref is not None and ref.holidays_from == FIRST.year
    sent = pydantic_core.to_json(CaseInput(state=state, rules=ref))
    raw = json.loads(sent)
    assert not {"ruleset", "holidays"} & set(raw["state"])
    assert "rules" not in raw["state"]["escalation"] and "rules" not in raw["state"]["documents"]
    assert len(sent) * 2 < len(pydantic_core.to_json(CaseInput(state=state)))

    back = CaseInput.model_validate_json(sent)
    assert back.state == state and back.state is not None and back.state.ruleset is ruleset
    # Rules that came by value (a case opened by older code) are named too, when they are the shipped ones.
    by_value = CaseInput.model_validate_json(pydantic_core.to_json(CaseInput(state=state)))
    assert by_value.state == state and by_value.state is not None
    assert shipped_ref(
        by_value.state.ruleset,
        spoor2=by_value.state.spoor2.rules,
        stagnation=by_value.state.escalation.rules if by_value.state.escalation else None,
        dossier=by_value.state.documents.rules,
    ) == ref.model_copy(update={"holidays_from": None, "holidays_hash": None})

    # A worker whose rule set (or holidays) are not those the case carried refuses to decode it: the task fails.
    for changed in ({"ruleset_hash": "0" * 32}, {"holidays_hash": "0" * 32}):
        wrong = {**raw, "rules": {**raw["rules"], **changed}}
        with pytest.raises(RulesChanged):
            CaseInput.model_validate_json(json.dumps(wrong))
