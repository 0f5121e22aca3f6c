"""One document: its metadata, signature badge, attachments (streamed), timeline and the
actions the state machine allows now, each done by node.unit.documents."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.times import when
from lienthong.node.unit import dead_letters
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import iter_plaintext
from lienthong.node.unit.views import recipients_view, signature_check
from lienthong.node.web.base import (
    USER,
    can,
    context_of,
    document_id,
    not_found,
    render,
    requires,
    see_other,
    tr,
)
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.limits import MAX_REASON, MAX_SHORT_TEXT
from lienthong.protocol.states import TRANSITIONS, DocState, RecallState
from lienthong.protocol.status import Staff
from lienthong.storage.documents import get_document, get_envelope_raw
from lienthong.storage.registers import incoming_number_of

# Which capability each action of node.unit.documents.ACTIONS needs.
ACTION_CAPABILITY = {
    "accepted": "register",
    "rejected": "register",
    "assigned": "assign",
    "in-progress": "progress",
    "completed": "progress",
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


@requires("view")
async def show(request: web.Request) -> web.StreamResponse:
    return await _show(request)


async def _show(request: web.Request, *, error: str | None = None, status: int = 200):
    ctx, doc, raw, recipients, registered = await _load(request)
    body = service.stored_body(doc)
    events = await service.timeline(ctx, doc.id)
    timeline = [
        {
            "at": when(e.at),
            "from": e.from_code,
            "to": e.to_code,
            "code": e.code,
            "known": e.code in {int(c) for c in StatusCode},
            "incoming_number": e.incoming_number,
            "note": e.note,
            "direction": e.direction,
        }
        for e in events
    ]
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
    context: dict[str, Any] = {
        "doc": doc,
        "m": body.metadata,
        "attachments": attachments,
        "signature": await signature_check(ctx, raw),
        "timeline": timeline,
        "recipients": recipients,
        "registered": registered,
        "received": when(doc.created_at),
        "actions": allowed_actions(request, doc.state, doc.recall) if doc.direction == "in" else [],
        "answer_recall": doc.direction == "in"
        and doc.recall == RecallState.REQUESTED.value
        and can(request, "register"),
        "can_recall": doc.direction == "out" and can(request, "send"),
        "can_reply": doc.direction == "in" and can(request, "send"),
        "dead": await dead_letters.of_document(ctx, doc.id),
        "can_retry": can(request, "retry"),
        "error": error,
        "done": request.query.get("done"),
    }
    return render(request, "document.html", context, status=status)


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
    chunks = iter_plaintext(ctx.blobs, attachment)
    try:
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            await response.write(chunk)
    finally:
        chunks.close()
    await response.write_eof()
    return response


def _text(form, name: str, limit: int) -> str | None:
    value = str(form.get(name, "")).strip()
    return value[:limit] or None


@requires("view")
async def act(request: web.Request) -> web.StreamResponse:
    """POST an action on an incoming document; every rule is node.unit.documents'."""
    ctx = context_of(request)
    doc_id = document_id(request)
    form = await request.post()
    action = str(form.get("action", ""))
    user = request[USER]
    note = _text(form, "note", MAX_REASON)
    try:
        if action in service.ACTIONS:
            if not can(request, ACTION_CAPABILITY[action]):
                raise web.HTTPForbidden(text=tr(request, "error.role"))
            state = service.ACTIONS[action]
            assignee = _text(form, "assignee", MAX_SHORT_TEXT)
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
            if not can(request, "register"):
                raise web.HTTPForbidden(text=tr(request, "error.role"))
            await service.answer_recall(
                ctx, doc_id, agree=action == "recall-agree", actor=user.username, reason=note
            )
        elif action == "recall":
            if not can(request, "send"):
                raise web.HTTPForbidden(text=tr(request, "error.role"))
            await service.recall(ctx, doc_id, actor=user.username, reason=note)
        elif action == "retry":  # a dead letter, after the cause is fixed
            if not can(request, "retry"):
                raise web.HTTPForbidden(text=tr(request, "error.role"))
            recipient = _text(form, "recipient", MAX_SHORT_TEXT)
            await dead_letters.retry(ctx, doc_id, actor=user.username, destination=recipient)
        else:
            raise web.HTTPBadRequest(text=tr(request, "error.bad_action"))
    except LienthongError as exc:
        return await _show(request, error=str(exc), status=409)
    raise see_other(f"/documents/{doc_id}?done={action}")
