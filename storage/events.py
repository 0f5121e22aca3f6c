"""The event queue for an office's document system: events appended in the transaction of
the change they report, read in id order, pruned after EVENT_RETENTION_MS, and the
per-webhook cursors (migration 0016, docs/INTEGRATION.md "Events")."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lienthong.storage.db import Queryable, Store, Tx, unix_ms
from lienthong.storage.errors import StoreError

DOCUMENT_ARRIVED = "document.arrived"
STATUS_CHANGED = "status.changed"
RECALL_REQUESTED = "recall.requested"
DELIVERY_FAILED = "delivery.failed"
KINDS = frozenset({DOCUMENT_ARRIVED, STATUS_CHANGED, RECALL_REQUESTED, DELIVERY_FAILED})
# Events older than this are removed: a document system down longer than a month has
# missed more than events (docs/INTEGRATION.md); its documents stay in the store.
EVENT_RETENTION_MS = 30 * 86_400_000
# Events in one read (one webhook round, one feed answer): a bounded answer and a bounded
# transaction, however far behind a reader is.
MAX_EVENTS_PER_READ = 500

# Callbacks told the id of each event appended to a store (its database file): the
# webhook loop and the feed wake on them instead of waiting for their next poll.
_watchers: dict[str, list[Callable[[int], None]]] = {}


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    document_id: str
    data: dict[str, Any]
    created_at: int  # unix ms


def _key(path: Path | str) -> str:
    return str(Path(path).resolve())


def watch(store: Store, callback: Callable[[int], None]) -> Callable[[], None]:
    """Call `callback(event_id)` whenever an event is appended to `store` (inside the
    appending transaction: the event is readable once that commits). Returns the unwatch."""
    watchers = _watchers.setdefault(_key(store.path), [])
    watchers.append(callback)

    def unwatch() -> None:
        if callback in watchers:
            watchers.remove(callback)
        if not watchers:
            _watchers.pop(_key(store.path), None)

    return unwatch


async def append_event(
    tx: Tx, kind: str, document_id: str, data: dict[str, Any], *, at: int | None = None
) -> int:
    """Append one event in the open transaction `tx` (so it exists exactly when the change
    it reports does); returns its id."""
    if kind not in KINDS:
        raise StoreError(f"unknown event kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    cursor = await tx.execute(
        "INSERT INTO events (kind, document_id, data, created_at) VALUES (?, ?, ?, ?)",
        (kind, document_id, text, unix_ms() if at is None else at),
    )
    event_id = int(cursor.lastrowid or 0)
    if _watchers:
        main = await tx.fetchone("PRAGMA database_list")
        for callback in list(_watchers.get(_key(main["file"]), ()) if main else ()):
            callback(event_id)
    return event_id


async def append_delivery_failed(
    tx: Tx, kind: str, item_id: str, destination: str, *, error: str, message: str, at: int
) -> int:
    """delivery.failed for an outgoing envelope (`item_id` is the document's id) or status
    (`item_id` is the status's id) that just became a dead letter."""
    document_id = item_id
    if kind == "status":
        row = await tx.fetchone("SELECT envelope_id FROM status_events WHERE id = ?", (item_id,))
        document_id = row[0] if row is not None else item_id
    data = {"item": kind, "id": item_id, "to": destination, "error": error, "message": message}
    return await append_event(tx, DELIVERY_FAILED, document_id, data, at=at)


def _event(row: Any) -> Event:
    return Event(row[0], row[1], row[2], json.loads(row[3]), row[4])


async def events_after(
    conn: Queryable, after: int, *, limit: int = MAX_EVENTS_PER_READ
) -> list[Event]:
    """The events with an id above `after`, oldest first, at most `limit`."""
    rows = await conn.fetchall(
        "SELECT id, kind, document_id, data, created_at FROM events WHERE id > ?"
        " ORDER BY id LIMIT ?",
        (after, max(1, min(limit, MAX_EVENTS_PER_READ))),
    )
    return [_event(r) for r in rows]


async def last_event_id(conn: Queryable) -> int:
    """The newest event's id (0: none yet)."""
    row = await conn.fetchone("SELECT coalesce(max(id), 0) FROM events")
    return int(row[0]) if row else 0


async def cursor_of(conn: Queryable, endpoint: str) -> int:
    """The last event id `endpoint` acknowledged (0: none yet: it starts at the oldest
    event kept)."""
    row = await conn.fetchone("SELECT last_id FROM event_cursors WHERE endpoint = ?", (endpoint,))
    return int(row[0]) if row else 0


async def set_cursor(tx: Tx, endpoint: str, last_id: int, *, at: int) -> None:
    """Record that `endpoint` acknowledged every event up to `last_id` (never moves back)."""
    await tx.execute(
        "INSERT INTO event_cursors (endpoint, last_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (endpoint) DO UPDATE SET last_id = max(last_id, excluded.last_id),"
        " updated_at = excluded.updated_at",
        (endpoint, last_id, at),
    )


async def prune_events(tx: Tx, *, now: int) -> int:
    """Remove the events older than EVENT_RETENTION_MS; how many were removed."""
    cursor = await tx.execute(
        "DELETE FROM events WHERE created_at < ?", (now - EVENT_RETENTION_MS,)
    )
    return cursor.rowcount
