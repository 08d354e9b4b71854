"""The one idempotent check-and-apply over an append-only record, for the case and its trajectory alike.

Every human action carries an id. An id already applied is answered with the entry it made then (to the
same request only: `domain.models.retry_refusal`), so a retried request is applied once. A new action
passes the record's own gates (closed? the role, the date), then its kind's declared check, then its
declared effect, and its entry is appended.

An action kind is declared once (`Declared`): its model, who may record it, its check and effect, and for
the case what statutory step it completes or requires and whether it counts as activity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from domain.admission import parse_tagged
from domain.errors import ActionRefused, joined
from domain.models import (
    NOTE_MAX_CHARS,
    ActionId,
    Actor,
    DossierEntry,
    Role,
    append_entry,
    recorded_details,
    retry_refusal,
    sealed_or_plain_note,
    unsealed_note_refusal,
)


class Recorded(BaseModel):
    """A state that keeps an append-only record (the case's dossier, the trajectory's record) with its action ids."""

    def ledger(self) -> tuple[list[DossierEntry], dict[str, int]]:
        """The record and its index of action id -> seq."""
        raise NotImplementedError

    def log(
        self,
        *,
        now: datetime,
        on: date,
        actor: Actor,
        kind: str,
        summary: str,
        action_id: str | None = None,
        details: dict[str, Any] | None = None,
        register: bool = True,
    ) -> DossierEntry:
        """Append an entry; `register` makes its action id known to the idempotency."""
        entries, applied = self.ledger()
        return append_entry(
            entries,
            applied,
            register=register,
            recorded_at=now,
            on=on,
            actor=actor,
            kind=kind,
            summary=summary,
            action_id=action_id,
            details=details or {},
        )


S = TypeVar("S", bound=Recorded)


class ActionBase(BaseModel):
    """What every action carries: its idempotency key, who records it, the day it happened, a note."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    if TYPE_CHECKING:
        # Every action narrows it to its own Literal; declared for the checker only, so the fields and their
        # order (the payloads) stay as they are.
        kind: str

    action_id: ActionId = Field(description="Idempotency key: a retried request with the same id is applied once")
    actor: Actor
    on: date = Field(description="The date it happened (Amsterdam calendar day)")
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)

    @field_validator("note", mode="wrap")
    @classmethod
    def _sealed_or_plain(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        # A bedrijfsarts's note arrives sealed (domain.models.sealed_or_plain_note), longer than the text it hides.
        return sealed_or_plain_note(value, handler, info.data.get("actor"))


def action_models(union: Any) -> tuple[type[BaseModel], ...]:
    """The models of a tagged union of actions (`Annotated[Union[...], Field(discriminator="kind")]`)."""
    return get_args(get_args(union)[0])


def action_kind(model: type[BaseModel]) -> str:
    """An action model's tag: the one value of its `kind` Literal."""
    return get_args(model.model_fields["kind"].annotation)[0]


@dataclass(frozen=True)
class Declared(Generic[S]):
    """One action kind, declared once. `check` refuses (raises ActionRefused); `effect` changes the state and
    returns the entry's summary (None: the kind's name)."""

    model: type[ActionBase]
    roles: frozenset[Role]
    check: Callable[[S, Any, date], object] | None = None
    effect: Callable[[S, Any, datetime], str | None] | None = None
    completes: str | None = None  # the statutory step it completes (case)
    holds: str | None = None  # the recurring statutory step one occurrence of which it records (case: an evaluatie)
    requires: str | None = None  # the step that must be on record first, and not after it in time (case)
    activity: bool = True  # recording it is re-integration activity: it ends a stall (case)
    # Accepted while the record is halted: the case while the employee has recovered, the trajectory while paused.
    while_halted: bool = False
    # For a kind whose roles depend on what it records (an intake document names its own): refuses with the
    # role's reason, checked with the roles, before any date or state check, so a role that may not is told so.
    role: Callable[[S, Any], None] | None = None

    @property
    def kind(self) -> str:
        return action_kind(self.model)


def _no_gate(state: Any, declared: Declared[Any], action: Any, today: date) -> None:
    return None


@dataclass(frozen=True)
class Ledger(Generic[S]):
    """The check-and-apply of one kind of record over its declarations.

    `closed` refuses every action on a record that takes none any more; `gate` runs the record's own checks after
    the role's; `validator_only` refuses what only the update validator may (so that histories recorded before
    such a rule replay as they were); `before` and `after` run around the effect (the case marks the step done
    before it, and watches after it).
    """

    declarations: tuple[Declared[S], ...]
    what: str  # what its actions are called in a refusal of an unknown kind ("action", "spoor 2 action")
    closed: Callable[[S, str], ActionRefused | None]
    gate: Callable[[S, Declared[S], Any, date], None] = _no_gate
    validator_only: Callable[[S, Any], ActionRefused | None] | None = None
    before: Callable[[S, Declared[S], Any], None] | None = None
    after: Callable[[S, Declared[S], Any, DossierEntry, date], None] | None = None

    def __post_init__(self) -> None:
        kinds = [d.kind for d in self.declarations]
        assert len(kinds) == len(set(kinds)), "an action kind is declared once"

    @cached_property
    def by_kind(self) -> dict[str, Declared[S]]:
        return {d.kind: d for d in self.declarations}

    @cached_property
    def kinds(self) -> tuple[str, ...]:
        return tuple(d.kind for d in self.declarations)

    @cached_property
    def roles(self) -> dict[str, frozenset[Role]]:
        return {d.kind: d.roles for d in self.declarations}

    @cached_property
    def union(self) -> Any:
        """The tagged union of the declared models (`Annotated[Union[...], Field(discriminator="kind")]`)."""
        return Annotated[Union[tuple(d.model for d in self.declarations)], Field(discriminator="kind")]  # noqa: UP007

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.union)

    def parse(self, raw: Any, *, strict: bool = False) -> Any:
        """Validate a raw action payload against the declared kinds; refuses with the failing fields and reasons."""
        return parse_tagged(self.adapter, self.kinds, raw, self.what, strict=strict)

    def prior(self, state: S, action: Any) -> DossierEntry | None:
        """The entry this action id made before (a true retry), or None; refuses another request under that id."""
        entries, applied = state.ledger()
        seq = applied.get(action.action_id)
        if seq is None:
            return None
        entry = entries[seq - 1]
        refusal = retry_refusal(entry, action)
        if refusal is not None:
            raise refusal
        return entry

    def check(self, state: S, action: Any, today: date) -> DossierEntry | None:
        """Refuse, with the reason, an action that does not fit; returns the entry of a retry, else None."""
        prior = self.prior(state, action)
        if prior is not None:
            return prior
        refusal = self.closed(state, action.kind)
        if refusal is not None:
            raise refusal
        declared = self.by_kind[action.kind]
        role_check(declared.roles, action)
        if declared.role is not None:
            declared.role(state, action)
        self.gate(state, declared, action, today)
        if declared.check is not None:
            declared.check(state, action, today)
        return None

    def validate(self, state: S, action: Any, today: date) -> None:
        """The update validator's check: `check`, and for a new action a bedrijfsarts's note arrives sealed, and
        `validator_only`. Never in `apply`: a refused update never enters a history."""
        if self.check(state, action, today) is not None:
            return
        refusal = unsealed_note_refusal(action)
        if refusal is None and self.validator_only is not None:
            refusal = self.validator_only(state, action)
        if refusal is not None:
            raise refusal

    def apply(self, state: S, action: Any, today: date, now: datetime) -> DossierEntry:
        """Check and apply an action; returns its entry. A retried action id is answered, not applied again."""
        prior = self.check(state, action, today)
        if prior is not None:
            return prior
        declared = self.by_kind[action.kind]
        if self.before is not None:
            self.before(state, declared, action)
        summary = declared.effect(state, action, now) if declared.effect is not None else None
        entry = state.log(
            now=now,
            on=action.on,
            actor=action.actor,
            kind=action.kind,
            summary=summary or action.kind.replace("_", " "),
            action_id=action.action_id,
            details=recorded_details(action),  # contact addresses and the employee's name stay out
        )
        if self.after is not None:
            self.after(state, declared, action, entry, today)
        return entry


def not_in_future(on: date, today: date, field: str = "on") -> None:
    """An action's day has happened."""
    if on > today:
        raise ActionRefused("%(field)s: %(on)s is in the future (today is %(today)s)", field=field, on=on, today=today)


def role_check(allowed: frozenset[Role], action: Any) -> None:
    """The actor's role may record this kind."""
    if action.actor.role not in allowed:
        raise ActionRefused(
            "actor.role: the role %(role)s may not record \u201c%(kind)s\u201d (allowed: %(roles)s)",
            role=action.actor.role,
            kind=action.kind,
            roles=joined(allowed),
        )
