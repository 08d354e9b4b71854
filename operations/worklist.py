""" "Mijn werk": what waits on the signed-in person, across the cases of their scope, read from Temporal visibility.

A case is on the work list when its next step is due within the horizon (14 days) or already past, when a step is
overdue, or when its stagnation watch has escalated. The query is the caller's scope (operations.api.caller_scope)
and these conditions over the search attributes `NextDeadline`, `NextStep`, `Overdue`, `EscalationLevel` and
`Assigned`; the employee's name and the overdue steps are read per listed case afterwards, only where the caller
passes the scope check on the case itself (operations.api.case_details).

Sorting: the dev server's SQLite visibility store does not take ORDER BY, so a page comes in the store's own order
(most recently started first) and is sorted here. The order holds within a page; with more cases than a page, the
first page is not the most urgent of all: the page size is generous (100) so that a person's own list fits one page.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from temporalio.client import Client

from operations import cases

HORIZON_DAYS = 14
PAGE_SIZE = 100


class Sort(StrEnum):
    """How the work list is ordered (within the page visibility returns)."""

    DUE = "due"  # the most urgent first: overdue, then by due day
    CASE = "case"  # by case id
    STEP = "step"  # by step, then due day


class Reason(StrEnum):
    """Why a case is on the work list."""

    DUE = "due"  # its next step is due within the horizon
    OVERDUE = "overdue"  # a step is past its term
    ESCALATED = "escalated"  # the stagnation watch escalated: someone must act


class WorkItem(BaseModel):
    """A case with work waiting: which step, by when, why; nothing personal comes from visibility."""

    case_id: str
    employer_id: str | None
    stage: str | None
    step: str | None = Field(description="The key of the next step (NextStep); None for cases before revision 3")
    due: date | None = Field(description="Its due day (NextDeadline)")
    overdue: bool
    escalation_level: int | None
    reasons: list[Reason]
    overdue_steps: list[str] = Field(default_factory=list, description="The overdue steps' marks (read from the case)")
    employee: str | None = Field(
        default=None, description="The employee's name, for a caller in scope (read from the case)"
    )


class WorkPage(BaseModel):
    items: list[WorkItem]
    until: date = Field(description="Steps due before this day are listed (today + 14 days, inclusive)")
    sort: Sort
    next_page_token: str | None = Field(description="Pass it back for the next page; none on the last")


def _item(listing: cases.CaseListing, until: date, today: date) -> WorkItem:
    reasons: list[Reason] = []
    if listing.next_deadline is not None and listing.next_deadline < until:
        reasons.append(Reason.OVERDUE if listing.next_deadline < today else Reason.DUE)
    if listing.overdue and Reason.OVERDUE not in reasons:
        reasons.append(Reason.OVERDUE)
    if listing.escalation_level:
        reasons.append(Reason.ESCALATED)
    return WorkItem(
        case_id=listing.case_id,
        employer_id=listing.employer_id,
        stage=listing.stage,
        step=listing.next_step,
        due=listing.next_deadline,
        overdue=bool(listing.overdue),
        escalation_level=listing.escalation_level,
        reasons=reasons,
    )


def sorted_items(items: list[WorkItem], sort: Sort) -> list[WorkItem]:
    """The items of one page in the chosen order (see the module: visibility is not asked to sort)."""

    def urgency(i: WorkItem) -> tuple[Any, ...]:
        return (not i.overdue, -(i.escalation_level or 0), i.due or date.max, i.case_id)

    if sort is Sort.CASE:
        return sorted(items, key=lambda i: i.case_id)
    if sort is Sort.STEP:
        return sorted(items, key=lambda i: (i.step is None, i.step or "", i.due or date.max, i.case_id))
    return sorted(items, key=urgency)


def _token(page_token: str | None) -> bytes | None:
    try:
        token = base64.urlsafe_b64decode(page_token.encode()) if page_token else None
        if token is not None:
            json.loads(token)  # the visibility store's tokens are JSON; it answers others with retried errors
    except (ValueError, binascii.Error):
        raise ValueError("page_token: not a token this service handed out") from None
    return token


async def page_worklist(
    client: Client,
    *,
    today: date,
    scope: dict[str, Any],
    sort: Sort = Sort.DUE,
    page_size: int = PAGE_SIZE,
    page_token: str | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> WorkPage:
    """One page of the work list of a caller's scope (`operations.api.caller_scope`), sorted within the page."""
    until = today + timedelta(days=horizon_days + 1)  # the 14th day from today is still "coming"
    it = client.list_workflows(
        cases.cases_query(worklist_until=until, **scope), page_size=page_size, next_page_token=_token(page_token)
    )
    await it.fetch_next_page()
    following = it.next_page_token
    items = [_item(cases._listing(wf), until, today) for wf in it.current_page or []]
    return WorkPage(
        items=sorted_items(items, sort),
        until=until - timedelta(days=1),
        sort=sort,
        next_page_token=base64.urlsafe_b64encode(following).decode() if following else None,
    )
