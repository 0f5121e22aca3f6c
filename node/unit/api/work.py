"""The office's work through the integration API: assign a registered document (on a
leader's instruction) and report its completion for its lead; node/unit/assignments.py
makes every rule, and each keeps its Idempotency-Key's answer in its own transaction."""

from __future__ import annotations

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.times import parse_dmy
from lienthong.node.unit import assignments as office
from lienthong.node.unit.api.access import BODY, actor, allow, json_object
from lienthong.node.unit.api.problems import ApiProblem, invalid
from lienthong.node.unit.api.reads import json_response
from lienthong.node.unit.api.writes import _answered, _incoming_or_outgoing, _keeping, _refused
from lienthong.protocol.ids import ULID_PATTERN
from lienthong.storage.api_keys import PROCESS
from lienthong.storage.assignments import MAX_NOTE_CHARS, MAX_PEOPLE, Assignment
from lienthong.storage.users import MAX_USERNAME_CHARS

ASSIGN_FIELDS: dict[str, type] = {
    "lead": str,
    "co": list,
    "info": list,
    "deadline": str,
    "note": str,
    "instructed_by": str,
    "version": int,
}
COMPLETE_FIELDS: dict[str, type] = {"lead": str, "result": str, "answer": str}


def _view(a: Assignment) -> dict:
    return {
        "id": a.document_id,
        "version": a.version,
        "lead": a.lead,
        "co": list(a.co),
        "info": list(a.info),
        "deadline": a.deadline,
        "note": a.note,
        "instructed_by": a.instructed_by,
        "completed_at": a.completed_at,
        "result": a.result,
        "answer": a.answer_id,
    }


def _username(value: dict, name: str) -> str:
    text = value.get(name)
    if not isinstance(text, str) or not 1 <= len(text) <= MAX_USERNAME_CHARS:
        raise invalid(name, f"a username of 1 to {MAX_USERNAME_CHARS} characters")
    return text


def _usernames(value: dict, name: str) -> list[str]:
    items = value.get(name) or []
    if len(items) > MAX_PEOPLE:
        raise invalid(name, f"at most {MAX_PEOPLE} usernames")
    for i, item in enumerate(items):
        if not isinstance(item, str) or not 1 <= len(item) <= MAX_USERNAME_CHARS:
            raise invalid(f"{name}[{i}]", f"a username of 1 to {MAX_USERNAME_CHARS} characters")
    return items


def _note(value: dict, name: str) -> str | None:
    text = value.get(name)
    if text is None:
        return None
    if not text.strip() or len(text) > MAX_NOTE_CHARS:
        raise invalid(name, f"1 to {MAX_NOTE_CHARS} characters, not only blanks")
    return text


# The request's field each refusal of node/unit/assignments.py is about (AssignmentError.code);
# the others (changed, completed, refused) conflict with the document's state: 409.
FIELD_OF = {
    "person": "lead",
    "deadline": "deadline",
    "assigner": "instructed_by",
    "instruction": "instructed_by",
    "not_lead": "lead",
    "result": "result",
    "answer": "answer",
}


def _problem(exc: LienthongError) -> ApiProblem:
    if isinstance(exc, office.AssignmentError) and exc.code in FIELD_OF:
        field = FIELD_OF[exc.code]
        return ApiProblem(422, "invalid-request", str(exc), [(field, str(exc))])
    return _refused(exc)


async def assign(request: web.Request) -> web.Response:
    """Assign (version 0) or reassign (the version read) a registered received document on
    the instruction of the leader named; the sender gets 04."""
    allow(request, PROCESS)
    value = json_object(request[BODY], ASSIGN_FIELDS, required=("lead", "instructed_by", "version"))
    lead, leader = _username(value, "lead"), _username(value, "instructed_by")
    deadline = value.get("deadline")
    if deadline is not None and (len(deadline) != 10 or parse_dmy(deadline) != deadline):
        raise invalid("deadline", "a date YYYY-MM-DD")
    version = value["version"]
    if not 0 <= version < 2**31:
        raise invalid("version", "0 for a first assignment, else the version read")
    co, info, note = _usernames(value, "co"), _usernames(value, "info"), _note(value, "note")
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    await _incoming_or_outgoing(ctx, doc_id, "in")

    def answer(made: Assignment) -> web.Response:
        return json_response(_view(made))

    try:
        made = await office.assign(
            ctx,
            doc_id,
            lead=lead,
            co=co,
            info=info,
            deadline=deadline,
            note=note,
            actor=actor(request),
            version=version,
            instructed_by=leader,
            by_api=True,
            then=_keeping(request, answer),
        )
    except LienthongError as exc:
        raise _problem(exc) from None
    return _answered(request, answer, made)


async def complete(request: web.Request) -> web.Response:
    """Report that the lead completed a document, with the result and optionally the sent
    document that answers it; the sender gets 06."""
    allow(request, PROCESS)
    value = json_object(request[BODY], COMPLETE_FIELDS, required=("lead", "result"))
    lead = _username(value, "lead")
    result = _note(value, "result")
    answer_id = value.get("answer")
    if answer_id is not None and not ULID_PATTERN.matches(answer_id):
        raise invalid("answer", "the id of a document this unit sent")
    ctx: NodeContext = request.app[CONTEXT]
    doc_id = request.match_info["id"]
    await _incoming_or_outgoing(ctx, doc_id, "in")

    def answer(done: Assignment) -> web.Response:
        return json_response(_view(done))

    try:
        done = await office.complete(
            ctx,
            doc_id,
            actor=lead,
            result=result or "",
            answer_id=answer_id,
            via=actor(request),
            then=_keeping(request, answer),
        )
    except LienthongError as exc:
        raise _problem(exc) from None
    return _answered(request, answer, done)


ROUTES = (
    ("POST", "/documents/{id}/assignment", assign),
    ("POST", "/documents/{id}/completion", complete),
)
