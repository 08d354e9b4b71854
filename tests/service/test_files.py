"""The data folder's files are the service's user's only (service.files), also those written often through
`open_private`, whose later opens skip `private_file`'s checks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from service.files import open_private


def _modes(path: Path) -> tuple[int, int]:
    return path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777


def test_a_file_written_often_is_private_from_its_first_write_and_whenever_it_is_made_again(tmp_path):
    before = os.umask(0o022)  # a permissive umask, as outside the service (worker.main sets 077)
    try:
        folder = tmp_path / "data"
        folder.mkdir()
        os.chmod(folder, 0o755)
        path = folder / "notifications.jsonl"
        os.close(open_private(path, os.O_WRONLY | os.O_APPEND))
        assert _modes(path) == (0o600, 0o700)  # an existing folder is narrowed at the first open
        path.unlink()
        os.close(open_private(path, os.O_WRONLY | os.O_APPEND))  # made again by the single call
        assert _modes(path) == (0o600, 0o700)
        shutil.rmtree(folder)
        fd = open_private(path, os.O_WRONLY | os.O_APPEND)  # its folder gone too: both made again
        os.write(fd, b"{}\n")
        os.close(fd)
        assert _modes(path) == (0o600, 0o700)
        assert path.read_bytes() == b"{}\n"
    finally:
        os.umask(before)
