"""Drives cases through time on the time-skipping server, the way people would act on them."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.delivery import LocalWorkDone
from activities.held_notices import LogConfirmer
from activities.notify import NotificationLog
from domain.case import CURRENT_VERSION, CaseOpening, CaseState, CaseSummary, DeadlineView, DossierLine
from domain.models import Actor
from domain.nl_time import local_date, start_of_day
from domain.spoor2 import TrajectoryEvent, TrajectoryState, TrajectoryView
from operations import cases
from operations import spoor2 as trajectories
from service.codec import decode_message
from service.settings import Settings
from tests.paths import TESTS
from worker import build_worker
from workflows.ids import trajectory_workflow_id
from workflows.payloads import ActionResult, CaseResult, TrajectoryActionResult, TrajectoryResult
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory

HISTORIES = TESTS / "histories"
# The time-skipping server stops skipping time for a child workflow once its parent has continued as new
# (sdk-java#1540): whole cases on it live in one run unless a test asks for the bound (`run_bound_days=None`:
# domain.migration.RUN_BOUND, as tests/workflows/test_versioning.py and tests/workflows/test_upgrade.py do).
LIFELONG_RUN_DAYS = 3650

# The role that may record each action, for tests that do not care who.
DEFAULT_ROLE = {
    "probleemanalyse_recorded": "bedrijfsarts",
    "spoor2_consent_given": "bedrijfsarts",
    "ad_gesprek_held": "arbeidsdeskundige",
    "ad_onderzoek_concluded": "arbeidsdeskundige",
    "wia_aanvraag_filed": "werknemer",
    "repair_accepted": "uwv",
    "deskundigenoordeel_answered": "uwv",
    # spoor 2 trajectory
    "intake_held": "reintegratiecoach",
    "proposal_sent": "reintegratiecoach",
    "purchase_approved": "werkgever",
    "coach_replaced": "reintegratiecoach",
    "haalbaarheidstoets_decided": "reintegratiecoach",
    "phase_started": "reintegratiecoach",
    "phase_completed": "reintegratiecoach",
    "activity_recorded": "reintegratiecoach",
    "service_requested": "reintegratiecoach",
    "service_approved": "werkgever",
    "service_started": "reintegratiecoach",
    "phase_paused": "bedrijfsarts",
    "phase_resumed": "bedrijfsarts",
    "outcome_recorded": "reintegratiecoach",
}
# Who hands in each intake document of the aanmelding.
DOCUMENT_ROLES = {
    "toestemmingsformulier": "casemanager",
    "opdrachtbevestiging": "werkgever",
    "ad_rapport": "arbeidsdeskundige",
    "bedrijfsarts_bevindingen": "bedrijfsarts",
    "fml": "bedrijfsarts",
}
GROUNDS = {
    "belastbaarheid": "4 hours a day, per the bedrijfsarts's FML",
    "skills": "Administrative work, MS Office, customer contact",
    "coping": "Active coping style; motivated",
    "circumstances": "No personal obstacles to applying",
    "labour_market": "Enough vacancies for administrative work in the region",
}
ZOEKPROFIEL = "Administrative or reception work, 20 hours a week, within 30 km"


class CaseDriver:
    def __init__(self, env: WorkflowEnvironment, settings: Settings, task_queue: str) -> None:
        self.env = env
        self.client = env.client
        self.settings = settings
        self.task_queue = task_queue
        self.coach = "coach-1"  # the coach who acts on the trajectory: the one its intake (or a replacement) named
        self.case_id: str | None = None
        self.handle: WorkflowHandle[SickLeaveCase, CaseResult] | None = None

    @classmethod
    @asynccontextmanager
    async def running(
        cls, env: WorkflowEnvironment, tmp_path: Path, settings: Settings | None = None
    ) -> AsyncIterator[CaseDriver]:
        settings = settings or Settings(data_dir=tmp_path / "data", max_cached_workflows=100)
        task_queue = f"tq-{uuid.uuid4().hex[:8]}"
        async with build_worker(env.client, settings, task_queue=task_queue):
            yield cls(env, settings, task_queue)

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
        run_bound_days = fields.pop("run_bound_days", LIFELONG_RUN_DAYS)
        # Rendering documents costs a second a piece: only the tests about documents ask for them.
        documents = fields.pop("documents", False)
        # The day the caller took as today (the workflow takes its own from its clock).
        opened_on = fields.pop("opened_on", None) or await self.today()
        opening = CaseOpening(
            case_id=self.case_id,
            employer_id=fields.pop("employer_id", "E-acme"),
            first_sick_day=first_sick_day or await self.today(),
            opened_by=Actor(role="casemanager", id="cm-1"),
            **fields,
        )
        self.handle = await cases.open_case(
            self.client,
            opening,
            task_queue=self.task_queue,
            today=opened_on,
            continue_as_new_after_events=cap,
            documents=documents,
            run_bound_days=run_bound_days,
        )
        return self.handle

    async def reach_spoor2(self, *, weeks_sick: int = 53, cap: int | None = None, **fields: Any) -> date:
        """A case taken over at `weeks_sick` with spoor 1 done, an AD-onderzoek advising spoor 2
        recorded today, and spoor 2 started today. Returns the first sick day."""
        today = await self.today()
        first = today - timedelta(weeks=weeks_sick)
        done = {"ziekmelding_arbodienst": 1, "probleemanalyse": 30, "plan_van_aanpak": 40, "ziekmelding_uwv": 290}
        if weeks_sick >= 53:
            done["eerstejaarsevaluatie"] = 360
        await self.open(
            first,
            cap=cap,
            stage="spoor1",
            prior_steps=[{"key": k, "done_on": (first + timedelta(days=d)).isoformat()} for k, d in done.items()],
            evaluations_held=[(first + timedelta(days=d)).isoformat() for d in range(82, 7 * weeks_sick - 6, 42)],
            **fields,
        )
        await self.ad_onderzoek(today)
        if weeks_sick < 52:
            await self.act("spoor2_consent_given", today)
        await self.act("spoor2_started", today, role="werkgever")
        await self.wait_for_trajectory()
        return first

    async def ad_onderzoek(self, on: date, **answers: Any) -> ActionResult:
        """Start, both conversations, and the conclusion (default: neither own nor other work inside)."""
        await self.act("ad_onderzoek_started", on, role="arbeidsdeskundige")
        await self.act("ad_gesprek_held", on, party="werkgever")
        await self.act("ad_gesprek_held", on, party="werknemer")
        answers = answers or {"own_work_possible": False, "other_work_inside_possible": False}
        return await self.act("ad_onderzoek_concluded", on, report_reference="dms://ad-rapport/1", **answers)

    # ------------------------------------------------------------ spoor 2 trajectory

    @property
    def trajectory_id(self) -> str:
        assert self.case_id
        return trajectory_workflow_id(self.case_id)

    async def wait_for_trajectory(self) -> None:
        for _ in range(200):
            try:
                await self.trajectory()
                return
            except trajectories.NoTrajectory:
                await asyncio.sleep(0.05)
        raise AssertionError("the trajectory did not start")

    async def act2(self, kind: str, on: date | None = None, **fields: Any) -> TrajectoryActionResult:
        """An action on the case's spoor 2 trajectory."""
        assert self.case_id
        result = await trajectories.act(
            self.client, self.case_id, self.payload(kind, on or await self.today(), **fields)
        )
        if kind in ("intake_held", "coach_replaced", "haalbaarheidstoets_decided") and fields.get("coach_id"):
            self.coach = fields["coach_id"]  # from now on the coach who acts (domain.access)
        return result

    async def documents(self, on: date | None = None) -> None:
        """All five intake documents of the aanmelding."""
        for key, role in DOCUMENT_ROLES.items():
            hours = {"belastbaarheid_hours_per_day": 4.0} if key == "bedrijfsarts_bevindingen" else {}
            await self.act2("document_received", on, role=role, document=key, reference=f"dms://{key}/1", **hours)

    async def to_haalbaarheidstoets(self, *, scope: str = "phase") -> None:
        """Documents, intake, proposal and the employer's approval (whole, or phase 1), today."""
        await self.documents()
        await self.act2("intake_held", coach_id="coach-1")
        await self.act2("proposal_sent")
        phase: dict[str, Any] = {"phase": 1} if scope == "phase" else {}
        await self.act2("purchase_approved", scope=scope, **phase)

    async def trajectory(self) -> TrajectoryView:
        assert self.case_id
        return await trajectories.view(self.client, self.case_id, await self.today())

    async def trajectory_state(self) -> TrajectoryState:
        return await _patient(lambda: self.client.get_workflow_handle(self.trajectory_id).query(Spoor2Trajectory.state))

    async def trajectory_record(self) -> list[TrajectoryEvent]:
        assert self.case_id
        case_id = self.case_id
        return await _patient(lambda: trajectories.record(self.client, case_id))

    async def trajectory_result(self) -> TrajectoryResult:
        """The trajectory's result once it completes (read from its close event, see cases.completed_result)."""
        result = await cases.completed_result(self.client, self.trajectory_id, TrajectoryResult, wait=True)
        assert isinstance(result, TrajectoryResult)
        return result

    async def case_dossier_has(self, kind: str, *, count: int = 1) -> list[DossierLine]:
        """The case's dossier once it holds `count` entries of `kind` (the trajectory reports shortly after)."""
        for _ in range(200):
            entries = [e for e in await self.dossier() if e.kind == kind]
            if len(entries) >= count:
                return entries
            await asyncio.sleep(0.05)
        raise AssertionError(f"the case's dossier has no {count} {kind!r} entries")

    def payload(
        self,
        kind: str,
        on: date,
        *,
        role: str | None = None,
        action_id: str | None = None,
        actor_id: str | None = None,
        **fields: Any,
    ) -> dict:
        role = role or DEFAULT_ROLE.get(kind, "casemanager")
        # The coach acts under the id its trajectory's intake names (domain.access); the others need none here.
        actor_id = actor_id or (self.coach if role == "reintegratiecoach" else None)
        return {
            "kind": kind,
            "action_id": action_id or f"a-{uuid.uuid4().hex[:12]}",
            "actor": {"role": role, **({"id": actor_id} if actor_id else {})},
            "on": on.isoformat(),
            **fields,
        }

    async def act(self, kind: str, on: date | None = None, *, today: date | None = None, **fields: Any) -> ActionResult:
        """An action on the case (`today`: the caller's day when it knows it, else the server clock's)."""
        assert self.case_id
        today = today or await self.today()
        return await cases.act(self.client, self.case_id, self.payload(kind, on or today, **fields), today=today)

    async def refused(self, kind: str, on: date | None = None, **fields: Any) -> str:
        """The reason the case refuses an action (fails the test if it is applied)."""
        try:
            await self.act(kind, on, **fields)
        except cases.ActionRejected as err:
            return str(err)
        raise AssertionError(f"{kind} was applied, not refused")

    @property
    def opened(self) -> WorkflowHandle[SickLeaveCase, CaseResult]:
        """The handle of the case `open` started (a test that reads a case must open one first)."""
        assert self.handle is not None, "no case opened yet"
        return self.handle

    async def summary(self) -> CaseSummary:
        return await self.opened.query(SickLeaveCase.summary, await self.today())

    async def deadlines(self) -> dict[str, DeadlineView]:
        views = await self.opened.query(SickLeaveCase.deadlines, await self.today())
        return {v.mark: v for v in views}

    async def dossier(self) -> list[DossierLine]:
        return await self.opened.query(SickLeaveCase.dossier)

    async def state(self) -> CaseState:
        return await self.opened.query(SickLeaveCase.state)

    async def result(self) -> CaseResult:
        return await self.opened.result()

    async def search_attributes(self) -> dict[str, Any]:
        """The case's search attributes as JSON values, read raw: the time-skipping server sends an
        unset datetime as null, which the SDK's typed decoder does not accept."""
        raw = await self.client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=self.client.namespace, execution=WorkflowExecution(workflow_id=self.opened.id)
            )
        )
        fields = raw.workflow_execution_info.search_attributes.indexed_fields
        return {name: json.loads(payload.data) if payload.data else None for name, payload in fields.items()}

    async def save_history(self, name: str, run_id: str | None = None) -> None:
        """With SPOORWERK_RECORD_HISTORIES=1, keep this case's history for the replay test."""
        if os.environ.get("SPOORWERK_RECORD_HISTORIES") != "1":
            return
        await self.save_workflow_history(name, self.opened.id, run_id)

    async def save_workflow_history(self, name: str, workflow_id: str, run_id: str | None = None) -> None:
        if os.environ.get("SPOORWERK_RECORD_HISTORIES") != "1":
            return
        # A recorded history is proof that old cases still replay: never overwrite one.
        path = HISTORIES / f"v{CURRENT_VERSION}" / f"{name}.json"
        if path.exists():
            return
        await save_clear_history(self.client, workflow_id, path, run_id)

    def notifications(self) -> list[dict]:
        """The notification log as it is now (lines held for a workflow task still on their way: not yet)."""
        return NotificationLog(self.settings.notification_log_path).read()

    async def sent(self) -> list[dict]:
        """The notification log once every line held for a workflow task has been written or dropped."""
        log = NotificationLog(self.settings.notification_log_path)
        assert await LogConfirmer(log.held, log.write, self.client).settle(seconds=10) == 0, "held notices left"
        return log.read()


async def save_clear_history(client: Client, workflow_id: str, path: Path, run_id: str | None = None) -> None:
    """Write a workflow's history to `path` with its payloads in clear, so any later session replays it: they were
    sealed with a test session's throwaway key, around a test case's fictional data."""
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    codec = client.data_converter.payload_codec
    assert codec is not None  # tests always seal payloads (tests/conftest.py)
    for event in history.events:
        await decode_message(event, codec)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json(), "utf-8")


def local_activities(history: Any, activity_type: str) -> list[dict]:
    """The local activities of a type a history records (their markers), each as the SDK describes it, with `failed`:
    the failure's message, None when it succeeded."""
    found = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_local_activity":
            described = json.loads(marker.details["data"].payloads[0].data)
            if described["activity_type"] == activity_type:
                found.append({**described, "failed": marker.failure.message or None})
    return found


async def local_work_done(client: Client, history: Any) -> list[LocalWorkDone | None]:
    """What each `local_work` local activity a history records reported (release 11): each part's outcome; None for
    one that failed as a whole (its marker's failure)."""
    found: list[LocalWorkDone | None] = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name != "core_local_activity":
            continue
        if json.loads(marker.details["data"].payloads[0].data)["activity_type"] != "local_work":
            continue
        if marker.HasField("failure"):
            found.append(None)
        else:
            [done] = await client.data_converter.decode(marker.details["result"].payloads, [LocalWorkDone])
            found.append(done)
    return found


def patch_markers(history: Any) -> list[str]:
    """The ids of the patch markers a history records (`workflow.patched`), in order."""
    found = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_patch":
            found.append(json.loads(marker.details["patch-data"].payloads[0].data)["id"])
    return found


def activities_scheduled(history: Any, activity_type: str | None = None) -> list[Any]:
    """The activities a history schedules (of a type, or all), as their scheduled events' attributes."""
    return [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and activity_type in (None, e.activity_task_scheduled_event_attributes.activity_type.name)
    ]


async def _patient(query: Any, tries: int = 3) -> Any:
    """A query of a trajectory, asked again when it times out: on a loaded machine the time-skipping server now and
    then lets a query of a child whose parent continued as new time out once (sdk-java#1540's neighbourhood). A
    trajectory that does not answer three times in a row still fails the test."""
    for attempt in range(tries):
        try:
            return await query()
        except RPCError as err:
            # The server says it either way: "Timeout expired", or DEADLINE_EXCEEDED "query deadline exceeded".
            timed_out = err.status is RPCStatusCode.DEADLINE_EXCEEDED or "Timeout expired" in str(err)
            if not timed_out or attempt == tries - 1:
                raise
    raise AssertionError("unreachable")
