"""A destination that says "later" is believed: a 429 (or 503, 507) with Retry-After holds
the delivery back at least that long, over real mutual TLS; a malformed or absent header
leaves the usual backoff."""

from __future__ import annotations

import socket
import ssl

import pytest
from aiohttp import web

from lienthong.crypto import x509 as tls
from lienthong.node.unit.delivery import MAX_RETRY_AFTER_SECONDS, retry_after_ms
from tests.node.tls_federation import CENTRE, B, _serve, federation, send


@pytest.fixture
async def busy_relay(tmp_path):
    """The federation whose only relay (the centre's leaf, so the pins hold) answers every
    deposit 429 with the Retry-After the test sets; units are behind NAT."""
    async with federation(tmp_path) as fed:
        answer = {"retry_after": "120"}

        async def deposit(request: web.Request) -> web.Response:
            headers = {"Retry-After": answer["retry_after"]} if answer["retry_after"] else {}
            body = {"error": "RateLimited", "message": "too many deposits"}
            return web.json_response(body, status=429, headers=headers)

        app = web.Application()
        app.router.add_post("/v1/relay/deposit", deposit)
        listener = socket.create_server(("127.0.0.1", 0))
        context = tls.server_context(*fed.pem[CENTRE], fed.ca_path)
        context.verify_mode = ssl.CERT_OPTIONAL
        runner = await _serve(app, listener, context)
        base = f"https://127.0.0.1:{listener.getsockname()[1]}"
        fed.certify_endpoint(CENTRE, base)
        held = fed.centre.directory.current
        codes = sorted(c.code for c in held.certificates)
        directory = fed.directory(codes, [f"{base}/v1/relay"], held.version + 1)
        for ctx in [fed.centre, *(u.ctx for u in fed.units.values())]:
            ctx.directory.current = directory  # type: ignore[misc]
        try:
            yield fed, answer
        finally:
            await runner.cleanup()
            listener.close()


async def _next_attempt(ctx) -> int:
    async with ctx.store.read() as conn:
        row = await conn.fetchone("SELECT next_attempt_at FROM outbox WHERE recipient = ?", (B,))
    return row[0]


async def test_a_relay_saying_retry_after_is_not_asked_again_before(busy_relay):
    """Retry-After: 120 from the relay: the letter waits 120 s, not the first backoff step."""
    fed, _ = busy_relay
    a = fed.units["000.00.02.H53"]
    await send(a, [B])
    now = fed.clock()
    await a.engine.deliver(B)
    assert await _next_attempt(a.ctx) == now + 120_000


async def test_without_a_usable_retry_after_the_usual_backoff_applies(busy_relay):
    """A Retry-After that is not whole seconds 0-9 is ignored: the first backoff step."""
    fed, answer = busy_relay
    answer["retry_after"] = "soon"
    a = fed.units["000.00.02.H53"]
    await send(a, [B])
    now = fed.clock()
    await a.engine.deliver(B)
    assert now < await _next_attempt(a.ctx) < now + 10_000


def test_the_wait_is_read_only_from_answers_that_mean_later_and_is_capped():
    assert retry_after_ms(429, {"Retry-After": "30"}) == 30_000
    assert retry_after_ms(507, {"Retry-After": "60"}) == 60_000
    assert retry_after_ms(400, {"Retry-After": "30"}) == 0  # a refusal is not "later"
    assert retry_after_ms(429, {"Retry-After": "٣"}) == 0
    assert retry_after_ms(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_ms(429, {"Retry-After": "999999"}) == MAX_RETRY_AFTER_SECONDS * 1000
