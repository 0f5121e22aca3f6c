"""The append-only audit log: every change a clerk or the node makes, hash-chained.

Entry hash (entry `seq` = 1, 2, 3, ... with no gap):

    details_json = msgspec.json.encode(details, order="sorted")  # as UTF-8 text
    hash[seq] = SHA-256( prev_hash || msgpack.packb([seq, at, actor, action,
                                                     subject, details_json]) )
    prev_hash  = hash[seq - 1], or 32 zero bytes for seq 1

`details_json` is compact JSON, object keys sorted, non-ASCII characters as themselves: for
strings, integers, lists and nested objects it is what Python's
`json.dumps(details, sort_keys=True, ensure_ascii=False, separators=(",", ":"))` writes
(floats may differ in form, 1e16 against 1e+16). The hash covers the text as stored, and
verifying reads it back as stored, so no chain depends on re-encoding the details.
`||` is byte concatenation; `msgpack.packb` uses the msgpack-python defaults
(use_bin_type=True): `seq` and `at` (Unix milliseconds) pack as msgpack integers,
the other four as msgpack str (UTF-8). Each row stores its `prev_hash` and `hash`,
so `verify` recomputes the chain from the first entry and names the first entry
whose stored values disagree. SQLite triggers abort any UPDATE or DELETE of the
table (storage/migrations/0001_initial.sql); the chain detects edits made around them.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import msgpack
import msgspec

from lienthong.storage.db import Queryable, Tx

GENESIS_HASH = bytes(32)
# Entries read per query while verifying: bounds memory for a log of any length.
VERIFY_BATCH = 1000


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: int
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


def details_json(details: dict[str, Any]) -> str:
    return msgspec.json.encode(details, order="sorted").decode()


def entry_hash(
    prev_hash: bytes, seq: int, at: int, actor: str, action: str, subject: str, details: str
) -> bytes:
    """The hash of one entry, `details` being its details_json text."""
    packed = msgpack.packb([seq, at, actor, action, subject, details])
    return hashlib.sha256(prev_hash + packed).digest()


async def append(
    tx: Tx, *, at: int, actor: str, action: str, subject: str, details: dict[str, Any]
) -> int:
    """Append one entry inside the caller's write transaction; return its seq."""
    last = await tx.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    seq, prev = (1, GENESIS_HASH) if last is None else (last[0] + 1, last[1])
    text = details_json(details)
    digest = entry_hash(prev, seq, at, actor, action, subject, text)
    await tx.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, subject, text, prev, digest),
    )
    return seq


async def verify(conn: Queryable) -> AuditReport:
    """Recompute the whole chain; report the first entry that does not hold."""
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    while True:
        rows = await conn.fetchall(
            "SELECT seq, at, actor, action, subject, details, prev_hash, hash FROM audit_log"
            " WHERE seq >= ? ORDER BY seq LIMIT ?",
            (expected_seq, VERIFY_BATCH),
        )
        for seq, at, actor, action, subject, details, prev_hash, stored in rows:
            problem = None
            if seq != expected_seq:
                problem = f"entry {expected_seq} is missing (next entry is {seq})"
            elif prev_hash != prev:
                problem = f"entry {seq}: prev_hash is not the hash of entry {seq - 1}"
            elif entry_hash(prev, seq, at, actor, action, subject, details) != stored:
                problem = f"entry {seq}: its contents do not match its hash"
            if problem is not None:
                return AuditReport(False, count, expected_seq, problem)
            prev, expected_seq, count = stored, seq + 1, count + 1
        if len(rows) < VERIFY_BATCH:
            return AuditReport(True, count)


async def entries(conn: Queryable, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
    """Entries with seq > `after`, oldest first, for display."""
    rows = await conn.fetchall(
        "SELECT seq, at, actor, action, subject, details FROM audit_log"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    )
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]
