"""The messages to UWV (domain.uwv) built from a case, or refused with the field that is missing.

`preparable` is what the case itself checks when a message is recorded as prepared (domain.case.actions.uwv); `build`
adds what the edge brings (the employer's loonheffingennummer, the message's id) and what only the encrypted employee
details hold (the BSN), and makes the message. Both refuse with a reason that starts with the field it is about.
"""

from __future__ import annotations

from datetime import date

from domain.case.deadlines import current_view
from domain.case.state import CaseState
from domain.errors import ActionRefused
from domain.uwv import (
    Hersteldmelding,
    MessageKind,
    UwvMessageRecord,
    Werkgever,
    Werknemer,
    Ziekmelding,
    is_loonheffingennummer,
)

ZIEKMELDING_STEP = "ziekmelding_uwv"


def open_message(state: CaseState, kind: MessageKind) -> UwvMessageRecord | None:
    """The message of this kind still waiting (prepared, or sent and not answered), if any."""
    return next((m for m in state.uwv if m.message is kind and m.status.open), None)


def find(state: CaseState, message_id: str) -> UwvMessageRecord | None:
    return next((m for m in state.uwv if m.message_id == message_id), None)


def preparable(state: CaseState, kind: MessageKind, on: date) -> None:
    """Refuse, naming the field, a message of `kind` that the case cannot make now."""
    if state.closed:
        raise ActionRefused(
            "message: the case is closed (on %(closed_on)s); UWV gets no message from it", closed_on=state.closed_on
        )
    waiting = open_message(state, kind)
    if waiting is not None:
        raise ActionRefused(
            "message: a %(message)s is already under way (%(message_id)s); wait for UWV's answer before making another",
            message=kind.value,
            message_id=waiting.message_id,
        )
    if kind is MessageKind.ZIEKMELDING:
        _ziekmelding_preparable(state, on)
    else:
        _hersteldmelding_preparable(state)


def _ziekmelding_preparable(state: CaseState, on: date) -> None:
    if ZIEKMELDING_STEP not in state.ruleset.keys:
        raise ActionRefused(
            "message: rule set %(ruleset)s of this case has no ziekmelding to UWV", ruleset=state.ruleset.id
        )
    if ZIEKMELDING_STEP in state.done:
        raise ActionRefused(
            "message: %(done_step)s is already on record (on %(on)s)",
            done_step=ZIEKMELDING_STEP,
            on=state.done[ZIEKMELDING_STEP].on,
        )
    if state.recovered_on is not None:
        raise ActionRefused(
            "message: the employee recovered on %(on)s; UWV gets no ziekmelding of a recovered employee",
            on=state.recovered_on,
        )
    # Made in the week the rule set names (the 42nd): before it the employee may still recover, and UWV refuses it.
    week = state.ruleset.deadline(ZIEKMELDING_STEP).week
    first = state.clock.date_of_day(7 * (week - 1) + 1)
    if first is not None and on < first:
        raise ActionRefused(
            "message: the ziekmelding to UWV is made from week %(week)s of illness, from %(from_day)s",
            week=week,
            from_day=first,
        )


def _hersteldmelding_preparable(state: CaseState) -> None:
    if not any(m.message is MessageKind.ZIEKMELDING and m.status.value == "accepted" for m in state.uwv):
        if ZIEKMELDING_STEP not in state.done:
            raise ActionRefused(
                "message: UWV has no ziekmelding of this case (%(step)s is not on record); a recovery before it is "
                "not reported to UWV",
                step=ZIEKMELDING_STEP,
            )
    if state.recovered_on is None and state.recovery.partial is None:
        raise ActionRefused(
            "message: no recovery is on record; record \u201c%(next_kind)s\u201d or \u201c%(other_kind)s\u201d first",
            next_kind="full_recovery",
            other_kind="partial_recovery",
        )
    if any(m.message is MessageKind.HERSTELDMELDING and m.status.value == "accepted" for m in state.uwv):
        last = [m for m in state.uwv if m.message is MessageKind.HERSTELDMELDING and m.status.value == "accepted"][-1]
        if state.recovered_on is not None and last.prepared_on >= state.recovered_on:
            raise ActionRefused(
                "message: UWV accepted the hersteldmelding of this recovery already (%(message_id)s)",
                message_id=last.message_id,
            )


def _werknemer(state: CaseState) -> Werknemer:
    employee = state.people.employee
    if employee is None:
        raise ActionRefused(
            "employee: the case holds no employee details; UWV needs the BSN and name (record \u201c%(kind)s\u201d)",
            kind="employee_details_corrected",
        )
    if not employee.bsn:
        raise ActionRefused(
            "employee.bsn: the case holds no BSN of the employee; UWV identifies the employee by it (record "
            "\u201c%(kind)s\u201d with the BSN)",
            kind="employee_details_corrected",
        )
    return Werknemer(
        bsn=employee.bsn,
        achternaam=employee.surname,
        voornamen=employee.given_names,
        personeelsnummer=employee.personnel_number,
    )


def _werkgever(state: CaseState, loonheffingennummer: str | None) -> Werkgever:
    if not loonheffingennummer:
        raise ActionRefused(
            "loonheffingennummer: no loonheffingennummer is known for employer %(employer)s; UWV identifies the "
            "employer by it (SPOORWERK_UWV_LOONHEFFINGENNUMMERS)",
            employer=state.employer_id,
        )
    if not is_loonheffingennummer(loonheffingennummer):
        raise ActionRefused(
            "loonheffingennummer: the one known for employer %(employer)s is not of the form 123456789L01",
            employer=state.employer_id,
        )
    return Werkgever(loonheffingennummer=loonheffingennummer, employer_id=state.employer_id)


def build(
    state: CaseState, kind: MessageKind, *, message_id: str, loonheffingennummer: str | None, today: date
) -> Ziekmelding | Hersteldmelding:
    """The message of `kind` as the case stands `today`; refuses (ActionRefused, naming the field) what is missing."""
    preparable(state, kind, today)
    werkgever = _werkgever(state, loonheffingennummer)
    werknemer = _werknemer(state)
    partial = state.recovery.partial
    common = {
        "message_id": message_id,
        "case_id": state.case_id,
        "melddatum": today,
        "werkgever": werkgever,
        "werknemer": werknemer,
        "eerste_ziektedag": state.first_sick_day,
    }
    if kind is MessageKind.ZIEKMELDING:
        view = current_view(state, ZIEKMELDING_STEP, today)
        assert view is not None and view.due is not None  # the rule set holds the step (preparable)
        return Ziekmelding(
            **common,
            uiterste_melddatum=view.due,
            ziekteweek=(state.clock.day_of_date(today) + 6) // 7,
            gedeeltelijk_hersteld=partial is not None,
            hersteld_percentage=partial.percentage if partial else None,
            uren_per_week=partial.hours_per_week if partial else None,
        )
    recovered = state.recovered_on
    if recovered is not None:
        return Hersteldmelding(**common, herstel="volledig", hersteldatum=recovered)
    assert partial is not None  # preparable: a recovery is on record
    return Hersteldmelding(
        **common,
        herstel="gedeeltelijk",
        hersteldatum=partial.on,
        hersteld_percentage=partial.percentage,
        uren_per_week=partial.hours_per_week,
    )
