"""How messages reach UWV and how its answers come back: the channel interface, and a file drop.

A channel takes a message's bytes under its id and says what it made of it (`reference`); handing the same message
over again is harmless (a retried send drops nothing twice); a different message under an id already used is refused.
It reads UWV's answers (domain.uwv.Answer) and is told when one is recorded, so that it is not read again.

The file drop writes `<message id>.json` into the outbox folder (SPOORWERK_UWV_OUTBOX_DIR) and reads answers as
`*.json` from the answers folder (SPOORWERK_UWV_ANSWERS_DIR): whatever carries the files to UWV and back (the payroll
system's connector, an SFTP job) works on those folders. Both are the service user's only (0700, files 0600): a
message names the employee by BSN. An answer recorded moves to `processed/`, one that cannot be read to `invalid/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from domain.uwv import Answer
from service.files import PRIVATE_FILE, private_dir
from service.settings import Settings


class ChannelError(Exception):
    """The channel cannot take the message (the reason names no personal data)."""


@dataclass(frozen=True)
class Received:
    """One answer the channel found: the answer, or why it cannot be read; `handle` to settle it by."""

    handle: str
    answer: Answer | None
    problem: str | None = None


class UwvChannel(Protocol):
    def send(self, message_id: str, content: bytes) -> str:
        """Hand the message over; returns the reference. Idempotent per message id and content."""
        ...

    def answers(self) -> list[Received]:
        """UWV's answers not yet settled, oldest first."""
        ...

    def settle(self, received: Received, *, recorded: bool) -> None:
        """The answer was recorded (or cannot be): it is not read again."""
        ...


class FileDrop:
    """Messages as files in one folder, answers as files in another."""

    def __init__(self, outbox: Path, answers: Path) -> None:
        self.outbox, self.answers_dir = outbox, answers

    def send(self, message_id: str, content: bytes) -> str:
        private_dir(self.outbox)
        name = f"{message_id}.json"
        target = self.outbox / name
        reference = f"file:{name}"
        if target.exists():
            if target.read_bytes() == content:
                return reference  # dropped before: a retry
            raise ChannelError(f"{name}: another message is in the outbox under this id")
        # Written aside and linked into place: a connector never reads half a file, and of two senders one wins.
        partial = self.outbox / f".{name}.{os.getpid()}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(partial, target)
            except FileExistsError:
                if target.read_bytes() != content:
                    raise ChannelError(f"{name}: another message is in the outbox under this id") from None
        finally:
            partial.unlink(missing_ok=True)
        return reference

    def answers(self) -> list[Received]:
        if not self.answers_dir.is_dir():
            return []
        found: list[Received] = []
        for path in sorted(self.answers_dir.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)):
            try:
                found.append(Received(handle=path.name, answer=Answer.model_validate_json(path.read_bytes())))
            except ValidationError as err:
                problems = "; ".join(
                    f"{'.'.join(str(x) for x in e['loc']) or 'answer'}: {e['msg']}" for e in err.errors()
                )
                found.append(Received(handle=path.name, answer=None, problem=problems))
            except OSError as err:
                found.append(Received(handle=path.name, answer=None, problem=err.strerror or "unreadable"))
        return found

    def settle(self, received: Received, *, recorded: bool) -> None:
        source = self.answers_dir / received.handle
        folder = private_dir(self.answers_dir / ("processed" if recorded else "invalid"))
        if source.exists():
            os.replace(source, folder / received.handle)


def channel_from_settings(settings: Settings) -> UwvChannel:
    """The configured channel (SPOORWERK_UWV_CHANNEL; only the file drop for now)."""
    return FileDrop(settings.uwv_outbox_path, settings.uwv_answers_path)
