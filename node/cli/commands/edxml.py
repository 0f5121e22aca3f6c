"""`lienthong edxml export|check`: a stored document as an edXML package, and a package read.

Export writes the package as it is made: each attachment is decrypted from the blob store
into a private temporary folder (hash checked), then streamed into the package as base64.
Check reads a package with the hardened reader of protocol/edxml_read.py into a temporary
folder, prints what it holds (or the error naming what was wrong), and keeps nothing.
Import (a package taken in as an incoming document) is not done yet (docs/INTEGRATION.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.crypto.files import create_private
from lienthong.node.cli.commands.documents import _document
from lienthong.node.cli.output import add_data_dir, emit
from lienthong.node.runtime import context
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to
from lienthong.node.unit.views import business_view, recipients_view
from lienthong.protocol.doctypes import describe_type
from lienthong.protocol.document import Organisation
from lienthong.protocol.edxml import EdxmlDocument, ExportAttachment, TraceEntry
from lienthong.protocol.edxml_read import from_edxml
from lienthong.protocol.edxml_write import write_edxml

# edXML Bussiness/BussinessDocType of the business a stored document's envelope names.
BUSINESS_TYPE = {"new": 0, "update": 2, "replace": 3}


def register(sub: argparse._SubParsersAction) -> None:
    edxml = sub.add_parser(
        "edxml", help="edXML packages (QCVN 102:2016) for the national document axis"
    ).add_subparsers(dest="edxml_command")
    p = edxml.add_parser(
        "export",
        help="write a stored document as an edXML package",
        description="write a stored document, its attachments decrypted, as an edXML package",
    )
    add_data_dir(p)
    p.add_argument("id", help="the document's id")
    p.add_argument("--out", type=Path, required=True, help="the package file to write")
    p.set_defaults(func=export)
    p = edxml.add_parser(
        "check",
        help="read an edXML package and print the document it holds",
        description="read an edXML package with every check and print what it holds",
    )
    p.add_argument("file", type=Path, help="the package")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=check)


def _timestamp(ms: int) -> str:
    """Unix ms as edXML writes a time: local yyyy/MM/dd HH:mm:ss."""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y/%m/%d %H:%M:%S")


async def export(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        async with ctx.store.read() as conn:
            doc = await _document(conn, args)
            business = await business_view(conn, doc)
            recipients = await recipients_view(conn, doc.id) if doc.direction == "out" else []
        body = service.stored_body(doc)
        own = ctx.config.code
        with tempfile.TemporaryDirectory(prefix="lienthong-edxml-") as folder:
            # Decrypted letters: the temporary folder is the owner's only (mkdtemp: 0700).
            files = []
            for i, a in enumerate(body.attachments):
                path = Path(folder) / f"{i}.bin"
                await asyncio.to_thread(decrypt_to, ctx.blobs, a, path)
                files.append(ExportAttachment(a.name, a.media_type, path))
            codes = [r["recipient"] for r in recipients] if doc.direction == "out" else [own]
            tmp = args.out.with_name(f".{args.out.name}.partial")
            with create_private(tmp, replace=True) as out:
                size = await asyncio.to_thread(
                    write_edxml,
                    out,
                    body.metadata,
                    body.business,
                    files,
                    sender_id=doc.sender_code,
                    receivers=[Organisation(name="", code=code) for code in codes],
                    business_type=BUSINESS_TYPE.get(business["business"], 0),
                    trace=[TraceEntry(doc.sender_code, _timestamp(doc.created_at))],
                )
            tmp.replace(args.out)
    print(
        f"Wrote {body.metadata.number_notation} with {len(files)} attachment(s) "
        f"to {args.out} ({size} bytes)"
    )


def _summary(doc: EdxmlDocument) -> dict[str, Any]:
    m = doc.metadata
    return {
        "document_id": doc.document_id,
        "sender": doc.sender_id,
        "receivers": [r.code for r in doc.receivers],
        "number": m.number_notation,
        "type": m.doc_type,
        "type_name": describe_type(m.doc_type, m.type_name),
        "issued_on": m.issued_on,
        "subject": m.subject,
        "signer": None if m.signer is None else list(m.signer.block),
        "business_type": doc.business_type,
        "replaces": list(doc.replaces),
        "trace": [{"organ_id": t.organ_id, "timestamp": t.timestamp} for t in doc.trace],
        "metadata": m,
        "business": doc.business,
        "attachments": [
            {
                "name": a.name,
                "media_type": a.media_type,
                "size": a.size,
                "sha256": a.sha256.hex(),
            }
            for a in doc.attachments
        ],
    }


def check(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="lienthong-edxml-") as folder:
        try:
            stream = args.file.open("rb")
        except OSError as exc:
            raise LienthongError(f"cannot read {args.file}: {exc.strerror}") from None
        with stream:
            doc = from_edxml(stream, Path(folder))
    s = _summary(doc)
    lines = [
        f"{s['type_name']} {s['number']} ({s['issued_on']}), DocumentId {s['document_id']}",
        f"  {s['subject']}",
        f"  from {s['sender']} to {', '.join(s['receivers']) or '-'}",
        *(f"  {line}" for line in s["signer"] or ()),
        *(
            f"  attachment {a['name']} ({a['media_type']}, {a['size']} bytes)"
            for a in s["attachments"]
        ),
    ]
    emit(args, s, "\n".join(lines))
