"""The store's page caches are bounded by CACHE_SIZE_KIB: reading a store many times larger
than the caches through the writer and every reader leaves SQLite's heap grown by no more
than the caches' bound, so a node's memory stops rising once its store passes it."""

import ctypes
import ctypes.util
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from lienthong.storage.db import CACHE_SIZE_KIB, DEFAULT_READERS, Store

ROWS = 3_000  # about one 4 KiB page each: a 12 MB table, four times the caches' bound
ROW_BYTES = 3_000
# What SQLite's heap holds beside the caches after the reads: parsed schemas and
# prepared statements of three connections (well under 1 MiB).
SLACK_BYTES = 1 << 20


def _sqlite_heap() -> Callable[[], int]:
    """sqlite3_memory_used() of the library this Python's sqlite3 module is linked to."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no shared libsqlite3 to ask for its heap")
    lib = ctypes.CDLL(name)
    lib.sqlite3_libversion.restype = ctypes.c_char_p
    if lib.sqlite3_libversion().decode() != sqlite3.sqlite_version:
        pytest.skip("Python's sqlite3 is not the shared libsqlite3 (its heap is not ours)")
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib.sqlite3_memory_used


async def test_every_connection_has_the_bounded_cache(tmp_path: Path) -> None:
    """The writer and each reader run with cache_size = -CACHE_SIZE_KIB (KiB, not pages)."""
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        async with store.write() as tx:
            row = await tx.fetchone("PRAGMA cache_size")
            assert row[0] == -CACHE_SIZE_KIB
        async with store.read() as one, store.read() as two:
            for conn in (one, two):
                row = await conn.fetchone("PRAGMA cache_size")
                assert row[0] == -CACHE_SIZE_KIB


async def test_reading_a_large_store_grows_sqlite_heap_by_the_caches_bound_at_most(
    tmp_path: Path,
) -> None:
    """After every connection has read a 12 MB table twice, SQLite's heap has grown by at
    most (1 + readers) caches of CACHE_SIZE_KIB and a little slack; SQLite's default of
    2,000 KiB a connection goes over it (measured: 2.6 MB grown with 1 MiB, over 4.2 with it)."""
    memory_used = _sqlite_heap()
    async with await Store.open(tmp_path / "s.sqlite3") as store:
        before = memory_used()
        async with store.write() as tx:
            await tx.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, data BLOB)")
            await tx.executemany(
                "INSERT INTO scratch (id, data) VALUES (?, ?)",
                [(i, i.to_bytes(4, "big") * (ROW_BYTES // 4)) for i in range(ROWS)],
            )
        total = ROWS * ROW_BYTES
        for _ in range(2):
            async with store.write() as tx:
                row = await tx.fetchone("SELECT sum(length(data)) FROM scratch")
                assert row[0] == total
            async with store.read() as one, store.read() as two:
                for conn in (one, two):
                    row = await conn.fetchone("SELECT sum(length(data)) FROM scratch")
                    assert row[0] == total
        grown = memory_used() - before
    bound = (1 + DEFAULT_READERS) * CACHE_SIZE_KIB * 1024 + SLACK_BYTES
    assert grown <= bound, f"SQLite's heap grew {grown} bytes, bound {bound}"
    # The reads did fill the caches: the bound is not met by reading nothing.
    assert grown >= CACHE_SIZE_KIB * 1024
