"""Copies from the document page over real stores and a real aiohttp server: B's clerk
opens "Sao văn bản" on a document A sent, the compose page comes prefilled (the copy
register's next number, the original's subject and issuer), and the sao y sent is
numbered in the copy register, carries the original's file and is linked both ways on
both pages; a copy typed as a công văn is refused with nothing kept."""

from __future__ import annotations

import html

from lienthong.node.unit import documents as service
from lienthong.storage import links
from lienthong.storage.documents import get_document, list_documents
from lienthong.storage.registers import COPIES, list_register
from tests.node.web import test_web_support as support
from tests.node.web.test_web_documents import compose_form, send_from_page
from tests.node.web.test_web_support import A, B, deliver, login, page_csrf

units, make_client = support.units, support.make_client
PDF = b"%PDF-1.4 quyet dinh goc\n" * 50


async def _received(units, make_client):
    """A sends a document with a PDF from its page and it reaches B; returns (its id, B's
    clerk client)."""
    a, b = units[A], units[B]
    sender = await make_client(a)
    await login(sender, "vt")
    envelope_id = await send_from_page(sender, files=[("quyết-định.pdf", PDF, "application/pdf")])
    await deliver(a, b, envelope_id)
    clerk = await make_client(b)
    await login(clerk, "vt")
    return envelope_id, clerk


async def test_a_sao_y_from_the_page_is_numbered_in_the_copy_register_and_linked(
    units, make_client
):
    """The action is on the page; the compose page names the original and offers number
    01 of the copy register; once sent, the register "sao" holds the copy as 01, the copy
    holds the original's PDF, and each page names the other."""
    b = units[B]
    original, clerk = await _received(units, make_client)
    page = await (await clerk.get(f"/documents/{original}")).text()
    assert 'id="action-copy"' in page and 'value="ban_trich_sao"' in page
    prefilled = html.unescape(
        await (await clerk.get(f"/compose?copy_of={original}&type=ban_sao_y")).text()
    )
    assert f'name="copy_of" value="{original}"' in prefilled
    assert 'name="number" id="number" required value="01"' in prefilled
    assert "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)" in prefilled
    assert "Bản sao của văn bản" in prefilled

    token = await page_csrf(clerk, "/compose")
    form = compose_form(token, to=(A,), copy_of=original, doc_type="ban_sao_y", number="01/SY-SNV")
    response = await clerk.post("/compose", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()
    response = await clerk.post(
        response.headers["Location"], data={"csrf": token}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    copy_id = response.headers["Location"].split("/documents/")[1].split("?")[0]

    async with b.store.read() as conn:
        (line,) = await list_register(conn, "outgoing", 2025, COPIES)
        copy = await get_document(conn, copy_id)
        linked = await links.links_of(conn, original)
    assert (line.document_id, line.number) == (copy_id, "01")
    assert [x.name for x in service.stored_body(copy).attachments] == ["quyết-định.pdf"]
    assert [(x.document_id, x.kind, x.target_id) for x in linked] == [
        (copy_id, links.COPY_OF, original)
    ]
    copy_page = await (await clerk.get(f"/documents/{copy_id}")).text()
    assert "Bản sao của" in copy_page and f'href="/documents/{original}"' in copy_page
    original_page = await (await clerk.get(f"/documents/{original}")).text()
    assert f'href="/documents/{copy_id}"' in original_page


async def test_a_copy_typed_as_a_cong_van_is_refused_and_nothing_kept(units, make_client):
    """The form names the type as what was wrong; no outgoing document, no register line."""
    b = units[B]
    original, clerk = await _received(units, make_client)
    token = await page_csrf(clerk, "/compose")
    form = compose_form(token, to=(A,), copy_of=original, number="01/SY-SNV")
    response = await clerk.post("/compose", data=form, allow_redirects=False)
    assert response.status == 400
    assert "Bản sao phải là bản sao y, trích sao hoặc sao lục." in await response.text()
    async with b.store.read() as conn:
        assert await list_documents(conn, direction="out") == []
        assert await list_register(conn, "outgoing", 2025) == []
