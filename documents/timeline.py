"""The timeline picture of a case: statutory steps, spoor 1 / AD / spoor 2 bars and escalations on a week axis."""

from __future__ import annotations

import base64
import io
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display on a worker; must precede any pyplot import elsewhere

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from domain import glossary  # noqa: E402
from domain.case import CaseState, DeadlineView, deadlines, wachttijd_end  # noqa: E402
from domain.models import DeadlineStatus, DossierEntry  # noqa: E402
from domain.spoor2 import TrajectoryState  # noqa: E402
from service.i18n import _  # noqa: E402

ESCALATION_LEVEL_COLOURS = {1: "#e0b000", 2: "#e07000", 3: "#c0141c"}
RED, GREEN, GREY, BLUE = "#c0141c", "#2e7d32", "#8a8a8a", "#1f5fa8"
PHASE_COLOURS = ("#5b8fd0", "#3f73b8", "#2a5a9a", "#1c457c")
# Lane centres, top to bottom.
LANES = {"steps": 4.0, "spoor1": 3.0, "ad": 2.3, "spoor2": 1.5, "escalation": 0.6}
# The lanes' names are domain.glossary.TIMELINE_LANES, the markers' the glossary's short step names.

matplotlib.rcParams.update(
    {
        "svg.hashsalt": "spoorwerk",  # stable ids: the same case renders the same picture
        "svg.fonttype": "path",
        "font.family": "DejaVu Sans",
        "font.size": 6.5,
    }
)


def _week(case: CaseState, d: date) -> float:
    """Weeks of illness at the end of `d` (the statutory clock: a recovery gap does not count)."""
    return case.clock.day_of_date(d) / 7


def _stage_starts(dossier: list[DossierEntry], as_of: date) -> dict[str, date]:
    """The first day the case entered each stage, from its stage changes."""
    starts: dict[str, date] = {}
    for e in dossier:
        if e.kind == "stage_changed" and e.on <= as_of:
            starts.setdefault(str(e.details.get("to")), e.on)
    return starts


def _ad_concluded_on(dossier: list[DossierEntry], as_of: date) -> date | None:
    return max((e.on for e in dossier if e.kind == "ad_onderzoek_concluded" and e.on <= as_of), default=None)


def _step_markers(ax, case: CaseState, views: list[DeadlineView], as_of: date, x_max: float) -> None:
    y = LANES["steps"]
    label_rows: list[float] = [-1e9] * 4
    for v in views:
        if v.due is None and v.done_on is None:
            continue
        due_w = _week(case, v.due) if v.due else None
        done_w = _week(case, v.done_on) if v.done_on else None
        if v.status is DeadlineStatus.DONE:
            colour = RED if v.late and v.deviation is None else (BLUE if v.late else GREEN)
            if due_w is not None and done_w is not None and abs(done_w - due_w) > 0.05:
                ax.plot([due_w, done_w], [y, y], color=colour, linewidth=1.6, solid_capstyle="butt", zorder=2)
            if due_w is not None:
                ax.plot(due_w, y, marker="|", markersize=8, color=GREY, zorder=3)
            ax.plot(done_w, y, marker="o", markersize=4.2, color=colour, zorder=4)
        elif v.status is DeadlineStatus.OVERDUE:
            ax.plot([due_w, _week(case, as_of)], [y, y], color=RED, linewidth=1.0, linestyle=(0, (2, 1.5)), zorder=2)
            ax.plot(due_w, y, marker="X", markersize=5.5, color=RED, zorder=4)
        elif v.status is DeadlineStatus.WAIVED:
            ax.plot(due_w, y, marker="o", markersize=4, markerfacecolor="white", markeredgecolor=GREY, zorder=3)
        elif v.status is DeadlineStatus.PASSED:
            ax.plot(due_w, y, marker="D", markersize=3.2, color=GREY, zorder=3)
        else:  # open: still to come
            ax.plot(due_w, y, marker="o", markersize=4.2, markerfacecolor="white", markeredgecolor="#333333", zorder=3)
        short_msgid = glossary.step_short(v.key)
        if short_msgid is None or v.occurrence is not None:
            continue
        short = _(short_msgid)
        # Labels go on the first row where they do not touch the one before (about 0.8 week per character),
        # and stay inside the axis: the last steps sit near its right end.
        width = 0.8 * len(short) + 0.6
        at = due_w if due_w is not None else done_w
        assert at is not None  # a step with neither date was skipped above
        x = min(max(at, width / 2), x_max - width / 2)
        for row, end in enumerate(label_rows):
            if x - width / 2 > end or row == len(label_rows) - 1:
                label_rows[row] = x + width / 2
                colour = RED if (v.status is DeadlineStatus.OVERDUE or (v.late and v.deviation is None)) else "#222222"
                ax.text(x, y + 0.3 + 0.3 * row, short, ha="center", va="bottom", fontsize=5.6, color=colour, zorder=5)
                break


def _bar(
    ax,
    lane: str,
    start: float,
    end: float,
    colour: str,
    *,
    height: float = 0.38,
    label: str | None = None,
    hatch: str | None = None,
    alpha: float = 1.0,
) -> None:
    y = LANES[lane]
    width = max(end - start, 0.25)
    ax.broken_barh(
        [(start, width)],
        (y - height / 2, height),
        facecolors=colour,
        edgecolor="white" if not hatch else "#555555",
        linewidth=0.4,
        hatch=hatch,
        alpha=alpha,
        zorder=2,
    )
    if label and width >= 3.2:
        ax.text(start + width / 2, y, label, ha="center", va="center", fontsize=5.6, color="white", zorder=3)


def render_timeline(case: CaseState, trajectory: TrajectoryState | None, as_of: date) -> str:
    """The case's timeline as an SVG document (text as paths, so it looks the same everywhere)."""
    views = deadlines(case, as_of)
    end_w = max(104.0, _week(case, wachttijd_end(case) or as_of), _week(case, as_of)) + 2
    fig = Figure(figsize=(6.9, 2.9), dpi=100)
    ax = fig.add_axes((0.15, 0.2, 0.835, 0.76))

    # Spoor 1: from the probleemanalyse (the case's entry into spoor 1) until spoor 2 starts or the case ends.
    stage_from = _stage_starts(case.dossier, as_of)
    closed = case.closed_on if case.closed_on and case.closed_on <= as_of else None
    last = closed or as_of
    s1 = stage_from.get("spoor1") or (case.done["probleemanalyse"].on if "probleemanalyse" in case.done else None)
    if s1 is not None and s1 <= as_of:
        s1_end = case.spoor2.started_on if case.spoor2.started_on and case.spoor2.started_on <= last else last
        _bar(ax, "spoor1", _week(case, s1), _week(case, s1_end), "#7aa874", label="Spoor 1")
    if case.ad.started_on is not None and case.ad.started_on <= as_of:
        ad_end = _ad_concluded_on(case.dossier, as_of) or last
        _bar(ax, "ad", _week(case, case.ad.started_on), _week(case, ad_end), "#b08ac0", label="AD")
    # Spoor 2: the trajectory as a thin bar, its phases on it, pauses hatched.
    s2 = trajectory.started_on if trajectory is not None else case.spoor2.started_on
    if s2 is not None and s2 <= as_of:
        ended = (trajectory.ended_on if trajectory is not None else None) or case.spoor2.ended_on
        s2_end = min(ended, as_of) if ended else last
        _bar(ax, "spoor2", _week(case, s2), _week(case, s2_end), "#c9d6e8", height=0.16)
        if trajectory is not None:
            for p in trajectory.phases:
                if p.started_on > as_of:
                    continue
                p_end = min(p.completed_on, as_of) if p.completed_on else s2_end
                colour = RED if p.time_up_flagged and p.completed_on is None else PHASE_COLOURS[(p.number - 1) % 4]
                _bar(ax, "spoor2", _week(case, p.started_on), _week(case, p_end), colour, label=f"Fase {p.number}")
            for pause in trajectory.pauses:
                if pause.on > as_of:
                    continue
                until = min(pause.resumed_on, as_of) if pause.resumed_on else as_of
                # Under the bar, so the phase stays readable: the phase clock stood still here.
                x0 = _week(case, pause.on)
                ax.broken_barh(
                    [(x0, max(_week(case, until) - x0, 0.25))],
                    (LANES["spoor2"] - 0.42, 0.16),
                    facecolors="white",
                    edgecolor="#555555",
                    linewidth=0.4,
                    hatch="////",
                    zorder=2,
                )
            if trajectory.haalbaarheid is not None and trajectory.haalbaarheid.on <= as_of:
                h = trajectory.haalbaarheid
                ax.plot(
                    _week(case, h.on),
                    LANES["spoor2"],
                    marker="v" if h.decision == "no_go" else "^",
                    markersize=5.5,
                    color=RED if h.decision == "no_go" else GREEN,
                    zorder=5,
                )

    # Escalations: the level raised, and the steps people took against a stall.
    y = LANES["escalation"]
    last_label = -1e9
    for e in case.dossier:
        if e.on > as_of:
            continue
        x = _week(case, e.on)
        if e.kind == "escalation_raised":
            raised = e.details.get("level")
            level = raised if isinstance(raised, int) else 1
            ax.plot(x, y, marker="^", markersize=6, color=ESCALATION_LEVEL_COLOURS.get(level, RED), zorder=4)
            # Levels raised days apart would print on top of each other: the later one moves right.
            last_label = max(x, last_label + 1.4)
            ax.text(last_label, y + 0.22, str(level), ha="center", va="bottom", fontsize=5.2, color="#333333", zorder=5)
        elif e.kind == "escalation_resolved":
            ax.plot(x, y, marker="o", markersize=3.2, color=GREEN, zorder=3)
        elif e.kind in ("measure_taken", "stagnation_reported", "non_cooperation_recorded"):
            ax.plot(x, y, marker="s", markersize=3.4, color="#333333", zorder=4)

    _step_markers(ax, case, views, as_of, end_w)

    as_of_w = _week(case, as_of)
    ax.axvline(as_of_w, color="#333333", linewidth=0.8, linestyle=(0, (3, 2)), zorder=1)
    ax.text(as_of_w, -0.12, "peildatum", ha="center", va="top", fontsize=5.4, color="#333333")
    end_wait = wachttijd_end(case)
    if end_wait is not None:
        ax.axvline(_week(case, end_wait), color=GREY, linewidth=0.8, zorder=1)

    ax.set_xlim(0, end_w)
    ax.set_ylim(-0.5, 5.55)
    ax.set_yticks([LANES[k] for k in LANES], [_(glossary.TIMELINE_LANES[k]) for k in LANES])
    ax.set_xticks(list(range(0, int(end_w) + 1, 13)))
    ax.set_xticks(list(range(0, int(end_w) + 1, 1)), minor=True)
    ax.tick_params(axis="x", which="minor", length=1.5, width=0.3)
    ax.tick_params(axis="both", length=2.5, width=0.5, pad=2)
    ax.set_xlabel("Ziekteweek", labelpad=2)
    ax.grid(axis="x", which="major", color="#dddddd", linewidth=0.5, zorder=0)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(0.5)

    legend = [
        Line2D([], [], marker="o", color=GREEN, linestyle="", markersize=4, label="op tijd gedaan"),
        Line2D([], [], marker="o", color=RED, linestyle="-", linewidth=1.4, markersize=4, label="te laat gedaan"),
        Line2D(
            [],
            [],
            marker="o",
            color=BLUE,
            linestyle="-",
            linewidth=1.4,
            markersize=4,
            label="later, met reden (afwijking)",
        ),
        Line2D([], [], marker="X", color=RED, linestyle="", markersize=5, label="niet gedaan"),
        Line2D(
            [],
            [],
            marker="o",
            markerfacecolor="white",
            markeredgecolor="#333333",
            linestyle="",
            markersize=4,
            label="nog open",
        ),
        Line2D([], [], marker="|", color=GREY, linestyle="", markersize=7, label="uiterste datum"),
        Line2D(
            [],
            [],
            marker="^",
            color=ESCALATION_LEVEL_COLOURS[2],
            linestyle="",
            markersize=5,
            label="escalatie (niveau)",
        ),
        Patch(facecolor="white", edgecolor="#555555", hatch="////", label="pauze"),
    ]
    fig.legend(
        handles=legend,
        loc="lower center",
        ncol=8,
        frameon=False,
        fontsize=5.4,
        handlelength=1.6,
        columnspacing=1.0,
        handletextpad=0.4,
        bbox_to_anchor=(0.55, 0.0),
    )

    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def timeline_data_uri(case: CaseState, trajectory: TrajectoryState | None, as_of: date) -> str:
    """The timeline as a data: URI, for an <img> that the browser and the PDF both show."""
    svg = render_timeline(case, trajectory, as_of).encode("utf-8")
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def week_of(case: CaseState, d: date) -> int:
    """The week of illness a date falls in, as the reports print it."""
    return case.clock.week_of_date(d)
