"""The relay's mailboxes (role centre): items kept per recipient until acknowledged or expired.

An item is an envelope, a status or a relay notice, stored byte-exact once per
(recipient, item id). `blobs` lists the blob ids an envelope depends on,
separated by spaces, so the relay can tell when a blob is no longer needed.
`visible_at` is when a pull may answer the item (again): a pull hides what it answers
for a while (`offer`), so what the unit leaves for later does not hold back the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from lienthong.storage.blobs import check_blob_id
from lienthong.storage.db import Queryable, Store, Tx
from lienthong.storage.errors import Conflict, StoreError
from lienthong.storage.store_pg import RELAY_CHANNEL

KINDS = frozenset({"envelope", "status", "notice"})
# Most items one query hands out or removes: bounds memory and the length of a transaction.
MAX_ITEMS = 1000


@dataclass(frozen=True)
class MailItem:
    recipient: str
    id: str
    kind: str  # "envelope" | "status" | "notice"
    sender: str  # the unit that deposited it (the relay's own code for a notice)
    raw: bytes
    blobs: tuple[str, ...] = ()
    deposited_at: int = 0
    expires_at: int = 0


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_ITEMS:
        raise StoreError(f"limit must be between 1 and {MAX_ITEMS}, not {limit}")
    return limit


def _item(row) -> MailItem:
    return MailItem(
        recipient=row[0],
        id=row[1],
        kind=row[2],
        sender=row[3],
        raw=bytes(row[4]),
        blobs=tuple(row[5].split()),
        deposited_at=row[6],
        expires_at=row[7],
    )


_COLUMNS = "recipient, item_id, kind, sender, raw, blobs, deposited_at, expires_at"


async def deposit(tx: Tx, item: MailItem) -> bool:
    """Store an item in its recipient's mailbox; False if the same bytes are already there.

    A different item under an id already taken is refused (Conflict): ids are
    chosen by senders, and one unit must not be able to shadow another's item.
    """
    if item.kind not in KINDS:
        raise StoreError(f"mailbox item kind must be one of {sorted(KINDS)}, not {item.kind!r}")
    for blob_id in item.blobs:
        check_blob_id(blob_id)
    cursor = await tx.execute(
        f"INSERT INTO relay_mailbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
        " ON CONFLICT (recipient, item_id) DO NOTHING",
        (
            item.recipient,
            item.id,
            item.kind,
            item.sender,
            item.raw,
            " ".join(item.blobs),
            item.deposited_at,
            item.expires_at,
        ),
    )
    if cursor.rowcount == 1:
        return True
    row = await tx.fetchone(
        "SELECT kind, sender, raw FROM relay_mailbox WHERE recipient = ? AND item_id = ?",
        (item.recipient, item.id),
    )
    if row is None or (row[0], row[1], bytes(row[2])) != (item.kind, item.sender, item.raw):
        raise Conflict(
            f"mailbox of {item.recipient} already holds a different item with id {item.id}"
        )
    return False


async def pending(
    conn: Queryable, recipient: str, *, limit: int, max_bytes: int, now: int | None = None
) -> list[MailItem]:
    """The oldest items of a mailbox (visible at `now`, if given): at most `limit`, and no
    more than `max_bytes` of raw bytes in all (but always the first item, whatever its size)."""
    visible = "" if now is None else " AND visible_at <= ?"
    sizes = await conn.fetchall(
        f"SELECT item_id, length(raw) FROM relay_mailbox WHERE recipient = ?{visible}"  # noqa: S608
        " ORDER BY deposited_at, item_id LIMIT ?",
        (recipient, _limit(limit)) if now is None else (recipient, now, _limit(limit)),
    )
    chosen, total = [], 0
    for item_id, size in sizes:
        if chosen and total + size > max_bytes:
            break
        chosen.append(item_id)
        total += size
    if not chosen:
        return []
    marks = ",".join("?" * len(chosen))
    rows = await conn.fetchall(
        f"SELECT {_COLUMNS} FROM relay_mailbox WHERE recipient = ?"  # noqa: S608
        f" AND item_id IN ({marks}) ORDER BY deposited_at, item_id",
        (recipient, *chosen),
    )
    return [_item(r) for r in rows]


async def offer(tx: Tx, recipient: str, item_ids: Sequence[str], *, hidden_until: int) -> None:
    """Items a pull answers: no pull answers them again before `hidden_until`."""
    await tx.executemany(
        "UPDATE relay_mailbox SET visible_at = ? WHERE recipient = ? AND item_id = ?",
        [(hidden_until, recipient, item_id) for item_id in item_ids],
    )


async def next_visible(conn: Queryable, recipient: str) -> int | None:
    """When the first item of a mailbox that a pull hid becomes visible again; None if the
    mailbox is empty."""
    row = await conn.fetchone(
        "SELECT min(visible_at) FROM relay_mailbox WHERE recipient = ?", (recipient,)
    )
    return None if row is None or row[0] is None else int(row[0])


async def count(conn: Queryable, recipient: str | None = None) -> int:
    """Items waiting in one mailbox, or in all of them."""
    if recipient is None:
        row = await conn.fetchone("SELECT count(*) FROM relay_mailbox")
    else:
        row = await conn.fetchone(
            "SELECT count(*) FROM relay_mailbox WHERE recipient = ?", (recipient,)
        )
    return int(row[0]) if row else 0


async def backlog(conn: Queryable) -> dict[str, tuple[int, int, int]]:
    """Per mailbox: (items, bytes, oldest deposit in Unix ms) of what waits there."""
    rows = await conn.fetchall(
        "SELECT recipient, count(*), sum(length(raw)), min(deposited_at) FROM relay_mailbox"
        " GROUP BY recipient"
    )
    return {r[0]: (int(r[1]), int(r[2] or 0), int(r[3])) for r in rows}


async def acknowledge(tx: Tx, recipient: str, item_ids: Sequence[str]) -> list[MailItem]:
    """Remove the named items of one mailbox; returns those that were there."""
    removed: list[MailItem] = []
    ids = list(dict.fromkeys(item_ids))
    for start in range(0, len(ids), MAX_ITEMS):
        part = ids[start : start + MAX_ITEMS]
        marks = ",".join("?" * len(part))
        rows = await tx.fetchall(
            f"DELETE FROM relay_mailbox WHERE recipient = ? AND item_id IN ({marks})"  # noqa: S608
            f" RETURNING {_COLUMNS}",
            (recipient, *part),
        )
        removed += [_item(r) for r in rows]
    return removed


async def take_expired(tx: Tx, now: int, *, limit: int) -> list[MailItem]:
    """Remove and return up to `limit` items whose retention ended before `now`."""
    rows = await tx.fetchall(
        f"SELECT {_COLUMNS} FROM relay_mailbox WHERE expires_at < ?"  # noqa: S608
        " ORDER BY expires_at LIMIT ?",
        (now, _limit(limit)),
    )
    items = [_item(r) for r in rows]
    await tx.executemany(
        "DELETE FROM relay_mailbox WHERE recipient = ? AND item_id = ?",
        [(i.recipient, i.id) for i in items],
    )
    return items


async def unreferenced(conn: Queryable, blob_ids: Iterable[str]) -> list[str]:
    """Those of `blob_ids` that no mailbox item depends on any more."""
    out = []
    for blob_id in dict.fromkeys(blob_ids):
        row = await conn.fetchone(
            "SELECT 1 FROM relay_mailbox WHERE instr(blobs, ?) > 0 LIMIT 1",
            (check_blob_id(blob_id),),
        )
        if row is None:
            out.append(blob_id)
    return out


async def announce(tx: Tx, recipient: str) -> None:
    """Mail was put in `recipient`'s mailbox: on a database shared by several centre
    workers (PostgreSQL), tell them all once `tx` commits, so the worker holding the
    recipient's long-poll answers it. One SQLite file has one worker: nothing to do."""
    notify = getattr(tx, "notify", None)
    if notify is not None:
        await notify(RELAY_CHANNEL, recipient)


async def on_deposit(
    store: object, wake: Callable[[str], None], missed: Callable[[], None]
) -> None:
    """Call `wake(recipient)` whenever any worker on the same database announces mail
    (PostgreSQL's LISTEN), and `missed()` when announcements may have been lost (the
    database connection was lost and is back); with SQLite the depositing worker wakes
    its own pulls."""
    listen = getattr(store, "listen", None)
    if listen is not None:
        await listen(RELAY_CHANNEL, wake, missed=missed)


async def after_commit(tx: Tx, step: Callable[[], object]) -> bool:
    """Have `step` (removing blob files no item needs) run once `tx` has committed and
    before another write can start. PostgreSQL: the write lock is held past the commit for
    it, so a deposit on another worker cannot count on a file being removed; returns True.
    SQLite: False, and the caller runs `step` right after its write block with no await
    in between (one process holds the file's write lock, so nothing comes in between)."""
    later = getattr(tx, "after_commit", None)
    if later is None:
        return False
    await later(step)
    return True


def depositing(store: Store) -> AbstractAsyncContextManager[Tx]:
    """The write transaction of a deposit (deposit, tie, announce; never an audit entry).
    On PostgreSQL deposits through every worker run at once (the write lock held shared,
    so no blob removal comes in between; each insert is decided by its item's key); on
    SQLite it is an ordinary write."""
    shared = getattr(store, "write_shared", None)
    return store.write() if shared is None else shared()
