"""Who calls the API, and with which role.

Callers present a bearer token (header `Authorization: Bearer …`, or the dashboard's cookie). Tokens
come from configuration (`SPOORWERK_API_TOKENS`); an OIDC provider can replace `TokenAuthenticator`
behind the same `Authenticator` protocol. The role a caller has is the role its actions are recorded
with: nobody acts in another role's name.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from domain.models import Actor, OpaqueId, Role

COOKIE = "spoorwerk_token"


class Caller(BaseModel):
    """An authenticated caller: a role, an opaque id, and for an employer the employer it acts for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    id: OpaqueId
    employer_id: OpaqueId | None = None

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

    @classmethod
    def from_json(cls, text: str) -> TokenAuthenticator:
        try:
            return cls(TypeAdapter(dict[str, Caller]).validate_json(text))
        except ValidationError as err:
            fields = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in err.errors(include_url=False))
            raise ValueError(f"SPOORWERK_API_TOKENS: {fields}") from None


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


def authenticator_from(tokens_json: str | None, token_file: Path) -> TokenAuthenticator:
    """Configured tokens, or else the local operations token of the embedded default."""
    if tokens_json:
        return TokenAuthenticator.from_json(tokens_json)
    token = local_operations_token(token_file)
    return TokenAuthenticator({token: Caller(role=Role.OPERATIONS, id="local-operations")})


def tokens_json(tokens: dict[str, Caller]) -> str:
    """The JSON form of SPOORWERK_API_TOKENS (for tests and tooling)."""
    return json.dumps({t: c.model_dump(mode="json", exclude_none=True) for t, c in tokens.items()})
