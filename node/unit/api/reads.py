"""The read endpoints of the integration API: documents (paged by an opaque cursor), one
document with its signature and timeline, its files streamed, the units, the registers."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import json
from typing import Any
from urllib.parse import quote

from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.times import iso_time
from lienthong.node.unit import pdf_verify
from lienthong.node.unit.api.access import allow
from lienthong.node.unit.api.problems import invalid, not_found
from lienthong.node.unit.attachments import write_plaintext
from lienthong.node.unit.documents import stored_body
from lienthong.node.unit.views import (
    business_view,
    links_view,
    recipients_view,
    signature_check,
    timeline_view,
)
from lienthong.protocol.states import DocState
from lienthong.protocol.text import is_decimal
from lienthong.storage.api_keys import READ
from lienthong.storage.documents import SENT, get_document, get_envelope_raw, list_documents
from lienthong.storage.errors import StoreError
from lienthong.storage.registers import incoming_number_of, register_page, registers_in_use

# A page of the document list: 50 by default, at most 200 (each row is small; a DMS
# syncing a year's mail pages through it).
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A register page: as many lines as a page of the clerk's register.
MAX_REGISTER_LIMIT = 200
# Longest cursor accepted: it encodes a time and an id (or a register and a line).
MAX_CURSOR_CHARS = 200
# Longest `since` accepted (an RFC 3339 time is about 30 characters).
MAX_TIME_CHARS = 40
STATES = (SENT, *(s.value for s in DocState))
# Years a register may be asked for (the registers' own range is checked by storage).
MIN_YEAR, MAX_YEAR = 1900, 9999
SINCE_EXAMPLE = "2026-12-01T00:00:00+07:00"
JSON_DUMPS = dict(ensure_ascii=False, separators=(",", ":"))


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(jsonable(data), **JSON_DUMPS).encode("utf-8"),
        content_type="application/json",
    )


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, tuples and bytes as JSON values (bytes: base64)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def only_params(request: web.Request, allowed: tuple[str, ...]) -> None:
    """400 naming the first query parameter not known here, or one given twice."""
    for name in request.query:
        if name not in allowed:
            raise invalid(name, f"unknown query parameter (known: {', '.join(allowed)})")
        if len(request.query.getall(name)) > 1:
            raise invalid(name, "given more than once")


def limit_param(request: web.Request, default: int, maximum: int) -> int:
    text = request.query.get("limit")
    if text is None:
        return default
    if not is_decimal(text, 4) or not 1 <= int(text) <= maximum:
        raise invalid("limit", f"a whole number from 1 to {maximum}")
    return int(text)


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, shape: tuple[type, ...]) -> list[Any]:
    """A cursor this API gave: 400 naming `cursor` if it is not one."""
    try:
        if len(text) > MAX_CURSOR_CHARS:
            raise ValueError
        parts = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(parts, list) or len(parts) != len(shape):
            raise ValueError
        if any(
            not isinstance(p, k) or isinstance(p, bool) for p, k in zip(parts, shape, strict=True)
        ):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor this API gave (use next_cursor as given)") from None
    return parts


def since_param(request: web.Request) -> int | None:
    text = request.query.get("since")
    if text is None:
        return None
    try:
        if len(text) > MAX_TIME_CHARS:
            raise ValueError
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError
    except ValueError:
        raise invalid(
            "since", "an RFC 3339 time with its offset, e.g. 2026-12-01T00:00:00+07:00"
        ) from None
    return int(moment.timestamp() * 1000)


def summary(doc) -> dict[str, Any]:
    """A document in a list: what a DMS needs to decide whether to fetch it."""
    return {
        "id": doc.id,
        "direction": doc.direction,
        "sender": doc.sender_code,
        "doc_type": doc.doc_type,
        "number": doc.number,
        "number_year": doc.number_year,
        "notation": doc.notation,
        "subject": doc.subject,
        "issuer": {"code": doc.issuer_code, "name": doc.issuer_name},
        "issued_on": doc.issued_on,
        "urgency": doc.urgency,
        "confidentiality": doc.confidentiality,
        "due_on": doc.due_on,
        "state": doc.state,
        "recall": doc.recall,
        "created_at": iso_time(doc.created_at),
        "updated_at": iso_time(doc.updated_at),
    }


async def list_documents_(request: web.Request) -> web.Response:
    allow(request, READ)
    only_params(request, ("direction", "state", "since", "cursor", "limit"))
    direction = request.query.get("direction")
    if direction not in ("in", "out"):
        raise invalid("direction", "required: 'in' (received) or 'out' (sent)")
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise invalid("state", f"one of {', '.join(STATES)}")
    since = since_param(request)
    limit = limit_param(request, DEFAULT_LIMIT, MAX_LIMIT)
    before = None
    if (cursor := request.query.get("cursor")) is not None:
        at, doc_id = decode_cursor(cursor, (int, str))
        before = (at, doc_id)
    ctx: NodeContext = request.app[CONTEXT]
    async with ctx.store.read() as conn:
        docs = await list_documents(
            conn, direction=direction, state=state, since=since, limit=limit + 1, before=before
        )
    more = len(docs) > limit
    docs = docs[:limit]
    return json_response(
        {
            "documents": [summary(d) for d in docs],
            "next_cursor": encode_cursor(docs[-1].created_at, docs[-1].id) if more else None,
        }
    )


def document_id(request: web.Request) -> str:
    return request.match_info["id"]


async def _document(ctx: NodeContext, doc_id: str):
    async with ctx.store.read() as conn:
        doc = await get_document(conn, doc_id)
    if doc is None:
        raise not_found(f"no document {doc_id} here")
    return doc


async def get_document_(request: web.Request) -> web.Response:
    allow(request, READ)
    only_params(request, ())
    ctx: NodeContext = request.app[CONTEXT]
    doc = await _document(ctx, document_id(request))
    body = stored_body(doc)
    async with ctx.store.read() as conn:
        raw = await get_envelope_raw(conn, doc.id)
        timeline = await timeline_view(conn, doc)
        recipients = await recipients_view(conn, doc.id) if doc.direction == "out" else None
        registered = await incoming_number_of(conn, doc.id) if doc.direction == "in" else None
        links = await links_view(conn, doc)
        business = await business_view(conn, doc)
        checks = await pdf_verify.file_checks(conn, doc.id, body)  # docs/SIGNATURES.md
    signature = await signature_check(ctx, raw)
    data = summary(doc) | {
        "wire_id": doc.wire_id,
        "number_notation": body.metadata.number_notation,
        "metadata": body.metadata,
        "signature": {k: v for k, v in signature.items() if k != "text"},
        "attachments": [
            {
                "index": i,
                "name": a.name,
                "size": a.size,
                "media_type": a.media_type,
                "href": f"/api/v1/documents/{quote(doc.id)}/files/{i}",
                # The PDF's own digital signatures (chữ ký số); null for a file not a PDF.
                "signature_check": None
                if checks[i] is None
                else {k: checks[i][k] for k in ("status", "reason_code", "reason")},
                "signatures": [] if checks[i] is None else checks[i]["signatures"],
            }
            for i, a in enumerate(body.attachments)
        ],
        "timeline": [_event(e) for e in timeline],
        "recipients": None if recipients is None else [_recipient(r) for r in recipients],
        "incoming_number": None
        if registered is None
        else {"year": registered[0], "number": registered[1]},
        "links": links,
        "business": business,
    }
    return json_response(data)


def _event(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": iso_time(e["at_ms"]),
        "from": e["from"],
        "to": e["to"],
        "code": e["code"],
        "answers": e["answers"],
        "label_vi": e["label_vi"],
        "incoming_number": e["incoming_number"],
        "note": e["note"],
        "lead": e["lead"],  # 04, 05, 06: who leads the work there {name, department}
        "result": e["result"],  # 06: the result
        "direction": e["direction"],
    }


def _recipient(r: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in r.items() if k not in ("updated", "updated_at")}
    return shown | {"updated_at": iso_time(r["updated_at"])}


async def download(request: web.Request) -> web.StreamResponse:
    """An attachment's plaintext, decrypted chunk by chunk in a thread as it is sent."""
    allow(request, READ)
    only_params(request, ())
    ctx: NodeContext = request.app[CONTEXT]
    doc = await _document(ctx, document_id(request))
    body = stored_body(doc)
    index = int(request.match_info["index"])
    if index >= len(body.attachments):
        raise not_found(f"document {doc.id} has {len(body.attachments)} file(s); no index {index}")
    attachment = body.attachments[index]
    if not ctx.blobs.exists(attachment.blob):
        raise not_found(f"file {index} of document {doc.id} is not held here")
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": "attachment; filename*=UTF-8''"
            + quote(attachment.name, safe=""),
            "Content-Length": str(attachment.size),
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    await write_plaintext(response, ctx.blobs, attachment)
    await response.write_eof()
    return response


async def units(request: web.Request) -> web.Response:
    """The directory's units: code, name, whether reachable, and what they read."""
    allow(request, READ)
    only_params(request, ())
    ctx: NodeContext = request.app[CONTEXT]
    directory = ctx.directory.current
    if directory is None:
        return json_response({"version": None, "units": []})
    codes = sorted({c.code for c in directory.certificates})
    listed = []
    for code in codes:
        cert = directory.current(code)
        if cert is None:
            continue  # every certificate of the unit is revoked
        listed.append(
            {
                "code": cert.code,
                "name": cert.name,
                "reachable": cert.reachable,
                "protocols": list(directory.reads(code)),
                "centre": directory.is_centre(code),
                "certificate_serial": cert.serial,
            }
        )
    return json_response({"version": directory.version, "units": listed})


async def register(request: web.Request) -> web.Response:
    """A year's register of one kind, register by register, in number order: a page, and
    the cursor of the next (keyset paging, storage/registers.py)."""
    allow(request, READ)
    only_params(request, ("cursor", "limit"))
    kind = request.match_info["kind"]
    year = int(request.match_info["year"])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise invalid("year", f"a year from {MIN_YEAR} to {MAX_YEAR}")
    limit = limit_param(request, MAX_REGISTER_LIMIT // 2, MAX_REGISTER_LIMIT)
    ctx: NodeContext = request.app[CONTEXT]
    async with ctx.store.read() as conn:
        names = sorted(await registers_in_use(conn, kind, year))
        name, after = (names[0] if names else None), None
        if (cursor := request.query.get("cursor")) is not None:
            name, after = decode_cursor(cursor, (str, str))
            if name not in names:
                raise invalid("cursor", "names a register this year does not have")
            after = after or None
        lines: list[Any] = []
        next_cursor = None
        while name is not None and len(lines) < limit:
            try:
                page = await register_page(
                    conn, kind, name, year, after=after, limit=limit - len(lines)
                )
            except StoreError:
                raise invalid("cursor", "not a cursor this API gave") from None
            lines += [(name, line) for line in page.lines]
            if page.next is not None:
                next_cursor = encode_cursor(name, page.next)
                break
            rest = names[names.index(name) + 1 :]
            name, after = (rest[0] if rest else None), None
            next_cursor = encode_cursor(name, "") if name is not None else None
    return json_response(
        {
            "kind": kind,
            "year": year,
            "lines": [jsonable(line) | {"register": reg} for reg, line in lines],
            "next_cursor": next_cursor,
        }
    )
