"""Who calls the API, and with which role.

Machines present a bearer token (header `Authorization: Bearer …`) from configuration
(`SPOORWERK_API_TOKENS`, at least `SPOORWERK_MIN_TOKEN_LENGTH` characters). People sign in to the
dashboard with such a token or through OpenID Connect (`operations.signin`); either way their browser
then holds only a server-side session's id (`COOKIE`, `operations.sessions`), never the token. The role
a caller has is the role its actions are recorded with: nobody acts in another role's name.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from domain.models import Actor, OpaqueId, Role

# The roles that use the API and the dashboard (issue 5); the employee and UWV act through the case manager.
API_ROLES = frozenset(
    {
        Role.OPERATIONS,
        Role.CASEMANAGER,
        Role.REINTEGRATIECOACH,
        Role.BEDRIJFSARTS,
        Role.ARBEIDSDESKUNDIGE,
        Role.WERKGEVER,
    }
)

# The dashboard's session cookie: a random session id (operations.sessions). A new name, so that a browser
# still holding an old raw-token cookie ("spoorwerk_token") is simply asked to sign in again.
COOKIE = "spoorwerk_session"
# 32 characters of secrets.token_urlsafe carry 192 bits: no guessing, throttled or not.
MIN_TOKEN_LENGTH = 32
# On the embedded default, the tokens `spoorwerk demo` makes for each role, beside the operations token
# (same folder, same mode 0600), in SPOORWERK_API_TOKENS's JSON form.
DEMO_TOKEN_FILE = "demo-tokens.json"


class Caller(BaseModel):
    """An authenticated caller: a role, an opaque id, and for an employer the employer it acts for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    id: OpaqueId
    employer_id: OpaqueId | None = None
    employer_ids: list[OpaqueId] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="For a casemanager, bedrijfsarts, arbeidsdeskundige or coach: the employers it works for "
        "(domain.access); unset: every employer of the bureau",
    )

    @property
    def actor(self) -> Actor:
        return Actor(role=self.role, id=self.id)

    def may_see_medical_notes(self) -> bool:
        return self.role is Role.BEDRIJFSARTS


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Caller | None: ...


class TokenAuthenticator:
    """Static tokens from configuration, compared in constant time."""

    def __init__(self, tokens: dict[str, Caller]) -> None:
        for caller in tokens.values():
            if caller.role is Role.SYSTEEM:
                raise ValueError("SPOORWERK_API_TOKENS: the role systeem is the workflow's own, not a caller's")
            if caller.role is Role.WERKGEVER and caller.employer_id is None:
                raise ValueError(f"SPOORWERK_API_TOKENS: the werkgever {caller.id} needs an employer_id")
        self._tokens = [(t.encode(), c) for t, c in tokens.items()]

    def authenticate(self, token: str) -> Caller | None:
        found = None
        for known, caller in self._tokens:
            if hmac.compare_digest(known, token.encode()):
                found = caller
        return found

    def tokens(self) -> dict[str, Caller]:
        """The tokens and their callers (to combine them with others)."""
        return {known.decode(): caller for known, caller in self._tokens}

    def knows(self, caller: Caller) -> bool:
        """Whether a token for exactly this caller is still configured: a dashboard session made with a token
        that configuration has since dropped (or changed the scope of) ends with it."""
        return any(known == caller for _, known in self._tokens)

    @classmethod
    def from_json(cls, text: str, *, min_length: int = MIN_TOKEN_LENGTH) -> TokenAuthenticator:
        """The tokens of SPOORWERK_API_TOKENS; each at least `min_length` characters (the error never shows one)."""
        try:
            tokens = TypeAdapter(dict[str, Caller]).validate_json(text)
        except ValidationError as err:
            fields = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in err.errors(include_url=False))
            raise ValueError(f"SPOORWERK_API_TOKENS: {fields}") from None
        for token, caller in tokens.items():
            _strong_enough(token, min_length, f"SPOORWERK_API_TOKENS: the token of {caller.role.value} {caller.id}")
        return cls(tokens)


def _strong_enough(token: str, min_length: int, what: str) -> None:
    if len(token) < min_length:
        raise ValueError(
            f"{what} is {len(token)} characters long; at least {min_length} are required "
            f"(SPOORWERK_MIN_TOKEN_LENGTH). Make one with: "
            f"python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def local_operations_token(path: Path) -> str:
    """The embedded default's token for operations, made once and kept (mode 0600) in the data folder."""
    if path.exists():
        return path.read_text("utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token


class LocalAuthenticator:
    """The embedded default's callers: the local operations token, and the demo's tokens for each role
    (`DEMO_TOKEN_FILE` beside it), read again whenever that file changes, so that `spoorwerk demo` can hand
    out sign-ins to the running service without a restart. A file that does not parse adds nobody."""

    def __init__(self, operations_token: str, demo_file: Path, *, min_length: int = MIN_TOKEN_LENGTH) -> None:
        self._operations = {operations_token: Caller(role=Role.OPERATIONS, id="local-operations")}
        self._demo_file, self._min_length = demo_file, min_length
        self._seen: tuple[int, int, int] | None = None
        self._current = TokenAuthenticator(self._operations)

    def _tokens(self) -> TokenAuthenticator:
        try:
            st = self._demo_file.stat()
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            seen = None
        if seen != self._seen:
            self._seen, tokens = seen, dict(self._operations)
            if seen is not None:
                try:
                    tokens |= TokenAuthenticator.from_json(
                        self._demo_file.read_text("utf-8"), min_length=self._min_length
                    ).tokens()
                except (OSError, ValueError) as err:
                    import structlog

                    # The reason names the setting and caller, never a token.
                    structlog.get_logger("spoorwerk.auth").warning(
                        "demo tokens not used", file=str(self._demo_file), reason=str(err)[:300]
                    )
            self._current = TokenAuthenticator(tokens)
        return self._current

    def authenticate(self, token: str) -> Caller | None:
        return self._tokens().authenticate(token)

    def knows(self, caller: Caller) -> bool:
        """As TokenAuthenticator.knows: a session of a demo token ends when the demo file drops it."""
        return self._tokens().knows(caller)


def authenticator_from(
    tokens_json: str | None, token_file: Path, *, min_length: int = MIN_TOKEN_LENGTH
) -> TokenAuthenticator | LocalAuthenticator:
    """Configured tokens, or else the embedded default's: the local operations token and the demo's tokens
    beside it (`DEMO_TOKEN_FILE`); none shorter than `min_length` (ValueError naming the setting or file and the
    reason, never the token)."""
    if tokens_json:
        return TokenAuthenticator.from_json(tokens_json, min_length=min_length)
    token = local_operations_token(token_file)
    _strong_enough(token, min_length, f"the operations token in {token_file}")
    return LocalAuthenticator(token, token_file.with_name(DEMO_TOKEN_FILE), min_length=min_length)


def tokens_json(tokens: dict[str, Caller]) -> str:
    """The JSON form of SPOORWERK_API_TOKENS (for tests and tooling)."""
    return json.dumps({t: c.model_dump(mode="json", exclude_none=True) for t, c in tokens.items()})
