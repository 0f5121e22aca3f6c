"""The console's URL patterns and lazy handlers: a unit's web app routes /centre without
importing the console (or the centre's rules and store) until a request asks for it."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from lienthong.protocol.text import pattern

# A unit code in a URL: the wire shape's characters (protocol/units.py), at most 32.
UNIT_CODE = pattern("unit code in a URL", "[0-9A-Za-z.]{1,32}", "000.00.05.H53")
ACTIONS = ("revoke", "token", "approve")
ACTION = pattern("console action in a URL", "|".join(ACTIONS), "approve")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def lazy(module: str, name: str) -> Handler:
    """The handler `name` of lienthong.node.web.console.`module`, imported at its first call."""

    async def handler(request: web.Request) -> web.StreamResponse:
        found = importlib.import_module(f"lienthong.node.web.console.{module}")
        return await getattr(found, name)(request)

    handler.__name__ = name
    return handler
