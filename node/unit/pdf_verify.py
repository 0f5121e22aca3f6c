"""Checks the digital signatures in documents' PDF attachments as they arrive, off the event
loop: a queued document's PDFs are decrypted to a private temp file and verified in a process
of its own with a time limit; the verdicts are stored, and a PDF that cannot be checked is
marked, never refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import sys
import tempfile
import types
from pathlib import Path

from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.unit.attachments import decrypt_to
from lienthong.protocol.document import Attachment, DocumentBody, body_from_wire
from lienthong.protocol.wire import unpack
from lienthong.storage import trust
from lienthong.storage.documents import get_document

log = logging.getLogger("lienthong.pdf_verify")

PDF_MEDIA_TYPE = "application/pdf"
# The queue is looked at this often besides when woken: a command run beside the node
# (`lienthong edxml import`) queues documents in the same store without waking it.
QUEUE_POLL_SECONDS = 60.0
# The stored plaintext body of one document (as node/unit/documents.py reads it).
MAX_BODY_BYTES = 1024 * 1024
# Fetching a signer's CRL from its distribution point ([signatures] fetch_crl): a CA's server
# that does not answer within this holds no document back; the check says "not checked".
CRL_FETCH_SECONDS = 10.0
# A fetched CRL larger than this is not read (a national CA's CRL runs to a few MiB; the
# server is named by a certificate inside an untrusted PDF).
MAX_FETCHED_CRL_BYTES = 16 * 1024 * 1024


def is_pdf(attachment: Attachment) -> bool:
    """A PDF by its media type or its name (senders label PDFs either way)."""
    return attachment.media_type.lower() == PDF_MEDIA_TYPE or attachment.name.lower().endswith(
        ".pdf"
    )


def has_pdf(body: DocumentBody) -> bool:
    return any(is_pdf(a) for a in body.attachments)


async def fetch_crl(url: str) -> bytes:
    """One CRL from a distribution point over HTTP, bounded by CRL_FETCH_SECONDS and
    MAX_FETCHED_CRL_BYTES; raises CrlFetchError naming what went wrong."""
    import aiohttp

    from lienthong.crypto.pdf_signatures import load_crl

    try:
        timeout = aiohttp.ClientTimeout(total=CRL_FETCH_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
            if resp.status != 200:
                raise CrlFetchError(f"{url}: HTTP {resp.status}")
            data = await resp.content.read(MAX_FETCHED_CRL_BYTES + 1)
    except TimeoutError:
        raise CrlFetchError(f"{url}: no answer within {CRL_FETCH_SECONDS:g} s") from None
    except aiohttp.ClientError as exc:
        raise CrlFetchError(f"{url}: {exc}") from None
    if len(data) > MAX_FETCHED_CRL_BYTES:
        raise CrlFetchError(f"{url}: over {MAX_FETCHED_CRL_BYTES} bytes")
    try:
        return load_crl(data).der
    except Exception as exc:
        raise CrlFetchError(f"{url}: {exc}") from None


class CrlFetchError(Exception):
    """A signer's CRL could not be fetched from its distribution point (logged, not sent)."""


async def _fetched_crls(path: Path) -> tuple[list[bytes], str]:
    """The CRLs named by the PDF's signer certificates, fetched; and why any was not."""
    from lienthong.crypto.pdf_signatures import crl_urls

    crls: list[bytes] = []
    notes: list[str] = []
    for url in await asyncio.to_thread(crl_urls, path):
        try:
            crls.append(await fetch_crl(url))
        except CrlFetchError as exc:
            log.warning("CRL not fetched: %s", exc)
            notes.append(f"CRL not fetched: {exc}")
    return crls, "; ".join(notes)


async def _check_attachment(
    ctx: NodeContext, attachment: Attachment, anchors: list[bytes], crls: list[bytes]
):
    """Decrypt to a private temp file, fetch its signers' CRLs when configured, verify in a
    process of its own (bounded_verify), delete the temp file. pyHanko is loaded at the first
    PDF, not when the node starts (a second of it)."""
    tmp_dir = ctx.config.data_dir / "tmp"
    tmp_dir.mkdir(mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as work:
        out = Path(work) / "check.pdf"
        failed = await asyncio.to_thread(_decrypt, ctx.blobs, attachment, out)
        if failed is not None:
            return failed
        note = ""
        if ctx.config.get("signatures", "fetch_crl"):
            fetched, note = await _fetched_crls(out)
            crls = crls + fetched
        seconds = ctx.config.get("signatures", "verify_timeout_ms") / 1000
        return await asyncio.to_thread(bounded_verify, out, anchors, crls, note, seconds)


_CONTEXT = None


def _process_context():
    """Processes for checks: forked from a server that has pyHanko loaded (fast, and never
    a fork of this threaded process); spawned where there is no fork (Windows)."""
    global _CONTEXT
    if _CONTEXT is None:
        try:
            context = multiprocessing.get_context("forkserver")
            # Each check's process runs the main script again (multiprocessing does, to
            # find the target): what it imports (`lienthong`: the CLI) is preloaded with
            # pyHanko, so that costs milliseconds, not a second of imports per PDF.
            preload = ["lienthong.crypto.pdf_signatures", *_main_imports()]
            context.set_forkserver_preload(preload)
        except ValueError:
            context = multiprocessing.get_context("spawn")
        _CONTEXT = context
    return _CONTEXT


def _main_imports() -> list[str]:
    """The modules the main script imported (by name, or through what it took from them)."""
    main = sys.modules.get("__main__")
    names = set()
    for value in vars(main).values() if main is not None else ():
        if isinstance(value, types.ModuleType):
            names.add(value.__name__)
        elif callable(value) and isinstance(getattr(value, "__module__", None), str):
            names.add(value.__module__)
    return sorted(n for n in names if n in sys.modules and n not in ("__main__", "__mp_main__"))


def _verify_child(conn, path: str, anchors: list[bytes], crls: list[bytes], note: str) -> None:
    """In the check's own process: verify and send the verdict's JSON back."""
    from lienthong.crypto.pdf_signatures import verify_pdf

    conn.send(verify_pdf(path, anchors, crls=crls or None, revocation_note=note).to_json())
    conn.close()


def bounded_verify(path: Path, anchors: list[bytes], crls: list[bytes], note: str, seconds: float):
    """In a worker thread: verify_pdf in a process of its own, killed after `seconds` (a PDF
    crafted to keep pyHanko busy holds no thread of the node); past it the verdict is
    "timeout", and a process that died without a verdict gives "cannot_verify"."""
    from lienthong.crypto.pdf_signatures import REASONS, UNREADABLE, FileVerdict

    context = _process_context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(
        target=_verify_child, args=(send, str(path), anchors, crls, note), daemon=True
    )
    process.start()
    send.close()
    try:
        if receive.poll(seconds):
            try:
                return FileVerdict.from_json(receive.recv())
            except EOFError:
                log.error("the check of %s ended without a verdict", path.name)
                return FileVerdict(UNREADABLE, "cannot_verify", REASONS["cannot_verify"], [])
        log.warning("the check of a PDF's signatures took over %g s: stopped", seconds)
        return FileVerdict(UNREADABLE, "timeout", REASONS["timeout"], [])
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()


def _decrypt(blobs, attachment: Attachment, out: Path):
    """In a worker thread: decrypt the attachment to `out`; a verdict only if it cannot be."""
    from lienthong.crypto.pdf_signatures import MAX_VERIFY_BYTES, REASONS, UNREADABLE, FileVerdict

    def _verdict(code: str) -> FileVerdict:
        return FileVerdict(UNREADABLE, code, REASONS[code], [])

    if attachment.size > MAX_VERIFY_BYTES:
        return _verdict("too_large")  # not decrypted at all
    try:
        decrypt_to(blobs, attachment, out)
    except Exception:
        log.exception("cannot decrypt %r to check its signatures", attachment.name)
        return _verdict("cannot_verify")
    return None


async def verify_document(ctx: NodeContext, document_id: str) -> int:
    """Check every PDF of one document and store the verdicts (the document leaves the
    queue); returns how many PDFs were checked."""
    async with ctx.store.read() as conn:
        record = await get_document(conn, document_id)
        anchors = [a.der for a in await trust.anchors(conn)]
    crls = [c.der for c in await asyncio.to_thread(trust.crls, ctx.config.data_dir)]
    results: list[tuple[int, str, str, str]] = []
    if record is not None:
        body = body_from_wire(
            unpack(record.metadata, what="stored document", max_bytes=MAX_BODY_BYTES)
        )
        for i, attachment in enumerate(body.attachments):
            if not is_pdf(attachment):
                continue
            verdict = await _check_attachment(ctx, attachment, anchors, crls)
            results.append((i, attachment.name, verdict.status, verdict.to_json()))
    async with ctx.store.write() as tx:
        await trust.store_verdicts(tx, document_id, results, at=ctx.clock())
    return len(results)


async def verify_queued(ctx: NodeContext) -> int:
    """Check every document waiting in the queue; returns how many documents were done. A
    document whose check fails unexpectedly is logged and left for the next run."""
    done = 0
    failed: set[str] = set()
    while True:
        async with ctx.store.read() as conn:
            waiting = [d for d in await trust.queued(conn, trust.QUEUE_BATCH + len(failed))]
        waiting = [d for d in waiting if d not in failed]
        if not waiting:
            return done
        for document_id in waiting:
            try:
                await verify_document(ctx, document_id)
                done += 1
            except Exception:
                log.exception("checking the PDFs of document %s failed", document_id)
                failed.add(document_id)


class PdfVerifier:
    """The node's background checker: runs the queue at start and whenever woken."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.signal = asyncio.Event()
        ctx.services.put(PDF_VERIFY, self)

    def wake(self) -> None:
        self.signal.set()

    async def run(self, stop: asyncio.Event) -> None:
        self.signal.set()  # what a stopped node left in the queue
        while not stop.is_set():
            stopping = asyncio.ensure_future(stop.wait())
            woken = asyncio.ensure_future(self.signal.wait())
            try:
                await asyncio.wait(
                    {stopping, woken},
                    timeout=QUEUE_POLL_SECONDS,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for f in (stopping, woken):
                    f.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await f
            if stop.is_set():
                return
            self.signal.clear()  # woken or the poll's time: the queue is read either way
            await verify_queued(self.ctx)


PDF_VERIFY = ServiceKey("pdf verification", PdfVerifier)


def wake(ctx: NodeContext) -> None:
    """After a document with PDFs was stored: the running checker looks at the queue."""
    verifier = ctx.services.get(PDF_VERIFY)
    if verifier is not None:
        verifier.wake()


PENDING = "pending"
PENDING_REASON = "Đang kiểm tra chữ ký số"


async def file_checks(conn, document_id: str, body: DocumentBody) -> list[dict | None]:
    """Per attachment (manifest order): None for a file that is not a PDF (or of a document
    stored before checks began), else its check as stored: `status` (valid, untrusted,
    invalid, unsigned, unreadable, or pending while it waits), `reason` in Vietnamese,
    `reason_code`, and `signatures` (one dict each)."""
    stored = {v.attachment: v for v in await trust.verdicts(conn, document_id)}
    # A document stored before this node checked signatures (migration 0017) was never
    # queued: nothing is said of its files rather than "pending" forever.
    waiting = await trust.is_queued(conn, document_id)
    checks: list[dict | None] = []
    for i, attachment in enumerate(body.attachments):
        if i in stored:
            verdict = json.loads(stored[i].verdict)
            checks.append(verdict | {"verified_at": stored[i].verified_at})
        elif waiting and is_pdf(attachment):
            checks.append(
                {
                    "status": PENDING,
                    "reason_code": PENDING,
                    "reason": PENDING_REASON,
                    "signatures": [],
                    "verified_at": None,
                }
            )
        else:
            checks.append(None)
    return checks
