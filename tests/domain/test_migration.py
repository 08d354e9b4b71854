"""`domain.migration.migrate`: what a case's state becomes when a run of it starts on newer code."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import case as rules
from domain.migration import SUPPORTED_VERSION, UnsupportedState, migrate
from tests.domain.test_case_rules import FIRST, act, new_case


def release_5_state():
    state = new_case()
    act(state, "ziekmelding_arbodienst_sent", FIRST + timedelta(days=1), role="werkgever")
    act(state, "probleemanalyse_recorded", FIRST + timedelta(days=30), role="bedrijfsarts")
    rules.upgrade(state, date(2030, 1, 1), rules.CURRENT_REVISION)
    state.version = 5  # as release 5 (4eaf628) carried it into a continue-as-new
    return state


def test_a_release_5_state_moves_to_the_current_version_with_its_records_and_rule_set_unchanged():
    state = release_5_state()
    before = state.model_dump()
    migrated = migrate(state, date(2030, 1, 1))
    assert (migrated.version, migrated.revision) == (rules.CURRENT_VERSION, rules.CURRENT_REVISION)
    after = migrated.model_dump()
    assert after["dossier"] == before["dossier"] and after["ruleset"] == before["ruleset"]
    assert {k: v for k, v in after.items() if k != "version"} == {k: v for k, v in before.items() if k != "version"}


def test_a_new_case_runs_at_the_current_version_and_revision():
    state = migrate(new_case(), date(2030, 1, 1))
    assert (state.version, state.revision) == (rules.CURRENT_VERSION, rules.CURRENT_REVISION)


def test_a_state_below_the_support_floor_is_refused_naming_the_floor():
    state = release_5_state()
    state.version = SUPPORTED_VERSION - 1
    with pytest.raises(UnsupportedState, match=f"supports version {SUPPORTED_VERSION} and later"):
        migrate(state, date(2030, 1, 1))
