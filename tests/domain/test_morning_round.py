"""The night's notices wait for the case's morning round (patch `morning-notices`, issue 22: a flat morning)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain import case as rules
from domain import stagnation as st
from domain.actions import parse_action
from domain.case import CaseOpening, morning_of, notice
from domain.models import SYSTEM, Actor, DossierEntry, Role
from domain.nl_time import start_of_day
from domain.spoor2 import Spoor2Status, TrajectoryUpdate
from service.rulebook import load_rulebook, load_spoor2_rules, load_stagnation_rules

FIRST = date(2026, 3, 2)  # a Monday: the ziekmelding to the arbodienst is due on the 7th sick day
DUE = FIRST + timedelta(days=6)
NIGHT = DUE + timedelta(days=1)  # the term passed: its overdue mark falls on this midnight
MIDNIGHT = start_of_day(NIGHT)


def watched_case(first: date = FIRST):
    opening = CaseOpening(
        case_id="C-morning", employer_id="E1", first_sick_day=first, opened_by=Actor(role=Role.CASEMANAGER)
    )
    opened_at = start_of_day(first) + timedelta(hours=10)
    state = rules.open_case(
        opening,
        load_rulebook().for_first_sick_day(first),
        today=first,
        now=opened_at,
        spoor2_rules=load_spoor2_rules(),
        stagnation_rules=load_stagnation_rules(),
    )
    rules.tick(state, today=first, now=opened_at, in_order=True, morning=lambda: True)
    return state


class Asking:
    """A run that holds and spreads (tick's `morning`), counting how often tick asks it."""

    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> bool:
        self.times += 1
        return True


def kinds(notes) -> list[str]:
    return [n.kind for n in notes]


def test_the_nights_notices_wait_for_the_cases_own_minute_of_the_morning():
    state = watched_case()
    morning = Asking()
    notes = rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=morning)
    # Observed at midnight, in the dossier and so in the search attributes and every view ...
    assert [e.kind for e in state.dossier[-2:]] == ["deadline_overdue", "escalation_raised"]
    assert state.overdue_marked == ["ziekmelding_arbodienst"]
    # ... and told in the morning round, at the case's own minute of it.
    assert notes == []
    assert morning.times == 1
    until = MIDNIGHT + timedelta(hours=st.WATCH_HOUR, minutes=st.morning_minute(state.case_id))
    assert morning_of(state.case_id, NIGHT, spread=True) == until
    assert state.morning is not None and state.morning.until == until
    assert kinds(state.morning.notices) == ["deadline_overdue", "escalation_raised"]
    assert rules.next_wake(state, NIGHT, spread=True) == until

    # A wake before then with nothing new (a continued run's first task) keeps them waiting.
    assert rules.tick(state, today=NIGHT, now=MIDNIGHT + timedelta(hours=3), in_order=True, morning=morning) == []
    assert state.morning is not None

    notes = rules.tick(state, today=NIGHT, now=until, in_order=True, morning=morning)
    assert kinds(notes) == ["deadline_overdue", "escalation_raised"]
    assert notes[0].recipient_role is Role.CASEMANAGER and notes[0].due == DUE
    assert state.morning is None
    later = rules.next_wake(state, NIGHT, spread=True)
    assert later is not None and later > until
    # Asked once, when the clock first had work before the morning.
    assert morning.times == 1


def test_unspread_the_morning_round_is_at_the_watch_hour():
    state = watched_case()
    assert rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: False) == []
    assert state.morning is not None
    assert state.morning.until == MIDNIGHT + timedelta(hours=st.WATCH_HOUR)


@pytest.mark.parametrize(
    ("night", "old_hour"), [(date(2027, 3, 28), 7), (date(2027, 10, 31), 5)], ids=["march", "october"]
)
def test_on_the_days_the_clocks_change_the_round_is_from_six_by_the_clock_where_the_run_says_so(night, old_hour):
    minute = timedelta(minutes=st.morning_minute("C-morning"))
    by_the_clock = datetime.combine(night, time(st.WATCH_HOUR), ZoneInfo("Europe/Amsterdam")) + minute
    hours_from_midnight = datetime.combine(night, time(old_hour), ZoneInfo("Europe/Amsterdam")) + minute
    assert start_of_day(night) + timedelta(hours=st.WATCH_HOUR) + minute == hours_from_midnight
    for wall_clock, until in (
        (Asking(), by_the_clock),
        (lambda: False, hours_from_midnight),
        (None, hours_from_midnight),
    ):
        state = watched_case(night - timedelta(days=7))
        assert (
            rules.tick(
                state, today=night, now=start_of_day(night), in_order=True, morning=lambda: True, wall_clock=wall_clock
            )
            == []
        )
        assert state.morning is not None and state.morning.until == until
        assert rules.next_wake(state, night, spread=True, wall_clock=wall_clock) == until
        assert morning_of(state.case_id, night, spread=True, wall_clock=wall_clock) == until
        assert rules.tick(state, today=night, now=until, in_order=True, morning=lambda: True, wall_clock=wall_clock)
        assert state.morning is None


@pytest.mark.parametrize("night", [date(2027, 3, 28), date(2027, 10, 31)], ids=["march", "october"])
def test_a_reminder_due_on_such_a_sunday_is_woken_for_by_the_clock_days_ahead(night):
    """The ziekmelding's 3-day reminder falls on the Sunday: the wake that opens the case on Thursday plans it."""
    opened = night - timedelta(days=3)
    state = watched_case(opened)
    asked = Asking()
    minute = timedelta(minutes=st.morning_minute(state.case_id))
    at_six = datetime.combine(night, time(st.WATCH_HOUR), ZoneInfo("Europe/Amsterdam"))
    assert rules.next_wake(state, opened, spread=True, wall_clock=asked) == at_six + minute
    assert asked.times == 1
    assert rules.next_wake(state, opened, spread=True) == start_of_day(night) + timedelta(hours=st.WATCH_HOUR) + minute


def test_on_other_days_the_run_is_not_asked_whether_its_round_keeps_to_the_clock():
    state = watched_case()
    asked = Asking()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True, wall_clock=asked)
    assert state.morning is not None and state.morning.until == morning_of(state.case_id, NIGHT, spread=True)
    rules.next_wake(state, NIGHT, spread=True, wall_clock=asked)
    assert asked.times == 0


@pytest.mark.parametrize("morning", [None, lambda: None], ids=["no-question", "run-without-the-patch"])
def test_a_run_without_the_patch_sends_them_at_midnight(morning):
    state = watched_case()
    notes = rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=morning)
    assert kinds(notes) == ["deadline_overdue", "escalation_raised"]
    assert state.morning is None


def test_a_record_in_the_night_sends_what_waits_first_in_the_order_raised():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    night_work = len(state.dossier)
    one_am = MIDNIGHT + timedelta(hours=1)
    action = parse_action(
        {
            "action_id": "late-ziekmelding",
            "kind": "ziekmelding_arbodienst_sent",
            "on": NIGHT.isoformat(),
            "actor": {"role": "werkgever"},
        }
    )
    rules.apply(state, action, NIGHT, one_am)
    assert len(state.dossier) > night_work
    notes = rules.tick(state, today=NIGHT, now=one_am, in_order=True, morning=lambda: True)
    # Nothing arrives after a record it came before: what waited goes now, ahead of what the record raised.
    assert kinds(notes)[:2] == ["deadline_overdue", "escalation_raised"]
    assert state.morning is None


def _act(state, at, **payload):
    payload = {"action_id": f"a{len(state.dossier)}", "on": NIGHT.isoformat(), **payload}
    return rules.apply(state, parse_action(payload), NIGHT, at)


def _case_manager_at(state, at, address: str) -> None:
    """The case manager's e-mail address recorded (`contacts_updated`) at `at`."""
    _act(
        state,
        at,
        kind="contacts_updated",
        actor={"role": "casemanager"},
        recipient_role="casemanager",
        addresses=[address],
    )


def test_what_waits_goes_to_the_roles_contacts_as_they_are_when_it_goes():
    state = watched_case()
    _case_manager_at(state, MIDNIGHT - timedelta(hours=8), "old@bureau.example")
    rules.tick(state, today=DUE, now=MIDNIGHT - timedelta(hours=8), in_order=True)
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    assert state.morning is not None
    assert {tuple(n.recipients) for n in state.morning.notices} == {("old@bureau.example",)}
    # At 06:30 the case manager's address changes: the notices go now, and not to the address just removed.
    at = MIDNIGHT + timedelta(hours=6, minutes=30)
    _case_manager_at(state, at, "new@bureau.example")
    notes = rules.tick(state, today=NIGHT, now=at, in_order=True)
    assert kinds(notes) == ["deadline_overdue", "escalation_raised"]
    assert {tuple(n.recipients) for n in notes} == {("new@bureau.example",)}


def test_a_wake_that_is_not_the_clocks_alone_sends_what_waits_with_its_own_clock_work():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    # A signal in the night that records nothing (the workflow passes no `morning` at such a wake): they go now.
    notes = rules.tick(state, today=NIGHT, now=MIDNIGHT + timedelta(hours=3), in_order=True)
    assert kinds(notes) == ["deadline_overdue", "escalation_raised"]
    assert state.morning is None


def test_notices_of_an_action_send_what_waits_ahead_of_them():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    action_notice = notice(state, Role.CASEMANAGER, key="k", kind="document_failed", subject="s", body="b")
    state.outbox.append(action_notice)
    notes = rules.tick(state, today=NIGHT, now=MIDNIGHT + timedelta(hours=1), in_order=True, morning=lambda: True)
    assert kinds(notes) == ["deadline_overdue", "escalation_raised", "document_failed"]
    assert state.morning is None and state.outbox == []


def test_a_case_the_clock_closes_in_the_night_holds_nothing():
    state = watched_case()
    _act(
        state,
        MIDNIGHT - timedelta(hours=8),
        kind="ziekmelding_arbodienst_sent",
        actor={"role": "werkgever"},
        on=FIRST.isoformat(),
    )
    _act(state, MIDNIGHT - timedelta(hours=8), kind="full_recovery", actor={"role": "casemanager"}, on=DUE.isoformat())
    rules.tick(state, today=DUE, now=MIDNIGHT - timedelta(hours=8), in_order=True)
    closes = DUE + timedelta(days=state.ruleset.four_week_rule_days)
    rules.tick(state, today=closes, now=start_of_day(closes), in_order=True, morning=lambda: True)
    assert state.closed
    assert state.morning is None  # the run ends now: nothing may wait for a morning it will not see


def test_a_morning_missed_sends_them_at_the_next_wake_with_what_it_raises():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    # The worker was down through the morning round: the next wake, a night later, sends them at once.
    later = NIGHT + timedelta(days=1)
    notes = rules.tick(
        state, today=later, now=start_of_day(later) + timedelta(hours=2), in_order=True, morning=lambda: True
    )
    assert kinds(notes)[:2] == ["deadline_overdue", "escalation_raised"]
    assert state.morning is None


@pytest.mark.parametrize("late", [timedelta(0), timedelta(hours=3)], ids=["at-its-minute", "after-the-window"])
def test_a_wake_from_the_cases_own_minute_on_sends_at_once_without_asking(late):
    state = watched_case()
    morning = Asking()
    at = morning_of(state.case_id, NIGHT, spread=True) + late
    notes = rules.tick(state, today=NIGHT, now=at, in_order=True, morning=morning)
    assert kinds(notes) == ["deadline_overdue", "escalation_raised"]
    # A run asks the patch only when it could hold: no marker in its morning round's history, nor a daytime wake's.
    assert morning.times == 0


def test_the_state_with_notices_waiting_survives_continue_as_new():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    carried = type(state).model_validate_json(state.model_dump_json())
    # As JSON: a notice's text parameters (dates) come back as the activity receives them, as text.
    assert carried.morning is not None and carried.morning.model_dump_json() == state.morning.model_dump_json()
    until = state.morning.until
    assert kinds(rules.tick(carried, today=NIGHT, now=until, in_order=True, morning=lambda: True)) == [
        "deadline_overdue",
        "escalation_raised",
    ]


def _trajectory_flag(state, *, by_clock: bool, on: date):
    """The trajectory's report of phase 1's time passing (a flag for the case manager through the watch)."""
    seq = state.spoor2.entries_seen + 1
    flag = DossierEntry(
        seq=seq,
        recorded_at=start_of_day(on),
        on=on,
        actor=SYSTEM,
        kind="phase_time_up",
        summary="Phase 1's time is up",
        details={"due": (on - timedelta(days=1)).isoformat()},
    )
    update = TrajectoryUpdate(
        status=Spoor2Status.FASE, phase=1, outcome=None, ended_on=None, events=[flag], by_clock=by_clock
    )
    assert rules.apply_trajectory_update(state, update, now=start_of_day(on) + timedelta(seconds=5))


def test_the_trajectorys_flag_of_the_night_waits_for_the_cases_morning_round():
    """Release 13: the trajectory's clock raises its flag at its own midnight wake and reports it to the case; the
    case records it at once and tells the case manager in its morning round, as its own clock's notices."""
    state = watched_case()
    rules.tick(state, today=DUE, now=start_of_day(DUE) - timedelta(hours=8), in_order=True)
    assert rules.tick(state, today=DUE, now=start_of_day(DUE), in_order=True, morning=lambda: True) == []
    assert state.morning is None  # the case's own clock has nothing on this night

    _trajectory_flag(state, by_clock=True, on=DUE)
    assert state.dossier[-1].kind == "spoor2:phase_time_up"  # on record at once
    at = start_of_day(DUE) + timedelta(seconds=5)
    morning = Asking()
    assert rules.tick(state, today=DUE, now=at, in_order=True, morning=morning) == []
    assert morning.times == 1
    assert state.morning is not None and state.morning.until == morning_of(state.case_id, DUE, spread=True)
    assert kinds(state.morning.notices) == ["spoor2_phase_time_up"]
    notes = rules.tick(state, today=DUE, now=state.morning.until, in_order=True, morning=morning)
    assert kinds(notes) == ["spoor2_phase_time_up"] and notes[0].recipient_role is Role.CASEMANAGER
    assert state.clock_outbox == [] and state.morning is None


def test_the_trajectorys_flag_joins_the_cases_own_notices_waiting_and_a_persons_report_sends_them():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    assert state.morning is not None
    # The trajectory's clock records in the night: what waits waits on, with its flag.
    _trajectory_flag(state, by_clock=True, on=NIGHT)
    assert rules.tick(state, today=NIGHT, now=MIDNIGHT + timedelta(seconds=5), in_order=True, morning=Asking()) == []
    assert kinds(state.morning.notices) == ["deadline_overdue", "escalation_raised", "spoor2_phase_time_up"]
    # A person's report of the trajectory (an action on it in the night) is a record: everything goes now. (The
    # workflow passes no `morning` at such a wake either; this shows the record alone does it.)
    _trajectory_flag(state, by_clock=False, on=NIGHT)
    notes = rules.tick(state, today=NIGHT, now=MIDNIGHT + timedelta(hours=1), in_order=True, morning=Asking())
    assert kinds(notes) == ["deadline_overdue", "escalation_raised", "spoor2_phase_time_up", "spoor2_phase_time_up"]
    assert state.morning is None and state.outbox == [] and state.clock_outbox == []


def test_the_trajectorys_flag_at_a_wake_that_is_not_the_clocks_alone_goes_at_once():
    state = watched_case()
    _trajectory_flag(state, by_clock=True, on=DUE)
    # An action in the same task as the report: the workflow passes no `morning`.
    notes = rules.tick(state, today=DUE, now=start_of_day(DUE) + timedelta(seconds=5), in_order=True)
    assert "spoor2_phase_time_up" in kinds(notes)
    assert state.morning is None and state.clock_outbox == []


def test_a_record_before_the_trajectorys_clock_report_still_sends_what_waits():
    state = watched_case()
    rules.tick(state, today=NIGHT, now=MIDNIGHT, in_order=True, morning=lambda: True)
    # A person records in the night (the wake it makes is not missed: a continued run's first pass may be the clock's)
    _act(state, MIDNIGHT + timedelta(minutes=1), kind="ziekmelding_arbodienst_sent", actor={"role": "werkgever"})
    _trajectory_flag(state, by_clock=True, on=NIGHT)
    notes = rules.tick(state, today=NIGHT, now=MIDNIGHT + timedelta(minutes=2), in_order=True, morning=Asking())
    assert kinds(notes)[:3] == ["deadline_overdue", "escalation_raised", "spoor2_phase_time_up"]
    assert state.morning is None


def test_the_trajectorys_clock_notices_a_run_hands_over_go_at_once_in_the_next():
    state = watched_case()
    rules.tick(state, today=DUE, now=start_of_day(DUE) - timedelta(hours=8), in_order=True)
    _trajectory_flag(state, by_clock=True, on=DUE)  # reported after the run's last tick, as it continues as new
    rules.hand_over(state)
    assert state.clock_outbox == [] and kinds(state.outbox) == ["spoor2_phase_time_up"]
    carried = type(state).model_validate_json(state.model_dump_json())
    notes = rules.tick(
        carried, today=DUE, now=start_of_day(DUE) + timedelta(minutes=1), in_order=True, morning=Asking()
    )
    assert kinds(notes) == ["spoor2_phase_time_up"] and carried.morning is None
