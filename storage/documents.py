"""Documents and their envelopes: recording sent and received ones, listing, and the
one place where a document's state changes (checked against protocol/states.py).

An envelope id is unique per sender, not per node: a received document is found by
(sender code, wire id), and its own id here is its wire id unless another document
already had that id when it arrived (docs/STORE.md).
"""

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any

from lienthong.protocol.ids import new_ulid
from lienthong.protocol.states import (
    DocState,
    RecallState,
    check_recall_transition,
    check_transition,
)
from lienthong.protocol.text import words as split_words
from lienthong.storage import audit, outbox
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import Conflict, NotFound, StoreError

# The state every outgoing document has: its per-recipient delivery is in the outbox.
SENT = "sent"
# Largest page of a listing: a page is rendered at once by the clerk's page.
MAX_PAGE = 500
# Longest search text accepted from the clerk's page, and the most words used from it.
MAX_SEARCH_CHARS = 200
MAX_SEARCH_WORDS = 8
# (sender, wire id) pairs looked up per query, well under SQLite's parameter limit.
_IN_CHUNK = 500
# New ids tried for a received document whose wire id is taken here: a ULID has 80 random
# bits, so a second try is already never needed; a bound keeps a broken random source
# from looping.
_LOCAL_ID_TRIES = 4


@dataclass(frozen=True)
class DocumentRecord:
    """One row of `documents`; `metadata` is the full metadata as msgpack bytes.

    `id` is the document's id here (pages, commands, registers); `wire_id` the id its
    envelope carries, chosen by its sender. They differ only for a received document
    whose wire id another document here already had; `wire_id` is None only for a paper
    document entered by hand."""

    id: str
    direction: str  # 'in' | 'out'
    sender_code: str
    doc_type: str
    subject: str
    issuer_code: str
    issuer_name: str
    issued_on: str  # YYYY-MM-DD
    metadata: bytes
    number: str | None = None  # as written, "05" (protocol/document.py, DocumentMetadata)
    number_year: int | None = None
    notation: str = ""
    urgency: int = 0
    confidentiality: int = 0
    due_on: str | None = None
    manual: bool = False
    state: str = ""  # set by record_incoming / record_outgoing
    recall: str = RecallState.NONE.value
    created_at: int = 0
    updated_at: int = 0
    wire_id: str | None = None  # set by record_incoming / record_outgoing


_COLUMNS = tuple(f.name for f in fields(DocumentRecord))
# Built once from the dataclass's field names, never from input.
_INSERT = f"INSERT INTO documents ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608
# A document with its envelope: one row (migration 0020 moved envelopes into documents).
_INSERT_ENVELOPED = (
    f"INSERT INTO documents ({', '.join(_COLUMNS)}, envelope, envelope_sha256)"  # noqa: S608
    f" VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})"
)
_SELECT = f"SELECT {', '.join('d.' + c for c in _COLUMNS)} FROM documents d"  # noqa: S608


# A row's values in _COLUMNS order in one call (sqlite3 binds the bool `manual` as 0 or 1).
_VALUES = attrgetter(*_COLUMNS)
_INDEX = {name: i for i, name in enumerate(_COLUMNS)}
_NO_RECALL = RecallState.NONE.value


def _row_values(doc: DocumentRecord, **changes: Any) -> tuple[Any, ...]:
    """The row's values, with `changes` (column: value) in place of the record's own: a send
    builds its row this way, about 40 µs less than dataclasses.replace (bench/store.py)."""
    values = _VALUES(doc)
    if not changes:
        return values
    changed = list(values)
    for name, value in changes.items():
        changed[_INDEX[name]] = value
    return tuple(changed)


def _record(row: Any) -> DocumentRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["manual"] = bool(values["manual"])
    return DocumentRecord(**values)


async def _insert_enveloped(tx: Tx, values: tuple[Any, ...], raw: bytes, sha256: bytes) -> None:
    """The document's row (its _row_values) with its envelope's bytes and their SHA-256."""
    await tx.execute(_INSERT_ENVELOPED, (*values, raw, sha256))


async def record_outgoing(
    tx: Tx,
    doc: DocumentRecord,
    envelope_raw: bytes,
    recipients: Sequence[str],
    *,
    actor: str,
    at: int,
) -> None:
    """Store a document being sent: its row with its envelope, one outbox row per recipient
    (due at once) and an audit entry. The outgoing register entry is the caller's call."""
    if doc.direction != "out":
        raise StoreError(f"record_outgoing needs direction 'out', not {doc.direction!r}")
    if not recipients or len(set(recipients)) != len(recipients):
        raise StoreError("record_outgoing needs at least one recipient, each listed once")
    row = _row_values(
        doc,
        wire_id=doc.id,  # a document this node sends keeps its envelope's id here
        state=SENT,
        recall=_NO_RECALL,
        created_at=at,
        updated_at=at,
    )
    try:
        await _insert_enveloped(tx, row, envelope_raw, hashlib.sha256(envelope_raw).digest())
    except sqlite3.IntegrityError as e:
        raise Conflict(f"document {doc.id} cannot be stored: {e}") from e
    await outbox.queue_envelope(tx, doc.id, recipients, at=at)
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="document.send",
        subject=doc.id,
        details={
            "recipients": list(recipients),
            "notation": doc.notation,
            "size": len(envelope_raw),
        },
    )


async def _arriving(
    tx: Tx, doc: DocumentRecord, at: int, caller: str, what: str
) -> tuple[str | None, DocumentRecord]:
    """(the id of this sender's document with wire id `doc.id` if one is stored already,
    the row to insert otherwise: ARRIVED, under that id or, when a document here already has
    it, a new ULID)."""
    if doc.direction != "in":
        raise StoreError(f"{caller} needs direction 'in', not {doc.direction!r}")
    wire_id = doc.id
    held = await tx.fetchone(
        "SELECT id FROM documents WHERE direction = 'in' AND sender_code = ? AND wire_id = ?",
        (doc.sender_code, wire_id),
    )
    if held is not None:
        return held[0], doc
    local_id = wire_id
    for _ in range(_LOCAL_ID_TRIES):
        if await tx.fetchone("SELECT 1 FROM documents WHERE id = ?", (local_id,)) is None:
            break
        local_id = new_ulid(at)
    else:
        raise Conflict(f"no free document id found for {what} {wire_id} from {doc.sender_code}")
    row = replace(
        doc,
        id=local_id,
        wire_id=wire_id,
        state=DocState.ARRIVED.value,
        recall=RecallState.NONE.value,
        created_at=at,
        updated_at=at,
    )
    return None, row


async def record_incoming(
    tx: Tx, doc: DocumentRecord, envelope_raw: bytes, *, at: int
) -> str | None:
    """Store a received document and its envelope in state ARRIVED, once per (sender, id).

    `doc.id` is the envelope's id as its sender chose it (`doc.wire_id` is set from it).
    Returns the document's id here: that same id, or a new ULID if a document here
    already has it (one this node sent, or another sender's). Returns None, writing
    nothing, if this sender's envelope with that id is already stored, whatever its
    bytes: comparing them is the caller's (held_envelopes gives their SHA-256).
    """
    held, row = await _arriving(tx, doc, at, "record_incoming", "envelope")
    if held is not None:
        return None
    local_id, wire_id = row.id, doc.id
    sha256 = hashlib.sha256(envelope_raw).digest()
    await _insert_enveloped(tx, _row_values(row), envelope_raw, sha256)
    details = {"sender": doc.sender_code, "sha256": sha256.hex()}
    if local_id != wire_id:
        details["envelope"] = wire_id
    await audit.append(
        tx,
        at=at,
        actor=doc.sender_code,
        action="document.arrive",
        subject=local_id,
        details=details,
    )
    return local_id


async def record_imported(
    tx: Tx, doc: DocumentRecord, *, source: str, via: str | None, at: int, details: dict[str, Any]
) -> tuple[str, bool]:
    """Store a document that came in no lienthong envelope (source "edxml": a package of
    the national axis) as an incoming document in state ARRIVED, once per (sender, wire id).

    `doc.id` is its wire id, derived by the caller from what identifies it in its source
    (docs/STORE.md, "Imported documents"); its row has no envelope (there is no signed
    envelope to keep). Returns (its id here, True), or (the id it was stored under, False),
    writing nothing, when it is stored already.
    """
    held, row = await _arriving(tx, doc, at, "record_imported", "import")
    if held is not None:
        return held, False
    local_id = row.id
    await tx.execute(_INSERT, _row_values(row))
    await audit.append(
        tx,
        at=at,
        actor=via or source,
        action="document.import",
        subject=local_id,
        details={"source": source, "sender": doc.sender_code, "via": via, **details},
    )
    return local_id, True


@dataclass(frozen=True)
class HeldEnvelope:
    """A received envelope already stored: its document's id here, the SHA-256 of its
    bytes, and the signed 01 (arrived) this node answered it with (None only if that
    status is missing from the store)."""

    document_id: str
    sha256: bytes
    arrival: bytes | None


async def held_envelopes(
    conn: Queryable, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], HeldEnvelope]:
    """The received envelopes stored among `keys`, (sender code, wire id) pairs, by pair."""
    by_sender: dict[str, list[str]] = {}
    for sender, wire_id in dict.fromkeys(keys):
        by_sender.setdefault(sender, []).append(wire_id)
    found: dict[tuple[str, str], HeldEnvelope] = {}
    for sender, wire_ids in by_sender.items():
        for start in range(0, len(wire_ids), _IN_CHUNK):
            chunk = wire_ids[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = await conn.fetchall(
                "SELECT d.wire_id, d.id, d.envelope_sha256, s.raw FROM documents d"  # noqa: S608 - placeholders only
                " LEFT JOIN status_events s ON s.envelope_id = d.id AND s.code = 1"
                " AND s.direction = 'out'"
                f" WHERE d.direction = 'in' AND d.sender_code = ? AND d.wire_id IN ({marks})"
                " AND d.envelope_sha256 IS NOT NULL",
                (sender, *chunk),
            )
            for wire_id, document_id, sha256, arrival in rows:
                found[(sender, wire_id)] = HeldEnvelope(
                    document_id, bytes(sha256), None if arrival is None else bytes(arrival)
                )
    return found


async def incoming_document(conn: Queryable, sender: str, wire_id: str) -> DocumentRecord | None:
    """The document received from `sender` in its envelope `wire_id`, or None: how a message
    from a document's sender (a recall, an update) finds it."""
    row = await conn.fetchone(
        f"{_SELECT} WHERE d.direction = 'in' AND d.sender_code = ? AND d.wire_id = ?",
        (sender, wire_id),
    )
    return None if row is None else _record(row)


async def _current(tx: Tx, document_id: str) -> tuple[DocState, RecallState]:
    row = await tx.fetchone(
        "SELECT direction, state, recall FROM documents WHERE id = ?", (document_id,)
    )
    if row is None:
        raise NotFound(f"no document with id {document_id}")
    if row[0] != "in":
        raise StoreError(f"document {document_id} is outgoing: its state does not change")
    return DocState(row[1]), RecallState(row[2])


async def change_state(
    tx: Tx,
    document_id: str,
    new: DocState,
    *,
    actor: str,
    at: int,
    details: dict[str, Any] | None = None,
) -> None:
    """Move an incoming document to `new`, if protocol.states allows it, with its audit entry.

    Raises protocol.states.TransitionError (writing nothing) if the move is not allowed.
    """
    state, recall = await _current(tx, document_id)
    check_transition(state, new, recall)
    await tx.execute(
        "UPDATE documents SET state = ?, updated_at = ? WHERE id = ?",
        (new.value, at, document_id),
    )
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="document.state",
        subject=document_id,
        details={"from": state.value, "to": new.value, **(details or {})},
    )


async def change_recall(
    tx: Tx,
    document_id: str,
    new: RecallState,
    *,
    actor: str,
    at: int,
    details: dict[str, Any] | None = None,
) -> None:
    """Move a document's recall (thu hồi) to `new`; AGREED also makes it RECALLED.

    Raises protocol.states.TransitionError (writing nothing) if the move is not allowed.
    """
    state, recall = await _current(tx, document_id)
    check_recall_transition(recall, new)
    new_state = state
    if new is RecallState.AGREED:
        check_transition(state, DocState.RECALLED, RecallState.REQUESTED)
        new_state = DocState.RECALLED
    await tx.execute(
        "UPDATE documents SET recall = ?, state = ?, updated_at = ? WHERE id = ?",
        (new.value, new_state.value, at, document_id),
    )
    entry = {"from": recall.value, "to": new.value, "state": new_state.value}
    await audit.append(
        tx,
        at=at,
        actor=actor,
        action="document.recall",
        subject=document_id,
        details={**entry, **(details or {})},
    )


async def get_document(conn: Queryable, document_id: str) -> DocumentRecord | None:
    row = await conn.fetchone(f"{_SELECT} WHERE d.id = ?", (document_id,))
    return None if row is None else _record(row)


async def came_in_envelope(conn: Queryable, document_id: str) -> bool:
    """Whether a signed envelope is kept for this document: False for one taken in from an
    edXML package (record_imported), whose sender is outside the directory."""
    row = await conn.fetchone(
        "SELECT 1 FROM documents WHERE id = ? AND envelope IS NOT NULL", (document_id,)
    )
    return row is not None


async def get_envelope_raw(conn: Queryable, envelope_id: str) -> bytes | None:
    """The envelope exactly as signed and received, or None."""
    row = await conn.fetchone("SELECT envelope FROM documents WHERE id = ?", (envelope_id,))
    return None if row is None or row[0] is None else bytes(row[0])


def _search_words(search: str) -> list[str]:
    if len(search) > MAX_SEARCH_CHARS:
        raise StoreError(f"search text is {len(search)} characters; at most {MAX_SEARCH_CHARS}")
    return split_words(search)[:MAX_SEARCH_WORDS]


def _search_clause(direction: str, words: list[str]) -> tuple[list[str], list[str]]:
    """Every word must match. Incoming: the full-text index, each word a prefix term.
    Outgoing (not indexed): a substring of subject, notation or issuer (LIKE)."""
    if direction == "in":
        query = " ".join(f'"{w}"*' for w in words)
        return ["d.rowid IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?)"], [query]
    clauses, params = [], []
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("_", "\\_") + "%"
        clauses.append(
            "(d.subject LIKE ? ESCAPE '\\' OR d.notation LIKE ? ESCAPE '\\'"
            " OR d.issuer_name LIKE ? ESCAPE '\\')"
        )
        params.extend([pattern] * 3)
    return clauses, params


async def list_documents(
    conn: Queryable,
    *,
    direction: str,
    state: str | None = None,
    search: str | None = None,
    urgency: int | None = None,
    sender: str | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 50,
    before: tuple[int, str] | None = None,
) -> list[DocumentRecord]:
    """Documents newest first (created_at, id), filtered; pass the last row's
    (created_at, id) as `before` for the next page (keyset pagination).

    `since` is inclusive and `until` exclusive (Unix ms of created_at); `search`
    matches words of subject, notation and issuer, diacritics folded.
    """
    if direction not in ("in", "out"):
        raise StoreError(f"direction must be 'in' or 'out', not {direction!r}")
    if not 1 <= limit <= MAX_PAGE:
        raise StoreError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    # direction is written as a literal so that SQLite can use the partial indexes.
    where: list[str] = [f"d.direction = '{direction}'"]
    params: list[Any] = []
    if state is not None:
        where.append("d.state = ?")
        params.append(state)
    if urgency is not None:
        # likely(): the term still lets SQLite use the partial index on urgent documents,
        # but it then searches it on `urgency = ?` (no range scan and no sort of them all).
        where.append("d.urgency = ?" + (" AND likely(d.urgency > 0)" if urgency > 0 else ""))
        params.append(urgency)
    if sender is not None:
        where.append("d.sender_code = ?")
        params.append(sender)
    if since is not None:
        where.append("d.created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("d.created_at < ?")
        params.append(until)
    if before is not None:
        where.append("(d.created_at, d.id) < (?, ?)")
        params.extend(before)
    if search is not None and (words := _search_words(search)):
        clauses, values = _search_clause(direction, words)
        where.extend(clauses)
        params.extend(values)
    sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY d.created_at DESC, d.id DESC LIMIT ?"
    rows = await conn.fetchall(sql, (*params, limit))
    return [_record(r) for r in rows]


async def envelope_sha256(conn: Queryable, envelope_id: str) -> bytes | None:
    """SHA-256 of a stored envelope's bytes: what a 01 (arrived) must carry as proof."""
    row = await conn.fetchone("SELECT envelope_sha256 FROM documents WHERE id = ?", (envelope_id,))
    return None if row is None or row[0] is None else bytes(row[0])


async def count_documents(conn: Queryable, *, direction: str) -> int:
    """How many documents of one direction the store holds (the `total` of a CLI list)."""
    if direction not in ("in", "out"):
        raise StoreError(f"direction must be 'in' or 'out', not {direction!r}")
    row = await conn.fetchone(f"SELECT count(*) FROM documents WHERE direction = '{direction}'")  # noqa: S608 - a checked literal, as list_documents
    return row[0] if row else 0
