"""The rules a trajectory keeps from its start, as data (domain/spoor2.toml)."""

from __future__ import annotations

import tomllib

from pydantic import BaseModel, ConfigDict, Field

from domain.models import (
    Role,
)


class CadenceSegment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int | None = Field(default=None, ge=1)
    every_days: int = Field(ge=1)


class PhaseRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int = Field(ge=1)
    label: str
    length_weeks: int = Field(ge=1)
    cadence: tuple[CadenceSegment, ...]

    def expected_conversations(self, active_days: int) -> int:
        """Conversations the cadence expects after `active_days` days of the phase."""
        limit = min(active_days, 7 * self.length_weeks)
        t, n = 0, 0
        for i, seg in enumerate(self.cadence):
            last = i == len(self.cadence) - 1
            k = 0
            while (seg.count is None and last) or (seg.count is not None and k < seg.count):
                t += seg.every_days
                if t > limit:
                    return n
                n, k = n + 1, k + 1
        return n

    def gap_after(self, held: int) -> int:
        """Days the cadence allows before the next conversation, after `held` in this phase."""
        for seg in self.cadence:
            if seg.count is None or held < seg.count:
                return seg.every_days
            held -= seg.count
        return self.cadence[-1].every_days


class DocumentRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str
    needs_hours: bool = False
    roles: tuple[Role, ...]


class Spoor2Rules(BaseModel):
    """The rules a trajectory keeps from its start (domain/spoor2.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intake_within_days: int = Field(ge=1)
    widen_search_after_weeks: int = Field(ge=1)
    document: tuple[DocumentRule, ...]
    phase: tuple[PhaseRule, ...]

    def phase_rule(self, number: int) -> PhaseRule:
        for p in self.phase:
            if p.number == number:
                return p
        raise KeyError(number)

    @property
    def last_phase(self) -> int:
        return max(p.number for p in self.phase)

    def document_rule(self, key: str) -> DocumentRule | None:
        return next((d for d in self.document if d.key == key), None)


def parse_spoor2_rules(text: str) -> Spoor2Rules:
    """Parse domain/spoor2.toml."""
    return Spoor2Rules.model_validate(tomllib.loads(text))
