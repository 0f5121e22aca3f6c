"""The clerk's login under a rate limit per source address (node.toml limits.login_*): over
it, 429 with Retry-After, and the login page saying when to try again."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from lienthong.node.context import NodeContext
from lienthong.node.metrics import metrics_of
from lienthong.node.ratelimit import address_key, retry_after
from lienthong.node.throttle import LOGIN_CLASS, RateLimits
from lienthong.node.web import auth
from lienthong.node.web.base import tr

LOGIN_ROUTE = "login_post"  # POST /login (node/web/__init__.py)


def login_rate_limit(ctx: NodeContext, *, clock: Callable[[], float] = time.monotonic):
    """The middleware; placed after the template context (the login page is rendered here)
    and the session middleware (which sets the clerk's language)."""
    limits = RateLimits(ctx.config, (LOGIN_CLASS,), clock=clock)
    limit = limits.buckets[LOGIN_CLASS].limit

    @web.middleware
    async def login_limit(request: web.Request, handler):
        route = request.match_info.route
        if request.method != "POST" or getattr(route, "name", None) != LOGIN_ROUTE:
            return await handler(request)
        wait = limits.take(LOGIN_CLASS, address_key(request.remote))
        if not wait:
            return await handler(request)
        metrics_of(ctx).rate_limited.labels(LOGIN_CLASS).inc()
        seconds = retry_after(wait)
        message = tr(request, "login.rate_limited", per_minute=limit.per_minute, seconds=seconds)
        response = await auth.login_page(request, error=message, status=429)
        response.headers["Retry-After"] = seconds
        return response

    return login_limit
