"""Copies between real units over mutual TLS: B makes a sao y of a document A sent it; the
copy is numbered in B's copy register, carries the original's files, is linked both ways,
and arrives at C as a new document; a copy of an unknown document or as a type that is
not a copy form is refused with nothing written."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lienthong.node.unit import copies
from lienthong.node.unit import documents as service
from lienthong.protocol.document import Organisation
from lienthong.storage import links
from lienthong.storage.documents import get_document
from lienthong.storage.registers import COPIES, list_register
from tests.node.tls_federation import A, B, C, letter, row_counts

TABLES = ("documents", "outbox", "outgoing_register", "document_links", "audit_log")


def _copy_metadata(doc_type: str):
    """B's copy: its own issuer, no number (the copy register gives it), notation SY-VP."""
    return replace(
        letter(),
        doc_type=doc_type,
        number=None,
        notation="SY-VP",
        issuer=Organisation(name="Sở Tư pháp", code=B),
    )


async def test_a_sao_y_is_numbered_in_the_copy_register_and_linked_both_ways(fed, tmp_path):
    """The copy's register line is in "sao" with number 01, it carries the original's file,
    C receives it, and B's links read "copy_of" from the copy and the other way from the
    original; the audit log names both."""
    a, b = fed.units[A], fed.units[B]
    attachment = tmp_path / "quyet-dinh.pdf"
    attachment.write_bytes(b"%PDF-1.4 ban goc")
    original = await service.send_document(a.ctx, letter(), [B], files=[attachment], actor="vt")
    assert await a.engine.deliver(B)

    copy_id = await copies.send_copy(
        b.ctx, original, _copy_metadata("ban_sao_y"), [C], actor="vt.b"
    )
    assert await b.engine.deliver(C)

    async with b.ctx.store.read() as conn:
        lines = await list_register(conn, "outgoing", 2014, COPIES)
        copy = await get_document(conn, copy_id)
        of_copy = await links.links_of(conn, copy_id)
        of_original = await links.links_of(conn, original)
        audited = await conn.fetchone(
            "SELECT details FROM audit_log WHERE action = 'document.copy' AND subject = ?",
            (copy_id,),
        )
    assert [(line.document_id, line.number) for line in lines] == [(copy_id, "01")]
    assert [a.name for a in service.stored_body(copy).attachments] == ["quyet-dinh.pdf"]
    assert [(x.document_id, x.kind, x.target_id) for x in of_copy] == [
        (copy_id, links.COPY_OF, original)
    ]
    assert of_original == of_copy
    assert original in audited[0]
    async with fed.units[C].ctx.store.read() as conn:
        arrived = await get_document(conn, copy_id)
    assert arrived is not None and service.stored_body(arrived).metadata.doc_type == "ban_sao_y"


async def test_a_trich_sao_carries_only_the_files_given(fed, tmp_path):
    """A trích sao is typed anew: the original's files are not copied into it."""
    a, b = fed.units[A], fed.units[B]
    attachment = tmp_path / "goc.pdf"
    attachment.write_bytes(b"%PDF-1.4 goc")
    original = await service.send_document(a.ctx, letter(), [B], files=[attachment], actor="vt")
    assert await a.engine.deliver(B)
    copy_id = await copies.send_copy(
        b.ctx, original, _copy_metadata("ban_trich_sao"), [C], actor="vt.b"
    )
    async with b.ctx.store.read() as conn:
        copy = await get_document(conn, copy_id)
        (line,) = await list_register(conn, "outgoing", 2014, COPIES)
    assert service.stored_body(copy).attachments == ()
    assert line.document_id == copy_id


async def test_bad_copies_are_refused_with_nothing_written(fed):
    """An unknown original, or a type that is not a copy form: a DocumentError naming it,
    and no row in any table."""
    a, b = fed.units[A], fed.units[B]
    original = await service.send_document(a.ctx, letter(), [B], actor="vt")
    assert await a.engine.deliver(B)
    before = await row_counts(b.ctx, TABLES)
    with pytest.raises(service.DocumentError, match="no document 01NOSUCH here to copy"):
        await copies.send_copy(b.ctx, "01NOSUCH", _copy_metadata("ban_sao_y"), [C], actor="v")
    with pytest.raises(service.DocumentError, match="not as 'cong_van'"):
        await copies.send_copy(b.ctx, original, _copy_metadata("cong_van"), [C], actor="v")
    assert await row_counts(b.ctx, TABLES) == before
