"""Documents made by the case at the right moments, kept in the document store (a local folder or an
S3 bucket), listed and downloaded through the API; the history holds a reference and a hash only."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from pypdf import PdfReader

from documents.store import DocumentNotFound, DocumentStoreError, LocalFolderStore, S3Store
from domain.documents import DocumentRef, StoredDocument
from service.settings import Settings
from tests.driver import GROUNDS, CaseDriver
from tests.loopback import free_port

MEDICAL = "Diagnose: burn-out met paniekstoornis"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


async def rendered(driver: CaseDriver, count: int, seconds: float = 60) -> list[DocumentRef]:
    """The case's documents once it has rendered `count` (rendering takes a second or so each)."""
    for _ in range(int(seconds / 0.1)):
        refs = (await driver.state()).documents.refs
        if len(refs) >= count:
            return refs
        await asyncio.sleep(0.1)
    raise AssertionError(f"the case rendered {len((await driver.state()).documents.refs)} documents, not {count}")


def local_store(driver: CaseDriver) -> LocalFolderStore:
    return LocalFolderStore(driver.settings.data_dir / "documents")


async def test_spoor2_renders_the_intake_the_monthly_reports_the_no_go_report_and_the_wia_overview(driver):
    await driver.reach_spoor2(documents=True)
    started = await driver.today()
    await driver.to_haalbaarheidstoets(scope="whole")
    [intake] = await rendered(driver, 1)
    assert intake.order.kind.value == "intakeverslag" and intake.order.as_of == started

    await driver.advance(days=33)
    refs = await rendered(driver, 2)
    report = refs[1]
    assert report.order.kind.value == "voortgangsrapportage"
    assert (report.order.period_start, report.order.period_end) == (started, report.order.as_of - timedelta(days=1))

    await driver.act2(
        "haalbaarheidstoets_decided", decision="no_go", grounds=GROUNDS, report_reference="dms://poortwachtersproof/1"
    )
    refs = await rendered(driver, 4)
    kinds = [r.order.kind.value for r in refs]
    assert kinds[:2] == ["intakeverslag", "voortgangsrapportage"]
    assert sorted(kinds[2:]) == ["no_go_rapport", "reintegratieoverzicht"]

    store = local_store(driver)
    no_go = next(r for r in refs if r.order.kind.value == "no_go_rapport")
    text = pdf_text(store.get(no_go.pdf))
    for ground in GROUNDS.values():
        assert ground.split(",")[0] in text.replace("\n", " ")
    assert driver.case_id in text
    # Each file is where the dossier says, with the hash the dossier recorded.
    for ref in refs:
        for stored in (ref.pdf, ref.html):
            path = store.root / stored.key
            assert hashlib.sha256(path.read_bytes()).hexdigest() == stored.sha256
            assert path.stat().st_mode & 0o077 == 0
    entries = [e for e in await driver.dossier() if e.kind == "document_rendered"]
    assert [e.details["order_id"] for e in entries] == [r.order.order_id for r in refs]

    # The history keeps the order and the reference; the document itself never passes through Temporal.
    history = await driver.handle.fetch_history()
    raw = json.dumps(history.to_json_dict())
    completed = [e for e in history.events if e.HasField("activity_task_completed_event_attributes")]
    sizes = [sum(len(p.data) for p in e.activity_task_completed_event_attributes.result.payloads) for e in completed]
    assert "JVBERi" not in raw  # base64 of "%PDF"
    assert max(sizes) < 4000, sizes
    await driver.save_history("documents_spoor2_no_go")


async def test_a_late_probleemanalyse_is_flagged_at_week_80_and_listed_in_the_wia_overview(driver):
    today = await driver.today()
    first = today - timedelta(weeks=79, days=3)
    await driver.open(
        first,
        stage="spoor1",
        documents=True,
        contacts={"werkgever": ["hr@example.nl"]},
        prior_steps=[
            {"key": "ziekmelding_arbodienst", "done_on": first.isoformat()},
            {"key": "probleemanalyse", "done_on": (first + timedelta(days=60)).isoformat()},
            {"key": "ziekmelding_uwv", "done_on": (first + timedelta(weeks=42, days=1)).isoformat()},
        ],
    )
    await driver.act(
        "plan_van_aanpak_agreed",
        first + timedelta(days=70),
        casemanager_id="cm-1",
        employer_view="e",
        employee_view="w",
    )
    await driver.advance(weeks=1)
    for _ in range(100):
        preflight = [n for n in driver.notifications() if n["kind"] == "preflight_gaps"]
        if len(preflight) >= 2:
            break
        await asyncio.sleep(0.1)
    assert {n["recipient_role"] for n in preflight} == {"casemanager", "werkgever"}
    # Listed in the order UWV's assessor reads the verslag (the poortwachtertoets): effort, then the step.
    assert all(
        "3. Zijn de re-integratie-inspanningen voldoende? Probleemanalyse door de bedrijfsarts: 19 dagen te laat"
        in n["body"]
        for n in preflight
    ), preflight[0]["body"]
    [check] = [e for e in await driver.dossier() if e.kind == "preflight"]
    assert check.details["week"] == 80 and "probleemanalyse" in {g["key"] for g in check.details["gaps"]}

    await driver.advance(weeks=10)  # past week 89: UWV's WIA letter; the case enters the WIA stage
    [overview] = [r for r in await rendered(driver, 1) if r.order.kind.value == "reintegratieoverzicht"]
    text = pdf_text(local_store(driver).get(overview.pdf)).replace("\n", " ")
    assert "Probleemanalyse" in text
    assert (first + timedelta(days=60)).strftime("%d-%m-%Y") in text  # the actual date
    assert (first + timedelta(days=41)).strftime("%d-%m-%Y") in text  # the due date
    assert "19 dagen te laat" in text
    await driver.save_history("documents_preflight_to_wia")


async def test_on_request_the_employer_gets_a_version_without_medical_notes(driver):
    await driver.open(documents=True)
    today = await driver.today()
    await driver.act("probleemanalyse_recorded", today, note=MEDICAL)
    await driver.act("document_requested", today, role="werkgever", document="reintegratieoverzicht")
    await driver.act(
        "document_requested", today, role="bedrijfsarts", document="reintegratieoverzicht", audience="bedrijfsarts"
    )
    refs = await rendered(driver, 2)
    versions = {r.order.audience.value: pdf_text(local_store(driver).get(r.pdf)) for r in refs}
    assert (
        MEDICAL not in versions["werkgever"]
        and MEDICAL
        not in local_store(driver).get(next(r for r in refs if r.order.audience.value == "werkgever").html).decode()
    )
    assert MEDICAL in versions["bedrijfsarts"].replace("\n", " ")


# ------------------------------------------------------------------ the stores


def test_the_local_folder_keeps_documents_private_and_refuses_changed_or_odd_ones(tmp_path):
    store = LocalFolderStore(tmp_path / "docs")
    stored = store.put("C1/intakeverslag.werkgever.pdf", b"%PDF-1.7 one", "application/pdf")
    assert stored.sha256 == hashlib.sha256(b"%PDF-1.7 one").hexdigest() and stored.size == 12
    assert store.get(stored) == b"%PDF-1.7 one"
    path = tmp_path / "docs" / "C1" / "intakeverslag.werkgever.pdf"
    assert path.stat().st_mode & 0o777 == 0o600 and (tmp_path / "docs" / "C1").stat().st_mode & 0o777 == 0o700
    path.write_bytes(b"%PDF-1.7 forged")
    with pytest.raises(DocumentStoreError, match="no longer matches the hash"):
        store.get(stored)
    with pytest.raises(DocumentNotFound):
        store.get(StoredDocument(key="C1/missing.pdf", media_type="application/pdf", size=1, sha256="0"))
    for key in ("../etc/passwd", "/abs/x.pdf", "C1/../../x.pdf", "C1", "C1/a b.pdf"):
        with pytest.raises(ValueError, match="not a valid key"):
            store.put(key, b"x", "application/pdf")


@pytest.fixture
def s3_server(monkeypatch):
    """moto's S3-compatible server on loopback, with a bucket; credentials as any AWS client finds them."""
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for var, value in {
        "AWS_ACCESS_KEY_ID": "spoorwerk-test",
        "AWS_SECRET_ACCESS_KEY": "spoorwerk-test",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(var, value)
    try:
        for _ in range(200):
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        client = boto3.client("s3", endpoint_url=url, region_name="eu-west-1")
        client.create_bucket(Bucket="dossiers", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield url, client
    finally:
        proc.terminate()
        proc.wait(10)


async def test_with_the_s3_store_documents_go_to_the_bucket_and_nowhere_else(ts_env, tmp_path, s3_server):
    url, s3 = s3_server
    settings = Settings(
        data_dir=tmp_path / "data",
        document_store="s3",
        s3_bucket="dossiers",
        s3_endpoint_url=url,
        s3_region="eu-west-1",
        s3_prefix="tenant-a/",
    )
    async with CaseDriver.running(ts_env, tmp_path, settings) as driver:
        await driver.open(documents=True)
        await driver.act(
            "document_requested", await driver.today(), role="casemanager", document="reintegratieoverzicht"
        )
        [ref] = await rendered(driver, 1)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="dossiers")["Contents"])
    assert keys == sorted(f"tenant-a/{k}" for k in (ref.pdf.key, ref.html.key))
    obj = s3.get_object(Bucket="dossiers", Key=f"tenant-a/{ref.pdf.key}")
    assert obj["ContentType"] == "application/pdf"
    store = S3Store("dossiers", prefix="tenant-a/", endpoint_url=url, region="eu-west-1")
    assert store.get(ref.pdf).startswith(b"%PDF")
    assert driver.case_id is not None and driver.case_id in pdf_text(store.get(ref.pdf))
    assert not (tmp_path / "data" / "documents").exists()
    s3.put_object(Bucket="dossiers", Key=f"tenant-a/{ref.pdf.key}", Body=b"%PDF-forged")
    with pytest.raises(DocumentStoreError, match="no longer matches"):
        store.get(ref.pdf)
    with pytest.raises(DocumentNotFound):
        store.get(ref.pdf.model_copy(update={"key": f"{driver.case_id}/nothing.pdf"}))


def test_an_unreachable_bucket_is_a_store_error_naming_the_bucket(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region_name="eu-west-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    store = S3Store("dossiers", client=client)
    with pytest.raises(DocumentStoreError, match="the bucket dossiers did not take it"):
        store.put(f"C{uuid.uuid4().hex[:6]}/x.pdf", b"x", "application/pdf")
    with pytest.raises(DocumentStoreError, match="unreachable"):
        store.get(StoredDocument(key="C1/x.pdf", media_type="application/pdf", size=1, sha256="0"))
