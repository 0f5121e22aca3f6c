"""Relay deposit and pull throughput of a centre on PostgreSQL, beside the SQLite centre in
the same run.

The transactions are the relay's own (node/centre/relay.py): a deposit stores one 2 KB
envelope in its recipient's mailbox, ties its uploads and announces it (NOTIFY on
PostgreSQL) in one write transaction (`depositing`: the write lock held shared on
PostgreSQL, so deposits run at once); a pull takes the oldest visible items of a mailbox
and hides them (pending + offer), then an ack removes them and looks for blobs no longer
needed (acknowledge + unreferenced), two transactions per pull of up to MAX_PULL_ITEMS.
UNITS mailboxes, CONCURRENCY tasks at once (units' requests in flight), in one process:
what the store gives one worker, without HTTP and TLS. Engines: the SQLite store
(synchronous=NORMAL: a commit appends to the WAL without fsync), PostgreSQL with one
store (one worker), and PostgreSQL with two stores sharing the tasks (two workers on one
database). PostgreSQL is Debian's, started here (tests/pg.py) with fsync on and
synchronous_commit off, the setting that loses at most the last commits on power loss
and never corrupts, as SQLite's NORMAL. Baseline: the SQLite store, same run.

Run: python bench/relay_pg.py [--quick]. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import report, result
from lienthong.protocol.relay import MAX_PULL_BYTES, MAX_PULL_ITEMS
from lienthong.storage import relay as mailbox
from lienthong.storage import uploads
from lienthong.storage.db import Store
from lienthong.storage.relay import MailItem
from lienthong.storage.store_pg import PgStore
from tests.pg import PgServer

UNITS = 50
CONCURRENCY = 16
ENVELOPE_BYTES = 2048
ROUNDS = 3  # each engine runs this often, alternating; its best round is kept
SENDER = "000.00.01.H53"


def codes() -> list[str]:
    return [f"000.{n // 100:02d}.{n % 100:02d}.H53" for n in range(2, UNITS + 2)]


async def deposits(stores: list, items: list[MailItem]) -> float:
    """Items deposited per second, CONCURRENCY at a time, the stores taking turns."""
    queue = iter(items)
    turn = itertools.cycle(stores)

    async def one_task() -> None:
        for item in queue:
            async with mailbox.depositing(next(turn)) as tx:
                await mailbox.deposit(tx, item)
                await uploads.tie(tx, item.blobs)
                await mailbox.announce(tx, item.recipient)

    start = time.perf_counter()
    await asyncio.gather(*(one_task() for _ in range(CONCURRENCY)))
    return len(items) / (time.perf_counter() - start)


async def pulls(stores: list, recipients: list[str], total: int) -> float:
    """Items pulled and acknowledged per second: each task empties mailboxes in turn."""
    queue = iter(recipients)
    turn = itertools.cycle(stores)
    taken = 0

    async def one_task() -> None:
        nonlocal taken
        for code in queue:
            while True:
                store = next(turn)
                async with store.write() as tx:
                    got = await mailbox.pending(
                        tx, code, limit=MAX_PULL_ITEMS, max_bytes=MAX_PULL_BYTES, now=0
                    )
                    await mailbox.offer(tx, code, [i.id for i in got], hidden_until=1)
                if not got:
                    break
                async with store.write() as tx:
                    removed = await mailbox.acknowledge(tx, code, [i.id for i in got])
                    await mailbox.unreferenced(tx, [b for i in removed for b in i.blobs])
                taken += len(removed)

    start = time.perf_counter()
    await asyncio.gather(*(one_task() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - start
    assert taken == total, (taken, total)
    return total / elapsed


def letters(count: int, round_: int) -> list[MailItem]:
    payload = os.urandom(ENVELOPE_BYTES)
    units = codes()
    return [
        MailItem(
            recipient=units[n % UNITS],
            id=f"{SENDER}/R{round_}{n:024d}",
            kind="envelope",
            sender=SENDER,
            raw=payload,
            blobs=(f"{n:064x}",),
            deposited_at=n,
            expires_at=1 << 50,
        )
        for n in range(count)
    ]


async def one_round(engine: str, tmp: Path, server: PgServer, count: int, round_: int):
    if engine == "sqlite":
        stores = [await Store.open(tmp / f"centre-{round_}.sqlite3")]
    else:
        url = server.new_database()
        stores = [await PgStore.open(url) for _ in range(2 if engine == "pg2" else 1)]
    try:
        items = letters(count, round_)
        put = await deposits(stores, items)
        got = await pulls(stores, codes(), count)
    finally:
        for store in stores:
            await store.close()
    return put, got


async def main_async(count: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-relay-sqlite-"))
    server = PgServer(Path(tempfile.mkdtemp(prefix="bench-relay-pg-")))
    server.init()
    with (server.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("fsync = on\nfull_page_writes = on\nsynchronous_commit = off\n")
    server.start()
    best: dict[str, tuple[float, float]] = {}
    try:
        for round_ in range(ROUNDS):
            for engine in ("sqlite", "pg1", "pg2"):
                put, got = await one_round(engine, tmp, server, count, round_)
                old = best.get(engine, (0.0, 0.0))
                best[engine] = (max(old[0], put), max(old[1], got))
                print(f"round {round_} {engine}: deposit {put:.0f}/s, pull+ack {got:.0f}/s")
    finally:
        server.stop("fast")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(server.root, ignore_errors=True)
    base_put, base_got = best["sqlite"]
    results = []
    for engine, label in (("pg1", "1 worker"), ("pg2", "2 workers")):
        put, got = best[engine]
        results.append(
            result(
                f"deposits_per_s_postgresql_{label.replace(' ', '_')}",
                put,
                "1/s",
                baseline_name="deposits_per_s_sqlite",
                baseline=base_put,
                target="recorded (no target: PostgreSQL is for several machines, not speed)",
                met=True,
            )
        )
        results.append(
            result(
                f"pulled_per_s_postgresql_{label.replace(' ', '_')}",
                got,
                "1/s",
                baseline_name="pulled_per_s_sqlite",
                baseline=base_got,
                target="recorded",
                met=True,
            )
        )
    report("relay_pg", results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer items (under a minute)")
    args = parser.parse_args()
    asyncio.run(main_async(1000 if args.quick else 5000))


if __name__ == "__main__":
    main()
