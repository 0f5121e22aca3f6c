"""Blob uploads over real mutual TLS on 127.0.0.1, at a unit and at the centre: each peer's
quota of uploads no letter names yet, the letter that ties them, the sweep of what is
abandoned (unfinished uploads in partial/ too), and one audit entry per blob."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace

import pytest

from lienthong.node import uploads
from lienthong.node.context import NodeContext
from lienthong.node.pinning import pinning_of
from lienthong.node.unit import delivery
from lienthong.node.unit import documents as service
from lienthong.node.uploads import sweep_uploads
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.peer import UPLOAD_TIE_SECONDS
from lienthong.storage import audit, outbox
from lienthong.storage import uploads as rows
from lienthong.storage.documents import get_document
from tests.node.tls_federation import (
    A,
    B,
    C,
    Unit,
    actions,
    attachment,
    federation,
    letter,
    send,
    state,
)

TIE_MS = UPLOAD_TIE_SECONDS * 1000


@pytest.fixture
async def fed(tmp_path):
    """A centre and three units A, B, C, each serving its peer API over mutual TLS."""
    async with federation(tmp_path, serve_units=True) as built:
        yield built


def blob(size: int) -> tuple[str, bytes]:
    """Bytes no one has sent before, and their blob id."""
    data = os.urandom(size)
    return hashlib.sha256(data).hexdigest(), data


async def put(sender: Unit, base: str, blob_id: str, data: bytes, offset: int, total: int):
    headers = {"Upload-Offset": str(offset), "Upload-Length": str(total)}
    async with sender.session.put(
        f"{base}/v1/blobs/{blob_id}", data=data, headers=headers
    ) as response:
        return response.status, await response.text()


async def head(sender: Unit, base: str, blob_id: str) -> tuple[int, str | None]:
    async with sender.session.head(f"{base}/v1/blobs/{blob_id}") as response:
        return response.status, response.headers.get("Upload-Offset")


def files(ctx: NodeContext) -> set[str]:
    """Every file under the blob directory, partial uploads and temp files included."""
    return {str(p.relative_to(ctx.blobs.root)) for p in ctx.blobs.root.rglob("*") if p.is_file()}


async def held(ctx: NodeContext, uploader: str) -> rows.Held:
    async with ctx.store.read() as conn:
        return await rows.held_by(conn, uploader)


async def audited(ctx: NodeContext, action: str) -> list[audit.AuditEntry]:
    await actions(ctx)  # the chain holds
    async with ctx.store.read() as conn:
        return [e for e in await audit.entries(conn, limit=5000) if e.action == action]


@pytest.mark.parametrize("where", ["unit", "centre"])
async def test_an_upload_flood_stops_at_the_quota_with_a_413_naming_it(fed, monkeypatch, where):
    """C uploads blobs no letter names, to B and to the centre: once its untied bytes would
    pass MAX_UNTIED_UPLOAD_BYTES the PUT gets 413 UploadQuotaExceeded naming the limit and
    nothing more is stored; retried, the refusal adds no audit entry; A's quota is its own."""
    monkeypatch.setattr(uploads, "MAX_UNTIED_UPLOAD_BYTES", 250_000)
    c, a = fed.units[C], fed.units[A]
    ctx = fed.units[B].ctx if where == "unit" else fed.centre
    base = fed.units[B].url if where == "unit" else fed.centre_url
    for _ in range(2):
        blob_id, data = blob(100_000)
        assert (await put(c, base, blob_id, data, 0, len(data)))[0] == 201
    assert await held(ctx, C) == rows.Held(2, 200_000)
    before = files(ctx)
    refused_id, data = blob(100_000)
    for _ in range(3):
        status, text = await put(c, base, refused_id, data, 0, len(data))
        assert status == 413
        answer = json.loads(text)
        assert answer["error"] == "UploadQuotaExceeded"
        assert "MAX_UNTIED_UPLOAD_BYTES = 250000" in answer["message"]
    assert files(ctx) == before and await held(ctx, C) == rows.Held(2, 200_000)
    assert await head(c, base, refused_id) == (404, "0")
    assert len(await audited(ctx, "blob.accepted")) == 2
    (refusal,) = await audited(ctx, "blob.refused")
    assert (refusal.actor, refusal.subject) == (C, refused_id)
    assert (await put(a, base, refused_id, data, 0, len(data)))[0] == 201  # A's own quota


async def test_the_number_of_untied_uploads_is_capped_too(fed, monkeypatch):
    """Tiny blobs cannot get round the byte quota: MAX_UNTIED_UPLOADS caps their number."""
    monkeypatch.setattr(uploads, "MAX_UNTIED_UPLOADS", 3)
    c, b = fed.units[C], fed.units[B]
    for _ in range(3):
        blob_id, data = blob(10)
        assert (await put(c, b.url, blob_id, data, 0, len(data)))[0] == 201
    blob_id, data = blob(10)
    status, text = await put(c, b.url, blob_id, data, 0, len(data))
    assert status == 413 and "MAX_UNTIED_UPLOADS = 3" in json.loads(text)["message"]
    assert not b.ctx.blobs.exists(blob_id)


async def test_one_upload_larger_than_the_quota_goes_when_nothing_else_waits(fed, monkeypatch):
    """The quota never stops a single attachment: an upload is admitted whatever its length
    while its uploader holds no other untied upload."""
    monkeypatch.setattr(uploads, "MAX_UNTIED_UPLOAD_BYTES", 1000)
    c, b = fed.units[C], fed.units[B]
    blob_id, data = blob(5000)
    assert (await put(c, b.url, blob_id, data, 0, len(data)))[0] == 201
    other, data = blob(10)
    assert (await put(c, b.url, other, data, 0, len(data)))[0] == 413


@pytest.mark.parametrize("path", ["direct", "relay"])
async def test_a_letter_ties_its_uploads_and_frees_the_quota(fed, tmp_path, path):
    """The blob of A's letter counts against A until the envelope naming it is stored at B
    (direct) or deposited at the centre (relay); then nothing of A's waits, and the sweep
    long after leaves the letter's blob where it is."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B], [attachment(tmp_path)])
    async with a.ctx.store.read() as conn:
        blob_id = service.stored_body(await get_document(conn, envelope_id)).attachments[0].blob
    if path == "relay":
        fed.certify_endpoint(B, "https://127.0.0.1:9", only=True)  # nobody answers there
    ctx, base = (b.ctx, b.url) if path == "direct" else (fed.centre, fed.centre_url)
    tls = pinning_of(a.ctx).for_unit(B) if path == "direct" else pinning_of(a.ctx).for_url(base)
    await a.engine.upload_blob(base, blob_id, None, tls=tls)
    assert (await held(ctx, A)).uploads == 1
    await a.engine.deliver(B)
    expected = Delivery.ARRIVED if path == "direct" else Delivery.RELAYED
    assert await state(a, envelope_id, B) is expected
    assert await held(ctx, A) == rows.Held(0, 0)
    fed.clock.advance(TIE_MS + 1000)
    assert (await sweep_uploads(ctx)).expired == 0
    assert ctx.blobs.exists(blob_id)


@pytest.mark.parametrize("where", ["unit", "centre"])
async def test_an_abandoned_upload_is_swept_unfinished_or_whole(fed, where):
    """C leaves half a blob and a whole one no letter names, at B and at the centre: the
    sweep keeps them until UPLOAD_TIE_SECONDS after C last asked about them (a HEAD counts),
    then removes their bytes, partial/ included, frees C's quota and audits each once."""
    c = fed.units[C]
    ctx = fed.units[B].ctx if where == "unit" else fed.centre
    base = fed.units[B].url if where == "unit" else fed.centre_url
    before = files(ctx)
    half_id, half = blob(300_000)
    assert (await put(c, base, half_id, half[:100_000], 0, len(half)))[0] == 202
    whole_id, whole = blob(50_000)
    assert (await put(c, base, whole_id, whole, 0, len(whole)))[0] == 201
    assert ctx.blobs.partial_size(half_id) == 100_000 and ctx.blobs.exists(whole_id)

    fed.clock.advance(TIE_MS - 60_000)
    assert await head(c, base, half_id) == (404, "100000")  # C still means to send it
    fed.clock.advance(120_000)
    swept = await sweep_uploads(ctx)
    assert (swept.expired, swept.blobs_removed, swept.partials_removed) == (1, 1, 0)
    assert not ctx.blobs.exists(whole_id) and ctx.blobs.partial_size(half_id) == 100_000

    fed.clock.advance(TIE_MS)
    swept = await sweep_uploads(ctx)
    assert (swept.expired, swept.partials_removed) == (1, 1)
    assert files(ctx) == before
    assert await held(ctx, C) == rows.Held(0, 0)
    assert await head(c, base, half_id) == (404, "0")
    expired = await audited(ctx, "blob.expired")
    assert sorted(e.subject for e in expired) == sorted([half_id, whole_id])
    assert all(e.details["uploader"] == C for e in expired)
    assert (await sweep_uploads(ctx)).expired == 0


async def test_an_unfinished_download_left_in_partial_is_swept(fed):
    """A file in partial/ that no upload row names (a relay download cut and never resumed,
    or left by an older version) goes once it is UPLOAD_TIE_SECONDS old."""
    b = fed.units[B]
    blob_id, data = blob(1000)
    with b.ctx.blobs.partial(blob_id) as writer:
        writer.write(data[:500])
    assert (await sweep_uploads(b.ctx)).partials_removed == 0
    fed.clock.advance(TIE_MS + 1000)
    assert (await sweep_uploads(b.ctx)).partials_removed == 1
    assert b.ctx.blobs.partial_size(blob_id) == 0


async def test_a_refused_or_empty_upload_holds_nothing(fed):
    """Bytes that do not hash to the id are discarded and the upload no longer counts; a PUT
    that brought no byte leaves neither a file nor a count."""
    c, b = fed.units[C], fed.units[B]
    blob_id, data = blob(1000)
    status, text = await put(c, b.url, blob_id, data[::-1], 0, len(data))
    assert status == 422 and json.loads(text)["error"] == "BlobHashMismatch"
    assert await held(b.ctx, C) == rows.Held(0, 0)
    assert (await put(c, b.url, blob_id, b"", 0, len(data)))[0] == 202
    assert await held(b.ctx, C) == rows.Held(0, 0)
    assert b.ctx.blobs.partial_size(blob_id) == 0


async def test_a_senders_batch_keeps_its_blobs_within_the_receivers_quota(fed, tmp_path):
    """The engine cuts a batch where its blobs would pass a quarter of the receiver's quota
    (MAX_BATCH_BLOBS, MAX_BATCH_BLOB_BYTES): two letters each with a blob of its own go in
    two batches when one blob, or 30,000 bytes of blobs, is all a batch may carry."""
    a = fed.units[A]
    for number in (1, 2):
        path = tmp_path / f"{number}.pdf"
        path.write_bytes(os.urandom(20_000))
        metadata = replace(letter(), number=f"{number:02d}")
        await service.send_document(a.ctx, metadata, [B], files=[path], actor="vt")
    async with a.ctx.store.read() as conn:
        due = await outbox.due_for(conn, B, fed.clock(), 10)
    assert len(due) == 2
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery, "MAX_BATCH_BLOBS", 1)
        assert len(delivery.within_bytes(due)) == 1
        patch.setattr(delivery, "MAX_BATCH_BLOBS", 2)
        patch.setattr(delivery, "MAX_BATCH_BLOB_BYTES", 30_000)
        assert len(delivery.within_bytes(due)) == 1
    assert len(delivery.within_bytes(due)) == 2
    assert delivery.MAX_BATCH_BLOB_BYTES * 4 == uploads.MAX_UNTIED_UPLOAD_BYTES
