"""The read audit: recorded and queried on SQLite and on a real PostgreSQL server, append-only by the
database itself, served to operations only at GET /api/audit (uvicorn on loopback), and `spoorwerk audit`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from domain.models import Role
from operations.audit import add_audit_routes
from operations.auth import Caller
from operations.cli import main as cli
from service.audit import AuditStore, Channel, Outcome, What
from service.db import open_database
from service.settings import Settings
from tests.loopback import free_port

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
OPS = Caller(role=Role.OPERATIONS, id="ops-1")
ARTS = Caller(role=Role.BEDRIJFSARTS, id="arts-1")
HR = Caller(role=Role.WERKGEVER, id="hr-1", employer_id="E-1")
COACH = Caller(role=Role.REINTEGRATIECOACH, id="coach-1")


def spoorwerk() -> str:
    """The installed `spoorwerk` command of this environment."""
    beside = Path(sys.executable).parent / "spoorwerk"
    return str(beside) if beside.exists() else shutil.which("spoorwerk") or pytest.fail("spoorwerk is not installed")


class Clock:
    """A clock the test moves: each call answers the current time, then steps one minute on."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.threads: list[int] = []  # the threads that asked for the time

    def __call__(self) -> datetime:
        self.threads.append(threading.get_ident())
        at, self.now = self.now, self.now + timedelta(minutes=1)
        return at


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Iterator[tuple[str, sqlalchemy.Engine]]:
    """An engine on an empty database of the test's own, from `open_database` as the service opens it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'spoorwerk.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    engine = open_database(url)
    yield request.param, engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(backend, clock) -> AuditStore:
    return AuditStore(backend[1], clock=clock)


def _rows(engine: sqlalchemy.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sqlalchemy.text(
                    "SELECT id, reader_role, reader_id, what, case_id, object_id, outcome, channel FROM read_audit ORDER BY id"
                )
            )
        ]


# --------------------------------------------------------------------------- the store, on both databases


def test_reads_come_back_newest_first_with_who_what_when_and_outcome(store):
    first = store.record(OPS, What.CASE, case_id="C-1")
    store.record(ARTS, What.DOSSIER, case_id="C-1", channel=Channel.DASHBOARD)
    store.record(HR, "document", case_id="C-1", object_id="order-1:v2.pdf", outcome="refused")
    last = store.record(COACH, What.STATE, case_id="C-404", outcome=Outcome.NOT_FOUND)
    page = store.query()
    assert [r.id for r in page.records] == [last, last - 1, last - 2, first] and page.next_cursor is None
    doc = page.records[1]
    assert (doc.reader_role, doc.reader_id, doc.what, doc.case_id, doc.object_id, doc.outcome, doc.channel) == (
        "werkgever",
        "hr-1",
        What.DOCUMENT,
        "C-1",
        "order-1:v2.pdf",
        Outcome.REFUSED,
        Channel.API,
    )
    # The clock's times, in UTC, on either database.
    assert [r.at for r in reversed(page.records)] == [START + timedelta(minutes=i) for i in range(4)]
    assert all(r.at.utcoffset() == timedelta(0) for r in page.records)


def test_who_saw_this_employees_dossier_with_every_filter(store, clock):
    store.record(OPS, What.DOSSIER, case_id="C-1")
    store.record(ARTS, What.DOSSIER, case_id="C-1", channel="dashboard")
    store.record(HR, What.DOSSIER, case_id="C-1", outcome="refused")
    store.record(ARTS, What.DOSSIER, case_id="C-2")
    store.record(ARTS, What.CODEC_DECODE)
    clock.now = datetime(2026, 3, 4, 23, 30, tzinfo=timezone.utc)  # 5 March, 00:30 in Amsterdam
    late = store.record(OPS, What.CASE, case_id="C-1")

    def who(**filters) -> list[tuple[str, str | None]]:
        return [(r.reader_id, r.case_id) for r in store.query(**filters).records]

    assert who(case_id="C-1", what="dossier") == [("hr-1", "C-1"), ("arts-1", "C-1"), ("ops-1", "C-1")]
    assert who(case_id="C-1", what="dossier", outcome="allowed") == [("arts-1", "C-1"), ("ops-1", "C-1")]
    assert who(reader_id="arts-1") == [("arts-1", None), ("arts-1", "C-2"), ("arts-1", "C-1")]
    assert who(reader_role=Role.WERKGEVER) == [("hr-1", "C-1")]
    assert who(channel="dashboard") == [("arts-1", "C-1")]
    assert who(case_id="C-3") == []
    # Dates are Amsterdam calendar days, `until` included.
    assert [r.id for r in store.query(since=date(2026, 3, 5)).records] == [late]
    assert len(store.query(until=date(2026, 3, 4)).records) == 5
    assert len(store.query(since=date(2026, 3, 1), until=date(2026, 3, 1)).records) == 5
    assert store.query(until=date(2026, 2, 28)).records == []
    with pytest.raises(ValueError, match="until: before since"):
        store.query(since=date(2026, 3, 2), until=date(2026, 3, 1))


def test_pages_follow_each_other_without_gaps_or_repeats(store):
    ids = [store.record(OPS, What.CASE, case_id=f"C-{i}") for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = store.query(limit=3, cursor=cursor)
        seen += [r.id for r in page.records]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids[::-1] and pages == 3
    with pytest.raises(ValueError, match="limit"):
        store.query(limit=501)


def test_the_database_itself_refuses_to_change_or_remove_a_read(backend, store):
    name, engine = backend
    store.record(OPS, What.DOSSIER, case_id="C-1")
    store.record(ARTS, What.DOSSIER, case_id="C-1")
    before = _rows(engine)
    statements = [
        "UPDATE read_audit SET reader_id = 'someone-else'",
        "DELETE FROM read_audit WHERE reader_id = 'arts-1'",
        "DELETE FROM read_audit",
    ]
    if name == "postgresql":
        statements.append("TRUNCATE read_audit")
    for sql in statements:
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="read_audit is append-only"):
            with engine.begin() as conn:
                conn.execute(sqlalchemy.text(sql))
    assert _rows(engine) == before
    # Adding goes on working after the refusals.
    store.record(HR, What.CASE, case_id="C-1", outcome="refused")
    assert len(_rows(engine)) == 3


def test_the_store_offers_no_way_to_change_a_read():
    assert {n for n in dir(AuditStore) if not n.startswith("_")} == {"record", "arecord", "query"}


def test_rows_hold_only_ids_roles_and_fixed_words(backend, store):
    _, engine = backend
    columns = {c["name"] for c in sqlalchemy.inspect(engine).get_columns("read_audit")}
    assert columns == {"id", "at", "reader_role", "reader_id", "what", "case_id", "object_id", "outcome", "channel"}
    # Anything that is not an opaque id or a word of its set is refused, and nothing is written.
    for bad in [
        dict(case_id="Jan de Vries"),
        dict(case_id="123456782"),
        dict(object_id="brief aan J. de Vries"),
        dict(what="medische notitie"),
        dict(outcome="ok"),
        dict(channel="email"),
    ]:
        with pytest.raises(ValueError):
            store.record(OPS, bad.pop("what", What.CASE), **bad)
    with pytest.raises(ValueError):
        unknown_role: Any = "dokter"  # not a Role: what a tampered session might hold
        store.record(Caller.model_construct(role=unknown_role, id="arts-1"), What.CASE)
    with pytest.raises(ValueError, match="reader_id"):
        store.record(Caller.model_construct(role=Role.OPERATIONS, id="j.devries@example.nl"), What.CASE)
    assert _rows(engine) == []


async def test_arecord_writes_off_the_event_loop(store, clock):
    loop_thread = threading.get_ident()
    ids = [await store.arecord(OPS, What.DOSSIER, case_id="C-1", channel=Channel.DASHBOARD) for _ in range(3)]
    assert clock.threads and loop_thread not in clock.threads
    assert [r.id for r in store.query(case_id="C-1").records] == ids[::-1]


def test_sqlite_file_and_folder_are_private(tmp_path):
    folder = tmp_path / "data"
    engine = open_database(f"sqlite:///{folder / 'spoorwerk.db'}")
    try:
        AuditStore(engine).record(OPS, What.CASE, case_id="C-1")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        files = [p for p in folder.iterdir()]
        assert folder / "spoorwerk.db" in files
        for path in files:  # the database and SQLite's -wal/-shm files beside it
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- GET /api/audit, served on loopback


class Problem(Exception):
    """The API's error, as operations.api has it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _test_caller(x_role: Annotated[Role, Header()], x_id: Annotated[str, Header()]) -> Caller:
    return Caller(role=x_role, id=x_id, employer_id="E-1" if x_role is Role.WERKGEVER else None)


@pytest.fixture
def api(tmp_path) -> Iterator[tuple[str, AuditStore]]:
    """Just the audit routes in a FastAPI app, served by uvicorn on loopback in a thread of their own."""
    store = AuditStore(open_database(f"sqlite:///{tmp_path / 'data' / 'spoorwerk.db'}"), clock=Clock())
    app = FastAPI()

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return JSONResponse({"detail": exc.reason}, status_code=exc.status)

    router = APIRouter(prefix="/api")
    add_audit_routes(router, store, Annotated[Caller, Depends(_test_caller)], Problem)
    app.include_router(router)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        server.should_exit = True
        thread.join(10)
        store.engine.dispose()


def _get(url: str, who: Caller, **params) -> httpx.Response:
    return httpx.get(f"{url}/api/audit", params=params, headers={"X-Role": who.role.value, "X-Id": who.id}, timeout=10)


def test_operations_asks_who_saw_a_dossier_and_that_question_is_recorded_too(api):
    url, store = api
    store.record(ARTS, What.DOSSIER, case_id="C-1")
    store.record(HR, What.DOSSIER, case_id="C-1", outcome="refused")
    store.record(ARTS, What.DOSSIER, case_id="C-2")
    answer = _get(url, OPS, case_id="C-1", what="dossier")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(r["reader_role"], r["reader_id"], r["outcome"]) for r in body["records"]] == [
        ("werkgever", "hr-1", "refused"),
        ("bedrijfsarts", "arts-1", "allowed"),
    ]
    assert body["next_cursor"] is None
    assert datetime.fromisoformat(body["records"][0]["at"]) == START + timedelta(minutes=1)  # UTC, with its offset
    mine = store.query(what="audit").records
    assert [(r.reader_id, r.case_id, r.outcome, r.channel) for r in mine] == [("ops-1", "C-1", "allowed", "api")]
    # Paging through the API.
    first = _get(url, OPS, limit=2).json()
    rest = _get(url, OPS, limit=2, cursor=first["next_cursor"]).json()
    assert len(first["records"]) == 2 and first["next_cursor"] is not None
    assert {r["id"] for r in first["records"]}.isdisjoint(r["id"] for r in rest["records"])


@pytest.mark.parametrize(
    "role",
    sorted({Role.CASEMANAGER, Role.REINTEGRATIECOACH, Role.BEDRIJFSARTS, Role.ARBEIDSDESKUNDIGE, Role.WERKGEVER}),
)
def test_other_roles_are_refused_and_the_attempt_is_recorded(api, role):
    url, store = api
    store.record(ARTS, What.DOSSIER, case_id="C-1")
    answer = _get(url, Caller(role=role, id="someone-1"), case_id="C-1")
    assert answer.status_code == 403
    assert answer.json() == {"detail": f"a {role.value} may not read the audit (allowed: operations)"}
    tried = store.query(what="audit").records
    assert [(r.reader_role, r.reader_id, r.case_id, r.outcome) for r in tried] == [
        (role.value, "someone-1", "C-1", "refused")
    ]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "2026-13-01"}, "since"),
        ({"until": "gisteren"}, "until"),
        ({"case_id": "Jan de Vries"}, "case_id"),
        ({"reader_id": "j@example.nl"}, "reader_id"),
        ({"reader_role": "dokter"}, "reader_role"),
        ({"what": "medisch"}, "what"),
        ({"outcome": "ok"}, "outcome"),
        ({"limit": "501"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
    ],
)
def test_bad_filters_are_422_naming_the_field(api, params, field):
    url, store = api
    answer = _get(url, OPS, **params)
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [["query", field]]
    assert store.query().records == []  # a refused question reads nothing


def test_until_before_since_is_422_naming_until(api):
    url, _ = api
    answer = _get(url, OPS, since="2026-03-02", until="2026-03-01")
    assert answer.status_code == 422 and answer.json() == {"detail": "until: before since"}


# --------------------------------------------------------------------------- spoorwerk audit


@pytest.fixture
def audited(tmp_path, monkeypatch) -> Iterator[tuple[Path, AuditStore]]:
    """A data folder whose SQLite database holds known reads; the environment points the CLI at it."""
    data = tmp_path / "data"
    monkeypatch.setenv("SPOORWERK_DATA_DIR", str(data))
    monkeypatch.delenv("SPOORWERK_DATABASE_URL", raising=False)
    store = AuditStore(
        open_database(Settings().database), clock=Clock(datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc))
    )
    store.record(ARTS, What.DOSSIER, case_id="C-1")
    store.record(HR, What.DOCUMENT, case_id="C-1", object_id="order-7", outcome="refused", channel="dashboard")
    store.record(COACH, What.CASE, case_id="C-2")
    yield data, store
    store.engine.dispose()


def test_cli_lists_who_saw_a_case_in_dutch(audited):
    data, store = audited
    env = {k: v for k, v in os.environ.items() if k != "SPOORWERK_DATABASE_URL"} | {"SPOORWERK_DATA_DIR": str(data)}
    done = subprocess.run([spoorwerk(), "audit", "--case", "C-1"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "nr",
        "tijdstip",
        "(NL)",
        "rol",
        "lezer",
        "gelezen",
        "zaak",
        "object",
        "uitkomst",
        "via",
    ]
    # Newest first, times in Amsterdam (CET in January: UTC+1), outcomes in Dutch.
    assert lines[1].split() == [
        "2",
        "2026-01-15",
        "10:01:00",
        "werkgever",
        "hr-1",
        "document",
        "C-1",
        "order-7",
        "geweigerd",
        "dashboard",
    ]
    assert lines[2].split() == [
        "1",
        "2026-01-15",
        "10:00:00",
        "bedrijfsarts",
        "arts-1",
        "dossier",
        "C-1",
        "-",
        "toegestaan",
        "api",
    ]
    assert "C-2" not in done.stdout and lines[-1] == "2 inzagen"
    # The CLI's own look is in the audit as well.
    mine = store.query(what="audit").records
    assert [(r.reader_role, r.reader_id, r.case_id, r.channel) for r in mine] == [
        ("operations", "cli-operations", "C-1", "cli")
    ]


def test_cli_filters_pages_and_says_when_nothing_matches(audited, capsys):
    assert cli(["audit", "--role", "reintegratiecoach"]) == 0
    out = capsys.readouterr().out
    assert "coach-1" in out and "arts-1" not in out and out.rstrip().endswith("1 inzage")
    assert cli(["audit", "--what", "case", "--limit", "1"]) == 0  # one read of a case: no further page
    out = capsys.readouterr().out
    assert "coach-1" in out and "(er zijn er meer" not in out
    assert cli(["audit", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "er zijn er meer: --cursor" in out
    assert cli(["audit", "--since", "2026-01-16", "--until", "2026-01-31"]) == 0
    assert capsys.readouterr().out.strip() == "geen inzagen gevonden"


def test_cli_refuses_bad_filters_with_exit_code_2(audited, capsys):
    assert cli(["audit", "--since", "2026-01-16", "--until", "2026-01-15"]) == 2
    assert "--until: before since" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        cli(["audit", "--what", "medisch"])
    assert exit_.value.code == 2 and "kies uit: case, deadlines, dossier" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["audit", "--case", "Jan de Vries"])


def test_cli_says_when_the_database_cannot_be_reached_without_echoing_its_password(monkeypatch, capsys):
    monkeypatch.setenv("SPOORWERK_DATABASE_URL", f"postgresql+psycopg://spoorwerk:geheim-pw@127.0.0.1:{free_port()}/x")
    assert cli(["audit"]) == 3
    err = capsys.readouterr().err
    assert "de database van de service is niet bereikbaar" in err and "geheim-pw" not in err
