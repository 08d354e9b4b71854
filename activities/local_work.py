"""The `local_work` activity: what one wake of a case does on its own worker, in one local activity (issue 22).

Release 11 (patch `local-work`): a wake that both sends notices and changed the case's facts delivered them by two
local activities before (`notify_local` and `write_case_facts`), two markers and two resolutions of the workflow task
per wake; measured on the dev server, an action that ran two trivial local activities answered 0.70× as often as one
that ran one. This one does both parts, each on its own: a part that fails is reported in the result and taken the
long way by the case (the notices by `notify_batch`, the facts by `write_case_facts` with the long retry), and the
other part stands.
"""

from __future__ import annotations

import structlog
from temporalio import activity

from activities.delivery import LocalWork, LocalWorkDone
from activities.notify import Notifications
from activities.reporting import ReportingActivities

log = structlog.get_logger("spoorwerk.local_work")


class LocalWorkActivities:
    """`local_work` over the worker's notification channels and its reporting store."""

    def __init__(self, notifications: Notifications, reporting: ReportingActivities) -> None:
        self.notifications = notifications
        self.reporting = reporting

    @activity.defn(name="local_work")
    def local_work(self, work: LocalWork) -> LocalWorkDone:
        """`notify_local` for the notices, then `write_case_facts` for the facts; a part that raises is reported, not
        raised, so the other part's result reaches the case."""
        done = LocalWorkDone()
        if work.notices:
            try:
                done.delivery = self.notifications.notify_local(work.notices, work.task)
            except Exception as err:  # noqa: BLE001 - whatever it was, `notify_batch` delivers them the long way
                done.notices_failed = _reason(err)
                log.warning("notices not delivered locally", error=done.notices_failed)
        if work.facts is not None:
            try:
                done.facts_written = self.reporting.write_case_facts(work.facts)
            except Exception as err:  # noqa: BLE001 - the activity with the long retry writes them
                done.facts_failed = _reason(err)
                log.warning("case facts not written locally", case_id=work.facts.case.case_id, error=done.facts_failed)
        return done


def _reason(err: Exception) -> str:
    """Why a part failed, for the case's log line: the error's first line only. A database error's next lines carry
    its statement and parameters (the facts: dates, incapacity), which no log may hold."""
    lines = str(err).splitlines()
    return (lines[0][:200] if lines else "") or type(err).__name__
