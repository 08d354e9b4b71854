"""The `write_case_facts` activity: one case's facts (domain.facts.derive, computed in the workflow, where it is pure
and deterministic) written to the reporting store (service.reporting.write_case). Idempotent by the store's keys, so
Temporal's retries and a replayed case never count twice. Registered on the worker; the case workflow does not call
it yet (issue 21: a later step makes cases write their facts live; until then `spoorwerk figures rebuild`)."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from temporalio import activity

from domain.facts import CaseFacts
from service import reporting


class ReportingActivities:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """Opened (and migrated) at the first write, not when the worker starts: a worker that never writes a fact
        does not touch the store."""
        with self._lock:
            if self._engine is None:
                self._engine = reporting.open_store(self.url)
            return self._engine

    @activity.defn(name="write_case_facts")
    def write_case_facts(self, facts: CaseFacts) -> int:
        """Returns how many spells and events the case has in the store now."""
        reporting.write_case(self.engine(), facts)
        return len(facts.spells) + len(facts.events)
