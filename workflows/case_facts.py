"""The case's facts kept current in the reporting store (issue 21): the case writes them as its dossier grows.

`domain.facts.derive` runs here, in the workflow, where it is pure; the `write_case_facts` activity
(activities.reporting) puts them in the store, replacing the case's rows by their keys, so a retried attempt, a
replayed case or a `spoorwerk figures rebuild` over it never counts a fact twice. A write runs beside the case's
loop, like a notification: a store that is down holds up no reminder and no action.

Release 8 on, the write is a local activity (patch `case-facts-local`, issue 22): the worker that runs the case writes
the facts itself in the same workflow task, with no activity task and no further workflow task to take its result,
which had made a start and every action that changed the facts one round trip through the server dearer. It gets
one short attempt (`LOCAL_WRITE_TIMEOUT`): a store that fails it is written by the activity with the long retry
instead, at once, so a local activity never holds a workflow task (and the answer to an action) for long. Release 11 on
(patch `local-work`), that local write is the facts' part of the wake's one local activity, beside its notices
(workflows.local_work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reporting import ReportingActivities
    from domain.case import CaseState
    from domain.facts import CaseFacts, derive
    from workflows.local_work import LocalWorkBatch

WRITE_TIMEOUT = timedelta(minutes=1)
# A store down longer than this is an outage that `spoorwerk figures rebuild` repairs; a run that continues as new
# or closes waits for its last write no longer than this. A failed write is tried again at the next wake.
WRITE_GIVE_UP = timedelta(days=1)
WRITE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))
# A write takes about a millisecond (SQLite in the data folder, a row upsert per fact in PostgreSQL); the first one of a
# worker also opens and migrates the store. Beyond this the store is in trouble, and the durable retry takes over.
LOCAL_WRITE_TIMEOUT = timedelta(seconds=5)


class CaseFactsWriter:
    """Writes the case's facts when its dossier has grown since the last write and the facts differ: at most one
    write per wake, and one at a time, so an older write retried late never overwrites a newer one.

    Behind the live patch `case-facts`: a run that replays without its marker writes from its next run on. `local`
    asks the patch `case-facts-local` (release 8): a write by local activity, the activity when that one failed;
    `local_work`, the patch `local-work` (release 11): that local write as the facts' part of the wake's `local_work`.
    """

    def __init__(
        self,
        dossier_length: int,
        wake: Callable[[], None],
        taken: Callable[[], bool],
        local: Callable[[], bool],
        local_work: Callable[[], LocalWorkBatch | None] = lambda: None,
    ) -> None:
        # A continued run's dossier was written by the run before (it flushes before it continues as new).
        self._seen = dossier_length
        self._wake = wake  # wakes the loop when a write ends with the dossier grown meanwhile
        self._taken = taken  # the `case-facts` patch, through the run's release gate (workflows.common.PatchGate)
        self._local = local  # the `case-facts-local` patch, the same way
        self._local_work = local_work  # the wake's batch when the run takes the patch `local-work` (release 11)
        self._durable_next = False  # the last local write failed: the next goes by the activity with the long retry
        self._written: CaseFacts | None = None
        self._running: asyncio.Future[int] | None = None
        self._pending = False  # the dossier grew while a write ran: the loop writes again when it is done

    def write(self, state: CaseState, today: date, *, now: bool = False) -> None:
        """Start a write of the case's facts as of `today` if its dossier has grown since the last one; while the
        night's notices wait for the morning round (`state.morning`, patch `morning-notices`) the write waits with
        them, unless `now` (a run that closes or continues as new)."""
        if len(state.dossier) == self._seen or (state.morning is not None and not now):
            return
        if self._running is not None and not self._running.done():
            self._pending = True
            return
        facts = derive(state, today)
        if facts == self._written or not self._taken():
            self._seen = len(state.dossier)
            return
        seen = len(state.dossier)
        self._seen, self._written, self._pending = seen, facts, False
        local = not self._durable_next and self._local()
        self._durable_next = False
        task: asyncio.Future[int]
        batch = self._local_work() if local else None
        if batch is not None:
            task = batch.facts(facts)
        elif local:
            task = workflow.start_local_activity_method(
                ReportingActivities.write_case_facts,
                facts,
                start_to_close_timeout=LOCAL_WRITE_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        else:
            task = workflow.start_activity_method(
                ReportingActivities.write_case_facts,
                facts,
                start_to_close_timeout=WRITE_TIMEOUT,
                schedule_to_close_timeout=WRITE_GIVE_UP,
                retry_policy=WRITE_RETRY,
            )
        task.add_done_callback(lambda done: self._done(done, state.case_id, local))
        self._running = task

    def _done(self, done: asyncio.Future[int], case_id: str, local: bool) -> None:
        if done.cancelled():
            return
        if done.exception() is not None:
            error = str(done.exception())
            workflow.logger.warning(
                "case facts not written", extra={"case_id": case_id, "error": error, "local": local}
            )
            # The facts it carried count as not written. A local write failed: the activity with the long retry writes
            # them now; the activity gave up: written again at the next wake.
            self._seen, self._written = -1, None
            if local:
                self._durable_next = True
                self._wake()
        elif self._pending:
            self._wake()

    async def flush(self, state: CaseState, today: date) -> None:
        """Before the run closes or continues as new: the last write done, and one more if the dossier grew."""
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        self.write(state, today, now=True)
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
