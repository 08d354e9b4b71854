"""Prometheus metrics: the Temporal SDK runtime's own and Spoorwerk's, on one endpoint.

SPOORWERK_METRICS_ADDRESS switches them on: the SDK runtime serves `/metrics` there, and every
client of the process is built on that runtime, so the worker's and the workflows' metrics and the
service's counters all land on it. Spoorwerk's metrics (labels never hold personal data):

- `spoorwerk_cases{stage}`: running cases per stage, refreshed from Temporal visibility by the worker;
- `spoorwerk_escalations_raised_total{level}`: escalation steps the cases raised;
- `spoorwerk_notifications_sent_total{channel}` and `spoorwerk_notifications_failed_total{channel,failure}`:
  deliveries per channel; `failure` is `permanent` (reported to the case) or `transient` (retried).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from service.logging import core_logging

if TYPE_CHECKING:
    from service.settings import Settings

CASES = "spoorwerk_cases"
ESCALATIONS_RAISED = "spoorwerk_escalations_raised"
NOTIFICATIONS_SENT = "spoorwerk_notifications_sent"
NOTIFICATIONS_FAILED = "spoorwerk_notifications_failed"

log = structlog.get_logger("spoorwerk.metrics")


@lru_cache(maxsize=None)
def _runtime(address: str) -> Runtime:
    # One runtime per address and process: a second would try to bind the same port.
    # `_total` on counters, as Prometheus names them and Temporal's SDK dashboards expect.
    # The core's log goes through the service's logging here too (service.logging.core_logging).
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(bind_address=address, counters_total_suffix=True), logging=core_logging()
        )
    )


def runtime(settings: Settings) -> Runtime | None:
    """The SDK runtime serving `/metrics` on SPOORWERK_METRICS_ADDRESS; None (the SDK's default) when unset."""
    return _runtime(settings.metrics_address) if settings.metrics_address else None


# ------------------------------------------------------------------ counters, from workflow and activity code


def count_escalations(dossier: Sequence[Any], counted: int) -> int:
    """In a workflow: count the escalation steps recorded after the first `counted` dossier entries;
    returns how many entries are counted now. The SDK emits nothing while replaying, and a metric
    is no command: no patch is needed."""
    from temporalio import workflow

    for entry in dossier[counted:]:
        if entry.kind == "escalation_raised":
            counter = workflow.metric_meter().create_counter(ESCALATIONS_RAISED, "Escalation steps raised on cases")
            counter.add(1, {"level": str(entry.details.get("level", "?"))})
    return len(dossier)


def count_delivery(meter: MetricMeter, channel: str, outcome: str) -> None:
    """In the notify activity: one channel's outcome (`delivered`, `failed` for good, or `retry`)."""
    if outcome == "delivered":
        meter.create_counter(NOTIFICATIONS_SENT, "Notifications delivered, per channel").add(1, {"channel": channel})
    else:
        meter.create_counter(NOTIFICATIONS_FAILED, "Notification deliveries that failed, per channel").add(
            1, {"channel": channel, "failure": "permanent" if outcome == "failed" else "transient"}
        )


# ------------------------------------------------------------------ the cases gauge, from visibility


async def refresh_cases_gauge(
    count: Callable[[], Awaitable[dict[str, int]]], meter: MetricMeter, every_seconds: float
) -> None:
    """Keep `spoorwerk_cases{stage}` current until cancelled, from `count` (operations.cases.running_by_stage: the
    caller passes it, so this module, which the workflow imports, imports no client code); a failed count keeps the
    last values."""
    gauge = meter.create_gauge(CASES, "Running cases per stage (Temporal visibility)")
    while True:
        try:
            for stage, count_of in (await count()).items():
                gauge.set(count_of, {"stage": stage})
        except Exception as err:  # Temporal away for a while: try again next time
            log.warning("cases not counted", error=type(err).__name__)
        await asyncio.sleep(every_seconds)
