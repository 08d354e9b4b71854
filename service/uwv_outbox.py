"""The outbox of messages to UWV: one row per message with where it stands, and its history of statuses.

In the service's own database (service.db: SQLite in the data folder, PostgreSQL by SPOORWERK_DATABASE_URL), beside
the read audit. The message itself names the employee (BSN, name), so its body is kept sealed with the payload keys
(service.sealed: the data converter's codec, rotation included); the rows hold only ids, statuses, the channel's
reference and UWV's reason. The case records the same steps in its dossier (domain.case.actions.uwv); this store is
what the channel works from: which message to send, which answer belongs to which case.

Every change is idempotent: a message added twice is one row, a status set again adds no history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from domain.uwv import MessageKind, MessageStatus
from service.db import metadata

uwv_messages = Table(
    "uwv_messages",
    metadata,
    Column("message_id", String(32), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("employer_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("body", LargeBinary, nullable=False),  # sealed (service.sealed)
    Column("reference", String(200)),
    Column("reason", Text),
    Column("prepared_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("uwv_messages_case", "case_id"),
    Index("uwv_messages_status", "status"),
)
uwv_message_events = Table(
    "uwv_message_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("actor_id", String(64)),
    Column("detail", Text),  # the channel's reference, or UWV's reason
    Index("uwv_message_events_message", "message_id", "id"),
)

# The order a message goes through; a status is never set back.
_ORDER = {MessageStatus.PREPARED: 0, MessageStatus.SENT: 1, MessageStatus.ACCEPTED: 2, MessageStatus.REJECTED: 2}


class OutboxError(Exception):
    """A change the outbox refuses (a status set back, an answer to another answer)."""


class StatusChange(BaseModel):
    at: datetime
    status: MessageStatus
    actor_role: str
    actor_id: str | None
    detail: str | None


class OutboxRecord(BaseModel):
    """One message as the outbox keeps it, without its (sealed) body."""

    message_id: str
    case_id: str
    employer_id: str
    message: MessageKind
    status: MessageStatus
    reference: str | None
    reason: str | None
    prepared_at: datetime
    updated_at: datetime
    history: list[StatusChange]


T = TypeVar("T")


class Outbox:
    """The outbox over one engine. Blocking; the `a…` methods run the same off the event loop."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    async def _off_loop(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def add(
        self,
        *,
        message_id: str,
        case_id: str,
        employer_id: str,
        message: MessageKind,
        body: bytes,
        actor_role: str,
        actor_id: str | None,
    ) -> OutboxRecord:
        """Keep a prepared message; the same id again answers with the row kept (a retried request)."""
        now = self.clock()
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(uwv_messages).values(
                        message_id=message_id,
                        case_id=case_id,
                        employer_id=employer_id,
                        kind=message.value,
                        status=MessageStatus.PREPARED.value,
                        body=body,
                        prepared_at=now,
                        updated_at=now,
                    )
                )
                db.execute(
                    insert(uwv_message_events).values(
                        message_id=message_id,
                        at=now,
                        status=MessageStatus.PREPARED.value,
                        actor_role=actor_role,
                        actor_id=actor_id,
                    )
                )
        except IntegrityError:
            pass  # kept before, by the same request
        found = self.get(message_id)
        assert found is not None
        return found

    def set_status(
        self,
        message_id: str,
        status: MessageStatus,
        *,
        actor_role: str,
        actor_id: str | None,
        reference: str | None = None,
        reason: str | None = None,
    ) -> OutboxRecord:
        """Move a message on to `status`; the status it has already changes nothing. Refuses a step back."""
        now = self.clock()
        with self.engine.begin() as db:
            row = db.execute(
                select(uwv_messages.c.status).where(uwv_messages.c.message_id == message_id).with_for_update()
            ).first()
            if row is None:
                raise OutboxError(f"no message {message_id} in the outbox")
            current = MessageStatus(row.status)
            if current is not status:
                if _ORDER[status] <= _ORDER[current]:
                    raise OutboxError(f"message {message_id} is {current.value}; it cannot become {status.value}")
                values: dict[str, Any] = {"status": status.value, "updated_at": now}
                if reference is not None:
                    values["reference"] = reference
                if reason is not None:
                    values["reason"] = reason
                db.execute(update(uwv_messages).where(uwv_messages.c.message_id == message_id).values(**values))
                db.execute(
                    insert(uwv_message_events).values(
                        message_id=message_id,
                        at=now,
                        status=status.value,
                        actor_role=actor_role,
                        actor_id=actor_id,
                        detail=reason if reason is not None else reference,
                    )
                )
        found = self.get(message_id)
        assert found is not None
        return found

    def get(self, message_id: str) -> OutboxRecord | None:
        found = self._records(uwv_messages.c.message_id == message_id)
        return found[0] if found else None

    def for_case(self, case_id: str) -> list[OutboxRecord]:
        """A case's messages, oldest first."""
        return self._records(uwv_messages.c.case_id == case_id)

    def body(self, message_id: str) -> bytes:
        with self.engine.connect() as db:
            found = db.execute(select(uwv_messages.c.body).where(uwv_messages.c.message_id == message_id)).scalar()
        if found is None:
            raise OutboxError(f"no message {message_id} in the outbox")
        return bytes(found)

    def _records(self, where: Any) -> list[OutboxRecord]:
        with self.engine.connect() as db:
            rows = db.execute(
                select(uwv_messages).where(where).order_by(uwv_messages.c.prepared_at, uwv_messages.c.message_id)
            ).all()
            ids = [r.message_id for r in rows]
            events = (
                db.execute(
                    select(uwv_message_events)
                    .where(uwv_message_events.c.message_id.in_(ids))
                    .order_by(uwv_message_events.c.id)
                ).all()
                if ids
                else []
            )
        history: dict[str, list[StatusChange]] = {}
        for e in events:
            history.setdefault(e.message_id, []).append(
                StatusChange(
                    at=_aware(e.at),
                    status=MessageStatus(e.status),
                    actor_role=e.actor_role,
                    actor_id=e.actor_id,
                    detail=e.detail,
                )
            )
        return [
            OutboxRecord(
                message_id=r.message_id,
                case_id=r.case_id,
                employer_id=r.employer_id,
                message=MessageKind(r.kind),
                status=MessageStatus(r.status),
                reference=r.reference,
                reason=r.reason,
                prepared_at=_aware(r.prepared_at),
                updated_at=_aware(r.updated_at),
                history=history.get(r.message_id, []),
            )
            for r in rows
        ]

    async def aadd(self, **kwargs: Any) -> OutboxRecord:
        return await self._off_loop(self.add, **kwargs)

    async def aset_status(self, message_id: str, status: MessageStatus, **kwargs: Any) -> OutboxRecord:
        return await self._off_loop(self.set_status, message_id, status, **kwargs)

    async def aget(self, message_id: str) -> OutboxRecord | None:
        return await self._off_loop(self.get, message_id)

    async def afor_case(self, case_id: str) -> list[OutboxRecord]:
        return await self._off_loop(self.for_case, case_id)

    async def abody(self, message_id: str) -> bytes:
        return await self._off_loop(self.body, message_id)


def _aware(at: datetime) -> datetime:
    # SQLite gives back naive datetimes; every time stored here is UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
