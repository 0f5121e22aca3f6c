"""Discovery over multicast DNS: announce this node's peer API and browse for other units'.

Addresses found here are hints only: mutual TLS and envelope signatures still
decide who a peer is (see bootstrap.discovery). Everything read from the LAN is
validated by bootstrap.discovery.parse_announcement; bad announcements are
logged at debug level and ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from lienthong.bootstrap.discovery import (
    MAX_ADDRESSES_PER_ANNOUNCEMENT,
    MAX_UNITS_REMEMBERED,
    SERVICE_TYPE,
    SIGHTING_TTL_MS,
    BadAnnouncement,
    Sighting,
    SightingTable,
    announcement_properties,
    notify,
    parse_announcement,
)
from lienthong.storage.db import unix_ms

logger = logging.getLogger(__name__)

# How long one resolution waits for answers; mDNS answers on a LAN take
# milliseconds, and a silent responder should not hold a slot for long.
RESOLVE_TIMEOUT_MS = 3000
# Resolutions in flight at once: a LAN announcing hundreds of new names at
# once is either huge or hostile; the rest wait for the next refresh.
MAX_PENDING_RESOLUTIONS = 64
# Known names are re-resolved this often (from zeroconf's cache while its
# records live), so live peers stay fresher than SIGHTING_TTL_MS.
REFRESH_INTERVAL_S = SIGHTING_TTL_MS / 1000 / 3


def instance_name(code: str) -> str:
    """The DNS-SD instance name of a unit: its code with dots as dashes, under SERVICE_TYPE."""
    return f"lienthong-{code.replace('.', '-')}.{SERVICE_TYPE}"


def lan_ipv4_addresses() -> list[str]:
    """This host's non-loopback IPv4 addresses, the ones worth announcing on a LAN."""
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not str(ip.ip).startswith("127.")
    ]
    return list(dict.fromkeys(found))[:MAX_ADDRESSES_PER_ANNOUNCEMENT]


class ZeroconfDiscovery:
    """Announces `_lienthong._tcp.local.` for this unit and keeps sightings of the others."""

    def __init__(
        self,
        code: str,
        fingerprint: str,
        port: int,
        *,
        on_seen: Callable[[Sighting], None] | None = None,
        interfaces: Sequence[str] | None = None,
        addresses: Sequence[str] | None = None,
        clock: Callable[[], int] = unix_ms,
        ttl_ms: int = SIGHTING_TTL_MS,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
        resolve_timeout_ms: int = RESOLVE_TIMEOUT_MS,
    ) -> None:
        """`interfaces`: IPv4 addresses to run mDNS on (None: all interfaces).
        `addresses`: IPv4 addresses announced for the peer API (None: the
        interfaces given, or every non-loopback IPv4 address of the host)."""
        self.properties = announcement_properties(code, fingerprint)
        self.code = self.properties["code"]
        if not 1 <= port <= 65535:
            raise BadAnnouncement(f"cannot announce: port {port} is not in 1..65535")
        self.port = port
        self.on_seen = on_seen
        self.interfaces = list(interfaces) if interfaces is not None else None
        self.announced = list(addresses) if addresses is not None else None
        self.clock = clock
        self.refresh_interval_s = refresh_interval_s
        self.resolve_timeout_ms = resolve_timeout_ms
        self._table = SightingTable(ttl_ms)
        self._names: dict[str, str] = {}  # instance name -> unit code it announced
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._aiozc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._own_name: str | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._closing = False

    async def __aenter__(self) -> ZeroconfDiscovery:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Open the mDNS sockets, announce, browse. Raises OSError if the sockets cannot bind."""
        self._closing = False
        self._aiozc = AsyncZeroconf(
            interfaces=self.interfaces if self.interfaces is not None else InterfaceChoice.All,
            ip_version=IPVersion.V4Only,
        )
        try:
            await self._announce()
            self._browser = AsyncServiceBrowser(
                self._aiozc.zeroconf, [SERVICE_TYPE], handlers=[self._on_change]
            )
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Withdraw the announcement, stop browsing and resolving, close the sockets."""
        self._closing = True
        tasks = [t for t in (self._refresher, *self._pending.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._refresher = None
        self._pending.clear()
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._aiozc is not None:
            if self._info is not None:
                await (await self._aiozc.async_unregister_service(self._info))
            await self._aiozc.async_close()
        self._aiozc = None
        self._info = None
        self._own_name = None
        self._names.clear()
        self._table.clear()

    def addresses(self, code: str) -> list[tuple[str, int]]:
        return self._table.addresses(code, self.clock())

    async def _announce(self) -> None:
        assert self._aiozc is not None
        hosts = self.announced
        if hosts is None:
            hosts = self.interfaces if self.interfaces is not None else lan_ipv4_addresses()
        if not hosts:
            logger.info("discovery: no IPv4 address to announce; browsing only")
            return
        name = instance_name(self.code)
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            name,
            port=self.port,
            properties=self.properties,
            server=name.removesuffix(SERVICE_TYPE) + "local.",
            parsed_addresses=list(hosts)[:MAX_ADDRESSES_PER_ANNOUNCEMENT],
        )
        # allow_name_change: a node restarted before its old records expired
        # (or a second node claiming the same code) still gets announced.
        await (await self._aiozc.async_register_service(self._info, allow_name_change=True))
        self._own_name = self._info.name

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        # Called synchronously by the browser in the event loop; resolution is scheduled.
        if self._closing or name == self._own_name:
            return
        if state_change is ServiceStateChange.Removed:
            code = self._names.pop(name, None)
            if code is not None:
                self._table.forget(code)
            return
        self._resolve(name)

    def _resolve(self, name: str) -> None:
        if self._closing or name in self._pending:
            return
        if len(self._pending) >= MAX_PENDING_RESOLUTIONS:
            logger.debug(
                "discovery: %d resolutions in flight, skipping %r", len(self._pending), name
            )
            return
        task = asyncio.get_running_loop().create_task(self._resolve_now(name))
        self._pending[name] = task
        task.add_done_callback(lambda _: self._pending.pop(name, None))

    async def _resolve_now(self, name: str) -> None:
        assert self._aiozc is not None
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(self._aiozc.zeroconf, self.resolve_timeout_ms):
            logger.debug("discovery: %r did not resolve", name)
            return
        try:
            sightings = parse_announcement(
                info.properties or {},
                info.parsed_addresses(IPVersion.V4Only),
                info.port,
                self.clock(),
            )
        except BadAnnouncement as exc:
            logger.debug("discovery of %s: ignoring %r: %s", self.code, name, exc)
            return
        code = sightings[0].code
        if code == self.code:
            logger.debug("discovery of %s: ignoring %r: it announces our own code", self.code, name)
            return
        if name not in self._names and len(self._names) >= MAX_UNITS_REMEMBERED:
            logger.debug("discovery: %d names known, ignoring %r", len(self._names), name)
            return
        self._names[name] = code
        for sighting in sightings:
            if self._table.record(sighting):
                notify(self.on_seen, sighting)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval_s)
            for name in list(self._names):
                self._resolve(name)
