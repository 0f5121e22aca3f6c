"""Copies (bản sao: sao y, trích sao, sao lục) of a document this unit holds: a new
outgoing document of this unit, numbered in the copy register, linked to its original."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lienthong.node.context import NodeContext
from lienthong.node.unit import documents as service
from lienthong.node.unit.attachments import decrypt_to, export_name
from lienthong.protocol.doctypes import document_types
from lienthong.protocol.document import DocumentMetadata
from lienthong.storage import audit, links
from lienthong.storage.documents import DocumentRecord, get_document
from lienthong.storage.registers import next_outgoing_number

# The copy forms of Phụ lục III (protocol/data/document_types.json, flag "copy"): the type
# a copy is made as; RegisterRules numbers them in the copy register.
COPY_TYPES = tuple(code for code, kind in document_types().items() if kind.copy)
# Sao y reproduces the whole original, its files too; trích sao and sao lục are typed anew.
WHOLE_COPY = "ban_sao_y"
# The copy forms by the names the integration API takes (node/unit/api/copies.py).
FORMS = {"sao_y": WHOLE_COPY, "trich_sao": "ban_trich_sao", "sao_luc": "ban_sao_luc"}
assert sorted(FORMS.values()) == sorted(COPY_TYPES), "a copy form without its API name"


def check_copy_type(doc_type: str) -> None:
    """Refuse a copy whose type is not a copy form."""
    if doc_type not in COPY_TYPES:
        raise service.DocumentError(
            f"a copy is made as one of {', '.join(COPY_TYPES)} (sao y, trích sao, sao lục), "
            f"not as {doc_type!r}"
        )


async def next_number(ctx: NodeContext, conn, doc_type: str, year: int, secrecy: int = 0) -> str:
    """The next number of the register a copy of `doc_type` is numbered in (the copy
    register, by RegisterRules), in `year`: what the page offers and the API gives a copy
    sent without a number."""
    register = ctx.config.register_rules.outgoing(doc_type, None, secrecy)
    return await next_outgoing_number(conn, register, year)


async def original_of(conn, original_id: str) -> DocumentRecord:
    """The document a copy is made from: one this node holds, received or sent."""
    doc = await get_document(conn, original_id)
    if doc is None:
        raise service.DocumentError(f"no document {original_id} here to copy")
    return doc


def linking(
    ctx: NodeContext, original_id: str, *, actor: str, then: service.Then = None
) -> service.Then:
    """What send_document runs in the copy's own transaction: the link "copy_of" from the
    copy to its original, an audit entry naming both, then the caller's `then`."""

    async def link(tx, envelope_id: str) -> None:
        doc = await original_of(tx, original_id)
        target = links.Target(wire_id=doc.wire_id or doc.id, sender=doc.sender_code, id=doc.id)
        await links.add_links(tx, envelope_id, links.COPY_OF, [target], at=ctx.clock())
        await audit.append(
            tx,
            actor=actor,
            action="document.copy",
            subject=envelope_id,
            details={"original": doc.id},
            at=ctx.clock(),
        )
        if then is not None:
            await then(tx, envelope_id)

    return link


async def send_copy(
    ctx: NodeContext,
    original_id: str,
    metadata: DocumentMetadata,
    recipients: Sequence[str],
    *,
    files: Sequence[Path] = (),
    actor: str,
    then: service.Then = None,
    **kwargs: Any,
) -> str:
    """Send a copy of `original_id` (its type one of COPY_TYPES) as a new document of this
    unit; a sao y carries the original's files before `files`. Returns its envelope id.
    `then` is awaited with (tx, the copy's id) in the copy's transaction, after its link
    (the API keeps its Idempotency-Key answer there)."""
    check_copy_type(metadata.doc_type)
    async with ctx.store.read() as conn:
        original = await original_of(conn, original_id)
    attachments = (
        service.stored_body(original).attachments if metadata.doc_type == WHOLE_COPY else ()
    )
    with tempfile.TemporaryDirectory(prefix="lienthong-copy-") as tmp:
        taken: set[str] = set()
        copied = []
        for attachment in attachments:
            out = Path(tmp) / export_name(attachment.name, taken)
            await asyncio.to_thread(decrypt_to, ctx.blobs, attachment, out)
            copied.append(out)
        return await service.send_document(
            ctx,
            metadata,
            recipients,
            files=[*copied, *files],
            actor=actor,
            then=linking(ctx, original_id, actor=actor, then=then),
            **kwargs,
        )
