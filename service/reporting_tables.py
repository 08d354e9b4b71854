"""The reporting store's tables (SQLAlchemy Core), apart from the service's own (service.db): they are made and
changed by Alembic's migrations (service/alembic), which read this metadata.

Every row is keyed by what makes it once: a case by its id, a spell by its case and first day, an event by its case
and dossier entry (seq), an employment by its employer, employee key and first day. A retried write or a rebuilt case
overwrites its own rows and never adds a second. Nothing personal: ids are opaque, an employee is a keyed hash.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Integer, MetaData, String, Table, Text

# Alembic keeps its own bookkeeping under this name, so the store may share a database with other tables.
VERSION_TABLE = "reporting_alembic_version"

metadata = MetaData()

cases = Table(
    "report_cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("employer_id", String(64), nullable=False, index=True),
    Column("first_sick_day", Date, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("outcome", String(32)),
    Column("closed_on", Date),
    Column("person_keys", Text, nullable=False, default=""),  # keyed hashes, space-separated
    Column("written_at", DateTime(timezone=True), nullable=False),
)

spells = Table(
    "report_spells",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("start", Date, primary_key=True),
    Column("employer_id", String(64), nullable=False, index=True),
    Column("end", Date),
    Column("incapacity", Integer, nullable=False),
    Column("reported", Boolean, nullable=False),
    Column("ended_by_recovery", Boolean, nullable=False),
)

events = Table(
    "report_events",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("employer_id", String(64), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("on", Date, nullable=False),
    Column("detail", String(120), nullable=False, default=""),
    Column("days_late", Integer),
)

employment = Table(
    "report_employment",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("employee_key", String(64), primary_key=True),
    Column("start", Date, primary_key=True),
    Column("end", Date),
    Column("part_time_factor", Float, nullable=False),
)
