"""The outbox to UWV on SQLite and PostgreSQL, and the file-drop channel: idempotent, history kept, nothing twice."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy

from domain.uwv import MessageKind, MessageStatus
from service.db import open_database
from service.uwv_channel import ChannelError, FileDrop
from service.uwv_outbox import Outbox, OutboxError

MID = "UWV-0123456789abcdef0123"


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox(request, tmp_path) -> Iterator[Outbox]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'spoorwerk.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    engine = open_database(url)
    yield Outbox(engine)
    engine.dispose()


def add(outbox: Outbox, message_id: str = MID):
    return outbox.add(
        message_id=message_id,
        case_id="C1",
        employer_id="E1",
        message=MessageKind.ZIEKMELDING,
        body=b"sealed",
        actor_role="casemanager",
        actor_id="cm-1",
    )


def test_a_message_goes_through_its_statuses_once_each(outbox):
    first = add(outbox)
    assert add(outbox).prepared_at == first.prepared_at  # a retry keeps the one row
    outbox.set_status(MID, MessageStatus.SENT, actor_role="werkgever", actor_id="hr-1", reference="file:x.json")
    outbox.set_status(MID, MessageStatus.SENT, actor_role="werkgever", actor_id="hr-1", reference="file:x.json")
    done = outbox.set_status(MID, MessageStatus.REJECTED, actor_role="uwv", actor_id="uwv", reason="BSN onbekend")
    assert done.status is MessageStatus.REJECTED and done.reason == "BSN onbekend" and done.reference == "file:x.json"
    assert [(h.status, h.actor_role, h.detail) for h in done.history] == [
        (MessageStatus.PREPARED, "casemanager", None),
        (MessageStatus.SENT, "werkgever", "file:x.json"),
        (MessageStatus.REJECTED, "uwv", "BSN onbekend"),
    ]
    with pytest.raises(OutboxError, match="cannot become sent"):
        outbox.set_status(MID, MessageStatus.SENT, actor_role="werkgever", actor_id="hr-1")
    with pytest.raises(OutboxError, match="cannot become accepted"):
        outbox.set_status(MID, MessageStatus.ACCEPTED, actor_role="uwv", actor_id="uwv")
    assert outbox.body(MID) == b"sealed"
    assert [r.message_id for r in outbox.for_case("C1")] == [MID] and outbox.for_case("C2") == []
    # The rows hold no message: only its sealed bytes.
    with outbox.engine.connect() as db:
        row = db.execute(sqlalchemy.text("SELECT * FROM uwv_messages")).mappings().one()
    assert set(row) >= {"body", "status", "reason"} and row["body"] == b"sealed"


def test_the_file_drop_drops_a_message_once_and_reads_answers(tmp_path):
    drop = FileDrop(tmp_path / "outbox", tmp_path / "answers")
    content = json.dumps({"soort": "ziekmelding"}).encode()
    assert drop.send(MID, content) == f"file:{MID}.json"
    assert drop.send(MID, content) == f"file:{MID}.json"  # a retry
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [f"{MID}.json"]
    assert stat.S_IMODE(os.stat(tmp_path / "outbox" / f"{MID}.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "outbox").st_mode) == 0o700
    with pytest.raises(ChannelError, match="another message"):
        drop.send(MID, b"{}")

    assert drop.answers() == []
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / "a.json").write_text(
        json.dumps({"message_id": MID, "status": "rejected", "answered_on": "2026-12-01", "reason": "Te laat"})
    )
    (tmp_path / "answers" / "b.json").write_text(
        json.dumps({"message_id": MID, "status": "rejected", "answered_on": "2026-12-01"})
    )
    first, second = drop.answers()
    assert first.answer is not None and first.answer.reason == "Te laat"
    assert first.answer.answered_on == date(2026, 12, 1)
    assert second.answer is None and second.problem is not None and "reason" in second.problem
    drop.settle(first, recorded=True)
    drop.settle(second, recorded=False)
    assert drop.answers() == []
    assert (tmp_path / "answers" / "processed" / "a.json").exists()
    assert (tmp_path / "answers" / "invalid" / "b.json").exists()
