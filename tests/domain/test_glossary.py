"""Every kind of dossier entry and every stage has a label and a category in the one registry."""

from __future__ import annotations

import re
from pathlib import Path

from domain import glossary
from domain.actions import ACTION_KINDS
from domain.models import Outcome, Role, Stage
from domain.spoor2 import SPOOR2_ACTION_KINDS

DOMAIN = Path(glossary.__file__).parent


def _action_kinds() -> set[str]:
    return {*ACTION_KINDS, *SPOOR2_ACTION_KINDS}


def _recorded_kinds() -> set[str]:
    """The kinds the domain records by itself (`kind="…"` in its code)."""
    found: set[str] = set()
    for path in DOMAIN.rglob("*.py"):
        found.update(re.findall(r'kind="([a-z0-9_]+)"', path.read_text()))
    return found


def test_every_entry_kind_has_a_label_and_a_category() -> None:
    kinds = _action_kinds() | _recorded_kinds()
    assert len(kinds) > 60
    missing = sorted(k for k in kinds if k not in glossary.ENTRY_KINDS)
    assert not missing, f"add these to domain/glossary.py ENTRY_KINDS: {missing}"


def test_a_trajectory_entry_in_the_case_dossier_has_its_own_name() -> None:
    # The case's dossier holds the trajectory's entries as "spoor2:<kind>"; a person reads their names, not the key.
    for kind in SPOOR2_ACTION_KINDS:
        assert glossary.entry_label(f"spoor2:{kind}") == glossary.entry_label(kind) != kind.replace("_", " ")
        assert glossary.entry_category(f"spoor2:{kind}") is glossary.entry_category(kind)
    assert glossary.entry_label("spoor2:intake_late") == glossary.entry_label("intake_late")


def test_every_stage_role_and_outcome_has_a_label() -> None:
    assert {s.value for s in Stage} <= set(glossary.STAGES)
    assert {r.value for r in Role} <= set(glossary.ROLES)
    assert {o.value for o in Outcome} <= set(glossary.OUTCOMES)
    assert glossary.entry_label("no_such_kind") == "no such kind"


def test_what_a_stage_expects_is_a_msgid_the_glossary_lists():
    """A notice says what was expected, translated: each `expects` of the stagnation rules is in the catalogue."""
    import tomllib

    rules = tomllib.loads((DOMAIN / "stagnation.toml").read_text())
    expects = {
        w["expects"]
        for table in rules.values()
        if isinstance(table, dict)
        for ws in table.values()
        if isinstance(ws, list)
        for w in ws
        if isinstance(w, dict) and "expects" in w
    }
    expects |= {
        w["expects"]
        for ws in rules.values()
        if isinstance(ws, list)
        for w in ws
        if isinstance(w, dict) and "expects" in w
    }
    assert len(expects) >= 8 and expects <= glossary.EXPECTATIONS
