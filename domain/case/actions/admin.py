"""Keeping the case: withdrawn, its first sick day corrected, who works on it and how to reach them, the employee's details."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import EmailStr, Field, ValidationError

from domain import access
from domain.access import ADMIN
from domain.case.stages import close_case
from domain.case.state import CaseState
from domain.clock import SickPeriod
from domain.errors import ActionRefused
from domain.glossary import N_
from domain.ledger import ActionBase, Declared
from domain.models import OpaqueId, Outcome, Role
from domain.people import MAX_PERSON_KEYS, NAME_MAX_CHARS, Employee, PersonKey


class CaseWithdrawn(ActionBase):
    kind: Literal["case_withdrawn"]
    reason: str = Field(min_length=5, max_length=2000)


class FirstSickDayCorrected(ActionBase):
    """A data-entry fix of the first sick day: every term is planned anew, with the reason in the dossier."""

    kind: Literal["first_sick_day_corrected"]
    first_sick_day: date = Field(description="The real first sick day")
    reason: str = Field(min_length=10, max_length=2000)


class ContactsUpdated(ActionBase):
    """The e-mail addresses at which a role on this case is notified (empty list: the defaults)."""

    kind: Literal["contacts_updated"]
    recipient_role: Role
    addresses: list[EmailStr] = Field(max_length=10)


# The schema (the API's documentation, the dashboard's choice) offers the roles a case assigns, not every role; the
# check (domain.access) refuses the others.
_ASSIGNABLE: dict[str, Any] = {"enum": sorted(r.value for r in access.ASSIGNABLE)}


class PersonAssigned(ActionBase):
    """Someone takes up the case in a role (domain.access); with `replaces`, a hand-over from the one named."""

    kind: Literal["person_assigned"]
    role: Role = Field(
        description="casemanager, bedrijfsarts, arbeidsdeskundige or reintegratiecoach", json_schema_extra=_ASSIGNABLE
    )
    person_id: OpaqueId = Field(description="The person's opaque id, as their sign-in gives it")
    replaces: OpaqueId | None = Field(default=None, description="The person handing the case over (hand-over)")


class PersonUnassigned(ActionBase):
    """Someone no longer works on the case in a role; with nobody left in it, the role's pool sees the case again."""

    kind: Literal["person_unassigned"]
    role: Role = Field(json_schema_extra=_ASSIGNABLE)
    person_id: OpaqueId


class EmployeeDetailsCorrected(ActionBase):
    """The employee's name or personnel number corrected (domain.people): kept in the case, never in the dossier; the
    keys the case is found by are made anew by the operations edge."""

    kind: Literal["employee_details_corrected"]
    surname: str = Field(
        min_length=1, max_length=NAME_MAX_CHARS, description='Achternaam, with any prefix ("de Vries")'
    )
    given_names: str | None = Field(default=None, max_length=NAME_MAX_CHARS, description="Voornaam or initials")
    personnel_number: str | None = Field(default=None, max_length=32, description="Personeelsnummer at the employer")
    bsn: str | None = Field(
        default=None, max_length=16, description="Burgerservicenummer, for the messages to UWV (never in the dossier)"
    )
    person_keys: list[PersonKey] = Field(
        default_factory=list,
        max_length=MAX_PERSON_KEYS,
        description="Made by the operations edge (operations.people), never sent",
    )

    def employee(self) -> Employee:
        """The details as the case keeps them; ValueError when they do not validate."""
        return Employee(
            surname=self.surname, given_names=self.given_names, personnel_number=self.personnel_number, bsn=self.bsn
        )


def _check_correction(state: CaseState, action: FirstSickDayCorrected, today: date) -> None:
    new = action.first_sick_day
    if new == state.first_sick_day:
        raise ActionRefused("first_sick_day: %(on)s is already the first sick day", on=new)
    if new > today:
        raise ActionRefused("first_sick_day: %(on)s is in the future (today is %(today)s)", on=new, today=today)
    if new < state.ruleset.valid_from:
        raise ActionRefused(
            "first_sick_day: %(on)s lies before rule set %(ruleset)s (from %(valid_from)s); withdraw the "
            "case and open it again",
            on=new,
            ruleset=state.ruleset.id,
            valid_from=state.ruleset.valid_from,
        )
    first = state.periods[0]
    if first.end is not None and new >= first.end:
        raise ActionRefused(
            "first_sick_day: %(on)s is not before the recovery on %(recovered_on)s", on=new, recovered_on=first.end
        )
    if action.on < new:
        raise ActionRefused(
            "on: %(on)s is before the corrected first sick day %(first_sick_day)s", on=action.on, first_sick_day=new
        )
    earlier = [
        e
        for e in state.dossier
        if e.on < new
        and e.actor.role is not Role.SYSTEEM
        and e.kind not in ("case_opened", "prior_step", "first_sick_day_corrected")
    ]
    earlier += [e for e in state.dossier if e.kind == "prior_step" and e.details.get("done_on") and e.on < new]
    if earlier:
        e = min(earlier, key=lambda e: e.on)
        raise ActionRefused(
            "first_sick_day: %(on)s is after \u201c%(entry_kind)s\u201d on %(entry_on)s (dossier #%(seq)s); a step "
            "cannot come before the illness",
            on=new,
            entry_kind=e.kind,
            entry_on=e.on,
            seq=e.seq,
        )


def _correct_first_sick_day(state: CaseState, action: FirstSickDayCorrected, now: datetime) -> str:
    old = state.periods[0]
    state.periods[0] = SickPeriod(start=action.first_sick_day, end=old.end)
    return (
        f"First sick day corrected from {old.start} to {action.first_sick_day}; every term is planned anew. "
        f"Reason: {action.reason}"
    )


def _check_contacts(state: CaseState, action: ContactsUpdated, today: date) -> None:
    if action.recipient_role in (Role.SYSTEEM, Role.UWV):
        raise ActionRefused("role: Spoorwerk does not notify the %(role)s", role=action.recipient_role)


def _contacts(state: CaseState, action: ContactsUpdated, now: datetime) -> str:
    if action.addresses:
        state.people.contacts[action.recipient_role] = list(action.addresses)
    else:
        state.people.contacts.pop(action.recipient_role, None)
    n = len(action.addresses)
    return (
        f"Contacts of the {action.recipient_role.value} updated ({n} address{'es' if n != 1 else ''})"
        if n
        else f"Contacts of the {action.recipient_role.value} removed: the configured defaults apply"
    )


def _check_assigned(state: CaseState, action: PersonAssigned, today: date) -> None:
    if action.role is Role.REINTEGRATIECOACH and state.spoor2_running:
        raise ActionRefused(
            "role: the running spoor 2 trajectory names its coach; record \u201c%(next_kind)s\u201d on it instead",
            next_kind="coach_replaced",
        )
    ids = state.people.assigned.get(action.role, [])
    if action.person_id in ids:
        raise ActionRefused(
            "person_id: %(person)s is already assigned as %(role)s", person=action.person_id, role=action.role
        )
    if action.replaces is not None and action.replaces not in ids:
        raise ActionRefused(
            "replaces: %(person)s is not assigned as %(role)s", person=action.replaces, role=action.role
        )
    after = [i for i in ids if i != action.replaces] + [action.person_id]
    refusal = access.assignment_list_refusal(action.role, after, field="role")
    if refusal is not None:
        if (
            action.replaces is None
            and action.role in access.ASSIGNABLE
            and len(after) > access.MAX_ASSIGNED[action.role]
        ):
            raise ActionRefused(
                "role: a case has at most %(limit)s %(role)s assigned at a time; name the one you hand over "
                "from in replaces (%(assigned)s)",
                limit=access.MAX_ASSIGNED[action.role],
                role=action.role,
                assigned=ids,
            )
        raise refusal


def _assigned(state: CaseState, action: PersonAssigned, now: datetime) -> str:
    ids = [i for i in state.people.assigned.get(action.role, []) if i != action.replaces]
    state.people.assigned[action.role] = [*ids, action.person_id]
    if action.replaces is not None:
        return f"{action.role.value} {action.replaces} handed the case over to {action.person_id}"
    return f"{action.role.value} {action.person_id} assigned"


def _check_unassigned(state: CaseState, action: PersonUnassigned, today: date) -> None:
    if action.person_id not in state.people.assigned.get(action.role, []):
        raise ActionRefused(
            "person_id: %(person)s is not assigned as %(role)s", person=action.person_id, role=action.role
        )


def _unassigned(state: CaseState, action: PersonUnassigned, now: datetime) -> str:
    ids = [i for i in state.people.assigned.get(action.role, []) if i != action.person_id]
    if ids:
        state.people.assigned[action.role] = ids
    else:
        state.people.assigned.pop(action.role, None)
    return f"{action.role.value} {action.person_id} no longer assigned" + (
        "" if ids else f"; the case is open to every {action.role.value} again"
    )


def _check_employee(state: CaseState, action: EmployeeDetailsCorrected, today: date) -> None:
    try:
        action.employee()
    except ValidationError as err:
        field = str(err.errors()[0]["loc"][0]) if err.errors() and err.errors()[0].get("loc") else "surname"
        raise ActionRefused(_EMPLOYEE_REFUSALS.get(field, _EMPLOYEE_REFUSALS["surname"])) from None


_EMPLOYEE_REFUSALS = {  # N_: collected for translation, said in the reader's language
    "surname": N_("surname: not a surname the case can keep (empty, or with control characters)"),
    "given_names": N_("given_names: not a name the case can keep (control characters)"),
    "personnel_number": N_("personnel_number: not a personnel number (letters, digits, . _ / -, at most 32)"),
    "bsn": N_("bsn: not a burgerservicenummer (nine digits passing the elfproef)"),
}


def _employee_corrected(state: CaseState, action: EmployeeDetailsCorrected, now: datetime) -> str:
    state.people.employee = action.employee()
    state.people.person_keys = list(action.person_keys)
    return "Employee details corrected"


def _withdrawn(state: CaseState, action: CaseWithdrawn, now: datetime) -> str:
    close_case(state, Outcome.INGETROKKEN, on=action.on, now=now, summary="Case withdrawn", actor=action.actor)
    return f"Withdrawn: {action.reason}"


# Keeping the case's data is not re-integration activity (it does not end a stall), and goes on after a recovery.
DECLARED: tuple[Declared[CaseState], ...] = (
    Declared(CaseWithdrawn, frozenset({Role.WERKGEVER, *ADMIN}), effect=_withdrawn, while_halted=True),
    Declared(
        FirstSickDayCorrected,
        frozenset({Role.WERKGEVER, *ADMIN}),
        _check_correction,
        _correct_first_sick_day,
        activity=False,
        while_halted=True,
    ),
    Declared(ContactsUpdated, ADMIN, _check_contacts, _contacts, activity=False, while_halted=True),
    Declared(PersonAssigned, ADMIN, _check_assigned, _assigned, activity=False, while_halted=True),
    Declared(PersonUnassigned, ADMIN, _check_unassigned, _unassigned, activity=False, while_halted=True),
    Declared(
        EmployeeDetailsCorrected,
        ADMIN,
        _check_employee,
        _employee_corrected,
        activity=False,
        while_halted=True,
    ),
)
