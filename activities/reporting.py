"""The `write_case_facts` activity: one case's facts (domain.facts.derive, computed in the workflow, where it is pure
and deterministic) written to the reporting store (service.reporting.write_case). Idempotent by the store's keys, so
Temporal's retries and a replayed case never count twice. The case workflow calls it whenever its dossier has grown
(workflows.case_facts, patch `case-facts`); `spoorwerk figures rebuild` writes every case the same way."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from temporalio import activity

from domain.facts import CaseFacts
from service import reporting


class ReportingActivities:
    """`url`: the store's SQLAlchemy URL (the settings always name one: SQLite in the data folder by default); None
    for a worker without a store, whose writes succeed and keep nothing, so a case never waits on a store it lacks."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def engine(self) -> Engine:
        """Opened (and migrated, when `worker.warm_up` could not at start) at the first write."""
        assert self.url is not None  # write_case_facts asks only with a store
        with self._lock:
            if self._engine is None:
                self._engine = reporting.open_store(self.url)
            return self._engine

    @activity.defn(name="write_case_facts")
    def write_case_facts(self, facts: CaseFacts) -> int:
        """Returns how many spells and events the case has in the store now (0 without a store)."""
        if self.url is None:
            return 0
        reporting.write_case(self.engine(), facts)
        return len(facts.spells) + len(facts.events)
