"""The office's work on the clerk's page: "Việc của tôi", the overdue and due-soon lists,
the assignment and completion forms of a document, and the departments the admin keeps;
every rule is node.unit.assignments'."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.unit import assignments as office
from lienthong.node.unit import documents as service
from lienthong.node.web.base import (
    DOCUMENT_ID,
    USER,
    can,
    context_of,
    document_id,
    is_digits,
    parse_date,
    render,
    requires,
    see_other,
    tr,
)
from lienthong.protocol.states import DocState, TransitionError
from lienthong.storage import assignments as store
from lienthong.storage.assignments import MAX_NOTE_CHARS, MAX_PEOPLE, Assignment
from lienthong.storage.documents import get_document
from lienthong.storage.errors import Conflict, NotFound, StoreError
from lienthong.storage.users import (
    MAX_DEPARTMENT_CHARS,
    MAX_USERNAME_CHARS,
    User,
    add_department,
    list_departments,
    list_users,
    set_department,
)

log = logging.getLogger("lienthong.web")

# Rows of each list on the work page: a morning's follow-up; the rest is in the inbox.
LIST_SIZE = 200
# The document page's one-click actions that an assignment replaces by its own forms.
WORK_ACTIONS = frozenset({"assigned", "in-progress", "completed"})
# The states in which a document can be assigned (registered, not yet completed).
ASSIGNABLE = frozenset({DocState.ACCEPTED, DocState.ASSIGNED, DocState.IN_PROGRESS})


def _part(a: Assignment, username: str) -> str:
    if a.lead == username:
        return "lead"
    if username in a.co:
        return "co"
    if username in a.info:
        return "info"
    return "assigned"


async def _rows(conn, found: list[Assignment], names: dict[str, str], day: str, me: str):
    rows = []
    for a in found:
        doc = await get_document(conn, a.document_id)
        if doc is None:  # pragma: no cover - an assignment names a stored document
            continue
        rows.append(
            {
                "a": a,
                "doc": doc,
                "number": service.stored_body(doc).metadata.number_notation,
                "lead": names.get(a.lead, a.lead),
                "part": _part(a, me),
                "overdue": a.overdue(day),
            }
        )
    return rows


@requires("view")
async def work_page(request: web.Request) -> web.StreamResponse:
    """Việc của tôi (leaders, specialists); overdue and due soon (clerks, leaders)."""
    ctx = context_of(request)
    me = request[USER].username
    day = office.today(ctx)
    async with ctx.store.read() as conn:
        names = {u.username: u.display_name or u.username for u in await list_users(conn)}
        mine = overdue = soon = []
        if can(request, "work"):
            mine = await _rows(conn, await store.work_of(conn, me, limit=LIST_SIZE), names, day, me)
        if can(request, "follow"):
            late = await store.overdue(conn, today=day, limit=LIST_SIZE)
            overdue = await _rows(conn, late, names, day, me)
            near = await store.due_soon(
                conn, today=day, last_day=office.due_soon_until(day), limit=LIST_SIZE
            )
            soon = await _rows(conn, near, names, day, me)
    return render(
        request,
        "work.html",
        {
            "mine": mine,
            "overdue": overdue,
            "soon": soon,
            "show_mine": can(request, "work"),
            "show_follow": can(request, "follow"),
            "due_soon_days": office.DUE_SOON_DAYS,
        },
    )


async def document_context(request: web.Request, doc) -> dict[str, Any]:
    """What the document page shows of the work on an incoming document: its assignment,
    the assignment form (for a leader, or a clerk naming the leader) and the lead's forms."""
    if doc.direction != "in":
        return {"work": None}
    ctx = context_of(request)
    me = request[USER].username
    async with ctx.store.read() as conn:
        current = await store.get_assignment(conn, doc.id)
        users = [u for u in await list_users(conn) if not u.disabled]
    names = {u.username: _label(u) for u in users}
    open_ = current is None or current.completed_at is None
    may_assign = can(request, "assign_work") and open_ and DocState(doc.state) in ASSIGNABLE
    is_lead = current is not None and current.lead == me and current.completed_at is None
    return {
        "work": {
            "a": current,
            "names": names,
            "overdue": current is not None and current.overdue(office.today(ctx)),
            "handlers": [u for u in users if u.role in store.HANDLER_ROLES],
            "leaders": [u for u in users if u.role == "leader"],
            "may_assign": may_assign,
            "clerk": request[USER].role == "clerk",
            "version": 0 if current is None else current.version,
            "can_start": is_lead and current.started_at is None,
            "can_complete": is_lead,
            # A leader completes for the lead (named "on behalf of"; audited as the leader's).
            "can_complete_for": current is not None
            and current.completed_at is None
            and not is_lead
            and request[USER].role == "leader",
            "today": office.today(ctx),
            "max_note": MAX_NOTE_CHARS,
        }
    }


def _label(user: User) -> str:
    return office.person(user)


def _names(form, field: str) -> list[str]:
    return [str(v) for v in form.getall(field, []) if str(v)][: MAX_PEOPLE + 1]


async def _refused(request: web.Request, code: str, status: int = 409) -> web.StreamResponse:
    from lienthong.node.web.document import _show  # the document page, with what was wrong

    return await _show(request, error=tr(request, f"work.err.{code}"), status=status)


@requires("view")
async def assign(request: web.Request) -> web.StreamResponse:
    """POST the assignment form of a document (leader, or clerk naming the leader)."""
    if not can(request, "assign_work"):
        return await _refused(request, "assigner", 403)
    ctx = context_of(request)
    doc_id = document_id(request)
    form = await request.post()
    lead = str(form.get("lead", ""))[:MAX_USERNAME_CHARS]
    deadline_text = str(form.get("deadline", "")).strip()
    deadline = parse_date(deadline_text) if deadline_text else None
    version = str(form.get("version", ""))
    note = str(form.get("note", "")).strip() or None
    instructed = str(form.get("instructed_by", "")).strip() or None
    if not lead:
        return await _refused(request, "lead", 400)
    if deadline_text and deadline is None:
        return await _refused(request, "deadline_form", 400)
    if not is_digits(version, 9):
        return await _refused(request, "changed", 400)
    if note is not None and len(note) > MAX_NOTE_CHARS:
        return await _refused(request, "note", 400)
    try:
        await office.assign(
            ctx,
            doc_id,
            lead=lead,
            co=_names(form, "co"),
            info=_names(form, "info"),
            deadline=deadline,
            note=note,
            actor=request[USER].username,
            version=int(version),
            instructed_by=instructed,
        )
    except office.AssignmentError as exc:
        log.info("assign %s: %s", doc_id, exc)
        return await _refused(request, exc.code)
    except (TransitionError, LienthongError) as exc:
        log.info("assign %s: %s", doc_id, exc)
        return await _refused(request, "state")
    raise see_other(f"/documents/{doc_id}?done=assigned")


@requires("view")
async def progress(request: web.Request) -> web.StreamResponse:
    """POST the lead's start or completion of a document."""
    ctx = context_of(request)
    doc_id = document_id(request)
    form = await request.post()
    op = str(form.get("op", ""))
    actor = request[USER].username
    try:
        if op == "start":
            await office.start(ctx, doc_id, actor=actor)
        elif op == "complete":
            result = str(form.get("result", "")).strip()
            if len(result) > MAX_NOTE_CHARS:
                return await _refused(request, "note", 400)
            answer = str(form.get("answer", "")).strip() or None
            if answer is not None and not DOCUMENT_ID.matches(answer):
                return await _refused(request, "answer", 400)
            await office.complete(ctx, doc_id, actor=actor, result=result, answer_id=answer)
        elif op == "complete_for":  # a leader, on behalf of the lead
            current = await office.get(ctx, doc_id)
            if current is None or request[USER].role != "leader":
                return await _refused(request, "assigner", 403)
            result = str(form.get("result", "")).strip()
            if len(result) > MAX_NOTE_CHARS:
                return await _refused(request, "note", 400)
            await office.complete(ctx, doc_id, actor=current.lead, result=result, leader=actor)
        else:
            raise web.HTTPBadRequest(text=tr(request, "error.bad_action"))
    except office.AssignmentError as exc:
        log.info("%s %s: %s", op, doc_id, exc)
        return await _refused(request, exc.code)
    except (TransitionError, LienthongError) as exc:
        log.info("%s %s: %s", op, doc_id, exc)
        return await _refused(request, "state")
    raise see_other(f"/documents/{doc_id}?done={'in-progress' if op == 'start' else 'completed'}")


@requires("users")
async def departments_get(request: web.Request) -> web.StreamResponse:
    return await _departments_page(request)


async def _departments_page(request, *, message=None, error=None, status=200):
    ctx = context_of(request)
    async with ctx.store.read() as conn:
        departments = await list_departments(conn)
        users = await list_users(conn)
    return render(
        request,
        "departments.html",
        {
            "departments": departments,
            "users": users,
            "message": message,
            "error": error,
            "max_department": MAX_DEPARTMENT_CHARS,
        },
        status=status,
    )


@requires("users")
async def departments_post(request: web.Request) -> web.StreamResponse:
    """Add a department, or put a user in one (or in none)."""
    ctx = context_of(request)
    form = await request.post()
    op = str(form.get("op", ""))
    actor = request[USER].username
    name = str(form.get("department", "")).strip()[: MAX_DEPARTMENT_CHARS + 1]
    try:
        async with ctx.store.write() as tx:
            if op == "add":
                await add_department(tx, name, actor=actor, at=ctx.clock())
                message = tr(request, "work.dept.added", name=name)
            elif op == "member":
                username = str(form.get("username", ""))[:MAX_USERNAME_CHARS]
                await set_department(tx, username, name or None, actor=actor, at=ctx.clock())
                message = tr(request, "work.dept.member_set", name=username)
            else:
                raise web.HTTPBadRequest(text=tr(request, "error.bad_action"))
    except StoreError as exc:
        log.info("departments %s: %s", op, exc)
        key = (
            "work.dept.exists"
            if isinstance(exc, Conflict)
            else "work.dept.unknown"
            if isinstance(exc, NotFound)
            else "work.dept.bad_name"
        )
        return await _departments_page(
            request, error=tr(request, key, max=MAX_DEPARTMENT_CHARS), status=409
        )
    return await _departments_page(request, message=message)
