"""Blob uploads not yet tied to a letter: who sent them, what they may take, when they go.

A row is an upload of one blob by one peer (`PUT /v1/blobs/{id}`, docs/PROTOCOL.md
17.2.1), partial or complete, that no stored (a unit) or deposited (the centre) envelope
names yet. It counts against its uploader's quota until `tie` removes it, when such an
envelope is stored in the same or a later transaction, or until `take_stale` hands it to
the sweep, which removes the upload's bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lienthong.storage.blobs import check_blob_id
from lienthong.storage.db import Queryable, Tx
from lienthong.storage.errors import StoreError

# Rows one query hands to the sweep: bounds the transaction and the files removed after it.
MAX_TAKEN = 1000
# Blob ids per IN (...) query, well under SQLite's parameter limit.
_IN_CHUNK = 500


@dataclass(frozen=True)
class Upload:
    blob_id: str
    uploader: str  # the verified unit code of the peer that sent it
    length: int  # the Upload-Length it declared: what it may take on disk
    started_at: int
    touched_at: int  # its last PUT or HEAD by its uploader


@dataclass(frozen=True)
class Held:
    """What one uploader's untied uploads hold: how many, and their declared bytes."""

    uploads: int
    bytes: int


async def held_by(conn: Queryable, uploader: str, *, besides: str | None = None) -> Held:
    """The untied uploads of `uploader`, leaving out the blob `besides` (the one asked for)."""
    row = await conn.fetchone(
        "SELECT count(*), coalesce(sum(length), 0) FROM blob_uploads"
        " WHERE uploader = ? AND blob_id != ?",
        (uploader, besides or ""),
    )
    return Held(0, 0) if row is None else Held(int(row[0]), int(row[1]))


async def begin(tx: Tx, blob_id: str, uploader: str, length: int, *, at: int) -> None:
    """Record an upload, or refresh its length and time if it is recorded already."""
    if length < 0:
        raise StoreError(f"an upload's length must be >= 0, not {length}")
    await tx.execute(
        "INSERT INTO blob_uploads (blob_id, uploader, length, started_at, touched_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (blob_id, uploader)"
        " DO UPDATE SET length = excluded.length, touched_at = excluded.touched_at",
        (check_blob_id(blob_id), uploader, length, at, at),
    )


async def get(conn: Queryable, blob_id: str, uploader: str) -> Upload | None:
    row = await conn.fetchone(
        "SELECT blob_id, uploader, length, started_at, touched_at FROM blob_uploads"
        " WHERE blob_id = ? AND uploader = ?",
        (check_blob_id(blob_id), uploader),
    )
    return None if row is None else Upload(*row)


async def touch(tx: Tx, blob_id: str, uploader: str, *, at: int) -> bool:
    """The uploader asked about or sent its upload again: its time to be tied restarts.
    False if it has no untied upload of that blob."""
    cursor = await tx.execute(
        "UPDATE blob_uploads SET touched_at = ? WHERE blob_id = ? AND uploader = ?",
        (at, check_blob_id(blob_id), uploader),
    )
    return cursor.rowcount > 0


async def forget(tx: Tx, blob_id: str, uploader: str) -> None:
    """An upload that was discarded (refused): it holds nothing any more."""
    await tx.execute(
        "DELETE FROM blob_uploads WHERE blob_id = ? AND uploader = ?",
        (check_blob_id(blob_id), uploader),
    )


async def tie(tx: Tx, blob_ids: Iterable[str]) -> int:
    """An envelope naming these blobs was stored or deposited: their uploads, by whomever,
    are part of a letter now. Returns how many uploads that ended."""
    ids = [check_blob_id(b) for b in dict.fromkeys(blob_ids)]
    ended = 0
    for start in range(0, len(ids), _IN_CHUNK):
        part = ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(part))
        cursor = await tx.execute(
            f"DELETE FROM blob_uploads WHERE blob_id IN ({marks})",  # noqa: S608
            part,
        )
        ended += cursor.rowcount
    return ended


async def untied(conn: Queryable, blob_id: str) -> bool:
    """Whether some peer's upload of this blob is still waiting for its letter."""
    row = await conn.fetchone(
        "SELECT 1 FROM blob_uploads WHERE blob_id = ? LIMIT 1", (check_blob_id(blob_id),)
    )
    return row is not None


async def fresh(conn: Queryable, blob_id: str, *, since: int) -> bool:
    """Whether an untied upload of this blob was touched at or after `since`."""
    row = await conn.fetchone(
        "SELECT 1 FROM blob_uploads WHERE blob_id = ? AND touched_at >= ? LIMIT 1",
        (check_blob_id(blob_id), since),
    )
    return row is not None


async def take_stale(tx: Tx, before: int, *, limit: int = MAX_TAKEN) -> list[Upload]:
    """Remove and return up to `limit` untied uploads last touched before `before`, oldest
    first; an upload also touched since by another peer stays (see `fresh`)."""
    if not 1 <= limit <= MAX_TAKEN:
        raise StoreError(f"limit must be between 1 and {MAX_TAKEN}, not {limit}")
    rows = await tx.fetchall(
        "SELECT blob_id, uploader, length, started_at, touched_at FROM blob_uploads"
        " WHERE touched_at < ? ORDER BY touched_at LIMIT ?",
        (before, limit),
    )
    taken = [Upload(*r) for r in rows]
    await tx.executemany(
        "DELETE FROM blob_uploads WHERE blob_id = ? AND uploader = ?",
        [(u.blob_id, u.uploader) for u in taken],
    )
    return taken
