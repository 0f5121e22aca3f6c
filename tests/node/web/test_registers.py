"""The register pages: paged a hundred lines at a time, the whole register in the print view
under the decree's heading and in a real .xlsx read back with openpyxl, recalled lines
struck through, paper entries in the register their kind belongs to, the duplicate
warning."""

from __future__ import annotations

import io
from dataclasses import replace

import openpyxl
import pytest

from lienthong.storage import registers as reg
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import B, login, page_csrf

units, make_client = support.units, support.make_client
LINES = 250


def _paper(n: int, **more) -> reg.IncomingEntry:
    return reg.IncomingEntry(
        arrived_on="2025-03-01",
        issuer_name="UBND huyện Hòa Thành",
        issuer_code="000.00.31.H53",
        number_notation=f"{n:02d}/UBND-VP",
        doc_date="2025-02-27",
        doc_type="cong_van",
        subject=f"V/v báo cáo số {n}",
        manual=True,
        **more,
    )


@pytest.fixture
async def filled(units):
    """B's incoming register of 2025 with LINES paper lines; line 3 recalled, line 4 says
    it was updated, line 5's subject starts with "=" (a formula to a spreadsheet)."""
    b = units[B]
    async with b.store.write() as tx:
        for n in range(1, LINES + 1):
            entry = _paper(n)
            if n == 5:
                entry = replace(entry, subject='=HYPERLINK("http://x")')
            await reg.register_incoming(tx, entry, actor="vt", at=1)
        await tx.execute(
            "UPDATE incoming_register SET document_id = NULL, recalled_on = '2025-03-05',"
            " recall_reason = 'Sai sót' WHERE number = 3"
        )
        await tx.execute(
            "UPDATE incoming_register SET link_notes = 'Được cập nhật bởi văn bản số"
            " 12/UBND-VP ngày 06/03/2025' WHERE number = 4"
        )
    return b


async def test_a_register_is_read_a_hundred_lines_a_page(filled, make_client):
    """Page 1 holds lines 1-100 and a link to the next; that page holds 101-200 and links
    both ways; the previous link leads back to 1-100. Dates read dd/mm/yyyy."""
    client = await make_client(filled)
    await login(client, "vt")
    first = await (await client.get("/registers?kind=incoming&year=2025")).text()
    assert first.count('data-label="Số đến">') == 100
    assert 'data-label="Số đến">100<' in first and 'data-label="Số đến">101<' not in first
    assert 'id="page-previous"' not in first and "01/03/2025" in first
    next_link = first.split('id="page-next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = await (await client.get(next_link)).text()
    assert 'data-label="Số đến">101<' in second and 'data-label="Số đến">200<' in second
    assert 'data-label="Số đến">100<' not in second and 'id="page-next"' in second
    back = second.split('id="page-previous" href="')[1].split('"')[0].replace("&amp;", "&")
    assert 'data-label="Số đến">1<' in await (await client.get(back)).text()
    assert (await client.get("/registers?kind=incoming&after=1;x")).status == 404
    assert (await client.get("/registers?kind=incoming&register=Mật")).status == 404


async def test_the_print_view_is_the_whole_register_under_the_decrees_heading(filled, make_client):
    """One clean page: the organisation, "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", the year, days and
    numbers, the numbered columns (1)-(9), every line; the recalled line struck through
    with its day and reason; the A4 landscape stylesheet."""
    client = await make_client(filled)
    await login(client, "vt")
    page = await (await client.get("/registers?kind=incoming&year=2025&print=1")).text()
    assert f"UNIT {B}" in page and "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" in page
    assert "Năm: 2025" in page and "Từ ngày 01/03/2025 đến ngày 01/03/2025" in page
    assert f"Từ số 1 đến số {LINES}" in page
    assert "<th>(9)</th>" in page and "<th>(10)</th>" not in page
    assert page.count('<td class="col-number">') == LINES
    assert '<tr class="recalled">' in page and "<s>03/UBND-VP</s>" in page
    assert "Đã thu hồi ngày 05/03/2025: Sai sót" in page
    assert "Được cập nhật bởi văn bản số 12/UBND-VP ngày 06/03/2025" in page
    assert '<link rel="stylesheet" href="/static/register_print.css">' in page
    css = await (await client.get("/static/register_print.css")).text()
    assert "size: A4 landscape" in css


async def test_the_excel_export_opens_with_every_line_and_its_cells(filled, make_client):
    """The .xlsx is a real workbook: title and headings, then one row per line with the
    number as a number, dates dd/mm/yyyy, the type and subject apart, notes; a subject
    starting with "=" stays text."""
    client = await make_client(filled)
    await login(client, "vt")
    response = await client.get("/registers/incoming/2025.xlsx?register=chung")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "so-van-ban-den-chung-2025.xlsx" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await response.read()))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Sổ đăng ký văn bản đến năm 2025 — Văn bản hành chính"
    assert rows[1] == (
        "Số đến",
        "Ngày đến",
        "Tác giả (cơ quan ban hành)",
        "Số, ký hiệu",
        "Ngày văn bản",
        "Tên loại",
        "Trích yếu nội dung",
        "Đơn vị hoặc người nhận",
        "Ký nhận",
        "Ghi chú",
    )
    lines = rows[2:]
    assert len(lines) == LINES and [r[0] for r in lines] == list(range(1, LINES + 1))
    assert lines[0][:7] == (
        1,
        "01/03/2025",
        "UBND huyện Hòa Thành",
        "01/UBND-VP",
        "27/02/2025",
        "Công văn",
        "V/v báo cáo số 1",
    )
    assert lines[2][9] == "Đã thu hồi ngày 05/03/2025: Sai sót\nVăn bản giấy, nhập tay"
    assert lines[4][6] == '=HYPERLINK("http://x")' and sheet["G7"].data_type == "s"
    csv = (await (await client.get("/registers/incoming/2025.csv")).read()).decode()
    assert csv.count("\r\n") == LINES + 1 and "'=HYPERLINK" in csv


async def test_paper_entries_go_to_the_register_of_their_kind(units, make_client):
    """A legal decision (its number carries the year) goes to qppl_quyet_dinh, a secret one
    to "mat", with numbers of their own; "5" breaks the decree's two-digit rule; a secret
    incoming paper document is numbered in the incoming "mat" register."""
    b = units[B]
    client = await make_client(b)
    await login(client, "vt")
    token = await page_csrf(client, "/paper")
    form = {
        "csrf": token,
        "issued_on": "24/11/2025",
        "notation": "QĐ-UBND",
        "doc_type": "quyet_dinh",
        "subject": "Ban hành quy chế",
        "recipients": "Các sở",
    }
    legal = await client.post(
        "/paper/outgoing", data=form | {"legal": "1", "number": "49"}, allow_redirects=False
    )
    assert legal.status == 303 and "register=qppl_quyet_dinh" in legal.headers["Location"]
    secret = await client.post(
        "/paper/outgoing", data=form | {"confidentiality": "1"}, allow_redirects=False
    )
    assert "register=mat" in secret.headers["Location"]
    wrong = await client.post("/paper/outgoing", data=form | {"number": "5"})
    assert wrong.status == 400 and "số dưới 10 viết hai chữ số (05)" in await wrong.text()
    incoming = await client.post(
        "/paper/incoming",
        data={
            "csrf": token,
            "arrived_on": "24/11/2025",
            "issuer_name": "Bộ Công an",
            "number_notation": "12/BCA-VP",
            "doc_date": "20/11/2025",
            "doc_type": "cong_van",
            "subject": "V/v bảo vệ bí mật",
            "confidentiality": "2",
        },
        allow_redirects=False,
    )
    assert "kind=incoming" in incoming.headers["Location"]
    assert "register=mat" in incoming.headers["Location"]
    async with b.store.read() as conn:
        out = await reg.list_register(conn, "outgoing", 2025)
        assert await reg.registers_in_use(conn, "incoming", 2025) == {"mat": 1}
    assert [(e.register, e.number_notation) for e in out] == [
        ("mat", "01/QĐ-UBND"),
        ("qppl_quyet_dinh", "49/2025/QĐ-UBND"),
    ]
    page = await (await client.get("/registers?kind=outgoing&year=2025&register=mat")).text()
    assert "Văn bản mật" in page and "01/QĐ-UBND" in page


async def test_a_possible_duplicate_is_shown_before_it_is_numbered(units, make_client):
    """A paper entry "5/UBND-VP" when "05/UBND-VP" of the same issuer is in the register:
    the page warns "Có thể trùng với văn bản đến số 1 ngày 01/03/2025" and numbers nothing;
    ticking "Đây là văn bản khác" numbers it."""
    b = units[B]
    async with b.store.write() as tx:
        await reg.register_incoming(tx, _paper(5), actor="vt", at=1)
    client = await make_client(b)
    await login(client, "vt")
    form = {
        "csrf": await page_csrf(client, "/paper"),
        "arrived_on": "02/03/2025",
        "issuer_name": "UBND huyện Hòa Thành",
        "issuer_code": "000.00.31.H53",
        "number_notation": "5/UBND-VP",
        "doc_date": "27/02/2025",
        "doc_type": "cong_van",
        "subject": "V/v báo cáo",
    }
    warned = await client.post("/paper/incoming", data=form, allow_redirects=False)
    page = await warned.text()
    assert warned.status == 200 and 'id="possible-duplicate"' in page
    assert "Có thể trùng với văn bản đến số 1 ngày 01/03/2025: 05/UBND-VP" in page
    async with b.store.read() as conn:
        assert len(await reg.list_register(conn, "incoming", 2025)) == 1
    confirmed = await client.post(
        "/paper/incoming", data=form | {"confirm_duplicate": "1"}, allow_redirects=False
    )
    assert confirmed.status == 303
    async with b.store.read() as conn:
        assert [e.number for e in await reg.list_register(conn, "incoming", 2025)] == [1, 2]
