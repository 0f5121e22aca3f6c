"""The delivery engine's backoff: it grows with the time a destination has been away, and a
hand-over (direct or at the relay) ends it."""

import pytest

from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit import documents as service
from lienthong.node.unit.delivery import BACKOFF_BASE_MS, DeliveryEngine
from lienthong.protocol.document import DocumentMetadata, Organisation, Signer
from lienthong.storage.outbox import queue_depths
from tests.node.helpers import Clock, make_context, make_directory

A, B = "000.00.02.H53", "000.00.03.H53"


def letter(number: int) -> DocumentMetadata:
    return DocumentMetadata(
        signer=Signer("Trương Văn Hùng", "Chánh Văn phòng"),
        number=f"{number:02d}",
        notation="VP-TTTH",
        doc_type="cong_van",
        issuer=Organisation(name="Văn phòng UBND tỉnh", code=A),
        place="Tây Ninh",
        issued_on="2014-05-23",
        subject="V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
    )


@pytest.fixture
async def sender(tmp_path):
    """A, with a directory in which B has no address and there is no relay: every attempt
    at B fails, and the jitter is fixed (factor 1)."""
    keys = {A: NodeKeys.generate(), B: NodeKeys.generate()}
    clock = Clock()
    ctx = await make_context(tmp_path, A, keys[A], make_directory(NodeKeys.generate(), keys), clock)
    engine = DeliveryEngine(ctx, session=None, random=lambda: 0.5)
    yield ctx, engine, clock
    await ctx.store.close()


async def next_attempts(ctx) -> set[int]:
    async with ctx.store.read() as conn:
        rows = await conn.fetchall("SELECT next_attempt_at FROM outbox WHERE recipient = ?", (B,))
    return {r[0] for r in rows}


async def test_documents_sent_during_a_backoff_join_it_instead_of_growing_it(sender):
    """Ten documents sent to B while it is away fail once each and wait with the first: the
    delay doubles only when an attempt made at its due time fails (a 30 s outage with steady
    traffic used to reach the 10 min cap, and the documents waited that long after it)."""
    ctx, engine, clock = sender
    await service.send_document(ctx, letter(1), [B], actor="vt")
    await engine.deliver(B)
    first_due = clock() + 2 * BACKOFF_BASE_MS
    assert await next_attempts(ctx) == {first_due}
    for n in range(2, 12):
        clock.advance(100)
        await service.send_document(ctx, letter(n), [B], actor="vt")
        await engine.deliver(B)
    assert engine.peers[B].failures == 1
    assert await next_attempts(ctx) == {first_due}
    clock.now = first_due
    await engine.deliver(B)  # all eleven, in one batch, at their due time
    assert engine.peers[B].failures == 2
    assert await next_attempts(ctx) == {first_due + 4 * BACKOFF_BASE_MS}
    async with ctx.store.read() as conn:
        assert await queue_depths(conn) == {B: 11}


async def test_a_deposit_at_the_relay_ends_the_backoff_and_makes_the_rest_due(sender):
    """Once the relay takes a batch for B, what waited for B is due at once and B's next
    failure starts from the first step again (for a unit behind NAT the relay is the only
    way, so before this the count never reset and its mail waited out the backoff)."""
    ctx, engine, clock = sender
    await service.send_document(ctx, letter(1), [B], actor="vt")
    for _ in range(3):
        await engine.deliver(B)
        clock.now = min(await next_attempts(ctx))
    await engine.deliver(B)
    assert engine.peers[B].failures == 4
    clock.advance(1_000)
    await service.send_document(ctx, letter(2), [B], actor="vt")
    deposited = []

    async def deposit(relay, code, items) -> None:
        deposited.extend(items)

    engine.relays = lambda: ["https://127.0.0.1:1/v1/relay"]
    engine._deposit = deposit
    await engine.deliver(B)
    assert len(deposited) == 1 and B not in engine.peers
    assert await next_attempts(ctx) == {clock()}  # the first letter no longer waits 16 s
    engine.relays = lambda: []  # the relay goes away again
    await engine.deliver(B)
    assert engine.peers[B].failures == 1
    assert await next_attempts(ctx) == {clock() + 2 * BACKOFF_BASE_MS}


async def test_a_failed_delivery_is_logged_with_its_fields(sender, caplog):
    """The log record names the unit, the path and the retry delay as fields, so the JSON log
    form (LIENTHONG_LOG_FORMAT=json) can be searched by unit without parsing the message."""
    ctx, engine, _ = sender
    await service.send_document(ctx, letter(1), [B], actor="vt")
    caplog.set_level("INFO", logger="lienthong.delivery")
    await engine.deliver(B)
    (record,) = [r for r in caplog.records if r.getMessage().startswith(f"delivery to {B} failed")]
    assert (record.unit, record.path, record.items) == (B, "direct", 1)
    assert record.retry_ms == 2 * BACKOFF_BASE_MS
