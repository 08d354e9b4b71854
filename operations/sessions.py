"""The dashboard's server-side sessions, and the throttle on failed sign-ins.

A sign-in (token form or OpenID Connect) makes a session: a random id of 32 bytes
(`secrets.token_urlsafe`) that only the browser's cookie holds. The table keeps the SHA-256 of the id,
never the id itself, so a copy of the database signs nobody in. A session ends at its absolute
lifetime, after its idle timeout, or when its row is deleted at logout; the tables live in the
service's own database (`service.db`), so sessions outlive an API restart and hold across replicas.

The same database keeps the short-lived state of an OpenID Connect sign-in in progress (state,
nonce, PKCE verifier), under the hash of a second random id held in a cookie of its own: whichever
replica receives the provider's callback finds it, and it is used once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import Column, Engine, Float, String, Table, Text, create_engine, delete, insert, or_, select, update
from sqlalchemy.pool import StaticPool

from operations.auth import Caller
from service.db import metadata

Via = Literal["token", "oidc"]

SESSIONS = Table(
    "dashboard_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),  # hex SHA-256 of the cookie's session id
    Column("caller", Text, nullable=False),  # the Caller as JSON: a role and opaque ids only
    Column("via", String(8), nullable=False),
    Column("created_at", Float, nullable=False),  # seconds since the epoch, UTC
    Column("last_seen_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

SIGNIN_FLOWS = Table(
    "dashboard_signin_flows",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

# Ten minutes to get through the provider's login page (and its second factor).
FLOW_SECONDS = 600
# Longer than this is no session id we handed out: not worth hashing.
MAX_ID_LENGTH = 128


def _digest(value: str) -> str:
    # A plain hash is enough: the ids are 256 random bits, nothing to guess or precompute.
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A live session: who, and how they signed in."""

    caller: Caller
    via: Via


class SessionStore:
    """Sessions in the service's database; `clock` (seconds since the epoch) is injectable for tests."""

    def __init__(
        self,
        engine: Engine,
        *,
        lifetime_seconds: float,
        idle_seconds: float,
        clock: Callable[[], float] = time.time,
        serialize: bool = False,
    ) -> None:
        self.engine, self.lifetime, self.idle, self.clock = engine, lifetime_seconds, idle_seconds, clock
        # The last-seen time is written at most this often: not a database write per request. The idle
        # timeout is then exact to within this.
        self.touch_every = min(60.0, idle_seconds / 10)
        self._lock = threading.Lock() if serialize else None

    @classmethod
    def in_memory(cls, **kwargs: Any) -> SessionStore:
        """Sessions of this process only (an app built without a database, as in tests): one shared SQLite
        connection, used by one thread at a time."""
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        metadata.create_all(engine, tables=[SESSIONS, SIGNIN_FLOWS])
        return cls(engine, serialize=True, **kwargs)

    @contextmanager
    def _begin(self) -> Iterator[Any]:
        if self._lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._lock, self.engine.begin() as conn:
            yield conn

    def create(self, caller: Caller, via: Via) -> str:
        """A new session for `caller`; its id, for the cookie (the database keeps its hash only)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self._begin() as conn:
            # Each sign-in sweeps away what has ended, so the table holds live sessions only.
            conn.execute(
                delete(SESSIONS).where(or_(SESSIONS.c.expires_at <= now, SESSIONS.c.last_seen_at <= now - self.idle))
            )
            conn.execute(delete(SIGNIN_FLOWS).where(SIGNIN_FLOWS.c.expires_at <= now))
            conn.execute(
                insert(SESSIONS).values(
                    id_hash=_digest(session_id),
                    caller=caller.model_dump_json(exclude_none=True),
                    via=via,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return session_id

    def replace(self, old_session_id: str | None, caller: Caller, via: Via) -> str:
        """A sign-in in a browser that still has a session: the old one ends, a new id is made (never the old one
        kept, so an id planted in the browser before the sign-in is worth nothing after it)."""
        self.revoke(old_session_id)
        return self.create(caller, via)

    def resolve(self, session_id: str | None, *, touch: bool = True) -> Session | None:
        """The live session of this id, or None (unknown, expired, idle too long, logged out). `touch`: this
        request is the person's activity and restarts the idle timeout."""
        if not session_id or len(session_id) > MAX_ID_LENGTH:
            return None
        key, now = _digest(session_id), self.clock()
        with self._begin() as conn:
            row = conn.execute(select(SESSIONS).where(SESSIONS.c.id_hash == key)).first()
            if row is None:
                return None
            if now >= row.expires_at or now - row.last_seen_at >= self.idle:
                conn.execute(delete(SESSIONS).where(SESSIONS.c.id_hash == key))
                return None
            if touch and now - row.last_seen_at >= self.touch_every:
                conn.execute(update(SESSIONS).where(SESSIONS.c.id_hash == key).values(last_seen_at=now))
        try:
            return Session(Caller.model_validate_json(row.caller), row.via)
        except ValidationError:  # written by a version whose Caller differed: sign in again
            self.revoke(session_id)
            return None

    def revoke(self, session_id: str | None) -> bool:
        """End the session (logout): its cookie no longer works anywhere. Whether there was one."""
        if not session_id or len(session_id) > MAX_ID_LENGTH:
            return False
        with self._begin() as conn:
            return conn.execute(delete(SESSIONS).where(SESSIONS.c.id_hash == _digest(session_id))).rowcount > 0

    def save_flow(self, data: dict[str, Any]) -> str:
        """Keep a sign-in in progress for FLOW_SECONDS; the id for its cookie."""
        flow_id = secrets.token_urlsafe(32)
        with self._begin() as conn:
            conn.execute(delete(SIGNIN_FLOWS).where(SIGNIN_FLOWS.c.expires_at <= self.clock()))  # abandoned ones
            conn.execute(
                insert(SIGNIN_FLOWS).values(
                    id_hash=_digest(flow_id), data=json.dumps(data), expires_at=self.clock() + FLOW_SECONDS
                )
            )
        return flow_id

    def take_flow(self, flow_id: str | None) -> dict[str, Any] | None:
        """The sign-in in progress of this id, once: it is deleted as it is read (a replayed callback finds none)."""
        if not flow_id or len(flow_id) > MAX_ID_LENGTH:
            return None
        key = _digest(flow_id)
        with self._begin() as conn:
            row = conn.execute(select(SIGNIN_FLOWS).where(SIGNIN_FLOWS.c.id_hash == key)).first()
            if row is None or conn.execute(delete(SIGNIN_FLOWS).where(SIGNIN_FLOWS.c.id_hash == key)).rowcount != 1:
                return None  # unknown, or another request took it first
        return json.loads(row.data) if row.expires_at > self.clock() else None


class LoginThrottle:
    """Failed sign-ins counted per client address: after `max_failures` within `window_seconds`, the address is
    refused (429) until the oldest of those failures leaves the window.

    Counted in this process only: each API replica keeps its own count, so N replicas allow N times the
    failures. That is acceptable because the throttle is defence in depth — tokens have at least 32
    random characters, session ids 256 bits — and it needs no shared store. IPv6 clients are counted per
    /64, the block one subscriber gets: per address, a single host could step through them all.
    """

    MAX_ADDRESSES = 10_000  # memory bound: beyond it, the addresses seen longest ago are forgotten first

    def __init__(
        self, max_failures: int = 5, window_seconds: float = 15 * 60, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures, self.window, self.clock = max_failures, window_seconds, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # the API's dependency runs in worker threads, the pages in the event loop

    @staticmethod
    def key(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it may now."""
        now = self.clock()
        with self._lock:
            seen = self._failures.get(self.key(address))
            if seen is None or len(seen) < self.max_failures:
                return None
            until = seen[0] + self.window  # the deque holds the last max_failures failures
            return max(1, math.ceil(until - now)) if until > now else None

    def failed(self, address: str) -> None:
        """Count a failed sign-in from `address`."""
        now = self.clock()
        key = self.key(address)
        with self._lock:
            seen = self._failures.pop(key, None) or deque(maxlen=self.max_failures)
            seen.append(now)
            self._failures[key] = seen  # most recent last
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)
