"""Where the worker's time goes: py-spy samples of the worker process, sorted into categories.

Only samples that hold the GIL are taken (`--gil`), so the shares are of the worker's Python CPU.
Each sample goes to the first category, in the order below, that any frame of its stack matches:
the sandbox's re-import of the workflow module owns everything it calls (pydantic models built
anew included), the codec owns the AES-GCM it calls, and so on.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    (
        "sandbox: new workflow instance (re-import of the workflow module)",
        (
            "_create_workflow_instance (temporalio/worker/_workflow.py",
            "create_instance (temporalio/worker/workflow_sandbox",
        ),
    ),
    ("search attribute upserts", ("_upsert_search_attributes",)),
    ("payload codec (AES-GCM)", ("service/codec.py",)),
    ("payload conversion (pydantic JSON)", ("temporalio/converter/", "temporalio/contrib/pydantic.py")),
    ("payload visiting (codec plumbing)", ("temporalio/bridge/_visitor.py", "_command_aware_visitor.py")),
    ("domain rules (domain/)", ("(domain/",)),
    ("workflow code (workflows/, baseline)", ("(workflows/", "(benchmarks/baseline")),
    ("sandbox: activation (restricted modules, importer)", ("temporalio/worker/workflow_sandbox/",)),
    ("activities (notify, documents)", ("(activities/", "(documents/", "_ActivityWorker")),
    ("SDK workflow machinery", ("temporalio/worker/_workflow_instance.py", "temporalio/worker/_workflow.py")),
    ("SDK bridge, protobuf, event loop, other", ("",)),
]


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Sampler:
    """`py-spy record` on a process while a `with` block runs; `.shares()` afterwards."""

    def __init__(self, pid: int, out: Path, rate: int = 100) -> None:
        self.pid, self.out, self.rate = pid, out, rate
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Sampler:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.pid),
                "--format",
                "raw",
                "--gil",
                "--rate",
                str(self.rate),
                "--nonblocking",
                "--output",
                str(self.out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            err = ""
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err[-500:]}")

    def shares(self) -> dict[str, float]:
        return categorize(self.out)


def categorize(path: Path) -> dict[str, float]:
    """Share (0-1) of GIL-holding samples per category, and `samples` the total."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text("utf-8").splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        frames = stack.split(";")
        for name, patterns in CATEGORIES:
            if any(p in f for p in patterns for f in frames):
                counts[name] += int(n)
                break
    shares: dict[str, float] = {name: counts[name] / total if total else 0.0 for name, _ in CATEGORIES}
    shares["samples"] = float(total)
    return shares


def top_functions(path: Path, limit: int = 25) -> list[tuple[str, float]]:
    """Functions by inclusive share of samples (a function counted once per sample)."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text("utf-8").splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in {re.sub(r":\d+\)", ")", f) for f in stack.split(";")}:
            inclusive[frame] += int(n)
    return [(frame, count / total) for frame, count in inclusive.most_common(limit)] if total else []
