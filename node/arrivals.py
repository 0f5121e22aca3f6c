"""Blobs arriving at the relay: streamed to their recipients while the upload still comes in.

A sender's early upload to the centre (`POST /v1/blobs` with `Upload-For`, docs/PROTOCOL.md
19.6) registers an arrival here for the units it names. The next pull of each of them
(with `arriving=1`) names it once, and the unit streams it from
`GET <relay>/arriving/{handle}` as its bytes land in the centre's temp file: the centre's
store-then-forward becomes cut-through, and the store still gets its copy. The unit checks
the bytes against the envelope's blob id when the letter comes, as for any blob; a failed
upload ends the stream short and the unit keeps nothing.

Only in memory, and per process: a centre of several workers offers an arrival from the
worker that receives the upload, to pulls that reach that worker; any other unit fetches
the blob after the deposit, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from lienthong.node.context import CONTEXT, NodeContext, ServiceKey
from lienthong.node.peers import require_peer
from lienthong.protocol.relay import ARRIVAL_HANDLE, MAX_ARRIVING, Arriving
from lienthong.protocol.units import has_wire_shape
from lienthong.storage.blobs import READ_CHUNK
from lienthong.storage.filelock import open_renamable

# Unit codes one `Upload-For` may name: an early upload feeds a few destinations, and the
# relay is one of them for all of a letter's recipients without an address (26 in a
# province; a letter to more lists only the first this many).
MAX_UPLOAD_FOR = 64
# A reader that finds no new byte waits this long for the writer before looking again.
POLL_SECONDS = 0.05
# A stream that got no new byte for this long ends (short): the upload is stuck.
IDLE_SECONDS = 60.0


@dataclass(eq=False)
class Arrival:
    handle: str
    uploader: str
    codes: frozenset[str]
    length: int
    path: Path  # the upload's temp file; read through an open handle after its rename
    offered: set[str] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    blob_id: str | None = None
    failed: bool = False
    served: int = 0  # bytes streamed to recipients so far (all readers)

    @property
    def finished(self) -> bool:
        return self.failed or self.blob_id is not None


class Arrivals:
    """The arrivals of this process, by handle; `wake(code)` wakes a unit's waiting pull."""

    def __init__(self) -> None:
        self.by_handle: dict[str, Arrival] = {}
        self.wake: Callable[[str], None] = lambda code: None

    def start(self, uploader: str, codes: Iterable[str], length: int, path: Path) -> Arrival:
        arrival = Arrival(secrets.token_hex(16), uploader, frozenset(codes), length, path)
        self.by_handle[arrival.handle] = arrival
        for code in arrival.codes:
            self.wake(code)
        return arrival

    def finish(self, arrival: Arrival, blob_id: str | None) -> None:
        """The upload is stored as `blob_id`, or failed (None): readers end, and no pull
        names it again."""
        arrival.blob_id = blob_id
        arrival.failed = blob_id is None
        arrival.changed.set()
        self.by_handle.pop(arrival.handle, None)

    def offer(self, code: str) -> list[Arriving]:
        """The unfinished arrivals for `code` no pull named to it yet (each is named once),
        at most MAX_ARRIVING: what a unit reads from one answer."""
        out: list[Arriving] = []
        for arrival in self.by_handle.values():
            if len(out) >= MAX_ARRIVING:  # the rest at the next pull
                break
            if code in arrival.codes and code not in arrival.offered:
                arrival.offered.add(code)
                out.append(Arriving(arrival.handle, arrival.length))
        return out


ARRIVALS = ServiceKey("arrivals", Arrivals)


def arrivals_of(ctx: NodeContext) -> Arrivals | None:
    """This process's arrivals; None where no relay is served (a unit)."""
    return ctx.services.get(ARRIVALS)


def serve_arrivals(ctx: NodeContext) -> Arrivals:
    """Make this node's relay offer arrivals (the centre's relay routes call it)."""
    return ctx.services.get_or_make(ARRIVALS, Arrivals)


def upload_for(value: str) -> list[str]:
    """The unit codes of an `Upload-For` header (comma-separated); those that are not unit
    codes, and any past MAX_UPLOAD_FOR, are left out (the header only speeds things up)."""
    codes = [c.strip() for c in value.split(",")][:MAX_UPLOAD_FOR]
    return [c for c in codes if has_wire_shape(c)]


async def arriving_get(request: web.Request) -> web.StreamResponse:
    """Stream an arrival's bytes to a unit it is for, as they land; end short if the upload
    fails or stalls IDLE_SECONDS."""
    peer = require_peer(request)
    ctx = request.app[CONTEXT]
    handle = request.match_info["handle"]
    boxes = arrivals_of(ctx)
    arrival = boxes.by_handle.get(handle) if boxes and ARRIVAL_HANDLE.matches(handle) else None
    if arrival is None or peer not in arrival.codes:
        raise web.HTTPNotFound(text="no such arrival here (finished, or for another unit)")
    try:
        source = await asyncio.to_thread(open_renamable, arrival.path, "rb")
    except FileNotFoundError:
        raise web.HTTPNotFound(text="that upload is over") from None
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    await response.prepare(request)
    sent = 0
    idle = 0.0
    with source:
        while sent < arrival.length and not arrival.failed:
            stored = arrival.blob_id is not None  # before looking: every byte is in the file
            ready = os.fstat(source.fileno()).st_size - sent
            # A whole READ_CHUNK at a time while the upload lands (one thread hand-off and
            # one chunk on the wire per MiB, not per network read); the rest at the end.
            if ready >= min(READ_CHUNK, arrival.length - sent) or (stored and ready > 0):
                chunk = await asyncio.to_thread(source.read, min(READ_CHUNK, ready))
                await response.write(chunk)
                sent += len(chunk)
                arrival.served += len(chunk)
                idle = 0.0
                continue
            if stored or idle >= IDLE_SECONDS:
                break  # (stored yet short: cannot happen short of a bug; the unit checks)
            arrival.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrival.changed.wait(), POLL_SECONDS)
            idle += POLL_SECONDS
    await response.write_eof()
    return response
