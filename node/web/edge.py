"""The clerk's page at its edge: which Host names it answers (DNS rebinding), when a request
came over HTTPS (Secure cookies behind a reverse proxy), and a full disk shown as a page.

A browser sends the name it typed in `Host`. A hostile site whose name is made to resolve
to 127.0.0.1 (DNS rebinding) reaches the page with its own name there, so only the names
the page is configured for are served: the host of node.web, the loopback names, and
web.allowed_hosts (the names a reverse proxy passes on). Anything else → 421.
"""

from __future__ import annotations

import logging

from aiohttp import web

from lienthong.node.config import WILDCARD_HOSTS, Config
from lienthong.node.context import CONTEXT
from lienthong.node.web.base import render_text, tr
from lienthong.protocol.text import is_decimal
from lienthong.storage.errors import disk_full

log = logging.getLogger("lienthong.web")

# Names that always mean this machine: the page on 127.0.0.1 is reached by any of them.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# A Host header longer than any DNS name with a port is refused unread (RFC 1035: 253).
MAX_HOST_HEADER = 300
MAX_PORT_DIGITS = 5  # 65535


def allowed_hosts(config: Config) -> frozenset[str]:
    """The host names (lower case, no port) the clerk's page answers for this node."""
    bound = config.get("node", "web").rsplit(":", 1)[0].strip("[]").lower()
    extra = {h.lower().rstrip(".") for h in config.get("web", "allowed_hosts")}
    names = set(LOOPBACK_NAMES) | extra
    if bound not in WILDCARD_HOSTS:
        names.add(bound)
    return frozenset(names)


def host_name(header: str) -> str | None:
    """The name of a Host header, without its port and brackets, lower case; None if it is
    not one ("a:b:c" without brackets, an empty name, a port that is not digits)."""
    if not header or len(header) > MAX_HOST_HEADER:
        return None
    if header.startswith("["):
        name, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not (rest[:1] == ":" and _is_port(rest[1:]))):
            return None
    else:
        name, colon, port = header.partition(":")
        if colon and not _is_port(port):
            return None
    name = name.lower().rstrip(".")
    return name or None


def _is_port(text: str) -> bool:
    return is_decimal(text, MAX_PORT_DIGITS)


def host_check(config: Config):
    """The middleware refusing a request whose Host is not one of allowed_hosts (421)."""
    allowed = allowed_hosts(config)

    @web.middleware
    async def check_host(request: web.Request, handler):
        name = host_name(request.headers.get("Host", ""))
        if name not in allowed:
            raise web.HTTPMisdirectedRequest(
                text=tr(request, "error.host", host=(name or "?")[:80]),
                content_type="text/plain",
            )
        return await handler(request)

    return check_host


def is_https(request: web.Request) -> bool:
    """Whether the browser reached the page over HTTPS: aiohttp terminated TLS itself, or
    the node is configured to be served only through a TLS reverse proxy
    (web.behind_tls_proxy), whose clerks' cookies must then be Secure too."""
    return request.secure or bool(request.app[CONTEXT].config.get("web", "behind_tls_proxy"))


@web.middleware
async def disk_full_page(request: web.Request, handler):
    """A full disk (storage.errors.disk_full) answered with the error page in the clerk's
    language and 507, instead of a 500 with a traceback in the log."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        full = disk_full(exc, request.app[CONTEXT].config.data_dir)
        if full is None:
            raise
        log.error("%s %s: %s", request.method, request.path, full)
        message = tr(request, "error.disk_full", path=full.path or "")
        return web.Response(
            status=507,
            text=render_text(request, "error.html", {"message": message}),
            content_type="text/html",
        )
