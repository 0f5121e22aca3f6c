"""A letter the relay holds is tried directly again (real mutual TLS, 127.0.0.1): the sender
does not wait for the recipient to collect it, and the recipient stores it once however
many ways it comes."""

from __future__ import annotations

import socket

from lienthong.node.unit.delivery import RELAYED_DIRECT_RETRY_MS
from lienthong.node.unit.relay_client import pull_once
from lienthong.protocol.delivery import Delivery
from lienthong.storage import outbox
from tests.node.tls_federation import A, B, federation, send, state


async def row(unit, envelope_id: str, recipient: str) -> outbox.OutboxRow:
    async with unit.ctx.store.read() as conn:
        (found,) = [r for r in await outbox.rows_for(conn, envelope_id) if r.recipient == recipient]
    return found


async def documents(ctx) -> int:
    async with ctx.store.read() as conn:
        return (await conn.fetchone("SELECT count(*) FROM documents"))[0]


async def test_a_relayed_letter_is_delivered_directly_once_the_recipient_answers(fed):
    """B cannot be reached: A's letter goes to the relay ('relayed'), with a direct try due
    RELAYED_DIRECT_RETRY_MS later, and nothing before. B answers again but never collects:
    that try delivers it directly ('arrived', B's 01 inline). When B does collect the relay's
    copy, it is taken as the same letter: B holds it once."""
    a, b = fed.units[A], fed.units[B]
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead = f"https://127.0.0.1:{closed.getsockname()[1]}"
    fed.certify_endpoint(B, dead, only=True)  # nobody answers at B's address
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    relayed = await row(a, envelope_id, B)
    assert relayed.state == Delivery.RELAYED
    assert relayed.next_attempt_at == fed.clock() + RELAYED_DIRECT_RETRY_MS

    fed.certify_endpoint(B, b.url, only=True)  # B answers again
    assert await a.engine.deliver(B) is False  # nothing due yet: the relay has it
    fed.clock.advance(RELAYED_DIRECT_RETRY_MS)
    assert await a.engine.deliver(B) is True
    assert await state(a, envelope_id, B) is Delivery.ARRIVED
    assert (await row(a, envelope_id, B)).next_attempt_at is None
    assert await documents(b.ctx) == 1

    result = await pull_once(b.ctx, b.session, fed.relay)  # the relay's copy, late
    assert (result.received, result.acknowledged) == (1, 1)
    assert await documents(b.ctx) == 1
    assert await state(a, envelope_id, B) is Delivery.ARRIVED


async def test_a_relayed_letter_is_not_deposited_again_while_the_recipient_stays_away(fed):
    """The direct try of a relayed letter that fails leaves it at the relay (one copy there)
    and schedules the next direct try."""
    a = fed.units[A]
    with socket.create_server(("127.0.0.1", 0)) as closed:
        dead = f"https://127.0.0.1:{closed.getsockname()[1]}"
    fed.certify_endpoint(B, dead, only=True)
    envelope_id, _ = await send(a, [B])
    await a.engine.deliver(B)
    fed.clock.advance(RELAYED_DIRECT_RETRY_MS)
    assert await a.engine.deliver(B) is True
    again = await row(a, envelope_id, B)
    assert again.state == Delivery.RELAYED and again.attempts == 1
    assert again.last_error.startswith(f"at the relay; direct: {dead}")
    assert again.next_attempt_at == fed.clock() + RELAYED_DIRECT_RETRY_MS
    async with fed.centre.store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM relay_mailbox"))[0] == 1


async def test_a_letter_relayed_to_a_unit_without_an_address_waits_for_its_01(tmp_path):
    """A unit behind NAT (no address in the directory) is never tried directly: its
    relayed letter waits for the 01 or the relay's expiry notice."""
    async with federation(tmp_path) as fed:  # units behind NAT
        a = fed.units[A]
        envelope_id, _ = await send(a, [B])
        await a.engine.deliver(B)
        relayed = await row(a, envelope_id, B)
        assert relayed.state == Delivery.RELAYED and relayed.next_attempt_at is None
