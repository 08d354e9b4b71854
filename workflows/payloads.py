"""What the case and trajectory workflows take and answer: the payloads that cross their boundary.

They live here, not in the workflow modules, because the sandbox re-imports a workflow's own module
for every new workflow instance (each start, each continue-as-new, each cache miss), and building
pydantic models anew is most of that cost. This module is passed through the sandbox: it is imported
once per worker. Keep it free of I/O and of anything a workflow may not do.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, model_validator

from domain.case import CaseOpening, CaseState, DossierEntry
from domain.documents import DossierRules
from domain.models import Actor, Outcome, Role, Stage
from domain.rules import RuleSet, RulesRef
from domain.spoor2 import Spoor2Outcome, Spoor2Rules, Spoor2Status, TrajectoryEvent, TrajectoryState
from domain.stagnation import Spoor2Watch, StagnationRules

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


class CaseInput(BaseModel):
    """Starts a case (`opening` + `ruleset`) or continues one (`state`, after continue-as-new)."""

    opening: CaseOpening | None = None
    rules: RulesRef | None = Field(
        default=None,
        description="The new case's rules by reference (release 7 on), in place of ruleset, spoor2_rules, "
        "stagnation_rules and dossier_rules: resolved from the code's shipped rules, their hashes checked",
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

    @model_validator(mode="after")
    def _share_rules(self) -> CaseInput:
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
    """Starts a trajectory, or continues one (`state`) after continue-as-new."""

    case_id: str
    parent_workflow_id: str
    started_on: date
    started_by: Actor
    rules: Spoor2Rules
    watch: tuple[Spoor2Watch, ...] | None = None
    state: TrajectoryState | None = None
    reported_to_case: int = Field(default=0, description="Record entries already sent to the case")
    continue_as_new_after_events: int = 1000
    run_bound_days: int | None = Field(default=None, description="As CaseInput.run_bound_days")
    scope: TrajectoryScope | None = Field(
        default=None,
        description="The case's scope as last told (None: started before the case told it, until it does)",
    )
    release: int | None = Field(default=None, description="As CaseInput.release")


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
