"""Translations: what a person reads is Dutch by default and English on request, from gettext catalogues.

Source strings (msgids) are English and marked with `_` (or `N_` where the text is kept and translated later);
`service/locale/<lang>/LC_MESSAGES/spoorwerk.po` holds their translations, read with Babel at first use (no
compiled .mo files to keep in step). The language of the current request or command lives in a context
variable, set at the edge: the dashboard and the API from the user's choice or `Accept-Language`, the CLI
from `SPOORWERK_LANGUAGE`. `make translations` extracts the strings and updates the catalogues;
tests/service/test_i18n.py fails on a string the Dutch catalogue does not translate.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "spoorwerk"
LANGUAGES = ("nl", "en")  # the first is the default
DEFAULT_LANGUAGE = LANGUAGES[0]
SOURCE_LANGUAGE = "en"  # the msgids' own language: it needs no catalogue
LANGUAGE_COOKIE = "spoorwerk_lang"  # a person's own choice on the dashboard

_language: ContextVar[str] = ContextVar("spoorwerk_language", default=DEFAULT_LANGUAGE)


def catalogue_path(language: str) -> Path:
    """Where the .po catalogue of a language lives."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=None)
def translations(language: str) -> NullTranslations:
    """The translations of one language, read from its .po file once per process."""
    if language == SOURCE_LANGUAGE or not catalogue_path(language).exists():
        return NullTranslations()
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def language() -> str:
    """The language of the current request or command."""
    return _language.get()


def set_language(lang: str) -> None:
    """Use `lang` for the rest of this request or command (an unknown language falls back to the default)."""
    _language.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


@contextlib.contextmanager
def using(lang: str) -> Iterator[None]:
    """Translate into `lang` within the block."""
    token = _language.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


def gettext(message: str, **params: object) -> str:
    """`message` in the current language, with `%(name)s` placeholders filled from `params`."""
    text = translations(language()).ugettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    """The singular or plural form for `n` in the current language; `%(num)s` is `n`."""
    text = translations(language()).ungettext(singular, plural, n)
    return text % {"num": n, **params}


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name
    """Mark a string for the catalogue without translating it now (labels in tables, translated when shown)."""
    return message


def negotiate(accept_language: str | None, preferred: str | None = None) -> str:
    """The language for a request: the user's own choice, else the best of `Accept-Language`, else Dutch."""
    if preferred in LANGUAGES:
        return preferred
    wanted: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _sep, q = part.strip().partition(";q=")
        if not tag:
            continue
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        wanted.append((weight, tag.strip()))
    wanted.sort(key=lambda w: -w[0])
    found = Locale.negotiate([tag.replace("-", "_") for _w, tag in wanted], list(LANGUAGES), sep="_")
    return str(found.language) if found else DEFAULT_LANGUAGE


def format_number(value: float, pattern: str = "0.##") -> str:
    """A number as people write it in the current language: 4,5 in Dutch, 4.5 in English; 4.0 as 4."""
    return format_decimal(value, format=pattern, locale=language())


def format_day(value: date | datetime | None, style: str = "medium") -> str:
    """A date as people write it in the current language ("6 dec. 2026"; "long" gives "6 december 2026")."""
    if value is None:
        return "–"
    try:
        if isinstance(value, datetime):
            return format_datetime(value, format=style, locale=language())
        return format_date(value, format=style, locale=language())
    except UnknownLocaleError:  # pragma: no cover - LANGUAGES are known to Babel
        return value.isoformat()


def warm() -> None:
    """Read every language's catalogue and Babel's calendar data now, not at the first message (a worker at start:
    its first notice otherwise waits some 30 ms for them)."""
    for lang in LANGUAGES:
        translations(lang)
        with using(lang):
            format_day(date(2000, 1, 1))
            format_day(date(2000, 1, 1), "long")
