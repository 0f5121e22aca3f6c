"""`lienthong edxml export|check`: a stored document as an edXML package, and a package read.

Export writes the package as it is made: each attachment is decrypted from the blob store
into a private temporary folder (hash checked), then streamed into the package as base64.
Check reads a package with the hardened reader of protocol/edxml_read.py into a temporary
folder, prints what it holds (or the error naming what was wrong), and keeps nothing.
Import takes a package in as an incoming document of the unit (node/unit/edxml_import.py):
in the inbox, registered by the clerk like any other; the same package twice is one document.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from lienthong.crypto.errors import LienthongError
from lienthong.node.cli.output import add_data_dir, emit
from lienthong.node.runtime import context
from lienthong.node.unit.edxml_import import export_edxml, import_edxml
from lienthong.protocol.doctypes import describe_type
from lienthong.protocol.edxml import EdxmlDocument
from lienthong.protocol.edxml_read import from_edxml


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
    p = edxml.add_parser(
        "import",
        help="take an edXML package in as an incoming document",
        description="take an edXML package in as an incoming document of this unit (in the "
        "inbox, registered like any other); importing it again stores nothing",
    )
    add_data_dir(p)
    p.add_argument("file", type=Path, help="the package")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=import_)


async def export(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        number, size = await export_edxml(ctx, args.id, args.out)
    print(f"Wrote {number} to {args.out} ({size} bytes)")


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


async def import_(args: argparse.Namespace) -> None:
    async with context(args.data_dir) as ctx:
        result = await import_edxml(ctx, args.file)
    data = {
        "id": result.id,
        "created": result.created,
        "document_id": result.document_id,
        "sender": result.sender,
        "number": result.number_notation,
        "subject": result.subject,
        "attachments": result.attachments,
    }
    if result.created:
        text = (
            f"Imported {result.number_notation} from {result.sender} as document {result.id} "
            f"({result.attachments} attachment(s)); it is in the inbox to be registered"
        )
    else:
        text = f"Already imported: {result.number_notation} from {result.sender} is {result.id}"
    emit(args, data, text)
