"""The HTTP edge shared by the rooms: bodies of untrusted size read under a cap, and the
audited refusal of what a peer sent."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import NodeContext
from lienthong.storage import audit

log = logging.getLogger("lienthong.refusals")

# Bytes asked of the stream per read: large enough for few wake-ups on a 64 MiB body, small
# enough that a body over its cap is stopped within a quarter MiB of it.
STREAM_CHUNK = 256 * 1024
# An audit entry keeps the reason of a refusal cut to this length: a reason may quote what
# was refused, and the log must not grow with what a peer sends.
MAX_AUDITED_REASON = 500


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
