"""The benchmark's worker process: Spoorwerk's worker (`worker.build_worker`), the baseline's and the floor's.

All three run in this one process with the same options (the baseline's and the same-commands floor's
are copied from Spoorwerk's worker config; the floor's has Spoorwerk's activities too), the same data converter, codec and sandbox, each on its own task queue. The SDK's
Prometheus metrics tell the benchmark when the worker has caught up. Settings come from the
environment (SPOORWERK_*), so tuning experiments need no code change.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys

from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import worker as spoorwerker
from benchmarks.baseline import BaselineCase
from benchmarks.floor import FloorCase
from service.logging import configure_logging
from service.settings import Settings
from service.temporal import data_converter, key_ring


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(api_enabled=False)
    configure_logging(settings.log_format, settings.log_level)
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{args.metrics_port}"))
    )
    client = await Client.connect(
        args.target, namespace=args.namespace, runtime=runtime, data_converter=data_converter(key_ring(settings))
    )
    if args.unsandboxed:  # a profiling experiment only: what the sandbox costs
        spoorwerker.WORKFLOW_RUNNER = UnsandboxedWorkflowRunner()
    spoorwerker.warm_up(settings)  # as the service does before its worker polls (worker.serve)
    spoorwerk = spoorwerker.build_worker(client, settings, task_queue=args.queue)
    config = spoorwerk.config()
    runner = config["workflow_runner"]
    if isinstance(runner, SandboxedWorkflowRunner):
        # The same sandbox policy as Spoorwerk's: its workflow modules pass through (workflows.sandbox), so the
        # baseline's and the floor's do too; otherwise each of their instances re-imports its module and the ratios
        # would flatter Spoorwerk.
        runner = dataclasses.replace(runner, restrictions=runner.restrictions.with_passthrough_modules("benchmarks"))
        config = {**config, "workflow_runner": runner}
    baseline_config = {
        **config,
        "task_queue": args.baseline_queue,
        "workflows": [BaselineCase],
        "activities": [],
        "activity_executor": None,
    }
    baseline = Worker(**baseline_config)
    # The same-commands floor runs Spoorwerk's activities (its notifications go over the same channels).
    floor = Worker(**{**config, "task_queue": args.floor_queue, "workflows": [FloorCase]})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with spoorwerk, baseline, floor:
        print("ready", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--queue", required=True, help="Spoorwerk's task queue")
    parser.add_argument("--baseline-queue", required=True)
    parser.add_argument("--floor-queue", required=True, help="the same-commands floor's task queue")
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--unsandboxed", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args))
    sys.stdout.flush()
    # As worker.py: skip interpreter teardown, which the bridge's threads can abort.
    os._exit(0)


if __name__ == "__main__":
    main()
