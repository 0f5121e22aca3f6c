"""The relay's mailboxes, the blob uploads they tie and the centre's audit chain behave the
same on the SQLite store and on PostgreSQL: every test here runs against both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lienthong.storage import audit, uploads
from lienthong.storage import relay as mailbox
from lienthong.storage.centre import get_unit, next_value, put_unit, touch_unit
from lienthong.storage.db import Store
from lienthong.storage.errors import Conflict, MigrationError, StoreError
from lienthong.storage.relay import MailItem
from lienthong.storage.store_pg import RELAY_CHANNEL, WRITE_LOCK, PgStore, numbered
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name

A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
BLOB_1, BLOB_2 = "a" * 64, "b" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> AsyncIterator[Store | PgStore]:
    """The same store interface on either engine, each empty."""
    if request.param == "sqlite":
        async with await Store.open(tmp_path / "centre.sqlite3") as opened:
            yield opened
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        async with await PgStore.open(server.new_database()) as opened:
            yield opened


def item(n: int, *, to: str = B, sender: str = A, raw: bytes = b"", **rest) -> MailItem:
    return MailItem(
        recipient=to,
        id=f"{sender}/01JE4ZQ6V0S3N0D0AXM2F1K9{n:02d}",
        kind=rest.pop("kind", "envelope"),
        sender=sender,
        raw=raw or b"ciphertext %d" % n,
        deposited_at=rest.pop("at", 1000 + n),
        expires_at=rest.pop("expires", 10_000),
        **rest,
    )


async def test_a_deposit_is_stored_once_and_a_different_item_under_its_id_refused(store):
    """The same bytes again are not stored twice; other bytes under a taken id are refused."""
    async with store.write() as tx:
        assert await mailbox.deposit(tx, item(1)) is True
        assert await mailbox.deposit(tx, item(1)) is False
    with pytest.raises(Conflict, match="different item"):
        async with store.write() as tx:
            await mailbox.deposit(tx, item(1, raw=b"other bytes"))
    async with store.read() as conn:
        assert await mailbox.count(conn, B) == 1
        (held,) = await mailbox.pending(conn, B, limit=10, max_bytes=10**6)
    assert held == item(1)


async def test_pull_order_size_bound_and_hiding(store):
    """Oldest first, within max_bytes (the first always), and what an offer hides comes back
    only when its time comes."""
    async with store.write() as tx:
        for n in (3, 1, 2):
            await mailbox.deposit(tx, item(n, raw=bytes(100)))
    async with store.read() as conn:
        first = await mailbox.pending(conn, B, limit=10, max_bytes=250, now=0)
        alone = await mailbox.pending(conn, B, limit=10, max_bytes=10, now=0)
    assert [i.id[-2:] for i in first] == ["01", "02"]
    assert [i.id[-2:] for i in alone] == ["01"]
    async with store.write() as tx:
        await mailbox.offer(tx, B, [i.id for i in first], hidden_until=5000)
        rest = await mailbox.pending(tx, B, limit=10, max_bytes=10**6, now=4999)
        assert [i.id[-2:] for i in rest] == ["03"]
        assert await mailbox.next_visible(tx, B) == 0
        await mailbox.offer(tx, B, [rest[0].id], hidden_until=6000)
        assert await mailbox.pending(tx, B, limit=10, max_bytes=10**6, now=4999) == []
        assert await mailbox.next_visible(tx, B) == 5000
        again = await mailbox.pending(tx, B, limit=10, max_bytes=10**6, now=5000)
    assert [i.id[-2:] for i in again] == ["01", "02"]


async def test_ack_removes_only_the_callers_items_and_frees_their_blobs(store):
    """An ack removes named items of one mailbox; a blob stays needed while any item names it."""
    async with store.write() as tx:
        await mailbox.deposit(tx, item(1, blobs=(BLOB_1, BLOB_2)))
        await mailbox.deposit(tx, item(2, blobs=(BLOB_2,)))
        await mailbox.deposit(tx, item(1, to=C))
    async with store.write() as tx:
        removed = await mailbox.acknowledge(tx, B, [item(1).id, item(1).id, "missing"])
        unused = await mailbox.unreferenced(tx, [BLOB_1, BLOB_2])
    assert [i.id for i in removed] == [item(1).id]
    assert unused == [BLOB_1]
    async with store.read() as conn:
        assert await mailbox.count(conn) == 2
        backlog = await mailbox.backlog(conn)
    assert backlog == {B: (1, len(item(2).raw), 1002), C: (1, len(item(1).raw), 1001)}


async def test_expired_items_are_taken_in_order_of_expiry(store):
    """take_expired removes what ended before `now`, soonest first, and nothing else."""
    async with store.write() as tx:
        for n, expires in ((1, 300), (2, 100), (3, 900)):
            await mailbox.deposit(tx, item(n, expires=expires))
        taken = await mailbox.take_expired(tx, 500, limit=10)
    assert [i.id[-2:] for i in taken] == ["02", "01"]
    async with store.read() as conn:
        assert await mailbox.count(conn, B) == 1
    with pytest.raises(StoreError, match="limit"):
        async with store.write() as tx:
            await mailbox.take_expired(tx, 500, limit=0)


async def test_uploads_are_tied_by_the_deposit_that_names_them(store):
    """An upload counts against its uploader until an item naming its blob is deposited."""
    async with store.write() as tx:
        await uploads.begin(tx, BLOB_1, A, 1000, at=1)
        await uploads.begin(tx, BLOB_2, A, 24, at=2)
        assert await uploads.touch(tx, BLOB_1, A, at=3) is True
        assert await uploads.touch(tx, BLOB_1, B, at=3) is False
    async with store.read() as conn:
        assert await uploads.held_by(conn, A) == uploads.Held(2, 1024)
    async with store.write() as tx:
        await mailbox.deposit(tx, item(1, blobs=(BLOB_1,)))
        assert await uploads.tie(tx, [BLOB_1]) == 1
    async with store.read() as conn:
        assert await uploads.held_by(conn, A) == uploads.Held(1, 24)


async def test_the_audit_chain_holds_and_refuses_edits(store):
    """Entries chain by hash on either engine, and the log refuses an UPDATE."""
    async with store.write() as tx:
        for n in range(3):
            await audit.append(
                tx,
                at=n,
                actor="relay",
                action="relay.expired",
                subject=f"x{n}",
                details={"n": n, "tên": "Sở Nội vụ"},
            )
    async with store.read() as conn:
        report = await audit.verify(conn)
        (last,) = await audit.entries(conn, after=2)
    assert report.ok and report.entries == 3
    assert last.details == {"n": 2, "tên": "Sở Nội vụ"}
    with pytest.raises(Exception, match="append-only"):
        async with store.write() as tx:
            await tx.execute("UPDATE audit_log SET actor = ? WHERE seq = ?", ("someone", 1))


async def test_units_are_seen_and_counters_only_grow(store):
    """touch_unit keeps the latest time seen (SQLite's two-argument max on both engines)."""
    async with store.write() as tx:
        await put_unit(tx, A, "Sở Nội vụ", "Đã triển khai", "active", 1)
        await touch_unit(tx, A, 50)
        await touch_unit(tx, A, 20)
        assert [await next_value(tx, "serial") for _ in range(3)] == [1, 2, 3]
    async with store.read() as conn:
        unit = await get_unit(conn, A)
    assert unit is not None and unit.last_seen == 50


async def test_failed_write_leaves_nothing(store):
    """An exception inside a write transaction rolls back everything it wrote."""
    with pytest.raises(RuntimeError):
        async with store.write() as tx:
            await mailbox.deposit(tx, item(1))
            raise RuntimeError("refused")
    async with store.read() as conn:
        assert await mailbox.count(conn) == 0


async def test_a_deposit_on_one_worker_wakes_a_listener_on_another(pg_server: PgServer):  # noqa: F811
    """Two stores on one database (two workers): a notification sent inside a committed
    write reaches the other store's listener, and one from a rolled-back write never does."""
    url = pg_server.new_database()
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with await PgStore.open(url) as one, await PgStore.open(url) as other:
        await other.listen(RELAY_CHANNEL, heard.put_nowait)
        with pytest.raises(RuntimeError):
            async with one.write() as tx:
                await tx.notify(RELAY_CHANNEL, A)
                raise RuntimeError("rolled back")
        async with one.write() as tx:
            await mailbox.deposit(tx, item(1))
            await tx.notify(RELAY_CHANNEL, B)
        assert await asyncio.wait_for(heard.get(), 30) == B
        async with other.read() as conn:
            assert await mailbox.count(conn, B) == 1
    assert heard.empty()


async def test_writers_on_two_workers_take_turns(pg_server: PgServer):  # noqa: F811
    """Concurrent writes from two stores on one database never break the audit chain (each
    write holds the write lock, as one SQLite file serialises its writers)."""
    url = pg_server.new_database()
    async with await PgStore.open(url) as one, await PgStore.open(url) as other:

        async def append(store: PgStore, n: int) -> None:
            async with store.write() as tx:
                await audit.append(tx, at=n, actor="w", action="a", subject=str(n), details={})

        await asyncio.gather(*(append((one, other)[n % 2], n) for n in range(40)))
        async with one.read() as conn:
            report = await audit.verify(conn)
    assert report.ok and report.entries == 40


async def test_a_database_of_a_newer_lienthong_is_refused(pg_server: PgServer):  # noqa: F811
    """A schema version above this program's is named, and nothing is changed."""
    url = pg_server.new_database()
    async with await PgStore.open(url) as store, store.write() as tx:
        await tx.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (99, "future", 0))
    with pytest.raises(MigrationError, match="schema version 99"):
        await PgStore.open(url)


def test_parameters_are_numbered_outside_quotes():
    """`?` becomes $1, $2, … except inside a quoted literal."""
    assert numbered("SELECT '?', x FROM t WHERE a = ? AND b IN (?, ?)") == (
        "SELECT '?', x FROM t WHERE a = $1 AND b IN ($2, $3)"
    )


async def test_a_wrong_url_is_named():
    """A URL that is not PostgreSQL's is refused with the URL in the message (no password)."""
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        await PgStore.open("mysql://u:secret@h/db")
    with pytest.raises(StoreError, match=r"cannot connect.*u@127\.0\.0\.1:1/db") as caught:
        await PgStore.open("postgresql://u:secret@127.0.0.1:1/db")
    assert "secret" not in str(caught.value)


async def test_blob_removal_runs_after_the_commit_under_the_write_lock(
    pg_server: PgServer,  # noqa: F811
):
    """On PostgreSQL a step left for after the commit sees the commit done and the write
    lock still held (no other worker's deposit in between); after the block the lock is
    free again; a rolled-back transaction never runs its step."""
    url = pg_server.new_database()
    name = url.rsplit("/", 1)[1]
    held = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"  # noqa: S608 - a constant of ours
        f" AND objid = {WRITE_LOCK & 0xFFFFFFFF}"
    )
    seen: list[tuple[str, str]] = []

    def step() -> None:
        committed = pg_server.sql("SELECT count(*) FROM relay_mailbox", name).strip()
        seen.append((committed, pg_server.sql(held, name).strip()))

    async with await PgStore.open(url) as store:
        async with store.write() as tx:
            await mailbox.deposit(tx, item(1))
            assert await mailbox.after_commit(tx, step) is True
        assert seen == [("1", "1")]
        assert pg_server.sql(held, name).strip() == "0"
        with pytest.raises(RuntimeError):
            async with store.write() as tx:
                await mailbox.after_commit(tx, step)
                raise RuntimeError("rolled back")
        assert len(seen) == 1
        assert pg_server.sql(held, name).strip() == "0"
        async with store.write() as tx:  # the store writes on after both
            await mailbox.deposit(tx, item(2))


async def test_sqlite_leaves_the_removal_to_the_caller(tmp_path: Path):
    """One SQLite file has one writing process: after_commit schedules nothing."""
    async with await Store.open(tmp_path / "c.sqlite3") as store, store.write() as tx:
        assert await mailbox.after_commit(tx, lambda: None) is False


async def test_deposits_from_two_workers_run_together_beside_exclusive_writes(
    pg_server: PgServer,  # noqa: F811
):
    """Deposits under the shared lock from two stores at once, the same item through both,
    interleaved with audit appends under the exclusive lock: every item held once, each
    repeat found as the same, the chain whole."""
    url = pg_server.new_database()
    async with await PgStore.open(url) as one, await PgStore.open(url) as other:
        results: list[bool] = []

        async def put(store: PgStore, n: int) -> None:
            async with mailbox.depositing(store) as tx:
                results.append(await mailbox.deposit(tx, item(n % 20, to=(B, C)[n % 2])))

        async def note(store: PgStore, n: int) -> None:
            async with store.write() as tx:
                await audit.append(tx, at=n, actor="relay", action="a", subject=str(n), details={})

        await asyncio.gather(
            *(put((one, other)[n % 3 == 0], n) for n in range(80)),
            *(note((one, other)[n % 2], n) for n in range(10)),
        )
        async with one.read() as conn:
            assert await mailbox.count(conn) == 20
            assert (await audit.verify(conn)).entries == 10
    assert results.count(True) == 20 and len(results) == 80


async def test_a_sqlite_deposit_is_an_ordinary_write(tmp_path: Path):
    """depositing() on SQLite is store.write(): one writer, as before."""
    async with await Store.open(tmp_path / "c.sqlite3") as store:
        async with mailbox.depositing(store) as tx:
            assert await mailbox.deposit(tx, item(1)) is True
        async with store.read() as conn:
            assert await mailbox.count(conn) == 1
