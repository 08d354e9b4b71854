"""Refusals and validation errors said in the reader's language (service.i18n), at the edge: API and CLI.

A domain refusal arrives as its English template and parameters (domain.errors.ActionRefused, carried as an update
failure's details); here the template is translated, glossary keys are labelled and translated, dates are written
as the reader's language writes them, and a pydantic reason is said by its error type. The field prefix
("on: ...") is kept as it is: the dashboard puts the message next to that field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from domain.errors import ActionRefused, render
from service import i18n
from service.i18n import N_, _

# Pydantic's error types a person meets most, as msgids with the error's context as placeholders. Any other type
# gets the generic reason. English readers get pydantic's own message, as before.
VALIDATION_REASONS: dict[str, str] = {
    "missing": N_("This field is required"),
    "extra_forbidden": N_("This field is not allowed here"),
    "date_parsing": N_("This is not a valid date (yyyy-mm-dd)"),
    "date_from_datetime_parsing": N_("This is not a valid date (yyyy-mm-dd)"),
    "date_from_datetime_inexact": N_("This is not a valid date (yyyy-mm-dd)"),
    "date_type": N_("This is not a valid date (yyyy-mm-dd)"),
    "datetime_parsing": N_("This is not a valid date and time"),
    "datetime_from_date_parsing": N_("This is not a valid date and time"),
    "datetime_type": N_("This is not a valid date and time"),
    "literal_error": N_("Choose one of: %(expected)s"),
    "enum": N_("Choose one of: %(expected)s"),
    "greater_than": N_("Must be greater than %(gt)s"),
    "greater_than_equal": N_("Must be at least %(ge)s"),
    "less_than": N_("Must be less than %(lt)s"),
    "less_than_equal": N_("Must be at most %(le)s"),
    "string_too_long": N_("At most %(max_length)s characters"),
    "string_too_short": N_("At least %(min_length)s characters"),
    "too_long": N_("At most %(max_length)s items"),
    "too_short": N_("At least %(min_length)s items"),
    "string_type": N_("Must be text"),
    "string_pattern_mismatch": N_("This is not in the expected form"),
    "int_type": N_("Must be a whole number"),
    "int_parsing": N_("Must be a whole number"),
    "int_from_float": N_("Must be a whole number"),
    "float_type": N_("Must be a number"),
    "float_parsing": N_("Must be a number"),
    "bool_type": N_("Must be true or false"),
    "bool_parsing": N_("Must be true or false"),
    "model_type": N_("Must be an object"),
    "model_attributes_type": N_("Must be an object"),
    "dict_type": N_("Must be an object"),
    "list_type": N_("Must be a list"),
    "union_tag_invalid": N_("This kind is not known"),
    "json_invalid": N_("This is not valid JSON"),
}
GENERIC_REASON = N_("This value is not valid (%(reason)s)")


def validation_reason(error_type: str, message: str, context: Mapping[str, Any] | None = None) -> str:
    """A pydantic error's reason in the current language: pydantic's own English, or the translation of its type
    with the type's context filled in (the generic reason, with the English detail, for any other type)."""
    if i18n.language() == i18n.SOURCE_LANGUAGE:
        return message
    if error_type == "value_error":  # a validator of ours (its text marked N_) or of a type pydantic takes in
        inner = message.removeprefix("Value error, ")
        if inner.startswith("value is not a valid email address"):
            return _("not a valid e-mail address (it needs a name, an @ and a domain, as in naam@voorbeeld.nl)")
        if (said := _(inner)) != inner:
            return said
    known = VALIDATION_REASONS.get(error_type)
    values = {k: _number(v) for k, v in (context or {}).items()}
    if "' or '" in values.get("expected", ""):  # pydantic lists the choices in English: "'a', 'b' or 'c'"
        choices, _or, last = values["expected"].rpartition(" or ")
        values["expected"] = _("%(choices)s or %(last)s", choices=choices, last=last)
    if known is not None:
        try:
            return _(known, **values) if "%(" in known else _(known)
        except KeyError:  # a context pydantic names otherwise: say the generic reason rather than fail
            pass
    return _(GENERIC_REASON, reason=message)


def _number(value: Any) -> str:
    """A bound as the reader writes it (0.0 as 0, 0.5 as 0,5 in Dutch); anything else as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return i18n.format_number(value)
    return str(value)


def _day(iso: str) -> str:
    """A date as the reader's language writes it in a sentence: Dutch 12-03-2026, English as ISO."""
    if i18n.language() == i18n.SOURCE_LANGUAGE:
        return iso
    try:
        return i18n.format_day(date.fromisoformat(iso), "short")
    except ValueError:
        return iso


def say(template: str, params: Mapping[str, Any]) -> str:
    """A domain refusal (template and parameters) in the current language; an unusable template gives its English
    text (never a half-filled message)."""
    values = {str(k): str(v) for k, v in params.items()}
    if "reason_type" in values and "reason" in values:  # a pydantic reason inside a refusal (domain.actions)
        context = {
            k.removeprefix("reason_"): v for k, v in values.items() if k.startswith("reason_") and k != "reason_type"
        }
        values["reason"] = validation_reason(values["reason_type"], values["reason"], context)
    try:
        return render(template, values, _, _day)
    except (KeyError, ValueError, TypeError):
        try:
            return render(template, values)
        except (KeyError, ValueError, TypeError):
            return template


def from_details(details: Any) -> tuple[str, dict[str, Any]] | None:
    """(template, params) from an update failure's details, or None: a refusal from an older worker has none."""
    first = details[0] if isinstance(details, (list, tuple)) and details else None
    if isinstance(first, dict) and isinstance(first.get("template"), str) and isinstance(first.get("params"), dict):
        return first["template"], first["params"]
    return None


def said(error: BaseException | str) -> str:
    """Any error a person reads, in the current language: a domain refusal, or an error that carries one (as its
    `said()` or its first argument), is translated; any other text is shown as it is."""
    if isinstance(error, ActionRefused):
        return say(error.template, error.params)
    own = getattr(error, "said", None)
    if callable(own):
        return str(own())
    if isinstance(error, BaseException) and error.args and isinstance(error.args[0], ActionRefused):
        return said(error.args[0])
    return str(error)
