"""A unit's side of arriving blobs: streamed from the relay while their upload still comes in.

A pull (`arriving=1`, docs/PROTOCOL.md 19.6) may name blobs a sender is uploading to the
centre for this unit right now. Each is fetched at once, in the background, from
`GET <relay>/arriving/{handle}` into this unit's blob store, so the letter that names it
finds it here when its deposit is pulled, instead of downloading it only then. The bytes
are stored under their own SHA-256, as an untied upload of the relay (17.2.1): within
its quota, tied when the letter is stored, removed by the upload sweep if no letter
ever names them. A stream that ends short (the upload failed) leaves nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field

import aiohttp

from lienthong.node import uploads
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.http import STREAM_CHUNK
from lienthong.node.pinning import pinning_of
from lienthong.node.tls_buffers import large_reads
from lienthong.protocol.peer import MAX_BLOB_BYTES
from lienthong.protocol.relay import Arriving
from lienthong.storage.blobs import write_chunks

log = logging.getLogger("lienthong.relay")

# The uploader its arrivals are recorded under: the relay (the sender is not known here).
RELAY_UPLOADER = "relay"
# Arrivals fetched at once: a few letters' large attachments; more wait for their letter.
MAX_FETCHING = 4
# A stalled stream ends the fetch (the relay ends an idle one after 60 s itself).
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=90, connect=10)


@dataclass
class Fetching:
    """The arrivals this unit is fetching now, by handle."""

    tasks: dict[str, asyncio.Task[str | None]] = field(default_factory=dict)


FETCHING = ServiceKey("relay arrivals", Fetching)


def fetching_of(ctx: NodeContext) -> Fetching:
    return ctx.services.get_or_make(FETCHING, Fetching)


def start(
    ctx: NodeContext, session: aiohttp.ClientSession, relay: str, arriving: list[Arriving]
) -> None:
    """Fetch each arrival not fetched yet, up to MAX_FETCHING at once."""
    fetching = fetching_of(ctx)
    for arrival in arriving:
        if arrival.handle in fetching.tasks or len(fetching.tasks) >= MAX_FETCHING:
            continue
        if not 0 <= arrival.length <= MAX_BLOB_BYTES:
            continue
        task = asyncio.ensure_future(fetch(ctx, session, relay, arrival))
        fetching.tasks[arrival.handle] = task
        task.add_done_callback(lambda _, h=arrival.handle: fetching.tasks.pop(h, None))


async def settled(ctx: NodeContext) -> None:
    """Wait for the fetches under way (a letter's blob may be one of them)."""
    tasks = list(fetching_of(ctx).tasks.values())
    if tasks:
        await asyncio.wait(tasks)


async def fetch(
    ctx: NodeContext, session: aiohttp.ClientSession, relay: str, arrival: Arriving
) -> str | None:
    """Stream one arrival into the blob store; its blob id, or None if it ended short or
    failed (logged; the letter's blob is then fetched after its deposit, as before)."""
    placeholder = secrets.token_hex(32)
    try:
        await uploads.admit(ctx, RELAY_UPLOADER, placeholder, arrival.length)
        writer = await asyncio.to_thread(ctx.blobs.writer, max_size=arrival.length)
        try:
            tls = pinning_of(ctx).for_url(relay)
            url = f"{relay}/arriving/{arrival.handle}"
            async with session.get(url, timeout=FETCH_TIMEOUT, ssl=tls) as response:
                if response.status != 200:
                    raise aiohttp.ClientResponseError(
                        response.request_info, (), status=response.status
                    )
                with large_reads(response.connection and response.connection.transport):
                    await write_chunks(writer, response.content.iter_chunked(STREAM_CHUNK))
            if writer.size != arrival.length:
                raise ValueError(f"the stream ended at {writer.size} of {arrival.length} bytes")
            # The upload row first, the file after: a letter that finds the file ties it.
            blob_id = await asyncio.to_thread(writer.digest)
            if not await uploads.claim(ctx, RELAY_UPLOADER, placeholder, blob_id):
                raise ValueError(f"blob {blob_id} is stored already")
            try:
                info = await asyncio.to_thread(writer.commit, blob_id, arrival.length)
            except BaseException:
                await uploads.forget(ctx, RELAY_UPLOADER, blob_id)
                raise
        except BaseException:
            await asyncio.to_thread(writer.abort)
            raise
        log.debug("arrival %s from the relay stored as blob %s", arrival.handle, info.id)
        return info.id
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.info("arrival %s from the relay not kept: %s", arrival.handle, exc)
        return None
    finally:
        await uploads.forget(ctx, RELAY_UPLOADER, placeholder)
