"""Assignments of incoming documents (lead, co-handlers, for information, deadline, steering
note), their start and completion, and the lists of work read from them; each change audited.

The rules here are those of the data: who may be named, who may act, which version a form
was drawn from. The document's state and the status its sender sees (04, 05, 06) change in
the same transaction, through node/unit/assignments.py and storage/documents.change_state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lienthong.storage import audit
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

# A steering note (ý kiến chỉ đạo) and a result note are typed in a form and go on the wire
# in a status's note (protocol/limits.py MAX_REASON, 4000): half of it, the rest is room for
# the names and the deadline written beside them (node/unit/assignments.py).
MAX_NOTE_CHARS = 2000
# Co-handlers and people for information named in one assignment: a whole small office
# fits; more is a mistake of the form, not an assignment.
MAX_PEOPLE = 50
# Roles that may lead or share the handling of a document, or be told of it.
HANDLER_ROLES = frozenset({"leader", "specialist"})
CO, INFO = "co", "info"
# Open work is work not completed here whose document is still in the unit's hands: a
# document completed another way (the one-click action, the status API), recalled by its
# sender or superseded by a replacement leaves every list (protocol/states.py values).
_LIVE = (
    "a.completed_at IS NULL AND a.document_id IN (SELECT id FROM documents"
    " WHERE state NOT IN ('completed', 'recalled', 'superseded', 'rejected'))"
)


@dataclass(frozen=True)
class Assignment:
    document_id: str
    version: int  # 1 for the first assignment, one more for each change
    lead: str  # username of the person handling it (xử lý chính)
    co: tuple[str, ...]  # co-handlers (phối hợp)
    info: tuple[str, ...]  # for information (để biết)
    deadline: str | None  # YYYY-MM-DD, the last day (hạn xử lý)
    note: str | None  # steering note (ý kiến chỉ đạo)
    assigned_by: str
    instructed_by: str | None  # the leader whose instruction a clerk entered
    assigned_at: int
    started_at: int | None = None
    completed_at: int | None = None
    result: str | None = None
    answer_id: str | None = None  # the outgoing document that answers it

    def overdue(self, today: str) -> bool:
        """Still open after its last day."""
        return self.completed_at is None and self.deadline is not None and self.deadline < today

    def involves(self, username: str) -> bool:
        return username == self.lead or username in self.co or username in self.info


_COLUMNS = (
    "document_id, version, lead, deadline, note, assigned_by, instructed_by, assigned_at,"
    " started_at, completed_at, result, answer_id"
)
_SELECT = f"SELECT {_COLUMNS} FROM assignments"  # noqa: S608 - constant column names


async def _people(conn: Queryable, document_id: str) -> dict[str, tuple[str, ...]]:
    rows = await conn.fetchall(
        "SELECT username, part FROM assignment_people WHERE document_id = ? ORDER BY username",
        (document_id,),
    )
    return {part: tuple(name for name, p in rows if p == part) for part in (CO, INFO)}


async def _assignment(conn: Queryable, row: Any) -> Assignment:
    people = await _people(conn, row[0])
    return Assignment(
        document_id=row[0],
        version=row[1],
        lead=row[2],
        co=people[CO],
        info=people[INFO],
        deadline=row[3],
        note=row[4],
        assigned_by=row[5],
        instructed_by=row[6],
        assigned_at=row[7],
        started_at=row[8],
        completed_at=row[9],
        result=row[10],
        answer_id=row[11],
    )


async def get_assignment(conn: Queryable, document_id: str) -> Assignment | None:
    row = await conn.fetchone(_SELECT + " WHERE document_id = ?", (document_id,))
    return None if row is None else await _assignment(conn, row)


def _check_note(what: str, note: str | None) -> None:
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise StoreError(f"the {what} has {len(note)} characters; at most {MAX_NOTE_CHARS}")


async def _check_person(tx: Tx, username: str, what: str) -> None:
    row = await tx.fetchone("SELECT role, disabled FROM users WHERE username = ?", (username,))
    if row is None:
        raise NotFound(f"the {what} {username!r} is not a user of this unit")
    if row[1]:
        raise StoreError(f"the {what} {username!r} is disabled: name someone who works here")
    if row[0] not in HANDLER_ROLES:
        raise StoreError(
            f"the {what} {username!r} is a {row[0]}:"
            " only a leader or a specialist handles documents"
        )


async def assign(
    tx: Tx,
    document_id: str,
    *,
    lead: str,
    co: Sequence[str] = (),
    info: Sequence[str] = (),
    deadline: str | None,
    note: str | None,
    actor: str,
    instructed_by: str | None = None,
    version: int,
    today: str,
    at: int,
) -> Assignment:
    """Assign (version 0: the first time) or reassign (version: the one the form was drawn
    from) an incoming document. Refused, writing nothing: an unknown, disabled or wrong-role
    person, one person named twice, a deadline before `today`, a completed document, or a
    `version` that is not the current one (someone else changed it meanwhile).
    Audited as document.assign with everything it says."""
    named = [lead, *co, *info]
    if len(named) - 1 > MAX_PEOPLE:
        raise StoreError(f"{len(named) - 1} co-handlers and readers named; at most {MAX_PEOPLE}")
    if len(set(named)) != len(named):
        raise StoreError("each person is named once: the lead, a co-handler or for information")
    if deadline is not None and deadline < today:
        raise StoreError(f"the deadline {deadline} is already past (today is {today})")
    _check_note("steering note", note)
    await _check_person(tx, lead, "lead")
    for name in co:
        await _check_person(tx, name, "co-handler")
    for name in info:
        await _check_person(tx, name, "person for information")
    if instructed_by is not None:
        row = await tx.fetchone("SELECT role FROM users WHERE username = ?", (instructed_by,))
        if row is None or row[0] != "leader":
            raise StoreError(f"{instructed_by!r} is not a leader of this unit: who instructed it?")
    current = await get_assignment(tx, document_id)
    held = 0 if current is None else current.version
    if version != held:
        raise Conflict(
            f"document {document_id} was assigned meanwhile (version {held}, the form had"
            f" {version}): read the new assignment before changing it"
        )
    if current is not None and current.completed_at is not None:
        raise Conflict(f"document {document_id} is completed: it is not assigned again")
    new = Assignment(
        document_id=document_id,
        version=held + 1,
        lead=lead,
        co=tuple(co),
        info=tuple(info),
        deadline=deadline,
        note=note,
        assigned_by=actor,
        instructed_by=instructed_by,
        assigned_at=at,
    )
    if current is None:
        await tx.execute(
            "INSERT INTO assignments (document_id, version, lead, deadline, note, assigned_by,"
            " instructed_by, assigned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (document_id, new.version, lead, deadline, note, actor, instructed_by, at),
        )
    else:
        cursor = await tx.execute(
            "UPDATE assignments SET version = ?, lead = ?, deadline = ?, note = ?,"
            " assigned_by = ?, instructed_by = ?, assigned_at = ?, started_at = NULL"
            " WHERE document_id = ? AND version = ?",
            (new.version, lead, deadline, note, actor, instructed_by, at, document_id, held),
        )
        if cursor.rowcount != 1:  # pragma: no cover - one writer: checked just above
            raise Conflict(f"document {document_id} was assigned meanwhile")
        await tx.execute("DELETE FROM assignment_people WHERE document_id = ?", (document_id,))
    await tx.executemany(
        "INSERT INTO assignment_people (document_id, username, part) VALUES (?, ?, ?)",
        [(document_id, n, CO) for n in co] + [(document_id, n, INFO) for n in info],
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="document.assign",
        subject=document_id,
        details={
            "version": new.version,
            "lead": lead,
            "co": list(co),
            "info": list(info),
            "deadline": deadline,
            "note": note,
            "instructed_by": instructed_by,
            "before": None if current is None else current.lead,
        },
    )
    return new


async def _open_for_lead(tx: Tx, document_id: str, actor: str, doing: str) -> Assignment:
    current = await get_assignment(tx, document_id)
    if current is None:
        raise NotFound(f"document {document_id} is not assigned: nobody can {doing} it yet")
    if current.lead != actor:
        raise StoreError(
            f"document {document_id} is led by {current.lead!r}, not {actor!r}:"
            f" only its lead can {doing} it"
        )
    if current.completed_at is not None:
        raise Conflict(f"document {document_id} is already completed")
    return current


async def start(tx: Tx, document_id: str, *, actor: str, at: int) -> Assignment:
    """The lead starts the work (đang xử lý); audited as document.start."""
    current = await _open_for_lead(tx, document_id, actor, "start")
    await tx.execute(
        "UPDATE assignments SET started_at = ? WHERE document_id = ?", (at, document_id)
    )
    await audit.append(
        tx, at=at, actor=actor, action="document.start", subject=document_id, details={}
    )
    return replace(current, started_at=at)


async def complete(
    tx: Tx,
    document_id: str,
    *,
    actor: str,
    result: str,
    answer_id: str | None,
    at: int,
    via: str | None = None,
) -> Assignment:
    """The lead marks the work done with a result note and, optionally, the outgoing
    document that answers it; audited as document.complete (with `via`, the API key that
    reported it for the lead)."""
    if not result.strip():
        raise StoreError("a completion says what was done (the result note)")
    _check_note("result note", result)
    current = await _open_for_lead(tx, document_id, actor, "complete")
    if answer_id is not None:
        row = await tx.fetchone("SELECT direction FROM documents WHERE id = ?", (answer_id,))
        if row is None or row[0] != "out":
            raise NotFound(f"no outgoing document {answer_id}: the answer is one this unit sent")
    await tx.execute(
        "UPDATE assignments SET completed_at = ?, result = ?, answer_id = ?,"
        " started_at = coalesce(started_at, ?) WHERE document_id = ?",
        (at, result, answer_id, at, document_id),
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="document.complete",
        subject=document_id,
        details={"result": result, "answer": answer_id, **({"via": via} if via else {})},
    )
    return replace(
        current,
        completed_at=at,
        result=result,
        answer_id=answer_id,
        started_at=current.started_at or at,
    )


async def _many(conn: Queryable, where: str, params: Sequence[Any]) -> list[Assignment]:
    rows = await conn.fetchall(f"{_SELECT} a WHERE {where}", tuple(params))
    return [await _assignment(conn, row) for row in rows]


async def work_of(conn: Queryable, username: str, *, limit: int = 200) -> list[Assignment]:
    """The open work of one person ("Việc của tôi"): led, shared or to read, or assigned by
    them; the nearest deadline first, those without one last."""
    return await _many(
        conn,
        f"{_LIVE} AND (a.lead = ? OR a.assigned_by = ? OR a.instructed_by = ?"  # noqa: S608 - constant
        " OR a.document_id IN (SELECT document_id FROM assignment_people WHERE username = ?))"
        " ORDER BY a.deadline IS NULL, a.deadline, a.assigned_at LIMIT ?",
        (username, username, username, username, limit),
    )


async def overdue(conn: Queryable, *, today: str, limit: int = 200) -> list[Assignment]:
    """Open work whose last day is before `today`, the oldest deadline first."""
    return await _many(
        conn,
        f"{_LIVE} AND a.deadline IS NOT NULL AND a.deadline < ?"
        " ORDER BY a.deadline, a.assigned_at LIMIT ?",
        (today, limit),
    )


async def due_soon(
    conn: Queryable, *, today: str, last_day: str, limit: int = 200
) -> list[Assignment]:
    """Open work due from `today` to `last_day` (both included), the nearest first."""
    return await _many(
        conn,
        f"{_LIVE} AND a.deadline IS NOT NULL AND a.deadline BETWEEN ? AND ?"
        " ORDER BY a.deadline, a.assigned_at LIMIT ?",
        (today, last_day, limit),
    )


async def deadlines_of(conn: Queryable, document_ids: Sequence[str]) -> dict[str, str]:
    """The deadline of each open, assigned document among `document_ids` (the inbox marks
    those past it)."""
    found: dict[str, str] = {}
    ids = list(document_ids)
    for start_at in range(0, len(ids), 500):  # under SQLite's parameter limit
        chunk = ids[start_at : start_at + 500]
        marks = ",".join("?" * len(chunk))
        rows = await conn.fetchall(
            "SELECT a.document_id, a.deadline FROM assignments a"  # noqa: S608 - placeholders only
            f" WHERE {_LIVE} AND a.deadline IS NOT NULL AND a.document_id IN ({marks})",
            chunk,
        )
        found.update(dict(rows))
    return found
