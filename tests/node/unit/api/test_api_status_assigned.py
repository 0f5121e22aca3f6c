"""POST /documents/{id}/status cannot bypass an assignment: once a document has one, a bare
"assigned" or "completed" is 409 naming the assignment endpoints, with nothing written, and
the assignment's rows still say who leads it; without an assignment the bare statuses work."""

from __future__ import annotations

from lienthong.node.unit import documents as service
from lienthong.protocol.states import DocState
from lienthong.storage.assignments import get_assignment
from tests.node.unit.api.conftest import B, sent_and_delivered
from tests.node.unit.api.test_api_work import _counts, _office
from tests.node.unit.api.test_api_writes import post


async def test_bare_04_and_06_are_refused_once_assigned(units, dms):
    """Assigned through the API to cv1: bare "assigned" and "completed" are 409 naming
    POST .../completion, the counted tables unchanged, the assignment open and led by cv1;
    a completion through .../completion then closes it."""
    b = units.ctx[B]
    await _office(b)
    doc_id = await sent_and_delivered(units)
    await service.process_document(b, doc_id, DocState.ACCEPTED, actor="vt")
    client = await dms(b, ("process",))
    body = {"lead": "cv1", "instructed_by": "ld", "version": 0}
    r = await post(client, f"/api/v1/documents/{doc_id}/assignment", body, "a-1")
    assert r.status == 200, await r.text()
    before = await _counts(b)
    path = f"/api/v1/documents/{doc_id}/status"
    for n, bare in enumerate(
        ({"status": "assigned", "assignee": "ai đó"}, {"status": "completed"})
    ):
        r = await post(client, path, bare, f"s-{n}")
        assert r.status == 409, await r.text()
        assert "POST .../completion" in (await r.json())["detail"]
    assert await _counts(b) == before
    async with b.store.read() as conn:
        held = await get_assignment(conn, doc_id)
    assert (held.lead, held.completed_at) == ("cv1", None)
    body = {"lead": "cv1", "result": "Đã trả lời"}
    r = await post(client, f"/api/v1/documents/{doc_id}/completion", body, "c-1")
    assert r.status == 200, await r.text()
