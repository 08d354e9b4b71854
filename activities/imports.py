"""The `import_chunk` activity: opens the cases of one chunk of an import (workflows.case_import).

The chunk is read from the document store and unsealed (service.sealed); each row is opened with
`operations.cases.open_case`, the import id as its request key, so a retried chunk counts a case it opened before
as opened by this import, and a case opened by an earlier import of the same file as existing: nothing twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from documents.store import DocumentStore, DocumentStoreError
from operations import cases
from service.sealed import unseal
from workflows.import_payloads import ChunkInput, ChunkResult, ImportChunk, RowProblem

log = structlog.get_logger("spoorwerk.import")


def problem_of(row: int, err: Any) -> RowProblem:
    """A refusal of the case as a row's problem (the column is unknown once the case itself refuses)."""
    template = getattr(err, "template", None)
    if template is None:  # a reason without its template (a server's message): said as it is
        return RowProblem(row=row, column="", template=str(err).replace("%", "%%"))
    return RowProblem(row=row, column="", template=template, params=dict(err.params))


class ImportActivities:
    def __init__(self, client: Client, store: DocumentStore) -> None:
        self.client, self.store = client, store

    @activity.defn(name="import_chunk")
    async def import_chunk(self, input: ChunkInput) -> ChunkResult:
        try:
            data = await asyncio.to_thread(self.store.get, input.chunk)
            chunk = await unseal(self.client.data_converter, data, ImportChunk)
        except (DocumentStoreError, ValueError, TypeError) as err:
            # Retrying cannot bring back a chunk that is gone or changed.
            raise ApplicationError(
                f"import {input.import_id}: chunk {input.index} cannot be read ({type(err).__name__})",
                non_retryable=True,
            ) from None
        result = ChunkResult()
        slots = asyncio.Semaphore(max(1, input.parallel_starts))
        done = 0

        async def one(row: Any) -> None:
            nonlocal done
            async with slots:
                try:
                    handle = await cases.open_case(
                        self.client, row.opening, task_queue=input.task_queue, request_key=input.import_id
                    )
                except cases.CaseAlreadyExists:
                    result.existed += 1
                except cases.ActionRejected as err:  # the case refused the opening (a row valid yesterday)
                    result.failed.append(problem_of(row.row, err))
                else:
                    # Started now, or started by this import's earlier attempt (recognised by its request key).
                    del handle
                    result.opened += 1
            done += 1
            activity.heartbeat(done)

        await asyncio.gather(*(one(r) for r in chunk.rows))
        log.info(
            "import chunk done",
            import_id=input.import_id,
            chunk=input.index,
            opened=result.opened,
            existed=result.existed,
            failed=len(result.failed),
        )
        result.failed.sort(key=lambda p: p.row)
        return result
