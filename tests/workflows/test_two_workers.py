"""Two worker processes on one task queue, as two replicas run: one is killed (SIGKILL) while cases take
actions and send reminders, and the other carries every case on. Nothing is lost or done twice: each action
is in its case's dossier once, each notification reaches each channel once (the webhook's repeats, if any,
carry the same Idempotency-Key, which receivers drop)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType

from domain.models import Stage
from operations import cases
from tests.processes import Processes, encryption_keys, settings_from, worker_env
from tests.workflows.test_crash_recovery import (
    HoldingWebhook,
    Plan,
    RetryingClient,
    Sent,
    actions,
    ad_plan,
    check_case,
    evaluatie,
    eventually,
    payload,
    run_plans,
    save_measurements,
    spoor1_plan,
    today,
)

pytestmark = pytest.mark.devserver

VIEWS = {"employer_view": "Return to own work, adapted hours", "employee_view": "Wants to try own work first"}


def reminding_plan(case_id: str) -> Plan:
    """A case opened in its first week: it reminds the employer of the ziekmelding as it opens; the
    probleemanalyse brings the plan van aanpak within its reminder lead (more reminders)."""
    c = lambda kind, **f: Sent(case_id, payload(kind, **f))  # noqa: E731
    return Plan(
        case_id,
        Stage.SPOOR1,
        [
            [c("ziekmelding_arbodienst_sent", role="werkgever")],
            [c("probleemanalyse_recorded", belastbaarheid_hours_per_day=4.0)],
            [c("plan_van_aanpak_agreed", casemanager_id="cm-1", **VIEWS)],
            [c("bedrijfsarts_oordeel", role="bedrijfsarts", belastbaarheid_hours_per_day=4.0)],
        ],
        {"first_sick_day": today() - timedelta(days=2)},
    )


def task_workers(history) -> list[str]:
    """The identity (pid@host) of the worker that took each workflow task, in order."""
    return [
        e.workflow_task_started_event_attributes.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ]


async def test_two_workers_on_one_queue_one_killed_the_other_carries_every_case(tmp_path):
    began = time.monotonic()
    processes = Processes(tmp_path)
    webhook = HoldingWebhook()  # holds nothing: it counts what arrives
    try:
        server = processes.dev_server()
        env = worker_env(
            server.address,
            tmp_path / "data",  # one data folder, as two replicas on one host share the notification log
            f"tq-two-{uuid.uuid4().hex[:8]}",
            encryption_keys(),
            SPOORWERK_NOTIFY_CHANNELS="log,webhook",
            SPOORWERK_WEBHOOK_URL=webhook.url,
            SPOORWERK_WEBHOOK_SECRET="two-workers-secret",
        )
        server.spawn()
        client = await server.wait_ready(settings_from(env))
        first, second = processes.worker(env, "worker-a"), processes.worker(env, "worker-b")
        await asyncio.gather(first.start(), second.start())
        assert first.proc is not None and second.proc is not None
        killed, survivor = f"{first.proc.pid}@", f"{second.proc.pid}@"

        tag = uuid.uuid4().hex[:4]
        plans = (
            [spoor1_plan(f"Wone{n}{tag}") for n in range(3)]
            + [ad_plan(f"Wad{n}{tag}") for n in range(3)]
            + [reminding_plan(f"Wrem{n}{tag}") for n in range(4)]
        )
        sender = RetryingClient(client)
        await asyncio.gather(*(sender.open(plan, env["SPOORWERK_TASK_QUEUE"]) for plan in plans))
        killed_at: list[float] = []

        async def kill_one() -> None:
            killed_at.append(time.monotonic())
            await first.kill()  # not restarted: the second worker alone carries on

        await run_plans(sender, plans, [(0.4, kill_one)])
        assert killed_at and first.proc.poll() is not None and second.proc.poll() is None
        # Every case takes one more action, now with one worker only.
        more = [Sent(p.case_id, evaluatie(p.case_id)) for p in plans]
        await asyncio.gather(*(sender.send(item) for item in more))
        assert all(item.result.applied for item in more)

        dossier_entries = 0
        for plan in plans:
            dossier_entries += (await check_case(sender, plan, sender.sent))["dossier"]
        assert len({s.action_id for s in sender.sent}) == len(sender.sent) == actions(plans) + len(plans)

        # Both workers took the cases' tasks, and the cases the killed one held went on at the other.
        by_case = {p.case_id: task_workers(await cases.case_handle(client, p.case_id).fetch_history()) for p in plans}
        taken = Counter(w.split("@")[0] + "@" for ws in by_case.values() for w in ws)
        assert taken[killed] > 0 and taken[survivor] > 0, taken
        carried = [
            c for c, ws in by_case.items() if any(w.startswith(killed) for w in ws) and ws[-1].startswith(survivor)
        ]
        assert carried, by_case

        # Every notification on each channel once: the log, and the webhook (repeats only under the same key).
        async def delivered() -> tuple[Counter, Counter]:
            log = Counter(n["notification_id"] for n in cases_log(tmp_path / "data"))
            with webhook._lock:
                hooks = Counter(r["notification_id"] for r in webhook.requests)
                keys = {r["notification_id"]: r["key"] for r in webhook.requests}
            assert log and set(log) == set(hooks), (log, hooks)
            assert all(keys[n] == n for n in hooks)
            # (How many reminders a first-week case sends depends on whether its first action beats its opening
            # wake; that each one arrives once, on both channels, does not.)
            return log, hooks

        # A notice the killed worker was sending is sent again once its activity times out (NOTIFY_TIMEOUT, a
        # minute): the log may hold it (written before the kill) while the webhook has yet to get it.
        log, hooks = await eventually(delivered, seconds=120)
        assert {n: k for n, k in log.items() if k != 1} == {}, "a notification written twice to the log"

        save_measurements(
            "two_workers_one_killed",
            {
                "cases": len(plans),
                "actions": len(sender.sent),
                "failed_calls": sender.failed_calls,
                "actions_resent": sender.resent,
                "dossier_entries": dossier_entries,
                "workflow_tasks": {"killed_worker": taken[killed], "other_worker": taken[survivor]},
                "cases_carried_over": len(carried),
                "notifications": {"log": sum(log.values()), "webhook": sum(hooks.values()), "distinct": len(log)},
                "notifications_per_case": dict(Counter(n["case_id"] for n in cases_log(tmp_path / "data"))),
                "seconds": round(time.monotonic() - began, 1),
            },
        )
    finally:
        processes.close()
        webhook.close()


def cases_log(data_dir) -> list[dict]:
    from activities.notify import NotificationLog

    return NotificationLog(data_dir / "notifications.jsonl").read()
