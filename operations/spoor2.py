"""Client-side operations on a case's spoor 2 trajectory: record an action, read it."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import ActionRefused
from domain.nl_time import local_date
from domain.spoor2 import TrajectoryEvent, TrajectoryView, parse_spoor2_action
from operations.cases import (
    CaseNotFound,
    ScopeUnknown,
    Submitted,
    closed_workflow,
    execute_action,
    judge_scope,
    parsed,
)
from workflows.ids import trajectory_workflow_id
from workflows.payloads import CallerScope, TrajectoryActionResult, TrajectoryResult
from workflows.spoor2_trajectory import Spoor2Trajectory


class NoTrajectory(Exception):
    """The case has no spoor 2 trajectory (spoor 2 has not started, or the case does not exist)."""


def trajectory_handle(client: Client, case_id: str) -> WorkflowHandle[Spoor2Trajectory, Any]:
    return client.get_workflow_handle_for(Spoor2Trajectory.run, trajectory_workflow_id(case_id))


async def act(
    client: Client,
    case_id: str,
    action: Submitted | BaseModel | dict[str, Any],
    *,
    scope: CallerScope | None = None,
) -> TrajectoryActionResult:
    """Record an action on the case's trajectory; the action id makes a retry apply once.

    `action` as operations.cases.submitted made it (taken as it is), else a payload parsed here. `scope` is the
    caller's beyond its actor (an edge's caller): the trajectory's validator judges it with the scope its case told
    it, as the case's does (CaseNotFound, RoleRefused), and its answer carries the bedrijfsarts to redact by, so no
    query asks first. A trajectory its case has not told its scope yet (started before it could, until the case's
    next run) says so, and only then is the scope judged on the case by a query, and the action sent without it."""
    sent = action if isinstance(action, Submitted) else parsed(action, parse_spoor2_action)

    async def closed_reason() -> ActionRefused:
        if scope is not None:
            # An ended trajectory takes no update, so no validator judged the caller: the case does, before anything
            # is said of the trajectory (nor whether there is one).
            await judge_scope(client, case_id, sent.action, scope)
        closed = await closed_workflow(client, trajectory_workflow_id(case_id), TrajectoryResult, "ended_on")
        if closed is None:
            raise CaseNotFound.of(
                ActionRefused(
                    "case_id: case %(value)r has no spoor 2 trajectory (spoor2_started is not on record)", value=case_id
                )
            )
        return ActionRefused(
            "%(field)s: the trajectory has ended (%(result)s on %(ended_on)s); no action is accepted any more",
            field=sent.action.kind,
            result=closed.outcome,
            ended_on=closed.on,
        )

    async def on_record() -> TrajectoryActionResult | None:
        entry = next((e for e in await record(client, case_id) if e.action_id == sent.action.action_id), None)
        if entry is None:
            return None
        assigned = await judge_scope(client, case_id, sent.action, scope) if scope is not None else None
        status = (await view(client, case_id)).status
        return TrajectoryActionResult(
            action_id=sent.action.action_id, applied=True, status=status, entry=entry, bedrijfsarts_ids=assigned
        )

    handle = trajectory_handle(client, case_id)

    def send(scope: CallerScope | None) -> Awaitable[TrajectoryActionResult]:
        return execute_action(
            client,
            handle,
            Spoor2Trajectory.act,
            sent,
            TrajectoryActionResult,
            closed_reason,
            scope=scope,
            on_record=on_record,
        )

    if scope is not None:
        try:
            return await send(scope)
        except ScopeUnknown:
            pass
        assigned = await judge_scope(client, case_id, sent.action, scope)
        result = await send(None)
        return (
            result if result.bedrijfsarts_ids is not None else result.model_copy(update={"bedrijfsarts_ids": assigned})
        )
    return await send(None)


async def view(
    client: Client, case_id: str, as_of: date | None = None, *, rpc_timeout: timedelta | None = None
) -> TrajectoryView:
    """Phase, cadence, approvals, documents and outcome of the case's trajectory, as of today."""
    as_of = as_of or local_date(datetime.now(timezone.utc))
    try:
        return await trajectory_handle(client, case_id).query(Spoor2Trajectory.view, as_of, rpc_timeout=rpc_timeout)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise NoTrajectory(
                ActionRefused("case_id: case %(value)r has no spoor 2 trajectory", value=case_id)
            ) from None
        raise


async def record(client: Client, case_id: str) -> list[TrajectoryEvent]:
    """Every entry of the trajectory's record."""
    return await trajectory_handle(client, case_id).query(Spoor2Trajectory.record)
