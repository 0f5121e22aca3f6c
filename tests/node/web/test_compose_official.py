"""The compose page writes the official document as Nghị định 30/2020 does: the issuer and
the place from the unit's configuration, the number as typed ("05"), the signature block,
hỏa tốc hẹn giờ with its time, the version-2 fields; each mistake is refused naming its
field in Vietnamese with nothing stored; an outgoing document is updated or replaced from
its page."""

from __future__ import annotations

import pytest
from aiohttp import FormData

from lienthong.node.config import Config, validate
from lienthong.node.unit import documents as service
from lienthong.node.web import compose
from lienthong.node.web.base import SETTINGS
from lienthong.protocol.codes import Urgency
from lienthong.protocol.document import StaffInfo
from lienthong.storage.documents import get_document, list_documents
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import A, B, login, page_csrf

units, make_client = support.units, support.make_client
# The issuer as node.toml's [unit] states it (A: the province office, Văn phòng UBND tỉnh).
ISSUER = {
    "parent": "UBND tỉnh Tây Ninh",
    "in_charge": "Ủy ban nhân dân tỉnh",
    "place": "Tây Ninh",
    "address": "83 Phạm Tung, phường 3, thành phố Tây Ninh",
    "email": "vanthu@tayninh.gov.vn",
    "phone": "0276 3822 222",
    "website": "https://tayninh.gov.vn",
}
LETTER = {
    "doc_type": "cong_van",
    "number": "05",
    "notation": "VP-TTTH",
    "place": "Tây Ninh",
    "issued_on": "23/05/2014",
    "subject": "V/v triển khai liên thông phần mềm Văn phòng điện tử (eOffice)",
    "authority": "KT.",
    "acts_for": "Chánh Văn phòng",
    "position": "Phó Chánh Văn phòng",
    "signer": "Trương Văn Hùng",
    "urgency": "0",
    "confidentiality": "0",
    "distribution": "Như trên\nLưu: VT",
    "staff_name": "Nguyễn Thị Trang",
}


@pytest.fixture
def offices(units):
    """The two units of test_web_support with their issuer details in [unit]."""
    for code, ctx in units.items():
        values = validate({"unit": {"code": code, "name": "Văn phòng", **ISSUER}})
        ctx.config = Config(ctx.config.data_dir, values)
    return units


def official_form(token: str, *, to=(B,), **fields) -> FormData:
    """The compose form of LETTER with `fields` changed (None: the field is not sent)."""
    form = FormData(quote_fields=False, default_to_multipart=True)
    form.add_field("csrf", token)
    for code in to:
        form.add_field("to", code)
    for name, value in (LETTER | fields).items():
        if value is not None:
            form.add_field(name, value)
    return form


async def clerk(ctx, make_client):
    client = await make_client(ctx)
    await login(client, "vt")
    return client, await page_csrf(client, "/compose")


async def nothing_kept(ctx) -> None:
    drafts = compose.drafts_root(ctx)
    assert not drafts.exists() or not any(drafts.iterdir())
    async with ctx.store.read() as conn:
        assert await list_documents(conn, direction="out") == []


async def test_the_page_starts_from_the_units_configuration(offices, make_client):
    """The place, the issuer and the handler's name are filled in; the type list holds the
    types a unit issues (Công văn) and none it only receives (Luật); the date is dd/mm/yyyy."""
    client, _ = await clerk(offices[A], make_client)
    page = await (await client.get("/compose")).text()
    assert 'name="place" required value="Tây Ninh"' in page
    assert "UBND tỉnh Tây Ninh / Văn phòng" in page
    assert 'name="staff_name" value="Người dùng vt"' in page
    assert 'value="cong_van"' in page and 'value="luat"' not in page
    assert 'value="nghi_dinh"' not in page
    assert 'data-in-charge="Ủy ban nhân dân tỉnh"' in page
    issued_on = page.split('name="issued_on" required value="')[1].split('"')[0]
    day, month, year = issued_on.split("/")
    assert (len(day), len(month), len(year)) == (2, 2, 4)


REFUSALS = [
    # (what changes, the field, its label in the list of errors, the message)
    ({"signer": ""}, "signer", "Họ tên người ký", "Cần họ tên người ký."),
    ({"place": ""}, "place", "Địa danh", "Cần ghi địa danh trước ngày ban hành"),
    ({"number": "5"}, "number", "Số", "Số dưới 10 viết hai chữ số: 05"),
    ({"number": "012"}, "number", "Số", "không có số 0 ở đầu: 12, không phải 012"),
    (
        {"acts_for": ""},
        "acts_for",
        "Thay mặt / ký thay cho",
        "Ký KT. thì cần ghi thay mặt / ký thay cho ai",
    ),
    (
        {"urgency": "4", "scheduled_at": ""},
        "scheduled_at",
        "Thời hạn hỏa tốc hẹn giờ",
        "Hỏa tốc hẹn giờ cần thời hạn dạng ngày/tháng/năm giờ:phút",
    ),
    (
        {"urgency": "4", "scheduled_at": "31/02/2025 14:30"},
        "scheduled_at",
        "Thời hạn hỏa tốc hẹn giờ",
        "Hỏa tốc hẹn giờ cần thời hạn dạng ngày/tháng/năm giờ:phút",
    ),
    (
        {"doc_type": "luat", "notation": "QH15"},
        "year",
        "Năm ban hành trong số",
        "Văn bản quy phạm pháp luật phải ghi năm ban hành trong số",
    ),
    (
        {"doc_type": "quyet_dinh", "number": "49/2025/QĐ-UBND", "notation": "", "year": "2024"},
        "year",
        "Năm ban hành trong số",
        "Năm ở ô Năm (2024) khác năm ghi trong số (2025).",
    ),
    ({"position": ""}, "position", "Chức vụ của người ký", "Cần chức vụ của người ký"),
    ({"issued_on": "2014/05/23"}, "issued_on", "Ngày ban hành", "Ngày ban hành cần dạng"),
    ({"staff_email": "trang@"}, "staff_email", "Thư điện tử", "không đúng dạng"),
    ({"authority": "", "acts_for": "Chánh Văn phòng"}, "acts_for", "Thay mặt", "Chỉ ghi"),
    ({"steering_type": "100"}, "steering_type", "Loại chỉ đạo", "từ 0 đến 99"),
]


@pytest.mark.parametrize(("change", "field", "label", "message"), REFUSALS)
async def test_each_mistake_is_refused_naming_its_field(
    offices, make_client, change, field, label, message
):
    """400; the message stands beside its field and, with the field's label, in the list
    above the form; no draft and no document is kept."""
    ctx = offices[A]
    client, token = await clerk(ctx, make_client)
    response = await client.post("/compose", data=official_form(token, **change))
    assert response.status == 400
    page = await response.text()
    beside = page.split(f'name="{field}"')[1].split("</label>")[0]
    assert message in beside, beside
    summary = page.split('id="compose-errors"')[1].split("</div>")[0]
    assert f"<strong>{label}" in summary and message in summary, summary
    await nothing_kept(ctx)


async def test_a_legal_type_also_says_the_unit_does_not_issue_it(offices, make_client):
    """Luật is received, never issued: its choice is refused too, beside the year."""
    client, token = await clerk(offices[A], make_client)
    response = await client.post("/compose", data=official_form(token, doc_type="luat"))
    page = await response.text()
    assert "Chọn loại văn bản trong danh sách." in page


async def confirm_page(client, token: str, **fields) -> tuple[str, str]:
    response = await client.post(
        "/compose", data=official_form(token, **fields), allow_redirects=False
    )
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    return location, await (await client.get(location)).text()


async def send(client, token: str, **fields) -> str:
    location, _ = await confirm_page(client, token, **fields)
    response = await client.post(location, data={"csrf": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"].split("/documents/")[1].split("?")[0]


async def test_tm_acts_for_the_body_in_charge(offices, make_client):
    """TM. with "thay mặt" left empty acts for [unit] in_charge: the block reads
    "TM. ỦY BAN NHÂN DÂN TỈNH" / "CHỦ TỊCH" / the name."""
    client, token = await clerk(offices[A], make_client)
    fields = {"authority": "TM.", "acts_for": "", "position": "Chủ tịch", "signer": "Lê Văn A"}
    _, page = await confirm_page(client, token, **fields)
    block = page.split('id="signature-block">')[1].split("</div>")[0]
    assert block == "<p>TM. ỦY BAN NHÂN DÂN TỈNH</p><p>CHỦ TỊCH</p><p>Lê Văn A</p>"


async def test_every_field_reaches_the_confirm_page_the_store_and_the_document_page(
    offices, make_client
):
    """A hỏa tốc hẹn giờ letter numbered "05" with every version-2 field: the confirm page
    shows it as on paper, the store keeps it as typed, the document page shows it again."""
    ctx = offices[A]
    client, token = await clerk(ctx, make_client)
    fields = {
        "urgency": "4",
        "scheduled_at": "24/11/2025 14:30",
        "steering_type": "3",
        "sphere": "Các sở, ban, ngành tỉnh",
        "appendixes": "Danh sách đơn vị\nKế hoạch triển khai",
        "pages": "3",
        "copies": "26",
        "drafter": "KTrang",
        "staff_department": "Phòng Hành chính - Tổ chức",
        "staff_mobile": "0912 345 678",
        "staff_email": "trang@tayninh.gov.vn",
        "paper": "1",
        "due_on": "30/05/2014",
    }
    _, page = await confirm_page(client, token, **fields)
    for text in (
        "UBND TỈNH TÂY NINH",
        "Số: 05/VP-TTTH",
        "Tây Ninh, ngày 23 tháng 5 năm 2014",
        "<p>KT. CHÁNH VĂN PHÒNG</p><p>PHÓ CHÁNH VĂN PHÒNG</p><p>Trương Văn Hùng</p>",
        "Hỏa tốc hẹn giờ",
        "phải đến trước 24/11/2025 14:30",
        "<li>Danh sách đơn vị</li><li>Kế hoạch triển khai</li>",
        "Bản giấy sẽ gửi sau",
        "30/05/2014",
    ):
        assert text in page, text
    envelope_id = await send(client, token, **fields)
    async with ctx.store.read() as conn:
        doc = await get_document(conn, envelope_id)
    body = service.stored_body(doc)
    m = body.metadata
    assert (m.number, m.notation, m.year, m.place) == ("05", "VP-TTTH", None, "Tây Ninh")
    assert (m.issued_on, m.due_on) == ("2014-05-23", "2014-05-30")
    assert m.signer.block == ("KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG", "Trương Văn Hùng")
    assert (m.urgency, m.scheduled_at) == (Urgency.FLASH_SCHEDULED, "2025-11-24T14:30")
    assert (m.steering_type, m.sphere, m.pages, m.copies, m.drafter) == (
        3,
        "Các sở, ban, ngành tỉnh",
        3,
        26,
        "KTrang",
    )
    assert m.appendixes == ("Danh sách đơn vị", "Kế hoạch triển khai")
    assert m.issuer.parent == "UBND tỉnh Tây Ninh" and m.issuer.in_charge == ISSUER["in_charge"]
    assert (m.issuer.email, m.issuer.website) == (ISSUER["email"], ISSUER["website"])
    assert body.business.paper is True
    assert body.business.staff == StaffInfo(
        "Nguyễn Thị Trang", "Phòng Hành chính - Tổ chức", "0912 345 678", "trang@tayninh.gov.vn"
    )
    page = await (await client.get(f"/documents/{envelope_id}")).text()
    assert 'id="official-number">Số: 05/VP-TTTH<' in page
    assert "Tây Ninh, ngày 23 tháng 5 năm 2014" in page
    assert 'id="official-issued-on">23/05/2014<' in page
    assert "<p>KT. CHÁNH VĂN PHÒNG</p><p>PHÓ CHÁNH VĂN PHÒNG</p><p>Trương Văn Hùng</p>" in page


async def test_a_legal_number_carries_its_year(offices, make_client):
    """A year typed beside the number is printed in it: "49/2025/QĐ-UBND"; the whole
    "Số, ký hiệu" typed in the number box is read the same way."""
    client, token = await clerk(offices[A], make_client)
    fields = {"doc_type": "quyet_dinh", "number": "49", "year": "2025", "notation": "QĐ-UBND"}
    _, page = await confirm_page(client, token, **fields)
    assert "Số: 49/2025/QĐ-UBND" in page
    fields = {"doc_type": "quyet_dinh", "number": "50/2025/QĐ-UBND", "notation": ""}
    _, page = await confirm_page(client, token, **fields)
    assert "Số: 50/2025/QĐ-UBND" in page


async def test_update_and_replace_start_from_an_outgoing_document(offices, make_client):
    """An outgoing document's page offers "Cập nhật" and "Thay thế"; the compose page opens
    filled from it (a replacement without its number); the reason is required; a number
    under "also replaces" must be one of the unit's documents; once sent, each page links
    to the other; a received document cannot be updated from here."""
    ctx = offices[A]
    client, token = await clerk(ctx, make_client)
    first = await send(client, token)
    page = await (await client.get(f"/documents/{first}")).text()
    assert f'href="/compose?update={first}"' in page and f'href="/compose?replace={first}"' in page
    page = await (await client.get(f"/compose?replace={first}")).text()
    assert f'name="target" value="{first}"' in page
    assert 'name="business" value="replace"' in page
    assert LETTER["subject"] in page and "05/VP-TTTH" in page  # the original, named
    assert 'name="number" id="number" required value=""' in page
    assert 'name="acts_for" id="acts-for" value="Chánh Văn phòng"' in page
    page = await (await client.get(f"/compose?update={first}")).text()
    assert 'name="number" id="number" required value="05"' in page

    replacing = {"business": "replace", "target": first, "number": "06"}
    response = await client.post("/compose", data=official_form(token, **replacing))
    assert response.status == 400
    assert "Cần ghi lý do cập nhật/thay thế." in await response.text()
    unknown = replacing | {"reason": "Sai nơi nhận", "more_targets": "99/VP-TTTH"}
    response = await client.post("/compose", data=official_form(token, **unknown))
    assert response.status == 400
    assert "Không có văn bản đi số 99/VP-TTTH của đơn vị." in await response.text()
    location, page = await confirm_page(client, token, **replacing, reason="Sai nơi nhận")
    assert "thay thế 1 văn bản đã gửi" in page and "Sai nơi nhận" in page
    draft = client.server.app[SETTINGS].drafts[location.rsplit("/", 1)[1]]
    assert (draft.business, draft.targets, draft.reason) == ("replace", (first,), "Sai nơi nhận")
    response = await client.post(location, data={"csrf": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    second = response.headers["Location"].split("/documents/")[1].split("?")[0]
    page = await (await client.get(f"/documents/{second}")).text()
    assert "<strong>Văn bản thay thế</strong>" in page and "Sai nơi nhận" in page
    assert f'Thay thế <a href="/documents/{first}">05/VP-TTTH</a> ngày 23/05/2014' in page
    page = await (await client.get(f"/documents/{first}")).text()
    assert f'Đã bị thay thế bởi <a href="/documents/{second}">06/VP-TTTH</a>' in page

    async with offices[B].store.read() as conn:
        assert await list_documents(conn, direction="in") == []
    await support.deliver(ctx, offices[B], first)
    async with offices[B].store.read() as conn:
        (received,) = await list_documents(conn, direction="in")
    client_b = await make_client(offices[B])
    await login(client_b, "vt")
    response = await client_b.get(f"/compose?update={received.id}")
    assert response.status == 404
    page = await (await client_b.get(f"/documents/{received.id}")).text()
    assert "/compose?update=" not in page


async def test_a_number_the_register_holds_is_refused_in_the_clerks_words(offices, make_client):
    """A second letter 05/VP-TTTH of the same year: the confirm page answers 409 naming the
    number in Vietnamese (the register's English words only under the technician's
    details) and the outbox keeps the first letter alone."""
    ctx = offices[A]
    client, token = await clerk(ctx, make_client)
    await send(client, token)
    location, _ = await confirm_page(client, token)
    response = await client.post(location, data={"csrf": token}, allow_redirects=False)
    assert response.status == 409
    page = await response.text()
    error = page.split('id="confirm-error">')[1].split("<details")[0]
    assert "Số 05/VP-TTTH đã có trong sổ văn bản đi năm nay" in error
    assert "already taken" not in error and "already taken" in page
    async with ctx.store.read() as conn:
        assert len(await list_documents(conn, direction="out")) == 1
