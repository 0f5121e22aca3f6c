"""Digital signatures of PDF attachments checked on arrival between real nodes (mutual TLS on
127.0.0.1, real SQLite): each verdict stored per file, the document always arrives."""

from __future__ import annotations

import asyncio
import json

import pytest

from lienthong.crypto.pdf_signatures import load_anchor
from lienthong.node.unit.documents import stored_body
from lienthong.node.unit.pdf_verify import PdfVerifier, file_checks, verify_queued
from lienthong.storage import trust
from lienthong.storage.documents import get_document
from tests.crypto.pdf_fixtures import (
    SIGNER_NAME,
    change_after_signing,
    make_ca,
    make_pdf,
    make_signer,
    sign_pdf,
)
from tests.node.tls_federation import A, B, send


@pytest.fixture(scope="module")
def ca():
    return make_ca("CA chuyên dùng Chính phủ (thử)")


@pytest.fixture(scope="module")
def pdfs(ca):
    """Signed PDFs made outside the event loop (pyHanko's signing runs a loop of its own)."""
    signed = sign_pdf(make_pdf(2), make_signer(ca))
    return {
        "signed": signed,
        "changed": change_after_signing(signed),
        "other": sign_pdf(make_pdf(), make_signer(make_ca("Một CA khác"))),
    }


async def _trust(unit, ca) -> None:
    anchor = load_anchor(ca.pem)
    async with unit.ctx.store.write() as tx:
        await trust.add_anchor(
            tx, anchor.fingerprint, anchor.subject, anchor.der, actor="t", at=unit.ctx.clock()
        )


async def _verdicts(unit, document_id: str) -> list[dict]:
    async with unit.ctx.store.read() as conn:
        return [
            json.loads(v.verdict) | {"name": v.name}
            for v in await trust.verdicts(conn, document_id)
        ]


async def _arrive(fed, tmp_path, files: dict[str, bytes]) -> str:
    """A sends B a letter with `files`; returns the document's id once B holds it."""
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B], files=paths)
    assert await a.engine.deliver(B) is True
    async with b.ctx.store.read() as conn:
        assert (await conn.fetchone("SELECT count(*) FROM documents WHERE id = ?", (envelope_id,)))[
            0
        ]
    return envelope_id


async def test_signed_changed_untrusted_and_corrupt_pdfs_arrive_each_marked(
    fed, tmp_path, ca, pdfs
):
    """One letter carries four PDFs and a text file: signed under B's trusted CA ('valid',
    the signer named), the same changed after signing ('changed'), one under a CA B does not
    trust ('untrusted') and a corrupt one ('unreadable'). The letter arrives; B's verifier,
    running as the node runs it, stores one verdict per PDF and none for the text file."""
    b = fed.units[B]
    await _trust(b, ca)
    files = {
        "quyet-dinh.pdf": pdfs["signed"],
        "da-sua.pdf": pdfs["changed"],
        "ca-la.pdf": pdfs["other"],
        "hong.pdf": b"%PDF-1.7\nkhong phai pdf",
        "ghi-chu.txt": b"khong kiem tra",
    }
    stop = asyncio.Event()
    verifier = PdfVerifier(b.ctx)
    task = asyncio.create_task(verifier.run(stop))
    try:
        document_id = await _arrive(fed, tmp_path, files)
        found: list[dict] = []

        async def stored() -> None:
            found[:] = await _verdicts(b, document_id)

        async def poll() -> None:
            while len(found) < 4:
                await stored()

        await asyncio.wait_for(poll(), 30)
    finally:
        stop.set()
        await task
    by_name = {v["name"]: v for v in found}
    assert set(by_name) == {"quyet-dinh.pdf", "da-sua.pdf", "ca-la.pdf", "hong.pdf"}
    valid = by_name["quyet-dinh.pdf"]
    assert valid["status"] == "valid"
    assert valid["signatures"][0]["signer_name"] == SIGNER_NAME
    assert by_name["da-sua.pdf"]["status"] == "invalid"
    assert by_name["da-sua.pdf"]["signatures"][0]["changed_after"] == "changed"
    assert by_name["ca-la.pdf"]["status"] == "untrusted"
    assert by_name["hong.pdf"]["status"] == "unreadable"
    async with b.ctx.store.read() as conn:
        assert not await trust.is_queued(conn, document_id)
        assert await trust.marks(conn, [document_id]) == {document_id: "warning"}
        (state,) = await conn.fetchone("SELECT state FROM documents WHERE id = ?", (document_id,))
    assert state == "arrived"


async def test_a_document_queued_before_a_stop_is_checked_at_the_next_start(
    fed, tmp_path, ca, pdfs
):
    """With no verifier running the arrival is stored and queued; the queue run (what the
    node does when it starts) checks it; the sender's own copy is queued and checked too."""
    a, b = fed.units[A], fed.units[B]
    await _trust(b, ca)
    document_id = await _arrive(fed, tmp_path, {"a.pdf": pdfs["signed"]})
    async with b.ctx.store.read() as conn:
        assert await trust.is_queued(conn, document_id)
        assert await trust.verdicts(conn, document_id) == []
    assert await verify_queued(b.ctx) == 1
    (verdict,) = await _verdicts(b, document_id)
    assert verdict["status"] == "valid"
    async with b.ctx.store.read() as conn:
        assert await trust.marks(conn, [document_id]) == {document_id: "valid"}
    assert await verify_queued(a.ctx) == 1  # A trusts no CA: its own copy is "untrusted"
    (own,) = await _verdicts(a, document_id)
    assert own["status"] == "untrusted"


async def test_a_letter_without_pdfs_is_not_queued(fed, tmp_path):
    """Nothing to check, nothing queued, no verdict."""
    document_id = await _arrive(fed, tmp_path, {"ghi-chu.txt": b"van ban"})
    async with fed.units[B].ctx.store.read() as conn:
        assert not await trust.is_queued(conn, document_id)
    assert await verify_queued(fed.units[B].ctx) == 0


async def test_a_document_stored_before_checks_began_says_nothing_of_its_pdf(fed, tmp_path, pdfs):
    """Queued: its PDF reads 'pending'. With no queue row and no verdict (a store from
    before migration 0017), nothing is said rather than 'pending' forever."""
    b = fed.units[B]
    document_id = await _arrive(fed, tmp_path, {"a.pdf": pdfs["signed"]})
    async with b.ctx.store.read() as conn:
        doc = await get_document(conn, document_id)
        body = stored_body(doc)
        assert [c["status"] for c in await file_checks(conn, document_id, body)] == ["pending"]
    async with b.ctx.store.write() as tx:
        await tx.execute("DELETE FROM pdf_verify_queue WHERE document_id = ?", (document_id,))
    async with b.ctx.store.read() as conn:
        assert await file_checks(conn, document_id, body) == [None]
