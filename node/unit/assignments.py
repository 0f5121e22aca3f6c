"""The office's work on an incoming document: a leader assigns it (or a clerk on a leader's
instruction), its lead starts and completes it; each step moves the document's state and
tells its sender (04, 05, 06) in the transaction that writes the assignment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from lienthong.node.context import NodeContext
from lienthong.node.times import dmy
from lienthong.node.unit import documents
from lienthong.protocol.states import DocState
from lienthong.protocol.status import Staff
from lienthong.storage import assignments as store
from lienthong.storage import links
from lienthong.storage.assignments import Assignment
from lienthong.storage.documents import get_document
from lienthong.storage.errors import Conflict, StoreError
from lienthong.storage.users import User, get_user

# "Sắp đến hạn": open work whose last day is at most this many days away (today included),
# what a clerk's weekly follow-up looks at.
DUE_SOON_DAYS = 3
# Who assigns: a leader, or a clerk entering a leader's instruction (naming the leader).
ASSIGNERS = frozenset({"leader", "clerk"})


class AssignmentError(documents.DocumentError):
    """An assignment, a start or a completion was refused; the message says why (English,
    for the log and the CLI) and `code` what the clerk's page tells: "person" (unknown,
    disabled or not a handler), "deadline" (past), "assigner" (may not assign),
    "instruction" (a clerk names no leader), "not_lead", "changed" (someone else changed
    it since the form was drawn), "completed", "result" (no result note), "answer" (not
    an outgoing document), "refused" (anything else the store refused)."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


def today(ctx: NodeContext) -> str:
    """The unit's day now (YYYY-MM-DD, local time), by ctx.clock: what deadlines compare to."""
    return dt.datetime.fromtimestamp(ctx.clock() / 1000).date().isoformat()


def due_soon_until(day: str) -> str:
    """The last day the due-soon list reaches from `day`."""
    return (dt.date.fromisoformat(day) + dt.timedelta(days=DUE_SOON_DAYS - 1)).isoformat()


def person(user: User) -> str:
    """How a status names a person: "Nguyễn Văn An (Phòng Tổng hợp)"."""
    name = user.display_name or user.username
    return f"{name} ({user.department})" if user.department else name


def lead_words(named: str) -> str:
    """How a 04's note opens, naming the lead as its `assignee` does (the sender's page,
    which shows the lead as a field, shows the note after it)."""
    return f"Xử lý chính: {named}. "


def _staff(user: User) -> Staff:
    """The handling staff a 04, 05 or 06 carries (edXML StaffInfo: Staff and Department):
    the lead's name, `position` their department (docs/PROTOCOL.md 7.2)."""
    return Staff(name=user.display_name or user.username, position=user.department or "")


async def _user(ctx: NodeContext, username: str, what: str) -> User:
    async with ctx.store.read() as conn:
        user = await get_user(conn, username)
    if user is None or user.disabled:
        raise AssignmentError(
            f"the {what} {username!r} is not an active user of this unit", "person"
        )
    return user


async def _handler(ctx: NodeContext, username: str, what: str) -> User:
    user = await _user(ctx, username, what)
    if user.role not in store.HANDLER_ROLES:
        raise AssignmentError(
            f"the {what} {username!r} is a {user.role}: only a leader or a specialist"
            " handles documents",
            "person",
        )
    return user


async def _check_lead(ctx: NodeContext, document_id: str, actor: str) -> None:
    """What the store will refuse, told first in the clerk's words (the store checks again
    in the transaction)."""
    current = await get(ctx, document_id)
    if current is None or current.lead != actor:
        raise AssignmentError(
            f"document {document_id} is not led by {actor!r}: only its lead acts on it",
            "not_lead",
        )
    if current.completed_at is not None:
        raise AssignmentError(f"document {document_id} is already completed", "completed")


async def assign(
    ctx: NodeContext,
    document_id: str,
    *,
    lead: str,
    co: Sequence[str] = (),
    info: Sequence[str] = (),
    deadline: str | None = None,
    note: str | None = None,
    actor: str,
    version: int,
    instructed_by: str | None = None,
    by_api: bool = False,
    then: documents.Then = None,
) -> Assignment:
    """Assign (or reassign, from the `version` the form showed) a registered incoming
    document; the sender gets 04 naming the lead, with the steering note and deadline.

    Refused with nothing written (AssignmentError; TransitionError if the document is not
    registered or already completed): an assigner who is neither a leader nor a clerk
    naming the leader who instructed it, an unknown or disabled person, a deadline past,
    a version someone else already moved on.

    `by_api`: `actor` is an API key (the office's DMS), which assigns on the instruction of
    the leader it names, as a clerk does. `then` is awaited with (tx, the assignment) in the
    same transaction (the API keeps its Idempotency-Key answer there)."""
    if by_api:
        if instructed_by is None:
            raise AssignmentError(
                "an assignment through the API names the leader who gave it", "instruction"
            )
        assigner = await _user(ctx, instructed_by, "leader")
    else:
        assigner = await _user(ctx, actor, "assigner")
    if assigner.role not in ASSIGNERS:
        raise AssignmentError(
            f"{actor!r} is a {assigner.role}: a leader assigns documents", "assigner"
        )
    if assigner.role == "clerk" and instructed_by is None:
        raise AssignmentError(
            "a clerk assigns on a leader's instruction: name the leader", "instruction"
        )
    if assigner.role == "leader" and not by_api:
        instructed_by = None  # a leader assigns in their own name
    on_behalf = assigner
    if instructed_by is not None:
        on_behalf = await _user(ctx, instructed_by, "leader")
        if on_behalf.role != "leader":
            raise AssignmentError(f"{instructed_by!r} is not a leader", "instruction")
    lead_user = await _handler(ctx, lead, "lead")
    for name in (*co, *info):
        await _handler(ctx, name, "person named")
    if deadline is not None and deadline < today(ctx):
        raise AssignmentError(
            f"the deadline {deadline} is already past (today is {today(ctx)})", "deadline"
        )
    current = await get(ctx, document_id)
    if current is not None and current.completed_at is not None:
        raise AssignmentError(f"document {document_id} is already completed", "completed")
    if version != (0 if current is None else current.version):
        raise AssignmentError(
            f"document {document_id} was assigned meanwhile: read the new assignment first",
            "changed",
        )
    # The lead is `staff` (name, department) and `assignee` (in words); the note says it
    # all in words too, with the leader who gave it (older nodes show a 04's note only).
    said = [f"Lãnh đạo giao: {person(on_behalf)}"]
    if note:
        said.append(f"Ý kiến chỉ đạo: {note}")
    if deadline is not None:
        said.append(f"Hạn xử lý: {dmy(deadline)}")
    written: list[Assignment] = []

    async def write(tx: Any, _number: Any) -> None:
        written.append(
            await store.assign(
                tx,
                document_id,
                lead=lead,
                co=co,
                info=info,
                deadline=deadline,
                note=note,
                actor=actor,
                instructed_by=instructed_by,
                version=version,
                today=today(ctx),
                at=ctx.clock(),
            )
        )
        if then is not None:
            await then(tx, written[-1])

    await _process(
        ctx,
        document_id,
        DocState.ASSIGNED,
        actor=actor,
        note=lead_words(person(lead_user)) + ". ".join(said),
        assignee=person(lead_user),
        staff=_staff(lead_user),
        then=write,
    )
    return written[0]


async def start(ctx: NodeContext, document_id: str, *, actor: str) -> Assignment:
    """The lead starts the work: 05 (in progress) goes to the sender."""
    lead = await _user(ctx, actor, "lead")
    await _check_lead(ctx, document_id, actor)
    written: list[Assignment] = []

    async def write(tx: Any, _number: Any) -> None:
        written.append(await store.start(tx, document_id, actor=actor, at=ctx.clock()))

    await _process(
        ctx, document_id, DocState.IN_PROGRESS, actor=actor, staff=_staff(lead), then=write
    )
    return written[0]


async def complete(
    ctx: NodeContext,
    document_id: str,
    *,
    actor: str,
    result: str,
    answer_id: str | None = None,
    via: str | None = None,
    then: documents.Then = None,
    leader: str | None = None,
) -> Assignment:
    """The lead marks the work done with a result note and, optionally, the outgoing
    document that answers it (linked both ways, as a reply is): 06 goes to the sender.
    `via`: the API key that reported it for the lead (in the audit entry); `then` as for
    assign. `leader`: a leader completes on behalf of the lead `actor` (the lead's
    document.complete entry names the leader as `via`, the state change is the leader's,
    and the sender's 06 says so)."""
    lead = await _user(ctx, actor, "lead")
    on_behalf = None
    if leader is not None:
        on_behalf = await _user(ctx, leader, "leader")
        if on_behalf.role != "leader":
            raise AssignmentError(
                f"{leader!r} is a {on_behalf.role}: only a leader completes for the lead",
                "assigner",
            )
        via = leader
    await _check_lead(ctx, document_id, actor)
    if not result.strip():
        raise AssignmentError("a completion says what was done (the result note)", "result")
    if answer_id is not None:
        async with ctx.store.read() as conn:
            answer = await get_document(conn, answer_id)
        if answer is None or answer.direction != "out":
            raise AssignmentError(f"no outgoing document {answer_id} to answer with", "answer")
    written: list[Assignment] = []

    async def write(tx: Any, _number: Any) -> None:
        done = await store.complete(
            tx,
            document_id,
            actor=actor,
            result=result,
            answer_id=answer_id,
            at=ctx.clock(),
            via=via,
        )
        if answer_id is not None:
            doc = await get_document(tx, document_id)
            target = links.Target(doc.wire_id or doc.id, doc.sender_code, doc.id)
            await links.add_links(tx, answer_id, links.REPLIES_TO, [target], at=ctx.clock())
        written.append(done)
        if then is not None:
            await then(tx, done)

    # The note is the result; `staff` the lead. A leader completing for the lead says so.
    note = result.strip()
    if on_behalf is not None:
        note += f" ({person(on_behalf)} hoàn thành thay)"
    await _process(
        ctx,
        document_id,
        DocState.COMPLETED,
        actor=actor if on_behalf is None else on_behalf.username,
        note=note,
        staff=_staff(lead),
        then=write,
    )
    return written[0]


async def _process(ctx: NodeContext, document_id: str, state: DocState, **kw: Any) -> None:
    """The state change, its status and `then` (the assignment's write) in one transaction:
    a refusal by the store undoes all of it."""
    try:
        await documents.process_document(ctx, document_id, state, **kw)
    except Conflict as exc:  # changed between the checks above and the transaction
        raise AssignmentError(str(exc), "changed") from exc
    except StoreError as exc:
        raise AssignmentError(str(exc)) from exc


async def overdue_among(ctx: NodeContext, document_ids: Sequence[str]) -> set[str]:
    """Those of `document_ids` still open after their deadline (the inbox marks them)."""
    day = today(ctx)
    async with ctx.store.read() as conn:
        deadlines = await store.deadlines_of(conn, document_ids)
    return {doc_id for doc_id, last_day in deadlines.items() if last_day < day}


async def get(ctx: NodeContext, document_id: str) -> Assignment | None:
    async with ctx.store.read() as conn:
        return await store.get_assignment(conn, document_id)
