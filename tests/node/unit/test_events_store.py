"""The event queue in the store: an event exists exactly when the change it reports does
(same transaction), ids only grow (never reused, even after pruning), unknown kinds are
refused, a webhook's cursor never moves back, and retention removes only old events."""

from __future__ import annotations

import pytest

from lienthong.storage import events
from lienthong.storage.db import Store
from lienthong.storage.errors import StoreError

NOW = 1_764_000_000_000


@pytest.fixture
async def store(tmp_path):
    async with await Store.open(tmp_path / "store.sqlite3") as opened:
        yield opened


async def kinds(store: Store, after: int = 0) -> list[tuple[int, str, str, dict]]:
    async with store.read() as conn:
        return [
            (e.id, e.kind, e.document_id, e.data) for e in await events.events_after(conn, after)
        ]


async def test_an_event_is_written_and_undone_with_its_transaction(store):
    """An event appended in a transaction that fails is gone with it; one in a committed
    transaction is read back with its data, after the ids before it."""
    with pytest.raises(RuntimeError):
        async with store.write() as tx:
            await events.append_event(tx, events.DOCUMENT_ARRIVED, "D1", {"from": "A"}, at=NOW)
            raise RuntimeError("the change failed")
    assert await kinds(store) == []
    async with store.write() as tx:
        first = await events.append_event(tx, events.DOCUMENT_ARRIVED, "D1", {"from": "A"}, at=NOW)
        second = await events.append_event(tx, events.STATUS_CHANGED, "D1", {"code": "03"}, at=NOW)
    assert first < second
    assert await kinds(store) == [
        (first, "document.arrived", "D1", {"from": "A"}),
        (second, "status.changed", "D1", {"code": "03"}),
    ]
    assert await kinds(store, after=first) == [(second, "status.changed", "D1", {"code": "03"})]


async def test_an_unknown_kind_is_refused_and_nothing_stored(store):
    """A kind outside KINDS names itself and the known kinds; no row is written."""
    with pytest.raises(StoreError, match=r"kind 'document\.eaten'.*document\.arrived"):
        async with store.write() as tx:
            await events.append_event(tx, "document.eaten", "D1", {}, at=NOW)
    assert await kinds(store) == []


async def test_ids_are_never_reused_after_pruning_and_pruning_keeps_recent_events(store):
    """Retention removes events older than EVENT_RETENTION_MS only; an id removed by it is
    never given again, so 'after this id' never repeats or skips an event."""
    async with store.write() as tx:
        old = await events.append_event(tx, events.STATUS_CHANGED, "D1", {}, at=NOW)
        recent = await events.append_event(
            tx, events.STATUS_CHANGED, "D2", {}, at=NOW + events.EVENT_RETENTION_MS
        )
    async with store.write() as tx:
        assert await events.prune_events(tx, now=NOW + events.EVENT_RETENTION_MS + 1) == 1
    assert [e[0] for e in await kinds(store)] == [recent]
    async with store.write() as tx:
        assert await events.prune_events(tx, now=NOW + 10 * events.EVENT_RETENTION_MS) == 1
        newest = await events.append_event(tx, events.STATUS_CHANGED, "D3", {}, at=NOW)
    assert newest > recent > old


async def test_a_cursor_only_moves_forward(store):
    """A webhook's cursor starts at 0 and keeps the highest id acknowledged."""
    async with store.read() as conn:
        assert await events.cursor_of(conn, "dms") == 0
    async with store.write() as tx:
        await events.set_cursor(tx, "dms", 7, at=NOW)
        await events.set_cursor(tx, "dms", 5, at=NOW)
        await events.set_cursor(tx, "other", 2, at=NOW)
    async with store.read() as conn:
        assert await events.cursor_of(conn, "dms") == 7
        assert await events.cursor_of(conn, "other") == 2
