"""The registers between real nodes over mutual TLS: a paper entry of a document that came
electronically is flagged before it is numbered twice, whatever zeros the clerk typed; the
paper twin made first is linked, not numbered again; "ngày đến" is the day the document
arrived, so one of 23:59 on 31/12 registered on 02/01 is in the old year's register."""

from __future__ import annotations

import dataclasses
import datetime as dt

import nacl.pwhash.argon2id as argon2id
from aiohttp.test_utils import TestClient, TestServer

from lienthong.node.unit import documents as service
from lienthong.node.web import create_web_app
from lienthong.protocol.states import DocState
from lienthong.storage.documents import incoming_document
from lienthong.storage.registers import incoming_line_of, list_register
from lienthong.storage.users import add_user
from tests.node.tls_federation import A, B, Federation, letter
from tests.node.web.test_web_support import PASSWORD, Delays, csrf_of, login

ISSUED = letter().issued_on  # 2014-05-23


async def _send(fed: Federation, number: str) -> str:
    """A's letter numbered `number`/VP-TTTH, delivered to B directly; its id at B."""
    metadata = dataclasses.replace(letter(), number=number)
    wire_id = await service.send_document(fed.units[A].ctx, metadata, [B], actor="vt")
    while await fed.units[A].engine.deliver(B):
        pass
    async with fed.units[B].ctx.store.read() as conn:
        doc = await incoming_document(conn, A, wire_id)
    assert doc is not None
    return doc.id


async def _clerk(fed: Federation) -> TestClient:
    ctx = fed.units[B].ctx
    await add_user(
        ctx.store,
        "vt",
        PASSWORD,
        role="clerk",
        display_name="Văn thư B",
        actor="test",
        opslimit=argon2id.OPSLIMIT_MIN,
        memlimit=argon2id.MEMLIMIT_MIN,
    )
    client = TestClient(TestServer(create_web_app(ctx, sleep=Delays())))
    await client.start_server()
    await login(client, "vt")
    return client


async def _paper(client: TestClient, number_notation: str, **more: str):
    page = await client.get("/paper")
    form = {
        "csrf": csrf_of(await page.text()),
        "arrived_on": dt.date.today().strftime("%d/%m/%Y"),
        "issuer_name": "Văn phòng UBND tỉnh",
        "issuer_code": A,
        "number_notation": number_notation,
        "doc_date": "23/05/2014",
        "doc_type": "cong_van",
        "subject": "V/v triển khai (bản giấy)",
        **more,
    }
    return await client.post("/paper/incoming", data=form, allow_redirects=False)


async def _lines(fed: Federation, year: int):
    async with fed.units[B].ctx.store.read() as conn:
        return await list_register(conn, "incoming", year, "chung")


async def test_a_paper_entry_of_a_document_that_came_electronically_is_flagged(fed):
    """ "05/VP-TTTH" arrives from A and is registered as số đến 1; a paper entry "5/VP-TTTH"
    of it is shown back with "Có thể trùng với văn bản đến số 1 ngày …" and not numbered,
    until the clerk confirms it is another document. "07/VP-TTTH", arrived and not yet
    registered, is flagged too."""
    year = dt.date.today().year
    doc_id = await _send(fed, "05")
    number = await service.process_document(fed.units[B].ctx, doc_id, DocState.ACCEPTED, actor="vt")
    assert number == 1
    client = await _clerk(fed)
    try:
        response = await _paper(client, "5/VP-TTTH")
        page = await response.text()
        assert response.status == 200
        today = dt.date.today().strftime("%d/%m/%Y")
        assert f"Có thể trùng với văn bản đến số 1 ngày {today}: 05/VP-TTTH" in page
        assert 'name="confirm_duplicate"' in page
        assert [e.number for e in await _lines(fed, year)] == [1]
        await _send(fed, "07")
        flagged = await (await _paper(client, "7/vp-ttth")).text()
        assert f"văn bản điện tử đã đến ngày {today}, chưa vào sổ: 07/VP-TTTH" in flagged
        confirmed = await _paper(client, "5/VP-TTTH", confirm_duplicate="1")
        assert confirmed.status == 303
        lines = await _lines(fed, year)
        assert [(e.number, e.number_notation, e.manual) for e in lines] == [
            (1, "05/VP-TTTH", False),
            (2, "5/VP-TTTH", True),
        ]
    finally:
        await client.close()


async def test_the_paper_twin_made_first_is_linked_whatever_its_zeros(fed):
    """A paper entry "9/VP-TTTH" of A's document made during an outage; "09/VP-TTTH" then
    arrives electronically and, registered, shares the paper line's number."""
    year = dt.date.today().year
    client = await _clerk(fed)
    try:
        assert (await _paper(client, "9/VP-TTTH")).status == 303
    finally:
        await client.close()
    doc_id = await _send(fed, "09")
    number = await service.process_document(fed.units[B].ctx, doc_id, DocState.ACCEPTED, actor="vt")
    lines = await _lines(fed, year)
    assert number == 1
    assert [(e.number, e.document_id, e.manual) for e in lines] == [(1, doc_id, True)]


def _local_ms(*when: int) -> int:
    return int(dt.datetime(*when).timestamp() * 1000)


async def test_a_document_of_2359_on_31_12_registered_on_02_01_is_in_the_old_year(fed):
    """The clock reads 23:59 on 31/12 when A's letter reaches B, 09:00 on 02/01 when B's
    clerk registers it: the line is in the old year's register with "ngày đến" 31/12, and
    the new year's register has no line."""
    year = dt.date.today().year
    fed.clock.now = _local_ms(year, 12, 31, 23, 59)
    doc_id = await _send(fed, "11")
    fed.clock.now = _local_ms(year + 1, 1, 2, 9, 0)
    number = await service.process_document(fed.units[B].ctx, doc_id, DocState.ACCEPTED, actor="vt")
    async with fed.units[B].ctx.store.read() as conn:
        line = await incoming_line_of(conn, doc_id)
        registered_at = await conn.fetchone(
            "SELECT at FROM audit_log WHERE action = 'register.incoming'"
        )
    assert number == 1
    assert (line.year, line.number, line.arrived_on) == (year, 1, f"{year}-12-31")
    assert registered_at[0] == _local_ms(year + 1, 1, 2, 9, 0)
    assert await _lines(fed, year + 1) == []


async def test_a_legal_document_and_a_decision_of_the_same_number_both_go(fed):
    """ "49/2025/QĐ-UBND" (a legal document, its own series) and "49/QĐ-UBND" (an
    administrative decision) are two documents: both are sent and numbered in A's outgoing
    registers (each in its own register), and both arrive and are registered at B."""
    a = fed.units[A].ctx
    legal = dataclasses.replace(
        letter(), doc_type="quyet_dinh", number="49", year=2025, notation="QĐ-UBND"
    )
    decision = dataclasses.replace(legal, year=None)
    ids = [await service.send_document(a, m, [B], actor="vt") for m in (legal, decision)]
    while await fed.units[A].engine.deliver(B):
        pass
    async with a.store.read() as conn:
        lines = await list_register(conn, "outgoing", int(ISSUED[:4]))
    mine = {line.document_id: line for line in lines if line.document_id in ids}
    assert len(mine) == 2
    assert mine[ids[0]].register != mine[ids[1]].register
    numbers = []
    for wire_id in ids:
        async with fed.units[B].ctx.store.read() as conn:
            doc = await incoming_document(conn, A, wire_id)
        assert doc is not None
        numbers.append(
            await service.process_document(fed.units[B].ctx, doc.id, DocState.ACCEPTED, actor="vt")
        )
    assert numbers == [1, 2]
