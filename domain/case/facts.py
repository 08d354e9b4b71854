"""What the dossier observed and what the records now say: overdue observations, superseded once disproved."""

from __future__ import annotations

from datetime import date, timedelta

from domain import observations as obs
from domain.case.deadlines import DeadlineView, deadlines
from domain.case.state import CURRENT_REVISION, EVALUATIE, CaseState
from domain.models import DossierEntry


def backfilling(state: CaseState, view: DeadlineView, today: date) -> bool:
    """A term that had passed before the case was opened, in the days the bureau has to enter the case's past
    (`RuleSet.backfill_days`): not yet observed as overdue, notified or escalated. A step the
    opening declared (`prior_steps`, `evaluations_held`) is known and is observed at once."""
    if state.opened_on is None or view.due is None:
        return False
    if not (view.due < state.opened_on and today < state.opened_on + timedelta(days=state.ruleset.backfill_days)):
        return False
    return view.key not in _declared_at_opening(state)


def _declared_at_opening(state: CaseState) -> set[str]:
    # The opening's entries come first: case_opened, then one prior_step per step it declared.
    declared = {
        str(e.details.get("key")) for e in state.dossier[: 1 + len(state.ruleset.deadlines)] if e.kind == "prior_step"
    }
    if state.evaluations and any(e.action_id is None for e in state.evaluations):
        declared.add(EVALUATIE)
    return declared


def reconcile(state: CaseState, today: date, cause: DossierEntry) -> list[DossierEntry]:
    """Mark the overdue observations that the records now disprove as superseded by `cause`, the record that
    just arrived. The marks are released, so a term that passes again (a moved date) is observed again.
    """
    if not obs.current(state.dossier):
        return []  # nothing observed that a record could disprove: no deadlines to compute on this path
    views = {v.mark: v for v in deadlines(state, today)}
    gone = obs.stale(state.dossier, views)
    for entry in gone:
        mark = obs.mark_of(entry)
        entry.superseded_by = cause.seq
        if mark in state.overdue_marked:
            state.overdue_marked.remove(mark)
    return gone


def upgrade(state: CaseState, today: date, revision: int = CURRENT_REVISION) -> None:
    """Move a case to `revision` (at the start of a run). Every supported case is at the current revision's
    rules already (docs/versioning.md), so only the number moves."""
    state.revision = max(state.revision, revision)


def observations(state: CaseState, today: date) -> dict[int, obs.Observation]:
    """Every overdue observation of the dossier as it stands now, by seq: the one answer every view shows."""
    return obs.status(state.dossier, {v.mark: v for v in deadlines(state, today)})


class DossierLine(DossierEntry):
    """A dossier entry as every view shows it: an overdue observation says how it stands now."""

    observation: obs.Observation | None = None


def dossier_lines(state: CaseState, today: date) -> list[DossierLine]:
    """The dossier in recorded order, each overdue observation with its standing (open, late, superseded)."""
    seen = observations(state, today)
    return [DossierLine.model_construct(**dict(e), observation=seen.get(e.seq)) for e in state.dossier]
