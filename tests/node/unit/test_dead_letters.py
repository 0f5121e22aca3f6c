"""Dead letters over real mutual TLS: a letter a unit keeps refusing stops being sent after
MAX_SAME_REFUSALS refusals (it was retried, and audited at the receiver, for ever), shows on
the clerk's page and in the metrics, and is sent again when a clerk asks."""

from __future__ import annotations

import nacl.pwhash.argon2id as argon2id
from aiohttp.test_utils import TestClient, TestServer

from lienthong.node.metrics import metrics_of
from lienthong.node.unit import dead_letters
from lienthong.node.unit.delivery import BACKOFF_CAP_MS
from lienthong.node.web import create_web_app
from lienthong.protocol.delivery import MAX_SAME_REFUSALS, Delivery
from lienthong.storage import audit
from lienthong.storage.users import add_user
from tests.node.tls_federation import A, B, federation, send, state
from tests.node.web.test_web_support import PASSWORD, login, page_csrf

DAY = 86_400_000
# Past any back-off of a refused item (the cap, times the largest jitter).
PAST_BACKOFF_MS = BACKOFF_CAP_MS * 3 // 2 + 1


async def refusals_at(ctx) -> int:
    async with ctx.store.read() as conn:
        entries = await audit.entries(conn, limit=10_000)
    return sum(1 for e in entries if e.action.endswith(".refused"))


async def test_a_letter_refused_again_and_again_becomes_a_dead_letter_a_clerk_sends_again(
    tmp_path,
):
    """A's letter is dated a day ahead of B's clock: B refuses it (ClockSkew) at every try.
    After MAX_SAME_REFUSALS refusals A stops (DEAD, nothing due, no further refusal audited
    at B), counts it in lienthong_dead_letters, and shows it on the document's page in
    Vietnamese with a "Gửi lại" button; the clerk presses it, and once the clocks agree the
    letter arrives."""
    (tmp_path / "fed").mkdir()
    async with federation(tmp_path / "fed", serve_units=True) as fed:
        a, b = fed.units[A], fed.units[B]
        fed.clock.advance(DAY)  # A's clock runs a day ahead while it seals the letter
        envelope_id, _ = await send(a, [B])
        fed.clock.advance(-DAY)
        await a.engine.peer_seen(B)  # queued at A's time: due now (B seen on the LAN)
        for _ in range(MAX_SAME_REFUSALS):
            assert await a.engine.deliver(B)
            fed.clock.advance(PAST_BACKOFF_MS)
        assert await state(a, envelope_id, B) is Delivery.DEAD
        assert await refusals_at(b.ctx) == MAX_SAME_REFUSALS
        assert not await a.engine.deliver(B)  # nothing due: B is asked no more
        assert await refusals_at(b.ctx) == MAX_SAME_REFUSALS
        (dead,) = await dead_letters.every(a.ctx)
        assert (dead["kind"], dead["destination"], dead["refused_with"]) == (
            "envelope",
            B,
            "ClockSkew",
        )
        exposition = (await metrics_of(a.ctx).render()).decode()
        assert f'lienthong_dead_letters{{destination="{B}"}} 1.0' in exposition
        assert f'lienthong_dead_lettered_total{{destination="{B}",kind="envelope"}} 1.0' in (
            exposition
        )

        await add_user(
            a.ctx.store,
            "vt",
            PASSWORD,
            role="clerk",
            display_name="Văn thư",
            actor="test",
            opslimit=argon2id.OPSLIMIT_MIN,
            memlimit=argon2id.MEMLIMIT_MIN,
        )
        client = TestClient(TestServer(create_web_app(a.ctx)))
        await client.start_server()
        try:
            assert (await login(client, "vt")).status == 303
            page = await (await client.get(f"/documents/{envelope_id}")).text()
            assert "Không gửi được: bị từ chối nhiều lần" in page and "Gửi lại" in page
            assert "Bị từ chối, đã dừng gửi" in page and "ClockSkew" in page
            outbox_page = await (await client.get("/outbox")).text()
            assert "bị từ chối nhiều lần, đã dừng gửi" in outbox_page
            token = await page_csrf(client, f"/documents/{envelope_id}")
            response = await client.post(
                f"/documents/{envelope_id}",
                data={"csrf": token, "action": "retry", "recipient": B},
                allow_redirects=False,
            )
            assert response.status == 303
        finally:
            await client.close()
        assert await state(a, envelope_id, B) is Delivery.QUEUED
        fed.clock.advance(DAY)  # the clocks agree now
        assert await a.engine.deliver(B)
        assert await state(a, envelope_id, B) is Delivery.ARRIVED
        assert await dead_letters.every(a.ctx) == []
        async with a.ctx.store.read() as conn:
            entries = await audit.entries(conn, limit=10_000)
        assert any(e.actor == "vt" and e.action == "envelope.retried" for e in entries)
