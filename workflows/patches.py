"""Every patch id the workflows know, with its status: the one list a release consults (docs/versioning.md).

A *live* patch guards a change that runs begun before it still replay without: its call is `workflow.patched`.
A patch *deprecated* in release N keeps its marker readable (`workflow.deprecate_patch`) for the runs begun
before release N; its call can be deleted in the first release made once release N has run everywhere for
`domain.migration.RUN_BOUND`, since by then every such run has continued as new. `tests/workflows/test_versioning.py`
checks this list against the recorded histories.

Each patch names the release that brought it. A run's input carries the release of the code that started the run
(release 7 on): such a run takes every patch of that release and older without a marker, and calls
`workflow.patched` only for the patches of later releases (`workflows.common.PatchGate`).
"""

from __future__ import annotations

from dataclasses import dataclass

# The release this code is. It goes into the input of every run this code starts (a new case, a reopening, a
# continue-as-new, a trajectory), so the run takes this release's patches and older without markers. Not the case
# version (domain.case.CURRENT_VERSION): that moves only when the state's shape does.
RELEASE = 13


@dataclass(frozen=True)
class Patch:
    id: str
    what: str
    # The release that brought it: a run started by this release or a later one takes it without calling
    # `patched()`. No default: a patch keeps the release it came with when RELEASE moves on.
    release: int
    deprecated_in: int | None = None  # the release that made it a deprecate_patch call; None: live

    @property
    def live(self) -> bool:
        return self.deprecated_in is None


# SickLeaveCase, when a case opens (in this order)
SPOOR2_TRAJECTORY = Patch(
    "spoor2-trajectory", "case version 2: spoor 2 as a child workflow", release=2, deprecated_in=6
)
STAGNATION_WATCH = Patch(
    "stagnation-watch", "case version 3: reminders, escalation, contacts", release=3, deprecated_in=6
)
COACH_ATTRIBUTE = Patch("coach-attribute", "case version 4: the CoachId search attribute", release=4, deprecated_in=6)
DOCUMENTS = Patch(
    "documents", "case version 5: documents rendered by activity, the pre-flight", release=5, deprecated_in=6
)
# SickLeaveCase, when a run starts (in this order)
TRAJECTORY_RESYNC = Patch(
    "trajectory-resync", "a continued run asks its trajectory for what it missed", release=4, deprecated_in=6
)
CATCH_UP = Patch(
    "catch-up", "a late wake records in date order, drops replaced ladder notices", release=4, deprecated_in=6
)
WAKE_TIMER = Patch("wake-timer", "one timer kept to the next wake (case and trajectory)", release=5, deprecated_in=6)
NOTIFY_BATCH = Patch("notify-batch", "what one wake sends goes as one activity", release=5, deprecated_in=6)
DOSSIER_TRUTH = Patch("dossier-truth", "revision 1: facts and observations apart", release=5, deprecated_in=6)
ASSIGNMENTS = Patch("assignments", "revision 2: the Assigned search attribute", release=5, deprecated_in=6)
WORKLIST = Patch("worklist-attributes", "revision 3: NextStep and PersonKeys", release=5, deprecated_in=6)
# Both workflows, when a run starts, then at a wake RUN_BOUND on
RUN_BOUND = Patch(
    "run-bound", "release 6: a run continues as new at its first wake RUN_BOUND after it started", release=6
)
# A run begun on release 5 has no `run-bound` marker: it continues as new at its first wake on release 6 code
# past the bound, and each such check is a marker of its own (`late-run-bound-<n>`), because `patched()` keeps
# its first answer for the rest of a run and the checks replayed from release 5's wakes answer no.
LATE_RUN_BOUND = Patch(
    "late-run-bound", "release 6: a run begun on release 5 continues as new past the bound", release=6
)
# SickLeaveCase, in its loop: a signal to its trajectory when the scope it told it (or none) is not the case's
TRAJECTORY_SCOPE = Patch(
    "trajectory-scope",
    "release 6: the case tells its running trajectory its scope (employer, assigned people)",
    release=6,
)
# SickLeaveCase, in its loop: the case's facts written to the reporting store as its dossier grows (issue 21)
CASE_FACTS = Patch(
    "case-facts", "release 7: the case writes its facts to the reporting store when its dossier grew", release=7
)
# SickLeaveCase, when its loop first sleeps: the morning round at the case's own minute of the window (issue 22)
MORNING_SPREAD = Patch(
    "morning-spread",
    "release 7: a case's morning round (reminders, escalations) at its own minute from 06:00 to 08:00",
    release=7,
)
# SickLeaveCase, when a wake first sends: notices as references; the activity renders their text (issue 22)
NOTICE_REFS = Patch(
    "notice-refs", "release 7: a case sends its notices to notify_batch as references, not as text", release=7
)
# Spoor2Trajectory, when a run first sends a notice of its own: as a reference; the activity renders its text
TRAJECTORY_NOTICE_REFS = Patch(
    "trajectory-notice-refs",
    "release 7: a spoor 2 trajectory sends its own notices to notify as references, not as text",
    release=7,
)
# SickLeaveCase, when it first writes its facts: by local activity, the activity with the long retry when that one
# failed (issue 22: no activity task and no workflow task more per write)
CASE_FACTS_LOCAL = Patch(
    "case-facts-local",
    "release 8: a case writes its facts by local activity, by the activity with the long retry when that fails",
    release=8,
)
# SickLeaveCase, when a wake first sends: its notices delivered over the local channels (the notification log) by
# local activity, `notify_batch` with the long retry only for what is left (issue 22: no activity per wake on the
# embedded default)
NOTICES_LOCAL = Patch(
    "notices-local",
    "release 9: a case delivers its notices over the local channels by local activity, the activity takes the rest",
    release=9,
)
# SickLeaveCase, when a run begins: it knows the search attributes it started with (a new case's, set by
# operations.cases.open_case from the state it opens with; a continued run's, the last run's) and upserts only what
# differs (issue 22: a start whose first wake changes none of them issues no upsert)
START_ATTRIBUTES = Patch(
    "start-attributes",
    "release 10: a run starts with its search attributes and upserts only what its wakes change",
    release=10,
)
# SickLeaveCase, when a wake first hands its notices or its facts to the worker: both in one `local_work` local
# activity (issue 22: one marker and one resolution of the workflow task per wake, not two)
LOCAL_WORK = Patch(
    "local-work",
    "release 11: a wake delivers its notices and writes its facts in one local activity, each part with its fallback",
    release=11,
)
# SickLeaveCase, when a wake before the case's morning round first has the clock's work to hold: the notices the clock
# raises in the night (a term passing at midnight) and the facts' write wait for the case's minute of the morning
# round (issue 22: a flat morning; no local activity at midnight)
MORNING_NOTICES = Patch(
    "morning-notices",
    "release 12: the notices the clock raises in the night, and their facts' write, wait for the case's morning round",
    release=12,
)
# SickLeaveCase, when a wake first asks for a morning round on a day the clocks change: the round from 06:00 by
# Amsterdam's clocks (before: six hours after midnight, 07:00 in March and 05:00 in October on that Sunday)
MORNING_WALL_CLOCK = Patch(
    "morning-wall-clock",
    "release 13: the morning round from 06:00 by Amsterdam's clocks on the days they change, too",
    release=13,
)

ALL = (
    SPOOR2_TRAJECTORY,
    STAGNATION_WATCH,
    COACH_ATTRIBUTE,
    DOCUMENTS,
    TRAJECTORY_RESYNC,
    CATCH_UP,
    WAKE_TIMER,
    NOTIFY_BATCH,
    DOSSIER_TRUTH,
    ASSIGNMENTS,
    WORKLIST,
    RUN_BOUND,
    LATE_RUN_BOUND,
    TRAJECTORY_SCOPE,
    CASE_FACTS,
    MORNING_SPREAD,
    NOTICE_REFS,
    TRAJECTORY_NOTICE_REFS,
    CASE_FACTS_LOCAL,
    NOTICES_LOCAL,
    START_ATTRIBUTES,
    LOCAL_WORK,
    MORNING_NOTICES,
    MORNING_WALL_CLOCK,
)
OPENING = (SPOOR2_TRAJECTORY, STAGNATION_WATCH, COACH_ATTRIBUTE, DOCUMENTS)
RUN_START = (CATCH_UP, WAKE_TIMER, NOTIFY_BATCH, DOSSIER_TRUTH, ASSIGNMENTS, WORKLIST)


def late_run_bound_id(check: int) -> str:
    """The marker id of the `check`-th bound check of a run begun on release 5 (1, 2, …)."""
    return f"{LATE_RUN_BOUND.id}-{check}"


def known(marker_id: str) -> Patch | None:
    """The patch a recorded marker belongs to, or None when this code no longer knows it."""
    for patch in ALL:
        if marker_id == patch.id:
            return patch
    prefix, _, number = marker_id.rpartition("-")
    return LATE_RUN_BOUND if prefix == LATE_RUN_BOUND.id and number.isdigit() else None
