"""The same-commands floor's input, its script and its answers (see `benchmarks.floor`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)


class FloorCommand(BaseModel):
    """One command a case issued in one workflow task, as its history recorded it."""

    kind: Literal["marker", "upsert", "activity", "local_activity", "timer", "cancel_timer"]
    patch_id: str = ""
    deprecated: bool = False
    attributes: dict[str, Any] = {}  # search attribute name -> JSON value (None: unset)
    activity: str = ""
    # The activity's arguments as JSON, the template case's id in them. A local activity's are not in the history:
    # they are found by replaying it (`benchmarks.floor.local_activity_args`).
    args_json: str = ""
    start_to_close_s: float = 0.0
    schedule_to_close_s: float = 0.0
    retry: dict[str, Any] = {}
    seconds: float = 0.0  # a timer's duration


class FloorScript(BaseModel):
    """A case's commands per trigger: `start`, the `act` update per action kind, `timer` (its first wake by its
    own timer: the midnight storm's) and `morning` (its second: the storm's morning round, release 12 on)."""

    template_id: str  # the recorded case's id: each floor workflow puts its own in its place
    phases: dict[str, list[FloorCommand]]
    # The search attributes the case started with (release 10 on: all it has when it opens), as JSON values
    start_attributes: dict[str, Any] = {}


class FloorInput(BaseModel):
    case_id: str
    script: FloorScript
    # The start's timer fires at this instant instead of after its recorded duration (the storm: every floor
    # workflow wakes on the same midnight, as the cases do).
    wake_at: datetime | None = None
    # The timer of its first wake fires at this instant (the storm: the floor workflow's own minute of the morning
    # round, domain.stagnation.morning_minute of its id, as a case's), not after the template's duration.
    morning_at: datetime | None = None


class FloorAnswer(BaseModel):
    action_id: str
    applied: bool
    count: int


def attribute_updates(attributes: dict[str, Any]) -> list[SearchAttributeUpdate]:
    """The recorded upsert as the SDK takes it. Made here, outside the sandbox: a datetime made in it is the
    sandbox's own class, which the SDK's search-attribute encoder does not take."""
    return [key.value_unset() if value is None else key.value_set(value) for key, value in _typed(attributes)]


def start_attributes(attributes: dict[str, Any]) -> TypedSearchAttributes:
    """The search attributes a case started with, to start a floor workflow with the same."""
    return TypedSearchAttributes(
        [SearchAttributePair(key, value) for key, value in _typed(attributes) if value is not None]
    )


def _typed(attributes: dict[str, Any]) -> list[tuple[SearchAttributeKey[Any], Any]]:
    from workflows import search_attributes as sa

    keys: dict[str, SearchAttributeKey[Any]] = {key.name: key for key in sa.ALL}
    typed: list[tuple[SearchAttributeKey[Any], Any]] = []
    for name, value in attributes.items():
        key = keys.get(name)
        if key is None:
            continue
        if value is not None and key.indexed_value_type is SearchAttributeIndexedValueType.DATETIME:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        typed.append((key, value))
    return typed
