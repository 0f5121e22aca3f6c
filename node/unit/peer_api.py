"""The peer API every node serves over mutual TLS: the inbox (envelopes and statuses) and blobs.

Wire layout (docs/PROTOCOL.md, "Peer API"; the codecs and limits are protocol/peer.py):
`POST /v1/inbox` takes a msgpack map {"envelopes": [bin], "statuses": [bin]} and
answers one result per item, so one request carries a batch. Blobs are uploaded
before the envelopes that name them, resumably: `HEAD /v1/blobs/{id}` says how much
arrived, `PUT /v1/blobs/{id}` with `Upload-Offset` and `Upload-Length` continues.
`POST /v1/blobs` takes a whole blob whose id its sender does not know yet (it is still
encrypting it) and answers the id.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from typing import TypeVar

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node import uploads
from lienthong.node.arrivals import arrivals_of, upload_for
from lienthong.node.context import CONTEXT, NodeContext
from lienthong.node.http import STREAM_CHUNK, append_refusal, audit_refusal, request_body
from lienthong.node.peers import PEER, error_response, require_peer
from lienthong.node.tls_buffers import large_reads
from lienthong.node.unit.documents import MissingBlobs, receive_envelopes, receive_statuses
from lienthong.protocol.envelope import verify_envelope
from lienthong.protocol.limits import MAX_DIRECTORY_BYTES
from lienthong.protocol.peer import (
    CONTENT_TYPE,
    MAX_BLOB_BYTES,
    MAX_INBOX_BYTES,
    ItemAnswer,
    batch_decoder,
    encode_batch_answer,
    parse_upload_number,
)
from lienthong.storage import uploads as upload_rows
from lienthong.storage.blobs import READ_CHUNK, BlobWriter, check_blob_id, write_chunks
from lienthong.storage.errors import BlobError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Refused items of one request audited one by one; the rest are counted in one entry: a
# batch of 500 junk items adds 17 entries to the audit log, not 500 (docs/SECURITY.md).
MAX_AUDITED_ITEMS = 16
# The envelopes of one request are verified and stored a slice of at most this many bytes at
# a time: verifying copies an envelope about twice, so a 64 MiB request costs its decoded
# items and twice a slice, not three times itself; each slice is one transaction.
RECEIVE_SLICE_BYTES = 8 * 1024 * 1024


def add_peer_routes(app: web.Application, *, unit: bool = True) -> None:
    """Blobs on every node; the inbox and directory pushes on units only.

    The centre holds no documents (it relays ciphertext) and is the source of
    the directory, so it takes neither.
    """
    if unit:
        app.router.add_post("/v1/inbox", inbox)
        app.router.add_post("/v1/directory", directory_push)
    app.router.add_post("/v1/blobs", blob_post)
    app.router.add_route("HEAD", "/v1/blobs/{blob_id}", blob_head)
    app.router.add_put("/v1/blobs/{blob_id}", blob_put)
    app.router.add_get("/v1/blobs/{blob_id}", blob_get, allow_head=False)


async def inbox(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    peer = require_peer(request)
    async with request_body(request, peer) as body:  # a large body: a slot of the peer's
        try:
            envelopes, statuses = await body.decode(batch_decoder(), MAX_INBOX_BYTES)
        except web.HTTPRequestEntityTooLarge:
            await _refusal(ctx, peer, "inbox", f"request body over {MAX_INBOX_BYTES} bytes")
            raise
        except LienthongError as exc:
            await _refusal(ctx, peer, "inbox", f"malformed request: {exc}")
            return error_response(400, "MalformedRequest", str(exc))
        received = await _receive(ctx, peer, envelopes)
        applied = _without_tracebacks(
            await receive_statuses(ctx, statuses, via="direct", peer=peer)
        )
        refused: list[tuple[str, str]] = []
        answer = encode_batch_answer(
            [_answer("envelope", r, refused) for r in received],
            [_answer("status", r, refused) for r in applied],
        )
        await _audit_refusals(ctx, peer, refused)
    return web.Response(body=answer, content_type=CONTENT_TYPE)


async def _receive(
    ctx: NodeContext, peer: str, envelopes: list[bytes]
) -> list[bytes | LienthongError]:
    """Receive the envelopes of a request a slice (RECEIVE_SLICE_BYTES) at a time, each
    item let go once its slice is done; the blobs of those stored are tied to them."""
    results: list[bytes | LienthongError] = []
    start = 0
    while start < len(envelopes):
        end, size = start, 0
        while end < len(envelopes) and (
            end == start or size + len(envelopes[end]) <= RECEIVE_SLICE_BYTES
        ):
            size += len(envelopes[end])
            end += 1
        part = envelopes[start:end]
        envelopes[start:end] = [b""] * (end - start)  # this request keeps no other reference
        async with uploads.receiving(ctx):  # no upload sweep between the blob check and the tie
            got = await receive_envelopes(ctx, part, via="direct", peer=peer)
            await _tie(ctx, peer, part, got)
        results += _without_tracebacks(got)
        start = end
    return results


def _without_tracebacks(results: list[T]) -> list[T]:
    """The results with the tracebacks of refusals let go. A refusal kept in a list of the
    function that caught it is a reference cycle (its traceback holds that function's
    frame, whose locals hold the list): freed only when the garbage collector runs, which
    large byte strings do not make it do. The frames hold the request's items; without
    this, every request's bytes stayed until then (docs/SECURITY.md, large requests)."""
    for result in results:
        seen: set[int] = set()
        exc = result if isinstance(result, BaseException) else None
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None
            if exc.__suppress_context__:  # `raise ... from None`: never shown, let it go
                exc.__context__ = None  # (msgpack's ExtraData holds a copy of the bytes)
            exc = exc.__cause__ or exc.__context__
    return results


async def _tie(
    ctx: NodeContext, peer: str, raws: list[bytes], results: list[bytes | LienthongError]
) -> None:
    """The uploads named by the envelopes stored (or stored before) are part of letters now."""
    async with ctx.store.read() as conn:
        if not (await upload_rows.held_by(conn, peer)).uploads:
            return  # nothing of this peer waits for a letter (the usual case)
    named = [
        blob.id
        for raw, result in zip(raws, results, strict=True)
        if isinstance(result, bytes)
        for blob in verify_envelope(raw, ctx.directory.key_lookup).header.blobs
    ]
    await uploads.tie(ctx, named)


def _answer(
    what: str, result: bytes | bool | LienthongError, refused: list[tuple[str, str]]
) -> ItemAnswer:
    """One item's answer: ok (with the 01 for an envelope), or the error that refused it
    (then noted in `refused` for the audit: MissingBlobs is not a refusal, only "not yet")."""
    if isinstance(result, MissingBlobs):
        return ItemAnswer.refused("MissingBlobs", str(result), missing=result.blob_ids)
    if isinstance(result, LienthongError):
        refused.append((what, str(result)))
        return ItemAnswer.refused(type(result).__name__, str(result))
    if isinstance(result, bytes):
        return ItemAnswer.taken(result)
    return ItemAnswer.applied()


async def _audit_refusals(ctx: NodeContext, peer: str, refused: list[tuple[str, str]]) -> None:
    """The refused items of one request, in one transaction: each of the first
    MAX_AUDITED_ITEMS on its own (`envelope.refused`, `status.refused`), the rest counted
    in one `inbox.refused` entry."""
    if not refused:
        return
    async with ctx.store.write() as tx:
        for what, reason in refused[:MAX_AUDITED_ITEMS]:
            await append_refusal(tx, ctx, actor=peer, what=what, subject=peer, reason=reason)
        if len(refused) > MAX_AUDITED_ITEMS:
            more = len(refused) - MAX_AUDITED_ITEMS
            await append_refusal(
                tx,
                ctx,
                actor=peer,
                what="inbox",
                subject=peer,
                reason=f"{more} more items of the same request refused, the last: {refused[-1][1]}",
            )


async def _refusal(ctx: NodeContext, peer: str, what: str, reason: str) -> None:
    await audit_refusal(ctx, actor=peer, what=what, subject=peer, reason=reason)


async def directory_push(request: web.Request) -> web.Response:
    """A peer hands over a newer directory (gossip). It is root-signed, so anyone may: the
    signature and the version decide, not who brought it. Answers 204 (taken, or not newer;
    form 2 of the version held in form 1 is taken, docs/PROTOCOL.md 10.2)."""
    ctx = request.app[CONTEXT]
    source = request.get(PEER) or request.remote or "unknown"
    async with request_body(request, str(source)) as body:  # a large body: a slot of its own
        try:
            raw = await body.read(MAX_DIRECTORY_BYTES)
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
    peer = require_peer(request)
    ctx = request.app[CONTEXT]
    blob_id = _blob_id(request)
    await uploads.touch(ctx, peer, blob_id)  # its uploader still means to send the letter
    if ctx.blobs.exists(blob_id):
        size = ctx.blobs.path(blob_id).stat().st_size
        return web.Response(
            status=200, headers={"Upload-Offset": str(size), "Upload-Complete": "1"}
        )
    offset = ctx.blobs.partial_size(blob_id)
    return web.Response(status=404, headers={"Upload-Offset": str(offset)})


async def blob_put(request: web.Request) -> web.Response:
    """Append to a resumable upload, within the uploader's quota of uploads no letter names
    yet; commit when Upload-Length bytes are there and hash to id. Audited once per blob."""
    peer = require_peer(request)
    ctx = request.app[CONTEXT]
    blob_id = _blob_id(request)
    if ctx.blobs.exists(blob_id):
        await request.release()
        await uploads.touch(ctx, peer, blob_id)
        return web.Response(status=200, text="already stored")
    offset = _upload_number(request, "Upload-Offset")
    total = _upload_number(request, "Upload-Length")
    if offset is None or total is None:
        return error_response(
            400, "MalformedRequest", "Upload-Offset and Upload-Length needed, in decimal digits"
        )
    if not 0 <= total <= MAX_BLOB_BYTES:
        message = f"a blob is at most MAX_BLOB_BYTES = {MAX_BLOB_BYTES} bytes, not {total}"
        await uploads.audit_upload(ctx, peer, blob_id, size=None, refused=message)
        return error_response(413, "LimitExceeded", message)
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
        try:
            await uploads.admit(ctx, peer, blob_id, total)
        except uploads.UploadQuotaExceeded as exc:
            await _release(writer)  # nothing written; what an earlier request sent stays
            await uploads.audit_upload(ctx, peer, blob_id, size=None, refused=str(exc))
            return error_response(413, "UploadQuotaExceeded", str(exc))
        with large_reads(request.transport):
            await write_chunks(writer, request.content.iter_chunked(STREAM_CHUNK))
        if writer.size < total:
            kept = writer.size
            await _release(writer)
            if not kept:  # nothing arrived: the upload holds nothing, nor does its uploader
                await uploads.forget(ctx, peer, blob_id)
            return web.Response(status=202, headers={"Upload-Offset": str(kept)})
        await asyncio.to_thread(writer.commit, blob_id, total)
    except BlobError as exc:  # too many bytes, or bytes that do not hash to the id: discarded
        await uploads.forget(ctx, peer, blob_id)
        await uploads.audit_upload(ctx, peer, blob_id, size=None, refused=str(exc))
        return error_response(422, type(exc).__name__, str(exc))
    except BaseException:
        kept = writer.size
        await _release(writer)
        if not kept:
            await uploads.forget(ctx, peer, blob_id)
        raise
    await uploads.audit_upload(ctx, peer, blob_id, size=total, refused=None)
    return web.Response(status=201, headers={"Upload-Offset": str(total)})


async def blob_post(request: web.Request) -> web.Response:
    """Store a whole blob sent while its sender still encrypts it (docs/PROTOCOL.md 17.2.2):
    not resumable, admitted within the uploader's quota under a placeholder until its last
    byte names it; answers its id. A body that ends short leaves nothing."""
    peer = require_peer(request)
    ctx = request.app[CONTEXT]
    total = _upload_number(request, "Upload-Length")
    if total is None:
        return error_response(400, "MalformedRequest", "Upload-Length needed, in decimal digits")
    if not 0 <= total <= MAX_BLOB_BYTES:
        message = f"a blob is at most MAX_BLOB_BYTES = {MAX_BLOB_BYTES} bytes, not {total}"
        return error_response(413, "LimitExceeded", message)
    placeholder = secrets.token_hex(32)  # counts the upload until its id is known
    try:
        await uploads.admit(ctx, peer, placeholder, total)
    except uploads.UploadQuotaExceeded as exc:
        return error_response(413, "UploadQuotaExceeded", str(exc))
    arrival = None
    claimed = False
    try:
        writer = await asyncio.to_thread(ctx.blobs.writer, max_size=total)
        chunks = request.content.iter_chunked(STREAM_CHUNK)
        boxes = arrivals_of(ctx)  # the centre: recipients may stream it as it lands (19.6)
        codes = upload_for(request.headers.get("Upload-For", "")) if boxes else []
        if boxes is not None and codes:
            arrival = boxes.start(peer, codes, total, writer.path)
            chunks = _noting(chunks, arrival.changed)
        try:
            with large_reads(request.transport):
                await write_chunks(writer, chunks)
            if writer.size < total:
                got = writer.size
                await asyncio.to_thread(writer.abort)
                return error_response(
                    400,
                    "MalformedRequest",
                    f"the body ended after {got} of Upload-Length {total} bytes: nothing kept",
                )
            # The upload row first, the file after (uploads.claim); a blob stored already
            # records nothing for the caller but its request.
            blob_id = await asyncio.to_thread(writer.digest)
            claimed = await uploads.claim(ctx, peer, placeholder, blob_id)
            info = await asyncio.to_thread(writer.commit, blob_id, total)
        except BlobError as exc:  # more bytes than Upload-Length: discarded
            await uploads.audit_upload(ctx, peer, placeholder, size=None, refused=str(exc))
            return error_response(422, type(exc).__name__, str(exc))
        except BaseException:
            await asyncio.to_thread(writer.abort)
            if claimed:
                await uploads.forget(ctx, peer, blob_id)
            raise
        if not claimed:
            await uploads.touch(ctx, peer, info.id)
        if arrival is not None:
            boxes.finish(arrival, info.id)  # type: ignore[union-attr]
    finally:
        if arrival is not None and not arrival.finished:
            boxes.finish(arrival, None)  # type: ignore[union-attr]
        await uploads.forget(ctx, peer, placeholder)  # a no-op once claimed
    await uploads.audit_upload(ctx, peer, info.id, size=total, refused=None)
    return web.Response(status=201, headers={"Blob-Id": info.id, "Upload-Offset": str(total)})


async def _noting(chunks: AsyncIterator[bytes], changed: asyncio.Event) -> AsyncIterator[bytes]:
    """The chunks, setting `changed` after each is taken (its readers look again)."""
    async for chunk in chunks:
        yield chunk
        changed.set()


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
    return BlobResponse(ctx.blobs.path(blob_id), chunk_size=READ_CHUNK)


class BlobResponse(web.FileResponse):
    """aiohttp's FileResponse (its Range, 206 and 416 answers), but under TLS the file is
    read READ_CHUNK bytes per thread hand-off: asyncio's own sendfile fallback for a TLS
    transport reads 16 KiB per hand-off, which held a relayed download to a fraction of the
    wire's speed (bench/RESULTS.md, attachments)."""

    async def _sendfile(self, request, fobj, offset: int, count: int):  # type: ignore[override]
        transport = request.transport
        if transport is None or transport.get_extra_info("sslcontext") is None:
            return await super()._sendfile(request, fobj, offset, count)  # kernel sendfile
        writer = await web.StreamResponse.prepare(self, request)
        return await self._sendfile_fallback(writer, fobj, offset, count)
