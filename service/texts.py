"""Rendering the domain's translatable messages (domain.messages.Text) in the current language."""

from __future__ import annotations

import re
from datetime import date

from domain.messages import Text
from service import i18n

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def render(message: Text) -> str:
    """The message in the current language (service.i18n): nested messages translated, dates the reader's way."""
    params = {name: _value(value) for name, value in message.params.items()}
    if message.plural is not None:
        return i18n.ngettext(message.msgid, message.plural, message.n or 0, **params)
    return i18n.gettext(message.msgid, **params)


def _value(value: object) -> object:
    if isinstance(value, Text):
        return render(value)
    if isinstance(value, list):
        return "\n".join(render(v) if isinstance(v, Text) else str(v) for v in value)
    if isinstance(value, date):
        return i18n.format_day(value)
    if isinstance(value, str) and _ISO_DAY.match(value):  # a date that travelled as JSON
        try:
            return i18n.format_day(date.fromisoformat(value))
        except ValueError:
            return value
    return "–" if value is None else value
