"""A stand-in cannot take a unit's mail: an enrolled unit serving at another unit's address
(same CA, a certificate for the same host) gets neither its envelopes nor its statuses, and
cannot acknowledge them; the sender goes to the relay instead (real mutual TLS, 127.0.0.1)."""

from __future__ import annotations

import pytest

from lienthong.node.unit import documents as service
from lienthong.node.unit.relay_client import pull_once
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.states import DocState
from lienthong.storage.documents import get_document
from tests.node.tls_federation import A, B, C, federation, send, serving_as, state


@pytest.fixture
async def stand_in(tmp_path):
    """The federation with unit C also serving its own peer API at a second address, which
    the directory then lists as B's only endpoint (what a spoofed DNS answer or a LAN
    neighbour achieves)."""
    async with federation(tmp_path, serve_units=True) as fed, serving_as(fed, C, B):
        yield fed


async def _documents(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents"))[0]


async def test_a_stand_in_cannot_take_an_envelope(stand_in):
    """A's letter to B reaches the stand-in's port, the handshake fails the pin, nothing is
    posted to C, and the letter goes to the relay (relayed, not 'arrived')."""
    fed = stand_in
    a, c = fed.units[A], fed.units[C]
    before = await _documents(c.ctx)
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    assert await state(a, envelope_id, B) == Delivery.RELAYED
    assert await _documents(c.ctx) == before
    async with c.ctx.store.read() as conn:
        assert await get_document(conn, envelope_id) is None


async def test_a_stand_in_cannot_acknowledge_a_status(stand_in):
    """B accepts a letter of A; A's address now leads to the stand-in: B's 03 is not marked
    delivered by the stand-in's answer but deposited at the relay for A."""
    fed = stand_in
    a, b, c = fed.units[A], fed.units[B], fed.units[C]
    fed.certify_endpoint(B, b.url, only=True)  # B reachable again at its own server
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    assert await state(a, envelope_id, B) == Delivery.ARRIVED
    fed.certify_endpoint(A, c.url, only=True)
    # A's only endpoint is now C's server: B's status must not be acknowledged there.
    await service.process_document(b.ctx, envelope_id, DocState.ACCEPTED, actor="vt")
    await b.engine.deliver(A)
    async with b.ctx.store.read() as conn:
        row = await conn.fetchone(
            "SELECT s.delivered_at, s.attempts FROM status_outbox s"
            " JOIN status_events e ON e.id = s.status_id WHERE e.envelope_id = ? AND e.code = 3",
            (envelope_id,),
        )
    assert row is not None
    assert row[0] is not None  # delivered: to the relay (the deposit), not to C
    async with c.ctx.store.read() as conn:
        seen = await conn.fetchone(
            "SELECT count(*) FROM status_events WHERE envelope_id = ?", (envelope_id,)
        )
    assert seen[0] == 0  # C never received B's status
    await pull_once(a.ctx, a.session, fed.relay)  # A collects it from the relay
    assert await state(a, envelope_id, B) == Delivery.ACCEPTED
