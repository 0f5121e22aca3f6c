"""What every page handler of the clerk's web page shares: settings, roles, rendering."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.times import parse_dmy
from lienthong.node.web import i18n
from lienthong.protocol.ids import ULID_PATTERN
from lienthong.protocol.text import is_decimal

# A document id in a URL is its envelope's ULID, nothing else.
DOCUMENT_ID = ULID_PATTERN

# What each role may do (the clerk's office: a clerk registers and sends, the
# leadership assigns, an admin manages the accounts). Everyone signed in may read.
CAPABILITIES: dict[str, frozenset[str]] = {
    "view": frozenset({"clerk", "leader", "specialist", "admin"}),
    "send": frozenset({"clerk"}),  # compose, recall, paper entries
    "register": frozenset({"clerk"}),  # accept/reject, answer a recall
    "assign": frozenset({"leader"}),
    "progress": frozenset({"clerk", "leader"}),  # in progress, completed
    "retry": frozenset({"clerk", "admin"}),  # send a dead letter again
    "users": frozenset({"admin"}),  # accounts and departments
    # The work after registration (node/web/work.py): a leader assigns, or a clerk on a
    # leader's instruction; leaders and specialists have "Việc của tôi"; clerks and
    # leaders follow up what is overdue.
    "assign_work": frozenset({"leader", "clerk"}),
    "work": frozenset({"leader", "specialist"}),
    "follow": frozenset({"clerk", "leader"}),
    "centre": frozenset({"admin"}),  # the centre's console: admins of the centre's node only
}
# Capabilities that exist only on the centre's node (node.role = "centre").
CENTRE_CAPABILITIES = frozenset({"centre"})


@dataclass
class Settings:
    """Knobs of one web application; tests shrink the upload cap and record the delays."""

    max_upload_bytes: int
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    login_failures: dict[str, int] = field(default_factory=dict)
    drafts: dict[str, Any] = field(default_factory=dict)


SETTINGS = web.AppKey("web_settings", Settings)


def _request_key(name: str, kind: type) -> Any:
    # Typed request keys arrived in aiohttp 3.12; plain strings before that.
    return web.RequestKey(name, kind) if hasattr(web, "RequestKey") else name


USER = _request_key("lienthong_user", object)  # storage.users.User, or None
SESSION = _request_key("lienthong_session", object)  # storage.users.Session, or None
LANG = _request_key("lienthong_lang", str)


def context_of(request: web.Request) -> NodeContext:
    return request.app[CONTEXT]


def settings_of(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def can(request: web.Request, capability: str) -> bool:
    user = request.get(USER)
    if capability in CENTRE_CAPABILITIES and context_of(request).config.role != "centre":
        return False
    return user is not None and user.role in CAPABILITIES[capability]


def requires(capability: str):
    """Refuse the handler (403 page) to a signed-in user whose role lacks `capability`."""

    def wrap(handler):
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if not can(request, capability):
                raise forbidden(request, "error.role")
            return await handler(request)

        return checked

    return wrap


def forbidden(request: web.Request, key: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(
        text=render_text(request, "error.html", {"message": tr(request, key)}),
        content_type="text/html",
    )


def not_found(request: web.Request) -> web.HTTPNotFound:
    return web.HTTPNotFound(
        text=render_text(request, "error.html", {"message": tr(request, "error.not_found")}),
        content_type="text/html",
    )


def document_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not DOCUMENT_ID.matches(value):
        raise not_found(request)
    return value


def tr(request: web.Request, key: str, **values: Any) -> str:
    return i18n.translate(request.get(LANG, i18n.DEFAULT), key, **values)


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context, status=status)


def render_text(request: web.Request, template: str, context: dict[str, Any]) -> str:
    return aiohttp_jinja2.render_string(template, request, context)


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def parse_date(text: str) -> str | None:
    """A date from a form or a query string, typed as the clerk writes it (24/11/2025) or as
    a date input sends it (2025-11-24), as YYYY-MM-DD; None when it is not one."""
    return parse_dmy(text)


def is_digits(text: str, max_digits: int = 18) -> bool:
    """A whole number typed in a form or a query string: ASCII digits only (str.isdigit()
    takes "²", which int() refuses, and int() takes "٣"), few enough for SQLite's 64-bit
    integers."""
    return is_decimal(text, max_digits)


def today(ctx: NodeContext) -> str:
    return dt.datetime.fromtimestamp(ctx.clock() / 1000).date().isoformat()


def day_start_ms(date: str) -> int:
    """Unix ms of local midnight starting `date` (YYYY-MM-DD)."""
    return int(dt.datetime.fromisoformat(date).timestamp() * 1000)
