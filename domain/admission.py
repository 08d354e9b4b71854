"""How a raw action is taken in at the edge: parsed against a tagged union, its size, text, numbers and dates
admitted, and a refusal that names the failing field."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pydantic_core
from pydantic import BaseModel, TypeAdapter, ValidationError

from domain.errors import ActionRefused
from domain.models import SEALED_NOTE_MAX_CHARS, Role, is_sealed_note


def shown(value: Any, limit: int = 60) -> str:
    """The repr of a caller's value for a refusal, cut short: a refusal must not echo megabytes back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def describe_validation_error(err: ValidationError, kinds: tuple[str, ...]) -> str:
    """'field.path: reason; …' for a payload validated against a union tagged by `kinds`."""
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(
            shown(p, 40) if not isinstance(p, (str, int)) or len(str(p)) > 40 else str(p)
            for p in e["loc"]
            if not (isinstance(p, str) and p in kinds)
        )
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "enum" and loc == "actor.role":
            known = ", ".join(r.value for r in Role if r is not Role.SYSTEEM)
            msg = f"{shown(e['input'])} is not a known role (known: {known})"
        parts.append(f"{loc or 'action'}: {msg}")
    return "; ".join(parts)


def validation_refusal(err: ValidationError, kinds: tuple[str, ...]) -> ActionRefused:
    """The first failing field and its reason as a refusal; the edge says the reason in the reader's language by its
    pydantic type (`reason_type`, with the type's context as `reason_<name>`). Further failures follow in English."""
    errors = err.errors(include_url=False)
    parts = describe_validation_error(err, kinds).split("; ")
    first = errors[0] if errors else {"loc": (), "msg": "not valid", "type": "value_error", "input": None}
    field = parts[0].partition(": ")[0] if parts and parts[0] else "action"
    if first["type"] == "enum" and field == "actor.role":
        refusal = ActionRefused(
            "actor.role: %(value)s is not a known role (known: %(roles)s)",
            value=shown(first["input"]),
            roles=[r for r in Role if r is not Role.SYSTEEM],
        )
    else:
        context = {
            f"reason_{k}": shown(v, 60) if not isinstance(v, (str, int, float)) else v
            for k, v in (first.get("ctx") or {}).items()
        }
        reason = first["msg"].removeprefix("Value error, ")
        if len(parts) > 1:
            refusal = ActionRefused(
                "%(field)s: %(reason)s; %(more)s",
                field=field,
                reason=reason,
                reason_type=first["type"],
                more="; ".join(parts[1:]),
                **context,
            )
        else:
            refusal = ActionRefused(
                "%(field)s: %(reason)s", field=field, reason=reason, reason_type=first["type"], **context
            )
    return refusal


def parse_tagged(
    adapter: TypeAdapter[Any], kinds: tuple[str, ...], raw: Any, what: str = "action", *, strict: bool = False
) -> Any:
    """Validate a raw payload against a union tagged by `kind`; refuses with the failing fields and reasons.

    `strict` (the update validators) takes JSON's own types only: no `true` for a number, no "5" for 5.
    """
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    if isinstance(raw, dict) and raw.get("kind") not in kinds:
        raise (
            ActionRefused("kind: %(value)s is not a known spoor 2 action", value=shown(raw.get("kind")))
            if what == "spoor 2 action"
            else ActionRefused("kind: %(value)s is not a known action", value=shown(raw.get("kind")))
        )
    try:
        if strict:
            return adapter.validate_json(pydantic_core.to_json(raw), strict=True)
        return adapter.validate_python(raw)
    except ValidationError as err:
        raise validation_refusal(err, kinds) from None


# --------------------------------------------------------------------------- admission

# What an action may carry, checked by the update validators only (and by clients before they send):
# a handler must go on accepting what older validators let in, or running cases would not replay.
# A case lives two years in one history of at most 50 MB, and carries its dossier across
# continue-as-new in one payload of at most 2 MB: no action may take a noticeable part of that.
MAX_ACTION_BYTES = 128 * 1024  # compact UTF-8 JSON; the field limits allow ~27,000 characters at most
MAX_TEXT_CHARS = 4000  # the longest text field any action has (grounds, views, zoekprofiel)
MAX_NAME_CHARS = 100  # a field name
MAX_DEPTH = 4  # objects and lists within each other; real actions nest 2 deep
MAX_ITEMS = 100  # entries of one list or object
MAX_NUMBER = 100_000  # no count, week or hour in an action comes near
YEARS_BACK, YEARS_AHEAD = 20, 10  # a date outside this window around today is a typo (or worse)
# The control characters (category Cc, fixed by Unicode: U+0000-U+001F and U+007F-U+009F) but tab and the line ends,
# and the surrogates (Cs, U+D800-U+DFFF) that only an unpaired one leaves in a decoded text: one scan finds the first,
# where asking each character's category cost a millisecond on a long text. tests/domain check it against unicodedata.
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _check_value(value: Any, path: str, depth: int) -> None:
    where = path or "action"
    if isinstance(value, str):
        # A sealed note hides a text of at most NOTE_MAX_CHARS characters (checked before it was sealed).
        limit = SEALED_NOTE_MAX_CHARS if path == "note" and is_sealed_note(value) else MAX_TEXT_CHARS
        if len(value) > limit:
            raise ActionRefused(
                "%(field)s: %(count)s characters, more than the %(limit)s a text may have",
                field=where,
                count=len(value),
                limit=limit,
            )
        found = _NOT_TEXT.search(value)
        if found is not None:
            n, code = found.start(), f"U+{ord(found.group()):04X}"
            if found.group() >= "\ud800":
                raise ActionRefused(
                    "%(field)s: an unpaired surrogate (%(char)s) at position %(position)s is not text",
                    field=where,
                    char=code,
                    position=n,
                )
            raise ActionRefused(
                "%(field)s: the control character %(char)s at position %(position)s has no place in text",
                field=where,
                char=code,
                position=n,
            )
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_NUMBER:
            # Not str(value): Python refuses to print an int of more than 4300 digits.
            what = (
                value
                if value.bit_length() < 40
                else f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
            )
            raise ActionRefused(
                "%(field)s: %(value)s is out of range (at most %(limit)s)", field=where, value=what, limit=MAX_NUMBER
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ActionRefused("%(field)s: %(value)s is not a number an action may hold", field=where, value=value)
        if abs(value) > MAX_NUMBER:
            raise ActionRefused(
                "%(field)s: %(value)s is out of range (at most %(limit)s)", field=where, value=value, limit=MAX_NUMBER
            )
    elif isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise ActionRefused("%(field)s: nested deeper than %(limit)s levels", field=where, limit=MAX_DEPTH)
        if len(value) > MAX_ITEMS:
            raise ActionRefused(
                "%(field)s: %(count)s entries, more than the %(limit)s a list or object may have",
                field=where,
                count=len(value),
                limit=MAX_ITEMS,
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if not isinstance(key, (str, int)):
                raise ActionRefused(
                    "%(field)s: a field name must be text, not %(value)s", field=where, value=shown(key, 30)
                )
            if isinstance(key, str):
                if len(key) > MAX_NAME_CHARS:
                    raise ActionRefused(
                        "%(field)s: a field name of %(count)s characters (at most %(limit)s)",
                        field=where,
                        count=len(key),
                        limit=MAX_NAME_CHARS,
                    )
                if _NOT_IN_NAMES.search(key):
                    raise ActionRefused(
                        "%(field)s: a field name with a control character or unpaired surrogate: %(value)s",
                        field=where,
                        value=shown(key, 30),
                    )
            _check_value(item, f"{path}.{key}" if path else str(key), depth + 1)


def _dates(value: Any, path: str):
    """Every date in a parsed action, with its field path."""
    if isinstance(value, date):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _dates(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            yield from _dates(item, f"{path}.{n}")


def admit(raw: Any, parse: Callable[..., Any], today: date) -> Any:
    """The action parsed strictly, if its size, text, numbers and dates fit; refuses naming the field and the limit.

    Checked before any rule, so nothing oversized reaches a history and a refusal never echoes an
    oversized value: a rejection travels back with the request it rejects, and one that passes
    Temporal's 2 MB blob limit fails the workflow task instead of refusing the update.
    """
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    if not isinstance(raw, dict):
        kind = "null" if raw is None else type(raw).__name__
        raise ActionRefused("action: must be a JSON object of the action's fields, not %(value)s", value=kind)
    _check_value(raw, "", 0)
    size = len(pydantic_core.to_json(raw))
    if size > MAX_ACTION_BYTES:
        raise ActionRefused(
            "action: %(size)s bytes of JSON, more than the %(limit)s an action may have",
            size=size,
            limit=MAX_ACTION_BYTES,
        )
    action = parse(raw, strict=True)
    earliest, latest = _years_from(today, -YEARS_BACK), _years_from(today, YEARS_AHEAD)
    for path, day in _dates(action, ""):
        if day < earliest:
            raise ActionRefused(
                "%(field)s: %(day)s is more than %(years)s years before today (%(today)s)",
                field=path,
                day=day,
                years=YEARS_BACK,
                today=today,
            )
        if day > latest:
            raise ActionRefused(
                "%(field)s: %(day)s is more than %(years)s years after today (%(today)s)",
                field=path,
                day=day,
                years=YEARS_AHEAD,
                today=today,
            )
    return action


def _years_from(day: date, years: int) -> date:
    year = min(max(day.year + years, date.min.year), date.max.year)
    return day.replace(year=year, day=28) if (day.month, day.day) == (2, 29) else day.replace(year=year)
