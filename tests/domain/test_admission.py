"""domain.admission: which characters a text or a field name of an action may not hold, decided by one scan.

The end-to-end refusals (through the update validator, the API and the CLI) are in tests/operations/
test_hostile_input.py; here the scan is held to Unicode's own categories for every code point."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from domain.actions import parse_action
from domain.admission import _NOT_IN_NAMES, _NOT_TEXT, admit
from domain.errors import ActionRefused

EVERY_CHARACTER = [chr(c) for c in range(0x110000)]


def test_the_scan_finds_exactly_the_control_characters_but_tab_and_line_ends_and_the_surrogates() -> None:
    refused = {c for c in EVERY_CHARACTER if _NOT_TEXT.match(c)}
    expected = {c for c in EVERY_CHARACTER if unicodedata.category(c) in ("Cc", "Cs")} - set("\t\n\r")
    assert refused == expected


def test_a_field_name_may_hold_no_control_character_or_surrogate_at_all() -> None:
    refused = {c for c in EVERY_CHARACTER if _NOT_IN_NAMES.match(c)}
    assert refused == {c for c in EVERY_CHARACTER if unicodedata.category(c) in ("Cc", "Cs")}


ON = date(2026, 12, 8)
OK = {
    "kind": "bedrijfsarts_oordeel",
    "action_id": "a-0123456789abcdef",
    "actor": {"role": "bedrijfsarts", "id": "ba-1"},
    "on": ON.isoformat(),
}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("x" * 3999 + "\x07", "note: the control character U+0007 at position 3999 has no place in text"),
        ("één\ud83dtwee", "note: an unpaired surrogate (U+D83D) at position 3 is not text"),
        ("a\x85b", "note: the control character U+0085 at position 1"),  # NEL: a C1 control, not a line end here
    ],
)
def test_a_text_with_a_character_that_is_not_text_is_refused_naming_the_field_the_character_and_where(
    text: str, said: str
) -> None:
    with pytest.raises(ActionRefused) as refused:
        admit({**OK, "note": text}, parse_action, ON)
    assert said in str(refused.value)


def test_tabs_line_ends_and_any_script_pass() -> None:
    text = "Regel 1\r\nRegel 2\tmet tab — ‘aanhalingstekens’, ß, 日本語, emoji 🙂"
    assert admit({**OK, "note": text}, parse_action, ON).note == text


def test_a_field_name_with_a_control_character_is_refused() -> None:
    with pytest.raises(ActionRefused) as refused:
        admit({**OK, "x\ty": 1}, parse_action, ON)
    assert "a field name with a control character or unpaired surrogate" in str(refused.value)
