"""The stagnation watch and escalation ladder as pure rules: no Temporal, microseconds per test."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from domain import case as rules
from domain import stagnation as st
from domain.actions import parse_action
from domain.case import CaseOpening
from domain.models import Actor, Role
from domain.nl_time import start_of_day
from service.rulebook import load_rulebook, load_spoor2_rules, load_stagnation_rules

RULES = load_stagnation_rules()
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
COACH = Actor(role=Role.REINTEGRATIECOACH)


def test_shipped_rules_name_the_measures_in_the_order_of_seed_004():
    assert RULES.measure_keys() == [
        "aanspreken",
        "schriftelijk_vastleggen",
        "officiele_berisping",
        "loon_opschorten_of_inhouden",
        "ontslag",
    ]
    assert RULES.reminders.lead_days == (14, 3)
    spoor1 = RULES.stage_watch("spoor1")
    assert spoor1 is not None
    assert spoor1.within_days == 42
    assert RULES.stage_watch("wia") is None


def test_phase_cadence_gap_weekly_for_five_then_every_two_weeks():
    phase1 = load_spoor2_rules().phase_rule(1)
    assert [phase1.gap_after(n) for n in range(8)] == [7, 7, 7, 7, 7, 14, 14, 14]
    assert load_spoor2_rules().phase_rule(3).gap_after(9) == 18


def climb(watch: st.Watch, stall: st.Stall | None, day: date) -> list[st.Step]:
    return st.advance(watch, RULES, stall, day, case_id="C1", coach=True)


def test_cadence_stall_climbs_one_level_per_period_and_activity_ends_it():
    start = date(2026, 3, 2)
    watch = st.start_watch(start)
    expected = st.Expectation(what="a conversation", by=start + timedelta(days=7), context="spoor2:fase1")
    assert st.find_stall(watch, expected, [], start + timedelta(days=7)) is None
    day = start + timedelta(days=40)
    steps = climb(watch, st.find_stall(watch, expected, [], day), day)
    # Caught up at once, each step on its own date: level 1 the day after, 2 and 3 fourteen days apart.
    assert [(s.kind, s.on, s.details.get("level") or s.details.get("measure")) for s in steps] == [
        ("escalation_raised", start + timedelta(days=8), 1),
        ("escalation_raised", start + timedelta(days=22), 2),
        ("escalation_raised", start + timedelta(days=36), 3),
        ("measure_requested", start + timedelta(days=36), "aanspreken"),
    ]
    assert steps[0].notify == [Role.CASEMANAGER, Role.REINTEGRATIECOACH]
    assert steps[1].notify == [Role.WERKGEVER, Role.CASEMANAGER]
    assert climb(watch, st.find_stall(watch, expected, [], day), day) == []  # idempotent
    st.activity(watch, on=day, seq=10)
    assert st.find_stall(watch, expected.model_copy(update={"by": day + timedelta(days=7)}), [], day) is None
    resolved = climb(watch, None, day)
    assert [(s.kind, s.on, s.details["previous"]) for s in resolved] == [("escalation_resolved", day, 3)]
    assert watch.level == 0 and watch.next_step_on is None


def test_non_cooperation_forces_level_3_and_ends_only_with_later_activity():
    day = date(2026, 5, 4)
    watch = st.start_watch(day - timedelta(days=30))
    st.activity(watch, on=day, seq=5)
    watch.non_cooperation = st.Trigger(on=day, seq=6, actor=COACH)
    stall = st.find_stall(watch, None, [], day)
    assert stall is not None
    assert (stall.reason, stall.min_level) == ("non_cooperation", 3)
    assert [s.kind for s in climb(watch, stall, day)] == ["escalation_raised", "measure_requested"]
    st.measure_taken(watch, RULES, key="aanspreken", on=day + timedelta(days=1))
    assert watch.next_step_on == day + timedelta(days=15)
    later = day + timedelta(days=15)
    steps = climb(watch, st.find_stall(watch, None, [], later), later)
    assert [(s.kind, s.details["measure"]) for s in steps] == [("measure_requested", "schriftelijk_vastleggen")]
    st.activity(watch, on=later, seq=9)  # the employee cooperates again
    assert st.find_stall(watch, None, [], later) is None


def test_acknowledgement_holds_the_ladder_for_its_period():
    start = date(2026, 3, 2)
    watch = st.start_watch(start)
    watch.reported = st.Trigger(on=start, seq=1, actor=COACH)
    climb(watch, st.find_stall(watch, None, [], start), start)
    assert watch.level == 2 and watch.next_step_on == start + timedelta(days=14)
    st.acknowledge(
        watch, RULES, on=start + timedelta(days=10), reason="talks planned", actor=Actor(role=Role.OPERATIONS)
    )
    assert watch.next_step_on == start + timedelta(days=25)
    assert climb(watch, st.find_stall(watch, None, [], start + timedelta(days=24)), start + timedelta(days=24)) == []
    steps = climb(watch, st.find_stall(watch, None, [], start + timedelta(days=25)), start + timedelta(days=25))
    assert steps[0].details["level"] == 3


def test_an_overdue_step_is_a_stall_from_the_watch_start_not_before():
    start = date(2026, 3, 2)
    watch = st.start_watch(start)
    stall = st.find_stall(watch, None, [("probleemanalyse", date(2026, 1, 20))], start)
    assert stall is not None
    assert stall.reason == "deadline" and stall.since == start


def test_only_the_shortest_lead_reached_reminds():
    due = date(2026, 6, 30)
    assert st.reminder_due((14, 3), due, due - timedelta(days=15), set(), "x") is None
    assert st.reminder_due((14, 3), due, due - timedelta(days=14), set(), "x") == 14
    # A late wake (two days before) sends the 3-day reminder only, never the stale 14-day one.
    assert st.reminder_due((14, 3), due, due - timedelta(days=2), set(), "x") == 3
    assert st.reminder_due((14, 3), due, due - timedelta(days=2), {st.reminder_key("x", due, 3)}, "x") is None
    assert st.reminder_due((14, 3), due, due + timedelta(days=1), set(), "x") is None


def _case(version: int, first: date, today: date):
    opening = CaseOpening(case_id="C1", employer_id="E1", first_sick_day=first, opened_by=Actor(role=Role.CASEMANAGER))
    return rules.open_case(
        opening,
        load_rulebook().for_first_sick_day(first),
        today=today,
        now=NOW,
        version=version,
        spoor2_rules=load_spoor2_rules(),
        stagnation_rules=RULES,
    )


def _act(state, today, **payload):
    payload = {"action_id": f"a{len(state.dossier)}", "on": today.isoformat(), **payload}
    return rules.apply(state, parse_action(payload), today, NOW)


def test_reminders_go_to_the_steps_actor_and_the_case_manager_at_their_contacts():
    first = date(2026, 1, 5)
    state = _case(3, first, first)
    _act(state, first, kind="ziekmelding_arbodienst_sent", actor={"role": "werkgever"})
    _act(
        state,
        first,
        kind="contacts_updated",
        actor={"role": "casemanager"},
        recipient_role="bedrijfsarts",
        addresses=["arts@arbo.example"],
    )
    due = first + timedelta(days=41)
    notes = rules.tick(state, today=due - timedelta(days=14), now=NOW)
    pa = [n for n in notes if n.deadline_key == "probleemanalyse"]
    assert [(n.recipient_role, n.recipients) for n in pa] == [
        (Role.BEDRIJFSARTS, ["arts@arbo.example"]),
        (Role.CASEMANAGER, []),
    ]
    # The next reminder goes out on the morning it is due (the watch's hour, Amsterdam).
    assert rules.next_wake(state, due - timedelta(days=14)) == start_of_day(due - timedelta(days=3)) + timedelta(
        hours=st.WATCH_HOUR
    )
    # Spread (the patch `morning-spread`): the same morning, at the case's own minute of the window.
    minute = st.morning_minute(state.case_id)
    assert 0 <= minute < st.MORNING_WINDOW_MINUTES
    assert rules.next_wake(state, due - timedelta(days=14), spread=True) == start_of_day(
        due - timedelta(days=3)
    ) + timedelta(hours=st.WATCH_HOUR, minutes=minute)
    # The addresses are not in the dossier.
    assert "arts@arbo.example" not in str([e.model_dump() for e in state.dossier])
