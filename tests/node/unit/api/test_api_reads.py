"""The read endpoints against a real server: the document list pages stably by an opaque
cursor, one document shows its number text, signature, files and per-recipient timeline,
a file streams back byte for byte, the units and the registers are listed."""

from __future__ import annotations

from urllib.parse import quote

from lienthong.node.unit import documents as service
from lienthong.protocol.states import DocState
from lienthong.storage import outbox
from tests.node.helpers import DAY
from tests.node.unit.api.conftest import A, B, sent_and_delivered


async def test_the_list_pages_by_cursor_without_gaps_or_repeats(units, dms):
    """Five letters read two by two: every one once, newest first; a letter arriving
    meanwhile does not shift the pages already given; `since` filters; `state` filters."""
    ids = []
    for n in range(5):
        units.clock.advance(1000)
        ids.append(await sent_and_delivered(units, number=f"{n + 10}"))
    client = await dms(units.ctx[B])
    seen, cursor = [], None
    pages = 0
    while True:
        query = "direction=in&limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(f"/api/v1/documents?{query}")
        assert r.status == 200, await r.text()
        page = await r.json()
        seen += [d["id"] for d in page["documents"]]
        pages += 1
        if pages == 1:  # a new letter after the first page: it is not in the later pages
            units.clock.advance(1000)
            newest = await sent_and_delivered(units, number="20")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1] and pages == 3
    r = await client.get("/api/v1/documents?direction=in&limit=1")
    assert [d["id"] for d in (await r.json())["documents"]] == [newest]
    out = await (await client.get("/api/v1/documents?direction=out")).json()
    assert out == {"documents": [], "next_cursor": None}
    sent = await (await (await dms(units.ctx[A])).get("/api/v1/documents?direction=out")).json()
    assert len(sent["documents"]) == 6 and {d["state"] for d in sent["documents"]} == {"sent"}
    await service.process_document(units.ctx[B], ids[0], DocState.ACCEPTED, actor="vt")
    r = await client.get("/api/v1/documents?direction=in&state=accepted")
    assert [d["id"] for d in (await r.json())["documents"]] == [ids[0]]
    units.clock.advance(DAY)
    later = await sent_and_delivered(units, number="21")
    since = "2025-11-25T16:00:00+00:00"  # tests/node/helpers.NOW + a day is later than this
    r = await client.get("/api/v1/documents", params={"direction": "in", "since": since})
    assert [d["id"] for d in (await r.json())["documents"]] == [later]


async def test_a_document_shows_its_number_signature_files_and_timeline(units, dms, tmp_path):
    """GET /documents/{id}: number "05" as written, the signature verified, its file listed
    and streamed byte for byte; at the sender, each recipient's delivery and incoming number."""
    scan = tmp_path / "Công văn 05.pdf"
    content = b"%PDF-1.4 " + bytes(range(256)) * 300
    scan.write_bytes(content)
    doc_id = await sent_and_delivered(units, files=[scan], number="05")
    units.clock.advance(1000)  # the 03 after the 01 (the timeline is in time order)
    await service.process_document(units.ctx[B], doc_id, DocState.ACCEPTED, actor="vt")
    reader = await dms(units.ctx[B])
    doc = await (await reader.get(f"/api/v1/documents/{doc_id}")).json()
    assert doc["number"] == "05" and doc["number_notation"] == "05/VP-TTTH"
    assert doc["metadata"]["signer"]["name"] == "Trương Văn Hùng"
    assert doc["signature"]["verified"] is True and doc["signature"]["sender"] == A
    assert doc["state"] == "accepted" and doc["direction"] == "in"
    assert doc["incoming_number"]["number"] == 1
    assert [(f["index"], f["name"], f["size"]) for f in doc["attachments"]] == [
        (0, "Công văn 05.pdf", len(content))
    ]
    r = await reader.get(doc["attachments"][0]["href"])
    assert r.status == 200 and await r.read() == content
    name = quote("Công văn 05.pdf", safe="")
    assert r.headers["Content-Disposition"] == f"attachment; filename*=UTF-8''{name}"
    # At the sender, once B's status 03 (accepted) came back: B's delivery and number.
    async with units.ctx[B].store.read() as conn:
        due = await outbox.due_for(conn, A, units.clock() + 10**9, 100)
    for item in due:
        if item.kind == "status":
            await service.receive_status(units.ctx[A], item.raw, via="direct")
    sender = await dms(units.ctx[A])
    out = await (await sender.get(f"/api/v1/documents/{doc_id}")).json()
    assert out["direction"] == "out" and out["number"] == "05"
    assert [(r["recipient"], r["state"], r["incoming_number"]) for r in out["recipients"]] == [
        (B, "accepted", 1)
    ]
    assert [e["code"] for e in out["timeline"]] == [1, 3]


async def test_units_and_registers(units, dms):
    """The directory's units; the incoming register of the year, paged by cursor."""
    ids = []
    for n in range(3):
        doc_id = await sent_and_delivered(units, number=f"{n + 30}")
        await service.process_document(units.ctx[B], doc_id, DocState.ACCEPTED, actor="vt")
        ids.append(doc_id)
    client = await dms(units.ctx[B])
    listed = await (await client.get("/api/v1/units")).json()
    assert [(u["code"], u["name"]) for u in listed["units"]] == [(A, f"Unit {A}"), (B, f"Unit {B}")]
    year = 2025  # tests/node/helpers.NOW is in November 2025
    lines, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        r = await client.get(f"/api/v1/registers/incoming/{year}", params=params)
        assert r.status == 200, await r.text()
        page = await r.json()
        lines += page["lines"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(line["number"], line["document_id"]) for line in lines] == [
        (1, ids[0]),
        (2, ids[1]),
        (3, ids[2]),
    ]
    empty = await (await client.get("/api/v1/registers/outgoing/2024")).json()
    assert empty["lines"] == [] and empty["next_cursor"] is None
    bad = await client.get(f"/api/v1/registers/incoming/{year}?cursor=abc")
    assert bad.status == 400
