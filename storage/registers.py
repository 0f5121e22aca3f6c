"""The registers (sổ văn bản): which register a document goes to, its number there, and the
lines the register pages, the print view and the exports read.

Nghị định 30/2020/NĐ-CP. A unit keeps several registers, each one series of numbers per
year: each kind of legal document (văn bản quy phạm pháp luật) has its own series and its
number carries the year ("49/2025/QĐ-UBND"), secret documents (Mật and above) have theirs
(Điều 15), copies are numbered in the copy series (Phụ lục I); RegisterRules says which goes
where (node.toml [registers]). A number runs from 01 on 1 January to 31 December and is
text as written ("05"); numbers are compared by register_key ("05/VP-TTTH" = "5/vp-ttth"),
so an outgoing number is unique per (register, year, key). The incoming number (số đến) is
taken in order of arrival within the year, one sequence for paper and electronic documents
alike (Điều 22); secret documents may be registered apart. A number is allocated inside the
write transaction (BEGIN IMMEDIATE: one writer at a time, across processes too) as the
register's highest plus one; the table's key is the backstop.
"""

import sqlite3
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any, Literal

from lienthong.protocol.codes import Confidentiality
from lienthong.protocol.doctypes import document_types
from lienthong.protocol.document import NUMBER, parse_number_notation, register_key
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.text import pattern
from lienthong.storage import audit
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

# A link note names another document ("Thay thế văn bản số 12/2025/QĐ-UBND ngày
# 01/02/2025"): a line of the register's notes column, never a paragraph.
MAX_LINK_NOTE_CHARS = 300
# A recall's reason as the register line shows it, cut to one line of the notes column.
MAX_RECALL_REASON_CHARS = 300
# The registers a unit keeps by default (node.toml [registers] may rename or merge them).
GENERAL, SECRET, COPIES = "chung", "mat", "sao"
LEGAL_ONE = "qppl"  # every legal document in one register ([registers] legal = "one")
LEGAL_PREFIX = "qppl_"  # one register per legal type: qppl_quyet_dinh, qppl_nghi_quyet, ...
LEGAL_MODES = ("per_type", "one", "general")
# A register's name, in URLs, node.toml and the store: short lowercase ASCII, long enough
# for LEGAL_PREFIX and a type code (at most 16 characters: protocol/doctypes.py).
REGISTER_NAME = pattern("register name", "[a-z][a-z0-9_]{0,31}", "chung")
# Lines on one page of a register: a year of mail is read a page at a time.
PAGE_LINES = 100
# Lines read per query by the print view and the exports (CSV, xlsx): the memory one
# export holds at a time, whatever the register's length.
EXPORT_BATCH = 500
# A page cursor in a URL: the line's number (số đến, or the number's value) and its rowid.
CURSOR = pattern("register page cursor", "[0-9]{1,10}[.][0-9]{1,18}", "12.345")

Kind = Literal["incoming", "outgoing"]


@dataclass(frozen=True)
class RegisterRules:
    """Which register a document goes to (node.toml [registers], docs/CLERK.md). An empty
    name merges that class of documents into the general register."""

    general: str = GENERAL
    secret: str = SECRET  # outgoing documents marked Mật or above
    copies: str = COPIES  # sao y, trích sao, sao lục (types flagged copy)
    legal: str = "per_type"  # LEGAL_MODES: per type, one register, or the general one
    own_series: tuple[str, ...] = ()  # type codes numbered in a register of their own
    incoming_secret: str = SECRET  # incoming documents marked Mật or above

    def outgoing(self, doc_type: str, number_year: int | None, confidentiality: int) -> str:
        """The register of a document this unit issues. Secret first (Điều 15: secret
        documents have their own numbers), then legal documents (a legal type, or a number
        that carries its year), copies, types with their own series, the general register."""
        if self.secret and confidentiality >= Confidentiality.SECRET:
            return self.secret
        kind = document_types().get(doc_type)
        # getattr: the flags "legal" and "copy" of protocol/doctypes.py DocumentType.
        if number_year is not None or getattr(kind, "legal", False):
            if self.legal == "per_type":
                return LEGAL_PREFIX + doc_type
            if self.legal == "one":
                return LEGAL_ONE
        if self.copies and getattr(kind, "copy", False):
            return self.copies
        if doc_type in self.own_series:
            return doc_type
        return self.general

    def incoming(self, confidentiality: int) -> str:
        """The incoming register: one a year, or secret documents apart (Điều 22)."""
        if self.incoming_secret and confidentiality >= Confidentiality.SECRET:
            return self.incoming_secret
        return self.general


@dataclass(frozen=True)
class IncomingEntry:
    """One line of an incoming register; `year`, `number` and `number_key` are set by it."""

    arrived_on: str  # YYYY-MM-DD, the day the document arrived; its year is the register's
    issuer_name: str
    number_notation: str  # as written, e.g. "2340/VP-TTTH"
    doc_date: str  # YYYY-MM-DD
    doc_type: str
    subject: str
    issuer_code: str | None = None
    passed_to: str | None = None
    receipt_signature: str | None = None
    notes: str | None = None
    document_id: str | None = None  # None for a paper document entered by hand
    manual: bool = False
    register: str = GENERAL
    year: int = 0
    number: int = 0
    number_key: str = ""
    created_at: int = 0
    recalled_on: str | None = None  # YYYY-MM-DD of an agreed recall: the line is struck
    recall_reason: str | None = None
    link_notes: str | None = None  # "Được cập nhật bởi văn bản số ...", one per line
    line: int = 0  # the row's id: the tiebreak of page cursors


@dataclass(frozen=True)
class OutgoingEntry:
    """One line of an outgoing register; `number` None means "the register's next number"."""

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
    number: str | None = None  # as written, "05"
    number_year: int | None = None  # the year a legal document's number carries
    register: str = GENERAL
    year: int = 0
    number_value: int = 0
    number_key: str = ""
    created_at: int = 0
    recalled_on: str | None = None
    recall_reason: str | None = None
    link_notes: str | None = None
    line: int = 0

    @property
    def number_notation(self) -> str:
        """The printed "Số": 2340/VP-TTTH, or 49/2025/QĐ-UBND for a legal document."""
        if self.number_year is not None:
            return f"{self.number}/{self.number_year}/{self.notation}"
        return f"{self.number}/{self.notation}"


@dataclass(frozen=True)
class Page:
    """Lines of one register page in number order, and the cursors of its neighbours."""

    lines: list[Any]
    previous: str | None  # `before` of the page before, None on the first page
    next: str | None  # `after` of the page after, None on the last page


_IN_COLUMNS = tuple(f.name for f in fields(IncomingEntry) if f.name != "line")
_OUT_COLUMNS = tuple(f.name for f in fields(OutgoingEntry) if f.name != "line")
_TABLES = {"incoming": "incoming_register", "outgoing": "outgoing_register"}
_ORDER = {"incoming": "number", "outgoing": "number_value"}  # the column a register is read by
# SQL built once from the dataclasses' field names, never from input.
_INSERT_IN = f"INSERT INTO incoming_register ({', '.join(_IN_COLUMNS)}) VALUES ({', '.join('?' * len(_IN_COLUMNS))})"  # noqa: S608, E501
_INSERT_OUT = f"INSERT INTO outgoing_register ({', '.join(_OUT_COLUMNS)}) VALUES ({', '.join('?' * len(_OUT_COLUMNS))})"  # noqa: S608, E501
_SELECT = {
    "incoming": f"SELECT {', '.join(_IN_COLUMNS)}, rowid FROM incoming_register",  # noqa: S608 - fixed names
    "outgoing": f"SELECT {', '.join(_OUT_COLUMNS)}, rowid FROM outgoing_register",  # noqa: S608 - fixed names
}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def key_of(number_notation: str) -> str:
    """register_key of a number and notation as written on a document: "05/VP-TTTH" and
    "5/vp-ttth" give the same key, "49/2025/QĐ-UBND" and "49/QĐ-UBND" do not. Text that is
    no number and notation (a paper entry typed loosely) is compared whole, case aside."""
    try:
        number, year, notation = parse_number_notation(number_notation)
    except InvalidField:
        return _fold(number_notation.strip())
    return register_key(number, year, notation)


def _year_of(field: str, value: str) -> int:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value).year
    except ValueError:
        raise StoreError(f"{field} must be a date YYYY-MM-DD, not {value!r}") from None


def _check_register(name: str) -> None:
    if not REGISTER_NAME.matches(name):
        raise StoreError(
            f"a register's name is {REGISTER_NAME.example!r}-like: lowercase letters, digits "
            f"and _, starting with a letter, at most 32; not {name!r}"
        )


def _values(entry: Any, columns: tuple[str, ...]) -> tuple[Any, ...]:
    values = (getattr(entry, c) for c in columns)
    return tuple(int(v) if isinstance(v, bool) else v for v in values)


async def register_incoming(tx: Tx, entry: IncomingEntry, *, actor: str, at: int) -> int:
    """Give the entry its register's next incoming number of the year it arrived; return it.

    A document registers once: for a document_id already registered this returns
    its number and writes nothing. Paper entries have document_id None and manual True.
    """
    if entry.document_id is None and not entry.manual:
        raise StoreError("an incoming entry without a document_id must be manual (paper)")
    _check_register(entry.register)
    if entry.document_id is not None:
        row = await tx.fetchone(
            "SELECT number FROM incoming_register WHERE document_id = ?", (entry.document_id,)
        )
        if row is not None:
            return int(row[0])
    year = _year_of("arrived_on", entry.arrived_on)
    _year_of("doc_date", entry.doc_date)
    row = await tx.fetchone(
        "SELECT coalesce(max(number), 0) + 1 FROM incoming_register"
        " WHERE register = ? AND year = ?",
        (entry.register, year),
    )
    number = int(row[0]) if row is not None else 1
    stored = replace(
        entry, year=year, number=number, number_key=key_of(entry.number_notation), created_at=at
    )
    try:
        await tx.execute(_INSERT_IN, _values(stored, _IN_COLUMNS))
    except sqlite3.IntegrityError as e:
        raise Conflict(
            f"incoming register {entry.register} {year} number {number} cannot be written: {e}"
        ) from e
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="register.incoming",
        subject=f"{entry.register}/{year}/{number}",
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

    The twin is the unlinked paper entry of the same issuer and document date whose number
    and notation has the same register key: "5/VP-TTTH" typed on paper is the twin of
    "05/VP-TTTH" sent electronically. Returns the incoming number it now shares (or already
    had), or None when no paper entry matches: then register it.
    """
    row = await tx.fetchone(
        "SELECT number FROM incoming_register WHERE document_id = ?", (document_id,)
    )
    if row is not None:
        return int(row[0])
    match = await tx.fetchone(
        "SELECT register, year, number FROM incoming_register"
        " WHERE number_key = ? AND document_id IS NULL AND manual = 1"
        " AND issuer_code = ? AND doc_date = ? ORDER BY year, register, number LIMIT 1",
        (key_of(number_notation), issuer_code, doc_date),
    )
    if match is None:
        return None
    register, year, number = str(match[0]), int(match[1]), int(match[2])
    await tx.execute(
        "UPDATE incoming_register SET document_id = ? WHERE register = ? AND year = ?"
        " AND number = ?",
        (document_id, register, year, number),
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="register.reconcile",
        subject=f"{register}/{year}/{number}",
        details={"document_id": document_id, "number_notation": number_notation},
    )
    return number


async def possible_duplicates(
    conn: Queryable,
    number_notation: str,
    *,
    year: int,
    issuer_code: str | None = None,
    document_id: str | None = None,
) -> list[IncomingEntry]:
    """Incoming lines of `year` or the year before that may be the same document: the same
    register key, and the same issuer when both lines name one. What the clerk is warned of
    before numbering a document twice; the line of `document_id` itself is left out."""
    rows = await conn.fetchall(
        _SELECT["incoming"] + " WHERE number_key = ? AND year IN (?, ?) ORDER BY year, number",
        (key_of(number_notation), year, year - 1),
    )
    lines = [_entry("incoming", row) for row in rows]
    return [
        e
        for e in lines
        if (document_id is None or e.document_id != document_id)
        and (issuer_code is None or e.issuer_code is None or e.issuer_code == issuer_code)
    ]


@dataclass(frozen=True)
class Arrival:
    """An electronic document that arrived here and is not in an incoming register yet."""

    document_id: str
    arrived_on: str  # YYYY-MM-DD, local day of its arrival
    number_notation: str
    issuer_name: str
    issuer_code: str


async def arrived_unregistered(
    conn: Queryable, number_notation: str, *, year: int, issuer_code: str | None = None
) -> list[Arrival]:
    """Electronic documents that arrived in `year` or the year before with the register key
    of `number_notation` (and issuer, when both name one) and are not registered yet: a
    paper entry of one of them would number it twice."""
    key = key_of(number_notation)
    digits = key.split("/", 1)[0]
    if not NUMBER.matches(digits):
        return []
    since = int(datetime(year - 1, 1, 1).timestamp() * 1000)  # local midnight, 1 January
    rows = await conn.fetchall(
        "SELECT d.id, d.number, d.number_year, d.notation, d.issuer_name, d.issuer_code,"
        " d.created_at FROM documents d WHERE d.direction = 'in' AND d.created_at >= ?"
        " AND CAST(d.number AS INTEGER) = ? AND NOT EXISTS"
        " (SELECT 1 FROM incoming_register r WHERE r.document_id = d.id)"
        " ORDER BY d.created_at, d.id",
        (since, int(digits)),
    )
    found = []
    for doc_id, number, number_year, notation, issuer_name, code, created_at in rows:
        if register_key(number, number_year, notation) != key:
            continue
        if issuer_code is not None and code != issuer_code:
            continue
        written = f"{number}/{number_year}/{notation}" if number_year else f"{number}/{notation}"
        day = datetime.fromtimestamp(created_at / 1000).date().isoformat()
        found.append(Arrival(doc_id, day, written, issuer_name, code))
    return found


async def next_outgoing_number(conn: Queryable, register: str, year: int) -> str:
    """The register's next number of the year as the decree writes it ("05", "12")."""
    row = await conn.fetchone(
        "SELECT coalesce(max(number_value), 0) + 1 FROM outgoing_register"
        " WHERE register = ? AND year = ?",
        (register, year),
    )
    return f"{int(row[0]) if row is not None else 1:02d}"


async def register_outgoing(tx: Tx, entry: OutgoingEntry, *, actor: str, at: int) -> str:
    """Write the entry (with its register's next number if it has none); return its number.

    A document registers once: for a document_id already registered this returns its
    number and writes nothing. Conflict if the register already has that number and
    notation this year, compared as a register does ("05/VP-TTTH" = "5/VP-TTTH").
    """
    if entry.document_id is None and not entry.manual:
        raise StoreError("an outgoing entry without a document_id must be manual (paper)")
    _check_register(entry.register)
    if entry.document_id is not None:
        row = await tx.fetchone(
            "SELECT number FROM outgoing_register WHERE document_id = ?", (entry.document_id,)
        )
        if row is not None:
            return str(row[0])
    year = _year_of("issued_on", entry.issued_on)
    number = entry.number
    if number is None:
        number = await next_outgoing_number(tx, entry.register, year)
    if not isinstance(number, str) or not NUMBER.matches(number) or int(number) < 1:
        raise StoreError(f"an outgoing number is digits from 01, not {number!r}")
    stored = replace(
        entry,
        number=number,
        year=year,
        number_value=int(number),
        number_key=register_key(number, entry.number_year, entry.notation),
        created_at=at,
    )
    held = await tx.fetchone(
        "SELECT number, number_year, notation FROM outgoing_register"
        " WHERE register = ? AND year = ? AND number_key = ?",
        (entry.register, year, stored.number_key),
    )
    if held is not None:
        taken = replace(stored, number=held[0], number_year=held[1], notation=held[2])
        raise Conflict(
            f"outgoing register {entry.register} {year}: number {stored.number_notation} is "
            f"already taken (by {taken.number_notation})"
        )
    try:
        await tx.execute(_INSERT_OUT, _values(stored, _OUT_COLUMNS))
    except sqlite3.IntegrityError as e:
        raise Conflict(
            f"outgoing register {entry.register} {year}: number {stored.number_notation} "
            f"cannot be written: {e}"
        ) from e
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="register.outgoing",
        subject=f"{entry.register}/{year}/{stored.number_notation}",
        details={"document_id": entry.document_id, "manual": entry.manual},
    )
    return number


def _kind(kind: str) -> str:
    if kind not in _TABLES:
        raise NotFound(f"no register of kind {kind!r}: 'incoming' or 'outgoing'")
    return kind


def _entry(kind: str, row: Any) -> Any:
    columns = _IN_COLUMNS if kind == "incoming" else _OUT_COLUMNS
    values = dict(zip(columns, row[: len(columns)], strict=True))
    values["manual"] = bool(values["manual"])
    values["line"] = int(row[len(columns)])
    return (IncomingEntry if kind == "incoming" else OutgoingEntry)(**values)


async def list_register(
    conn: Queryable, kind: Kind, year: int, register: str | None = None
) -> list[IncomingEntry] | list[OutgoingEntry]:
    """The year's lines of one register (or of every register of the kind, register by
    register) in number order. Whole: for a page, register_page; for an export, lines."""
    kind = _kind(kind)  # type: ignore[assignment]
    order = _ORDER[kind]
    if register is None:
        sql = _SELECT[kind] + f" WHERE year = ? ORDER BY register, {order}, rowid"
        rows = await conn.fetchall(sql, (year,))
    else:
        sql = _SELECT[kind] + f" WHERE register = ? AND year = ? ORDER BY {order}, rowid"
        rows = await conn.fetchall(sql, (register, year))
    return [_entry(kind, row) for row in rows]


def cursor_of(kind: Kind, entry: Any) -> str:
    """The page cursor of a line (CURSOR): its number's value and its row id."""
    value = entry.number if kind == "incoming" else entry.number_value
    return f"{value}.{entry.line}"


def _parse_cursor(cursor: str) -> tuple[int, int]:
    if not CURSOR.matches(cursor):
        raise StoreError(f"a register page cursor is like {CURSOR.example!r}, not {cursor!r}")
    value, line = cursor.split(".")
    return int(value), int(line)


async def register_page(
    conn: Queryable,
    kind: Kind,
    register: str,
    year: int,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_LINES,
) -> Page:
    """One page of a register in number order (keyset paging: a page costs the same on the
    first day of the year and the last): the first page, the page after the line `after`,
    or the page before the line `before` (cursor_of)."""
    kind = _kind(kind)  # type: ignore[assignment]
    order = _ORDER[kind]
    where = _SELECT[kind] + " WHERE register = ? AND year = ?"
    if before is not None:
        value, line = _parse_cursor(before)
        rows = await conn.fetchall(
            where + f" AND ({order}, rowid) < (?, ?) ORDER BY {order} DESC, rowid DESC LIMIT ?",
            (register, year, value, line, limit),
        )
        rows = rows[::-1]
    else:
        value, line = _parse_cursor(after) if after is not None else (-1, -1)
        rows = await conn.fetchall(
            where + f" AND ({order}, rowid) > (?, ?) ORDER BY {order}, rowid LIMIT ?",
            (register, year, value, line, limit),
        )
    lines = [_entry(kind, row) for row in rows]
    if not lines:
        return Page([], None, None)
    first, last = cursor_of(kind, lines[0]), cursor_of(kind, lines[-1])
    exists = (
        f"SELECT 1 FROM {_TABLES[kind]} WHERE register = ? AND year = ?"  # noqa: S608 - fixed names
        f" AND ({order}, rowid) {{}} (?, ?) LIMIT 1"
    )
    earlier = await conn.fetchone(exists.format("<"), (register, year, *_parse_cursor(first)))
    later = await conn.fetchone(exists.format(">"), (register, year, *_parse_cursor(last)))
    return Page(lines, first if earlier else None, last if later else None)


async def lines(
    conn: Queryable, kind: Kind, register: str, year: int, *, batch: int = EXPORT_BATCH
) -> AsyncIterator[list[Any]]:
    """The whole register in number order, `batch` lines at a time (the print view and the
    exports: a year of mail is never held at once)."""
    after: str | None = None
    while True:
        page = await register_page(conn, kind, register, year, after=after, limit=batch)
        if page.lines:
            yield page.lines
        if page.next is None:
            return
        after = page.next


async def registers_in_use(conn: Queryable, kind: Kind, year: int) -> dict[str, int]:
    """The registers of the kind that have lines in `year`, with their number of lines."""
    kind = _kind(kind)  # type: ignore[assignment]
    rows = await conn.fetchall(
        f"SELECT register, count(*) FROM {_TABLES[kind]} WHERE year = ?"  # noqa: S608 - fixed names
        " GROUP BY register ORDER BY register",
        (year,),
    )
    return {str(r[0]): int(r[1]) for r in rows}


async def incoming_number_of(conn: Queryable, document_id: str) -> tuple[int, int] | None:
    """(year, number) of a registered incoming document, or None if not registered."""
    row = await conn.fetchone(
        "SELECT year, number FROM incoming_register WHERE document_id = ?", (document_id,)
    )
    return None if row is None else (int(row[0]), int(row[1]))


async def incoming_line_of(conn: Queryable, document_id: str) -> IncomingEntry | None:
    """The incoming register line of a document, or None if not registered."""
    row = await conn.fetchone(_SELECT["incoming"] + " WHERE document_id = ?", (document_id,))
    return None if row is None else _entry("incoming", row)


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
    if reason is not None:  # a sender's words, shown on one line of the notes column
        reason = " ".join(reason.split())[:MAX_RECALL_REASON_CHARS] or None
    marked = False
    for table in ("incoming_register", "outgoing_register"):
        cursor = await tx.execute(
            f"UPDATE {table} SET recalled_on = ?, recall_reason = ?"  # noqa: S608 - fixed names
            " WHERE document_id = ? AND recalled_on IS NULL",
            (on, reason, document_id),
        )
        if not cursor.rowcount:
            held = await tx.fetchone(
                f"SELECT 1 FROM {table} WHERE document_id = ?",  # noqa: S608 - fixed names
                (document_id,),
            )
            marked = marked or held is not None
        else:
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

    The note is one line (spaces and line breaks folded), cut at MAX_LINK_NOTE_CHARS; the
    same note is written once. Returns False when the document has no register line.
    """
    note = " ".join(note.split())
    if not note:
        raise StoreError("a register link note names the other document: it cannot be empty")
    if len(note) > MAX_LINK_NOTE_CHARS:  # a replacement of many documents: the line is cut
        note = note[: MAX_LINK_NOTE_CHARS - 1] + "…"
    noted = False
    for table in ("incoming_register", "outgoing_register"):
        row = await tx.fetchone(
            f"SELECT link_notes FROM {table} WHERE document_id = ?",  # noqa: S608 - fixed names
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
