"""The verzuim figures from the API: `GET /api/figures` (JSON), `GET /api/figures.csv` (for a spreadsheet), and an
employer's employment data put in (`PUT /api/figures/employment/{employer_id}`, the file itself as the body).

Every answer passes the figures' scope (domain.figures_access): an employer sees its own figures only. The figures
are computed from the reporting store (service.reporting) at each request, by domain.figures.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
import csv
import io
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Engine

from domain.errors import ActionRefused
from domain.figures import DURATION_CLASSES, Figures, PeriodKind, periods_between
from domain.figures_access import figure_employers
from domain.nl_time import local_date
from operations.api import app_search_key
from operations.auth import Caller
from operations.employment_file import check_employment
from operations.import_file import MAX_FILE_BYTES
from service import refusals, reporting

MAX_PERIODS = 120
EmployerId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$", description="The employer's id")]


class Scope(BaseModel):
    """What a figures request asks for, checked against the caller's scope."""

    employers: list[str]
    kind: PeriodKind
    first: date
    last: date


class EmploymentProblem(BaseModel):
    row: int
    column: str
    message: str


class EmploymentReport(BaseModel):
    employer_id: str
    rows: int
    problems: list[EmploymentProblem]


def store_of(request: Request, problem: Callable[[int, ActionRefused], Exception]) -> Engine:
    engine: Engine | None = getattr(request.app.state, "reporting", None)
    if engine is None:
        raise problem(503, ActionRefused("the reporting store is not configured on this service"))
    return engine


def allowed_employers(caller: Caller, problem: Callable[[int, ActionRefused], Exception]) -> frozenset[str] | None:
    try:
        return figure_employers(caller.role, caller.employer_id, caller.employer_ids)
    except ActionRefused as refusal:
        raise problem(403, refusal) from None


async def resolve_scope(
    engine: Engine,
    caller: Caller,
    problem: Callable[[int, ActionRefused], Exception],
    employer_id: str | None,
    kind: PeriodKind,
    first: date | None,
    last: date | None,
) -> Scope:
    """The employers and periods asked for, within the caller's scope; refusals name the parameter."""
    allowed = allowed_employers(caller, problem)
    last = last or local_date(datetime.now(timezone.utc))
    first = first or date(last.year - 1, 1, 1)
    if first > last:
        raise problem(422, ActionRefused("from: %(first)s is after to %(last)s", first=first, last=last))
    if len(periods_between(kind, first, min(last, first + timedelta(days=MAX_PERIODS * 31)))) > MAX_PERIODS:
        raise problem(422, ActionRefused("from: more than %(limit)s periods asked for", limit=MAX_PERIODS))
    if employer_id is not None:
        if allowed is not None and employer_id not in allowed:
            raise problem(
                403,
                ActionRefused(
                    "employer_id: %(employer)s is no employer whose figures you may see", employer=employer_id
                ),
            )
        employers = [employer_id]
    else:
        known = await asyncio.to_thread(reporting.employer_ids, engine)
        employers = [e for e in known if allowed is None or e in allowed]
        if allowed is not None:  # an employer of one's own without data yet still shows, with empty figures
            employers = sorted(set(employers) | set(allowed))
    return Scope(employers=employers, kind=kind, first=first, last=last)


async def figures_in(engine: Engine, scope: Scope) -> list[Figures]:
    today = local_date(datetime.now(timezone.utc))  # no day after today counts (a running period's days so far)
    return await asyncio.to_thread(
        reporting.figures_for, engine, scope.employers, scope.kind, scope.first, scope.last, today
    )


CSV_COLUMNS = (
    "employer_id",
    "period",
    "start",
    "end",
    "verzuimpercentage",
    "verzuimpercentage_cbs",
    "meldingsfrequentie",
    "gemiddelde_verzuimduur",
    "sick_reports",
    "cases_ended",
    "average_headcount",
    *(f"duur_{label.replace('-', '_')}" for label, _low, _high in DURATION_CLASSES),
    "cases_without_employment",
)


def figures_csv(found: list[Figures]) -> str:
    """The figures as a Dutch spreadsheet opens them: `;` between columns, a decimal comma, dates as YYYY-MM-DD."""

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:g}".replace(".", ",")
        return str(value)

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in found:
        row = f.model_dump()
        classes = row.pop("duration_classes")
        row |= {f"duur_{label.replace('-', '_')}": classes[label] for label, _low, _high in DURATION_CLASSES}
        writer.writerow([cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def add_figures_routes(app: FastAPI, caller: Any, problem: Callable[[int, ActionRefused], Exception]) -> None:
    """Register the figures' API routes on the app (operations.app), with the API's caller dependency."""
    api = APIRouter(prefix="/api", tags=["figures"])
    Authed = Annotated[Caller, Depends(caller)]
    Kind = Annotated[PeriodKind, Query(description="month, quarter or year")]
    First = Annotated[date | None, Query(alias="from", description="Default: 1 January of last year")]
    Last = Annotated[date | None, Query(alias="to", description="Default: today")]
    Employer = Annotated[str | None, Query(max_length=64, description="Default: every employer you may see")]

    @api.get("/figures", response_model=list[Figures])
    async def figures(
        request: Request,
        who: Authed,
        employer_id: Employer = None,
        period: Kind = PeriodKind.QUARTER,
        first: First = None,
        last: Last = None,
    ) -> list[Figures]:
        """The verzuim figures per employer and period (docs/figures.md), within your scope."""
        engine = store_of(request, problem)
        return await figures_in(engine, await resolve_scope(engine, who, problem, employer_id, period, first, last))

    @api.get("/figures.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    async def figures_as_csv(
        request: Request,
        who: Authed,
        employer_id: Employer = None,
        period: Kind = PeriodKind.QUARTER,
        first: First = None,
        last: Last = None,
    ) -> Response:
        """The same figures as CSV (`;`, decimal comma: a Dutch spreadsheet opens it as it is)."""
        engine = store_of(request, problem)
        scope = await resolve_scope(engine, who, problem, employer_id, period, first, last)
        text = figures_csv(await figures_in(engine, scope))
        name = f"verzuimcijfers-{scope.kind.value}-{scope.first}-{scope.last}.csv"
        return Response(
            "\ufeff" + text,  # the mark by which Excel reads UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.put(
        "/figures/employment/{employer_id}",
        response_model=EmploymentReport,
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The employment data itself, CSV or XLSX (docs/figures.md)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        },
    )
    async def put_employment(
        request: Request,
        who: Authed,
        employer_id: EmployerId,
        filename: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Any:
        """Replace the employer's employment data (headcount, part-time factors) with the file's; nothing is stored
        while a row is wrong, and each problem is named by row and column."""
        allowed = allowed_employers(who, problem)
        if allowed is not None and employer_id not in allowed:
            raise problem(
                403,
                ActionRefused(
                    "employer_id: %(employer)s is no employer whose figures you may see", employer=employer_id
                ),
            )
        engine = store_of(request, problem)
        data = await request.body()
        if not data or len(data) > MAX_FILE_BYTES:
            raise problem(422, ActionRefused("file: empty or larger than %(limit)s bytes", limit=MAX_FILE_BYTES))
        checked = await asyncio.to_thread(check_employment, data, filename, employer_id, app_search_key(request.app))
        problems = [
            EmploymentProblem(row=p.row, column=p.column, message=refusals.say(p.template, p.params))
            for p in checked.problems
        ]
        if problems:
            report = EmploymentReport(employer_id=employer_id, rows=0, problems=problems)
            return JSONResponse(report.model_dump(), status_code=422)
        stored = await asyncio.to_thread(reporting.replace_employment, engine, employer_id, checked.rows)
        return EmploymentReport(employer_id=employer_id, rows=stored, problems=[])

    app.include_router(api)
