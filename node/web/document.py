"""One document: its metadata, the check of where it came from, attachments (streamed),
timeline and the actions the state machine allows now, each done by node.unit.documents."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.unit import dead_letters, pdf_verify
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import write_plaintext
from lienthong.node.unit.copies import COPY_TYPES
from lienthong.node.unit.views import (
    business_view,
    links_view,
    recipients_view,
    signature_check,
    timeline_view,
)
from lienthong.node.web.base import (
    USER,
    can,
    context_of,
    document_id,
    forbidden,
    not_found,
    render,
    requires,
    see_other,
    tr,
)
from lienthong.node.web.official import official_view
from lienthong.node.web.registers import duplicate_line
from lienthong.node.web.work import WORK_ACTIONS
from lienthong.node.web.work import document_context as work_context
from lienthong.protocol.document import DocumentMetadata
from lienthong.protocol.limits import MAX_REASON, MAX_SHORT_TEXT
from lienthong.protocol.states import TRANSITIONS, DocState, RecallState, TransitionError
from lienthong.protocol.status import Staff
from lienthong.storage.documents import get_document, get_envelope_raw
from lienthong.storage.errors import NotFound, disk_full
from lienthong.storage.registers import incoming_number_of, possible_duplicates

log = logging.getLogger("lienthong.web")

# Which capability each action of node.unit.documents.ACTIONS needs.
ACTION_CAPABILITY = {
    "accepted": "register",
    "rejected": "register",
    "assigned": "assign",
    "in-progress": "progress",
    "completed": "progress",
}
# Every action the page posts, with the capability it needs.
ACTION_NEEDS = {
    **ACTION_CAPABILITY,
    "recall-agree": "register",
    "recall-refuse": "register",
    "recall": "send",
    "retry": "retry",  # a dead letter, sent again
}
# Media types a browser may show inline: PDF only. Anything else downloads, so an
# HTML or SVG attachment can never run script in the page's origin.
INLINE_TYPES = frozenset({"application/pdf"})
_SAFE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_ ()")


def allowed_actions(request: web.Request, state: str, recall: str) -> list[str]:
    """node.unit.documents.ACTIONS the state machine allows from `state`, that this user may do."""
    try:
        current = DocState(state)
    except ValueError:
        return []
    allowed = TRANSITIONS.get(current, frozenset())
    names = [name for name, target in service.ACTIONS.items() if target in allowed]
    if recall == RecallState.REQUESTED.value:
        names = []  # the recall is answered first
    return [n for n in names if can(request, ACTION_CAPABILITY[n])]


async def _load(request: web.Request):
    ctx = context_of(request)
    doc_id = document_id(request)
    async with ctx.store.read() as conn:
        doc = await get_document(conn, doc_id)
        if doc is None:
            raise not_found(request)
        raw = await get_envelope_raw(conn, doc_id)
        recipients = await recipients_view(conn, doc_id) if doc.direction == "out" else []
        registered = await incoming_number_of(conn, doc_id) if doc.direction == "in" else None
    return ctx, doc, raw, recipients, registered


def _ms(iso: str | None) -> int | None:
    """An ISO 8601 time of a signature as Unix milliseconds (the page's dmy_time)."""
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp() * 1000)


def _shown_check(check: dict | None) -> dict | None:
    """A PDF's stored check with its signatures' times as the page shows them."""
    if check is None:
        return None
    signatures = [
        s | {"signing_ms": _ms(s["signing_time"]), "timestamp_ms": _ms(s["timestamp_time"])}
        for s in check["signatures"]
    ]
    return check | {"signatures": signatures}


@requires("view")
async def show(request: web.Request) -> web.StreamResponse:
    return await _show(request)


async def _show(request: web.Request, *, error: str | None = None, status: int = 200):
    ctx, doc, raw, recipients, registered = await _load(request)
    body = service.stored_body(doc)
    attachments = [
        {
            "index": i,
            "name": a.name,
            "size": a.size,
            "media_type": a.media_type,
            "inline": a.media_type in INLINE_TYPES,
        }
        for i, a in enumerate(body.attachments)
    ]
    async with ctx.store.read() as conn:  # updates, replacements and replies linked
        linked, business = await links_view(conn, doc), await business_view(conn, doc)
        checks = await pdf_verify.file_checks(conn, doc.id, body)
        for a, check in zip(attachments, checks, strict=True):
            a["check"] = _shown_check(check)
        # Each status with its words: a 15 or 16 by what it answers (recall, update, ...).
        timeline = [{**e, "at": e["at_ms"]} for e in await timeline_view(conn, doc)]
        duplicates = await _duplicates(request, conn, doc, body.metadata)
    context: dict[str, Any] = {
        "doc": doc,
        "m": body.metadata,
        "attachments": attachments,
        "signature": await signature_check(ctx, raw),
        "timeline": timeline,
        "recipients": recipients,
        "registered": registered,
        "received_at": doc.created_at,
        "actions": allowed_actions(request, doc.state, doc.recall) if doc.direction == "in" else [],
        "answer_recall": doc.direction == "in"
        and doc.recall == RecallState.REQUESTED.value
        and can(request, "register"),
        "can_recall": doc.direction == "out" and can(request, "send"),
        # The document as on paper, and its update or replacement from the compose page.
        "o": official_view(body.metadata, body.business),
        "can_amend": doc.direction == "out" and can(request, "send"),
        "links": linked,
        "business": business,
        "can_reply": doc.direction == "in" and can(request, "send"),
        # "Sao văn bản": a copy (sao y, trích sao, sao lục) of a document received or sent.
        "can_copy": can(request, "send"),
        "copy_types": COPY_TYPES,
        "dead": await dead_letters.of_document(ctx, doc.id),
        "can_retry": can(request, "retry"),
        "error": error,
        "done": request.query.get("done"),
        "duplicates": duplicates,
        **await work_context(request, doc),  # its assignment and the forms of the work on it
    }
    if context["work"] and context["work"]["a"]:  # assigned: its lead's forms move it on
        context["actions"] = [a for a in context["actions"] if a not in WORK_ACTIONS]
    return render(request, "document.html", context, status=status)


async def _duplicates(request: web.Request, conn, doc, m: DocumentMetadata) -> list[str]:
    """Before an arrived document is registered: "Có thể trùng với văn bản đến số … ngày …"
    for each incoming line of this year or the last with its register key (and issuer). A
    paper line registration will link to it (same key, issuer and date) is no duplicate."""
    if doc.direction != "in" or doc.state != DocState.ARRIVED.value:
        return []
    year = time.localtime(doc.created_at / 1000).tm_year  # the year it arrived
    lines = await possible_duplicates(
        conn, m.number_notation, year=year, issuer_code=doc.issuer_code, document_id=doc.id
    )
    return [
        duplicate_line(request, e)
        for e in lines
        if not (e.manual and e.document_id is None and e.doc_date == m.issued_on)
    ]


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII fallback name plus the exact UTF-8 name (RFC 5987 encoding)."""
    fallback = "".join(c if c in _SAFE_NAME_CHARS else "_" for c in name)[:MAX_SHORT_TEXT]
    return f"{kind}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{quote(name, safe='')}"


@requires("view")
async def download(request: web.Request) -> web.StreamResponse:
    """Stream an attachment's plaintext, decrypting chunk by chunk in a thread."""
    ctx, doc, _raw, _recipients, _registered = await _load(request)
    body = service.stored_body(doc)
    index = int(request.match_info["index"])
    if index >= len(body.attachments):
        raise not_found(request)
    attachment = body.attachments[index]
    if not ctx.blobs.exists(attachment.blob):
        raise not_found(request)
    inline = request.query.get("inline") == "1" and attachment.media_type in INLINE_TYPES
    response = web.StreamResponse(
        headers={
            "Content-Type": attachment.media_type if inline else "application/octet-stream",
            "Content-Disposition": content_disposition(
                "inline" if inline else "attachment", attachment.name
            ),
            "Content-Length": str(attachment.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    await write_plaintext(response, ctx.blobs, attachment)
    await response.write_eof()
    return response


def _text(form, name: str, limit: int) -> str | None:
    value = str(form.get(name, "")).strip()
    return value[:limit] or None


def _missing(action: str, note: str | None, assignee: str | None) -> str | None:
    """The catalogue key of what the form lacks for `action` (node.unit.documents refuses
    the same, in English for the log), or None."""
    if action in ("rejected", "recall-refuse") and not note:
        return "doc.err.reason"
    if action == "assigned" and not assignee:
        return "doc.err.assignee"
    return None


def explain(request: web.Request, action: str, exc: LienthongError) -> str:
    """What a refused action tells the clerk, in the page's language; the English message of
    `exc` goes to the log, never onto the page."""
    full = disk_full(exc, context_of(request).config.data_dir)
    if full is not None:
        return tr(request, "error.disk_full", path=full.path or "")
    if isinstance(exc, TransitionError):
        return tr(request, "doc.err.transition")
    if action == "retry" and isinstance(exc, NotFound):
        return tr(request, "doc.err.nothing_to_retry")
    log.warning("%s %s: %s", action, request.path, exc)
    return tr(request, "doc.err.not_done")


@requires("view")
async def act(request: web.Request) -> web.StreamResponse:
    """POST an action on an incoming document; every rule is node.unit.documents'."""
    ctx = context_of(request)
    doc_id = document_id(request)
    form = await request.post()
    action = str(form.get("action", ""))
    if action not in ACTION_NEEDS:
        raise web.HTTPBadRequest(text=tr(request, "error.bad_action"))
    if not can(request, ACTION_NEEDS[action]):
        raise forbidden(request, "error.role")
    user = request[USER]
    note = _text(form, "note", MAX_REASON)
    assignee = _text(form, "assignee", MAX_SHORT_TEXT)
    missing = _missing(action, note, assignee)
    if missing is not None:
        return await _show(request, error=tr(request, missing), status=400)
    if action == "accepted" and not form.get("confirm_duplicate"):
        async with ctx.store.read() as conn:
            doc = await get_document(conn, doc_id)
            if doc is not None and await _duplicates(
                request, conn, doc, service.stored_body(doc).metadata
            ):
                return await _show(request, error=tr(request, "reg.dup.ask"), status=409)
    try:
        if action in service.ACTIONS:
            state = service.ACTIONS[action]
            await service.process_document(
                ctx,
                doc_id,
                state,
                actor=user.username,
                note=None if state is DocState.REJECTED else note,
                reason=note if state is DocState.REJECTED else None,
                assignee=assignee if state is DocState.ASSIGNED else None,
                staff=Staff(name=user.display_name or user.username),
            )
        elif action in ("recall-agree", "recall-refuse"):
            await service.answer_recall(
                ctx, doc_id, agree=action == "recall-agree", actor=user.username, reason=note
            )
        elif action == "recall":
            await service.recall(ctx, doc_id, actor=user.username, reason=note)
        else:  # retry a dead letter, after the cause is fixed
            recipient = _text(form, "recipient", MAX_SHORT_TEXT)
            await dead_letters.retry(ctx, doc_id, actor=user.username, destination=recipient)
    except LienthongError as exc:
        return await _show(request, error=explain(request, action, exc), status=409)
    raise see_other(f"/documents/{doc_id}?done={action}")
