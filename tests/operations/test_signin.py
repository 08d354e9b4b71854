"""Dashboard sign-in (issue 18): OpenID Connect against a real provider process, server-side sessions that
expire and end at logout, login throttling, the minimum token length, and Secure cookies behind a trusted
proxy only.

The provider is `oidc-provider-mock` (PyPI) run as a process of its own on loopback: discovery, the
authorization form where a test submits the user's `sub`, the token endpoint and signed ID tokens
carrying the claims a test gives the user (`PUT /users/<sub>`). The app is Spoorwerk's own
(`create_app`, served by uvicorn with `worker.api_server_config`), its sessions in a real database.
The provider is reached as `localhost` and the app as `127.0.0.1`: two sites, as in production, so
the browser test meets the same SameSite rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from domain.models import Role
from operations.app import create_app
from operations.auth import COOKIE, Caller, LocalAuthenticator, TokenAuthenticator, authenticator_from
from operations.sessions import SESSIONS
from operations.signin import FLOW_COOKIE, SignIn
from service.db import open_database
from service.settings import Settings
from tests.loopback import free_port
from tests.paths import ROOT
from worker import ServerWithoutSignals, api_server_config

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CALLERS = {
    "operations": Caller(role=Role.OPERATIONS, id="ops-1"),
    "werkgever": Caller(role=Role.WERKGEVER, id="hr-1", employer_id="E-acme"),
}
TOKENS = {who: f"tok-{who}-{uuid.uuid4().hex}" for who in CALLERS}
ROLE_MAP = {
    "spoorwerk-bedrijfsarts": "bedrijfsarts",
    "spoorwerk-werkgever": "werkgever",
    "spoorwerk-operations": "operations",
}


class Clock:
    """Seconds for the sessions and the throttle, moved on by the test instead of waited for."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ------------------------------------------------------------------ the provider, a process of its own


@dataclass
class Provider:
    issuer: str

    def user(self, claims: dict) -> str:
        """A new user at the provider with these claims; its `sub`."""
        sub = f"u{uuid.uuid4().hex[:12]}"
        httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10).raise_for_status()
        return sub


@pytest.fixture(scope="module")
def provider(tmp_path_factory) -> Iterator[Provider]:
    port = free_port()
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    issuer = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"the OIDC provider exited: {Path(log.name).read_text()[-2000:]}"
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the OIDC provider did not start in 30 s"
            time.sleep(0.1)
        yield Provider(issuer)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def oidc_settings(provider: Provider, tmp_path: Path, **extra) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        oidc_issuer=provider.issuer,
        oidc_client_id="spoorwerk-dashboard",
        oidc_client_secret="client-secret-for-tests",
        oidc_provider_name="Test-IdP",
        oidc_role_map=ROLE_MAP,
        **extra,
    )


# ------------------------------------------------------------------ the app, served on loopback


@dataclass
class App:
    url: str
    signin: SignIn
    database: str

    def client(self, **kwargs) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)


@contextlib.asynccontextmanager
async def serving(
    env: WorkflowEnvironment,
    settings: Settings,
    *,
    database: str,
    clock: Clock | None = None,
    authenticator: TokenAuthenticator | LocalAuthenticator | None = None,
) -> AsyncIterator[App]:
    """Spoorwerk's app with sessions in `database`, served as worker.py serves it (proxy headers by settings)."""
    engine = open_database(database)
    signin = SignIn.from_settings(settings, engine, clock=clock)
    authenticator = authenticator or TokenAuthenticator({TOKENS[w]: c for w, c in CALLERS.items()})
    app = create_app(env.client, authenticator, task_queue="tq-signin-unused", signin=signin)
    port = free_port()
    server = ServerWithoutSignals(
        api_server_config(app, settings.model_copy(update={"api_host": "127.0.0.1", "api_port": port}))
    )
    served = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not served.done(), "the app did not start"
            await asyncio.sleep(0.02)
        yield App(f"http://127.0.0.1:{port}", signin, database)
    finally:
        server.should_exit = True
        await served
        engine.dispose()


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sessions.db'}"


async def token_login(http: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    return await http.post("/login", data={"token": token, "next": "/"}, headers=headers)


def session_cookie(response: httpx.Response) -> str:
    """The Set-Cookie header of the session cookie (asserting there is one)."""
    found = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(f"{COOKIE}=")]
    assert len(found) == 1, response.headers
    return found[0]


def who(response: httpx.Response) -> dict:
    """/api/me's caller, without the fields it does not have."""
    assert response.status_code == 200, response.text
    return {k: v for k, v in response.json().items() if v is not None}


def sets_session(response: httpx.Response) -> bool:
    return any(
        k == "set-cookie" and v.startswith(f"{COOKIE}=") and "Max-Age=0" not in v
        for k, v in response.headers.multi_items()
    )


async def oidc_login(http: httpx.AsyncClient, sub: str, next: str = "/") -> httpx.Response:
    """Through the provider as `sub`, as a browser would: /login/oidc, the provider's form, back to the callback."""
    start = await http.get("/login/oidc", params={"next": next})
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    async with httpx.AsyncClient(timeout=30) as at_provider:
        assert (await at_provider.get(authorize)).status_code == 200
        back = await at_provider.post(authorize, data={"sub": sub})
    assert back.status_code == 302, back.text
    return await http.get(back.headers["location"])


# ------------------------------------------------------------------ OpenID Connect


async def test_oidc_sign_in_gives_a_session_with_the_role_and_scope_the_claims_map_to(provider, dev_env, tmp_path):
    settings = oidc_settings(provider, tmp_path)
    arts = provider.user({"groups": ["staff", "spoorwerk-bedrijfsarts"]})
    hr = provider.user({"groups": ["spoorwerk-werkgever"], "employer_ids": ["E-acme"]})
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, app.client() as http:
        page = await http.get("/login", params={"next": "/cases/C-1"})
        assert "Inloggen via Test-IdP" in page.text and 'href="/login/oidc?next=%2Fcases%2FC-1"' in page.text
        assert 'name="token"' in page.text  # the token form stays

        # The authorization request: code flow with PKCE (S256), a nonce, and our own callback.
        start = await http.get("/login/oidc", params={"next": "/cases/C-1"})
        authorize = urlsplit(start.headers["location"])
        query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
        assert f"{authorize.scheme}://{authorize.netloc}" == provider.issuer
        assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43 and query["nonce"] and query["state"]
        assert query["redirect_uri"] == f"{app.url}/login/oidc/callback" and "openid" in query["scope"].split()
        flow = next(v for k, v in start.headers.multi_items() if k == "set-cookie" and v.startswith(FLOW_COOKIE))
        assert "HttpOnly" in flow and "SameSite=lax" in flow and "Path=/login/oidc" in flow
        flow_id = flow.split(";")[0].split("=", 1)[1]

        async with httpx.AsyncClient(timeout=30) as at_provider:
            assert (await at_provider.get(start.headers["location"])).status_code == 200
            back = await at_provider.post(start.headers["location"], data={"sub": arts})
        callback = back.headers["location"]
        signed_in = await http.get(callback)
        assert signed_in.status_code == 200, signed_in.text
        assert '<meta http-equiv="refresh" content="0; url=/cases/C-1">' in signed_in.text
        cookie = session_cookie(signed_in)
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
        assert "Secure" not in cookie  # plain http, no proxy
        me = await http.get("/api/me")
        assert me.status_code == 200 and who(me) == {"role": "bedrijfsarts", "id": arts}

        # The same callback with the same sign-in cookie again (a replay) signs nobody in: its state is used once.
        async with app.client(cookies={FLOW_COOKIE: flow_id}) as replaying:
            replay = await replaying.get(callback)
            assert replay.status_code == 400 and "verlopen of al gebruikt" in replay.text and not sets_session(replay)

    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, app.client() as http:
        # A werkgever's employer comes from the claims: the scope of what it may see.
        assert (await oidc_login(http, hr)).status_code == 200
        assert who(await http.get("/api/me")) == {"role": "werkgever", "id": hr, "employer_id": "E-acme"}


async def test_a_callback_in_another_browser_than_the_one_that_started_signs_nobody_in(provider, dev_env, tmp_path):
    """Login CSRF: a callback URL made by an attacker's own sign-in, opened in a victim's browser."""
    settings = oidc_settings(provider, tmp_path)
    attacker = provider.user({"groups": ["spoorwerk-operations"]})
    async with (
        serving(dev_env, settings, database=sqlite(tmp_path)) as app,
        app.client() as attacker_browser,
        app.client() as victim_browser,
    ):
        start = await attacker_browser.get("/login/oidc")
        async with httpx.AsyncClient(timeout=30) as at_provider:
            back = await at_provider.post(start.headers["location"], data={"sub": attacker})
        lured = await victim_browser.get(back.headers["location"])
        assert lured.status_code == 400 and not sets_session(lured)
        assert (await victim_browser.get("/api/me")).status_code == 401


async def test_claims_that_map_to_no_api_role_are_refused_without_a_session(provider, dev_env, tmp_path):
    settings = oidc_settings(provider, tmp_path)
    nobody = provider.user({"groups": ["finance", "spoorwerk-werknemer"]})
    two_roles = provider.user({"groups": ["spoorwerk-bedrijfsarts", "spoorwerk-operations"]})
    werkgever_without_employer = provider.user({"groups": ["spoorwerk-werkgever"]})
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app:
        for sub, says in (
            (nobody, "geen rol waarmee u Spoorwerk mag gebruiken"),
            (two_roles, "meer dan één Spoorwerk-rol"),
            (werkgever_without_employer, "precies één werkgever-id"),
        ):
            async with app.client() as http:
                refused = await oidc_login(http, sub)
                assert refused.status_code == 403 and "Geen toegang" in refused.text and says in refused.text, sub
                assert not sets_session(refused) and sub not in refused.text
                assert (await http.get("/api/me")).status_code == 401
                assert (await http.get("/")).headers["location"] == "/login?next=%2F"


async def test_an_id_that_is_no_opaque_id_is_refused(provider, dev_env, tmp_path):
    """The id is recorded with every action: an e-mail address as `sub` may not become one."""
    settings = oidc_settings(provider, tmp_path)
    email = f"j.jansen.{uuid.uuid4().hex[:6]}@example.nl"
    httpx.put(
        f"{provider.issuer}/users/{email}", json={"groups": ["spoorwerk-operations"]}, timeout=10
    ).raise_for_status()
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, app.client() as http:
        refused = await oidc_login(http, email)
        assert refused.status_code == 403 and "geen bruikbaar id" in refused.text and "claim sub" in refused.text
        assert email not in refused.text and not sets_session(refused)


# ------------------------------------------------------------------ sessions


async def test_the_cookie_holds_a_session_id_and_the_database_only_its_hash(dev_env, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, app.client() as http:
        ok = await token_login(http, TOKENS["operations"])
        assert ok.status_code == 303
        cookie = session_cookie(ok)
        session_id = cookie.split(";")[0].split("=", 1)[1]
        assert session_id != TOKENS["operations"] and TOKENS["operations"] not in cookie
        assert len(session_id) >= 43  # 32 random bytes
        with app.signin.sessions.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(SESSIONS))]
        assert [r["id_hash"] for r in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]
        stored = json.dumps(rows)
        assert session_id not in stored and TOKENS["operations"] not in stored
        assert json.loads(rows[0]["caller"]) == {"role": "operations", "id": "ops-1"}
        # Signing in again in the same browser ends the session it had: one row, the old id worthless.
        again = session_cookie(await token_login(http, TOKENS["operations"])).split(";")[0].split("=", 1)[1]
        assert again != session_id and (await http.get("/api/me")).status_code == 200
        async with app.client(cookies={COOKIE: session_id}) as old:
            assert (await old.get("/api/me")).status_code == 401
        with app.signin.sessions.engine.connect() as conn:
            assert len(conn.execute(select(SESSIONS)).all()) == 1
        # The raw token as a cookie (what the dashboard used to keep) signs nobody in.
        async with app.client(cookies={COOKIE: TOKENS["operations"]}) as raw:
            assert (await raw.get("/api/me")).status_code == 401


async def test_logout_revokes_the_session_on_the_api_and_the_dashboard(dev_env, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app:
        async with app.client() as http:
            session_id = session_cookie(await token_login(http, TOKENS["werkgever"])).split(";")[0].split("=", 1)[1]
            assert (await http.get("/api/me")).json()["role"] == "werkgever"
            # Another site cannot log the browser out (nor in).
            forged = await http.post("/logout", headers={"Origin": "https://evil.example"})
            assert forged.status_code == 303 and (await http.get("/api/me")).status_code == 200
            out = await http.post("/logout")
            assert out.status_code == 303 and out.headers["location"] == "/login"
            assert f'{COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
        async with app.client(cookies={COOKIE: session_id}) as replay:  # the old cookie, kept by someone
            me = await replay.get("/api/me")
            assert (
                me.status_code == 401
                and me.json()["detail"] == "session: beëindigd (verlopen of uitgelogd); log opnieuw in"
            )
            page = await replay.get("/")
            assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F"
            action = await replay.post(
                "/api/cases/C-any/actions/stagnation_reported",
                json={"on": "2026-01-05"},
                headers={"Idempotency-Key": "k-replayed-1"},
            )
            assert action.status_code == 401


async def test_sessions_end_when_idle_and_at_their_absolute_lifetime(dev_env, tmp_path):
    clock = Clock()
    settings = Settings(data_dir=tmp_path / "data")  # the defaults: 8 hours, 30 minutes idle
    async with serving(dev_env, settings, database=sqlite(tmp_path), clock=clock) as app:
        async with app.client() as http:
            await token_login(http, TOKENS["operations"])
            for _ in range(3):  # in use: every 29 minutes a request keeps it alive
                clock.advance(29 * 60)
                assert (await http.get("/api/me")).status_code == 200
            # The page's own background refresh (a fetch, not a navigation) is no activity of the person.
            clock.advance(20 * 60)
            refresh = await http.get("/", headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})
            assert refresh.status_code == 200
            clock.advance(11 * 60)  # 31 minutes after the last real request
            assert (await http.get("/api/me")).status_code == 401
            assert (await http.get("/")).headers["location"] == "/login?next=%2F"

        async with app.client() as http:
            await token_login(http, TOKENS["operations"])
            for _ in range(19):  # 19 × 25 minutes = 7 h 55 min, never idle
                clock.advance(25 * 60)
                assert (await http.get("/api/me")).status_code == 200
            clock.advance(6 * 60)  # 8 h 1 min after the sign-in
            assert (await http.get("/api/me")).status_code == 401
        with app.signin.sessions.engine.connect() as conn:
            assert conn.execute(select(SESSIONS)).all() == []  # ended sessions are deleted


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_sessions_survive_a_restart_and_hold_across_replicas(backend, dev_env, tmp_path, request):
    database = sqlite(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres").new_database()
    settings = Settings(data_dir=tmp_path / "data")
    async with serving(dev_env, settings, database=database) as a:
        async with a.client() as http:
            session_id = session_cookie(await token_login(http, TOKENS["operations"])).split(";")[0].split("=", 1)[1]
    async with serving(dev_env, settings, database=database) as b, serving(dev_env, settings, database=database) as c:
        async with b.client(cookies={COOKIE: session_id}) as on_b, c.client(cookies={COOKIE: session_id}) as on_c:
            assert (await on_b.get("/api/me")).json()["id"] == "ops-1"  # after a restart
            assert (await on_c.get("/api/me")).json()["id"] == "ops-1"  # on another replica
            assert (await on_b.post("/logout")).status_code == 303
            assert (await on_c.get("/api/me")).status_code == 401  # logged out on one, out on all


async def test_a_session_ends_with_the_token_it_was_made_with(dev_env, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, app.client() as http:
        session_id = session_cookie(await token_login(http, TOKENS["werkgever"])).split(";")[0].split("=", 1)[1]
    # The token dropped from SPOORWERK_API_TOKENS, the service restarted: its dashboard session is over too.
    fewer = TokenAuthenticator({TOKENS["operations"]: CALLERS["operations"]})
    async with serving(dev_env, settings, database=sqlite(tmp_path), authenticator=fewer) as app:
        async with app.client(cookies={COOKIE: session_id}) as http:
            assert (await http.get("/api/me")).status_code == 401


# ------------------------------------------------------------------ throttling


async def test_failed_sign_ins_are_throttled_per_client_address(dev_env, tmp_path):
    clock = Clock()
    settings = Settings(data_dir=tmp_path / "data")
    async with serving(dev_env, settings, database=sqlite(tmp_path), clock=clock) as app, app.client() as http:
        for n in range(5):
            wrong = await token_login(http, f"guess-{n}-{uuid.uuid4().hex}")
            assert wrong.status_code == 401 and "Onbekend token." in wrong.text
            clock.advance(60)
        throttled = await token_login(http, f"guess-6-{uuid.uuid4().hex}")
        assert throttled.status_code == 429 and "Te veel mislukte inlogpogingen" in throttled.text
        assert int(throttled.headers["Retry-After"]) == 15 * 60 - 5 * 60  # until the first failure leaves the window
        # The right token is refused as well until then: the answer says nothing about the token.
        right = await token_login(http, TOKENS["operations"])
        assert right.status_code == 429 and not sets_session(right)
        api = await http.get("/api/me", headers={"Authorization": f"Bearer {TOKENS['operations']}"})
        assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0
        clock.advance(10 * 60 - 1)
        assert (await token_login(http, TOKENS["operations"])).headers["Retry-After"] == "1"
        clock.advance(1)  # the first failure is 15 minutes old: four remain in the window
        assert (await token_login(http, TOKENS["operations"])).status_code == 303
        assert (await http.get("/api/me")).status_code == 200  # a session is no guess: never throttled

    async with serving(dev_env, settings, database=sqlite(tmp_path), clock=clock) as app, app.client() as http:
        for _ in range(5):
            bad = await http.get("/api/me", headers={"Authorization": f"Bearer {uuid.uuid4().hex}{uuid.uuid4().hex}"})
            assert bad.status_code == 401
        good = await http.get("/api/me", headers={"Authorization": f"Bearer {TOKENS['operations']}"})
        assert good.status_code == 429 and good.json()["detail"].startswith("te veel mislukte aanmeldingen")
        assert 0 < int(good.headers["Retry-After"]) <= 15 * 60
        assert (await token_login(http, TOKENS["operations"])).status_code == 429  # one count for form and API
        clock.advance(15 * 60)
        assert (
            await http.get("/api/me", headers={"Authorization": f"Bearer {TOKENS['operations']}"})
        ).status_code == 200


# ------------------------------------------------------------------ proxies and Secure cookies


async def test_a_trusted_proxy_makes_the_cookie_secure_and_names_the_client(dev_env, tmp_path):
    https = {"X-Forwarded-Proto": "https"}
    trusted = Settings(data_dir=tmp_path / "data", trusted_proxies="127.0.0.1")
    async with serving(dev_env, trusted, database=sqlite(tmp_path)) as app, app.client() as http:
        assert "Secure" in session_cookie(await token_login(http, TOKENS["operations"], **https))
        assert "Secure" not in session_cookie(await token_login(http, TOKENS["operations"]))  # the proxy says http
        # Behind the proxy each client is counted by its own address, not the proxy's.
        for _ in range(5):
            await token_login(http, "wrong-" + uuid.uuid4().hex, **{"X-Forwarded-For": "203.0.113.7"})
        assert (await token_login(http, "wrong", **{"X-Forwarded-For": "203.0.113.7"})).status_code == 429
        assert (await token_login(http, "wrong", **{"X-Forwarded-For": "203.0.113.8"})).status_code == 401

    # The same headers from a peer that is no trusted proxy change nothing.
    untrusted = Settings(data_dir=tmp_path / "data", trusted_proxies="10.9.8.7")
    async with serving(dev_env, untrusted, database=sqlite(tmp_path)) as app, app.client() as http:
        assert "Secure" not in session_cookie(await token_login(http, TOKENS["operations"], **https))
        for n in range(5):  # a new X-Forwarded-For each time does not escape the count
            await token_login(http, "wrong-" + uuid.uuid4().hex, **{"X-Forwarded-For": f"198.51.100.{n}"})
        assert (await token_login(http, "wrong", **{"X-Forwarded-For": "198.51.100.99"})).status_code == 429


def test_trusted_proxies_and_oidc_settings_are_checked_naming_the_variable(tmp_path):
    def problem(**fields) -> str:
        with pytest.raises(ValidationError) as err:
            Settings(data_dir=tmp_path, **fields)
        return str(err.value)

    assert "SPOORWERK_TRUSTED_PROXIES: '*' is not an IP address or network" in problem(trusted_proxies="10.0.0.1,*")
    assert Settings(data_dir=tmp_path, trusted_proxies="10.0.0.1, 10.1.0.0/16").trusted_proxies == [
        "10.0.0.1",
        "10.1.0.0/16",
    ]
    assert "SPOORWERK_OIDC_ISSUER and SPOORWERK_OIDC_CLIENT_ID are set together" in problem(
        oidc_issuer="https://id.example"
    )
    assert "SPOORWERK_OIDC_ISSUER must be an https URL" in problem(
        oidc_issuer="http://id.example", oidc_client_id="x", oidc_role_map=ROLE_MAP
    )
    assert "SPOORWERK_OIDC_ROLE_MAP is required" in problem(oidc_issuer="https://id.example", oidc_client_id="x")
    assert "SPOORWERK_OIDC_ROLE_MAP: 'burger' maps to werknemer" in problem(
        oidc_issuer="https://id.example", oidc_client_id="x", oidc_role_map={"burger": "werknemer"}
    )
    assert "min_token_length" in problem(min_token_length=8)  # the floor cannot be configured away


# ------------------------------------------------------------------ token strength


def test_configured_tokens_shorter_than_the_minimum_are_refused():
    short = "x" * 31
    with pytest.raises(ValueError) as err:
        TokenAuthenticator.from_json(json.dumps({short: {"role": "operations", "id": "ops-1"}}))
    assert str(err.value).startswith(
        "SPOORWERK_API_TOKENS: the token of operations ops-1 is 31 characters long; at least 32 are required"
    ) and short not in str(err.value)
    exactly = TokenAuthenticator.from_json(json.dumps({"y" * 32: {"role": "operations", "id": "ops-1"}}))
    assert exactly.authenticate("y" * 32) == Caller(role=Role.OPERATIONS, id="ops-1")
    with pytest.raises(
        ValueError, match="is 40 characters long; at least 48 are required"
    ):  # SPOORWERK_MIN_TOKEN_LENGTH
        TokenAuthenticator.from_json(json.dumps({"z" * 40: {"role": "operations", "id": "ops-1"}}), min_length=48)


def test_a_short_token_stops_the_service_at_start(tmp_path):
    token = "a"  # the one-character token
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SPOORWERK_"))}
    env.update(
        SPOORWERK_DATA_DIR=str(tmp_path / "data"),
        SPOORWERK_ENCRYPTION_KEYS=os.environ["SPOORWERK_ENCRYPTION_KEYS"],
        SPOORWERK_MEDICAL_KEYS=os.environ["SPOORWERK_MEDICAL_KEYS"],
        TEMPORAL_ADDRESS="127.0.0.1:1",
        SPOORWERK_API_PORT=str(free_port()),
        SPOORWERK_API_TOKENS=json.dumps({token: {"role": "operations", "id": "ops-1"}}),
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "api"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert (
        "spoorwerk: configuration error: SPOORWERK_API_TOKENS: the token of operations ops-1 is 1 characters "
        "long; at least 32 are required"
    ) in done.stderr
    assert '"a"' not in done.stderr and "Traceback" not in done.stderr


def test_the_embedded_default_token_is_long_enough_and_a_shortened_one_is_refused(tmp_path):
    token_file = tmp_path / "api-token"
    auth = authenticator_from(None, token_file)
    assert auth.authenticate(token_file.read_text().strip()) == Caller(role=Role.OPERATIONS, id="local-operations")
    token_file.write_text("short\n")
    with pytest.raises(ValueError, match=re.escape(f"the operations token in {token_file} is 5 characters long")):
        authenticator_from(None, token_file)


# ------------------------------------------------------------------ the embedded default


async def test_without_an_identity_provider_the_token_form_is_the_way_in(dev_env, tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    embedded = authenticator_from(None, settings.api_token_file)
    async with (
        serving(dev_env, settings, database=settings.database, authenticator=embedded) as app,
        app.client() as http,
    ):
        page = await http.get("/login")
        assert page.status_code == 200 and "Inloggen via" not in page.text and 'name="token"' in page.text
        assert (await http.get("/login/oidc")).status_code == 404
        assert (await token_login(http, settings.api_token_file.read_text().strip())).status_code == 303
        assert who(await http.get("/api/me")) == {"role": "operations", "id": "local-operations"}


async def test_an_unreachable_provider_is_said_in_dutch_and_signs_nobody_in(dev_env, tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data",
        oidc_issuer=f"http://localhost:{free_port()}",
        oidc_client_id="spoorwerk",
        oidc_role_map=ROLE_MAP,
        oidc_provider_name="Test-IdP",
    )
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, app.client() as http:
        down = await http.get("/login/oidc")
        assert down.status_code == 503 and "Test-IdP is nu niet bereikbaar" in down.text and not sets_session(down)
        assert (await token_login(http, TOKENS["operations"])).status_code == 303  # the token form still works


# ------------------------------------------------------------------ in a browser


async def test_oidc_sign_in_and_logout_in_a_browser(provider, dev_env, tmp_path):
    """Chromium applies SameSite: the provider (localhost) and the dashboard (127.0.0.1) are different sites."""
    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright, expect

    settings = oidc_settings(provider, tmp_path)
    arts = provider.user({"groups": ["spoorwerk-bedrijfsarts"]})
    async with serving(dev_env, settings, database=sqlite(tmp_path)) as app, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(locale="nl-NL")  # a Dutch browser: the pages answer in Dutch
            page = await context.new_page()
            await page.goto(f"{app.url}/")
            assert urlsplit(page.url).path == "/login"
            await page.click("text=Inloggen via Test-IdP")
            await page.wait_for_url(re.compile(r"^http://localhost:\d+/oauth2/authorize"))
            await page.fill("input[name=sub]", arts)
            await page.click("button:has-text('Authorize')")
            await page.wait_for_url(f"{app.url}/")  # signed in: the overview, not the login page
            await expect(page.locator("header .who")).to_contain_text(f"bedrijfsarts · {arts}")
            [cookie] = [c for c in await context.cookies() if c["name"] == COOKIE]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert not [c for c in await context.cookies() if c["name"] == FLOW_COOKIE]  # used up

            await page.click("form.logout button")
            await page.wait_for_url(re.compile(r"/login$"))
            async with app.client(cookies={COOKIE: cookie["value"]}) as replay:
                assert (await replay.get("/api/me")).status_code == 401
            await page.goto(f"{app.url}/")
            assert urlsplit(page.url).path == "/login"
        finally:
            await browser.close()


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/ /evil.example",
        "evil.example",
    ],
)
def test_the_page_after_sign_in_is_always_one_of_this_site(target):
    """Review of issue 18: `/<tab>/host` passed, and a browser drops the tab and goes to //host."""
    from operations.pages import safe_next as _safe_next

    assert _safe_next(target) == "/"
    assert _safe_next("/cases/C-1?tab=dossier") == "/cases/C-1?tab=dossier"
