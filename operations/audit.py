"""The read audit in the API: `GET /api/audit`, for operations only ("who saw this employee's dossier").

The route records its own reads (what=audit), refused ones included, so looking at the audit leaves a trace too.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from domain.models import OPAQUE_ID_PATTERN, Role
from service.audit import MAX_PAGE, AuditPage, AuditStore, Channel, Outcome, What


def add_audit_routes(api: APIRouter, store: AuditStore, Authed: Any, Problem: Any) -> None:
    """Add GET /audit to `api` (the /api router); `Authed` is the caller dependency, `Problem(status, reason)`
    the API's error."""

    @api.get("/audit", response_model=AuditPage)
    async def read_audit(
        who: Authed,
        case_id: Annotated[str | None, Query(pattern=OPAQUE_ID_PATTERN, description="reads of this case")] = None,
        reader_id: Annotated[str | None, Query(pattern=OPAQUE_ID_PATTERN, description="reads by this caller")] = None,
        reader_role: Annotated[Role | None, Query(description="reads in this role")] = None,
        what: Annotated[What | None, Query(description="reads of this kind")] = None,
        outcome: Annotated[Outcome | None, Query()] = None,
        since: Annotated[date | None, Query(description="from this day on (Amsterdam calendar day)")] = None,
        until: Annotated[date | None, Query(description="up to and including this day")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[int | None, Query(ge=1, description="an earlier page's next_cursor")] = None,
    ) -> AuditPage:
        """Recorded reads of cases, dossiers, documents and decoded payloads matching every filter, newest first."""
        if who.role is not Role.OPERATIONS:
            await store.arecord(who, What.AUDIT, case_id=case_id, outcome=Outcome.REFUSED, channel=Channel.API)
            raise Problem(403, f"a {who.role.value} may not read the audit (allowed: operations)")
        try:
            page = await asyncio.to_thread(  # off the event loop: a query may scan many rows
                store.query,
                case_id=case_id,
                reader_id=reader_id,
                reader_role=reader_role,
                what=what,
                outcome=outcome,
                since=since,
                until=until,
                limit=limit,
                cursor=cursor,
            )
        except ValueError as err:  # until before since, or a date at the edge of the calendar
            raise Problem(422, str(err)) from None
        await store.arecord(who, What.AUDIT, case_id=case_id, channel=Channel.API)
        return page
