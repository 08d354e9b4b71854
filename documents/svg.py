"""A small SVG writer: elements as text, attributes in the order given and escaped, numbers to one decimal.

What a drawing adds for a browser only (tooltips, links, data attributes) is written when the writer is
interactive and left out otherwise, so that one drawing serves a page and a printed document alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape


def num(value: float) -> str:
    """A coordinate as the SVG shows it: one decimal at most (the same drawing, the same bytes)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


class Svg:
    """SVG elements written in order; tooltips, links and data attributes only when the drawing is interactive."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive
        self.parts: list[str] = []

    def start_tag(self, tag: str, attrs: Mapping[str, object], data: Mapping[str, object] | None = None) -> str:
        """The opening of an element without its closing bracket; attributes named with `_` get `-`, None is left out."""
        if self.interactive and data:
            attrs = {**attrs, **{f"data-{k}": v for k, v in data.items()}}
        shown = (
            f' {name.replace("_", "-")}="{escape(num(v) if isinstance(v, float) else str(v))}"'
            for name, v in attrs.items()
            if v is not None
        )
        return f"<{tag}{''.join(shown)}"

    def add(
        self,
        tag: str,
        attrs: Mapping[str, object],
        *,
        text: str | None = None,
        title: str | None = None,
        data: Mapping[str, object] | None = None,
        href: str | None = None,
    ) -> None:
        """One element, with its text; `title` its tooltip and `href` a link around it (interactive only)."""
        inner = (f"<title>{escape(title)}</title>" if title and self.interactive else "") + escape(text or "")
        start = self.start_tag(tag, attrs, data)
        element = f"{start}>{inner}</{tag}>" if inner else f"{start}/>"
        if href and self.interactive:
            element = f'<a href="#{escape(href)}">{element}</a>'
        self.parts.append(element)

    def group(
        self,
        attrs: Mapping[str, object],
        *,
        title: str | None = None,
        data: Mapping[str, object] | None = None,
        href: str | None = None,
    ) -> Group:
        return Group(self, attrs, title, data, href)

    def document(self, attrs: Mapping[str, object]) -> str:
        """The <svg> element around everything added."""
        return self.start_tag("svg", attrs) + ">" + "".join(self.parts) + "</svg>"


class Group:
    """A <g> (inside a link to `href` when interactive) whose children are added within the `with` block."""

    def __init__(
        self,
        svg: Svg,
        attrs: Mapping[str, object],
        title: str | None,
        data: Mapping[str, object] | None,
        href: str | None,
    ) -> None:
        self.svg, self.attrs, self.title, self.data = svg, attrs, title, data
        self.href = href if svg.interactive else None

    def __enter__(self) -> Svg:
        parts = self.svg.parts
        if self.href:
            parts.append(f'<a href="#{escape(self.href)}">')
        parts.append(self.svg.start_tag("g", self.attrs, self.data) + ">")
        if self.title and self.svg.interactive:
            parts.append(f"<title>{escape(self.title)}</title>")
        return self.svg

    def __exit__(self, *exc: object) -> None:
        self.svg.parts.append("</g>" + ("</a>" if self.href else ""))
