"""The peer listener's edge: caps on open connections and on unauthenticated ones, in total and
per source address, checked at accept before TLS allocates anything; a handshake timeout;
accept errors (out of open files) logged once per interval.

asyncio's own server accepts every connection and gives each an SSL object and its buffers
(some 300 KB) before anyone knows who calls, and waits 60 s for a silent client: an idle flood
from one address used up the open files and the memory of the node. Here the listening
socket is read by `GuardedSite` itself. Over a cap, the connection is reset at once; under
it, `loop.connect_accepted_socket` does the handshake with `TLS_HANDSHAKE_TIMEOUT_SECONDS`,
then aiohttp serves it. A connection counts as *unauthenticated* until its handshake ends
with a client certificate: on the centre, whose listener asks for one without requiring it,
an enrolling caller stays unauthenticated until it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

from aiohttp import web

from lienthong.node import platform
from lienthong.node.config import Config
from lienthong.node.ratelimit import OncePerInterval, address_key

log = logging.getLogger("lienthong.edge")

# A TLS 1.3 handshake is one or two round trips; 10 s covers a slow provincial link, and a
# silent client holds its slot no longer (asyncio's default is 60 s).
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10.0
# Connections accepted per wake-up of the listening socket before the loop serves others
# (asyncio accepts up to its backlog, 100, the same way).
ACCEPT_BATCH = 100
# After an accept error (out of open files or memory) the socket is left alone this long:
# the kernel keeps reporting it readable, and retrying at once would spin (asyncio: 1 s).
ACCEPT_RETRY_SECONDS = 1.0
# Each kind of edge event (connections refused over a cap, accept errors) is logged at most
# once in this interval, with the count of those not logged: a flood cannot flood the log.
LOG_INTERVAL_SECONDS = 60.0
# Open files kept out of the connection cap: the store and its WAL, blobs being written or
# read, the web page and its clients, outgoing deliveries (up to 16 destinations at once,
# with their blob uploads) and the relay pull.
FD_RESERVE = 256
# The soft open-file limit the node raises itself to, when the hard limit allows: systemd
# starts services at 1,024, which the connection cap and the reserve would exceed.
WANTED_OPEN_FILES = 65_536
# A connection refused at accept is reset (SO_LINGER 0): no FIN handshake, no TIME_WAIT
# left on this side for each of a flood's connections.
_RESET = struct.pack("ii", 1, 0)
CAPS = (
    "max_connections",
    "max_connections_per_address",
    "max_handshakes",
    "max_handshakes_per_address",
)


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """The caps of the peer listener ([limits] in node.toml) and the handshake timeout."""

    max_connections: int
    max_connections_per_address: int
    max_handshakes: int
    max_handshakes_per_address: int
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT_SECONDS

    @classmethod
    def from_config(cls, config: Config) -> EdgeLimits:
        return cls(*(config.get("limits", cap) for cap in CAPS))

    def fitted(self, open_files: int) -> EdgeLimits:
        """These caps, lowered so that the connections and FD_RESERVE fit in `open_files`."""
        room = max(1, open_files - FD_RESERVE)
        if self.max_connections <= room:
            return self
        return replace(
            self,
            max_connections=room,
            max_connections_per_address=min(self.max_connections_per_address, room),
            max_handshakes=min(self.max_handshakes, room),
            max_handshakes_per_address=min(self.max_handshakes_per_address, room),
        )


def raise_open_files_limit(wanted: int = WANTED_OPEN_FILES) -> int:
    """Raise the soft open-file limit towards `wanted` (never above the hard limit, never
    down); the soft limit in force after (node/platform.py: Windows has none)."""
    return platform.raise_open_files_limit(wanted)


class EdgeCounts:
    """Connections held per source address: open ones and unauthenticated ones."""

    def __init__(self, limits: EdgeLimits) -> None:
        self.limits = limits
        self.open: dict[str, int] = {}
        self.unauthenticated: dict[str, int] = {}
        # Totals kept beside the per-address counts: `over` runs for every accepted socket.
        self.total_open = 0
        self.total_unauthenticated = 0

    def over(self, address: str) -> str | None:
        """The cap a new connection from `address` would pass, or None."""
        limits = self.limits
        if self.total_open >= limits.max_connections:
            return "max_connections"
        if self.open.get(address, 0) >= limits.max_connections_per_address:
            return "max_connections_per_address"
        if self.total_unauthenticated >= limits.max_handshakes:
            return "max_handshakes"
        if self.unauthenticated.get(address, 0) >= limits.max_handshakes_per_address:
            return "max_handshakes_per_address"
        return None

    def take(self, address: str) -> Slot:
        _add(self.open, address, 1)
        _add(self.unauthenticated, address, 1)
        self.total_open += 1
        self.total_unauthenticated += 1
        return Slot(self, address)

    def _authenticated(self, address: str) -> None:
        _add(self.unauthenticated, address, -1)
        self.total_unauthenticated -= 1

    def _closed(self, address: str) -> None:
        _add(self.open, address, -1)
        self.total_open -= 1


def _add(counts: dict[str, int], key: str, delta: int) -> None:
    value = counts.get(key, 0) + delta
    if value:
        counts[key] = value
    else:
        del counts[key]  # an address without connections costs nothing


class Slot:
    """One admitted connection's place in the counts; each part is given back once."""

    __slots__ = ("_counts", "_open", "_unauthenticated", "address")

    def __init__(self, counts: EdgeCounts, address: str) -> None:
        self._counts = counts
        self.address = address
        self._unauthenticated = self._open = True

    def authenticated(self) -> None:
        """The handshake ended with a client certificate."""
        if self._unauthenticated:
            self._unauthenticated = False
            self._counts._authenticated(self.address)

    def release(self) -> None:
        """The connection is closed (or never got past its handshake)."""
        self.authenticated()
        if self._open:
            self._open = False
            self._counts._closed(self.address)


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, giving its slot back when the connection ends."""

    __slots__ = ("_inner", "_slot")

    def __init__(self, inner: asyncio.Protocol, slot: Slot) -> None:
        self._inner = inner
        self._slot = slot

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            self._slot.release()


class GuardedSite(web.BaseSite):
    """An HTTPS site for an aiohttp runner whose listening sockets it accepts on itself,
    under EdgeLimits; `on_refused(cap)` is told of each connection refused at accept."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None,
        port: int,
        *,
        ssl_context: ssl.SSLContext,
        limits: EdgeLimits,
        on_refused: Callable[[str], None] = lambda cap: None,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host.strip("[]") if host else None  # "[::]" as written in node.listen
        self._port = port
        self.limits = limits
        self.counts = EdgeCounts(limits)
        self._on_refused = on_refused
        self._sockets: list[socket.socket] = []
        self._paused: dict[int, asyncio.TimerHandle] = {}
        self._handshakes: set[asyncio.Task[None]] = set()
        self._refusals = OncePerInterval(LOG_INTERVAL_SECONDS)
        self._accept_errors = OncePerInterval(LOG_INTERVAL_SECONDS)
        self.accept_errors = 0  # accept calls that failed (out of open files, ...), for tests

    @property
    def name(self) -> str:
        return f"https://{self._host or '0.0.0.0'}:{self.port}"  # noqa: S104 - a display name

    @property
    def port(self) -> int:
        """The bound port (the one asked for until started)."""
        return self._sockets[0].getsockname()[1] if self._sockets else self._port

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        bound: set[tuple[int, object]] = set()
        for family, kind, proto, _name, address in infos:
            if (family, address) in bound:
                continue
            bound.add((family, address))
            sock = socket.socket(family, kind, proto)
            self._sockets.append(sock)
            platform.bind_options(sock)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(self._backlog)
            sock.setblocking(False)
        for sock in self._sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for handle in self._paused.values():
            handle.cancel()
        self._paused.clear()
        for sock in self._sockets:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
        for task in self._handshakes:
            task.cancel()
        await asyncio.gather(*self._handshakes, return_exceptions=True)
        await super().stop()

    # -- accepting ------------------------------------------------------------------------

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, peer = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the caller gave up while it waited in the backlog
            except OSError as exc:
                self._accept_failed(sock, exc)
                return
            self._admit(conn, peer)

    def _accept_failed(self, sock: socket.socket, exc: OSError) -> None:
        """Out of open files (EMFILE, ENFILE) or memory: pause this socket for a while."""
        self.accept_errors += 1
        suppressed = self._accept_errors.due()
        if suppressed is not None:
            log.error(
                "the peer listener cannot accept: %s; it tries again every %.0f s "
                "(%d more such errors since the last report)",
                exc,
                ACCEPT_RETRY_SECONDS,
                suppressed,
            )
        loop = asyncio.get_running_loop()
        fd = sock.fileno()
        loop.remove_reader(fd)
        self._paused[fd] = loop.call_later(ACCEPT_RETRY_SECONDS, self._resume, sock)

    def _resume(self, sock: socket.socket) -> None:
        self._paused.pop(sock.fileno(), None)
        if sock in self._sockets:
            asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)

    def _admit(self, conn: socket.socket, peer: tuple) -> None:
        address = address_key(peer[0] if peer else None)
        cap = self.counts.over(address)
        if cap is not None:
            self._refuse(conn, address, cap)
            return
        conn.setblocking(False)
        slot = self.counts.take(address)
        task = asyncio.get_running_loop().create_task(self._handshake(conn, slot))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    def _refuse(self, conn: socket.socket, address: str, cap: str) -> None:
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        conn.close()
        self._on_refused(cap)
        suppressed = self._refusals.due()
        if suppressed is not None:
            log.warning(
                "peer listener: refused a connection from %s at accept, over limits.%s = %d "
                "(%d more refused since the last report)",
                address,
                cap,
                getattr(self.limits, cap),
                suppressed,
            )

    async def _handshake(self, conn: socket.socket, slot: Slot) -> None:
        server = self._runner.server
        assert server is not None  # the runner is set up before a site starts

        def protocol() -> asyncio.Protocol:
            return _Counted(server(), slot)

        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.connect_accepted_socket(
                protocol,
                conn,
                ssl=self._ssl_context,
                ssl_handshake_timeout=self.limits.handshake_timeout,
            )
        except BaseException as exc:
            # A failed or timed-out handshake is routine on a listener others can reach.
            slot.release()
            conn.close()
            if not isinstance(exc, Exception):
                raise
            log.debug("TLS handshake from %s failed: %s", slot.address, exc)
            return
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.getpeercert(binary_form=True):
            slot.authenticated()


def peer_listener_limits(config: Config) -> EdgeLimits:
    """The caps of node.toml [limits], lowered (with a warning) to fit the open files this
    process may hold, after raising its soft limit as far as allowed."""
    wanted = EdgeLimits.from_config(config)
    open_files = raise_open_files_limit()
    limits = wanted.fitted(open_files)
    if limits != wanted:
        log.warning(
            "limits.max_connections = %d does not fit in %d open files (%d kept for the "
            "store, blobs and deliveries): using %d; raise LimitNOFILE "
            "(the service file: lienthong examples)",
            wanted.max_connections,
            open_files,
            FD_RESERVE,
            limits.max_connections,
        )
    return limits
