"""edXML packages in and out of the store: a package taken in as an incoming document of the
unit (source "edxml"), and a stored document written out as a package.

The package is read by the hardened reader of protocol/edxml_read.py, its attachments
decoded into a private folder of the blob store and encrypted into blobs, one at a time.
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
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lienthong.crypto.files import create_private
from lienthong.node.context import NodeContext
from lienthong.node.unit.attachments import decrypt_to, encrypt_file
from lienthong.node.unit.documents import DocumentError, stored_body
from lienthong.node.unit.views import business_view, recipients_view
from lienthong.protocol.codes import Confidentiality
from lienthong.protocol.document import DocumentBody, Organisation, body_from_wire, body_to_wire
from lienthong.protocol.edxml import EdxmlDocument, ExportAttachment, TraceEntry
from lienthong.protocol.edxml_read import from_edxml, with_routing
from lienthong.protocol.edxml_write import kept_descriptions, routing_of, write_edxml
from lienthong.protocol.ids import _ALPHABET
from lienthong.protocol.wire import pack
from lienthong.storage import events
from lienthong.storage.blobs import TMP_DIR
from lienthong.storage.documents import (
    DocumentRecord,
    get_document,
    incoming_document,
    record_imported,
)

SOURCE = "edxml"
# edXML Bussiness/BussinessDocType of the business a stored document's envelope names.
BUSINESS_TYPE = {"new": 0, "update": 2, "replace": 3}


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


def _read(path: Path, folder: Path) -> EdxmlDocument:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        return from_edxml(stream, folder)


async def import_edxml(ctx: NodeContext, path: Path, *, via: str | None = None) -> ImportResult:
    """Take the edXML package at `path` in as an incoming document (`via`: the name of the
    gateway that brought it, None for the CLI or the API). Raises the reader's error naming
    what was wrong, or DocumentError, with nothing stored; a package imported before gives
    its document again with created False."""
    # Decoded attachments are plaintext: a private folder (mkdtemp: 0700) of the node's own
    # blob store, on the disk the blobs go to, removed whatever happens.
    folder = Path(tempfile.mkdtemp(prefix="edxml-", dir=ctx.blobs.root / TMP_DIR))
    try:
        doc = await asyncio.to_thread(_read, Path(path), folder)
        return await _store(ctx, doc, via)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def _store(ctx: NodeContext, doc: EdxmlDocument, via: str | None) -> ImportResult:
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
    for a in doc.attachments:
        stored = await asyncio.to_thread(encrypt_file, ctx.blobs, a.path, name=a.name)
        if stored.sha256 != a.sha256 or stored.size != a.size:
            raise DocumentError(f"attachment {a.name} changed while it was being stored")
        attachments.append(replace(stored, media_type=a.media_type))
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
            arrived = _arrived(doc, record, via)
            await events.append_event(tx, events.DOCUMENT_ARRIVED, document_id, arrived, at=now)
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
