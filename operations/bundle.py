"""The re-integratieverslag's documents as UWV's portal takes them: one ZIP, one PDF per document, and an index.

`GET /api/cases/{case_id}/bundle` (and `spoorwerk bundle ID`) gathers every rendered document of a case that the
caller may open (operations.documents.may_read: the same rule as each download, so a werkgever gets the werkgever's
versions and the bedrijfsarts's versions go to the bedrijfsarts only), each the stored PDF, checked against the hash
in the dossier. The portal takes one PDF per upload and refuses odd file names: each file is named by its document
type in Dutch and its date (`re-integratieoverzicht-2026-10-23.pdf`), in lowercase letters, digits and '-', with
`-2`, `-3` where two share both. The index (`inhoud.txt`, Dutch as every document for UWV) lists the files and what
the re-integratieverslag still lacks, read from the poortwachtertoets. Every document put in is recorded in the read
audit as a read of that document.
"""

# No `from __future__ import annotations`: FastAPI reads the (local) annotations of the routes.

import asyncio
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timezone
from io import BytesIO
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import Response
from temporalio.client import Client

from documents.store import DocumentNotFound, DocumentStore, DocumentStoreError
from domain import glossary
from domain.documents import Audience, DocumentKind, DocumentRef
from domain.dossier_check import PointStatus, Toets, ToetsStep
from domain.errors import ActionRefused
from operations import api
from operations.auth import Authenticator, Caller
from operations.documents import case_documents, may_read, treating
from service import i18n
from service.audit import Channel, What

LANGUAGE = "nl"  # what goes to UWV is Dutch, whatever the reader's language
INDEX_NAME = "inhoud.txt"
_UNSAFE = re.compile(r"[^a-z0-9]+")


class BundleFile:
    """One document in the bundle: its reference in the dossier, its name in the ZIP and its bytes."""

    def __init__(self, ref: DocumentRef, name: str, data: bytes = b"") -> None:
        self.ref, self.name, self.data = ref, name, data


def safe_name(text: str) -> str:
    """`text` as a portal takes it in a file name: lowercase ASCII letters and digits, runs of anything else one '-'
    (accents dropped: "één" is "een")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _UNSAFE.sub("-", ascii_text.lower()).strip("-") or "document"


def chosen(caller: Caller, refs: Sequence[DocumentRef], treating: Sequence[str]) -> list[BundleFile]:
    """The documents the caller may open, oldest first, each with its file name: the Dutch name of its type, its date
    and, for the bedrijfsarts's confidential version, that; `-2`, `-3`… where two would have the same name."""
    mine = sorted((r for r in refs if may_read(caller, r, treating)), key=lambda r: (r.order.as_of, r.rendered_at))
    taken: set[str] = set()
    found = []
    with i18n.using(LANGUAGE):
        for ref in mine:
            kind = safe_name(i18n.gettext(glossary.label(glossary.DOCUMENTS, ref.order.kind)))
            stem = f"{kind}-{ref.order.as_of.isoformat()}"
            if ref.order.audience is Audience.BEDRIJFSARTS:
                stem += "-" + safe_name(i18n.gettext(glossary.label(glossary.AUDIENCES_SHORT, ref.order.audience)))
            name, n = f"{stem}.pdf", 1
            while name in taken:
                n += 1
                name = f"{stem}-{n}.pdf"
            taken.add(name)
            found.append(BundleFile(ref, name))
    return found


def index_text(case_id: str, files: Sequence[BundleFile], toets: Toets, caller: Caller, today: date) -> str:
    """The bundle's index, in Dutch: what is in it, and what the re-integratieverslag still lacks by the toets."""
    _ = i18n.gettext
    with i18n.using(LANGUAGE):
        lines = [
            _("Re-integratieverslag: the documents of case %(case)s", case=case_id),
            _(
                "Put together on %(day)s for the %(role)s %(id)s.",
                day=i18n.format_day(today, "long"),
                role=_(glossary.role_label(caller.role.value)),
                id=caller.id,
            ),
            _("Each document is a PDF as the dossier keeps it; its SHA-256 is the one the dossier recorded."),
            "",
            i18n.ngettext("In this bundle (%(num)s document):", "In this bundle (%(num)s documents):", len(files)),
        ]
        for f in files:
            o = f.ref.order
            period = (
                " "
                + _("(%(start)s – %(end)s)", start=i18n.format_day(o.period_start), end=i18n.format_day(o.period_end))
                if o.period_start and o.period_end
                else ""
            )
            lines += [
                f"- {f.name}",
                f"  {f.ref.title}{period}; {_(glossary.label(glossary.AUDIENCES, o.audience))}",
                "  " + _("as of %(day)s; SHA-256 %(hash)s", day=i18n.format_day(o.as_of), hash=f.ref.pdf.sha256),
            ]
        if not files:
            lines.append("- " + _("none yet that you may open"))
        made = {f.ref.order.kind for f in files}
        if DocumentKind.REINTEGRATIEOVERZICHT not in made:
            lines.append(
                "- "
                + _(
                    "not made yet: the %(document)s; ask for one with the action '%(action)s'",
                    document=_(glossary.label(glossary.DOCUMENTS, DocumentKind.REINTEGRATIEOVERZICHT)),
                    action=_(glossary.entry_label("document_requested")),
                )
            )
        parts = [p for p in toets.points if p.step is ToetsStep.DOCUMENTEN]
        lines += [
            "",
            _(
                "The parts of the re-integratieverslag by the poortwachtertoets of %(day)s:",
                day=i18n.format_day(toets.as_of),
            ),
        ]
        status = {
            PointStatus.OPEN: _("MISSING"),
            PointStatus.LATER: _("not yet due"),
            PointStatus.OK: _("on record"),
        }
        order = {PointStatus.OPEN: 0, PointStatus.LATER: 1, PointStatus.OK: 2}
        for p in sorted(parts, key=lambda p: order[p.status]):
            lines.append(f"- {status[p.status]}: {p.label} ({p.detail})")
        missing = [p for p in parts if p.status is PointStatus.OPEN]
        lines += [
            "",
            _("No part that is due today is missing.")
            if not missing
            else i18n.ngettext(
                "%(num)s part is missing: record it before the re-integratieverslag goes to UWV.",
                "%(num)s parts are missing: record them before the re-integratieverslag goes to UWV.",
                len(missing),
            ),
            _("The poortwachtertoets as a whole: %(verdict)s", verdict=toets.verdict),
        ]
    return "\r\n".join(lines) + "\r\n"  # CRLF: the index is opened on Windows as often as not


def zipped(files: Sequence[BundleFile], index: str) -> bytes:
    """The ZIP: the index first, then each PDF dated as it was made."""
    out = BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        now = datetime.now(timezone.utc)
        z.writestr(_info(INDEX_NAME, now), index.encode("utf-8"))
        for f in files:
            z.writestr(_info(f.name, f.ref.rendered_at), f.data)
    return out.getvalue()


def _info(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # personal data: readable by its owner only once unpacked
    return info


def bundle_name(case_id: str, today: date) -> str:
    return f"re-integratieverslag-{case_id}-{today.isoformat()}.zip"


def add_bundle_route(app: FastAPI, authenticator: Authenticator, store: DocumentStore | None) -> None:
    """`GET /api/cases/{case_id}/bundle` on the app, through the API's scope check and read audit."""
    router = APIRouter(prefix="/api")
    Authed = Annotated[Caller, Depends(api.caller_dependency(authenticator))]
    client: Client = app.state.client
    readable: api.CaseAccess = app.state.readable_case

    @router.get(
        "/cases/{case_id}/bundle", response_class=Response, responses={200: {"content": {"application/zip": {}}}}
    )
    async def bundle(case_id: api.CaseId, who: Authed) -> Response:
        """The re-integratieverslag's documents for UWV's portal: a ZIP of one PDF per document the caller may open
        (named by type and date), with a Dutch index of what is in it and what the verslag still lacks."""
        summary = await readable(client, case_id, who, What.DOCUMENTS)
        files = chosen(who, await case_documents(client, case_id), treating(summary))
        if files and store is None:
            raise api.Problem(503, ActionRefused("this API has no document store configured"))
        await _record(readable, who, case_id, What.POORTWACHTERTOETS)
        toets = await api.poortwachtertoets(client, case_id)
        for f in files:
            # Recorded before it is read: a document whose reading cannot be recorded is not handed out.
            await _record(readable, who, case_id, What.DOCUMENT, object_id=f.ref.order.order_id)
            assert store is not None
            try:
                f.data = await asyncio.to_thread(store.get, f.ref.pdf)
            except DocumentNotFound as err:
                raise api.Problem(404, str(err)) from None
            except DocumentStoreError as err:
                raise api.Problem(502, str(err)) from None
        today = api.today()
        data = await asyncio.to_thread(zipped, files, index_text(case_id, files, toets, who, today))
        return Response(
            data,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{bundle_name(case_id, today)}"',
                "Cache-Control": "private, no-store",  # personal data: no shared cache keeps it
            },
        )

    app.include_router(router)


async def _record(readable: Any, who: Caller, case_id: str, what: What, *, object_id: str | None = None) -> None:
    if readable.audit is not None:
        await readable.audit.arecord(who, what, case_id=case_id, object_id=object_id, channel=Channel.API)
