"""Directory gossip and refresh between real aiohttp servers on 127.0.0.1 over mutual TLS."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web

from lienthong.bootstrap import settings
from lienthong.bootstrap.directory import (
    DirectoryState,
    Gossip,
    add_directory_routes,
    fetch_directory,
    observe_peer_version,
    refresh_loop,
    refresh_once,
)
from lienthong.bootstrap.errors import FetchFailed
from lienthong.crypto.keys import NodeKeys
from lienthong.node.context import CONTEXT
from lienthong.node.peers import PEER, peer_middleware
from lienthong.protocol.errors import Rollback
from lienthong.storage import audit
from lienthong.storage.db import Store
from tests.bootstrap.support import UNIT_A, UNIT_B, Clock, Federation, TlsFiles, write_tls


class Peer:
    """One unit's peer API: the real peer middleware (it sets the directory header),
    the directory route, and /v1/ping answering the caller's verified unit code."""

    def __init__(self, state: DirectoryState, files: TlsFiles) -> None:
        self.state = state
        self.files = files
        self.app = web.Application(middlewares=[peer_middleware])
        self.app[CONTEXT] = SimpleNamespace(directory=state)  # all the middleware reads
        add_directory_routes(self.app)
        self.app.router.add_get("/v1/ping", self.ping)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.url = ""

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({"peer": request.get(PEER)})

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.files.server())
        await site.start()
        self.url = f"https://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def net(tmp_path: Path):
    """Units A and B, each with a store, TLS files and a running peer API; A holds v1."""
    fed = Federation()
    clock = Clock(fed.now)
    files = {code: write_tls(fed, tmp_path / code, code) for code in (UNIT_A, UNIT_B)}
    for code in (UNIT_A, UNIT_B):
        fed.certify(code, NodeKeys.generate(), files[code].cert.read_bytes())
    peers, stores = {}, []
    for code in (UNIT_A, UNIT_B):
        store = await Store.open(tmp_path / f"{code}.sqlite3", clock=clock)
        stores.append(store)
        state = await DirectoryState.load(store, fed.root.sign_public, clock)
        await state.accept(fed.directory(1), source="centre")
        peers[code] = Peer(state, files[code])
        await peers[code].start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=files[UNIT_A].client()))
    yield SimpleNamespace(fed=fed, clock=clock, a=peers[UNIT_A], b=peers[UNIT_B], session=session)
    await session.close()
    for peer in peers.values():
        await peer.runner.cleanup()
    for store in stores:
        await store.close()


async def test_a_newer_directory_travels_by_the_response_header(net):
    """A sees B's version in the header of an ordinary answer, fetches it from B, accepts it."""
    await net.b.state.accept(net.fed.directory(2), source="centre")
    gossip = Gossip(net.a.state, net.session)
    async with net.session.get(f"{net.b.url}/v1/ping") as response:
        assert (await response.json())["peer"] == UNIT_A  # mutual TLS verified at B's edge
        gossip.observe_response(net.b.url, response.headers)
    await gossip.wait()
    assert net.a.state.version == 2
    assert net.a.state.current.raw == net.b.state.current.raw
    async with net.a.state.store.read() as conn:
        last = (await audit.entries(conn))[-1]
    assert last.action == "directory.accepted"
    assert last.details["source"] == f"peer {net.b.url}"
    await gossip.close()


async def test_an_older_or_equal_advertised_version_fetches_nothing(net):
    """observe_peer_version does not contact a peer that advertises nothing newer."""
    await net.a.state.accept(net.fed.directory(2), source="centre")
    assert await observe_peer_version(net.a.state, net.session, net.b.url, 1) is False
    assert await observe_peer_version(net.a.state, net.session, "https://127.0.0.1:9", 2) is False
    assert net.a.state.version == 2


async def test_a_peer_lying_about_its_version_cannot_roll_back(net):
    """A peer advertising v9 but serving v1 to a node at v2: Rollback, audited, v2 kept."""
    await net.a.state.accept(net.fed.directory(2), source="centre")
    with pytest.raises(Rollback):
        await observe_peer_version(net.a.state, net.session, net.b.url, 9)
    assert net.a.state.version == 2
    async with net.a.state.store.read() as conn:
        assert (await audit.entries(conn))[-1].action == "directory.refused"


async def test_fetch_answers_304_for_the_version_held(net):
    """fetch_directory sends If-None-Match "v<version>" and gets None back for the same one."""
    assert await fetch_directory(net.session, net.b.url, etag_version=1) is None
    raw = await fetch_directory(net.session, net.b.url, etag_version=None)
    assert raw == net.b.state.current.raw


async def test_a_unit_serves_the_form_it_holds_and_its_peers_take_form_2(net):
    """B holds form 2 of v1 and serves it whatever the query, under "v1.2": A, holding form
    1 of v1, sends "v1", gets form 2 and takes it (the same version, the same listing);
    asked again with what it now holds, B answers 304."""
    form_2 = net.fed.directory(1, protocols={UNIT_B: [1, 2]})
    assert await net.b.state.accept(form_2, source="centre") is True
    async with net.session.get(
        f"{net.b.url}/v1/directory", headers={"If-None-Match": '"v1"'}
    ) as response:
        assert response.status == 200 and response.headers["ETag"] == '"v1.2"'
        assert await response.read() == form_2
    raw = await fetch_directory(net.session, net.b.url, etag_version=1, etag_form=1)
    assert raw == form_2
    assert await net.a.state.accept(raw, source=f"peer {net.b.url}") is True
    assert net.a.state.current.reads(UNIT_B) == (1, 2)
    assert await fetch_directory(net.session, net.b.url, etag_version=1, etag_form=2) is None


async def test_fetch_from_a_closed_port_raises_fetch_failed(net):
    """A peer that is down is one FetchFailed naming the URL, not an aiohttp exception."""
    with pytest.raises(FetchFailed, match=re.escape("127.0.0.1:9/v1/directory")):
        await fetch_directory(net.session, "https://127.0.0.1:9", etag_version=None)


def centre_at(url: str) -> settings.Federation:
    """node.toml's [federation] with the centre at `url` and a refresh every 300 s."""
    return settings.Federation(
        centre_url=url,
        centre_fingerprint="",
        directory_refresh_seconds=300,
        directory_warn_hours=48,
    )


def rounds(stop: asyncio.Event, count: int, log: list[float]):
    """A sleep for refresh_loop that records the pauses and stops after `count` rounds."""

    async def sleep(seconds: float) -> None:
        log.append(seconds)
        if len(log) >= count:
            stop.set()

    return sleep


async def test_refresh_loop_takes_the_centres_newer_directory(net):
    """Each round fetches from the centre (here B's API) and takes a newer directory."""
    await net.b.state.accept(net.fed.directory(3), source="centre")
    stop, pauses = asyncio.Event(), []
    federation = centre_at(net.b.url)
    await refresh_loop(
        net.a.state, net.session, stop, federation=federation, sleep=rounds(stop, 2, pauses)
    )
    assert net.a.state.version == 3
    assert pauses == [300, 300]


async def test_refresh_loop_continues_on_the_cache_when_the_centre_is_down(net, caplog):
    """An unreachable centre is a logged warning; the node keeps its directory and goes on."""
    stop, pauses = asyncio.Event(), []
    federation = centre_at("https://127.0.0.1:9")
    with caplog.at_level(logging.WARNING, logger="lienthong.directory"):
        await refresh_loop(
            net.a.state, net.session, stop, federation=federation, sleep=rounds(stop, 3, pauses)
        )
    assert len(pauses) == 3
    assert caplog.text.count("centre unreachable") == 3
    assert "continuing on the cached directory (v1)" in caplog.text
    assert net.a.state.version == 1


async def test_refresh_records_when_the_centre_last_answered_and_why_it_did_not(net):
    """A 304 counts as an answer (centre_ok_at); a dead centre sets centre_error, keeps ok_at."""
    state = net.a.state
    assert (state.centre_ok_at, state.centre_error) == (None, None)
    assert await refresh_once(state, net.session, net.b.url) is False  # same version: 304
    answered = state.centre_ok_at
    assert answered == net.clock() and state.centre_error is None
    net.clock.advance(60_000)
    assert await refresh_once(state, net.session, "https://127.0.0.1:9") is False
    assert "127.0.0.1:9/v1/directory" in state.centre_error
    assert state.centre_ok_at == answered
