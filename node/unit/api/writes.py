"""The write endpoints of the integration API: send a document (JSON metadata, as the wire's
version 2 writes it), and the clerk's actions on documents (status, recall, recall answer)."""

from __future__ import annotations

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.unit import documents as service
from lienthong.node.unit.api.access import BODY, actor, allow, json_object
from lienthong.node.unit.api.problems import ApiProblem, invalid, not_found
from lienthong.node.unit.api.reads import json_response
from lienthong.protocol.document import metadata_from_wire
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.limits import MAX_REASON, MAX_SHORT_TEXT
from lienthong.protocol.states import DocState, TransitionError
from lienthong.storage.api_keys import PROCESS, SEND
from lienthong.storage.documents import get_document
from lienthong.storage.errors import Conflict, NotFound

# The statuses a DMS may set on a received document (docs/STATES.md), by their API names.
STATUSES = {
    "accepted": DocState.ACCEPTED,
    "rejected": DocState.REJECTED,
    "assigned": DocState.ASSIGNED,
    "in_progress": DocState.IN_PROGRESS,
    "completed": DocState.COMPLETED,
}
BUSINESS = ("new", "update", "replace")
# Recipients of one document: every unit of a province is well under it.
MAX_RECIPIENTS = 500
# Documents an update or a replacement names.
MAX_TARGETS = 50


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


async def send(request: web.Request) -> web.Response:
    """Seal a document to its recipients and queue it (node/unit/documents.py send_document):
    201 with its id; nothing is stored when a field is wrong."""
    allow(request, SEND)
    value = json_object(
        request[BODY],
        {
            "metadata": dict,
            "recipients": list,
            "business": str,
            "targets": list,
            "reason": str,
            "paper": bool,
        },
        required=("metadata", "recipients"),
    )
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
            actor=actor(request),
            business=business,
            targets=targets,
            reason=reason,
            paper=bool(value.get("paper")),
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    response = json_response({"id": doc_id, "href": f"/api/v1/documents/{doc_id}"}, status=201)
    response.headers["Location"] = f"/api/v1/documents/{doc_id}"
    return response


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
    try:
        number = await service.process_document(
            ctx, doc_id, state, actor=actor(request), note=note, reason=reason, assignee=assignee
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    return json_response({"id": doc_id, "state": state.value, "incoming_number": number})


async def recall(request: web.Request) -> web.Response:
    """Ask every recipient of a sent document to recall it (status 13)."""
    allow(request, SEND)
    value = json_object(request[BODY], {"reason": str})
    reason = _text(value, "reason", MAX_REASON)
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    await _incoming_or_outgoing(ctx, doc_id, "out")
    try:
        recipients = await service.recall(ctx, doc_id, actor=actor(request), reason=reason)
    except LienthongError as exc:
        raise _refused(exc) from None
    return json_response({"id": doc_id, "recall": "requested", "recipients": recipients})


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
    try:
        await service.answer_recall(
            ctx, doc_id, agree=value["agree"], actor=actor(request), reason=reason
        )
    except LienthongError as exc:
        raise _refused(exc) from None
    return json_response({"id": doc_id, "recall": "agreed" if value["agree"] else "refused"})


# (path under /api/v1, handler); {id} is a document id (DOCUMENT_ID in __init__.py).
ROUTES = (
    ("/documents", send),
    ("/documents/{id}/status", set_status),
    ("/documents/{id}/recall", recall),
    ("/documents/{id}/recall-answer", answer_recall),
)
