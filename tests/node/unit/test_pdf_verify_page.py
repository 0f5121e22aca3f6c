"""What a clerk and a DMS see of a PDF's signatures (real nodes over mutual TLS, real web
servers on 127.0.0.1, headless Chromium): the document page names the signer and says
valid / not trusted / changed, and revocation not checked; the inbox carries a mark; the
integration API's document read gives each file's `signatures`; the envelope's signature is
named as the sending node's."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright import async_api as playwright_api

from lienthong.crypto.pdf_signatures import load_anchor
from lienthong.node.unit import documents as service
from lienthong.node.unit.pdf_verify import verify_queued
from lienthong.node.web import create_web_app
from lienthong.storage import trust
from lienthong.storage.api_keys import add_key
from tests.crypto.pdf_fixtures import (
    SIGNER_NAME,
    SIGNER_ORG,
    change_after_signing,
    make_ca,
    make_pdf,
    make_signer,
    sign_pdf,
)
from tests.node.tls_federation import A, B, letter
from tests.node.web.test_compose_arrival import deliver, offices
from tests.node.web.test_web_browser import CHROMIUM, CHROMIUM_ARGS
from tests.node.web.test_web_support import PASSWORD, Delays


@pytest.fixture(scope="module")
def material():
    """A trusted CA, and PDFs made outside the event loop (pyHanko runs its own)."""
    ca = make_ca("CA thử của tỉnh")
    signed = sign_pdf(make_pdf(2), make_signer(ca))
    return {
        "ca": ca,
        "quyet-dinh.pdf": signed,
        "da-sua.pdf": change_after_signing(signed),
        "ca-la.pdf": sign_pdf(make_pdf(), make_signer(make_ca("CA lạ"))),
    }


async def _arrived(fed, tmp_path, material) -> str:
    """A sends B a letter with the three PDFs and a text file; B trusts the CA and checks."""
    b = fed.units[B].ctx
    anchor = load_anchor(material["ca"].der)
    async with b.store.write() as tx:
        await trust.add_anchor(tx, anchor.fingerprint, anchor.subject, anchor.der, actor="t", at=1)
    paths = []
    for name in ("quyet-dinh.pdf", "da-sua.pdf", "ca-la.pdf"):
        (tmp_path / name).write_bytes(material[name])
        paths.append(tmp_path / name)
    (tmp_path / "ghi-chu.txt").write_bytes(b"ghi chu")
    paths.append(tmp_path / "ghi-chu.txt")
    document_id = await service.send_document(
        fed.units[A].ctx, letter(), [B], files=paths, actor="vt"
    )
    await deliver(fed, A, B)
    assert await verify_queued(b) == 1
    return document_id


async def test_the_api_gives_each_file_its_signatures(tmp_path, material):
    """GET /api/v1/documents/{id}: per file a signature_check and its signatures (the
    signer named), null for the text file; the envelope's check stays `signature`."""
    async with offices(tmp_path) as fed:
        document_id = await _arrived(fed, tmp_path, material)
        ctx = fed.units[B].ctx
        async with ctx.store.write() as tx:
            _key, token = await add_key(tx, "dms", ("read",), actor="t", at=ctx.clock())
        client = TestClient(
            TestServer(create_web_app(ctx), host="127.0.0.1"),
            headers={"Authorization": f"Bearer {token}"},
        )
        await client.start_server()
        try:
            answer = await client.get(f"/api/v1/documents/{document_id}")
            assert answer.status == 200
            data = await answer.json()
        finally:
            await client.close()
    files = {f["name"]: f for f in data["attachments"]}
    assert files["quyet-dinh.pdf"]["signature_check"]["status"] == "valid"
    (sig,) = files["quyet-dinh.pdf"]["signatures"]
    assert (sig["signer_name"], sig["organisation"]) == (SIGNER_NAME, SIGNER_ORG)
    assert sig["revocation"] == "not_checked"
    assert files["da-sua.pdf"]["signature_check"]["status"] == "invalid"
    assert files["ca-la.pdf"]["signature_check"]["status"] == "untrusted"
    assert files["ghi-chu.txt"]["signature_check"] is None
    assert files["ghi-chu.txt"]["signatures"] == []
    assert data["signature"]["verified"] is True


@pytest.fixture
async def browser():
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_the_clerk_reads_each_files_signatures_on_the_document_page(
    tmp_path, material, browser
):
    """In Chromium at B: the inbox row carries the '!' mark (one PDF is not valid); the
    document page says "Hợp lệ — ký bởi Nguyễn Văn An, tổ chức …, lúc dd/mm/yyyy", "Chưa
    kiểm tra thu hồi", the changed copy "Không hợp lệ hoặc đã bị sửa sau khi ký", the other
    CA's "chưa được tin cậy", nothing for the text file, and the node's own check is
    "Chữ ký của node gửi"."""
    async with offices(tmp_path) as fed:
        document_id = await _arrived(fed, tmp_path, material)
        server = TestServer(create_web_app(fed.units[B].ctx, sleep=Delays()))
        await server.start_server()
        try:
            base = str(server.make_url("")).rstrip("/")
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{base}/login")
            await page.fill("input[name=username]", "vt")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/")
            mark = page.locator(".pdfsig-mark")
            assert await mark.count() == 1
            assert await mark.get_attribute("title") == "Có tệp PDF cần xem lại chữ ký"
            await page.goto(f"{base}/documents/{document_id}")
            await page.screenshot(path=str(tmp_path / "pdf-signatures.png"), full_page=True)
            sender = await page.inner_text("#sender-check")
            valid = await page.inner_text("#pdfsig-0")
            changed = await page.inner_text("#pdfsig-1")
            untrusted = await page.inner_text("#pdfsig-2")
            others = await page.locator("#pdfsig-3").count()
        finally:
            await server.close()
    assert sender.startswith("✔ Chữ ký của node gửi:")
    assert f"Hợp lệ — ký bởi {SIGNER_NAME}, tổ chức {SIGNER_ORG}, lúc " in valid
    assert "Chưa kiểm tra thu hồi" in valid and "chức vụ: Chủ tịch" in valid
    assert "Không hợp lệ hoặc đã bị sửa sau khi ký" in changed
    assert "nội dung đã bị sửa sau khi ký" in changed
    assert "chưa được tin cậy" in untrusted
    assert others == 0
