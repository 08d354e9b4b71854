"""The embedded Web UI reads payloads through the codec endpoint whether it is opened as `localhost` (what the dev
server prints) or as `127.0.0.1` (what Spoorwerk prints): the steps of docs/durability.md, walked in a real browser.

Chromium (Debian's, driven by Playwright) signs in on the dashboard and then, from a page at the Web UI's origin,
calls the codec endpoint as the Web UI does with "Include cross-origin credentials" on: a POST with
`credentials: "include"`, preflighted. The Web UI's page is stood in for by a blank page served on the Web UI's
port (served from loopback, as the dev server serves it: Chromium lets only such a page call a loopback address).
What is tested is the browser's CORS, cookie and local-network rules against Spoorwerk's answers."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from domain.models import Role
from operations.app import create_app
from operations.auth import Caller, TokenAuthenticator
from service.settings import Settings
from tests.loopback import free_port
from worker import ServerWithoutSignals

pytestmark = pytest.mark.devserver

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = f"tok-ops-{uuid.uuid4().hex}"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}


async def _blank_page(scope, receive, send) -> None:
    """The Web UI's stand-in: any path answers an empty HTML page."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.body", "body": b"<title>Web UI</title>"})


def _server(app, port: int) -> uvicorn.Server:
    server = ServerWithoutSignals(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
    )
    return server


@pytest.fixture(scope="module")
async def codec_app(dev_env, tmp_path_factory) -> AsyncIterator[tuple[int, int]]:
    """The app with the embedded default's codec origins (its Web UI on `ui_port`), served on loopback."""
    ui_port, port = free_port(), free_port()
    origins = Settings(data_dir=tmp_path_factory.mktemp("codec"), dev_server_ui_port=ui_port).codec_origins
    app = create_app(
        dev_env.client,
        TokenAuthenticator({TOKEN: Caller(role=Role.OPERATIONS, id="ops-1")}),
        task_queue="unused",
        codec_origins=origins,
    )
    servers = [_server(app, port), _server(_blank_page, ui_port)]
    served = [asyncio.create_task(s.serve()) for s in servers]
    while not all(s.started for s in servers):
        assert not any(t.done() for t in served), "a server did not start"
        await asyncio.sleep(0.02)
    yield port, ui_port
    for s in servers:
        s.should_exit = True
    await asyncio.gather(*served)


async def test_both_names_of_the_embedded_web_ui_pass_the_preflight_and_no_other_origin_does(codec_app):
    port, ui_port = codec_app
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for host in ("127.0.0.1", "localhost"):
            origin = f"http://{host}:{ui_port}"
            answer = await http.options("/codec/decode", headers={"Origin": origin, **PREFLIGHT})
            assert answer.headers.get("access-control-allow-origin") == origin, host
            assert answer.headers["access-control-allow-credentials"] == "true"
        for stranger in (f"http://localhost:{ui_port + 1}", f"https://127.0.0.1:{ui_port}", "http://evil.example"):
            answer = await http.options("/codec/decode", headers={"Origin": stranger, **PREFLIGHT})
            assert "access-control-allow-origin" not in answer.headers, stranger


async def test_the_web_ui_decodes_with_the_dashboard_session_under_either_name(codec_app, dev_env):
    if not CHROMIUM.exists():
        pytest.skip("the browser test needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    from playwright.async_api import async_playwright

    port, ui_port = codec_app
    [sealed] = await dev_env.client.data_converter.payload_codec.encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=json.dumps("ziek sinds maandag").encode())]
    )
    body = json.dumps({"payloads": [json_format.MessageToDict(sealed)]})
    # As the Web UI calls it; a request the browser blocks or withholds shows as status 0.
    call = """async ([url, body]) => {
        try {
            const r = await fetch(url, {method: "POST", credentials: "include", body,
                                        headers: {"content-type": "application/json", "x-namespace": "default"}});
            return [r.status, r.status === 200 ? (await r.json()).payloads[0].data : null];
        } catch (e) {
            return [0, String(e)];
        }
    }"""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            for host in ("127.0.0.1", "localhost"):
                context = await browser.new_context()
                page = await context.new_page()
                # Signed in on the dashboard under the same name as the Web UI is opened with (docs/durability.md).
                await page.goto(f"http://{host}:{port}/login")
                await page.fill("#token", TOKEN)
                await page.click("form[action='/login'] button[type=submit]")
                await page.wait_for_url(f"http://{host}:{port}/")
                await page.goto(f"http://{host}:{ui_port}/namespaces/default/workflows")
                status, data = await page.evaluate(call, [f"http://{host}:{port}/codec/decode", body])
                assert status == 200, (host, data)
                assert json.loads(base64.b64decode(data)) == "ziek sinds maandag"
                if host == "localhost":
                    # The cluster-level endpoint names 127.0.0.1: another site to a Web UI opened as localhost, so the
                    # session cookie (SameSite=Strict) stays home and nothing is decoded: why docs/durability.md says to use
                    # one name for both.
                    status, _data = await page.evaluate(call, [f"http://127.0.0.1:{port}/codec/decode", body])
                    assert status != 200
                await context.close()
        finally:
            await browser.close()
