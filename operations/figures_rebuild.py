"""Re-derive the reporting store from the cases themselves (`spoorwerk figures rebuild`): every case workflow,
running or closed, is asked for its state (the `state` query; a closed case answers it too, its worker replaying the
history) and its facts (domain.facts) are written as the per-case write does (service.reporting.write_case), so a
rebuild over a store that holds them already changes nothing and a case is never counted twice.

A case that cannot answer (its history gone past the namespace's retention, a worker not running) is counted and
named by id, and the others are still written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.service import RPCError

from domain.facts import derive
from operations.cases import cases_query
from service import reporting
from workflows.sick_leave_case import SickLeaveCase

QUERY_TIMEOUT_SECONDS = 30


@dataclass
class Rebuilt:
    cases: int = 0
    written: int = 0
    failed: list[str] = field(default_factory=list)


async def rebuild(
    client: Client,
    engine: Engine,
    today: date,
    *,
    concurrency: int = 8,
    progress: Callable[[Rebuilt], None] | None = None,
    employer_id: str | None = None,
) -> Rebuilt:
    """Every case's facts written again as of `today` (only `employer_id`'s cases when given)."""
    found = Rebuilt()
    ids: list[str] = []
    async for wf in client.list_workflows(cases_query(running_only=False, employer_id=employer_id)):
        if wf.id not in ids:  # a case that continued as new is listed once per run
            ids.append(wf.id)
    found.cases = len(ids)
    gate = asyncio.Semaphore(concurrency)

    async def one(case_id: str) -> None:
        async with gate:
            try:
                state = await client.get_workflow_handle(case_id).query(
                    SickLeaveCase.state, rpc_timeout=timedelta(seconds=QUERY_TIMEOUT_SECONDS)
                )
                await asyncio.to_thread(reporting.write_case, engine, derive(state, today))
                found.written += 1
            except (RPCError, asyncio.TimeoutError, ValueError) as err:
                found.failed.append(f"{case_id}: {type(err).__name__}")
            if progress is not None:
                progress(found)

    await asyncio.gather(*(one(case_id) for case_id in ids))
    return found
