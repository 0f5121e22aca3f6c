"""A document composed on unit A's page reaches unit B over mutual TLS (A's own delivery
engine, B's peer API) with every field of version 2 intact, and B's page shows it as on
paper: the issuer, "Số: 05/VP-TTTH", place and date, hỏa tốc hẹn giờ, the signature block;
a type B does not know by the name the sender gave, and extension fields as "Thông tin bổ
sung"."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import nacl.pwhash.argon2id as argon2id
from aiohttp.test_utils import TestClient, TestServer

from lienthong.node.config import Config, validate
from lienthong.node.unit import documents as service
from lienthong.node.web import create_web_app
from lienthong.protocol.document import Signer
from lienthong.protocol.envelope import header_of_own_envelope
from lienthong.storage.documents import get_document, get_envelope_raw, incoming_document
from lienthong.storage.users import add_user
from tests.node.tls_federation import A, B, Federation, federation, letter, reading_version_2
from tests.node.web.test_compose_official import ISSUER, official_form
from tests.node.web.test_web_support import PASSWORD, Delays, login, page_csrf


@contextlib.asynccontextmanager
async def offices(tmp_path) -> AsyncIterator[Federation]:
    """The federation of tls_federation (units serving their peer API), reading version 2,
    A and B with their issuer in [unit] and a clerk "vt" each."""
    async with federation(tmp_path, serve_units=True) as fed:
        reading_version_2(fed)
        for code in (A, B):
            ctx = fed.units[code].ctx
            unit = {"code": code, "name": "Văn phòng" if code == A else "Sở Nội vụ", **ISSUER}
            ctx.config = Config(ctx.config.data_dir, validate({"unit": unit}))
            await add_user(
                ctx.store,
                "vt",
                PASSWORD,
                role="clerk",
                display_name="Nguyễn Thị Trang",
                actor="test",
                opslimit=argon2id.OPSLIMIT_MIN,
                memlimit=argon2id.MEMLIMIT_MIN,
            )
        yield fed


async def page_client(ctx) -> TestClient:
    client = TestClient(TestServer(create_web_app(ctx, sleep=Delays())))
    await client.start_server()
    await login(client, "vt")
    return client


async def deliver(fed: Federation, source: str, destination: str) -> None:
    """Every item `source` has due for `destination`, delivered directly over mutual TLS."""
    while await fed.units[source].engine.deliver(destination):
        pass


async def arrived(fed: Federation, code: str, sender: str, wire_id: str):
    async with fed.units[code].ctx.store.read() as conn:
        doc = await incoming_document(conn, sender, wire_id)
    assert doc is not None, f"{wire_id} has not arrived at {code}"
    return doc


async def test_every_field_arrives_intact_and_reads_as_on_paper(tmp_path):
    """What A's clerk typed is, field for field, what B holds (metadata and business part
    equal), in a version-2 envelope; B's page prints the head and the block as on paper."""
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
        "addressees": "Các sở, ban, ngành tỉnh",
        "content": "Triển khai trước ngày 30/05/2014.",
    }
    async with offices(tmp_path) as fed:
        client_a = await page_client(fed.units[A].ctx)
        client_b = await page_client(fed.units[B].ctx)
        try:
            token = await page_csrf(client_a, "/compose")
            response = await client_a.post(
                "/compose", data=official_form(token, **fields), allow_redirects=False
            )
            assert response.status == 303, await response.text()
            response = await client_a.post(
                response.headers["Location"], data={"csrf": token}, allow_redirects=False
            )
            assert response.status == 303, await response.text()
            envelope_id = response.headers["Location"].split("/documents/")[1].split("?")[0]
            await deliver(fed, A, B)
            async with fed.units[A].ctx.store.read() as conn:
                sent = service.stored_body(await get_document(conn, envelope_id))
            doc = await arrived(fed, B, A, envelope_id)
            held = service.stored_body(doc)
            assert held.metadata == sent.metadata
            assert held.business == sent.business
            m = held.metadata
            assert (m.number, m.scheduled_at, m.steering_type) == ("05", "2025-11-24T14:30", 3)
            assert m.signer == Signer(
                "Trương Văn Hùng", "Phó Chánh Văn phòng", "KT.", "Chánh Văn phòng"
            )
            assert (m.issuer.parent, m.issuer.in_charge) == (ISSUER["parent"], ISSUER["in_charge"])
            staff = held.business.staff
            assert (held.business.paper, staff.email) == (True, "trang@tayninh.gov.vn")
            async with fed.units[B].ctx.store.read() as conn:
                raw = await get_envelope_raw(conn, doc.id)
            assert header_of_own_envelope(raw).version == 2  # the form-2 directory: B reads 2

            page = await (await client_b.get(f"/documents/{doc.id}")).text()
            for text in (
                '<p class="parent">UBND TỈNH TÂY NINH</p>',
                "<strong>VĂN PHÒNG</strong>",
                'id="official-number">Số: 05/VP-TTTH<',
                "Tây Ninh, ngày 23 tháng 5 năm 2014",
                'id="official-issued-on">23/05/2014<',
                "phải đến trước 24/11/2025 14:30",
                'id="official-steering-type">3<',
                'id="official-sphere">Các sở, ban, ngành tỉnh<',
                "<li>Danh sách đơn vị</li><li>Kế hoạch triển khai</li>",
                'id="official-pages">3<',
                'id="official-copies">26<',
                "Bản giấy sẽ gửi sau",
                "Nguyễn Thị Trang, Phòng Hành chính - Tổ chức",
                "<p>KT. CHÁNH VĂN PHÒNG</p><p>PHÓ CHÁNH VĂN PHÒNG</p><p>Trương Văn Hùng</p>",
            ):
                assert text in page, text
        finally:
            await client_a.close()
            await client_b.close()


async def test_an_unknown_type_and_extension_fields_are_shown_not_refused(tmp_path):
    """A newer sender's type (a code B's table lacks) is shown by the name it sent, and
    signed extension fields B does not know are listed as "Thông tin bổ sung"."""
    async with offices(tmp_path) as fed:
        metadata = dataclasses.replace(
            letter(),
            number="07",
            doc_type="ke_hoach_so",
            type_name="Kế hoạch chuyển đổi số",
            extensions=(("budget.total", 250000000), ("sphere.detail", ("Sở A", "Sở B"))),
        )
        envelope_id = await service.send_document(fed.units[A].ctx, metadata, [B], actor="vt")
        await deliver(fed, A, B)
        doc = await arrived(fed, B, A, envelope_id)
        assert service.stored_body(doc).metadata.extensions == metadata.extensions
        client_b = await page_client(fed.units[B].ctx)
        try:
            page = await (await client_b.get(f"/documents/{doc.id}")).text()
        finally:
            await client_b.close()
        assert 'id="official-type">Kế hoạch chuyển đổi số<' in page
        assert "Thông tin bổ sung" in page
        assert '<span class="code">budget.total</span> = 250000000' in page
        assert '<span class="code">sphere.detail</span> = Sở A; Sở B' in page
