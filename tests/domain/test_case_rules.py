"""The case's rules without Temporal: deviations, loonsanctie, views, spoor 2 preconditions."""

import importlib
from datetime import date, datetime, timedelta, timezone

import pytest

from domain import case as rules
from domain.actions import parse_action
from domain.case import CaseOpening
from domain.errors import ActionRefused
from domain.models import DeadlineStatus, Outcome, Stage
from service.rulebook import load_rulebook, load_spoor2_rules
from tests.paths import TESTS

FIRST = date(2025, 1, 6)
NOW = datetime(2025, 1, 6, 9, tzinfo=timezone.utc)
_seq = iter(range(10**6))


def new_case(first: date = FIRST, opened: date | None = None, **fields):
    """A case opened on its first sick day (else on `opened`: a case taken over later)."""
    opening = CaseOpening(
        case_id="C1", employer_id="E1", first_sick_day=first, opened_by={"role": "casemanager"}, **fields
    )
    ruleset = load_rulebook().for_first_sick_day(first)
    return rules.open_case(opening, ruleset, today=opened or first, now=NOW, spoor2_rules=load_spoor2_rules())


def ad_onderzoek(state, started: date, concluded: date, **answers):
    """An AD-onderzoek with both conversations, concluded with `answers`."""
    act(state, "ad_onderzoek_started", started, role="arbeidsdeskundige")
    act(state, "ad_gesprek_held", started, role="arbeidsdeskundige", party="werkgever")
    act(state, "ad_gesprek_held", started, role="arbeidsdeskundige", party="werknemer")
    return act(state, "ad_onderzoek_concluded", concluded, role="arbeidsdeskundige", **answers)


def act(state, kind, on, today=None, role="casemanager", **fields):
    action = parse_action(
        {"kind": kind, "action_id": f"a{next(_seq)}", "actor": {"role": role}, "on": on.isoformat(), **fields}
    )
    return rules.apply(state, action, today or on, NOW)


def views(state, today):
    return {v.mark: v for v in rules.deadlines(state, today)}


def test_deviation_moves_a_deadline_and_records_the_reason():
    state = new_case()
    act(
        state,
        "deadline_deviation",
        date(2025, 2, 10),
        deadline="probleemanalyse",
        reason="Employee in hospital, no consultation possible",
        new_due=date(2025, 3, 10),
    )
    v = views(state, date(2025, 3, 1))["probleemanalyse"]
    assert v.due == date(2025, 3, 10) and v.status is DeadlineStatus.OPEN
    assert v.deviation.reason == "Employee in hospital, no consultation possible"
    assert views(state, date(2025, 3, 11))["probleemanalyse"].status is DeadlineStatus.OVERDUE
    assert state.dossier[-1].kind == "deadline_deviation"


def test_deviation_without_a_new_date_waives_the_step():
    state = new_case()
    act(
        state,
        "deadline_deviation",
        date(2025, 2, 10),
        deadline="probleemanalyse",
        reason="Terminal illness, Reg art. 5",
    )
    v = views(state, date(2025, 6, 1))["probleemanalyse"]
    assert v.status is DeadlineStatus.WAIVED and v.waived_because == "Terminal illness, Reg art. 5"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"deadline": "ziekmelding_uwv", "reason": "we were late with it"}, "may not be deviated from"),
        ({"deadline": "nonsense", "reason": "we were late with it"}, "is not a statutory step"),
        ({"deadline": "probleemanalyse", "reason": "short"}, "reason: String should have at least 10 characters"),
    ],
)
def test_deviation_refusals(fields, message):
    state = new_case()
    before = state.model_dump()
    with pytest.raises(ActionRefused, match=message):
        act(state, "deadline_deviation", date(2025, 2, 10), **fields)
    assert state.model_dump() == before


def test_overdue_step_gets_marked_once_and_moves_after_deviation():
    state = new_case()
    notes = rules.tick(state, today=date(2025, 2, 17), now=NOW)
    assert [n.deadline_key for n in notes] == ["ziekmelding_arbodienst", "probleemanalyse"]
    assert rules.tick(state, today=date(2025, 2, 18), now=NOW) == []  # marked once
    act(
        state,
        "deadline_deviation",
        date(2025, 2, 18),
        deadline="probleemanalyse",
        reason="Bedrijfsarts ill, new appointment made",
        new_due=date(2025, 2, 25),
    )
    assert views(state, date(2025, 2, 20))["probleemanalyse"].status is DeadlineStatus.OPEN
    notes = rules.tick(state, today=date(2025, 2, 26), now=NOW)
    assert [(n.deadline_key, n.due) for n in notes] == [("probleemanalyse", date(2025, 2, 25))]


def test_plan_van_aanpak_is_due_two_weeks_after_the_probleemanalyse():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    assert views(state, date(2025, 1, 27))["plan_van_aanpak"].due == date(2025, 2, 10)
    assert state.stage is Stage.SPOOR1


def test_both_views_are_required_since_july_2023():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    with pytest.raises(ActionRefused, match="employer_view, employee_view"):
        act(state, "plan_van_aanpak_agreed", date(2025, 2, 3), casemanager_id="cm-1", employer_view="back in 3 months")
    act(state, "plan_van_aanpak_agreed", date(2025, 2, 3), casemanager_id="cm-1", employer_view="e", employee_view="w")
    old = new_case(date(2022, 1, 3))
    act(old, "probleemanalyse_recorded", date(2022, 2, 1), role="bedrijfsarts")
    act(old, "plan_van_aanpak_agreed", date(2022, 2, 8), casemanager_id="cm-1")  # no views needed then


def test_evaluations_recur_six_weeks_after_the_last_one_held():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    act(state, "plan_van_aanpak_agreed", date(2025, 2, 3), casemanager_id="cm-1", employer_view="e", employee_view="w")
    assert views(state, date(2025, 2, 3))["evaluatie#1"].due == date(2025, 3, 17)
    act(state, "evaluatie_held", date(2025, 3, 10))
    v = views(state, date(2025, 3, 10))
    assert v["evaluatie#1"].status is DeadlineStatus.DONE and v["evaluatie#2"].due == date(2025, 4, 21)


def test_a_second_evaluatie_on_the_same_day_is_refused_by_the_validator_and_still_replays():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    act(state, "plan_van_aanpak_agreed", date(2025, 2, 3), casemanager_id="cm-1", employer_view="e", employee_view="w")
    first = act(state, "evaluatie_held", date(2025, 3, 10), role="werkgever")

    def again(on: date, action_id: str = "a-again", role: str = "casemanager"):
        raw = {"kind": "evaluatie_held", "action_id": action_id, "actor": {"role": role}, "on": on.isoformat()}
        return parse_action(raw)

    # The form sent twice (a new action id, the same day): refused, naming the line on record.
    with pytest.raises(ActionRefused) as refused:
        rules.validate(state, again(date(2025, 3, 10)), date(2025, 3, 10))
    said = str(refused.value)
    assert said.startswith("evaluatie_held: an evaluatie on 2025-03-10 is on record already")
    assert f"(dossier line {first.seq})" in said
    # The same action retried is answered, not refused; another day is another evaluatie.
    rules.validate(state, again(date(2025, 3, 10), first.action_id, "werkgever"), date(2025, 3, 10))
    rules.validate(state, again(date(2025, 3, 11)), date(2025, 3, 11))
    # A history that recorded two on one day before this rule replays as it was: the handler applies it.
    rules.apply(state, again(date(2025, 3, 10)), date(2025, 3, 10), NOW)
    assert [e.on for e in state.evaluations] == [date(2025, 3, 10)] * 2


def test_loonsanctie_extends_the_end_and_a_repair_ends_it_six_weeks_after_acceptance():
    state = new_case()
    end = rules.wachttijd_end(state)
    assert end == date(2027, 1, 3)
    act(state, "wia_aanvraag_filed", date(2026, 10, 1), role="werknemer")
    with pytest.raises(ActionRefused, match="at most 52 weeks"):
        act(state, "loonsanctie_imposed", date(2026, 11, 20), weeks=53)
    act(state, "loonsanctie_imposed", date(2026, 11, 20), weeks=52)
    assert rules.wachttijd_end(state) == end + timedelta(weeks=52)
    with pytest.raises(ActionRefused, match="no reported repair"):
        act(state, "repair_accepted", date(2027, 2, 1), role="uwv")
    act(state, "repair_reported", date(2027, 2, 1), role="werkgever")
    act(state, "repair_accepted", date(2027, 2, 20), role="uwv")
    assert rules.wachttijd_end(state) == date(2027, 2, 20) + timedelta(weeks=6)


def test_voluntary_extension_is_capped():
    state = new_case()
    act(
        state,
        "voluntary_extension",
        date(2026, 6, 1),
        role="werkgever",
        weeks=40,
        employer_agrees=True,
        employee_agrees=True,
    )
    with pytest.raises(ActionRefused, match="12 remain"):
        act(
            state,
            "voluntary_extension",
            date(2026, 6, 2),
            role="werkgever",
            weeks=13,
            employer_agrees=True,
            employee_agrees=True,
        )
    with pytest.raises(ActionRefused, match="employee_agrees"):
        act(
            state,
            "voluntary_extension",
            date(2026, 6, 2),
            role="werkgever",
            weeks=1,
            employer_agrees=True,
            employee_agrees=False,
        )


def test_spoor2_needs_ad_onderzoek_and_early_start_needs_consent():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    with pytest.raises(ActionRefused, match="without an AD-onderzoek on record"):
        act(state, "spoor2_started", date(2025, 6, 2))
    ad_onderzoek(state, date(2025, 5, 1), date(2025, 5, 20), own_work_possible=False, other_work_inside_possible=False)
    assert state.stage is Stage.AD_ONDERZOEK
    with pytest.raises(ActionRefused, match="needs the bedrijfsarts's consent"):
        act(state, "spoor2_started", date(2025, 6, 2))
    with pytest.raises(ActionRefused, match="the role casemanager may not record “Consent to spoor 2”"):
        act(state, "spoor2_consent_given", date(2025, 5, 25))
    act(state, "spoor2_consent_given", date(2025, 5, 25), role="bedrijfsarts")
    act(state, "spoor2_started", date(2025, 6, 2))
    assert state.stage is Stage.SPOOR2
    assert views(state, date(2025, 6, 2))["spoor2_start"].status is DeadlineStatus.DONE


def test_ad_onderzoek_own_work_waives_the_spoor2_deadline():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    entry = ad_onderzoek(state, date(2025, 11, 20), date(2025, 12, 1), own_work_possible=True)
    assert entry.summary == "AD-onderzoek concluded: own work: possible; back to own work"
    v = views(state, date(2026, 6, 1))["spoor2_start"]
    assert v.status is DeadlineStatus.WAIVED and "eigen_werk" in v.waived_because
    assert state.stage is Stage.SPOOR1


def test_deskundigenoordeel_answer_must_match_a_request():
    state = new_case()
    with pytest.raises(ActionRefused, match="no deskundigenoordeel was requested under 'r1'"):
        act(state, "deskundigenoordeel_answered", date(2025, 3, 1), role="uwv", request_id="r1", conclusion="passend")
    action = parse_action(
        {
            "kind": "deskundigenoordeel_requested",
            "action_id": "r1",
            "actor": {"role": "werknemer"},
            "on": "2025-03-01",
            "requested_by": "werknemer",
            "question": "Is the offered work suitable?",
        }
    )
    rules.apply(state, action, date(2025, 3, 1), NOW)
    act(
        state,
        "deskundigenoordeel_answered",
        date(2025, 3, 20),
        role="uwv",
        request_id="r1",
        conclusion="Work is suitable",
    )
    assert state.deskundigenoordelen[0].conclusion == "Work is suitable"


def test_taken_over_case_counts_past_steps_as_given():
    state = new_case(
        opened=date(2025, 8, 1),
        stage="spoor1",
        prior_steps=[{"key": "probleemanalyse", "done_on": "2025-02-10"}, {"key": "plan_van_aanpak", "done_on": None}],
    )
    v = views(state, date(2025, 8, 1))
    assert v["probleemanalyse"].status is DeadlineStatus.DONE
    assert v["plan_van_aanpak"].status is DeadlineStatus.OVERDUE
    with pytest.raises(ActionRefused, match="prior_steps.0.key: 'nonsense'"):
        new_case(prior_steps=[{"key": "nonsense"}])


def test_recovery_window_closes_the_case():
    state = new_case()
    act(state, "full_recovery", date(2025, 2, 3))
    rules.tick(state, today=date(2025, 3, 2), now=NOW)
    assert not state.closed  # day 27 after recovery: a relapse may still come
    rules.tick(state, today=date(2025, 3, 3), now=NOW)
    assert state.closed and state.outcome is Outcome.HERSTELD and state.closed_on == date(2025, 3, 3)


def test_retried_action_id_is_applied_once_and_reuse_for_another_kind_is_refused():
    state = new_case()
    raw = {"kind": "ziekmelding_arbodienst_sent", "action_id": "x1", "actor": {"role": "werkgever"}, "on": "2025-01-07"}
    first = rules.apply(state, parse_action(raw), date(2025, 1, 7), NOW)
    again = rules.apply(state, parse_action(raw), date(2025, 1, 8), NOW)
    assert first == again and len([e for e in state.dossier if e.action_id == "x1"]) == 1
    with pytest.raises(ActionRefused, match="already used for “Ziekmelding to the arbodienst”"):
        rules.apply(state, parse_action({**raw, "kind": "evaluatie_held"}), date(2025, 1, 8), NOW)


def test_ad_onderzoek_answers_its_questions_in_order_after_both_conversations():
    state = new_case()
    act(state, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    with pytest.raises(ActionRefused, match="no AD-onderzoek is running; record “AD-onderzoek started” first"):
        act(state, "ad_gesprek_held", date(2025, 10, 1), role="arbeidsdeskundige", party="werkgever")
    act(state, "ad_onderzoek_started", date(2025, 10, 1), role="arbeidsdeskundige")
    act(state, "ad_gesprek_held", date(2025, 10, 2), role="arbeidsdeskundige", party="werkgever")
    before = state.model_dump()
    with pytest.raises(ActionRefused, match="needs a conversation with the werknemer on record first"):
        act(state, "ad_onderzoek_concluded", date(2025, 10, 9), role="arbeidsdeskundige", own_work_possible=True)
    act(state, "ad_gesprek_held", date(2025, 10, 3), role="arbeidsdeskundige", party="werknemer")
    act(state, "ad_gesprek_held", date(2025, 10, 3), role="arbeidsdeskundige", party="werkplekbezoek")
    before = state.model_dump()
    refusals: list[tuple[dict[str, object], str]] = [
        ({"conclusion": "spoor2"}, "own_work_possible: the AD-onderzoek first answers whether"),
        (
            {"own_work_possible": True, "other_work_inside_possible": False},
            "other_work_inside_possible: asked only when own work is not possible",
        ),
        ({"own_work_possible": False}, "other_work_inside_possible: own work is not possible, so say whether"),
        (
            {"own_work_possible": False, "other_work_inside_possible": True, "conclusion": "spoor2"},
            "conclusion: the answers lead to ander_werk_intern, not spoor2",
        ),
    ]
    for answers, message in refusals:
        with pytest.raises(ActionRefused, match=message):
            act(state, "ad_onderzoek_concluded", date(2025, 10, 9), role="arbeidsdeskundige", **answers)
    assert state.model_dump() == before
    entry = act(
        state,
        "ad_onderzoek_concluded",
        date(2025, 10, 9),
        role="arbeidsdeskundige",
        own_work_possible=False,
        other_work_inside_possible=False,
        report_reference="dms://ad/77",
    )
    assert entry.summary == (
        "AD-onderzoek concluded: own work: not possible; other work inside: not possible; advice: spoor 2"
    )
    assert state.ad.conclusion.value == "spoor2" and state.ad.report_reference == "dms://ad/77"
    assert [c.party.value for c in state.ad.conversations] == ["werkgever", "werknemer", "werkplekbezoek"]


def test_spoor2_runs_as_its_trajectory_and_ends_only_with_its_outcome():
    state2 = new_case()
    act(state2, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    ad_onderzoek(
        state2, date(2025, 11, 1), date(2025, 12, 1), own_work_possible=False, other_work_inside_possible=False
    )
    act(state2, "spoor2_started", date(2026, 1, 12))
    assert state2.trajectory_due
    with pytest.raises(ActionRefused, match="kind: 'spoor2_ended' is not a known action"):
        act(state2, "spoor2_ended", date(2026, 6, 1), result="geen_resultaat")
    state3 = new_case()
    act(state3, "probleemanalyse_recorded", date(2025, 1, 27), role="bedrijfsarts")
    with pytest.raises(ActionRefused, match="own_work_possible: the AD-onderzoek first answers"):
        ad_onderzoek(state3, date(2025, 11, 1), date(2025, 12, 1), conclusion="spoor2")


def _continued_state(history: str) -> dict:
    """The flat case state a recorded history carried into its continue-as-new (as the code before sub-states wrote
    it)."""
    import base64
    import json

    events = json.loads((TESTS / "histories" / "v5" / history).read_text())["events"]
    [attrs] = [
        e["workflowExecutionContinuedAsNewEventAttributes"]
        for e in events
        if "workflowExecutionContinuedAsNewEventAttributes" in e
    ]
    return json.loads(base64.b64decode(attrs["input"]["payloads"][0]["data"]))["state"]


def test_a_flat_state_of_a_recorded_continue_as_new_loads_with_the_same_dossier_and_deadlines():
    from workflows.payloads import CaseInput

    flat = _continued_state("spoor2_continued_as_new_case_first_run.json")
    assert "spoor2_started_on" in flat and "watch" in flat  # written before the parts were nested
    state = CaseInput.model_validate({"state": flat}).state
    assert state is not None
    assert [e.model_dump(mode="json") for e in state.dossier] == flat["dossier"]
    assert state.applied_actions == flat["applied_actions"]
    # What the code before the sub-states computed from this very state (release 5 revision 3):
    today = date(2027, 3, 1)
    assert [(v.mark, v.due.isoformat() if v.due else None, v.status.value) for v in rules.deadlines(state, today)] == [
        ("ziekmelding_arbodienst", "2025-12-06", "done"),
        ("probleemanalyse", "2026-01-10", "done"),
        ("plan_van_aanpak", "2026-01-13", "done"),
        ("evaluatie#1", "2026-02-20", "done"),
        ("evaluatie#2", "2026-04-03", "done"),
        ("evaluatie#3", "2026-05-15", "done"),
        ("evaluatie#4", "2026-06-26", "done"),
        ("evaluatie#5", "2026-08-07", "done"),
        ("evaluatie#6", "2026-09-18", "done"),
        ("ziekmelding_uwv", "2026-09-21", "done"),
        ("evaluatie#7", "2026-10-30", "done"),
        ("eerstejaarsevaluatie", "2026-11-28", "done"),
        ("evaluatie#8", "2026-12-11", "overdue"),
        ("spoor2_start", "2027-01-06", "done"),
        ("wia_brief_uwv", "2027-08-14", "open"),
        ("eindevaluatie", "2027-08-28", "open"),
        ("oordeel_werknemer", "2027-08-28", "open"),
        ("reintegratieverslag", "2027-08-28", "open"),
        ("wia_aanvraag", "2027-09-11", "open"),
        ("einde_wachttijd", "2027-11-27", "open"),
    ]
    summary = rules.summarize(state, today)
    assert summary.model_dump(
        mode="json",
        include={"stage", "spoor2_status", "escalation_level", "wachttijd_ends", "overdue", "spoor2_coach_id"},
    ) == {
        "stage": "spoor2",
        "spoor2_status": "voorstel",
        "escalation_level": 0,
        "wachttijd_ends": "2027-11-27",
        "overdue": ["evaluatie#8"],
        "spoor2_coach_id": "coach-1",
    }
    assert summary.expected is not None and summary.expected.context == "spoor2:voorstel"
    # Every flat key landed in its part, and the nested state goes on as it is written now.
    assert state.spoor2.trajectory_started and state.spoor2.started_on == date.fromisoformat(flat["spoor2_started_on"])
    assert state.escalation is not None and state.escalation.watch.model_dump(mode="json") == flat["watch"]
    assert state.ad.conclusion is not None and state.ad.conclusion.value == flat["ad_conclusion"]
    again = rules.CaseState.model_validate_json(state.model_dump_json())
    assert again == state and "spoor2_started_on" not in state.model_dump()


# ------------------------------------------------------------------ deadlines, computed once per state and day

DEADLINES = importlib.import_module("domain.case.deadlines")  # the module: `domain.case.deadlines` is the function


class _Reading:
    """A state that notes which of its fields are read."""

    def __init__(self, state) -> None:
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "read", set())

    def __getattr__(self, name: str):
        self.read.add(name)
        return getattr(self._state, name)


def test_deadlines_read_only_the_fields_they_are_kept_by():
    """A field the computation reads but the kept answer is not keyed by would give a stale answer once it changed."""
    state = new_case()
    act(state, "ziekmelding_arbodienst_sent", FIRST)
    act(state, "deadline_deviation", date(2025, 2, 10), deadline="probleemanalyse", reason="In hospital")
    reading = _Reading(state)
    DEADLINES.compute(reading, date(2025, 9, 1))
    # `clock` is made of the periods and `done_dates` of the done steps; the rule set is kept by identity.
    assert reading.read <= set(DEADLINES.INPUTS) | {"ruleset", "clock", "done_dates"}, reading.read


def test_deadlines_answer_anew_once_an_action_changes_the_case():
    state = new_case()
    day = date(2025, 2, 12)
    before = views(state, day)
    assert before["probleemanalyse"].status is DeadlineStatus.OPEN
    assert views(state, day) == before
    act(state, "probleemanalyse_recorded", date(2025, 2, 10), today=day, role="bedrijfsarts")
    assert views(state, day)["probleemanalyse"].status is DeadlineStatus.DONE
    # Changed in place, as a rule does: a voluntary extension moves the end of the waiting time.
    end = views(state, day)["einde_wachttijd"].due
    state.wage.voluntary_extension_weeks = 3
    assert views(state, day)["einde_wachttijd"].due == end + timedelta(weeks=3)
    # Another day, another answer; a copy of the state answers alike, and states compare by what they carry.
    assert views(state, date(2025, 12, 1)) != views(state, day)
    assert views(state.model_copy(deep=True), day) == views(state, day)
    assert state.model_copy(deep=True) == state


def test_deadlines_are_computed_once_for_the_same_state_and_day(monkeypatch):
    computed = []
    compute = DEADLINES.compute

    def counted(state, today):
        computed.append(today)
        return compute(state, today)

    monkeypatch.setattr(DEADLINES, "compute", counted)
    state = new_case()
    day = date(2025, 3, 1)
    rules.tick(state, today=day, now=NOW, in_order=True)
    rules.summarize(state, day)
    rules.next_wake(state, day)
    rules.deadlines(state, day)
    assert computed == [day]
