"""Recorded histories of real cases replay against the current workflow code.

A failure here means a change would break cases that are already running: guard the change with
`workflow.patched()` (see docs/versioning.md, which also names the files that record new histories with
`SPOORWERK_RECORD_HISTORIES=1`); an existing recording is never overwritten. Which kept recordings still need
which patch is checked in tests/workflows/test_versioning.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from service.codec import KeyRing
from service.temporal import data_converter
from tests.paths import TESTS
from workflows.sandbox import WORKFLOW_RUNNER
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory

# One folder per release (domain.case.CURRENT_VERSION) whose runs may still be running: each holds what it recorded.
# The recordings hold clear payloads (see CaseDriver.save_workflow_history): read with the legacy opt-in,
# which the service never uses (it refuses unencrypted payloads: tests/operations/test_side_doors.py).
DATA_CONVERTER = data_converter(KeyRing.generate(), accept_unencrypted_legacy=True)
HISTORIES = sorted((TESTS / "histories").glob("v*/*.json"))


def test_there_are_recorded_histories():
    assert len(HISTORIES) >= 6


@pytest.mark.parametrize("path", HISTORIES, ids=[f"{p.parent.name}/{p.stem}" for p in HISTORIES])
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(f"replay-{path.stem}", path.read_text("utf-8"))
    result = await Replayer(
        workflows=[SickLeaveCase, Spoor2Trajectory], data_converter=DATA_CONVERTER, workflow_runner=WORKFLOW_RUNNER
    ).replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
