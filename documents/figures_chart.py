"""One verzuim figure over time as a bar chart (SVG drawn here, no script): a group of bars per period, one bar per
series, the value written above each bar so the number is read without guessing from the axis. A period without a
figure (no employment data, no case ended) shows a dash instead of a bar of zero, which would say something false.
Colours are presentation attributes: the same picture in a browser and in a PDF."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from documents.svg import Svg, num
from documents.timeline import FONT, INK, MUTED

WIDTH, HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 40
GRID = "#d8dee4"
PALETTE = ("#1a66d2", "#8ab4f0", "#b26a00", "#2e7d32")


@dataclass
class Series:
    name: str
    values: Sequence[float | None]


def _nice_top(highest: float) -> float:
    """The axis' top just above the highest value, chosen so that its four gridlines fall on round numbers."""
    if highest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(highest))
    return float(next(step * power for step in (1, 2, 4, 6, 8, 10) if step * power >= highest))


def _plain(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    name: str = "",
    shown: Callable[[float], str] = _plain,
    stacked: bool = False,
) -> str:
    """The chart of `series` (each with a value per label); `name` becomes its data-figure attribute, `shown` writes
    a number as the reader's language does (a decimal comma in Dutch). `stacked`: one bar per period with the series
    on top of each other (counts that add up, such as cases per duration class), on an axis of whole numbers."""
    svg = Svg(interactive=True)
    if stacked:
        highest = max((sum(s.values[i] or 0 for s in series) for i in range(len(labels))), default=0.0)
        top = float(max(4, math.ceil(highest / 4) * 4))  # four gridlines on whole numbers
    else:
        # Room above the highest bar for its value.
        top = _nice_top(1.08 * max((v for s in series for v in s.values if v is not None), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    svg.add("text", {"x": LEFT, "y": 16, "font_weight": "600", "font_size": "13", "fill": INK}, text=title)
    for i in range(5):  # four gridlines and the base
        y = base - plot_h * i / 4
        svg.add("line", {"x1": LEFT, "x2": WIDTH - RIGHT, "y1": num(y), "y2": num(y), "stroke": GRID})
        svg.add(
            "text",
            {"x": LEFT - 6, "y": num(y + 4), "text_anchor": "end", "font_size": "10", "fill": MUTED},
            text=shown(top * i / 4) + unit,
        )
    slot = plot_w / max(len(labels), 1)
    across = 1 if stacked else len(series)
    bar = min(28.0, slot * 0.8 / max(across, 1))
    written = across * len(labels) <= 24  # the values written above the bars only where they fit
    for i, label in enumerate(labels):
        x0 = LEFT + slot * i + (slot - bar * across) / 2
        height_so_far = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            x = x0 if stacked else x0 + bar * j
            if value is None:
                svg.add(
                    "text",
                    {"x": num(x + bar / 2), "y": base - 4, "text_anchor": "middle", "fill": MUTED},
                    text="–",
                )
                continue
            h = plot_h * value / top
            y = base - height_so_far - h
            if value:
                svg.add(
                    "rect",
                    {"x": num(x), "y": num(y), "width": num(bar - 2), "height": num(h), "fill": PALETTE[j]},
                    title=f"{s.name} {label}: {shown(value)}{unit}",
                    data={"period": label, "series": j, "value": _plain(value)},
                )
            if stacked:
                height_so_far += h
            elif written and value:
                svg.add(
                    "text",
                    {"x": num(x + bar / 2 - 1), "y": num(y - 3), "text_anchor": "middle", "font_size": "9"},
                    text=shown(value),
                )
        if stacked and written and height_so_far:
            total = sum(s.values[i] or 0 for s in series)
            svg.add(
                "text",
                {
                    "x": num(x0 + bar / 2 - 1),
                    "y": num(base - height_so_far - 3),
                    "text_anchor": "middle",
                    "font_size": "9",
                },
                text=shown(total),
            )
        svg.add(
            "text",
            {
                "x": num(LEFT + slot * i + slot / 2),
                "y": HEIGHT - BOTTOM + 14,
                "text_anchor": "middle",
                "font_size": "10",
            },
            text=label,
        )
    x = LEFT
    for j, s in enumerate(series):  # the legend, below the labels
        svg.add("rect", {"x": x, "y": HEIGHT - 16, "width": 10, "height": 10, "fill": PALETTE[j]})
        svg.add("text", {"x": x + 14, "y": HEIGHT - 7, "font_size": "10.5", "fill": INK}, text=s.name)
        x += 24 + 7 * len(s.name)
    return svg.document(
        {
            "class": "figure-chart",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "width": "100%",
            "role": "img",
            "aria_label": title,
            "font-family": FONT,
            "font-size": "11",
            "data_figure": name,
        }
    )
