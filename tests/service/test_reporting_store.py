"""The reporting store (service.reporting) on SQLite and on a real PostgreSQL server: migrated by Alembic at start,
a case's facts written once however often they are written, an employer's employment data checked by row and column
and replaced as a whole, and the figures read back as the formulas give them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select

from domain.facts import derive
from domain.figures import PeriodKind
from operations.employment_file import check_employment
from operations.people import person_key
from service import refusals, reporting
from service.reporting_tables import VERSION_TABLE, events, metadata, spells
from tests.domain.test_case_rules import act, new_case
from tests.postgres import PostgresServer

KEY = b"test-search-key"
NOW = datetime(2025, 4, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reporting.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")  # skips, saying what to install, without one
        url = server.new_database()
    engine = reporting.open_store(url)
    yield engine
    engine.dispose()


def _case(case_id: str = "C1"):
    """Sick from Monday 6 January 2025, back for half on 3 February, fully back on 3 March."""
    state = new_case()
    state.case_id = case_id
    state.people.person_keys = [person_key("personnel_number", "1001", KEY)]
    act(state, "partial_recovery", date(2025, 2, 3), role="bedrijfsarts", percentage=50)
    act(state, "full_recovery", date(2025, 3, 3))
    return state


def test_the_store_migrates_itself_to_the_tables_the_code_declares(store):
    with store.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert ctx.get_current_revision() == "0001"
        assert compare_metadata(ctx, metadata) == []  # a table changed without a migration fails here
    reporting.open_store(store.url.render_as_string(hide_password=False)).dispose()  # a second start changes nothing
    assert {"report_cases", "report_spells", "report_events", "report_employment"} <= set(
        inspect(store).get_table_names()
    )


def test_opens_at_once_in_one_process_migrate_a_new_store_once(tmp_path):
    """The worker's warm-up (worker.warm_up, in a thread) may still migrate while the API or the first write opens the
    same store: Alembic keeps a migration's context in a module global, and two at once failed with "table
    reporting_alembic_version already exists"."""
    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    failed: list[Exception] = []

    def open_once() -> None:
        try:
            reporting.open_store(url).dispose()
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            failed.append(err)

    threads = [threading.Thread(target=open_once) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    engine = reporting.open_store(url)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision() == "0001"
    engine.dispose()


def test_a_case_written_again_and_again_counts_once(store):
    state = _case()
    facts = derive(state, date(2025, 4, 1))
    for _ in range(3):  # a retried activity, a replay, a rebuild
        reporting.write_case(store, facts, now=NOW)
    with store.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(spells)) == 2
        assert conn.scalar(select(func.count()).select_from(events)) == len(facts.events) > 0
    # A fact the case no longer holds (a relapse reported, then the period re-derived) leaves the store too.
    act(state, "relapse", date(2025, 3, 10))
    reporting.write_case(store, derive(state, date(2025, 4, 1)), now=NOW)
    assert [(s.start, s.end, s.incapacity) for _c, found in reporting.employer_cases(store, "E1") for s in found] == [
        (date(2025, 1, 6), date(2025, 2, 3), 100),
        (date(2025, 2, 3), date(2025, 3, 3), 50),
        (date(2025, 3, 10), None, 100),
    ]


def test_the_figures_come_back_from_the_store_with_the_employees_part_time_factor(store):
    employment = b"personeelsnummer;in_dienst;uit_dienst;deeltijdfactor\n1001;2020-01-01;;0,5\n1002;01-01-2020;;1\n"
    checked = check_employment(employment, "staff.csv", "E1", KEY)
    assert checked.problems == [] and reporting.replace_employment(store, "E1", checked.rows) == 2
    assert reporting.replace_employment(store, "E1", checked.rows) == 2  # the same file again: the same two rows
    reporting.write_case(store, derive(_case(), date(2025, 4, 1)), now=NOW)
    (q1,) = reporting.figures_for(store, ["E1"], PeriodKind.QUARTER, date(2025, 1, 1), date(2025, 3, 31))
    # Q1 2025 has 90 days. Employment: 90 × 0.5 + 90 × 1 = 135. The half-timer 1001 was sick 6 January – 2 February
    # (28 days at 100%) and 3 February – 2 March (28 days at 50%): 28 × 0.5 + 28 × 0.5 × 0.5 = 21.
    # 21 / 135 × 100 = 15.56. CBS: 56 / 180 × 100 = 31.11. One report; headcount 2: 1 / 2 × 4 = 2.0.
    # Ended 2 March after 56 days.
    assert (q1.verzuimpercentage, q1.verzuimpercentage_cbs, q1.meldingsfrequentie) == (15.56, 31.11, 2.0)
    assert (q1.gemiddelde_verzuimduur, q1.cases_without_employment) == (56.0, 0)


def test_employment_data_with_mistakes_is_refused_by_row_and_column_and_nothing_is_stored(store):
    bad = (
        b"personeelsnummer;in_dienst;uit_dienst;deeltijdfactor\n"
        b"1001;2020-01-01;;0,5\n"
        b"1002;31-02-2020;;1\n"  # no such day
        b"1003;2020-01-01;2019-12-31;1\n"  # leaves before joining
        b";2020-01-01;;1,5\n"  # no number, and a factor above 1
    )
    checked = check_employment(bad, "staff.csv", "E1", KEY)
    said = [(p.row, p.column, refusals.say(p.template, p.params)) for p in checked.problems]
    assert [(row, column) for row, column, _text in said] == [
        (3, "in_dienst"),
        (4, "uit_dienst"),
        (5, "personeelsnummer"),
        (5, "deeltijdfactor"),
    ]
    assert "31-02-2020" in said[0][2] and "1,5" in said[3][2]
    assert checked.rows == []
    missing = check_employment(b"nummer;in_dienst\n1;2020-01-01\n", "staff.csv", "E1", KEY)
    assert {(p.row, p.column) for p in missing.problems} == {(1, "personeelsnummer"), (1, "deeltijdfactor")}


def test_a_case_written_again_holds_exactly_its_new_facts_and_no_other_case_is_touched(store):
    """A wake writes only the rows that changed (service.reporting._replace): an event whose detail changed is
    rewritten, one the case no longer holds is deleted, a new one added, and another case's rows stay as they were."""
    other = derive(_case("C2"), date(2025, 4, 1))
    facts = derive(_case("C1"), date(2025, 4, 1))
    reporting.write_case(store, other, now=NOW)
    reporting.write_case(store, facts, now=NOW)
    first, *rest = facts.events
    assert rest, "the case needs two events for this test"
    changed = first.model_copy(update={"detail": "anders vastgelegd", "days_late": 3})
    added = first.model_copy(update={"seq": 999, "kind": "step_done", "detail": "nieuw"})
    later = facts.model_copy(update={"events": [changed, *rest[1:], added]})
    reporting.write_case(store, later, now=NOW)

    def rows(case_id: str) -> list[tuple]:
        with store.connect() as conn:
            found = conn.execute(
                select(events.c.seq, events.c.kind, events.c.detail, events.c.days_late)
                .where(events.c.case_id == case_id)
                .order_by(events.c.seq)
            ).all()
        return [tuple(r) for r in found]

    assert rows("C1") == sorted((e.seq, e.kind, e.detail, e.days_late) for e in later.events)
    assert rest[0].seq not in [seq for seq, *_ in rows("C1")]
    assert rows("C2") == sorted((e.seq, e.kind, e.detail, e.days_late) for e in other.events)
    # Written once more as it is, nothing moves.
    reporting.write_case(store, later, now=NOW)
    assert rows("C1") == sorted((e.seq, e.kind, e.detail, e.days_late) for e in later.events)


def test_the_activity_a_case_will_call_writes_its_facts_once_however_often_it_is_retried(tmp_path):
    from activities.reporting import ReportingActivities

    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    writer = ReportingActivities(url)
    assert not (tmp_path / "reporting.db").exists()  # a worker that writes nothing opens nothing
    facts = derive(_case(), date(2025, 4, 1))
    for _ in range(3):
        assert writer.write_case_facts(facts) == len(facts.spells) + len(facts.events)
    assert reporting.event_counts(writer.engine(), ["C1"]) == {"C1": len(facts.events)}


def test_a_second_store_in_the_same_process_loses_no_write_of_the_first(tmp_path):
    """The worker writes the facts and the API reads the figures in one process (`make run`), each with its own
    engine on the same SQLite file, while another process reads it too (`spoorwerk figures`, a backup). Opening the
    second engine must not drop the first one's locks: SQLite's locks are per process and a `close()` of any other
    descriptor of the file drops them all, after which another process's reader takes itself for the last one,
    checkpoints and deletes the WAL, and every later write of the first engine goes to a deleted file."""
    import sqlite3
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'reporting.db'}"
    worker = reporting.open_store(url)
    reporting.write_case(worker, derive(_case("C1"), date(2026, 3, 2)))
    api = reporting.open_store(url)  # the API's engine, opened as the first figures page is asked for
    assert reporting.event_counts(api, ["C1"])["C1"] > 0
    # Another process opens the store and leaves.
    reader = f"import sqlite3; sqlite3.connect({str(tmp_path / 'reporting.db')!r}).execute('select count(*) from report_cases').fetchall()"
    subprocess.run([sys.executable, "-c", reader], check=True)
    reporting.write_case(worker, derive(_case("C2"), date(2026, 3, 2)))
    # What the first engine wrote after that is in the store for everyone who reads it.
    with sqlite3.connect(tmp_path / "reporting.db") as conn:
        assert conn.execute("select count(*) from report_cases where case_id = 'C2'").fetchone() == (1,)
    assert reporting.event_counts(reporting.open_store(url), ["C2"])["C2"] > 0
