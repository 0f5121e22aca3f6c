"""Who calls the integration API: the Bearer key (401 without a live one), its scopes (403),
the audit entry every authenticated call leaves, and Idempotency-Key on every POST."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from lienthong.node.context import CONTEXT
from lienthong.node.unit.api.problems import PROBLEM_TYPE, ApiProblem, invalid
from lienthong.storage import audit
from lienthong.storage.api_keys import ApiKey, key_for_token, token_hash
from lienthong.storage.idempotency import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    KeptAnswer,
    keep_answer,
    kept_answer,
    key_and_kept_answer,
)

API_KEY = web.RequestKey("api_key", ApiKey)
# The JSON body of a POST, read once (bounded) for the Idempotency-Key's hash and the handler.
BODY = web.RequestKey("api_body", bytes)
# Largest JSON body of a POST (a document's metadata, a status with its reason): the
# metadata of one document is far below it; files come as multipart (MAX_UPLOAD_BYTES).
MAX_JSON_BYTES = 256 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY = web.RequestKey("api_idempotency_key", str)
# The hash of the request being answered, once begin() let it act.
DIGEST = web.RequestKey("api_request_sha256", bytes)
# The answer a handler kept in the transaction of its action (node/unit/api/writes.py
# keeping): the middleware does not keep it a second time.
KEPT = web.RequestKey("api_answer_kept", web.Response)
MULTIPART = "multipart/form-data"
# The POSTs that take files: their handlers hash the parts as they stream them.
MULTIPART_PATHS = frozenset({"/api/v1/documents"})
# POSTs whose body is not JSON: their handlers stream and hash it, then call begin().
STREAMED_PATHS = frozenset({"/api/v1/edxml"})
# Routes that answer without a key: the description of the API itself.
PUBLIC_PATHS = frozenset({"/api/v1/openapi.json"})
# The (token's SHA-256, Idempotency-Key) pairs being answered now: a second request under
# the same pair is 409 until the first one's answer is kept.
IN_FLIGHT = web.AppKey("idempotency_in_flight", set)
# The caller's (token's SHA-256, Idempotency-Key): its place in IN_FLIGHT.
CLAIM = web.RequestKey("api_idempotency_claim", tuple)
# The answer kept under the call's Idempotency-Key, read with its API key in one query by
# authenticate (None: none kept), the pair claimed in IN_FLIGHT before that read.
PREFETCHED = web.RequestKey("api_prefetched_answer", object)
# Whether begin() claimed the pair (a streamed POST, or one authenticate could not claim):
# the idempotency middleware gives it back once the answer is kept.
HELD = web.RequestKey("api_idempotency_held", bool)


def _valid_idempotency_key(idem: str) -> bool:
    return 1 <= len(idem) <= MAX_IDEMPOTENCY_KEY_CHARS and idem.isascii() and idem.isprintable()


def _json_post(request: web.Request) -> bool:
    """A POST whose body the idempotency middleware reads (not streamed by its handler)."""
    return request.method == "POST" and not (
        (request.content_type == MULTIPART and request.path in MULTIPART_PATHS)
        or request.path in STREAMED_PATHS
    )


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(
        401, "unauthorized", detail, [("Authorization", detail)], {"WWW-Authenticate": "Bearer"}
    )


def allow(request: web.Request, scope: str) -> ApiKey:
    """The caller's key if it has `scope` (or admin); else 403 naming the scope."""
    key = request[API_KEY]
    if not key.allows(scope):
        raise ApiProblem(403, "forbidden", f"the API key {key.name!r} lacks the scope {scope!r}")
    return key


def actor(request: web.Request) -> str:
    """The audit log's actor of a call: the key's name."""
    return f"api:{request[API_KEY].name}"


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    """Bearer key first; then the call, audited with the key's name and its outcome."""
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    ctx = request.app[CONTEXT]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("no Authorization header (Authorization: Bearer <key>)")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header is not 'Bearer <key>'")
    token = token.strip()
    request[CLAIM] = (token_hash(token), request.headers.get(IDEMPOTENCY_HEADER, ""))
    in_flight = request.app[IN_FLIGHT]
    idem = request[CLAIM][1]
    claimed = False
    if _json_post(request) and _valid_idempotency_key(idem) and request[CLAIM] not in in_flight:
        # Claimed before the read, so an answer kept after it cannot be missed: a request
        # under the same pair either is still in flight (409) or has kept its answer.
        in_flight.add(request[CLAIM])
        claimed = True
    try:
        if claimed:
            async with ctx.store.read() as conn:
                key, kept = await key_and_kept_answer(conn, token, idem, now=ctx.clock())
            request[PREFETCHED] = kept
        else:
            async with ctx.store.read() as conn:
                key = await key_for_token(conn, token)
        if key is None:
            raise _unauthorized("the API key is unknown or revoked")
    except BaseException:
        if claimed:
            in_flight.discard(request[CLAIM])
        raise
    request[API_KEY] = key
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except ApiProblem as problem:
        status = problem.status
        raise
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        try:
            async with ctx.store.write() as tx:
                await audit.append(
                    tx,
                    at=ctx.clock(),
                    actor=f"api:{key.name}",
                    action="api.call",
                    subject=f"{request.method} {request.path}",
                    details={"status": status},
                )
        finally:
            if claimed:
                in_flight.discard(request[CLAIM])


async def read_body(request: web.Request) -> bytes:
    """The POST's JSON body, bounded: 413 past MAX_JSON_BYTES, 415 if not JSON."""
    if request.content_type != "application/json":
        raise ApiProblem(
            415,
            "unsupported-media-type",
            f"the body is sent as application/json, not {request.content_type!r}",
            [("Content-Type", "must be application/json")],
        )
    body = await request.content.read(MAX_JSON_BYTES + 1)
    if len(body) > MAX_JSON_BYTES:
        raise ApiProblem(413, "too-large", f"a JSON body has at most {MAX_JSON_BYTES} bytes")
    return body


def json_object(body: bytes, fields: dict[str, type | tuple[type, ...]], required=()) -> dict:
    """The body as a JSON object with only `fields`, each of its type; 400 naming the first
    field that is unknown, missing or of the wrong type."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid("body", f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise invalid("body", "must be a JSON object")
    errors = [(name, "unknown field") for name in value if name not in fields]
    errors += [(name, "required") for name in required if name not in value]
    for name, kind in fields.items():
        if (
            name in value
            and value[name] is not None
            and (
                not isinstance(value[name], kind)
                or (isinstance(value[name], bool) and kind is not bool)
            )
        ):
            names = kind if isinstance(kind, tuple) else (kind,)
            errors.append((name, f"must be {' or '.join(_JSON_NAMES[k] for k in names)}"))
    if errors:
        raise ApiProblem(
            400,
            "invalid-request",
            "; ".join(f"{f}: {m}" for f, m in errors),
            errors,
        )
    return value


_JSON_NAMES: dict[Any, str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "an array",
    dict: "an object",
}


def request_hash(request: web.Request) -> hashlib._Hash:
    """The hash a request is known by for its Idempotency-Key: method and path, then its
    body (a multipart body: its parts as they are read, storage/idempotency.py)."""
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n")


async def begin(request: web.Request, digest: bytes) -> web.Response | None:
    """Before a POST acts: the kept answer to replay (same request), 422 (another request
    under the key), 409 (the same key being answered now); else None, and the key is
    marked in flight until the middleware has kept the answer."""
    ctx = request.app[CONTEXT]
    name, idem = request[API_KEY].name, request[IDEMPOTENCY]
    in_flight = request.app[IN_FLIGHT]
    kept: KeptAnswer | None
    if PREFETCHED in request:
        kept = request[PREFETCHED]  # read with the key; the pair claimed before (authenticate)
    else:
        # Claimed before the read (as in authenticate): a request under the same pair is
        # either still in flight (409) or has kept its answer, which this read then sees.
        if request[CLAIM] in in_flight:
            raise ApiProblem(
                409,
                "idempotency-in-progress",
                "a request with this Idempotency-Key is still being answered: retry later",
                [(IDEMPOTENCY_HEADER, "in progress")],
                {"Retry-After": "1"},
            )
        in_flight.add(request[CLAIM])
        request[HELD] = True
        async with ctx.store.read() as conn:
            kept = await kept_answer(conn, name, idem, now=ctx.clock())
    if kept is not None:
        if kept.request_sha256 != digest:
            raise ApiProblem(
                422,
                "idempotency-mismatch",
                "this Idempotency-Key was used for another request (method, path or body "
                "differ): use a new key for a new request",
                [(IDEMPOTENCY_HEADER, "used before with another request")],
            )
        return web.Response(
            status=kept.status,
            body=kept.body,
            headers={"Content-Type": kept.content_type, "Idempotent-Replayed": "true"},
        )
    request[DIGEST] = digest
    return None


@web.middleware
async def idempotency(request: web.Request, handler) -> web.StreamResponse:
    """Every POST carries an Idempotency-Key: its first successful answer is kept and
    replayed to a retry of the same request; the same key with another request is 422.
    A JSON body is hashed here; a multipart body by its handler as it streams (begin)."""
    if request.method != "POST":
        return await handler(request)
    idem = request.headers.get(IDEMPOTENCY_HEADER)
    if idem is None:
        raise invalid(IDEMPOTENCY_HEADER, "every POST carries one (a new UUID per request)")
    if not _valid_idempotency_key(idem):
        raise invalid(
            IDEMPOTENCY_HEADER, f"1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
        )
    request[IDEMPOTENCY] = idem
    ctx = request.app[CONTEXT]
    name = request[API_KEY].name
    try:
        if not _json_post(request):
            response = await handler(request)  # it calls begin() once the body is read
        else:
            body = await read_body(request)
            request[BODY] = body
            digest = request_hash(request)
            digest.update(body)
            replay = await begin(request, digest.digest())
            if replay is not None:
                return replay
            response = await handler(request)
        digest_kept = request.get(DIGEST)
        ok = 200 <= response.status < 300 and isinstance(response, web.Response)
        if (
            digest_kept is not None
            and ok
            and KEPT not in request
            and not response.headers.get("Idempotent-Replayed")
        ):
            async with ctx.store.write() as tx:
                await keep_answer(
                    tx,
                    name,
                    idem,
                    digest_kept,
                    status=response.status,
                    content_type=response.headers.get("Content-Type", PROBLEM_TYPE),
                    body=bytes(response.body or b""),
                    at=ctx.clock(),
                )
        return response
    finally:
        if request.get(HELD):
            request.app[IN_FLIGHT].discard(request[CLAIM])
