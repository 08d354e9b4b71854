"""Files and folders the service keeps data in: readable by its own user only.

The data folder holds the Temporal database (every case's history), the notification log, the read audit,
rendered documents and the keys; none of it is for other users of the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """`path` as a folder of the service's user only (made if missing; an existing one is narrowed)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    os.chmod(path, PRIVATE_DIR)
    return path


_MADE_PRIVATE: set[Path] = set()  # the files open_private has made private in this process


def open_private(path: Path, flags: int) -> int:
    """A descriptor of `path` opened with `flags` (`os.open`'s), for a file written often (the notification log and
    its held lines): `private_file` the first time in this process, then a single call that makes the file private
    by its mode when it is missing. Each of `private_file`'s four calls lets go of Python's lock, and a worker's
    local activity that writes held lines waits to get it back from the workflow tasks each time."""
    if path not in _MADE_PRIVATE:
        private_file(path)
        _MADE_PRIVATE.add(path)
    try:
        return os.open(path, flags | os.O_CREAT, PRIVATE_FILE)
    except FileNotFoundError:  # its folder went since: made again, private
        private_file(path)
        return os.open(path, flags | os.O_CREAT, PRIVATE_FILE)


def private_file(path: Path) -> Path:
    """`path` as a file of the service's user only, in a private folder; made empty if missing, never truncated.

    An existing file is not opened: closing any descriptor of a file drops every POSIX lock this process holds on it,
    and SQLite keeps its database locks that way. A store opened a second time in one process (the worker's engine
    and the API's, `make run`) then lost its locks, another process's reader took itself for the last one and
    deleted the WAL, and the writes that followed went to a deleted file."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    os.chmod(path, PRIVATE_FILE)
    return path
