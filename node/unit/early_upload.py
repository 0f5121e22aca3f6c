"""Early uploads: a letter's attachment sent to its first destinations while it is encrypted.

An attachment's blob id is the SHA-256 of its ciphertext, known only once its last byte is
encrypted. Without this, sending a 1 GiB scan encrypts it into the blob store first and
only then uploads it (`PUT /v1/blobs/{id}`, docs/PROTOCOL.md 17.2): two passes one after
the other. Here the encryption thread hands each 1 MiB of ciphertext both to the blob
store (the copy the delivery engine resumes from) and to a bounded queue per destination,
whose `POST /v1/blobs` (17.2.2) streams it out at once and is answered the blob's id.
When the letter is queued, the engine's `HEAD` finds the blob there and sends the
envelope straight away.

Best effort by design: a destination that fails, is slow to take a chunk or answers
another id is dropped, and the engine uploads to it later from the blob store as before.
The destinations are those the engine would try first: a unit's first address, or the
centre's relay for a unit without one or in back-off; at most EARLY_DESTINATIONS of
them, for blobs of at least EARLY_MIN_BYTES. The relay is told which recipients the
upload is for (`Upload-For`), and streams it on to those that pull while it lands
(node/arrivals.py: cut-through).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from lienthong.node.context import NodeContext, ServiceKey
from lienthong.protocol.ids import BLOB_ID

log = logging.getLogger("lienthong.early_upload")

# Smaller blobs (ciphertext bytes) gain nothing worth a second request: their upload after
# encryption takes milliseconds. Scans of 100-500 MB are where two passes cost minutes.
EARLY_MIN_BYTES = 8 * 1024 * 1024
# Destinations fed from one encryption: it runs at the pace of the slowest, so a letter to
# 26 units feeds its first few, and the engine uploads to the others from the blob store.
EARLY_DESTINATIONS = 4
# Chunks (1 MiB each, node/unit/attachments.READ_SIZE) queued per destination: memory per
# letter at most EARLY_DESTINATIONS x this many MiB.
EARLY_QUEUE_CHUNKS = 8
# A destination that takes no chunk for this long is dropped: the encryption, and so the
# clerk's send, never waits longer on a slow or stalled peer.
EARLY_STALL_SECONDS = 10.0
# After the last chunk, how long the send waits for the destinations' answers.
EARLY_ANSWER_SECONDS = 60.0
# The encryption thread waits at most this long for the loop to take one chunk (each
# destination may take EARLY_STALL_SECONDS before it is dropped): past it the loop is
# taken to be gone (a node stopping), and the encryption goes on without the tee.
CALL_TIMEOUT_SECONDS = EARLY_STALL_SECONDS * EARLY_DESTINATIONS + 5.0
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Destination:
    """Where the engine would send a recipient's letter first, and over which TLS."""

    name: str  # a unit code, or the relay's base URL
    base: str
    server_hostname: str | None
    tls: ssl.SSLContext


@dataclass
class _Stream:
    """One attachment on its way to one destination."""

    destination: Destination
    queue: asyncio.Queue[bytes | None]
    task: asyncio.Task[str] | None = None
    dropped: str | None = None  # why it stopped being fed


@dataclass
class EarlyUploads:
    """The service: what the engine knows (session, first destination of a unit)."""

    session: aiohttp.ClientSession
    first_destination: Callable[[str], Destination | None]

    def letter(self, recipients: Iterable[str]) -> Tee | None:
        """A tee for one letter's attachments, or None when no destination is known."""
        chosen: dict[str, Destination] = {}
        codes: dict[str, list[str]] = {}  # by base: the recipients it is the first for
        for code in recipients:
            try:
                destination = self.first_destination(code)
            except Exception as exc:  # a pinning or directory gap: the engine will say more
                log.debug("no early upload to %s: %s", code, exc)
                continue
            if destination is None:
                continue
            if destination.base in chosen or len(chosen) < EARLY_DESTINATIONS:
                chosen.setdefault(destination.base, destination)
                codes.setdefault(destination.base, []).append(code)
        if not chosen:
            return None
        return Tee(self.session, list(chosen.values()), asyncio.get_running_loop(), codes)


EARLY_UPLOADS = ServiceKey("early_uploads", EarlyUploads)


def early_uploads_of(ctx: NodeContext) -> EarlyUploads | None:
    """The running node's early uploads; None in a process without a delivery engine."""
    return ctx.services.get(EARLY_UPLOADS)


@dataclass
class Tee:
    """Called from the encryption thread: `begin`, `write`..., `end` per attachment;
    `abort` if the encryption fails. `answers` (on the loop) waits for the ids."""

    session: aiohttp.ClientSession
    destinations: list[Destination]
    loop: asyncio.AbstractEventLoop
    # By destination base: the recipients it is the first destination of. Sent as
    # `Upload-For`, so a relay lets them stream the blob as it lands (19.6).
    recipients: dict[str, list[str]] = field(default_factory=dict)
    _streams: list[_Stream] = field(default_factory=list)
    _done: list[tuple[_Stream, int]] = field(default_factory=list)  # (stream, attachment)
    _attachment: int = -1
    _gone: bool = False  # the loop stopped answering: nothing more is teed

    # -- from the encryption thread --------------------------------------------------------

    def begin(self, length: int) -> bool:
        """A new attachment of `length` ciphertext bytes; False if it is not teed."""
        self._attachment += 1
        if length < EARLY_MIN_BYTES:
            self._streams = []
            return False
        self._streams = self._call(self._open(length))
        return bool(self._streams)

    def write(self, chunk: bytes) -> None:
        if self._streams:
            self._call(self._feed(chunk))

    def end(self) -> None:
        if self._streams:
            self._call(self._feed(None))
            self._done += [(s, self._attachment) for s in self._streams if not s.dropped]
            self._streams = []

    def abort(self) -> None:
        """The encryption failed: every upload of this letter stops."""
        self._call(self._cancel_all())

    def _call(self, coro: Any) -> Any:
        """Run `coro` on the loop and wait for it; when the loop is closed or does not run
        it within CALL_TIMEOUT_SECONDS (the node is stopping), the tee gives up: this
        letter's encryption goes on alone, and its uploads are the engine's."""
        if self._gone:
            coro.close()
            return []
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError as exc:  # the loop is closed: the coroutine never started
            coro.close()
            why: BaseException = exc
        else:
            try:
                return future.result(CALL_TIMEOUT_SECONDS)
            except concurrent.futures.TimeoutError as exc:
                future.cancel()  # if the loop ever runs it, it stops there
                why = exc
        self._gone, self._streams = True, []
        log.info("early uploads of this letter given up: the loop is not running (%r)", why)
        return []

    # -- on the loop -------------------------------------------------------------------------

    async def _open(self, length: int) -> list[_Stream]:
        streams = []
        for destination in self.destinations:
            stream = _Stream(destination, asyncio.Queue(EARLY_QUEUE_CHUNKS))
            stream.task = asyncio.ensure_future(self._post(stream, length))
            streams.append(stream)
        return streams

    async def _feed(self, chunk: bytes | None) -> None:
        """Queue `chunk` (None: the end) for every stream still fed, dropping those that
        failed or took nothing for EARLY_STALL_SECONDS."""
        for stream in self._streams:
            if stream.dropped or stream.task is None:
                continue
            if stream.task.done():
                self._drop(stream, "its upload ended early")
                continue
            put = asyncio.ensure_future(stream.queue.put(chunk))
            await asyncio.wait(
                {put, stream.task}, timeout=EARLY_STALL_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if not put.done():
                put.cancel()
                self._drop(stream, f"took no chunk for {EARLY_STALL_SECONDS:.0f} s")

    def _drop(self, stream: _Stream, why: str) -> None:
        stream.dropped = why
        task = stream.task
        if task is not None and not task.done():
            task.cancel()
        elif task is not None and not task.cancelled() and task.exception() is not None:
            why = f"{why}: {task.exception()}"
        log.info("early upload to %s dropped: %s", stream.destination.name, why)

    async def _cancel_all(self) -> None:
        for stream, _ in self._done:
            self._drop(stream, "the encryption failed")
        for stream in self._streams:
            self._drop(stream, "the encryption failed")
        self._done, self._streams = [], []

    async def _post(self, stream: _Stream, length: int) -> str:
        destination = stream.destination
        kwargs: dict[str, Any] = {
            "ssl": destination.tls,
            "timeout": aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_SECONDS, sock_read=EARLY_ANSWER_SECONDS
            ),
        }
        if destination.server_hostname:
            kwargs["server_hostname"] = destination.server_hostname
        async with self.session.post(
            f"{destination.base}/v1/blobs",
            data=_drain(stream.queue),
            headers={
                "Upload-Length": str(length),
                "Upload-For": ",".join(self.recipients.get(destination.base, [])),
            },
            **kwargs,
        ) as response:
            text = await response.text() if response.status != 201 else ""
            if response.status != 201:
                raise EarlyUploadFailed(f"HTTP {response.status} {text[:200]}")
            blob_id = response.headers.get("Blob-Id", "")
            if not BLOB_ID.matches(blob_id):
                raise EarlyUploadFailed(f"answered Blob-Id {blob_id[:80]!r} is no blob id")
            return blob_id

    async def answers(self, blob_ids: list[str]) -> dict[str, list[str]]:
        """Wait (at most EARLY_ANSWER_SECONDS) for the uploads fed to the end; the
        destinations (name) that hold each blob now, by blob id. `blob_ids`: the ids of the
        letter's attachments, in the order encrypted."""
        held: dict[str, list[str]] = {}
        tasks = [s.task for s, _ in self._done if s.task is not None]
        if not tasks:
            return held
        _, pending = await asyncio.wait(tasks, timeout=EARLY_ANSWER_SECONDS)
        for task in pending:
            task.cancel()
        for stream, attachment in self._done:
            task = stream.task
            name = stream.destination.name
            if task is None or task in pending or task.cancelled():
                log.info("early upload to %s: no answer in time", name)
            elif (exc := task.exception()) is not None:
                log.info("early upload to %s failed: %s", name, exc)
            elif task.result() != blob_ids[attachment]:
                log.warning(
                    "early upload to %s answered blob %s, not %s: the engine uploads it again",
                    name,
                    task.result(),
                    blob_ids[attachment],
                )
            else:
                held.setdefault(task.result(), []).append(name)
        return held


class EarlyUploadFailed(Exception):
    """A destination did not store an early upload (an answer other than `201`)."""


async def _drain(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    while (chunk := await queue.get()) is not None:
        yield chunk
