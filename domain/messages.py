"""Words for a person that the domain cannot translate itself: a msgid and its parameters, translated at the edge.

The domain holds no translator (it is pure), so what a notification's recipient reads is kept as a `Text`: an
English msgid (marked here with `N_` or `ngettext`, so `make translations` collects it), and the values to fill
in. The sending activity renders it in the configured language (service.texts.render). A parameter may itself be
a `Text` (a label or a sentence to translate) or a list of them (lines); a date is written the reader's way.
"""

from __future__ import annotations

from datetime import date
from typing import Union

from pydantic import BaseModel, Field

from domain.glossary import N_

__all__ = ["N_", "Text", "ngettext", "text"]


class Text(BaseModel):
    """One translatable message: `msgid` (and `plural`, chosen by `n`) with named %(x)s parameters."""

    msgid: str
    plural: str | None = None
    n: int | None = None
    params: dict[str, Param] = Field(default_factory=dict)


# A parameter: plain values as they are, dates for the reader's calendar, Texts translated, lists as lines.
Param = Union[str, int, float, date, None, Text, list[Text]]  # noqa: UP007 - a forward reference in a union
Text.model_rebuild()


def text(msgid: str, **params: object) -> Text:
    """A message to translate later; mark its literal with `N_` where it is written: text(N_("…"), x=…)."""
    return Text(msgid=msgid, params=params)


def ngettext(singular: str, plural: str, n: int, **params: object) -> Text:
    """A message with a singular and a plural form, chosen by `n` (its %(num)s) when it is translated."""
    return Text(msgid=singular, plural=plural, n=n, params=params)
