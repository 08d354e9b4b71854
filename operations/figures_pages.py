"""The dashboard's figures page (`GET /cijfers`): per employer in the caller's scope, a chart per verzuim figure over
the periods asked for, the numbers beside them in a table, and the same as CSV (the API's `/api/figures.csv`).
Scope and numbers come from the same functions as the API (operations.figures_routes)."""

# No `from __future__ import annotations`: FastAPI reads the annotations of the routes.

from datetime import date
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup

from documents.figures_chart import Series, bar_chart
from domain.errors import ActionRefused
from domain.figures import DURATION_CLASSES, Figures, PeriodKind
from operations import pages
from operations.figures_routes import figures_in, resolve_scope, store_of
from operations.signin import page_caller
from service import i18n, refusals
from service.i18n import N_, _

PERIOD_LABELS = {PeriodKind.MONTH: N_("month"), PeriodKind.QUARTER: N_("quarter"), PeriodKind.YEAR: N_("year")}


class _Refused(Exception):
    def __init__(self, status: int, refusal: ActionRefused) -> None:
        super().__init__(str(refusal))
        self.status, self.refusal = status, refusal


def number(value: float | None) -> str:
    """A figure as the page's language writes it (15,56 in Dutch); a dash for none."""
    return "–" if value is None else i18n.format_number(value, "#,##0.##")


def _charts(found: list[Figures]) -> list[Markup]:
    labels = [f.period for f in found]
    charts = [
        bar_chart(
            _("Verzuimpercentage"),
            labels,
            [
                Series(_("Vernet (part-time and incapacity factors)"), [f.verzuimpercentage for f in found]),
                Series(_("CBS (calendar days)"), [f.verzuimpercentage_cbs for f in found]),
            ],
            unit="%",
            name="verzuimpercentage",
            shown=number,
        ),
        bar_chart(
            _("Meldingsfrequentie (sick reports per employee per year)"),
            labels,
            [Series(_("Meldingsfrequentie"), [f.meldingsfrequentie for f in found])],
            name="meldingsfrequentie",
            shown=number,
        ),
        bar_chart(
            _("Gemiddelde verzuimduur of the cases ended (days)"),
            labels,
            [Series(_("Gemiddelde verzuimduur"), [f.gemiddelde_verzuimduur for f in found])],
            name="verzuimduur",
            shown=number,
        ),
        bar_chart(
            _("Cases by duration (days)"),
            labels,
            [
                Series(_("%(low)s–%(high)s days", low=low, high=high), [float(f.duration_classes[c]) for f in found])
                for c, low, high in DURATION_CLASSES
            ],
            name="duurklassen",
            shown=number,
            stacked=True,
        ),
    ]
    return [Markup(c) for c in charts]  # every text and attribute in it was escaped as it was drawn


def add_figures_page(app: FastAPI) -> None:
    @app.get("/cijfers", include_in_schema=False)
    async def figures_page(request: Request) -> Response:
        caller = await page_caller(request)
        if caller is None:
            return pages.to_login(request)
        request.state.caller = caller
        query = request.query_params
        try:
            kind = PeriodKind(query.get("period") or PeriodKind.QUARTER.value)
            first = date.fromisoformat(query["from"]) if query.get("from") else None
            last = date.fromisoformat(query["to"]) if query.get("to") else None
        except ValueError:
            kind, first, last = PeriodKind.QUARTER, None, None
        try:
            engine = store_of(request, _Refused)
            scope = await resolve_scope(engine, caller, _Refused, query.get("employer_id") or None, kind, first, last)
            found = await figures_in(engine, scope)
        except _Refused as refused:
            return pages.render(
                request,
                "error.html",
                refused.status,
                caller=caller,
                title=_("No figures"),
                reason=refusals.said(refused.refusal),
            )
        employers = []
        for employer_id in scope.employers:
            own = [f for f in found if f.employer_id == employer_id]
            employers.append({"id": employer_id, "figures": own, "charts": _charts(own)})
        csv_link = "/api/figures.csv?" + urlencode(
            {"period": scope.kind.value, "from": scope.first.isoformat(), "to": scope.last.isoformat()}
        )
        return pages.render(
            request,
            "figures.html",
            caller=caller,
            employers=employers,
            scope=scope,
            kinds=[(k.value, _(label)) for k, label in PERIOD_LABELS.items()],
            csv_link=csv_link,
            classes=[c for c, _low, _high in DURATION_CLASSES],
            number=number,
        )
