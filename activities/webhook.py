"""The webhook channel: a signed JSON POST per notification.

A receiver checks `X-Spoorwerk-Signature` with `verify` (HMAC-SHA256 over "<timestamp>.<raw body>"
with the shared secret) and drops repeats by `Idempotency-Key`, the notification id: a delivery that
timed out on our side may have arrived, and is then sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from activities.delivery import PermanentFailure, TransientFailure, public_fields
from domain.models import Notification

TIMESTAMP_HEADER = "X-Spoorwerk-Timestamp"
SIGNATURE_HEADER = "X-Spoorwerk-Signature"
# Statuses that say "later": timeouts, rate limits and server trouble. Other 4xx are our fault.
RETRY_STATUSES = frozenset({408, 429})


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The signature header's value: "sha256=" and the hex HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(_key(secret), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str | bytes,
    timestamp: int | str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: float | None = 300,
    now: float | None = None,
) -> bool:
    """True when `signature` is ours for this timestamp and body, and the timestamp is recent
    (within `tolerance_seconds`, None to skip that check): a replayed old request fails."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if tolerance_seconds is not None and abs((time.time() if now is None else now) - ts) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


class WebhookChannel:
    """POSTs the notification's fields (never e-mail addresses) to one URL."""

    name = "webhook"

    def __init__(
        self, *, url: str, secret: str | bytes, timeout: float = 10, client: httpx.Client | None = None
    ) -> None:
        self.url = url
        self._secret = _key(secret)
        # One pooled client for the worker's life; httpx's sync client is safe across threads.
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def request(self, notification: Notification, *, now: float | None = None) -> tuple[bytes, dict[str, str]]:
        """The body and headers of the POST for `notification`."""
        body = json.dumps(public_fields(notification), ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = str(int(time.time() if now is None else now))
        return body, {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            "Idempotency-Key": notification.notification_id,
        }

    def deliver(self, notification: Notification) -> None:
        body, headers = self.request(notification)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TransientFailure("webhook: timed out") from None
        except httpx.TransportError as err:  # refused, reset, DNS, TLS
            raise TransientFailure(f"webhook: {type(err).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"webhook: HTTP {status}"
        if status in RETRY_STATUSES or status >= 500:
            raise TransientFailure(reason)
        raise PermanentFailure(reason)

    def close(self) -> None:
        self._client.close()
