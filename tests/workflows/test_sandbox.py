"""The workflow sandbox's tunings (workflows/sandbox.py, and the shared TypeAdapters of service/codec.py) are in use,
and change nothing a workflow sees."""

from __future__ import annotations

import builtins
from typing import Any

from temporalio.converter import ActivitySerializationContext
from temporalio.worker.workflow_sandbox import _runner

from domain import case as rules
from service import codec
from workflows import sandbox


async def test_the_sandbox_compiles_its_code_once_and_workflows_still_run(driver):
    assert vars(_runner)["exec"] is sandbox._exec  # importing the runner's settings puts it in place
    before = sandbox._compiled.cache_info()
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    assert (await driver.summary()).stage.value == "ziekmelding"
    after = sandbox._compiled.cache_info()
    # The SDK still runs its fixed strings through `exec` (one per activation): served from the cache, not compiled
    # anew. Should this fail after an SDK upgrade, the tuning is dead code: see docs/performance.md.
    assert after.hits - before.hits >= 4
    assert after.currsize <= 8


async def test_payload_contexts_are_the_sdks_and_the_sdk_no_longer_swaps_isinstance(driver, monkeypatch):
    """The context each payload of a case that opens and takes two actions is encoded or decoded with (its local
    activity's among them) is the one the SDK's own way finds; while the workflow runs, `isinstance` is the builtin."""
    pairs: list[tuple[Any, Any]] = []
    seen: list[bool] = []
    ours = sandbox._Instance.get_serialization_context

    def both(self: sandbox._Instance, command_info: Any) -> Any:
        answer = ours(self, command_info)
        pairs.append((answer, _runner._Instance.get_serialization_context(self, command_info)))
        return answer

    next_wake = rules.next_wake

    def looking(*args: Any, **kwargs: Any) -> Any:  # runs inside the workflow's activation
        seen.append(builtins.isinstance is _ISINSTANCE)
        return next_wake(*args, **kwargs)

    monkeypatch.setattr(sandbox._Instance, "get_serialization_context", both)
    monkeypatch.setattr(rules, "next_wake", looking)
    before = codec._TYPE_ADAPTERS.cache_info()
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    await driver.act("probleemanalyse_recorded", first, role="bedrijfsarts")
    assert (await driver.summary()).stage.value == "spoor1"
    assert pairs and all(a == b for a, b in pairs), [p for p in pairs if p[0] != p[1]][:3]
    assert any(isinstance(a, ActivitySerializationContext) for a, _ in pairs)  # the wake's local activity
    assert seen and all(seen)
    after = codec._TYPE_ADAPTERS.cache_info()
    # The SDK's converters, made anew per activation, find the adapters already built.
    assert after.hits - before.hits >= 5


_ISINSTANCE = builtins.isinstance
