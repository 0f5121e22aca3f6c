"""edXML packages in and out of the store: a package taken in as an incoming document of the
unit (source "edxml"), and a stored document written out as a package.

The package is read by the hardened reader of protocol/edxml_read.py, each attachment's
base64 decoded and encrypted into a blob as it arrives (no plaintext file, memory flat).
The document is then stored like one that arrived in an envelope (state ARRIVED, in the
inbox, registered by the clerk with an incoming number) with its DocumentId, From, To, trace
and business kept in its extension map, so that an export writes them again. A package is
taken once per (From/OrganId, DocumentId): importing it again gives the same document.
An export writes what the import kept (protocol/edxml_write.py, routing_of), so export(import(
x)) gives x back; a document that came in an envelope is written with its sender as From.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lienthong.crypto import aead
from lienthong.crypto.files import create_private
from lienthong.crypto.stream import StreamEncryptor
from lienthong.node.context import NodeContext
from lienthong.node.unit import pdf_verify
from lienthong.node.unit.attachments import decrypt_to
from lienthong.node.unit.documents import DocumentError, link_changes, stored_body
from lienthong.node.unit.views import business_view, recipients_view
from lienthong.protocol.codes import Confidentiality
from lienthong.protocol.document import (
    Attachment,
    DocumentBody,
    Organisation,
    body_from_wire,
    body_to_wire,
)
from lienthong.protocol.edxml import EdxmlDocument, ExportAttachment, TraceEntry
from lienthong.protocol.edxml_read import from_edxml, with_routing
from lienthong.protocol.edxml_write import kept_descriptions, routing_of, write_edxml
from lienthong.protocol.ids import _ALPHABET
from lienthong.protocol.wire import pack
from lienthong.storage import events, links, trust
from lienthong.storage.blobs import BlobStore
from lienthong.storage.documents import (
    DocumentRecord,
    get_document,
    incoming_document,
    record_imported,
)

SOURCE = "edxml"
# edXML Bussiness/BussinessDocType of the business a stored document's envelope names.
BUSINESS_TYPE = {"new": 0, "update": 2, "replace": 3}
# The link an imported package makes to the documents its ReplacementInfoList names.
KIND_OF_BUSINESS_TYPE = {2: links.UPDATES, 3: links.REPLACES}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The document a package became: its id here, and whether this import stored it
    (False: the same package was imported before, and nothing was stored again)."""

    id: str
    created: bool
    document_id: str  # edXML DocumentId
    sender: str  # From/OrganId
    number_notation: str
    subject: str
    attachments: int


def wire_id_of(sender: str, document_id: str) -> str:
    """The id an imported document carries as its wire id: ULID-shaped, derived from the
    package's sender and DocumentId, so the store's unique (sender, wire id) takes it once
    (docs/STORE.md, "Imported documents"). A status about it names this id."""
    digest = int.from_bytes(hashlib.sha256(f"edxml\n{sender}\n{document_id}".encode()).digest())
    chars = []
    for _ in range(25):
        digest, rest = divmod(digest, 32)
        chars.append(_ALPHABET[rest])
    return "0" + "".join(chars)


def _record(doc: EdxmlDocument, body: DocumentBody) -> DocumentRecord:
    m = body.metadata
    return DocumentRecord(
        id=wire_id_of(doc.sender_id, doc.document_id),
        direction="in",
        sender_code=doc.sender_id,
        doc_type=m.doc_type,
        subject=m.subject,
        issuer_code=m.issuer.code or doc.sender_id,
        issuer_name=m.issuer.name,
        issued_on=m.issued_on,
        metadata=pack(body_to_wire(body, 2)),
        number=m.number,
        number_year=m.year,
        notation=m.notation,
        urgency=int(m.urgency),
        confidentiality=int(m.confidentiality),
        due_on=m.due_on,
    )


def _arrived(doc: EdxmlDocument, record: DocumentRecord, via: str | None) -> dict[str, Any]:
    """document.arrived for a document system, as for one that came in an envelope."""
    data: dict[str, Any] = {
        "from": record.sender_code,
        "envelope": record.id,
        "type": record.doc_type,
        "number": record.number,
        "notation": record.notation,
        "issued_on": record.issued_on,
        "confidentiality": record.confidentiality,
        "via": via or SOURCE,
        "edxml_id": doc.document_id,
    }
    if record.confidentiality == Confidentiality.NORMAL:
        data["subject"] = record.subject
    return data


def _result(doc: EdxmlDocument, document_id: str, created: bool) -> ImportResult:
    return ImportResult(
        id=document_id,
        created=created,
        document_id=doc.document_id,
        sender=doc.sender_id,
        number_notation=doc.metadata.number_notation,
        subject=doc.metadata.subject,
        attachments=len(doc.attachments),
    )


class _BlobSink:
    """An attachment's decoded bytes encrypted into a new blob as they come (a fresh key,
    as encrypt_file): never a plaintext file, one pass over the bytes."""

    def __init__(self, blobs: BlobStore) -> None:
        self.key = aead.random_key()
        self.encryptor = StreamEncryptor(self.key)
        self.writer = blobs.writer()
        self.writer.write(self.encryptor.header)
        self.blob: str | None = None

    def write(self, data: bytes) -> None:
        self.writer.write(self.encryptor.update(data))

    def close(self) -> None:
        self.writer.write(self.encryptor.finalize())
        self.blob = self.writer.commit().id

    def abort(self) -> None:
        self.writer.abort()


def _read(path: Path, sinks: list[_BlobSink], blobs: BlobStore) -> EdxmlDocument:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror}") from None

    def sink(index: int) -> _BlobSink:
        made = _BlobSink(blobs)
        sinks.append(made)
        return made

    with stream:
        return from_edxml(stream, sink=sink)


def _forget(blobs: BlobStore, sinks: list[_BlobSink]) -> None:
    """Remove the blobs of an import that stored nothing (each has its own random key, so
    no other document can share one)."""
    for made in sinks:
        if made.blob is not None:
            blobs.delete(made.blob)


async def import_edxml(ctx: NodeContext, path: Path, *, via: str | None = None) -> ImportResult:
    """Take the edXML package at `path` in as an incoming document (`via`: the name of the
    gateway that brought it, None for the CLI or the API). Raises the reader's error naming
    what was wrong, or DocumentError, with nothing stored; a package imported before gives
    its document again with created False."""
    sinks: list[_BlobSink] = []
    created = False
    try:
        doc = await asyncio.to_thread(_read, Path(path), sinks, ctx.blobs)
        result = await _store(ctx, doc, sinks, via)
        created = result.created
        return result
    finally:
        if not created:  # refused, failed or a repeat: its blobs are nobody's
            await asyncio.to_thread(_forget, ctx.blobs, sinks)


async def _store(
    ctx: NodeContext, doc: EdxmlDocument, sinks: list[_BlobSink], via: str | None
) -> ImportResult:
    metadata = with_routing(doc.metadata, doc)
    if metadata.confidentiality >= Confidentiality.SECRET and not ctx.config.get(
        "security", "allow_confidential"
    ):
        raise DocumentError(
            f"the package is marked {metadata.confidentiality.name} (Mật or above): this "
            "node's configuration does not take state secrets (security.allow_confidential)"
        )
    wire_id = wire_id_of(doc.sender_id, doc.document_id)
    async with ctx.store.read() as conn:
        held = await incoming_document(conn, doc.sender_id, wire_id)
    if held is not None:
        return _result(doc, held.id, False)
    attachments = []
    for a, made in zip(doc.attachments, sinks, strict=True):
        assert made.blob is not None
        attachments.append(
            Attachment(
                name=a.name,
                media_type=a.media_type,
                size=a.size,
                sha256=a.sha256,
                blob=made.blob,
                key=made.key,
            )
        )
    # Every field checked again as the store will read it (the routing's lengths too).
    body = body_from_wire(body_to_wire(DocumentBody(metadata, tuple(attachments), doc.business), 2))
    record = _record(doc, body)
    now = ctx.clock()
    async with ctx.store.write() as tx:
        document_id, created = await record_imported(
            tx,
            record,
            source=SOURCE,
            via=via,
            at=now,
            details={"edxml_id": doc.document_id, "attachments": len(attachments)},
        )
        if created:
            # An update or a replacement names the documents it changes by their
            # DocumentId from the same sender; registered, it applies as any other.
            kind = KIND_OF_BUSINESS_TYPE.get(doc.business_type)
            targets = [wire_id_of(doc.sender_id, d) for d in doc.replaces]
            me = ctx.config.code
            await link_changes(tx, me, doc.sender_id, wire_id, document_id, kind, targets, at=now)
            arrived = _arrived(doc, record, via)
            await events.append_event(tx, events.DOCUMENT_ARRIVED, document_id, arrived, at=now)
            if pdf_verify.has_pdf(body):  # its PDFs' signatures (docs/SIGNATURES.md)
                await trust.queue_document(tx, document_id, at=now)
    pdf_verify.wake(ctx)
    return _result(doc, document_id, created)


def _timestamp(ms: int) -> str:
    """Unix ms as edXML writes a time: local yyyy/MM/dd HH:mm:ss."""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y/%m/%d %H:%M:%S")


async def export_edxml(ctx: NodeContext, document_id: str, out: Path) -> tuple[str, int]:
    """Write the stored document `document_id` as an edXML package to `out` (replaced
    whole when done, never left half written); returns (its number, bytes written).

    An imported document is written with what its package said (DocumentId, From, To,
    trace, business, ContentId); another with its sender as From, its recipients (or this
    unit) as To and one trace entry of its sender at its time here."""
    async with ctx.store.read() as conn:
        doc = await get_document(conn, document_id)
        if doc is None:
            raise DocumentError(f"no document {document_id} here")
        business = await business_view(conn, doc)
        recipients = await recipients_view(conn, doc.id) if doc.direction == "out" else []
    body = stored_body(doc)
    routing = routing_of(body.metadata)
    descriptions = kept_descriptions(body.metadata)
    if not routing:
        own = ctx.config.code
        codes = [r["recipient"] for r in recipients] if doc.direction == "out" else [own]
        routing = {
            "sender_id": doc.sender_code,
            "receivers": [Organisation(name="", code=code) for code in codes],
            "business_type": BUSINESS_TYPE.get(business["business"], 0),
            "trace": [TraceEntry(doc.sender_code, _timestamp(doc.created_at))],
        }
    with tempfile.TemporaryDirectory(prefix="lienthong-edxml-") as folder:
        # Decrypted letters: the temporary folder is the owner's only (mkdtemp: 0700).
        files = []
        for i, a in enumerate(body.attachments):
            path = Path(folder) / f"{i}.bin"
            await asyncio.to_thread(decrypt_to, ctx.blobs, a, path)
            described = descriptions[i] if i < len(descriptions) else ""
            files.append(ExportAttachment(a.name, a.media_type, path, described))
        tmp = out.with_name(f".{out.name}.partial")
        try:
            with create_private(tmp, replace=True) as stream:
                size = await asyncio.to_thread(
                    write_edxml, stream, body.metadata, body.business, files, **routing
                )
            tmp.replace(out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return body.metadata.number_notation, size
