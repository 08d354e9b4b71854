"""The spoor 2 trajectory's rules without Temporal: order, approvals, cadence, timers, pauses."""

from datetime import date, datetime, timedelta, timezone

import pytest

from domain import spoor2 as rules
from domain.errors import ActionRefused
from domain.models import SYSTEM
from domain.spoor2 import Spoor2Outcome, Spoor2Status
from service.rulebook import load_spoor2_rules
from tests.driver import DOCUMENT_ROLES, GROUNDS

START = date(2026, 1, 12)
NOW = datetime(2026, 1, 12, 9, tzinfo=timezone.utc)
_seq = iter(range(10**6))


def new_trajectory():
    return rules.start_trajectory("C1", START, load_spoor2_rules(), now=NOW, actor=SYSTEM)


def act(state, kind, on, role="reintegratiecoach", today=None, **fields):
    action = rules.parse_spoor2_action(
        {"kind": kind, "action_id": f"t{next(_seq)}", "actor": {"role": role}, "on": on.isoformat(), **fields}
    )
    return rules.apply(state, action, today or on, NOW)


def documents(state, on):
    for key, role in DOCUMENT_ROLES.items():
        hours = {"belastbaarheid_hours_per_day": 4.0} if key == "bedrijfsarts_bevindingen" else {}
        act(state, "document_received", on, role=role, document=key, reference=f"dms://{key}", **hours)


def to_go(state, *, scope="phase"):
    """Documents, intake, proposal, approval (whole or phase 1), go: the trajectory ready for phase 1."""
    documents(state, START + timedelta(days=1))
    act(state, "intake_held", START + timedelta(days=3), coach_id="coach-1")
    act(state, "proposal_sent", START + timedelta(days=4))
    approval = {"scope": "whole"} if scope == "whole" else {"scope": "phase", "phase": 1}
    act(state, "purchase_approved", START + timedelta(days=5), role="werkgever", **approval)
    act(
        state,
        "haalbaarheidstoets_decided",
        START + timedelta(days=6),
        decision="go",
        grounds=GROUNDS,
        zoekprofiel="Administrative work, 20 hours a week, within 30 km",
    )


def test_status_follows_the_trajectory_from_aanmelding_to_phase():
    state = new_trajectory()
    assert state.status is Spoor2Status.AANMELDING
    documents(state, START + timedelta(days=1))
    assert state.status is Spoor2Status.INTAKE and state.documents_complete_on == START + timedelta(days=1)
    act(state, "intake_held", START + timedelta(days=3), coach_id="coach-1")
    assert state.status is Spoor2Status.VOORSTEL
    act(state, "proposal_sent", START + timedelta(days=4))
    act(state, "purchase_approved", START + timedelta(days=5), role="werkgever", scope="phase", phase=1)
    assert state.status is Spoor2Status.HAALBAARHEIDSTOETS
    act(
        state,
        "haalbaarheidstoets_decided",
        START + timedelta(days=6),
        decision="go",
        grounds=GROUNDS,
        zoekprofiel="Administrative work",
    )
    assert state.status is Spoor2Status.WACHT_OP_FASE
    act(state, "phase_started", START + timedelta(days=7), phase=1)
    assert state.status is Spoor2Status.FASE and state.current_phase.number == 1


@pytest.mark.parametrize(
    "kind, role, fields, message",
    [
        (
            "document_received",
            "bedrijfsarts",
            {"document": "bedrijfsarts_bevindingen", "reference": "dms://x"},
            "belastbaarheid_hours_per_day: the bedrijfsarts_bevindingen must state the belastbaarheid in hours",
        ),
        (
            "document_received",
            "werkgever",
            {"document": "fml", "reference": "dms://x"},
            "actor.role: the role werkgever may not record the fml (allowed: bedrijfsarts)",
        ),
        (
            "document_received",
            "casemanager",
            {"document": "cv", "reference": "dms://x"},
            "document: 'cv' is not an intake document",
        ),
        (
            "intake_held",
            "reintegratiecoach",
            {"coach_id": "coach-1"},
            "the intake documents are not complete (missing: ",
        ),
        ("purchase_approved", "werkgever", {"scope": "whole"}, "no proposal has been sent to the employer"),
        ("phase_started", "reintegratiecoach", {"phase": 1}, "phases start after a go of the haalbaarheidstoets"),
        (
            "purchase_approved",
            "reintegratiecoach",
            {"scope": "whole"},
            "the role re-integratiecoach may not record “Purchase approved by the werkgever”",
        ),
    ],
)
def test_out_of_order_actions_are_refused_and_change_nothing(kind, role, fields, message):
    state = new_trajectory()
    before = state.model_dump()
    with pytest.raises(ActionRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        act(state, kind, START + timedelta(days=1), role=role, **fields)
    assert state.model_dump() == before


def test_phases_bought_one_by_one_need_each_approval_in_order():
    state = new_trajectory()
    to_go(state)
    act(state, "phase_started", START + timedelta(days=7), phase=1)
    act(state, "phase_completed", START + timedelta(days=60), phase=1)
    with pytest.raises(ActionRefused, match="phase_started: phase 2 is not approved by the employer"):
        act(state, "phase_started", START + timedelta(days=61), phase=2)
    with pytest.raises(ActionRefused, match="phases are bought in order; the next to approve is phase 2"):
        act(state, "purchase_approved", START + timedelta(days=61), role="werkgever", scope="phase", phase=3)
    act(state, "purchase_approved", START + timedelta(days=61), role="werkgever", scope="phase", phase=2)
    with pytest.raises(ActionRefused, match="phase: the next phase is 2"):
        act(state, "phase_started", START + timedelta(days=62), phase=3)
    act(state, "phase_started", START + timedelta(days=62), phase=2)
    assert state.current_phase.number == 2


def test_go_needs_a_zoekprofiel_and_no_go_ends_the_trajectory_with_its_grounds():
    state = new_trajectory()
    documents(state, START)
    act(state, "intake_held", START + timedelta(days=2), coach_id="coach-1")
    act(state, "proposal_sent", START + timedelta(days=2))
    act(state, "purchase_approved", START + timedelta(days=3), role="werkgever", scope="whole")
    with pytest.raises(ActionRefused, match="zoekprofiel: a go needs a zoekprofiel"):
        act(state, "haalbaarheidstoets_decided", START + timedelta(days=4), decision="go", grounds=GROUNDS)
    with pytest.raises(ActionRefused, match="grounds.labour_market: Field required"):
        act(
            state,
            "haalbaarheidstoets_decided",
            START + timedelta(days=4),
            decision="no_go",
            grounds={k: v for k, v in GROUNDS.items() if k != "labour_market"},
        )
    act(
        state,
        "haalbaarheidstoets_decided",
        START + timedelta(days=4),
        decision="no_go",
        grounds=GROUNDS,
        report_reference="dms://poortwachtersproof/1",
    )
    assert state.outcome is Spoor2Outcome.NO_GO and state.status is Spoor2Status.BEEINDIGD
    with pytest.raises(ActionRefused, match="the trajectory has ended \\(no_go on 2026-01-16\\)"):
        act(state, "coach_replaced", START + timedelta(days=5), coach_id="coach-2", reason="no click")


def test_additional_service_needs_the_employers_approval_before_it_starts():
    state = new_trajectory()
    to_go(state)
    request = act(state, "service_requested", START + timedelta(days=8), service="Job coaching on the workplace")
    with pytest.raises(
        ActionRefused, match="service_started: 'Job coaching on the workplace' is not approved by the employer"
    ):
        act(state, "service_started", START + timedelta(days=9), request_id=request.action_id)
    with pytest.raises(ActionRefused, match="the role re-integratiecoach may not record “Service approved”"):
        act(state, "service_approved", START + timedelta(days=9), request_id=request.action_id)
    act(state, "service_approved", START + timedelta(days=9), role="werkgever", request_id=request.action_id)
    act(state, "service_started", START + timedelta(days=10), request_id=request.action_id)
    assert state.services[0].started_on == START + timedelta(days=10)


def test_intake_late_and_phase_time_up_are_flagged_once_and_not_extended():
    state = new_trajectory()
    documents(state, START + timedelta(days=1))
    due = START + timedelta(days=8)
    assert rules.next_wake_day(state) == due + timedelta(days=1)
    assert rules.tick(state, today=due, now=NOW) == []
    flags = rules.tick(state, today=due + timedelta(days=1), now=NOW)
    assert [(f.kind, f.due) for f in flags] == [("intake_late", due)]
    assert rules.tick(state, today=due + timedelta(days=2), now=NOW) == []

    state = new_trajectory()
    to_go(state, scope="whole")
    act(state, "phase_started", START + timedelta(days=7), phase=1)
    ends = START + timedelta(days=7 + 91 - 1)
    assert rules.view(state, START + timedelta(days=7)).phases[0].time_up_on == ends
    flags = rules.tick(state, today=ends + timedelta(days=1), now=NOW)
    assert [(f.kind, f.due) for f in flags] == [("phase_time_up", ends)]
    assert state.current_phase is not None and state.current_phase.number == 1  # flagged, still running


def test_a_pause_stops_the_phase_clock_and_needs_the_bedrijfsarts_consent_date():
    state = new_trajectory()
    to_go(state, scope="whole")
    act(state, "phase_started", START + timedelta(days=7), phase=1)
    act(state, "phase_completed", START + timedelta(days=50), phase=1)
    act(state, "phase_started", START + timedelta(days=51), phase=2)
    with pytest.raises(
        ActionRefused, match="bedrijfsarts_consent_on: the bedrijfsarts's consent must precede the pause"
    ):
        act(
            state,
            "phase_paused",
            START + timedelta(days=60),
            reason="illness",
            bedrijfsarts_consent_on=(START + timedelta(days=61)).isoformat(),
        )
    act(
        state,
        "phase_paused",
        START + timedelta(days=60),
        role="bedrijfsarts",
        reason="illness",
        bedrijfsarts_consent_on=(START + timedelta(days=59)).isoformat(),
    )
    assert state.status is Spoor2Status.GEPAUZEERD and rules.next_wake_day(state) != START + timedelta(days=51 + 91)
    with pytest.raises(ActionRefused, match="the trajectory is paused since"):
        act(state, "phase_completed", START + timedelta(days=70), phase=2)
    entry = act(state, "phase_resumed", START + timedelta(days=81), role="bedrijfsarts")
    assert "resumed after 21 days" in entry.summary
    assert state.current_phase.ends_on(state.rules.phase_rule(2)) == START + timedelta(days=51 + 91 + 21 - 1)


def test_cadence_counts_conversations_expected_against_held():
    rules_ = load_spoor2_rules()
    phase1, phase2, phase3 = (rules_.phase_rule(n) for n in (1, 2, 3))
    assert [phase1.expected_conversations(d) for d in (6, 7, 35, 48, 49, 91)] == [0, 1, 5, 5, 6, 9]
    assert phase2.expected_conversations(91) == 6
    assert phase3.expected_conversations(91) == 5 and phase3.expected_conversations(200) == 5
    state = new_trajectory()
    to_go(state, scope="whole")
    act(state, "phase_started", START + timedelta(days=7), phase=1)
    for week in (1, 2):
        act(state, "activity_recorded", START + timedelta(days=7 + 7 * week), activity="conversation")
    act(state, "activity_recorded", START + timedelta(days=30), activity="application")
    phase = rules.view(state, START + timedelta(days=7 + 34)).phases[0]
    assert (phase.conversations_held, phase.conversations_expected) == (2, 5)


def test_search_widens_after_six_months_in_spoor2():
    state = new_trajectory()
    widen = START + timedelta(weeks=26)
    assert rules.next_wake_day(state) == widen
    rules.tick(state, today=widen, now=NOW)
    assert state.search_widened_on == widen and state.record[-1].kind == "search_widened"
    assert rules.next_wake_day(state) is None
