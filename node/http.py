"""The HTTP edge shared by the rooms: bodies of untrusted size read under a cap, decoded as
they arrive, large ones only a few at a time per peer; and the audited refusal of what a
peer sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import CONTEXT, NodeContext, ServiceKey
from lienthong.protocol.incremental import IncrementalDecoder
from lienthong.storage import audit

log = logging.getLogger("lienthong.refusals")

# Bytes asked of the stream per read: large enough for few wake-ups on a 64 MiB body, small
# enough that a body over its cap is stopped within a quarter MiB of it.
STREAM_CHUNK = 256 * 1024
# An audit entry keeps the reason of a refusal cut to this length: a reason may quote what
# was refused, and the log must not grow with what a peer sends.
MAX_AUDITED_REASON = 500
# A request body over this many bytes (declared, or as it arrives) is *large*: it is read
# and worked on only while it holds a slot of its peer and one of the node's. Smaller ones
# (a few dozen letters: most batches) never wait. A body costs about its size in decoded
# items and twice a slice of it while envelopes are verified (node/unit/peer_api.py).
LARGE_BODY_BYTES = 256 * 1024
# Large bodies of one peer read or worked on at once: a sender's delivery engine keeps two
# batches in flight to a destination (PIPELINE_DEPTH). Sixteen parallel 63 MiB inbox
# requests from one peer then hold two bodies, not sixteen (docs/SECURITY.md).
MAX_LARGE_BODIES_PER_PEER = 2
# Large bodies of all peers at once: with bodies of at most 64 MiB (MAX_INBOX_BYTES), the
# node's memory for them stays under about a gigabyte whoever sends them.
MAX_LARGE_BODIES = 8
# How long a large request waits for its slots before it is answered 429: a sender's own
# batches follow each other within this; a flood gets its answer without being read.
LARGE_BODY_WAIT_SECONDS = 30
# The Retry-After of that 429.
LARGE_BODY_RETRY_AFTER_SECONDS = 5
TOO_MANY_LARGE_REQUESTS = "TooManyLargeRequests"  # its error name (docs/PROTOCOL.md 16.4)

T = TypeVar("T")


class BodyTooLarge(LienthongError):
    """A body, declared or as it arrived, is over the limit for it."""

    def __init__(self, limit: int, size: int, *, declared: bool) -> None:
        how = "declares" if declared else "reached"
        super().__init__(f"the body {how} {size} bytes, over the limit of {limit} bytes")
        self.limit = limit
        self.size = size


async def read_capped(stream: aiohttp.StreamReader, limit: int, *, declared: int | None) -> bytes:
    """The whole body, refused with BodyTooLarge before reading when its declared length
    (Content-Length) is over `limit`, and as soon as the bytes that arrive pass it."""
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit, declared, declared=True)
    data = bytearray()
    async for chunk in stream.iter_chunked(STREAM_CHUNK):
        data += chunk
        if len(data) > limit:
            raise BodyTooLarge(limit, len(data), declared=False)
    return bytes(data)


async def read_request(request: web.Request, limit: int) -> bytes:
    """A request's whole body; over `limit` bytes it is refused with 413 (the rest unread)."""
    try:
        return await read_capped(request.content, limit, declared=request.content_length)
    except BodyTooLarge as exc:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=exc.size) from None


class BodySlots:
    """The slots large bodies hold while they are read and worked on: MAX_LARGE_BODIES_PER_PEER
    per peer and MAX_LARGE_BODIES in all; a request waits for both, at most
    LARGE_BODY_WAIT_SECONDS."""

    def __init__(
        self, per_peer: int = MAX_LARGE_BODIES_PER_PEER, total: int = MAX_LARGE_BODIES
    ) -> None:
        self.per_peer = per_peer
        self._total = asyncio.Semaphore(total)
        self._peers: dict[str, asyncio.Semaphore] = {}
        self._asking: dict[str, int] = {}  # requests of a peer holding or waiting for a slot
        self._holding: dict[str, int] = {}

    def held(self, peer: str) -> int:
        """The slots `peer` holds now (for tests and the health page)."""
        return self._holding.get(peer, 0)

    def waiting(self, peer: str) -> int:
        """The requests of `peer` waiting for a slot now."""
        return self._asking.get(peer, 0) - self.held(peer)

    @contextlib.asynccontextmanager
    async def hold(self, peer: str, wait: float) -> AsyncIterator[None]:
        """Hold a slot of `peer` and one of the node's; TimeoutError after `wait` seconds."""
        semaphore = self._peers.setdefault(peer, asyncio.Semaphore(self.per_peer))
        self._asking[peer] = self._asking.get(peer, 0) + 1
        try:
            async with asyncio.timeout(wait):
                await semaphore.acquire()
                try:
                    await self._total.acquire()
                except BaseException:
                    semaphore.release()
                    raise
            self._holding[peer] = self._holding.get(peer, 0) + 1
            try:
                yield
            finally:
                self._holding[peer] -= 1
                if not self._holding[peer]:
                    del self._holding[peer]
                self._total.release()
                semaphore.release()
        finally:
            self._asking[peer] -= 1
            if not self._asking[peer]:  # forget peers with nothing in work: the map stays small
                del self._asking[peer]
                del self._peers[peer]


BODY_SLOTS = ServiceKey("large request bodies", BodySlots)


def body_slots_of(ctx: NodeContext) -> BodySlots:
    return ctx.services.get_or_make(BODY_SLOTS, BodySlots)


class RequestBody:
    """One request's body from a verified peer, read under its cap; once it is large, only
    while it holds the slots of BodySlots (released when the `request_body` block ends)."""

    def __init__(self, request: web.Request, peer: str, slots: BodySlots) -> None:
        self._request = request
        self._peer = peer
        self._slots = slots
        self._held = False
        self.stack = contextlib.AsyncExitStack()

    async def _chunks(self, limit: int) -> AsyncIterator[bytes]:
        declared = self._request.content_length
        if declared is not None and declared > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=declared)
        if declared is not None and declared > LARGE_BODY_BYTES:
            await self._take_slot()
        size = 0
        async for chunk in self._request.content.iter_chunked(STREAM_CHUNK):
            size += len(chunk)
            if size > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
            if size > LARGE_BODY_BYTES:
                await self._take_slot()
            yield chunk

    async def _take_slot(self) -> None:
        if self._held:
            return
        try:
            await self.stack.enter_async_context(
                self._slots.hold(self._peer, LARGE_BODY_WAIT_SECONDS)
            )
        except TimeoutError:
            raise too_many_large_requests(self._peer) from None
        self._held = True

    async def read(self, limit: int) -> bytes:
        """The whole body; over `limit` bytes it is refused with 413 (the rest unread)."""
        data = bytearray()
        async for chunk in self._chunks(limit):
            data += chunk
        return bytes(data)

    async def decode(self, decoder: IncrementalDecoder[T], limit: int) -> T:
        """The body decoded as it arrives: over `limit` bytes it is refused with 413 (the rest
        unread); the decoder's refusal (a LienthongError) as soon as the bytes break a rule."""
        async for chunk in self._chunks(min(limit, decoder.max_bytes)):
            decoder.feed(chunk)
        return decoder.finish()


@contextlib.asynccontextmanager
async def request_body(request: web.Request, peer: str) -> AsyncIterator[RequestBody]:
    """`async with request_body(request, peer) as body:` around reading the body and the
    work on what it holds, so a large body's slots are held until that work is done."""
    body = RequestBody(request, peer, body_slots_of(request.app[CONTEXT]))
    async with body.stack:
        yield body


def too_many_large_requests(peer: str) -> web.HTTPTooManyRequests:
    """The 429 of a large request that found no slot within LARGE_BODY_WAIT_SECONDS."""
    message = (
        f"{peer} has {MAX_LARGE_BODIES_PER_PEER} requests of more than {LARGE_BODY_BYTES} "
        f"bytes in work here (MAX_LARGE_BODIES_PER_PEER), or the node has "
        f"{MAX_LARGE_BODIES} (MAX_LARGE_BODIES), and none ended within "
        f"{LARGE_BODY_WAIT_SECONDS} s: send it again after Retry-After seconds"
    )
    return web.HTTPTooManyRequests(
        text=json.dumps({"error": TOO_MANY_LARGE_REQUESTS, "message": message}),
        content_type="application/json",
        headers={"Retry-After": str(LARGE_BODY_RETRY_AFTER_SECONDS)},
    )


async def read_response(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """An answer's whole body; BodyTooLarge over `limit` bytes (the rest unread)."""
    return await read_capped(response.content, limit, declared=response.content_length)


async def append_refusal(
    tx: Any,
    ctx: NodeContext,
    *,
    actor: str,
    what: str,
    subject: str,
    reason: str,
    **details: Any,
) -> None:
    """Log and audit, in the open transaction `tx`, that `what` from `actor` was refused:
    action `<what>.refused`, the reason (cut to MAX_AUDITED_REASON) and any other details."""
    log.warning("refused %s from %s: %s", what, actor, reason)
    await audit.append(
        tx,
        at=ctx.clock(),
        actor=actor,
        action=f"{what}.refused",
        subject=subject,
        details={**details, "reason": reason[:MAX_AUDITED_REASON]},
    )


async def audit_refusal(
    ctx: NodeContext, *, actor: str, what: str, subject: str, reason: str, **details: Any
) -> None:
    """append_refusal in a transaction of its own."""
    async with ctx.store.write() as tx:
        await append_refusal(
            tx, ctx, actor=actor, what=what, subject=subject, reason=reason, **details
        )
