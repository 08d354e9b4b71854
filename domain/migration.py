"""A case's state moved forward to what the current code expects, at the start of every run.

Every run of a case (and of its spoor 2 trajectory) continues as new at its first wake `RUN_BOUND` after it
started, and the new run starts from the state the old one carried. `migrate` lifts that state to the current
version and revision, so the code keeps no branch for an older shape than the support floor, and a patch is
needed only until `RUN_BOUND` has passed after the release that brought it (docs/versioning.md).

The legal rule set is not re-resolved here: a case keeps the rule set of its first sick day for life.
"""

from __future__ import annotations

from datetime import date, timedelta

from domain import case as rules
from domain.case import CaseState

# 28 days: a case wakes at least weekly for most of its life (terms, reminders, the stagnation watch), so a run
# of four weeks holds a few hundred history events, well under the history-length cap that stays as a second
# bound; and a release's patches can be deleted four weeks after it is rolled out, which keeps at most one or
# two releases' patches in the code at a time. Shorter costs a continue-as-new (and a trajectory resync) more
# often for nothing a person notices; longer keeps old paths in the code for longer.
RUN_BOUND_DAYS = 28
RUN_BOUND = timedelta(days=RUN_BOUND_DAYS)

# The oldest state this code takes: cases opened before version 5 are not supported (Spoorwerk is
# pre-release, and every installation ran release 5, revision 3, commit 4eaf628, when this floor was set).
SUPPORTED_VERSION = 5


class UnsupportedState(ValueError):
    """A state older than the support floor: the code that could move it on no longer exists."""


def migrate(state: CaseState, today: date) -> CaseState:
    """`state` at the current version and revision (changed in place, and returned).

    A step per version or revision that needs one goes here, oldest first; a release that raises
    `CURRENT_VERSION` or `CURRENT_REVISION` without a step needs no state change.
    """
    if state.version < SUPPORTED_VERSION:
        raise UnsupportedState(
            f"case {state.case_id} is at version {state.version}; this code supports version "
            f"{SUPPORTED_VERSION} and later (docs/versioning.md, the support floor)"
        )
    rules.upgrade(state, today, rules.CURRENT_REVISION)
    state.version = rules.CURRENT_VERSION
    return state
