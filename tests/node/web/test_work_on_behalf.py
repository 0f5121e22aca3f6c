"""A leader completes on the lead's behalf from the document page (real stores, a real
aiohttp server): the form is the leader's only, the assignment closes with the result,
the audit log names the leader, and the sender's 06 says the leader completed it for the
lead."""

from __future__ import annotations

from lienthong.node.unit import assignments as office
from lienthong.storage.assignments import get_assignment
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import A, B, page_csrf, return_statuses
from tests.node.web.test_work import _client, _received

units, make_client = support.units, support.make_client


async def test_a_leader_completes_for_the_lead(units, make_client):
    """cv1 leads; cv2's page has no such form, ld's has; ld completes: the assignment is
    closed with ld's result, document.complete is cv1's with via ld, the state change is
    ld's, and A's page reads "hoàn thành thay"."""
    a, b = units[A], units[B]
    envelope_id, sender = await _received(units, make_client)
    await office.assign(b, envelope_id, lead="cv1", actor="ld", version=0)
    path = f"/documents/{envelope_id}"
    other = await _client(make_client, b, "cv2")
    assert 'id="complete-for"' not in await (await other.get(path)).text()
    leader = await _client(make_client, b, "ld")
    page = await (await leader.get(path)).text()
    assert 'id="complete-for"' in page and "Hoàn thành thay Nguyễn Thị Chuyên" in page
    token = await page_csrf(leader, path)
    b.clock.now += 60_000
    response = await leader.post(
        path + "/work", data={"csrf": token, "op": "complete_for", "result": "Đã xử lý xong"}
    )
    assert response.status == 200
    assert 'id="complete-for"' not in await response.text()
    async with b.store.read() as conn:
        done = await get_assignment(conn, envelope_id)
        rows = await conn.fetchall(
            "SELECT actor, action, details FROM audit_log WHERE subject = ? ORDER BY seq",
            (envelope_id,),
        )
    assert (done.completed_at is not None, done.result) == (True, "Đã xử lý xong")
    complete = [r for r in rows if r[1] == "document.complete"]
    assert len(complete) == 1 and complete[0][0] == "cv1" and '"via":"ld"' in complete[0][2]
    assert any(r[0] == "ld" and "completed" in r[2] for r in rows if r[1] != "document.complete")
    await return_statuses(b, a)
    seen = await (await sender.get(path)).text()
    assert "hoàn thành thay" in seen
