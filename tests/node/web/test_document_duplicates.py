"""Before a clerk registers an arrived document, the document page warns of a line of the
incoming register that may be the same document ("05/VP-TTTH" arriving after a paper "5/…"
of another date was registered) and registers it only once the clerk confirms."""

from __future__ import annotations

import dataclasses
import datetime as dt

from lienthong.node.unit import documents as service
from lienthong.storage.registers import IncomingEntry, incoming_number_of, register_incoming
from tests.node.tls_federation import letter
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import A, B, deliver, login, page_csrf

units, make_client = support.units, support.make_client


async def paper_line(unit, number_notation: str, doc_date: str) -> int:
    """A line a clerk typed from paper during an outage, in this year's incoming register."""
    today = dt.datetime.fromtimestamp(unit.clock() / 1000).date().isoformat()
    async with unit.store.write() as tx:
        return await register_incoming(
            tx,
            IncomingEntry(
                arrived_on=today, issuer_name="Văn phòng UBND tỉnh", issuer_code=A,
                number_notation=number_notation, doc_date=doc_date, doc_type="cong_van",
                subject="V/v triển khai", manual=True,
            ),
            actor="vt", at=unit.clock(),
        )  # fmt: skip


async def test_a_possible_twin_is_shown_and_registering_waits_for_the_clerk(units, make_client):
    """A paper "5/VP-TTTH" dated 22/05/2014 is line 1; A's "05/VP-TTTH" of 23/05/2014
    arrives: its page names line 1, a plain "Vào sổ" is refused (409, nothing numbered), and
    with the box ticked it becomes line 2."""
    a, b = units[A], units[B]
    assert await paper_line(b, "5/VP-TTTH", "2014-05-22") == 1
    envelope_id = await service.send_document(
        a, dataclasses.replace(letter(), number="05"), [B], actor="vt"
    )
    await deliver(a, b, envelope_id)
    client = await make_client(b)
    await login(client, "vt")
    page = await (await client.get(f"/documents/{envelope_id}")).text()
    assert 'id="possible-duplicate"' in page
    assert "Có thể trùng với văn bản đến số 1" in page
    csrf = await page_csrf(client, f"/documents/{envelope_id}")
    refused = await client.post(
        f"/documents/{envelope_id}", data={"csrf": csrf, "action": "accepted"}
    )
    assert refused.status == 409
    async with b.store.read() as conn:
        assert await incoming_number_of(conn, envelope_id) is None
    done = await client.post(
        f"/documents/{envelope_id}",
        data={"csrf": csrf, "action": "accepted", "confirm_duplicate": "1"},
        allow_redirects=False,
    )
    assert done.status == 303
    async with b.store.read() as conn:
        assert (await incoming_number_of(conn, envelope_id))[1] == 2


async def test_the_paper_twin_of_the_same_date_is_linked_without_a_warning(units, make_client):
    """A paper line of the same key, issuer and date is the same document: no warning, and
    registering links it (one number, not two)."""
    a, b = units[A], units[B]
    await paper_line(b, "5/VP-TTTH", letter().issued_on)
    envelope_id = await service.send_document(
        a, dataclasses.replace(letter(), number="05"), [B], actor="vt"
    )
    await deliver(a, b, envelope_id)
    client = await make_client(b)
    await login(client, "vt")
    page = await (await client.get(f"/documents/{envelope_id}")).text()
    assert 'id="possible-duplicate"' not in page
