"""`spoorwerk figures` with --direct on the embedded default's data folder: employment data put in (and refused by
row and column), then the figures as CSV a Dutch spreadsheet opens."""

from __future__ import annotations

from datetime import date, datetime, timezone

from domain.facts import derive
from operations.cli import main
from operations.people import person_key, search_key
from service import reporting
from service.settings import Settings
from tests.domain.test_case_rules import act, new_case


def test_employment_in_and_figures_out_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPOORWERK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SPOORWERK_LANGUAGE", "nl")
    settings = Settings()
    state = new_case()  # sick 6 January 2025, back on 3 February: 28 days
    state.people.person_keys = [person_key("personnel_number", "1001", search_key(settings))]
    act(state, "full_recovery", date(2025, 2, 3))
    engine = reporting.open_store(settings.reporting_database)
    reporting.write_case(engine, derive(state, date(2025, 3, 1)), now=datetime.now(timezone.utc))

    bad = tmp_path / "fout.csv"
    bad.write_text("personeelsnummer;in_dienst;deeltijdfactor\n1001;2020-01-01;0\n")
    assert main(["figures", "employment", str(bad), "--employer", "E1", "--direct"]) == 1
    assert "rij 2  deeltijdfactor  deeltijdfactor: 0 is geen deeltijdfactor" in capsys.readouterr().err

    good = tmp_path / "personeel.csv"
    good.write_text("personeelsnummer;in_dienst;deeltijdfactor\n1001;2020-01-01;0,5\n1002;2020-01-01;1\n")
    assert main(["figures", "employment", str(good), "--employer", "E1", "--direct"]) == 0
    assert "2 dienstverbanden van E1 opgeslagen" in capsys.readouterr().out

    args = ["figures", "--direct", "--period", "month", "--from", "2025-01-01", "--to", "2025-02-28"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    # January: 26 sick days (6–31) × 0.5 ÷ (31 × 0.5 + 31 × 1) × 100 = 13 / 46.5 × 100 = 27.96; February: 2 days
    # (1–2) × 0.5 ÷ (28 × 1.5) × 100 = 2.38, and the case ended there after 28 days.
    assert [line.split(";")[1:5] for line in lines[1:]] == [
        ["2025-01", "2025-01-01", "2025-01-31", "27,96"],
        ["2025-02", "2025-02-01", "2025-02-28", "2,38"],
    ]
    assert lines[2].split(";")[7] == "28"  # gemiddelde_verzuimduur
