"""The `render_document` activity: renders a document of a case and keeps it in the document store.

It reads the case (and its trajectory) by query rather than taking the state as its input, so the
workflow history holds the order and the answer only: a key and a content hash, never the document.
Rendering the same order again writes the same keys, so a retry after a crash leaves one document.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from documents.store import DocumentStore, DocumentStoreError
from domain.case import CaseState
from domain.documents import DocumentRef, RenderJob
from domain.spoor2 import TrajectoryState
from workflows.ids import case_workflow_id

log = structlog.get_logger("spoorwerk.documents")


def document_key(job: RenderJob, extension: str) -> str:
    """Where an order's file goes: one folder per case, the order and the version in the name."""
    order = re.sub(r"[^A-Za-z0-9._-]", "-", job.order.order_id)
    return f"{job.case_id}/{order}.{job.order.audience.value}.{extension}"


class DocumentActivities:
    """Holds the Temporal client (to read the case) and the document store."""

    def __init__(self, client: Client, store: DocumentStore) -> None:
        self._client = client
        self._store = store

    @activity.defn(name="render_document")
    async def render_document(self, job: RenderJob) -> DocumentRef:
        """Render the ordered document from the case's current state, store HTML and PDF, return where."""
        # WeasyPrint loads slowly; only workers that render pay for it.
        from documents.render import RenderError, render

        with structlog.contextvars.bound_contextvars(case_id=job.case_id, order_id=job.order.order_id):
            return await self._render(job, render, RenderError)

    async def _render(self, job: RenderJob, render, RenderError: type[Exception]) -> DocumentRef:
        try:
            case = await self._client.get_workflow_handle(case_workflow_id(job.case_id)).query(
                "state", result_type=CaseState
            )
            trajectory = None
            if job.trajectory_workflow_id is not None:
                trajectory = await self._client.get_workflow_handle(job.trajectory_workflow_id).query(
                    "state", result_type=TrajectoryState
                )
        except (RPCError, WorkflowQueryFailedError) as err:
            raise ApplicationError(f"the case could not be read: {err}", type="CaseUnreadable") from err
        preflight = case.documents.rules.preflight if case.documents.rules else None
        try:
            rendered = await asyncio.to_thread(render, job.order, case, trajectory, preflight=preflight)
        except RenderError as err:  # an order the case cannot have: retrying will not help
            raise ApplicationError(str(err), type="RenderError", non_retryable=True) from err
        try:
            html = await asyncio.to_thread(
                self._store.put, document_key(job, "html"), rendered.html.encode("utf-8"), "text/html; charset=utf-8"
            )
            pdf = await asyncio.to_thread(self._store.put, document_key(job, "pdf"), rendered.pdf, "application/pdf")
        except DocumentStoreError as err:
            raise ApplicationError(str(err), type="DocumentStoreUnavailable") from err
        log.info(
            "document rendered", document=job.order.kind.value, audience=job.order.audience.value, pdf_bytes=pdf.size
        )
        return DocumentRef(
            order=job.order, title=rendered.title, html=html, pdf=pdf, rendered_at=datetime.now(timezone.utc)
        )
