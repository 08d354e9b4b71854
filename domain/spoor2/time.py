"""The passing of time on a trajectory: late intake, phase time up, the wider search; what it expects next."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import BaseModel

from domain import glossary
from domain.messages import N_, Text, text
from domain.models import (
    SYSTEM,
    Notification,
    Role,
)
from domain.spoor2.state import ActivityKind, Spoor2Status, TrajectoryState, TrajectoryUpdate
from domain.stagnation import Expectation, spoor2_watch


class Flag(BaseModel):
    """Something time alone raised on the trajectory, for the case manager."""

    kind: str
    summary: str
    due: date


def tick(state: TrajectoryState, *, today: date, now: datetime) -> list[Flag]:
    """Apply the passing of time up to `today`: late intake, phase time up, wider search. Idempotent."""
    if state.ended:
        return []
    flags: list[Flag] = []
    intake_due = intake_due_on(state)
    if intake_due is not None and state.intake_on is None and today > intake_due and not state.intake_late_flagged:
        state.intake_late_flagged = True
        flags.append(
            Flag(
                kind="intake_late",
                due=intake_due,
                summary=f"Intake not held within {state.rules.intake_within_days} days of complete documents (due {intake_due})",
            )
        )
    current = state.current_phase
    if current is not None and not state.paused and not current.time_up_flagged:
        ends = current.ends_on(state.rules.phase_rule(current.number))
        if today > ends:
            current.time_up_flagged = True
            flags.append(
                Flag(
                    kind="phase_time_up",
                    due=ends,
                    summary=f"Phase {current.number}'s time was up on {ends} and it is not completed; it is not extended",
                )
            )
    entries: list[tuple[date, str, str, dict]] = []
    widen = state.started_on + timedelta(weeks=state.rules.widen_search_after_weeks)
    if state.search_widened_on is None and today >= widen:
        state.search_widened_on = widen
        entries.append(
            (
                widen,
                "search_widened",
                "Six months in spoor 2: the zoekprofiel now includes work below the employee's level",
                {},
            )
        )
    entries += [(f.due + timedelta(days=1), f.kind, f.summary, {"due": f.due.isoformat()}) for f in flags]
    # In the order of their dates: a trajectory that wakes late (its worker was down) may take several at once.
    for on, kind, summary, details in sorted(entries, key=lambda e: e[0]):
        state.log(now=now, on=on, actor=SYSTEM, kind=kind, summary=summary, details=details)
    return flags


# What a flag says to the case manager, translated when the notice is sent (the dossier's own words for it:
# documents.dossier_text uses the same msgids).
_FLAG_TEXTS = {
    "intake_late": N_("Intake not held in time (due by %(day)s)"),
    "phase_time_up": N_("The time of the phase has passed (%(day)s) and the phase is not completed"),
}


def flag_subject(case_id: str) -> Text:
    """The subject of a flag's notice."""
    return text(N_("Case %(case)s: spoor 2 needs attention"), case=case_id)


def flag_body(case_id: str, kind: str, due: date | str | None) -> Text:
    """The body of a flag's notice: what the trajectory's record says about it."""
    what = text(_FLAG_TEXTS[kind], day=due) if kind in _FLAG_TEXTS else text(glossary.entry_label(kind))
    return text(N_("Spoor 2 trajectory of case %(case)s: %(what)s."), case=case_id, what=what)


def notification(case_id: str, flag: Flag) -> Notification:
    """The case manager's notice of a flag; its id makes a retried send deliver once."""
    return Notification(
        notification_id=f"{case_id}:spoor2:{flag.kind}:{flag.due}",
        case_id=case_id,
        recipient_role=Role.CASEMANAGER,
        kind=f"spoor2_{flag.kind}",
        subject=f"Case {case_id}: spoor 2 needs attention",
        body=f"Spoor 2 trajectory of case {case_id}: {flag.summary}.",
        due=flag.due,
        subject_text=flag_subject(case_id),
        body_text=flag_body(case_id, flag.kind, flag.due),
    )


def expectation(state: TrajectoryState) -> Expectation | None:
    """The activity the trajectory expects next and the last day for it; None when nothing is
    (ended, paused with the bedrijfsarts's consent, or a trajectory without the watch)."""
    if state.watch is None or state.ended or state.paused:
        return None
    status = state.status
    last = max((e.on for e in state.record if e.actor.role is not Role.SYSTEEM), default=state.started_on)
    current = state.current_phase
    if current is not None:
        rule = state.rules.phase_rule(current.number)
        held = sum(1 for a in state.activities if a.phase == current.number and a.activity is ActivityKind.CONVERSATION)
        gap = rule.gap_after(held)
        return Expectation(
            what=f"a conversation with the coach or other activity (phase {current.number}: every {gap} days)",
            what_text=text(
                N_("a conversation with the coach or other activity (phase %(phase)s: every %(days)s days)"),
                phase=current.number,
                days=gap,
            ),
            by=last + timedelta(days=gap),
            context=f"spoor2:fase{current.number}",
        )
    w = spoor2_watch(state.watch, status.value)
    if w is None:
        return None
    if w.within_days is not None:
        by = last + timedelta(days=w.within_days)
    elif status is Spoor2Status.INTAKE:
        intake_by = intake_due_on(state)
        assert intake_by is not None  # the INTAKE status: the documents are complete
        by = intake_by
    else:
        return None
    return Expectation(what=w.expects, by=by, context=f"spoor2:{status.value}")


def intake_due_on(state: TrajectoryState) -> date | None:
    if state.documents_complete_on is None:
        return None
    return state.documents_complete_on + timedelta(days=state.rules.intake_within_days)


def next_wake_day(state: TrajectoryState) -> date | None:
    """The next day on which time alone changes the trajectory."""
    if state.ended:
        return None
    days: list[date] = []
    due = intake_due_on(state)
    if due is not None and state.intake_on is None and not state.intake_late_flagged:
        days.append(due + timedelta(days=1))
    current = state.current_phase
    if current is not None and not state.paused and not current.time_up_flagged:
        days.append(current.ends_on(state.rules.phase_rule(current.number)) + timedelta(days=1))
    if state.search_widened_on is None:
        days.append(state.started_on + timedelta(weeks=state.rules.widen_search_after_weeks))
    return min(days) if days else None


def update_for_case(state: TrajectoryState, since: int, *, by_clock: bool = False) -> TrajectoryUpdate:
    """The trajectory's status and the record entries after the first `since`; `by_clock` when they are its clock's
    alone (a wake by its timer, no action or signal since its last report)."""
    current = state.current_phase
    return TrajectoryUpdate(
        status=state.status,
        phase=current.number if current else None,
        outcome=state.outcome,
        ended_on=state.ended_on,
        events=state.record[since:],
        expectation=expectation(state),
        coach_id=state.coach_id,
        by_clock=by_clock,
    )
