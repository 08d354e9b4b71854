"""The case's documents in the API: the list, and each one as PDF or HTML from the document store.

A document is asked for as the action `document_requested` (POST /api/cases/{id}/actions/document_requested);
the case renders it through an activity and lists it here when it is stored. A download is checked
against the SHA-256 the dossier recorded, and a version is only handed to the roles it is for.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel
from temporalio.client import Client

from documents.store import DocumentNotFound, DocumentStore, DocumentStoreError
from domain.case.summary import CaseSummary
from domain.documents import Audience, DocumentKind, DocumentRef, may_read_version
from domain.errors import ActionRefused
from domain.models import Role
from operations import cases
from operations.auth import Caller
from service.audit import What

QUERY_TIMEOUT_SECONDS = 10
OrderId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,150}$")]


class DocumentView(BaseModel):
    """A rendered document of the case, with where to download it."""

    order_id: str
    document: DocumentKind
    audience: Audience
    title: str
    as_of: date
    period_start: date | None
    period_end: date | None
    rendered_at: datetime
    pdf: str
    html: str
    pdf_sha256: str
    pdf_bytes: int


def may_read(caller: Caller, ref: DocumentRef, treating: Sequence[str]) -> bool:
    """The one rule every list and download of a document goes through (domain.documents.may_read_version);
    `treating`: the bedrijfsarts assigned to the case (CaseSummary.assigned)."""
    return may_read_version(caller.role, caller.id, ref.order.audience, ref.order.requested_by.id, treating)


def treating(summary: CaseSummary) -> list[str]:
    """The bedrijfsarts who treat the case: those assigned to it."""
    return list(summary.assigned.get(Role.BEDRIJFSARTS, []))


def document_view(case_id: str, ref: DocumentRef) -> DocumentView:
    """A rendered document as the API and the dashboard list it, with its download paths."""
    o = ref.order
    base = f"/api/cases/{case_id}/documents/{o.order_id}"
    return DocumentView(
        order_id=o.order_id,
        document=o.kind,
        audience=o.audience,
        title=ref.title,
        as_of=o.as_of,
        period_start=o.period_start,
        period_end=o.period_end,
        rendered_at=ref.rendered_at,
        pdf=f"{base}.pdf",
        html=f"{base}.html",
        pdf_sha256=ref.pdf.sha256,
        pdf_bytes=ref.pdf.size,
    )


async def case_documents(client: Client, case_id: str) -> list[DocumentRef]:
    """Every document the case has rendered, oldest first."""
    return await cases.case_handle(client, case_id).query(
        "documents", result_type=list[DocumentRef], rpc_timeout=timedelta(seconds=QUERY_TIMEOUT_SECONDS)
    )


def add_document_routes(
    api: APIRouter,
    client: Client,
    store: DocumentStore | None,
    authed: Any,
    readable: Callable[..., Awaitable[Any]],
    problem: type[Exception],
    case_id_type: Any,
) -> None:
    """Mount the document list and downloads on the API router."""

    @api.get("/cases/{case_id}/documents", response_model=list[DocumentView])
    async def list_documents(case_id: case_id_type, who: authed) -> list[DocumentView]:
        """The case's rendered documents the caller may read (the employer's version has no medical notes)."""
        summary = await readable(client, case_id, who, What.DOCUMENTS)
        return [
            document_view(case_id, ref)
            for ref in await case_documents(client, case_id)
            if may_read(who, ref, treating(summary))
        ]

    @api.get(
        "/cases/{case_id}/documents/{order_id}.{fmt}",
        response_class=Response,
        responses={200: {"content": {"application/pdf": {}, "text/html": {}}}},
    )
    async def download(case_id: case_id_type, order_id: OrderId, fmt: Literal["pdf", "html"], who: authed) -> Response:
        """One document as PDF or HTML, checked against the hash in the dossier."""
        summary = await readable(client, case_id, who, What.DOCUMENT, object_id=order_id)
        ref = next((r for r in await case_documents(client, case_id) if r.order.order_id == order_id), None)
        if ref is None:
            raise problem(
                404, ActionRefused("order_id: case %(case)s has no document %(value)r", case=case_id, value=order_id)
            )
        if not may_read(who, ref, treating(summary)):
            if who.may_see_medical_notes():
                raise problem(
                    403, ActionRefused("this bedrijfsarts version is for the bedrijfsarts who treats the case")
                )
            raise problem(
                403,
                ActionRefused(
                    "the %(audience)s version is not for the %(role)s", audience=ref.order.audience, role=who.role
                ),
            )
        stored = ref.pdf if fmt == "pdf" else ref.html
        if store is None:
            raise problem(503, ActionRefused("this API has no document store configured"))
        try:
            data = await asyncio.to_thread(store.get, stored)
        except DocumentNotFound as err:
            raise problem(404, str(err)) from None
        except DocumentStoreError as err:
            raise problem(502, str(err)) from None
        disposition = "attachment" if fmt == "pdf" else "inline"
        filename = f"{case_id}-{order_id.replace(':', '-')}.{fmt}"
        return Response(
            data,
            media_type=stored.media_type,
            headers={
                "Content-Disposition": f'{disposition}; filename="{filename}"',
                "ETag": f'"{stored.sha256}"',
                # Documents hold personal data: no shared caches; the HTML may not load anything from elsewhere.
                "Cache-Control": "private, no-store",
                "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            },
        )
