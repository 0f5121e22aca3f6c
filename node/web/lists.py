"""Văn bản đến and Văn bản đi: the inbox and outbox lists, searched, filtered, paged by keyset."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.times import dmy
from lienthong.node.unit import assignments as office
from lienthong.node.unit import documents as service
from lienthong.node.unit.views import recipients_view
from lienthong.node.web.base import (
    DOCUMENT_ID,
    can,
    context_of,
    day_start_ms,
    is_digits,
    parse_date,
    render,
    requires,
    tr,
)
from lienthong.protocol.codes import Urgency
from lienthong.protocol.states import DocState
from lienthong.storage import trust
from lienthong.storage.documents import MAX_SEARCH_CHARS, DocumentRecord, list_documents

log = logging.getLogger("lienthong.web")

# Rows on one page: a screenful on a laptop; the store allows up to MAX_PAGE.
PAGE_SIZE = 25
# Urgent documents not yet registered, shown above the list on its first page.
URGENT_PANEL_SIZE = 10
DAY_MS = 86_400_000


def _filters(request: web.Request) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The list_documents arguments from the query string, the echoed values, and errors."""
    q = request.query
    values = {k: q.get(k, "").strip() for k in ("q", "state", "urgency", "since", "until", "new")}
    args: dict[str, Any] = {}
    errors = []
    if values["q"]:
        if len(values["q"]) > MAX_SEARCH_CHARS:
            errors.append(tr(request, "list.search_too_long", max=MAX_SEARCH_CHARS))
        else:
            args["search"] = values["q"]
    if values["new"]:
        args["state"] = DocState.ARRIVED.value
    elif values["state"] in {s.value for s in DocState} or values["state"] == "sent":
        args["state"] = values["state"]
    if is_digits(values["urgency"]) and int(values["urgency"]) in {int(u) for u in Urgency}:
        args["urgency"] = int(values["urgency"])
    for name, key, shift in (("since", "since", 0), ("until", "until", DAY_MS)):
        if values[name]:
            date = parse_date(values[name])
            if date is None:
                errors.append(tr(request, "list.bad_date", value=values[name]))
            else:
                args[key] = day_start_ms(date) + shift
                values[name] = dmy(date)  # shown back, and carried to the next page, as typed
    before_at, before_id = q.get("before_at", ""), q.get("before_id", "")
    if is_digits(before_at) and DOCUMENT_ID.matches(before_id):
        args["before"] = (int(before_at), before_id)
    return args, values, errors


def _row(doc: DocumentRecord) -> dict[str, Any]:
    body = service.stored_body(doc)
    return {
        "id": doc.id,
        "number": body.metadata.number_notation,
        "subject": doc.subject,
        "sender": doc.sender_code,
        "issuer": doc.issuer_name,
        "doc_type": doc.doc_type,
        "state": doc.state,
        "recall": doc.recall,
        "urgency": doc.urgency,
        "new": doc.state == DocState.ARRIVED.value,
        "received_at": doc.created_at,
        "issued_on": doc.issued_on,
        "attachments": len(body.attachments),
    }


async def _page(request: web.Request, direction: str):
    ctx = context_of(request)
    args, values, errors = _filters(request)
    docs: list[DocumentRecord] = []
    if not errors:
        try:
            async with ctx.store.read() as conn:
                docs = await list_documents(conn, direction=direction, limit=PAGE_SIZE + 1, **args)
        except LienthongError as exc:
            log.warning("list %s: %s", direction, exc)
            errors.append(tr(request, "list.search_failed"))
    more = len(docs) > PAGE_SIZE
    docs = docs[:PAGE_SIZE]
    next_query = None
    if more:
        last = docs[-1]
        next_query = {
            **{k: v for k, v in values.items() if v},
            "before_at": str(last.created_at),
            "before_id": last.id,
        }
    return docs, values, errors, next_query, "before" in args


@requires("view")
async def inbox(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    docs, values, errors, next_query, paged = await _page(request, "in")
    late = await office.overdue_among(ctx, [d.id for d in docs])  # marked "Quá hạn"
    urgent: list[dict[str, Any]] = []
    if not paged and not any(values.values()):
        async with ctx.store.read() as conn:
            for level in sorted((u for u in Urgency if u), reverse=True):
                found = await list_documents(
                    conn,
                    direction="in",
                    state=DocState.ARRIVED.value,
                    urgency=int(level),
                    limit=URGENT_PANEL_SIZE,
                )
                urgent.extend(_row(d) for d in found)
    async with ctx.store.read() as conn:  # PDFs' signatures (docs/SIGNATURES.md)
        marks = await trust.marks(conn, [d.id for d in docs])
    return render(
        request,
        "inbox.html",
        {
            "rows": [_row(d) | {"pdfsig": marks.get(d.id)} for d in docs],
            "urgent": urgent[:URGENT_PANEL_SIZE],
            "values": values,
            "errors": errors,
            "next_query": next_query,
            "paged": paged,
            "states": [s.value for s in DocState],
            "late": late,
        },
    )


@requires("view")
async def outbox(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    docs, values, errors, next_query, paged = await _page(request, "out")
    rows = []
    async with ctx.store.read() as conn:
        for doc in docs:
            row = _row(doc)
            row["recipients"] = await recipients_view(conn, doc.id)
            rows.append(row)
    return render(
        request,
        "outbox.html",
        {
            "rows": rows,
            "values": values,
            "errors": errors,
            "next_query": next_query,
            "paged": paged,
            "can_send": can(request, "send"),
        },
    )
