"""The stagnation watch on a case: what it expects, its reminders and escalation, and the notices they send."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain import stagnation as st
from domain.case.deadlines import DeadlineView, deadlines
from domain.case.facts import backfilling
from domain.case.state import CaseState
from domain.messages import N_, Text, ngettext, text
from domain.models import SYSTEM, DeadlineStatus, DossierEntry, Notification, Role
from domain.stagnation import Expectation


def expectation(state: CaseState) -> Expectation | None:
    """The activity the case expects next and by when; the running trajectory's own while it runs."""
    if state.escalation is None or state.closed or state.recovered_on is not None or state.on_leave:
        return None
    watch, rules = state.escalation.watch, state.escalation.rules
    if state.spoor2_running:
        return state.spoor2.expectation
    w = rules.stage_watch(state.stage.value)
    if w is None:
        return None
    return Expectation(
        what=w.expects, by=watch.last_activity_on + timedelta(days=w.within_days), context=state.stage.value
    )


def remindable(views: list[DeadlineView]) -> list[DeadlineView]:
    return [v for v in views if v.tracked and v.status is DeadlineStatus.OPEN and v.due is not None]


def notice(
    state: CaseState,
    role: Role,
    *,
    key: str,
    kind: str,
    subject: str,
    body: str,
    deadline_key: str | None = None,
    due: date | None = None,
    subject_text: Text | None = None,
    body_text: Text | None = None,
) -> Notification:
    """A notification to a role on this case, at the role's contacts; `key` makes its id stable. `subject_text`
    and `body_text` are what the recipient reads, translated when it is sent (domain.messages)."""
    return Notification(
        notification_id=f"{state.case_id}:{key}:{role.value}",
        case_id=state.case_id,
        recipient_role=role,
        recipients=state.people.contacts.get(role, []),
        kind=kind,
        subject=subject,
        body=body,
        deadline_key=deadline_key,
        due=due,
        subject_text=subject_text,
        body_text=body_text,
    )


def _reminder_roles(state: CaseState, key: str) -> list[Role]:
    """Who is reminded of a step: whoever takes it (per the rule set), and the case manager."""
    actor = state.ruleset.deadline(key).actor
    roles = [Role(actor)] if actor in {r.value for r in Role} and actor not in (Role.UWV, Role.CASEMANAGER) else []
    return [*roles, Role.CASEMANAGER]


def watch_tick(state: CaseState, *, today: date, now: datetime, in_order: bool = False) -> list[Notification]:
    """Reminders before the statutory terms, and the escalation ladder of a stall."""
    assert state.escalation is not None  # tick: only a watched case
    watch, rules = state.escalation.watch, state.escalation.rules
    if state.closed:
        assert state.closed_on is not None  # a closed case has its closing day
        step = st.close(watch, state.closed_on)
        if step is not None:
            state.log(now=now, on=step.on, actor=SYSTEM, kind=step.kind, summary=step.summary, details=step.details)
        return []
    notes: list[Notification] = []
    views = deadlines(state, today)
    leads = rules.reminders.lead_days
    sent = set(watch.reminders_sent)  # once per wake: it grows with every step of two years
    for view in remindable(views):
        due = view.term
        lead = st.reminder_due(leads, due, today, sent, view.mark)
        if lead is None:
            continue
        # The longer leads are spent too: a late reminder does not send the stale ones after it.
        spent = [st.reminder_key(view.mark, due, n) for n in leads if n >= lead]
        watch.reminders_sent += [key for key in spent if key not in sent]
        sent.update(spent)
        days = (due - today).days
        state.log(
            now=now,
            on=today,
            actor=SYSTEM,
            kind="reminder_sent",
            summary=f"Reminder: {view.label} ({view.mark}) is due {due}, in {days} days",
            details={"key": view.key, "occurrence": view.occurrence, "due": due.isoformat(), "lead_days": lead},
        )
        for role in _reminder_roles(state, view.key):
            notes.append(
                notice(
                    state,
                    role,
                    key=f"reminder:{st.reminder_key(view.mark, due, lead)}",
                    kind="deadline_reminder",
                    subject=f"Case {state.case_id}: {view.label} is due {due}",
                    body=(
                        f"Reminder: the statutory step '{view.label}' ({view.mark}) of case {state.case_id} is due on "
                        f"{due}, in {days} days. Record it when done, or record a deviation with its reason."
                    ),
                    deadline_key=view.key,
                    due=due,
                    subject_text=text(
                        N_("Case %(case)s: %(step)s is due %(due)s"), case=state.case_id, step=view.label, due=due
                    ),
                    body_text=ngettext(
                        "Reminder: the statutory step '%(step)s' (%(mark)s) of case %(case)s is due on "
                        "%(due)s, in %(num)s day. Record it when done, or record a deviation with its reason.",
                        "Reminder: the statutory step '%(step)s' (%(mark)s) of case %(case)s is due on "
                        "%(due)s, in %(num)s days. Record it when done, or record a deviation with its "
                        "reason.",
                        days,
                        step=view.label,
                        mark=view.mark,
                        case=state.case_id,
                        due=due,
                    ),
                )
            )
    overdue = [
        (v.mark, v.term + timedelta(days=1))
        for v in views
        if v.status is DeadlineStatus.OVERDUE and not backfilling(state, v, today)
    ]
    stall = st.find_stall(watch, expectation(state), overdue, today)
    coach = state.spoor2_running
    steps = st.advance(watch, rules, stall, today, case_id=state.case_id, coach=coach)
    if in_order:
        st.drop_replaced_notices(steps)
    for step in steps:
        state.log(now=now, on=step.on, actor=SYSTEM, kind=step.kind, summary=step.summary, details=step.details)
        for role in step.notify:
            notes.append(
                notice(
                    state,
                    role,
                    key=step.note_key,
                    kind=step.kind,
                    subject=step.subject,
                    body=step.body,
                    subject_text=step.subject_text,
                    body_text=step.body_text,
                )
            )
    return notes


def notification_failed(
    state: CaseState, note: Notification, channel: str, reason: str, *, today: date, now: datetime
) -> DossierEntry:
    """A notification a channel could not deliver (bad address, refused): on the dossier; the case goes on."""
    return state.log(
        now=now,
        on=today,
        actor=SYSTEM,
        kind="notification_failed",
        summary=f"Notification '{note.kind}' to the {note.recipient_role.value} not delivered ({channel}): {reason}",
        details={"notification_id": note.notification_id, "channel": channel, "reason": reason},
    )
