"""Errors of the integration API as RFC 9457 problem details (application/problem+json):
type, title, status, detail, and `errors` naming each field that was wrong."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from lienthong.storage.errors import disk_full

log = logging.getLogger("lienthong.api")

PROBLEM_TYPE = "application/problem+json"
# Each problem's `type`: a URN naming what went wrong (docs/INTEGRATION.md, "Errors").
TYPE_PREFIX = "urn:lienthong:problem:"
TITLES = {
    "invalid-request": "The request is not valid",
    "unauthorized": "No valid API key",
    "forbidden": "The API key lacks the scope",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "The request conflicts with the document's state",
    "idempotency-mismatch": "The Idempotency-Key was used for another request",
    "idempotency-in-progress": "A request with this Idempotency-Key is in progress",
    "too-large": "The request is too large",
    "unsupported-media-type": "Unsupported media type",
    "disk-full": "The node's disk is full",
    "internal": "Internal error",
}
_BY_STATUS = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
}


class ApiProblem(Exception):
    """Raised by a handler: answered as a problem document with `status`."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        errors: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        assert kind in TITLES, kind
        self.status, self.kind, self.detail = status, kind, detail
        self.errors = list(errors)
        self.headers = headers or {}


def invalid(field: str, message: str) -> ApiProblem:
    """400: one field of the request (a query parameter, a JSON member, a header) is wrong."""
    return ApiProblem(400, "invalid-request", f"{field}: {message}", [(field, message)])


def not_found(detail: str) -> ApiProblem:
    return ApiProblem(404, "not-found", detail)


def problem_response(problem: ApiProblem) -> web.Response:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + problem.kind,
        "title": TITLES[problem.kind],
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = [{"field": f, "message": m} for f, m in problem.errors]
    return web.Response(
        status=problem.status,
        body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        content_type=PROBLEM_TYPE,
        headers=problem.headers,
    )


def from_http(exc: web.HTTPException) -> ApiProblem:
    """aiohttp's own refusals (no such route, wrong method, body too large) as problems."""
    kind = _BY_STATUS.get(exc.status, "invalid-request" if exc.status < 500 else "internal")
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return ApiProblem(exc.status, kind, exc.reason, headers=headers)


@web.middleware
async def problems(request: web.Request, handler) -> web.StreamResponse:
    """Every error of the API as a problem document, never an HTML page or a traceback."""
    try:
        return await handler(request)
    except ApiProblem as problem:
        return problem_response(problem)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(from_http(exc))
    except Exception as exc:
        full = disk_full(exc, None)
        if full is not None:
            log.error("%s %s: %s", request.method, request.path, full)
            return problem_response(ApiProblem(507, "disk-full", str(full)))
        log.exception("%s %s failed", request.method, request.path)
        return problem_response(ApiProblem(500, "internal", "the node failed; see its log"))
