"""A TCP proxy between nodes for chaos tests: forwards bytes, and on command cuts, refuses or
stalls connections.

The proxy sees TLS records only; mutual TLS stays end to end between the nodes. All
proxies of a ProxyNetwork share one event loop in a background thread, so the test's
own threads can call their methods while the nodes run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

CHUNK = 64 * 1024  # bytes read at a time from either side
CALL_TIMEOUT = 30.0  # seconds a call from a test thread waits for the proxy's loop
UPSTREAM_CONNECT_TIMEOUT = 5.0  # seconds to reach the node behind the proxy

T = TypeVar("T")


@dataclass
class ProxyStats:
    connections: int = 0  # accepted and forwarded
    refused: int = 0  # reset at once while refusing
    cut: int = 0  # connections dropped by cut()
    stalls: int = 0  # stall() periods
    refusals: int = 0  # refuse() periods
    bytes: int = 0  # forwarded, both directions


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0): the peer sees 'connection reset', not an orderly end."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One client connection and the proxy's connection to the node behind it."""

    def __init__(self, seq: int, client: asyncio.StreamWriter) -> None:
        self.seq = seq  # order of arrival: cut() picks from links in this order
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None

    def _writers(self) -> list[asyncio.StreamWriter]:
        return [w for w in (self.client, self.upstream) if w is not None]

    def reset(self) -> None:
        for writer in self._writers():
            _reset(writer)

    def close(self) -> None:
        for writer in self._writers():
            writer.close()


class Proxy:
    """Listens on 127.0.0.1:`port` and forwards every connection to 127.0.0.1:`target_port`.

    Faults (each ends by itself after its period, or at `heal()`):
    - `cut()` drops current connections with a reset, mid-request if need be;
    - `refuse(seconds)` resets every new connection as soon as it is accepted (what a
      firewall's REJECT with tcp-reset looks like to the client); the listening socket
      stays bound, so no other process can take the port meanwhile;
    - `stall(seconds)` keeps accepting and reading but forwards nothing, in either
      direction, until the period ends; then the held bytes go on in order.
    Methods may be called from any thread.
    """

    def __init__(self, network: ProxyNetwork, name: str, target_port: int) -> None:
        self.network = network
        self.name = name
        self.target_port = target_port
        self.port = 0
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._seq = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- commands, from any thread -----------------------------------------------------------

    def cut(self, fraction: float = 1.0) -> int:
        """Reset current connections (a seeded random `fraction` of them); how many."""
        return self.network.call(self._cut(fraction))

    def refuse(self, seconds: float) -> None:
        self.network.call(self._refuse(seconds))

    def stall(self, seconds: float) -> None:
        self.network.call(self._stall(seconds))

    def heal(self) -> None:
        """End every fault now: accept and forward again."""
        self.network.call(self._heal())

    # -- on the loop -------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.reset()
        self._flowing.set()  # let held pumps see their closed sockets and end

    async def _cut(self, fraction: float) -> int:
        links = sorted(self._links, key=lambda link: link.seq)
        chosen = [link for link in links if self.network.random.random() < fraction]
        for link in chosen:
            link.reset()
        self.stats.cut += len(chosen)
        return len(chosen)

    async def _refuse(self, seconds: float) -> None:
        self._refusing = True
        self.stats.refusals += 1
        self._later("refuse", seconds, self._end_refusal)

    async def _stall(self, seconds: float) -> None:
        self._flowing.clear()
        self.stats.stalls += 1
        self._later("stall", seconds, self._flowing.set)

    async def _heal(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._refusing = False
        self._flowing.set()

    def _end_refusal(self) -> None:
        self._refusing = False

    def _later(self, what: str, seconds: float, end) -> None:
        """Schedule the end of a fault; a new fault of the same kind restarts its period."""
        old = self._timers.pop(what, None)
        if old is not None:
            old.cancel()
        self._timers[what] = asyncio.get_running_loop().call_later(seconds, end)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self.stats.refused += 1
            _reset(writer)
            return
        self._seq += 1
        link = _Link(self._seq, writer)
        self._links.add(link)
        try:
            try:
                up_reader, link.upstream = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", self.target_port),
                    UPSTREAM_CONNECT_TIMEOUT,
                )
            except (OSError, TimeoutError):  # the node is down: the client sees a reset
                link.reset()
                return
            self.stats.connections += 1
            pumps = {
                asyncio.create_task(self._pump(reader, link.upstream)),
                asyncio.create_task(self._pump(up_reader, writer)),
            }
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in pumps:
                    task.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
            if any(not t.cancelled() and t.exception() is not None for t in pumps):
                link.reset()  # one side was reset: pass that on to the other
            else:
                link.close()  # both sides ended their streams: an orderly close
        finally:
            self._links.discard(link)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy one direction until end of stream, holding the bytes while stalled; a reset
        on either side raises (OSError) and so ends the link."""
        while data := await source.read(CHUNK):
            await self._flowing.wait()
            sink.write(data)
            await sink.drain()
            self.stats.bytes += len(data)
        await self._flowing.wait()  # an end of stream is held too
        if sink.can_write_eof():
            sink.write_eof()


class ProxyNetwork:
    """The proxies of one test: a loop in a daemon thread and a seeded random source."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.proxies: dict[str, Proxy] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="proxy")
        self._thread.start()

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the proxies' loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_TIMEOUT)

    def add(self, name: str, target_port: int) -> Proxy:
        """A new proxy in front of 127.0.0.1:`target_port`, listening on a free port."""
        proxy = Proxy(self, name, target_port)
        self.call(proxy.start())
        self.proxies[name] = proxy
        return proxy

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.heal()

    def totals(self) -> ProxyStats:
        total = ProxyStats()
        for proxy in self.proxies.values():
            for field in vars(total):
                setattr(total, field, getattr(total, field) + getattr(proxy.stats, field))
        return total

    def close(self) -> None:
        """Reset every connection, end every task of the loop, then the loop and its thread."""

        async def close_all() -> None:
            for proxy in self.proxies.values():
                await proxy.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._loop.is_running():
            self.call(close_all())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CALL_TIMEOUT)
            self._loop.close()

    def __enter__(self) -> ProxyNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
