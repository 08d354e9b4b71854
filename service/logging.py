"""structlog for the service: JSON when not on a terminal (or when asked), readable otherwise.

The standard library's loggers (Temporal's workflow and activity loggers, uvicorn's) and the Temporal SDK
core's own log (Rust, forwarded to the logger `temporalio.core`) go through the same renderer, so one
process writes one format. Never log personal data: log case ids.
"""

from __future__ import annotations

import logging
import sys

import structlog
import temporalio.activity
import temporalio.workflow
from structlog.typing import EventDict, Processor
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

# What a terminal reader does not need on every line: Temporal's context dicts (case_context lifts what
# matters out of them) and the run id. The JSON lines keep them for the log store.
_CONSOLE_NOISE = ("temporal_workflow", "temporal_activity", "run_id")
# Libraries that narrate their own steps at info (WeasyPrint: "Step 6 - Creating PDF" for every document).
# Below WARNING they are plumbing, not news: WeasyPrint's steps, fontTools, and Alembic's plugin set-up at every opening
# of the reporting store (its migration lines, "Running upgrade …", say what changed and stay).
_CHATTY = ("weasyprint.progress", "fontTools", "alembic.runtime.plugins")


def case_context(_logger: object, _method: str, event: EventDict) -> EventDict:
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


def drop_duplicates(_logger: object, _method: str, event: EventDict) -> EventDict:
    """uvicorn repeats its message with terminal colour codes in `color_message`: never worth a field."""
    event.pop("color_message", None)
    return event


def core_fields(_logger: object, _method: str, event: EventDict) -> EventDict:
    """A line the Temporal SDK core forwarded: its target and fields as fields of the line (not a Python repr)."""
    core = event.pop("temporal_log", None)
    if core is not None:
        event.setdefault("target", getattr(core, "target", None))
        for name, value in (getattr(core, "fields", None) or {}).items():
            event.setdefault(str(name), value)
    return event


def without_console_noise(_logger: object, _method: str, event: EventDict) -> EventDict:
    """Leave out what only a log store needs, so a line in a terminal fits on a line."""
    for name in _CONSOLE_NOISE:
        event.pop(name, None)
    return event


def core_logging() -> LoggingConfig:
    """The Temporal SDK core's log (warnings and errors), forwarded into stdlib logging: without this the core
    writes its own format straight to stderr, between the service's lines. Every Runtime the service makes
    uses it (service.metrics too)."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger("temporalio.core"),
            append_target_to_name=False,
            prepend_target_on_message=False,
            append_log_fields_to_message=False,
        ),
    )


def console_wanted(fmt: str, stream: object = None) -> bool:
    """Readable lines for `console`; for `auto`, when the stream the log goes to (stderr) is a terminal."""
    if fmt != "auto":
        return fmt == "console"
    isatty = getattr(stream if stream is not None else sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    """Configure structlog, stdlib logging and the Temporal SDK core's log once for the process (before any
    Temporal client connects: the core's default runtime is made with the forwarding here)."""
    as_json = not console_wanted(fmt)
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=core_logging())), error_if_already_set=False)
    # Temporal's loggers put their context (workflow id, run id, …) in `extra`, not the message.
    temporalio.workflow.logger.workflow_info_on_message = False
    temporalio.activity.logger.activity_info_on_message = False
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(),
        drop_duplicates,
        core_fields,
        case_context,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=console_wanted("auto"))
    )
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
                structlog.processors.format_exc_info if as_json else without_console_noise,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
