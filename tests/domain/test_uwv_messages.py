"""The messages to UWV without Temporal: what they hold, what they refuse, and how the case records them."""

from datetime import date, timedelta

import pytest

from domain import case as rules
from domain.case.uwv import build
from domain.errors import ActionRefused
from domain.models import DeadlineStatus
from domain.people import Employee, bsn_refusal
from domain.uwv import Hersteldmelding, MessageKind, MessageStatus, Ziekmelding
from tests.domain.test_case_rules import FIRST, act, new_case, views
from tests.domain.test_dossier_check import gaps_by_key

BSN = "111222333"  # passes the elfproef; fictional
LHN = "123456789L01"
WEEK_42 = FIRST + timedelta(days=7 * 41)


def sick_with_details(**employee):
    details = {"surname": "de Vries", "given_names": "Anna", "personnel_number": "4711", "bsn": BSN, **employee}
    return new_case(employee=Employee(**details))


def message(state, kind, on, message_id="UWV-0123456789abcdef0123", lhn=LHN):
    return build(state, kind, message_id=message_id, loonheffingennummer=lhn, today=on)


def test_the_bsn_is_checked_by_the_elfproef_and_never_shown_in_a_summary():
    assert bsn_refusal(BSN) is None
    assert bsn_refusal("111222334") == "fails the elfproef (a typing error?)"
    assert bsn_refusal("12345678") == "nine digits"
    with pytest.raises(ValueError, match="not a BSN"):
        Employee(surname="Jansen", bsn="123456788")
    state = sick_with_details()
    assert state.people.employee is not None and state.people.employee.bsn == BSN
    summary = rules.summarize(state, FIRST)
    assert summary.employee is not None and summary.employee.bsn is None and summary.employee.surname == "de Vries"


def test_the_ziekmelding_holds_what_uwv_asks_for():
    state = sick_with_details()
    act(state, "partial_recovery", WEEK_42 - timedelta(days=10), percentage=40)
    found = message(state, MessageKind.ZIEKMELDING, WEEK_42)
    assert isinstance(found, Ziekmelding)
    assert found.werkgever.loonheffingennummer == LHN and found.werknemer.bsn == BSN
    assert found.werknemer.achternaam == "de Vries" and found.werknemer.personeelsnummer == "4711"
    assert found.eerste_ziektedag == FIRST and found.melddatum == WEEK_42 and found.ziekteweek == 42
    assert found.uiterste_melddatum == views(state, WEEK_42)["ziekmelding_uwv"].due
    assert found.gedeeltelijk_hersteld and found.hersteld_percentage == 40


@pytest.mark.parametrize(
    ("employee", "lhn", "field"),
    [
        ({"bsn": None}, LHN, "employee.bsn:"),
        ({}, None, "loonheffingennummer: no loonheffingennummer is known for employer E1"),
        ({}, "12345L01", "loonheffingennummer: the one known for employer E1 is not of the form"),
    ],
)
def test_a_message_without_what_uwv_needs_is_refused_naming_the_field(employee, lhn, field):
    state = sick_with_details(**employee)
    with pytest.raises(ActionRefused) as refused:
        message(state, MessageKind.ZIEKMELDING, WEEK_42, lhn=lhn)
    assert str(refused.value).startswith(field)
    assert BSN not in str(refused.value)


def test_the_ziekmelding_waits_for_week_42():
    state = sick_with_details()
    with pytest.raises(ActionRefused, match="^message: the ziekmelding to UWV is made from week 42 of illness"):
        message(state, MessageKind.ZIEKMELDING, WEEK_42 - timedelta(days=1))
    assert message(state, MessageKind.ZIEKMELDING, WEEK_42).ziekteweek == 42


def test_no_employee_details_no_message():
    with pytest.raises(ActionRefused, match="^employee: the case holds no employee details"):
        message(new_case(), MessageKind.ZIEKMELDING, WEEK_42)


def test_an_accepted_ziekmelding_completes_the_step_as_of_the_day_it_was_sent():
    state = sick_with_details()
    mid = "UWV-00000000000000000001"
    due = views(state, WEEK_42)["ziekmelding_uwv"].due
    act(state, "uwv_message_prepared", due, message_id=mid, message="ziekmelding")
    act(state, "uwv_message_sent", due, message_id=mid, reference="file:UWV-00000000000000000001.json")
    # A second one crosses the first; so does the step recorded by hand.
    with pytest.raises(ActionRefused, match="^message: a ziekmelding is already under way"):
        act(state, "uwv_message_prepared", due, message_id="UWV-00000000000000000002", message="ziekmelding")
    with pytest.raises(ActionRefused, match="^ziekmelding_uwv_sent: the ziekmelding UWV-00000000000000000001"):
        act(state, "ziekmelding_uwv_sent", due)
    # Only UWV answers.
    with pytest.raises(ActionRefused, match="^actor.role"):
        act(state, "uwv_ziekmelding_accepted", due + timedelta(days=3), message_id=mid)
    act(state, "uwv_ziekmelding_accepted", due + timedelta(days=3), role="uwv", message_id=mid)
    view = views(state, due + timedelta(days=3))["ziekmelding_uwv"]
    assert view.status is DeadlineStatus.DONE and view.done_on == due and not view.late
    assert state.uwv[0].status is MessageStatus.ACCEPTED
    # The poortwachtertoets finds no gap there either, weeks later: it was reported within its term.
    assert "ziekmelding_uwv" not in gaps_by_key(state, due + timedelta(days=30))
    assert state.dossier[-1].actor.role.value == "uwv" and BSN not in state.dossier[-1].model_dump_json()
    with pytest.raises(ActionRefused, match="^message: ziekmelding_uwv is already on record|^message: "):
        message(state, MessageKind.ZIEKMELDING, due + timedelta(days=4))


def test_a_rejection_keeps_uwvs_reason_and_a_new_message_may_follow():
    state = sick_with_details()
    mid = "UWV-00000000000000000003"
    act(state, "uwv_message_prepared", WEEK_42, message_id=mid, message="ziekmelding")
    act(state, "uwv_message_sent", WEEK_42, message_id=mid, reference="file:x.json")
    act(state, "uwv_message_rejected", WEEK_42 + timedelta(days=1), role="uwv", message_id=mid, reason="BSN onbekend")
    assert state.uwv[0].status is MessageStatus.REJECTED and state.uwv[0].reason == "BSN onbekend"
    assert "ziekmelding_uwv" not in state.done
    assert "BSN onbekend" in state.dossier[-1].summary
    act(
        state,
        "uwv_message_prepared",
        WEEK_42 + timedelta(days=1),
        message_id="UWV-00000000000000000004",
        message="ziekmelding",
    )


def test_the_hersteldmelding_follows_a_ziekmelding_and_a_recovery():
    state = sick_with_details()
    with pytest.raises(ActionRefused, match="^message: UWV has no ziekmelding of this case"):
        message(state, MessageKind.HERSTELDMELDING, WEEK_42)
    act(state, "ziekmelding_uwv_sent", WEEK_42)
    with pytest.raises(ActionRefused, match="^message: no recovery is on record"):
        message(state, MessageKind.HERSTELDMELDING, WEEK_42)
    back = WEEK_42 + timedelta(days=20)
    act(state, "full_recovery", back)
    found = message(state, MessageKind.HERSTELDMELDING, back + timedelta(days=1))
    assert isinstance(found, Hersteldmelding)
    assert found.herstel == "volledig" and found.hersteldatum == back and found.werknemer.bsn == BSN
    # After the recovery the case still records the hersteldmelding and UWV's answer.
    mid = "UWV-00000000000000000005"
    act(state, "uwv_message_prepared", back + timedelta(days=1), message_id=mid, message="hersteldmelding")
    act(state, "uwv_message_sent", back + timedelta(days=1), message_id=mid, reference="file:y.json")
    act(state, "uwv_hersteldmelding_accepted", back + timedelta(days=2), role="uwv", message_id=mid)
    assert state.uwv[-1].status is MessageStatus.ACCEPTED
    assert date(2025, 1, 6) == state.first_sick_day
