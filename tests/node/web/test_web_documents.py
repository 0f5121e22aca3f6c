"""The clerk's page over two real units: compose, send, receive, register, download, registers."""

import re
from dataclasses import replace

from aiohttp import FormData

from lienthong.node.web import compose
from lienthong.storage.documents import (
    get_document,
    held_envelopes,
    list_documents,
    record_incoming,
)
from lienthong.storage.registers import list_register
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import A, B, deliver, login, page_csrf, return_statuses

units, make_client = support.units, support.make_client
XSS = "<script>alert(1)</script>"
_DOC_LINK = re.compile(r'href="/documents/([0-9A-Z]{26})"')


def compose_form(token: str, *, to=(B,), files=(), **fields) -> FormData:
    form = FormData(quote_fields=False, default_to_multipart=True)  # as browsers send it
    form.add_field("csrf", token)
    values = {
        "number": "2340/VP-TTTH",
        "doc_type": "cong_van",
        "place": "Tây Ninh",
        "issued_on": "2025-11-24",
        "subject": "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
        "authority": "KT.",
        "acts_for": "Chánh Văn phòng",
        "position": "Phó Chánh Văn phòng",
        "signer": "Trương Văn Hùng",
        "urgency": "0",
        "confidentiality": "0",
        "distribution": "Như danh sách đính kèm\nLưu: VT",
    }
    values.update(fields)
    for code in to:
        form.add_field("to", code)
    for name, value in values.items():
        form.add_field(name, value)
    for name, data, media_type in files:
        form.add_field("files", data, filename=name, content_type=media_type)
    return form


async def send_from_page(client, *, files=(), **fields) -> str:
    """Compose, confirm, and return the envelope id of the sent document."""
    token = await page_csrf(client, "/compose")
    response = await client.post(
        "/compose", data=compose_form(token, files=files, **fields), allow_redirects=False
    )
    assert response.status == 303, await response.text()
    confirm = response.headers["Location"]
    assert confirm.startswith("/compose/confirm/")
    page = await client.get(confirm)
    assert "Kiểm tra trước khi gửi" in await page.text()
    response = await client.post(confirm, data={"csrf": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"].split("/documents/")[1].split("?")[0]


async def test_compose_puts_the_document_in_the_outbox(units, make_client):
    """A clerk composes with an attachment and confirms: outbox, register and status queued."""
    a = units[A]
    client = await make_client(a)
    await login(client, "vt")
    pdf = b"%PDF-1.4 danh sach 26 don vi\n" * 500
    envelope_id = await send_from_page(client, files=[("danh-sách.pdf", pdf, "application/pdf")])
    outbox = await (await client.get("/outbox")).text()
    assert envelope_id in outbox
    assert "2340/VP-TTTH" in outbox
    assert "Đang chờ gửi" in outbox  # queued for B
    async with a.store.read() as conn:
        (doc,) = await list_documents(conn, direction="out")
        register = await list_register(conn, "outgoing", 2025)
    assert doc.id == envelope_id
    assert [e.document_id for e in register] == [envelope_id]
    assert list((a.config.data_dir / compose.DRAFTS_DIR).iterdir()) == []


async def test_compose_validation_names_each_field(units, make_client):
    """Bad number, missing subject, no recipient and a due date before issue are each named."""
    client = await make_client(units[A])
    await login(client, "vt")
    token = await page_csrf(client, "/compose")
    form = compose_form(token, to=(), number="abc", subject="", due_on="2025-01-01")
    response = await client.post("/compose", data=form)
    assert response.status == 400
    text = await response.text()
    assert "Chọn ít nhất một nơi nhận." in text
    assert "Số văn bản chỉ gồm chữ số" in text
    assert "Cần có trích yếu." in text
    assert "Hạn trả lời không thể trước ngày ban hành." in text


async def test_all_units_group_sends_to_every_other_unit(units, make_client):
    """The "Tất cả đơn vị" choice expands to every unit of the directory but this one."""
    a = units[A]
    client = await make_client(a)
    await login(client, "vt")
    await send_from_page(client, to=(compose.ALL_UNITS,))
    async with a.store.read() as conn:
        (doc,) = await list_documents(conn, direction="out")
    page = await (await client.get(f"/documents/{doc.id}")).text()
    assert B in page and "Nơi nhận và tình trạng" in page


async def test_compose_without_csrf_is_refused(units, make_client):
    """A multipart post whose first field is not the session's token stores nothing."""
    a = units[A]
    client = await make_client(a)
    await login(client, "vt")
    response = await client.post("/compose", data=compose_form("forged"))
    assert response.status == 403
    assert list((a.config.data_dir / compose.DRAFTS_DIR).iterdir()) == []


async def test_oversized_upload_is_refused_and_nothing_is_kept(units, make_client):
    """Over the cap: 413 with the limit named, no draft files, no document, no blob."""
    a = units[A]
    client = await make_client(a, max_upload_bytes=4096)
    await login(client, "vt")
    token = await page_csrf(client, "/compose")
    big = [("scan.pdf", b"x" * 3000, "application/pdf"), ("scan2.pdf", b"y" * 3000, "text/plain")]
    response = await client.post("/compose", data=compose_form(token, files=big))
    assert response.status == 413
    text = await response.text()
    assert "Tệp đính kèm quá lớn" in text and "4096" in text
    assert list((a.config.data_dir / compose.DRAFTS_DIR).iterdir()) == []
    async with a.store.read() as conn:
        assert await list_documents(conn, direction="out") == []
    blobs = [p for p in a.blobs.root.rglob("*") if p.is_file()]
    assert blobs == []


async def test_receive_accept_and_the_sender_sees_the_number(units, make_client):
    """B's clerk sees the new document highlighted, opens it, accepts it: số đến 1, back at A."""
    a, b = units[A], units[B]
    client_a = await make_client(a)
    await login(client_a, "vt")
    envelope_id = await send_from_page(client_a, urgency="3")
    await deliver(a, b, envelope_id)
    client_b = await make_client(b)
    await login(client_b, "vt")
    inbox = await (await client_b.get("/")).text()
    assert 'class="new urgent"' in inbox
    assert "Văn bản khẩn chưa vào sổ" in inbox and "Hỏa tốc" in inbox
    assert _DOC_LINK.search(inbox).group(1) == envelope_id
    page = await (await client_b.get(f"/documents/{envelope_id}")).text()
    assert f"Đã xác thực nơi gửi: Unit {A} ({A})" in page
    assert 'id="action-accepted"' in page and 'id="action-rejected"' in page
    assert 'id="action-assigned"' not in page  # a leader assigns
    token = await page_csrf(client_b, f"/documents/{envelope_id}")
    response = await client_b.post(
        f"/documents/{envelope_id}", data={"csrf": token, "action": "accepted"}
    )
    assert response.status == 200
    page = await response.text()
    assert 'id="incoming-number">1 (' in page
    assert "Đã vào sổ" in page
    await return_statuses(b, a)
    outbox = await (await client_a.get("/outbox")).text()
    assert "số đến 1" in outbox


async def test_a_letter_kept_under_an_id_of_its_own_is_shown_and_answered_by_its_wire_id(
    units, make_client
):
    """B already holds a document of another unit under the id of A's letter: the letter is
    kept under an id of its own, which the inbox links to; its page shows the sender's id,
    and accepting it there sends A a 03 naming that id (A shows số đến 1)."""
    a, b = units[A], units[B]
    client_a = await make_client(a)
    await login(client_a, "vt")
    envelope_id = await send_from_page(client_a)
    async with a.store.read() as conn:
        sent = await get_document(conn, envelope_id)
    first = replace(sent, direction="in", sender_code="000.00.04.H53", wire_id=None)
    async with b.store.write() as tx:  # another unit's envelope came first under that id
        assert await record_incoming(tx, first, b"another unit's envelope", at=b.clock()) == (
            envelope_id
        )
    await deliver(a, b, envelope_id)
    async with b.store.read() as conn:
        (held,) = (await held_envelopes(conn, [(A, envelope_id)])).values()
    local = held.document_id
    assert local != envelope_id
    client_b = await make_client(b)
    await login(client_b, "vt")
    inbox = await (await client_b.get("/")).text()
    assert {m.group(1) for m in _DOC_LINK.finditer(inbox)} == {envelope_id, local}
    page = await (await client_b.get(f"/documents/{local}")).text()
    assert f'id="wire-id">{envelope_id}<' in page and "Mã văn bản của nơi gửi" in page
    assert f"Đã xác thực nơi gửi: Unit {A} ({A})" in page
    token = await page_csrf(client_b, f"/documents/{local}")
    response = await client_b.post(
        f"/documents/{local}", data={"csrf": token, "action": "accepted"}
    )
    assert response.status == 200
    assert 'id="incoming-number">1 (' in await response.text()
    await return_statuses(b, a)
    outbox = await (await client_a.get("/outbox")).text()
    assert "số đến 1" in outbox


async def test_leader_assigns_and_wrong_transitions_are_explained(units, make_client):
    """A leader assigns an accepted document; a refused move shows the state machine's words."""
    a, b = units[A], units[B]
    client_a = await make_client(a)
    await login(client_a, "vt")
    envelope_id = await send_from_page(client_a)
    await deliver(a, b, envelope_id)
    leader = await make_client(b)
    await login(leader, "ld")
    path = f"/documents/{envelope_id}"
    token = await page_csrf(leader, path)
    response = await leader.post(path, data={"csrf": token, "action": "accepted"})
    assert response.status == 403  # registering is the clerk's
    clerk = await make_client(b)
    await login(clerk, "vt")
    clerk_token = await page_csrf(clerk, path)
    await clerk.post(path, data={"csrf": clerk_token, "action": "accepted"})
    response = await leader.post(
        path, data={"csrf": token, "action": "assigned", "assignee": "Phòng Tổng hợp"}
    )
    assert "Đã phân công" in await response.text()
    response = await clerk.post(path, data={"csrf": clerk_token, "action": "rejected", "note": "x"})
    assert response.status == 409
    assert "không còn ở trạng thái cho phép việc này" in await response.text()


async def test_html_in_fields_is_shown_as_text(units, make_client):
    """Script in a subject and a file name is escaped at the sender and at the recipient."""
    a, b = units[A], units[B]
    client_a = await make_client(a)
    await login(client_a, "vt")
    name = '<img src=x onerror="alert(2)">.txt'
    envelope_id = await send_from_page(
        client_a, subject=f"V/v {XSS}", files=[(name, b"hello", "text/html")]
    )
    await deliver(a, b, envelope_id)
    client_b = await make_client(b)
    await login(client_b, "vt")
    for client, path in (
        (client_a, "/outbox"),
        (client_b, "/"),
        (client_b, f"/documents/{envelope_id}"),
    ):
        text = await (await client.get(path)).text()
        assert XSS not in text and "<img src=x" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    download = await client_b.get(f"/documents/{envelope_id}/files/0?inline=1")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert await download.read() == b"hello"


async def test_download_streams_the_attachment_and_refuses_path_tricks(units, make_client):
    """The plaintext comes back byte for byte with a safe name; tricks in the URL get 404."""
    a, b = units[A], units[B]
    client_a = await make_client(a)
    await login(client_a, "vt")
    pdf = bytes(range(256)) * 4096  # 1 MiB, several stream chunks
    envelope_id = await send_from_page(client_a, files=[("Công văn 2340.pdf", pdf, "x/y")])
    await deliver(a, b, envelope_id)
    client_b = await make_client(b)
    await login(client_b, "vt")
    response = await client_b.get(f"/documents/{envelope_id}/files/0")
    assert response.status == 200
    assert await response.read() == pdf
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="C_ng v_n 2340.pdf"')
    assert "filename*=UTF-8''C%C3%B4ng%20v%C4%83n%202340.pdf" in disposition
    inline = await client_b.get(f"/documents/{envelope_id}/files/0?inline=1")
    assert inline.headers["Content-Type"] == "application/pdf"
    assert inline.headers["Content-Disposition"].startswith("inline;")
    for path in (
        f"/documents/{envelope_id}/files/1",
        f"/documents/{envelope_id}/files/-1",
        f"/documents/{envelope_id}/files/..%2F..%2Fstore.sqlite3",
        "/documents/..%2F..%2F..%2Fetc%2Fpasswd/files/0",
        f"/documents/{envelope_id}/files/0/../../../../store.sqlite3",
        "/static/../store.sqlite3",
        "/static/..%2F..%2F..%2Fstore.sqlite3",
    ):
        response = await client_b.get(path, allow_redirects=False)
        assert response.status in (403, 404), path
        assert b"SQLite" not in await response.read()


async def test_paper_entry_then_the_electronic_copy_is_not_registered_twice(units, make_client):
    """A paper document entered during an outage keeps its number when the copy arrives."""
    a, b = units[A], units[B]
    client_b = await make_client(b)
    await login(client_b, "vt")
    token = await page_csrf(client_b, "/paper")
    paper = {
        "csrf": token,
        "arrived_on": "2025-11-24",
        "issuer_name": "Văn phòng UBND tỉnh",
        "issuer_code": A,
        "number_notation": "2340/VP-TTTH",
        "doc_date": "2025-11-24",
        "doc_type": "cong_van",
        "subject": "V/v triển khai (bản giấy)",
        "passed_to": "BGĐ",
    }
    response = await client_b.post("/paper/incoming", data=paper)
    assert response.status == 200
    page = await response.text()
    assert "Văn bản giấy, nhập tay" in page and 'class="highlight"' in page
    client_a = await make_client(a)
    await login(client_a, "vt")
    envelope_id = await send_from_page(client_a)
    await deliver(a, b, envelope_id)
    path = f"/documents/{envelope_id}"
    await client_b.post(path, data={"csrf": token, "action": "accepted"})
    async with b.store.read() as conn:
        register = await list_register(conn, "incoming", 2025)
    assert [(e.number, e.document_id, e.manual) for e in register] == [(1, envelope_id, True)]


async def test_paper_entry_names_missing_fields(units, make_client):
    """An incomplete paper entry is refused with each field named and nothing registered."""
    b = units[B]
    client = await make_client(b)
    await login(client, "vt")
    token = await page_csrf(client, "/paper")
    response = await client.post(
        "/paper/outgoing", data={"csrf": token, "issued_on": "bad", "doc_type": "cong_van"}
    )
    assert response.status == 400
    assert "Cần điền ô này." in await response.text()
    async with b.store.read() as conn:
        assert await list_register(conn, "outgoing", 2025) == []


async def test_register_csv_is_utf8_and_defuses_formulas(units, make_client):
    """The CSV opens in a spreadsheet with diacritics and no formula from a subject."""
    b = units[B]
    client = await make_client(b)
    await login(client, "vt")
    token = await page_csrf(client, "/paper")
    await client.post(
        "/paper/outgoing",
        data={
            "csrf": token,
            "issued_on": "2025-11-24",
            "notation": "UBND-VP",
            "doc_type": "cong_van",
            "subject": '=HYPERLINK("http://x")',
            "recipients": "Sở Nội vụ",
            "sent_on": "2025-11-24",
        },
    )
    response = await client.get("/registers/outgoing/2025.csv")
    assert response.status == 200
    body = (await response.read()).decode("utf-8")
    assert body.startswith('\ufeff"Số, ký hiệu"')
    assert "1/UBND-VP" in body and "'=HYPERLINK" in body and "Sở Nội vụ" in body
    printing = await (await client.get("/registers?kind=outgoing&year=2025&print=1")).text()
    assert 'class="printing"' in printing


async def test_recall_from_the_outbox_and_the_answer(units, make_client):
    """A asks to recall; B's clerk sees the request and agrees; the document is recalled."""
    a, b = units[A], units[B]
    client_a = await make_client(a)
    await login(client_a, "vt")
    envelope_id = await send_from_page(client_a)
    await deliver(a, b, envelope_id)
    path = f"/documents/{envelope_id}"
    token_a = await page_csrf(client_a, path)
    response = await client_a.post(path, data={"csrf": token_a, "action": "recall", "note": "sai"})
    assert response.status == 200
    await return_statuses(a, b)
    client_b = await make_client(b)
    await login(client_b, "vt")
    page = await (await client_b.get(path)).text()
    assert "Bên gửi đề nghị thu hồi" in page
    token_b = await page_csrf(client_b, path)
    response = await client_b.post(path, data={"csrf": token_b, "action": "recall-agree"})
    assert "Đã thu hồi" in await response.text()
