"""Issue 18, point 3: no side doors to a case's payloads.

Two findings, each reproduced here against the real dev server, worker and API:

- Anyone who reaches Temporal's port could record an action without any key: the codec let
  unencrypted payloads through, so a forged `probleemanalyse_recorded` with a made-up bedrijfsarts
  was applied (and a forged `trajectory_update` signal wrote entries into the dossier). Now an
  unencrypted update is rejected before its validator and an unencrypted signal is dropped, and the
  case goes on taking proper actions (service.codec).
- Operations decoded every payload through `/codec/decode`, the bedrijfsarts's notes included. Now a
  bedrijfsarts's note is sealed a second time with keys of its own before it is sent: the codec
  endpoint and the stored history show `sealed:v1:…`, and only the bedrijfsarts reads the note, in
  the API and in its own version of a document (service.medical_seal).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import RawValue

from domain.actions import admit, parse_action
from domain.errors import ActionRefused
from domain.models import Actor, DossierEntry, Role
from service import medical_seal
from service.codec import KeyRing, decode_message
from service.medical_seal import MedicalSeal, MedicalSealError, medical_key_ring, opened_notes
from service.settings import Settings
from tests.operations.test_api import Api, api, new_id, today  # noqa: F401  (the `api` fixture)
from tests.operations.test_documents_api import listed
from tests.service.test_encryption import raw_history
from workflows.ids import case_workflow_id
from workflows.sick_leave_case import SickLeaveCase

NOTE = "Meniscusletsel rechterknie; fysiotherapie tweemaal per week"
FORGED = "Verzonnen diagnose van een verzonnen bedrijfsarts"
ARTS = Actor(role=Role.BEDRIJFSARTS, id="arts-1")


async def intruder(api: Api) -> Client:
    """A client as anyone who reaches Temporal's port has one: no keys, the SDK's default converter."""
    client = api.server.env.client
    return await Client.connect(client.service_client.config.target_host, namespace=client.namespace)


async def dossier(api: Api, case_id: str, who: str = "bedrijfsarts") -> list[dict]:
    r = await api.get(f"/api/cases/{case_id}/dossier", who=who)
    assert r.status_code == 200, r.text
    return r.json()


def accepted_updates(history) -> list:
    return [
        e.workflow_execution_update_accepted_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


# --------------------------------------------------------------------------- finding 1: unencrypted payloads


@pytest.mark.devserver
async def test_a_forged_unencrypted_action_is_refused_and_the_case_goes_on(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    forged: dict[str, Any] = {
        "kind": "probleemanalyse_recorded",
        "action_id": f"forged-{case_id}",
        "on": today().isoformat(),
        "actor": {"role": "bedrijfsarts", "id": "arts-made-up"},
        "note": FORGED,
    }
    handle = (await intruder(api)).get_workflow_handle(case_workflow_id(case_id))
    # Rejected at once (not left waiting on a wedged case): the worker would not turn the payload into a value.
    # (RawValue: an applied update's answer is sealed, which the intruder could not read.)
    with pytest.raises(WorkflowUpdateFailedError):
        await asyncio.wait_for(handle.execute_update("act", forged, id=forged["action_id"], result_type=RawValue), 30)

    assert not [e for e in await dossier(api, case_id) if e["kind"] == "probleemanalyse_recorded"]
    assert accepted_updates(await raw_history(api.server.env.client, case_workflow_id(case_id))) == []
    # The case still takes a proper action, from the real bedrijfsarts, and answers queries.
    proper = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=NOTE)
    assert proper.status_code == 200, proper.text
    [pa] = [e for e in await dossier(api, case_id) if e["kind"] == "probleemanalyse_recorded"]
    assert pa["actor"] == {"role": "bedrijfsarts", "id": "arts-1"} and pa["details"]["note"] == NOTE
    assert FORGED not in json.dumps(await dossier(api, case_id, "operations"))
    assert (await api.get(f"/api/cases/{case_id}/deadlines")).status_code == 200


@pytest.mark.devserver
async def test_a_forged_unencrypted_signal_is_dropped_and_the_case_goes_on(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    now = datetime.now(timezone.utc).isoformat()
    # A well-formed trajectory report: before, it wrote a made-up bedrijfsarts's entry into the dossier.
    report = {
        "status": "intake",
        "phase": None,
        "outcome": None,
        "ended_on": None,
        "events": [
            {
                "seq": 1,
                "recorded_at": now,
                "on": today().isoformat(),
                "actor": {"role": "bedrijfsarts", "id": "arts-made-up"},
                "kind": "document_received",
                "summary": "Document received",
                "details": {"note": FORGED},
            }
        ],
    }
    await (await intruder(api)).get_workflow_handle(case_workflow_id(case_id)).signal("trajectory_update", report)

    # The signal reached the case (it is in the history) and an action after it is taken as ever.
    after = await api.act(case_id, "ziekmelding_arbodienst_sent", who="werkgever")
    assert after.status_code == 200, after.text
    history = await raw_history(api.server.env.client, case_workflow_id(case_id))
    assert any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED for e in history.events)
    entries = await dossier(api, case_id)
    assert [e["kind"] for e in entries if e["kind"].startswith("spoor2:")] == []
    assert "arts-made-up" not in json.dumps(entries) and FORGED not in json.dumps(entries)
    assert (await api.get(f"/api/cases/{case_id}")).json()["spoor2_status"] is None


# --------------------------------------------------------------------------- finding 2: medical notes


@pytest.mark.devserver
async def test_the_bedrijfsartss_note_is_sealed_from_the_codec_endpoint_and_the_stored_history(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    recorded = await api.act(
        case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=NOTE, belastbaarheid_hours_per_day=4
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["entry"]["details"]["note"] == NOTE  # the bedrijfsarts's own answer, opened

    client = api.server.env.client
    history = await raw_history(client, case_workflow_id(case_id))
    [update] = accepted_updates(history)
    # What the Web UI shows through the codec endpoint, as operations: decrypted, the note still sealed.
    body = json_format.MessageToDict(update.accepted_request.input.args)
    decoded = await api.http.post("/codec/decode", json=body, headers=api.server.headers("operations"))
    assert decoded.status_code == 200, decoded.text
    # The action, and beside it the caller's scope for the case's validator: employer ids only.
    [args, scope] = [json.loads(base64.b64decode(p["data"])) for p in decoded.json()["payloads"]]
    assert args["kind"] == "probleemanalyse_recorded" and args["note"].startswith("sealed:v1:")
    assert scope == {"employer_id": None, "employer_ids": None}
    assert NOTE not in decoded.text and "Meniscusletsel" not in decoded.text
    # What a dump of Temporal's database holds, decrypted with the payload key: every event, no note.
    for event in history.events:
        await decode_message(event, client.data_converter.payload_codec)
    dumped = json_format.MessageToJson(history)
    assert "Meniscusletsel" not in "".join(
        base64.b64decode(m).decode("utf-8", "replace") for m in re.findall(r'"data": "([A-Za-z0-9+/=]+)"', dumped)
    )
    # Querying the workflow with the payload key alone (as the codec-backed Web UI does): sealed as well.
    state = await client.get_workflow_handle_for(SickLeaveCase.run, case_workflow_id(case_id)).query(
        SickLeaveCase.state
    )
    [pa] = [e for e in state.dossier if e.kind == "probleemanalyse_recorded"]
    assert pa.details["note"].startswith("sealed:v1:") and NOTE not in pa.model_dump_json()

    # The bedrijfsarts reads it back; nobody else reads it, sealed or not.
    [pa] = [e for e in await dossier(api, case_id, "bedrijfsarts") if e["kind"] == "probleemanalyse_recorded"]
    assert pa["details"]["note"] == NOTE
    for who in ("operations", "werkgever", "casemanager"):
        entries = await dossier(api, case_id, who)
        [pa] = [e for e in entries if e["kind"] == "probleemanalyse_recorded"]
        assert "note" not in pa["details"] and pa["details"]["belastbaarheid_hours_per_day"] == 4
        assert "sealed:v1:" not in json.dumps(entries)
    state_for_ops = await api.get(f"/api/cases/{case_id}/state", who="operations")
    assert (
        state_for_ops.status_code == 200 and "sealed:v1:" not in state_for_ops.text and NOTE not in state_for_ops.text
    )


@pytest.mark.devserver
async def test_a_retried_note_is_applied_once_and_answered_and_the_longest_note_fits(api):
    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    key = f"pa-{case_id}"
    first = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", key=key, note=NOTE)
    again = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", key=key, note=NOTE)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["entry"] == first.json()["entry"] and again.json()["entry"]["details"]["note"] == NOTE
    assert [e["kind"] for e in await dossier(api, case_id)].count("probleemanalyse_recorded") == 1
    changed = await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", key=key, note=NOTE + ".")
    assert changed.status_code == 409 and "already used" in changed.json()["detail"]

    # 2,000 characters of four UTF-8 bytes each seal to some 10,700 characters: the case takes them.
    longest = "\U0001f9b4" * 2000
    oordeel = await api.act(case_id, "bedrijfsarts_oordeel", who="bedrijfsarts", note=longest)
    assert oordeel.status_code == 200, oordeel.text
    assert [e for e in await dossier(api, case_id) if e["kind"] == "bedrijfsarts_oordeel"][0]["details"][
        "note"
    ] == longest
    # One character more is refused as before, by the API's own validation.
    too_long = await api.act(case_id, "bedrijfsarts_oordeel", who="bedrijfsarts", note="x" * 2001)
    assert too_long.status_code == 422
    assert (
        too_long.json()["detail"][0]["loc"] == ["body", "note"]
        and too_long.json()["detail"][0]["type"] == "string_too_long"
    )


@pytest.mark.devserver
async def test_the_bedrijfsartss_pdf_holds_the_note_and_the_employers_does_not(api):
    from pypdf import PdfReader

    case_id = new_id()
    assert (await api.open(case_id)).status_code == 201
    assert (await api.act(case_id, "probleemanalyse_recorded", who="bedrijfsarts", note=NOTE)).status_code == 200
    for who, audience in (("bedrijfsarts", "bedrijfsarts"), ("werkgever", "werkgever")):
        asked = await api.act(
            case_id, "document_requested", who=who, document="reintegratieoverzicht", audience=audience
        )
        assert asked.status_code == 200, asked.text

    async def pdf_text(who: str) -> str:
        [doc] = (
            await listed(api, case_id, 1, who=who)
            if who == "werkgever"
            else [d for d in await listed(api, case_id, 2, who=who) if d["audience"] == "bedrijfsarts"]
        )
        pdf = await api.get(doc["pdf"], who=who)
        assert pdf.status_code == 200
        return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages))

    assert "Meniscusletselrechterknie" in await pdf_text("bedrijfsarts")
    employer = await pdf_text("werkgever")
    assert "Meniscusletsel" not in employer and "sealed:v1" not in employer


# --------------------------------------------------------------------------- the seal itself


def test_a_seal_is_the_same_for_the_same_request_and_opens_only_with_its_key():
    seal = MedicalSeal(KeyRing.generate("m-1"))
    sealed = seal.seal(NOTE, action_id="a-1", actor=ARTS)
    assert sealed.startswith("sealed:v1:m-1:") and "Meniscus" not in sealed and seal.unseal(sealed) == NOTE
    assert seal.seal(NOTE, action_id="a-1", actor=ARTS) == sealed  # a retry records the same details
    others = {
        seal.seal(NOTE, action_id="a-2", actor=ARTS),
        seal.seal(NOTE + ".", action_id="a-1", actor=ARTS),
        seal.seal(NOTE, action_id="a-1", actor=Actor(role=Role.BEDRIJFSARTS, id="arts-2")),
    }
    assert len(others) == 3 and sealed not in others
    # A rotated ring still opens the old note; a ring without its key, or an altered note, is refused by key id.
    rotated = MedicalSeal(KeyRing({**seal.ring.keys, "m-2": bytes(range(32))}, "m-2"))
    assert rotated.unseal(sealed) == NOTE and rotated.seal(NOTE, action_id="a-1", actor=ARTS).startswith(
        "sealed:v1:m-2:"
    )
    with pytest.raises(MedicalSealError, match="key id 'm-1', which is not among SPOORWERK_MEDICAL_KEYS"):
        MedicalSeal(KeyRing.generate("m-9")).unseal(sealed)
    at = len(sealed) - 10
    altered = sealed[:at] + ("B" if sealed[at] == "A" else "A") + sealed[at + 1 :]
    with pytest.raises(MedicalSealError, match="does not open"):
        seal.unseal(altered)
    # A note recorded before sealing reads as it is.
    assert seal.reveal("een oude notitie") == "een oude notitie"


def test_only_the_bedrijfsartss_sealed_notes_open_and_a_legacy_note_reads_as_it_is():
    sealed = medical_seal.current().seal(NOTE, action_id="a-1", actor=ARTS)
    when = datetime.now(timezone.utc)

    def entry(seq: int, actor: Actor, note: str) -> DossierEntry:
        return DossierEntry(
            seq=seq, recorded_at=when, on=today(), actor=actor, kind="k", summary="s", details={"note": note}
        )

    opened = opened_notes(
        [entry(1, ARTS, sealed), entry(2, ARTS, "legacy"), entry(3, Actor(role=Role.WERKGEVER), "hr")]
    )
    assert [e.details["note"] for e in opened] == [NOTE, "legacy", "hr"]
    # One that does not open (its key gone) reads as saying so, without hiding the rest of the dossier.
    foreign = MedicalSeal(KeyRing.generate("elsewhere")).seal(NOTE, action_id="a-2", actor=ARTS)
    [unreadable] = opened_notes([entry(4, ARTS, foreign)])
    assert "niet te openen" in unreadable.details["note"] and "elsewhere" in unreadable.details["note"]
    with pytest.raises(MedicalSealError):
        opened_notes([entry(4, ARTS, foreign)], strict=True)


def test_a_sealed_note_is_a_bedrijfsartss_and_fits_the_validator():
    base = {"action_id": "a-1", "on": today().isoformat()}
    sealed = MedicalSeal(KeyRing.generate("m-1")).seal("\U0001f9b4" * 2000, action_id="a-1", actor=ARTS)
    assert len(sealed) > 10_000
    admitted = admit(
        {**base, "kind": "bedrijfsarts_oordeel", "actor": {"role": "bedrijfsarts"}, "note": sealed},
        parse_action,
        today(),
    )
    assert admitted.note == sealed
    with pytest.raises(ActionRefused, match="note: only a bedrijfsarts's note is sealed"):
        admit(
            {**base, "kind": "ziekmelding_arbodienst_sent", "actor": {"role": "werkgever"}, "note": sealed},
            parse_action,
            today(),
        )
    with pytest.raises(ActionRefused, match="note: String should have at most 2000 characters"):
        admit(
            {**base, "kind": "bedrijfsarts_oordeel", "actor": {"role": "bedrijfsarts"}, "note": "x" * 2001},
            parse_action,
            today(),
        )


def test_the_embedded_default_makes_its_medical_key_and_a_cluster_must_be_given_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SPOORWERK_MEDICAL_KEYS")
    ring = medical_key_ring(Settings(data_dir=tmp_path))
    path = tmp_path / "medical-keys.json"
    assert path.stat().st_mode & 0o777 == 0o600 and medical_key_ring(Settings(data_dir=tmp_path)) == ring
    session_keys = Settings(data_dir=tmp_path).encryption_keys
    assert session_keys is not None  # tests/conftest.py sets SPOORWERK_ENCRYPTION_KEYS
    assert ring.keys != KeyRing.parse(session_keys.get_secret_value()).keys
    # Against a cluster the service does not start without them: every API and worker process must share them.
    with pytest.raises(ValueError, match="SPOORWERK_MEDICAL_KEYS is required when TEMPORAL_ADDRESS is set"):
        Settings(temporal_address="temporal.example.nl:7233", data_dir=tmp_path)
    with pytest.raises(ValueError, match="SPOORWERK_MEDICAL_KEYS: key 'm': must be 32 bytes"):
        Settings(medical_keys='{"m": "c2hvcnQ="}')
