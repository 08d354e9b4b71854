"""The workflow sandbox's one tuning (workflows/sandbox.py) is in use, and changes nothing a workflow sees."""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import _runner

from workflows import sandbox


async def test_the_sandbox_compiles_its_code_once_and_workflows_still_run(driver):
    assert vars(_runner)["exec"] is sandbox._exec  # importing the runner's settings puts it in place
    before = sandbox._compiled.cache_info()
    first = await driver.today()
    await driver.open(first)
    await driver.act("ziekmelding_arbodienst_sent", first, role="werkgever")
    assert (await driver.summary()).stage.value == "ziekmelding"
    after = sandbox._compiled.cache_info()
    # The SDK still runs its fixed strings through `exec`: served from the cache, not compiled anew.
    # Should this fail after an SDK upgrade, the tuning is dead code: see docs/performance.md.
    assert after.hits - before.hits >= 10
    assert after.currsize <= 8
