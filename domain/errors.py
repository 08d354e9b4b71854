"""Errors the domain raises; the workflow turns them into update rejections.

A refusal is an English msgid with named `%(name)s` placeholders plus its values, so the edge (API, CLI) can
say it in the reader's language while logs, histories and `str(exc)` keep the English text. The message always
starts with the field path it is about and a colon ("on: ..."): the dashboard puts it next to that field, in
every language, so translations keep that prefix as it is.

The convention for values (`ActionRefused.params`, all display strings):

- a value whose parameter is named after a glossary table is a *key* of that table, labelled (and, at the
  edge, translated) when the message is shown, so the domain never spells a role or an action by hand:
  `role` / `*_role` (domain.glossary.ROLES), `roles` / `*_roles` (comma-separated role keys), `kind` /
  `*_kind` (ENTRY_KINDS: actions and dossier entries), `step` / `*_step` (STEPS: statutory steps), `stage`
  (STAGES), `outcome` (OUTCOMES);
- `field` is a field path (the prefix): never translated;
- a date is kept as its ISO text ("2026-03-12"); the edge writes it as the reader's language does;
- everything else (numbers, ids, a caller's own values) is shown as it is.

Templates are literal strings at each `raise ActionRefused("...")`, so `make translations` collects them
(Babel's `-k ActionRefused`); never build one with an f-string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from enum import Enum

from domain import glossary

# Parameter names whose values are glossary keys: the name (or its `_suffix`) and the table's labeller.
_LABELLERS: dict[str, Callable[[str], str]] = {
    "role": glossary.role_label,
    "kind": glossary.entry_label,
    "step": glossary.step_label,
    "stage": glossary.stage_label,
    "outcome": lambda key: glossary.OUTCOMES.get(key, key.replace("_", " ")),
}
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def display(value: object) -> str:
    """A parameter's value as the display string a refusal keeps (JSON-safe, language-neutral)."""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return ", ".join(display(v) for v in items)
    return str(value)


def _table(name: str) -> tuple[Callable[[str], str] | None, bool]:
    """The labeller for a parameter named after a glossary table, and whether its value is a list of keys."""
    if name == "field":
        return None, False
    last = name.rsplit("_", 1)[-1]
    if last in _LABELLERS:
        return _LABELLERS[last], False
    if last.endswith("s") and last[:-1] in _LABELLERS:
        return _LABELLERS[last[:-1]], True
    return None, False


def render(
    template: str,
    params: Mapping[str, str],
    translate: Callable[[str], str] = lambda s: s,
    day: Callable[[str], str] = lambda s: s,
) -> str:
    """The message filled in: glossary keys labelled and passed through `translate` (lists item by item),
    dates through `day`; `translate` also takes the template. The defaults give the English text."""
    shown: dict[str, str] = {}
    for name, value in params.items():
        labeller, many = _table(name)
        if labeller is not None:
            keys = [k for k in value.split(", ") if k] if many else [value]
            shown[name] = ", ".join(translate(labeller(k)) for k in keys)
        elif ISO_DAY.match(value):
            shown[name] = day(value)
        else:
            shown[name] = value
    return translate(template) % shown


class ActionRefused(ValueError):
    """An action that does not fit the case; the message names the field or rule and the reason.

    `message` is an English msgid with `%(name)s` placeholders (a literal `%` is `%%`), kept as `.template`;
    `params` fill it, kept as display strings in `.params` (see the module's convention). `str(exc)` is the
    English text.
    """

    def __init__(self, message: str, /, **params: object) -> None:
        self.template = message
        self.params = {name: display(value) for name, value in params.items()}
        try:
            text = render(message, self.params)
        except (KeyError, ValueError, TypeError):  # a message built before it got here (a stray "%"): as it is
            text = message
        super().__init__(text)

    def details(self) -> dict[str, object]:
        """The structured refusal as it travels (an ApplicationError's details): template and params."""
        return {"template": self.template, "params": dict(self.params)}

    def __reduce__(self) -> tuple[object, ...]:
        # Copied or pickled from its template and values, not from the English text (which may hold a "%").
        return _rebuilt, (self.template, dict(self.params))


def _rebuilt(template: str, params: dict[str, str]) -> ActionRefused:
    return ActionRefused(template, **params)


def joined(keys: Iterable[object]) -> str:
    """Keys as one comma-separated parameter value (a `roles`-style list), sorted for a stable message."""
    return ", ".join(sorted(display(k) for k in keys))
