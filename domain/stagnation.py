"""Stagnation: noticing that a case stalls, and the escalation ladder that follows.

A case stalls when the activity its stage expects is not recorded in time (`Expectation`), when a
tracked statutory step is overdue, when the coach reports stagnation, or when the employee's
non-cooperation is recorded. The ladder then climbs on its own (DOMAIN.md "Stagnation and
escalation", seed 004): 1 signals the coach and case manager, 2 alerts the employer with the advice
to talk with the employee and involve the bedrijfsarts, 3 asks the employer for measures in their
fixed order and offers the deskundigenoordeel. New activity ends it.

Pure and independent of the case: `advance` changes the `Watch` and returns `Step`s that the case
records in its dossier and turns into notifications.
"""

from __future__ import annotations

import hashlib
import tomllib
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain import glossary
from domain.messages import N_, Text, text
from domain.models import Actor, Role

TOP_LEVEL = 3
# The hour (Amsterdam) at which the watch's morning round (reminders and ladder steps) begins.
WATCH_HOUR = 6
# The morning round is spread over this many minutes from WATCH_HOUR, each case at a minute of its own
# (`morning_minute`): 10,000 cases then wake about 80 a minute rather than all at 06:00, a steady load on the
# Temporal server, the workers and the mail server instead of a spike (issue 22). Two hours, so that every reminder
# and escalation is in by 08:00, before the working day. The day of a reminder, a due date or a statutory term does
# not move: only the moment in the morning at which the case looks.
MORNING_WINDOW_MINUTES = 120

# --------------------------------------------------------------------------- rules as data


class Measure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    label: str


class StageWatch(BaseModel):
    """What a stage of the case expects, within how many days of the last activity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    expects: str
    within_days: int = Field(ge=1)


class Spoor2Watch(BaseModel):
    """What a status of a spoor 2 trajectory expects; no `within_days` where its own rule applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: str
    expects: str
    within_days: int | None = Field(default=None, ge=1)


class Ladder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level2_after_days: int = Field(ge=1)
    level3_after_days: int = Field(ge=1)
    measure_interval_days: int = Field(ge=1)
    acknowledgement_holds_days: int = Field(ge=1)


class Reminders(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lead_days: tuple[int, ...] = Field(description="Days before a deadline; each reminds once")


class StagnationRules(BaseModel):
    """domain/stagnation.toml: what each stage expects, the ladder, the measures, the reminders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reminders: Reminders
    ladder: Ladder
    measure: tuple[Measure, ...] = Field(min_length=1)
    stage: tuple[StageWatch, ...] = ()
    spoor2: tuple[Spoor2Watch, ...] = ()

    def stage_watch(self, stage: str) -> StageWatch | None:
        return next((w for w in self.stage if w.stage == stage), None)

    def measure_keys(self) -> list[str]:
        return [m.key for m in self.measure]

    def measure_rule(self, key: str) -> Measure | None:
        return next((m for m in self.measure if m.key == key), None)

    def measure_label(self, key: str) -> str:
        """The label of one of these rules' own measures (a key from measure_keys())."""
        rule = self.measure_rule(key)
        if rule is None:
            raise KeyError(key)
        return rule.label


def morning_minute(case_id: str) -> int:
    """The case's own minute of the morning round, 0 to MORNING_WINDOW_MINUTES - 1: the same in every run of the case
    and on every worker, from a SHA-256 of its id (never Python's `hash()`, which is salted per process)."""
    digest = hashlib.sha256(case_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % MORNING_WINDOW_MINUTES


def parse_stagnation_rules(text: str) -> StagnationRules:
    """Parse domain/stagnation.toml."""
    return StagnationRules.model_validate(tomllib.loads(text))


def spoor2_watch(watches: tuple[Spoor2Watch, ...], status: str) -> Spoor2Watch | None:
    return next((w for w in watches if w.status == status), None)


# --------------------------------------------------------------------------- state


class Expectation(BaseModel):
    """The activity a case (or its trajectory) expects next, and the last day it may come."""

    what: str
    what_text: Text | None = Field(
        default=None,
        description="`what` to translate where it is shown (else `what` is the msgid: domain.glossary.EXPECTATIONS)",
    )
    by: date
    context: str = Field(description="Stage or trajectory status that expects it, e.g. 'spoor2:fase1'")


class Trigger(BaseModel):
    """A person's report that starts or raises an escalation (stagnation reported, non-cooperation)."""

    on: date
    seq: int = Field(description="Dossier entry of the report: activity recorded after it ends it")
    actor: Actor


class Acknowledgement(BaseModel):
    on: date
    reason: str
    actor: Actor
    holds_until: date


class MeasureRecord(BaseModel):
    key: str
    episode: int
    requested_on: date | None = None
    taken_on: date | None = None
    reminded_on: list[date] = Field(default_factory=list)


class Watch(BaseModel):
    """A case's stagnation watch and escalation, carried across continue-as-new."""

    started_on: date
    last_activity_on: date
    last_activity_seq: int = 0
    reported: Trigger | None = None
    non_cooperation: Trigger | None = None
    level: int = 0
    episode: int = 0
    reason: str | None = None
    since: date | None = Field(default=None, description="The first day of the current stall")
    level_on: date | None = None
    next_step_on: date | None = Field(default=None, description="When the ladder climbs next without activity")
    acknowledged: Acknowledgement | None = None
    measures: list[MeasureRecord] = Field(default_factory=list)
    reminders_sent: list[str] = Field(default_factory=list)

    def pending_measure(self) -> MeasureRecord | None:
        """The measure requested in this episode and not yet taken."""
        for m in self.measures:
            if m.episode == self.episode and m.requested_on is not None and m.taken_on is None:
                return m
        return None

    def taken(self) -> list[str]:
        return [m.key for m in self.measures if m.taken_on is not None]

    def next_measure(self, rules: StagnationRules) -> str | None:
        """The first measure, in the order of the rules, not yet taken."""
        taken = set(self.taken())
        return next((k for k in rules.measure_keys() if k not in taken), None)


class Stall(BaseModel):
    """Why a case stalls now, since when, and the level its reason asks for at least."""

    reason: str
    since: date
    detail: str
    detail_text: Text | None = Field(default=None, description="The detail for a person, translated where it is shown")
    min_level: int = 1
    forced_on: date | None = Field(default=None, description="The day a report forced the level")


class Step(BaseModel):
    """Something the ladder did: a dossier entry on `on`, and whom to notify."""

    kind: str
    on: date
    summary: str
    notify: list[Role] = Field(default_factory=list)
    subject: str = ""
    body: str = ""
    # What the notified read: msgids translated when the notice is sent (domain.messages).
    subject_text: Text | None = None
    body_text: Text | None = None
    note_key: str = Field(default="", description="Makes the notification id stable")
    details: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- the watch


def start_watch(on: date) -> Watch:
    return Watch(started_on=on, last_activity_on=on)


def activity(watch: Watch, *, on: date, seq: int) -> None:
    """A person recorded something: the watch resets (the ladder comes down at the next advance)."""
    watch.last_activity_on = max(watch.last_activity_on, on)
    watch.last_activity_seq = max(watch.last_activity_seq, seq)


def find_stall(
    watch: Watch, expectation: Expectation | None, overdue: list[tuple[str, date]], today: date
) -> Stall | None:
    """The case's stall as of `today`, if any. `overdue`: (step, day it became overdue)."""
    found: list[Stall] = []
    nc = watch.non_cooperation
    if nc is not None and nc.seq > watch.last_activity_seq:
        found.append(
            Stall(
                reason="non_cooperation",
                since=nc.on,
                min_level=3,
                forced_on=nc.on,
                detail=f"non-cooperation of the employee recorded on {nc.on}",
                detail_text=text(N_("non-cooperation of the employee recorded on %(day)s"), day=nc.on),
            )
        )
    rep = watch.reported
    if rep is not None and rep.seq > watch.last_activity_seq:
        found.append(
            Stall(
                reason="reported",
                since=rep.on,
                min_level=2,
                forced_on=rep.on,
                detail=f"stagnation reported by the {rep.actor.role.value} on {rep.on}",
                detail_text=text(
                    N_("stagnation reported by the %(role)s on %(day)s"),
                    role=text(glossary.role_label(rep.actor.role.value)),
                    day=rep.on,
                ),
            )
        )
    if expectation is not None and expectation.by < today:
        found.append(
            Stall(
                reason="cadence",
                since=expectation.by + timedelta(days=1),
                detail=f"{expectation.what} was expected by {expectation.by}",
                detail_text=text(
                    N_("%(what)s was expected by %(day)s"),
                    what=expectation.what_text or text(expectation.what),
                    day=expectation.by,
                ),
            )
        )
    if overdue:
        mark, since = min(overdue, key=lambda o: o[1])
        found.append(
            Stall(
                reason="deadline",
                since=since,
                detail=f"the statutory step {mark} is overdue",
                detail_text=text(N_("the statutory step %(step)s is overdue"), step=mark),
            )
        )
    if not found:
        return None
    strongest = max(found, key=lambda s: s.min_level)
    return strongest.model_copy(update={"since": max(min(s.since for s in found), watch.started_on)})


_ADVICE_TEXT = {
    1: N_("Check with the coach and the employee why nothing was recorded, and record the next step."),
    2: N_(
        "Talk with your employee about the re-integration and, where needed, involve the bedrijfsarts for advice on "
        "whether the employee can take part."
    ),
    3: N_(
        "If the employee refuses to cooperate, you are expected to take measures that encourage cooperation, in this "
        "order: %(measures)s. Record each measure when you take it. Employer and employee may each ask UWV for a "
        "deskundigenoordeel."
    ),
}
_ADVICE = {
    1: "Check with the coach and the employee why nothing was recorded, and record the next step.",
    2: (
        "Talk with your employee about the re-integration and, where needed, involve the bedrijfsarts "
        "for advice on whether the employee can take part."
    ),
    3: (
        "If the employee refuses to cooperate, you are expected to take measures that encourage "
        "cooperation, in this order: {measures}. Record each measure when you take it. Employer and "
        "employee may each ask UWV for a deskundigenoordeel."
    ),
}


def advance(
    watch: Watch, rules: StagnationRules, stall: Stall | None, today: date, *, case_id: str, coach: bool
) -> list[Step]:
    """Bring the ladder up to `today`: raise, climb, request measures, or come down. Idempotent.

    `coach`: a spoor 2 coach is involved, so level 1 signals the coach as well.
    """
    if stall is None:
        return [_resolve(watch, case_id)] if watch.level > 0 else []
    steps: list[Step] = []
    if watch.level == 0:
        watch.episode += 1
        watch.since, watch.reason, watch.acknowledged = stall.since, stall.reason, None
        steps.append(_raise(watch, rules, stall.min_level, stall.forced_on or stall.since, stall, case_id, coach))
    elif watch.level < stall.min_level:
        watch.reason = stall.reason
        steps.append(_raise(watch, rules, stall.min_level, stall.forced_on or today, stall, case_id, coach))
    while watch.level < TOP_LEVEL and watch.next_step_on is not None and watch.next_step_on <= today:
        steps.append(_raise(watch, rules, watch.level + 1, watch.next_step_on, stall, case_id, coach))
    while watch.level == TOP_LEVEL and watch.next_step_on is not None and watch.next_step_on <= today:
        steps.append(_measure_step(watch, rules, watch.next_step_on, case_id))
    return steps


def drop_replaced_notices(steps: list[Step]) -> None:
    """Steps taken at once after a late wake: a role hears only of the latest step that concerns it.

    A worker down for weeks wakes to several steps of one ladder (level 1, then 2; or a measure
    reminded twice). Each is recorded on its own date; its notice to a role that a later-dated step
    of the same batch notifies as well is not sent, as that later notice says where things stand now.
    Steps of the same date (level 3 and its first measure) all notify.
    """
    for n, step in enumerate(steps):
        later = {role for s in steps[n + 1 :] if s.on > step.on for role in s.notify}
        dropped = [role for role in step.notify if role in later]
        if not dropped:
            continue
        step.notify = [role for role in step.notify if role not in later]
        step.details["not_notified"] = [role.value for role in dropped]
        step.summary += f" (not sent to the {', '.join(r.value for r in dropped)}: a later step replaced it)"


def _after(rules: StagnationRules, level: int) -> int:
    ladder = rules.ladder
    return {1: ladder.level2_after_days, 2: ladder.level3_after_days}.get(level, ladder.measure_interval_days)


def _hold(watch: Watch, day: date) -> date:
    ack = watch.acknowledged
    return max(day, ack.holds_until + timedelta(days=1)) if ack is not None else day


def _raise(watch: Watch, rules: StagnationRules, level: int, on: date, stall: Stall, case_id: str, coach: bool) -> Step:
    previous = watch.level
    watch.level, watch.level_on = level, on
    # Level 3 asks for the first measure at once; the others wait their period.
    watch.next_step_on = on if level == TOP_LEVEL else _hold(watch, on + timedelta(days=_after(rules, level)))
    if level == 1:
        notify = [Role.CASEMANAGER, *([Role.REINTEGRATIECOACH] if coach else [])]
        who = "the case manager" + (" and the coach are" if coach else " is")
        summary = f"Escalation level 1: {stall.detail}; {who} signalled"
    elif level == 2:
        notify = [Role.WERKGEVER, Role.CASEMANAGER]
        summary = (
            f"Escalation level 2: {stall.detail}; the employer is alerted to talk with the employee "
            "and, where needed, involve the bedrijfsarts"
        )
    else:
        notify = [Role.WERKGEVER, Role.CASEMANAGER, Role.WERKNEMER]
        summary = (
            f"Escalation level 3: {stall.detail}; the employer is asked to take measures in their order, "
            "and employer and employee are offered a deskundigenoordeel by UWV"
        )
    measures = ", ".join(m.label.lower() for m in rules.measure)
    body = (
        f"Case {case_id} stalls: {stall.detail}. Escalation level {level}"
        + (f" (was {previous})" if previous else "")
        + ". "
        + _ADVICE[level].format(measures=measures)
    )
    detail = stall.detail_text or stall.detail
    advice = text(_ADVICE_TEXT[level], measures=measures) if level == TOP_LEVEL else text(_ADVICE_TEXT[level])
    body_text = (
        text(
            N_("Case %(case)s stalls: %(detail)s. Escalation level %(level)s (was %(previous)s). %(advice)s"),
            case=case_id,
            detail=detail,
            level=level,
            previous=previous,
            advice=advice,
        )
        if previous
        else text(
            N_("Case %(case)s stalls: %(detail)s. Escalation level %(level)s. %(advice)s"),
            case=case_id,
            detail=detail,
            level=level,
            advice=advice,
        )
    )
    return Step(
        kind="escalation_raised",
        on=on,
        summary=summary,
        notify=notify,
        subject=f"Case {case_id}: escalation level {level}",
        body=body,
        subject_text=text(N_("Case %(case)s: escalation level %(level)s"), case=case_id, level=level),
        body_text=body_text,
        note_key=f"esc{watch.episode}:level{level}",
        details={
            "level": level,
            "previous": previous,
            "reason": stall.reason,
            "since": stall.since.isoformat(),
            "episode": watch.episode,
        },
    )


def _measure_step(watch: Watch, rules: StagnationRules, on: date, case_id: str) -> Step:
    interval = rules.ladder.measure_interval_days
    pending = watch.pending_measure()
    if pending is not None:
        pending.reminded_on.append(on)
        watch.next_step_on = _hold(watch, on + timedelta(days=interval))
        label = rules.measure_label(pending.key)
        return Step(
            kind="measure_reminder",
            on=on,
            notify=[Role.WERKGEVER, Role.CASEMANAGER],
            summary=f"The employer is reminded of the requested measure: {label} (not yet recorded)",
            subject=f"Case {case_id}: a requested measure is not yet recorded",
            body=f"Case {case_id} still stalls. The measure '{label}' was requested on {pending.requested_on} "
            "and is not yet recorded. Record it when taken.",
            subject_text=text(N_("Case %(case)s: a requested measure is not yet recorded"), case=case_id),
            body_text=text(
                N_(
                    "Case %(case)s still stalls. The measure '%(measure)s' was requested on %(day)s "
                    "and is not yet recorded. Record it when taken."
                ),
                case=case_id,
                measure=label,
                day=pending.requested_on,
            ),
            note_key=f"esc{watch.episode}:measure:{pending.key}:reminder{len(pending.reminded_on)}",
            details={"measure": pending.key, "episode": watch.episode},
        )
    key = watch.next_measure(rules)
    if key is None:
        watch.next_step_on = None  # every measure is taken: nothing left to ask
        return Step(
            kind="measures_exhausted",
            on=on,
            notify=[Role.CASEMANAGER],
            summary="Every measure has been taken and the stall goes on; the case manager decides further",
            subject=f"Case {case_id}: every measure has been taken",
            body=f"Case {case_id} still stalls after every measure. Consider a deskundigenoordeel by UWV.",
            subject_text=text(N_("Case %(case)s: every measure has been taken"), case=case_id),
            body_text=text(
                N_("Case %(case)s still stalls after every measure. Consider a deskundigenoordeel by UWV."),
                case=case_id,
            ),
            note_key=f"esc{watch.episode}:measures_exhausted",
            details={"episode": watch.episode},
        )
    watch.measures.append(MeasureRecord(key=key, episode=watch.episode, requested_on=on))
    watch.next_step_on = _hold(watch, on + timedelta(days=interval))
    order = rules.measure_keys().index(key) + 1
    label = rules.measure_label(key)
    return Step(
        kind="measure_requested",
        on=on,
        notify=[Role.WERKGEVER, Role.CASEMANAGER],
        summary=f"The employer is asked to take measure {order} of {len(rules.measure)}: {label}",
        subject=f"Case {case_id}: please take a measure",
        body=f"Case {case_id}: the employee does not cooperate with the re-integration. You are asked to take "
        f"measure {order} of {len(rules.measure)}: {label}. Record it when taken.",
        subject_text=text(N_("Case %(case)s: please take a measure"), case=case_id),
        body_text=text(
            N_(
                "Case %(case)s: the employee does not cooperate with the re-integration. You are "
                "asked to take measure %(order)s of %(count)s: %(measure)s. Record it when taken."
            ),
            case=case_id,
            order=order,
            count=len(rules.measure),
            measure=label,
        ),
        note_key=f"esc{watch.episode}:measure:{key}",
        details={"measure": key, "order": order, "episode": watch.episode},
    )


def _reset(watch: Watch) -> None:
    watch.level, watch.reason, watch.since, watch.level_on, watch.next_step_on, watch.acknowledged = (
        0,
        None,
        None,
        None,
        None,
        None,
    )


def _resolve(watch: Watch, case_id: str) -> Step:
    level, episode = watch.level, watch.episode
    on = max(watch.last_activity_on, watch.level_on or watch.last_activity_on)
    _reset(watch)
    notify = [Role.CASEMANAGER, *([Role.WERKGEVER] if level >= 2 else [])]
    return Step(
        kind="escalation_resolved",
        on=on,
        notify=notify,
        summary=f"Stagnation ended: activity recorded on {watch.last_activity_on}; escalation level {level} -> 0",
        subject=f"Case {case_id}: stagnation ended",
        body=f"Case {case_id}: activity was recorded on {watch.last_activity_on}; the escalation (level {level}) ends.",
        subject_text=text(N_("Case %(case)s: stagnation ended"), case=case_id),
        body_text=text(
            N_("Case %(case)s: activity was recorded on %(day)s; the escalation (level %(level)s) ends."),
            case=case_id,
            day=watch.last_activity_on,
            level=level,
        ),
        note_key=f"esc{episode}:resolved",
        details={"previous": level, "episode": episode},
    )


def close(watch: Watch, on: date) -> Step | None:
    """The case closed: an open escalation ends with it."""
    if watch.level == 0:
        return None
    level = watch.level
    _reset(watch)
    return Step(
        kind="escalation_resolved",
        on=on,
        summary=f"The case closed; escalation level {level} -> 0",
        details={"previous": level, "episode": watch.episode},
    )


def acknowledge(watch: Watch, rules: StagnationRules, *, on: date, reason: str, actor: Actor) -> str:
    """Operations saw the escalation: it stays, but does not climb for the hold period."""
    holds = on + timedelta(days=rules.ladder.acknowledgement_holds_days)
    watch.acknowledged = Acknowledgement(on=on, reason=reason, actor=actor, holds_until=holds)
    if watch.next_step_on is not None:
        watch.next_step_on = max(watch.next_step_on, holds + timedelta(days=1))
    return (
        f"Escalation level {watch.level} acknowledged: {reason}; it does not climb before {holds + timedelta(days=1)}"
    )


def measure_taken(watch: Watch, rules: StagnationRules, *, key: str, on: date) -> str:
    """The employer took a measure: recorded; the next is asked only if the stall goes on."""
    record = watch.pending_measure()
    if record is None or record.key != key:
        record = MeasureRecord(key=key, episode=watch.episode)
        watch.measures.append(record)
    record.taken_on = on
    if watch.level == TOP_LEVEL:
        watch.next_step_on = _hold(watch, on + timedelta(days=rules.ladder.measure_interval_days))
    order = rules.measure_keys().index(key) + 1
    return f"Measure {order} of {len(rules.measure)} taken: {rules.measure_label(key)}"


# --------------------------------------------------------------------------- reminders and waking


def reminder_due(lead_days: tuple[int, ...], due: date, today: date, sent: set[str], mark: str) -> int | None:
    """The lead time whose reminder is due today for a step due on `due`, or None.

    Only the shortest lead already reached reminds: a case that wakes late (or is taken over)
    does not send the stale longer ones.
    """
    if today > due:
        return None
    reached = [lead for lead in lead_days if due - timedelta(days=lead) <= today]
    if not reached:
        return None
    lead = min(reached)
    return None if reminder_key(mark, due, lead) in sent else lead


def reminder_key(mark: str, due: date, lead: int) -> str:
    return f"{mark}:{due}:{lead}"


def next_reminder_day(lead_days: tuple[int, ...], due: date, today: date) -> date | None:
    days = [due - timedelta(days=lead) for lead in lead_days if due - timedelta(days=lead) > today]
    return min(days) if days else None


def next_wake_day(watch: Watch, expectation: Expectation | None, today: date) -> date | None:
    """The next day after `today` on which time alone moves the ladder (deadlines and reminders aside)."""
    days = []
    if watch.level > 0 and watch.next_step_on is not None:
        days.append(watch.next_step_on)
    if expectation is not None:
        days.append(expectation.by + timedelta(days=1))
    days = [d for d in days if d > today]
    return min(days) if days else None
