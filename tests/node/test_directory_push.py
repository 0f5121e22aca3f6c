"""Gossip hands a newer directory to a peer once: a peer that refuses it for what it is (a
version-1 unit and directory form 2) is not pushed again at every answer; a peer that
could not take it now (a server error) is."""

import aiohttp
import pytest
from aiohttp import web

from lienthong.node.runtime import push_directory


@pytest.mark.parametrize(("status", "over"), [(204, True), (422, True), (400, True), (503, False)])
async def test_a_refusal_ends_the_exchange_and_a_server_error_does_not(status, over):
    """200s and 4xx end it (True); 5xx asks for another try (False)."""
    received: list[bytes] = []

    async def take(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/v1/directory", take)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            assert await push_directory(session, f"http://127.0.0.1:{port}", b"form-2") is over
    finally:
        await runner.cleanup()
    assert received == [b"form-2"]


async def test_no_answer_asks_for_another_try():
    """Nothing listening: False, so the next answer of that peer tries again."""
    async with aiohttp.ClientSession() as session:
        assert await push_directory(session, "http://127.0.0.1:9", b"form-2") is False
