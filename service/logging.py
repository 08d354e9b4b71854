"""structlog for the service: JSON when not on a terminal (or when asked), readable otherwise.

The standard library's loggers (Temporal's workflow and activity loggers among them) go through
the same renderer, so one process writes one format. Never log personal data: log case ids.
"""

from __future__ import annotations

import logging
import sys

import structlog
import temporalio.activity
import temporalio.workflow


def case_context(_logger: object, _method: str, event: dict) -> dict:
    """Lift the workflow id and run id out of Temporal's `extra` to the top, with the case id they
    name: every line about a case carries `case_id`, `workflow_id` and `run_id`, whoever wrote it."""
    wf, act = event.get("temporal_workflow"), event.get("temporal_activity")
    if isinstance(wf, dict):
        event.setdefault("workflow_id", wf.get("workflow_id"))
        event.setdefault("run_id", wf.get("run_id"))
        kind = wf.get("workflow_type")
    elif isinstance(act, dict):
        event.setdefault("workflow_id", act.get("workflow_id"))
        event.setdefault("run_id", act.get("workflow_run_id"))
        kind = act.get("workflow_type")
    else:
        return event
    workflow_id = event.get("workflow_id")
    if "case_id" not in event and isinstance(workflow_id, str) and workflow_id.startswith("case-"):
        # Workflow ids are made from the opaque case id only (workflows/ids.py).
        case_id = workflow_id.removeprefix("case-")
        event["case_id"] = case_id.removesuffix("-spoor2") if kind == "Spoor2Trajectory" else case_id
    return event


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    """Configure structlog and stdlib logging once for the process."""
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    # Temporal's loggers put their context (workflow id, run id, …) in `extra`, not the message.
    temporalio.workflow.logger.workflow_info_on_message = False
    temporalio.activity.logger.activity_info_on_message = False
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(),
        case_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if as_json else (lambda _l, _m, e: e),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
