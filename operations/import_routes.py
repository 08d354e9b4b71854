"""The API's import routes: an export uploaded as it is (`POST /api/imports`), the imports listed, one followed.

The file is the request body itself (CSV or XLSX), not a form: nothing to install for multipart, and a client
sends a file with one call (`curl --data-binary @file.csv`). The mapping is a shipped one by name, or a mapping file
of the caller's own, base64 in the `Import-Mapping` header. Operations and casemanagers import; a casemanager only
for the employers it works for, and sees its own imports only.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from temporalio.client import Client

from documents.store import DocumentStore
from domain.errors import ActionRefused, joined
from domain.models import Role
from operations import imports
from operations.import_file import MAX_FILE_BYTES
from operations.import_mapping import DEFAULT_MAPPING, MappingError, load_mapping, parse_mapping, shipped_mappings

IMPORTERS = frozenset({Role.OPERATIONS, Role.CASEMANAGER})
ImportId = Annotated[str, Path(pattern=r"^import-[0-9a-f]{16}$", description="The import's id")]
MAX_MAPPING_HEADER = 6000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def add_import_routes(
    api: APIRouter,
    client: Client,
    store: DocumentStore | None,
    task_queue: str,
    authed: Any,
    problem: Callable[[int, ActionRefused], Exception],
    search_key: Callable[[], bytes],
) -> None:
    """Register the import routes on the API's router (operations.api)."""

    def require(who: Any) -> None:
        if who.role not in IMPORTERS:
            raise problem(
                403,
                ActionRefused(
                    "the role %(role)s may not import cases (allowed: %(roles)s)",
                    role=who.role,
                    roles=joined(IMPORTERS),
                ),
            )

    @api.post(
        "/imports",
        response_model=imports.ImportReport,
        status_code=202,
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The export itself, CSV or XLSX",
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    async def upload(
        request: Request,
        who: authed,
        mapping: Annotated[
            str, Query(pattern=r"^[a-z0-9_-]{1,40}$", description="A shipped mapping")
        ] = DEFAULT_MAPPING,
        format: Annotated[Literal["csv", "xlsx"] | None, Query(description="Left out: by filename or content")] = None,
        filename: Annotated[str | None, Query(max_length=200)] = None,
        dry_run: Annotated[bool, Query(description="Check every row and show what would be opened")] = False,
        import_mapping: Annotated[
            str | None, Header(alias="Import-Mapping", description="A mapping file of your own, base64")
        ] = None,
    ) -> Any:
        """Take over running cases from another system's export: every row is checked first; the problems come back
        by row and column, and the valid rows are opened by an import workflow (202, its id to follow). A case
        opened by an earlier import of the same file is not opened again."""
        require(who)
        try:
            chosen = _mapping(mapping, import_mapping)
        except MappingError as err:
            raise problem(422, ActionRefused("mapping: %(reason)s", reason=str(err))) from None
        data = await _body(request, problem)
        try:
            checked = await asyncio.to_thread(
                imports.check_file,
                data,
                chosen,
                filename=filename,
                fmt=format,
                key=search_key(),
                opened_by=who.actor,
                employers=who.employer_ids if who.role is not Role.OPERATIONS else None,
            )
        except ActionRefused as err:
            raise problem(422, err) from None
        if dry_run:
            return JSONResponse(imports.report(checked, None, dry_run=True).model_dump(mode="json"), status_code=200)
        if store is None:
            raise problem(503, ActionRefused("imports: this service has no document store to keep the rows in"))
        import_id = await imports.start_import(client, store, checked, started_by=who.actor, task_queue=task_queue)
        found = imports.report(checked, import_id, dry_run=False)
        return JSONResponse(found.model_dump(mode="json"), status_code=202 if import_id else 200)

    @api.get("/imports", response_model=list[imports.ImportStatus])
    async def listed(who: authed) -> list[imports.ImportStatus]:
        """The latest imports with their progress (a casemanager's own)."""
        require(who)
        return await imports.list_imports(client, started_by=None if who.role is Role.OPERATIONS else who.actor)

    @api.get("/imports/{import_id}", response_model=imports.ImportStatus)
    async def followed(import_id: ImportId, who: authed) -> imports.ImportStatus:
        """How far an import is: rows opened, found opened before, failed, and every problem by row and column."""
        require(who)
        try:
            found = await imports.read_status(client, import_id)
        except imports.ImportNotFound:
            found = None
        if found is None or (who.role is not Role.OPERATIONS and found.started_by != who.actor):
            raise problem(404, ActionRefused("import_id: no import %(value)r", value=import_id))
        return found


def _mapping(name: str, own: str | None) -> Any:
    if own is None:
        if name not in shipped_mappings():
            raise MappingError(f"{name}: no such mapping; shipped: {', '.join(shipped_mappings())}")
        return load_mapping(name)
    if len(own) > MAX_MAPPING_HEADER:
        raise MappingError(f"Import-Mapping: longer than {MAX_MAPPING_HEADER} characters")
    try:
        text = base64.b64decode(own, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise MappingError("Import-Mapping: not base64 of a UTF-8 text") from None
    return parse_mapping(text, "Import-Mapping")


async def _body(request: Request, problem: Callable[[int, ActionRefused], Exception]) -> bytes:
    """The upload, refused (413) as soon as it grows past what an import takes (the API's own limit does not apply
    to this route: operations.api.BodyLimit exempts it)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FILE_BYTES:
        raise problem(413, _too_large())
    chunks, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_FILE_BYTES:
            raise problem(413, _too_large())
        chunks.append(part)
    return b"".join(chunks)


def _too_large() -> ActionRefused:
    return ActionRefused("file: larger than the %(limit)s bytes an import takes (split the file)", limit=MAX_FILE_BYTES)
