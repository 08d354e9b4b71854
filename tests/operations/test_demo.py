"""`spoorwerk demo` against the embedded default as `make run` serves it: the real app with the local operations
token, a worker, the dev server. A new user signs in as any role at once, sees realistic cases, and a second run
changes nothing."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import uvicorn

from documents.store import store_from_settings
from domain.models import Role
from domain.nl_time import local_date
from operations import demo
from operations.app import create_app
from operations.auth import authenticator_from
from service.audit import AuditStore
from service.db import open_database
from service.settings import Settings
from tests.apiserver import eventually
from tests.loopback import free_port
from worker import ServerWithoutSignals, build_worker

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
async def embedded(dev_env, tmp_path_factory) -> AsyncIterator[tuple[str, Settings]]:
    """The API and dashboard with the embedded default's callers (no SPOORWERK_API_TOKENS), and a worker."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("demo"))
    queue = f"tq-demo-{uuid.uuid4().hex[:8]}"
    app = create_app(
        dev_env.client,
        authenticator_from(None, settings.api_token_file),
        task_queue=queue,
        document_store=store_from_settings(settings),
        audit=AuditStore(open_database(settings.database)),
    )
    port = free_port()
    server = ServerWithoutSignals(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    async with build_worker(dev_env.client, settings, task_queue=queue):
        served = asyncio.create_task(server.serve())
        while not server.started:
            assert not served.done(), "the API server did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", settings
        server.should_exit = True
        await served


def _today():
    return local_date(datetime.now(timezone.utc))


async def _run(url: str, settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await demo.run_demo(
        url, settings.api_token_file.read_text().strip(), settings.data_dir, today=_today(), out=out
    )
    return code, out.getvalue()


async def test_the_demo_opens_cases_at_each_point_and_signs_in_every_role_at_once(embedded):
    url, settings = embedded
    code, printed = await _run(url, settings)
    assert code == 0, printed

    # Tokens for every role, kept for the service's user only, and taken by the running service without a restart.
    token_file = settings.data_dir / "demo-tokens.json"
    assert token_file.stat().st_mode & 0o777 == 0o600
    tokens = {c["role"]: t for t, c in json.loads(token_file.read_text()).items()}
    assert set(tokens) == {
        "casemanager",
        "bedrijfsarts",
        "arbeidsdeskundige",
        "reintegratiecoach",
        "werkgever",
        "operations",
    }
    async with httpx.AsyncClient(base_url=url) as http:

        def get(path: str, role: str, **params: Any):
            return http.get(path, params=params, headers={"Authorization": f"Bearer {tokens[role]}"})

        for role in tokens:
            me = await get("/api/me", role)
            assert me.status_code == 200 and me.json()["role"] == role, (role, me.text)

        # The table a new user reads: Dutch, each role with its token and where to sign in.
        assert "Inloggen als" in printed and "Situatie" in printed and "nu aangemaakt" in printed
        for token in tokens.values():
            assert f"{token}  {url}/login" in printed
        assert "re-integratiecoach" in printed and "bedrijfsarts" in printed

        async def listed(role: str) -> dict[str, dict[str, Any]]:
            found = await get("/api/cases", role, employer_id=demo.EMPLOYER)
            return {c["case_id"]: c for c in found.json()["cases"]}

        ids = {s.case_id for s in demo.SCENARIOS}
        cases = await eventually(lambda: listed("casemanager"), lambda found: set(found) == ids)
        # Different points of the process, each as the dashboard's lists show it.
        assert {i: cases[i]["stage"] for i in ids} == {
            "demo-ziekmelding": "ziekmelding",
            "demo-spoor1": "spoor1",
            "demo-te-laat": "spoor1",
            "demo-ad": "ad_onderzoek",
            "demo-spoor2": "spoor2",
            "demo-escalatie": "ziekmelding",
        }
        assert {i for i in ids if cases[i]["overdue"]} == {"demo-te-laat"}
        assert cases["demo-escalatie"]["escalation_level"] == 2
        assert cases["demo-spoor2"]["spoor2_phase"] == 1
        # The employer sees its cases; the coach only the one whose trajectory it runs.
        assert set(await listed("werkgever")) == ids
        assert set(await listed("reintegratiecoach")) == {"demo-spoor2"}
        # Made-up employees, found by surname as the search box finds them.
        found = await get("/api/cases", "casemanager", person="De Vries")
        assert [c["case_id"] for c in found.json()["cases"]] == ["demo-spoor1"]
        # Each step recorded by the role that records it in practice.
        dossier = (await get("/api/cases/demo-spoor2/dossier", "operations")).json()
        actors = {(e["kind"], (e.get("actor") or {}).get("role")) for e in dossier}
        assert ("ad_onderzoek_concluded", "arbeidsdeskundige") in actors

        # What people recorded; Spoorwerk's own entries (a document made, a reminder) may still arrive meanwhile.
        before = {i: _recorded((await get(f"/api/cases/{i}/dossier", "operations")).json()) for i in ids}

    # Again: the same requests, answered with what the first run made.
    code, again = await _run(url, settings)
    assert code == 0, again
    assert again.count("bestond al") == len(ids) and "nu aangemaakt" not in again
    assert {c["role"]: t for t, c in json.loads(token_file.read_text()).items()} == tokens
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {tokens['operations']}"}) as http:
        after = {i: _recorded((await http.get(f"/api/cases/{i}/dossier")).json()) for i in ids}
        listing = await http.get("/api/cases", params={"employer_id": demo.EMPLOYER})
    assert after == before
    assert sorted(c["case_id"] for c in listing.json()["cases"]) == sorted(ids)


def _recorded(dossier: list[dict]) -> list[tuple[str, str | None]]:
    """The entries people recorded, as (kind, action id)."""
    return [(e["kind"], e.get("action_id")) for e in dossier if (e.get("actor") or {}).get("role") != "systeem"]


async def test_a_service_with_configured_tokens_is_told_which_callers_to_add(api_server, tmp_path):
    out = io.StringIO()
    code = await demo.run_demo(api_server.url, api_server.tokens["operations"], tmp_path, today=_today(), out=out)
    assert code == demo.EXIT_REFUSED
    text = out.getvalue()
    assert "SPOORWERK_API_TOKENS" in text and "leest" in text
    added = json.loads(text.strip().splitlines()[-1])  # the JSON to add, one line
    assert {c["role"] for c in added.values()} >= {"casemanager", "werkgever", "bedrijfsarts"}


async def test_without_a_running_service_the_demo_says_so(tmp_path, capsys):
    code = await demo.run_demo(f"http://127.0.0.1:{free_port()}", "t" * 43, tmp_path, today=_today())
    assert code == demo.EXIT_UNREACHABLE
    assert "niet bereikbaar" in capsys.readouterr().err


def test_the_embedded_default_takes_the_demo_tokens_as_their_file_changes(tmp_path):
    auth = authenticator_from(None, tmp_path / "api-token")
    operations = (tmp_path / "api-token").read_text().strip()
    coach = demo.PEOPLE[Role.REINTEGRATIECOACH]
    token = "c" * 43
    assert auth.authenticate(token) is None
    demo.write_tokens(tmp_path / "demo-tokens.json", {token: coach})
    assert auth.authenticate(token) == coach and auth.knows(coach)
    # Dropped from the file: its sign-in and any session made with it end.
    demo.write_tokens(tmp_path / "demo-tokens.json", {"d" * 43: demo.PEOPLE[Role.WERKGEVER]})
    assert auth.authenticate(token) is None and not auth.knows(coach)
    # A file that does not parse, or holds a token too short, adds nobody; the operations token still signs in.
    for text in ("{not json", json.dumps({"short": coach.model_dump(mode="json")})):
        (tmp_path / "demo-tokens.json").write_text(text)
        assert auth.authenticate("d" * 43) is None and auth.authenticate("short") is None
        signed_in = auth.authenticate(operations)
        assert signed_in is not None and signed_in.role.value == "operations"


def test_spoorwerk_demo_is_a_command_of_the_cli(capsys):
    from operations import cli

    code = cli.main(["demo", "--api", f"http://127.0.0.1:{free_port()}", "--token", "t" * 43])
    assert code == demo.EXIT_UNREACHABLE and "draait `make run`?" in capsys.readouterr().err
