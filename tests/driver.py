"""Drives cases through time on the time-skipping server, the way people would act on them."""

from __future__ import annotations

import json
import os
import uuid
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.notify import NotificationLog
from domain.case import CaseOpening, CaseState, CaseSummary, DeadlineView, DossierEntry
from domain.models import Actor
from domain.nl_time import local_date, start_of_day
from operations import cases
from service.settings import Settings
from worker import build_worker
from workflows.sick_leave_case import ActionResult, CaseResult, SickLeaveCase

HISTORIES = Path(__file__).parent / "histories"

# The role that may record each action, for tests that do not care who.
DEFAULT_ROLE = {
    "probleemanalyse_recorded": "bedrijfsarts",
    "spoor2_consent_given": "bedrijfsarts",
    "ad_onderzoek_concluded": "arbeidsdeskundige",
    "wia_aanvraag_filed": "werknemer",
    "repair_accepted": "uwv",
    "deskundigenoordeel_answered": "uwv",
}


class CaseDriver:
    def __init__(self, env: WorkflowEnvironment, settings: Settings, task_queue: str) -> None:
        self.env = env
        self.client = env.client
        self.settings = settings
        self.task_queue = task_queue
        self.case_id: str | None = None
        self.handle: WorkflowHandle[SickLeaveCase, CaseResult] | None = None
        self.opened: list[str] = []

    @classmethod
    @asynccontextmanager
    async def running(cls, env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[CaseDriver]:
        settings = Settings(data_dir=tmp_path / "data", max_cached_workflows=100)
        task_queue = f"tq-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, settings, task_queue=task_queue):
            driver = cls(env, settings, task_queue)
            try:
                yield driver
            finally:
                await driver.terminate_open_cases()

    # ------------------------------------------------------------ time

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def today(self) -> date:
        return local_date(await self.now())

    async def advance(self, *, days: int = 0, weeks: int = 0) -> None:
        await self.env.sleep(timedelta(days=days, weeks=weeks))

    async def advance_to(self, day: date, *, hour: int = 10) -> None:
        """Move time to `hour` o'clock (Amsterdam, roughly) on `day`."""
        target = start_of_day(day) + timedelta(hours=hour)
        delta = target - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)

    # ------------------------------------------------------------ case

    async def open(self, first_sick_day: date | None = None, **fields: Any) -> WorkflowHandle:
        self.case_id = fields.pop("case_id", None) or f"C{uuid.uuid4().hex[:10]}"
        cap = fields.pop("cap", None)
        opening = CaseOpening(
            case_id=self.case_id,
            employer_id=fields.pop("employer_id", "E-acme"),
            first_sick_day=first_sick_day or await self.today(),
            opened_by=Actor(role="casemanager", id="cm-1"),
            **fields,
        )
        self.handle = await cases.open_case(
            self.client, opening, task_queue=self.task_queue, today=await self.today(),
            continue_as_new_after_events=cap,
        )
        self.opened.append(self.handle.id)
        return self.handle

    async def terminate_open_cases(self) -> None:
        """A case left running without its worker would hold the shared test server's clock still."""
        for wf_id in self.opened:
            try:
                await self.client.get_workflow_handle(wf_id).terminate("test finished")
            except Exception:  # already closed
                pass

    def payload(self, kind: str, on: date, *, role: str | None = None, action_id: str | None = None, **fields: Any) -> dict:
        return {
            "kind": kind,
            "action_id": action_id or f"a-{uuid.uuid4().hex[:12]}",
            "actor": {"role": role or DEFAULT_ROLE.get(kind, "casemanager")},
            "on": on.isoformat(),
            **fields,
        }

    async def act(self, kind: str, on: date | None = None, **fields: Any) -> ActionResult:
        assert self.case_id
        return await cases.act(self.client, self.case_id, self.payload(kind, on or await self.today(), **fields))

    async def summary(self) -> CaseSummary:
        return await self.handle.query(SickLeaveCase.summary, await self.today())

    async def deadlines(self) -> dict[str, DeadlineView]:
        views = await self.handle.query(SickLeaveCase.deadlines, await self.today())
        return {v.mark: v for v in views}

    async def dossier(self) -> list[DossierEntry]:
        return await self.handle.query(SickLeaveCase.dossier)

    async def state(self) -> CaseState:
        return await self.handle.query(SickLeaveCase.state)

    async def result(self) -> CaseResult:
        return await self.handle.result()

    async def search_attributes(self) -> dict[str, Any]:
        """The case's search attributes as JSON values, read raw: the time-skipping server sends an
        unset datetime as null, which the SDK's typed decoder does not accept."""
        from temporalio.api.common.v1 import WorkflowExecution
        from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

        raw = await self.client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(namespace=self.client.namespace, execution=WorkflowExecution(workflow_id=self.handle.id))
        )
        fields = raw.workflow_execution_info.search_attributes.indexed_fields
        return {name: json.loads(payload.data) if payload.data else None for name, payload in fields.items()}

    async def save_history(self, name: str, run_id: str | None = None) -> None:
        """With SPOORWERK_RECORD_HISTORIES=1, keep this case's history for the replay test."""
        if os.environ.get("SPOORWERK_RECORD_HISTORIES") != "1":
            return
        history = await self.client.get_workflow_handle(self.handle.id, run_id=run_id).fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(history.to_json(), "utf-8")

    def notifications(self) -> list[dict]:
        return NotificationLog(self.settings.notification_log_path).read()
