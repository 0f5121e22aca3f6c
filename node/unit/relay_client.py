"""Every node's side of the relay: collect its mail from the centre (long-poll), take it in,
and acknowledge it.

Reachable nodes pull too: statuses may wait at the relay while a node is down.
Each item is verified here as if it came from its author directly (the relay is
only a carrier); an item this node refuses for good is acknowledged and audited,
one it cannot take yet (its own directory is behind, its clock is off) stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from lienthong.crypto.errors import LienthongError
from lienthong.node import uploads
from lienthong.node.context import NodeContext
from lienthong.node.http import STREAM_CHUNK, BodyTooLarge, read_response
from lienthong.node.pinning import PinnedDestinationUnknown, pinning_of
from lienthong.node.tls_buffers import large_reads
from lienthong.node.unit import relay_arrivals
from lienthong.node.unit.documents import (
    ClockSkew,
    EnvelopeNotHereYet,
    MissingBlobs,
    receive_envelope,
    receive_status,
)
from lienthong.protocol.delivery import Event
from lienthong.protocol.envelope import BlobRef, verify_envelope
from lienthong.protocol.errors import (
    Expired,
    InvalidField,
    NotARecipient,
    ProtocolError,
    UnknownSigner,
)
from lienthong.protocol.peer import CONTENT_TYPE
from lienthong.protocol.relay import (
    MAX_PULL_RESPONSE_BYTES,
    MAX_PULL_WAIT,
    NOTICE_EXPIRED,
    NOTICE_STATUS_EXPIRED,
    PullAnswer,
    decode_notice,
    decode_pull,
    encode_ack,
    format_wait,
)
from lienthong.protocol.states import TransitionError
from lienthong.protocol.status import verify_status
from lienthong.storage import audit
from lienthong.storage.blobs import write_chunks
from lienthong.storage.errors import (
    BlobError,
    BlobHashMismatch,
    BlobTooLarge,
    Conflict,
    DiskFull,
    NotFound,
    StoreError,
    disk_full,
)
from lienthong.storage.outbox import apply_delivery_event, requeue_status

log = logging.getLogger("lienthong.relay")

PULL_WAIT_SECONDS = MAX_PULL_WAIT  # the longest wait the relay grants
# The relay answers within the wait; the rest covers a full answer on a slow link.
PULL_TIMEOUT = aiohttp.ClientTimeout(total=PULL_WAIT_SECONDS + 60, connect=10)
ACK_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
# Blobs can be gigabytes: no total limit, but a stalled read ends the attempt.
BLOB_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=60, connect=10)
# After a failed pull: 1 s, 2 s, 4 s ... up to 5 minutes, with jitter so that the
# units of a province do not all come back to a restarted centre in the same second.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 300.0
# The relay answers an item this node left for later again only after REOFFER_SECONDS
# (docs/PROTOCOL.md 19.2), and meanwhile the next pull waits for new mail. A relay that
# answers the same left items at once (an older one) would make the loop spin: when a pull
# brings only items the previous pull left, wait this long before asking again.
DEFERRED_RETRY_SECONDS = 30.0
# A directory without a relay (or no directory yet): look again this often.
NO_RELAY_RECHECK_SECONDS = 60.0
# What a broken link looks like; these never cause an item to be acknowledged.
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)

T = TypeVar("T")


class RelayUnavailable(LienthongError):
    """The relay answered with an error or something that is not a relay answer."""


class _NotYet(LienthongError):
    """An item this node cannot take in now but may later: it stays in the mailbox."""


@dataclass(frozen=True)
class PullResult:
    received: int  # items in the relay's answer
    acknowledged: int  # taken in, or refused for good
    deferred: int  # left in the mailbox for a later pull
    left: frozenset[str] = frozenset()  # the ids of the items left for later


def brought_only_left(result: PullResult | None, previous: PullResult | None) -> bool:
    """Whether a pull brought nothing but items the previous pull left for later (then the
    relay answers them at once and the loop waits DEFERRED_RETRY_SECONDS)."""
    if result is None or previous is None or not result.deferred or result.acknowledged:
        return False
    return result.left <= previous.left


def backoff_seconds(failures: int, random: Callable[[], float] = _random.random) -> float:
    """Delay after `failures` consecutive failed pulls: exponential, capped, jittered."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** min(failures - 1, 30))
    return delay * (0.5 + random())


def relay_url(ctx: NodeContext) -> str | None:
    """The relay this node pulls from: the directory's first."""
    directory = ctx.directory.current
    return directory.relays[0].rstrip("/") if directory and directory.relays else None


def centre_base(relay: str) -> str:
    """The centre's peer URL, where blobs are, from a relay URL `<centre>/v1/relay`."""
    return relay.rsplit("/v1/", 1)[0]


async def pull_loop(
    ctx: NodeContext,
    session: aiohttp.ClientSession,
    stop: asyncio.Event,
    *,
    delay: Callable[[int], float] = backoff_seconds,
) -> None:
    """Pull, take in and acknowledge mail until `stop` is set; back off while the relay is
    unreachable, saying so once per outage."""
    failures = 0
    previous: PullResult | None = None
    while not stop.is_set():
        relay = relay_url(ctx)
        if relay is None:
            await _pause(stop, NO_RELAY_RECHECK_SECONDS)
            continue
        try:
            result = await _until(pull_once(ctx, session, relay, wait=PULL_WAIT_SECONDS), stop)
        except DiskFull as exc:  # here, not at the relay: what was taken in is acknowledged
            failures += 1
            if failures == 1:
                log.error("mail from relay %s not taken in; retrying with back-off: %s", relay, exc)
            await _pause(stop, delay(failures))
            continue
        except (*NETWORK_ERRORS, RelayUnavailable, PinnedDestinationUnknown) as exc:
            failures += 1
            if failures == 1:
                log.warning(
                    "relay %s unreachable; retrying with back-off: %s",
                    relay,
                    exc,
                    extra={"peer": relay, "path": "relay"},
                )
            await _pause(stop, delay(failures))
            continue
        except LienthongError as exc:  # e.g. this node's own store refused a write
            failures += 1
            log.warning("collecting mail from relay %s failed: %s", relay, exc)
            await _pause(stop, delay(failures))
            continue
        if failures:
            log.info(
                "relay %s reachable again after %d failed attempt(s)",
                relay,
                failures,
                extra={"peer": relay, "path": "relay", "failures": failures},
            )
            failures = 0
        if brought_only_left(result, previous):
            await _pause(stop, DEFERRED_RETRY_SECONDS)
        previous = result


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _until(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The result of `work`, or None if `stop` is set first (then `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return task.result() if not task.cancelled() else None


async def pull_once(
    ctx: NodeContext, session: aiohttp.ClientSession, relay: str, *, wait: float = 0
) -> PullResult:
    """One pull: fetch the oldest mail (waiting up to `wait` s for some), take each item
    in, acknowledge what is done with. Network errors propagate (after acknowledging
    what was already taken in)."""
    # arriving=1: the relay may name blobs being uploaded for this unit now (19.6).
    url = f"{relay}/pull?wait={format_wait(wait)}&arriving=1"
    tls = pinning_of(ctx).for_url(relay)  # the relay's own leaf, as the directory lists it
    async with session.get(url, timeout=PULL_TIMEOUT, ssl=tls) as response:
        if response.status != 200:
            text = (await response.content.read(300)).decode("utf-8", "replace")
            raise RelayUnavailable(f"{url}: HTTP {response.status}: {text}")
        answer = _answer(await _read_answer(response))
    relay_arrivals.start(ctx, session, relay, answer.arriving)
    items = answer.items
    base = centre_base(relay)
    done: list[str] = []
    left: list[str] = []
    failure: BaseException | None = None
    for item in items:
        try:
            if await _take(ctx, session, base, item.id, item.kind, item.raw):
                done.append(item.id)
            else:
                left.append(item.id)
        except Exception as exc:
            # This node's own full disk is not the link's fault: it is reported as such.
            full = disk_full(exc, ctx.config.data_dir)
            if full is None and not isinstance(exc, NETWORK_ERRORS):
                raise
            failure = full or exc
            break
    if done:
        await _ack(session, relay, done, tls)
    if failure is not None:
        raise failure
    return PullResult(
        received=len(items), acknowledged=len(done), deferred=len(left), left=frozenset(left)
    )


async def _read_answer(response: aiohttp.ClientResponse) -> bytes:
    """A pull answer's bytes, at most MAX_PULL_RESPONSE_BYTES; RelayUnavailable if more."""
    try:
        return await read_response(response, MAX_PULL_RESPONSE_BYTES)
    except BodyTooLarge as exc:
        raise RelayUnavailable(f"the relay's answer: {exc}") from None


def _answer(data: bytes) -> PullAnswer:
    """A pull answer (protocol.relay); RelayUnavailable if malformed."""
    try:
        return decode_pull(data)
    except ProtocolError as exc:
        raise RelayUnavailable(f"malformed answer from the relay: {exc}") from None


async def _ack(
    session: aiohttp.ClientSession, relay: str, ids: list[str], tls: ssl.SSLContext
) -> None:
    async with session.post(
        f"{relay}/ack",
        data=encode_ack(ids),
        headers={"Content-Type": CONTENT_TYPE},
        timeout=ACK_TIMEOUT,
        ssl=tls,
    ) as response:
        if response.status != 200:
            text = (await response.content.read(300)).decode("utf-8", "replace")
            raise RelayUnavailable(f"{relay}/ack: HTTP {response.status}: {text}")


def _not_yet(exc: LienthongError) -> bool:
    """Refusals that depend on this node's own state, which a later attempt may not meet."""
    if isinstance(exc, ClockSkew | MissingBlobs | _NotYet | RelayUnavailable | EnvelopeNotHereYet):
        return True  # RelayUnavailable: the relay failed to serve a blob, not the item
    # The store itself (locked, full disk), not the item; the other store errors are the
    # item's fault: unknown delivery (NotFound), a clash, a blob that does not hash.
    return isinstance(exc, StoreError) and not isinstance(
        exc, NotFound | Conflict | BlobHashMismatch | BlobTooLarge
    )


async def _take(
    ctx: NodeContext,
    session: aiohttp.ClientSession,
    base: str,
    item_id: str,
    kind: str,
    raw: bytes,
) -> bool:
    """Take one item in; True when it may be acknowledged (done, or refused for good)."""
    try:
        if kind == "envelope":
            await _envelope(ctx, session, base, raw)
        elif kind == "status":
            _verified(lambda: verify_status(raw, ctx.directory.key_lookup))
            await receive_status(ctx, raw, via="relay")
        else:
            await _notice(ctx, raw)
        return True
    except LienthongError as exc:
        if _not_yet(exc):
            log.info(
                "relay item %s (%s) left for later: %s",
                item_id,
                kind,
                exc,
                extra={"item": item_id, "kind": kind, "path": "relay"},
            )
            return False
        log.warning(
            "relay item %s (%s) refused: %s",
            item_id,
            kind,
            exc,
            extra={"item": item_id, "kind": kind, "path": "relay", "error": type(exc).__name__},
        )
        async with ctx.store.write() as tx:
            await audit.append(
                tx,
                at=ctx.clock(),
                actor="relay",
                action=f"{kind}.refused",
                subject=item_id,
                details={"via": "relay", "reason": f"{type(exc).__name__}: {exc}"[:500]},
            )
        return True


def _verified(check: Callable[[], T]) -> T:
    """Run a signature check; a signer this node's directory does not know yet (or a
    directory that has expired here) is not the item's fault."""
    try:
        return check()
    except (UnknownSigner, Expired) as exc:
        raise _NotYet(f"cannot verify yet with this node's directory: {exc}") from None


async def _envelope(
    ctx: NodeContext, session: aiohttp.ClientSession, base: str, raw: bytes
) -> None:
    header = _verified(lambda: verify_envelope(raw, ctx.directory.key_lookup)).header
    me = ctx.config.code
    if me not in header.recipients:
        raise NotARecipient(f"envelope {header.id} from {header.sender} is not addressed to {me}")
    if header.blobs:
        # A blob of it may be arriving right now: its upload row is written before its file
        # is placed, and the fetch is over once both are; then the tie below finds the row.
        await relay_arrivals.settled(ctx)
    for blob in header.blobs:
        if not _have(ctx, blob):
            await fetch_blob(ctx, session, base, blob)
    async with uploads.receiving(ctx):  # no upload sweep between the blob check and the tie
        await receive_envelope(ctx, raw, via="relay")
        # A peer's direct upload of a blob of this letter (its post failed, the letter came
        # by the relay) belongs to the letter now.
        await uploads.tie(ctx, [b.id for b in header.blobs])
    ctx.wake_delivery()  # the 01 goes back through the delivery queue


def _have(ctx: NodeContext, blob: BlobRef) -> bool:
    try:
        return ctx.blobs.path(blob.id).stat().st_size == blob.size
    except FileNotFoundError:
        return False


async def fetch_blob(
    ctx: NodeContext, session: aiohttp.ClientSession, base: str, blob: BlobRef
) -> None:
    """Stream a blob from the centre into ctx.blobs, resuming a download cut earlier.

    The bytes go to the blob store's resumable upload of that id (what a direct
    upload uses too, so the two never write it at once) and are committed only if
    they hash to the id.
    """
    url = f"{base}/v1/blobs/{blob.id}"
    writer = None
    try:
        writer = await asyncio.to_thread(ctx.blobs.partial, blob.id, max_size=blob.size)
        if writer.size < blob.size:
            headers = {"Range": f"bytes={writer.size}-"} if writer.size else {}
            tls = pinning_of(ctx).for_url(base)
            async with session.get(url, headers=headers, timeout=BLOB_TIMEOUT, ssl=tls) as response:
                if response.status == 200 and writer.size:
                    # The relay sent the whole blob, not the rest: start again from zero.
                    await asyncio.to_thread(writer.abort)
                    writer = await asyncio.to_thread(ctx.blobs.partial, blob.id, max_size=blob.size)
                elif response.status == 404:
                    raise _NotYet(f"the relay does not hold blob {blob.id} (now)")
                elif response.status not in (200, 206):
                    raise RelayUnavailable(f"{url}: HTTP {response.status}")
                with large_reads(response.connection and response.connection.transport):
                    await write_chunks(writer, response.content.iter_chunked(STREAM_CHUNK))
        await asyncio.to_thread(writer.commit, blob.id, blob.size)
    except BlobError as exc:
        if isinstance(exc, BlobHashMismatch | BlobTooLarge):
            raise
        raise _NotYet(str(exc)) from None  # another request is writing this blob now
    finally:
        if writer is not None:  # keeps a partial download; nothing to do after a commit
            await asyncio.to_thread(writer.suspend)


async def _notice(ctx: NodeContext, raw: bytes) -> None:
    event, envelope_id, recipient = decode_notice(raw)  # an envelope id or a status id
    now = ctx.clock()
    if event == NOTICE_STATUS_EXPIRED:  # our status was never collected: send it again
        async with ctx.store.write() as tx:
            await requeue_status(tx, envelope_id, at=now)
        ctx.wake_delivery()
        log.warning(
            "status %s expired at the relay before %s collected it; sending it again",
            envelope_id,
            recipient,
            extra={"envelope": envelope_id, "unit": recipient, "path": "relay"},
        )
        return
    if event != NOTICE_EXPIRED:  # decode_notice knows no other event; kept for new ones
        raise InvalidField("relay notice", "event", f"unknown event {event!r}")
    async with ctx.store.write() as tx:
        with contextlib.suppress(TransitionError):  # the 01 may have come first
            await apply_delivery_event(tx, envelope_id, recipient, Event.EXPIRED, at=now)
    log.warning(
        "envelope %s expired at the relay before %s collected it",
        envelope_id,
        recipient,
        extra={"envelope": envelope_id, "unit": recipient, "path": "relay"},
    )
