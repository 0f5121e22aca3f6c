"""Cut-through at the relay over real mutual TLS on 127.0.0.1: a blob posted to the centre
for a unit behind NAT is named by that unit's next pull and streamed to it while the upload
is still coming in; only to the units it is for, only to pulls that ask, and a failed
upload leaves the unit nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest

from lienthong.node.arrivals import Arrivals, arrivals_of
from lienthong.node.unit import relay_arrivals, relay_client
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.relay import MAX_ARRIVING
from lienthong.protocol.wire import unpack
from lienthong.storage.documents import get_document
from tests.node.tls_federation import A, B, C, federation, send, state, until

MIB = 1024 * 1024


@pytest.fixture
async def nat(tmp_path):
    """A centre serving the relay, and units A, B, C behind NAT (no address)."""
    async with federation(tmp_path) as built:
        yield built


def post(unit, base: str, body, length: int, upload_for: str):
    headers = {"Upload-Length": str(length), "Upload-For": upload_for}
    return unit.session.post(f"{base}/v1/blobs", data=body, headers=headers)


async def untied_rows(ctx) -> list[tuple[str, str]]:
    async with ctx.store.read() as conn:
        return [tuple(r) for r in await conn.fetchall("SELECT blob_id, uploader FROM blob_uploads")]


async def test_a_unit_streams_an_arriving_blob_before_its_upload_ends(nat):
    """A's upload stops halfway until the centre has streamed bytes of it to C: C's pull
    named the arrival and C fetches it as it lands. Then the rest comes, and C holds the
    whole blob under its SHA-256, as an untied upload of the relay."""
    a, c = nat.units[A], nat.units[C]
    data = os.urandom(4 * MIB)  # the relay streams whole MiBs while the upload lands
    half = len(data) // 2
    arrivals = arrivals_of(nat.centre)

    async def body():
        yield data[:half]
        await until(lambda: any(x.served for x in arrivals.by_handle.values()))
        yield data[half:]

    async def upload():
        async with post(a, nat.centre_url, body(), len(data), C) as response:
            return response.status, response.headers.get("Blob-Id")

    uploading = asyncio.ensure_future(upload())
    await until(lambda: bool(arrivals.by_handle))
    await relay_client.pull_once(c.ctx, c.session, nat.relay, wait=0)
    blob_id = hashlib.sha256(data).hexdigest()
    assert await uploading == (201, blob_id)
    await relay_arrivals.settled(c.ctx)
    assert c.ctx.blobs.path(blob_id).read_bytes() == data
    assert await untied_rows(c.ctx) == [(blob_id, relay_arrivals.RELAY_UPLOADER)]
    assert not arrivals.by_handle  # finished: no pull names it again


async def test_only_the_named_units_and_pulls_that_ask_see_an_arrival(nat):
    """B is not named: its GET of the arrival is 404. A pull without `arriving=1` (an older
    unit's) gets no `arriving` key at all; C's own pull names it once."""
    a, b, c = nat.units[A], nat.units[B], nat.units[C]
    arrivals = arrivals_of(nat.centre)
    release = asyncio.Event()

    async def body():
        yield b"x" * 1000
        await release.wait()
        yield b"y" * 1000

    async def upload():
        async with post(a, nat.centre_url, body(), 2000, C) as response:
            return response.status

    uploading = asyncio.ensure_future(upload())
    await until(lambda: bool(arrivals.by_handle))
    (handle,) = arrivals.by_handle
    async with b.session.get(f"{nat.relay}/arriving/{handle}") as response:
        assert response.status == 404
    async with c.session.get(f"{nat.relay}/pull?wait=0") as response:
        assert set(unpack(await response.read(), what="answer", max_bytes=1 << 20)) == {"items"}
    for expected in ([handle], []):  # named once
        async with c.session.get(f"{nat.relay}/pull?wait=0&arriving=1") as response:
            answer = unpack(await response.read(), what="answer", max_bytes=1 << 20)
        assert [x["handle"] for x in answer["arriving"]] == expected
    release.set()
    assert await uploading == 201


async def test_an_upload_that_fails_leaves_the_unit_nothing(nat):
    """A's body ends before its Upload-Length: the centre refuses it, the stream C was
    reading ends short, and C keeps neither a blob nor an upload row."""
    a, c = nat.units[A], nat.units[C]
    arrivals = arrivals_of(nat.centre)
    before = {p for p in c.ctx.blobs.root.rglob("*") if p.is_file()}
    release = asyncio.Event()

    async def body():
        yield os.urandom(2 * MIB)
        await release.wait()

    async def upload():
        async with post(a, nat.centre_url, body(), 3 * MIB, C) as response:
            return response.status

    uploading = asyncio.ensure_future(upload())
    await until(lambda: bool(arrivals.by_handle))
    await relay_client.pull_once(c.ctx, c.session, nat.relay, wait=0)
    await until(lambda: any(x.served for x in arrivals.by_handle.values()))
    release.set()
    assert await uploading == 400
    await relay_arrivals.settled(c.ctx)
    assert {p for p in c.ctx.blobs.root.rglob("*") if p.is_file()} == before
    assert await untied_rows(c.ctx) == []


async def test_a_letter_with_a_large_attachment_reaches_a_unit_behind_nat(nat, tmp_path):
    """The whole path with C's pull loop running: A's early upload to the relay names C
    (C streams it if its pull comes while it lands; that race is the first test's, made
    certain there), the deposit follows, C stores the letter with its blob, and nothing
    of it stays untied at C."""
    a, c = nat.units[A], nat.units[C]
    path = tmp_path / "ban-scan.pdf"
    path.write_bytes(os.urandom(9 * MIB))
    stop = asyncio.Event()
    pulling = asyncio.ensure_future(relay_client.pull_loop(c.ctx, c.session, stop))
    try:
        envelope_id, _ = await send(a, [C], files=[path])
        await a.engine.deliver(C)

        async def stored() -> bool:
            async with c.ctx.store.read() as conn:
                return await get_document(conn, envelope_id) is not None

        for _ in range(400):
            if await stored():
                break
            await asyncio.sleep(0.05)
        assert await stored()
    finally:
        stop.set()
        await pulling
    assert (await state(a, envelope_id, C)) in (Delivery.RELAYED, Delivery.ARRIVED)
    assert await untied_rows(c.ctx) == []  # the letter tied what arrived


def test_a_pull_names_at_most_max_arriving_and_each_once(tmp_path):
    """More arrivals for one unit than a unit reads from one answer: the first pull names
    MAX_ARRIVING, the next the rest, then none; another unit none of them."""
    boxes = Arrivals()
    for _ in range(MAX_ARRIVING + 5):
        boxes.start(A, [C], 10, tmp_path / "upload")
    assert [len(boxes.offer(C)) for _ in range(3)] == [MAX_ARRIVING, 5, 0]
    assert boxes.offer(B) == []
