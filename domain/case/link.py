"""The case and its spoor 2 trajectory: the trajectory started, its record copied into the dossier, its outcome followed."""

from __future__ import annotations

from datetime import datetime

from domain import stagnation as st
from domain.case.deadlines import wachttijd_end
from domain.case.stages import close_case, set_stage
from domain.case.state import CaseState, Spoor2Result
from domain.case.watch import notice
from domain.models import SYSTEM, DossierEntry, Notification, Outcome, Role, Stage
from domain.spoor2.state import Spoor2Outcome, Spoor2Status, TrajectoryUpdate
from domain.spoor2.time import flag_body, flag_subject

# Trajectory record entries the case manager is notified of through the case's watch.
TRAJECTORY_FLAGS = frozenset({"intake_late", "phase_time_up"})


# What the case does when its trajectory ends with an outcome.
_CASE_RESULT = {
    Spoor2Outcome.NIEUW_WERK: Spoor2Result.NIEUW_WERK,
    Spoor2Outcome.DETACHERING: Spoor2Result.DETACHERING,
    Spoor2Outcome.WERKRITMEPLAATS: Spoor2Result.WERKRITMEPLAATS,
    Spoor2Outcome.GEEN_RESULTAAT: Spoor2Result.GEEN_RESULTAAT,
    Spoor2Outcome.NO_GO: Spoor2Result.NO_GO,
}


def trajectory_started(state: CaseState) -> None:
    """The trajectory workflow runs; the case no longer needs to start it."""
    state.spoor2.trajectory_started = True
    state.spoor2.status = state.spoor2.status or Spoor2Status.AANMELDING


def end_trajectory_with_case(state: CaseState, *, now: datetime) -> bool:
    """A case that closed while its trajectory ran ends spoor 2 on the closing day; True if it did."""
    if not (state.closed and state.spoor2.trajectory_started and state.spoor2.ended_on is None):
        return False
    state.spoor2.ended_on = state.closed_on
    state.spoor2.status, state.spoor2.phase = Spoor2Status.BEEINDIGD, None
    assert state.closed_on is not None  # a closed case has its closing day
    state.log(
        now=now,
        on=state.closed_on,
        actor=SYSTEM,
        kind="spoor2_ended_with_case",
        summary="The spoor 2 trajectory ends with the case",
    )
    return True


def apply_trajectory_update(state: CaseState, update: TrajectoryUpdate, *, now: datetime) -> bool:
    """Copy the trajectory's new record entries into the dossier and follow its outcome.

    Entries already seen (a re-sent update) are skipped, so the dossier gets each once. Returns
    whether the case changed.
    """
    fresh = [e for e in update.events if e.seq > state.spoor2.entries_seen]
    unchanged = (update.status, update.phase, update.expectation) == (
        state.spoor2.status,
        state.spoor2.phase,
        state.spoor2.expectation,
    )
    if not fresh and unchanged:
        return False
    before = len(state.dossier)
    for e in fresh:
        copy = state.log(
            now=now,
            on=e.on,
            actor=e.actor,
            kind=f"spoor2:{e.kind}",
            summary=e.summary,
            action_id=e.action_id,
            details={**e.details, "trajectory_seq": e.seq},
            register=False,
        )
        state.spoor2.entries_seen = e.seq
        if state.escalation is not None:
            _watch_trajectory_entry(state, e, copy.seq, state.clock_outbox if update.by_clock else state.outbox)
    if update.by_clock and state.morning is not None and state.morning.dossier_length == before:
        # The trajectory's clock recorded them, not a person: what waits for the morning round waits on (unless a
        # record came before them, which sends it).
        state.morning.dossier_length = len(state.dossier)
    state.spoor2.status, state.spoor2.phase = update.status, update.phase
    state.spoor2.coach_id = update.coach_id or state.spoor2.coach_id
    if state.escalation is not None:
        state.spoor2.expectation = update.expectation
    outcome = update.outcome
    if outcome is None or state.spoor2.ended_on is not None or state.closed:
        return True
    on = update.ended_on or (fresh[-1].on if fresh else now.date())
    state.spoor2.ended_on = on
    if outcome is Spoor2Outcome.CASE_CLOSED:
        return True
    state.spoor2.result = _CASE_RESULT[outcome]
    if outcome is Spoor2Outcome.NIEUW_WERK:
        close_case(
            state,
            Outcome.NIEUW_WERK,
            on=on,
            now=now,
            summary="Spoor 2: the employee starts work with a new employer (hersteldmelding); the case closes",
        )
    elif outcome in (Spoor2Outcome.DETACHERING, Spoor2Outcome.WERKRITMEPLAATS):
        state.log(
            now=now,
            on=on,
            actor=SYSTEM,
            kind="spoor2_outcome",
            summary=f"Spoor 2: {outcome.value} until the end of the waiting time ({wachttijd_end(state)})",
            details={"outcome": outcome.value},
        )
    else:
        state.log(
            now=now,
            on=on,
            actor=SYSTEM,
            kind="spoor2_outcome",
            summary=f"Spoor 2 ended ({outcome.value}); the trajectory's record goes with the WIA application",
            details={"outcome": outcome.value},
        )
        set_stage(state, Stage.WIA, on=on, now=now, actor=SYSTEM)
    return True


def hand_over(state: CaseState) -> None:
    """Before a run continues as new: the trajectory's clock's notices that no tick has taken yet (reported while the
    run handed over) go into the next run to be sent at once, as a person's report's. A worker of older code in a
    rolling update knows `outbox`, not `clock_outbox`."""
    state.outbox += state.clock_outbox
    state.clock_outbox = []


def _watch_trajectory_entry(state: CaseState, e: DossierEntry, seq: int, outbox: list[Notification]) -> None:
    """A trajectory entry seen by the watch: a person's step is activity; a flag is for the case manager (in
    `outbox`: the case's, or the one its tick may hold for the morning round when the trajectory's clock raised it)."""
    if e.actor.role is not Role.SYSTEEM:
        assert state.escalation is not None
        st.activity(state.escalation.watch, on=e.on, seq=seq)
    if e.kind in TRAJECTORY_FLAGS:
        outbox.append(
            notice(
                state,
                Role.CASEMANAGER,
                key=f"spoor2:{e.kind}:{e.details.get('due')}",
                kind=f"spoor2_{e.kind}",
                subject=f"Case {state.case_id}: spoor 2 needs attention",
                body=f"Spoor 2 trajectory of case {state.case_id}: {e.summary}.",
                subject_text=flag_subject(state.case_id),
                body_text=flag_body(state.case_id, e.kind, e.details.get("due")),
            )
        )
