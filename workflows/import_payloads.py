"""What the bulk takeover of running cases (`CaseImport`) takes, passes to its activity and answers.

The rows themselves never travel as one workflow input: a chunk of validated openings is sealed with the payload
codec and kept in the document store (operations.imports), and the workflow carries only where each chunk is and
its hash (a few hundred bytes per 100 rows), so 10,000 rows stay far below Temporal's 2 MB payload limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.case import CaseOpening
from domain.documents import StoredDocument
from domain.models import Actor

# Failed rows kept by name in an import's result (the rest are counted).
MAX_FAILED = 1000


class ImportedRow(BaseModel):
    """One valid row of the file, as the case it opens: `row` is the row number as the spreadsheet shows it."""

    row: int
    opening: CaseOpening


class ImportChunk(BaseModel):
    """The rows one activity opens; kept sealed in the document store, never in a workflow's history."""

    rows: list[ImportedRow]


class RowProblem(BaseModel):
    """Why a row was not opened: its row number, the column as the file names it, and the reason as a refusal
    (an English template and its values, said in the reader's language at the edge)."""

    row: int
    column: str = Field(description="The column's header in the file; empty when the row as a whole is at fault")
    template: str
    params: dict[str, Any] = Field(default_factory=dict)


class ImportInput(BaseModel):
    import_id: str
    started_by: Actor
    task_queue: str = Field(description="Where the cases' workflows run")
    chunks: list[StoredDocument]
    rows: int = Field(description="Valid rows, to be opened")
    refused: list[RowProblem] = Field(default_factory=list, description="The rows refused before the start")
    refused_rows: int = 0
    parallel_chunks: int = 4
    parallel_starts: int = 8


class ChunkInput(BaseModel):
    import_id: str
    index: int
    chunk: StoredDocument
    task_queue: str
    parallel_starts: int


class ChunkResult(BaseModel):
    opened: int = 0
    existed: int = 0
    failed: list[RowProblem] = Field(default_factory=list)


class ImportCounts(BaseModel):
    """An import's counts, kept in its memo: read with a describe, so a list or a progress bar needs no worker (and
    never waits behind a busy one). Nothing personal: counts and the importer's opaque id."""

    import_id: str
    started_by: Actor
    started_at: datetime
    finished_at: datetime | None = None
    rows: int
    refused_rows: int = 0
    opened: int = 0
    existed: int = 0
    failed: int = 0
    chunks: int
    chunks_done: int = 0


class ImportProgress(BaseModel):
    """How far an import is; the `progress` query while it runs, its result when done."""

    import_id: str
    started_by: Actor
    started_at: datetime
    finished_at: datetime | None = None
    rows: int
    refused: list[RowProblem] = Field(default_factory=list)
    refused_rows: int = 0
    opened: int = 0
    existed: int = Field(default=0, description="Rows whose case was opened before (by an earlier run of the file)")
    failed: list[RowProblem] = Field(default_factory=list, description=f"The first {MAX_FAILED} rows that failed")
    failed_rows: int = 0
    chunks: int
    chunks_done: int = 0

    @property
    def done(self) -> int:
        """Valid rows handled so far (opened, found opened before, or failed)."""
        return self.opened + self.existed + self.failed_rows

    def counts(self) -> ImportCounts:
        return ImportCounts(
            import_id=self.import_id,
            started_by=self.started_by,
            started_at=self.started_at,
            finished_at=self.finished_at,
            rows=self.rows,
            refused_rows=self.refused_rows,
            opened=self.opened,
            existed=self.existed,
            failed=self.failed_rows,
            chunks=self.chunks,
            chunks_done=self.chunks_done,
        )

    def add(self, result: ChunkResult) -> None:
        self.opened += result.opened
        self.existed += result.existed
        # Kept up to a bound, so the result stays far below the payload limit however many rows fail.
        self.failed.extend(result.failed[: max(0, MAX_FAILED - len(self.failed))])
        self.failed_rows += len(result.failed)
        self.chunks_done += 1
