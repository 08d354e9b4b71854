"""What `make run` writes to a terminal: readable lines in one format, JSON lines when not on a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap

from tests.paths import ROOT

# Lines as the service's parts write them: its own structlog logger, Temporal's workflow logger (context in
# `extra`), uvicorn (with its colour-coded duplicate), WeasyPrint's progress chatter, Alembic's plugin set-up.
SCRIPT = textwrap.dedent("""
    import logging, sys, structlog
    from service.logging import configure_logging
    configure_logging(sys.argv[1], "info")
    structlog.get_logger("spoorwerk.worker").info("worker started", role="all")
    logging.getLogger("temporalio.workflow").info("action applied", extra={
        "action": "evaluatie_held", "temporal_workflow": {"workflow_id": "case-C42", "run_id": "r-1",
                                                          "workflow_type": "SickLeaveCase"}})
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 7,
                                            extra={"color_message": "Started server process [\\x1b[36m%d\\x1b[0m]"})
    logging.getLogger("weasyprint.progress").info("Step 6 - Creating PDF")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    print("done", file=sys.stderr, flush=True)
""")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _on_a_terminal(fmt: str) -> str:
    """stderr of the script run with a pseudo-terminal as its stderr (as `make run` in a terminal)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, fmt],
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_every_line_is_readable_and_none_is_json():
    text = _on_a_terminal("auto")
    lines = [line for line in text.splitlines() if line.strip() and line.strip() != "done"]
    assert len(lines) == 3, text  # WeasyPrint's progress and Alembic's set-up are not among them
    assert not any(line.lstrip().startswith("{") for line in lines), text
    assert "worker started" in text and "action applied" in text and "Started server process [7]" in text
    # Temporal's context is lifted to the case id; its dict, the run id and uvicorn's duplicate are left out.
    assert "C42" in text
    for noise in ("temporal_workflow", "run_id", "color_message", "Step 6", "setup plugin"):
        assert noise not in text, text


def test_off_a_terminal_the_lines_are_json_with_their_context():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "auto"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60
    )
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert [r["event"] for r in records] == ["worker started", "action applied", "Started server process [7]"]
    applied = records[1]
    assert applied["case_id"] == "C42" and applied["run_id"] == "r-1"
    assert applied["temporal_workflow"]["workflow_id"] == "case-C42"
    assert all("color_message" not in r for r in records)
