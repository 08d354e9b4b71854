"""What the case and trajectory workflows share: how they refuse an action and send notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.errors import ActionRefused
    from domain.models import DossierEntry, Notification

NOTIFY_TIMEOUT = timedelta(minutes=1)
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(hours=1))


def refused(reason: str) -> ApplicationError:
    """The failure an update validator or handler raises for an action that does not fit."""
    return ApplicationError(reason, type="ActionRefused", non_retryable=True)


def check_action(state: Any, request: dict[str, Any], parse: Callable, check: Callable, today: date) -> None:
    """An update validator: parse and check the action, refusing it with the reason."""
    try:
        check(state, parse(request), today)
    except ActionRefused as err:
        raise refused(str(err)) from None


def apply_action(state: Any, request: dict[str, Any], parse: Callable, apply: Callable, today: date) -> tuple[Any, bool, DossierEntry]:
    """An update handler: the action, whether it was applied now (not a retry), and its record entry."""
    try:
        action = parse(request)
        known = action.action_id in state.applied_actions
        entry = apply(state, action, today, workflow.now())
    except ActionRefused as err:
        raise refused(str(err)) from None
    return action, not known, entry


class Notifier:
    """Notifications run beside the workflow's loop, so a channel that is down does not stall it."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[Any]] = []

    def send(self, note: Notification) -> None:
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(
            workflow.start_activity(
                "notify", note, start_to_close_timeout=NOTIFY_TIMEOUT, retry_policy=NOTIFY_RETRY, summary=note.kind
            )
        )

    async def drain(self) -> None:
        """Let running handlers and notifications finish, before closing or continuing as new."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._tasks:
            await asyncio.gather(*self._tasks)
            self._tasks.clear()
