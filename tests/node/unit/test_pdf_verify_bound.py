"""The time bound on one PDF's check ([signatures] verify_timeout_ms): each check runs in a
process of its own; one over the bound is stopped and marked "không kiểm tra được: quá thời
gian", the document still arrives and the queue moves on to the next."""

from __future__ import annotations

import asyncio
import json

from lienthong.crypto.pdf_signatures import load_anchor
from lienthong.node.unit.pdf_verify import verify_queued
from lienthong.storage import trust
from tests.crypto.pdf_fixtures import make_ca, make_pdf, make_signer, sign_pdf
from tests.node.tls_federation import A, B, C, send


async def _letter(fed, tmp_path, sender: str, name: str, data: bytes) -> str:
    """`sender` sends B a letter with one file (one letter a sender: the fixture's number)."""
    path = tmp_path / name
    path.write_bytes(data)
    unit = fed.units[sender]
    document_id, _ = await send(unit, [B], files=[path])
    assert await unit.engine.deliver(B) is True
    return document_id


async def test_a_check_over_the_bound_is_marked_and_the_queue_moves_on(fed, tmp_path):
    """With a bound of 1 ms (far below a process's start) a signed PDF is marked "timeout"
    in Vietnamese and leaves the queue; with the default bound the next letter's PDF is
    checked valid by the same node."""
    ca = make_ca("CA thử giới hạn")
    pdf = await asyncio.to_thread(sign_pdf, make_pdf(), make_signer(ca))  # pyHanko's own loop
    b = fed.units[B]
    anchor = load_anchor(ca.pem)
    async with b.ctx.store.write() as tx:
        await trust.add_anchor(
            tx, anchor.fingerprint, anchor.subject, anchor.der, actor="t", at=b.ctx.clock()
        )
    default = b.ctx.config.get("signatures", "verify_timeout_ms")
    b.ctx.config.values["signatures"]["verify_timeout_ms"] = 1
    slow = await _letter(fed, tmp_path, A, "cham.pdf", pdf)
    assert await verify_queued(b.ctx) >= 1
    async with b.ctx.store.read() as conn:
        (verdict,) = await trust.verdicts(conn, slow)
        assert not await trust.is_queued(conn, slow)
        (state,) = await conn.fetchone("SELECT state FROM documents WHERE id = ?", (slow,))
    assert state == "arrived"
    assert (verdict.status, json.loads(verdict.verdict)["reason"]) == (
        "unreadable",
        "Không kiểm tra được: quá thời gian",
    )
    b.ctx.config.values["signatures"]["verify_timeout_ms"] = default
    later = await _letter(fed, tmp_path, C, "tot.pdf", pdf)
    await verify_queued(b.ctx)
    async with b.ctx.store.read() as conn:
        (verdict,) = await trust.verdicts(conn, later)
    assert verdict.status == "valid"
