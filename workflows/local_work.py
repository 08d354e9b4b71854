"""A wake's notices and facts go to the worker in one `local_work` local activity (patch `local-work`, release 11).

The case's notices (workflows.common.Notifier) and its facts (workflows.case_facts.CaseFactsWriter) keep their own
fallbacks: each part of the batch resolves its own future, and a part that failed goes its own long way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import LocalDelivery, LocalWork, LocalWorkDone
    from activities.local_work import LocalWorkActivities
    from domain.facts import CaseFacts
    from domain.models import Notification
    from domain.notices import NoticeRef

# Both parts together: an append to the log and a row upsert per fact take a millisecond each (the first write of a
# worker also opens its store). Beyond this the channels or the store are in trouble, and the long way takes over;
# a local activity holds its workflow task, and the answer to an action, until it ends.
LOCAL_WORK_TIMEOUT = timedelta(seconds=5)


class LocalPartFailed(Exception):
    """One part of a `local_work` failed on the worker (the other part stands)."""


class LocalWorkBatch:
    """Gathers what a wake hands the worker's local channels and store, and starts it as one local activity.

    Inside `gathering()` (a wake's body) the parts wait for its end; outside it (a run's last write before it closes
    or continues as new) a part starts at once. A part of a kind the batch holds already starts a batch of its own.
    """

    def __init__(self) -> None:
        self._gathering = False
        self._work = LocalWork()  # the parts gathered so far
        self._notices: asyncio.Future[LocalDelivery] | None = None
        self._facts: asyncio.Future[int] | None = None

    @contextmanager
    def gathering(self) -> Iterator[None]:
        """The parts added in the block go as one local activity when it ends."""
        self._gathering = True
        try:
            yield
        finally:
            self._gathering = False
            self._dispatch()

    def notices(self, items: list[Notification | NoticeRef], task: int) -> asyncio.Future[LocalDelivery]:
        """The notices' part (`task`: the history length the workflow task saw, for the held log lines); the future
        raises ActivityError or LocalPartFailed when they were not delivered locally."""
        if self._notices is not None:
            self._dispatch()
        self._work.notices, self._work.task = items, task
        self._notices = asyncio.get_running_loop().create_future()
        result = self._notices
        if not self._gathering:
            self._dispatch()
        return result

    def facts(self, facts: CaseFacts) -> asyncio.Future[int]:
        """The facts' part; the future raises ActivityError or LocalPartFailed when they were not written."""
        if self._facts is not None:
            self._dispatch()
        self._work.facts = facts
        self._facts = asyncio.get_running_loop().create_future()
        result = self._facts
        if not self._gathering:
            self._dispatch()
        return result

    def _dispatch(self) -> None:
        if self._notices is None and self._facts is None:
            return
        work, notices, facts = self._work, self._notices, self._facts
        self._work, self._notices, self._facts = LocalWork(), None, None
        activity = workflow.start_local_activity_method(
            LocalWorkActivities.local_work,
            work,
            start_to_close_timeout=LOCAL_WORK_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        activity.add_done_callback(lambda done: _resolve(done, notices, facts))


def _resolve(
    done: asyncio.Task[LocalWorkDone], notices: asyncio.Future[LocalDelivery] | None, facts: asyncio.Future[int] | None
) -> None:
    """Each part's future from the local activity's result: its own failure, or the activity's."""
    if done.cancelled():
        for part in (notices, facts):
            if part is not None:
                part.cancel()
        return
    err = done.exception()
    if err is not None:
        for part in (notices, facts):
            if part is not None:
                part.set_exception(err if isinstance(err, ActivityError) else LocalPartFailed(str(err)))
        return
    result = done.result()
    if notices is not None:
        if result.notices_failed is not None or result.delivery is None:
            notices.set_exception(LocalPartFailed(result.notices_failed or "no delivery report"))
        else:
            notices.set_result(result.delivery)
    if facts is not None:
        if result.facts_failed is not None or result.facts_written is None:
            facts.set_exception(LocalPartFailed(result.facts_failed or "no write reported"))
        else:
            facts.set_result(result.facts_written)
