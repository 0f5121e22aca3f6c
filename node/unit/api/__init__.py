"""The integration API (/api/v1) for the office's own document system (DMS): an aiohttp
sub-application mounted on the node's web port, authenticated by API keys, answering JSON
and RFC 9457 problems (docs/INTEGRATION.md)."""

from __future__ import annotations

from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.unit import events_feed
from lienthong.node.unit.api import copies, edxml, reads, uploads, work, writes
from lienthong.node.unit.api.access import IN_FLIGHT, authenticate, idempotency
from lienthong.node.unit.api.openapi import openapi_json
from lienthong.node.unit.api.problems import ApiProblem, from_http, problem_response, problems
from lienthong.protocol.ids import ULID_PATTERN
from lienthong.protocol.text import pattern

API_PREFIX = "/api/v1"
# Route placeholders: whole ASCII segments (aiohttp matches without re.ASCII).
DOCUMENT_ID = ULID_PATTERN  # a document id here is a ULID (docs/STORE.md)
FILE_INDEX = pattern("file index in an API path", "[0-9]{1,4}", "0")
REGISTER_KIND = pattern("register kind in an API path", "incoming|outgoing", "incoming")
REGISTER_YEAR = pattern("register year in an API path", "[0-9]{4}", "2026")


def create_api_app(ctx: NodeContext) -> web.Application:
    """The /api/v1 sub-application; mount it with app.add_subapp(API_PREFIX, ...)."""
    app = web.Application(middlewares=[problems, authenticate, idempotency])
    app[CONTEXT] = ctx
    app[IN_FLIGHT] = set()
    doc = "/documents/" + DOCUMENT_ID.route("id")
    r = app.router
    r.add_get("/openapi.json", openapi_json, allow_head=False)
    r.add_get("/documents", reads.list_documents_, allow_head=False)
    r.add_get(doc, reads.get_document_, allow_head=False)
    r.add_get(f"{doc}/files/{FILE_INDEX.route('index')}", reads.download, allow_head=False)
    r.add_get("/units", reads.units, allow_head=False)
    kind, year = REGISTER_KIND.route("kind"), REGISTER_YEAR.route("year")
    r.add_get(f"/registers/{kind}/{year}", reads.register, allow_head=False)
    r.add_get("/events", events_feed.events_feed, allow_head=False)  # docs/INTEGRATION.md
    for path, handler in writes.ROUTES:
        r.add_post(path.replace("{id}", DOCUMENT_ID.route("id")), handler)
    app[uploads.BUSY] = set()
    app.cleanup_ctx.append(uploads.sweep_context)  # abandoned uploads expire
    for method, path, handler in uploads.ROUTES:  # resumable uploads, docs/INTEGRATION.md
        r.add_route(method, path.replace("{id}", uploads.UPLOAD_ID.route("id")), handler)
    for method, path, handler in edxml.ROUTES:  # edXML import and export, INTEGRATION.md
        r.add_route(method, path.replace("{id}", DOCUMENT_ID.route("id")), handler)
    for method, path, handler in work.ROUTES:  # assignment and completion, INTEGRATION.md
        r.add_route(method, path.replace("{id}", DOCUMENT_ID.route("id")), handler)
    for method, path, handler in copies.ROUTES:  # sao y, trích sao, sao lục, INTEGRATION.md
        r.add_route(method, path.replace("{id}", DOCUMENT_ID.route("id")), handler)
    return app


def except_api(middleware):
    """The clerk page's session middleware, passed by for /api/v1 (which has its own keys):
    an API path the sub-application does not hold is answered as a problem too."""

    @web.middleware
    async def pages_only(request: web.Request, handler) -> web.StreamResponse:
        if request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/"):
            try:
                return await handler(request)
            except ApiProblem as problem:
                return problem_response(problem)
            except web.HTTPException as exc:
                if exc.status < 400:
                    raise
                return problem_response(from_http(exc))
        return await middleware(request, handler)

    return pages_only
