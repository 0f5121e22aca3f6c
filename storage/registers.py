"""The incoming and outgoing registers (sổ đăng ký văn bản đến / đi), numbered per year.

Nghị định 30/2020/NĐ-CP: a document's number runs from 01 on 1 January to
31 December of each year (Phụ lục I, "Số, ký hiệu của văn bản"), and the incoming
number (số đến) is taken in order of arrival within the year, one sequence for paper
and electronic documents alike (Điều 22). So a number is allocated inside the write
transaction (BEGIN IMMEDIATE: one writer at a time, across processes too) as the
year's highest plus one; the primary key (year, number) is the backstop.
"""

import sqlite3
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, Literal

from lienthong.storage import audit
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

# A link note names another document ("Thay thế văn bản số 12/2025/QĐ-UBND ngày
# 01/02/2025"): a line of the register's notes column, never a paragraph.
MAX_LINK_NOTE_CHARS = 300


@dataclass(frozen=True)
class IncomingEntry:
    """One line of the incoming register; `year` and `number` are set by the register."""

    arrived_on: str  # YYYY-MM-DD; its year is the register's year
    issuer_name: str
    number_notation: str  # e.g. "2340/VP-TTTH"
    doc_date: str  # YYYY-MM-DD
    doc_type: str
    subject: str
    issuer_code: str | None = None
    passed_to: str | None = None
    receipt_signature: str | None = None
    notes: str | None = None
    document_id: str | None = None  # None for a paper document entered by hand
    manual: bool = False
    year: int = 0
    number: int = 0
    created_at: int = 0


@dataclass(frozen=True)
class OutgoingEntry:
    """One line of the outgoing register; `number` None means "the year's next number"."""

    issued_on: str  # YYYY-MM-DD; its year is the register's year
    notation: str  # ký hiệu, e.g. "VP-TTTH"
    doc_type: str
    subject: str
    signer: str
    recipients: str  # nơi nhận, as written in the register
    archive_holder: str | None = None
    copies: int | None = None
    sent_on: str | None = None
    notes: str | None = None
    document_id: str | None = None
    manual: bool = False
    number: int | None = None
    year: int = 0
    created_at: int = 0


_IN_COLUMNS = tuple(f.name for f in fields(IncomingEntry))
_OUT_COLUMNS = tuple(f.name for f in fields(OutgoingEntry))
# SQL built once from the dataclasses' field names, never from input.
_INSERT_IN = f"INSERT INTO incoming_register ({', '.join(_IN_COLUMNS)}) VALUES ({', '.join('?' * len(_IN_COLUMNS))})"  # noqa: S608, E501
_INSERT_OUT = f"INSERT INTO outgoing_register ({', '.join(_OUT_COLUMNS)}) VALUES ({', '.join('?' * len(_OUT_COLUMNS))})"  # noqa: S608, E501
_LIST_IN = f"SELECT {', '.join(_IN_COLUMNS)} FROM incoming_register WHERE year = ? ORDER BY number"  # noqa: S608
_LIST_OUT = f"SELECT {', '.join(_OUT_COLUMNS)} FROM outgoing_register WHERE year = ? ORDER BY number, notation"  # noqa: S608, E501


def _year_of(field: str, value: str) -> int:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value).year
    except ValueError:
        raise StoreError(f"{field} must be a date YYYY-MM-DD, not {value!r}") from None


def _values(entry: Any, columns: tuple[str, ...]) -> tuple[Any, ...]:
    values = (getattr(entry, c) for c in columns)
    return tuple(int(v) if isinstance(v, bool) else v for v in values)


async def register_incoming(tx: Tx, entry: IncomingEntry, *, actor: str, at: int) -> int:
    """Give the entry the year's next incoming number and return it.

    A document registers once: for a document_id already registered this returns
    its number and writes nothing. Paper entries have document_id None and manual True.
    """
    if entry.document_id is None and not entry.manual:
        raise StoreError("an incoming entry without a document_id must be manual (paper)")
    if entry.document_id is not None:
        row = await tx.fetchone(
            "SELECT number FROM incoming_register WHERE document_id = ?", (entry.document_id,)
        )
        if row is not None:
            return int(row[0])
    year = _year_of("arrived_on", entry.arrived_on)
    _year_of("doc_date", entry.doc_date)
    row = await tx.fetchone(
        "SELECT coalesce(max(number), 0) + 1 FROM incoming_register WHERE year = ?", (year,)
    )
    number = int(row[0]) if row is not None else 1
    stored = replace(entry, year=year, number=number, created_at=at)
    try:
        await tx.execute(_INSERT_IN, _values(stored, _IN_COLUMNS))
    except sqlite3.IntegrityError as e:
        raise Conflict(f"incoming register {year} number {number} cannot be written: {e}") from e
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="register.incoming",
        subject=f"{year}/{number}",
        details={
            "document_id": entry.document_id,
            "manual": entry.manual,
            "number_notation": entry.number_notation,
        },
    )
    return number


async def reconcile_incoming(
    tx: Tx,
    document_id: str,
    *,
    issuer_code: str,
    number_notation: str,
    doc_date: str,
    actor: str,
    at: int,
) -> int | None:
    """Link an arriving electronic document to the paper entry already made for it.

    Returns the incoming number it now shares (or already had), or None when no
    unlinked manual entry matches issuer, number/notation and date: then register it.
    """
    row = await tx.fetchone(
        "SELECT number FROM incoming_register WHERE document_id = ?", (document_id,)
    )
    if row is not None:
        return int(row[0])
    match = await tx.fetchone(
        "SELECT year, number FROM incoming_register WHERE document_id IS NULL AND manual = 1"
        " AND issuer_code = ? AND number_notation = ? AND doc_date = ?"
        " ORDER BY year, number LIMIT 1",
        (issuer_code, number_notation, doc_date),
    )
    if match is None:
        return None
    year, number = int(match[0]), int(match[1])
    await tx.execute(
        "UPDATE incoming_register SET document_id = ? WHERE year = ? AND number = ?",
        (document_id, year, number),
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="register.reconcile",
        subject=f"{year}/{number}",
        details={"document_id": document_id, "number_notation": number_notation},
    )
    return number


async def next_outgoing_number(conn: Queryable, year: int) -> int:
    row = await conn.fetchone(
        "SELECT coalesce(max(number), 0) + 1 FROM outgoing_register WHERE year = ?", (year,)
    )
    return int(row[0]) if row is not None else 1


async def register_outgoing(tx: Tx, entry: OutgoingEntry, *, actor: str, at: int) -> int:
    """Write the entry (with the year's next number if it has none) and return its number.

    A document registers once: for a document_id already registered this returns
    its number and writes nothing. Conflict if (year, number, notation) is taken.
    """
    if entry.document_id is None and not entry.manual:
        raise StoreError("an outgoing entry without a document_id must be manual (paper)")
    if entry.document_id is not None:
        row = await tx.fetchone(
            "SELECT number FROM outgoing_register WHERE document_id = ?", (entry.document_id,)
        )
        if row is not None:
            return int(row[0])
    year = _year_of("issued_on", entry.issued_on)
    number = entry.number if entry.number is not None else await next_outgoing_number(tx, year)
    if number < 1:
        raise StoreError(f"an outgoing number starts at 1, not {number}")
    stored = replace(entry, year=year, number=number, created_at=at)
    try:
        await tx.execute(_INSERT_OUT, _values(stored, _OUT_COLUMNS))
    except sqlite3.IntegrityError as e:
        raise Conflict(
            f"outgoing register {year}: number {number}/{entry.notation} is already taken"
        ) from e
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="register.outgoing",
        subject=f"{year}/{number}/{entry.notation}",
        details={"document_id": entry.document_id, "manual": entry.manual},
    )
    return number


async def list_register(
    conn: Queryable, kind: Literal["incoming", "outgoing"], year: int
) -> list[IncomingEntry] | list[OutgoingEntry]:
    """The year's register in number order."""
    if kind == "incoming":
        rows = await conn.fetchall(_LIST_IN, (year,))
        return [_entry(IncomingEntry, _IN_COLUMNS, r) for r in rows]
    if kind == "outgoing":
        rows = await conn.fetchall(_LIST_OUT, (year,))
        return [_entry(OutgoingEntry, _OUT_COLUMNS, r) for r in rows]
    raise NotFound(f"no register of kind {kind!r}: 'incoming' or 'outgoing'")


def _entry(cls: Any, columns: tuple[str, ...], row: Any) -> Any:
    values = dict(zip(columns, row, strict=True))
    values["manual"] = bool(values["manual"])
    return cls(**values)


async def incoming_number_of(conn: Queryable, document_id: str) -> tuple[int, int] | None:
    """(year, number) of a registered incoming document, or None if not registered."""
    row = await conn.fetchone(
        "SELECT year, number FROM incoming_register WHERE document_id = ?", (document_id,)
    )
    return None if row is None else (int(row[0]), int(row[1]))


async def mark_recalled(
    tx: Tx, document_id: str, *, on: str, reason: str | None, actor: str, at: int
) -> bool:
    """Mark the register lines of an agreed recall (thu hồi): kept, shown struck through.

    `on` is the day the recall was agreed (YYYY-MM-DD). Both the incoming and the
    outgoing line of the document are marked (a document a unit sent to itself has
    both). Returns False when the document has no register line (nothing to mark);
    marking again keeps the first day and reason.
    """
    _year_of("on", on)
    marked = False
    for table in ("incoming_register", "outgoing_register"):
        cursor = await tx.execute(
            f"UPDATE {table} SET recalled_on = ?, recall_reason = ?"  # noqa: S608 (fixed names)
            " WHERE document_id = ? AND recalled_on IS NULL",
            (on, reason, document_id),
        )
        if cursor.rowcount:
            marked = True
            await audit.append(
                tx,
                at=at,
                actor=actor,
                action="register.recalled",
                subject=document_id,
                details={"register": table, "on": on, "reason": reason},
            )
    return marked


async def note_link(tx: Tx, document_id: str, note: str, *, actor: str, at: int) -> bool:
    """Add a line to the register notes of a document ("Thay thế văn bản số 12/UBND-VP",
    "Được cập nhật bởi văn bản số 15/UBND-VP"): shown in the register's notes column.

    The same note is written once. Returns False when the document has no register line.
    """
    note = note.strip()
    if not note or "\n" in note or len(note) > MAX_LINK_NOTE_CHARS:
        raise StoreError(
            f"a register link note is one line of 1 to {MAX_LINK_NOTE_CHARS} characters"
        )
    noted = False
    for table in ("incoming_register", "outgoing_register"):
        row = await tx.fetchone(
            f"SELECT link_notes FROM {table} WHERE document_id = ?",  # noqa: S608 (fixed names)
            (document_id,),
        )
        if row is None:
            continue
        noted = True
        lines = [] if row[0] is None else str(row[0]).split("\n")
        if note in lines:
            continue
        await tx.execute(
            f"UPDATE {table} SET link_notes = ? WHERE document_id = ?",  # noqa: S608
            ("\n".join([*lines, note]), document_id),
        )
        await audit.append(
            tx,
            at=at,
            actor=actor,
            action="register.link",
            subject=document_id,
            details={"register": table, "note": note},
        )
    return noted
