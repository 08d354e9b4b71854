"""The service's own relational store: the read audit and the dashboard's sessions.

Cases live in Temporal; these tables hold what is about people using the service. SQLite in the data
folder on the embedded default (file 0600, folder 0700), PostgreSQL by `SPOORWERK_DATABASE_URL` in
production. Each module that keeps a table declares it on `metadata`; `open_database` creates what is
missing, so a new table needs no separate install step.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url

from service.files import private_file

metadata = MetaData()


def open_database(url: str) -> Engine:
    """An engine for `url` with every declared table created; SQLite files are made private first."""
    parsed = make_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite and parsed.database not in (None, "", ":memory:"):
        private_file(Path(parsed.database))  # SQLite gives its -wal and -shm files the same mode
    engine = create_engine(url, pool_pre_ping=not sqlite)
    if sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL: readers do not wait on the audit's writers; busy_timeout: the worker and API processes share the file.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    metadata.create_all(engine)
    return engine
