"""The case list as CSV: `GET /api/cases.csv`, the overview's list for a spreadsheet, and `spoorwerk cases --csv`.

It takes the filters of `GET /api/cases` through the same dependency (`app.state.listing_filters`, which adds the
caller's scope), lists through the same `cases.page_cases`, and names the employee only where the overview does:
for the cases the caller passes the scope check on, read from each case (`api.case_details`). Every page is
followed, so the export holds every matching case, up to `MAX_ROWS`; a larger one is refused rather than cut short.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import Response
from temporalio.client import Client

from domain import glossary
from domain.errors import ActionRefused
from operations import api, cases, dashboard, people
from operations.auth import Authenticator, Caller
from service import i18n
from service.audit import AuditStore, Channel, What

# The most cases one export holds: enough for an installation's whole case load, small enough to build in memory.
MAX_ROWS = 10_000
PAGE_SIZE = 500  # the visibility store's largest page (api: page_size le=500)
# Column headers: the overview's own (msgids it translates already), plus the few it shows otherwise.
COLUMNS = (
    "Case",
    "Employer",
    "Employee",
    "Stage",
    "Week",
    "First sick day",
    "Next deadline",
    "Step",
    "Spoor 2 phase",
    "Coach",
    "Overdue",
    "Escalation",
)
# A spreadsheet takes a cell that starts with one of these as a formula: text typed by a person (a surname) is
# never to run as one in whoever opens the export.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Details = Callable[[Client, Caller, list[str]], Awaitable[dict[str, Any]]]


class TooMany(Exception):
    """More cases match than one export holds."""


async def export_rows(
    client: Client, caller: Caller, filters: dict[str, Any], *, sort: str | None = None, details: Details | None = None
) -> list[tuple[cases.CaseListing, str | None]]:
    """Every case matching `filters` (scope included) with its employee's name where the caller may read it, in the
    overview's order `sort` over the whole export (none: most recently opened first)."""
    found: list[cases.CaseListing] = []
    names: dict[str, str] = {}
    token: str | None = None
    while True:
        page = await cases.page_cases(client, page_size=PAGE_SIZE, page_token=token, **filters)
        found.extend(page.cases)
        if len(found) > MAX_ROWS:
            raise TooMany
        # Names per page, as the overview reads them: from each case, where the caller passes its scope check.
        names |= people.names(await (details or api.case_details)(client, caller, [c.case_id for c in page.cases]))
        token = page.next_page_token
        if not token:
            break
    if sort:
        found.sort(key=dashboard.OVERVIEW_SORTS[sort])
    return [(c, names.get(c.case_id)) for c in found]


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def cases_csv(rows: list[tuple[cases.CaseListing, str | None]], today: date) -> str:
    """The cases as a Dutch spreadsheet opens them: headers and the names of stages and steps in the reader's language
    (Dutch by default), dates as YYYY-MM-DD, `;` between columns.

    `;`, because Excel in a Dutch locale takes the comma as the decimal sign and splits a CSV on `;`; the caller puts
    the byte order mark in front (see `csv_response`)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([i18n.gettext(c) for c in COLUMNS])
    yes, no = i18n.gettext("yes"), i18n.gettext("no")
    for c, name in rows:
        week = dashboard._weeks_sick(c.first_sick_day, today)
        writer.writerow(
            [
                c.case_id,
                c.employer_id or "",
                _text(name) if name else "",
                i18n.gettext(glossary.stage_label(c.stage)) if c.stage else "",
                week if week is not None else "",
                c.first_sick_day.isoformat() if c.first_sick_day else "",
                c.next_deadline.isoformat() if c.next_deadline else "",
                dashboard.step_label(c.next_step) if c.next_step else "",
                c.spoor2_phase or "",
                c.coach_id or "",
                "" if c.overdue is None else yes if c.overdue else no,
                "" if c.escalation_level is None else c.escalation_level,
            ]
        )
    return out.getvalue()


def csv_response(text: str, today: date) -> Response:
    # UTF-8 with a byte order mark: without it Excel reads a CSV in the Windows code page, and "Doğan" or "Müller"
    # come out garbled.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="zaken-{today.isoformat()}.csv"'},
    )


def add_export_route(app: FastAPI, authenticator: Authenticator) -> None:
    """`GET /api/cases.csv` on the app, with the case list's own filter dependency (operations.api)."""
    router = APIRouter(prefix="/api")
    Authed = Annotated[Caller, Depends(api.caller_dependency(authenticator))]
    Filters = Annotated[dict[str, Any], Depends(app.state.listing_filters)]
    client: Client = app.state.client
    audit: AuditStore | None = app.state.readable_case.audit

    @router.get("/cases.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    async def cases_as_csv(
        who: Authed,
        filters: Filters,
        sort: Annotated[
            str | None,
            Query(
                pattern="^(" + "|".join(dashboard.OVERVIEW_SORTS) + ")$",
                description="The overview's orders, over the whole export; default most recently opened first",
            ),
        ] = None,
    ) -> Response:
        """The case list of `GET /api/cases` with the same filters, every page of it, as CSV for a spreadsheet (`;`,
        UTF-8 with a byte order mark, Dutch headers by default); the employee's name where the overview shows it."""
        if audit is not None:  # ids, employers, dates and names: a read, like the listing's
            await audit.arecord(who, What.CASES, channel=Channel.API)
        try:
            rows = await export_rows(client, who, filters, sort=sort)
        except TooMany:
            raise api.Problem(
                422, ActionRefused("filters: more than %(limit)s cases match; narrow the filters", limit=MAX_ROWS)
            ) from None
        today = api.today()
        return csv_response(cases_csv(rows, today), today)

    app.include_router(router)
