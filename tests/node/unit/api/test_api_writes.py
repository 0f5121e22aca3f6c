"""The write endpoints: a DMS sends a document, sets the statuses of a received one (accepted
registers it; rejected needs a reason, assigned an assignee), recalls a sent one, and
answers a recall; each action is signed and queued as the clerk's would be."""

from __future__ import annotations

import json

from lienthong.node.unit import documents as service
from lienthong.node.unit.views import links_view
from lienthong.protocol.document import _metadata_v2
from lienthong.storage import outbox
from lienthong.storage.documents import get_document
from tests.node.unit.api.conftest import A, B, deliver, metadata, sent_and_delivered


def post(client, path: str, body: dict, key: str):
    return client.post(
        path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )


async def carry_statuses(units, frm: str, to: str) -> None:
    async with units.ctx[frm].store.read() as conn:
        due = await outbox.due_for(conn, to, units.clock() + 10**9, 100)
    for item in due:
        if item.kind == "status":
            await service.receive_status(units.ctx[to], item.raw, via="direct")


async def test_a_dms_sends_a_document_that_arrives(units, dms):
    """POST /documents: 201 with the id and Location; the envelope is queued to B, and once
    delivered B's DMS reads it with the number as written."""
    sender = await dms(units.ctx[A], ("send",), name="dms-a")
    body = {"metadata": _metadata_v2(metadata("08")), "recipients": [B], "paper": True}
    r = await post(sender, "/api/v1/documents", body, "send-1")
    assert r.status == 201, await r.text()
    doc_id = (await r.json())["id"]
    assert r.headers["Location"] == f"/api/v1/documents/{doc_id}"
    async with units.ctx[A].store.read() as conn:
        rows = await outbox.rows_for(conn, doc_id)
        audit = await conn.fetchall(
            "SELECT actor FROM audit_log WHERE subject = ? ORDER BY seq", (doc_id,)
        )
    assert [row.recipient for row in rows] == [B]
    assert "api:dms-a" in {a[0] for a in audit}
    await deliver(units.ctx[A], units.ctx[B], doc_id)
    reader = await dms(units.ctx[B])
    got = await (await reader.get(f"/api/v1/documents/{doc_id}")).json()
    assert got["number"] == "08" and got["direction"] == "in"
    # The paper original follows by post: as the sender sealed it (version 1 recipients,
    # as this directory's units are, do not read it).
    mine = await (await (await dms(units.ctx[A])).get(f"/api/v1/documents/{doc_id}")).json()
    assert mine["business"]["paper"] is True


async def test_statuses_of_a_received_document(units, dms):
    """rejected without a reason and assigned without an assignee: 400 naming the field,
    the state unchanged; accepted: the incoming number; then assigned, in_progress,
    completed; a state that cannot follow: 409; a sent document: 404."""
    doc_id = await sent_and_delivered(units)
    client = await dms(units.ctx[B], ("process",))
    path = f"/api/v1/documents/{doc_id}/status"
    r = await post(client, path, {"status": "rejected"}, "s-1")
    assert r.status == 400 and (await r.json())["errors"][0]["field"] == "reason"
    r = await post(client, path, {"status": "assigned"}, "s-2")
    assert r.status == 400 and (await r.json())["errors"][0]["field"] == "assignee"
    r = await post(client, path, {"status": "done"}, "s-3")
    assert r.status == 400 and (await r.json())["errors"][0]["field"] == "status"
    async with units.ctx[B].store.read() as conn:
        assert (await get_document(conn, doc_id)).state == "arrived"
    r = await post(client, path, {"status": "accepted"}, "s-4")
    assert r.status == 200, await r.text()
    assert await r.json() == {"id": doc_id, "state": "accepted", "incoming_number": 1}
    r = await post(client, path, {"status": "assigned", "assignee": "Phòng Tổng hợp"}, "s-5")
    assert r.status == 200
    for n, status in enumerate(("in_progress", "completed")):
        r = await post(client, path, {"status": status}, f"s-6{n}")
        assert r.status == 200, await r.text()
    r = await post(client, path, {"status": "accepted"}, "s-7")
    assert r.status == 409 and r.content_type == "application/problem+json"
    sender = await dms(units.ctx[A], ("admin",))
    r = await post(sender, f"/api/v1/documents/{doc_id}/status", {"status": "accepted"}, "s-8")
    assert r.status == 404
    await carry_statuses(units, B, A)
    async with units.ctx[A].store.read() as conn:
        rows = await outbox.rows_for(conn, doc_id)
    assert [row.state for row in rows] == ["completed"]


async def test_a_recall_and_its_answer(units, dms):
    """A's DMS recalls; B's DMS refuses without a reason (400), then agrees: B's document is
    recalled, and A sees B's answer."""
    doc_id = await sent_and_delivered(units)
    a = await dms(units.ctx[A], ("send",))
    b = await dms(units.ctx[B], ("process",))
    r = await post(a, f"/api/v1/documents/{doc_id}/recall", {"reason": "Sai số"}, "r-1")
    assert r.status == 200, await r.text()
    assert await r.json() == {"id": doc_id, "recall": "requested", "recipients": [B]}
    await carry_statuses(units, A, B)
    path = f"/api/v1/documents/{doc_id}/recall-answer"
    r = await post(b, path, {"agree": False}, "a-1")
    assert r.status == 400 and (await r.json())["errors"][0]["field"] == "reason"
    r = await post(b, path, {"agree": "yes"}, "a-2")
    assert r.status == 400 and (await r.json())["errors"][0]["field"] == "agree"
    r = await post(b, path, {"agree": True}, "a-3")
    assert r.status == 200, await r.text()
    async with units.ctx[B].store.read() as conn:
        assert (await get_document(conn, doc_id)).recall == "agreed"
    await carry_statuses(units, B, A)
    reader = await dms(units.ctx[A])
    got = await (await reader.get(f"/api/v1/documents/{doc_id}")).json()
    assert [(r["recipient"], r["answer"]) for r in got["recipients"]] == [(B, "status.15.recall")]


async def test_a_dms_updates_a_document_it_sent_and_an_update_without_reason_is_refused(units, dms):
    """POST /documents with business "update", the sent document as its target and a reason:
    201, and the two are linked at the sender; without a reason: a 4xx problem, nothing
    sent."""
    sender = await dms(units.ctx[A], ("send",), name="dms-a")
    body = {"metadata": _metadata_v2(metadata("09")), "recipients": [B]}
    original = (await (await post(sender, "/api/v1/documents", body, "u-1")).json())["id"]
    update = {**body, "business": "update", "targets": [original]}
    refused = await post(sender, "/api/v1/documents", update, "u-2")
    assert 400 <= refused.status < 500, await refused.text()
    assert (await refused.json())["detail"]
    async with units.ctx[A].store.read() as conn:
        before = await conn.fetchone("SELECT count(*) FROM documents")
    r = await post(sender, "/api/v1/documents", {**update, "reason": "Sửa trích yếu"}, "u-3")
    assert r.status == 201, await r.text()
    async with units.ctx[A].store.read() as conn:
        doc = await get_document(conn, original)
        linked = await links_view(conn, doc)
        after = await conn.fetchone("SELECT count(*) FROM documents")
    assert after[0] == before[0] + 1
    assert [(x["label"], x["id"]) for x in linked] == [("link.updated_by", (await r.json())["id"])]
