"""The passing of time on a case: overdue marks, milestones, closing, reminders and escalation, pre-flight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from domain import observations as obs
from domain import stagnation as st
from domain.case.deadlines import DeadlineView, deadlines
from domain.case.documents import next_progress_report
from domain.case.facts import backfilling
from domain.case.preflight import next_preflight, preflight
from domain.case.stages import close_case, set_stage
from domain.case.state import CaseState, MorningRound
from domain.case.watch import expectation, notice, remindable, watch_tick
from domain.messages import N_, text
from domain.models import SYSTEM, DeadlineStatus, Notification, Outcome, Role, Stage
from domain.nl_time import clocks_change, start_of_day
from domain.nl_time import wall_clock as nl_wall_clock


def tick(
    state: CaseState,
    *,
    today: date,
    now: datetime,
    in_order: bool = False,
    morning: Callable[[], bool | None] | None = None,
    wall_clock: Callable[[], bool] | None = None,
) -> list[Notification]:
    """Apply the passing of time up to `today`: overdue marks, milestones, closing, reminders and the
    escalation ladder, the pre-flight. Idempotent. Returns the notifications to send.

    `in_order` (the workflow's patch `catch-up`): what a late wake (a worker down for days) takes at
    once is recorded in the order of its dates, and a ladder step a later one replaces notifies no one.
    `morning` (the workflow's patch `morning-notices`), given at a wake by the clock alone (no action, signal or
    opening) and asked only when the clock did something before the morning round could have begun: None when the run
    sends the clock's notices at once; else whether its morning round is spread (patch `morning-spread`). The notices
    the clock raises before the case's minute of the morning round then wait for it in `state.morning`
    (MorningRound), as does the write of the facts they come with; so do the notices of the trajectory's clock
    (`clock_outbox`: its flags of the night, which reach the case by a report, not by its own timer). Whatever waits
    goes at its minute, or at once at the first wake that is not the clock's alone or finds something recorded since
    it began to wait (but by the trajectory's clock), to the role's contacts as they are then. `wall_clock`: see
    `morning_of`.
    """
    was_closed = state.closed
    first_new = len(state.dossier)
    waiting, state.morning = state.morning, None
    earlier: list[Notification] = []
    until: datetime | None = None
    if waiting is not None:
        # To the role's contacts as they are now: an address changed in the night gets them, one removed does not.
        earlier = [
            n.model_copy(update={"recipients": state.people.contacts.get(n.recipient_role, [])})
            for n in waiting.notices
        ]
        if morning is not None and now < waiting.until and len(state.dossier) == waiting.dossier_length:
            until = waiting.until  # a wake by the clock alone, before their minute: its clock work waits with them
        # else their minute came, something was recorded since they were raised, or the wake was not the clock's alone
        # (an action, a signal): they go now, first
    # The trajectory's clock's notices (its flags of the night) are the clock's work too.
    notes, state.clock_outbox = state.clock_outbox, []
    notes += _statutory_tick(state, today=today, now=now)
    if state.escalation is not None and not was_closed:
        notes += watch_tick(state, today=today, now=now, in_order=in_order)
    if state.documents.rules is not None and not was_closed:
        notes += preflight(state, today=today, now=now)
    if in_order:
        _in_date_order(state, first_new)
    clock_worked = bool(notes) or len(state.dossier) > first_new
    # `morning` is asked only before the latest this case's morning round can be (its own minute; a run that does not
    # spread has it at WATCH_HOUR, earlier): a wake after it holds nothing, and a run of an older release writes no
    # marker of `morning-notices` for it. Finding that moment asks `wall_clock` on a day the clocks change, at any wake
    # by the clock with work to hold (a run of release 12 or older then writes the marker of `morning-wall-clock`).
    if (
        waiting is None
        and clock_worked
        and morning is not None
        and now < morning_of(state.case_id, today, spread=True, wall_clock=wall_clock)
    ):
        spread = morning()
        if spread is not None and now < (at := morning_of(state.case_id, today, spread=spread, wall_clock=wall_clock)):
            until = at
    notes = earlier + notes
    if until is not None and not state.closed and not state.outbox:
        state.morning = MorningRound(until=until, dossier_length=len(state.dossier), notices=notes)
        notes = []
    notes += state.outbox
    state.outbox = []
    return notes


def morning_of(case_id: str, day: date, *, spread: bool, wall_clock: Callable[[], bool] | None = None) -> datetime:
    """The moment of the case's morning round on `day`: its own minute of the window when `spread` (the workflow's
    patch `morning-spread`, domain.stagnation.morning_minute), else WATCH_HOUR sharp.

    By Amsterdam's clocks when `wall_clock` says so (the workflow's patch `morning-wall-clock`, asked only when `day`
    is one of the two days a year the clocks change; `next_wake` may ask it days before): before it, the round was
    counted in hours from midnight, so on those Sundays it began at 07:00 in March and 05:00 in October."""
    after = timedelta(hours=st.WATCH_HOUR, minutes=st.morning_minute(case_id) if spread else 0)
    if wall_clock is not None and clocks_change(day) and wall_clock():
        return nl_wall_clock(day, after)
    return start_of_day(day) + after


def _in_date_order(state: CaseState, first_new: int) -> None:
    """Put the entries one tick recorded in the order of their dates (stable), numbered anew.

    They are the system's own entries (no action ids), so no idempotency key points at their numbers.
    """
    new = sorted(state.dossier[first_new:], key=lambda e: e.on)
    for n, entry in enumerate(new, start=first_new + 1):
        entry.seq = n
    state.dossier[first_new:] = new


def _statutory_tick(state: CaseState, *, today: date, now: datetime) -> list[Notification]:
    if state.closed:
        return []
    notes: list[Notification] = []
    recovered = state.recovered_on
    if recovered is not None:
        closes = recovered + timedelta(days=state.ruleset.four_week_rule_days)
        if today >= closes:
            close_case(state, Outcome.HERSTELD, on=closes, now=now, summary="No relapse within four weeks of recovery")
            return []
    for view in deadlines(state, today):
        if view.status is DeadlineStatus.OVERDUE and view.mark not in state.overdue_marked:
            if backfilling(state, view, today):
                continue
            state.overdue_marked.append(view.mark)
            state.log(
                now=now,
                on=view.term + timedelta(days=1),
                actor=SYSTEM,
                kind=obs.OVERDUE,
                summary=f"{view.mark} overdue: it was due {view.due}",
                details={"key": view.key, "occurrence": view.occurrence, "due": view.term.isoformat()},
            )
            if obs.notified_before(state.dossier, view.mark, view.term):
                continue  # the same term was observed and notified before a record disproved it: once is enough
            notes.append(
                Notification(
                    notification_id=f"{state.case_id}:overdue:{view.mark}:{view.due}",
                    case_id=state.case_id,
                    recipient_role=Role.CASEMANAGER,
                    recipients=state.people.contacts.get(Role.CASEMANAGER, []),
                    kind="deadline_overdue",
                    subject=f"Case {state.case_id}: {view.label} is overdue",
                    body=(
                        f"The statutory step '{view.label}' ({view.mark}) of case {state.case_id} "
                        f"was due on {view.due} and has not been recorded. Record it, or record a "
                        "deviation with its reason."
                    ),
                    subject_text=text(N_("Case %(case)s: %(step)s is overdue"), case=state.case_id, step=view.label),
                    body_text=text(
                        N_(
                            "The statutory step '%(step)s' (%(mark)s) of case %(case)s was due on %(due)s "
                            "and has not been recorded. Record it, or record a deviation with its reason."
                        ),
                        step=view.label,
                        mark=view.mark,
                        case=state.case_id,
                        due=view.due,
                    ),
                    deadline_key=view.key,
                    due=view.due,
                )
            )
        elif view.status is DeadlineStatus.PASSED and view.mark not in state.milestones_passed:
            state.milestones_passed.append(view.mark)
            on = view.term + timedelta(days=1)
            if view.key == "einde_wachttijd":
                if awaiting_wia_aanvraag(state):
                    state.milestones_passed.remove(view.mark)  # it closes once the aanvraag is on record
                    notes += _ended_without_wia(state, view, now=now)
                    continue
                close_case(state, Outcome.EINDE_WACHTTIJD, on=view.term, now=now, summary="End of the waiting time")
                return notes
            state.log(now=now, on=on, actor=SYSTEM, kind="milestone_passed", summary=f"{view.label}: {view.due}")
            if view.key == "wia_brief_uwv" and state.stage in (Stage.SPOOR1, Stage.AD_ONDERZOEK, Stage.ZIEKMELDING):
                set_stage(state, Stage.WIA, on=on, now=now, actor=SYSTEM)
    return notes


def awaiting_wia_aanvraag(state: CaseState) -> bool:
    """The waiting time ended without a WIA aanvraag on record, so the case does not close as if
    all were well: the employer's wage payment goes on while the aanvraag is late (BW 7:629 lid 11 sub a)."""
    return (
        "wia_aanvraag" in state.ruleset.keys
        and "wia_aanvraag" not in state.done
        and "wia_aanvraag" not in state.deviations
    )


_WITHOUT_WIA = "einde_wachttijd:zonder_wia_aanvraag"


def _ended_without_wia(state: CaseState, view: DeadlineView, *, now: datetime) -> list[Notification]:
    """Recorded and notified once: the end of the waiting time passed with no WIA aanvraag on record."""
    if _WITHOUT_WIA in state.milestones_passed:
        return []
    state.milestones_passed.append(_WITHOUT_WIA)
    on = view.term + timedelta(days=1)
    state.log(
        now=now,
        on=on,
        actor=SYSTEM,
        kind="wachttijd_ended_without_wia_aanvraag",
        summary=f"The waiting time ended on {view.due} with no WIA aanvraag on record: the case stays open; "
        "a late aanvraag by the employer's doing extends the wage payment by the delay",
        details={"due": view.term.isoformat()},
    )
    body = (
        f"The waiting time of case {state.case_id} ended on {view.due}, but no WIA aanvraag is on record. Record "
        "it (wia_aanvraag_filed, with late_cause): if the delay is the employer's doing, the wage payment runs on "
        "by the delay (BW 7:629 lid 11 sub a)."
    )
    body_text = text(
        N_(
            "The waiting time of case %(case)s ended on %(due)s, but no WIA aanvraag is on record. Record "
            "it (wia_aanvraag_filed, with late_cause): if the delay is the employer's doing, the wage "
            "payment runs on by the delay (BW 7:629 lid 11 sub a)."
        ),
        case=state.case_id,
        due=view.due,
    )
    return [
        notice(
            state,
            role,
            key=_WITHOUT_WIA,
            kind="wachttijd_ended_without_wia_aanvraag",
            subject=f"Case {state.case_id}: waiting time ended without a WIA aanvraag",
            body=body,
            subject_text=text(N_("Case %(case)s: waiting time ended without a WIA aanvraag"), case=state.case_id),
            body_text=body_text,
        )
        for role in (Role.CASEMANAGER, Role.WERKGEVER)
    ]


def next_wake(
    state: CaseState, today: date, *, spread: bool = False, wall_clock: Callable[[], bool] | None = None
) -> datetime | None:
    """The next instant at which time alone changes the case (a deadline, reminder or window).

    `spread` (the workflow's patch `morning-spread`): the morning round at the case's own minute of the window
    (domain.stagnation.morning_minute), not at WATCH_HOUR sharp for every case; `wall_clock`: see `morning_of`."""
    if state.closed:
        return None
    days: list[date] = []
    views = deadlines(state, today)
    for view in views:
        if view.status is DeadlineStatus.OPEN and view.due is not None:
            days.append(view.due + timedelta(days=1))
        elif view.status is DeadlineStatus.OVERDUE and backfilling(state, view, today):
            assert state.opened_on is not None  # backfilling needs the opening day
            days.append(state.opened_on + timedelta(days=state.ruleset.backfill_days))
    if state.recovered_on is not None:
        days.append(state.recovered_on + timedelta(days=state.ruleset.four_week_rule_days))
    wake = start_of_day(min(days)) if days else None
    if state.escalation is not None:
        leads = state.escalation.rules.reminders.lead_days
        watch_days = [st.next_reminder_day(leads, view.term, today) for view in remindable(views)]
        watch_days.append(st.next_wake_day(state.escalation.watch, expectation(state), today))
    else:
        watch_days = []
    if state.documents.rules is not None:
        # The pre-flight and the monthly voortgangsrapportage go in the same morning round.
        watch_days += [next_preflight(state), next_progress_report(state, today)]
    if watch_days:
        later = [d for d in watch_days if d is not None and d > today]
        if later:
            # Reminders and escalations go out in the morning, and apart from the statutory clock's
            # and the trajectory's midnight timers (which may change the same watch).
            morning = morning_of(state.case_id, min(later), spread=spread, wall_clock=wall_clock)
            wake = morning if wake is None else min(wake, morning)
    if state.morning is not None:  # the night's notices wait for the morning round
        wake = state.morning.until if wake is None else min(wake, state.morning.until)
    return wake
