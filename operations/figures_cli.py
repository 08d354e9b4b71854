"""`spoorwerk figures`: the verzuim figures as CSV, an employer's employment data put in, and the store rebuilt.

    spoorwerk figures [--employer E] [--period month|quarter|year] [--from DAY] [--to DAY]   # CSV on stdout
    spoorwerk figures employment FILE --employer E                                          # headcount, factors
    spoorwerk figures rebuild [--employer E]                                                # from the cases

The first two go through the API with the token's scope (or --direct: the reporting store itself, as operations);
`rebuild` always talks to Temporal and the store directly, as operations. Exit codes as the other commands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from service.i18n import _

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3


def add_figures_parser(sub: Any, connection: Any) -> None:
    """Register `spoorwerk figures` (with the case commands' --api, --token and --direct)."""
    fig = sub.add_parser(
        "figures",
        parents=[connection],
        help=_("verzuim figures per employer and period, as CSV; employment data; rebuild the store"),
        description=_(
            "Without a subcommand: the verzuim figures (verzuimpercentage by Vernet and CBS, meldingsfrequentie, "
            "average duration, duration classes) as CSV. 'employment FILE --employer E' replaces an employer's "
            "employment data (CSV or XLSX: personeelsnummer, in_dienst, uit_dienst, deeltijdfactor). 'rebuild' "
            "derives the reporting store again from every case, running or closed (docs/figures.md)."
        ),
    )
    fig.add_argument("what", nargs="?", choices=("csv", "employment", "rebuild"), default="csv")
    fig.add_argument("file", nargs="?", type=Path, metavar="FILE", help=_("with employment: the file"))
    fig.add_argument("--employer", metavar="EMPLOYER_ID", help=_("one employer (default: all you may see)"))
    fig.add_argument("--period", choices=("month", "quarter", "year"), default="quarter")
    fig.add_argument("--from", dest="first", type=date.fromisoformat, metavar="YYYY-MM-DD")
    fig.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD")
    fig.set_defaults(func=figures_command)


def _say(message: str) -> None:
    print(_("spoorwerk: error: %(problem)s", problem=message), file=sys.stderr)


def figures_command(args: argparse.Namespace) -> int:
    if args.what == "rebuild":
        return asyncio.run(_rebuild(args.employer))
    if args.what == "employment":
        if args.file is None or not args.employer:
            _say(_("give FILE and --employer"))
            return EXIT_BAD_INPUT
        try:
            data = args.file.read_bytes()
        except OSError as err:
            _say(_("%(file)s: %(error)s", file=err.filename, error=err.strerror))
            return EXIT_BAD_INPUT
        return _direct_employment(args, data) if args.direct else _api_employment(args, data)
    return _direct_csv(args) if args.direct else _api_csv(args)


def _params(args: argparse.Namespace) -> dict[str, str]:
    given = {"period": args.period, "employer_id": args.employer, "from": args.first, "to": args.last}
    return {k: str(v) for k, v in given.items() if v is not None}


def _http(args: argparse.Namespace) -> Any:
    import httpx

    from operations.import_cli import _token
    from service import i18n

    token = _token(args)
    headers = {"Accept-Language": i18n.language(), **({"Authorization": f"Bearer {token}"} if token else {})}
    return httpx.Client(base_url=args.api.rstrip("/"), headers=headers, timeout=120)


def _answered(response: Any) -> int:
    if response.status_code < 400:
        return 0
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    _say(f"{response.status_code}: {detail}")
    return EXIT_REFUSED


def _api_csv(args: argparse.Namespace) -> int:
    import httpx

    try:
        with _http(args) as http:
            r = http.get("/api/figures.csv", params=_params(args))
    except httpx.HTTPError as err:
        _say(_("cannot reach the API at %(url)s: %(detail)s", url=args.api, detail=str(err)[:200]))
        return EXIT_UNREACHABLE
    code = _answered(r)
    if code == 0:
        sys.stdout.write(r.content.decode("utf-8-sig"))
    return code


def _api_employment(args: argparse.Namespace, data: bytes) -> int:
    import httpx

    try:
        with _http(args) as http:
            r = http.put(f"/api/figures/employment/{args.employer}", params={"filename": args.file.name}, content=data)
    except httpx.HTTPError as err:
        _say(_("cannot reach the API at %(url)s: %(detail)s", url=args.api, detail=str(err)[:200]))
        return EXIT_UNREACHABLE
    if r.status_code == 422 and "problems" in r.text:
        _print_problems(r.json()["problems"])
        return EXIT_REFUSED
    code = _answered(r)
    if code == 0:
        print(_("%(rows)s employments of %(employer)s stored", rows=r.json()["rows"], employer=args.employer))
    return code


def _print_problems(problems: list[dict[str, Any]]) -> None:
    print(_("Nothing was stored; correct these rows and put the file in again:"), file=sys.stderr)
    for p in problems:
        print(f"  {_('row')} {p['row']}  {p['column'] or '–'}  {p['message']}", file=sys.stderr)


def _store() -> Any:
    from service.reporting import open_store
    from service.settings import Settings

    settings = Settings()
    return settings, open_store(settings.reporting_database)


def _direct_csv(args: argparse.Namespace) -> int:
    from domain.figures import PeriodKind
    from domain.nl_time import local_date
    from operations.figures_routes import figures_csv
    from service.reporting import employer_ids, figures_for

    _settings, engine = _store()
    last = args.last or local_date(datetime.now(timezone.utc))
    first = args.first or date(last.year - 1, 1, 1)
    employers = [args.employer] if args.employer else employer_ids(engine)
    today = local_date(datetime.now(timezone.utc))
    sys.stdout.write(figures_csv(figures_for(engine, employers, PeriodKind(args.period), first, last, today)))
    return 0


def _direct_employment(args: argparse.Namespace, data: bytes) -> int:
    from operations.employment_file import check_employment
    from operations.people import search_key
    from service import refusals
    from service.reporting import replace_employment

    settings, engine = _store()
    checked = check_employment(data, args.file.name, args.employer, search_key(settings))
    if checked.problems:
        _print_problems(
            [
                {"row": p.row, "column": p.column, "message": refusals.say(p.template, p.params)}
                for p in checked.problems
            ]
        )
        return EXIT_REFUSED
    rows = replace_employment(engine, args.employer, checked.rows)
    print(_("%(rows)s employments of %(employer)s stored", rows=rows, employer=args.employer))
    return 0


async def _rebuild(employer_id: str | None) -> int:
    from domain.nl_time import local_date
    from operations.figures_rebuild import rebuild
    from service.temporal import connect

    settings, engine = _store()
    try:
        client = await asyncio.wait_for(connect(settings), timeout=60)
    except (OSError, RuntimeError, ValueError, asyncio.TimeoutError) as err:
        _say(_("cannot reach Temporal: %(detail)s", detail=str(err)[:300]))
        return EXIT_UNREACHABLE
    done = await rebuild(client, engine, local_date(datetime.now(timezone.utc)), employer_id=employer_id)
    print(_("%(written)s of %(cases)s cases written to the reporting store", written=done.written, cases=done.cases))
    for failed in done.failed:
        print(_("not written: %(case)s", case=failed), file=sys.stderr)
    return EXIT_REFUSED if done.failed else 0
