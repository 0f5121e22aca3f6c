"""The delivery engine: one queue per destination, each with its own backoff.

For each unit with envelopes or statuses due (storage.outbox), a worker
uploads the blobs, then posts the batch to the unit's peer API (addresses
from the directory and, as hints, from LAN discovery); if the unit cannot be
reached it deposits the batch at the centre's relay. Failures back off
exponentially with jitter up to a cap; a unit seen again on the LAN is
retried at once. One dead office never slows the others
(Synapse's per-destination queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from lienthong.bootstrap.directory import advertised_version
from lienthong.crypto.errors import LienthongError
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.http import read_response
from lienthong.node.metrics import metrics_of
from lienthong.node.pinning import pinning_of
from lienthong.node.unit.documents import receive_statuses
from lienthong.node.unit.early_upload import EARLY_UPLOADS, Destination, EarlyUploads
from lienthong.protocol.delivery import Event
from lienthong.protocol.envelope import header_of_own_envelope
from lienthong.protocol.peer import (
    CONTENT_TYPE,
    ERROR_NAME,
    MAX_INBOX_ANSWER_BYTES,
    MAX_UNTIED_UPLOAD_BYTES,
    MAX_UNTIED_UPLOADS,
    BatchAnswer,
    decode_batch_answer,
    encode_batch,
    parse_upload_number,
)
from lienthong.protocol.relay import (
    MAX_DEPOSIT_ANSWER_BYTES,
    decode_deposit_answer,
    encode_deposit,
)
from lienthong.protocol.text import is_decimal
from lienthong.storage import events, outbox
from lienthong.storage.errors import disk_full

log = logging.getLogger("lienthong.delivery")

# Items per request: amortises TLS and commits (a loopback aiohttp POST tops out near 2.5k
# requests/s on one core, so one request per document cannot reach 1,000 documents/s).
BATCH = 200
MAX_PARALLEL_DESTINATIONS = 16
# Batches in flight to one destination: while it works on one, the next is on the wire.
PIPELINE_DEPTH = 2
POLL_SECONDS = 1.0  # picks up documents queued by another process (the CLI) within a second
BACKOFF_BASE_MS = 1_000
BACKOFF_CAP_MS = 10 * 60 * 1_000  # a unit down all day is still tried every ten minutes
# A letter deposited at the relay for a unit that has addresses, with no 01 this long after,
# is tried directly again (then every as long while it stays unanswered): the recipient
# may not collect it (its mailbox held, its relay client stuck) though it answers directly.
# The relay keeps its copy; the recipient stores a letter once by id, so arriving twice is
# harmless.
RELAYED_DIRECT_RETRY_MS = 10 * 60 * 1_000
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=120, connect=5)
UPLOAD_CHUNK = 1024 * 1024
# This node's own disk full: no attempt for this long (its outcome could not be recorded,
# and the destination would be sent the same batch again and again meanwhile).
DISK_FULL_PAUSE_MS = 60_000
# The error name kept for a refusal that names none (an inbox answer always does).
REFUSED = "Refused"
# Bytes of envelopes and statuses in one request: well under the receiver's cap on a
# request (protocol.peer.MAX_INBOX_BYTES, 64 MiB), so a batch is never refused whole.
MAX_BATCH_BYTES = 16 * 1024 * 1024
# The blobs of one batch, uploaded before it is posted, wait untied at the receiver until it
# is: in bytes and in number, a quarter of the receiver's quota (MAX_UNTIED_UPLOAD_BYTES,
# MAX_UNTIED_UPLOADS), so the PIPELINE_DEPTH batches in flight to it fit with room to spare.
MAX_BATCH_BLOB_BYTES = MAX_UNTIED_UPLOAD_BYTES // 4
MAX_BATCH_BLOBS = MAX_UNTIED_UPLOADS // 4


class DeliveryError(LienthongError):
    """One attempt at a destination failed; the items are retried later (not before
    `retry_after_ms` when the destination said how long to wait)."""

    def __init__(self, message: str, *, retry_after_ms: int = 0) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


# The most a destination's Retry-After can hold deliveries back (an hour): a peer cannot
# park another unit's mail for longer than the backoff's own cap would.
MAX_RETRY_AFTER_SECONDS = 3600
# Answers that say "later" (docs/PROTOCOL.md 16.3, 16.4): rate limits, slots, a full disk.
WAIT_STATUSES = frozenset({429, 503, 507})


def retry_after_ms(status: int, headers) -> int:
    """The wait a `429`/`503`/`507` answer asks for (Retry-After in whole seconds, at most
    MAX_RETRY_AFTER_SECONDS), in ms; 0 for any other answer or a malformed header."""
    value = headers.get("Retry-After", "")
    if status not in WAIT_STATUSES or not is_decimal(value, 10):
        return 0
    return min(int(value), MAX_RETRY_AFTER_SECONDS) * 1000


# What ends one attempt at an address (the next address, then the relay, is tried);
# LienthongError covers an answer that does not decode.
ATTEMPT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, ValueError, LienthongError)


def within_bytes(items: list[outbox.DueItem]) -> list[outbox.DueItem]:
    """The oldest items whose bytes fit one request (MAX_BATCH_BYTES) and whose blobs fit
    the receiver's quota (MAX_BATCH_BLOB_BYTES, MAX_BATCH_BLOBS); at least one."""
    total = blob_bytes = 0
    blobs: set[str] = set()
    for n, item in enumerate(items):
        total += len(item.raw)
        if item.kind == "envelope":
            for blob in header_of_own_envelope(item.raw).blobs:
                if blob.id not in blobs:
                    blobs.add(blob.id)
                    blob_bytes += blob.size
        over = total > MAX_BATCH_BYTES or blob_bytes > MAX_BATCH_BLOB_BYTES
        if n > 0 and (over or len(blobs) > MAX_BATCH_BLOBS):
            return items[:n]
    return items


@dataclass
class PeerState:
    failures: int = 0
    last_error: str | None = None
    until: int = 0  # unix ms when the current backoff ends


def backoff_ms(failures: int, random: Callable[[], float] = _random.random) -> int:
    """Delay before the next attempt after `failures` consecutive failures.

    Exponential from BACKOFF_BASE_MS, capped at BACKOFF_CAP_MS, times a jitter in
    [0.5, 1.5) so that units that failed together do not retry together.
    """
    delay = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** min(failures, 30))
    return int(delay * (0.5 + random()))


class DeliveryEngine:
    def __init__(
        self,
        ctx: NodeContext,
        session: aiohttp.ClientSession,
        *,
        discovery: Any = None,
        random: Callable[[], float] = _random.random,
        on_directory_version: Callable[[str, int], Any] | None = None,
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.discovery = discovery
        self.random = random
        self.peers: dict[str, PeerState] = {}
        # Last successful hand-over per destination: (unix ms, "direct" or "relay"), for
        # the health page's "peers seen".
        self.seen: dict[str, tuple[int, str]] = {}
        self.active: dict[str, set[asyncio.Task[bool | None]]] = {}
        # (item id, destination) a worker is carrying now: one envelope to many recipients
        # is one item per recipient.
        self.in_flight: set[tuple[str, str]] = set()
        self._picking: dict[str, asyncio.Lock] = {}
        self.on_directory_version = on_directory_version
        self._wake = asyncio.Event()
        self.disk_full_until = 0  # unix ms: no attempt before, this node's disk being full
        ctx.wake_delivery = self.wake
        ctx.services.put(DELIVERY, self)
        ctx.services.put(EARLY_UPLOADS, EarlyUploads(session, self.first_destination))
        self.metrics = metrics_of(ctx)  # metrics: counts and batch latency (node/metrics.py)

    def wake(self) -> None:
        self._wake.set()

    async def peer_seen(self, code: str, *, directly: bool = True) -> None:
        """A unit showed up: forget its backoff and make its queue due now; if it was seen
        `directly` (not only through the relay), the letters the relay holds for it too."""
        self.peers.pop(code, None)
        now = self.ctx.clock()
        async with self.ctx.store.write() as tx:
            await outbox.make_due_now(tx, code, now, relayed=directly)
        self.wake()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Clear before looking, so a wake that comes while we look is not lost.
            self._wake.clear()
            await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
        tasks = [t for group in self.active.values() for t in group]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def tick(self) -> None:
        """Start workers for destinations with something due, up to PIPELINE_DEPTH each."""
        if self.ctx.clock() < self.disk_full_until:
            return  # this node's disk is full: no outcome could be recorded, so send nothing
        async with self.ctx.store.read() as conn:
            due = await outbox.due_destinations(conn, self.ctx.clock())
        for code in due:
            running = self.active.get(code, set())
            if self.peers.get(code) and running:
                continue  # failing: one attempt at a time
            if not running and len(self.active) >= MAX_PARALLEL_DESTINATIONS:
                continue  # a slot frees when a destination's workers finish (_done wakes us)
            while len(running) < PIPELINE_DEPTH:
                task = asyncio.create_task(self._worker(code), name=f"delivery to {code}")
                running.add(task)
                self.active[code] = running
                task.add_done_callback(lambda t, c=code: self._done(c, t))
                if self.peers.get(code):
                    break

    def _done(self, code: str, task: asyncio.Task[bool | None]) -> None:
        running = self.active.get(code, set())
        running.discard(task)
        if not running:
            self.active.pop(code, None)
        elif not task.cancelled() and task.result() is False:
            # It found nothing to take: the worker still carrying this destination's batch
            # wakes us when it ends. Waking now would start another picker at once, and
            # another, for as long as that attempt is on the wire.
            return
        self.wake()  # more may be due for this destination or waiting for a slot

    async def _worker(self, code: str) -> bool | None:
        try:
            return await self.deliver(code)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            full = disk_full(exc, self.ctx.config.data_dir)
            if full is None:
                log.exception("delivery to %s failed unexpectedly", code)
                return None
            if self.ctx.clock() >= self.disk_full_until:  # once per pause, not per worker
                log.error("deliveries paused for %d s: %s", DISK_FULL_PAUSE_MS // 1000, full)
            self.disk_full_until = self.ctx.clock() + DISK_FULL_PAUSE_MS
            return None

    async def deliver(self, code: str) -> bool:
        """One attempt at a destination: direct, else the relay, else back off.

        False when nothing was due that another worker was not already carrying."""
        async with self._picking.setdefault(code, asyncio.Lock()):  # workers take disjoint items
            # What is in flight before the read: an attempt that ends during the read commits
            # its outcome and leaves in_flight, but a read begun before that commit still
            # shows its items as due. Excluding them keeps an item from a second attempt.
            busy = set(self.in_flight)
            async with self.ctx.store.read() as conn:
                due = await outbox.due_for(conn, code, self.ctx.clock(), BATCH * PIPELINE_DEPTH)
            items = within_bytes([i for i in due if (i.id, code) not in busy][:BATCH])
            ids = {(i.id, code) for i in items}
            self.in_flight |= ids
        if not items:
            return False
        try:
            await self._attempt(code, items)
        finally:
            self.in_flight -= ids
        return True

    async def _attempt(self, code: str, items: list[outbox.DueItem]) -> None:
        errors = []
        wait_ms = 0  # the longest Retry-After a refusing destination or relay asked for
        addresses, relays = self.addresses(code), self.relays()
        for url, server_hostname in addresses:
            try:
                await self._post(url, items, server_hostname=server_hostname, peer=code)
            except ATTEMPT_ERRORS as exc:
                errors.append(f"{url}: {exc}")
                wait_ms = max(wait_ms, getattr(exc, "retry_after_ms", 0))
            else:
                self.seen[code] = (self.ctx.clock(), "direct")
                await self._handed_over(code, directly=True)
                return
        if addresses:  # metrics: the batch failed once on this path, however many addresses
            self.metrics.undelivered(code, "direct", len(items))
        relayed = [i for i in items if i.relayed]
        if relayed:  # the relay holds them already: they wait there for the next direct try
            await self._wait_at_relay(code, relayed, "; ".join(errors) or "no address")
            items = [i for i in items if not i.relayed]
            if not items:
                return
        for relay in relays:
            try:
                await self._deposit(relay, code, items)
            except ATTEMPT_ERRORS as exc:
                errors.append(f"relay {relay}: {exc}")
                wait_ms = max(wait_ms, getattr(exc, "retry_after_ms", 0))
            else:
                self.seen[code] = (self.ctx.clock(), "relay")
                await self._handed_over(code, directly=False)
                return
        if relays:  # metrics
            self.metrics.undelivered(code, "relay", len(items))
        error = "; ".join(errors) or "no address and no relay"
        await self._back_off(code, items, error, at_least_ms=wait_ms)

    async def _handed_over(self, code: str, *, directly: bool) -> None:
        """A batch for `code` was taken, directly or at a relay: if it was failing, the
        failures in a row are over and everything waiting for it is due at once."""
        if code in self.peers:
            await self.peer_seen(code, directly=directly)

    def _direct_retry_at(self, code: str, now: int) -> int | None:
        """When a letter the relay holds for `code` is tried directly (None: `code` has no
        address, so only its 01 or the relay's expiry notice moves it on)."""
        return now + RELAYED_DIRECT_RETRY_MS if self.addresses(code) else None

    async def _wait_at_relay(self, code: str, items: list[outbox.DueItem], error: str) -> None:
        """Letters the relay holds that the direct try did not hand over: tried directly
        again RELAYED_DIRECT_RETRY_MS later; never deposited again."""
        now = self.ctx.clock()
        later = self._direct_retry_at(code, now)
        async with self.ctx.store.write() as tx:
            for item in items:
                await outbox.retry_later(
                    tx, item, next_attempt_at=later, error=f"at the relay; direct: {error}", at=now
                )

    def addresses(self, code: str) -> list[tuple[str, str | None]]:
        """(base URL, TLS server name) to try: LAN hints first, then directory endpoints."""
        directory = self.ctx.directory.current
        cert = directory.current(code) if directory else None
        if cert is None or not cert.reachable:
            return []
        out: list[tuple[str, str | None]] = []
        names = [urlsplit(e).hostname for e in cert.endpoints]
        if self.discovery is not None and names:
            for host, port in self.discovery.addresses(code):
                out.append((f"https://{host}:{port}", names[0]))
        out += [(e.rstrip("/"), None) for e in cert.endpoints]
        return list(dict.fromkeys(out))

    def first_destination(self, code: str) -> Destination | None:
        """Where the next attempt at `code` would upload first (20.2): its first address,
        or the first relay when it has none or is backing off; for early uploads."""
        state = self.peers.get(code)
        addresses = self.addresses(code)
        if addresses and (state is None or state.until <= self.ctx.clock()):
            base, server_hostname = addresses[0]
            return Destination(code, base, server_hostname, pinning_of(self.ctx).for_unit(code))
        relays = self.relays()
        if not relays:
            return None
        base = relays[0].rsplit("/v1/", 1)[0]
        return Destination(base, base, None, pinning_of(self.ctx).for_url(relays[0]))

    def relays(self) -> list[str]:
        directory = self.ctx.directory.current
        return [r.rstrip("/") for r in directory.relays] if directory else []

    async def _back_off(
        self, code: str, items: list[outbox.DueItem], error: str, *, at_least_ms: int = 0
    ) -> None:
        state = self.peers.setdefault(code, PeerState())
        state.last_error = error
        now = self.ctx.clock()
        if now < state.until:
            # Items that became due during the backoff (a new document, the pipeline's other
            # batch) wait with the rest: the delay grows with the time the destination has
            # been away, not with how much was sent to it meanwhile.
            later = state.until
        else:
            state.failures += 1
            later = state.until = now + backoff_ms(state.failures, self.random)
        if at_least_ms and later < now + at_least_ms:  # the destination asked us to wait
            later = state.until = now + at_least_ms
        log.info(
            "delivery to %s failed (%d in a row); next try in %d ms: %s",
            code,
            state.failures,
            later - now,
            error,
            extra={"unit": code, "path": "direct", "items": len(items), "retry_ms": later - now},
        )
        async with self.ctx.store.write() as tx:
            for item in items:
                await outbox.retry_later(tx, item, next_attempt_at=later, error=error, at=now)

    # -- direct -----------------------------------------------------------------------------

    async def _post(
        self, base: str, items: list[outbox.DueItem], *, server_hostname: str | None, peer: str
    ) -> None:
        envelopes = [i for i in items if i.kind == "envelope"]
        statuses = [i for i in items if i.kind == "status"]
        started = time.perf_counter()
        # Only the server whose leaf the directory lists for `peer` gets the batch, and only
        # its answer acknowledges statuses (docs/PROTOCOL.md "Pinned destinations").
        tls = pinning_of(self.ctx).for_unit(peer)
        await self._upload_blobs(base, envelopes, server_hostname, tls)
        body = encode_batch([i.raw for i in envelopes], [i.raw for i in statuses])
        uploaded = time.perf_counter()
        data = await self._request(
            f"{base}/v1/inbox", body, server_hostname, MAX_INBOX_ANSWER_BYTES, tls
        )
        result = decode_batch_answer(data, envelopes=len(envelopes), statuses=len(statuses))
        answered = time.perf_counter()
        await self._apply_results(peer, envelopes, statuses, result)
        self.metrics.batch_took("direct", time.perf_counter() - started)  # metrics
        log.debug(
            "to %s: %d envelopes, %d statuses; blobs %.0f ms, answer %.0f ms, applied %.0f ms",
            peer,
            len(envelopes),
            len(statuses),
            (uploaded - started) * 1000,
            (answered - uploaded) * 1000,
            (time.perf_counter() - answered) * 1000,
            extra={
                "unit": peer,
                "path": "direct",
                "envelopes": [i.id for i in envelopes][:10],
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    async def _request(
        self, url: str, body: bytes, server_hostname: str | None, limit: int, tls: ssl.SSLContext
    ) -> bytes:
        """POST `body` over the pinned context `tls`; the bytes of a `200` answer (at most
        `limit`), else DeliveryError."""
        kwargs: dict[str, Any] = {"timeout": REQUEST_TIMEOUT, "ssl": tls}
        if server_hostname:
            kwargs["server_hostname"] = server_hostname
        async with self.session.post(
            url, data=body, headers={"Content-Type": CONTENT_TYPE}, **kwargs
        ) as response:
            self._gossip(url, response)
            data = await read_response(response, limit)
            if response.status != 200:
                raise DeliveryError(
                    f"HTTP {response.status}: {data[:300]!r}",
                    retry_after_ms=retry_after_ms(response.status, response.headers),
                )
        return data

    def _gossip(self, url: str, response: aiohttp.ClientResponse) -> None:
        advertised = advertised_version(response.headers)  # 1-16 ASCII digits, else None
        if advertised is not None and self.on_directory_version is not None:
            base = url.split("/v1/", 1)[0]
            self.on_directory_version(base, advertised)

    async def _apply_results(
        self,
        peer: str,
        envelopes: list[outbox.DueItem],
        statuses: list[outbox.DueItem],
        result: BatchAnswer,
    ) -> None:
        # Refused items: the item, the refusal's error name (16.4), what was said.
        failed: list[tuple[outbox.DueItem, str, str]] = []
        receipts: list[tuple[outbox.DueItem, bytes]] = []
        for item, answer in zip(envelopes, result.envelopes, strict=True):
            if answer.ok and answer.status is not None:
                receipts.append((item, answer.status))
            else:
                failed.append((item, answer.error or REFUSED, answer.describe()))
        applied = await receive_statuses(self.ctx, [r for _, r in receipts], via="direct")
        for (item, _), outcome in zip(receipts, applied, strict=True):
            if isinstance(outcome, LienthongError):
                failed.append((item, type(outcome).__name__, f"receipt refused: {outcome}"))
        now = self.ctx.clock()
        async with self.ctx.store.write() as tx:
            for item, answer in zip(statuses, result.statuses, strict=True):
                if answer.ok:
                    await outbox.status_delivered(tx, item.id, at=now)
                else:
                    failed.append((item, answer.error or REFUSED, answer.describe()))
            for item, name, error in failed:
                # A refused item backs off on its own attempts, however well the
                # destination answers the rest of the batch; one it keeps refusing stops.
                later = now + backoff_ms(item.attempts + 1, self.random)
                await self._refused(tx, peer, item, name, error, later, now)
        self.metrics.delivered(peer, "direct", len(envelopes) + len(statuses) - len(failed))
        self.metrics.undelivered(peer, "direct", len(failed))  # metrics: refused items
        if failed:
            log.warning(
                "%d item(s) refused by %s: %s",
                len(failed),
                peer,
                failed[0][2],
                extra={"unit": peer, "path": "direct", "envelope": failed[0][0].id},
            )

    async def _refused(
        self, tx, peer: str, item: outbox.DueItem, name: str, error: str, later: int, now: int
    ) -> None:
        """Back a refused item off, or stop it as a dead letter (storage.outbox.refused)."""
        if await outbox.refused(tx, item, error=name, message=error, next_attempt_at=later, at=now):
            await events.append_delivery_failed(
                tx, item.kind, item.id, peer, error=name, message=error[:500], at=now
            )
            self.metrics.dead_lettered(peer, item.kind)
            log.warning(
                "%s %s to %s is a dead letter (%s): no longer sent; a clerk retries it on "
                "its page, an operator with 'lienthong retry'",
                item.kind,
                item.id,
                peer,
                error,
                extra={"unit": peer, "envelope": item.id},
            )

    async def _upload_blobs(
        self,
        base: str,
        envelopes: list[outbox.DueItem],
        server_hostname: str | None,
        tls: ssl.SSLContext,
    ) -> None:
        seen: set[str] = set()
        for item in envelopes:
            for blob in header_of_own_envelope(item.raw).blobs:
                if blob.id not in seen:
                    seen.add(blob.id)
                    await self.upload_blob(base, blob.id, server_hostname, tls=tls)

    async def upload_blob(
        self, base: str, blob_id: str, server_hostname: str | None, *, tls: ssl.SSLContext
    ) -> None:
        """Send one blob over the pinned context `tls`, resuming where the peer's copy stops;
        no-op if it has it."""
        kwargs: dict[str, Any] = {"timeout": REQUEST_TIMEOUT, "ssl": tls}
        if server_hostname:
            kwargs["server_hostname"] = server_hostname
        url = f"{base}/v1/blobs/{blob_id}"
        async with self.session.head(url, **kwargs) as response:
            if response.status == 200:
                return
            offset = parse_upload_number(response.headers.get("Upload-Offset", "0"))
        if offset is None:
            raise DeliveryError(f"{url}: the Upload-Offset answered is not 1-19 digits 0-9")
        path = self.ctx.blobs.path(blob_id)
        total = path.stat().st_size
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60, connect=5)
        kwargs["timeout"] = timeout
        headers = {"Upload-Offset": str(offset), "Upload-Length": str(total)}
        async with self.session.put(
            url, data=_file_chunks(path, offset), headers=headers, **kwargs
        ) as response:
            if response.status not in (200, 201):
                text = await response.text()
                raise DeliveryError(
                    f"blob {blob_id[:12]}… upload: HTTP {response.status} {text[:200]}"
                )

    # -- relay ------------------------------------------------------------------------------

    async def _deposit(self, relay: str, code: str, items: list[outbox.DueItem]) -> None:
        base = relay.rsplit("/v1/", 1)[0]
        started = time.perf_counter()  # metrics
        envelopes = [i for i in items if i.kind == "envelope"]
        statuses = [i for i in items if i.kind == "status"]
        tls = pinning_of(self.ctx).for_url(relay)  # the centre's own leaf, as the directory says
        await self._upload_blobs(base, envelopes, None, tls)
        body = encode_deposit(code, [i.raw for i in envelopes], [i.raw for i in statuses])
        data = await self._request(f"{relay}/deposit", body, None, MAX_DEPOSIT_ANSWER_BYTES, tls)
        answer = decode_deposit_answer(data, items=len(items))
        accepted = answer.accepted
        now = self.ctx.clock()
        direct_at = self._direct_retry_at(code, now)
        async with self.ctx.store.write() as tx:
            for item, ok, error in zip(envelopes + statuses, accepted, answer.errors, strict=True):
                if not ok:
                    later = now + backoff_ms(item.attempts + 1, self.random)
                    error = error or "refused by the relay"
                    name = error.split(":", 1)[0]  # "<ErrorName>: <message>" (19.1)
                    name = name if ERROR_NAME.matches(name) else REFUSED
                    await self._refused(tx, code, item, name, error, later, now)
                elif item.kind == "envelope":
                    await outbox.apply_delivery_event(
                        tx, item.id, code, Event.DEPOSITED, at=now, next_attempt_at=direct_at
                    )
                else:
                    await outbox.status_delivered(tx, item.id, at=now)
        taken = sum(1 for ok in accepted if ok)  # metrics
        self.metrics.delivered(code, "relay", taken)
        self.metrics.undelivered(code, "relay", len(items) - taken)
        self.metrics.batch_took("relay", time.perf_counter() - started)


DELIVERY = ServiceKey("delivery", DeliveryEngine)


async def _file_chunks(path, offset: int):
    """The blob file from `offset`, UPLOAD_CHUNK bytes at a time, the next read running in a
    thread while the last chunk is sent (two chunks in memory at most)."""
    with open(path, "rb") as f:  # noqa: ASYNC230 - chunked reads in a thread below
        f.seek(offset)
        reading = asyncio.ensure_future(asyncio.to_thread(f.read, UPLOAD_CHUNK))
        try:
            while chunk := await asyncio.shield(reading):  # a cancel leaves the read whole
                reading = asyncio.ensure_future(asyncio.to_thread(f.read, UPLOAD_CHUNK))
                yield chunk
        finally:
            if not reading.done():
                await asyncio.wait({reading})  # the file stays open until its read is over
            if not reading.cancelled():
                reading.exception()  # retrieved: the upload's own failure is what counts
