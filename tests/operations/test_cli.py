"""`spoorwerk calendar`, as installed with the package: Dutch by default, English with SPOORWERK_LANGUAGE=en."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from operations.cli import main


def spoorwerk() -> str:
    beside = Path(sys.executable).parent / "spoorwerk"
    return str(beside) if beside.exists() else shutil.which("spoorwerk") or pytest.fail("spoorwerk is not installed")


def run(*args: str, language: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPOORWERK_LANGUAGE"}
    if language:
        env["SPOORWERK_LANGUAGE"] = language
    return subprocess.run([spoorwerk(), *args], capture_output=True, text=True, timeout=60, env=env)


def test_calendar_json_from_the_installed_command():
    done = run("calendar", "--first-sick-day", "2025-01-06", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    due = {d["key"]: d["due"] for d in out["deadlines"] if "occurrence" not in d}
    assert due["probleemanalyse"] == "2025-02-16"
    assert due["wia_aanvraag"] == "2026-10-18" and due["einde_wachttijd"] == "2027-01-03"
    assert {d["key"] for d in out["deadlines"]} == {
        "ziekmelding_arbodienst",
        "probleemanalyse",
        "plan_van_aanpak",
        "evaluatie",
        "ziekmelding_uwv",
        "eerstejaarsevaluatie",
        "spoor2_start",
        "wia_brief_uwv",
        "eindevaluatie",
        "oordeel_werknemer",
        "reintegratieverslag",
        "wia_aanvraag",
        "einde_wachttijd",
    }
    evaluations = [d for d in out["deadlines"] if d["key"] == "evaluatie"]
    assert [e["occurrence"] for e in evaluations] == list(range(1, len(evaluations) + 1))
    assert len({e["due"] for e in evaluations}) == len(evaluations)  # each once
    dues = [d["due"] for d in out["deadlines"]]
    assert dues == sorted(dues)


def test_calendar_with_recovery_and_relapse_moves_deadlines(capsys):
    assert (
        main(
            [
                "calendar",
                "--first-sick-day",
                "2025-01-06",
                "--recovered",
                "2025-01-20",
                "--relapse",
                "2025-02-03",
                "--json",
            ]
        )
        == 0
    )
    due = {d["key"]: d["due"] for d in json.loads(capsys.readouterr().out)["deadlines"]}
    assert due["probleemanalyse"] == "2025-03-02"  # 14 days later
    assert due["ziekmelding_arbodienst"] == "2025-01-12"


def test_calendar_table(capsys):
    assert main(["calendar", "--first-sick-day", "2012-03-05"]) == 0
    out = capsys.readouterr().out
    assert "Eerste ziektedag 2012-03-05 - regelset wia-2006" in out
    assert out.splitlines()[2].split() == ["stap", "uiterlijk", "dag", "omschrijving"]
    line = next(l for l in out.splitlines() if l.startswith("wia_aanvraag"))
    assert "2013-12-01" in line  # week 91 for a case that began before 2013


def test_calendar_gap_of_four_weeks_shows_the_new_case(capsys):
    assert (
        main(
            [
                "calendar",
                "--first-sick-day",
                "2025-01-06",
                "--recovered",
                "2025-01-20",
                "--relapse",
                "2025-03-03",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["first_sick_day"] == "2025-03-03" and "begint een nieuwe zaak" in out["notes"][0]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--recovered", "2025-01-20", "--relapse", "2025-01-15"],
            "--relapse: 2025-01-15 is not after the recovery on 2025-01-20",
        ),
        (["--relapse", "2025-02-01"], "een terugval volgt op een herstel"),
        (["--recovered", "2025-01-01"], "--recovered: 2025-01-01 is not after the sick period"),
        (
            ["--recovered", "2025-01-20", "--relapse", "2025-02-01", "--recovered", "2025-01-25"],
            "--recovered: 2025-01-25 is not after",
        ),
        (["--recovered", "2025-01-20", "--recovered", "2025-02-20"], "tussen twee herstelmeldingen hoort een terugval"),
    ],
)
def test_calendar_refuses_impossible_input_with_exit_code_2(args, message):
    done = run("calendar", "--first-sick-day", "2025-01-06", *args)
    assert done.returncode == 2
    assert message in done.stderr and done.stdout == ""


def test_calendar_refuses_a_malformed_date():
    done = run("calendar", "--first-sick-day", "6-1-2025")
    assert done.returncode == 2 and "'6-1-2025' is geen datum (gebruik JJJJ-MM-DD)" in done.stderr


def test_the_command_speaks_english_when_asked():
    table = run("calendar", "--first-sick-day", "2012-03-05", language="en")
    assert table.returncode == 0, table.stderr
    assert "First sick day 2012-03-05 - rule set wia-2006" in table.stdout
    assert table.stdout.splitlines()[2].split() == ["step", "due", "day", "description"]
    wrong = run("calendar", "--first-sick-day", "2025-01-06", "--relapse", "2025-02-01", language="en")
    assert wrong.returncode == 2 and "spoorwerk: error: --relapse: 1 relapses but only 0 recoveries" in wrong.stderr
