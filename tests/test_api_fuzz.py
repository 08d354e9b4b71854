"""The API fuzzed from its own OpenAPI document (schemathesis): no input makes it answer 5xx.

Schemathesis runs as a subprocess so that the API, served in this test's event loop, keeps serving.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.devserver

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.parametrize("who", ["operations", "werkgever"])
async def test_no_generated_request_gets_a_server_error(api_server, tmp_path, who):
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{api_server.url}/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", "12", "--seed", "20261123", "--workers", "1",
        "--header", f"Authorization: Bearer {api_server.tokens[who]}",
        "--request-timeout", "30", "--no-color", "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(tmp_path), "--generation-database", "none",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        # One worker: with two, hypothesis's threads parsing source at once crashed schemathesis here
        # with CPython 3.11's "SystemError: AST constructor recursion depth mismatch".
        cwd=tmp_path,  # it keeps a cache folder where it runs
    )
    out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", text)
    assert counts and int(counts[1]) == int(counts[2]) > 500, text[-3000:]
