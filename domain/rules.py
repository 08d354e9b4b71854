"""The statutory rules as data: rule sets with their deadlines, chosen by first sick day."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from domain.errors import ActionRefused

DeadlineKey = str


class DeadlineRule(BaseModel):
    """One statutory step and when it is due; see the header of rulebook.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: DeadlineKey
    label: str
    week: int = Field(ge=1, le=260)
    anchor: Literal["week_end", "day_after_week"] = "week_end"
    working_day: bool = False
    after: DeadlineKey | None = None
    after_weeks: int | None = Field(default=None, ge=1)
    every_weeks: int | None = Field(default=None, ge=1)
    until_week: int | None = Field(default=None, ge=1)
    tracked: bool = True
    deviable: bool = False
    from_end: bool = False
    actor: str
    source: str

    @property
    def recurring(self) -> bool:
        return self.every_weeks is not None

    @model_validator(mode="after")
    def _consistent(self) -> DeadlineRule:
        if self.after_weeks is not None and self.after is None:
            raise ValueError(f"{self.key}: after_weeks needs `after`")
        if self.recurring and (self.after is None or self.until_week is None):
            raise ValueError(f"{self.key}: a recurring deadline needs `after` and `until_week`")
        return self


class PauseRule(BaseModel):
    """Leave during which the illness does not count: the clock pauses, the case goes on (see rulebook.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    source: str


class RuleSet(BaseModel):
    """The rules that apply to a case, fixed by its first sick day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    valid_from: date
    description: str
    four_week_rule_days: int = Field(ge=1)
    max_loonsanctie_weeks: int = Field(ge=1)
    loonsanctie_ends_weeks_after_repair: int = Field(ge=0)
    max_voluntary_extension_weeks: int = Field(ge=1)
    views_required_from: date
    backfill_days: int = Field(default=0, ge=0, le=60)
    holiday_calendar: str | None = Field(
        default=None, description="Country code of the public holidays a working-day term skips"
    )
    pauses: tuple[PauseRule, ...] = ()
    deadlines: tuple[DeadlineRule, ...]

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        keys = [d.key for d in self.deadlines]
        if len(set(keys)) != len(keys):
            raise ValueError(f"rule set {self.id}: duplicate deadline keys")
        for required in ("einde_wachttijd", "probleemanalyse", "plan_van_aanpak"):
            if required not in keys:
                raise ValueError(f"rule set {self.id}: missing deadline {required!r}")
        for d in self.deadlines:
            if d.after is not None and d.after not in keys:
                raise ValueError(f"rule set {self.id}: {d.key} is after unknown step {d.after!r}")
        return self

    def pause(self, key: str) -> PauseRule | None:
        return next((p for p in self.pauses if p.key == key), None)

    def deadline(self, key: DeadlineKey) -> DeadlineRule:
        for d in self.deadlines:
            if d.key == key:
                return d
        raise KeyError(key)

    @property
    def keys(self) -> tuple[DeadlineKey, ...]:
        return tuple(d.key for d in self.deadlines)

    @property
    def waiting_time_weeks(self) -> int:
        return self.deadline("einde_wachttijd").week


class Rulebook(BaseModel):
    """All rule sets, each valid for cases whose first sick day is on or after its valid_from."""

    model_config = ConfigDict(frozen=True)

    rulesets: tuple[RuleSet, ...]

    def for_first_sick_day(self, first_sick_day: date) -> RuleSet:
        """The rule set in force on `first_sick_day`."""
        candidates = [r for r in self.rulesets if r.valid_from <= first_sick_day]
        if not candidates:
            earliest = min(r.valid_from for r in self.rulesets)
            raise ActionRefused(
                "first_sick_day: %(on)s lies before the earliest rule set (%(earliest)s)",
                on=first_sick_day,
                earliest=earliest,
            )
        return max(candidates, key=lambda r: r.valid_from)

    def by_id(self, ruleset_id: str) -> RuleSet:
        for r in self.rulesets:
            if r.id == ruleset_id:
                return r
        raise KeyError(ruleset_id)


def content_hash(rules: BaseModel) -> str:
    """The hash of a set of rules' content: the same rules give the same hash in any process."""
    return hashlib.sha256(rules.model_dump_json().encode()).hexdigest()[:32]


def holidays_hash(days: list[date]) -> str:
    """The hash of a case's public holidays, as `content_hash` is of its rules."""
    return hashlib.sha256(",".join(d.isoformat() for d in days).encode()).hexdigest()[:32]


class RulesRef(BaseModel):
    """The rules a new case opens with, or a continued run's state carries, by reference: the rule set's id, and the
    content hash of it and of each of the other rules (spoor 2, the stagnation watch, the dossier; None: the case has
    none). The worker takes them from the rules shipped with its code; the hashes prove that those are the rules the
    case was opened with. A continued run's public holidays too, where they are the rule set's calendar's for the
    case's years (`holidays_from`: the first of them; None: they go by value)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ruleset_id: str
    ruleset_hash: str
    spoor2_hash: str | None = None
    stagnation_hash: str | None = None
    dossier_hash: str | None = None
    holidays_from: int | None = None
    holidays_hash: str | None = None

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> Any:
        # What it does not name is left out, not sent as null: it travels in every continued run's input.
        return {k: v for k, v in handler(self).items() if v is not None}


def parse_rulebook(text: str) -> Rulebook:
    """Parse rulebook TOML, resolving `based_on` so each rule set is complete."""
    raw = tomllib.loads(text)
    resolved: dict[str, dict] = {}
    for entry in raw.get("ruleset", []):
        entry = dict(entry)
        base_id = entry.pop("based_on", None)
        own_deadlines = entry.pop("deadline", [])
        if "pause" in entry:
            entry["pauses"] = entry.pop("pause")
        if base_id is not None:
            if base_id not in resolved:
                raise ValueError(f"rule set {entry.get('id')}: based_on unknown {base_id!r}")
            base = resolved[base_id]
            merged = {k: v for k, v in base.items() if k not in ("deadlines",)}
            merged.update(entry)
            by_key = {d["key"]: dict(d) for d in base["deadlines"]}
            for d in own_deadlines:
                by_key[d["key"]] = {**by_key.get(d["key"], {}), **d}
            merged["deadlines"] = list(by_key.values())
        else:
            merged = {**entry, "deadlines": own_deadlines}
        resolved[merged["id"]] = merged
    return Rulebook(rulesets=tuple(RuleSet.model_validate(r) for r in resolved.values()))
