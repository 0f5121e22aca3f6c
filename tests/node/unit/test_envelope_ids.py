"""An envelope id is unique per sender, not per node (docs/PROTOCOL.md 3.1), over real mutual
TLS on 127.0.0.1: a co-recipient that gives a recipient its own envelope under the id of
another unit's letter first blocks nothing; the same (sender, id) again is answered as the
first time; other bytes under it are refused by name, and nothing is stored."""

from __future__ import annotations

import hashlib

import pytest

from lienthong.node.context import NodeContext
from lienthong.node.unit import documents as service
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.states import DocState, RecallState
from lienthong.protocol.status import Status, make_status, verify_status
from lienthong.storage.documents import (
    HeldEnvelope,
    get_document,
    get_envelope_raw,
    held_envelopes,
)
from lienthong.storage.registers import incoming_number_of
from tests.node.tls_federation import (
    A,
    B,
    C,
    Federation,
    actions,
    post_inbox,
    row_counts,
    sealed,
    send,
    state,
)

# What a peer can make a unit store; a refusal must leave each as it was.
TABLES = ("documents", "status_events", "status_outbox", "incoming_register")


async def stored(ctx: NodeContext) -> dict[str, int]:
    return await row_counts(ctx, TABLES)


def receipt_of(ctx: NodeContext, raw: bytes) -> Status:
    return verify_status(raw, ctx.directory.key_lookup).status


async def held(ctx: NodeContext, sender: str, envelope_id: str) -> HeldEnvelope:
    async with ctx.store.read() as conn:
        return (await held_envelopes(conn, [(sender, envelope_id)]))[(sender, envelope_id)]


async def preempted(fed: Federation) -> tuple[str, bytes, bytes, bytes]:
    """A sends letter X to B and C; C, which has X first, gives B its own envelope under X
    before A's arrives; then A's engine delivers X to B. Returns X, A's and C's envelopes
    and the answer B gave C."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    x, raw_a = await send(a, [B, C])
    await a.engine.deliver(C)
    assert await state(a, x, C) == Delivery.ARRIVED
    raw_c = sealed(fed, c, C, [B], envelope_id=x)
    (answer_c,) = (await post_inbox(c, b, envelopes=[raw_c]))["envelopes"]
    assert answer_c["ok"] is True, answer_c
    await a.engine.deliver(B)
    return x, raw_a, raw_c, answer_c["status"]


async def test_a_co_recipient_taking_a_letters_id_first_blocks_nothing(fed):
    """C pre-empts A's id X at B: B stores both letters, each once and with its own bytes;
    each sender gets its own 01 (A's engine takes its receipt: arrived); each letter is
    registered with its own incoming number, and each 03 goes to its own sender naming X."""
    a, b = fed.units[A], fed.units[B]
    x, raw_a, raw_c, receipt_c = await preempted(fed)
    assert await state(a, x, B) == Delivery.ARRIVED  # A's 01 hashes A's envelope
    from_a, from_c = await held(b.ctx, A, x), await held(b.ctx, C, x)
    assert from_c.document_id == x  # first come, under its wire id
    assert from_a.document_id not in (x, from_c.document_id)  # an id of its own here
    counts = await stored(b.ctx)
    assert (counts["documents"], counts["status_events"]) == (2, 2)
    async with b.ctx.store.read() as conn:
        assert await get_envelope_raw(conn, from_a.document_id) == raw_a
        assert await get_envelope_raw(conn, from_c.document_id) == raw_c
        doc_a = await get_document(conn, from_a.document_id)
        assert (doc_a.sender_code, doc_a.wire_id) == (A, x)
    for raw, sender, envelope in ((from_a.arrival, A, raw_a), (receipt_c, C, raw_c)):
        status = receipt_of(b.ctx, raw)
        assert (status.code, status.to, status.envelope) == (StatusCode.ARRIVED, sender, x)
        assert status.receipt == hashlib.sha256(envelope).digest()
    assert from_c.arrival == receipt_c

    number_a = await service.process_document(
        b.ctx, from_a.document_id, DocState.ACCEPTED, actor="vt"
    )
    number_c = await service.process_document(
        b.ctx, from_c.document_id, DocState.ACCEPTED, actor="vt"
    )
    assert sorted([number_a, number_c]) == [1, 2]
    async with b.ctx.store.read() as conn:
        assert (await incoming_number_of(conn, from_a.document_id))[1] == number_a
        assert (await incoming_number_of(conn, from_c.document_id))[1] == number_c
        rows = await conn.fetchall("SELECT count(*) FROM incoming_register")
        assert rows[0][0] == 2
        accepted = await conn.fetchall(
            "SELECT envelope_id, to_code, raw FROM status_events WHERE code = 3"
        )
    by_document = {row[0]: (row[1], receipt_of(b.ctx, bytes(row[2]))) for row in accepted}
    assert by_document.keys() == {from_a.document_id, from_c.document_id}
    for document_id, sender, number in (
        (from_a.document_id, A, number_a),
        (from_c.document_id, C, number_c),
    ):
        to, status = by_document[document_id]
        assert (to, status.to, status.envelope, status.number) == (sender, sender, x, number)
    await b.engine.deliver(A)
    assert await state(a, x, B) == Delivery.ACCEPTED
    await actions(b.ctx)  # the audit chain verifies


async def test_the_same_sender_and_id_again_gets_the_same_01_directly_and_from_the_relay(fed):
    """A's letter X again, with the same bytes, after C pre-empted X at B: directly, the same
    01 and nothing stored; collected from the relay, that 01 is queued to A (not to C) and
    B's engine delivers it to A."""
    a, b = fed.units[A], fed.units[B]
    x, raw_a, _raw_c, _receipt_c = await preempted(fed)
    from_a = await held(b.ctx, A, x)
    before = await stored(b.ctx)
    audited = len(await actions(b.ctx))
    answers = (await post_inbox(a, b, envelopes=[raw_a, raw_a]))["envelopes"]
    assert [answer["status"] for answer in answers] == [from_a.arrival] * 2
    assert await stored(b.ctx) == before
    assert len(await actions(b.ctx)) == audited  # no second reception

    assert await service.receive_envelope(b.ctx, raw_a, via="relay") == from_a.arrival
    async with b.ctx.store.read() as conn:
        queued = await conn.fetchall("SELECT status_id, destination FROM status_outbox")
    assert [tuple(row) for row in queued] == [(receipt_of(b.ctx, from_a.arrival).id, A)]
    await b.engine.deliver(A)
    async with b.ctx.store.read() as conn:
        delivered = await conn.fetchone("SELECT delivered_at FROM status_outbox")
    assert delivered[0] is not None  # A took it (already applied: nothing changes at A)
    assert await state(a, x, B) == Delivery.ARRIVED


async def test_other_bytes_under_a_held_sender_and_id_are_refused(fed):
    """A signs a second envelope under X, an id of its own B holds: refused by name
    (EnvelopeIdReused), directly and from the relay, nothing stored, audited; two envelopes
    of A with one new id in one batch: the first is stored, the second refused."""
    a, b = fed.units[A], fed.units[B]
    x, raw_a, _raw_c, _receipt_c = await preempted(fed)
    other = sealed(fed, a, A, [B], envelope_id=x)
    before = await stored(b.ctx)
    (answer,) = (await post_inbox(a, b, envelopes=[other]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, "EnvelopeIdReused")
    assert x in answer["message"] and A in answer["message"]
    with pytest.raises(service.EnvelopeIdReused):
        await service.receive_envelope(b.ctx, other, via="relay")
    assert await stored(b.ctx) == before
    async with b.ctx.store.read() as conn:
        assert await get_envelope_raw(conn, (await held(b.ctx, A, x)).document_id) == raw_a
    refused = [e for e in await actions(b.ctx) if e == "envelope.refused"]
    assert len(refused) == 1  # the direct refusal, audited by the peer API

    y = new_ulid(fed.clock())
    first, second = sealed(fed, a, A, [B], envelope_id=y), sealed(fed, a, A, [B], envelope_id=y)
    assert first != second
    answers = (await post_inbox(a, b, envelopes=[first, second]))["envelopes"]
    assert [(item["ok"], item.get("error")) for item in answers] == [
        (True, None),
        (False, "EnvelopeIdReused"),
    ]
    async with b.ctx.store.read() as conn:
        assert await get_envelope_raw(conn, (await held(b.ctx, A, y)).document_id) == first
    assert (await stored(b.ctx))["documents"] == before["documents"] + 1


async def test_a_recall_reaches_the_letter_of_its_sender(fed):
    """After C pre-empted X at B, A's 13 for X marks A's letter and C's 13 marks C's, never
    the other; B's 15 for A's letter names X and A's delivery to B becomes recalled."""
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    x, _raw_a, _raw_c, _receipt_c = await preempted(fed)
    from_a, from_c = await held(b.ctx, A, x), await held(b.ctx, C, x)

    async def recalls() -> dict[str, str]:
        async with b.ctx.store.read() as conn:
            return {
                d: (await get_document(conn, d)).recall
                for d in (from_a.document_id, from_c.document_id)
            }

    await service.recall(a.ctx, x, actor="vt.a", reason="gửi nhầm")
    await a.engine.deliver(B)
    requested, none = RecallState.REQUESTED.value, RecallState.NONE.value
    assert await recalls() == {from_a.document_id: requested, from_c.document_id: none}
    thirteen = make_status(
        c.ctx.keys,
        sender=C,
        serial=fed.serial(C),
        to=B,
        envelope=x,
        code=StatusCode.RECALL_REQUESTED,
        at=fed.clock(),
    )
    (answer,) = (await post_inbox(c, b, statuses=[thirteen]))["statuses"]
    assert answer["ok"] is True, answer
    assert await recalls() == {from_a.document_id: requested, from_c.document_id: requested}

    await service.answer_recall(b.ctx, from_a.document_id, agree=True, actor="vt.b")
    async with b.ctx.store.read() as conn:
        (raw,) = await conn.fetchone("SELECT raw FROM status_events WHERE code = 15")
    status = receipt_of(b.ctx, bytes(raw))
    assert (status.to, status.envelope) == (A, x)
    await b.engine.deliver(A)
    assert await state(a, x, B) == Delivery.RECALLED
