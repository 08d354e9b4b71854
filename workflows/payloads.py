"""What the case and trajectory workflows take and answer: the payloads that cross their boundary.

They live here, not in the workflow modules, because the sandbox re-imports a workflow's own module
for every new workflow instance (each start, each continue-as-new, each cache miss), and building
pydantic models anew is most of that cost. This module is passed through the sandbox: it is imported
once per worker. Keep it free of I/O and of anything a workflow may not do.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_serializer,
    model_validator,
)

from domain.case import CaseOpening, CaseState, DossierEntry
from domain.documents import DossierRules
from domain.models import Actor, Outcome, Role, Stage
from domain.rules import RuleSet, RulesRef
from domain.spoor2 import Spoor2Outcome, Spoor2Rules, Spoor2Status, TrajectoryEvent, TrajectoryState
from domain.stagnation import Spoor2Watch, StagnationRules
from service import rulebook

# Every case carries the rules it was opened with (about 35 KB of objects), and nearly all cases of
# a worker carry the same few rule sets: each distinct one is kept once per worker and shared. They
# are frozen models, so no case can change another's. Bounded, as a hostile input could vary them.
_SHARED_RULES: dict[tuple[type, str], BaseModel] = {}
_SHARED_RULES_MAX = 256
_RULE_FIELDS = ("ruleset", "spoor2_rules", "stagnation_rules", "dossier_rules")


def _shared(rules: BaseModel | None) -> BaseModel | None:
    if rules is None:
        return None
    key = (type(rules), rules.model_dump_json())
    kept = _SHARED_RULES.get(key)
    if kept is None and len(_SHARED_RULES) < _SHARED_RULES_MAX:
        kept = _SHARED_RULES[key] = rules
    return kept or rules


class TrajectoryScope(BaseModel):
    """What of its case decides who may act on a trajectory (domain.access), as the case tells it: the employer and
    who is assigned. The coach is the trajectory's own. Sent with its start and after every change (signal
    `case_scope`), so the trajectory's validator judges a caller's scope as the case's does."""

    employer_id: str
    assigned: dict[Role, list[str]] = Field(default_factory=dict)


# Where a state keeps its rules: (part, field) (part None: the state itself), in RulesRef's order.
_STATE_RULES = ((None, "ruleset"), ("spoor2", "rules"), ("escalation", "rules"), ("documents", "rules"))


def _state_without_rules(state: dict[str, Any], ref: RulesRef) -> dict[str, Any]:
    """A state's JSON without what `ref` names: its rules, and its holidays when the reference names them."""
    state = dict(state)
    for part, name in _STATE_RULES:
        if part is None:
            state.pop(name, None)
        elif isinstance(state.get(part), dict):
            state[part] = {k: v for k, v in state[part].items() if k != name}
    if ref.holidays_hash is not None:
        state.pop("holidays", None)
    return state


def _state_with_rules(state: dict[str, Any], ref: RulesRef) -> dict[str, Any]:
    """A state's JSON as `_state_without_rules` left it, with the rules `ref` names taken from the code's shipped
    rules (service.rulebook.resolve: their hashes checked; RulesChanged when they differ, which fails the task)."""
    resolved = rulebook.resolve(ref)
    state = dict(state)
    for (part, name), rules in zip(_STATE_RULES, resolved):
        if part is None:
            state[name] = rules
        elif rules is not None:
            state[part] = {**(state.get(part) or {}), name: rules}
    holidays = rulebook.resolve_holidays(ref, resolved[0])
    if holidays is not None:
        state["holidays"] = holidays
    return state


class CaseInput(BaseModel):
    """Starts a case (`opening` + `ruleset`) or continues one (`state`, after continue-as-new).

    A continued run's state carries its rules by reference where they are the shipped ones (release 7 on): its
    JSON leaves them out and `rules` names them, and they are put back, resolved and checked, when the worker decodes
    the input at the run's start. In memory the state always holds its rules (the shipped objects themselves)."""

    opening: CaseOpening | None = None
    rules: RulesRef | None = Field(
        default=None,
        description="The rules by reference (release 7 on): a new case's, in place of ruleset, spoor2_rules, "
        "stagnation_rules and dossier_rules, or (with `state`) those the state carries, left out of its JSON; "
        "resolved from the code's shipped rules, their hashes checked",
    )
    ruleset: RuleSet | None = None
    spoor2_rules: Spoor2Rules | None = None
    stagnation_rules: StagnationRules | None = None
    dossier_rules: DossierRules | None = None
    state: CaseState | None = None
    continue_as_new_after_events: int = 1000
    run_bound_days: int | None = Field(
        default=None,
        description="Days a run lives before it continues as new (tests); None: domain.migration.RUN_BOUND",
    )
    holidays: list[date] = Field(
        default_factory=list, description="The new case's public holidays (RuleSet.holiday_calendar)"
    )
    reopen_with: dict[str, Any] | None = Field(
        default=None,
        description="With `state` of a case closed as recovered: the relapse that reopens it (domain.case.reopen)",
    )
    trajectory_scope: TrajectoryScope | None = Field(
        default=None,
        description="The scope the previous run last told its trajectory, so a continued run tells only a change",
    )
    release: int | None = Field(
        default=None,
        description="The release of the code that started this run (workflows.patches.RELEASE); None: older code, "
        "whose runs call patched() (workflows.common.PatchGate)",
    )

    @model_validator(mode="before")
    @classmethod
    def _resolve_state_rules(cls, data: Any) -> Any:
        # A continued run's state by reference (its JSON has no rule set): its rules resolved before it is validated.
        if isinstance(data, dict) and data.get("rules") is not None:
            state = data.get("state")
            if isinstance(state, dict) and "ruleset" not in state:
                ref = data["rules"] if isinstance(data["rules"], RulesRef) else RulesRef.model_validate(data["rules"])
                data = {**data, "state": _state_with_rules(state, ref)}
        return data

    @field_serializer("state", mode="wrap")
    def _state_by_reference(self, state: CaseState | None, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(state)
        if self.rules is None or not isinstance(dumped, dict):
            return dumped
        return _state_without_rules(dumped, self.rules)

    @model_validator(mode="after")
    def _share_rules(self) -> CaseInput:
        if self.rules is not None:
            return self  # resolved from the code's shipped rules: one object per worker already
        state = self.state
        # The state keeps its rules in its parts: the spoor 2 link, the escalation watch, the documents.
        parts = (state, state.spoor2, state.escalation, state.documents) if state is not None else ()
        for holder in (self, *parts):
            if holder is not None:
                for name in (*_RULE_FIELDS, "rules"):
                    if name in type(holder).model_fields:
                        object.__setattr__(holder, name, _shared(getattr(holder, name)))
        return self


class ActionResult(BaseModel):
    """The answer to an action: its dossier entry.

    A retried action id is never applied twice: within one run Temporal answers the retry with the
    original answer; after continue-as-new the case answers it with the recorded entry and `applied` False.
    """

    action_id: str
    applied: bool
    stage: Stage
    entry: DossierEntry
    bedrijfsarts_ids: list[str] | None = Field(
        default=None,
        description="The bedrijfsarts assigned as the action found the case: what the edge redacts the entry by "
        "(operations.api.redact_dossier), so that it needs no query of its own; None from workers before it",
    )


class CallerScope(BaseModel):
    """Who an action's caller is beyond its actor (role and id, in the action): the employer it acts for, or the
    employers it works for. Sent beside the action, it has the case's validator refuse an action on a case outside
    the caller's scope (domain.access) as if there were no such case; without it (a trusted caller: Python,
    `spoorwerk --direct`) only the case's own rules apply. Recorded with the update: every field has a default."""

    employer_id: str | None = None
    employer_ids: list[str] | None = None


class CaseResult(BaseModel):
    case_id: str
    outcome: Outcome | None
    closed_on: date | None


class TrajectoryInput(BaseModel):
    """Starts a trajectory, or continues one (`state`) after continue-as-new.

    Its case's rules by reference where they are the shipped ones (`rules_ref`, release 7 on), as a continued case
    carries them: the JSON leaves out the spoor 2 rules and the watch (the stagnation rules' spoor 2 part), of the
    input and of its state, and they are put back, resolved and checked, when the worker decodes the input."""

    case_id: str
    parent_workflow_id: str
    started_on: date
    started_by: Actor
    rules: Spoor2Rules
    watch: tuple[Spoor2Watch, ...] | None = None
    rules_ref: RulesRef | None = Field(
        default=None,
        description="The case's rules by reference (release 7 on): `rules` and `watch` (and the state's) are "
        "left out of the JSON and resolved from the code's shipped rules, their hashes checked",
    )
    state: TrajectoryState | None = None
    reported_to_case: int = Field(default=0, description="Record entries already sent to the case")
    continue_as_new_after_events: int = 1000
    run_bound_days: int | None = Field(default=None, description="As CaseInput.run_bound_days")
    scope: TrajectoryScope | None = Field(
        default=None,
        description="The case's scope as last told (None: started before the case told it, until it does)",
    )
    release: int | None = Field(default=None, description="As CaseInput.release")

    @model_validator(mode="before")
    @classmethod
    def _resolve_rules(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("rules_ref") is None or "rules" in data:
            return data
        given = data["rules_ref"]
        ref = given if isinstance(given, RulesRef) else RulesRef.model_validate(given)
        _, spoor2, stagnation, _ = rulebook.resolve(ref)  # RulesChanged when they differ: fails the task
        found = {"rules": spoor2, **({"watch": stagnation.spoor2} if stagnation is not None else {})}
        data = {**found, **data}
        if isinstance(data.get("state"), dict):
            data["state"] = {**found, **data["state"]}
        return data

    @model_serializer(mode="wrap")
    def _by_reference(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        ref = self.rules_ref
        if ref is None or not isinstance(dumped, dict):
            return dumped
        # What the reference gives back: the spoor 2 rules, and the watch where the case has the stagnation rules.
        left_out = {"rules"} | ({"watch"} if ref.stagnation_hash is not None else set())
        state = dumped.get("state")
        if isinstance(state, dict) and self.state is not None:
            same = {"rules": self.state.rules == self.rules, "watch": self.state.watch == self.watch}
            dumped["state"] = {k: v for k, v in state.items() if not (k in left_out and same[k])}
        return {k: v for k, v in dumped.items() if k not in left_out}


class TrajectoryActionResult(BaseModel):
    action_id: str
    applied: bool
    status: Spoor2Status
    entry: TrajectoryEvent
    bedrijfsarts_ids: list[str] | None = Field(
        default=None,
        description="As ActionResult.bedrijfsarts_ids, from the scope the case told the trajectory; None while the "
        "trajectory does not know it (or from workers before it)",
    )


class TrajectoryResult(BaseModel):
    outcome: Spoor2Outcome | None
    ended_on: date | None
