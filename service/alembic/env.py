"""Alembic's environment for the reporting store: the tables of service.reporting_tables, on the connection the
store hands in (service.reporting.upgrade), or on `sqlalchemy.url` when run as `alembic -c service/alembic.ini`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from service.reporting_tables import VERSION_TABLE, metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


given = context.config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url (the reporting store's URL) in the Alembic config")
    with create_engine(url).connect() as conn:
        _run(conn)
