"""The statutory steps of a case as it sees them on a day: due, done, late, deviated from, overdue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from domain.case.state import CaseState, Deviation
from domain.clock import Clock, fixed_due, recurring_dues
from domain.models import AdConclusion, DeadlineStatus


class DeadlineView(BaseModel):
    """A statutory step as the case sees it today."""

    key: str
    label: str
    occurrence: int | None = None
    due: date | None
    status: DeadlineStatus
    done_on: date | None = None
    late: bool = False
    tracked: bool = True
    deviation: Deviation | None = None
    waived_because: str | None = None
    original_due: date | None = Field(default=None, description="The term before a deviation moved it")
    reason_after_term: bool = Field(default=False, description="Late against its term, with a reason given after it")

    @property
    def late_days(self) -> int | None:
        """Days after its (possibly moved) term the step was done; None when not late."""
        return (self.done_on - self.due).days if self.late and self.done_on and self.due else None

    @property
    def term(self) -> date:
        """`due` where the status implies one (overdue, passed, or open and remindable): never None there."""
        assert self.due is not None, f"{self.mark} has no term"
        return self.due

    @property
    def mark(self) -> str:
        """The id under which an overdue mark or a passed milestone is recorded once."""
        return self.key if self.occurrence is None else f"{self.key}#{self.occurrence}"


def wachttijd_end(state: CaseState) -> date | None:
    """The last day of the waiting time, after voluntary extension and any loonsanctie."""
    base = fixed_due(state.ruleset.deadline("einde_wachttijd"), state.clock, {})
    if base is None:
        return None
    end = base + timedelta(weeks=state.wage.voluntary_extension_weeks, days=state.wage.extension_days)
    sanction = state.wage.loonsanctie
    if sanction is not None:
        sanction_end = end + timedelta(weeks=sanction.weeks)
        if sanction.repair_accepted_on is not None:
            after_repair = sanction.repair_accepted_on + timedelta(
                weeks=state.ruleset.loonsanctie_ends_weeks_after_repair
            )
            end = max(end, min(sanction_end, after_repair))
        else:
            end = sanction_end
    return end


def _status(due: date | None, today: date, tracked: bool) -> DeadlineStatus:
    if due is None or today <= due:
        return DeadlineStatus.OPEN
    return DeadlineStatus.OVERDUE if tracked else DeadlineStatus.PASSED


# Everything of a state that `compute` (and what it calls) reads, besides the rule set and the day: a state with
# the same of these, the same rule set and the same day has the same deadlines. (`clock` is the periods, `done_dates`
# the done steps.) tests/domain/test_case_rules.py checks that `compute` reads no other field.
INPUTS: dict[str, Any] = {
    "periods": True,
    "done": True,
    "evaluations": True,
    "deviations": True,
    "wage": True,
    "closed_on": True,
    "holidays": True,
    "ad": {"conclusion": True},
}


def deadlines(state: CaseState, today: date) -> list[DeadlineView]:
    """Every statutory step with its due date and status as of `today`, in order of due date.

    Computed once for as long as what it depends on stays the same: a wake asks for them four or five times (the
    statutory tick, the watch, the summary for the search attributes, the next wake) and queries ask between
    wakes. The answer is kept with the state beside its inputs (`INPUTS`, the rule set, the day) and given again
    only while they are all equal, so an action or a signal that changes any of them is seen at the next call.
    The views are shared between the callers: read them, do not change them."""
    kept = state._deadlines
    ruleset = state.ruleset
    inputs = (today, state.model_dump_json(include=INPUTS))
    if kept.key is not None and kept.key[0] is ruleset and kept.key[1:] == inputs:
        return list(kept.value)
    views = compute(state, today)
    # The rule set is a frozen model, kept by identity: comparing its thirty-odd rules would cost what this saves.
    kept.key, kept.value = (ruleset, *inputs), views
    return list(views)


def compute(state: CaseState, today: date) -> list[DeadlineView]:
    """`deadlines`, computed anew."""
    as_of = min(today, state.closed_on) if state.closed_on else today
    clock = state.clock
    done = state.done_dates()
    views: list[DeadlineView] = []
    for rule in state.ruleset.deadlines:
        if rule.recurring:
            views.extend(_evaluation_views(state, rule, clock, done, as_of))
            continue
        if rule.key == "einde_wachttijd":
            due = wachttijd_end(state)
        else:
            due = fixed_due(rule, clock, done, state.holidays)
            if due is not None and rule.from_end:
                # Counted back from the end of the waiting time: a voluntary extension moves it too (WIA art. 24).
                due += timedelta(weeks=state.wage.voluntary_extension_weeks)
        view = DeadlineView(key=rule.key, label=rule.label, due=due, status=DeadlineStatus.OPEN, tracked=rule.tracked)
        step = state.done.get(rule.key)
        deviation = state.deviations.get(rule.key)
        if step is not None:
            _judge_done(state, view, step.on, deviation)
        elif deviation is not None:
            view.deviation = deviation
            if deviation.new_due is None:
                view.status, view.waived_because = DeadlineStatus.WAIVED, deviation.reason
            else:
                view.original_due, view.due = due, deviation.new_due
                view.status = _status(view.due, as_of, True)
        elif rule.key == "spoor2_start" and state.ad.conclusion in (
            AdConclusion.EIGEN_WERK,
            AdConclusion.ANDER_WERK_INTERN,
        ):
            view.status = DeadlineStatus.WAIVED
            view.waived_because = f"AD-onderzoek: {state.ad.conclusion.value}"
        else:
            view.status = _status(due, as_of, rule.tracked)
        views.append(view)
    return sorted(views, key=lambda v: (v.due is None, v.due or date.max, v.key))


def _judge_done(state: CaseState, view: DeadlineView, done_on: date, deviation: Deviation | None) -> None:
    """A done step: late or not against its term, and what a deviation excuses (Reg art. 5)."""
    view.status, view.done_on, view.deviation = DeadlineStatus.DONE, done_on, deviation
    due = view.due
    if deviation is not None and deviation.new_due is not None:
        view.original_due, view.due = due, deviation.new_due  # excused up to the new date, and no further
    waived_in_time = deviation is not None and deviation.new_due is None and not deviation.given_after_term
    view.late = view.due is not None and done_on > view.due and not waived_in_time
    view.reason_after_term = bool(
        deviation is not None and deviation.given_after_term and due is not None and done_on > due
    )


def _evaluation_views(state: CaseState, rule, clock: Clock, done: dict[str, date], as_of: date) -> list[DeadlineView]:
    held = [e.on for e in state.evaluations]
    dues = recurring_dues(rule, state.ruleset, clock, done, held, plan_ahead=False, holidays=state.holidays)
    views = []
    for n, due in enumerate(dues, start=1):
        view = DeadlineView(key=rule.key, label=rule.label, occurrence=n, due=due, status=DeadlineStatus.OPEN)
        if n <= len(held):
            _judge_done(state, view, held[n - 1], state.deviations.get(view.mark))
        else:
            if "reintegratieverslag" in state.done:
                break  # the eindevaluatie of the re-integratieverslag closes the cycle
            deviation = state.deviations.get(view.mark)
            if deviation is not None:
                view.deviation = deviation
                if deviation.new_due is None:
                    view.status, view.waived_because = DeadlineStatus.WAIVED, deviation.reason
                    views.append(view)
                    continue
                view.original_due, view.due = view.due, deviation.new_due
            view.status = _status(view.due, as_of, True)
        views.append(view)
    return views


def next_deadline(views: list[DeadlineView]) -> DeadlineView | None:
    """The earliest open tracked step with a due date."""
    open_ = [v for v in views if v.tracked and v.status is DeadlineStatus.OPEN and v.due is not None]
    return min(open_, key=lambda v: v.term, default=None)


def current_view(state: CaseState, key: str, today: date) -> DeadlineView | None:
    """The open occurrence of a step (the next one, for a recurring step)."""
    views = [v for v in deadlines(state, today) if v.key == key]
    pending = [v for v in views if v.status is not DeadlineStatus.DONE]
    return pending[0] if pending else (views[-1] if views else None)
