"""What every notification channel shares: how it fails, what it reports, what it may send; and what a case's wake
hands the worker's local channels and store in one local activity (activities.local_work)."""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel, Field

from domain.facts import CaseFacts
from domain.models import Notification
from domain.notices import NoticeRef

# Anything shaped like an e-mail address, bare or in angle brackets, as servers echo them back.
_ADDRESS = re.compile(r"<?[^\s<>@\"',;:]+@[^\s<>@\"',;]+>?")
_MAX_DETAIL = 160
# What a channel other than e-mail may carry: a whitelist, so a field added to Notification later
# (like the e-mail recipients) does not travel to receivers unnoticed.
PUBLIC_FIELDS = frozenset(
    {"notification_id", "case_id", "recipient_role", "kind", "subject", "body", "deadline_key", "due"}
)


class ChannelFailure(BaseModel):
    """A channel that gave up on a notification for good, and why (no addresses, no content)."""

    channel: str
    reason: str


class DeliveryReport(BaseModel):
    """The `notify` activity's result: the channels that delivered and those that failed for good."""

    notification_id: str
    delivered: list[str] = Field(default_factory=list)
    failed: list[ChannelFailure] = Field(default_factory=list)

    @property
    def finished(self) -> set[str]:
        """Channels that need no further attempt."""
        return set(self.delivered) | {f.channel for f in self.failed}


class LocalDelivery(BaseModel):
    """The `notify_local` activity's result: a report per notification over the worker's local channels, and whether
    anything is left for the `notify_batch` activity with the long retry (a channel that is not local, or a local one
    that failed and may work later)."""

    reports: list[DeliveryReport]
    rest: bool


class LocalWork(BaseModel):
    """One wake's local work: its notices (with the workflow task that made them, for the held log lines), its
    facts, or both."""

    notices: list[Notification | NoticeRef] = []
    task: int | None = None  # the history length the workflow task saw (activities.held_notices)
    facts: CaseFacts | None = None


class LocalWorkDone(BaseModel):
    """What each part of a `local_work` did: a part not asked is None; a part that failed names why."""

    delivery: LocalDelivery | None = None
    notices_failed: str | None = None
    facts_written: int | None = None
    facts_failed: str | None = None


class DeliveryError(Exception):
    """A channel could not deliver. `reason` names the channel and the cause, fit for the dossier."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentFailure(DeliveryError):
    """Trying again cannot help (a refused recipient, no address, HTTP 400): report, do not retry."""


class TransientFailure(DeliveryError):
    """Trying again later may help (a server down, a 4xx SMTP reply, HTTP 503): retry the activity."""


class Channel(Protocol):
    """One way of delivering a notification. `deliver` returns when delivered, else raises a DeliveryError.

    A channel with a true `local` attribute is fast and on this machine (the notification log): a case delivers over
    it by local activity, in the workflow task that made the notification, not by an activity of its own; its
    `deliver` then also takes that task (activities.held_notices.Task) and holds the notification until the task
    is recorded."""

    name: str

    def deliver(self, notification: Notification) -> None: ...


def redact(text: str) -> str:
    """A server's reply fit for logs and dossiers: addresses replaced, one short line."""
    text = _ADDRESS.sub("<address>", " ".join(text.split()))
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def public_fields(notification: Notification) -> dict[str, Any]:
    """The notification as JSON values, without whom it is addressed to: receivers route by role."""
    return notification.model_dump(mode="json", include=set(PUBLIC_FIELDS))
