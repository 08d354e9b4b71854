"""Notifications by reference (issue 22): what a case hands its `notify_batch` activity (and a spoor 2 trajectory
its `notify`), which renders the text.

A `Notification` carries what its recipient reads twice, each time as whole sentences: the English `subject` and
`body`, and the same as msgids with their parameters (`subject_text`, `body_text`). In a two-year case's history
that was about half of all bytes, recorded once more with every reminder. A `NoticeRef` carries references
instead: the notice's kind, its id, the case, the step and its due date, the recipients' role and addresses, the
language (none: the worker's), and each text as the key of its template in `TEMPLATES` with only the parameters the
references do not give. The activity makes the notification again (`NoticeRef.notification`) and renders it with
the same msgids and the same catalogue, so the recipient reads the same words.

`TEMPLATES` only grows: a key once handed out may be in an activity still being retried on a newer worker (for up to
three days, workflows.common.NOTIFY_GIVE_UP). A msgid without a key travels whole: it costs bytes, never words.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from domain.messages import Text
from domain.models import Notification, Role

# The templates of the notices a case sends most, by key: (msgid, plural msgid). The msgids are those the domain
# writes (domain.case.time, domain.case.watch, domain.stagnation, domain.case.preflight): a key here whose msgid
# the domain no longer writes is kept for the activities still under way.
TEMPLATES: dict[str, tuple[str, str | None]] = {
    "reminder.subject": ("Case %(case)s: %(step)s is due %(due)s", None),
    "reminder.body": (
        "Reminder: the statutory step '%(step)s' (%(mark)s) of case %(case)s is due on %(due)s, in %(num)s day. "
        "Record it when done, or record a deviation with its reason.",
        "Reminder: the statutory step '%(step)s' (%(mark)s) of case %(case)s is due on %(due)s, in %(num)s days. "
        "Record it when done, or record a deviation with its reason.",
    ),
    "overdue.subject": ("Case %(case)s: %(step)s is overdue", None),
    "overdue.body": (
        "The statutory step '%(step)s' (%(mark)s) of case %(case)s was due on %(due)s and has not been recorded. "
        "Record it, or record a deviation with its reason.",
        None,
    ),
    "escalation.subject": ("Case %(case)s: escalation level %(level)s", None),
    "escalation.body": ("Case %(case)s stalls: %(detail)s. Escalation level %(level)s. %(advice)s", None),
    "escalation.body.raised": (
        "Case %(case)s stalls: %(detail)s. Escalation level %(level)s (was %(previous)s). %(advice)s",
        None,
    ),
    "escalation.advice.1": (
        "Check with the coach and the employee why nothing was recorded, and record the next step.",
        None,
    ),
    "escalation.advice.2": (
        "Talk with your employee about the re-integration and, where needed, involve the bedrijfsarts for advice "
        "on whether the employee can take part.",
        None,
    ),
    "escalation.advice.3": (
        "If the employee refuses to cooperate, you are expected to take measures that encourage cooperation, in "
        "this order: %(measures)s. Record each measure when you take it. Employer and employee may each ask UWV "
        "for a deskundigenoordeel.",
        None,
    ),
    "stall.expected": ("%(what)s was expected by %(day)s", None),
    "stall.overdue": ("the statutory step %(step)s is overdue", None),
    "stall.non_cooperation": ("non-cooperation of the employee recorded on %(day)s", None),
    "measure.subject": ("Case %(case)s: please take a measure", None),
    "measure.body": (
        "Case %(case)s: the employee does not cooperate with the re-integration. You are asked to take measure "
        "%(order)s of %(count)s: %(measure)s. Record it when taken.",
        None,
    ),
    "measure_reminder.subject": ("Case %(case)s: a requested measure is not yet recorded", None),
    "measure_reminder.body": (
        "Case %(case)s still stalls. The measure '%(measure)s' was requested on %(day)s and is not yet recorded. "
        "Record it when taken.",
        None,
    ),
    "resolved.subject": ("Case %(case)s: stagnation ended", None),
    "resolved.body": ("Case %(case)s: activity was recorded on %(day)s; the escalation (level %(level)s) ends.", None),
    "preflight.subject": (
        "Case %(case)s: dossier check week %(week)s, %(num)s gap",
        "Case %(case)s: dossier check week %(week)s, %(num)s gaps",
    ),
    "preflight.body": (
        "The dossier check of week %(week)s of case %(case)s found %(num)s gap that the re-integratieverslag will "
        "show UWV. Repair it while there is time (record the step, or a deviation with its reason):\n%(lines)s",
        "The dossier check of week %(week)s of case %(case)s found %(num)s gaps that the re-integratieverslag will "
        "show UWV. Repair them while there is time (record the step, or a deviation with its reason):\n%(lines)s",
    ),
    "preflight.line": ("- %(question)s %(label)s: %(detail)s", None),
    # A spoor 2 trajectory's own notices (domain.spoor2.time: a trajectory without the stagnation watch).
    "spoor2.subject": ("Case %(case)s: spoor 2 needs attention", None),
    "spoor2.body": ("Spoor 2 trajectory of case %(case)s: %(what)s.", None),
    "spoor2.intake_late": ("Intake not held in time (due by %(day)s)", None),
    "spoor2.phase_time_up": ("The time of the phase has passed (%(day)s) and the phase is not completed", None),
}
_KEYS = {template: key for key, template in TEMPLATES.items()}


class TextRef(BaseModel):
    """A `Text` by reference: `t` the key of its template in TEMPLATES (a key has no space; a msgid without a key
    travels as itself, with `pl` its plural), `n` the count a plural is chosen by, `p` the parameters the notice's
    references do not give."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    t: str
    pl: str | None = None
    n: int | None = None
    p: dict[str, RefParam] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> Any:
        return {k: v for k, v in handler(self).items() if v not in (None, {})}


# A parameter as it travels: plain values as they are (a date as its ISO text), texts by reference.
RefParam = Union[str, int, float, date, None, TextRef, list[TextRef]]  # noqa: UP007 - a forward reference
TextRef.model_rebuild()


class NoticeRef(BaseModel):
    """A notification by reference (see the module): what `Notification` carries, its texts by template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="The notification's stable id: each channel delivers it once")
    case: str
    kind: str
    role: Role
    to: list[str] = Field(default_factory=list, description="The role's addresses on the case; none: the defaults")
    step: str | None = Field(default=None, description="The deadline key of the statutory step it is about")
    due: date | None = None
    lang: str | None = Field(default=None, description="nl or en; none: the worker's SPOORWERK_LANGUAGE")
    subject: TextRef
    body: TextRef

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> Any:
        return {k: v for k, v in handler(self).items() if v not in (None, [])}

    def notification(self) -> Notification:
        """The notification again, as the case made it; `subject` and `body` are rendered from the texts when it is
        sent (activities.notify.localized), so they are left empty here."""
        given = _given(self.case, self.step, self.due)
        return Notification(
            notification_id=self.id,
            case_id=self.case,
            recipient_role=self.role,
            kind=self.kind,
            subject="",
            body="",
            deadline_key=self.step,
            due=self.due,
            recipients=list(self.to),
            subject_text=_text(self.subject, given),
            body_text=_text(self.body, given),
        )


def reference(note: Notification, *, lang: str | None = None) -> NoticeRef | Notification:
    """The notification by reference; one without its texts (none the domain makes now) goes as it is."""
    if note.subject_text is None or note.body_text is None:
        return note
    given = _given(note.case_id, note.deadline_key, note.due)
    return NoticeRef(
        id=note.notification_id,
        case=note.case_id,
        kind=note.kind,
        role=note.recipient_role,
        to=list(note.recipients),
        step=note.deadline_key,
        due=note.due,
        lang=lang,
        subject=_ref(note.subject_text, given),
        body=_ref(note.body_text, given),
    )


def _given(case_id: str, step: str | None, due: date | None) -> dict[str, object]:
    # The parameters a notice's references give: `mark` is the step's key where the step has one occurrence.
    return {"case": case_id, "due": due, "mark": step}


def _placeholders(msgid: str, plural: str | None) -> str:
    return msgid + (plural or "")


def _ref(message: Text, given: dict[str, object]) -> TextRef:
    where = _placeholders(message.msgid, message.plural)
    params: dict[str, RefParam] = {}
    for name, value in message.params.items():
        if name in given and value is not None and value == given[name] and f"%({name})s" in where:
            continue  # the reference gives it back
        if isinstance(value, Text):
            params[name] = _ref(value, given)
        elif isinstance(value, list):
            params[name] = [_ref(v, given) for v in value]
        else:
            params[name] = value
    key = _KEYS.get((message.msgid, message.plural))
    if key is not None:
        return TextRef(t=key, n=message.n, p=params)
    return TextRef(t=message.msgid, pl=message.plural, n=message.n, p=params)


def _text(ref: TextRef, given: dict[str, object]) -> Text:
    msgid, plural = TEMPLATES[ref.t] if ref.t in TEMPLATES else (ref.t, ref.pl)
    where = _placeholders(msgid, plural)
    params: dict[str, Any] = {}
    for name, value in ref.p.items():
        if isinstance(value, TextRef):
            params[name] = _text(value, given)
        elif isinstance(value, list):
            params[name] = [_text(v, given) for v in value]
        else:
            params[name] = value
    for name, known in given.items():
        if name not in params and known is not None and f"%({name})s" in where:
            params[name] = known
    return Text(msgid=msgid, plural=plural, n=ref.n, params=params)
