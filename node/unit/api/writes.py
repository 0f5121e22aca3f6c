"""The write endpoints of the integration API: send a document (JSON metadata, as the wire's
version 2 writes it), and the clerk's actions on documents (status, recall, recall answer);
each keeps its Idempotency-Key's answer in the transaction of its action."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.unit import assignments as office
from lienthong.node.unit import documents as service
from lienthong.node.unit.api import uploads
from lienthong.node.unit.api.access import (
    API_KEY,
    BODY,
    DIGEST,
    IDEMPOTENCY,
    KEPT,
    MAX_JSON_BYTES,
    MULTIPART,
    actor,
    allow,
    begin,
    json_object,
    request_hash,
)
from lienthong.node.unit.api.problems import ApiProblem, invalid, not_found
from lienthong.node.unit.api.reads import json_response
from lienthong.protocol.document import metadata_from_wire
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.limits import MAX_ATTACHMENTS, MAX_REASON, MAX_SHORT_TEXT
from lienthong.protocol.states import DocState, TransitionError
from lienthong.storage.api_keys import PROCESS, SEND
from lienthong.storage.documents import get_document
from lienthong.storage.errors import Conflict, NotFound
from lienthong.storage.idempotency import keep_answer

# The statuses a DMS may set on a received document (docs/STATES.md), by their API names.
STATUSES = {
    "accepted": DocState.ACCEPTED,
    "rejected": DocState.REJECTED,
    "assigned": DocState.ASSIGNED,
    "in_progress": DocState.IN_PROGRESS,
    "completed": DocState.COMPLETED,
}
# Statuses an assignment's rows speak for: once a document has an assignment, a bare 04 or
# 06 would leave them saying another lead or still open (05 leaves them true: work goes on).
WORK = (DocState.ASSIGNED, DocState.COMPLETED)
BUSINESS = ("new", "update", "replace")
# Recipients of one document: every unit of a province is well under it.
MAX_RECIPIENTS = 500
# Documents an update or a replacement names.
MAX_TARGETS = 50
SEND_REQUIRED = ("metadata", "recipients")
# The files of one document sent through the API, in all: as the clerk's compose form
# allows (node/web/compose.py MAX_UPLOAD_BYTES); they are streamed to disk, never held.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
UPLOAD_CHUNK = 64 * 1024
# Under the data directory (the same disk as the blobs): a send's files until sealed.
UPLOAD_FOLDER = "api-uploads"


def _text(value: dict, name: str, limit: int) -> str | None:
    text = value.get(name)
    if text is None:
        return None
    if not text.strip():
        raise invalid(name, "must not be blank")
    if len(text) > limit:
        raise invalid(name, f"at most {limit} characters")
    return text


def _strings(value: dict, name: str, limit: int) -> list[str]:
    items = value.get(name) or []
    if len(items) > limit:
        raise invalid(name, f"at most {limit} items")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item or len(item) > MAX_SHORT_TEXT:
            raise invalid(
                f"{name}[{i}]", f"a non-empty string of at most {MAX_SHORT_TEXT} characters"
            )
    return items


def _refused(exc: LienthongError) -> ApiProblem:
    """What the node's own checks refused, as a problem: 404, 409 or 422 with its words."""
    if isinstance(exc, NotFound):
        return not_found(str(exc))
    if isinstance(exc, TransitionError | Conflict):
        return ApiProblem(409, "conflict", str(exc))
    if isinstance(exc, InvalidField):
        return ApiProblem(400, "invalid-request", str(exc), [(f"metadata.{exc.field}", exc.reason)])
    return ApiProblem(409, "conflict", str(exc))


async def _incoming_or_outgoing(ctx: NodeContext, doc_id: str, direction: str) -> None:
    async with ctx.store.read() as conn:
        doc = await get_document(conn, doc_id)
    if doc is None or doc.direction != direction:
        word = "received" if direction == "in" else "sent"
        raise not_found(f"no {word} document {doc_id} here")


SEND_FIELDS: dict[str, type] = {
    "metadata": dict,
    "recipients": list,
    "business": str,
    "targets": list,
    "reason": str,
    "paper": bool,
    "uploads": list,  # ids of complete resumable uploads (node/unit/api/uploads.py)
}


def _keeping(request: web.Request, answer: Callable[[Any], web.Response]) -> service.Then:
    """The hook that keeps this POST's answer (`answer` of what the action returns) under its
    Idempotency-Key inside the action's own transaction: a crash after the commit leaves the
    answer a retry is given, never a second action; before it, neither."""
    digest = request.get(DIGEST)
    if digest is None:
        return None
    ctx: NodeContext = request.app[CONTEXT]

    async def keep(tx, result: Any) -> None:
        response = answer(result)
        await keep_answer(
            tx,
            request[API_KEY].name,
            request[IDEMPOTENCY],
            digest,
            status=response.status,
            content_type=response.headers.get("Content-Type", "application/json"),
            body=bytes(response.body or b""),
            at=ctx.clock(),
        )
        request[KEPT] = response

    return keep


def _answered(request: web.Request, answer: Callable[[Any], web.Response], result: Any):
    """The answer kept in the action's transaction, or (no Idempotency-Key kept) made now."""
    return request[KEPT] if KEPT in request else answer(result)


async def send(request: web.Request) -> web.Response:
    """Seal a document to its recipients and queue it (node/unit/documents.py send_document):
    201 with its id; nothing is stored when a field is wrong. JSON, or multipart/form-data:
    the part `document` (that JSON) and a part `file` per attachment, streamed to disk."""
    allow(request, SEND)
    if request.content_type != MULTIPART:
        value = json_object(request[BODY], SEND_FIELDS, SEND_REQUIRED)
        return await _send_with_uploads(request, value, [])
    ctx: NodeContext = request.app[CONTEXT]
    spool = ctx.config.data_dir / UPLOAD_FOLDER
    spool.mkdir(parents=True, exist_ok=True)
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=spool))
    try:
        value, files, digest = await _read_parts(request, folder)
        replay = await begin(request, digest)
        if replay is not None:
            return replay
        return await _send_with_uploads(request, value, files)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def _next_part(reader):
    """The next part of a multipart body, or None; 400 naming the body if its part headers
    cannot be read (aiohttp refuses them: bytes not allowed in a header, a bad line)."""
    try:
        return await reader.next()
    except (HttpProcessingError, ValueError) as exc:
        reason = getattr(exc, "message", "") or type(exc).__name__
        raise invalid("body", f"a part's headers cannot be read ({reason[:80]})") from None


async def _read_parts(request: web.Request, folder: Path) -> tuple[dict, list[Path], bytes]:
    """The parts of a multipart send: `document` once (JSON), `file` at most MAX_ATTACHMENTS
    times, MAX_UPLOAD_BYTES in all; each file written under its own name in `folder`."""
    digest = request_hash(request)
    reader = await request.multipart()
    value: dict | None = None
    files: list[Path] = []
    total = 0
    while (part := await _next_part(reader)) is not None:
        if not isinstance(part, BodyPartReader):
            raise invalid("body", "a part may not itself be multipart")
        digest.update(f"{part.name}\0{part.filename}\0".encode())
        if part.name == "document":
            if value is not None:
                raise invalid("document", "given more than once")
            data = b""
            while chunk := await part.read_chunk(UPLOAD_CHUNK):
                data += chunk
                if len(data) > MAX_JSON_BYTES:
                    raise ApiProblem(413, "too-large", f"document: at most {MAX_JSON_BYTES} bytes")
            digest.update(data)
            value = json_object(data, SEND_FIELDS, SEND_REQUIRED)
        elif part.name == "file":
            field = f"file[{len(files)}]"
            if len(files) >= MAX_ATTACHMENTS:
                raise invalid(field, f"at most {MAX_ATTACHMENTS} files per document")
            name = uploads.file_name(field, part.filename)
            path = folder / str(len(files)) / name
            path.parent.mkdir()
            with path.open("wb") as out:
                while chunk := await part.read_chunk(UPLOAD_CHUNK):
                    total += len(chunk)
                    if total > MAX_UPLOAD_BYTES:
                        raise ApiProblem(
                            413,
                            "too-large",
                            f"the files of one document have at most {MAX_UPLOAD_BYTES} bytes",
                            [(field, "over the limit")],
                        )
                    digest.update(chunk)
                    await asyncio.to_thread(out.write, chunk)
            files.append(path)
        else:
            raise invalid(str(part.name), "unknown part (known: document, file)")
        digest.update(b"\0")
    if value is None:
        raise invalid("document", "required: the document's JSON, before its files")
    return value, files, digest.digest()


async def _send_with_uploads(request: web.Request, value: dict, files: list[Path]):
    """The files of the request, then those of the uploads it names (each complete, the
    caller's); the uploads are removed once the document is stored."""
    chosen = await uploads.files_of(request, value, len(files))
    async with uploads.sending(request, chosen) as uploaded:
        return await _send(request, value, files + uploaded)


def _sent(doc_id: str) -> web.Response:
    response = json_response({"id": doc_id, "href": f"/api/v1/documents/{doc_id}"}, status=201)
    response.headers["Location"] = f"/api/v1/documents/{doc_id}"
    return response


async def _send(request: web.Request, value: dict, files: list[Path]) -> web.Response:
    recipients = _strings(value, "recipients", MAX_RECIPIENTS)
    if not recipients:
        raise invalid("recipients", "names at least one unit code")
    business = value.get("business") or "new"
    if business not in BUSINESS:
        raise invalid("business", f"one of {', '.join(BUSINESS)}")
    targets = _strings(value, "targets", MAX_TARGETS)
    reason = _text(value, "reason", MAX_REASON)
    try:
        metadata = metadata_from_wire(value["metadata"])
    except InvalidField as exc:
        raise invalid(f"metadata.{exc.field}", exc.reason) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise invalid("metadata", str(exc)) from None
    ctx: NodeContext = request.app[CONTEXT]
    try:
        doc_id = await service.send_document(
            ctx,
            metadata,
            recipients,
            files=files,
            actor=actor(request),
            business=business,
            targets=targets,
            reason=reason,
            paper=bool(value.get("paper")),
            then=_keeping(request, _sent),
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    return _answered(request, _sent, doc_id)


async def set_status(request: web.Request) -> web.Response:
    """Move a received document on: accepted (registered: its incoming number), rejected
    (with a reason), assigned (to an assignee), in_progress, completed."""
    allow(request, PROCESS)
    value = json_object(
        request[BODY],
        {"status": str, "reason": str, "assignee": str, "note": str},
        required=("status",),
    )
    state = STATUSES.get(value["status"])
    if state is None:
        raise invalid("status", f"one of {', '.join(STATUSES)}")
    reason = _text(value, "reason", MAX_REASON)
    assignee = _text(value, "assignee", MAX_SHORT_TEXT)
    note = _text(value, "note", MAX_REASON)
    if state is DocState.REJECTED and reason is None:
        raise invalid("reason", "a rejection needs a reason")
    if state is DocState.ASSIGNED and assignee is None:
        raise invalid("assignee", "an assignment names the department or person")
    if reason is not None and state is not DocState.REJECTED:
        raise invalid("reason", "only a rejection carries a reason")
    if assignee is not None and state is not DocState.ASSIGNED:
        raise invalid("assignee", "only an assignment names an assignee")
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    await _incoming_or_outgoing(ctx, doc_id, "in")
    if state in WORK and await office.get(ctx, doc_id) is not None:
        raise ApiProblem(
            409,
            "conflict",
            f"document {doc_id} has an assignment: {value['status']} goes through "
            "POST .../assignment (reassign) or POST .../completion",
        )

    def answer(number: int | None) -> web.Response:
        return json_response({"id": doc_id, "state": state.value, "incoming_number": number})

    try:
        number = await service.process_document(
            ctx,
            doc_id,
            state,
            actor=actor(request),
            note=note,
            reason=reason,
            assignee=assignee,
            then=_keeping(request, answer),
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    return _answered(request, answer, number)


async def recall(request: web.Request) -> web.Response:
    """Ask every recipient of a sent document to recall it (status 13)."""
    allow(request, SEND)
    value = json_object(request[BODY], {"reason": str})
    reason = _text(value, "reason", MAX_REASON)
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    await _incoming_or_outgoing(ctx, doc_id, "out")

    def answer(recipients: list[str]) -> web.Response:
        return json_response({"id": doc_id, "recall": "requested", "recipients": recipients})

    try:
        recipients = await service.recall(
            ctx, doc_id, actor=actor(request), reason=reason, then=_keeping(request, answer)
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    return _answered(request, answer, recipients)


async def answer_recall(request: web.Request) -> web.Response:
    """Agree to a recall of a received document (15), or refuse it with a reason (16)."""
    allow(request, PROCESS)
    value = json_object(request[BODY], {"agree": bool, "reason": str}, required=("agree",))
    reason = _text(value, "reason", MAX_REASON)
    if value["agree"] is None:
        raise invalid("agree", "must be true or false")
    if not value["agree"] and reason is None:
        raise invalid("reason", "refusing a recall needs a reason")
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    await _incoming_or_outgoing(ctx, doc_id, "in")

    def answer(agree: bool) -> web.Response:
        return json_response({"id": doc_id, "recall": "agreed" if agree else "refused"})

    try:
        await service.answer_recall(
            ctx,
            doc_id,
            agree=value["agree"],
            actor=actor(request),
            reason=reason,
            then=_keeping(request, answer),
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    return _answered(request, answer, value["agree"])


# (path under /api/v1, handler); {id} is a document id (DOCUMENT_ID in __init__.py).
ROUTES = (
    ("/documents", send),
    ("/documents/{id}/status", set_status),
    ("/documents/{id}/recall", recall),
    ("/documents/{id}/recall-answer", answer_recall),
)
