"""Webhooks and the feed between real units over mutual TLS, with stand-in document systems
served by aiohttp on 127.0.0.1: a signed document.arrived verified by the documented
recipe; an endpoint down (not listening, then answering 503) loses no event and gets them
in order once back; a dead endpoint does not hold up another; the long-poll feed answers
with an event appended while it waits, and streams events as Server-Sent Events."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import json
import socket

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lienthong.node.unit import documents as service
from lienthong.node.unit.events import Endpoint, Webhooks, signal_of
from lienthong.node.web import create_web_app
from lienthong.storage import events
from lienthong.storage.api_keys import add_key
from tests.node.tls_federation import A, B, letter, send, until

SECRET = "s3cr3t-of-the-dms-0123456789abcdef"
# The replay window docs/INTEGRATION.md tells a document system to keep.
REPLAY_WINDOW_SECONDS = 300


def verify(secret: str, headers, body: bytes, now: float) -> bool:
    """docs/INTEGRATION.md's recipe, as a document system runs it."""
    timestamp = headers["Lienthong-Timestamp"]
    if abs(now - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + mac.hexdigest(), headers["Lienthong-Signature"])


class StandIn:
    """A document system's webhook: answers 503 `failing` times, then 200 (recording the
    call); with `hang`, never answers until released."""

    def __init__(self, *, failing: int = 0, hang: bool = False) -> None:
        self.failing, self.hang = failing, hang
        self.calls = 0
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.read()
        if self.hang:
            await self.release.wait()
        if self.failing > 0:
            self.failing -= 1
            return web.Response(status=503)
        self.received.append((dict(request.headers), body))
        return web.Response(status=204)

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()

    def ids(self) -> list[int]:
        return [json.loads(body)["id"] for _, body in self.received]


@contextlib.asynccontextmanager
async def running(hooks: Webhooks):
    stop = asyncio.Event()
    task = asyncio.create_task(hooks.run(stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def hooks_of(ctx, *endpoints: Endpoint) -> Webhooks:
    return Webhooks(ctx, endpoints=list(endpoints), retry_base_ms=10, retry_cap_ms=100)


async def send_letters(unit, count: int) -> None:
    """`count` letters to B, each under its own number (a number is taken once)."""
    for n in range(1, count + 1):
        metadata = dataclasses.replace(letter(), number=f"{n:02d}")
        await service.send_document(unit.ctx, metadata, [B], actor="vt")


async def event_ids(ctx) -> list[int]:
    async with ctx.store.read() as conn:
        return [e.id for e in await events.events_after(conn, 0)]


async def test_a_webhook_gets_document_arrived_signed_as_documented(fed):
    """B's webhook gets A's letter as document.arrived: JSON {id, kind, document_id, at,
    data}, the id also in Lienthong-Event-Id, and a signature the documented recipe accepts
    with B's secret (and refuses with another secret or another body)."""
    a, b = fed.units[A], fed.units[B]
    dms = StandIn()
    url = await dms.start()
    try:
        async with running(hooks_of(b.ctx, Endpoint("dms", url, SECRET))):
            envelope_id, _ = await send(a, [B])
            assert await a.engine.deliver(B)
            await until(lambda: dms.received)
        ((headers, body),) = dms.received
        sent = json.loads(body)
        assert set(sent) == {"id", "kind", "document_id", "at", "data"}
        assert sent["kind"] == "document.arrived" and sent["data"]["envelope"] == envelope_id
        assert headers["Lienthong-Event-Id"] == str(sent["id"])
        assert headers["Content-Type"] == "application/json"
        now = fed.clock() / 1000
        assert verify(SECRET, headers, body, now)
        assert not verify(SECRET.upper(), headers, body, now)
        assert not verify(SECRET, headers, body.replace(b"arrived", b"arrivez"), now)
        assert not verify(SECRET, headers, body, now + 2 * REPLAY_WINDOW_SECONDS)
    finally:
        await dms.stop()


async def test_an_endpoint_down_for_a_while_gets_every_event_in_order_once_back(fed):
    """B's webhook is not listening while three letters arrive, then answers 503 twice:
    nothing is lost, each event arrives once, in id order, and the cursor in the store
    stands on the last one."""
    a, b = fed.units[A], fed.units[B]
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    dms = StandIn(failing=2)
    hooks = hooks_of(b.ctx, Endpoint("dms", f"http://127.0.0.1:{port}/hook", SECRET))
    try:
        async with running(hooks):
            await send_letters(a, 3)
            assert await a.engine.deliver(B)
            await until(lambda: hooks.state["dms"].failures >= 3)  # nobody listening
            assert dms.received == []
            await dms.start(port)
            expected = await event_ids(b.ctx)
            await until(lambda: len(dms.received) == 3)
            # The cursor is stored after the answer: stopping in between re-sends the
            # event (at least once), so wait for it before stopping the loop.
            await until(lambda: hooks.state["dms"].cursor == expected[-1])
        assert len(expected) == 3
        assert dms.ids() == expected
        assert dms.calls == 5  # two 503s, then each event once
        async with b.ctx.store.read() as conn:
            assert await events.cursor_of(conn, "dms") == expected[-1]
    finally:
        await dms.stop()


async def test_a_dead_endpoint_does_not_hold_up_another(fed):
    """Of B's two webhooks, one takes the call and never answers: the other still gets
    every event while the dead one's cursor stays at 0."""
    a, b = fed.units[A], fed.units[B]
    dead, alive = StandIn(hang=True), StandIn()
    dead_url, alive_url = await dead.start(), await alive.start()
    try:
        hooks = hooks_of(
            b.ctx, Endpoint("dead", dead_url, SECRET), Endpoint("alive", alive_url, SECRET)
        )
        async with running(hooks):
            await send_letters(a, 2)
            assert await a.engine.deliver(B)
            await until(lambda: len(alive.received) == 2 and dead.calls == 1)
            await until(lambda: hooks.state["alive"].cursor == alive.ids()[-1])
        assert alive.ids() == await event_ids(b.ctx)
        async with b.ctx.store.read() as conn:
            assert await events.cursor_of(conn, "dead") == 0
            assert await events.cursor_of(conn, "alive") == alive.ids()[-1]
    finally:
        await dead.stop()
        await alive.stop()


async def test_the_long_poll_answers_with_an_event_appended_while_it_waits(fed):
    """GET /api/v1/events on B's web port: 401 without an API key, 403 for a key without
    the scope read, 400 naming a bad `after`; an empty answer at once with wait=0; a
    long-poll waiting for an event answers with document.arrived once A's letter arrives,
    `next` its id; the same event streams as Server-Sent Events."""
    a, b = fed.units[A], fed.units[B]
    async with b.ctx.store.write() as tx:
        _, token = await add_key(tx, "dms", ("read",), actor="test", at=fed.clock())
        _, sender = await add_key(tx, "sender", ("send",), actor="test", at=fed.clock())
    client = TestClient(TestServer(create_web_app(b.ctx), host="127.0.0.1"))
    await client.start_server()
    auth = {"Authorization": f"Bearer {token}"}
    try:
        refused = await client.get("/api/v1/events")
        assert refused.status == 401
        assert refused.content_type == "application/problem+json"
        unread = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {sender}"})
        assert unread.status == 403 and "read" in (await unread.json())["detail"]
        bad = await client.get("/api/v1/events?after=abc", headers=auth)
        assert bad.status == 400 and "after" in (await bad.json())["detail"]
        empty = await client.get("/api/v1/events?after=0&wait=0", headers=auth)
        assert await empty.json() == {"events": [], "next": 0}

        poll = asyncio.create_task(client.get("/api/v1/events?after=0&wait=30", headers=auth))
        await until(lambda: signal_of(b.ctx).waiting == 1)
        assert not poll.done()
        envelope_id, _ = await send(a, [B])
        assert await a.engine.deliver(B)
        answer = await asyncio.wait_for(poll, 10)
        assert answer.status == 200
        found = await answer.json()
        (event,) = found["events"]
        assert event["kind"] == "document.arrived" and event["data"]["envelope"] == envelope_id
        assert found["next"] == event["id"]

        stream = await client.get(
            "/api/v1/events?after=0", headers={**auth, "Accept": "text/event-stream"}
        )
        assert stream.headers["Content-Type"] == "text/event-stream"
        lines = [await stream.content.readline() for _ in range(3)]
        stream.close()
        assert lines[0] == f"id: {event['id']}\n".encode()
        assert lines[1] == b"event: document.arrived\n"
        assert json.loads(lines[2].removeprefix(b"data: "))["id"] == event["id"]
    finally:
        await client.close()
