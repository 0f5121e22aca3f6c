"""A worker survives its database restarting: the pool reconnects at the next use, the
LISTEN connection comes back by itself with backoff and reports what it may have missed."""

from __future__ import annotations

import asyncio

from lienthong.storage import relay as mailbox
from lienthong.storage.relay import MailItem
from lienthong.storage.store_pg import (
    RECONNECT_FIRST_SECONDS,
    RECONNECT_MAX_SECONDS,
    RELAY_CHANNEL,
    PgStore,
    reconnect_delay,
)
from tests.node.tls_federation import BOUND, until
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name

A, B = "000.00.02.H53", "000.00.03.H53"


def letter(n: int) -> MailItem:
    return MailItem(B, f"{A}/01JE4ZQ6V0S3N0D0AXM2F1K9{n:02d}", "envelope", A, b"x%d" % n, (), n, 9)


async def test_listening_and_writing_resume_after_the_database_restarts(
    pg_server: PgServer,  # noqa: F811
):
    """Stopped and started again: the listener reports `missed` once, hears the next
    announcement, and both stores write and read as before, nothing held lost."""
    url = pg_server.new_database()
    heard: asyncio.Queue[str] = asyncio.Queue()
    missed: list[int] = []
    async with await PgStore.open(url) as one, await PgStore.open(url) as other:
        await other.listen(RELAY_CHANNEL, heard.put_nowait, missed=lambda: missed.append(1))
        async with one.write() as tx:
            await mailbox.deposit(tx, letter(1))
        try:
            pg_server.stop("fast")
            await until(lambda: not other.listening)
        finally:
            pg_server.start()
        await asyncio.wait_for(until(lambda: other.listening), BOUND)
        assert missed == [1]
        async with one.write() as tx:
            await mailbox.deposit(tx, letter(2))
            await mailbox.announce(tx, B)
        assert await asyncio.wait_for(heard.get(), BOUND) == B
        async with other.read() as conn:
            assert await mailbox.count(conn, B) == 2


def test_the_backoff_doubles_up_to_its_cap():
    """Reconnect attempts start soon and never wait longer than RECONNECT_MAX_SECONDS."""
    delays = [reconnect_delay(n) for n in range(12)]
    assert delays[0] == RECONNECT_FIRST_SECONDS and delays[1] == 2 * RECONNECT_FIRST_SECONDS
    assert max(delays) == RECONNECT_MAX_SECONDS == delays[-1]
    assert delays == sorted(delays)
