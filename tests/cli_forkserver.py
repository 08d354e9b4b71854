"""`spoorwerk` commands for the tests, each in a process of its own, without paying the command's imports each time.

Run as `python -m tests.cli_forkserver`: it imports the command line once, then forks a child per request, as
`python -m operations.cli` would run (its own process, environment, working folder, stdout and stderr, exit code),
without the imports, which take over a second of CPU per command (seconds on loaded cores): the command-line
tests' module took 18 s instead of 57 on an idle machine.
It reads one JSON request a line on stdin, `{"id", "argv", "env", "cwd"}`, and writes one JSON answer a line on
stdout, `{"id", "rc", "out", "err"}`, as each child ends: requests may overlap. One thread only, so a fork copies no
lock another thread held.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

# What a command imports, imported before the first fork: the command line, its HTTP client, and what `--direct`
# takes (the Temporal client; importing it starts no thread, connecting does, in the child).
import httpx  # noqa: F401
import temporalio.client  # noqa: F401

import operations.cases  # noqa: F401
import operations.cli


def _child(request: dict[str, Any], out: Path, err: Path) -> None:
    """Run one command in this forked process and leave with its exit code; never returns."""
    code = 70  # EX_SOFTWARE, if anything below fails before the command's own code
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path in ((1, out), (2, err)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 (the process's own stdout)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)  # not the requests' pipe
        os.close(nothing)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.argv = ["spoorwerk", *request["argv"]]
        try:
            code = operations.cli.main(request["argv"])
        except SystemExit as exit_:  # argparse's own exit (a bad flag: 2)
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # noqa: BLE001 (the traceback goes to the command's stderr, as Python would print it)
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            # As the command does after `--direct`: no interpreter teardown (the Temporal bridge's threads).
            os._exit(code)


def serve() -> None:
    """Answer requests until stdin closes and every child has ended."""
    answers = sys.stdout.fileno()
    running: dict[int, tuple[str, Path, Path]] = {}
    pending = b""
    folder = Path(tempfile.mkdtemp(prefix="spoorwerk-cli-"))
    open_input = True
    while open_input or running:
        ready, _, _ = select.select([sys.stdin.fileno()] if open_input else [], [], [], 0.01)
        if ready:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                open_input = False
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                out, err = folder / f"{request['id']}.out", folder / f"{request['id']}.err"
                pid = os.fork()
                if pid == 0:
                    _child(request, out, err)
                running[pid] = (request["id"], out, err)
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            request_id, out, err = running.pop(pid)
            answer = {
                "id": request_id,
                "rc": os.waitstatus_to_exitcode(status),
                "out": out.read_text("utf-8", errors="replace"),
                "err": err.read_text("utf-8", errors="replace"),
            }
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)
            data = (json.dumps(answer) + "\n").encode()
            while data:
                data = data[os.write(answers, data) :]
    folder.rmdir()


class Commands:
    """The tests' side: a fork server started once, and `run` for one command in a child of it."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.cli_forkserver"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._ids = itertools.count()
        self._answers: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self._write = threading.Lock()
        threading.Thread(target=self._read, daemon=True, name="cli-forkserver answers").start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            answer = json.loads(line)
            with self._arrived:
                self._answers[answer["id"]] = answer
                self._arrived.notify_all()
        with self._arrived:  # the server is gone: nobody waits in vain
            self._arrived.notify_all()

    def _wait(self, request_id: str, timeout: float) -> dict[str, Any]:
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: request_id in self._answers or self._proc.poll() is not None, timeout=timeout
            ):
                raise TimeoutError(f"spoorwerk command {request_id} did not end in {timeout} s")
            if request_id not in self._answers:
                raise RuntimeError(f"the command fork server ended with {self._proc.returncode}")
            return self._answers.pop(request_id)

    async def run(self, argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
        """`spoorwerk *argv` with `env` as its whole environment: exit code, stdout, stderr."""
        request_id = str(next(self._ids))
        data = (json.dumps({"id": request_id, "argv": argv, "env": env, "cwd": str(self.cwd)}) + "\n").encode()
        assert self._proc.stdin is not None
        with self._write:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        answer = await asyncio.to_thread(self._wait, request_id, timeout)
        return answer["rc"], answer["out"], answer["err"]

    def close(self) -> None:
        """Let running commands end, then the server."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


_started: dict[Path, Commands] = {}


def commands(cwd: Path) -> Commands:
    """This test process's fork server for commands run in `cwd`, started on first use, ended at exit."""
    if cwd not in _started:
        _started[cwd] = Commands(cwd)
        atexit.register(_started[cwd].close)
    return _started[cwd]


if __name__ == "__main__":
    serve()
