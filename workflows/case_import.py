"""`CaseImport`: the bulk takeover of running cases from another system, as one durable workflow.

Each chunk of about a hundred validated rows is one `import_chunk` activity (activities.imports), which opens the
chunk's cases through `operations.cases.open_case`. A few chunks run at once and each opens a few cases at once, so
a file of 10,000 rows neither floods the server nor waits on one slow start. A worker that stops mid-import loses
nothing: the activity is retried, and a case it opened before is recognised by its memo (the import id as the
request key) and counted once.

One activity per chunk keeps the history small: 10,000 rows are 100 activities, some 600 events.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.import_payloads import ChunkInput, ChunkResult, ImportInput, ImportProgress

IMPORT_CHUNK = "import_chunk"
# The memo key of the import's counts (ImportCounts), updated after every chunk.
PROGRESS_MEMO = "progress"
# A chunk heartbeats after every row: a worker that died is noticed within this, and its chunk is given to another.
CHUNK_HEARTBEAT = timedelta(seconds=20)
CHUNK_TIMEOUT = timedelta(minutes=15)


@workflow.defn(name="CaseImport")
class CaseImport:
    @workflow.init
    def __init__(self, input: ImportInput) -> None:
        self._progress = ImportProgress(
            import_id=input.import_id,
            started_by=input.started_by,
            started_at=workflow.now(),
            rows=input.rows,
            refused=input.refused,
            refused_rows=input.refused_rows,
            chunks=len(input.chunks),
        )

    @workflow.run
    async def run(self, input: ImportInput) -> ImportProgress:
        slots = asyncio.Semaphore(max(1, input.parallel_chunks))

        async def one(index: int) -> None:
            async with slots:
                result = await workflow.execute_activity(
                    IMPORT_CHUNK,
                    ChunkInput(
                        import_id=input.import_id,
                        index=index,
                        chunk=input.chunks[index],
                        task_queue=input.task_queue,
                        parallel_starts=input.parallel_starts,
                    ),
                    result_type=ChunkResult,
                    start_to_close_timeout=CHUNK_TIMEOUT,
                    heartbeat_timeout=CHUNK_HEARTBEAT,
                    # Opening is idempotent, so a chunk is retried until it is done; a chunk that cannot be read
                    # (its file changed or gone) fails for good and says so.
                    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
                )
            self._progress.add(result)
            workflow.upsert_memo({PROGRESS_MEMO: self._progress.counts()})

        await asyncio.gather(*(one(i) for i in range(len(input.chunks))))
        self._progress.finished_at = workflow.now()
        workflow.upsert_memo({PROGRESS_MEMO: self._progress.counts()})
        return self._progress

    @workflow.query
    def progress(self) -> ImportProgress:
        return self._progress
