"""The house's layout rules, read from the source: the domain is pure, and no new import cycle appears.

Imports inside functions count too: a cycle hidden in a function is still a cycle a reader must untangle.
There are none (issue 19 broke up the last), so any cycle fails the test. Imports under `TYPE_CHECKING`
count as well: restructure, don't hide.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.paths import ROOT

PACKAGES = ("domain", "workflows", "activities", "operations", "service", "documents")

KNOWN_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    found = {
        ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f
        for package in PACKAGES
        for f in (ROOT / package).rglob("*.py")
    }
    return found | {"worker": ROOT / "worker.py"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_new_import_cycle():
    modules = _modules()
    graph = {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    cycles = _cycles(graph)
    assert cycles - KNOWN_CYCLES == set(), f"a new import cycle: {[sorted(c) for c in cycles - KNOWN_CYCLES]}"
    assert KNOWN_CYCLES - cycles == set(), (
        f"broken up, take it off KNOWN_CYCLES: {[sorted(c) for c in KNOWN_CYCLES - cycles]}"
    )


def test_the_domain_does_no_io_and_knows_no_temporal():
    """domain/: deterministic rules only (the brief): no Temporal, no network, files, clocks of its own or randomness."""
    forbidden = (
        "temporalio",
        "httpx",
        "sqlalchemy",
        "fastapi",
        "socket",
        "subprocess",
        "random",
        "secrets",
        "uuid",
        "operations",
        "service",
        "workflows",
        "activities",
        "documents",
    )
    for path in (ROOT / "domain").rglob("*.py"):
        bad = sorted(name for name in _imports(path) if name.split(".")[0] in forbidden)
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


# What makes code that must replay the same differ from one run to the next: a clock, chance, the environment, files,
# sleeping. Workflow code takes time from `workflow.now()` and its chance from `workflow.random()`.
_NONDETERMINISTIC = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("asyncio", "sleep"),
    ("os", "getenv"),
    ("os", "environ"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
}


def test_workflow_and_domain_code_reads_no_clock_chance_environment_or_files():
    """workflows/ and domain/ run inside workflow tasks and are replayed. The sandbox passes both through (domain/ by
    `imports_passed_through`, workflows/ by `workflows.sandbox.WORKFLOW_RUNNER`, which also guards no builtins), so its
    runtime checks guard neither; this one does, in the source."""
    for folder in ("workflows", "domain"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text("utf-8"))
            bad = sorted(
                f"{node.value.id}.{node.attr} (line {node.lineno})"
                for node in ast.walk(tree)
                if isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in _NONDETERMINISTIC
            )
            # The builtins the SDK's sandbox would guard, were it not spared that (workflows/sandbox.py).
            bad += [
                f"{node.func.id}() (line {node.lineno})"
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("open", "input", "breakpoint")
            ]
            bad += sorted(f"import {name}" for name in _imports(path) if name.split(".")[0] in ("random", "secrets"))
            assert not bad, f"{path.relative_to(ROOT)}: {bad}"


def test_the_tests_mirror_the_packages():
    """A test lives in the folder of the package it tests, so a newcomer finds it in one guess."""
    tests = ROOT / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(PACKAGES), f"test folders that are no package: {sorted(folders - set(PACKAGES))}"
    # At the top only the tests of the whole: the layout itself, the deploy files, the worker process.
    assert {p.name for p in tests.glob("test_*.py")} == {"test_layout.py", "test_deploy.py", "test_worker_run.py"}
