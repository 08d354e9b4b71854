"""The catalogues: every string a person reads is translated into Dutch, and the catalogue holds no stale entries."""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from service import i18n
from service.settings import PROJECT_ROOT

PACKAGES = ("domain", "workflows", "activities", "operations", "service", "documents")


@functools.cache
def _extracted() -> frozenset[str]:
    """The msgids `make translations` would collect, read from the code as it is now."""
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: set[str] = set()

    def ours(dirpath: str) -> bool:
        top = Path(dirpath).relative_to(PROJECT_ROOT).parts[:1]
        return not top or top[0] in PACKAGES

    # As the Makefile's `-k ActionRefused`: a refusal's template is a msgid too (domain/errors.py).
    keywords = {**DEFAULT_KEYWORDS, "ActionRefused": None}
    for _file, _line, message, _comments, _context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=keywords, directory_filter=ours
    ):
        found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


def _catalogue(language: str):
    with i18n.catalogue_path(language).open("rb") as po:
        return read_po(po, locale=language)


def test_every_string_a_person_reads_has_a_dutch_translation() -> None:
    catalogue = _catalogue("nl")
    missing = sorted(
        m for m in _extracted() if m and (m not in catalogue or not catalogue[m].string or catalogue[m].fuzzy)
    )
    assert not missing, (
        "untranslated in service/locale/nl/LC_MESSAGES/spoorwerk.po (run `make translations` "
        "and translate):\n" + "\n".join(missing)
    )


def test_the_catalogue_holds_no_strings_the_code_no_longer_has() -> None:
    stale = sorted(
        m.id for m in _catalogue("nl") if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in _extracted()
    )
    assert not stale, "stale entries in the Dutch catalogue (run `make translations`):\n" + "\n".join(map(str, stale))


def test_placeholders_survive_translation() -> None:
    """A translation that drops or renames a %(name)s placeholder would fail at the moment it is shown."""
    import re

    placeholder = re.compile(r"%\((\w+)\)s")
    for message in _catalogue("nl"):
        if message.id and message.string:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            wanted = set(placeholder.findall(ids[-1]))
            for s in strings:
                assert set(placeholder.findall(s)) <= wanted | {"num"}, (message.id, s)
                assert set(placeholder.findall(ids[0])) - {"num"} <= set(placeholder.findall(s)) | {"num"}, (
                    message.id,
                    s,
                )


def test_dutch_is_the_default_and_english_the_second_language() -> None:
    assert i18n.negotiate(None) == "nl"
    assert i18n.negotiate("de-DE,fr;q=0.8") == "nl"
    assert i18n.negotiate("en-GB,en;q=0.9") == "en"
    assert i18n.negotiate("en-GB", preferred="nl") == "nl"
    assert i18n.negotiate("fr, en;q=0.5, nl;q=0.7") == "nl"
