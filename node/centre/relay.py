"""The centre's relay: a mailbox per unit for ciphertext it cannot read, long-poll pulls, acks,
and the retention sweep that tells senders what expired.

Wire layout (docs/PROTOCOL.md, "Relay"; the codecs and limits are protocol/relay.py), all
bodies msgpack, all routes mutual TLS:
`POST /v1/relay/deposit` {"to": code, "envelopes": [bin], "statuses": [bin]} answers
{"accepted": [bool], "errors": [str|nil]}, one per item, envelopes first;
`GET /v1/relay/pull?wait=SECONDS` answers {"items": [{"id", "kind", "raw"}]}, oldest
first, each hidden from the next pulls for REOFFER_SECONDS, waiting for mail when none
is visible; `POST /v1/relay/ack` {"ids": [str]} removes collected items. Blobs go to the
centre's `/v1/blobs/{id}` before the envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from aiohttp import web

from lienthong.crypto.errors import LienthongError
from lienthong.node.arrivals import arrivals_of, arriving_get, serve_arrivals
from lienthong.node.context import CONTEXT, NodeContext, ServiceKey
from lienthong.node.http import append_refusal, audit_refusal, read_request, request_body
from lienthong.node.peers import error_response, require_peer
from lienthong.node.periodic import run_every
from lienthong.protocol.envelope import BlobRef, verify_envelope
from lienthong.protocol.errors import ClockSkew, MissingBlobs, NotARecipient, SignerMismatch
from lienthong.protocol.peer import CONTENT_TYPE
from lienthong.protocol.relay import (
    MAX_ACK_BYTES,
    MAX_DEPOSIT_BYTES,
    MAX_PULL_BYTES,
    MAX_PULL_ITEMS,
    NOTICE_EXPIRED,
    NOTICE_STATUS_EXPIRED,
    REOFFER_SECONDS,
    PulledItem,
    decode_ack,
    deposit_decoder,
    encode_ack_answer,
    encode_deposit_answer,
    encode_notice,
    encode_pull_answer,
    mailbox_item_id,
    notice_id,
    parse_wait,
    wire_id_of,
)
from lienthong.protocol.status import verify_status
from lienthong.storage import audit, uploads
from lienthong.storage import relay as mailbox
from lienthong.storage.blobs import BLOB_ID, BlobStore
from lienthong.storage.centre import touch_unit
from lienthong.storage.db import Tx
from lienthong.storage.errors import Conflict
from lienthong.storage.relay import MailItem

log = logging.getLogger("lienthong.relay")

# The sweep runs this often: retention is counted in days, so a quarter of an hour late
# is nothing, and each pass walks the blob directory once.
SWEEP_INTERVAL_SECONDS = 15 * 60
# Items expired per transaction: keeps each write short while a backlog drains.
SWEEP_BATCH = 500
# Blob files that no item ever referred to (an upload whose deposit never came), removed
# per sweep once older than the retention period.
MAX_ORPHANS_PER_SWEEP = 1000
MS_PER_DAY = 86_400_000
# A unit's "last seen" (the console's list) is written at most this often per worker: an
# idle unit's pull then takes no write lock (a national centre serves tens of thousands of
# long-polls; each took the store's one write lock twice, and 5,000 first pulls at once
# queued past the lock's timeout). A minute is finer than anyone reads that column.
TOUCH_EVERY_MS = 60_000


class RelayError(LienthongError):
    """The relay refused an item or a request; the message says which and why."""


class UnknownMailbox(RelayError):
    """Mail for a unit the directory does not list (unknown or revoked)."""


class Mailboxes:
    """Who is waiting for mail: one asyncio.Event per recipient, set by a deposit.

    A pull registers (`listening`) before it looks at the mailbox, so a deposit
    made between the look and the wait still wakes it.
    """

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._listeners: dict[str, int] = {}
        self._closed = False
        # When this worker last wrote each unit's last_seen (one entry per unit served).
        self._touched: dict[str, int] = {}

    def due_touch(self, code: str, now: int) -> bool:
        """Whether a pull of `code` at `now` should write its last_seen (TOUCH_EVERY_MS);
        True marks it written."""
        if now - self._touched.get(code, -TOUCH_EVERY_MS) < TOUCH_EVERY_MS:
            return False
        self._touched[code] = now
        return True

    @contextlib.contextmanager
    def listening(self, code: str) -> Iterator[asyncio.Event]:
        event = self._events.get(code)
        if event is None:
            event = self._events[code] = asyncio.Event()
            if self._closed:
                event.set()
        self._listeners[code] = self._listeners.get(code, 0) + 1
        try:
            yield event
        finally:
            left = self._listeners[code] - 1
            if left:
                self._listeners[code] = left
            else:
                del self._listeners[code]
                self._events.pop(code, None)

    def waiting(self, code: str) -> int:
        """How many pulls of `code` are in progress (for health pages and tests)."""
        return self._listeners.get(code, 0)

    def wake(self, code: str) -> None:
        event = self._events.pop(code, None)
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        """Let every waiting pull look at its mailbox again (news of deposits may have
        been lost: the database connection of the workers' announcements was down)."""
        for code in list(self._events):
            self.wake(code)

    def close(self) -> None:
        """Answer every waiting pull now (shutdown) and every later one at once."""
        self._closed = True
        for event in self._events.values():
            event.set()


MAILBOXES = ServiceKey("relay mailboxes", Mailboxes)


def mailboxes_of(ctx: NodeContext) -> Mailboxes:
    return ctx.services.get_or_make(MAILBOXES, Mailboxes)


def add_relay_routes(app: web.Application) -> None:
    """The relay's three routes (role centre); blobs are served by node.unit.peer_api."""
    app.router.add_post("/v1/relay/deposit", deposit)
    app.router.add_get("/v1/relay/pull", pull)
    app.router.add_post("/v1/relay/ack", ack)
    app.router.add_get("/v1/relay/arriving/{handle}", arriving_get)

    async def hear_other_workers(app: web.Application) -> None:
        ctx = app[CONTEXT]
        boxes = mailboxes_of(ctx)
        serve_arrivals(ctx).wake = boxes.wake  # an arrival for a unit answers its pull
        await mailbox.on_deposit(ctx.store, boxes.wake, boxes.wake_all)

    async def wake_all(app: web.Application) -> None:
        mailboxes_of(app[CONTEXT]).close()

    app.on_startup.append(hear_other_workers)
    app.on_shutdown.append(wake_all)


# -- deposit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    item: MailItem
    blobs: tuple[BlobRef, ...] = ()


def _not_ahead(ctx: NodeContext, what: str, author: str, dated: int, now: int) -> None:
    """ClockSkew if `dated` is further ahead of the centre's clock than the tolerance
    (security.clock_skew_seconds): such an item would wait in its mailbox until the
    recipient's clock caught up, ahead of the mail behind it."""
    skew_ms = ctx.config.get("security", "clock_skew_seconds") * 1000
    if dated > now + skew_ms:
        raise ClockSkew(
            f"{what} is dated {dated - now} ms ahead of the relay's clock (tolerance "
            f"{skew_ms} ms): check the clock of {author}"
        )


def _check_envelope(ctx: NodeContext, peer: str, to: str, raw: bytes, now: int) -> _Checked:
    header = verify_envelope(raw, ctx.directory.key_lookup).header
    if header.sender != peer:
        raise SignerMismatch(
            f"envelope {header.id} from {header.sender} deposited by {peer}: a unit deposits "
            "its own envelopes"
        )
    if to not in header.recipients:
        raise NotARecipient(
            f"envelope {header.id} from {header.sender} is not addressed to {to}: it does "
            f"not go in {to}'s mailbox"
        )
    _not_ahead(ctx, f"envelope {header.id}", header.sender, header.created, now)
    item = MailItem(
        recipient=to,
        id=mailbox_item_id(header.sender, header.id),
        kind="envelope",
        sender=peer,
        raw=raw,
        blobs=tuple(b.id for b in header.blobs),
        deposited_at=now,
        expires_at=now + _retention_ms(ctx),
    )
    return _Checked(item, header.blobs)


def _check_status(ctx: NodeContext, peer: str, to: str, raw: bytes, now: int) -> _Checked:
    status = verify_status(raw, ctx.directory.key_lookup).status
    if status.sender != peer:
        raise SignerMismatch(
            f"status {status.id} by {status.sender} deposited by {peer}: a unit deposits its "
            "own statuses"
        )
    if status.to != to:
        raise NotARecipient(
            f"status {status.id} is addressed to {status.to}: it does not go in {to}'s mailbox"
        )
    _not_ahead(ctx, f"status {status.id}", status.sender, status.at, now)
    item_id = mailbox_item_id(status.sender, status.id)
    item = MailItem(to, item_id, "status", peer, raw, (), now, now + _retention_ms(ctx))
    return _Checked(item)


def _retention_ms(ctx: NodeContext) -> int:
    return ctx.config.get("centre", "relay_retention_days") * MS_PER_DAY


def _blob_ok(blobs: BlobStore, blob: BlobRef) -> bool:
    try:
        return blobs.path(blob.id).stat().st_size == blob.size
    except FileNotFoundError:
        return False


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


async def deposit(request: web.Request) -> web.Response:
    """Check each item at the edge, store those that pass once per recipient, wake its pull."""
    ctx = request.app[CONTEXT]
    peer = require_peer(request)
    async with request_body(request, peer) as body:  # a large body: a slot of the peer's
        try:
            to, envelopes, statuses = await body.decode(deposit_decoder(), MAX_DEPOSIT_BYTES)
        except LienthongError as exc:
            await _malformed(ctx, peer, "relay.deposit", exc)
            return error_response(400, "MalformedRequest", str(exc))
        return await _deposit(ctx, peer, to, envelopes, statuses)


async def _deposit(
    ctx: NodeContext, peer: str, to: str, envelopes: list[bytes], statuses: list[bytes]
) -> web.Response:
    now = ctx.clock()
    count = len(envelopes) + len(statuses)
    errors: list[str | None] = [None] * count
    checked: list[_Checked | None] = [None] * count
    directory = ctx.directory.current
    for i, raw in enumerate(envelopes + statuses):
        try:
            if directory is None or directory.current(to) is None:
                raise UnknownMailbox(f"unit {to} is not in the directory (unknown or revoked)")
            check = _check_envelope if i < len(envelopes) else _check_status
            checked[i] = check(ctx, peer, to, raw, now)
        except LienthongError as exc:
            errors[i] = _describe(exc)
    accepted = [False] * count
    stored = False
    async with mailbox.depositing(ctx.store) as tx:
        for i, one in enumerate(checked):
            if one is None:
                continue
            # Checked inside the transaction: the sweep removes unreferenced blobs in its
            # own transaction (under the write lock, which a deposit holds at least shared),
            # so a blob seen here stays until this item is gone.
            missing = [b.id for b in one.blobs if not _blob_ok(ctx.blobs, b)]
            try:
                if missing:
                    raise MissingBlobs(missing)
                stored = await mailbox.deposit(tx, one.item) or stored
                await uploads.tie(tx, one.item.blobs)  # the uploads are a letter's now
                accepted[i] = True
            except (MissingBlobs, Conflict) as exc:
                errors[i] = _describe(exc)
        if stored:  # the workers sharing a database wake their pulls of `to` too
            await mailbox.announce(tx, to)
    if any(error is not None for error in errors):  # the audit chain: a write of its own
        async with ctx.store.write() as tx:
            for i, error in enumerate(errors):
                if error is not None:
                    kind = "envelope" if i < len(envelopes) else "status"
                    one = checked[i]
                    subject = one.item.id if one is not None else to
                    await append_refusal(
                        tx, ctx, actor=peer, what=f"relay.{kind}", subject=subject, reason=error
                    )
    if stored:
        mailboxes_of(ctx).wake(to)
    return web.Response(body=encode_deposit_answer(accepted, errors), content_type=CONTENT_TYPE)


async def _malformed(ctx: NodeContext, peer: str, what: str, exc: LienthongError) -> None:
    """Audit a request refused whole (400 MalformedRequest)."""
    await audit_refusal(
        ctx, actor=peer, what=what, subject=peer, reason=f"malformed request: {exc}"
    )


# -- pull and ack ---------------------------------------------------------------------------


async def _offer(ctx: NodeContext, code: str) -> tuple[list[MailItem], int | None]:
    """The oldest visible items of a mailbox, hidden from the next pulls for
    REOFFER_SECONDS; with none, when the first hidden one shows again (None: empty). An
    empty mailbox, or one whose items are all hidden, is seen with a read alone: the write
    lock is taken only to hide what is offered."""
    now = ctx.clock()
    async with ctx.store.read() as conn:
        shows_at = await mailbox.next_visible(conn, code)
    if shows_at is None or shows_at > now:
        return [], shows_at
    async with ctx.store.write() as tx:
        items = await mailbox.pending(
            tx, code, limit=MAX_PULL_ITEMS, max_bytes=MAX_PULL_BYTES, now=now
        )
        if items:
            hidden_until = now + REOFFER_SECONDS * 1000
            await mailbox.offer(tx, code, [i.id for i in items], hidden_until=hidden_until)
            return items, None
        return [], await mailbox.next_visible(tx, code)


async def pull(request: web.Request) -> web.Response:
    """The caller's oldest mail it was not offered in the last REOFFER_SECONDS; if there is
    none, wait up to `wait` seconds for a deposit or for a hidden item to show again."""
    ctx = request.app[CONTEXT]
    peer = require_peer(request)
    try:
        wait = parse_wait(request.query.get("wait", "0"))
    except LienthongError as exc:
        return error_response(400, "MalformedRequest", str(exc))
    boxes = mailboxes_of(ctx)
    # Blobs still being uploaded for the caller (19.6), for a caller that reads them.
    arrivals = arrivals_of(ctx) if request.query.get("arriving") == "1" else None
    now = ctx.clock()
    if boxes.due_touch(peer, now):
        async with ctx.store.write() as tx:
            await touch_unit(tx, peer, now)
    with boxes.listening(peer) as event:
        items, shows_at = await _offer(ctx, peer)
        arriving = arrivals.offer(peer) if arrivals else []
        if not items and not arriving and wait > 0:
            if shows_at is not None:  # a hidden item comes back before the wait ends
                wait = min(wait, max(0.0, (shows_at - ctx.clock()) / 1000))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), wait)
            if request.transport is None or request.transport.is_closing():
                # The caller left while it waited (its link dropped, it reconnected, perhaps
                # to another worker): an answer would go nowhere, and the items it took
                # would be hidden from the caller's next pull for REOFFER_SECONDS.
                return web.Response(body=encode_pull_answer([]), content_type=CONTENT_TYPE)
            items, _ = await _offer(ctx, peer)
            arriving = arrivals.offer(peer) if arrivals else []
    pulled = (PulledItem(i.id, i.kind, i.raw) for i in items)
    asked = request.query.get("arriving") == "1"
    body = encode_pull_answer(pulled, arriving if asked else None)
    return web.Response(body=body, content_type=CONTENT_TYPE)


async def ack(request: web.Request) -> web.Response:
    """Remove collected items from the caller's own mailbox, and blobs no item needs."""
    ctx = request.app[CONTEXT]
    peer = require_peer(request)
    try:
        ids = decode_ack(await read_request(request, MAX_ACK_BYTES))
    except LienthongError as exc:
        await _malformed(ctx, peer, "relay.ack", exc)
        return error_response(400, "MalformedRequest", str(exc))
    async with ctx.store.write() as tx:
        removed = await mailbox.acknowledge(tx, peer, ids)
        unused = await mailbox.unreferenced(tx, [b for item in removed for b in item.blobs])
        finish = await _removal(tx, ctx.blobs, unused)
    # No await between the commit and the removal: a deposit (which checks its blobs in
    # its own transaction) cannot come in between and count on a blob removed here (with
    # several workers on PostgreSQL, the removal runs under the write lock, past the commit).
    finish()
    return web.Response(body=encode_ack_answer(len(removed)), content_type=CONTENT_TYPE)


async def _removal(tx: Tx, blobs: BlobStore, unused: list[str]) -> Callable[[], int]:
    """Have the blobs `unused` removed once `tx` commits, before another write can start;
    returns what to call right after the write block (no await between): the count of
    files removed."""
    if not unused:
        return lambda: 0
    counted: list[int] = []
    if await mailbox.after_commit(tx, lambda: counted.append(_remove_blobs(blobs, unused))):
        return lambda: sum(counted)
    return partial(_remove_blobs, blobs, unused)


def _remove_blobs(blobs: BlobStore, blob_ids: Iterable[str]) -> int:
    return sum(1 for blob_id in blob_ids if blobs.delete(blob_id))


# -- retention ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    expired: int  # items removed because their retention ended
    notices: int  # senders told that an envelope expired
    blobs_removed: int


async def sweep_once(ctx: NodeContext) -> SweepReport:
    """Remove expired items; for each expired envelope or status tell its author (a notice
    in the author's own mailbox); remove the blobs no item depends on any more."""
    now = ctx.clock()
    retention = _retention_ms(ctx)
    expired = notices = removed = 0
    while True:
        woken: set[str] = set()
        async with ctx.store.write() as tx:
            items = await mailbox.take_expired(tx, now, limit=SWEEP_BATCH)
            for item in items:
                if item.kind == "notice":
                    continue
                event = NOTICE_EXPIRED if item.kind == "envelope" else NOTICE_STATUS_EXPIRED
                notice = MailItem(
                    recipient=item.sender,
                    id=notice_id(item.id, item.recipient),
                    kind="notice",
                    sender=ctx.config.code,
                    raw=encode_notice(wire_id_of(item.id), item.recipient, event),
                    deposited_at=now,
                    expires_at=now + retention,
                )
                if await mailbox.deposit(tx, notice):
                    notices += 1
                    woken.add(item.sender)
                await audit.append(
                    tx,
                    at=now,
                    actor="relay",
                    action="relay.expired",
                    subject=item.id,
                    details={"recipient": item.recipient, "sender": item.sender},
                )
            unused = await mailbox.unreferenced(tx, [b for i in items for b in i.blobs])
            finish = await _removal(tx, ctx.blobs, unused)
            for code in woken:
                await mailbox.announce(tx, code)
        removed += finish()  # right after the commit, as in ack()
        expired += len(items)
        for code in woken:
            mailboxes_of(ctx).wake(code)
        if len(items) < SWEEP_BATCH:
            break
    removed += await _sweep_orphans(ctx, now - retention)
    if expired or removed:
        log.info("relay retention: %d item(s) expired, %d blob(s) removed", expired, removed)
    return SweepReport(expired=expired, notices=notices, blobs_removed=removed)


def _old_blob_files(root: Path, before_ms: int, limit: int) -> list[str]:
    """Ids of blob files last written before `before_ms` (blocking: run in a thread)."""
    found: list[str] = []
    for folder in root.iterdir():
        if len(folder.name) != 2 or not folder.is_dir():
            continue
        for file in folder.iterdir():
            blob_id = folder.name + file.name
            if BLOB_ID.matches(blob_id) and file.stat().st_mtime_ns // 1_000_000 < before_ms:
                found.append(blob_id)
                if len(found) >= limit:
                    return found
    return found


async def _sweep_orphans(ctx: NodeContext, before_ms: int) -> int:
    """Blobs uploaded longer than the retention period ago that no item refers to."""
    old = await asyncio.to_thread(_old_blob_files, ctx.blobs.root, before_ms, MAX_ORPHANS_PER_SWEEP)
    if not old:
        return 0
    async with ctx.store.write() as tx:
        unused = await mailbox.unreferenced(tx, old)
        finish = await _removal(tx, ctx.blobs, unused)
    return finish()


async def sweep_loop(ctx: NodeContext, stop: asyncio.Event) -> None:
    """Run the retention sweep every SWEEP_INTERVAL_SECONDS until `stop` is set."""
    await run_every(
        SWEEP_INTERVAL_SECONDS,
        partial(sweep_once, ctx),
        stop,
        what="relay retention sweep",
        log=log,
    )
