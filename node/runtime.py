"""A running node: opens its store and keys, serves the peer API, runs its background work.

`lienthong run` builds a Node and runs it until SIGTERM or Ctrl-C; tests
build the same Node on free ports of 127.0.0.1. Shutdown order: stop
accepting, let background tasks finish their current step, close the store
(nothing is half-written: every change is one SQLite transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from lienthong.bootstrap.directory import (
    DirectoryState,
    add_directory_routes,
    observe_peer_version,
    refresh_loop,
)
from lienthong.bootstrap.errors import FetchFailed
from lienthong.bootstrap.zeroconf_discovery import ZeroconfDiscovery
from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import fingerprint, fingerprint_matches
from lienthong.crypto.keystore import load_keys
from lienthong.node import config as cfg
from lienthong.node import memtrace, platform
from lienthong.node.config import WILDCARD_HOSTS
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.datadir import node_keys, passphrase_of, root_passphrase
from lienthong.node.edge import GuardedSite, peer_listener_limits
from lienthong.node.health import add_peer_healthz_route
from lienthong.node.logs import setup_from_environment
from lienthong.node.metrics import metrics_of
from lienthong.node.peers import peer_middleware
from lienthong.node.throttle import peer_rate_limits
from lienthong.node.tls_buffers import use_small_tls_buffers
from lienthong.node.unit.delivery import DeliveryEngine
from lienthong.node.unit.events import EVENT_SIGNAL
from lienthong.node.unit.peer_api import CONTENT_TYPE, add_peer_routes
from lienthong.node.uploads import upload_sweep_loop
from lienthong.storage.blobs import BlobStore
from lienthong.storage.db import unix_ms
from lienthong.storage.store_pg import open_store

log = logging.getLogger("lienthong.node")

MAX_PEER_REQUEST = 2 * 1024 * 1024  # envelopes are <= 1 MiB; blobs stream separately
# An idle peer connection is closed after this long (aiohttp's default is an hour): our
# own clients reuse a connection within seconds, and idle sockets held by a peer that
# never sends cost file descriptors (docs/SECURITY.md).
PEER_KEEPALIVE_SECONDS = 75.0
# The centre looks this often for a directory signed by the CLI (add-unit, revoke) and
# for one due to be re-signed: a revocation takes effect at the relay within seconds.
CENTRE_RESIGN_CHECK_SECONDS = 2
MAX_GOSSIP_REMEMBERED = 10_000  # (peer, versions) exchanges remembered, to try each once


class NodeError(LienthongError):
    """The node cannot start: a missing enrolment, an unusable port, a broken data directory."""


def root_public_key(config: cfg.Config) -> bytes:
    """The centre's root key: from keys/root.key on the centre, from the pinned CA elsewhere.

    A unit's tls/ca.pem was checked against the pinned fingerprint at enrolment: its key
    is the root key, or the root key endorses its key in the certificate
    (docs/FEDERATION.md, "TLS key algorithm").
    """
    if config.role == "centre":
        return load_keys(config.root_key_path, root_passphrase()).sign_public
    if not config.ca_path.is_file():
        raise NodeError(
            f"{config.data_dir} is not enrolled yet: run 'lienthong enrol --data-dir "
            f"{config.data_dir} --centre URL --fingerprint FP --token TOKEN'"
        )
    try:
        return tls.ca_root_key(tls.cert_from_pem(config.ca_path.read_bytes()))
    except LienthongError as exc:
        raise NodeError(f"{config.ca_path}: {exc}") from None


def server_ssl_context(config: cfg.Config) -> ssl.SSLContext:
    """The peer API's TLS context; a sealed keys/tls.key opens with keys.passphrase_env."""
    context = tls.server_context(
        config.tls_cert_path, config.tls_key_path, config.ca_path, passphrase_of(config)
    )
    if config.role == "centre":
        # Units without a certificate yet must reach /v1/ca and /v1/enrol; the
        # middleware still decides who is a peer (node/peers.py).
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_ssl_context(config: cfg.Config) -> ssl.SSLContext:
    """The TLS context of requests to peers and the centre (see server_ssl_context)."""
    return tls.client_context(
        config.tls_cert_path, config.tls_key_path, config.ca_path, passphrase_of(config)
    )


async def open_context(data_dir: Path, *, clock: Callable[[], int] = unix_ms) -> NodeContext:
    """Config, keys, store and cached directory of a data directory (close ctx.store after)."""
    config = cfg.load_config(data_dir)
    keys = node_keys(config)
    root = root_public_key(config)
    store = await open_store(
        config.store_path,
        database=config.get("centre", "database") if config.role == "centre" else "",
        synchronous=config.get("store", "synchronous"),
        clock=clock,
    )
    try:
        directory = await DirectoryState.load(store, root, clock)
    except BaseException:
        await store.close()
        raise
    return NodeContext(
        config=config,
        keys=keys,
        store=store,
        blobs=BlobStore(config.blob_dir),
        directory=directory,
        clock=clock,
    )


@contextlib.asynccontextmanager
async def context(data_dir: Path):
    """`async with context(D) as ctx`: for commands that work on a data directory."""
    ctx = await open_context(data_dir)
    try:
        yield ctx
    finally:
        await ctx.store.close()


class LanHints:
    """LAN addresses for the delivery engine: none until discovery has started (it takes a
    second or two to claim its name, and the node does not wait for it)."""

    def __init__(self) -> None:
        self.source: ZeroconfDiscovery | None = None

    def addresses(self, code: str) -> list[tuple[str, int]]:
        return self.source.addresses(code) if self.source is not None else []


class Node:
    """One node: its context, its peer API server and its background tasks."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        # Rate limits after the peer check: a verified unit is counted by its code (throttle).
        limits = peer_rate_limits(
            ctx.config, lambda c: metrics_of(ctx).rate_limited.labels(c).inc()
        )
        self.app = web.Application(
            middlewares=[peer_middleware, limits], client_max_size=MAX_PEER_REQUEST
        )
        self.app[CONTEXT] = ctx
        self.runner: web.AppRunner | None = None
        self.peer_site: GuardedSite | None = None
        self.session: aiohttp.ClientSession | None = None
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.peer_port: int | None = None
        self.engine: DeliveryEngine | None = None
        self.web_runner: web.AppRunner | None = None
        self.web_port: int | None = None
        self.discovery: ZeroconfDiscovery | None = None
        self.lan = LanHints()  # addresses from discovery once it has started
        self._gossip_seen: set[tuple[str, int, int]] = set()

    @classmethod
    async def open(cls, data_dir: Path, *, clock: Callable[[], int] = unix_ms) -> Node:
        ctx = await open_context(data_dir, clock=clock)
        try:
            node = cls(ctx)
            node._add_routes()
        except BaseException:
            await ctx.store.close()
            raise
        return node

    def _add_routes(self) -> None:
        add_peer_healthz_route(self.app)  # a load balancer's check (node/health.py)
        if self.ctx.config.role == "centre":
            from lienthong.node.centre.api import add_centre_routes
            from lienthong.node.centre.relay import add_relay_routes

            add_centre_routes(self.app)
            add_relay_routes(self.app)
            add_peer_routes(self.app, unit=False)
        else:
            add_directory_routes(self.app)
            add_peer_routes(self.app)

    async def start(self) -> None:
        config = self.ctx.config
        # 16 KiB TLS read buffers, not asyncio's 256 KiB per connection (node/tls_buffers.py):
        # set before any connection is made, for the listener's and the node's own alike.
        use_small_tls_buffers()
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_ssl_context(config)),
        )
        self.runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=PEER_KEEPALIVE_SECONDS,
        )
        await self.runner.setup()
        host, port = config.get("node", "listen").rsplit(":", 1)
        # Connection caps and the handshake timeout at accept (node/edge.py), not asyncio's server.
        site = self.peer_site = GuardedSite(
            self.runner,
            host,
            int(port),
            ssl_context=server_ssl_context(config),
            limits=peer_listener_limits(config),
            on_refused=lambda cap: metrics_of(self.ctx).connections_refused.labels(cap).inc(),
        )
        try:
            await site.start()
        except OSError as exc:
            await self.close()
            raise NodeError(
                f"cannot listen on {host}:{port} (node.listen): {exc.strerror}"
            ) from None
        self.peer_port = site.port
        self._spawn("upload sweep", upload_sweep_loop(self.ctx, self.stop_event))
        if config.role == "centre":
            from lienthong.node.centre.relay import sweep_loop

            self._spawn("directory re-signing", self._resign_loop())
            self._spawn("relay retention", sweep_loop(self.ctx, self.stop_event))
            await self._start_web(required=False)  # the centre's console (docs/OPERATIONS.md)
        else:
            from lienthong.node.unit.events import Webhooks
            from lienthong.node.unit.relay_client import pull_loop
            from lienthong.node.unit.renewal import renewal_loop
            from lienthong.node.unit.report import report_loop

            self._spawn("LAN discovery", self._start_discovery(host))
            self.engine = DeliveryEngine(
                self.ctx,
                self.session,
                discovery=self.lan,
                on_directory_version=self._on_directory_version,
            )
            refresh = refresh_loop(
                self.ctx.directory,
                self.session,
                self.stop_event,
                federation=self.ctx.config.federation,
            )
            self._spawn("directory refresh", refresh)
            self._spawn("delivery", self.engine.run(self.stop_event))
            self._spawn("relay pull", pull_loop(self.ctx, self.session, self.stop_event))
            self._spawn("unit report", report_loop(self.ctx, self.session, self.stop_event))
            self._spawn("certificate renewal", renewal_loop(self, self.stop_event))
            self._spawn("webhooks", Webhooks(self.ctx).run(self.stop_event))
            from lienthong.node.unit.pdf_verify import PdfVerifier

            # PDFs' digital signatures, checked as documents arrive (docs/SIGNATURES.md)
            self._spawn("pdf verification", PdfVerifier(self.ctx).run(self.stop_event))
            from lienthong.node.unit.gateway import Gateway, Spool

            if Spool.of(self.ctx).configured:  # node.toml [gateway], docs/GATEWAY.md
                self._spawn("gateway", Gateway(self.ctx).run(self.stop_event))
            await self._start_web()
        log.info("node %s listening on %s:%s", config.code, host, self.peer_port)

    async def _start_web(self, *, required: bool = True) -> None:
        """The clerks' page on node.web: plain HTTP, meant for 127.0.0.1 (docs/OPERATIONS.md).

        On the centre it is the operator's console, and a port in use only stops the
        console (`required=False`): the relay and the directory must keep serving.
        """
        from lienthong.node.web import create_web_app

        host, port = self.ctx.config.get("node", "web").rsplit(":", 1)
        self.web_runner = web.AppRunner(
            create_web_app(self.ctx), access_log=None, handle_signals=False
        )
        await self.web_runner.setup()
        site = web.TCPSite(self.web_runner, host, int(port))
        try:
            await site.start()
        except OSError as exc:
            message = f"cannot serve the web page on {host}:{port} (node.web): {exc.strerror}"
            if required:
                raise NodeError(message) from None
            log.warning("%s; the centre runs without its console", message)
            await self.web_runner.cleanup()
            self.web_runner = None
            return
        sockets = getattr(site._server, "sockets", None) or []
        self.web_port = sockets[0].getsockname()[1] if sockets else int(port)

    async def _start_discovery(self, host: str) -> None:
        config = self.ctx.config
        if not config.get("node", "discovery"):
            return
        everywhere = host in WILDCARD_HOSTS
        discovery = ZeroconfDiscovery(
            config.code,
            fingerprint(self.ctx.keys.sign_public),
            self.peer_port or 0,
            on_seen=self._seen,
            interfaces=None if everywhere else [host],
            addresses=None if everywhere else [host],
        )
        try:
            await discovery.start()
        except (OSError, LienthongError) as exc:
            log.warning("LAN discovery is off: %s", exc)
            return
        self.discovery = discovery
        self.lan.source = discovery

    def _seen(self, sighting) -> None:
        """A unit announced itself on the LAN: if its key is the directory's, retry it now."""
        directory = self.ctx.directory.current
        cert = directory.current(sighting.code) if directory else None
        if cert is None or not fingerprint_matches(cert.sign_key, sighting.fingerprint):
            return
        if self.engine is not None and sighting.code in self.engine.peers:
            self._spawn(f"retry {sighting.code}", self.engine.peer_seen(sighting.code))

    def _on_directory_version(self, base: str, advertised: int) -> None:
        """Gossip: fetch a newer directory from a peer, or hand ours to a peer that is behind."""
        mine = self.ctx.directory.version
        key = (base, advertised, mine)
        if advertised == mine or key in self._gossip_seen or self.session is None:
            return
        if len(self._gossip_seen) >= MAX_GOSSIP_REMEMBERED:
            self._gossip_seen.clear()
        self._gossip_seen.add(key)

        async def gossip() -> None:
            done = False
            try:
                if advertised > mine:
                    try:
                        done = await observe_peer_version(
                            self.ctx.directory, self.session, base, advertised
                        )
                    except FetchFailed as exc:  # the peer went away meanwhile: a later answer
                        log.info("could not fetch directory %d from %s: %s", advertised, base, exc)
                else:
                    done = await push_directory(self.session, base, self.ctx.directory.current.raw)
            finally:
                if not done:  # a failed exchange is tried again at the next answer
                    self._gossip_seen.discard(key)

        self._spawn(f"gossip with {base}", gossip())

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %r failed", name)

        self.tasks.append(asyncio.create_task(guarded(), name=name))

    async def _resign_loop(self) -> None:
        from lienthong.node.centre.rules import resign_if_due

        while not self.stop_event.is_set():
            await resign_if_due(self.ctx)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), CENTRE_RESIGN_CHECK_SECONDS)

    async def close(self) -> None:
        self.stop_event.set()
        if self.discovery is not None:
            await self.discovery.close()
            self.discovery = None
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for runner in (self.web_runner, self.runner):
            if runner is not None:
                await runner.cleanup()
        self.web_runner = self.runner = None
        if self.session is not None:
            await self.session.close()
            self.session = None
        if (signal := self.ctx.services.get(EVENT_SIGNAL)) is not None:
            signal.close()
        await self.ctx.store.close()

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def push_directory(session: aiohttp.ClientSession, base: str, raw: bytes) -> bool:
    """Hand our (newer) directory to a peer that advertised an older one; True when the
    exchange is over: taken, or refused for what it is (4xx: e.g. a version-1 peer cannot
    read directory form 2 and gets the version from the centre instead), so it is not pushed
    again at every answer. A server error or no answer is tried again later (False)."""
    try:
        async with session.post(
            f"{base}/v1/directory",
            data=raw,
            headers={"Content-Type": CONTENT_TYPE},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:
            if response.status >= 400:
                log.info("peer %s refused our directory: HTTP %s", base, response.status)
            return response.status < 500
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        log.info("could not hand our directory to %s: %s", base, exc)
        return False


async def run(data_dir: Path) -> None:
    """Run the node in the foreground until a stop signal (node/platform.py: SIGTERM or
    Ctrl-C; on Windows Ctrl-C or Ctrl-Break)."""
    setup_from_environment()  # LIENTHONG_LOG_FORMAT, LIENTHONG_LOG_LEVEL (docs/OPERATIONS.md)
    memtrace.fix_mmap_threshold()  # glibc: blocks of 2 MiB and more are their own mappings
    memtrace.start_from_environment()  # LIENTHONG_TRACEMALLOC: opt-in, off by default
    node = await Node.open(data_dir)
    stop = asyncio.Event()
    restore_signals = platform.on_stop_signal(stop.set)  # Windows: Ctrl-C or Ctrl-Break
    remove_snapshots = memtrace.install(node.ctx.config.data_dir)  # SIGUSR2, when tracing
    trimming = asyncio.create_task(memtrace.release_free_memory(stop))  # glibc's heaps' holes
    try:
        await node.start()
        print(
            f"lienthong: node {node.ctx.config.code} running; peer API on port {node.peer_port}",
            flush=True,
        )
        await stop.wait()
    finally:
        stop.set()
        await trimming
        remove_snapshots()
        restore_signals()
        await node.close()
        print("lienthong: stopped cleanly", flush=True)
