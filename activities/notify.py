"""Notifications. The embedded channel appends to a JSON-lines notification log."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from temporalio import activity

from domain.case import Notification


class NotificationLog:
    """A notification channel that appends each notification once to a JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._sent: set[str] | None = None

    def _load_sent(self) -> set[str]:
        if self._sent is None:
            self._sent = set()
            if self.path.exists():
                for line in self.path.read_text("utf-8").splitlines():
                    if line.strip():
                        self._sent.add(json.loads(line)["notification_id"])
        return self._sent

    @activity.defn(name="notify")
    def notify(self, notification: Notification) -> bool:
        """Deliver a notification; False when it had been delivered before (a retry)."""
        with self._lock:
            sent = self._load_sent()
            if notification.notification_id in sent:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            record = {"sent_at": datetime.now(timezone.utc).isoformat(), **notification.model_dump(mode="json")}
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            sent.add(notification.notification_id)
        activity.logger.info(
            "notification sent", extra={"case_id": notification.case_id, "notification": notification.kind}
        )
        return True

    def read(self) -> list[dict]:
        """Every notification in the log, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line.strip()]
