"""Events appended by the document actions themselves, between real units over mutual TLS:
document.arrived at the recipient, status.changed at the sender (each status the
recipient sends) and at the recipient (its own step), recall.requested at the recipient,
and delivery.failed when a letter becomes a dead letter."""

from __future__ import annotations

from lienthong.node.unit import documents as service
from lienthong.node.unit.delivery import BACKOFF_CAP_MS
from lienthong.protocol.delivery import MAX_SAME_REFUSALS, Delivery
from lienthong.protocol.states import DocState
from lienthong.storage import events
from tests.node.tls_federation import SUBJECT, A, B, federation, send, state

DAY = 86_400_000
PAST_BACKOFF_MS = BACKOFF_CAP_MS * 3 // 2 + 1  # past any back-off of a refused item


async def all_events(ctx) -> list[events.Event]:
    async with ctx.store.read() as conn:
        return await events.events_after(conn, 0)


async def test_arrival_statuses_and_recall_each_leave_their_event(fed):
    """A sends to B: B has document.arrived (from A, the wire id, the subject); A has
    status.changed for B's 01. B accepts: status.changed (03, out) at B, then at A (03,
    in, the incoming number). A recalls: recall.requested at B with the reason; B agrees:
    status.changed (15) at B, then at A."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B])
    assert await a.engine.deliver(B)
    (arrived,) = await all_events(b.ctx)
    assert arrived.kind == "document.arrived"
    assert arrived.data["from"] == A and arrived.data["envelope"] == envelope_id
    assert arrived.data["subject"] == SUBJECT
    document_id = arrived.document_id
    receipt = [e for e in await all_events(a.ctx) if e.kind == "status.changed"]
    assert [(e.document_id, e.data["code"], e.data["from"]) for e in receipt] == [
        (envelope_id, "01", B)
    ]

    await service.process_document(b.ctx, document_id, DocState.ACCEPTED, actor="vt")
    own = (await all_events(b.ctx))[-1]
    assert (own.kind, own.data["code"], own.data["direction"]) == ("status.changed", "03", "out")
    assert await b.engine.deliver(A)
    accepted = (await all_events(a.ctx))[-1]
    assert (accepted.kind, accepted.data["code"], accepted.data["direction"]) == (
        "status.changed",
        "03",
        "in",
    )
    assert accepted.data["number"] == own.data["number"] is not None

    await service.recall(a.ctx, envelope_id, actor="vt", reason="Ban hành nhầm")
    assert await a.engine.deliver(B)
    recall = (await all_events(b.ctx))[-1]
    assert (recall.kind, recall.document_id, recall.data["code"]) == (
        "recall.requested",
        document_id,
        "13",
    )
    assert recall.data["note"] == "Ban hành nhầm"

    await service.answer_recall(b.ctx, document_id, agree=True, actor="vt")
    agreed = (await all_events(b.ctx))[-1]
    assert (agreed.kind, agreed.data["code"], agreed.data["direction"]) == (
        "status.changed",
        "15",
        "out",
    )
    assert await b.engine.deliver(A)
    told = (await all_events(a.ctx))[-1]
    assert (told.kind, told.document_id, told.data["code"]) == ("status.changed", envelope_id, "15")
    ids = [e.id for e in await all_events(b.ctx)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_a_dead_letter_leaves_delivery_failed(tmp_path):
    """A's letter dated a day ahead of B's clock is refused (ClockSkew) until it becomes a
    dead letter: then, and only then, A has one delivery.failed naming B and the refusal."""
    (tmp_path / "fed").mkdir()
    async with federation(tmp_path / "fed", serve_units=True) as fed:
        a = fed.units[A]
        fed.clock.advance(DAY)
        envelope_id, _ = await send(a, [B])
        fed.clock.advance(-DAY)
        await a.engine.peer_seen(B)
        for attempt in range(MAX_SAME_REFUSALS):
            assert [e.kind for e in await all_events(a.ctx)] == []  # refused, not yet dead
            assert await a.engine.deliver(B), attempt
            fed.clock.advance(PAST_BACKOFF_MS)
        assert await state(a, envelope_id, B) is Delivery.DEAD
        (failed,) = await all_events(a.ctx)
        assert (failed.kind, failed.document_id) == ("delivery.failed", envelope_id)
        assert failed.data["to"] == B and failed.data["error"] == "ClockSkew"
        assert failed.data["item"] == "envelope"
