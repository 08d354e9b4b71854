"""The sentence a person reads for a dossier entry: in their language, with dates and numbers as they write them,
and never a raw key (documents.dossier_text, shared by the documents, the dashboard and the CLI)."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

import pytest

from documents.dossier_text import describe
from domain import glossary
from domain.case import DossierLine
from domain.models import Actor, DossierEntry, Role
from domain.observations import Observation, ObservationState
from service import i18n

SYSTEM = Actor(role=Role.SYSTEEM)


def entry(
    kind: str,
    seq: int = 1,
    on: date = date(2026, 3, 9),
    summary: str = "stored summary",
    actor: Actor = SYSTEM,
    **details,
) -> DossierEntry:
    return DossierEntry(
        seq=seq,
        recorded_at=datetime(2026, 3, 9, 8, tzinfo=timezone.utc),
        on=on,
        actor=actor,
        kind=kind,
        summary=summary,
        details=details,
    )


def test_dutch_by_default_and_english_on_request():
    pa = entry("probleemanalyse_recorded", belastbaarheid_hours_per_day=4.5, actor=Actor(role=Role.BEDRIJFSARTS))
    assert describe(pa) == "Probleemanalyse door de bedrijfsarts; belastbaarheid 4,5 uur per dag"
    with i18n.using("en"):
        assert describe(pa) == "Probleemanalyse by the bedrijfsarts; belastbaarheid 4.5 hours a day"


def test_dates_are_written_the_readers_way_not_as_iso():
    late = entry("deadline_overdue", key="probleemanalyse", due="2026-03-06")
    assert describe(late) == ("Termijn verstreken: Probleemanalyse was uiterlijk 6 mrt 2026 en was toen niet gedaan")
    assert "06-03-2026" in describe(late, date_style="short")  # the documents' way
    with i18n.using("en"):
        assert "was due by Mar 6, 2026 and had not been done then" in describe(late)


def test_an_observation_says_how_it_stands_now():
    late = entry("deadline_overdue", seq=7, key="probleemanalyse", occurrence=None, due="2026-03-06")
    done = Observation(
        seq=7,
        mark="probleemanalyse",
        key="probleemanalyse",
        due=date(2026, 3, 6),
        state=ObservationState.LATE,
        done_on=date(2026, 3, 10),
        days_late=4,
    )
    assert describe(late, seen={7: done}).endswith("; later gedaan op 10-03-2026, 4 dagen te laat")
    line = DossierLine.model_construct(**dict(late), observation=done)  # what the dashboard holds
    assert describe(line) == describe(late, seen={7: done})
    one_day = done.model_copy(update={"days_late": 1})
    with i18n.using("en"):
        assert describe(late, seen={7: one_day}).endswith("; done later on 3/10/26, 1 day late")
    # The case page shows the standing beside the sentence: the sentence then leaves it out, said once.
    assert (
        describe(line, standing=False)
        == "Termijn verstreken: Probleemanalyse was uiterlijk 6 mrt 2026 en was toen niet gedaan"
    )
    gone = done.model_copy(update={"state": ObservationState.SUPERSEDED, "superseded_by": 8})
    stale = DossierLine.model_construct(**dict(late), observation=gone)
    assert describe(stale).count("toen nog niet verstreken") == 1  # the documents' sentence, with its standing
    assert describe(stale, standing=False) == "Vervallen waarneming: Probleemanalyse leek na 6 mrt 2026 niet gedaan"


def test_labels_come_from_the_glossary_in_the_readers_language():
    change: dict[str, Any] = {"from": "spoor1", "to": "closed"}  # "from" is a keyword: passed as a mapping
    stage = entry("stage_changed", **change)
    assert describe(stage) == "Fase van de zaak: Spoor 1 → Afgesloten"
    with i18n.using("en"):
        assert describe(stage) == "Stage of the case: Spoor 1 → Closed"
    assert describe(entry("case_closed", outcome="nieuw_werk")) == "Zaak gesloten: nieuw werk bij een andere werkgever"
    assert describe(entry("spoor2:activity_recorded", activity="job_offer")) == "Spoor 2: Baanaanbod"
    # A trajectory's document in the case's dossier, with no trajectory at hand: named as the rules name it.
    received = entry("spoor2:document_received", document="ad_rapport", reference="dms://ad/1")
    assert describe(received) == "Spoor 2: Document ontvangen: AD-rapport eerste ziektejaar (dms://ad/1)"


def test_counts_use_the_plural_they_need():
    assert describe(entry("preflight", week=80, gaps=[{}])) == "Dossiercheck week 80: 1 gat gevonden"
    assert describe(entry("preflight", week=80, gaps=[{}, {}])) == "Dossiercheck week 80: 2 gaten gevonden"
    assert describe(entry("preflight", week=80, gaps=[])) == "Dossiercheck week 80: het dossier is compleet"


def test_a_kind_without_a_sentence_reads_as_its_label_and_an_unknown_kind_as_its_summary():
    assert describe(entry("deadline_reminder")) == "Herinnering aan een termijn"
    assert (
        describe(entry("something_new_from_a_later_version", summary="Something new happened"))
        == "Something new happened"
    )


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_no_kind_shows_its_raw_key(language):
    """Every kind the case or its trajectory records, even with its details missing, reads as words."""
    with i18n.using(language):
        for kind in glossary.ENTRY_KINDS:
            text = describe(entry(kind))
            assert text and "None" not in text and not re.search(r"\b[a-z0-9]+_[a-z0-9_]+\b", text), (kind, text)
