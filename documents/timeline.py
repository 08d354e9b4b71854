"""The timeline of a case, drawn once for the dashboard's case page and for the documents.

One SVG from what every reader of a case has (its summary, statutory steps, dossier lines and spoor 2 view, as of
one day): lanes for the statutory steps, spoor 1, the AD-onderzoek, spoor 2, escalations and the dossier, on the
case's calendar from the first sick day to the end of the waiting time. Colours are presentation attributes, so the
picture needs no style sheet: the same in a browser and in WeasyPrint's PDF. Words go through `_()`: the dashboard
draws in its reader's language, the documents inside `i18n.using("nl")`.

The dashboard asks for the interactive version (`Interactive`): tooltips, links to the page's rows and the data
attributes its script and tests find marks by. Everything else is the same drawing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from documents.svg import Svg, num
from domain import glossary
from domain import spoor2 as s2
from domain.case import CaseState, CaseSummary, DeadlineView, DossierLine, deadlines, dossier_lines, summarize
from domain.models import DeadlineStatus, Role
from domain.observations import ObservationState
from domain.spoor2 import TrajectoryState, TrajectoryView
from service import i18n
from service.i18n import _

GREEN, BLUE, RED, AMBER, GREY = "#2e7d32", "#1a66d2", "#c62828", "#b26a00", "#8c959f"
INK, MUTED, LABEL, NOW = "#24292f", "#656d76", "#57606a", "#cf222e"
STATUS_FILL = {"done": GREEN, "open": BLUE, "overdue": RED, "waived": "#ffffff", "passed": "#c4cbd2"}
PHASE_FILL = {"running": "#2da44e", "done": "#8ad29c", "late": AMBER}
PHASE_TEXT = {"running": "#ffffff", "done": "#0d3b1a", "late": "#ffffff"}
LEVEL_MARK = {1: "#d4a600", 2: "#e8710a", 3: RED}
LEVEL_BAND = {1: "#fff4c2", 2: "#ffd7a8", 3: "#f4a4a4"}
EVENT_STROKE = {"person": "#0969da", "system": "#afb8c1", "overdue": RED}
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"

# Lanes top to bottom, with their heights; their names are glossary.TIMELINE_LANES.
LANES: tuple[tuple[str, float], ...] = (
    ("steps", 74),
    ("spoor1", 22),
    ("ad", 22),
    ("spoor2", 34),
    ("escalation", 34),
    ("dossier", 30),
)
# The escalation lane draws these; the dossier lane every other entry.
ESCALATION_ENTRIES = glossary.kinds_in(glossary.Category.ESCALATION)


@dataclass(frozen=True)
class Interactive:
    """What the dashboard adds to the drawing: tooltips, links to its rows, the attributes it finds marks by."""

    entry_text: Callable[[DossierLine], str]  # the sentence of a dossier line, as the page prints it
    expectation_context: Callable[[str], str]  # where an expected activity comes from, as the page says it
    element_id: str = "timeline"
    aria_label: str = ""


def step_anchor(view: DeadlineView) -> str:
    """The id of a statutory step's row on the case page, which the step's mark links to."""
    return f"step-{view.key}" + (f"-{view.occurrence}" if view.occurrence else "")


def entry_anchor(seq: int) -> str:
    """The id of a dossier entry on the case page, which its mark links to."""
    return f"entry-{seq}"


class Scale:
    """Calendar days to x, lanes to y, in an SVG viewBox WIDTH wide."""

    WIDTH, LEFT, RIGHT, AXIS, GAP = 1000, 148, 16, 30, 6

    def __init__(self, start: date, end: date) -> None:
        self.start, self.end = start, max(end, start + timedelta(days=7))
        self.days = (self.end - self.start).days
        self.plot = self.WIDTH - self.LEFT - self.RIGHT
        self.lanes: dict[str, tuple[float, float]] = {}
        y: float = self.AXIS
        for key, height in LANES:
            self.lanes[key] = (y, height)
            y += height + self.GAP
        self.bottom = y  # the as-of label goes below the lanes, the legend below that

    def x(self, day: date) -> float:
        offset = min(max((day - self.start).days, 0), self.days)
        return round(self.LEFT + self.plot * offset / self.days, 1)

    def top(self, lane: str) -> float:
        return self.lanes[lane][0]

    def mid(self, lane: str) -> float:
        top, height = self.lanes[lane]
        return top + height / 2


def _span_title(what: str, start: date, end: date | None) -> str:
    return _(
        "%(what)s: %(start)s – %(end)s",
        what=what,
        start=i18n.format_day(start),
        end=i18n.format_day(end) if end else _("running"),
    )


def _bar(svg: Svg, t: Scale, lane: str, start: date, end: date, fill: str, *, css: str, title: str) -> None:
    x0 = t.x(start)
    svg.add(
        "rect",
        {
            "class": css,
            "x": x0,
            "y": t.mid(lane) - 7,
            "width": max(t.x(end) - x0, 3.0),
            "height": "14",
            "rx": "2",
            "fill": fill,
        },
        title=title,
    )


# --------------------------------------------------------------------------- the lanes


def _steps(svg: Svg, t: Scale, views: Sequence[DeadlineView], as_of: date) -> None:
    """A mark per statutory step at its due day (the day done when it had none), joined to the day it was done or,
    when overdue, to the as-of day; its short name above, on the first of three rows where it touches no other."""
    rows_end = [-1e9, -1e9, -1e9]
    top, y = t.top("steps"), t.mid("steps") + 14
    for d in sorted(views, key=lambda d: d.due or d.done_on or date.max):
        marked = d.due or d.done_on
        if marked is None:
            continue
        status = d.status.value
        x = t.x(marked)
        # Late without a reason on record is a gap in the dossier; late with a deviation is explained.
        unexplained = d.late and d.deviation is None
        judged = RED if unexplained else (BLUE if d.late else GREEN)
        title = _(
            "%(step)s: due %(due)s, %(status)s",
            step=d.label,
            due=i18n.format_day(d.due),
            status=_(glossary.DEADLINE_STATUSES.get(status, status)),
        ) + (
            (_(", done %(day)s", day=i18n.format_day(d.done_on)) if d.done_on else "")
            + (_(" (late)") if d.late else "")
            + (_(", waived: %(why)s", why=d.waived_because) if d.waived_because else "")
        )
        css = f"dl dl-{status}" + (" late" if d.late else "")
        with svg.group({"class": css}, title=title, data={"key": d.key, "status": status}, href=step_anchor(d)):
            if d.done_on and d.due and d.done_on != d.due:
                link = {"class": "done-link", "x1": x, "x2": t.x(d.done_on), "y1": y, "y2": y, "stroke": judged}
                svg.add("line", {**link, "stroke_width": "1.5", "stroke_dasharray": "3 2"})
            elif d.status is DeadlineStatus.OVERDUE:
                link = {"class": "overdue-link", "x1": x, "x2": t.x(as_of), "y1": y, "y2": y, "stroke": RED}
                svg.add("line", {**link, "stroke_width": "1.2", "stroke_dasharray": "2 2"})
            waived = status == "waived"
            svg.add(
                "circle",
                {
                    "cx": x,
                    "cy": y,
                    "r": "5",
                    "fill": STATUS_FILL.get(status, GREY),
                    "stroke": judged if d.late else (GREY if waived else "#ffffff"),
                    "stroke_width": "2" if d.late else "1.5",
                    "stroke_dasharray": "2 1.5" if waived else None,
                },
            )
        short = glossary.step_short(d.key)
        if not short or d.occurrence is not None:
            continue
        text = _(short)
        width = 5.6 * len(text) + 6
        centre = min(max(x, t.LEFT + width / 2), t.LEFT + t.plot - width / 2)  # inside the plot
        for row, row_end in enumerate(rows_end):
            if centre - width / 2 > row_end:
                rows_end[row] = centre + width / 2
                alarm = status == "overdue" or unexplained
                svg.add(
                    "text",
                    {
                        "class": f"dl-label dl-label-{status}",
                        "x": centre,
                        "y": top + 11 + 12 * row,
                        "text_anchor": "middle",
                        "font_size": "10.5",
                        "font_weight": "700" if alarm else None,
                        "fill": RED if alarm else (GREEN if status == "done" else LABEL),
                    },
                    text=text,
                )
                break


def _tracks(
    svg: Svg,
    t: Scale,
    views: Sequence[DeadlineView],
    dossier: Sequence[DossierLine],
    trajectory: TrajectoryView | None,
    closed_on: date | None,
    as_of: date,
) -> None:
    """Spoor 1 from the probleemanalyse until spoor 2 starts, the AD-onderzoek until its conclusion."""
    last = closed_on if closed_on and closed_on <= as_of else as_of
    stage_from: dict[str, date] = {}
    for e in dossier:
        if e.kind == "stage_changed":
            stage_from.setdefault(str(e.details.get("to")), e.on)
    pa = next((v.done_on for v in views if v.key == "probleemanalyse" and v.done_on), None)
    s1 = stage_from.get("spoor1") or pa
    s2_start = spoor2_start(views, dossier, trajectory)
    if s1 is not None and s1 <= as_of:
        s1_end = s2_start if s2_start and s2_start <= last else last
        _bar(
            svg,
            t,
            "spoor1",
            s1,
            s1_end,
            "#7aa874",
            css="track track-spoor1",
            title=_span_title(_("Spoor 1"), s1, s2_start),
        )
    ad_starts = [e.on for e in dossier if e.kind == "ad_onderzoek_started"]
    ad = max(ad_starts, default=None) or min(
        (e.on for e in dossier if e.kind == "ad_onderzoek_concluded"), default=None
    )
    if ad is not None and ad <= as_of:
        concluded = min((e.on for e in dossier if e.kind == "ad_onderzoek_concluded" and e.on >= ad), default=None)
        _bar(
            svg,
            t,
            "ad",
            ad,
            concluded or last,
            "#b08ac0",
            css="track track-ad",
            title=_span_title(_("AD-onderzoek"), ad, concluded),
        )


def spoor2_start(
    views: Sequence[DeadlineView], dossier: Sequence[DossierLine], trajectory: TrajectoryView | None
) -> date | None:
    """The day spoor 2 started: the trajectory's, else the case's own record of it (a case taken over in spoor 2)."""
    if trajectory is not None:
        return trajectory.started_on
    started = max((e.on for e in dossier if e.kind == "spoor2_started"), default=None)
    return started or next((v.done_on for v in views if v.key == "spoor2_start" and v.done_on), None)


def _spoor2(
    svg: Svg,
    t: Scale,
    views: Sequence[DeadlineView],
    dossier: Sequence[DossierLine],
    trajectory: TrajectoryView | None,
    as_of: date,
) -> None:
    """The trajectory as a thin bar, its phases on it, its pauses under it, the haalbaarheidstoets as a triangle."""
    mid = t.mid("spoor2")
    start = spoor2_start(views, dossier, trajectory)
    if start is None or start > as_of:
        svg.add(
            "text",
            {"class": "lane-empty", "x": t.LEFT + 8, "y": mid + 4, "fill": "#b0b7bf", "font_style": "italic"},
            text=_("no trajectory"),
        )
        return
    ended = trajectory.ended_on if trajectory is not None else _last(dossier, "spoor2_ended")
    until = min(ended, as_of) if ended else as_of
    status = trajectory.status.value if trajectory is not None else "beeindigd" if ended else "fase"
    title = _(
        "Spoor 2 since %(day)s: %(status)s",
        day=i18n.format_day(start),
        status=_(glossary.SPOOR2_STATUSES.get(status, status)),
    )
    x0 = t.x(start)
    svg.add(
        "rect",
        {
            "class": "s2-span",
            "x": x0,
            "y": mid - 2,
            "width": max(t.x(until) - x0, 2.0),
            "height": "4",
            "fill": "#a6e3b4",
        },
        title=title,
    )
    # The trajectory's pauses are in the case's dossier as copies of its record: each until the resume after it.
    paused: date | None = None
    for e in dossier:
        if e.kind == "spoor2:phase_paused" and e.on <= as_of:
            paused = e.on
        elif e.kind == "spoor2:phase_resumed" and paused is not None:
            _pause(svg, t, paused, min(e.on, as_of))
            paused = None
    if paused is not None:
        _pause(svg, t, paused, until)
    if trajectory is None:
        return
    for p in trajectory.phases:
        if p.started_on > as_of:
            continue
        completed = p.completed_on if p.completed_on and p.completed_on <= as_of else None
        state = "done" if completed else ("late" if p.time_up_flagged else "running")
        p0, p1 = t.x(p.started_on), t.x(completed or as_of)
        label = _("Phase %(number)s", number=p.number)
        phase_title = _(
            "%(phase)s: %(start)s – %(end)s (time up %(up)s; %(held)s/%(expected)s conversations)",
            phase=p.label,
            start=i18n.format_day(p.started_on),
            end=i18n.format_day(completed) if completed else _("running"),
            up=i18n.format_day(p.time_up_on),
            held=p.conversations_held,
            expected=p.conversations_expected,
        )
        with svg.group({"class": f"phase phase-{state}"}, title=phase_title):
            svg.add(
                "rect",
                {
                    "x": p0,
                    "y": mid - 10,
                    "width": max(p1 - p0, 3.0),
                    "height": "20",
                    "rx": "3",
                    "fill": PHASE_FILL[state],
                },
            )
            if p1 - p0 > 46:
                svg.add(
                    "text",
                    {"x": p0 + 6, "y": mid + 4, "font_weight": "600", "fill": PHASE_TEXT[state]},
                    text=label,
                )
    h = trajectory.haalbaarheid
    if h is not None and h.on <= as_of:
        x = t.x(h.on)
        go = h.decision == "go"
        svg.add(
            "path",
            {
                "class": "haalbaarheid haalbaarheid-go" if go else "haalbaarheid haalbaarheid-no_go",
                "d": f"M{num(x)} {num(mid - 8)} l6 11 h-12 z" if go else f"M{num(x)} {num(mid + 8)} l6 -11 h-12 z",
                "fill": GREEN if go else RED,
                "stroke": "#ffffff",
            },
            title=f"{i18n.format_day(h.on)} · {_(glossary.entry_label('haalbaarheidstoets_decided'))}: "
            + _(glossary.choice_label(str(h.decision))),
        )


def _pause(svg: Svg, t: Scale, start: date, end: date) -> None:
    x0 = t.x(start)
    svg.add(
        "rect",
        {
            "class": "pause",
            "x": x0,
            "y": t.mid("spoor2") + 11,
            "width": max(t.x(end) - x0, 3.0),
            "height": "5",
            "fill": "#ffffff",
            "stroke": "#555555",
            "stroke_width": "0.8",
            "stroke_dasharray": "2 1",
        },
        title=_span_title(_("pause"), start, end),
    )


def _last(dossier: Sequence[DossierLine], kind: str) -> date | None:
    return max((e.on for e in dossier if e.kind == kind), default=None)


def _escalations(
    svg: Svg,
    t: Scale,
    summary: CaseSummary,
    dossier: Sequence[DossierLine],
    as_of: date,
    interactive: Interactive | None,
) -> None:
    """The stall as a band coloured by its level, the activity expected next, the level raised (with its number),
    resolved, and the steps people took against the stall."""
    mid = t.mid("escalation")
    if summary.escalation_level and summary.stalled_since:
        x0 = t.x(summary.stalled_since)
        level = summary.escalation_level
        svg.add(
            "rect",
            {
                "class": f"stall lvl-band-{level}",
                "x": x0,
                "y": mid - 9,
                "width": max(t.x(as_of) - x0, 3.0),
                "height": "18",
                "fill": LEVEL_BAND.get(level, LEVEL_BAND[3]),
                "opacity": "0.55",
            },
            title=_(
                "Stalled since %(day)s: level %(level)s",
                day=i18n.format_day(summary.stalled_since),
                level=level,
            ),
        )
    if summary.expected is not None:
        x = t.x(summary.expected.by)
        svg.add(
            "path",
            {"class": "expected", "d": f"M{num(x)} {num(mid - 7)} l7 7 l-7 7 l-7 -7 z", "fill": "#ffffff"}
            | {"stroke": BLUE, "stroke_width": "1.5"},
            title=_(
                "Expected by %(day)s: %(what)s (%(context)s)",
                day=i18n.format_day(summary.expected.by),
                what=_(summary.expected.what),
                context=interactive.expectation_context(summary.expected.context),
            )
            if interactive
            else None,
        )
    marks = [e for e in dossier if e.kind in ESCALATION_ENTRIES and e.on <= as_of]
    # Marks of the same days side by side, not on top of each other: earlier ones move left, never into the future.
    xs: list[float] = []
    following = 1e9
    for e in reversed(marks):
        following = min(t.x(e.on), following - 12)
        xs.append(following)
    for e, x in zip(marks, reversed(xs), strict=True):
        title = _entry_title(e, interactive)
        data: dict[str, object] = {"kind": e.kind}
        if e.kind == "escalation_raised":
            raised = e.details.get("level")
            number = raised if isinstance(raised, int) else None
            d = f"M{num(x)} {num(mid - 8)} l7 13 h-14 z"
            fill = LEVEL_MARK.get(number or 3, RED)
            css = f"esc esc-raised lvl-mark-{number}"
            svg.add("path", {"class": css, "d": d, "fill": fill, "stroke": "#ffffff"}, title=title, data=data)
            if number is not None:
                svg.add(
                    "text",
                    {
                        "class": "esc-level",
                        "x": x,
                        "y": mid - 10,
                        "text_anchor": "middle",
                        "font_size": "9",
                        "fill": INK,
                    },
                    text=str(number),
                )
        elif e.kind == "escalation_resolved":
            attrs = {"class": "esc esc-resolved", "cx": x, "cy": mid, "r": "5", "fill": GREEN, "stroke": "#ffffff"}
            svg.add("circle", attrs, title=title, data=data)
        else:
            attrs = {"class": "esc esc-other", "x": x - 4, "y": mid - 4, "width": "8", "height": "8", "fill": "#6e7781"}
            svg.add("rect", attrs, title=title, data=data)


def _entry_title(e: DossierLine, interactive: Interactive | None) -> str | None:
    if interactive is None:
        return None
    return f"{i18n.format_day(e.on)} · {_(glossary.entry_label(e.kind))} · {interactive.entry_text(e)}"


def _events(svg: Svg, t: Scale, dossier: Sequence[DossierLine], as_of: date, interactive: Interactive | None) -> None:
    """Every other dossier entry as a tick: a person's, Spoorwerk's own, an overdue step that still stands."""
    mid = t.mid("dossier")
    for e in dossier:
        if e.kind in ESCALATION_ENTRIES or e.on > as_of:
            continue
        overdue = e.kind == "deadline_overdue" and not (
            e.observation is not None and e.observation.state is ObservationState.SUPERSEDED
        )
        who = "system" if e.actor.role is Role.SYSTEEM else "person"
        x = t.x(e.on)
        line = {"class": f"ev ev-{who}" + (" ev-overdue" if overdue else ""), "x1": x, "x2": x}
        line |= {
            "y1": mid - 9,
            "y2": mid + 9,
            "stroke": EVENT_STROKE["overdue" if overdue else who],
            "stroke_width": "2",
        }
        title = _entry_title(e, interactive)
        svg.add("line", line, title=title, data={"kind": e.kind}, href=entry_anchor(e.seq))


# --------------------------------------------------------------------------- axis, as-of day, legend


def _axis(svg: Svg, t: Scale, first: date) -> None:
    """A tick per week of illness from the first sick day, numbered every 13 weeks, over all lanes."""
    week = 0
    while (day := first + timedelta(weeks=week)) <= t.end:
        major = week % 13 == 0
        x = t.x(day)
        svg.add(
            "line",
            {
                "class": "tick major" if major else "tick",
                "x1": x,
                "x2": x,
                "y1": float(t.AXIS - (8 if major else 4)),
                "y2": t.bottom,
                "stroke": "#c8d1da" if major else "#eef1f4",
                "stroke_width": "1",
            },
        )
        if major:
            label = _("week %(n)s", n=week) if week == 0 else str(week)
            svg.add(
                "text",
                {"class": "tick-label", "x": x, "y": float(t.AXIS - 11), "text_anchor": "middle", "fill": MUTED},
                text=label,
            )
        week += 1


def _legend(svg: Svg, t: Scale, now_label: str) -> float:
    """What each mark means, in rows under the drawing; returns the bottom of the last row."""
    items: list[tuple[str, str]] = [
        ("done", _(glossary.DEADLINE_STATUSES["done"])),
        ("late", _("done late")),
        ("open", _(glossary.DEADLINE_STATUSES["open"])),
        ("overdue", _(glossary.DEADLINE_STATUSES["overdue"])),
        ("waived", _(glossary.DEADLINE_STATUSES["waived"])),
        ("passed", _(glossary.DEADLINE_STATUSES["passed"])),
        ("phase", _("spoor 2 phase")),
        ("pause", _("pause")),
        ("raised", _("escalation raised")),
        ("resolved", _("resolved")),
        ("expected", _("expected activity")),
        ("event", _("dossier event")),
        ("now", now_label),
    ]
    x, y = float(t.LEFT), t.bottom + 34
    for key, text in items:
        width = 24 + 5.8 * len(text) + 14  # the sample, the words, the space to the next
        if x + width > t.WIDTH - t.RIGHT:
            x, y = float(t.LEFT), y + 16
        _key(svg, key, x + 10, y - 4)
        css = "legend-label legend-now" if key == "now" else "legend-label"
        svg.add("text", {"class": css, "x": x + 24, "y": y, "font_size": "10.5", "fill": MUTED}, text=text)
        x += width
    return y + 6


def _key(svg: Svg, key: str, x: float, y: float) -> None:
    """The legend's sample of one mark, centred on (x, y), drawn as the lanes draw it."""
    if key in STATUS_FILL or key == "late":
        waived = key == "waived"
        stroke = RED if key == "late" else (GREY if waived else "#ffffff")
        svg.add(
            "circle",
            {
                "cx": x,
                "cy": y,
                "r": "5",
                "fill": STATUS_FILL.get(key, GREEN),
                "stroke": stroke,
                "stroke_width": "2" if key == "late" else "1.5",
                "stroke_dasharray": "2 1.5" if waived else None,
            },
        )
    elif key == "phase":
        svg.add(
            "rect", {"x": x - 9, "y": y - 5, "width": "18", "height": "10", "rx": "2", "fill": PHASE_FILL["running"]}
        )
    elif key == "pause":
        attrs = {"x": x - 9, "y": y - 3, "width": "18", "height": "5", "fill": "#ffffff", "stroke": "#555555"}
        svg.add("rect", attrs | {"stroke_width": "0.8", "stroke_dasharray": "2 1"})
    elif key == "raised":
        svg.add("path", {"d": f"M{num(x)} {num(y - 6)} l6 11 h-12 z", "fill": LEVEL_MARK[2]})
    elif key == "resolved":
        svg.add("circle", {"cx": x, "cy": y, "r": "5", "fill": GREEN})
    elif key == "expected":
        d = f"M{num(x)} {num(y - 5)} l5 5 l-5 5 l-5 -5 z"
        svg.add("path", {"d": d, "fill": "#ffffff", "stroke": BLUE, "stroke_width": "1.5"})
    elif key == "event":
        svg.add(
            "line", {"x1": x, "x2": x, "y1": y - 6, "y2": y + 6, "stroke": EVENT_STROKE["person"], "stroke_width": "2"}
        )
    else:  # the as-of day
        svg.add("line", {"x1": x, "x2": x, "y1": y - 6, "y2": y + 6, "stroke": NOW, "stroke_width": "1.5"})


# --------------------------------------------------------------------------- the drawing


def span(summary: CaseSummary, as_of: date) -> tuple[date, date]:
    """The days the drawing covers: from the first sick day to the end of the waiting time, at least 104 weeks, and
    the as-of day wherever it falls."""
    first = summary.first_sick_day
    end = first + timedelta(weeks=104) - timedelta(days=1)
    if summary.wachttijd_ends and summary.wachttijd_ends > end:
        end = summary.wachttijd_ends
    return min(first, as_of), max(end, as_of)


def draw(
    summary: CaseSummary,
    views: Sequence[DeadlineView],
    dossier: Sequence[DossierLine],
    trajectory: TrajectoryView | None,
    as_of: date,
    *,
    now_label: str,
    now_key: str,
    interactive: Interactive | None = None,
) -> str:
    """The case's timeline as an SVG element, from the first sick day to the end of the waiting time (104 weeks or
    later). `now_label` names the as-of line under the lanes and `now_key` in the legend: today on the dashboard,
    the peildatum in a document."""
    first = summary.first_sick_day
    t = Scale(*span(summary, as_of))
    svg = Svg(interactive is not None)
    shown = [e for e in dossier if e.on <= as_of]

    for key, (top, height) in t.lanes.items():
        svg.add(
            "rect",
            {"class": f"lane lane-{key}", "x": t.LEFT, "y": top, "width": t.plot, "height": height}
            | {"fill": "#f8fafc", "stroke": "#eaeef2"},
        )
        svg.add(
            "text",
            {"class": "lane-label", "x": "8", "y": top + height / 2 + 4, "font_size": "12", "font_weight": "600"}
            | {"fill": MUTED},
            text=_(glossary.TIMELINE_LANES[key]),
        )
    _axis(svg, t, first)
    now_x = t.x(as_of)
    svg.add(
        "line",
        {"class": "today", "x1": now_x, "x2": now_x, "y1": float(t.AXIS - 2), "y2": t.bottom + 2}
        | {"stroke": NOW, "stroke_width": "1.5"},
    )
    if summary.wachttijd_ends is not None:
        x = t.x(summary.wachttijd_ends)
        svg.add(
            "line",
            {"class": "wachttijd", "x1": x, "x2": x, "y1": float(t.AXIS), "y2": t.bottom}
            | {"stroke": INK, "stroke_width": "1.5", "stroke_dasharray": "2 2"},
            title=_("Wachttijd ends %(day)s", day=i18n.format_day(summary.wachttijd_ends)),
        )

    _steps(svg, t, views, as_of)
    _tracks(svg, t, views, shown, trajectory, summary.closed_on, as_of)
    _spoor2(svg, t, views, shown, trajectory, as_of)
    _escalations(svg, t, summary, shown, as_of, interactive)
    _events(svg, t, shown, as_of, interactive)

    label_x = min(max(now_x, t.LEFT + 50), t.WIDTH - 60)
    svg.add(
        "text",
        {"class": "today-label", "x": label_x, "y": t.bottom + 13, "text_anchor": "middle", "font_weight": "700"}
        | {"fill": NOW},
        text=now_label,
    )
    height = _legend(svg, t, now_key)

    root: dict[str, object] = {
        "xmlns": "http://www.w3.org/2000/svg",
        "viewBox": f"0 0 {t.WIDTH} {num(height)}",
        "width": "100%",
        "font-family": FONT,
        "font-size": "11",
    }
    if interactive is not None:
        root = {"id": interactive.element_id, **root, "role": "img", "aria-label": interactive.aria_label or None}
    return svg.document(root)


# --------------------------------------------------------------------------- for the documents


def render_timeline(case: CaseState, trajectory: TrajectoryState | None, as_of: date) -> str:
    """The timeline of a document: the drawing the dashboard shows, made from the case's state as of its day."""
    return draw(
        summarize(case, as_of),
        deadlines(case, as_of),
        dossier_lines(case, as_of),
        s2.view(trajectory, as_of) if trajectory is not None else None,
        as_of,
        now_label=_("peildatum %(day)s", day=i18n.format_day(as_of)),
        now_key=_("peildatum"),
    )


def timeline_data_uri(case: CaseState, trajectory: TrajectoryState | None, as_of: date) -> str:
    """The timeline as a data: URI, for an <img> that the HTML version and the PDF both show."""
    svg = render_timeline(case, trajectory, as_of).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
