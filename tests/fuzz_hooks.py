"""Schemathesis hooks for tests/operations/test_api_fuzz.py (loaded by the schemathesis process via SCHEMATHESIS_HOOKS).

Generated case ids would never name a real case, so half of the generated requests are aimed at the two real
cases the test opened: one the caller may see, one of another scope. The check `no_other_scope` fails any
answer that carries the other scope's case: its employer id, or its case id beyond the echo of the path asked.
"""

from __future__ import annotations

import os
import random

import schemathesis

IN_SCOPE = os.environ["FUZZ_IN_SCOPE"]
HIDDEN = os.environ["FUZZ_HIDDEN"]
HIDDEN_EMPLOYER = os.environ["FUZZ_HIDDEN_EMPLOYER"]
SEES_ALL = os.environ.get("FUZZ_SEES_ALL") == "1"
_aim = random.Random(20261206)


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    if path_parameters and "case_id" in path_parameters:
        path_parameters["case_id"] = _aim.choice([IN_SCOPE, HIDDEN, path_parameters["case_id"]])
    return path_parameters


@schemathesis.check
def no_other_scope(ctx, response, case):
    """No answer carries a case of another scope: not its data, not its id (but the one asked for, echoed back)."""
    if SEES_ALL:
        return None
    text = (response.content or b"").decode("utf-8", "replace")  # a PDF download is bytes
    echo = (
        f"no case '{HIDDEN}' that you may see",
        f"no case &#39;{HIDDEN}&#39;",
        f"geen zaak '{HIDDEN}' die u mag inzien",
    )  # the API answers Dutch by default
    for asked in echo:
        text = text.replace(asked, "")
    assert HIDDEN_EMPLOYER not in text, f"{case.method} {case.path}: answer carries the hidden employer"
    assert HIDDEN not in text, f"{case.method} {case.path}: answer carries the hidden case's id"
    if case.path_parameters and case.path_parameters.get("case_id") == HIDDEN:
        assert response.status_code in (400, 401, 403, 404, 405, 413, 415, 422), (
            f"{case.method} {case.formatted_path}: {response.status_code} for a case of another scope"
        )
    return None
