"""Blob uploads tied to letters: each peer's quota of untied uploads, their audit, and the
sweep that removes uploads no letter claimed (units and the centre alike).

An upload (`PUT /v1/blobs/{id}`, node/unit/peer_api.py) is recorded against its uploader
(storage/uploads.py) until an envelope naming the blob is stored (a unit: the inbox and
the relay client tie it) or deposited (the centre: node/centre/relay.py ties it in the
deposit's transaction). What stays untied UPLOAD_TIE_SECONDS after its uploader last
touched it is removed by the sweep with its bytes, and so is any unfinished upload in
`partial/` as old as that (docs/PROTOCOL.md 17.2.1).

A unit checks an envelope's blobs before the transaction that stores it; so the sweep and
the receiving of envelopes never overlap (`UploadGuard`): a blob seen there cannot be
removed before the envelope naming it is stored and its upload tied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from functools import partial

from lienthong.crypto.errors import LienthongError
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.http import MAX_AUDITED_REASON
from lienthong.node.periodic import run_every
from lienthong.protocol.peer import MAX_UNTIED_UPLOAD_BYTES, MAX_UNTIED_UPLOADS, UPLOAD_TIE_SECONDS
from lienthong.storage import audit, uploads
from lienthong.storage import relay as mailbox

log = logging.getLogger("lienthong.uploads")

# The sweep runs this often: an abandoned upload goes within UPLOAD_TIE_SECONDS plus this.
UPLOAD_SWEEP_INTERVAL_SECONDS = 15 * 60
# Refusals of one (uploader, blob) are audited once per run: a sender retrying a refused
# upload every few minutes adds nothing to the log. When this many are remembered, the
# memory starts again (the log then gets one more entry for each).
MAX_REMEMBERED_REFUSALS = 10_000


class UploadQuotaExceeded(LienthongError):
    """The uploader's untied uploads at this node are at their quota (MAX_UNTIED_UPLOAD_BYTES
    or MAX_UNTIED_UPLOADS): nothing is stored until its letters tie them or they expire."""


class UploadGuard:
    """Receiving envelopes and sweeping uploads never overlap.

    Any number of receptions run at once; the sweep waits until none runs, and receptions
    that start meanwhile wait for the sweep (it is one short transaction and a few file
    removals).
    """

    def __init__(self) -> None:
        self._sweep = asyncio.Lock()
        self._receiving = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def receiving(self) -> AsyncIterator[None]:
        async with self._sweep:
            self._receiving += 1
            self._idle.clear()
        try:
            yield
        finally:
            self._receiving -= 1
            if not self._receiving:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def sweeping(self) -> AsyncIterator[None]:
        async with self._sweep:
            await self._idle.wait()
            yield


@dataclass
class UploadLedger:
    """What one running node remembers of uploads: the guard and the refusals audited."""

    guard: UploadGuard
    refused: set[tuple[str, str]]


UPLOADS = ServiceKey("uploads", UploadLedger)


def ledger_of(ctx: NodeContext) -> UploadLedger:
    return ctx.services.get_or_make(UPLOADS, lambda: UploadLedger(UploadGuard(), set()))


def receiving(ctx: NodeContext) -> contextlib.AbstractAsyncContextManager[None]:
    """`async with receiving(ctx):` around checking, storing and tying received envelopes."""
    return ledger_of(ctx).guard.receiving()


async def admit(ctx: NodeContext, uploader: str, blob_id: str, length: int) -> None:
    """Record that `uploader` uploads `blob_id` (Upload-Length `length`), within its quota;
    UploadQuotaExceeded (nothing recorded) if its other untied uploads leave no room."""
    async with ctx.store.write() as tx:
        held = await uploads.held_by(tx, uploader, besides=blob_id)
        if held.uploads >= MAX_UNTIED_UPLOADS:
            raise UploadQuotaExceeded(
                f"{uploader} has {held.uploads} uploads here that no envelope names yet: the "
                f"limit is MAX_UNTIED_UPLOADS = {MAX_UNTIED_UPLOADS}. Send the envelopes that "
                f"name them, or wait until they expire ({UPLOAD_TIE_SECONDS} s after the last "
                "request about each)"
            )
        if held.uploads and held.bytes + length > MAX_UNTIED_UPLOAD_BYTES:
            raise UploadQuotaExceeded(
                f"{uploader} has {held.bytes} bytes here in uploads that no envelope names "
                f"yet; {length} more is over MAX_UNTIED_UPLOAD_BYTES = "
                f"{MAX_UNTIED_UPLOAD_BYTES}. Send the envelopes that name them, or wait "
                f"until they expire ({UPLOAD_TIE_SECONDS} s after the last request about each)"
            )
        await uploads.begin(tx, blob_id, uploader, length, at=ctx.clock())


async def touch(ctx: NodeContext, uploader: str, blob_id: str) -> None:
    """The uploader asked about its upload (HEAD, or a PUT of a blob stored already)."""
    async with ctx.store.write() as tx:
        await uploads.touch(tx, blob_id, uploader, at=ctx.clock())


async def forget(ctx: NodeContext, uploader: str, blob_id: str) -> None:
    """An upload was refused and discarded (its bytes broke a rule): it holds nothing now."""
    async with ctx.store.write() as tx:
        await uploads.forget(tx, blob_id, uploader)


async def claim(ctx: NodeContext, uploader: str, placeholder: str, blob_id: str) -> bool:
    """Before bytes admitted under `placeholder` are placed as `blob_id`: record them as an
    untied upload of `uploader`, so that a letter which finds the blob afterwards ties the
    row (a row written after the letter's tie would outlive it, and the sweep would then
    remove the letter's blob). False, and nothing recorded, if the blob is stored already."""
    async with ctx.store.write() as tx:
        row = await uploads.get(tx, placeholder, uploader)
        await uploads.forget(tx, placeholder, uploader)
        if row is None or ctx.blobs.exists(blob_id):
            return False
        await uploads.begin(tx, blob_id, uploader, row.length, at=ctx.clock())
        return True


async def tie(ctx: NodeContext, blob_ids: Iterable[str]) -> None:
    """Envelopes naming these blobs were stored: their uploads belong to letters now."""
    ids = list(blob_ids)
    if ids:
        async with ctx.store.write() as tx:
            await uploads.tie(tx, ids)


async def audit_upload(
    ctx: NodeContext, uploader: str, blob_id: str, *, size: int | None, refused: str | None
) -> None:
    """One audit entry per blob: `blob.accepted` when an upload is stored whole,
    `blob.refused` (once per uploader and blob in a run) when it is refused."""
    details: dict[str, object] = {}
    if refused is None:
        action, details["size"] = "blob.accepted", size
    else:
        remembered = ledger_of(ctx).refused
        if (uploader, blob_id) in remembered:
            return
        if len(remembered) >= MAX_REMEMBERED_REFUSALS:
            remembered.clear()
        remembered.add((uploader, blob_id))
        action, details["reason"] = "blob.refused", refused[:MAX_AUDITED_REASON]
        log.warning("refused blob %s from %s: %s", blob_id, uploader, refused)
    async with ctx.store.write() as tx:
        await audit.append(
            tx, at=ctx.clock(), actor=uploader, action=action, subject=blob_id, details=details
        )


# -- the sweep ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadSweep:
    expired: int  # untied uploads whose time to be tied ran out
    blobs_removed: int  # stored blobs of those uploads, named by no mailbox item
    partials_removed: int  # unfinished uploads (and downloads) removed from partial/


async def sweep_uploads(ctx: NodeContext) -> UploadSweep:
    """Remove the uploads no letter tied within UPLOAD_TIE_SECONDS of their last request,
    with their bytes (stored or unfinished), and every unfinished upload or download in
    `partial/` untouched for as long."""
    now = ctx.clock()
    cutoff = now - UPLOAD_TIE_SECONDS * 1000
    expired = removed = 0
    async with ledger_of(ctx).guard.sweeping():
        while True:
            async with ctx.store.write() as tx:
                taken = await uploads.take_stale(tx, cutoff)
                candidates = [u.blob_id for u in taken]
                # Another peer's fresh upload of the same blob, or a mailbox item naming it
                # (the centre), keeps the stored blob.
                unused = [
                    b
                    for b in await mailbox.unreferenced(tx, candidates)
                    if not await uploads.untied(tx, b)
                ]
                for upload in taken:
                    await audit.append(
                        tx,
                        at=now,
                        actor="uploads",
                        action="blob.expired",
                        subject=upload.blob_id,
                        details={
                            "uploader": upload.uploader,
                            "length": upload.length,
                            "last_request": upload.touched_at,
                        },
                    )
            # No await between the commit and the removal, as in the relay's ack.
            removed += sum(1 for blob_id in unused if ctx.blobs.delete(blob_id))
            expired += len(taken)
            if len(taken) < uploads.MAX_TAKEN:
                break
        partials = await _sweep_partials(ctx, cutoff)
    if expired or partials:
        log.info(
            "uploads: %d expired untied (%d stored blobs removed), %d unfinished removed",
            expired,
            removed,
            partials,
        )
    return UploadSweep(expired=expired, blobs_removed=removed, partials_removed=partials)


async def _sweep_partials(ctx: NodeContext, cutoff_ms: int) -> int:
    """Unfinished uploads untouched since `cutoff_ms`, unless a fresh untied upload of
    the same blob (its uploader asked about it since) keeps them."""
    old = await asyncio.to_thread(ctx.blobs.old_partials, cutoff_ms)
    removed = 0
    for upload_id in old:
        async with ctx.store.read() as conn:
            if await uploads.fresh(conn, upload_id, since=cutoff_ms):
                continue
        if await asyncio.to_thread(ctx.blobs.discard_partial, upload_id):
            removed += 1
    return removed


async def upload_sweep_loop(ctx: NodeContext, stop: asyncio.Event) -> None:
    """Run the upload sweep every UPLOAD_SWEEP_INTERVAL_SECONDS until `stop` is set."""
    await run_every(
        UPLOAD_SWEEP_INTERVAL_SECONDS,
        partial(sweep_uploads, ctx),
        stop,
        what="upload sweep",
        log=log,
    )
