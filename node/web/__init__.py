"""The clerks' web page: an aiohttp application over a NodeContext, server-rendered
(Jinja2, autoescaped), Vietnamese by default with an English switch."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.health import add_healthz_route
from lienthong.node.metrics import add_metrics_route, public_metrics
from lienthong.node.times import dmy, dmy_time
from lienthong.node.unit.api import API_PREFIX, create_api_app, except_api
from lienthong.node.web import admin, auth, compose, document, edge, i18n, lists, registers, work
from lienthong.node.web.base import DOCUMENT_ID, LANG, SESSION, SETTINGS, USER, Settings, can
from lienthong.node.web.console.routes import add_console_routes, console_only, home
from lienthong.node.web.throttle import login_rate_limit
from lienthong.protocol.codes import Confidentiality, Urgency
from lienthong.protocol.doctypes import describe_type
from lienthong.protocol.text import pattern

HERE = Path(__file__).parent
# Route placeholders (aiohttp matches each whole path segment, without re.ASCII: so explicit
# ASCII classes, never \d).
FILE_INDEX = pattern("attachment index in a URL", "[0-9]{1,4}", "0")
DRAFT_ID = pattern("draft id in a URL", "[A-Za-z0-9_-]{1,64}", "Xb3_k-9Q")
REGISTER_KIND = pattern("register in a URL", "incoming|outgoing", "incoming")
REGISTER_YEAR = pattern("register year in a URL", "[0-9]{4}", "2025")
# Largest urlencoded form read into memory (action notes, paper entries, logins);
# the compose form streams its files and has its own cap (compose.MAX_UPLOAD_BYTES).
MAX_FORM_BYTES = 256 * 1024
# Every page: no framing by other sites, no sniffing, scripts and styles from here only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _size(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _dmy_time(value: int | str | None) -> str:
    """A time as the clerk reads it, 24/11/2025 14:05: from Unix ms, or from an ISO 8601
    time with its offset (as node.times.iso_time writes it)."""
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).strftime("%d/%m/%Y %H:%M")
        except ValueError:
            return value
    return dmy_time(value)


# Jinja filters: every date or time a clerk reads goes through one of these (Nghị định
# 30/2020 writes dd/mm/yyyy); the English page keeps the same form.
FILTERS = {"dmy": dmy, "dmy_time": _dmy_time}


async def _template_context(request: web.Request) -> dict[str, Any]:
    lang = request.get(LANG, i18n.DEFAULT)
    session = request.get(SESSION)
    ctx = request.app[CONTEXT]

    def _(key: str, **values: Any) -> str:
        return i18n.translate(lang, key, **values)

    return {
        "_": _,
        "lang": lang,
        "user": request.get(USER),
        "csrf": session.csrf if session else "",
        "can": lambda capability: can(request, capability),
        "lang_url": lambda code: str(request.rel_url.update_query(lang=code)),
        "path": request.path,
        "console_only": console_only(ctx),  # a PostgreSQL centre: no clerks' pages
        "unit_name": ctx.config.name,
        "unit_code": ctx.config.code,
        "type_name": describe_type,  # a type this node does not know is shown, never refused
        "urgency_label": lambda v: _(f"urgency.{Urgency(int(v)).name.lower()}"),
        "conf_label": lambda v: _(f"conf.{Confidentiality(int(v)).name.lower()}"),
        "state_label": lambda v: _(f"state.{v}") if i18n.has(f"state.{v}") else v,
        "status_label": lambda c: i18n.status_name(lang, c),
        "urgencies": [int(u) for u in Urgency],
        "refusal_label": lambda name: _(i18n.refusal_key(name)),
        "size": _size,
    }


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")


def create_web_app(
    ctx: NodeContext,
    *,
    max_upload_bytes: int = compose.MAX_UPLOAD_BYTES,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> web.Application:
    """The clerks' page for this node; mount it on node.web (plain HTTP on 127.0.0.1, or
    behind a TLS reverse proxy: web.allowed_hosts, web.behind_tls_proxy)."""
    # The Host check first: nothing, not even /metrics, answers a name the page is not for;
    # then a full disk as a page; public_metrics before the session middleware: /metrics
    # answers without a login (node/metrics.py).
    app = web.Application(
        middlewares=[
            edge.host_check(ctx.config),
            edge.disk_full_page,
            public_metrics,
            except_api(auth.session_middleware),  # /api/v1 has its own keys
        ],
        client_max_size=MAX_FORM_BYTES,
    )
    app[CONTEXT] = ctx
    app[SETTINGS] = Settings(max_upload_bytes=max_upload_bytes, sleep=sleep)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        context_processors=[_template_context],
    )
    env.filters.update(FILTERS)
    # The login's rate limit renders the login page: after the template context (above).
    app.middlewares.append(login_rate_limit(ctx))
    app.on_response_prepare.append(_security_headers)
    app.on_startup.append(_clean_drafts)
    app.on_cleanup.append(_clean_drafts)
    r = app.router
    r.add_get("/login", auth.login_get, name="login")
    r.add_post("/login", auth.login_post, name="login_post")
    r.add_post("/logout", auth.logout, name="logout")
    add_metrics_route(app)  # Prometheus, no login: node.web stays on 127.0.0.1
    add_healthz_route(app)  # for Zabbix/Nagios/load balancers, no login
    r.add_get("/admin/users", admin.users_get, name="users")
    r.add_post("/admin/users", admin.users_post)
    # The centre's console, imported at its first request: a unit never loads it.
    add_console_routes(app)
    if console_only(ctx):  # a centre on PostgreSQL: its database holds no documents
        r.add_get("/", home, name="inbox")
    else:
        _add_unit_routes(app)
    r.add_static("/static", HERE / "static", name="static")
    return app


def _add_unit_routes(app: web.Application) -> None:
    """The clerks' pages and the DMS's API: a unit's (and a SQLite centre's) documents."""
    ctx = app[CONTEXT]
    doc = "/documents/" + DOCUMENT_ID.route("id")
    draft = "/compose/confirm/" + DRAFT_ID.route("draft")
    kind = REGISTER_KIND.route("kind")
    r = app.router
    r.add_get("/", lists.inbox, name="inbox")
    r.add_get("/outbox", lists.outbox, name="outbox")
    r.add_get(doc, document.show, name="document")
    r.add_post(doc, document.act, name="document_act")
    r.add_get(doc + "/files/" + FILE_INDEX.route("index"), document.download, name="download")
    r.add_get("/compose", compose.compose_get, name="compose")
    r.add_post("/compose", compose.compose_post, name="compose_post")
    r.add_get(draft, compose.confirm_get)
    r.add_post(draft, compose.confirm_post)
    r.add_get("/registers", registers.register_page, name="registers")
    r.add_get(f"/registers/{kind}/{REGISTER_YEAR.route('year')}.csv", registers.register_csv)
    r.add_get(f"/registers/{kind}/{REGISTER_YEAR.route('year')}.xlsx", registers.register_xlsx)
    r.add_get("/paper", registers.paper_get, name="paper")
    r.add_post("/paper/" + kind, registers.paper_post)
    r.add_post(doc + "/assign", work.assign)
    r.add_post(doc + "/work", work.progress)
    r.add_get("/work", work.work_page, name="work")
    r.add_get("/admin/departments", work.departments_get, name="departments")
    r.add_post("/admin/departments", work.departments_post)
    r.add_get("/health", admin.health, name="health")
    app.add_subapp(API_PREFIX, create_api_app(ctx))  # the DMS's API (docs/INTEGRATION.md)


async def _clean_drafts(app: web.Application) -> None:
    ctx = app[CONTEXT]
    compose.clean_drafts(
        app[SETTINGS].drafts, compose.drafts_root(ctx), ctx.clock(), everything=True
    )
