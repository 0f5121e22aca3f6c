"""Two centre workers on one PostgreSQL database, each serving the relay over mutual TLS on
its own port: a letter deposited through one is collected through the other, the waiting
long-poll woken by LISTEN/NOTIFY, the blob read from the shared blob directory."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from lienthong.crypto import x509 as tls
from lienthong.node.centre.relay import add_relay_routes, mailboxes_of, sweep_once
from lienthong.node.context import CONTEXT, NodeContext, Services
from lienthong.node.peers import peer_middleware
from lienthong.node.unit.peer_api import add_peer_routes
from lienthong.node.unit.relay_client import pull_once
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.relay import MAX_PULL_WAIT
from lienthong.storage import relay as mailbox
from lienthong.storage.store_pg import PgStore
from tests.node.helpers import DAY
from tests.node.tls_federation import (
    BOUND,
    CENTRE,
    A,
    B,
    Federation,
    attachment,
    federation,
    send,
    state,
    until,
)
from tests.pg import PgServer, pg_server  # noqa: F401 - the session's server, used by name


@dataclasses.dataclass
class Worker:
    ctx: NodeContext
    url: str

    @property
    def relay(self) -> str:
        return f"{self.url}/v1/relay"


@pytest.fixture
async def workers(tmp_path, pg_server: PgServer) -> AsyncIterator[tuple[Federation, list[Worker]]]:  # noqa: F811
    """The federation of tls_federation (units A, B, C) and two centre workers sharing one
    database and the centre's blob directory; the directory lists both and relays through
    the first."""
    url = pg_server.new_database()
    runners: list[web.AppRunner] = []
    stores: list[PgStore] = []
    async with federation(tmp_path) as fed:
        try:
            workers = []
            for _ in range(2):
                store = await PgStore.open(url, clock=fed.clock)
                stores.append(store)
                ctx = dataclasses.replace(fed.centre, store=store, services=Services())
                app = web.Application(middlewares=[peer_middleware])
                app[CONTEXT] = ctx
                add_relay_routes(app)
                add_peer_routes(app, unit=False)  # the blobs
                server_tls = tls.server_context(*fed.pem[CENTRE], fed.ca_path)
                server_tls.verify_mode = ssl.CERT_OPTIONAL  # as node.runtime does for the centre
                listener = socket.create_server(("127.0.0.1", 0))
                runner = web.AppRunner(app, access_log=None)
                await runner.setup()
                runners.append(runner)
                await web.SockSite(runner, listener, ssl_context=server_tls).start()
                workers.append(Worker(ctx, f"https://127.0.0.1:{listener.getsockname()[1]}"))
                fed.certify_endpoint(CENTRE, workers[-1].url)
            held = fed.centre.directory.current
            codes = sorted(c.code for c in held.certificates)
            relayed = fed.directory(codes, [workers[0].relay], held.version + 1)
            for ctx in [fed.centre, *(u.ctx for u in fed.units.values())]:
                ctx.directory.current = relayed  # type: ignore[misc]
            yield fed, workers
        finally:
            for runner in runners:
                await runner.cleanup()
            for store in stores:
                await store.close()


async def held(worker: Worker, code: str | None = None) -> int:
    async with worker.ctx.store.read() as conn:
        return await mailbox.count(conn, code)


async def test_deposit_through_one_worker_wakes_the_pull_waiting_on_another(workers, tmp_path):
    """B waits on worker 2; A's letter (with a file) goes to worker 1; B's pull returns with
    it long before its wait would end, fetches the file from worker 2 and acks; B's receipt
    goes back the same way and A sees 'arrived'; nothing is left in the database."""
    fed, (one, two) = workers
    a, b = fed.units[A], fed.units[B]
    pulling = asyncio.create_task(pull_once(b.ctx, b.session, two.relay, wait=MAX_PULL_WAIT))
    await until(lambda: mailboxes_of(two.ctx).waiting(B) == 1)
    envelope_id, _ = await send(a, [B], [attachment(tmp_path)])
    await a.engine.deliver(B)
    assert await state(a, envelope_id, B) is Delivery.RELAYED
    result = await asyncio.wait_for(pulling, BOUND)  # BOUND < MAX_PULL_WAIT: woken, not timed out
    assert (result.received, result.acknowledged) == (1, 1)
    assert await held(one) == 0

    await b.engine.deliver(A)  # the 01, deposited through worker 1
    assert (await pull_once(a.ctx, a.session, two.relay)).acknowledged == 1
    assert await state(a, envelope_id, B) is Delivery.ARRIVED
    assert await held(two) == 0
    assert not any(p.is_file() for p in fed.centre.blobs.root.rglob("*"))


async def test_the_same_letter_deposited_through_both_workers_is_held_once(workers, tmp_path):
    """A retry of a deposit through another worker (the first one lost) stores nothing twice."""
    fed, (one, two) = workers
    a = fed.units[A]
    await send(a, [B], [])
    await a.engine.deliver(B)
    assert await held(two, B) == 1
    async with one.ctx.store.read() as conn:
        (item,) = await mailbox.pending(conn, B, limit=10, max_bytes=1 << 20)
    for worker in (one, two):
        async with worker.ctx.store.write() as tx:
            assert await mailbox.deposit(tx, item) is False
    assert await held(one) == 1


async def test_an_expiry_notice_from_one_worker_wakes_the_sender_waiting_on_another(workers):
    """Worker 1's retention sweep tells A that its letter expired; A's pull waiting on
    worker 2 is answered with the notice, and the delivery to B reads 'expired'."""
    fed, (one, two) = workers
    a = fed.units[A]
    envelope_id, _ = await send(a, [B], [])
    await a.engine.deliver(B)
    fed.clock.advance(31 * DAY)
    pulling = asyncio.create_task(pull_once(a.ctx, a.session, two.relay, wait=MAX_PULL_WAIT))
    await until(lambda: mailboxes_of(two.ctx).waiting(A) == 1)
    report = await sweep_once(one.ctx)
    assert (report.expired, report.notices) == (1, 1)
    assert (await asyncio.wait_for(pulling, BOUND)).acknowledged == 1
    assert await state(a, envelope_id, B) is Delivery.EXPIRED
    assert await held(one) == 0
