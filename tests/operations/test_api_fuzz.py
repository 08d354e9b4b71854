"""The API fuzzed from its own OpenAPI document (schemathesis), as each role: no input makes it answer 5xx, and no
answer carries a case of another scope.

Schemathesis runs as a subprocess so that the API, served in this test's event loop, keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import examples, thorough
from tests.operations.test_api import Api, in_phase, new_id
from tests.paths import ROOT

pytestmark = pytest.mark.devserver

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


# Every role of the API, each with a case of its own scope and one of another's to aim at (tests/fuzz_hooks.py).
# CI fuzzes the three kinds of scope (everything, an employer's, a trajectory's coach); the roles scoped by their
# assignment as the coach is come with `thorough` (tests/operations/test_access.py holds every role to every route).
ROLES = ["operations", "werkgever", "reintegratiecoach"] + (
    ["casemanager", "bedrijfsarts", "arbeidsdeskundige"] if thorough() else []
)


@pytest.mark.parametrize("who", ROLES)
async def test_no_generated_request_gets_a_server_error_or_another_scopes_case(api_server, tmp_path, who):
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        api = Api(api_server, http)
        mine, hidden = new_id(), new_id()
        await in_phase(api, mine, "E-api", 1)  # coach-1's trajectory, employer E-api, the pools of the others
        assigned = {"casemanager": ["cm-9"], "bedrijfsarts": ["arts-9"], "arbeidsdeskundige": ["ad-9"]}
        assert (await api.open(hidden, "E-hidden", assigned=assigned)).status_code == 201
    everything = who in ("operations", "werkgever")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks",
        "PYTHONPATH": str(ROOT),
        "FUZZ_IN_SCOPE": mine,
        "FUZZ_HIDDEN": hidden,
        "FUZZ_HIDDEN_EMPLOYER": "E-hidden",
        "FUZZ_SEES_ALL": "1" if who == "operations" else "0",
    }
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{api_server.url}/openapi.json",
        "--checks",
        "not_a_server_error,no_other_scope",
        "--max-examples",
        str(examples(3 if everything else 6)),
        "--seed",
        "20261123",
        "--workers",
        "1",
        # Every phase (the boundary cases of `coverage` find the 5xx) for two roles; the generated cases aimed at the
        # two real cases for the others, whose concern is scope.
        "--phases",
        "examples,coverage,fuzzing,stateful" if everything else "examples,fuzzing",
        "--header",
        f"Authorization: Bearer {api_server.tokens[who]}",
        "--request-timeout",
        "30",
        "--no-color",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--generation-database",
        "none",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        # One worker: with two, hypothesis's threads parsing source at once crashed schemathesis here
        # with CPython 3.11's "SystemError: AST constructor recursion depth mismatch".
        cwd=tmp_path,  # it keeps a cache folder where it runs
    )
    out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text[-6000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", text)
    assert counts and int(counts[1]) == int(counts[2]) > (2000 if everything else 300), text[-3000:]
