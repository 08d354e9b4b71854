"""Facts and observations apart: what the case observed of its own terms, and whether that still holds.

The dossier records two sorts of entries. A *fact* is something a person did or reported on a date
(a step done, a deviation with its reason). An *observation* is what the case saw by itself on a
date: "this term had passed and the step was not on record" (`deadline_overdue`). People record most
facts after the fact, so a later record can show that an observation never held: the step was done
on time after all, or its term had been moved. Such an observation is marked superseded with the seq
of the record that showed it, never deleted; one whose step was done late still holds, and shows once
with the days it was late.

Pure functions over the dossier and the current deadline views, so every view of the case (API,
dashboard, CLI, documents, pre-flight) reads the same answer from `status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from domain.models import DeadlineStatus, DossierEntry

OVERDUE = "deadline_overdue"


class _View(Protocol):
    """What an observation is checked against: a statutory step as the case sees it now (domain.case.DeadlineView)."""

    key: str
    occurrence: int | None
    due: date | None
    status: DeadlineStatus
    done_on: date | None

    @property
    def mark(self) -> str: ...


class ObservationState(StrEnum):
    OPEN = "open"  # the term passed and the step is still not on record
    LATE = "late"  # the step was done after all, after the term: the observation holds
    SUPERSEDED = "superseded"  # a later record showed it never held (done in time, term moved or waived)


class Observation(BaseModel):
    """An overdue observation as it stands now."""

    seq: int
    mark: str
    key: str
    occurrence: int | None = None
    due: date | None
    state: ObservationState
    superseded_by: int | None = None
    done_on: date | None = None
    days_late: int | None = None


def mark_of(entry: DossierEntry) -> str:
    """The step (and occurrence) an overdue observation is about, as `DeadlineView.mark`."""
    key, occurrence = entry.details.get("key"), entry.details.get("occurrence")
    return f"{key}#{occurrence}" if occurrence is not None else str(key)


def observed_due(entry: DossierEntry) -> date | None:
    raw = entry.details.get("due")
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def holds(entry: DossierEntry, view: _View | None) -> bool:
    """Whether "on `entry.on` the term (due `details.due`) had passed and the step was not done" is still true."""
    if view is None or view.status not in (DeadlineStatus.OVERDUE, DeadlineStatus.DONE):
        return False  # waived, no longer due, or its term moved into the future
    if view.due is None or view.due != observed_due(entry) or view.due >= entry.on:
        return False  # the term is another one now (moved, or re-planned from a corrected first sick day)
    return view.done_on is None or view.done_on >= entry.on


def current(entries: Iterable[DossierEntry]) -> list[DossierEntry]:
    """The overdue observations not superseded."""
    return [e for e in entries if e.kind == OVERDUE and e.superseded_by is None]


def stale(entries: Iterable[DossierEntry], views: Mapping[str, _View]) -> list[DossierEntry]:
    """Current observations that the records now show never held."""
    return [e for e in current(entries) if not holds(e, views.get(mark_of(e)))]


def notified_before(entries: Iterable[DossierEntry], mark: str, due: date) -> bool:
    """An observation of the same step and term was made (and notified) before, then superseded."""
    return any(
        e.kind == OVERDUE and e.superseded_by is not None and mark_of(e) == mark and observed_due(e) == due
        for e in entries
    )


def status(entries: Iterable[DossierEntry], views: Mapping[str, _View]) -> dict[int, Observation]:
    """Every overdue observation of a dossier, by seq, as it stands against the current views."""
    out: dict[int, Observation] = {}
    for e in entries:
        if e.kind != OVERDUE:
            continue
        view = views.get(mark_of(e))
        common = dict(
            seq=e.seq,
            mark=mark_of(e),
            key=str(e.details.get("key")),
            occurrence=e.details.get("occurrence"),
            due=observed_due(e),
        )
        if e.superseded_by is not None or not holds(e, view):
            # Not yet marked: a case still on a run from before the marking (it marks them when it continues).
            out[e.seq] = Observation(state=ObservationState.SUPERSEDED, superseded_by=e.superseded_by, **common)
        elif view is not None and view.done_on is not None and view.due is not None:
            out[e.seq] = Observation(
                state=ObservationState.LATE, done_on=view.done_on, days_late=(view.done_on - view.due).days, **common
            )
        else:
            out[e.seq] = Observation(state=ObservationState.OPEN, **common)
    return out


def standing(o: Observation) -> str:
    """How an overdue observation stands now, in Dutch: the words the dashboard, CLI and documents all use."""
    if o.state is ObservationState.SUPERSEDED:
        by = f" (regel {o.superseded_by})" if o.superseded_by is not None else ""
        return f"vervallen: een latere vastlegging{by} laat zien dat de termijn toen nog niet verstreken was"
    if o.state is ObservationState.LATE:
        return f"later gedaan op {o.done_on:%d-%m-%Y}, {o.days_late} {'dag' if o.days_late == 1 else 'dagen'} te laat"
    return "nog niet gedaan"
