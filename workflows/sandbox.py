"""The workflow sandbox's settings, shared by the worker and the replay test."""

import builtins
import functools
from typing import Any

from temporalio.worker import WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions, _runner

# pydantic's EmailStr imports email_validator (and idna) on first use, which may be inside a
# workflow: they are pure, so they pass through rather than being re-imported in every sandbox.
# The workflow modules pass through too (issue 22): re-importing `workflows/` for every new case was a quarter of a
# start's worker CPU and most of a cached case's memory. They keep no state between runs (their one module-level
# table, `payloads._SHARED_RULES`, holds rule sets by content), and what the sandbox checked at run time for them, no
# clock, chance, environment or file, tests/test_layout.py checks in their source.
WORKFLOW_RUNNER: WorkflowRunner = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "workflows")
)


@functools.lru_cache(maxsize=32)
def _compiled(source: str) -> Any:
    return compile(source, "<string>", "exec")


def _exec(source: Any, globals_: Any = None, locals_: Any = None) -> None:
    """`exec` with the compiled code of a source string kept: same code, same namespaces."""
    builtins.exec(_compiled(source) if isinstance(source, str) else source, globals_, locals_)


# The SDK's sandbox (temporalio 1.35) runs a fixed two-line string with `exec` on every activation
# and on every payload it encodes or decodes (to find the payload's serialization context), and so
# compiles it anew each time: a sixth of the worker's CPU per update in the benchmark's profile
# (docs/performance.md). The module looks `exec` up in its globals, so this one, which compiles each
# distinct string once, takes its place there; should the SDK stop calling `exec`, it is simply unused.
_runner.exec = _exec  # type: ignore[attr-defined]  # a new global of the module: its `exec` is the builtin
