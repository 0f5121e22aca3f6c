"""Outbox rows, status events and the directory cache."""

from collections.abc import Callable

import pytest

from lienthong.storage.db import Store
from lienthong.storage.directory import latest_directory, save_directory
from lienthong.storage.documents import DocumentRecord, record_outgoing
from lienthong.storage.errors import Conflict, NotFound, RollbackRefused
from lienthong.storage.outbox import due_outbox, outbox_for, update_outbox
from lienthong.storage.statuses import StatusEvent, record_status, statuses_of


async def _send(store: Store, doc: DocumentRecord, recipients: list[str], at: int) -> None:
    async with store.write() as tx:
        await record_outgoing(tx, doc, b"envelope", recipients, actor="clerk", at=at)


async def test_due_rows_and_updates(store: Store, make_doc: Callable[..., DocumentRecord]) -> None:
    """Rows are due from their next_attempt_at; a delivered row (NULL) is never due."""
    first, second = make_doc(1, direction="out"), make_doc(2, direction="out")
    await _send(store, first, ["A", "B"], at=100)
    await _send(store, second, ["A"], at=200)
    async with store.read() as conn:
        assert await due_outbox(conn, 50) == []
        due = await due_outbox(conn, 150)
    assert [(r.envelope_id, r.recipient) for r in due] == [(first.id, "A"), (first.id, "B")]
    async with store.write() as tx:
        await update_outbox(
            tx,
            first.id,
            "A",
            state="delivered",
            attempts=1,
            next_attempt_at=None,
            last_error=None,
            at=160,
        )
        await update_outbox(
            tx,
            first.id,
            "B",
            state="retry",
            attempts=1,
            next_attempt_at=5000,
            last_error="connection refused",
            at=160,
        )
    async with store.read() as conn:
        due = await due_outbox(conn, 1000, limit=10)
        rows = await outbox_for(conn, first.id)
    assert [(r.envelope_id, r.recipient) for r in due] == [(second.id, "A")]
    assert [(r.state, r.attempts, r.last_error, r.updated_at) for r in rows] == [
        ("delivered", 1, None, 160),
        ("retry", 1, "connection refused", 160),
    ]


async def test_update_of_unknown_row(store: Store) -> None:
    """Updating a row that does not exist raises NotFound."""
    with pytest.raises(NotFound):
        async with store.write() as tx:
            await update_outbox(
                tx, "X", "A", state="s", attempts=1, next_attempt_at=None, last_error=None, at=1
            )


async def test_status_is_stored_once(store: Store) -> None:
    """The same status id twice is stored once, byte-exact."""
    event = StatusEvent(
        id="01JSTATUS0000000000000000A",
        envelope_id="E",
        from_code="B",
        to_code="A",
        code=3,
        at=10,
        raw=b"\x00signed",
        direction="in",
        incoming_number=1365,
        note="Cao Thắng",
    )
    async with store.write() as tx:
        assert await record_status(tx, event)
        assert not await record_status(tx, event)
    async with store.read() as conn:
        assert await statuses_of(conn, "E") == [event]


async def test_directory_rollback_is_refused(store: Store) -> None:
    """An older directory version is refused; the newest stays in force."""
    async with store.write() as tx:
        await save_directory(tx, 5, b"v5", 1, 100, 2)
        await save_directory(tx, 7, b"v7", 3, 100, 4)
    with pytest.raises(RollbackRefused, match="6 is older than the cached version 7"):
        async with store.write() as tx:
            await save_directory(tx, 6, b"v6", 5, 100, 6)
    async with store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and (latest.version, latest.raw) == (7, b"v7")


async def test_same_directory_refreshes_and_different_bytes_conflict(store: Store) -> None:
    """The cached version again updates fetched_at; other bytes under it conflict."""
    async with store.read() as conn:
        assert await latest_directory(conn) is None
    async with store.write() as tx:
        await save_directory(tx, 1, b"v1", 1, 100, 2)
        await save_directory(tx, 1, b"v1", 1, 100, 50)
    with pytest.raises(Conflict):
        async with store.write() as tx:
            await save_directory(tx, 1, b"forged", 1, 100, 60)
    async with store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and latest.fetched_at == 50


async def test_old_directories_are_pruned(store: Store) -> None:
    """Only the newest few versions are kept."""
    async with store.write() as tx:
        for version in range(1, 8):
            await save_directory(tx, version, b"v", 1, 100, version)
    async with store.read() as conn:
        kept = await conn.fetchall("SELECT version FROM directory_cache ORDER BY version")
    assert [r[0] for r in kept] == [5, 6, 7]
