"""The peer API every node serves over mutual TLS: the inbox (envelopes and statuses) and blobs.

Wire layout (docs/PROTOCOL.md, "Peer API"; the codecs and limits are protocol/peer.py):
`POST /v1/inbox` takes a msgpack map {"envelopes": [bin], "statuses": [bin]} and
answers one result per item, so one request carries a batch. Blobs are uploaded
before the envelopes that name them, resumably: `HEAD /v1/blobs/{id}` says how much
arrived, `PUT /v1/blobs/{id}` with `Upload-Offset` and `Upload-Length` continues.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.http import STREAM_CHUNK, audit_refusal, read_request
from lienthong.node.peers import PEER, error_response, require_peer
from lienthong.node.unit.documents import MissingBlobs, receive_envelopes, receive_statuses
from lienthong.protocol.limits import MAX_DIRECTORY_BYTES
from lienthong.protocol.peer import (
    CONTENT_TYPE,
    MAX_BLOB_BYTES,
    MAX_INBOX_BYTES,
    MAX_INBOX_ITEMS,  # noqa: F401 - the inbox's limits stay reachable where it is served
    ItemAnswer,
    decode_batch,
    encode_batch_answer,
    parse_upload_number,
)
from lienthong.storage.blobs import BlobWriter, check_blob_id
from lienthong.storage.errors import BlobError

log = logging.getLogger(__name__)


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


async def inbox(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    peer = require_peer(request)
    try:
        envelopes, statuses = decode_batch(await read_request(request, MAX_INBOX_BYTES))
    except web.HTTPRequestEntityTooLarge:
        await _refusal(ctx, peer, "inbox", f"request body over {MAX_INBOX_BYTES} bytes")
        raise
    except LienthongError as exc:
        await _refusal(ctx, peer, "inbox", f"malformed request: {exc}")
        return error_response(400, "MalformedRequest", str(exc))
    received = await receive_envelopes(ctx, envelopes, via="direct", peer=peer)
    applied = await receive_statuses(ctx, statuses, via="direct", peer=peer)
    body = encode_batch_answer(
        [await _answer(ctx, peer, "envelope", r) for r in received],
        [await _answer(ctx, peer, "status", r) for r in applied],
    )
    return web.Response(body=body, content_type=CONTENT_TYPE)


async def _answer(
    ctx: NodeContext, peer: str, what: str, result: bytes | bool | LienthongError
) -> ItemAnswer:
    """One item's answer: ok (with the 01 for an envelope), or the error that refused it."""
    if isinstance(result, MissingBlobs):
        return ItemAnswer.refused("MissingBlobs", str(result), missing=result.blob_ids)
    if isinstance(result, LienthongError):
        await _refusal(ctx, peer, what, str(result))
        return ItemAnswer.refused(type(result).__name__, str(result))
    if isinstance(result, bytes):
        return ItemAnswer.taken(result)
    return ItemAnswer.applied()


async def _refusal(ctx: NodeContext, peer: str, what: str, reason: str) -> None:
    await audit_refusal(ctx, actor=peer, what=what, subject=peer, reason=reason)


async def directory_push(request: web.Request) -> web.Response:
    """A peer hands over a newer directory (gossip). It is root-signed, so anyone may: the
    signature and the version decide, not who brought it. Answers 204 (taken or not newer)."""
    ctx = request.app[CONTEXT]
    source = request.get(PEER) or request.remote or "unknown"
    try:
        raw = await read_request(request, MAX_DIRECTORY_BYTES)
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
    return parse_upload_number(request.headers.get(name, ""))


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
