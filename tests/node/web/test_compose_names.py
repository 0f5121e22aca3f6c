"""The compose page refuses an attachment whose name hides its real extension, in the
clerk's language, before anything is stored (sealing would refuse it too)."""

from __future__ import annotations

from lienthong.node.web.compose import drafts_root
from lienthong.storage.documents import list_documents
from tests.node.web import test_web_support as support
from tests.node.web.test_web_documents import compose_form
from tests.node.web.test_web_support import A, login, page_csrf

units, make_client = support.units, support.make_client


async def test_a_padded_file_name_is_refused_on_the_compose_page(units, make_client):
    """`hop-dong.pdf` + 120 spaces + `.exe`, and a name ending in a dot: 400 with the
    Vietnamese reason, no draft and no document kept; an ordinary name goes on."""
    ctx = units[A]
    client = await make_client(ctx)
    await login(client, "vt")
    token = await page_csrf(client, "/compose")
    for name in ("hop-dong.pdf" + " " * 120 + ".exe", "hop-dong.pdf."):
        files = [(name, b"MZ\x90\x00 not a pdf", "application/octet-stream")]
        response = await client.post("/compose", data=compose_form(token, files=files))
        assert response.status == 400, name
        page = await response.text()
        assert "có thể che phần đuôi thật của" in page, name
    drafts = drafts_root(ctx)
    assert not drafts.exists() or not any(drafts.iterdir())
    async with ctx.store.read() as conn:
        assert await list_documents(conn, direction="out", limit=10) == []
    files = [("Báo cáo quý 3.pdf", b"%PDF-1.4 bao cao", "application/pdf")]
    response = await client.post(
        "/compose", data=compose_form(token, files=files), allow_redirects=False
    )
    assert response.status == 303, await response.text()
