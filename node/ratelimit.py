"""Token buckets with named limits: how often one caller (a unit, an address) may ask.

Pure: no I/O, no event loop; the clock is injected (monotonic seconds), so tests
step time instead of sleeping. One `TokenBuckets` holds the buckets of one limit,
a bucket per key, at most `max_keys` of them: the least recently used is
forgotten first, so a flood of new keys costs bounded memory, and a forgotten
key starts again with a full bucket (it never makes anyone wait longer).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Buckets kept per limit: far more units than a province has (a few hundred), and
# enough source addresses for an office LAN; each bucket is a few dozen bytes.
MAX_TRACKED_KEYS = 10_000
# An IPv6 host is given a /64; counting its addresses one by one would let one
# machine be 2^64 callers (RFC 4291 2.5.1: the interface id is the last 64 bits).
IPV6_PREFIX = 64


@dataclass(frozen=True, slots=True)
class Limit:
    """A named rate: `per_minute` requests refill the bucket, `burst` is its size."""

    name: str
    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.burst < 1:
            raise ValueError(f"limit {self.name}: per_minute and burst must be at least 1")


class TokenBuckets:
    """The buckets of one limit, one per key; `take(key)` spends a token or says how long
    to wait for one."""

    def __init__(
        self,
        limit: Limit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_TRACKED_KEYS,
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._rate = limit.per_minute / 60.0  # tokens per second
        # key -> (tokens left, when they were counted); oldest use first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """0.0 when `key` may go on (one token spent); else the seconds until it may."""
        now = self._clock()
        tokens, then = self._buckets.pop(key, (float(self.limit.burst), now))
        tokens = min(float(self.limit.burst), tokens + max(0.0, now - then) * self._rate)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self._rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    """The `Retry-After` value for a wait: whole seconds (RFC 9110 10.2.3), at least 1."""
    return str(max(1, math.ceil(wait)))


def address_key(host: str | None) -> str:
    """The key of a source address: the address itself for IPv4 (an IPv4-mapped IPv6
    address counts as its IPv4 address), the /64 network for IPv6; other text as is."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


class OncePerInterval:
    """Whether to log an event that may come in floods: once per `interval` seconds."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._suppressed = 0

    def due(self) -> int | None:
        """For one event: None if it is not to be logged; else how many were not since the
        last one that was."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            self._suppressed += 1
            return None
        suppressed, self._suppressed, self._last = self._suppressed, 0, now
        return suppressed
