"""The peer listener's edge over real sockets on 127.0.0.1 and 127.0.0.2: connection caps at
accept, the handshake timeout, accept errors when out of open files, and the rate limits of
each route class (429 with Retry-After) on running nodes enrolled through the real path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import resource
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from subprocess import PIPE

import aiohttp
import pytest
from aiohttp import web

from lienthong.bootstrap.directory import DIRECTORY_HEADER, refresh_once
from lienthong.bootstrap.enrolment import enrol_online
from lienthong.crypto import x509 as tls
from lienthong.node import config as cfg
from lienthong.node.centre.rules import centre_of
from lienthong.node.centre.setup import create_centre
from lienthong.node.datadir import config_saver, create_node, federation_saver
from lienthong.node.edge import LOG_INTERVAL_SECONDS, EdgeLimits, GuardedSite
from lienthong.node.metrics import metrics_of
from lienthong.node.runtime import Node, client_ssl_context
from lienthong.node.unit import documents as service
from lienthong.node.unit.peer_api import CONTENT_TYPE
from lienthong.protocol.delivery import Delivery
from lienthong.protocol.wire import pack
from lienthong.storage.outbox import rows_for
from tests.node.running import eventually, free_port
from tests.node.tls_federation import letter

CENTRE = "000.00.00.H53"
A, B, C = "000.00.02.H53", "000.00.03.H53", "000.00.04.H53"
# A second loopback address: the flood comes from it, the legitimate callers from 127.0.0.1.
FLOODER = "127.0.0.2"
# Safety net for waits on background work on two busy cores; not a timing assertion.
BOUND = 60
EDGE_LOGGER = "lienthong.edge"


def refused(node: Node, cap: str) -> float:
    """Connections the node's peer listener reset at accept over `cap` (its /metrics)."""
    value = metrics_of(node.ctx).registry.get_sample_value(
        "lienthong_connections_refused_total", {"cap": cap}
    )
    return value or 0.0


def rate_limited(node: Node, route_class: str) -> float:
    value = metrics_of(node.ctx).registry.get_sample_value(
        "lienthong_rate_limited_total", {"route_class": route_class}
    )
    return value or 0.0


# -- A province of running nodes --------------------------------------------------------------


class Province:
    """A centre and units, each a node.runtime.Node on its own data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: dict[str, Node] = {}
        self.dirs: dict[str, Path] = {}
        self.centre_url = ""
        self.fingerprint = ""

    async def create_centre(self, limits: dict[str, int]) -> None:
        data_dir = self.root / "centre"
        created = await create_centre(data_dir, name="Trung tâm", listen=f"127.0.0.1:{free_port()}")
        self.centre_url, self.fingerprint = created.url, created.fingerprint
        self.dirs[CENTRE] = data_dir
        self.set_limits(CENTRE, limits, web=f"127.0.0.1:{free_port()}")
        await self.start(CENTRE)

    def set_limits(self, code: str, limits: dict[str, int], **node: str) -> None:
        """Write [limits] (and node settings) into the node.toml of `code`."""
        config = cfg.load_config(self.dirs[code])
        values = {section: dict(keys) for section, keys in config.values.items()}
        values["limits"].update(limits)
        values["node"].update(node)
        config_saver(config)(values)

    async def enrol(self, code: str, limits: dict[str, int] | None = None) -> None:
        data_dir = self.root / code
        node = {"listen": f"127.0.0.1:{free_port()}", "web": f"127.0.0.1:{free_port()}"}
        keys = create_node(
            data_dir,
            {
                "unit": {"code": code, "name": f"Unit {code}"},
                "node": {**node, "discovery": False},
                "limits": limits or {},
            },
        )
        new = await centre_of(self.nodes[CENTRE].ctx).add_unit(code, f"Unit {code}")
        config = cfg.load_config(data_dir)
        await enrol_online(
            config.node_settings,
            keys,
            centre_url=self.centre_url,
            fingerprint=self.fingerprint,
            token=new.token,
            save_federation=federation_saver(config),
        )
        self.dirs[code] = data_dir

    async def start(self, code: str) -> Node:
        node = await Node.open(self.dirs[code])
        await node.start()
        self.nodes[code] = node
        return node

    async def stop(self, code: str) -> None:
        await self.nodes.pop(code).close()

    async def refresh(self) -> None:
        """Each running unit takes the centre's newest directory (every unit listed)."""
        for code, node in self.nodes.items():
            if code != CENTRE:
                assert node.session is not None
                await refresh_once(node.ctx.directory, node.session, self.centre_url)

    def session(self, code: str) -> aiohttp.ClientSession:
        """A client with the TLS certificate of `code`, as its node would call."""
        context = client_ssl_context(cfg.load_config(self.dirs[code]))
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))

    async def close(self) -> None:
        for code in sorted(self.nodes, key=lambda code: code == CENTRE):  # the centre last
            await self.stop(code)


@contextlib.asynccontextmanager
async def province(tmp_path: Path, centre_limits: dict[str, int]) -> AsyncIterator[Province]:
    built = Province(tmp_path)
    try:
        await built.create_centre(centre_limits)
        yield built
    finally:
        await built.close()


def peer_url(node: Node) -> str:
    return f"https://127.0.0.1:{node.peer_port}"


async def idle_tcp(port: int, count: int) -> list[socket.socket]:
    """`count` connections from FLOODER that never send a byte (no TLS handshake)."""
    loop = asyncio.get_running_loop()
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sockets.append(sock)
        sock.bind((FLOODER, 0))
        with contextlib.suppress(ConnectionError):
            await loop.sock_connect(sock, ("127.0.0.1", port))
    return sockets


async def idle_tls_without_certificate(
    port: int, ca_path: Path, count: int
) -> list[asyncio.StreamWriter]:
    """`count` connections from FLOODER that finish a TLS handshake without a client
    certificate (the centre asks for one but does not require it), then stay silent."""
    context = ssl.create_default_context(cafile=str(ca_path))
    context.check_hostname = False
    writers = []
    for _ in range(count):
        try:
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=context, local_addr=(FLOODER, 0)
            )
        except OSError:  # reset at accept, over the cap (ssl.SSLError is an OSError too)
            continue
        writers.append(writer)
    return writers


async def arrived(node: Node, envelope_id: str, to: str) -> bool:
    async with node.ctx.store.read() as conn:
        rows = await rows_for(conn, envelope_id)
    return any(r.recipient == to and r.state == Delivery.ARRIVED for r in rows)


async def test_idle_floods_from_one_address_do_not_stop_peers_enrolment_or_the_web_pages(
    tmp_path, caplog
):
    """Twice each listener's cap of idle connections from one address: at a unit, TCP that
    never starts TLS; at the centre, TLS finished without a certificate. The flooded unit
    still takes a letter from a peer, the centre still enrols a unit, both web pages answer,
    the flood holds no more than the per-address cap, and the log has one line per
    listener about it."""
    caplog.set_level(logging.INFO)
    caps = {
        "max_connections": 40,
        "max_connections_per_address": 20,
        "max_handshakes": 16,
        "max_handshakes_per_address": 6,
    }
    async with province(tmp_path, caps) as p:
        await p.enrol(A)
        await p.enrol(B, caps)
        a, b = await p.start(A), await p.start(B)
        await p.refresh()
        centre = p.nodes[CENTRE]

        flood_b = await idle_tcp(b.peer_port, 2 * caps["max_connections"])
        ca_path = cfg.load_config(p.dirs[CENTRE]).ca_path
        flood_centre = await idle_tls_without_certificate(
            centre.peer_port, ca_path, 2 * caps["max_connections"]
        )
        try:
            over = 2 * caps["max_connections"] - caps["max_handshakes_per_address"]
            await eventually(
                lambda: refused(b, "max_handshakes_per_address") == over, "flood refused at B"
            )
            assert len(flood_centre) == caps["max_handshakes_per_address"]
            for node in (b, centre):
                held = node.peer_site.counts
                assert held.unauthenticated.get(FLOODER, 0) <= caps["max_handshakes_per_address"]
                assert held.open.get(FLOODER, 0) <= caps["max_handshakes_per_address"]

            envelope_id = await service.send_document(a.ctx, letter(), [B], actor="vt")
            await eventually(lambda: arrived(a, envelope_id, B), "the letter arrived at B")
            await p.enrol(C)  # through the flooded centre listener, from 127.0.0.1
            async with aiohttp.ClientSession() as browser:
                for node in (b, centre):
                    async with browser.get(f"http://127.0.0.1:{node.web_port}/login") as page:
                        assert page.status == 200
        finally:
            for sock in flood_b:
                sock.close()
            for writer in flood_centre:
                writer.close()

    lines = [r for r in caplog.records if r.name == EDGE_LOGGER]
    assert 2 <= len(lines) <= 2 + 2 * int(BOUND // LOG_INTERVAL_SECONDS)
    assert all("over limits.max_handshakes_per_address" in r.getMessage() for r in lines)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_rate_limits_answer_429_per_route_class_and_never_slow_another_caller(tmp_path):
    """At a centre with small limits: a unit over its peer or relay limit, and an address
    over the enrolment or stranger limit, get 429 with Retry-After, JSON naming the limit and
    the directory version; another unit is served at the same moment; /metrics counts each."""
    async with province(tmp_path, {}) as p:
        await p.enrol(A)
        await p.enrol(B)
        await p.stop(CENTRE)  # enrolment spent tokens; restart with the limits under test
        p.set_limits(
            CENTRE,
            {f"{c}_burst": 2 for c in ("peer", "relay", "enrol", "stranger")}
            | {f"{c}_per_minute": 1 for c in ("peer", "relay", "enrol", "stranger")},
        )
        centre = await p.start(CENTRE)
        base = peer_url(centre)
        ca_path = cfg.load_config(p.dirs[CENTRE]).ca_path
        anonymous = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=str(ca_path)))
        calls = {
            "peer": ("GET", "/v1/directory", None),
            "relay": ("GET", "/v1/relay/pull?wait=0", None),
            "enrol": ("GET", "/v1/ca", None),
            "stranger": ("POST", "/v1/relay/ack", pack({"ids": []})),
        }
        async with (
            p.session(A) as unit_a,
            p.session(B) as unit_b,
            aiohttp.ClientSession(connector=anonymous) as stranger,
        ):
            for route_class, (method, path, body) in calls.items():
                caller = stranger if route_class in ("enrol", "stranger") else unit_a
                statuses = []
                for _ in range(3):
                    async with caller.request(
                        method, base + path, data=body, headers={"Content-Type": CONTENT_TYPE}
                    ) as response:
                        statuses.append(response.status)
                        answer = await response.read()
                        headers = response.headers
                first = 403 if route_class == "stranger" else 200
                assert statuses == [first, first, 429], route_class
                assert int(headers["Retry-After"]) >= 1
                assert headers[DIRECTORY_HEADER] == str(centre.ctx.directory.version)
                refusal = json.loads(answer)
                assert refusal["error"] == "RateLimited"
                assert refusal["limit"] == route_class
                assert f"over the {route_class} limit of 1 requests a minute" in refusal["message"]
                if route_class in ("peer", "relay"):  # B has its own bucket
                    async with unit_b.request(method, base + path) as response:
                        assert response.status == 200
                assert rate_limited(centre, route_class) == 1


# -- The guarded site alone, with a short handshake timeout -----------------------------------


def tls_contexts(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext, Path]:
    """A CA, a server context asking for (not requiring) a client certificate, as the
    centre's, and a client context with a certificate from the CA; and the CA file."""
    now = datetime.now(UTC)
    ca_key = tls.generate_tls_key()
    hour, day = timedelta(hours=1), timedelta(days=1)
    ca = tls.issue_ca(ca_key, "Test CA", not_before=now - hour, not_after=now + day)
    ca_path = tmp / "ca.pem"
    ca_path.write_bytes(tls.cert_to_pem(ca))
    paths = {}
    for serial, name in enumerate(("server", "client"), start=1):
        key = tls.generate_tls_key()
        leaf = tls.issue_leaf(
            ca_key,
            ca,
            key.public_key(),
            unit_code=A,
            unit_name=name,
            serial=serial,
            hosts=["127.0.0.1"],
            not_before=now - hour,
            not_after=now + day,
        )
        paths[name] = (tmp / f"{name}.crt", tmp / f"{name}.key")
        paths[name][0].write_bytes(tls.cert_to_pem(leaf))
        paths[name][1].write_bytes(tls.key_to_pem(key))
    server = tls.server_context(*paths["server"], ca_path)
    server.verify_mode = ssl.CERT_OPTIONAL
    return server, tls.client_context(*paths["client"], ca_path), ca_path


@contextlib.asynccontextmanager
async def guarded(context: ssl.SSLContext, limits: EdgeLimits) -> AsyncIterator[GuardedSite]:
    """An app answering GET /ping behind a GuardedSite on a free port of 127.0.0.1."""

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    app = web.Application()
    app.router.add_get("/ping", ping)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, ssl_context=context, limits=limits)
    await site.start()
    try:
        yield site
    finally:
        await runner.cleanup()


async def test_a_silent_client_is_closed_after_the_handshake_timeout_and_its_slot_freed(
    tmp_path,
):
    """A client that connects and sends nothing holds its slot only until the handshake
    timeout: then the server closes the connection and the counts are back to zero."""
    server, _, _ = tls_contexts(tmp_path)
    async with guarded(server, EdgeLimits(8, 4, 4, 2, handshake_timeout=0.2)) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), BOUND) == b""
        writer.close()
        await eventually(lambda: site.counts.total_open == 0, "the slot given back")
        assert (site.counts.open, site.counts.unauthenticated) == ({}, {})


async def test_a_connection_without_a_certificate_counts_as_unauthenticated_until_it_closes(
    tmp_path,
):
    """A handshake with a client certificate ends the unauthenticated count of its
    connection; one without stays counted, so certificate-less callers cannot hold more
    than the per-address cap after their handshake either. Requests are served through
    the guard, and closing gives every slot back."""
    server, member, ca_path = tls_contexts(tmp_path)
    anonymous = ssl.create_default_context(cafile=str(ca_path))
    async with guarded(server, EdgeLimits(8, 4, 4, 1)) as site:
        url = f"https://127.0.0.1:{site.port}/ping"
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=member)) as with_cert,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=anonymous)) as without,
        ):
            for session in (with_cert, without):
                async with session.get(url) as response:
                    assert await response.text() == "pong"
            assert (site.counts.total_open, site.counts.total_unauthenticated) == (2, 1)
            with pytest.raises((aiohttp.ClientConnectionError, ssl.SSLError)):
                async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(ssl=anonymous)
                ) as second:
                    await second.get(url)
            assert site.counts.total_open == 2
        await eventually(lambda: site.counts.total_open == 0, "every slot given back")
        assert site.counts.total_unauthenticated == 0


FLOOD_SCRIPT = """
import socket, sys
sys.stdin.readline()  # "go"
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(int(sys.argv[2]))]
sys.stdin.readline()  # the test is done
"""


async def test_out_of_open_files_accept_errors_are_logged_once_and_accepting_resumes(
    tmp_path, caplog
):
    """With the open-file limit just above what the process holds, a flood (from another
    process) makes accept fail with EMFILE again and again: one log line, no busy loop
    (the socket is paused between tries), and once files are free every waiting
    connection is accepted."""
    caplog.set_level(logging.INFO)
    server, _, _ = tls_contexts(tmp_path)
    count = 40
    limits = EdgeLimits(1000, 1000, 1000, 1000, handshake_timeout=BOUND)  # none ends here
    async with guarded(server, limits) as site:
        # Started before the limit is lowered: its pipes take files of this process too.
        flood = await asyncio.create_subprocess_exec(
            sys.executable, "-c", FLOOD_SCRIPT, str(site.port), str(count), stdin=PIPE
        )
        assert flood.stdin is not None
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            held = len(os.listdir("/proc/self/fd"))
            resource.setrlimit(resource.RLIMIT_NOFILE, (held + 4, hard))
            try:
                flood.stdin.write(b"go\n")
                await flood.stdin.drain()
                await eventually(lambda: site.accept_errors >= 3, "accept failing repeatedly")
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            await eventually(lambda: site.counts.total_open == count, "every connection taken")
        finally:
            flood.stdin.close()
            await asyncio.wait_for(flood.wait(), BOUND)
    lines = [r for r in caplog.records if r.name == EDGE_LOGGER]
    assert len(lines) == 1
    assert "cannot accept" in lines[0].getMessage()
