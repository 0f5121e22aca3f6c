"""The console's URL patterns and lazy handlers: a unit's web app routes /centre without
importing the console (or the centre's rules and store) until a request asks for it."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from lienthong.node.context import NodeContext
from lienthong.node.web.base import can, render
from lienthong.protocol.text import pattern
from lienthong.storage.store_pg import is_postgresql

# A unit code in a URL: the wire shape's characters (protocol/units.py), at most 32.
UNIT_CODE = pattern("unit code in a URL", "[0-9A-Za-z.]{1,32}", "000.00.05.H53")
ACTIONS = ("revoke", "token", "approve")
ACTION = pattern("console action in a URL", "|".join(ACTIONS), "approve")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def console_only(ctx: NodeContext) -> bool:
    """Whether this node's web page is the centre's console alone: a centre on PostgreSQL,
    whose database holds the centre's tables and the console's accounts, no documents (the
    clerks' pages, the DMS API and the queue health page read a unit's tables)."""
    return ctx.config.role == "centre" and is_postgresql(ctx.config.get("centre", "database"))


def lazy(module: str, name: str) -> Handler:
    """The handler `name` of lienthong.node.web.console.`module`, imported at its first call."""

    async def handler(request: web.Request) -> web.StreamResponse:
        found = importlib.import_module(f"lienthong.node.web.console.{module}")
        return await getattr(found, name)(request)

    handler.__name__ = name
    return handler


async def home(request: web.Request) -> web.StreamResponse:
    """A console-only centre's first page: the console for its admins; for anyone else,
    a page saying that documents are handled at the units."""
    if can(request, "centre"):
        raise web.HTTPSeeOther("/centre")
    return render(request, "centre_only.html", {})


def add_console_routes(app: web.Application) -> None:
    """Mount the console's pages, each handler imported at its first request."""
    r = app.router
    unit = f"/centre/units/{UNIT_CODE.route('code')}/{ACTION.route('action')}"
    r.add_get("/centre", lazy("units", "console"), name="centre")
    r.add_post("/centre/units", lazy("units", "add_unit"))
    r.add_get(unit, lazy("units", "confirm"))
    r.add_post(unit, lazy("units", "act"))
    r.add_get("/centre/stats", lazy("stats", "stats"))
    r.add_get("/centre/report", lazy("stats", "pilot"))
    r.add_get("/centre/report.csv", lazy("stats", "pilot_csv"))
