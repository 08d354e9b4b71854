"""The baseline workflow's input and answers (see `benchmarks.baseline`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel


class BaselineInput(BaseModel):
    case_id: str
    wake_at: datetime | None = None  # the first timer; after it fires the next is `every` later
    every: timedelta = timedelta(days=1)
    until: datetime | None = None  # completes at this instant (the time-skipping runs)


class BaselineAnswer(BaseModel):
    action_id: str
    applied: bool
    count: int


class BaselineSummary(BaseModel):
    case_id: str
    actions: int
    fired: int
    next_wake: datetime | None
