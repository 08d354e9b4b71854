"""`spoorwerk import`: take over running cases from another system's export (CSV or XLSX), and follow an import.

Through the API (`POST /api/imports`) with the token's role, or with --direct against Temporal itself as operations.
Every row is checked first and each problem is said by row and by the column as the file names it; the valid rows are
opened by a `CaseImport` workflow, followed here with a progress bar (rate and time left). Exit codes as the other
commands: 0 all rows opened (or found opened before), 1 a row refused or failed, 2 bad input, 3 unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

from service.i18n import _

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3
POLL_SECONDS = 0.5


class _Stop(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def add_import_parser(sub: Any, connection: Any) -> None:
    """Register `spoorwerk import` (with the case commands' --api, --token and --direct)."""
    imp = sub.add_parser(
        "import",
        parents=[connection],
        help=_("take over running cases from another system's export (CSV or XLSX)"),
        description=_(
            "Checks every row of the file and says each problem by row and column; then opens the valid rows as "
            "cases, with a progress bar. Running the same file again opens nothing twice. The mapping says which "
            "column holds what (docs/import.md)."
        ),
    )
    imp.add_argument("file", nargs="?", type=Path, metavar="FILE", help=_("the export, .csv or .xlsx"))
    imp.add_argument(
        "--mapping",
        default="generic",
        metavar="NAME|FILE.toml",
        help=_("a shipped mapping by name, or a mapping file of your own (default %(name)s)", name="generic"),
    )
    imp.add_argument("--format", choices=("csv", "xlsx"), help=_("default: by the file's name"))
    imp.add_argument("--dry-run", action="store_true", help=_("check every row and show what would be opened"))
    imp.add_argument("--follow", metavar="IMPORT_ID", help=_("follow an import that was started before"))
    imp.add_argument("--list", action="store_true", help=_("list the latest imports"))
    imp.add_argument("--no-wait", action="store_true", help=_("start the import and print its id without following"))
    imp.add_argument("--json", action="store_true", help=_("print JSON instead of tables"))
    imp.set_defaults(func=import_command)


def import_command(args: argparse.Namespace) -> int:
    chosen = [bool(args.file), bool(args.follow), bool(args.list)]
    if sum(chosen) != 1:
        print(_("spoorwerk: error: %(problem)s", problem=_("give FILE, --follow IMPORT_ID or --list")), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        data, mapping_text = _read_files(args)
        return asyncio.run(_run(args, data, mapping_text))
    except _Stop as stop:
        print(f"spoorwerk: {stop}", file=sys.stderr)
        return stop.code


def _read_files(args: argparse.Namespace) -> tuple[bytes, str | None]:
    """The export's bytes and, for a mapping file of one's own, its text (read before anything is asked)."""
    data, mapping_text = b"", None
    try:
        if args.file:
            data = args.file.read_bytes()
        if args.mapping.endswith(".toml"):
            mapping_text = Path(args.mapping).read_text("utf-8")
    except OSError as err:
        raise _Stop(EXIT_BAD_INPUT, _("%(file)s: %(error)s", file=err.filename, error=err.strerror)) from None
    return data, mapping_text


async def _run(args: argparse.Namespace, data: bytes, mapping_text: str | None) -> int:
    backend: _Http | _Direct = _Direct(args.actor_id) if args.direct else _Http(args.api, _token(args))
    await backend.connect()
    try:
        if args.list:
            return _print_list(await backend.listed(), args.json)
        if args.follow:
            return await _follow(backend, args.follow, args.json)
        found = await backend.upload(data, args.file.name, args.format, args.mapping, mapping_text, args.dry_run)
        if args.json and (args.dry_run or args.no_wait or not found.get("import_id")):
            print(json.dumps(found, indent=2, ensure_ascii=False))
            return EXIT_REFUSED if found["refused_rows"] else 0
        _print_report(found)
        if not found.get("import_id") or args.no_wait:
            return EXIT_REFUSED if found["refused_rows"] else 0
        return await _follow(backend, found["import_id"], args.json)
    finally:
        await backend.close()


def _print_problems(problems: list[dict[str, Any]]) -> None:
    if not problems:
        return
    headers = (_("row"), _("column"), _("problem"))
    rows = [(str(p["row"]), p["column"] or "–", p["message"]) for p in problems]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:2])]
    for row in [headers, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}")


def _print_report(found: dict[str, Any]) -> None:
    print(
        _(
            "%(rows)s rows read: %(valid)s valid, %(refused)s refused",
            rows=found["rows"],
            valid=found["valid"],
            refused=found["refused_rows"],
        )
    )
    _print_problems(found["problems"])
    if found["refused_rows"] > len(found["problems"]):
        print(_("(the first %(shown)s problems are shown)", shown=len(found["problems"])))
    if found["dry_run"]:
        print(_("Dry run: nothing was opened. These rows would be opened:"))
        for w in found["would_open"]:
            print(f"  {w['row']:>6}  {w['case_id']}  {w['employer_id']}  {w['first_sick_day']}  {w['stage'] or ''}")
    elif found.get("import_id"):
        print(_("Import %(id)s started (follow it with: spoorwerk import --follow %(id)s)", id=found["import_id"]))
    else:
        print(_("No valid rows: nothing was opened."))


async def _follow(backend: Any, import_id: str, as_json: bool, console: Any = None) -> int:
    """Poll the import until it is done, drawing its progress as a bar with rate and time left on stderr (when it is a
    terminal, or on the `console` given), so stdout keeps the results alone."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    console = console or Console(stderr=True)

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(_("%(rate)s rows/s", rate=f"{speed:.0f}") if speed else _("– rows/s"))

    found = await backend.status(import_id)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TextColumn(_("left")),
        TimeRemainingColumn(),
        disable=as_json or not console.is_terminal,
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(_("opening cases"), total=found["rows"], completed=found["done"])
        while found["running"]:
            await asyncio.sleep(POLL_SECONDS)
            found = await backend.status(import_id)
            bar.update(task, completed=found["done"])
        bar.update(task, completed=found["done"])
    if as_json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        print(
            _(
                "Import %(id)s: %(opened)s opened, %(existed)s opened before (not again), %(failed)s failed, "
                "%(refused)s rows refused",
                id=import_id,
                opened=found["opened"],
                existed=found["existed"],
                failed=found["failed"],
                refused=found["refused_rows"],
            )
        )
        _print_problems(found["problems"])
    return EXIT_REFUSED if found["failed"] or found["refused_rows"] else 0


def _print_list(found: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    if not found:
        print(_("No imports."))
    for s in found:
        state = _("running") if s["running"] else _("done")
        print(
            f"{s['import_id']}  {s['started_at'][:19]}  {state:<8}  {s['done']}/{s['rows']}  "
            + _(
                "opened %(opened)s, before %(existed)s, failed %(failed)s, refused %(refused)s",
                opened=s["opened"],
                existed=s["existed"],
                failed=s["failed"],
                refused=s["refused_rows"],
            )
        )
    return 0


def _token(args: argparse.Namespace) -> str | None:
    """As the other commands: --token, SPOORWERK_API_TOKEN, else the embedded service's operations token."""
    if args.token:
        return str(args.token)
    if os.environ.get("SPOORWERK_API_TOKEN"):
        return os.environ["SPOORWERK_API_TOKEN"]
    from service.settings import Settings

    try:
        return Settings().api_token_file.read_text("utf-8").strip() or None
    except (OSError, ValueError):
        return None


class _Http:
    """The API, as the token's caller."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self.token = url.rstrip("/"), token
        self.client: Any = None

    async def connect(self) -> None:
        import httpx

        from service import i18n

        headers = {
            "Accept-Language": i18n.language(),
            **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
        }
        self.client = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=300)

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            r = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise _Stop(
                EXIT_UNREACHABLE, _("cannot reach the Spoorwerk API at %(url)s (%(error)s)", url=self.url, error=err)
            ) from None
        if r.is_success:
            return r.json()
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text[:500]
        code = EXIT_UNREACHABLE if r.status_code in (502, 503, 504) else EXIT_REFUSED
        raise _Stop(code, _("refused (HTTP %(status)s): %(reason)s", status=r.status_code, reason=detail))

    async def upload(
        self, data: bytes, filename: str, fmt: str | None, mapping: str, mapping_text: str | None, dry_run: bool
    ) -> dict[str, Any]:
        params = {"filename": filename, "dry_run": str(dry_run).lower()}
        headers = {"Content-Type": "application/octet-stream"}
        if fmt:
            params["format"] = fmt
        if mapping_text is not None:
            headers["Import-Mapping"] = base64.b64encode(mapping_text.encode()).decode()
        else:
            params["mapping"] = mapping
        return await self._call("POST", "/api/imports", params=params, content=data, headers=headers)

    async def status(self, import_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/api/imports/{import_id}")

    async def listed(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/api/imports")


class _Direct:
    """Temporal itself, with the worker's settings from the environment, as the role operations."""

    def __init__(self, actor_id: str) -> None:
        from domain.models import Actor, Role

        self.actor = Actor(role=Role.OPERATIONS, id=actor_id)
        self.client: Any = None

    async def connect(self) -> None:
        from pydantic import ValidationError

        from service.settings import Settings
        from service.temporal import connect

        try:
            self.settings = Settings()
        except ValidationError as err:
            raise _Stop(EXIT_BAD_INPUT, _("configuration: %(problems)s", problems=err.errors()[0]["msg"])) from None
        try:
            self.client = await asyncio.wait_for(connect(self.settings), timeout=60)
        except (OSError, RuntimeError, ValueError, asyncio.TimeoutError) as err:
            raise _Stop(EXIT_UNREACHABLE, _("cannot reach Temporal: %(detail)s", detail=str(err)[:300])) from None

    async def close(self) -> None:
        return None

    async def upload(
        self, data: bytes, filename: str, fmt: str | None, mapping: str, mapping_text: str | None, dry_run: bool
    ) -> dict[str, Any]:
        from documents.store import store_from_settings
        from domain.errors import ActionRefused
        from operations import imports
        from operations.import_mapping import MappingError, load_mapping, parse_mapping
        from operations.people import search_key
        from service import refusals

        try:
            chosen = parse_mapping(mapping_text, mapping) if mapping_text is not None else load_mapping(mapping)
        except MappingError as err:
            raise _Stop(EXIT_BAD_INPUT, _("mapping: %(reason)s", reason=err)) from None
        try:
            checked = imports.check_file(
                data, chosen, filename=filename, fmt=fmt, key=search_key(self.settings), opened_by=self.actor
            )
        except ActionRefused as err:
            raise _Stop(EXIT_REFUSED, refusals.said(err)) from None
        import_id = None
        if not dry_run:
            import_id = await imports.start_import(
                self.client,
                store_from_settings(self.settings),
                checked,
                started_by=self.actor,
                task_queue=self.settings.task_queue,
            )
        return imports.report(checked, import_id, dry_run=dry_run).model_dump(mode="json")

    async def status(self, import_id: str) -> dict[str, Any]:
        from operations import imports

        try:
            found = await imports.read_status(self.client, import_id)
        except imports.ImportNotFound:
            raise _Stop(EXIT_REFUSED, _("import_id: no import %(value)r", value=import_id)) from None
        return found.model_dump(mode="json")

    async def listed(self) -> list[dict[str, Any]]:
        from operations import imports

        return [s.model_dump(mode="json") for s in await imports.list_imports(self.client)]
