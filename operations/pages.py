"""How a dashboard page is drawn: the templates' environment, its filters, and the page helpers every page shares.

The dashboard (operations.dashboard) and the sign-in pages (operations.signin) both render through `render`; labels
come from domain.glossary and are translated per request (service.i18n), a dossier entry's sentence from
documents.dossier_text. Templates autoescape; every page carries `SECURITY_HEADERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from documents.dossier_text import describe, standing_text, trajectory_document
from domain import glossary
from service import i18n, texts
from service.i18n import _

HERE = Path(__file__).parent
REFRESH_SECONDS = 15

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# `{{ _("…") }}` in the templates translates into the request's language (operations.api.Language).
# The i18n extension adds this method to the Environment at run time; jinja2's annotations do not declare it.
env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
env.globals["language"] = i18n.language
env.filters["day"] = i18n.format_day


def _per_request(label: Callable[..., str]) -> Callable[..., str]:
    """A filter that translates when the page is rendered. Jinja evaluates a filter on a constant (`"done"|status_label`)
    once, when it compiles the template; asking for the context keeps it from doing so, and from serving every later
    page in the language of the first."""

    @jinja2.pass_context
    def translated(_context: Any, value: Any, *args: Any) -> str:
        return label(value, *args)

    return translated


def _key(value: Any) -> str:
    return str(getattr(value, "value", value))  # an enum's value, or the string itself


# Labels come from the one registry (domain.glossary) and are translated where they are shown.
env.filters["stage_label"] = _per_request(lambda s: _(glossary.stage_label(_key(s) if s else None)))
env.filters["entry_label"] = _per_request(lambda k: _(glossary.entry_label(_key(k))))
env.filters["role_label"] = _per_request(lambda r: _(glossary.role_label(_key(r))))
env.filters["status_label"] = _per_request(lambda s: _(glossary.DEADLINE_STATUSES.get(_key(s), _key(s))))
env.filters["outcome_label"] = _per_request(lambda o: _(glossary.OUTCOMES.get(_key(o), _key(o))))
env.filters["detail_label"] = _per_request(lambda kind, name: _(glossary.detail_label(_key(kind), _key(name))))
env.filters["escalation_reason"] = _per_request(lambda r: _(glossary.ESCALATION_REASONS.get(_key(r), _key(r))))
env.filters["trajectory_status"] = _per_request(lambda s: _(glossary.SPOOR2_STATUSES.get(_key(s), _key(s))))
env.filters["choice_label"] = _per_request(lambda v: _(glossary.choice_label(_key(v))))
env.filters["expectation_context"] = _per_request(lambda context: expectation_context(str(context)))
# A dossier entry's sentence: one filter, so that the documents' own wording can replace it in one place.
env.filters["uwv_message"] = _per_request(lambda k: _(glossary.UWV_MESSAGES.get(_key(k), _key(k))))
env.filters["uwv_status"] = _per_request(lambda s: _(glossary.UWV_STATUSES.get(_key(s), _key(s))))
env.filters["expected_what"] = _per_request(
    # A trajectory's expectation carries its words as a message with parameters (phase, days): `what` is English.
    lambda e: texts.render(e.what_text) if e.what_text is not None else _(e.what)
)
env.filters["entry_text"] = describe
env.filters["standing"] = standing_text


def expectation_context(context: str) -> str:
    """Where an expectation comes from ("spoor1", "spoor2:fase1") in words: the stage's label, and the phase."""
    stage, _sep, detail = context.partition(":")
    label = _(glossary.stage_label(stage))
    phase = re.fullmatch(r"fase(\d+)", detail)
    if phase:
        return f"{label} · " + _("phase %(number)s", number=phase.group(1))
    return f"{label} · {_(glossary.choice_label(detail))}" if detail else label


def _detail(value: Any) -> str:
    """A dossier detail as text: nested records as 'key: value; …' rather than Python's repr."""
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_detail(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail(v) for v in value)
    return str(value)


env.filters["detail"] = _detail


def _detail_value(value: Any, key: str, step_names: dict[str, str]) -> str:
    """A dossier detail's value as a person reads it: a step by its name, a stage, role or choice by its label, a
    day as a date, yes/no; the rest as `_detail` writes it."""
    if isinstance(value, bool):
        return _(glossary.choice_label(str(value).lower()))
    if isinstance(value, float):  # 4.0 as 4, 4.5 as 4,5 in Dutch
        return i18n.format_number(value)
    if isinstance(value, str):
        if key == "document":  # one the case makes (glossary), else one a trajectory receives (its rules)
            return (
                _(glossary.DOCUMENT_TITLES[value]) if value in glossary.DOCUMENT_TITLES else trajectory_document(value)
            )
        if key in ("key", "deadline", "measure") and value in step_names:
            return step_names[value]
        if key in ("stage", "from", "to") and value in glossary.STAGES:
            return _(glossary.stage_label(value))
        if key in ("outcome",) and value in glossary.OUTCOMES:
            return _(glossary.OUTCOMES[value])
        if key == "reason" and value in glossary.ESCALATION_REASONS:
            return _(glossary.ESCALATION_REASONS[value])
        if value in glossary.CHOICES or value in glossary.ROLES:
            return _(glossary.choice_label(value))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return i18n.format_day(date.fromisoformat(value))
    return _detail(value)


env.filters["detail_value"] = _per_request(_detail_value)


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of operations/templates in the request's language, with the security headers every page carries."""
    # `i18n`: the script's own strings, in the page's language.
    html = env.get_template(template).render(refresh_seconds=REFRESH_SECONDS, i18n=_script_strings(), **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _script_strings() -> dict[str, str]:
    """What dashboard.js shows (status lines, error prefixes, form hints), translated for the page's JSON block."""
    return {
        "updated": _("updated %(time)s"),
        "refreshFailed": _("refresh failed at %(time)s; retrying"),
        "busy": _("Working…"),
        "recording": _("Recording %(action)s…"),
        "recorded": _("Recorded: %(what)s"),
        "recordedBefore": _("Recorded before: %(what)s"),
        "refused": _("Refused (%(status)s): %(reason)s"),
        "failed": _("Failed (%(status)s): %(reason)s. Sending again is safe."),
        "notSent": _("Not sent: %(reason)s. Sending again is safe."),
        "invalidField": _("Not sent: a field is not filled in correctly."),
        "invalidJson": _("not valid JSON: %(reason)s"),
        "early": _(
            "%(action)s is due by %(due)s, %(days)s days after the date you gave. Recorded now, it changes the case "
            "(its stage, its documents). Record it anyway?"
        ),
        "importChecked": _(
            "Checked: %(rows)s rows, %(valid)s to open, %(refused)s refused (below). Nothing has been opened yet."
        ),
        "importStarted": _(
            "Importing: %(valid)s of %(rows)s rows are being opened; %(refused)s refused (below). The list shows how far."
        ),
        "importNothing": _("Nothing imported: none of the %(rows)s rows can be opened (below)."),
        "employmentStored": _("Stored: %(rows)s employments. The figures are counted again with them."),
        "employmentRefused": _("Nothing stored: the file has problems (below). Correct them and send it again."),
        "yes": _("yes"),
        "no": _("no"),
        "choose": _("choose…"),
        "onePerLine": _("one per line"),
        "refusedFallback": _("refused"),
    }


def to_login(request: Request) -> RedirectResponse:
    """To the login page, and back to this page after it."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        "/login?" + urlencode({"next": target}), status_code=303, headers={"Cache-Control": "no-store"}
    )


def safe_next(value: str | None) -> str:
    """Only a path of this site: never another origin (`//host`, `/\\host`, `https:`, nor `/<tab>/host`, which a
    browser reads as `//host` once it drops the tab). No control characters, spaces or backslashes at all."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or any(c <= " " or c in "\\\x7f" for c in value)
    ):
        return "/"
    return value


def same_origin(request: Request) -> bool:
    """A form post comes from our own pages (SameSite=Strict covers the cookie; this covers login CSRF)."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or one that sends no Origin on a same-origin form post
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form's fields (a larger body is no form of ours: none)."""
    body = await request.body()
    if len(body) > 8192:
        return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
