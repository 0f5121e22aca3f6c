"""A unit whose disk is full (a filled tmpfs, real ENOSPC and SQLITE_FULL) over real mutual
TLS: the peer API answers 507 DiskFull instead of a 500, the relay client names its own disk
instead of "relay unreachable", nothing is lost and everything flows once space is freed."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import pytest

from lienthong.node.unit import documents as service
from lienthong.node.unit import relay_client
from lienthong.node.unit.delivery import DISK_FULL_PAUSE_MS
from lienthong.node.unit.documents import stored_body
from lienthong.node.unit.peer_api import CONTENT_TYPE
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.peer import encode_batch
from lienthong.storage.documents import get_document, get_envelope_raw
from lienthong.storage.errors import DiskFull
from tests.full_disk import move_node, small_disk
from tests.node.tls_federation import A, B, attachment, federation, letter, send, state, until

LETTERS = 200  # one full batch of the delivery engine (node/unit/delivery.py BATCH)
# Past the time a relay waits before offering an item left unacknowledged again.
AFTER_REOFFER_MS = 10 * 60 * 1000


async def documents(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents"))[0]


async def numbered(unit, number: int) -> tuple[str, bytes]:
    """Letter `number` from `unit` to B (each letter has its own number in the register)."""
    metadata = dataclasses.replace(letter(), number=f"{number:02d}", notation="UBND-VP")
    envelope_id = await service.send_document(unit.ctx, metadata, [B], actor="vt")
    async with unit.ctx.store.read() as conn:
        return envelope_id, await get_envelope_raw(conn, envelope_id)


def tracebacks(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


@pytest.mark.small_disk
async def test_a_full_receiver_answers_507_to_a_batch_and_an_upload_then_takes_them_once(
    tmp_path, caplog
):
    """B's disk is full: a 200-letter batch and a blob upload are answered 507 with the JSON
    error DiskFull (no 500, no traceback in the log) and B stores nothing; once space is
    freed, A's delivery engine hands every letter over and each is stored once."""
    (tmp_path / "fed").mkdir()
    async with federation(tmp_path / "fed", serve_units=True) as fed:
        a, b = fed.units[A], fed.units[B]
        with small_disk(tmp_path / "disk") as disk:
            await move_node(b.ctx, disk)
            sent = [await numbered(a, n) for n in range(1, LETTERS + 1)]
            with_file, _ = await send(a, [B], [attachment(tmp_path)])
            async with a.ctx.store.read() as conn:
                doc = await get_document(conn, with_file)
            blob = stored_body(doc).attachments[0].blob
            data = a.ctx.blobs.path(blob).read_bytes()
            disk.fill()
            body = encode_batch([raw for _, raw in sent], [])
            async with a.session.post(
                f"{b.url}/v1/inbox", data=body, headers={"Content-Type": CONTENT_TYPE}
            ) as response:
                assert response.status == 507
                answer = json.loads(await response.text())
            assert answer["error"] == "DiskFull" and "send again later" in answer["message"]
            headers = {"Upload-Offset": "0", "Upload-Length": str(len(data))}
            async with a.session.put(
                f"{b.url}/v1/blobs/{blob}", data=data, headers=headers
            ) as response:
                assert response.status == 507
                assert json.loads(await response.text())["error"] == "DiskFull"
            assert await documents(b.ctx) == 0 and not b.ctx.blobs.exists(blob)
            assert tracebacks(caplog) == []
            assert any("is full" in r.getMessage() for r in caplog.records)
            disk.free()
            while await a.engine.deliver(B):
                pass
            assert await documents(b.ctx) == LETTERS + 1
            for envelope_id, _ in [*sent, (with_file, b"")]:
                assert await state(a, envelope_id, B) is Delivery.ARRIVED
            assert b.ctx.blobs.exists(blob)
            await b.ctx.store.close()


@pytest.mark.small_disk
async def test_the_relay_client_names_its_own_full_disk_and_leaves_the_mail_at_the_relay(
    tmp_path, caplog
):
    """B (behind NAT) collects a letter with an attachment from the relay on a full disk:
    the pull fails with DiskFull naming B's data directory, the loop logs that (not "relay
    unreachable"), nothing is acknowledged; once space is freed the next pull takes it in."""
    caplog.set_level(logging.INFO, logger="lienthong.relay")
    (tmp_path / "fed").mkdir()
    async with federation(tmp_path / "fed") as fed:
        a, b = fed.units[A], fed.units[B]
        envelope_id, _ = await send(a, [B], [attachment(tmp_path)])
        await a.engine.deliver(B)
        assert await state(a, envelope_id, B) is Delivery.RELAYED
        with small_disk(tmp_path / "disk") as disk:
            await move_node(b.ctx, disk)
            disk.fill()
            stop = asyncio.Event()
            loop = asyncio.create_task(
                relay_client.pull_loop(b.ctx, b.session, stop, delay=lambda _: 3600)
            )
            await until(lambda: any("not taken in" in r.getMessage() for r in caplog.records))
            stop.set()
            await loop
            messages = [r.getMessage() for r in caplog.records if r.name == "lienthong.relay"]
            assert not any("unreachable" in m for m in messages)
            assert any(str(b.ctx.config.data_dir) in m and "is full" in m for m in messages)
            assert await documents(b.ctx) == 0
            fed.clock.advance(AFTER_REOFFER_MS)  # the relay offers the letter again
            with pytest.raises(DiskFull) as caught:
                await relay_client.pull_once(b.ctx, b.session, fed.relay)
            assert str(b.ctx.config.data_dir) in str(caught.value)
            disk.free()
            fed.clock.advance(AFTER_REOFFER_MS)
            result = await relay_client.pull_once(b.ctx, b.session, fed.relay)
            assert (result.received, result.acknowledged) == (1, 1)
            assert await documents(b.ctx) == 1
            await b.ctx.store.close()


@pytest.mark.small_disk
async def test_a_sender_with_a_full_disk_pauses_its_deliveries_then_resumes(tmp_path, caplog):
    """A's own disk fills with a letter queued: the attempt's outcome cannot be recorded, so
    the engine logs one line naming the disk (no traceback) and starts no attempt for
    DISK_FULL_PAUSE_MS (B is not sent the same batch every second); once space is freed
    and the pause is over the letter is delivered, and B holds it once."""
    (tmp_path / "fed").mkdir()
    async with federation(tmp_path / "fed", serve_units=True) as fed:
        a, b = fed.units[A], fed.units[B]
        envelope_id, _ = await send(a, [B])
        with small_disk(tmp_path / "disk") as disk:
            await move_node(a.ctx, disk)
            disk.fill()
            await a.engine.tick()
            await asyncio.gather(*a.engine.active.get(B, set()))
            assert a.engine.disk_full_until > fed.clock()
            paused = [r for r in caplog.records if "deliveries paused" in r.getMessage()]
            assert len(paused) == 1 and str(a.ctx.config.data_dir) in paused[0].getMessage()
            assert tracebacks(caplog) == []
            await a.engine.tick()
            assert not a.engine.active  # paused: nothing started
            disk.free()
            fed.clock.advance(DISK_FULL_PAUSE_MS)
            await a.engine.tick()
            await asyncio.gather(*a.engine.active.get(B, set()))
            assert await state(a, envelope_id, B) is Delivery.ARRIVED
            assert await documents(b.ctx) == 1
            await a.ctx.store.close()
