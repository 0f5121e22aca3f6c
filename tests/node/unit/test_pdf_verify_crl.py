"""Revocation on arrival between real nodes: with [signatures] fetch_crl the receiving node
fetches each signer's CRL from the distribution point in its certificate (a real aiohttp
server on 127.0.0.1), so a revoked signer arrives "invalid: revoked", a good one "revocation
checked", and a CRL that cannot be fetched says "not checked" with the reason."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from lienthong.crypto.pdf_signatures import load_anchor
from lienthong.node.unit.pdf_verify import verify_queued
from lienthong.storage import trust
from tests.crypto.pdf_fixtures import make_ca, make_crl, make_pdf, make_signer, sign_pdf
from tests.node.tls_federation import A, B, send


@pytest.fixture
async def crl_server():
    """A listening socket on 127.0.0.1 (its port known before the certificates name it) and
    a dict of path -> CRL bytes the server answers with (404 for any other path)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    served: dict[str, bytes] = {}

    async def handle(request: web.Request) -> web.Response:
        if request.path not in served:
            raise web.HTTPNotFound()
        return web.Response(body=served[request.path], content_type="application/pkix-crl")

    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", served
    finally:
        await runner.cleanup()


async def _verdicts(unit, document_id: str) -> dict[str, dict]:
    async with unit.ctx.store.read() as conn:
        return {v.name: json.loads(v.verdict) for v in await trust.verdicts(conn, document_id)}


async def test_fetched_crl_marks_a_revoked_signer_and_checks_a_good_one(fed, tmp_path, crl_server):
    """Three PDFs under one CA B trusts: the signer its CRL revokes is invalid (revoked), the
    one it does not is valid with revocation checked, and one whose CRL address answers 404
    is valid with revocation not checked and the HTTP status as the reason."""
    base, served = crl_server
    ca = make_ca("CA thử thu hồi")
    revoked = make_signer(ca, crl_url=f"{base}/ca.crl")
    good = make_signer(ca, crl_url=f"{base}/ca.crl")
    lost = make_signer(ca, crl_url=f"{base}/missing.crl")
    served["/ca.crl"] = make_crl(ca, [revoked.cert.serial_number])
    files = {}
    for name, signer in (("thu-hoi.pdf", revoked), ("tot.pdf", good), ("mat.pdf", lost)):
        files[name] = await asyncio.to_thread(sign_pdf, make_pdf(), signer)
    a, b = fed.units[A], fed.units[B]
    b.ctx.config.values["signatures"]["fetch_crl"] = True
    anchor = load_anchor(ca.pem)
    async with b.ctx.store.write() as tx:
        await trust.add_anchor(
            tx, anchor.fingerprint, anchor.subject, anchor.der, actor="t", at=b.ctx.clock()
        )
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    document_id, _ = await send(a, [B], files=paths)
    assert await a.engine.deliver(B) is True
    assert await verify_queued(b.ctx) >= 1
    found = await _verdicts(b, document_id)
    assert found["thu-hoi.pdf"]["status"] == "invalid"
    assert found["thu-hoi.pdf"]["reason_code"] == "revoked"
    assert found["thu-hoi.pdf"]["signatures"][0]["revocation"] == "checked"
    assert found["tot.pdf"]["status"] == "valid"
    assert found["tot.pdf"]["signatures"][0]["revocation"] == "checked"
    assert found["tot.pdf"]["signatures"][0]["revocation_note"] == ""
    lost_sig = found["mat.pdf"]["signatures"][0]
    assert found["mat.pdf"]["status"] == "valid"
    assert lost_sig["revocation"] == "not_checked"
    assert "HTTP 404" in lost_sig["revocation_note"]


async def test_without_fetch_crl_nothing_is_fetched(fed, tmp_path, crl_server):
    """fetch_crl is off by default: the revoked signer's CRL is never asked for, and the
    signature says revocation not checked with no CRL of its CA configured."""
    base, served = crl_server
    ca = make_ca("CA thử không tải")
    signer = make_signer(ca, crl_url=f"{base}/ca.crl")
    served["/ca.crl"] = make_crl(ca, [signer.cert.serial_number])
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(await asyncio.to_thread(sign_pdf, make_pdf(), signer))
    a, b = fed.units[A], fed.units[B]
    assert b.ctx.config.get("signatures", "fetch_crl") is False
    document_id, _ = await send(a, [B], files=[pdf])
    assert await a.engine.deliver(B) is True
    await verify_queued(b.ctx)
    (verdict,) = (await _verdicts(b, document_id)).values()
    assert verdict["signatures"][0]["revocation"] == "not_checked"
    assert "no CRL" in verdict["signatures"][0]["revocation_note"]
