"""LAN discovery behind one interface: sightings, the announcement's TXT format, and a fake.

What discovery finds are hints only. An address read from the LAN says where a
unit's peer API might listen; mutual TLS against the federation's CA and the
envelope signatures checked against the directory still decide who a peer is.
A forged announcement can at worst make a node try a wrong address first.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lienthong.bootstrap.errors import BootstrapError
from lienthong.crypto.errors import KeystoreError
from lienthong.crypto.keys import normalise_fingerprint
from lienthong.protocol.errors import InvalidField
from lienthong.protocol.units import check_wire_code
from lienthong.storage.db import unix_ms

logger = logging.getLogger(__name__)

# DNS-SD service type (RFC 6763 section 7) under which every node announces its peer API.
SERVICE_TYPE = "_lienthong._tcp.local."
# Version of the TXT layout below; announcements of another version are ignored.
TXT_VERSION = "1"
# A sighting older than this is no longer offered as an address. Live peers are
# re-resolved every few minutes (zeroconf_discovery.REFRESH_INTERVAL_S), so this
# only drops units that vanished without a goodbye packet.
SIGHTING_TTL_MS = 15 * 60 * 1000
# Our TXT record is about 90 bytes (code, fingerprint, version); RFC 6763
# section 6.2 advises under 1300. Anything far larger is not one of ours.
MAX_TXT_BYTES = 512
# We send three keys; a few more leave room for later versions without
# accepting a record stuffed with keys.
MAX_TXT_KEYS = 8
# A host has a handful of interfaces; a longer list is not a real node's.
MAX_ADDRESSES_PER_ANNOUNCEMENT = 16
# Addresses kept per unit: a node on two or three networks, plus a move.
MAX_ADDRESSES_PER_UNIT = 8
# Units remembered at once. A province has a few hundred units and a LAN far
# fewer; the cap keeps a flood of forged announcements from growing memory.
MAX_UNITS_REMEMBERED = 4096


class BadAnnouncement(BootstrapError):
    """A service announcement read from the LAN is not a valid lienthong announcement."""


@dataclass(frozen=True)
class Sighting:
    """A unit seen on the LAN: its code and identity-key fingerprint as announced,
    the host and port of its peer API, and when it was seen (Unix ms)."""

    code: str
    fingerprint: str
    host: str
    port: int
    seen_at: int


@runtime_checkable
class Discovery(Protocol):
    """Finds other units' peer API addresses on the LAN and announces this node's."""

    on_seen: Callable[[Sighting], None] | None

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def addresses(self, code: str) -> list[tuple[str, int]]:
        """LAN hints for `code`, newest first, without sightings older than SIGHTING_TTL_MS."""
        ...


def announcement_properties(code: str, fingerprint: str) -> dict[str, str]:
    """The TXT properties this node announces; refuses a code or fingerprint we could not parse."""
    try:
        code = _check_code(code)
        fingerprint = normalise_fingerprint(fingerprint)
    except (InvalidField, KeystoreError) as exc:
        raise BadAnnouncement(f"cannot announce: {exc}") from exc
    return {"code": code, "fp": fingerprint, "v": TXT_VERSION}


def parse_announcement(
    properties: Mapping[bytes, bytes | None],
    addresses: Sequence[str],
    port: int | None,
    seen_at: int,
) -> list[Sighting]:
    """The sightings an announcement stands for, one per address; raises BadAnnouncement.

    `properties` are the decoded TXT key/value pairs, `addresses` the announced
    IPv4 addresses as text, `port` the SRV port.
    """
    if len(properties) > MAX_TXT_KEYS:
        raise BadAnnouncement(f"TXT has {len(properties)} keys, over the limit of {MAX_TXT_KEYS}")
    size = sum(1 + len(k) + (0 if v is None else 1 + len(v)) for k, v in properties.items())
    if size > MAX_TXT_BYTES:
        raise BadAnnouncement(f"TXT is {size} bytes, over the limit of {MAX_TXT_BYTES}")
    version = _txt_text(properties, "v")
    if version != TXT_VERSION:
        raise BadAnnouncement(f"TXT 'v' is {version[:16]!r}, expected {TXT_VERSION!r}")
    try:
        code = _check_code(_txt_text(properties, "code"))
        fingerprint = normalise_fingerprint(_txt_text(properties, "fp"))
    except (InvalidField, KeystoreError) as exc:
        raise BadAnnouncement(f"TXT: {exc}") from exc
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadAnnouncement(f"port {port!r} is not in 1..65535")
    if not addresses:
        raise BadAnnouncement("no IPv4 address announced")
    if len(addresses) > MAX_ADDRESSES_PER_ANNOUNCEMENT:
        raise BadAnnouncement(
            f"{len(addresses)} addresses announced, over the limit of "
            f"{MAX_ADDRESSES_PER_ANNOUNCEMENT}"
        )
    hosts = list(dict.fromkeys(_check_ipv4(a) for a in addresses))
    return [Sighting(code, fingerprint, host, port, seen_at) for host in hosts]


def _check_code(code: str) -> str:
    return check_wire_code(code, "announcement", "code")


def _txt_text(properties: Mapping[bytes, bytes | None], key: str) -> str:
    value = properties.get(key.encode("ascii"))
    if value is None:
        raise BadAnnouncement(f"TXT has no value for {key!r}")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise BadAnnouncement(f"TXT {key!r} is not ASCII") from None


_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _check_ipv4(text: str) -> str:
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise BadAnnouncement(f"address {text[:64]!r} is not an IPv4 address") from None
    if address.is_unspecified or address.is_multicast or address == _BROADCAST:
        raise BadAnnouncement(f"address {text} cannot be connected to")
    return str(address)


class SightingTable:
    """Recent sightings per unit, bounded in units and addresses per unit."""

    def __init__(self, ttl_ms: int = SIGHTING_TTL_MS) -> None:
        self.ttl_ms = ttl_ms
        self._units: dict[str, dict[tuple[str, int], Sighting]] = {}

    def record(self, sighting: Sighting) -> bool:
        """Store a sighting; True if the unit was not live at that address before."""
        entries = self._units.setdefault(sighting.code, {})
        self._expire(entries, sighting.seen_at)
        key = (sighting.host, sighting.port)
        new = key not in entries
        entries[key] = sighting
        while len(entries) > MAX_ADDRESSES_PER_UNIT:
            del entries[min(entries, key=lambda k: entries[k].seen_at)]
        if len(self._units) > MAX_UNITS_REMEMBERED:
            stalest = min(
                self._units, key=lambda c: max(s.seen_at for s in self._units[c].values())
            )
            del self._units[stalest]
        return new

    def forget(self, code: str) -> None:
        self._units.pop(code, None)

    def clear(self) -> None:
        self._units.clear()

    def addresses(self, code: str, now: int) -> list[tuple[str, int]]:
        entries = self._units.get(code)
        if not entries:
            return []
        self._expire(entries, now)
        if not entries:
            del self._units[code]
        newest_first = sorted(entries.values(), key=lambda s: s.seen_at, reverse=True)
        return [(s.host, s.port) for s in newest_first]

    def _expire(self, entries: dict[tuple[str, int], Sighting], now: int) -> None:
        for key in [k for k, s in entries.items() if now - s.seen_at > self.ttl_ms]:
            del entries[key]


def notify(on_seen: Callable[[Sighting], None] | None, sighting: Sighting) -> None:
    """Call on_seen, logging rather than raising so a bad callback cannot stop discovery."""
    if on_seen is None:
        return
    try:
        on_seen(sighting)
    except Exception:
        logger.exception("discovery: on_seen callback failed for %s", sighting.code)


class FakeDiscovery:
    """Discovery driven by the test: `announce` a sighting, `forget` a unit."""

    def __init__(
        self,
        on_seen: Callable[[Sighting], None] | None = None,
        *,
        clock: Callable[[], int] = unix_ms,
        ttl_ms: int = SIGHTING_TTL_MS,
    ) -> None:
        self.on_seen = on_seen
        self.clock = clock
        self.started = False
        self.closed = False
        self._table = SightingTable(ttl_ms)

    async def __aenter__(self) -> FakeDiscovery:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True
        self._table.clear()

    def announce(self, sighting: Sighting) -> None:
        """As if `sighting` had been resolved on the LAN; calls on_seen if it is new."""
        if self._table.record(sighting):
            notify(self.on_seen, sighting)

    def forget(self, code: str) -> None:
        """As if the unit had sent its goodbye."""
        self._table.forget(code)

    def addresses(self, code: str) -> list[tuple[str, int]]:
        return self._table.addresses(code, self.clock())
