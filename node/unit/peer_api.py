"""The peer API every node serves over mutual TLS: the inbox (envelopes and statuses) and blobs.

Wire layout (docs/PROTOCOL.md, "Peer API"): `POST /v1/inbox` takes a msgpack
map {"envelopes": [bin], "statuses": [bin]} and answers one result per item,
so one request carries a batch. Blobs are uploaded before the envelopes that
name them, resumably: `HEAD /v1/blobs/{id}` says how much arrived,
`PUT /v1/blobs/{id}` with `Upload-Offset` and `Upload-Length` continues.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.peers import PEER, error_response, require_peer
from lienthong.node.unit.documents import MissingBlobs, receive_envelopes, receive_statuses
from lienthong.protocol.limits import MAX_ATTACHMENT_SIZE, MAX_DIRECTORY_BYTES
from lienthong.protocol.wire import pack, unpack
from lienthong.storage import audit
from lienthong.storage.blobs import BlobWriter, check_blob_id
from lienthong.storage.errors import BlobError

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-lienthong"
MAX_INBOX_ITEMS = 500  # items in one request: bounds the work a single request can cause
MAX_INBOX_BYTES = 64 * 1024 * 1024  # 500 envelopes of ~100 KB; the hard cap is per envelope
STREAM_CHUNK = 256 * 1024
MAX_BLOB_BYTES = MAX_ATTACHMENT_SIZE + (MAX_ATTACHMENT_SIZE // (64 * 1024) + 1) * 17 + 24
# Upload-Offset and Upload-Length: decimal digits, no sign, at most 19 (MAX_BLOB_BYTES has 12).
UPLOAD_NUMBER = re.compile(r"[0-9]{1,19}")


def add_peer_routes(app: web.Application, *, unit: bool = True) -> None:
    """Blobs on every node; the inbox and directory pushes on units only.

    The centre holds no documents (it relays ciphertext) and is the source of
    the directory, so it takes neither.
    """
    if unit:
        app.router.add_post("/v1/inbox", inbox)
        app.router.add_post("/v1/directory", directory_push)
    app.router.add_route("HEAD", "/v1/blobs/{blob_id}", blob_head)
    app.router.add_put("/v1/blobs/{blob_id}", blob_put)
    app.router.add_get("/v1/blobs/{blob_id}", blob_get, allow_head=False)


async def read_capped(request: web.Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    data = bytearray()
    async for chunk in request.content.iter_chunked(STREAM_CHUNK):
        data += chunk
        if len(data) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(data))
    return bytes(data)


def decode_batch(data: bytes) -> tuple[list[bytes], list[bytes]]:
    value = unpack(data, what="inbox request", max_bytes=MAX_INBOX_BYTES)
    if not isinstance(value, dict) or set(value) - {"envelopes", "statuses"}:
        raise ValueError("expected a map with 'envelopes' and 'statuses'")
    envelopes, statuses = value.get("envelopes", []), value.get("statuses", [])
    if not isinstance(envelopes, list) or not isinstance(statuses, list):
        raise ValueError("'envelopes' and 'statuses' must be arrays")
    if len(envelopes) + len(statuses) > MAX_INBOX_ITEMS:
        raise ValueError(f"more than {MAX_INBOX_ITEMS} items in one request")
    if not all(isinstance(x, bytes) for x in envelopes + statuses):
        raise ValueError("every item must be binary")
    return envelopes, statuses


async def inbox(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    peer = require_peer(request)
    try:
        envelopes, statuses = decode_batch(await read_capped(request, MAX_INBOX_BYTES))
    except web.HTTPRequestEntityTooLarge:
        await _refusal(ctx, peer, "inbox", f"request body over {MAX_INBOX_BYTES} bytes")
        raise
    except (ValueError, LienthongError) as exc:
        await _refusal(ctx, peer, "inbox", f"malformed request: {exc}")
        return error_response(400, "MalformedRequest", str(exc))
    received = await receive_envelopes(ctx, envelopes, via="direct", peer=peer)
    applied = await receive_statuses(ctx, statuses, via="direct", peer=peer)
    results = {
        "envelopes": [await _answer(ctx, peer, "envelope", r) for r in received],
        "statuses": [await _answer(ctx, peer, "status", r) for r in applied],
    }
    return web.Response(body=pack(results), content_type=CONTENT_TYPE)


async def _answer(ctx: NodeContext, peer: str, what: str, result: Any) -> dict[str, Any]:
    """One item's answer: ok (with the 01 for an envelope), or the error that refused it."""
    if isinstance(result, MissingBlobs):
        return {
            "ok": False,
            "error": "MissingBlobs",
            "message": str(result),
            "missing": result.blob_ids,
        }
    if isinstance(result, LienthongError):
        await _refusal(ctx, peer, what, str(result))
        return {"ok": False, "error": type(result).__name__, "message": str(result)}
    if isinstance(result, bytes):
        return {"ok": True, "status": result}
    return {"ok": True}


async def _refusal(ctx: NodeContext, peer: str, what: str, reason: str) -> None:
    log.warning("refused %s from %s: %s", what, peer, reason)
    async with ctx.store.write() as tx:
        await audit.append(
            tx,
            at=ctx.clock(),
            actor=peer,
            action=f"{what}.refused",
            subject=peer,
            details={"reason": reason[:500]},
        )


async def directory_push(request: web.Request) -> web.Response:
    """A peer hands over a newer directory (gossip). It is root-signed, so anyone may: the
    signature and the version decide, not who brought it. Answers 204 (taken or not newer)."""
    ctx = request.app[CONTEXT]
    source = request.get(PEER) or request.remote or "unknown"
    try:
        raw = await read_capped(request, MAX_DIRECTORY_BYTES)
        await ctx.directory.accept(raw, source=f"push from {source}")
    except web.HTTPRequestEntityTooLarge:
        await _refusal(ctx, str(source), "directory", f"push over {MAX_DIRECTORY_BYTES} bytes")
        raise
    except LienthongError as exc:
        return error_response(422, type(exc).__name__, str(exc))
    return web.Response(status=204)


def _blob_id(request: web.Request) -> str:
    try:
        return check_blob_id(request.match_info["blob_id"])
    except BlobError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def blob_head(request: web.Request) -> web.Response:
    require_peer(request)
    ctx = request.app[CONTEXT]
    blob_id = _blob_id(request)
    if ctx.blobs.exists(blob_id):
        size = ctx.blobs.path(blob_id).stat().st_size
        return web.Response(
            status=200, headers={"Upload-Offset": str(size), "Upload-Complete": "1"}
        )
    offset = ctx.blobs.partial_size(blob_id)
    return web.Response(status=404, headers={"Upload-Offset": str(offset)})


async def blob_put(request: web.Request) -> web.Response:
    """Append to a resumable upload; commit when Upload-Length bytes are there and hash to id."""
    require_peer(request)
    ctx = request.app[CONTEXT]
    blob_id = _blob_id(request)
    if ctx.blobs.exists(blob_id):
        await request.release()
        return web.Response(status=200, text="already stored")
    offset = _upload_number(request, "Upload-Offset")
    total = _upload_number(request, "Upload-Length")
    if offset is None or total is None:
        return error_response(
            400, "MalformedRequest", "Upload-Offset and Upload-Length needed, in decimal digits"
        )
    if not 0 <= total <= MAX_BLOB_BYTES:
        return error_response(413, "LimitExceeded", f"a blob is at most {MAX_BLOB_BYTES} bytes")
    try:
        writer = await asyncio.to_thread(ctx.blobs.partial, blob_id, max_size=total)
    except BlobError as exc:  # another request is writing this upload right now
        return error_response(409, type(exc).__name__, str(exc))
    try:
        if writer.size != offset:
            await _release(writer)
            return web.Response(
                status=409,
                headers={"Upload-Offset": str(writer.size)},
                text=f"upload continues at {writer.size}, not {offset}",
            )
        async for chunk in request.content.iter_chunked(STREAM_CHUNK):
            await asyncio.to_thread(writer.write, chunk)
        if writer.size < total:
            await _release(writer)
            return web.Response(status=202, headers={"Upload-Offset": str(writer.size)})
        await asyncio.to_thread(writer.commit, blob_id, total)
    except BlobError as exc:
        await _refusal(ctx, require_peer(request), "blob", f"{blob_id}: {exc}")
        return error_response(422, type(exc).__name__, str(exc))
    except BaseException:
        await _release(writer)
        raise
    return web.Response(status=201, headers={"Upload-Offset": str(total)})


def _upload_number(request: web.Request, name: str) -> int | None:
    """A byte count from an upload header: ASCII digits only (int() would take "1_0", "١٢")."""
    value = request.headers.get(name, "")
    return int(value) if UPLOAD_NUMBER.fullmatch(value) else None


async def _release(writer: BlobWriter) -> None:
    """Keep what an upload received for its resumption; an upload that received nothing
    leaves no file (a refused or empty request stores nothing)."""
    await asyncio.to_thread(writer.suspend if writer.size else writer.abort)


async def blob_get(request: web.Request) -> web.StreamResponse:
    require_peer(request)
    ctx = request.app[CONTEXT]
    blob_id = _blob_id(request)
    if not ctx.blobs.exists(blob_id):
        raise web.HTTPNotFound(text=f"no blob {blob_id}")
    return web.FileResponse(ctx.blobs.path(blob_id))
