"""The same-commands floor: a workflow that issues what a case issues, without Spoorwerk's domain code.

The bare baseline (`benchmarks.baseline`) waits on a timer and takes updates; a case also records patch
markers, upserts its search attributes and sends notifications. This workflow replays a script read from
a real case's history (`script_from_history`): per trigger (the start, an `act` update of a kind) the
same markers, search-attribute upserts, activities (the same arguments, under its own case id), local
activities (`local_work`, or `notify_local` and `write_case_facts` before release 11: the arguments the case gave
them, which `local_activity_args` finds by replaying its history) and timers, in the recorded order. What Spoorwerk costs beyond it is its domain code: the floor is as fast as a case can be while it
issues these commands, whatever the case decides.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from benchmarks.baseline_models import BaselineSummary
    from benchmarks.floor_models import (
        FloorAnswer,
        FloorCommand,
        FloorInput,
        FloorScript,
        attribute_updates,
        start_attributes,
    )
    from workflows import search_attributes as sa

WORKFLOW_TYPE = "FloorCase"
KEYS = {key.name: key for key in sa.ALL}
__all__ = [
    "WORKFLOW_TYPE",
    "FloorAnswer",
    "FloorCase",
    "FloorInput",
    "FloorScript",
    "script_from_history",
    "start_attributes",
]


@workflow.defn(name=WORKFLOW_TYPE)
class FloorCase:
    @workflow.init
    def __init__(self, input: FloorInput) -> None:
        self._input = input
        self._actions = 0
        self._changed = False
        self._timer: asyncio.Task[None] | None = None
        self._wakes = 0  # by its own timer
        self._tasks: list[asyncio.Task[Any]] = []  # notifications in flight (kept: no GC)

    @workflow.run
    async def run(self, input: FloorInput) -> int:
        self._issue("start")
        while True:
            self._changed = False
            await workflow.wait_condition(self._awake)
            if self._timer is not None and self._timer.done():
                # A wake: what the case issued at its timer (a script read from the dev server has none).
                self._timer = None
                self._wakes += 1
                self._issue("timer" if self._wakes == 1 else "morning" if self._wakes == 2 else "")

    def _awake(self) -> bool:
        return self._changed or (self._timer is not None and self._timer.done())

    def _issue(self, phase: str) -> None:
        for command in self._input.script.phases.get(phase, []):
            self._command(command, phase)

    def _command(self, c: FloorCommand, phase: str) -> None:
        if c.kind == "marker":
            if c.deprecated:
                workflow.deprecate_patch(c.patch_id)
            else:
                workflow.patched(c.patch_id)
        elif c.kind == "upsert":
            workflow.upsert_search_attributes(attribute_updates(c.attributes))
        elif c.kind in ("activity", "local_activity"):
            args = json.loads(c.args_json.replace(self._input.script.template_id, self._input.case_id))
            # The task the log's lines are held for (activities.held_notices) is this run's, not the template's.
            if c.activity == "notify_local" and len(args) > 1:
                args[1] = workflow.info().get_current_history_length()
            elif c.activity == "local_work" and args and args[0].get("task") is not None:
                args[0]["task"] = workflow.info().get_current_history_length()
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(_start(c, args))
        elif c.kind == "cancel_timer":
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        elif c.kind == "timer":
            wake_at = {"start": self._input.wake_at, "timer": self._input.morning_at}.get(phase)
            seconds = (wake_at - workflow.now()).total_seconds() if wake_at else c.seconds
            self._timer = asyncio.create_task(workflow.sleep(timedelta(seconds=max(seconds, 1.0))))

    @workflow.update(name="act")
    def act(self, request: Any) -> FloorAnswer:
        self._actions += 1
        self._changed = True
        kind = request.get("kind", "") if isinstance(request, dict) else ""
        self._issue(f"act:{kind}")
        action_id = request.get("action_id", "") if isinstance(request, dict) else ""
        return FloorAnswer(action_id=str(action_id), applied=True, count=self._actions)

    @workflow.query
    def summary(self) -> BaselineSummary:
        return BaselineSummary(case_id=self._input.case_id, actions=self._actions, fired=0, next_wake=None)


def _start(c: FloorCommand, args: list[Any]) -> asyncio.Task[Any]:
    """The recorded activity started again: a local one with its one attempt, else with its recorded retry."""
    timeout = timedelta(seconds=c.start_to_close_s)
    if c.kind == "local_activity":
        return workflow.start_local_activity(
            c.activity, args=args, start_to_close_timeout=timeout, retry_policy=RetryPolicy(maximum_attempts=1)
        )
    retry = RetryPolicy(
        initial_interval=timedelta(seconds=c.retry.get("initial", 1.0)),
        backoff_coefficient=c.retry.get("backoff", 2.0),
        maximum_interval=timedelta(seconds=c.retry["maximum"]) if c.retry.get("maximum") else None,
        maximum_attempts=c.retry.get("attempts", 0),
    )
    return workflow.start_activity(
        c.activity,
        args=args,
        start_to_close_timeout=timeout,
        schedule_to_close_timeout=timedelta(seconds=c.schedule_to_close_s) if c.schedule_to_close_s else None,
        retry_policy=retry,
    )


async def local_activity_args(history: Any, workflows: list[type], data_converter: Any) -> dict[str, dict[int, str]]:
    """The arguments (JSON) a case gave its local activities, by type and the activity's sequence number: its
    history holds their results, not their inputs, so the history is replayed and each call is seen as it is made."""
    from pydantic_core import to_jsonable_python
    from temporalio.worker import (
        Interceptor,
        Replayer,
        StartLocalActivityInput,
        UnsandboxedWorkflowRunner,
        WorkflowInboundInterceptor,
        WorkflowInterceptorClassInput,
        WorkflowOutboundInterceptor,
    )

    calls: dict[str, list[str]] = {}

    class Outbound(WorkflowOutboundInterceptor):
        def start_local_activity(self, input: StartLocalActivityInput) -> Any:
            calls.setdefault(input.activity, []).append(json.dumps(to_jsonable_python(list(input.args))))
            return super().start_local_activity(input)

    class Inbound(WorkflowInboundInterceptor):
        def init(self, outbound: WorkflowOutboundInterceptor) -> None:
            super().init(Outbound(outbound))

    class Seen(Interceptor):
        def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
            return Inbound

    replayed = await Replayer(
        workflows=workflows,
        interceptors=[Seen()],
        data_converter=data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),  # the calls are seen in this interpreter, not a sandbox's copy
    ).replay_workflow(history)
    if replayed.replay_failure is not None:
        raise replayed.replay_failure
    # The n-th call of a type is the local activity of that type with the n-th lowest sequence number.
    seqs: dict[str, list[int]] = {}
    for event in history.events:
        details = event.marker_recorded_event_attributes.details
        if "data" in details and "patch-data" not in details:
            described = json.loads(details["data"].payloads[0].data)
            seqs.setdefault(described["activity_type"], []).append(described["seq"])
    return {name: dict(zip(sorted(seqs.get(name, [])), made)) for name, made in calls.items()}


async def script_from_history(
    client: Any,
    workflow_id: str,
    template_id: str,
    update_kinds: list[str],
    local_args: dict[str, dict[int, str]] | None = None,
) -> FloorScript:
    """A case's commands per trigger, read from its history: the first workflow task's are `start`, the
    task that accepted the n-th `act` update's are `act:<update_kinds[n]>` (the updates given in the order
    they were sent), the first task woken by the case's own timer `timer`, the second `morning`. Commands of other tasks (an
    activity's completion, a later wake) are not triggers of their own here: they are listed under `other`.
    A local activity's marker becomes that local activity, with the arguments `local_args` gives for its type
    and sequence number (`local_activity_args`)."""
    from temporalio.api.enums.v1 import EventType as E
    from temporalio.converter import default

    json_converter = default().payload_converter
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.search_attributes.indexed_fields
    start_attributes = {name: json_converter.from_payload(p) for name, p in started.items() if p.data}
    phases: dict[str, list[FloorCommand]] = {}
    phase: str | None = None
    updates = iter(update_kinds)
    woken_by_timer = False  # the task now running was scheduled by a fired timer
    previous = None
    for event in history.events:
        t = event.event_type
        if t == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            woken_by_timer = previous == E.EVENT_TYPE_TIMER_FIRED
        previous = t
        if t == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            if "start" not in phases:
                phase = "start"
            else:
                wake = next((p for p in ("timer", "morning") if p not in phases), None) if woken_by_timer else None
                phase = wake or "other"
            phases.setdefault(phase, [])
        elif phase is None:
            continue
        elif t == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            phase = f"act:{next(updates)}"
            phases.setdefault(phase, [])
        elif t == E.EVENT_TYPE_MARKER_RECORDED:
            details = event.marker_recorded_event_attributes.details
            if "patch-data" not in details and "data" in details:  # a local activity's result
                described = json.loads(details["data"].payloads[0].data)
                name = described["activity_type"]
                phases[phase].append(
                    FloorCommand(
                        kind="local_activity",
                        activity=name,
                        args_json=(local_args or {}).get(name, {}).get(described["seq"], "[]"),
                        start_to_close_s=5.0,
                    )
                )
                continue
            data = json_converter.from_payload(details["patch-data"].payloads[0]) if "patch-data" in details else {}
            phases[phase].append(
                FloorCommand(kind="marker", patch_id=data.get("id", ""), deprecated=bool(data.get("deprecated")))
            )
        elif t == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            attrs = {}
            for name, payload in fields.items():
                if (
                    name == "TemporalChangeVersion"
                ):  # the SDK's own, with each patch marker: the floor's marker brings it
                    continue
                value = json_converter.from_payload(payload) if payload.data else None
                attrs[name] = None if value in (None, []) else value  # an unset is recorded as null or []
            if attrs:
                phases[phase].append(FloorCommand(kind="upsert", attributes=attrs))
        elif t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = event.activity_task_scheduled_event_attributes
            values = await client.data_converter.decode(list(a.input.payloads))
            r = a.retry_policy
            phases[phase].append(
                FloorCommand(
                    kind="activity",
                    activity=a.activity_type.name,
                    args_json=json.dumps(values, default=str),
                    start_to_close_s=a.start_to_close_timeout.ToTimedelta().total_seconds(),
                    schedule_to_close_s=a.schedule_to_close_timeout.ToTimedelta().total_seconds(),
                    retry={
                        "initial": r.initial_interval.ToTimedelta().total_seconds() or 1.0,
                        "backoff": r.backoff_coefficient or 2.0,
                        "maximum": r.maximum_interval.ToTimedelta().total_seconds(),
                        "attempts": r.maximum_attempts,
                    },
                )
            )
        elif t == E.EVENT_TYPE_TIMER_STARTED:
            seconds = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            phases[phase].append(FloorCommand(kind="timer", seconds=seconds))
        elif t == E.EVENT_TYPE_TIMER_CANCELED:
            phases[phase].append(FloorCommand(kind="cancel_timer"))
    return FloorScript(template_id=template_id, phases=phases, start_attributes=start_attributes)


def command_kinds(history: Any) -> list[str]:
    """The command events of a history in order (markers, upserts, activities scheduled, timers): what the
    benchmark compares between a case and its floor."""
    from temporalio.api.enums.v1 import EventType as E

    wanted = {
        E.EVENT_TYPE_MARKER_RECORDED: "marker",
        E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "upsert",
        E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity",
        E.EVENT_TYPE_TIMER_STARTED: "timer",
        E.EVENT_TYPE_TIMER_CANCELED: "cancel_timer",
        E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
        E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child",
        E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signal",
    }
    return [wanted[e.event_type] for e in history.events if e.event_type in wanted]
