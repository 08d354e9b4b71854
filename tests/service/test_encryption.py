"""Payload encryption: what Temporal stores holds no personal data in clear; keys rotate; the codec endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import uuid
from collections.abc import MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import structlog.testing
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Replayer

from domain.case import CaseOpening
from domain.models import Actor, Role
from domain.nl_time import local_date
from operations import cases
from operations.app import create_app
from operations.auth import Caller, TokenAuthenticator
from service import medical_seal
from service.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec, EncryptionKeyError, KeyRing, UnsealedPayloadError
from service.devserver import temporal_cli
from service.settings import Settings
from service.temporal import data_converter
from tests.conftest import TEST_KEYS
from worker import build_worker
from workflows.ids import case_workflow_id
from workflows.payloads import CaseInput
from workflows.sandbox import WORKFLOW_RUNNER
from workflows.sick_leave_case import SickLeaveCase
from workflows.spoor2_trajectory import Spoor2Trajectory

# Personal data a case may carry: an employee's address, a diagnosis and a BSN in a free-text note.
EMAIL = "jan.de.vries@example.nl"
DIAGNOSIS = "Hernia nuclei pulposi L4-L5"
BSN = "111222333"
SECRETS = (EMAIL, DIAGNOSIS, BSN, "jan.de.vries")


def today():
    return local_date(datetime.now(timezone.utc))


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


# --------------------------------------------------------------------------- the codec itself


async def test_sealed_payloads_open_again_and_hide_their_content():
    codec = EncryptionCodec(KeyRing.generate("k1"))
    plain = payload(DIAGNOSIS)
    [sealed] = await codec.encode([plain])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID_METADATA] == b"k1"
    assert DIAGNOSIS.encode() not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    assert (await codec.decode([sealed])) == [plain]
    # A fresh nonce each time: the same value never seals to the same bytes.
    assert (await codec.encode([plain]))[0].data != sealed.data


async def test_keys_rotate_and_old_payloads_still_decode():
    old = KeyRing.generate("2026-01")
    [sealed_old] = await EncryptionCodec(old).encode([payload("before")])
    rotated = KeyRing({**old.keys, "2026-11": os.urandom(32)}, "2026-11")
    codec = EncryptionCodec(rotated)
    [sealed_new] = await codec.encode([payload("after")])
    assert sealed_new.metadata[KEY_ID_METADATA] == b"2026-11"
    assert [json.loads(p.data) for p in await codec.decode([sealed_old, sealed_new])] == ["before", "after"]
    # A payload that was never encrypted is refused (it comes from a client without the keys): decode puts a
    # stand-in without its content in its place, which no converter turns into a value (tests/operations/test_side_doors.py).
    [stand_in] = await codec.decode([payload("clear")])
    assert stand_in.metadata["encoding"] != b"json/plain" and b'"clear"' not in stand_in.SerializeToString()
    with pytest.raises(UnsealedPayloadError, match="its encoding is 'json/plain'"):
        codec.open(payload("clear"))
    # Only the replay of the decrypted recordings opts in to read them as they are.
    legacy = EncryptionCodec(rotated, accept_unencrypted_legacy=True)
    assert (await legacy.decode([payload("clear")])) == [payload("clear")]

    # Dropping the old key too early is refused with the key named, never read as garbage.
    without_old = EncryptionCodec(KeyRing({"2026-11": rotated.keys["2026-11"]}, "2026-11"))
    with pytest.raises(EncryptionKeyError, match="key id '2026-01', which is not among the configured"):
        await without_old.decode([sealed_old])
    tampered = Payload()
    tampered.CopyFrom(sealed_new)
    tampered.data = tampered.data[:-1] + bytes([tampered.data[-1] ^ 1])
    with pytest.raises(EncryptionKeyError, match="does not decrypt"):
        await codec.decode([tampered])
    # The key id is bound to the payload: relabelling it to another configured key does not open it.
    relabelled = Payload()
    relabelled.CopyFrom(sealed_new)
    relabelled.metadata[KEY_ID_METADATA] = b"2026-01"
    with pytest.raises(EncryptionKeyError, match="does not decrypt"):
        await codec.decode([relabelled])


@pytest.mark.parametrize(
    ("keys", "active", "reason"),
    [
        ("not json", None, "not JSON"),
        ('["a"]', None, "expected a JSON object"),
        ('{"k": "***"}', None, "key 'k' is not valid base64"),
        ('{"k": "c2hvcnQ="}', None, "key 'k': must be 32 bytes (AES-256), got 5"),
        ("{}", None, "no encryption keys"),
        (
            json.dumps({"k": base64.b64encode(bytes(32)).decode()}),
            "other",
            "the encrypting key id 'other' is not among",
        ),
    ],
)
def test_a_bad_key_setting_is_refused_with_the_reason(keys, active, reason):
    with pytest.raises(ValueError, match=re.escape(reason)) as refused:
        Settings(encryption_keys=keys, encryption_key_id=active)
    assert "SPOORWERK_ENCRYPTION_KEYS" in str(refused.value)


def test_a_cluster_needs_keys_and_the_embedded_default_makes_its_own(tmp_path, monkeypatch):
    monkeypatch.delenv("SPOORWERK_ENCRYPTION_KEYS")
    with pytest.raises(ValueError, match="SPOORWERK_ENCRYPTION_KEYS is required when TEMPORAL_ADDRESS is set"):
        Settings(temporal_address="temporal.example.nl:7233")
    ring = KeyRing.from_file(tmp_path / "keys.json")
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert KeyRing.from_file(tmp_path / "keys.json") == ring  # made once, then kept


# --------------------------------------------------------------------------- against the dev server


async def raw_history(client: Client, workflow_id: str):
    """The history as the server stores it: no codec applied."""
    response = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return response.history


def payload_texts(shown) -> str:
    """The payload data in `temporal workflow show -o json` output (base64 there), as text."""
    if isinstance(shown, dict):
        data = shown.get("data") if "metadata" in shown else None
        own = base64.b64decode(data).decode("utf-8", "replace") if isinstance(data, str) else ""
        return own + "".join(payload_texts(v) for v in shown.values())
    if isinstance(shown, list):
        return "".join(payload_texts(v) for v in shown)
    return ""


def assert_holds_none(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} in clear in {where}"


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []
        self.structlog_events: list[MutableMapping[str, Any]] = []

    @property
    def lines(self) -> list[str]:
        return [*self.records, *(repr(e) for e in self.structlog_events)]

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.getMessage()} {record.__dict__!r}")


@pytest.fixture
def captured_logs():
    """Everything logged meanwhile: the standard library's records (Temporal's among them) and structlog's events."""
    handler = Captured()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        handler.structlog_events = events
        yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.devserver
async def test_the_server_stores_no_personal_data_in_clear(api_server, captured_logs):
    client = api_server.env.client
    case_id = f"C{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=api_server.url, timeout=30) as http:
        opened = await http.post(
            "/api/cases",
            headers=api_server.headers(),
            json={
                "case_id": case_id,
                "employer_id": "E-api",
                "first_sick_day": (today() - timedelta(weeks=5)).isoformat(),
                "contacts": {"werknemer": [EMAIL]},
            },
        )
        assert opened.status_code == 201, opened.text
        recorded = await http.post(
            f"/api/cases/{case_id}/actions/probleemanalyse_recorded",
            headers=api_server.headers("bedrijfsarts"),
            json={"on": today().isoformat(), "note": f"{DIAGNOSIS}; BSN {BSN}"},
        )
        assert recorded.status_code == 200, recorded.text
        # Through Spoorwerk (which holds the key) the dossier reads in full, to whom may read it.
        dossier = (await http.get(f"/api/cases/{case_id}/dossier", headers=api_server.headers("bedrijfsarts"))).json()
        assert any(DIAGNOSIS in e["details"].get("note", "") for e in dossier)

        history = await raw_history(client, case_workflow_id(case_id))
        assert_holds_none(history.SerializeToString().decode("latin-1"), "the raw history")
        assert_holds_none(json_format.MessageToJson(history), "the raw history as JSON")
        started = history.events[0].workflow_execution_started_event_attributes
        update = next(
            e.workflow_execution_update_accepted_event_attributes
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        )
        for sealed in (*started.input.payloads, *update.accepted_request.input.args.payloads):
            assert sealed.metadata["encoding"] == ENCODING
            assert sealed.metadata[KEY_ID_METADATA] == next(iter(TEST_KEYS.keys)).encode()

        described = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=case_workflow_id(case_id))
            )
        )
        assert_holds_none(json_format.MessageToJson(described), "the search attributes, memo and workflow id")
        assert_holds_none("\n".join(captured_logs.lines), "the logs")
        assert any(case_id in line for line in captured_logs.lines)  # the logs did capture the case

        # The real `temporal` CLI, given Spoorwerk's codec endpoint and an operations token, shows it decrypted.
        async def show(*codec: str) -> str:
            proc = await asyncio.create_subprocess_exec(
                temporal_cli(),
                "workflow",
                "show",
                "-w",
                case_workflow_id(case_id),
                "-o",
                "json",
                "--address",
                client.service_client.config.target_host,
                *codec,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await proc.communicate()
            assert proc.returncode == 0, err.decode()
            return out.decode()

        assert DIAGNOSIS not in await show()
        ops_token = api_server.tokens["operations"]
        shown = await show("--codec-endpoint", f"{api_server.url}/codec", "--codec-auth", f"Bearer {ops_token}")
        # Decrypted: the employee's address shows; the bedrijfsarts's note stays sealed a second time
        # (service.medical_seal, tests/operations/test_side_doors.py).
        assert EMAIL in payload_texts(json.loads(shown)) and "sealed:v1:" in payload_texts(json.loads(shown))
        assert DIAGNOSIS not in payload_texts(json.loads(shown))

        # Only operations may read raw payloads; every decode is logged with who, never what.
        body = json_format.MessageToDict(started.input)
        assert (await http.post("/codec/decode", json=body)).status_code == 401
        employer = await http.post("/codec/decode", json=body, headers=api_server.headers("werkgever"))
        assert employer.status_code == 403 and "operations" in employer.json()["detail"]
        decoded = await http.post("/codec/decode", json=body, headers=api_server.headers())
        assert decoded.status_code == 200 and EMAIL in base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
        assert any("payloads decoded" in line and "ops-1" in line for line in captured_logs.lines)
        assert_holds_none("\n".join(captured_logs.lines), "the logs")
        malformed = await http.post("/codec/decode", content=b'{"payloads": 3}', headers=api_server.headers())
        assert malformed.status_code == 422 and malformed.json()["detail"].startswith("body:")
        foreign = EncryptionCodec(KeyRing.generate("elsewhere"))
        sealed_elsewhere = {"payloads": [json_format.MessageToDict((await foreign.encode([payload("x")]))[0])]}
        unknown = await http.post("/codec/decode", json=sealed_elsewhere, headers=api_server.headers())
        assert unknown.status_code == 422 and "'elsewhere'" in unknown.json()["detail"]


@pytest.mark.devserver
async def test_a_failure_message_is_sealed_too(dev_env, tmp_path):
    """A case that fails keeps its reason from the cluster's eyes; the client still reads it."""
    workflow_id = f"case-Cfail{uuid.uuid4().hex[:8]}"
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with build_worker(dev_env.client, Settings(data_dir=tmp_path), task_queue=queue):
        with pytest.raises(WorkflowFailureError) as failed:
            await dev_env.client.execute_workflow(SickLeaveCase.run, CaseInput(), id=workflow_id, task_queue=queue)
    assert "a new case needs `opening` and `ruleset`" in str(failed.value.cause)
    history = await raw_history(dev_env.client, workflow_id)
    failure = history.events[-1].workflow_execution_failed_event_attributes.failure
    assert failure.message == "Encoded failure" and failure.encoded_attributes.metadata["encoding"] == ENCODING


@pytest.mark.devserver
async def test_a_running_case_survives_a_key_rotation(dev_env, tmp_path):
    """Workers move to a new key: the case goes on, old payloads still decode, new ones use the new key."""
    target = dev_env.client.service_client.config.target_host
    first = KeyRing.generate("2026-01")
    rotated = KeyRing({**first.keys, "2026-11": os.urandom(32)}, "2026-11")
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    case_id = f"C{uuid.uuid4().hex[:10]}"
    settings = Settings(data_dir=tmp_path)

    def action(action_id: str, note: str, kind: str = "ziekmelding_arbodienst_sent", role: str = "werkgever") -> dict:
        return {"kind": kind, "action_id": action_id, "on": today().isoformat(), "actor": {"role": role}, "note": note}

    before = await Client.connect(target, data_converter=data_converter(first))
    async with build_worker(before, settings, task_queue=queue):
        await cases.open_case(
            before,
            CaseOpening(
                case_id=case_id, employer_id="E-1", first_sick_day=today(), opened_by=Actor(role=Role.CASEMANAGER)
            ),
            task_queue=queue,
        )
        first_answer = await cases.act(before, case_id, action("a-1", "sent before the rotation"))

    after = await Client.connect(target, data_converter=data_converter(rotated))
    async with build_worker(after, settings, task_queue=queue):  # a new worker: it replays the old payloads
        # A retry of the action sealed under the old key gets the same answer, and is not applied again.
        retried = await cases.act(after, case_id, action("a-1", "sent before the rotation"))
        assert retried == first_answer
        await cases.act(
            after, case_id, action("a-2", "seen after the rotation", "probleemanalyse_recorded", "bedrijfsarts")
        )
        # (The bedrijfsarts's note is sealed a second time, with the medical keys: service.medical_seal.)
        notes = [
            medical_seal.current().reveal(e.details["note"])
            for e in await cases.case_handle(after, case_id).query(SickLeaveCase.dossier)
            if "note" in e.details
        ]
    assert notes == ["sent before the rotation", "seen after the rotation"]

    history = await raw_history(after, case_workflow_id(case_id))
    key_ids = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads[0].metadata[
            KEY_ID_METADATA
        ]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    assert key_ids == [b"2026-01", b"2026-11"]


async def test_only_the_configured_web_ui_may_call_the_codec_from_a_browser(dev_env):
    token = "tok-ops"
    app = create_app(
        dev_env.client,
        TokenAuthenticator({token: Caller(role=Role.OPERATIONS, id="ops-1")}),
        task_queue="unused",
        codec_origins=["http://127.0.0.1:8233"],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as http:
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        }
        ui = await http.options("/codec/decode", headers={"Origin": "http://127.0.0.1:8233", **preflight})
        assert ui.status_code == 204 and ui.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        assert ui.headers["access-control-allow-credentials"] == "true"
        assert "x-namespace" in ui.headers["access-control-allow-headers"]
        stranger = await http.options("/codec/decode", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in stranger.headers
        [sealed] = await dev_env.client.data_converter.payload_codec.encode([payload("x")])
        decoded = await http.post(
            "/codec/decode",
            json={"payloads": [json_format.MessageToDict(sealed)]},
            headers={"Origin": "http://127.0.0.1:8233", "Authorization": f"Bearer {token}"},
        )
        assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        assert json_format.ParseDict(decoded.json()["payloads"][0], Payload()) == payload("x")
        # Refused for want of a sign-in: the Web UI can read the refusal (not "cannot connect"), a stranger cannot.
        for origin, readable in (("http://127.0.0.1:8233", True), ("https://evil.example", False)):
            unsigned = await http.post("/codec/decode", json={"payloads": []}, headers={"Origin": origin})
            assert unsigned.status_code == 401
            assert (unsigned.headers.get("access-control-allow-origin") == origin) is readable


async def test_a_recorded_history_is_written_decrypted(ts_env, tmp_path):
    """What `SPOORWERK_RECORD_HISTORIES=1` keeps: the payloads in clear, so later sessions' keys replay them."""
    from service.codec import decode_message
    from tests.driver import CaseDriver

    async with CaseDriver.running(ts_env, tmp_path) as driver:
        handle = await driver.open(contacts={"werknemer": [EMAIL]})
        await driver.act("ziekmelding_arbodienst_sent", role="werkgever", note=DIAGNOSIS)
        history = await handle.fetch_history()
    sealed_marker = base64.b64encode(ENCODING).decode()  # how the JSON shows the metadata value
    assert DIAGNOSIS not in payload_texts(json.loads(history.to_json())) and sealed_marker in history.to_json()
    for event in history.events:
        await decode_message(event, ts_env.client.data_converter.payload_codec)
    texts = payload_texts(json.loads(history.to_json()))
    assert DIAGNOSIS in texts and EMAIL in texts and sealed_marker not in history.to_json()
    replayed = await Replayer(
        workflows=[SickLeaveCase, Spoor2Trajectory],
        data_converter=data_converter(KeyRing.generate(), accept_unencrypted_legacy=True),
        workflow_runner=WORKFLOW_RUNNER,
    ).replay_workflow(history)
    assert replayed.replay_failure is None


def test_the_embedded_web_ui_may_call_the_codec_as_localhost_and_as_127_0_0_1(tmp_path):
    """Issue 20: the dev server prints its Web UI as localhost, which CORS refused where 127.0.0.1 worked."""
    origins = Settings(data_dir=tmp_path, dev_server_ui_port=8299).codec_origins
    assert {"http://127.0.0.1:8299", "http://localhost:8299"} <= set(origins)
