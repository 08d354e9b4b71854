"""The human actions on a case, as validated payloads, and which roles may take them."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from domain.documents import Audience, DocumentKind
from domain.errors import ActionRefused
from domain.models import (
    NOTE_MAX_CHARS,
    SEALED_NOTE_MAX_CHARS,
    ActionId,
    Actor,
    AdConclusion,
    AdParty,
    OpaqueId,
    Role,
    is_sealed_note,
    sealed_or_plain_note,
)
from domain.people import MAX_PERSON_KEYS, NAME_MAX_CHARS, Employee, PersonKey

View = Annotated[str, Field(min_length=1, max_length=4000)]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    if TYPE_CHECKING:
        # Every action narrows it to its own Literal; declared for the checker only, so the fields and their
        # order (the payloads) stay as they are.
        kind: str

    action_id: ActionId = Field(description="Idempotency key: a retried request with the same id is applied once")
    actor: Actor
    on: date = Field(description="The date it happened (Amsterdam calendar day)")
    note: str | None = Field(default=None, max_length=NOTE_MAX_CHARS)

    @field_validator("note", mode="wrap")
    @classmethod
    def _sealed_or_plain(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        # A bedrijfsarts's note arrives sealed (domain.models.sealed_or_plain_note), longer than the text it hides.
        return sealed_or_plain_note(value, handler, info.data.get("actor"))


class ZiekmeldingArbodienstSent(_Action):
    kind: Literal["ziekmelding_arbodienst_sent"]


class ProbleemanalyseRecorded(_Action):
    kind: Literal["probleemanalyse_recorded"]
    belastbaarheid_hours_per_day: float | None = Field(default=None, ge=0, le=24)


class PlanVanAanpakAgreed(_Action):
    kind: Literal["plan_van_aanpak_agreed"]
    casemanager_id: OpaqueId = Field(description="The case manager the plan names (opaque id)")
    employer_view: View | None = None
    employee_view: View | None = None


class EvaluatieHeld(_Action):
    kind: Literal["evaluatie_held"]


class ZiekmeldingUwvSent(_Action):
    kind: Literal["ziekmelding_uwv_sent"]


class EerstejaarsevaluatieHeld(_Action):
    kind: Literal["eerstejaarsevaluatie_held"]
    employer_view: View | None = None
    employee_view: View | None = None


class AdOnderzoekStarted(_Action):
    kind: Literal["ad_onderzoek_started"]


class AdGesprekHeld(_Action):
    """A conversation of the AD-onderzoek: with the employer, the employee, or a workplace visit."""

    kind: Literal["ad_gesprek_held"]
    party: AdParty


class AdOnderzoekConcluded(_Action):
    """The AD-onderzoek's answers, in the fixed order of its questions.

    `own_work_possible` first; only if not, `other_work_inside_possible`; if neither, the advice is
    spoor 2. `conclusion` alone is the form of cases opened before the questions were recorded.
    """

    kind: Literal["ad_onderzoek_concluded"]
    own_work_possible: bool | None = Field(default=None, description="Own work, adapted if needed?")
    other_work_inside_possible: bool | None = Field(default=None, description="Other work inside the organisation?")
    conclusion: AdConclusion | None = None
    report_reference: str | None = Field(default=None, min_length=1, max_length=200)

    def answers(self) -> AdConclusion | None:
        """The conclusion the answers lead to, in the order of the questions."""
        if self.own_work_possible is None:
            return self.conclusion
        if self.own_work_possible:
            return AdConclusion.EIGEN_WERK
        if self.other_work_inside_possible:
            return AdConclusion.ANDER_WERK_INTERN
        return AdConclusion.SPOOR2


class Spoor2ConsentGiven(_Action):
    """The bedrijfsarts agrees to start spoor 2 before the first year ends."""

    kind: Literal["spoor2_consent_given"]


class Spoor2Started(_Action):
    kind: Literal["spoor2_started"]


class Spoor2Result(StrEnum):
    GEEN_RESULTAAT = "geen_resultaat"
    NO_GO = "no_go"
    NIEUW_WERK = "nieuw_werk"
    DETACHERING = "detachering"
    WERKRITMEPLAATS = "werkritmeplaats"


class Spoor2Ended(_Action):
    kind: Literal["spoor2_ended"]
    result: Spoor2Result


class PartialRecovery(_Action):
    kind: Literal["partial_recovery"]
    hours_per_week: float | None = Field(default=None, gt=0, le=60)
    percentage: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _some_measure(self) -> PartialRecovery:
        if self.hours_per_week is None and self.percentage is None:
            raise ValueError("give hours_per_week or percentage")
        return self


class FullRecovery(_Action):
    """`on` is the first day back at work."""

    kind: Literal["full_recovery"]


class Relapse(_Action):
    """`on` is the first sick day of the new period."""

    kind: Literal["relapse"]


class DeadlineDeviation(_Action):
    """Reg art. 5: a term deviated from with its reason; with `new_due` it moves, without it is waived.

    Also the reason for a step already done late, recorded afterwards: `on` is the day the reason was given.
    """

    kind: Literal["deadline_deviation"]
    deadline: str
    reason: str = Field(min_length=10, max_length=2000)
    new_due: date | None = None
    occurrence: int | None = Field(
        default=None, ge=1, le=100, description="For a recurring step (evaluatie): which one; default the open one"
    )


class LeaveStarted(_Action):
    """Leave that does not count as illness (a pause of the rule set, e.g. Wazo) starts on `on`: the clock pauses."""

    kind: Literal["leave_started"]
    leave: str = Field(min_length=1, max_length=100, description="The kind of leave (rulebook.toml, [[ruleset.pause]])")


class LeaveEnded(_Action):
    """The leave ended: from `on` the illness counts again and the clock resumes."""

    kind: Literal["leave_ended"]


class FirstSickDayCorrected(_Action):
    """A data-entry fix of the first sick day: every term is planned anew, with the reason in the dossier."""

    kind: Literal["first_sick_day_corrected"]
    first_sick_day: date = Field(description="The real first sick day")
    reason: str = Field(min_length=10, max_length=2000)


class DeskundigenoordeelRequested(_Action):
    kind: Literal["deskundigenoordeel_requested"]
    requested_by: Literal[Role.WERKGEVER, Role.WERKNEMER]
    question: str = Field(min_length=3, max_length=1000)


class DeskundigenoordeelAnswered(_Action):
    kind: Literal["deskundigenoordeel_answered"]
    request_id: ActionId = Field(description="The action id of the request it answers")
    conclusion: str = Field(min_length=3, max_length=2000)


class LoonsanctieImposed(_Action):
    kind: Literal["loonsanctie_imposed"]
    weeks: int = Field(ge=1)


class RepairReported(_Action):
    """The employer reports the shortcomings repaired (herstelmelding)."""

    kind: Literal["repair_reported"]


class RepairAccepted(_Action):
    kind: Literal["repair_accepted"]


class VoluntaryExtension(_Action):
    """WIA art. 24: wage payment extended at the joint request of employer and employee."""

    kind: Literal["voluntary_extension"]
    weeks: int = Field(ge=1)
    employer_agrees: Literal[True]
    employee_agrees: Literal[True]


class EindevaluatieHeld(_Action):
    """The eindevaluatie of the re-integratieverslag: employer and employee look back on the whole re-integration."""

    kind: Literal["eindevaluatie_held"]
    employer_view: View | None = None
    employee_view: View | None = None


class WerknemerOordeelRecorded(_Action):
    """The employee's own opinion on the re-integration, a part of the re-integratieverslag (Reg art. 6)."""

    kind: Literal["werknemer_oordeel_recorded"]
    opinion: View = Field(description="In the employee's words; no medical details")
    agrees: bool | None = Field(default=None, description="Does the employee agree with the employer's account?")


class ReintegratieverslagCompleted(_Action):
    kind: Literal["reintegratieverslag_completed"]


class WiaAanvraagFiled(_Action):
    kind: Literal["wia_aanvraag_filed"]
    late_cause: Literal[Role.WERKGEVER, Role.WERKNEMER] | None = Field(
        default=None,
        description="Filed after its term: whose doing. The employer's extends the wage payment by the "
        "delay (BW 7:629 lid 11 sub a)",
    )


class CaseWithdrawn(_Action):
    kind: Literal["case_withdrawn"]
    reason: str = Field(min_length=5, max_length=2000)


# Escalation (domain.stagnation). Recording these is not re-integration activity: they do not end
# a stall.


class StagnationReported(_Action):
    """The coach reports that the trajectory stagnates (seed 004): the employer is alerted at once."""

    kind: Literal["stagnation_reported"]


class NonCooperationRecorded(_Action):
    """The employee does not (or no longer) cooperate: the employer is asked to take measures."""

    kind: Literal["non_cooperation_recorded"]


class EscalationAcknowledged(_Action):
    """Operations saw the escalation; it does not climb further for a while."""

    kind: Literal["escalation_acknowledged"]
    reason: str = Field(min_length=3, max_length=2000)


class MeasureTaken(_Action):
    """The employer took a measure against non-cooperation (keys in domain/stagnation.toml)."""

    kind: Literal["measure_taken"]
    measure: str = Field(min_length=1, max_length=100)


class ContactsUpdated(_Action):
    """The e-mail addresses at which a role on this case is notified (empty list: the defaults)."""

    kind: Literal["contacts_updated"]
    recipient_role: Role
    addresses: list[EmailStr] = Field(max_length=10)


class PersonAssigned(_Action):
    """Someone takes up the case in a role (domain.access); with `replaces`, a hand-over from the one named."""

    kind: Literal["person_assigned"]
    role: Role = Field(description="casemanager, bedrijfsarts, arbeidsdeskundige or reintegratiecoach")
    person_id: OpaqueId = Field(description="The person's opaque id, as their sign-in gives it")
    replaces: OpaqueId | None = Field(default=None, description="The person handing the case over (hand-over)")


class PersonUnassigned(_Action):
    """Someone no longer works on the case in a role; with nobody left in it, the role's pool sees the case again."""

    kind: Literal["person_unassigned"]
    role: Role
    person_id: OpaqueId


ESCALATION_KINDS = frozenset(
    {"stagnation_reported", "non_cooperation_recorded", "escalation_acknowledged", "measure_taken", "contacts_updated"}
)


# The dossier as documents (case version 5).


class BedrijfsartsOordeel(_Action):
    """The bedrijfsarts's actueel oordeel of the employee's capacity: the re-integratieverslag needs a recent one."""

    kind: Literal["bedrijfsarts_oordeel"]
    belastbaarheid_hours_per_day: float | None = Field(default=None, ge=0, le=24)


class DocumentRequested(_Action):
    """Render a document of the case now (domain.documents); the dossier records where it is stored."""

    kind: Literal["document_requested"]
    document: DocumentKind
    audience: Audience = Field(default=Audience.WERKGEVER, description="werkgever: without medical notes")
    period_start: date | None = Field(
        default=None, description="voortgangsrapportage: first day (default a month back)"
    )
    period_end: date | None = Field(default=None, description="voortgangsrapportage: last day (default `on`)")


class EmployeeDetailsCorrected(_Action):
    """The employee's name or personnel number corrected (domain.people): kept in the case, never in the dossier; the
    keys the case is found by are made anew by the operations edge."""

    kind: Literal["employee_details_corrected"]
    surname: str = Field(
        min_length=1, max_length=NAME_MAX_CHARS, description='Achternaam, with any prefix ("de Vries")'
    )
    given_names: str | None = Field(default=None, max_length=NAME_MAX_CHARS, description="Voornaam or initials")
    personnel_number: str | None = Field(default=None, max_length=32, description="Personeelsnummer at the employer")
    person_keys: list[PersonKey] = Field(
        default_factory=list,
        max_length=MAX_PERSON_KEYS,
        description="Made by the operations edge (operations.people), never sent",
    )

    def employee(self) -> Employee:
        """The details as the case keeps them; ValueError when they do not validate."""
        return Employee(surname=self.surname, given_names=self.given_names, personnel_number=self.personnel_number)


# Recording these is not re-integration activity: they do not end a stall.
NOT_ACTIVITY_KINDS = ESCALATION_KINDS | {
    "document_requested",
    "first_sick_day_corrected",
    "leave_started",
    "leave_ended",
    "person_assigned",
    "person_unassigned",
    "employee_details_corrected",
}


Action = Annotated[
    Union[
        ZiekmeldingArbodienstSent,
        ProbleemanalyseRecorded,
        PlanVanAanpakAgreed,
        EvaluatieHeld,
        ZiekmeldingUwvSent,
        EerstejaarsevaluatieHeld,
        AdOnderzoekStarted,
        AdGesprekHeld,
        AdOnderzoekConcluded,
        Spoor2ConsentGiven,
        Spoor2Started,
        Spoor2Ended,
        PartialRecovery,
        FullRecovery,
        Relapse,
        DeadlineDeviation,
        FirstSickDayCorrected,
        LeaveStarted,
        LeaveEnded,
        DeskundigenoordeelRequested,
        DeskundigenoordeelAnswered,
        LoonsanctieImposed,
        RepairReported,
        RepairAccepted,
        VoluntaryExtension,
        EindevaluatieHeld,
        WerknemerOordeelRecorded,
        ReintegratieverslagCompleted,
        WiaAanvraagFiled,
        CaseWithdrawn,
        StagnationReported,
        NonCooperationRecorded,
        EscalationAcknowledged,
        MeasureTaken,
        ContactsUpdated,
        PersonAssigned,
        PersonUnassigned,
        BedrijfsartsOordeel,
        DocumentRequested,
        EmployeeDetailsCorrected,
    ],
    Field(discriminator="kind"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Action)


def action_models(union: Any) -> tuple[type[BaseModel], ...]:
    """The models of a tagged union of actions (`Annotated[Union[...], Field(discriminator="kind")]`)."""
    return get_args(get_args(union)[0])


def action_kind(model: type[BaseModel]) -> str:
    """An action model's tag: the one value of its `kind` Literal."""
    return get_args(model.model_fields["kind"].annotation)[0]


ACTION_KINDS: tuple[str, ...] = tuple(action_kind(m) for m in action_models(Action))

_ADMIN = {Role.CASEMANAGER, Role.OPERATIONS}
_ALL_PARTIES = {Role.WERKGEVER, Role.WERKNEMER, *_ADMIN}

# Which roles may record each action. Medical judgements are the bedrijfsarts's alone; the
# case manager and operations keep the dossier and record what others report to them.
ACTION_ROLES: dict[str, frozenset[Role]] = {
    "ziekmelding_arbodienst_sent": frozenset({Role.WERKGEVER, *_ADMIN}),
    "probleemanalyse_recorded": frozenset({Role.BEDRIJFSARTS}),
    "plan_van_aanpak_agreed": frozenset({Role.WERKGEVER, *_ADMIN}),
    "evaluatie_held": frozenset({*_ALL_PARTIES, Role.BEDRIJFSARTS}),
    "ziekmelding_uwv_sent": frozenset({Role.WERKGEVER, *_ADMIN}),
    "eerstejaarsevaluatie_held": frozenset({Role.WERKGEVER, *_ADMIN}),
    "ad_onderzoek_started": frozenset({Role.ARBEIDSDESKUNDIGE, Role.WERKGEVER, *_ADMIN}),
    "ad_gesprek_held": frozenset({Role.ARBEIDSDESKUNDIGE}),
    "ad_onderzoek_concluded": frozenset({Role.ARBEIDSDESKUNDIGE}),
    "spoor2_consent_given": frozenset({Role.BEDRIJFSARTS}),
    "spoor2_started": frozenset({Role.WERKGEVER, Role.REINTEGRATIECOACH, *_ADMIN}),
    "spoor2_ended": frozenset({Role.WERKGEVER, Role.REINTEGRATIECOACH, *_ADMIN}),
    "partial_recovery": frozenset({Role.BEDRIJFSARTS, Role.WERKGEVER, *_ADMIN}),
    "full_recovery": frozenset({*_ALL_PARTIES, Role.BEDRIJFSARTS}),
    "relapse": frozenset({*_ALL_PARTIES, Role.BEDRIJFSARTS}),
    "deadline_deviation": frozenset({Role.WERKGEVER, Role.BEDRIJFSARTS, *_ADMIN}),
    "first_sick_day_corrected": frozenset({Role.WERKGEVER, *_ADMIN}),
    "leave_started": frozenset({Role.WERKGEVER, *_ADMIN}),
    "leave_ended": frozenset({Role.WERKGEVER, *_ADMIN}),
    "deskundigenoordeel_requested": frozenset(_ALL_PARTIES),
    "deskundigenoordeel_answered": frozenset({Role.UWV, *_ADMIN}),
    "loonsanctie_imposed": frozenset({Role.UWV, Role.WERKGEVER, *_ADMIN}),
    "repair_reported": frozenset({Role.WERKGEVER, *_ADMIN}),
    "repair_accepted": frozenset({Role.UWV, *_ADMIN}),
    "voluntary_extension": frozenset({Role.WERKGEVER, *_ADMIN}),
    "eindevaluatie_held": frozenset({Role.WERKGEVER, *_ADMIN}),
    "werknemer_oordeel_recorded": frozenset({Role.WERKNEMER, *_ADMIN}),
    "reintegratieverslag_completed": frozenset({Role.WERKGEVER, *_ADMIN}),
    "wia_aanvraag_filed": frozenset({Role.WERKNEMER, *_ADMIN}),
    "case_withdrawn": frozenset({Role.WERKGEVER, *_ADMIN}),
    "stagnation_reported": frozenset({Role.REINTEGRATIECOACH, *_ADMIN}),
    "non_cooperation_recorded": frozenset({Role.REINTEGRATIECOACH, Role.WERKGEVER, Role.BEDRIJFSARTS, *_ADMIN}),
    "escalation_acknowledged": frozenset(_ADMIN),
    "measure_taken": frozenset({Role.WERKGEVER, *_ADMIN}),
    "contacts_updated": frozenset(_ADMIN),
    "person_assigned": frozenset(_ADMIN),
    "person_unassigned": frozenset(_ADMIN),
    "bedrijfsarts_oordeel": frozenset({Role.BEDRIJFSARTS}),
    # Who may ask for which version is checked against domain.documents.AUDIENCE_ROLES.
    "document_requested": frozenset({*_ALL_PARTIES, Role.BEDRIJFSARTS, Role.REINTEGRATIECOACH, Role.ARBEIDSDESKUNDIGE}),
    "employee_details_corrected": frozenset(_ADMIN),
}
assert set(ACTION_ROLES) == set(ACTION_KINDS), "every action needs its roles"


def shown(value: Any, limit: int = 60) -> str:
    """The repr of a caller's value for a refusal, cut short: a refusal must not echo megabytes back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def describe_validation_error(err: ValidationError, kinds: tuple[str, ...]) -> str:
    """'field.path: reason; …' for a payload validated against a union tagged by `kinds`."""
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(
            shown(p, 40) if not isinstance(p, (str, int)) or len(str(p)) > 40 else str(p)
            for p in e["loc"]
            if not (isinstance(p, str) and p in kinds)
        )
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "enum" and loc == "actor.role":
            known = ", ".join(r.value for r in Role if r is not Role.SYSTEEM)
            msg = f"{shown(e['input'])} is not a known role (known: {known})"
        parts.append(f"{loc or 'action'}: {msg}")
    return "; ".join(parts)


def validation_refusal(err: ValidationError, kinds: tuple[str, ...]) -> ActionRefused:
    """The first failing field and its reason as a refusal; the edge says the reason in the reader's language by its
    pydantic type (`reason_type`, with the type's context as `reason_<name>`). Further failures follow in English."""
    errors = err.errors(include_url=False)
    parts = describe_validation_error(err, kinds).split("; ")
    first = errors[0] if errors else {"loc": (), "msg": "not valid", "type": "value_error", "input": None}
    field = parts[0].partition(": ")[0] if parts and parts[0] else "action"
    if first["type"] == "enum" and field == "actor.role":
        refusal = ActionRefused(
            "actor.role: %(value)s is not a known role (known: %(roles)s)",
            value=shown(first["input"]),
            roles=[r for r in Role if r is not Role.SYSTEEM],
        )
    else:
        context = {
            f"reason_{k}": shown(v, 60) if not isinstance(v, (str, int, float)) else v
            for k, v in (first.get("ctx") or {}).items()
        }
        reason = first["msg"].removeprefix("Value error, ")
        if len(parts) > 1:
            refusal = ActionRefused(
                "%(field)s: %(reason)s; %(more)s",
                field=field,
                reason=reason,
                reason_type=first["type"],
                more="; ".join(parts[1:]),
                **context,
            )
        else:
            refusal = ActionRefused(
                "%(field)s: %(reason)s", field=field, reason=reason, reason_type=first["type"], **context
            )
    return refusal


def parse_tagged(
    adapter: TypeAdapter[Any], kinds: tuple[str, ...], raw: Any, what: str = "action", *, strict: bool = False
) -> Any:
    """Validate a raw payload against a union tagged by `kind`; refuses with the failing fields and reasons.

    `strict` (the update validators) takes JSON's own types only: no `true` for a number, no "5" for 5.
    """
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    if isinstance(raw, dict) and raw.get("kind") not in kinds:
        raise (
            ActionRefused("kind: %(value)s is not a known spoor 2 action", value=shown(raw.get("kind")))
            if what == "spoor 2 action"
            else ActionRefused("kind: %(value)s is not a known action", value=shown(raw.get("kind")))
        )
    try:
        if strict:
            return adapter.validate_json(pydantic_core.to_json(raw), strict=True)
        return adapter.validate_python(raw)
    except ValidationError as err:
        raise validation_refusal(err, kinds) from None


def parse_action(raw: Any, *, strict: bool = False) -> Action:
    """Validate a raw case action payload; refuses with the failing fields and reasons."""
    return parse_tagged(_ADAPTER, ACTION_KINDS, raw, strict=strict)


# --------------------------------------------------------------------------- admission

# What an action may carry, checked by the update validators only (and by clients before they send):
# a handler must go on accepting what older validators let in, or running cases would not replay.
# A case lives two years in one history of at most 50 MB, and carries its dossier across
# continue-as-new in one payload of at most 2 MB: no action may take a noticeable part of that.
MAX_ACTION_BYTES = 128 * 1024  # compact UTF-8 JSON; the field limits allow ~27,000 characters at most
MAX_TEXT_CHARS = 4000  # the longest text field any action has (grounds, views, zoekprofiel)
MAX_NAME_CHARS = 100  # a field name
MAX_DEPTH = 4  # objects and lists within each other; real actions nest 2 deep
MAX_ITEMS = 100  # entries of one list or object
MAX_NUMBER = 100_000  # no count, week or hour in an action comes near
YEARS_BACK, YEARS_AHEAD = 20, 10  # a date outside this window around today is a typo (or worse)
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _check_value(value: Any, path: str, depth: int) -> None:
    where = path or "action"
    if isinstance(value, str):
        # A sealed note hides a text of at most NOTE_MAX_CHARS characters (checked before it was sealed).
        limit = SEALED_NOTE_MAX_CHARS if path == "note" and is_sealed_note(value) else MAX_TEXT_CHARS
        if len(value) > limit:
            raise ActionRefused(
                "%(field)s: %(count)s characters, more than the %(limit)s a text may have",
                field=where,
                count=len(value),
                limit=limit,
            )
        for n, char in enumerate(value):
            category = unicodedata.category(char)
            if category == "Cs":
                code = f"U+{ord(char):04X}"
                raise ActionRefused(
                    "%(field)s: an unpaired surrogate (%(char)s) at position %(position)s is not text",
                    field=where,
                    char=code,
                    position=n,
                )
            if category == "Cc" and char not in _ALLOWED_CONTROLS:
                code = f"U+{ord(char):04X}"
                raise ActionRefused(
                    "%(field)s: the control character %(char)s at position %(position)s has no place in text",
                    field=where,
                    char=code,
                    position=n,
                )
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_NUMBER:
            # Not str(value): Python refuses to print an int of more than 4300 digits.
            what = (
                value
                if value.bit_length() < 40
                else f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
            )
            raise ActionRefused(
                "%(field)s: %(value)s is out of range (at most %(limit)s)", field=where, value=what, limit=MAX_NUMBER
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ActionRefused("%(field)s: %(value)s is not a number an action may hold", field=where, value=value)
        if abs(value) > MAX_NUMBER:
            raise ActionRefused(
                "%(field)s: %(value)s is out of range (at most %(limit)s)", field=where, value=value, limit=MAX_NUMBER
            )
    elif isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise ActionRefused("%(field)s: nested deeper than %(limit)s levels", field=where, limit=MAX_DEPTH)
        if len(value) > MAX_ITEMS:
            raise ActionRefused(
                "%(field)s: %(count)s entries, more than the %(limit)s a list or object may have",
                field=where,
                count=len(value),
                limit=MAX_ITEMS,
            )
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if not isinstance(key, (str, int)):
                raise ActionRefused(
                    "%(field)s: a field name must be text, not %(value)s", field=where, value=shown(key, 30)
                )
            if isinstance(key, str):
                if len(key) > MAX_NAME_CHARS:
                    raise ActionRefused(
                        "%(field)s: a field name of %(count)s characters (at most %(limit)s)",
                        field=where,
                        count=len(key),
                        limit=MAX_NAME_CHARS,
                    )
                if any(unicodedata.category(c) in ("Cc", "Cs") for c in key):
                    raise ActionRefused(
                        "%(field)s: a field name with a control character or unpaired surrogate: %(value)s",
                        field=where,
                        value=shown(key, 30),
                    )
            _check_value(item, f"{path}.{key}" if path else str(key), depth + 1)


def _dates(value: Any, path: str):
    """Every date in a parsed action, with its field path."""
    if isinstance(value, date):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _dates(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            yield from _dates(item, f"{path}.{n}")


def admit(raw: Any, parse: Callable[..., Any], today: date) -> Any:
    """The action parsed strictly, if its size, text, numbers and dates fit; refuses naming the field and the limit.

    Checked before any rule, so nothing oversized reaches a history and a refusal never echoes an
    oversized value: a rejection travels back with the request it rejects, and one that passes
    Temporal's 2 MB blob limit fails the workflow task instead of refusing the update.
    """
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    if not isinstance(raw, dict):
        kind = "null" if raw is None else type(raw).__name__
        raise ActionRefused("action: must be a JSON object of the action's fields, not %(value)s", value=kind)
    _check_value(raw, "", 0)
    size = len(pydantic_core.to_json(raw))
    if size > MAX_ACTION_BYTES:
        raise ActionRefused(
            "action: %(size)s bytes of JSON, more than the %(limit)s an action may have",
            size=size,
            limit=MAX_ACTION_BYTES,
        )
    action = parse(raw, strict=True)
    earliest, latest = _years_from(today, -YEARS_BACK), _years_from(today, YEARS_AHEAD)
    for path, day in _dates(action, ""):
        if day < earliest:
            raise ActionRefused(
                "%(field)s: %(day)s is more than %(years)s years before today (%(today)s)",
                field=path,
                day=day,
                years=YEARS_BACK,
                today=today,
            )
        if day > latest:
            raise ActionRefused(
                "%(field)s: %(day)s is more than %(years)s years after today (%(today)s)",
                field=path,
                day=day,
                years=YEARS_AHEAD,
                today=today,
            )
    return action


def _years_from(day: date, years: int) -> date:
    year = min(max(day.year + years, date.min.year), date.max.year)
    return day.replace(year=year, day=28) if (day.month, day.day) == (2, 29) else day.replace(year=year)
