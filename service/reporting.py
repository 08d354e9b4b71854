"""The reporting store: each case's facts (domain.facts) and the employers' employment data, for the verzuim
figures (domain.figures). SQLite in the data folder on the embedded default, PostgreSQL by
`SPOORWERK_REPORTING_DATABASE_URL`; its tables are made and changed by Alembic (service/alembic), which `open_store`
runs to the newest revision at start.

`write_case` is the one way facts get in: the case's `write_case_facts` activity calls it with its derived facts, and
`spoorwerk figures rebuild` calls it for every case. It replaces the case's rows in one transaction, upserting by
their keys, so a retried write or a replayed case never counts twice, and a fact the case no longer has is gone.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, bindparam, create_engine, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.sql.elements import BindParameter

from domain.facts import CaseFacts, CaseRow, Spell
from domain.figures import Employment, Figures, PeriodKind, compute, periods_between
from service.files import private_file
from service.reporting_tables import cases, employment, events, spells

MIGRATIONS = Path(__file__).resolve().parent / "alembic"


def open_store(url: str) -> Engine:
    """An engine on the reporting store at `url`, migrated to the newest revision; SQLite files are made private."""
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database not in (None, "", ":memory:"):
        private_file(Path(parsed.database))
    engine = create_engine(url, pool_pre_ping=not is_sqlite)
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The worker writes while the API reads the figures: WAL, and a wait instead of "database is locked".
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crash of the process loses nothing, a
            # power cut may lose the last writes, which `spoorwerk figures rebuild` derives again from the cases.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    upgrade(engine)
    return engine


# One migration at a time in a process: Alembic keeps the running migration's context in a module global, and the
# worker's warm-up (worker.warm_up, in a thread) may still be migrating when the API or the first write opens the store.
_MIGRATING = threading.Lock()


def upgrade(engine: Engine) -> None:
    """Run Alembic's migrations up to the newest (nothing when the store is there already)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _MIGRATING, engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@functools.cache
def _upsert_statement(dialect_name: str, table: Table) -> Any:
    """INSERT … ON CONFLICT DO UPDATE for `table`, built once: run with a list of rows (executemany), SQLAlchemy
    compiles it once too, where a statement with the rows in its VALUES is compiled anew for every write."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    changed = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=changed)


def _upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(_upsert_statement(conn.dialect.name, table), list(rows))


def write_case(engine: Engine, facts: CaseFacts, *, now: datetime | None = None) -> None:
    """Put one case's facts in the store, replacing what it held of that case: idempotent."""
    case = facts.case
    with engine.begin() as conn:
        row = case.model_dump()
        row["person_keys"] = " ".join(case.person_keys)
        row["written_at"] = now or datetime.now(timezone.utc)
        _upsert(conn, cases, [row])
        _replace(conn, spells, "start", case.case_id, [s.model_dump() for s in facts.spells])
        _replace(conn, events, "seq", case.case_id, [e.model_dump() for e in facts.events])


def _replace(conn: Connection, table: Table, key: str, case_id: str, rows: list[dict[str, Any]]) -> None:
    """The case's rows in `table` made `rows`: those gone deleted, those new or changed written, the others left.

    A wake writes the case's whole facts, and a two-year case has dozens of events of which one is new: reading them
    costs less than writing them all again (and a delete with every kept key in its NOT IN compiled anew each time)."""
    select_rows, delete_rows = _case_statements(table, key)
    have = {r[key]: dict(r) for r in conn.execute(select_rows, {"case_id": case_id}).mappings()}
    gone = have.keys() - {r[key] for r in rows}
    if gone:
        conn.execute(delete_rows, [{"case_id": case_id, "key": k} for k in gone])
    _upsert(conn, table, [r for r in rows if have.get(r[key]) != r])


@functools.cache
def _case_statements(table: Table, key: str) -> tuple[Any, Any]:
    """The select of a case's rows in `table` and the delete of one of them by `key`, built once."""
    case_id: BindParameter[str] = bindparam("case_id")
    return (
        select(table).where(table.c.case_id == case_id),
        delete(table).where(table.c.case_id == case_id, table.c[key] == bindparam("key")),
    )


def replace_employment(engine: Engine, employer_id: str, rows: Iterable[Employment]) -> int:
    """The employer's employment data, replaced by `rows` as a whole (the file is the employer's truth); the count."""
    found = [r.model_dump() for r in rows if r.employer_id == employer_id]
    unique = list({(r["employee_key"], r["start"]): r for r in found}.values())
    with engine.begin() as conn:
        conn.execute(delete(employment).where(employment.c.employer_id == employer_id))
        if unique:
            conn.execute(employment.insert(), unique)
    return len(unique)


def employer_ids(engine: Engine) -> list[str]:
    """Every employer the store knows of, by case or employment data."""
    with engine.connect() as conn:
        found = set(conn.execute(select(cases.c.employer_id).distinct()).scalars())
        found |= set(conn.execute(select(employment.c.employer_id).distinct()).scalars())
    return sorted(found)


def employer_cases(engine: Engine, employer_id: str) -> list[tuple[CaseRow, list[Spell]]]:
    """The employer's cases with their spells, as domain.figures.compute takes them."""
    with engine.connect() as conn:
        case_rows = conn.execute(select(cases).where(cases.c.employer_id == employer_id)).mappings().all()
        spell_rows = (
            conn.execute(select(spells).where(spells.c.employer_id == employer_id).order_by(spells.c.start))
            .mappings()
            .all()
        )
    by_case: dict[str, list[Spell]] = {}
    for s in spell_rows:
        by_case.setdefault(s["case_id"], []).append(Spell.model_validate(dict(s)))
    found = []
    for c in case_rows:
        fields = {k: c[k] for k in ("case_id", "employer_id", "first_sick_day", "stage", "outcome", "closed_on")}
        row = CaseRow(**fields, person_keys=tuple(c["person_keys"].split()))
        found.append((row, by_case.get(row.case_id, [])))
    return found


def employer_employment(engine: Engine, employer_id: str) -> list[Employment]:
    with engine.connect() as conn:
        rows = conn.execute(select(employment).where(employment.c.employer_id == employer_id)).mappings().all()
    return [Employment.model_validate(dict(r)) for r in rows]


def event_counts(engine: Engine, case_ids: Sequence[str]) -> dict[str, int]:
    """How many events the store holds per case (what a rebuild or a retried write left)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.case_id, func.count()).where(events.c.case_id.in_(case_ids)).group_by(events.c.case_id)
        )
        return {case_id: count for case_id, count in rows}


def figures_for(
    engine: Engine, employers: Iterable[str], kind: PeriodKind, first: date, last: date, as_of: date | None = None
) -> list[Figures]:
    """The figures of each employer for every period from the one holding `first` to the one holding `last`; with
    `as_of` (today), a period still running counts its days so far."""
    found: list[Figures] = []
    for employer_id in employers:
        cases_of = employer_cases(engine, employer_id)
        staff = employer_employment(engine, employer_id)
        found.extend(compute(employer_id, p, cases_of, staff) for p in periods_between(kind, first, last, as_of))
    return found
