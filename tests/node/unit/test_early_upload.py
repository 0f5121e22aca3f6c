"""Early uploads over real mutual TLS on 127.0.0.1: `POST /v1/blobs` at a unit and at the
centre (the id answered, the quota, a short or long body refused with nothing kept), and a
letter's large attachment arriving at its first destination while it is being encrypted,
before the delivery engine runs; a destination that is down or stalls only falls back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket

import pytest

from lienthong.node import uploads
from lienthong.node.unit import delivery, early_upload
from lienthong.protocol.delivery import Delivery
from lienthong.storage import audit
from lienthong.storage import uploads as rows
from tests.node.tls_federation import A, B, C, Unit, federation, send, state

MIB = 1024 * 1024


@pytest.fixture
async def fed(tmp_path):
    """A centre and three units A, B, C, each serving its peer API over mutual TLS."""
    async with federation(tmp_path, serve_units=True) as built:
        yield built


@pytest.fixture
async def nat(tmp_path):
    """The same, the units behind NAT: letters go through the centre's relay."""
    async with federation(tmp_path) as built:
        yield built


async def post(sender: Unit, base: str, data: bytes, length: int | None = None):
    headers = {"Upload-Length": str(len(data) if length is None else length)}
    async with sender.session.post(f"{base}/v1/blobs", data=data, headers=headers) as response:
        return response.status, response.headers.get("Blob-Id"), await response.text()


def stored_files(ctx) -> set[str]:
    return {str(p.relative_to(ctx.blobs.root)) for p in ctx.blobs.root.rglob("*") if p.is_file()}


async def untied(ctx, uploader: str) -> list[rows.Upload]:
    async with ctx.store.read() as conn:
        found = await conn.fetchall(
            "SELECT blob_id, uploader, length, started_at, touched_at FROM blob_uploads"
            " WHERE uploader = ?",
            (uploader,),
        )
    return [rows.Upload(*row) for row in found]


async def accepted(ctx) -> list[audit.AuditEntry]:
    async with ctx.store.read() as conn:
        entries = await audit.entries(conn, limit=1000)
    return [e for e in entries if e.action == "blob.accepted"]


def big_file(tmp_path, size: int = 9 * MIB):
    path = tmp_path / "ban-scan.pdf"
    path.write_bytes(os.urandom(size))
    return path


@pytest.mark.parametrize("where", ["unit", "centre"])
async def test_a_posted_blob_is_stored_under_the_id_answered(fed, where):
    """The answer names the SHA-256 of the bytes; the blob is stored under it and counts as
    C's untied upload of that id (no placeholder left); one blob.accepted entry."""
    ctx = fed.units[B].ctx if where == "unit" else fed.centre
    base = fed.units[B].url if where == "unit" else fed.centre_url
    data = os.urandom(300_000)
    status, blob_id, _ = await post(fed.units[C], base, data)
    assert status == 201 and blob_id == hashlib.sha256(data).hexdigest()
    assert ctx.blobs.path(blob_id).read_bytes() == data
    assert [(u.blob_id, u.length) for u in await untied(ctx, C)] == [(blob_id, len(data))]
    assert [(e.actor, e.subject) for e in await accepted(ctx)] == [(C, blob_id)]


async def test_a_body_shorter_or_longer_than_its_length_leaves_nothing(fed):
    """A body that ends before Upload-Length is refused (MalformedRequest, naming both
    counts), one that goes past it too (BlobTooLarge): no file, no upload row."""
    b, c = fed.units[B], fed.units[C]
    before = stored_files(b.ctx)
    status, blob_id, text = await post(c, b.url, b"x" * 1000, length=5000)
    assert (status, blob_id) == (400, None)
    answer = json.loads(text)
    assert (
        answer["error"] == "MalformedRequest" and "1000 of Upload-Length 5000" in answer["message"]
    )
    status, _, text = await post(c, b.url, b"x" * 5000, length=1000)
    assert status == 422 and json.loads(text)["error"] == "BlobTooLarge"
    status, _, text = await post(c, b.url, b"x", length=-1)
    assert status == 400 and json.loads(text)["error"] == "MalformedRequest"
    assert stored_files(b.ctx) == before and await untied(b.ctx, C) == []


async def test_posting_is_within_the_uploaders_quota(fed, monkeypatch):
    """The untied-upload quota holds for posted blobs as for PUT ones: 413
    UploadQuotaExceeded naming the limit, nothing stored."""
    monkeypatch.setattr(uploads, "MAX_UNTIED_UPLOADS", 2)
    b, c = fed.units[B], fed.units[C]
    for _ in range(2):
        assert (await post(c, b.url, os.urandom(100)))[0] == 201
    before = stored_files(b.ctx)
    status, _, text = await post(c, b.url, os.urandom(100))
    assert status == 413 and "MAX_UNTIED_UPLOADS = 2" in json.loads(text)["message"]
    assert stored_files(b.ctx) == before and len(await untied(b.ctx, C)) == 2


async def test_posting_a_blob_a_letter_holds_adds_no_untied_upload(fed, tmp_path):
    """The same bytes posted again once their letter is stored: answered by id, and no
    untied upload is recorded that the sweep could later remove the letter's blob by."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B], files=[big_file(tmp_path)])
    await a.engine.deliver(B)
    assert (await state(a, envelope_id, B)) is Delivery.ARRIVED
    assert await untied(b.ctx, A) == []
    (blob_id,) = [e.subject for e in await accepted(b.ctx)]
    data = b.ctx.blobs.path(blob_id).read_bytes()
    assert (await post(a, b.url, data))[:2] == (201, blob_id)
    assert await untied(b.ctx, A) == []


@pytest.fixture(params=[True, False], ids=["direct", "behind-nat"])
async def either(request, tmp_path):
    """The federation of `fed`, then of `nat`."""
    async with federation(tmp_path, serve_units=request.param) as built:
        yield built


async def test_a_large_attachment_is_at_its_first_destination_when_the_send_returns(
    either, tmp_path
):
    """While A encrypts a 9 MiB attachment it streams it to the first destination: B
    itself, or the centre's relay for units with no address (a letter to B and C: one
    upload). The blob is there before A's engine runs, and the engine's attempt then
    sends only the envelope: one accepted upload of it there."""
    a, direct = either.units[A], bool(either.units[B].url)
    there = either.units[B].ctx if direct else either.centre
    envelope_id, _ = await send(a, [B] if direct else [B, C], files=[big_file(tmp_path)])
    (entry,) = await accepted(there)
    assert entry.actor == A and there.blobs.exists(entry.subject)
    await a.engine.deliver(B)
    assert (await state(a, envelope_id, B)) is (Delivery.ARRIVED if direct else Delivery.RELAYED)
    assert [e.subject for e in await accepted(there)] == [entry.subject]


async def test_a_small_attachment_is_not_sent_early(fed, tmp_path):
    """A blob below EARLY_MIN_BYTES: nothing goes before the engine runs."""
    a, b = fed.units[A], fed.units[B]
    size = early_upload.EARLY_MIN_BYTES - 4096  # the ciphertext adds 2,217 bytes to it
    await send(a, [B], files=[big_file(tmp_path, size)])
    assert await accepted(b.ctx) == []


async def test_a_destination_that_is_down_only_leaves_it_to_the_engine(fed, tmp_path):
    """B's address refuses connections: the send still stores the letter, nothing of it is
    at B, and the engine later delivers it there once B answers again."""
    a, b = fed.units[A], fed.units[B]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    fed.certify_endpoint(B, f"https://127.0.0.1:{port}", only=True)
    envelope_id, _ = await send(a, [B], files=[big_file(tmp_path)])
    assert await accepted(b.ctx) == []
    fed.certify_endpoint(B, b.url, only=True)
    a.engine.peers.clear()
    await a.engine.deliver(B)
    assert (await state(a, envelope_id, B)) is Delivery.ARRIVED
    assert len(await accepted(b.ctx)) == 1


async def test_a_stalled_destination_is_dropped_and_the_send_goes_on(fed, tmp_path, monkeypatch):
    """A listener that accepts and never reads: once its queue is full and it takes no
    chunk for EARLY_STALL_SECONDS, it is dropped, and the letter is stored."""
    monkeypatch.setattr(early_upload, "EARLY_STALL_SECONDS", 0.2)
    a = fed.units[A]
    accepted_sockets: list[socket.socket] = []
    server = await asyncio.start_server(lambda r, w: accepted_sockets.append(w), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fed.certify_endpoint(B, f"https://127.0.0.1:{port}", only=True)
    try:
        envelope_id, _ = await send(a, [B], files=[big_file(tmp_path, 16 * MIB)])
        assert (await state(a, envelope_id, B)) is Delivery.QUEUED
        assert accepted_sockets  # the early upload did connect, and got nowhere
    finally:
        server.close()
        for writer in accepted_sockets:
            writer.close()


def test_the_engine_chooses_the_relay_for_a_unit_in_back_off(fed):
    """A unit backing off has its letters deposited: its early uploads go to the relay."""
    engine = fed.units[A].engine
    assert engine.first_destination(B).name == B
    engine.peers[B] = delivery.PeerState(failures=1, until=fed.clock() + 60_000)
    relay = engine.first_destination(B)
    assert relay.name == fed.centre_url and relay.base == fed.centre_url


def test_a_tee_whose_loop_is_gone_lets_the_encryption_go_on(monkeypatch):
    """A node stopping while a letter is encrypted: with its loop closed, or not running
    (the call times out), the tee gives up at once and for the rest of the letter instead
    of holding the encryption thread: begin says 'not teed', write and end do nothing."""
    monkeypatch.setattr(early_upload, "CALL_TIMEOUT_SECONDS", 0.05)
    for closed in (True, False):
        loop = asyncio.new_event_loop()
        if closed:
            loop.close()
        tee = early_upload.Tee(None, [], loop)  # type: ignore[arg-type]
        assert tee.begin(early_upload.EARLY_MIN_BYTES) is False
        tee.write(b"x")
        tee.end()
        tee.abort()
        assert tee._gone
        if not closed:
            loop.run_until_complete(asyncio.sleep(0))  # the cancelled call ends
            loop.close()
