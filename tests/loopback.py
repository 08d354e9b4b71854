"""Real servers on loopback for the notification channels' tests: SMTP (aiosmtpd, STARTTLS with a
trustme CA, AUTH) and a webhook receiver that checks the signature. Registered as a pytest plugin
in conftest, so any test can ask for `smtp`, `refusing_smtp` or `webhook`."""

from __future__ import annotations

import email
import email.policy
import json
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from activities.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from service.settings import Settings

SMTP_USER, SMTP_PASSWORD = "spoorwerk", "s3cret-pw"
WEBHOOK_SECRET = "shared-webhook-secret"
HR = ["hr@acme.example", "verzuim@acme.example"]


# Ports this process handed out: never twice, even if the kernel offers one again before its server took it.
_HANDED_OUT: set[int] = set()


def _ephemeral_ports_start() -> int:
    """Where the kernel's ephemeral ports begin: what it hands out to bind(0) and to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


_FIRST_PORT = 10000
# Ports a browser will not open (Chromium and Firefox: net::ERR_UNSAFE_PORT); the only one at or above _FIRST_PORT.
_BROWSERS_REFUSE = frozenset({10080})
_PORTS_END = _ephemeral_ports_start()
_CHANCE = random.Random()


def free_port() -> int:
    """A loopback port free now, taken below the kernel's ephemeral range: no bind(0) or outgoing connection of any
    process can take it before its server binds it. (The dev server picks its internal ports by bind(0): one took
    the HTTP port a test had handed it between its restarts, and the server died at start.) Under pytest-xdist each
    worker takes its own share of the ports (by the port's number, modulo the number of workers), so two workers
    never get the same one between asking and binding."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, … under xdist; unset without it
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    for _ in range(1000):
        if _PORTS_END - _FIRST_PORT > 1000:
            port = _CHANCE.randrange(_FIRST_PORT, _PORTS_END)
        else:  # a kernel whose ephemeral range starts low: what bind(0) offers
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        if (port >> 1) % count != index or port in _HANDED_OUT or port in _BROWSERS_REFUSE:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # taken
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port of this worker's share")


def wait_until_free(*ports: int, timeout: float = 30.0) -> None:
    """Until each port can be bound again: a stopped server's children (the dev server a worker started) may hold
    theirs a moment after it exited, and a server started on the same ports then fails with "address already in use"."""
    deadline = time.monotonic() + timeout
    for port in ports:
        while True:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no hold
                try:
                    s.bind(("127.0.0.1", port))
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"port {port} still held {timeout:.0f} s after its server stopped"
                        ) from None
            time.sleep(0.1)


# ------------------------------------------------------------------ an SMTP server with STARTTLS and AUTH


@dataclass
class Inbox:
    """aiosmtpd handler keeping what arrives; `refuse` answers every RCPT with that reply."""

    refuse: str | None = None
    messages: list[tuple[list[str], email.message.EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted"


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    ca_file: Path


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, path


def smtp_server(ca: tuple[trustme.CA, Path], inbox: Inbox) -> Iterator[SmtpServer]:
    authority, ca_file = ca
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield SmtpServer(inbox, port, ca_file)
    finally:
        controller.stop()


@pytest.fixture
def smtp(ca) -> Iterator[SmtpServer]:
    yield from smtp_server(ca, Inbox())


@pytest.fixture
def refusing_smtp(ca) -> Iterator[SmtpServer]:
    yield from smtp_server(ca, Inbox(refuse="550 5.1.1 <{address}>: Recipient address rejected: user unknown"))


# ------------------------------------------------------------------ a webhook receiver that checks signatures


@dataclass
class Webhook:
    """Answers with `statuses` in turn (the last one repeats); 401 to a bad signature."""

    statuses: list[int]
    secret: str = WEBHOOK_SECRET
    requests: list[dict] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook(statuses=[200])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            valid = verify(hook.secret, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER])
            with lock:
                planned = hook.statuses[min(len(hook.requests), len(hook.statuses) - 1)]
                status = planned if valid else 401
                hook.requests.append(
                    {"status": status, "valid": valid, "headers": dict(self.headers), "body": json.loads(body)}
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/spoorwerk"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def settings_for(
    tmp_path: Path, channels: list[str], smtp: SmtpServer | None = None, webhook: Webhook | None = None, **extra
) -> Settings:
    fields: dict = {
        "data_dir": tmp_path / "data",
        "notify_channels": channels,
        "notify_default_recipients": {"werkgever": HR},
    }
    if smtp:
        fields |= {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "smtp_ca_file": smtp.ca_file,
            "smtp_username": SMTP_USER,
            "smtp_password": SMTP_PASSWORD,
            "smtp_from": "Spoorwerk <noreply@spoorwerk.example>",
            "smtp_timeout_seconds": 5,
        }
    if webhook:
        fields |= {"webhook_url": webhook.url, "webhook_secret": WEBHOOK_SECRET, "webhook_timeout_seconds": 5}
    return Settings(**(fields | extra))
