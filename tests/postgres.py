"""A real PostgreSQL server for tests, from Debian's `postgresql` package (installed by .ci/run).

Registered as a pytest plugin in conftest: a test asks for `postgres` (one server per test module) and
makes itself a fresh database with `postgres.new_database()`. The server listens on a free loopback
port with its socket in its own folder, takes a password (scram-sha-256, as production would), and is
stopped at teardown even when tests fail. Without the server binaries the tests skip and say what to
install. PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the `postgres`
system user the package creates, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.loopback import free_port

NOT_INSTALLED = "PostgreSQL server binaries not installed: apt-get install postgresql"


def server_binaries() -> Path | None:
    """The newest Debian PostgreSQL's bin folder (/usr/lib/postgresql/<major>/bin), or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [p for p in found if (p / "pg_ctl").exists() and (p / "postgres").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, default=None)


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) for `database` on this server."""
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database of the test's own; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _reachable_temp() -> str:
    """A temporary folder others may pass through: some machines keep /tmp private to root (mode 0700)."""
    for base in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        if os.path.isdir(base) and os.stat(base).st_mode & stat.S_IXOTH:
            return base
    return tempfile.gettempdir()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = server_binaries()
    if bin_dir is None:
        pytest.skip(NOT_INSTALLED)
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if (
            runuser is None
            or shutil.which("id") is None
            or subprocess.run(["id", "postgres"], capture_output=True).returncode
        ):
            pytest.skip(
                "running as root, and no `postgres` user (or no runuser) to start PostgreSQL as: "
                "apt-get install postgresql"
            )
        as_user = [runuser, "-u", "postgres", "--"]
    # Not under pytest's tmp folder: that is private to root, and the postgres user must reach its files.
    home = Path(tempfile.mkdtemp(prefix="spoorwerk-pg-", dir=_reachable_temp()))
    data, log = home / "data", home / "server.log"
    password = secrets.token_urlsafe(16)
    (home / "pw").write_text(password + "\n")
    if as_user:
        shutil.chown(home, "postgres")
        shutil.chown(home / "pw", "postgres")
    port = free_port()

    def run(*argv: str) -> None:
        done = subprocess.run([*as_user, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    started = False
    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={home / 'pw'}",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = True  # from here on a half-started server is stopped too
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start")
        yield PostgresServer(host="127.0.0.1", port=port, user="postgres", password=password)
    finally:
        if started:
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(home, ignore_errors=True)
