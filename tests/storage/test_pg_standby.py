"""Failover to a streaming-replication standby: a store whose URL names the primary and the
standby (target_session_attrs=read-write) carries on once the standby is promoted, with
everything the primary had replicated, and hears announcements again."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lienthong.storage import relay as mailbox
from lienthong.storage.relay import MailItem
from lienthong.storage.store_pg import RELAY_CHANNEL, PgStore
from tests.node.tls_federation import BOUND, until
from tests.pg import SUPERUSER, PgServer, binary, pg_server  # noqa: F401 - fixture by name

A, B = "000.00.02.H53", "000.00.03.H53"
DATABASE = "centre"


def letter(n: int) -> MailItem:
    return MailItem(B, f"{A}/01JE4ZQ6V0S3N0D0AXM2F1K9{n:02d}", "envelope", A, b"x%d" % n, (), n, 9)


@pytest.fixture
def pair(pg_server: PgServer) -> Iterator[tuple[PgServer, PgServer]]:  # noqa: F811
    """A primary of its own (the session's server stays up) and its standby, both running."""
    if binary("pg_basebackup") is None:
        pytest.skip("pg_basebackup is not installed")
    servers = [PgServer(Path(tempfile.mkdtemp(prefix="lienthong-pg-"))) for _ in range(2)]
    primary, standby = servers
    try:
        primary.init()
        primary.start()
        primary.sql(f"CREATE DATABASE {DATABASE}")
        standby.init_standby(primary)
        standby.start()
        yield primary, standby
    finally:
        for server in servers:
            server.stop("immediate")
            shutil.rmtree(server.root, ignore_errors=True)


def replayed(standby: PgServer) -> int:
    """Mailbox items the standby holds (its tables appear once the schema is replayed)."""
    found = standby.sql("SELECT to_regclass('relay_mailbox') IS NOT NULL", DATABASE).strip()
    if found != "t":
        return 0
    return int(standby.sql("SELECT count(*) FROM relay_mailbox", DATABASE))


async def write_once_connected(store: PgStore, item: MailItem) -> None:
    """A deposit as a unit makes it: a request cut by the failover is sent again (the
    first may fail on a connection to the dead primary; the pool replaces it)."""
    for attempt in range(3):
        try:
            async with store.write() as tx:
                await mailbox.deposit(tx, item)
                await mailbox.announce(tx, item.recipient)
            return
        except Exception:
            if attempt == 2:
                raise


async def test_the_store_carries_on_on_the_promoted_standby(pair):
    """Three letters on the primary reach the standby; the primary dies (immediate stop);
    the standby is promoted; the same store writes a fourth letter, all four are held,
    and the listener, reconnected to the new primary, hears it."""
    primary, standby = pair
    hosts = f"127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
    url = f"postgresql://{SUPERUSER}@{hosts}/{DATABASE}?target_session_attrs=read-write"
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with await PgStore.open(url) as store:
        await store.listen(RELAY_CHANNEL, heard.put_nowait)
        for n in (1, 2, 3):
            await write_once_connected(store, letter(n))
        await until(lambda: replayed(standby) == 3)
        primary.stop("immediate")
        standby.promote()
        await write_once_connected(store, letter(4))
        async with store.read() as conn:
            assert await mailbox.count(conn, B) == 4
        await asyncio.wait_for(until(lambda: store.listening), BOUND)
        async with store.write() as tx:
            await mailbox.announce(tx, A)
        while (code := await asyncio.wait_for(heard.get(), BOUND)) != A:
            assert code == B  # letter 4's, if the listener was back before it
