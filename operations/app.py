"""The service's HTTP side put together: the API (operations.api) and the dashboard (operations.dashboard) beside it.

The one place that knows both, so neither imports the other's module back: the dashboard reads cases through the
API's scope check (`readable_case`), and the API knows nothing of pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client

from documents.store import DocumentStore
from operations.api import Problem, caller_dependency, create_api
from operations.auth import Authenticator
from operations.bundle import add_bundle_route
from operations.case_export import add_export_route
from operations.dashboard import add_dashboard
from operations.figures_pages import add_figures_page
from operations.figures_routes import add_figures_routes
from operations.import_pages import add_import_pages
from service.audit import AuditStore


def create_app(
    client: Client,
    authenticator: Authenticator,
    *,
    task_queue: str,
    codec_origins: Sequence[str] = (),
    document_store: DocumentStore | None = None,
    signin: Any = None,
    audit: AuditStore | None = None,
    search_key: bytes | None = None,
    reporting: Engine | None = None,
    uwv: Any = None,
) -> FastAPI:
    """The API (under /api), the codec endpoint, health and the dashboard for one Temporal client."""
    app = create_api(
        client,
        authenticator,
        task_queue=task_queue,
        codec_origins=codec_origins,
        document_store=document_store,
        signin=signin,
        audit=audit,
        search_key=search_key,
        uwv=uwv,
    )
    add_export_route(app, authenticator)  # GET /api/cases.csv, on the case list's own filters
    add_bundle_route(app, authenticator, document_store)  # GET /api/cases/{case_id}/bundle
    add_dashboard(app)
    add_import_pages(app)
    app.state.reporting = reporting  # the reporting store (service.reporting); None: the figures answer 503
    add_figures_routes(app, caller_dependency(authenticator), Problem)
    add_figures_page(app)
    return app
