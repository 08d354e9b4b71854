"""The reporting store: cases, spells of illness, dossier events, employment data (issue 21).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("first_sick_day", sa.Date, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("closed_on", sa.Date),
        sa.Column("person_keys", sa.Text, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_report_cases_employer_id", "report_cases", ["employer_id"])
    op.create_table(
        "report_spells",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("start", sa.Date, primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("end", sa.Date),
        sa.Column("incapacity", sa.Integer, nullable=False),
        sa.Column("reported", sa.Boolean, nullable=False),
        sa.Column("ended_by_recovery", sa.Boolean, nullable=False),
    )
    op.create_index("ix_report_spells_employer_id", "report_spells", ["employer_id"])
    op.create_table(
        "report_events",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("employer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("on", sa.Date, nullable=False),
        sa.Column("detail", sa.String(120), nullable=False),
        sa.Column("days_late", sa.Integer),
    )
    op.create_index("ix_report_events_employer_id", "report_events", ["employer_id"])
    op.create_table(
        "report_employment",
        sa.Column("employer_id", sa.String(64), primary_key=True),
        sa.Column("employee_key", sa.String(64), primary_key=True),
        sa.Column("start", sa.Date, primary_key=True),
        sa.Column("end", sa.Date),
        sa.Column("part_time_factor", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("report_employment", "report_events", "report_spells", "report_cases"):
        op.drop_table(table)
