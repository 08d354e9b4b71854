"""The dossier as documents: which are due, and each rendered (or given up on) recorded."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain import glossary
from domain.case.state import CaseState
from domain.documents import DocumentKind, DocumentOrder, DocumentRef, add_months
from domain.messages import N_, text
from domain.models import SYSTEM, DossierEntry, Notification, Role
from domain.nl_time import local_date


def documents_due(state: CaseState, today: date) -> list[DocumentOrder]:
    """Documents the case should have rendered by `today` and has not: on events, on the monthly timer, on request."""
    rules = state.documents.rules
    if rules is None:
        return []
    done = set(state.documents.done)
    wanted: list[DocumentOrder] = []
    for entry in state.dossier:
        if entry.kind == "spoor2:intake_held":
            wanted.append(DocumentOrder(order_id="intakeverslag", kind=DocumentKind.INTAKEVERSLAG, as_of=entry.on))
        elif entry.kind == "spoor2:haalbaarheidstoets_decided" and entry.details.get("decision") == "no_go":
            wanted.append(DocumentOrder(order_id="no_go_rapport", kind=DocumentKind.NO_GO_RAPPORT, as_of=entry.on))
        elif entry.kind == "stage_changed" and entry.details.get("to") == "wia":
            # Dated the day it is made: a case that reached the stage in its past (opened late)
            # is not reported as of a day before anyone recorded what it holds.
            as_of = max(entry.on, local_date(entry.recorded_at))
            wanted.append(
                DocumentOrder(
                    order_id="reintegratieoverzicht-wia", kind=DocumentKind.REINTEGRATIEOVERZICHT, as_of=as_of
                )
            )
    wanted.extend(_progress_reports(state, today))
    wanted.extend(state.documents.requests)
    return [o for o in wanted if o.order_id not in done]


def _progress_reports(state: CaseState, today: date) -> list[DocumentOrder]:
    rules, start = state.documents.rules, state.spoor2.started_on
    if rules is None or start is None:
        return []
    last = today if state.spoor2.ended_on is None else min(today, state.spoor2.ended_on)
    orders, n = [], 1
    period_start = start
    while (due := add_months(start, n * rules.documents.progress_report_every_months)) <= last:
        orders.append(
            DocumentOrder(
                order_id=f"voortgangsrapportage-{n}",
                kind=DocumentKind.VOORTGANGSRAPPORTAGE,
                as_of=due,
                period_start=period_start,
                period_end=due - timedelta(days=1),
            )
        )
        period_start, n = due, n + 1
    return orders


def next_progress_report(state: CaseState, today: date) -> date | None:
    """The day the next monthly voortgangsrapportage falls due, while spoor 2 runs."""
    rules, start = state.documents.rules, state.spoor2.started_on
    if rules is None or start is None or not state.spoor2_running:
        return None
    n = 1
    while (due := add_months(start, n * rules.documents.progress_report_every_months)) <= today:
        n += 1
    return due


def document_rendered(state: CaseState, ref: DocumentRef, *, now: datetime) -> DossierEntry:
    """Record where a rendered document is stored and its content hash; the document itself stays out."""
    order = ref.order
    state.documents.done.append(order.order_id)
    state.documents.refs.append(ref)
    state.documents.requests = [o for o in state.documents.requests if o.order_id != order.order_id]
    return state.log(
        now=now,
        on=order.as_of,
        actor=SYSTEM,
        kind="document_rendered",
        summary=f"{ref.title} ({order.audience.value} version) rendered and stored",
        details={
            "order_id": order.order_id,
            "document": order.kind.value,
            "audience": order.audience.value,
            "pdf": ref.pdf.model_dump(),
            "html": ref.html.model_dump(),
        },
    )


def document_failed(state: CaseState, order: DocumentOrder, reason: str, *, today: date, now: datetime) -> DossierEntry:
    """Rendering gave up: the dossier says so and the case manager may request it again."""
    state.documents.done.append(order.order_id)
    state.documents.requests = [o for o in state.documents.requests if o.order_id != order.order_id]
    state.outbox.append(
        Notification(
            notification_id=f"{state.case_id}:document_failed:{order.order_id}",
            case_id=state.case_id,
            recipient_role=Role.CASEMANAGER,
            recipients=state.people.contacts.get(Role.CASEMANAGER, []),
            kind="document_failed",
            subject=f"Case {state.case_id}: the {order.kind.value} could not be made",
            body=f"The {order.kind.value} of case {state.case_id} (as of {order.as_of}) could not be rendered or stored. "
            "Request it again (document_requested) once the document store is reachable.",
            subject_text=text(
                N_("Case %(case)s: the %(document)s could not be made"),
                case=state.case_id,
                document=text(glossary.label(glossary.DOCUMENTS, order.kind)),
            ),
            body_text=text(
                N_(
                    "The %(document)s of case %(case)s (as of %(day)s) could not be rendered or stored. Request "
                    "it again (document_requested) once the document store is reachable."
                ),
                document=text(glossary.label(glossary.DOCUMENTS, order.kind)),
                case=state.case_id,
                day=order.as_of,
            ),
        )
    )
    return state.log(
        now=now,
        on=today,
        actor=SYSTEM,
        kind="document_failed",
        summary=f"{order.kind.value} could not be made: {reason[:200]}",
        details={"order_id": order.order_id, "document": order.kind.value},
    )
