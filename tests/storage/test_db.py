"""The Store: migrations, PRAGMAs, write serialisation and rollback."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from lienthong.storage.db import Store, migrations
from lienthong.storage.errors import MigrationError, StoreError


async def test_fresh_store_has_every_table_and_version(tmp_path: Path) -> None:
    """Opening a new file runs all migrations and records each in schema_version."""
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        assert store.schema_version == len(migrations())
        async with store.read() as conn:
            names = {r[0] for r in await conn.fetchall("SELECT name FROM sqlite_master")}
            versions = await conn.fetchall("SELECT version FROM schema_version")
    expected = {
        "documents",
        "outbox",
        "status_events",
        "directory_cache",
        "incoming_register",
        "outgoing_register",
        "blobs",
        "users",
        "sessions",
        "audit_log",
        "schema_version",
    }
    assert expected <= names
    assert [v[0] for v in versions] == list(range(1, len(migrations()) + 1))


async def test_reopen_is_idempotent(tmp_path: Path) -> None:
    """Reopening applies nothing twice and keeps the data."""
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path) as store, store.write() as tx:
        await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('a', 1, 1)")
    async with await Store.open(path) as store, store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM schema_version"))[0] == len(migrations())
        assert (await conn.fetchone("SELECT count(*) FROM blobs"))[0] == 1


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A store written by a newer program is refused with a message saying so."""
    path = tmp_path / "s.sqlite3"
    async with await Store.open(path) as store, store.write() as tx:
        await tx.execute("INSERT INTO schema_version VALUES (99, 'future', 0)")
    with pytest.raises(MigrationError, match="schema version 99, newer than"):
        await Store.open(path)


async def test_pragmas(store: Store) -> None:
    """The store runs in WAL mode with foreign keys enforced."""
    async with store.write() as tx:
        assert (await tx.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await tx.fetchone("PRAGMA foreign_keys"))[0] == 1
        assert (await tx.fetchone("PRAGMA synchronous"))[0] == 1  # NORMAL


async def test_writes_are_serialised(store: Store) -> None:
    """Concurrent read-modify-write transactions never lose an update."""
    async with store.write() as tx:
        await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('n', 0, 0)")

    async def bump() -> None:
        async with store.write() as tx:
            row = await tx.fetchone("SELECT size FROM blobs WHERE id = 'n'")
            await asyncio.sleep(0)  # let the other tasks try to write meanwhile
            await tx.execute("UPDATE blobs SET size = ? WHERE id = 'n'", (row[0] + 1,))

    await asyncio.gather(*(bump() for _ in range(50)))
    async with store.read() as conn:
        assert (await conn.fetchone("SELECT size FROM blobs WHERE id = 'n'"))[0] == 50


async def test_rollback_leaves_nothing(store: Store) -> None:
    """An exception inside the block rolls back every write of the transaction."""
    with pytest.raises(RuntimeError):
        async with store.write() as tx:
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('x', 1, 1)")
            raise RuntimeError("boom")
    async with store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM blobs"))[0] == 0
    async with store.write() as tx:  # the writer is usable again
        await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('y', 1, 1)")


async def test_failed_statement_rolls_back_the_whole_transaction(store: Store) -> None:
    """A constraint violation late in a transaction undoes its earlier writes."""
    with pytest.raises(sqlite3.IntegrityError):
        async with store.write() as tx:
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('x', 1, 1)")
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('x', 1, 1)")
    async with store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM blobs"))[0] == 0


async def test_tx_cannot_be_used_after_its_block(store: Store) -> None:
    """A transaction object kept past its block refuses to run statements."""
    async with store.write() as tx:
        pass
    with pytest.raises(StoreError, match="already ended"):
        await tx.execute("SELECT 1")


async def test_full_synchronous_commits(tmp_path: Path) -> None:
    """With synchronous=FULL (commit in a thread) writes still land."""
    async with await Store.open(tmp_path / "s.sqlite3", synchronous="full") as store:
        async with store.write() as tx:
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('f', 1, 1)")
            assert (await tx.fetchone("PRAGMA synchronous"))[0] == 2
        async with store.read() as conn:
            assert (await conn.fetchone("SELECT count(*) FROM blobs"))[0] == 1


async def test_write_waits_for_another_connection(store: Store) -> None:
    """A write waits (off the loop) while another connection holds the write lock."""
    other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO blobs (id, size, created_at) VALUES ('o', 1, 1)")

    async def writer() -> None:
        async with store.write() as tx:
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('s', 1, 1)")

    task = asyncio.create_task(writer())
    for _ in range(20):  # the loop keeps running while the writer waits in its thread
        await asyncio.sleep(0)
    assert not task.done()
    other.execute("COMMIT")
    other.close()
    await task
    async with store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM blobs"))[0] == 2


async def test_bad_synchronous_refused(tmp_path: Path) -> None:
    """An unknown synchronous level is refused before the file is touched."""
    with pytest.raises(StoreError, match="synchronous"):
        await Store.open(tmp_path / "s.sqlite3", synchronous="SOMETIMES")
    assert not (tmp_path / "s.sqlite3").exists()


async def test_closed_store_refuses_work(tmp_path: Path) -> None:
    """After close, write() and read() raise StoreError."""
    store = await Store.open(tmp_path / "s.sqlite3")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        async with store.write():
            pass
    with pytest.raises(StoreError, match="closed"):
        async with store.read():
            pass


async def test_nested_write_is_refused(store: Store) -> None:
    """Opening a write inside a write of the same task raises instead of deadlocking."""
    with pytest.raises(StoreError, match="do not nest"):
        async with store.write() as tx:
            await tx.execute("INSERT INTO blobs (id, size, created_at) VALUES ('a', 1, 1)")
            async with store.write():
                pass
    async with store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM blobs"))[0] == 0
