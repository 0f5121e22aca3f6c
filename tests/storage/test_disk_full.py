"""A full disk is recognised in one place (storage.errors.disk_full), from real errors only:
ENOSPC from the kernel, SQLITE_FULL from SQLite."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from lienthong.crypto.errors import LienthongError
from lienthong.storage import audit
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import Store
from lienthong.storage.errors import DiskFull, disk_full
from tests.full_disk import small_disk


def test_enospc_from_the_kernel_is_a_full_disk_and_other_errors_are_not(tmp_path: Path) -> None:
    """Writing to /dev/full gives ENOSPC: recognised, also through a wrapper raised from it;
    a permission error or an unrelated error is not a full disk."""
    with pytest.raises(OSError) as caught, open("/dev/full", "wb", buffering=0) as full:
        full.write(b"x")
    assert caught.value.errno == errno.ENOSPC
    found = disk_full(caught.value, tmp_path)
    assert isinstance(found, DiskFull)
    assert str(tmp_path) in str(found) and "full" in str(found)
    try:
        try:
            raise caught.value
        except OSError as exc:
            raise LienthongError("cannot write the attachment") from exc
    except LienthongError as wrapped:
        assert isinstance(disk_full(wrapped), DiskFull)
    assert disk_full(PermissionError(errno.EACCES, "Permission denied")) is None
    assert disk_full(ValueError("no")) is None
    assert disk_full(sqlite3.OperationalError("database is locked")) is None


async def test_sqlite_full_from_max_page_count_is_a_full_disk_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    """A store whose file may not grow (PRAGMA max_page_count, SQLite's own limit) refuses a
    write with SQLITE_FULL: recognised, naming the store; the transaction is undone and
    the store works again once it may grow."""
    async with await Store.open(tmp_path / "store.sqlite3") as store:
        writer = store._writer  # the limit is per connection: the writer's own
        pages = writer.execute("PRAGMA page_count").fetchone()[0]
        writer.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sqlite3.Error) as caught:
            async with store.write() as tx:
                for n in range(200):
                    await audit.append(
                        tx, at=n, actor="test", action="x", subject="s", details={"n": "x" * 900}
                    )
        found = disk_full(caught.value, store.path)
        assert isinstance(found, DiskFull) and str(store.path) in str(found)
        async with store.read() as conn:
            assert (await conn.fetchone("SELECT count(*) FROM audit_log"))[0] == 0
        writer.execute("PRAGMA max_page_count = 1073741823")
        async with store.write() as tx:
            await audit.append(tx, at=1, actor="test", action="x", subject="s", details={})
        async with store.read() as conn:
            assert (await conn.fetchone("SELECT count(*) FROM audit_log"))[0] == 1


@pytest.mark.small_disk
async def test_a_store_and_blobs_on_a_full_disk_refuse_writes_then_resume(tmp_path: Path) -> None:
    """On a real full file system (a filled tmpfs), a store write fails with SQLITE_FULL and
    a blob write with ENOSPC, both recognised; once space is freed both work, and what was
    written before is intact. Opening a closed store on a full disk fails with
    SQLITE_IOERR_SHMSIZE (no room for its WAL index): recognised too."""
    with small_disk(tmp_path / "disk") as disk:
        blobs = BlobStore(disk.path / "blobs")
        async with await Store.open(disk.path / "store.sqlite3") as store:
            async with store.write() as tx:
                await audit.append(tx, at=1, actor="t", action="before", subject="s", details={})
            disk.fill()
            assert disk.free_bytes() == 0
            with pytest.raises(sqlite3.Error) as caught:
                async with store.write() as tx:
                    for n in range(50):
                        await audit.append(
                            tx, at=n, actor="t", action="x", subject="s", details={"n": "x" * 900}
                        )
            assert isinstance(disk_full(caught.value, store.path), DiskFull)
            with pytest.raises(OSError) as blob_error, blobs.writer() as writer:
                writer.write(b"y" * 1024 * 1024)
                writer.commit()
            assert isinstance(disk_full(blob_error.value, blobs.root), DiskFull)
            assert list((blobs.root / "tmp").iterdir()) == []  # the failed blob left nothing
            disk.free()
            async with store.write() as tx:
                await audit.append(tx, at=2, actor="t", action="after", subject="s", details={})
            with blobs.writer() as writer:
                writer.write(b"y" * 1024)
                assert blobs.exists(writer.commit().id)
            async with store.read() as conn:
                actions = [r[0] for r in await conn.fetchall("SELECT action FROM audit_log")]
            assert actions == ["before", "after"]
        disk.fill()  # the store closed: its WAL index (-shm) is gone and cannot be made again
        with pytest.raises(sqlite3.Error) as reopening:
            await Store.open(disk.path / "store.sqlite3")
        assert isinstance(disk_full(reopening.value, disk.path), DiskFull)
