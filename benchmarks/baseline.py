"""The baseline: a bare workflow that waits on a timer and an update, and nothing else.

It runs on the same server and worker as `SickLeaveCase`, with the same pydantic data converter,
encryption codec and sandbox, so the benchmark's ratios measure Spoorwerk's own workflow logic.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

# Its models live in a module of their own, passed through the sandbox, as the SDK advises: the
# sandbox re-imports a workflow's own module for every new workflow instance.
with workflow.unsafe.imports_passed_through():
    from benchmarks.baseline_models import BaselineAnswer, BaselineInput, BaselineSummary

WORKFLOW_TYPE = "BaselineCase"
__all__ = ["WORKFLOW_TYPE", "BaselineAnswer", "BaselineCase", "BaselineInput", "BaselineSummary"]


@workflow.defn(name=WORKFLOW_TYPE)
class BaselineCase:
    @workflow.init
    def __init__(self, input: BaselineInput) -> None:
        self._case_id = input.case_id
        self._wake = input.wake_at
        self._actions = 0
        self._fired = 0
        self._changed = False

    @workflow.run
    async def run(self, input: BaselineInput) -> int:
        while True:
            self._changed = False
            now = workflow.now()
            if input.until is not None and now >= input.until:
                break
            while self._wake is not None and self._wake <= now:
                self._fired += 1
                self._wake += input.every
            wake = min((w for w in (self._wake, input.until) if w is not None), default=None)
            timeout = None if wake is None else max(wake - now, timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            except asyncio.TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._actions

    @workflow.update(name="act")
    def act(self, request: Any) -> BaselineAnswer:
        self._actions += 1
        self._changed = True
        action_id = request.get("action_id", "") if isinstance(request, dict) else ""
        return BaselineAnswer(action_id=str(action_id), applied=True, count=self._actions)

    @workflow.query
    def summary(self) -> BaselineSummary:
        return BaselineSummary(case_id=self._case_id, actions=self._actions, fired=self._fired, next_wake=self._wake)
