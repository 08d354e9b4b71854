"""The case's actions as the edge takes them in: the tagged union, who may record each kind, parsing and admission.

Each kind is declared once, by topic, in `domain/case/actions/` (its model, roles, check and effect);
the tables here are read off those declarations (`domain.case.engine.LEDGER`). The trajectory's are in
`domain.spoor2`.
"""

from __future__ import annotations

from domain.admission import (
    MAX_ACTION_BYTES,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_NAME_CHARS,
    MAX_NUMBER,
    MAX_TEXT_CHARS,
    YEARS_AHEAD,
    YEARS_BACK,
    admit,
    describe_validation_error,
    parse_tagged,
    shown,
    validation_refusal,
)
from domain.case.engine import (
    _ADAPTER,
    ACTION_KINDS,
    ACTION_ROLES,
    COMPLETES,
    NOT_ACTIVITY_KINDS,
    REQUIRES,
    Action,
    parse_action,
)
from domain.ledger import ActionBase, action_kind, action_models

__all__ = [
    "_ADAPTER",
    "ACTION_KINDS",
    "ACTION_ROLES",
    "COMPLETES",
    "MAX_ACTION_BYTES",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_NAME_CHARS",
    "MAX_NUMBER",
    "MAX_TEXT_CHARS",
    "NOT_ACTIVITY_KINDS",
    "REQUIRES",
    "YEARS_AHEAD",
    "YEARS_BACK",
    "Action",
    "ActionBase",
    "action_kind",
    "action_models",
    "admit",
    "describe_validation_error",
    "parse_action",
    "parse_tagged",
    "shown",
    "validation_refusal",
]
