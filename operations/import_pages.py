"""The dashboard's imports page (`GET /imports`): the latest bulk takeovers and how far each is, refreshed while
they run. Counts only, read from each import's memo (operations.imports), so the page answers while a worker
restarts. Operations sees every import, a casemanager their own; other roles import nothing."""

# No `from __future__ import annotations`: FastAPI reads the annotations of the routes.

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from temporalio.client import Client
from temporalio.service import RPCError

from domain import glossary
from domain.models import Role
from operations import imports, pages
from operations.import_mapping import MAPPINGS_DIR
from operations.import_routes import IMPORTERS
from operations.signin import page_caller
from service import i18n
from service.i18n import _

log = structlog.get_logger("spoorwerk.dashboard")


EXAMPLE = MAPPINGS_DIR / "generic-example.csv"


def add_import_pages(app: FastAPI) -> None:
    @app.get("/imports/voorbeeld.csv", include_in_schema=False)
    async def example_file(request: Request) -> Response:
        """The shipped mapping's example export: the columns an import reads, with three made-up cases."""
        caller = await page_caller(request)
        if caller is None:
            return pages.to_login(request)
        if caller.role not in IMPORTERS:  # the page that offers it is theirs only
            return Response(status_code=403)
        return Response(
            EXAMPLE.read_bytes(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="spoorwerk-import-voorbeeld.csv"'},
        )

    @app.get("/imports", include_in_schema=False)
    async def imports_page(request: Request) -> Response:
        caller = await page_caller(request)
        if caller is None:
            return pages.to_login(request)
        request.state.caller = caller
        if caller.role not in IMPORTERS:
            return pages.render(
                request,
                "error.html",
                403,
                caller=caller,
                title=_("No imports"),
                reason=_(
                    "A %(role)s imports no cases (a casemanager or operations does).",
                    role=_(glossary.role_label(caller.role.value)),
                ),
            )
        client: Client = request.app.state.client
        errors: list[str] = []
        found: list[imports.ImportStatus] = []
        try:
            found = await imports.list_imports(
                client, started_by=None if caller.role is Role.OPERATIONS else caller.actor
            )
        except RPCError as err:
            log.warning("imports list failed", status=str(err.status))
            errors.append(i18n.gettext("The imports are not available right now; they are tried again shortly."))
        return pages.render(request, "imports.html", caller=caller, imports=found, errors=errors)
