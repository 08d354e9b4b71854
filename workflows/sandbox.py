"""The workflow sandbox's settings, shared by the worker and the replay test."""

import builtins
import dataclasses
import functools
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions, _runner

# pydantic's EmailStr imports email_validator (and idna) on first use, which may be inside a
# workflow: they are pure, so they pass through rather than being re-imported in every sandbox.
# The workflow modules pass through too (issue 22): re-importing `workflows/` for every new case was a quarter of a
# start's worker CPU and most of a cached case's memory. They keep no state between runs (their one module-level
# table, `payloads._SHARED_RULES`, holds rule sets by content), and what the sandbox checked at run time for them, no
# clock, chance, environment or file, tests/test_layout.py checks in their source.
#
# Without the guarded builtins (`open`, `input`, `breakpoint`): to guard them the SDK swaps `builtins.isinstance` and
# `issubclass` for a Python wrapper in the whole process for every activation, which every thread then pays for
# (with `_Instance` below and service.codec's shared TypeAdapters, about 15% of a replayed event's CPU:
# docs/performance.md). The source check that guards the passed-through modules (tests/test_layout.py) refuses those
# three calls instead; the standard library's clock, chance and environment stay guarded at run time for what the
# workflow modules import.
_RESTRICTIONS = SandboxRestrictions.default.with_passthrough_modules("email_validator", "idna", "workflows")
_RESTRICTIONS = dataclasses.replace(
    _RESTRICTIONS,
    invalid_module_members=dataclasses.replace(
        _RESTRICTIONS.invalid_module_members,
        children={k: v for k, v in _RESTRICTIONS.invalid_module_members.children.items() if k != "__builtins__"},
    ),
)


class _Instance(_runner._Instance):
    """The SDK's sandboxed instance, asked for a payload's serialization context directly.

    The SDK asks it for every payload sequence it encodes or decodes, and answers by running a string in the sandbox
    with its import guards swapped in; the answer only reads the instance's info and pending activities, which needs
    neither."""

    def get_serialization_context(self, command_info: Any) -> Any:
        in_sandbox: Any = self.globals_and_locals["__temporal_in_sandbox"]
        return in_sandbox.get_serialization_context(command_info)


class _Runner(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance(det, self.runner_class, self.restrictions)


WORKFLOW_RUNNER: WorkflowRunner = _Runner(restrictions=_RESTRICTIONS)


@functools.lru_cache(maxsize=32)
def _compiled(source: str) -> Any:
    return compile(source, "<string>", "exec")


def _exec(source: Any, globals_: Any = None, locals_: Any = None) -> None:
    """`exec` with the compiled code of a source string kept: same code, same namespaces."""
    builtins.exec(_compiled(source) if isinstance(source, str) else source, globals_, locals_)


# The SDK's sandbox (temporalio 1.35) runs a fixed two-line string with `exec` on every activation
# (and, but for `_Instance` above, on every payload it encodes or decodes), and so compiles it anew
# each time: a sixth of the worker's CPU per update in the benchmark's profile (docs/performance.md).
# The module looks `exec` up in its globals, so this one, which compiles each distinct string once,
# takes its place there; should the SDK stop calling `exec`, it is simply unused.
_runner.exec = _exec  # type: ignore[attr-defined]  # a new global of the module: its `exec` is the builtin
