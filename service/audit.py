"""The read audit: who read which case, dossier, document or decoded payload, when, in which role, with what outcome.

One row per read, refused and not-found reads included, in the table `read_audit` of the service's own
database (`service.db`: SQLite in the data folder, PostgreSQL by SPOORWERK_DATABASE_URL). A row holds only
opaque ids, a role and words from the closed sets below: never a name, a BSN or anything from the case.

Append-only twice over: `AuditStore` offers no way to change or remove a row, and the database itself
refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the table, by triggers created with it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import DDL, BigInteger, Column, DateTime, Engine, Index, Integer, String, Table, event, insert, select

from domain.models import OPAQUE_ID_PATTERN, Role
from domain.nl_time import start_of_day
from service.db import metadata


class What(StrEnum):
    """What was read: the one list of readable things."""

    CASE = "case"
    DEADLINES = "deadlines"
    DOSSIER = "dossier"
    STATE = "state"
    POORTWACHTERTOETS = "poortwachtertoets"
    SPOOR2 = "spoor2"
    DOCUMENT = "document"
    DOCUMENTS = "documents"
    CASES = "cases"  # a listing of cases (ids, employer, stage, dates): no case id of its own
    CODEC_DECODE = "codec_decode"
    AUDIT = "audit"
    UWV = "uwv"  # a case's messages to UWV (service.uwv_outbox)


class Outcome(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"
    NOT_FOUND = "not_found"


class Channel(StrEnum):
    """Where the read came in."""

    API = "api"
    DASHBOARD = "dashboard"
    CLI = "cli"


MAX_PAGE = 500
_OPAQUE = re.compile(OPAQUE_ID_PATTERN)
# Object ids are the ids the API already takes in paths (a document's order id), never free text.
_OBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,159}$")

read_audit = Table(
    "read_audit",
    metadata,
    # BIGINT on PostgreSQL (years of reads); SQLite autoincrements only an INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    # Plain strings checked here rather than database enums: a new role or kind of read needs no migration.
    Column("reader_role", String(32), nullable=False),
    Column("reader_id", String(64), nullable=False),
    Column("what", String(32), nullable=False),
    Column("case_id", String(64)),
    Column("object_id", String(160)),
    Column("outcome", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    # "Who saw this case", "what did this reader see": newest first, by id.
    Index("read_audit_case", "case_id", "id"),
    Index("read_audit_reader", "reader_id", "id"),
)

# The database refuses changes itself, so neither a bug nor a hand-typed statement can rewrite the record.
# (The table's owner can still drop the triggers: in production, let the service's database user only
# INSERT and SELECT on it once it exists.)
_REFUSAL = "read_audit is append-only"
for _op in ("UPDATE", "DELETE"):
    event.listen(
        read_audit,
        "after_create",
        DDL(
            f"CREATE TRIGGER read_audit_no_{_op.lower()} BEFORE {_op} ON read_audit "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
        ).execute_if(dialect="sqlite"),
    )
event.listen(
    read_audit,
    "after_create",
    DDL(
        "CREATE OR REPLACE FUNCTION read_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING MESSAGE = '{_REFUSAL}: ' || TG_OP || ' refused'; END $$"
    ).execute_if(dialect="postgresql"),
)
event.listen(
    read_audit,
    "after_create",
    DDL(
        "CREATE TRIGGER read_audit_no_change BEFORE UPDATE OR DELETE ON read_audit "
        "FOR EACH ROW EXECUTE FUNCTION read_audit_append_only()"
    ).execute_if(dialect="postgresql"),
)
event.listen(
    read_audit,
    "after_create",
    DDL(
        "CREATE TRIGGER read_audit_no_truncate BEFORE TRUNCATE ON read_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION read_audit_append_only()"
    ).execute_if(dialect="postgresql"),
)


class Reader(Protocol):
    """Who reads: `operations.auth.Caller` is one."""

    @property
    def role(self) -> Role | str: ...

    @property
    def id(self) -> str: ...


class AuditRecord(BaseModel):
    """One read, as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    reader_role: str
    reader_id: str
    what: What
    case_id: str | None
    object_id: str | None
    outcome: Outcome
    channel: Channel


class AuditPage(BaseModel):
    """Reads newest first; `next_cursor` continues after the last one when there are more."""

    records: list[AuditRecord]
    next_cursor: int | None = None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _checked(field: str, value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is not None and not pattern.match(value):
        raise ValueError(f"{field}: not an opaque id")
    return value


def _instant(field: str, value: date | datetime | None, *, end: bool) -> datetime | None:
    """A bound of the period: a date is a whole Amsterdam calendar day (until includes it), a datetime an instant."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{field}: a datetime must be timezone-aware")
        return value.astimezone(timezone.utc)
    try:
        return start_of_day(value + timedelta(days=1) if end else value)
    except OverflowError:
        raise ValueError(f"{field}: out of range") from None


class AuditStore:
    """Records reads and answers who read what. No method changes or removes a record."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self.engine = engine
        self._clock = clock

    def record(
        self,
        reader: Reader,
        what: What | str,
        *,
        case_id: str | None = None,
        object_id: str | None = None,
        outcome: Outcome | str = Outcome.ALLOWED,
        channel: Channel | str = Channel.API,
    ) -> int:
        """Append one read and return its id. Raises ValueError on a value that is not an id or not in its set,
        and the database's error when it cannot be written: a read that cannot be recorded should not be served."""
        at = self._clock()
        if at.tzinfo is None:
            raise ValueError("clock: must give timezone-aware datetimes")
        row = {
            # UTC for every backend: SQLite keeps no offset, so mixed offsets would not compare.
            "at": at.astimezone(timezone.utc),
            "reader_role": Role(reader.role).value,
            "reader_id": _checked("reader_id", reader.id, _OPAQUE),
            "what": What(what).value,
            "case_id": _checked("case_id", case_id, _OPAQUE),
            "object_id": _checked("object_id", object_id, _OBJECT_ID),
            "outcome": Outcome(outcome).value,
            "channel": Channel(channel).value,
        }
        with self.engine.begin() as conn:
            key = conn.execute(insert(read_audit).values(**row)).inserted_primary_key
            assert key is not None  # a single-row INSERT has its primary key
            return key[0]

    async def arecord(
        self,
        reader: Reader,
        what: What | str,
        *,
        case_id: str | None = None,
        object_id: str | None = None,
        outcome: Outcome | str = Outcome.ALLOWED,
        channel: Channel | str = Channel.API,
    ) -> int:
        """`record` in a worker thread, so the event loop goes on serving while the database writes."""
        return await asyncio.to_thread(
            self.record, reader, what, case_id=case_id, object_id=object_id, outcome=outcome, channel=channel
        )

    def query(
        self,
        *,
        case_id: str | None = None,
        reader_id: str | None = None,
        reader_role: Role | str | None = None,
        what: What | str | None = None,
        outcome: Outcome | str | None = None,
        channel: Channel | str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        limit: int = 100,
        cursor: int | None = None,
    ) -> AuditPage:
        """Reads matching every filter given, newest first, at most `limit` (1-500); `cursor` is an earlier
        page's `next_cursor`. Dates are Amsterdam calendar days, `until` included."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit: must be 1-{MAX_PAGE}")
        start, end = _instant("since", since, end=False), _instant("until", until, end=True)
        if start is not None and end is not None and end <= start:
            raise ValueError("until: before since")
        t = read_audit.c
        conditions = [
            column == value
            for column, value in (
                (t.case_id, _checked("case_id", case_id, _OPAQUE)),
                (t.reader_id, _checked("reader_id", reader_id, _OPAQUE)),
                (t.reader_role, reader_role and Role(reader_role).value),
                (t.what, what and What(what).value),
                (t.outcome, outcome and Outcome(outcome).value),
                (t.channel, channel and Channel(channel).value),
            )
            if value is not None
        ]
        if start is not None:
            conditions.append(t.at >= start)
        if end is not None:
            conditions.append(t.at < end)
        if cursor is not None:
            conditions.append(t.id < cursor)
        statement = select(read_audit).where(*conditions).order_by(t.id.desc()).limit(limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(statement).mappings().all()
        records = [AuditRecord.model_validate({**row, "at": _as_utc(row["at"])}) for row in rows[:limit]]
        return AuditPage(records=records, next_cursor=records[-1].id if len(rows) > limit else None)


def _as_utc(at: datetime) -> datetime:
    # SQLite gives back the naive UTC it was given; PostgreSQL an aware time in the session's zone.
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
