"""Rate limits on the peer listener: one middleware counting each request against the limit of
its route class, per verified unit or per source address, answering 429 with Retry-After.

Route classes: `relay` (/v1/relay/...) and `peer` (every other route: inbox, blobs, the
directory, the centre API) for a verified unit (node/peers.py), counted by its unit code;
`enrol` (/v1/ca, /v1/enrol: callers without a certificate yet) and `stranger` (anyone
else) counted by source address. A unit behind the same address as others keeps its own
bucket: offices of one building, or every unit of the demo on 127.0.0.1, do not share one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web

from lienthong.node.config import Config
from lienthong.node.peers import PEER
from lienthong.node.ratelimit import Limit, OncePerInterval, TokenBuckets, address_key, retry_after

log = logging.getLogger("lienthong.limits")

RATE_LIMITED = "RateLimited"  # the error name of a 429 (docs/PROTOCOL.md 16.3)
PEER_CLASS, RELAY_CLASS, ENROL_CLASS, STRANGER_CLASS = "peer", "relay", "enrol", "stranger"
LOGIN_CLASS = "login"  # the clerk's POST /login, on the web page (node/web/throttle.py)
ROUTE_CLASSES = (PEER_CLASS, RELAY_CLASS, ENROL_CLASS, STRANGER_CLASS, LOGIN_CLASS)
RELAY_PREFIX = "/v1/relay/"
ENROL_PATHS = frozenset({"/v1/ca", "/v1/enrol"})
# Requests over a limit are logged at most once in this interval per route class, with the
# count of those not logged (the refusals are counted in /metrics one by one).
LOG_INTERVAL_SECONDS = 60.0


def limit_of(config: Config, route_class: str) -> Limit:
    """The limit of a route class from node.toml [limits]."""
    return Limit(
        route_class,
        per_minute=config.get("limits", f"{route_class}_per_minute"),
        burst=config.get("limits", f"{route_class}_burst"),
    )


class RateLimits:
    """The buckets of some route classes, and when to log a refusal of each."""

    def __init__(
        self,
        config: Config,
        classes: tuple[str, ...],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.buckets = {c: TokenBuckets(limit_of(config, c), clock=clock) for c in classes}
        self._logged = {c: OncePerInterval(LOG_INTERVAL_SECONDS, clock=clock) for c in classes}

    def take(self, route_class: str, key: str) -> float:
        """0.0 if `key` may go on; else the seconds to wait, the refusal logged if due."""
        wait = self.buckets[route_class].take(key)
        if wait:
            suppressed = self._logged[route_class].due()
            if suppressed is not None:
                limit = self.buckets[route_class].limit
                log.warning(
                    "%s is over the %s limit (%d a minute, %d at once): answered 429 "
                    "(%d more such answers since the last report)",
                    key,
                    route_class,
                    limit.per_minute,
                    limit.burst,
                    suppressed,
                )
        return wait


def describe(limit: Limit, key: str, wait: float) -> str:
    return (
        f"{key} is over the {limit.name} limit of {limit.per_minute} requests a minute "
        f"({limit.burst} at once): retry after {retry_after(wait)} s"
    )


def too_many_requests(limit: Limit, key: str, wait: float) -> web.Response:
    """The 429 of the peer listener: JSON naming the limit, and Retry-After in seconds."""
    response = web.json_response(
        {"error": RATE_LIMITED, "message": describe(limit, key, wait), "limit": limit.name},
        status=429,
    )
    response.headers["Retry-After"] = retry_after(wait)
    return response


def route_class(request: web.Request) -> tuple[str, str]:
    """(route class, key) of a request that went through the peer middleware."""
    if request.path in ENROL_PATHS:
        return ENROL_CLASS, address_key(request.remote)
    peer = request.get(PEER)
    if peer is None:
        return STRANGER_CLASS, address_key(request.remote)
    return (RELAY_CLASS if request.path.startswith(RELAY_PREFIX) else PEER_CLASS), peer


def peer_rate_limits(
    config: Config,
    on_refused: Callable[[str], None] = lambda route_class: None,
    *,
    clock: Callable[[], float] = time.monotonic,
):
    """The middleware of the peer listener; placed after node/peers.py's peer_middleware,
    which names the caller and puts the directory version on the 429 too."""
    limits = RateLimits(config, (PEER_CLASS, RELAY_CLASS, ENROL_CLASS, STRANGER_CLASS), clock=clock)

    @web.middleware
    async def rate_limits(request: web.Request, handler):
        name, key = route_class(request)
        wait = limits.take(name, key)
        if wait:
            on_refused(name)
            return too_many_requests(limits.buckets[name].limit, key, wait)
        return await handler(request)

    return rate_limits
