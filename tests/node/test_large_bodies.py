"""Large request bodies over real mutual TLS on 127.0.0.1: decoded as they arrive, and only a
few at a time per peer (node/http.py), so parallel large requests of one unit cannot take
a node's memory; the rest of its requests and every other unit go on."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tracemalloc

import pytest

from lienthong.node import http
from lienthong.node.http import body_slots_of
from lienthong.node.unit import peer_api
from lienthong.node.unit.peer_api import CONTENT_TYPE
from lienthong.protocol.peer import MAX_ITEM_BYTES
from lienthong.protocol.wire import pack, unpack
from lienthong.storage import audit
from tests.node.tls_federation import A, B, C, Unit, federation, until

# A junk item well over LARGE_BODY_BYTES (256 KiB) and under MAX_ITEM_BYTES: refused alone.
JUNK = b"\x00" * (300 * 1024)


@pytest.fixture
async def fed(tmp_path):
    """A centre and three units A, B, C, each serving its peer API over mutual TLS."""
    async with federation(tmp_path, serve_units=True) as built:
        yield built


async def post(sender: Unit, receiver: Unit, data) -> tuple[int, dict, str | None]:
    async with sender.session.post(
        f"{receiver.url}/v1/inbox", data=data, headers={"Content-Type": CONTENT_TYPE}
    ) as response:
        body = await response.read()
        decoded = (
            unpack(body, what="answer", max_bytes=1 << 24)
            if response.status == 200
            else json.loads(body)
        )
        return response.status, decoded, response.headers.get("Retry-After")


async def held_back(body: bytes, release: asyncio.Event):
    """The body sent chunked: its first 300 KiB, then the rest once `release` is set (the
    server holds the request's slot meanwhile)."""
    yield body[: 300 * 1024]
    await release.wait()
    yield body[300 * 1024 :]


async def test_parallel_large_requests_of_one_peer_hold_two_slots_and_the_rest_get_429(
    fed, monkeypatch
):
    """A has two large inbox requests being read at B: a third large one gets 429
    TooManyLargeRequests with Retry-After, before its body is read; A's small requests and
    C's large ones are served meanwhile; the two finish once their bytes come, and free
    their slots."""
    monkeypatch.setattr(http, "LARGE_BODY_WAIT_SECONDS", 0)  # refuse at once, not in 30 s
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    slots = body_slots_of(b.ctx)
    body = pack({"envelopes": [JUNK, JUNK], "statuses": []})
    release = asyncio.Event()
    slow = [asyncio.create_task(post(a, b, held_back(body, release))) for _ in range(2)]
    await until(lambda: slots.held(A) == 2)

    status, answer, retry = await post(a, b, body)
    assert status == 429 and answer["error"] == "TooManyLargeRequests"
    assert "MAX_LARGE_BODIES_PER_PEER" in answer["message"] and retry == "5"
    status, answer, _ = await post(a, b, pack({"envelopes": [b"x"], "statuses": []}))
    assert status == 200 and answer["envelopes"][0]["ok"] is False  # small: no slot needed
    status, answer, _ = await post(c, b, body)
    assert status == 200 and len(answer["envelopes"]) == 2  # C has slots of its own

    release.set()
    for task in slow:
        status, answer, _ = await asyncio.wait_for(task, 10)
        assert status == 200 and [e["error"] for e in answer["envelopes"]] == ["DecodeError"] * 2
    assert slots.held(A) == 0


async def test_a_waiting_large_request_is_served_when_a_slot_frees(fed):
    """Within LARGE_BODY_WAIT_SECONDS a third large request waits instead of failing: it is
    answered once one of the two before it has finished."""
    a, b = fed.units[A], fed.units[B]
    slots = body_slots_of(b.ctx)
    body = pack({"envelopes": [JUNK], "statuses": []})
    release = asyncio.Event()
    slow = [asyncio.create_task(post(a, b, held_back(body, release))) for _ in range(2)]
    await until(lambda: slots.held(A) == 2)
    third = asyncio.create_task(post(a, b, body))
    await until(lambda: slots.waiting(A) == 1)
    assert not third.done()
    release.set()
    for task in [*slow, third]:
        assert (await asyncio.wait_for(task, 10))[0] == 200


async def test_an_item_over_the_item_limit_is_refused_whole(fed):
    """An inbox item longer than MAX_ITEM_BYTES (the largest envelope) refuses the request:
    400 MalformedRequest naming the limit, and nothing stored."""
    a, b = fed.units[A], fed.units[B]
    status, answer, _ = await post(a, b, pack({"envelopes": [b"x" * (MAX_ITEM_BYTES + 1)]}))
    assert status == 400 and answer["error"] == "MalformedRequest"
    assert f"over the limit of {MAX_ITEM_BYTES} bytes" in answer["message"]


async def test_the_items_of_a_refused_request_are_freed_without_the_garbage_collector(fed):
    """Every item refused: once the inbox has its answers, the items' bytes are gone by
    reference counting alone. (Each refusal's traceback used to hold the frame, and so the
    items, of the function that kept it in a list: a cycle only the garbage collector
    frees, which large byte strings never start; 16 parallel 60 MB requests left 1.1 GB.)"""
    b = fed.units[B]
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        items = [os.urandom(300_000) for _ in range(4)]
        before = tracemalloc.get_traced_memory()[0]
        results = await peer_api._receive(b.ctx, A, items)
        assert [type(r).__name__ for r in results] == ["DecodeError"] * 4
        del items, results
        freed = before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    assert freed > 1_100_000  # the 1.2 MB of items, less what the store and logs keep


async def test_a_batch_of_refused_items_adds_a_bounded_number_of_audit_entries(fed):
    """40 items that are no envelope: each answered with its refusal, 16 audited one by one
    (MAX_AUDITED_ITEMS) and the other 24 counted in one entry, in one transaction."""
    a, b = fed.units[A], fed.units[B]
    status, answer, _ = await post(a, b, pack({"envelopes": [b"junk %d" % i for i in range(40)]}))
    assert status == 200 and [e["ok"] for e in answer["envelopes"]] == [False] * 40
    async with b.ctx.store.read() as conn:
        entries = await audit.entries(conn, limit=1000)
    assert sum(e.action == "envelope.refused" for e in entries) == peer_api.MAX_AUDITED_ITEMS
    (rest,) = [e for e in entries if e.action == "inbox.refused"]
    assert rest.details["reason"].startswith("24 more items of the same request refused")
