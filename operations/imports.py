"""Bulk takeover of running cases: an export checked, its valid rows handed to a `CaseImport` workflow, and its
progress read back. Used by the API's import routes, the CLI (`spoorwerk import`, also with --direct) and the
dashboard's imports page.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Collection
from datetime import date, datetime, timezone

from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from documents.store import DocumentStore
from domain.models import Actor
from domain.nl_time import local_date
from operations.cases import completed_result
from operations.import_file import file_format, read_table
from operations.import_mapping import Mapping
from operations.import_rows import Checked, check_rows
from service import refusals, sealed
from service.rulebook import load_rulebook
from workflows.case_import import PROGRESS_MEMO, CaseImport
from workflows.import_payloads import ImportChunk, ImportCounts, ImportInput, ImportProgress, RowProblem

WORKFLOW_TYPE = "CaseImport"
# Rows per activity: small enough that a retried chunk redoes little, large enough to keep the history short.
CHUNK_ROWS = 100
IMPORT_ID_PREFIX = "import-"


class ImportProblem(BaseModel):
    """A row's problem as a person reads it: row number, the file's column, and the reason in their language."""

    row: int
    column: str
    message: str


def said(problem: RowProblem) -> ImportProblem:
    """A problem in the current language, without the field path the refusal starts with (the column names it)."""
    text = refusals.say(problem.template, problem.params)
    field, sep, rest = text.partition(": ")
    if sep and field and " " not in field:
        text = rest
    return ImportProblem(row=problem.row, column=problem.column, message=text)


class WouldOpen(BaseModel):
    """A valid row as a dry run shows it: nothing personal but its row number and the case it opens."""

    row: int
    case_id: str
    employer_id: str
    first_sick_day: date
    stage: str | None


class ImportReport(BaseModel):
    """What an import (or its dry run) found before anything was opened."""

    import_id: str | None = Field(description="The running import to follow; none on a dry run or when no row is valid")
    dry_run: bool
    rows: int
    valid: int
    refused_rows: int
    problems: list[ImportProblem]
    would_open: list[WouldOpen] = Field(default_factory=list)


class ImportStatus(BaseModel):
    """How far an import is: counts, and the problems in the reader's language."""

    import_id: str
    running: bool
    started_by: Actor
    started_at: datetime
    finished_at: datetime | None
    rows: int
    done: int
    opened: int
    existed: int
    failed: int
    refused_rows: int
    chunks: int
    chunks_done: int
    problems: list[ImportProblem] = Field(description="Every row refused or failed; complete once the import is done")


def check_file(
    data: bytes,
    mapping: Mapping,
    *,
    filename: str | None,
    fmt: str | None,
    key: bytes,
    opened_by: Actor,
    employers: Collection[str] | None = None,
) -> Checked:
    """Read and check every row; ActionRefused when the file as a whole cannot be read."""
    table = read_table(data, fmt or file_format(filename, data), delimiter=mapping.delimiter, sheet=mapping.sheet)
    now = datetime.now(timezone.utc)
    return check_rows(
        table,
        mapping,
        key=key,
        opened_by=opened_by,
        rulebook=load_rulebook(),
        today=local_date(now),
        now=now,
        employers=employers,
    )


async def start_import(
    client: Client,
    store: DocumentStore,
    checked: Checked,
    *,
    started_by: Actor,
    task_queue: str,
    parallel_chunks: int = 4,
    parallel_starts: int = 8,
) -> str | None:
    """Keep the valid rows sealed in the store, chunk by chunk, and start the import's workflow; its id (None when no
    row is valid). The id is random: it names one run of a file, and the cases' own ids make a re-run open nothing."""
    if not checked.valid:
        return None
    import_id = IMPORT_ID_PREFIX + secrets.token_hex(8)
    refs = []
    for n in range(0, len(checked.valid), CHUNK_ROWS):
        data = await sealed.seal(client.data_converter, ImportChunk(rows=checked.valid[n : n + CHUNK_ROWS]))
        key = f"imports/{import_id}/chunk-{n // CHUNK_ROWS:05d}.bin"
        refs.append(await asyncio.to_thread(store.put, key, data, "application/octet-stream"))
    started = ImportInput(
        import_id=import_id,
        started_by=started_by,
        task_queue=task_queue,
        chunks=refs,
        rows=len(checked.valid),
        refused=checked.problems,
        refused_rows=checked.refused_rows,
        parallel_chunks=parallel_chunks,
        parallel_starts=parallel_starts,
    )
    counts = ImportCounts(
        import_id=import_id,
        started_by=started_by,
        started_at=datetime.now(timezone.utc),
        rows=started.rows,
        refused_rows=started.refused_rows,
        chunks=len(refs),
    )
    await client.start_workflow(
        CaseImport.run,
        started,
        id=import_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo={PROGRESS_MEMO: counts},
    )
    return import_id


def report(checked: Checked, import_id: str | None, *, dry_run: bool) -> ImportReport:
    return ImportReport(
        import_id=import_id,
        dry_run=dry_run,
        rows=checked.rows,
        valid=len(checked.valid),
        refused_rows=checked.refused_rows,
        problems=[said(p) for p in checked.problems],
        would_open=[
            WouldOpen(
                row=r.row,
                case_id=r.opening.case_id,
                employer_id=r.opening.employer_id,
                first_sick_day=r.opening.first_sick_day,
                stage=r.opening.stage.value if r.opening.stage else None,
            )
            for r in checked.valid
        ]
        if dry_run
        else [],
    )


class ImportNotFound(Exception):
    pass


async def read_status(client: Client, import_id: str) -> ImportStatus:
    """How far an import is, from its memo (no worker needed); once done, with every problem from its result."""
    if not import_id.startswith(IMPORT_ID_PREFIX):
        raise ImportNotFound(import_id)
    try:
        info = await client.get_workflow_handle(import_id).describe()
    except RPCError:
        raise ImportNotFound(import_id) from None
    if info.workflow_type != WORKFLOW_TYPE:
        raise ImportNotFound(import_id)
    if info.status == WorkflowExecutionStatus.COMPLETED:
        result = await completed_result(client, import_id, ImportProgress)
        if result is not None:
            return status(result.counts(), False, [*result.refused, *result.failed])
    counts = await info.memo_value(PROGRESS_MEMO, None, type_hint=ImportCounts)
    if counts is None:
        raise ImportNotFound(import_id)
    return status(counts, info.status == WorkflowExecutionStatus.RUNNING, [])


def status(counts: ImportCounts, running: bool, problems: list[RowProblem]) -> ImportStatus:
    """The counts and problems in the reader's language (the problems are known in full once the import is done)."""
    return ImportStatus(
        import_id=counts.import_id,
        running=running,
        started_by=counts.started_by,
        started_at=counts.started_at,
        finished_at=counts.finished_at,
        rows=counts.rows,
        done=counts.opened + counts.existed + counts.failed,
        opened=counts.opened,
        existed=counts.existed,
        failed=counts.failed,
        refused_rows=counts.refused_rows,
        chunks=counts.chunks,
        chunks_done=counts.chunks_done,
        problems=[said(p) for p in sorted(problems, key=lambda p: p.row)],
    )


async def list_imports(client: Client, *, started_by: Actor | None = None, limit: int = 50) -> list[ImportStatus]:
    """The latest imports (newest first) with their counts; `started_by` keeps those of one person."""
    listed = []
    async for wf in client.list_workflows(f"WorkflowType = '{WORKFLOW_TYPE}'", limit=limit):
        counts = await wf.memo_value(PROGRESS_MEMO, None, type_hint=ImportCounts)
        if counts is not None and (started_by is None or counts.started_by == started_by):
            listed.append(status(counts, wf.status == WorkflowExecutionStatus.RUNNING, []))
    return sorted(listed, key=lambda s: s.started_at, reverse=True)
